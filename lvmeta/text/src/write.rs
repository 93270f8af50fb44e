//! Writer reproducing the layout of lvm2's metadata exporter (`lib/format_text/export.c`):
//! where it puts blank lines, which arrays it wraps one area per line, and how it lines up
//! comments. Blank lines are not stored in the tree; they follow from the keys, as in lvm2.
//!
//! [`Emitter`] owns these layout rules and writes entries as they come, from borrowed values;
//! the tree writer [`write_with`] is one of its users, the model's direct writer another.

use crate::tree::{CommentPlacement, Node, Section, Value};

/// Which of lvm2's two layouts to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The text lvm2 puts into a PV's metadata area: no indentation, comments after a single
    /// tab (lvm2 writes only the trailer's there).
    Metadata,
    /// The layout of `vgcfgbackup` files and `/etc/lvm/backup`: tab indentation, trailing
    /// comments lined up at the column lvm2 uses.
    Backup,
}

/// Writes `doc` in the layout lvm2 uses inside a metadata area.
pub fn write(doc: &Section) -> String {
    write_with(doc, Style::Metadata)
}

/// Writes `doc` in the chosen layout.
pub fn write_with(doc: &Section, style: Style) -> String {
    // Metadata text of a big VG is hundreds of KiB: start big enough to skip the small
    // regrowths.
    let mut out = String::with_capacity(64 * 1024);
    write_into(doc, style, &mut out);
    out
}

/// Appends `doc` in the chosen layout to `out` (which the caller may have sized).
pub fn write_into(doc: &Section, style: Style, out: &mut String) {
    let mut e = Emitter::new(out, style);
    e.body(doc);
    e.finish();
}

/// Keys whose arrays lvm2's `out_areas` writes one area per line.
const AREA_ARRAYS: [&str; 4] = ["stripes", "mirrors", "raids", "raid0_lvs"];

/// lvm2 lines comments up at this tab stop (`COMMENT_TAB`).
const COMMENT_TAB: usize = 6;

/// What the layout of a section's entries depends on that may come later in the section:
/// the writer streams, so whoever opens a section says it up front.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lookahead {
    /// The section holds a `logical_volumes` key (lvm2 writes one blank line after
    /// `physical_volumes` when it follows, two otherwise).
    pub logical_volumes: bool,
    /// The section's first `device_count` (in an LV segment, a `raids` array of twice as many
    /// names is written as `"rmeta", "rimage"` pairs, one pair per line).
    pub device_count: Option<i64>,
}

impl Lookahead {
    /// The lookahead of a whole section.
    pub fn of(sec: &Section) -> Lookahead {
        Lookahead {
            logical_volumes: sec.contains_key("logical_volumes"),
            device_count: sec.get_int("device_count"),
        }
    }
}

/// Which of the VG's lists a section at depth 2 belongs to (the layout differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    PhysicalVolumes,
    LogicalVolumes,
    HistoricalLogicalVolumes,
    Other,
}

struct Frame {
    ahead: Lookahead,
    /// Blank lines after the closing brace.
    blank_after_close: usize,
}

/// The entry whose line is not ended yet: a trailing comment may still go on it.
#[derive(Clone, Copy)]
struct OpenLine {
    /// Where the entry's text starts (after its indentation).
    start: usize,
    /// Where it ends, once a trailing comment follows it (several line up as one).
    end: Option<usize>,
    blank_after: usize,
}

/// Streams `key = value` entries and sections into a String in lvm2's layout, without
/// building a tree: values are borrowed and written as they come.
///
/// Sections are opened with [`open`](Emitter::open) and closed with
/// [`close`](Emitter::close); a trailing comment goes after an entry (or a closing brace)
/// with [`comment_after`](Emitter::comment_after) before the next call.
/// [`finish`](Emitter::finish) ends the last line.
pub struct Emitter<'o> {
    out: &'o mut String,
    style: Style,
    /// The open sections, outermost first (their count is the depth).
    frames: Vec<Frame>,
    /// What the section at depth 2 lists (only this one of the enclosing keys matters).
    list: List,
    line: Option<OpenLine>,
}

impl<'o> Emitter<'o> {
    /// Appends to `out`; size it beforehand to spare the regrowths of a big text.
    pub fn new(out: &'o mut String, style: Style) -> Emitter<'o> {
        Emitter {
            out,
            style,
            frames: Vec::with_capacity(8),
            list: List::Other,
            line: None,
        }
    }

    /// Ends the last line. Every opened section must have been closed.
    pub fn finish(mut self) {
        debug_assert!(self.frames.is_empty(), "sections left open");
        self.end_line();
    }

    fn depth(&self) -> usize {
        self.frames.len()
    }

    fn in_lvs(&self) -> bool {
        self.depth() >= 2 && self.list == List::LogicalVolumes
    }

    /// In an LV segment, the arrays lvm2 writes one area per line.
    fn is_area_array(&self, key: &str) -> bool {
        self.depth() == 4 && self.in_lvs() && AREA_ARRAYS.contains(&key)
    }

    fn blank_before(&self, key: &str, is_section: bool) -> usize {
        let hit = match self.depth() {
            1 => key == "allocation_policy" || key == "physical_volumes",
            2 => is_section && self.list != List::Other,
            4 => !is_section && self.is_area_array(key),
            _ => false,
        };
        usize::from(hit)
    }

    fn blank_after_value(&self, key: &str) -> usize {
        let hit = match self.depth() {
            0 => matches!(key, "version" | "description" | "creation_time"),
            3 => {
                (self.list == List::PhysicalVolumes && key == "device")
                    || (self.in_lvs() && key == "segment_count")
            }
            4 => self.in_lvs() && key == "extent_count",
            _ => false,
        };
        usize::from(hit)
    }

    fn blank_after_section(&self, key: &str) -> usize {
        match self.depth() {
            // export.c: outnl, pvs, outnl, lvs (if any), outnl, historical lvs, "}".
            1 if key == "physical_volumes" => {
                1 + usize::from(!self.frames[0].ahead.logical_volumes)
            }
            1 if key == "logical_volumes" => 1,
            _ => 0,
        }
    }

    fn indent(&mut self, depth: usize) {
        if self.style == Style::Backup {
            for _ in 0..depth {
                self.out.push('\t');
            }
        }
    }

    /// Ends the pending entry's line and the blank lines that follow it.
    fn end_line(&mut self) {
        if let Some(l) = self.line.take() {
            for _ in 0..=l.blank_after {
                self.out.push('\n');
            }
        }
    }

    /// Everything before a value: blank lines, indentation, `key = `.
    fn start_value(&mut self, key: &str) {
        self.end_line();
        for _ in 0..self.blank_before(key, false) {
            self.out.push('\n');
        }
        self.indent(self.depth());
        let start = self.out.len();
        self.out.push_str(key);
        self.out.push_str(" = ");
        self.line = Some(OpenLine {
            start,
            end: None,
            blank_after: self.blank_after_value(key),
        });
    }

    /// Opens `key { ... }` for a section that holds neither `logical_volumes` nor
    /// `device_count` (or where it does not matter: see [`Lookahead`]).
    pub fn open(&mut self, key: &str) {
        self.open_with(key, Lookahead::default());
    }

    /// Opens `key { ... }`; `ahead` tells what the section will hold.
    pub fn open_with(&mut self, key: &str, ahead: Lookahead) {
        self.end_line();
        for _ in 0..self.blank_before(key, true) {
            self.out.push('\n');
        }
        let depth = self.depth();
        self.indent(depth);
        self.out.push_str(key);
        self.out.push_str(" {\n");
        if depth == 1 {
            self.list = match key {
                "physical_volumes" => List::PhysicalVolumes,
                "logical_volumes" => List::LogicalVolumes,
                "historical_logical_volumes" => List::HistoricalLogicalVolumes,
                _ => List::Other,
            };
        }
        let blank_after_close = self.blank_after_section(key);
        self.frames.push(Frame {
            ahead,
            blank_after_close,
        });
    }

    /// Writes the closing brace of the innermost open section.
    pub fn close(&mut self) {
        self.end_line();
        let frame = self.frames.pop().expect("close without open");
        let start = self.out.len();
        self.indent(self.depth());
        self.out.push('}');
        self.line = Some(OpenLine {
            start,
            end: None,
            blank_after: frame.blank_after_close,
        });
    }

    /// `key = 123`
    pub fn int(&mut self, key: &str, v: i64) {
        self.start_value(key);
        push_int(self.out, v);
    }

    /// `key = "text"` (quotes and backslashes escaped).
    pub fn str(&mut self, key: &str, v: &str) {
        self.start_value(key);
        quoted(self.out, v);
    }

    /// `key = ["a", "b"]`
    pub fn strs<I>(&mut self, key: &str, items: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.start_value(key);
        self.out.push('[');
        for (n, s) in items.into_iter().enumerate() {
            if n > 0 {
                self.out.push_str(", ");
            }
            quoted(self.out, s.as_ref());
        }
        self.out.push(']');
    }

    /// An area array of `"name", extent` pairs (PV areas, mirror images): one area per line
    /// in LV segments, one line elsewhere.
    pub fn extent_areas<'s, I>(&mut self, key: &str, areas: I)
    where
        I: IntoIterator<Item = (&'s str, i64)>,
    {
        self.areas(key, areas, |out, (name, extent)| {
            quoted(out, name);
            out.push_str(", ");
            push_int(out, extent);
        });
    }

    /// An area array of name pairs (raid `"rmeta", "rimage"`): one pair per line in LV
    /// segments, one line elsewhere.
    pub fn name_pair_areas<'s, I>(&mut self, key: &str, pairs: I)
    where
        I: IntoIterator<Item = (&'s str, &'s str)>,
    {
        self.areas(key, pairs, |out, (a, b)| {
            quoted(out, a);
            out.push_str(", ");
            quoted(out, b);
        });
    }

    fn areas<I, F>(&mut self, key: &str, groups: I, mut one: F)
    where
        I: IntoIterator,
        F: FnMut(&mut String, I::Item),
    {
        let per_line = self.is_area_array(key);
        self.start_value(key);
        let depth = self.depth();
        let mut groups = groups.into_iter().peekable();
        if per_line {
            self.out.push_str("[\n");
            while let Some(g) = groups.next() {
                self.indent(depth + 1);
                one(self.out, g);
                if groups.peek().is_some() {
                    self.out.push(',');
                }
                self.out.push('\n');
            }
            self.indent(depth);
        } else {
            self.out.push('[');
            let mut first = true;
            for g in groups {
                if !first {
                    self.out.push_str(", ");
                }
                first = false;
                one(self.out, g);
            }
        }
        self.out.push(']');
    }

    /// `key = value` for any value. Arrays of LV segments' area keys are written one area
    /// per line as lvm2 does: a string followed by an integer is one area, and so are two
    /// strings in `raids` when the section's `device_count` (see [`Lookahead`]) says pairs.
    pub fn value(&mut self, key: &str, v: &Value) {
        match v {
            Value::Array(items) if self.is_area_array(key) => {
                let device_count = self.frames.last().and_then(|f| f.ahead.device_count);
                let raid_pairs = key == "raids"
                    && device_count.is_some_and(|n| {
                        n > 0 && usize::try_from(n).is_ok_and(|n| n * 2 == items.len())
                    });
                let mut rest = items.as_slice();
                let groups = std::iter::from_fn(|| {
                    if rest.is_empty() {
                        return None;
                    }
                    let pair = rest.len() > 1
                        && matches!(rest[0], Value::Str(_))
                        && (matches!(rest[1], Value::Int(_))
                            || (raid_pairs && matches!(rest[1], Value::Str(_))));
                    let (g, r) = rest.split_at(if pair { 2 } else { 1 });
                    rest = r;
                    Some(g)
                });
                self.areas(key, groups, |out, g| {
                    for (n, item) in g.iter().enumerate() {
                        if n > 0 {
                            out.push_str(", ");
                        }
                        value(out, item);
                    }
                });
            }
            _ => {
                self.start_value(key);
                value(self.out, v);
            }
        }
    }

    /// A whole entry from a tree: a value, or a section with everything in it.
    pub fn node(&mut self, key: &str, node: &Node) {
        match node {
            Node::Value(v) => self.value(key, v),
            Node::Section(s) => self.section(key, s),
        }
    }

    /// `key { ... }` with the entries and comments of `sec`.
    pub fn section(&mut self, key: &str, sec: &Section) {
        self.open_with(key, Lookahead::of(sec));
        self.body(sec);
        self.close();
    }

    /// The entries and comments of `sec`, into the innermost open section (or the document).
    pub fn body(&mut self, sec: &Section) {
        self.body_with(sec, &[]);
    }

    /// [`body`](Emitter::body) as if `Section::set(key, value)` had been called for each of
    /// `overrides` in turn: the first entry of each key gets the new value in place, an
    /// absent key is appended (the last override of a key wins). Spares copying a section to
    /// change a few values. The lookahead `open_with` was given is the written section's, so
    /// an override of a key it reads (`device_count`) needs it taken with the override.
    pub fn body_with(&mut self, sec: &Section, overrides: &[(&str, &Value)]) {
        let n = sec.entries.len();
        // The last override of a key wins, as with repeated `set`s.
        let last = |key: &str| overrides.iter().rev().find(|(k, _)| *k == key).copied();
        let mut appended: Vec<(&str, &Value)> = Vec::new();
        for &(k, _) in overrides {
            if !sec.contains_key(k) && !appended.iter().any(|(a, _)| *a == k) {
                appended.extend(last(k));
            }
        }
        let total = n + appended.len();
        for i in 0..total {
            self.comments_before(sec, i);
            if let Some((key, node)) = sec.entries.get(i) {
                let replaced = last(key).filter(|_| {
                    // Only the first entry of a key is replaced.
                    !sec.entries[..i].iter().any(|(k2, _)| k2 == key)
                });
                match replaced {
                    Some((_, v)) => self.value(key, v),
                    None => self.node(key, node),
                }
            } else {
                let (key, v) = appended[i - n];
                self.value(key, v);
            }
            for c in sec
                .comments
                .iter()
                .filter(|c| c.index == i && c.placement == CommentPlacement::After)
            {
                self.comment_after(&c.text);
            }
        }
        self.comments_before(sec, total);
        // Comments whose index points past the end (a tree edited by hand) are still written.
        for c in sec.comments.iter().filter(|c| c.index > total) {
            self.end_line();
            self.indent(self.depth());
            self.out.push_str(&c.text);
            self.out.push('\n');
        }
    }

    fn comments_before(&mut self, sec: &Section, i: usize) {
        for c in sec
            .comments
            .iter()
            .filter(|c| c.index == i && c.placement == CommentPlacement::Before)
        {
            self.comment_before(&c.text);
        }
    }

    /// A comment line (`text` starts with `#`) before the next entry.
    pub fn comment_before(&mut self, text: &str) {
        self.end_line();
        let depth = self.depth();
        self.indent(depth);
        self.out.push_str(text);
        self.out.push('\n');
        if depth == 0 {
            // lvm2's header comment ends with ctime()'s newline, then its own.
            self.out.push('\n');
        }
    }

    /// A comment (`text` starts with `#`) at the end of the line of the last entry or
    /// closing brace.
    pub fn comment_after(&mut self, text: &str) {
        let depth = self.depth();
        // The trailer's comments are part of the format string in lvm2 (one tab); the
        // others go through `outfc`, which lines them up in backup files.
        let tabs = if depth == 0 || self.style == Style::Metadata {
            1
        } else {
            debug_assert!(self.line.is_some(), "comment after nothing");
            let here = self.out.len();
            let (start, end) = match &mut self.line {
                Some(l) => (l.start, *l.end.get_or_insert(here)),
                None => (here, here),
            };
            // Length of the text on the last line, indentation excluded.
            let line_len = self.out[start..end]
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.trim_start_matches('\t').chars().count());
            let i = (line_len + 8 * depth) / 8 + 1;
            COMMENT_TAB.saturating_sub(i).max(1)
        };
        for _ in 0..tabs {
            self.out.push('\t');
        }
        self.out.push_str(text);
    }
}

fn value(out: &mut String, v: &Value) {
    match v {
        Value::Int(i) => push_int(out, *i),
        Value::Str(s) => quoted(out, s),
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                value(out, item);
            }
            out.push(']');
        }
    }
}

/// Decimal digits straight into `out`, without going through `fmt`.
fn push_int(out: &mut String, i: i64) {
    if let Ok(d) = u8::try_from(i) {
        if d < 10 {
            // Counts and extents of small LVs: most integers of a VG.
            out.push(char::from(b'0' + d));
            return;
        }
    }
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    out.extend(buf[at..].iter().map(|&d| char::from(d)));
}

/// `"..."` with `"` and `\` escaped, as `dm_escape_double_quotes` does.
fn quoted(out: &mut String, s: &str) {
    out.push('"');
    // Most strings need no escape: a scan without early exit (which vectorizes) says so.
    let escapes = s
        .bytes()
        .fold(false, |found, b| found | (b == b'"') | (b == b'\\'));
    if escapes {
        // Runs without `"` or `\` are copied whole; both are ASCII, so their byte
        // positions are char boundaries.
        let mut run = 0;
        for (i, b) in s.bytes().enumerate() {
            if b == b'"' || b == b'\\' {
                out.push_str(&s[run..i]);
                out.push('\\');
                run = i;
            }
        }
        out.push_str(&s[run..]);
    } else {
        out.push_str(s);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Comments at random places of `entries` (before, after, past the end).
    fn commented(
        entries: impl Strategy<Value = Vec<(String, Node<'static>)>>,
    ) -> impl Strategy<Value = Section<'static>> {
        (
            entries,
            prop::collection::vec((0usize..12, 0u8..3, "[ -~]{0,14}"), 0..3),
        )
            .prop_map(|(entries, comments)| {
                let mut s = Section {
                    entries: entries.into_iter().map(|(k, n)| (k.into(), n)).collect(),
                    comments: Vec::new(),
                };
                let n = s.entries.len();
                for (idx, how, text) in comments {
                    let text = format!("#{text}");
                    match how {
                        0 if n > 0 => s.add_comment(idx % n, CommentPlacement::After, text),
                        1 => s.add_comment(idx % (n + 1), CommentPlacement::Before, text),
                        _ => s.add_comment(n + 1 + idx % 2, CommentPlacement::Before, text),
                    }
                }
                s
            })
    }

    fn keyed(
        keys: &'static [&'static str],
        node: impl Strategy<Value = Node<'static>>,
        n: std::ops::Range<usize>,
    ) -> impl Strategy<Value = Vec<(String, Node<'static>)>> {
        prop::collection::vec(
            (
                prop_oneof![
                    3 => prop::sample::select(keys).prop_map(str::to_string),
                    1 => "[a-z_]{1,8}",
                ],
                node,
            ),
            n,
        )
    }

    /// Values shaped like lvm2's: names and small extents, so area pairs form.
    fn any_value() -> impl Strategy<Value = Node<'static>> {
        let scalar = prop_oneof![
            (0i64..6).prop_map(Value::Int),
            any::<i64>().prop_map(Value::Int),
            prop::sample::select(vec!["pv0", "lv_rmeta_0", "a\"b\\", "x"])
                .prop_map(|s| Value::Str(s.into())),
        ];
        prop_oneof![
            scalar.clone(),
            prop::collection::vec(scalar, 0..7).prop_map(Value::Array),
        ]
        .prop_map(Node::Value)
    }

    const SEG_KEYS: &[&str] = &[
        "start_extent",
        "extent_count",
        "type",
        "stripes",
        "mirrors",
        "raids",
        "raid0_lvs",
        "device_count",
        "tags",
    ];
    const SEC_KEYS: &[&str] = &[
        "id",
        "device",
        "status",
        "segment_count",
        "extent_count",
        "stripes",
        "allocation_policy",
        "physical_volumes",
        "logical_volumes",
        "historical_logical_volumes",
        "version",
        "description",
        "creation_time",
    ];

    /// VG-shaped documents: the sections at the depths where lvm2's layout rules apply,
    /// with their special keys, plus random keys, sections and comments everywhere.
    fn vg_doc() -> impl Strategy<Value = Section<'static>> {
        // raid1 segments: `device_count` N and N name pairs, either key first.
        let raid = (1usize..4, any::<bool>()).prop_map(|(n, count_first)| {
            let names = (0..2 * n)
                .map(|i| Value::Str(format!("r_{i}").into()))
                .collect();
            let mut e = vec![
                (
                    "device_count".to_string(),
                    Node::Value(Value::Int(n as i64)),
                ),
                ("raids".to_string(), Node::Value(Value::Array(names))),
            ];
            if !count_first {
                e.reverse();
            }
            e
        });
        let seg = commented(
            (keyed(SEG_KEYS, any_value(), 0..8), prop::option::of(raid)).prop_map(
                |(mut e, raid)| {
                    e.extend(raid.into_iter().flatten());
                    e
                },
            ),
        );
        let lv = commented(
            (
                keyed(SEC_KEYS, any_value(), 0..4),
                prop::collection::vec(seg.prop_map(Node::Section), 0..3),
            )
                .prop_map(|(mut e, segs)| {
                    for (i, s) in segs.into_iter().enumerate() {
                        e.push((format!("segment{}", i + 1), s));
                    }
                    e
                }),
        );
        let list = commented(keyed(
            &["lv", "pv0", "stripes", "device"],
            prop_oneof![1 => any_value(), 4 => lv.prop_map(Node::Section)],
            0..4,
        ));
        let vg = commented(keyed(
            SEC_KEYS,
            prop_oneof![2 => any_value(), 3 => list.prop_map(Node::Section)],
            0..8,
        ));
        commented(keyed(
            SEC_KEYS,
            prop_oneof![1 => any_value(), 2 => vg.prop_map(Node::Section)],
            1..6,
        ))
    }

    fn emitted(f: impl FnOnce(&mut Emitter)) -> String {
        let mut out = String::new();
        let mut e = Emitter::new(&mut out, Style::Metadata);
        f(&mut e);
        e.finish();
        out
    }

    #[test]
    fn streamed_lv_segment_and_lists() {
        let text = emitted(|e| {
            e.open_with("vg", Lookahead::default());
            e.int("seqno", 3);
            e.open("physical_volumes");
            e.open("pv0");
            e.str("device", "/dev/x");
            e.strs("flags", Vec::<String>::new());
            e.close();
            e.close();
            e.close();
            e.str("contents", "Text");
            e.int("version", 1);
            e.comment_after("# one");
        });
        // No logical_volumes announced: two blank lines after the PV list.
        assert_eq!(
            text,
            "vg {\nseqno = 3\n\nphysical_volumes {\n\npv0 {\ndevice = \"/dev/x\"\n\nflags = []\n}\n}\n\n\n}\ncontents = \"Text\"\nversion = 1\t# one\n\n"
        );
        let text = emitted(|e| {
            e.open_with(
                "vg",
                Lookahead {
                    logical_volumes: true,
                    device_count: None,
                },
            );
            e.open("physical_volumes");
            e.close();
            e.open("logical_volumes");
            e.open("r");
            e.int("segment_count", 1);
            e.open("segment1");
            e.int("extent_count", 2);
            e.name_pair_areas("raids", [("m0", "i0"), ("m1", "i1")]);
            e.extent_areas("stripes", [("pv0", 0), ("pv1", -1)]);
            e.extent_areas("other", [("pv0", 0), ("pv1", 5)]);
            e.close();
            e.close();
            e.close();
            e.close();
        });
        assert_eq!(
            text,
            "vg {\n\nphysical_volumes {\n}\n\nlogical_volumes {\n\nr {\nsegment_count = 1\n\nsegment1 {\nextent_count = 2\n\n\nraids = [\n\"m0\", \"i0\",\n\"m1\", \"i1\"\n]\n\nstripes = [\n\"pv0\", 0,\n\"pv1\", -1\n]\nother = [\"pv0\", 0, \"pv1\", 5]\n}\n}\n}\n\n}\n"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The tree writer on the emitter writes what the tree writer wrote before it.
        #[test]
        fn emitter_writes_the_reference_layout(doc in vg_doc(), backup in any::<bool>()) {
            let style = if backup { Style::Backup } else { Style::Metadata };
            prop_assert_eq!(write_with(&doc, style), crate::reference::write::write_with(&doc, style));
        }

        /// `body_with` writes what `Section::set` of its overrides, then the tree writer,
        /// would: in an LV segment (area layout) and at the top.
        #[test]
        fn overrides_are_set(
            doc in vg_doc(),
            pick in prop::collection::vec((prop::sample::select(SEG_KEYS), any_value()), 0..4),
            backup in any::<bool>(),
        ) {
            let style = if backup { Style::Backup } else { Style::Metadata };
            let seg = doc.clone();
            let ov: Vec<(&str, Value)> = pick
                .iter()
                .filter_map(|(k, n)| match n {
                    Node::Value(v) => Some((*k, v.clone())),
                    Node::Section(_) => None,
                })
                .collect();
            let ov_refs: Vec<(&str, &Value)> = ov.iter().map(|(k, v)| (*k, v)).collect();
            let mut set = seg.clone();
            for (k, v) in &ov {
                set.set(*k, v.clone());
            }
            let mut tree = Section::new();
            let mut lv = Section::new();
            lv.push("segment1", set.clone());
            let mut lvs = Section::new();
            lvs.push("lv", lv);
            let mut vg = Section::new();
            vg.push("logical_volumes", lvs);
            tree.push("vg", vg);
            let mut out = String::new();
            let mut e = Emitter::new(&mut out, style);
            e.open("vg");
            e.open("logical_volumes");
            e.open("lv");
            // The lookahead is of the section as written, overrides applied (lvmeta's
            // writer overrides no key a lookahead reads).
            e.open_with("segment1", Lookahead::of(&set));
            e.body_with(&seg, &ov_refs);
            e.close();
            e.close();
            e.close();
            e.close();
            e.finish();
            prop_assert_eq!(&out, &write_with(&tree, style));
            let mut out = String::new();
            let mut e = Emitter::new(&mut out, style);
            e.body_with(&seg, &ov_refs);
            e.finish();
            prop_assert_eq!(&out, &write_with(&set, style));
        }

        #[test]
        fn quoted_equals_char_by_char(s in "[\"\\\\a-zé€ \n]{0,40}", t in any::<String>()) {
            for x in [&s, &t] {
                let (mut out, mut want) = (String::from("x"), String::from("x"));
                quoted(&mut out, x);
                crate::reference::write::quoted(&mut want, x);
                prop_assert_eq!(out, want);
            }
        }

        #[test]
        fn ints_as_display(i in any::<i64>()) {
            let mut out = String::new();
            value(&mut out, &Value::Int(i));
            prop_assert_eq!(out, i.to_string());
        }
    }
}
