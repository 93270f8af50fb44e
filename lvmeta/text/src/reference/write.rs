//! The tree writer as it was before the streaming `Emitter`, kept as the reference layout the
//! emitter is property-tested against.

use crate::tree::{CommentPlacement, Node, Section, Value};
use crate::write::Style;
use std::fmt::Write as _;

/// Writes `doc` in the chosen layout.
pub fn write_with(doc: &Section, style: Style) -> String {
    // Metadata text of a big VG is hundreds of KiB: start big enough to skip the small
    // regrowths.
    let mut out = String::with_capacity(64 * 1024);
    let mut path = Vec::new();
    body(&mut out, doc, &mut path, style);
    out
}

/// Keys whose arrays lvm2's `out_areas` writes one area per line.
const AREA_ARRAYS: [&str; 4] = ["stripes", "mirrors", "raids", "raid0_lvs"];

/// lvm2 lines comments up at this tab stop (`COMMENT_TAB`).
const COMMENT_TAB: usize = 6;

fn indent(out: &mut String, style: Style, depth: usize) {
    if style == Style::Backup {
        for _ in 0..depth {
            out.push('\t');
        }
    }
}

fn in_lvs(path: &[&str]) -> bool {
    path.get(1) == Some(&"logical_volumes")
}

fn blank_before(path: &[&str], key: &str, node: &Node) -> usize {
    let is_section = matches!(node, Node::Section(_));
    let hit = match path.len() {
        1 => key == "allocation_policy" || key == "physical_volumes",
        2 => {
            is_section
                && matches!(
                    path[1],
                    "physical_volumes" | "logical_volumes" | "historical_logical_volumes"
                )
        }
        4 => in_lvs(path) && !is_section && AREA_ARRAYS.contains(&key),
        _ => false,
    };
    usize::from(hit)
}

fn blank_after(path: &[&str], sec: &Section, key: &str, node: &Node) -> usize {
    let is_section = matches!(node, Node::Section(_));
    match path.len() {
        0 => usize::from(!is_section && matches!(key, "version" | "description" | "creation_time")),
        // export.c: outnl, pvs, outnl, lvs (if any), outnl, historical lvs, "}".
        1 if is_section && key == "physical_volumes" => {
            1 + usize::from(!sec.contains_key("logical_volumes"))
        }
        1 if is_section && key == "logical_volumes" => 1,
        3 => usize::from(
            !is_section
                && ((path[1] == "physical_volumes" && key == "device")
                    || (in_lvs(path) && key == "segment_count")),
        ),
        4 => usize::from(!is_section && in_lvs(path) && key == "extent_count"),
        _ => 0,
    }
}

fn body<'a>(out: &mut String, sec: &'a Section, path: &mut Vec<&'a str>, style: Style) {
    let depth = path.len();
    for (i, (key, node)) in sec.entries.iter().enumerate() {
        before_comments(out, sec, i, depth, style);
        for _ in 0..blank_before(path, key, node) {
            out.push('\n');
        }
        indent(out, style, depth);
        let text_start = out.len();
        match node {
            Node::Value(v) => {
                out.push_str(key);
                out.push_str(" = ");
                if depth == 4 && in_lvs(path) && AREA_ARRAYS.contains(&&**key) {
                    if let Value::Array(items) = v {
                        area_array(out, sec, key, items, style, depth);
                    } else {
                        value(out, v);
                    }
                } else {
                    value(out, v);
                }
            }
            Node::Section(sub) => {
                out.push_str(key);
                out.push_str(" {\n");
                path.push(key);
                body(out, sub, path, style);
                path.pop();
                indent(out, style, depth);
            }
        }
        if matches!(node, Node::Section(_)) {
            out.push('}');
        }
        let mut trailing = sec
            .comments
            .iter()
            .filter(|c| c.index == i && c.placement == CommentPlacement::After)
            .peekable();
        if trailing.peek().is_some() {
            // Length of the text on the last line, indentation excluded, for lining up
            // comments; worked out only for entries that have one.
            let last_line_len = out[text_start..]
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.trim_start_matches('\t').chars().count());
            for c in trailing {
                trailing_comment(out, &c.text, last_line_len, depth, style);
            }
        }
        out.push('\n');
        for _ in 0..blank_after(path, sec, key, node) {
            out.push('\n');
        }
    }
    before_comments(out, sec, sec.entries.len(), depth, style);
    // Comments whose index points past the end (a tree edited by hand) are still written.
    for c in sec.comments.iter().filter(|c| c.index > sec.entries.len()) {
        indent(out, style, depth);
        out.push_str(&c.text);
        out.push('\n');
    }
}

fn before_comments(out: &mut String, sec: &Section, i: usize, depth: usize, style: Style) {
    for c in sec
        .comments
        .iter()
        .filter(|c| c.index == i && c.placement == CommentPlacement::Before)
    {
        indent(out, style, depth);
        out.push_str(&c.text);
        out.push('\n');
        if depth == 0 {
            // lvm2's header comment ends with ctime()'s newline, then its own.
            out.push('\n');
        }
    }
}

fn trailing_comment(out: &mut String, text: &str, line_len: usize, depth: usize, style: Style) {
    // The trailer's comments are part of the format string in lvm2 (one tab); the others go
    // through `outfc`, which lines them up in backup files.
    let tabs = if depth == 0 || style == Style::Metadata {
        1
    } else {
        let i = (line_len + 8 * depth) / 8 + 1;
        COMMENT_TAB.saturating_sub(i).max(1)
    };
    for _ in 0..tabs {
        out.push('\t');
    }
    out.push_str(text);
}

fn value(out: &mut String, v: &Value) {
    match v {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Str(s) => quoted(out, s),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|v| {
                    let mut s = String::new();
                    value(&mut s, v);
                    s
                })
                .collect();
            let _ = write!(out, "[{}]", items.join(", "));
        }
    }
}

/// `"..."` with `"` and `\` escaped, as `dm_escape_double_quotes` does, char by char.
pub fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// One area per line: `"pv0", 0` for PV areas and mirror images, `"rmeta", "rimage"` pairs for
/// raid with metadata sub-LVs, single names otherwise.
fn area_array(
    out: &mut String,
    sec: &Section,
    key: &str,
    items: &[Value],
    style: Style,
    depth: usize,
) {
    let raid_pairs = key == "raids"
        && sec
            .get_int("device_count")
            .is_some_and(|n| n > 0 && usize::try_from(n).is_ok_and(|n| n * 2 == items.len()));
    let mut groups: Vec<&[Value]> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let pair = i + 1 < items.len()
            && matches!(items[i], Value::Str(_))
            && (matches!(items[i + 1], Value::Int(_))
                || (raid_pairs && matches!(items[i + 1], Value::Str(_))));
        let n = if pair { 2 } else { 1 };
        groups.push(&items[i..i + n]);
        i += n;
    }
    out.push_str("[\n");
    for (g, group) in groups.iter().enumerate() {
        indent(out, style, depth + 1);
        for (n, item) in group.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            value(out, item);
        }
        if g + 1 < groups.len() {
            out.push(',');
        }
        out.push('\n');
    }
    indent(out, style, depth);
    out.push(']');
}
