//! lvm2-made metadata (captured from loop devices with lvm2 2.03.16, see tests/data) goes
//! through the model and comes back byte for byte.

use lvmeta_model::{SegmentKind, Trailer, VolumeGroup};
use lvmeta_text::{parse, write, write_with, Style};

fn through_model(text: &str, style: Style) -> String {
    let doc = parse(text).unwrap();
    let vg = VolumeGroup::from_metadata(&doc).unwrap();
    let trailer = Trailer::from_metadata(&doc).unwrap();
    let out = match style {
        Style::Metadata => vg.to_metadata(&trailer),
        Style::Backup => vg.to_backup(&trailer),
    };
    let via_tree = write_with(&out, style);
    // The direct writers (used for commits and backups) write the same bytes.
    let mut direct = String::new();
    match style {
        Style::Metadata => vg.write_metadata(&trailer, &mut direct),
        Style::Backup => vg.write_backup(&trailer, &mut direct),
    }
    assert_eq!(direct, via_tree, "direct writer ({style:?})");
    via_tree
}

#[test]
fn linear_striped_mda_is_byte_identical() {
    let t = include_str!("data/linear_striped.mda");
    assert_eq!(through_model(t, Style::Metadata), t);
}

#[test]
fn raid_mirror_mda_is_byte_identical() {
    let t = include_str!("data/raid_mirror.mda");
    assert_eq!(through_model(t, Style::Metadata), t);
}

#[test]
fn model_reads_what_lvm2_wrote() {
    let doc = parse(include_str!("data/raid_mirror.mda")).unwrap();
    let vg = VolumeGroup::from_metadata(&doc).unwrap();
    assert_eq!(vg.name, "vg1");
    assert_eq!(vg.seqno, 8);
    assert_eq!(vg.tags, ["vgtag1"]);
    assert_eq!(vg.pvs.len(), 3);
    let r1 = vg.lv("r1").unwrap();
    match &r1.segments[0].kind {
        SegmentKind::Raid1 {
            images,
            region_size,
        } => {
            assert_eq!(images.len(), 2);
            assert_eq!(images[0], ("r1_rmeta_0".into(), "r1_rimage_0".into()));
            assert_eq!(region_size.unwrap().0, 4096);
        }
        k => panic!("{k:?}"),
    }
    let m1 = vg.lv("m1").unwrap();
    assert!(
        matches!(&m1.segments[0].kind, SegmentKind::Mirror { log: Some(l), legs, .. } if l == "m1_mlog" && legs.len() == 2)
    );
    let m2 = vg.lv("m2").unwrap();
    assert!(matches!(
        &m2.segments[0].kind,
        SegmentKind::Mirror { log: None, .. }
    ));
    // What lvs -a printed for these (with X for what lvm2 could not ask the kernel).
    assert_eq!(vg.lv_attr("r1", false).unwrap(), "rwi---r---");
    assert_eq!(vg.lv_attr("r1_rimage_0", false).unwrap(), "Iwi---r---");
    assert_eq!(vg.lv_attr("r1_rmeta_1", false).unwrap(), "ewi---r---");
    assert_eq!(vg.lv_attr("m1", false).unwrap(), "mwi---m---");
    assert_eq!(vg.lv_attr("m1_mimage_0", false).unwrap(), "Iwi---m---");
    assert_eq!(vg.lv_attr("m1_mlog", false).unwrap(), "lwi---m---");
    assert_eq!(vg.lv_attr("r1", true).unwrap(), "rwi-a-r---");
    assert_eq!(
        vg.lv_devices("r1").unwrap(),
        "r1_rimage_0(0),r1_rimage_1(0)"
    );
    assert_eq!(
        vg.lv_devices("m1").unwrap(),
        "m1_mimage_0(0),m1_mimage_1(0)"
    );
    assert_eq!(vg.lv_devices("m1_mimage_1").unwrap(), "/dev/loop1(3)");
    assert_eq!(vg.lv_display_name("m1_mlog").unwrap(), "[m1_mlog]");
    // 3 PVs of 15 extents; r1 2x(2+1), m1 2x2+1, m2 2x1
    assert_eq!(vg.free_extents().0, 45 - 6 - 5 - 2);
}

#[test]
fn linear_and_striped_report() {
    let doc = parse(include_str!("data/linear_striped.mda")).unwrap();
    let vg = VolumeGroup::from_metadata(&doc).unwrap();
    assert_eq!(vg.lv_attr("lin", false).unwrap(), "-wi-------");
    assert_eq!(vg.lv_size("lin").unwrap().0, 3);
    assert_eq!(vg.lv_devices("lin").unwrap(), "/dev/loop0(0),/dev/loop0(5)");
    assert_eq!(
        vg.lv_devices("str3").unwrap(),
        "/dev/loop0(3),/dev/loop1(1),/dev/loop2(0)"
    );
    let segs = vg.lv_segments("str2").unwrap();
    assert_eq!(segs[0].segtype, "striped");
    assert_eq!(segs[0].stripes, 2);
    assert_eq!(segs[0].stripe_size.0, 128);
    assert_eq!(vg.lv("lin").unwrap().tags, ["t1", "t2"]);
    let free: Vec<u64> = vg.pv_free_extents().iter().map(|p| p.1 .0).collect();
    assert_eq!(free, [15 - 7, 15 - 2, 15 - 1]);
    let _ = write(&doc);
}

/// Segment types the model does not know (and pvmove's mirror over PVs) are kept verbatim,
/// their PV areas count as used, and the text comes back byte for byte.
#[test]
fn unknown_segment_types_survive_verbatim() {
    let base = include_str!("data/linear_striped.mda");
    let extra_lvs = "\nodd {\nid = \"bbbbbb-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa\"\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\nflags = []\nsegment_count = 1\n\nsegment1 {\nstart_extent = 0\nextent_count = 4\n\ntype = \"frobnicate\"\nfrob_level = 3\nzeta = [\"x\", \"y\"]\n\nstripes = [\n\"pv2\", 5,\n\"pv1\", 5\n]\n}\n}\n\npvmove0 {\nid = \"aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa\"\nstatus = [\"READ\", \"WRITE\", \"PVMOVE\", \"LOCKED\"]\nflags = []\nfuture_lv_key = 7\nsegment_count = 1\n\nsegment1 {\nstart_extent = 0\nextent_count = 2\n\ntype = \"mirror\"\nmirror_count = 2\nextents_moved = 0\n\nmirrors = [\n\"pv1\", 10,\n\"pv2\", 10\n]\n}\n}\n}\n\n}\n# Generated";
    let text = base.replacen("}\n}\n\n}\n# Generated", &format!("}}\n{extra_lvs}"), 1);
    assert_ne!(text, base);
    let doc = parse(&text).unwrap();
    let vg = VolumeGroup::from_metadata(&doc).unwrap();
    let trailer = Trailer::from_metadata(&doc).unwrap();
    let out = write(&vg.to_metadata(&trailer));
    if let Some((a, b)) = out.lines().zip(text.lines()).find(|(a, b)| a != b) {
        panic!("first difference: ours {a:?}, expected {b:?}");
    }
    assert_eq!(out, text);
    assert!(matches!(
        vg.lv("pvmove0").unwrap().segments[0].kind,
        SegmentKind::Other { .. }
    ));
    assert_eq!(vg.lv_attr("pvmove0", false).unwrap(), "pwI-------");
    assert_eq!(
        vg.lv_devices("pvmove0").unwrap(),
        "/dev/loop1(10),/dev/loop2(10)"
    );
    assert_eq!(vg.lv_devices("odd").unwrap(), "/dev/loop2(5),/dev/loop1(5)");
    // 45 extents; lvm2's LVs use 10; pvmove 2+2; odd 2+2
    assert_eq!(vg.free_extents().0, 45 - 10 - 4 - 4);
    assert!(matches!(
        vg.clone().remove_pv("pv2").unwrap_err(),
        lvmeta_model::ModelError::PvInUse { .. }
    ));
}

/// Found by cargo-fuzz: a damaged VG with a second `physical_volumes` section after a late
/// first `metadata_copies`. Repeated modeled keys are dropped (lvm2 reads only the first), so
/// what the model writes it reads back to the same VG.
#[test]
fn fuzz_regression_duplicate_sections() {
    let doc = parse(include_str!("data/fuzz_duplicate_sections.txt")).unwrap();
    let vg = VolumeGroup::from_metadata(&doc).unwrap();
    let trailer = Trailer::new("x", "h", 0, None);
    let out = write(&vg.to_metadata(&trailer));
    let back = VolumeGroup::from_metadata(&parse(&out).unwrap()).unwrap();
    assert_eq!(back, vg);
    assert_eq!(out.matches("physical_volumes {").count(), 1);
}

#[test]
fn invalid_ids_are_refused_like_lvm2_does() {
    let t = include_str!("data/linear_striped.mda").replace(
        "trtvu4-OiLY-4j5c-TXDp-e8ss-4ctf-Vh8VcK",
        "trtvu4-OiLY-4j5c-TXDp-e8ss-4ctf-Vh8Vc_",
    );
    let err = VolumeGroup::from_metadata(&parse(&t).unwrap()).unwrap_err();
    assert!(
        matches!(err, lvmeta_model::ModelError::InvalidUuid { .. }),
        "{err}"
    );
}

/// Found by cargo-fuzz: a damaged VG where two LVs claim the same sub-LV; removing one of them
/// left the other pointing nowhere. Such metadata is refused on read now.
#[test]
fn fuzz_regression_shared_sub_lv() {
    let doc = parse(include_str!("data/fuzz_shared_sub_lv.txt")).unwrap();
    let err = VolumeGroup::from_metadata(&doc).unwrap_err();
    assert!(
        matches!(&err, lvmeta_model::ModelError::Invalid { problem, .. } if problem.contains("more than one LV")),
        "{err}"
    );
}

/// Found by cargo-fuzz: an opaque segment naming extents past the end of a 1-extent PV made
/// the allocator see free space there. Used ranges past the end never count as free now.
#[test]
fn fuzz_regression_area_past_pv() {
    let doc = parse(include_str!("data/fuzz_area_past_pv.txt")).unwrap();
    let mut vg = VolumeGroup::from_metadata(&doc).unwrap();
    for lv in vg.lvs.iter().map(|l| l.name.clone()).collect::<Vec<_>>() {
        let _ = vg.extend_lv(&lv, lvmeta_ondisk::units::Extents(2), None);
    }
    for pv in &vg.pvs {
        for (s, l) in vg.pv_free_ranges(&pv.name).unwrap() {
            assert!(
                s.0 + l.0 <= pv.pe_count.0,
                "{} free range past its end",
                pv.name
            );
        }
    }
    let out = write(&vg.to_metadata(&Trailer::new("x", "h", 0, None)));
    VolumeGroup::from_metadata(&parse(&out).unwrap()).unwrap();
}

/// Each rule of the reference check, on lvm2's metadata with one name or number changed: an
/// unknown PV, an area past its PV's end, unknown sub-LVs (mirror log, raid1 image), an LV
/// that is its own mirror leg.
#[test]
fn broken_references_are_refused() {
    let t = include_str!("data/raid_mirror.mda");
    for (from, to, problem) in [
        ("\"pv0\", 1\n", "\"pv9\", 1\n", "unknown PV \"pv9\""),
        (
            "\"pv0\", 1\n",
            "\"pv0\", 15\n",
            "area pv0(15) of 2 extents runs past the PV's 15 extents",
        ),
        (
            "mirror_log = \"m1_mlog\"",
            "mirror_log = \"m1_gone\"",
            "unknown sub-LV \"m1_gone\"",
        ),
        (
            "\"r1_rmeta_0\", \"r1_rimage_0\"",
            "\"r1_rmeta_0\", \"r1_rimage_9\"",
            "unknown sub-LV \"r1_rimage_9\"",
        ),
        (
            "\"m1_mimage_0\", 0",
            "\"m1\", 0",
            "sub-LV \"m1\" is used by more than one LV",
        ),
    ] {
        assert_eq!(t.matches(from).count(), 1, "{from}");
        let text = t.replacen(from, to, 1);
        let doc = parse(&text).unwrap();
        let err = VolumeGroup::from_metadata(&doc).unwrap_err();
        assert!(
            matches!(&err, lvmeta_model::ModelError::Invalid { problem: p, .. } if p == problem),
            "{from} -> {to}: {err}"
        );
    }
}
