//! The executor over the in-memory device-mapper: order, all-or-nothing activation, refusal to
//! deactivate an open device, reloads and the device changes of a mirror split.

use lvmeta_activate::{plan_lv, split_mirror, DevNum, PlanOptions, PvDevices};
use lvmeta_dm::mem::MemDm;
use lvmeta_dm::nodes::MemNodes;
use lvmeta_dm::{activate, deactivate, reload, sync_percent, DmBackend, DmError};
use lvmeta_model::{Layout, LvRequest, MirrorLog, VolumeGroup};
use lvmeta_ondisk::units::{Extents, Sectors};

fn vg() -> (VolumeGroup, PvDevices, MemDm) {
    let mut vg = VolumeGroup::new("vg", Sectors(8192)).unwrap();
    vg.id = lvmeta_model::lvm_uuid::generate_dashed();
    let mut pvs = PvDevices::new();
    let mut disks = Vec::new();
    for i in 0..3u32 {
        let pv = lvmeta_model::PhysicalVolume::new(
            &lvmeta_model::lvm_uuid::generate(),
            Some(&format!("/dev/vd{}", (b'b' + i as u8) as char)),
            Sectors(262144),
            Sectors(2048),
            Extents(31),
        )
        .unwrap();
        let key = vg.add_pv(pv).unwrap().name.clone();
        let n = DevNum {
            major: 254,
            minor: i * 16,
        };
        pvs.insert(key, n);
        disks.push(n);
    }
    (vg, pvs, MemDm::new(disks))
}

fn opts() -> PlanOptions {
    PlanOptions::default()
}

#[test]
fn raid1_activates_sub_lvs_first_and_deactivates_top_first() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "r",
        Extents(4),
        Layout::Raid1 { mirrors: 1 },
    ))
    .unwrap();
    let plan = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
    let nodes = MemNodes::default();
    let out = activate(&dm, &nodes, &plan).unwrap();
    assert_eq!(
        out.created,
        [
            "vg-r_rimage_0",
            "vg-r_rmeta_0",
            "vg-r_rimage_1",
            "vg-r_rmeta_1",
            "vg-r"
        ]
    );
    let t = dm.table_text("vg-r").unwrap();
    assert_eq!(
        t,
        "0 32768 raid raid1 3 0 region_size 4096 2 253:1 253:0 253:3 253:2"
    );
    assert!(nodes.list().contains(&("vg/r".into(), "vg-r".into())));
    assert_eq!(nodes.list().len(), 6);
    let st = dm.status(&plan.top().uuid).unwrap();
    assert_eq!(sync_percent(&st[0].2, &st[0].3).unwrap().percent(), 100.0);

    // Activating again changes nothing.
    let again = activate(&dm, &nodes, &plan).unwrap();
    assert!(again.created.is_empty());

    let out = deactivate(&dm, &nodes, &plan).unwrap();
    assert_eq!(
        out.removed,
        [
            "vg-r",
            "vg-r_rmeta_1",
            "vg-r_rimage_1",
            "vg-r_rmeta_0",
            "vg-r_rimage_0"
        ]
    );
    assert!(dm.names().is_empty());
    assert!(nodes.list().is_empty());
}

#[test]
fn a_failed_create_removes_what_was_created() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "r",
        Extents(4),
        Layout::Raid1 { mirrors: 1 },
    ))
    .unwrap();
    let plan = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
    let nodes = MemNodes::default();
    dm.fail_create_after(2);
    let e = activate(&dm, &nodes, &plan).unwrap_err();
    assert!(matches!(e, DmError::Kernel { op: "create", .. }), "{e}");
    assert!(dm.names().is_empty(), "stray devices: {:?}", dm.names());
    assert!(nodes.list().is_empty());
    let removes: Vec<String> = dm
        .ops()
        .into_iter()
        .filter(|o| o.starts_with("remove"))
        .collect();
    assert_eq!(removes, ["remove vg-r_rmeta_0", "remove vg-r_rimage_0"]);

    // A failing load of the top device too.
    dm.fail_load_of("vg-r");
    assert!(activate(&dm, &nodes, &plan).is_err());
    assert!(dm.names().is_empty(), "stray devices: {:?}", dm.names());
}

#[test]
fn an_open_device_is_not_deactivated() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new("l", Extents(2), Layout::Linear))
        .unwrap();
    let plan = plan_lv(&vg, "l", &pvs, &opts()).unwrap();
    let nodes = MemNodes::default();
    activate(&dm, &nodes, &plan).unwrap();
    dm.set_open_count("vg-l", 1);
    let e = deactivate(&dm, &nodes, &plan).unwrap_err();
    assert!(matches!(e, DmError::Open { open_count: 1, .. }), "{e}");
    assert!(e.to_string().contains("vg-l is open"), "{e}");
    assert_eq!(dm.names(), ["vg-l"]);
    assert!(nodes.list().contains(&("vg/l".into(), "vg-l".into())));
}

/// A rename committed whose device-mapper step failed leaves the device and its link under the
/// old name: activating the LV again links its new name to that device (not to the device
/// holding the new name), and deactivating it removes the device and both links.
#[test]
fn deactivating_a_device_left_under_its_old_name_removes_its_old_link() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new("a", Extents(2), Layout::Linear))
        .unwrap();
    let nodes = MemNodes::default();
    activate(&dm, &nodes, &plan_lv(&vg, "a", &pvs, &opts()).unwrap()).unwrap();
    vg.rename_lv("a", "c").unwrap();
    let plan = plan_lv(&vg, "c", &pvs, &opts()).unwrap();
    assert_eq!(plan.top().name, "vg-c");
    // Another device holds the new name: activating again links the LV to its own device.
    dm.create("vg-c", "OTHER-c").unwrap();
    activate(&dm, &nodes, &plan).unwrap();
    assert!(nodes.list().contains(&("vg/c".into(), "vg-a".into())));
    dm.remove("OTHER-c").unwrap();
    deactivate(&dm, &nodes, &plan).unwrap();
    assert!(dm.names().is_empty(), "{:?}", dm.names());
    assert!(nodes.list().is_empty(), "left in /dev: {:?}", nodes.list());
}

#[test]
fn extend_reloads_only_what_changed_suspending_top_first() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "m",
        Extents(2),
        Layout::Mirror {
            mirrors: 1,
            log: MirrorLog::Core,
        },
    ))
    .unwrap();
    vg.create_lv(LvRequest::new("l", Extents(2), Layout::Linear))
        .unwrap();
    let nodes = MemNodes::default();
    let old_l = plan_lv(&vg, "l", &pvs, &opts()).unwrap();
    let old_m = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
    activate(&dm, &nodes, &old_l).unwrap();
    activate(&dm, &nodes, &old_m).unwrap();
    vg.extend_lv("l", Extents(3), None).unwrap();
    vg.extend_lv("m", Extents(1), None).unwrap();
    let new_l = plan_lv(&vg, "l", &pvs, &opts()).unwrap();
    let out = reload(&dm, &nodes, &old_l, &new_l).unwrap();
    assert_eq!(out.reloaded, ["vg-l"]);
    let end: u64 = dm
        .table_text("vg-l")
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(end, 5 * 8192);
    let new_m = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
    let before = dm.ops().len();
    let out = reload(&dm, &nodes, &old_m, &new_m).unwrap();
    assert_eq!(out.reloaded, ["vg-m_mimage_0", "vg-m_mimage_1", "vg-m"]);
    let ops: Vec<String> = dm.ops()[before..]
        .iter()
        .filter(|o| !o.starts_with("load"))
        .cloned()
        .collect();
    // The grown images go live as soon as they are loaded (libdm's preload of a child
    // whose size changed: dm-raid refuses a table bigger than its images), the top after.
    assert_eq!(
        ops,
        [
            "suspend vg-m_mimage_0",
            "resume vg-m_mimage_0",
            "suspend vg-m_mimage_1",
            "resume vg-m_mimage_1",
            "suspend vg-m",
            "resume vg-m"
        ]
    );
    assert!(dm
        .table_text("vg-m")
        .unwrap()
        .starts_with("0 24576 mirror core 1"));
}

/// A failed leg detached (lvconvert --repair): the mirror becomes linear on the surviving
/// image's extents, suspended without flushing (dm-mirror hands its held writes back to be
/// queued for the new table), and the image devices go.
#[test]
fn mirror_to_linear_without_flushing_removes_the_images() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "m",
        Extents(2),
        Layout::Mirror {
            mirrors: 1,
            log: MirrorLog::Core,
        },
    ))
    .unwrap();
    let nodes = MemNodes::default();
    let old = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
    activate(&dm, &nodes, &old).unwrap();
    lvmeta_activate::remove_images(&mut vg, "m", &["m_mimage_1".to_string()]).unwrap();
    let new = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
    let before = dm.ops().len();
    let out = lvmeta_dm::reload_opts(&dm, &nodes, &old, &new, false, true).unwrap();
    assert_eq!(out.reloaded, ["vg-m"]);
    assert_eq!(out.removed.len(), 2, "{:?}", out.removed);
    let ops: Vec<String> = dm.ops()[before..]
        .iter()
        .filter(|o| o.starts_with("suspend") || o.starts_with("resume"))
        .cloned()
        .collect();
    assert_eq!(ops, ["suspend --noflush vg-m", "resume vg-m"]);
    assert!(dm.table_text("vg-m").unwrap().contains(" linear "));
    assert_eq!(dm.names(), ["vg-m"]);
}

#[test]
fn failed_reload_leaves_the_old_mapping_live() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new("l", Extents(2), Layout::Linear))
        .unwrap();
    let nodes = MemNodes::default();
    let old = plan_lv(&vg, "l", &pvs, &opts()).unwrap();
    activate(&dm, &nodes, &old).unwrap();
    let before = dm.table_text("vg-l").unwrap();
    vg.extend_lv("l", Extents(1), None).unwrap();
    let new = plan_lv(&vg, "l", &pvs, &opts()).unwrap();
    dm.fail_load_of("vg-l");
    assert!(reload(&dm, &nodes, &old, &new).is_err());
    assert_eq!(dm.table_text("vg-l").unwrap(), before);
    assert!(!dm.ops().iter().any(|o| o.starts_with("suspend")));
}

#[test]
fn split_of_an_active_raid1_reloads_and_hands_the_image_over() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "r",
        Extents(2),
        Layout::Raid1 { mirrors: 2 },
    ))
    .unwrap();
    let nodes = MemNodes::default();
    let old = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
    activate(&dm, &nodes, &old).unwrap();
    let img_table = dm.table_text("vg-r_rimage_2").unwrap();
    split_mirror(&mut vg, "r", "backup", 1).unwrap();
    let new = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
    let out = reload(&dm, &nodes, &old, &new).unwrap();
    assert_eq!(out.reloaded, ["vg-r"]);
    assert_eq!(out.removed, ["vg-r_rmeta_2", "vg-r_rimage_2"]);
    let b = plan_lv(&vg, "backup", &pvs, &opts()).unwrap();
    activate(&dm, &nodes, &b).unwrap();
    assert_eq!(
        dm.table_text("vg-backup").unwrap(),
        img_table,
        "same extents as the image"
    );
    assert!(dm
        .table_text("vg-r")
        .unwrap()
        .contains("region_size 4096 2 "));
}

#[test]
fn partial_activation_and_its_error_devices_go_away_on_deactivation() {
    let (mut vg, mut pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "s",
        Extents(3),
        Layout::Striped {
            stripes: 3,
            stripe_size: Sectors(128),
        },
    ))
    .unwrap();
    // A VG whose name has a dash, and a second LV whose dm name shares the prefix.
    vg.name = "v-g".into();
    vg.create_lv(LvRequest::new("s-x", Extents(1), Layout::Linear))
        .unwrap();
    pvs.remove("pv2");
    let partial = PlanOptions {
        mode: lvmeta_activate::ActivationMode::Partial,
        ..PlanOptions::default()
    };
    let nodes = MemNodes::default();
    let other = plan_lv(&vg, "s-x", &pvs, &partial).unwrap();
    activate(&dm, &nodes, &other).unwrap();
    let plan = plan_lv(&vg, "s", &pvs, &partial).unwrap();
    let out = activate(&dm, &nodes, &plan).unwrap();
    assert_eq!(out.created, ["v--g-s-missing_0_2", "v--g-s"]);
    assert_eq!(
        dm.table_text("v--g-s-missing_0_2").unwrap(),
        "0 24576 error"
    );
    // Deactivating planned without the error device (the PV came back) still removes it.
    let mut all = pvs.clone();
    all.insert(
        "pv2".into(),
        DevNum {
            major: 254,
            minor: 32,
        },
    );
    let complete = plan_lv(&vg, "s", &all, &opts()).unwrap();
    let out = deactivate(&dm, &nodes, &complete).unwrap();
    assert_eq!(out.removed, ["v--g-s", "v--g-s-missing_0_2"]);
    assert_eq!(dm.names(), ["v--g-s--x"]);
}

/// VxVM's ro/sr modes: the LV's top device is loaded read-only (its sub-devices are not); a
/// reload keeps or changes that flag even when the table itself is unchanged.
#[test]
fn read_only_activation_and_reload() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "m",
        Extents(4),
        Layout::Raid1 { mirrors: 1 },
    ))
    .unwrap();
    let plan = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
    let nodes = MemNodes::default();
    lvmeta_dm::activate_with(&dm, &nodes, &plan, true).unwrap();
    let top = plan.top().uuid.clone();
    assert!(dm.read_only(&top).unwrap());
    for d in &plan.devices[..plan.devices.len() - 1] {
        assert!(!dm.read_only(&d.uuid).unwrap(), "{}", d.name);
    }
    // The same tables, read-write: only the top device is reloaded.
    let o = lvmeta_dm::reload_with(&dm, &nodes, &plan, &plan, false).unwrap();
    assert_eq!(o.reloaded, ["vg-m"]);
    assert!(!dm.read_only(&top).unwrap());
    // Nothing changes: nothing is reloaded.
    let o = lvmeta_dm::reload_with(&dm, &nodes, &plan, &plan, false).unwrap();
    assert!(o.reloaded.is_empty());
    // A plain reload keeps an LV read-write.
    let o = reload(&dm, &nodes, &plan, &plan).unwrap();
    assert!(o.reloaded.is_empty());
}

/// Issue 15: a mirror repair gives the new image the failed one's name (and, when the first
/// image failed, the survivor a new device named like the failed one): the live devices
/// holding those names step aside, the new ones are created, and what is gone is removed;
/// the survivor's extents stay the mirror's first leg.
#[test]
fn mirror_repair_reload_takes_over_the_failed_images_names() {
    for failed in [1usize, 0] {
        let (mut vg, pvs, dm) = vg();
        vg.create_lv(LvRequest::new(
            "m",
            Extents(2),
            Layout::Mirror {
                mirrors: 1,
                log: MirrorLog::Core,
            },
        ))
        .unwrap();
        let nodes = MemNodes::default();
        let old = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
        activate(&dm, &nodes, &old).unwrap();
        let survivor = dm
            .table_text(&format!("vg-m_mimage_{}", 1 - failed))
            .unwrap();
        let dead = lvmeta_model::alloc::pv_areas(
            &vg.lv(&format!("m_mimage_{failed}")).unwrap().segments[0],
        )[0]
        .0
        .clone();
        vg.pvs
            .iter_mut()
            .find(|p| p.name == dead)
            .unwrap()
            .set_missing(true);
        let r = lvmeta_activate::repair_mirror(&mut vg, "m", &Default::default()).unwrap();
        assert_eq!(r.now, 2, "failed {failed}");
        let new = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
        reload(&dm, &nodes, &old, &new).unwrap();
        assert_eq!(
            dm.names(),
            ["vg-m", "vg-m_mimage_0", "vg-m_mimage_1"],
            "failed {failed}: nothing set aside is left"
        );
        assert_eq!(
            dm.table_text("vg-m_mimage_0").unwrap(),
            survivor,
            "failed {failed}: the first leg is the survivor"
        );
        let third = dm.table_text("vg-m_mimage_1").unwrap();
        assert!(third.contains("254:32"), "failed {failed}: {third}");
        for d in &new.devices {
            assert_eq!(
                dm.info(&d.uuid).unwrap().map(|i| i.name),
                Some(d.name.clone())
            );
        }
    }
}

/// Issue 15: a raid1 repair gives the new image and metadata pair the failed pair's names and
/// slot: the live devices holding those names step aside and go, the new pair is created and
/// the top device is loaded with `rebuild N` for that slot; the survivor is untouched.
#[test]
fn raid1_repair_reload_takes_over_the_failed_pair_with_rebuild() {
    for failed in [1usize, 0] {
        let (mut vg, pvs, dm) = vg();
        vg.create_lv(LvRequest::new(
            "r",
            Extents(2),
            Layout::Raid1 { mirrors: 1 },
        ))
        .unwrap();
        let nodes = MemNodes::default();
        let old = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
        activate(&dm, &nodes, &old).unwrap();
        let keep = 1 - failed;
        let survivor = dm.table_text(&format!("vg-r_rimage_{keep}")).unwrap();
        let dead = lvmeta_model::alloc::pv_areas(
            &vg.lv(&format!("r_rimage_{failed}")).unwrap().segments[0],
        )[0]
        .0
        .clone();
        vg.pvs
            .iter_mut()
            .find(|p| p.name == dead)
            .unwrap()
            .set_missing(true);
        let r = lvmeta_activate::repair_raid1(&mut vg, "r", &Default::default()).unwrap();
        assert_eq!(r.replaced, [format!("r_rimage_{failed}")]);
        let new = plan_lv(
            &vg,
            "r",
            &pvs,
            &PlanOptions {
                mode: lvmeta_activate::ActivationMode::Partial,
                ..opts()
            },
        )
        .unwrap();
        reload(&dm, &nodes, &old, &new).unwrap();
        let mut names = dm.names();
        names.sort();
        assert_eq!(
            names,
            [
                "vg-r",
                "vg-r_rimage_0",
                "vg-r_rimage_1",
                "vg-r_rmeta_0",
                "vg-r_rmeta_1"
            ],
            "failed {failed}: nothing set aside is left"
        );
        assert_eq!(
            dm.table_text(&format!("vg-r_rimage_{keep}")).unwrap(),
            survivor
        );
        for d in [
            format!("vg-r_rimage_{failed}"),
            format!("vg-r_rmeta_{failed}"),
        ] {
            let t = dm.table_text(&d).unwrap();
            assert!(t.contains("254:32"), "failed {failed}: {d}: {t}");
        }
        let top = dm.table_text("vg-r").unwrap();
        assert!(
            top.contains(&format!("raid1 5 0 rebuild {failed} region_size")),
            "{top}"
        );
        // lvm2's second commit clears REBUILD and reloads: only the top table changes.
        for l in vg.lvs.iter_mut() {
            l.status.remove(lvmeta_model::Flag::Rebuild);
        }
        let last = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
        let o = reload(&dm, &nodes, &new, &last).unwrap();
        assert_eq!(o.reloaded, ["vg-r"]);
        let top = dm.table_text("vg-r").unwrap();
        assert!(top.contains("raid1 3 0 region_size"), "{top}");
        for d in &new.devices {
            assert_eq!(
                dm.info(&d.uuid).unwrap().map(|i| i.name),
                Some(d.name.clone())
            );
        }
    }
}

/// Issue 15: clvmd-rs reloads from the committed metadata alone (old plan = new plan); a
/// replaced disk log keeps the name `_mlog` under a new UUID, so the live log device that no
/// plan knows steps aside for the new one (was EBUSY in the cluster lab), and the caller
/// removes it afterwards.
#[test]
fn a_replaced_mirror_log_takes_its_name_when_only_the_new_plan_is_known() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "m",
        Extents(2),
        Layout::Mirror {
            mirrors: 1,
            log: MirrorLog::Disk,
        },
    ))
    .unwrap();
    let nodes = MemNodes::default();
    let old = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
    activate(&dm, &nodes, &old).unwrap();
    let old_log = old
        .devices
        .iter()
        .find(|d| d.name == "vg-m_mlog")
        .unwrap()
        .uuid
        .clone();
    vg.remove_mirror_log("m").unwrap();
    vg.add_mirror_log("m", None, &[], (None, None)).unwrap();
    let new = plan_lv(&vg, "m", &pvs, &opts()).unwrap();
    let new_log = new
        .devices
        .iter()
        .find(|d| d.name == "vg-m_mlog")
        .unwrap()
        .uuid
        .clone();
    assert_ne!(old_log, new_log);
    lvmeta_dm::reload_opts(&dm, &nodes, &new, &new, false, true).unwrap();
    assert_eq!(dm.info(&new_log).unwrap().unwrap().name, "vg-m_mlog");
    assert_eq!(
        dm.info(&old_log).unwrap().unwrap().name,
        "vg-m_mlog_halvm_old",
        "set aside for the caller to remove"
    );
}

/// `lvconvert -m1 vg/r PV` of an active 3-image raid1 whose middle image is on PV: the
/// image after it is renumbered (`_rimage_2` becomes `_rimage_1`, lvm2's
/// `_shift_and_rename_image_components`); the reload gives the live devices the plan's
/// names and removes the extracted image's devices, nothing left aside.
#[test]
fn a_raid1_down_convert_renames_the_renumbered_image_and_removes_the_other() {
    let (mut vg, pvs, dm) = vg();
    vg.create_lv(LvRequest::new(
        "r",
        Extents(2),
        Layout::Raid1 { mirrors: 2 },
    ))
    .unwrap();
    let nodes = MemNodes::default();
    let old = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
    activate(&dm, &nodes, &old).unwrap();
    let uuid_of = |p: &lvmeta_activate::Plan, name: &str| {
        p.devices
            .iter()
            .find(|d| d.name == name)
            .unwrap()
            .uuid
            .clone()
    };
    let (gone, moved) = (
        uuid_of(&old, "vg-r_rimage_1"),
        uuid_of(&old, "vg-r_rimage_2"),
    );
    let pv = lvmeta_model::alloc::pv_areas(&vg.lv("r_rimage_1").unwrap().segments[0])[0]
        .0
        .clone();
    let r = lvmeta_activate::reduce_images(&mut vg, "r", 2, Some(&[pv]), false).unwrap();
    assert_eq!(r.images, ["r_rimage_1"]);
    let new = plan_lv(&vg, "r", &pvs, &opts()).unwrap();
    reload(&dm, &nodes, &old, &new).unwrap();
    assert_eq!(dm.info(&moved).unwrap().unwrap().name, "vg-r_rimage_1");
    assert!(
        dm.info(&gone).unwrap().is_none(),
        "the extracted image's device is gone"
    );
    for d in &new.devices {
        assert_eq!(
            dm.info(&d.uuid).unwrap().map(|i| i.name),
            Some(d.name.clone())
        );
    }
    assert!(!dm
        .list()
        .unwrap()
        .iter()
        .any(|i| i.name.contains("halvm_old")));
}
