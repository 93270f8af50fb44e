//! The config tree: ordered sections of values and subsections, plus the comments read with them.
//!
//! Strings are `Cow`s: a tree [`crate::parse`]d from text borrows its keys, strings and comments
//! from that text (only strings with escapes are copied), so reading metadata does not allocate
//! a string per token. Trees built by hand or kept beyond the text are `Section<'static>`
//! ([`Section::into_owned`]).

use std::borrow::Cow;

/// A value on the right of `key = `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Str(Cow<'a, str>),
    /// LVM2 arrays are flat: the parser never produces nested arrays.
    Array(Vec<Value<'a>>),
}

impl<'a> Value<'a> {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// `["a", "b"]` from strings.
    pub fn str_array<I, S>(items: I) -> Value<'a>
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'a, str>>,
    {
        Value::Array(items.into_iter().map(|s| Value::Str(s.into())).collect())
    }

    /// The same value owning all its strings.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Int(i) => Value::Int(i),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
        }
    }
}

impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}

impl<'a> From<Cow<'a, str>> for Value<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Value::Str(s)
    }
}

/// What a key names: a value or a nested section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'a> {
    Value(Value<'a>),
    Section(Section<'a>),
}

impl Node<'_> {
    /// The same node owning all its strings.
    pub fn into_owned(self) -> Node<'static> {
        match self {
            Node::Value(v) => Node::Value(v.into_owned()),
            Node::Section(s) => Node::Section(s.into_owned()),
        }
    }
}

impl<'a> From<Value<'a>> for Node<'a> {
    fn from(v: Value<'a>) -> Self {
        Node::Value(v)
    }
}

impl<'a> From<Section<'a>> for Node<'a> {
    fn from(s: Section<'a>) -> Self {
        Node::Section(s)
    }
}

/// Where a comment sits relative to the entry it is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentPlacement {
    /// On its own line before entry `index` (`index == entries.len()`: before the closing brace
    /// or the end of the document).
    Before,
    /// At the end of the line of entry `index` (after its value or its closing brace).
    After,
}

/// A `#` comment kept so that read-modify-write does not lose it. `text` starts with `#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment<'a> {
    pub index: usize,
    pub placement: CommentPlacement,
    pub text: Cow<'a, str>,
}

impl Comment<'_> {
    /// The same comment owning its text.
    pub fn into_owned(self) -> Comment<'static> {
        Comment {
            index: self.index,
            placement: self.placement,
            text: Cow::Owned(self.text.into_owned()),
        }
    }
}

/// An ordered list of `key = value` entries and `key { ... }` subsections. Order and duplicates
/// are kept as read, so keys nobody models survive a round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section<'a> {
    pub entries: Vec<(Cow<'a, str>, Node<'a>)>,
    pub comments: Vec<Comment<'a>>,
}

impl<'a> Section<'a> {
    pub fn new() -> Self {
        Section::default()
    }

    /// The same section owning all its strings, so it can outlive the text it was parsed from.
    pub fn into_owned(self) -> Section<'static> {
        Section {
            entries: self
                .entries
                .into_iter()
                .map(|(k, n)| (Cow::Owned(k.into_owned()), n.into_owned()))
                .collect(),
            comments: self.comments.into_iter().map(Comment::into_owned).collect(),
        }
    }

    /// The first entry named `key`.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node<'a>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn get_value(&self, key: &str) -> Option<&Value<'a>> {
        match self.get(key)? {
            Node::Value(v) => Some(v),
            Node::Section(_) => None,
        }
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get_value(key)?.as_str()
    }

    pub fn get_int(&self, key: &str) -> Option<i64> {
        self.get_value(key)?.as_int()
    }

    pub fn get_array(&self, key: &str) -> Option<&[Value<'a>]> {
        self.get_value(key)?.as_array()
    }

    pub fn get_section(&self, key: &str) -> Option<&Section<'a>> {
        match self.get(key)? {
            Node::Section(s) => Some(s),
            Node::Value(_) => None,
        }
    }

    pub fn get_section_mut(&mut self, key: &str) -> Option<&mut Section<'a>> {
        match self.get_mut(key)? {
            Node::Section(s) => Some(s),
            Node::Value(_) => None,
        }
    }

    /// Replaces the first entry named `key` in place (keeping its position and comments), or
    /// appends it.
    pub fn set(&mut self, key: impl Into<Cow<'a, str>>, node: impl Into<Node<'a>>) {
        let key = key.into();
        let node = node.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n = node,
            None => self.entries.push((key, node)),
        }
    }

    /// Appends an entry even if the key exists already.
    pub fn push(&mut self, key: impl Into<Cow<'a, str>>, node: impl Into<Node<'a>>) {
        self.entries.push((key.into(), node.into()));
    }

    /// Removes the first entry named `key`; its trailing comment goes with it, comments on their
    /// own line before it stay before the entry that follows.
    pub fn remove(&mut self, key: &str) -> Option<Node<'a>> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        let (_, node) = self.entries.remove(idx);
        self.comments
            .retain(|c| !(c.index == idx && c.placement == CommentPlacement::After));
        for c in &mut self.comments {
            if c.index > idx {
                c.index -= 1;
            }
        }
        Some(node)
    }

    /// Subsections in order, with their names.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section<'a>)> {
        self.entries.iter().filter_map(|(k, n)| match n {
            Node::Section(s) => Some((&**k, s)),
            Node::Value(_) => None,
        })
    }

    /// Attaches a comment (`text` must start with `#` and hold no newline).
    pub fn add_comment(
        &mut self,
        index: usize,
        placement: CommentPlacement,
        text: impl Into<Cow<'a, str>>,
    ) {
        self.comments.push(Comment {
            index,
            placement,
            text: text.into(),
        });
    }

    /// Attaches a comment read after the section's first `n` entries: to the last of them
    /// when it stands on that entry's line (`after_entry`), else before entry `n`. (A second
    /// comment on the same line cannot exist: a comment runs to the end of the line.)
    pub(crate) fn place_comment(
        &mut self,
        n: usize,
        after_entry: bool,
        text: impl Into<Cow<'a, str>>,
    ) {
        if n > 0 && after_entry {
            self.add_comment(n - 1, CommentPlacement::After, text);
        } else {
            self.add_comment(n, CommentPlacement::Before, text);
        }
    }

    /// The trailing comment of the first entry named `key`.
    pub fn trailing_comment(&self, key: &str) -> Option<&str> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        self.comments
            .iter()
            .find(|c| c.index == idx && c.placement == CommentPlacement::After)
            .map(|c| &*c.text)
    }
}

/// True if `key` can be written as a key and read back: non-empty, none of the characters the
/// grammar reserves, no whitespace.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && !key.chars().any(ends_word)
}

/// Characters that end a key (besides whitespace).
fn is_reserved(c: char) -> bool {
    matches!(c, '#' | '=' | '{' | '}' | '[' | ']' | ',' | '"' | '\'')
}

/// Ends a key, a bare word or a number: whitespace, control characters, reserved ones.
pub(crate) fn ends_word(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_reserved(c)
}
