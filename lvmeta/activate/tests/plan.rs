//! Planned names, UUIDs and tables over metadata written by lvm2 2.03.16 (tests/data), kept by
//! golden files (UPDATE_GOLDEN=1 refreshes them).

use halvm_testkit::assert_golden;
use lvmeta_activate::{
    dm_name, dm_uuid, mangle, plan_lv, plan_vg, remove_images, split_dm_name, split_mirror,
    ActivationMode, DevNum, PlanError, PlanOptions, PvDevices,
};
use lvmeta_model::{Layout, LvRequest, SegmentKind, VolumeGroup};
use lvmeta_ondisk::units::{Extents, Sectors};
use std::path::PathBuf;

fn data(name: &str) -> VolumeGroup {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap();
    VolumeGroup::from_metadata(&lvmeta_text::parse(&text).unwrap()).unwrap()
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// pv0 -> 7:0, pv1 -> 7:1 ... except the ones listed as missing.
fn devices(vg: &VolumeGroup, missing: &[&str]) -> PvDevices {
    vg.pvs
        .iter()
        .enumerate()
        .filter(|(_, p)| !missing.contains(&p.name.as_str()))
        .map(|(i, p)| {
            (
                p.name.clone(),
                DevNum {
                    major: 7,
                    minor: i as u32,
                },
            )
        })
        .collect()
}

fn describe_all(vg: &VolumeGroup, pvs: &PvDevices, opts: &PlanOptions) -> String {
    let mut out = String::new();
    for plan in plan_vg(vg, pvs, opts).unwrap() {
        out.push_str(&format!("== {}/{}\n", plan.vg, plan.lv));
        out.push_str(&plan.describe());
        let removal: Vec<&str> = plan.remove_order().map(|d| d.name.as_str()).collect();
        out.push_str(&format!("  remove order: {}\n", removal.join(" ")));
    }
    out
}

#[test]
fn linear_multisegment_and_striped_tables() {
    let vg = data("linear_striped.backup");
    let out = describe_all(&vg, &devices(&vg, &[]), &PlanOptions::default());
    // A two-segment linear LV maps both segments, at pe_start + pe * extent_size.
    assert!(out.contains("linear 7:0 2048\n"), "{out}");
    assert!(out.contains("striped 2 128 7:0"), "{out}");
    assert!(out.contains("striped 3 128 7:0"), "{out}");
    assert_golden(golden("linear_striped.txt"), &out);
}

#[test]
fn mirror_and_raid1_tables() {
    let vg = data("raid_mirror.backup");
    let out = describe_all(&vg, &devices(&vg, &[]), &PlanOptions::default());
    assert!(out.contains("raid raid1 3 0 region_size 4096 2 <vg1-r1_rmeta_0> <vg1-r1_rimage_0> <vg1-r1_rmeta_1> <vg1-r1_rimage_1>\n"), "{out}");
    assert!(
        out.contains("mirror core 1 4096 2 <vg1-m2_mimage_0> 0 <vg1-m2_mimage_1> 0"),
        "{out}"
    );
    assert!(
        out.contains("mirror disk 2 <vg1-m1_mlog> 4096 2 <vg1-m1_mimage_0> 0"),
        "{out}"
    );
    assert_golden(golden("raid_mirror.txt"), &out);
}

#[test]
fn mirror_with_handle_errors_as_with_dmeventd() {
    let vg = data("raid_mirror.backup");
    let opts = PlanOptions {
        mirror_handle_errors: true,
        ..PlanOptions::default()
    };
    let plan = plan_lv(&vg, "m2", &devices(&vg, &[]), &opts).unwrap();
    let line = plan.top().table[0].render_with(|d| format!("{d:?}"));
    assert!(line.ends_with(" 1 handle_errors"), "{line}");
}

#[test]
fn mirror_resync_asks_the_log_for_one_load() {
    // dm-log's ctr: `disk 3 <dev> <region> sync|nosync`, `core 2 <region> sync|nosync`.
    let vg = data("raid_mirror.backup");
    let line = |lv: &str, resync| {
        let opts = PlanOptions {
            mirror_resync: resync,
            ..PlanOptions::default()
        };
        let plan = plan_lv(&vg, lv, &devices(&vg, &[]), &opts).unwrap();
        plan.top().table[0].render_with(|d| format!("<{d:?}>"))
    };
    assert!(
        line("m1", Some(true)).contains(" mirror disk 3 <"),
        "{}",
        line("m1", Some(true))
    );
    assert!(line("m1", Some(true)).contains("> 4096 sync 2 <"));
    assert!(line("m1", Some(false)).contains("> 4096 nosync 2 <"));
    assert!(line("m2", Some(true)).contains(" mirror core 2 4096 sync 2 <"));
    assert!(line("m2", Some(false)).contains(" mirror core 2 4096 nosync 2 <"));
    assert!(line("m2", None).contains(" mirror core 1 4096 2 <"));
}

#[test]
fn create_order_puts_sub_lvs_first_and_top_last() {
    let vg = data("raid_mirror.backup");
    let plan = plan_lv(&vg, "r1", &devices(&vg, &[]), &PlanOptions::default()).unwrap();
    let names: Vec<&str> = plan.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vg1-r1_rimage_0",
            "vg1-r1_rmeta_0",
            "vg1-r1_rimage_1",
            "vg1-r1_rmeta_1",
            "vg1-r1"
        ]
    );
    // Every device a table uses is created before it.
    for (i, d) in plan.devices.iter().enumerate() {
        for l in &d.table {
            for dep in l.dm_deps() {
                let j = plan.devices.iter().position(|x| x.uuid == dep).unwrap();
                assert!(j < i, "{} used by {} is created after it", dep, d.name);
            }
        }
    }
    let lv = vg.lv("r1").unwrap();
    assert_eq!(plan.top().uuid, dm_uuid(&vg.id, &lv.id, None));
    assert_eq!(plan.top().uuid.len(), 4 + 64);
    assert!(!plan.top().uuid[4..].contains('-'));
}

#[test]
fn names_double_dashes_and_split_back() {
    assert_eq!(mangle("a-b--c"), "a--b----c");
    assert_eq!(dm_name("my-vg", "lv-1", None), "my--vg-lv--1");
    assert_eq!(
        dm_name("my-vg", "lv-1", Some("missing_0_1")),
        "my--vg-lv--1-missing_0_1"
    );
    assert_eq!(
        split_dm_name("my--vg-lv--1-missing_0_1"),
        Some(("my-vg".into(), "lv-1".into(), Some("missing_0_1".into())))
    );
    assert_eq!(
        split_dm_name("vg1-r1_rimage_0"),
        Some(("vg1".into(), "r1_rimage_0".into(), None))
    );
    assert_eq!(split_dm_name("nodash"), None);

    let mut vg = data("linear_striped.backup");
    vg.name = "my-vg".into();
    let name = vg.lvs[0].name.clone();
    vg.rename_lv(&name, "data-1").unwrap();
    let plan = plan_lv(&vg, "data-1", &devices(&vg, &[]), &PlanOptions::default()).unwrap();
    assert_eq!(plan.top().name, "my--vg-data--1");
}

#[test]
fn missing_pv_fails_naming_it_unless_partial() {
    let vg = data("linear_striped.backup");
    let pvs = devices(&vg, &["pv1"]);
    let pv1 = vg.pv("pv1").unwrap().id.clone();
    let striped = vg
        .lvs
        .iter()
        .find(|l| {
            l.segments
                .iter()
                .any(|s| matches!(&s.kind, SegmentKind::Striped { areas, .. } if areas.len() == 2))
        })
        .unwrap()
        .name
        .clone();
    let err = plan_lv(&vg, &striped, &pvs, &PlanOptions::default()).unwrap_err();
    match &err {
        PlanError::Incomplete { pv, raid, .. } => {
            assert_eq!(pv, &pv1);
            assert!(!raid);
        }
        e => panic!("unexpected {e:?}"),
    }
    assert!(err.to_string().contains(&pv1), "{err}");
    assert!(err.to_string().contains("/dev/loop1"), "{err}");
    // Degraded is not enough for a non-raid LV.
    let degraded = PlanOptions {
        mode: ActivationMode::Degraded,
        ..PlanOptions::default()
    };
    assert!(plan_lv(&vg, &striped, &pvs, &degraded).is_err());

    let partial = PlanOptions {
        mode: ActivationMode::Partial,
        ..PlanOptions::default()
    };
    let out = describe_all(&vg, &pvs, &partial);
    assert!(out.contains("-missing_0_1\n"), "{out}");
    assert!(out.contains(" error \n"), "{out}");
    assert_golden(golden("partial.txt"), &out);
}

#[test]
fn degraded_raid1_and_partial_mirror() {
    let vg = data("raid_mirror.backup");
    // pv1 holds r1_rimage_1/r1_rmeta_1 and the second mirror legs.
    let pvs = devices(&vg, &["pv1"]);
    let complete = PlanOptions::default();
    let err = plan_lv(&vg, "r1", &pvs, &complete).unwrap_err();
    assert!(
        matches!(err, PlanError::Incomplete { raid: true, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("degraded"), "{err}");
    let degraded = PlanOptions {
        mode: ActivationMode::Degraded,
        ..PlanOptions::default()
    };
    let r1 = plan_lv(&vg, "r1", &pvs, &degraded).unwrap();
    assert_eq!(r1.missing_pvs, vec![vg.pv("pv1").unwrap().id.clone()]);
    // A mirror is not raid: degraded does not cover it, partial does.
    assert!(plan_lv(&vg, "m2", &pvs, &degraded).is_err());
    let partial = PlanOptions {
        mode: ActivationMode::Partial,
        ..PlanOptions::default()
    };
    let m2 = plan_lv(&vg, "m2", &pvs, &partial).unwrap();

    // An image gone from the metadata is raid's "- -" pair.
    let mut gone = vg.clone();
    gone.lvs.retain(|l| l.name != "r1_rimage_1");
    let r1_gone = plan_lv(&gone, "r1", &devices(&gone, &[]), &complete).unwrap();
    let line = r1_gone.top().table[0].params_with(|_| "D".into());
    assert_eq!(line, "raid1 3 0 region_size 4096 2 D D - -");

    let out = format!(
        "== degraded r1\n{}== partial m2\n{}== r1 without r1_rimage_1\n{}",
        r1.describe(),
        m2.describe(),
        r1_gone.describe()
    );
    assert_golden(golden("degraded.txt"), &out);
}

#[test]
fn sub_volumes_are_not_activated_alone() {
    let vg = data("raid_mirror.backup");
    let err = plan_lv(
        &vg,
        "r1_rimage_0",
        &devices(&vg, &[]),
        &PlanOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::SubVolume { ref parent, .. } if parent == "r1"));
    let err = plan_lv(&vg, "nope", &devices(&vg, &[]), &PlanOptions::default()).unwrap_err();
    assert!(matches!(err, PlanError::NoSuchLv { .. }));
}

fn fresh_vg() -> VolumeGroup {
    let mut vg = VolumeGroup::new("vs", Sectors(8192)).unwrap();
    vg.id = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg".into();
    for i in 0..3 {
        let id = format!("{i}{}", "p".repeat(31));
        let pv = lvmeta_model::PhysicalVolume::new(
            &id,
            Some(&format!("/dev/vd{}", (b'b' + i as u8) as char)),
            Sectors(262144),
            Sectors(2048),
            Extents(31),
        )
        .unwrap();
        vg.add_pv(pv).unwrap();
    }
    vg
}

fn fix_ids(vg: &mut VolumeGroup) {
    for (i, lv) in vg.lvs.iter_mut().enumerate() {
        lv.id = format!("{:06}-0000-0000-0000-0000-0000-000000", i);
    }
}

#[test]
fn split_raid1_of_three_keeps_raid_of_two() {
    let mut vg = fresh_vg();
    vg.create_lv(LvRequest::new(
        "r",
        Extents(4),
        Layout::Raid1 { mirrors: 2 },
    ))
    .unwrap();
    fix_ids(&mut vg);
    let img_id = vg.lv("r_rimage_2").unwrap().id.clone();
    let img_segs = vg.lv("r_rimage_2").unwrap().segments.clone();
    let out = split_mirror(&mut vg, "r", "snap", 1).unwrap();
    assert_eq!(out.image, "r_rimage_2");
    assert_eq!(out.removed, vec!["r_rmeta_2".to_string()]);
    assert!(!out.now_linear);
    let snap = vg.lv("snap").unwrap();
    assert!(snap.is_visible());
    assert_eq!(snap.id, img_id, "the split LV keeps the image's identity");
    assert_eq!(snap.segments, img_segs, "and its extents, so its data");
    assert!(vg.lv("r_rmeta_2").is_none());
    let pvs = devices(&vg, &[]);
    let plan = plan_lv(&vg, "r", &pvs, &PlanOptions::default()).unwrap();
    assert_eq!(plan.devices.len(), 5);
    let snap_plan = plan_lv(&vg, "snap", &pvs, &PlanOptions::default()).unwrap();
    assert_eq!(snap_plan.devices.len(), 1);
    // Round trip through the text form lvm2 reads.
    let text = lvmeta_text::write(&vg.to_metadata(&lvmeta_model::Trailer::new("t", "h", 0, None)));
    let back = VolumeGroup::from_metadata(&lvmeta_text::parse(&text).unwrap()).unwrap();
    assert_eq!(back.lvs, vg.lvs);
    let out = format!("{}{}", plan.describe(), snap_plan.describe());
    assert_golden(golden("split_raid1.txt"), &out);
}

#[test]
fn split_two_leg_mirror_leaves_linear() {
    for layout in [
        Layout::Mirror {
            mirrors: 1,
            log: lvmeta_model::MirrorLog::Core,
        },
        Layout::Raid1 { mirrors: 1 },
    ] {
        let mut vg = fresh_vg();
        vg.create_lv(LvRequest::new("m", Extents(3), layout))
            .unwrap();
        fix_ids(&mut vg);
        let first = vg.lvs.iter().find(|l| l.name.ends_with("image_0")).unwrap();
        let first_segs = first.segments.clone();
        let before = vg.free_extents();
        let out = split_mirror(&mut vg, "m", "copy", 1).unwrap();
        assert!(out.now_linear);
        assert_eq!(vg.lv("m").unwrap().segments, first_segs, "{layout:?}");
        assert_eq!(
            vg.lvs.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["m", "copy"]
        );
        // Raid1 frees both rmeta extents.
        let freed = vg.free_extents().0 - before.0;
        let want = if matches!(layout, Layout::Raid1 { .. }) {
            2
        } else {
            0
        };
        assert_eq!(freed, want, "{layout:?}");
        let plan = plan_lv(&vg, "m", &devices(&vg, &[]), &PlanOptions::default()).unwrap();
        assert_eq!(plan.devices.len(), 1);
        assert_eq!(plan.top().table[0].target, "linear");
    }
}

#[test]
fn split_errors_leave_the_vg_unchanged() {
    let mut vg = fresh_vg();
    vg.create_lv(LvRequest::new("l", Extents(2), Layout::Linear))
        .unwrap();
    vg.create_lv(LvRequest::new(
        "r",
        Extents(2),
        Layout::Raid1 { mirrors: 1 },
    ))
    .unwrap();
    let orig = vg.clone();
    assert!(split_mirror(&mut vg, "l", "x", 1).is_err());
    assert!(split_mirror(&mut vg, "r", "l", 1).is_err());
    assert!(split_mirror(&mut vg, "r", "bad name", 1).is_err());
    assert!(split_mirror(&mut vg, "r", "x", 2).is_err());
    assert!(split_mirror(&mut vg, "nope", "x", 1).is_err());
    assert_eq!(vg, orig);
}

#[test]
fn removing_a_failed_image_as_lvconvert_repair_does() {
    // Two legs (core log, or raid1): the LV becomes linear on the surviving image's extents.
    for layout in [
        Layout::Mirror {
            mirrors: 1,
            log: lvmeta_model::MirrorLog::Core,
        },
        Layout::Raid1 { mirrors: 1 },
    ] {
        let mut vg = fresh_vg();
        vg.create_lv(LvRequest::new("m", Extents(3), layout))
            .unwrap();
        fix_ids(&mut vg);
        let img = |i: usize| {
            vg.lvs
                .iter()
                .find(|l| l.name.ends_with(&format!("image_{i}")))
                .unwrap()
                .clone()
        };
        let (first, second) = (img(0), img(1));
        let before = vg.free_extents();
        let out = remove_images(&mut vg, "m", std::slice::from_ref(&first.name)).unwrap();
        assert!(out.now_linear, "{layout:?}");
        assert_eq!(out.images, std::slice::from_ref(&first.name));
        assert_eq!(vg.lv("m").unwrap().segments, second.segments, "{layout:?}");
        assert_eq!(
            vg.lvs.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["m"]
        );
        let status = &vg.lv("m").unwrap().status;
        assert!(!status.names().any(|s| s == "MIRRORED" || s == "RAID"));
        let freed = vg.free_extents().0 - before.0;
        let want = if matches!(layout, Layout::Raid1 { .. }) {
            5
        } else {
            3
        };
        assert_eq!(freed, want, "{layout:?}");
        // Repeating it (a second node saw the same failure) changes nothing.
        let again = vg.clone();
        let out = remove_images(&mut vg, "m", std::slice::from_ref(&first.name)).unwrap();
        assert!(out.images.is_empty());
        assert_eq!(vg, again);
        let text =
            lvmeta_text::write(&vg.to_metadata(&lvmeta_model::Trailer::new("t", "h", 0, None)));
        let back = VolumeGroup::from_metadata(&lvmeta_text::parse(&text).unwrap()).unwrap();
        assert_eq!(back.lvs, vg.lvs);
    }
}

#[test]
fn removing_one_image_of_three_keeps_a_mirror_of_two() {
    let mut vg = fresh_vg();
    vg.create_lv(LvRequest::new(
        "m",
        Extents(2),
        Layout::Mirror {
            mirrors: 2,
            log: lvmeta_model::MirrorLog::Core,
        },
    ))
    .unwrap();
    fix_ids(&mut vg);
    let out = remove_images(&mut vg, "m", &["m_mimage_1".to_string()]).unwrap();
    assert!(!out.now_linear);
    assert_eq!(out.removed, ["m_mimage_1"]);
    match &vg.lv("m").unwrap().segments[0].kind {
        SegmentKind::Mirror { legs, .. } => assert_eq!(
            legs.iter().map(|l| l.lv.as_str()).collect::<Vec<_>>(),
            ["m_mimage_0", "m_mimage_2"]
        ),
        k => panic!("{k:?}"),
    }
    let plan = plan_lv(&vg, "m", &devices(&vg, &[]), &PlanOptions::default()).unwrap();
    assert_eq!(plan.top().table[0].target, "mirror");
    // Every image failed: nothing to keep, nothing changed.
    let orig = vg.clone();
    let all = ["m_mimage_0".to_string(), "m_mimage_2".to_string()];
    assert!(remove_images(&mut vg, "m", &all).is_err());
    assert_eq!(vg, orig);
    // raid1 with two images left would need lvm2's renumbering: refused.
    vg.create_lv(LvRequest::new(
        "r",
        Extents(2),
        Layout::Raid1 { mirrors: 2 },
    ))
    .unwrap();
    let orig = vg.clone();
    assert!(remove_images(&mut vg, "r", &["r_rimage_0".to_string()]).is_err());
    assert_eq!(vg, orig);
}
