//! Parser/writer tests: lvm2-made text round trips byte for byte, random trees survive
//! write → parse → write, hostile input yields errors (never panics), limits hold.

use lvmeta_text::{
    parse, parse_with_limits, write, write_with, CommentPlacement, Node, ParseErrorKind,
    ParseLimits, Section, Style, Value,
};
use proptest::prelude::*;

const MDA: &str = include_str!("data/linear_striped.mda");
const BACKUP: &str = include_str!("data/linear_striped.backup");

#[test]
fn lvm2_metadata_area_text_round_trips_byte_for_byte() {
    let doc = parse(MDA).unwrap();
    assert_eq!(write(&doc), MDA);
}

#[test]
fn lvm2_backup_file_round_trips_byte_for_byte() {
    let doc = parse(BACKUP).unwrap();
    assert_eq!(write_with(&doc, Style::Backup), BACKUP);
}

#[test]
fn lvm2_raid1_and_mirror_text_round_trips_byte_for_byte() {
    let mda = include_str!("data/raid_mirror.mda");
    assert_eq!(write(&parse(mda).unwrap()), mda);
    let bak = include_str!("data/raid_mirror.backup");
    assert_eq!(write_with(&parse(bak).unwrap(), Style::Backup), bak);
    // raid1 areas are (rmeta, rimage) pairs on one line each
    assert!(mda.contains(
        "raids = [\n\"r1_rmeta_0\", \"r1_rimage_0\",\n\"r1_rmeta_1\", \"r1_rimage_1\"\n]\n"
    ));
}

#[test]
fn metadata_and_backup_hold_the_same_vg() {
    let mda = parse(MDA).unwrap();
    let bak = parse(BACKUP).unwrap();
    let strip = |s: &Section<'static>| -> Section<'static> {
        let mut s = s.get_section("vg1").unwrap().clone();
        // The backup file also has informational comments: drop all comments to compare data.
        fn clear(s: &mut Section) {
            s.comments.clear();
            for (_, n) in &mut s.entries {
                if let Node::Section(sub) = n {
                    clear(sub);
                }
            }
        }
        clear(&mut s);
        s
    };
    let mut a = strip(&mda);
    let b = strip(&bak);
    // vgcfgbackup wrote the same seqno; everything in the VG section is equal.
    a.set("seqno", Value::Int(b.get_int("seqno").unwrap()));
    assert_eq!(a, b);
}

#[test]
fn accessors_read_the_tree() {
    let doc = parse(MDA).unwrap();
    let vg = doc.get_section("vg1").unwrap();
    assert_eq!(vg.get_int("extent_size"), Some(8192));
    assert_eq!(vg.get_str("format"), Some("lvm2"));
    assert_eq!(
        vg.get_array("status").unwrap(),
        &[
            Value::Str("RESIZEABLE".into()),
            Value::Str("READ".into()),
            Value::Str("WRITE".into())
        ]
    );
    let pvs: Vec<&str> = vg
        .get_section("physical_volumes")
        .unwrap()
        .sections()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(pvs, ["pv0", "pv1", "pv2"]);
    assert_eq!(doc.get_int("version"), Some(1));
    assert!(doc
        .trailing_comment("creation_host")
        .unwrap()
        .starts_with("# Linux"));
}

#[test]
fn unknown_keys_keep_their_place_through_edits() {
    let mut doc = parse(MDA).unwrap();
    let vg = doc.get_section_mut("vg1").unwrap();
    vg.set("seqno", Value::Int(8));
    let lvs = vg.get_section_mut("logical_volumes").unwrap();
    let lin = lvs.get_section_mut("lin").unwrap();
    lin.set("future_key", Value::Str("x".into()));
    let text = write(&doc);
    let again = parse(&text).unwrap();
    let keys: Vec<&str> = again
        .get_section("vg1")
        .unwrap()
        .get_section("logical_volumes")
        .unwrap()
        .get_section("lin")
        .unwrap()
        .entries
        .iter()
        .map(|(k, _)| &**k)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "status",
            "flags",
            "tags",
            "creation_time",
            "creation_host",
            "segment_count",
            "segment1",
            "segment2",
            "future_key"
        ]
    );
    assert!(text.contains("seqno = 8\n"));
    assert_eq!(
        text.replace("seqno = 8", "seqno = 7")
            .replace("future_key = \"x\"\n", ""),
        MDA
    );
}

#[test]
fn remove_shifts_comments() {
    let mut s = parse("a = 1 # one\nb = 2 # two\n# before c\nc = 3\n").unwrap();
    assert_eq!(s.remove("a"), Some(Node::Value(Value::Int(1))));
    assert_eq!(s.trailing_comment("b"), Some("# two"));
    assert_eq!(s.comments.len(), 2);
    assert_eq!(s.comments[1].index, 1);
    assert_eq!(s.comments[1].placement, CommentPlacement::Before);
}

#[test]
fn strings_escapes_and_bare_words() {
    let s = parse(r#"a = "q\"b\\c\d" b = 'x"y' c = bare d = [ -5, +7, "z" ]"#).unwrap();
    assert_eq!(s.get_str("a"), Some(r#"q"b\c\d"#));
    assert_eq!(s.get_str("b"), Some(r#"x"y"#));
    assert_eq!(s.get_str("c"), Some("bare"));
    assert_eq!(
        s.get_array("d").unwrap(),
        &[Value::Int(-5), Value::Int(7), Value::Str("z".into())]
    );
    assert_eq!(
        write(&s),
        "a = \"q\\\"b\\\\c\\\\d\"\nb = \"x\\\"y\"\nc = \"bare\"\nd = [-5, 7, \"z\"]\n"
    );
}

#[test]
fn errors_carry_line_and_column() {
    let e = parse("a = 1\nb = \n").unwrap_err();
    assert_eq!((e.line, e.column), (3, 1));
    assert!(matches!(e.kind, ParseErrorKind::Unexpected { .. }));
    let e = parse("x {\n  y = \"abc\n").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::UnterminatedString);
    let e = parse("a = 1.5\n").unwrap_err();
    assert_eq!((e.line, e.column), (1, 5));
    assert!(matches!(e.kind, ParseErrorKind::Float { .. }));
    let e = parse("a = 99999999999999999999\n").unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::BadNumber { .. }));
    let e = parse("a = [[1]]").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::NestedArray);
    let e = parse("a = [1,]").unwrap_err();
    assert!(
        e.to_string().starts_with("line 1, column 8: unexpected"),
        "{e}"
    );
    let e = parse("}").unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::Unexpected { .. }));
    let e = parse("a {\n b = 1\n").unwrap_err();
    assert!(matches!(
        e.kind,
        ParseErrorKind::Unexpected {
            expected: "'}'",
            ..
        }
    ));
    let e = parse("a = \"x\0\"").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Nul);
}

#[test]
fn limits_are_enforced() {
    let limits = ParseLimits {
        max_bytes: 64,
        max_depth: 3,
        max_array_len: 4,
    };
    let e = parse_with_limits(&"a = 1\n".repeat(20), &limits).unwrap_err();
    assert_eq!(
        e.kind,
        ParseErrorKind::TooLarge {
            size: 120,
            limit: 64
        }
    );
    assert!(parse_with_limits("a { b { c { d = 1 } } }", &limits).is_ok());
    let e = parse_with_limits("a { b { c { d { } } } }", &limits).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooDeep { limit: 3 });
    assert!(parse_with_limits("a = [1, 2, 3, 4]", &limits).is_ok());
    let e = parse_with_limits("a = [1, 2, 3, 4, 5]", &limits).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::ArrayTooLong { limit: 4 });
    // The default depth bound stops a deep nest long before the stack is at risk.
    let deep = "a {".repeat(100_000);
    let e = parse(&deep).unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::TooDeep { .. }));
}

#[test]
fn golden_layouts() {
    let doc = parse(MDA).unwrap();
    halvm_testkit::assert_golden(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/linear_striped.backup-from-mda"
        ),
        &write_with(&doc, Style::Backup),
    );
    let bak = parse(BACKUP).unwrap();
    halvm_testkit::assert_golden(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/linear_striped.mda-from-backup"
        ),
        &write(&bak),
    );
}

fn key() -> impl Strategy<Value = std::borrow::Cow<'static, str>> {
    "[a-zA-Z_][a-zA-Z0-9_.+-]{0,10}".prop_map(std::borrow::Cow::Owned)
}

fn scalar() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<String>()
            .prop_map(|s| s.replace('\0', ""))
            .prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        scalar(),
        prop::collection::vec(scalar(), 0..6).prop_map(Value::Array)
    ]
}

fn section() -> impl Strategy<Value = Section<'static>> {
    let leaf = prop::collection::vec((key(), value().prop_map(Node::Value)), 0..6);
    let entries = leaf.prop_recursive(5, 64, 6, |inner| {
        prop::collection::vec(
            (
                // Names lvm2's exporter treats specially, so their layout rules are exercised.
                prop_oneof![
                    key(),
                    Just(std::borrow::Cow::Borrowed("physical_volumes")),
                    Just(std::borrow::Cow::Borrowed("logical_volumes")),
                    Just(std::borrow::Cow::Borrowed("stripes")),
                    Just(std::borrow::Cow::Borrowed("raids")),
                    Just(std::borrow::Cow::Borrowed("device_count")),
                    Just(std::borrow::Cow::Borrowed("extent_count")),
                    Just(std::borrow::Cow::Borrowed("segment_count")),
                    Just(std::borrow::Cow::Borrowed("device")),
                    Just(std::borrow::Cow::Borrowed("version")),
                ],
                prop_oneof![
                    value().prop_map(Node::Value),
                    inner.prop_map(|entries| Node::Section(Section {
                        entries,
                        comments: Vec::new()
                    })),
                ],
            ),
            0..6,
        )
    });
    (
        entries,
        prop::collection::vec((0usize..8, any::<bool>(), "[ -~]{0,20}"), 0..4),
    )
        .prop_map(|(entries, comments)| {
            let mut s = Section {
                entries,
                comments: Vec::new(),
            };
            let n = s.entries.len();
            let mut trailing_used = std::collections::HashSet::new();
            for (idx, after, text) in comments {
                let text = format!("#{}", text.trim_end());
                if after && n > 0 {
                    let i = idx % n;
                    if trailing_used.insert(i) {
                        s.add_comment(i, CommentPlacement::After, text);
                    }
                } else {
                    s.add_comment(idx % (n + 1), CommentPlacement::Before, text);
                }
            }
            // Comments before an index come out in index order when read back.
            s.comments
                .sort_by_key(|c| (c.index, c.placement == CommentPlacement::After));
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tree_text_tree_is_identity(doc in section(), backup in any::<bool>()) {
        let style = if backup { Style::Backup } else { Style::Metadata };
        let text = write_with(&doc, style);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &doc);
        // The owned copy of the borrowed tree is the same tree, and outlives the text.
        let owned: Section<'static> = back.clone().into_owned();
        prop_assert_eq!(&owned, &doc);
        // and text → tree → text is identical
        prop_assert_eq!(write_with(&back, style), text);
    }

    #[test]
    fn random_input_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn grammar_like_input_never_panics(s in "[a-z0-9 =\\[\\]{}\",#\\\\'\n.+-]{0,200}") {
        if let Ok(doc) = parse(&s) {
            // Whatever parses, writes back into something that parses to the same tree.
            let text = write(&doc);
            prop_assert_eq!(parse(&text).unwrap(), doc);
        }
    }

    #[test]
    fn truncated_metadata_never_panics(cut in 0usize..MDA.len()) {
        if MDA.is_char_boundary(cut) {
            let _ = parse(&MDA[..cut]);
        }
    }
}
