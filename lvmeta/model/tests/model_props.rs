//! Model ↔ text properties: model → text → model is the identity (unknown keys included),
//! and the model never panics on any parsed tree.

use lvmeta_model::{
    ExtraEntry, Layout, LvRequest, MirrorLog, PhysicalVolume, Trailer, VolumeGroup,
};
use lvmeta_ondisk::units::{Extents, Sectors};
use lvmeta_text::{Node, Section, Value};
use proptest::prelude::*;

fn base_vg(pes: &[u64]) -> VolumeGroup {
    let mut vg = VolumeGroup::new("vg_x", Sectors(8192)).unwrap();
    for (i, &pe) in pes.iter().enumerate() {
        let id = format!("{:b>32}", i);
        vg.add_pv(
            PhysicalVolume::new(
                &id,
                Some(&format!("/dev/sd{i}")),
                Sectors(pe * 8192 + 2048),
                Sectors(2048),
                Extents(pe),
            )
            .unwrap(),
        )
        .unwrap();
    }
    vg
}

fn extra_value() -> impl Strategy<Value = Node<'static>> {
    prop_oneof![
        any::<i64>().prop_map(|i| Node::Value(Value::Int(i))),
        "[ -~]{0,12}".prop_map(|s| Node::Value(Value::from(s))),
        prop::collection::vec("[a-z]{1,5}", 0..3).prop_map(|v| Node::Value(Value::str_array(v))),
    ]
}

fn extras(anchors: &'static [&'static str]) -> impl Strategy<Value = Vec<ExtraEntry>> {
    prop::collection::vec(
        (prop::sample::select(anchors), "x_[a-z]{1,6}", extra_value()),
        0..3,
    )
    .prop_map(|v| {
        let mut out: Vec<ExtraEntry> = v
            .into_iter()
            .map(|(a, key, node)| ExtraEntry {
                after: Some(a.to_string()),
                key,
                node,
            })
            .collect();
        // Written back grouped by anchor in lvm2's key order: generate them that way.
        out.sort_by_key(|e| anchors.iter().position(|a| Some(*a) == e.after.as_deref()));
        out
    })
}

const VG_ANCHORS: &[&str] = &[
    "id",
    "seqno",
    "status",
    "flags",
    "extent_size",
    "max_pv",
    "metadata_copies",
    "physical_volumes",
];
const LV_ANCHORS: &[&str] = &["id", "status", "flags", "segment_count"];
const PV_ANCHORS: &[&str] = &["id", "status", "flags", "pe_start", "pe_count"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn model_text_model_is_identity(
        pes in prop::collection::vec(4u64..40, 1..5),
        lvs in prop::collection::vec((1u64..8, 0u8..6), 0..6),
        tags in prop::collection::vec("[a-z][a-z0-9_.+-]{0,8}", 0..3),
        system_id in prop::option::of("[a-z0-9.-]{1,10}"),
        locked in any::<bool>(),
        seqno in 1u64..1_000_000,
        vg_extra in extras(VG_ANCHORS),
        lv_extra in extras(LV_ANCHORS),
        pv_extra in extras(PV_ANCHORS),
        description in "[ -~]{0,30}",
    ) {
        let mut vg = base_vg(&pes);
        vg.seqno = seqno;
        vg.tags = tags.clone();
        vg.system_id = system_id;
        if locked {
            vg.lock_type = Some("dlm".into());
            vg.lock_args = Some("1.0.0:cluster".into());
        }
        for (i, (size, l)) in lvs.into_iter().enumerate() {
            let layout = match l {
                0 | 1 => Layout::Linear,
                2 => Layout::Striped { stripes: 2, stripe_size: Sectors(128) },
                3 => Layout::Raid1 { mirrors: 1 },
                4 => Layout::Mirror { mirrors: 1, log: MirrorLog::Core },
                _ => Layout::Mirror { mirrors: 1, log: MirrorLog::Disk },
            };
            let mut req = LvRequest::new(&format!("lv{i}"), Extents(size), layout);
            req.alloc.creation_time = Some(1_700_000_000 + i as i64);
            req.alloc.creation_host = Some("h".into());
            let _ = vg.create_lv(req);
        }
        vg.extra.entries = vg_extra;
        if let Some(lv) = vg.lvs.first_mut() {
            lv.extra.entries = lv_extra;
            lv.tags = tags;
        }
        vg.pvs[0].extra.entries = pv_extra;
        let trailer = Trailer::new(&description, "host", 1_795_306_593, Some("Linux host 6.1 #1 x86_64"));
        for backup in [false, true] {
            let (doc, style) = if backup {
                (vg.to_backup(&trailer), lvmeta_text::Style::Backup)
            } else {
                (vg.to_metadata(&trailer), lvmeta_text::Style::Metadata)
            };
            let text = lvmeta_text::write_with(&doc, style);
            let parsed = lvmeta_text::parse(&text).unwrap();
            prop_assert_eq!(&parsed, &doc);
            let back = VolumeGroup::from_metadata(&parsed).unwrap();
            prop_assert_eq!(&back, &vg);
            prop_assert_eq!(&Trailer::from_metadata(&parsed).unwrap(), &trailer);
            // An owned copy of the tree reads the same.
            let owned = parsed.clone().into_owned();
            prop_assert_eq!(&owned, &parsed);
            prop_assert_eq!(&VolumeGroup::from_metadata(&owned).unwrap(), &vg);
        }
    }

    #[test]
    fn model_never_panics_on_damaged_metadata(
        cuts in prop::collection::vec((0usize..400, 0usize..4), 1..6),
    ) {
        // Delete or retype random entries of real lvm2 metadata; the model must answer with an
        // error or a VG, never a panic.
        let mut doc = lvmeta_text::parse(include_str!("data/raid_mirror.mda")).unwrap();
        for (pick, how) in cuts {
            mutate(&mut doc, pick, how);
        }
        if let Ok(vg) = VolumeGroup::from_metadata(&doc) {
            let _ = vg.free_extents();
            for lv in &vg.lvs {
                let _ = vg.lv_attr(&lv.name, true);
                let _ = vg.lv_devices(&lv.name);
            }
        }
        let _ = Trailer::from_metadata(&doc);
    }
}

/// lvm2-made metadata and the fuzz finds, for text-level mutations.
const DOCS: [&str; 5] = [
    include_str!("data/raid_mirror.mda"),
    include_str!("data/linear_striped.mda"),
    include_str!("data/linear_striped.backup"),
    include_str!("data/fuzz_duplicate_sections.txt"),
    include_str!("data/fuzz_shared_sub_lv.txt"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The model (or its error) read from the tree that borrows from the text equals the one
    /// read from the tree's owned copy; the owned copy equals the borrowed tree. Edits add
    /// escapes (strings the parser must copy), unknown keys, repeated keys and damage.
    #[test]
    fn borrowed_and_owned_trees_read_the_same(
        which in 0usize..DOCS.len(),
        lines in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec![
            "x_key = \"a\\\"b\"", "x_sec {\ny = \"c\\\\d\"\n}", "x_list = [\"e\\\"\", 1]",
            "id = \"zzzzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzzzz\"", "status = [\"READ\"]", "segment_count = 2",
            "stripes = [\"pv9\", 0]", "type = \"thin\"",
        ])), 0..4),
        chars in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3,
            prop::sample::select(vec!["", "\\\"", "\\\\", "\\", "7", "q"])), 0..3),
    ) {
        let mut text = DOCS[which].to_string();
        // Whole lines at the start of a line, so that most edited texts still parse.
        for (at, line) in lines {
            let starts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
            let at = starts[at.index(starts.len())];
            text.insert_str(at, &format!("{line}\n"));
        }
        for (at, cut, ins) in chars {
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + cut).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(at..end, ins);
        }
        let Ok(doc) = lvmeta_text::parse(&text) else { return Ok(()) };
        let owned: Section<'static> = doc.clone().into_owned();
        prop_assert_eq!(&owned, &doc);
        let from_owned = VolumeGroup::from_metadata(&owned);
        drop(owned);
        prop_assert_eq!(VolumeGroup::from_metadata(&doc), from_owned);
        let owned = doc.clone().into_owned();
        prop_assert_eq!(Trailer::from_metadata(&doc), Trailer::from_metadata(&owned));
    }
}

/// Visits entries depth-first and damages the `pick`-th one.
fn mutate(sec: &mut Section, pick: usize, how: usize) {
    fn walk(sec: &mut Section, n: &mut usize, pick: usize, how: usize) -> bool {
        let mut i = 0;
        while i < sec.entries.len() {
            if *n == pick {
                match how {
                    0 => {
                        sec.entries.remove(i);
                    }
                    1 => sec.entries[i].1 = Node::Value(Value::Int(-1)),
                    2 => sec.entries[i].1 = Node::Value(Value::Str("pv9".into())),
                    _ => sec.entries[i].1 = Node::Value(Value::Int(i64::MAX)),
                }
                return true;
            }
            *n += 1;
            if let Node::Section(sub) = &mut sec.entries[i].1 {
                if walk(sub, n, pick, how) {
                    return true;
                }
            }
            i += 1;
        }
        false
    }
    let mut n = 0;
    walk(sec, &mut n, pick, how);
}
