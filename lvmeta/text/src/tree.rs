//! The config tree: ordered sections of values and subsections, plus the comments read with them.

/// A value on the right of `key = `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(String),
    /// LVM2 arrays are flat: the parser never produces nested arrays.
    Array(Vec<Value>),
}

impl Value {
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

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// `["a", "b"]` from strings.
    pub fn str_array<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::Array(items.into_iter().map(|s| Value::Str(s.into())).collect())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

/// What a key names: a value or a nested section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Value(Value),
    Section(Section),
}

impl From<Value> for Node {
    fn from(v: Value) -> Node {
        Node::Value(v)
    }
}

impl From<Section> for Node {
    fn from(s: Section) -> Node {
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
pub struct Comment {
    pub index: usize,
    pub placement: CommentPlacement,
    pub text: String,
}

/// An ordered list of `key = value` entries and `key { ... }` subsections. Order and duplicates
/// are kept as read, so keys nobody models survive a round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub entries: Vec<(String, Node)>,
    pub comments: Vec<Comment>,
}

impl Section {
    pub fn new() -> Section {
        Section::default()
    }

    /// The first entry named `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn get_value(&self, key: &str) -> Option<&Value> {
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

    pub fn get_array(&self, key: &str) -> Option<&[Value]> {
        self.get_value(key)?.as_array()
    }

    pub fn get_section(&self, key: &str) -> Option<&Section> {
        match self.get(key)? {
            Node::Section(s) => Some(s),
            Node::Value(_) => None,
        }
    }

    pub fn get_section_mut(&mut self, key: &str) -> Option<&mut Section> {
        match self.get_mut(key)? {
            Node::Section(s) => Some(s),
            Node::Value(_) => None,
        }
    }

    /// Replaces the first entry named `key` in place (keeping its position and comments), or
    /// appends it.
    pub fn set(&mut self, key: impl Into<String>, node: impl Into<Node>) {
        let key = key.into();
        let node = node.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n = node,
            None => self.entries.push((key, node)),
        }
    }

    /// Appends an entry even if the key exists already.
    pub fn push(&mut self, key: impl Into<String>, node: impl Into<Node>) {
        self.entries.push((key.into(), node.into()));
    }

    /// Removes the first entry named `key`; its trailing comment goes with it, comments on their
    /// own line before it stay before the entry that follows.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
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
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.entries.iter().filter_map(|(k, n)| match n {
            Node::Section(s) => Some((k.as_str(), s)),
            Node::Value(_) => None,
        })
    }

    /// Attaches a comment (`text` must start with `#` and hold no newline).
    pub fn add_comment(
        &mut self,
        index: usize,
        placement: CommentPlacement,
        text: impl Into<String>,
    ) {
        self.comments.push(Comment {
            index,
            placement,
            text: text.into(),
        });
    }

    /// The trailing comment of the first entry named `key`.
    pub fn trailing_comment(&self, key: &str) -> Option<&str> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        self.comments
            .iter()
            .find(|c| c.index == idx && c.placement == CommentPlacement::After)
            .map(|c| c.text.as_str())
    }
}

/// True if `key` can be written as a key and read back: non-empty, none of the characters the
/// grammar reserves, no whitespace.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !crate::parse::is_reserved(c))
}
