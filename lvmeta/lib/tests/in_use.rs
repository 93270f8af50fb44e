//! Nothing in use is destroyed (issue 12): lvremove, vgremove -f, lvrename, vgrename and
//! lvreduce ask device-mapper first. In-memory PVs and the in-memory device-mapper; an
//! "active" LV is a device made in `MemDm` under the LV's dm name and UUID, as activation
//! would make it.

mod common;

use std::path::PathBuf;

use lvmeta::activation::Kernel;
use lvmeta::ops::{self, Ctx, Env, Layout, LvcreateOptions, OpError, ResizeDir, SizeArg};
use lvmeta::units::Sign;
use lvmeta_activate::dm_uuid;
use lvmeta_dm::mem::MemDm;
use lvmeta_dm::nodes::MemNodes;
use lvmeta_dm::DmBackend;
use lvmeta_ondisk::dev::{Fault, MemDev};

/// Two in-memory PVs holding VG `vg` with linear LVs `a` and `b` (8 MiB each); the LVs
/// in `active` have a device in device-mapper, opened `open` times.
fn setup(active: &[(&str, i32)]) -> Env {
    setup_devs(active).0
}

/// [`setup`] and its in-memory PVs (for fault injection).
fn setup_devs(active: &[(&str, i32)]) -> (Env, Vec<MemDev>) {
    let (mut env, paths, devs) = common::mem_env_devs(2);
    {
        let ctx = Ctx { env: &env };
        common::new_vg(&ctx, "vg", &paths);
        for lv in ["a", "b"] {
            ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
                vg: "vg".into(),
                ..LvcreateOptions {
                    vg: String::new(),
                    name: lv.into(),
                    size: SizeArg::Sectors(Sign::Absolute, 8 << 11),
                    layout: Layout::Linear,
                    pvs: vec![],
                }
            })
            .unwrap();
        }
    }
    let vg = Ctx { env: &env }.peek_vg("vg").unwrap().1.vg;
    let dm = MemDm::new([]);
    for (lv, open) in active {
        let l = vg.lv(lv).unwrap();
        let name = vg.dm_name(lv);
        let uuid = dm_uuid(&vg.id, &l.id, None);
        dm.create(&name, &uuid).unwrap();
        dm.load(&uuid, &[(0, 16384, "error".into(), String::new())])
            .unwrap();
        dm.resume(&uuid).unwrap();
        dm.set_open_count(&name, *open);
    }
    env.kernel = Some(Kernel {
        dm: Box::new(dm),
        nodes: Box::new(MemNodes::default()),
    });
    (env, devs)
}

fn dm_names(env: &Env) -> Vec<String> {
    let mut n: Vec<String> = env
        .kernel
        .as_ref()
        .unwrap()
        .dm
        .list()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    n.sort();
    n
}

fn lvs(env: &Env, vg: &str) -> Vec<String> {
    let r = Ctx { env }.peek_vg(vg).unwrap().1;
    let mut n: Vec<String> = r.vg.lvs.iter().map(|l| l.name.clone()).collect();
    n.sort();
    n
}

#[test]
fn lvremove_refuses_an_open_lv_and_changes_nothing() {
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    let e = ctx
        .lvremove(&lvmeta::ops::LvremoveOptions {
            vg: "vg".into(),
            lvs: vec!["b".into(), "a".into()],
        })
        .unwrap_err();
    assert!(matches!(e, OpError::InUse { .. }), "{e}");
    // lvm2's words ("Logical volume vg/a in use.") are lvmeta-cli's.
    assert_eq!(e.to_string(), "LV vg/a in use");
    assert_eq!(e.exit_code(), 5);
    assert_eq!(lvs(&env, "vg"), ["a", "b"], "nothing removed");
    assert_eq!(dm_names(&env), ["vg-a"], "the open device stays");
}

#[test]
fn lvremove_deactivates_an_active_unopened_lv_then_removes_it() {
    let env = setup(&[("a", 0)]);
    let ctx = Ctx { env: &env };
    ctx.lvremove(&lvmeta::ops::LvremoveOptions {
        vg: "vg".into(),
        lvs: vec!["a".into()],
    })
    .unwrap();
    assert_eq!(lvs(&env, "vg"), ["b"]);
    assert!(dm_names(&env).is_empty(), "no dm device left");
}

#[test]
fn vgremove_force_refuses_open_lvs_and_deactivates_the_others() {
    let env = setup(&[("a", 0), ("b", 2)]);
    let ctx = Ctx { env: &env };
    let e = ctx
        .vgremove(&lvmeta::ops::VgremoveOptions {
            vg: "vg".into(),
            force: true,
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "LV vg/b in use");
    assert_eq!(lvs(&env, "vg"), ["a", "b"]);
    assert_eq!(dm_names(&env), ["vg-a", "vg-b"], "nothing deactivated");

    let env = setup(&[("a", 0)]);
    let ctx = Ctx { env: &env };
    ctx.vgremove(&lvmeta::ops::VgremoveOptions {
        vg: "vg".into(),
        force: true,
    })
    .unwrap();
    assert!(Ctx { env: &env }.peek_vg("vg").is_err());
    assert!(dm_names(&env).is_empty());
}

#[test]
fn lvrename_renames_the_active_device_even_open() {
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    ctx.lvrename(&lvmeta::ops::LvrenameOptions {
        vg: "vg".into(),
        old: "a".into(),
        new: "c".into(),
    })
    .unwrap();
    assert_eq!(lvs(&env, "vg"), ["b", "c"]);
    assert_eq!(dm_names(&env), ["vg-c"]);
}

#[test]
fn vgrename_renames_every_active_device() {
    let env = setup(&[("a", 0), ("b", 1)]);
    let ctx = Ctx { env: &env };
    ctx.vgrename(&lvmeta::ops::VgrenameOptions {
        old: "vg".into(),
        new: "data".into(),
    })
    .unwrap();
    assert_eq!(lvs(&env, "data"), ["a", "b"]);
    assert_eq!(dm_names(&env), ["data-a", "data-b"]);
}

#[test]
fn lvreduce_of_an_open_lv_needs_force() {
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    let minus = || SizeArg::Sectors(Sign::Minus, 4 << 11);
    let e = ctx
        .lvresize(&lvmeta::ops::LvresizeOptions {
            vg: "vg".into(),
            lv: "a".into(),
            size: minus(),
            pvs: Vec::new(),
            dir: ResizeDir::Reduce,
            force: false,
        })
        .unwrap_err();
    assert!(
        matches!(&e, OpError::NotReduced { vg, lv, .. } if vg == "vg" && lv == "a"),
        "{e}"
    );
    assert!(e.to_string().contains("not reduced"), "{e}");
    let size = |env: &Env| {
        let r = Ctx { env }.peek_vg("vg").unwrap().1;
        r.vg.lv("a").unwrap().size().0
    };
    assert_eq!(size(&env), 2);
    ctx.lvresize(&lvmeta::ops::LvresizeOptions {
        vg: "vg".into(),
        lv: "a".into(),
        size: minus(),
        pvs: Vec::new(),
        dir: ResizeDir::Reduce,
        force: true,
    })
    .unwrap();
    assert_eq!(size(&env), 1);
    // An inactive LV is reduced without -f, as before.
    ctx.lvresize(&lvmeta::ops::LvresizeOptions {
        vg: "vg".into(),
        lv: "b".into(),
        size: minus(),
        pvs: Vec::new(),
        dir: ResizeDir::Reduce,
        force: false,
    })
    .unwrap();
}

/// Mirrored LVs have devices under their sub-LVs' names too: removing and renaming them with
/// device-mapper present works whether they are active or not.
#[test]
fn raid1_and_mirror_lvs_are_removed_and_renamed_with_device_mapper_present() {
    let env = setup(&[]);
    let ctx = Ctx { env: &env };
    for (name, layout) in [
        ("r", Layout::Raid1 { mirrors: 1 }),
        (
            "m",
            Layout::Mirror {
                mirrors: 1,
                log: lvmeta::ops::MirrorLog::Core,
            },
        ),
    ] {
        ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
            vg: "vg".into(),
            ..LvcreateOptions {
                vg: String::new(),
                name: name.into(),
                size: SizeArg::Sectors(Sign::Absolute, 4 << 11),
                layout,
                pvs: vec![],
            }
        })
        .unwrap();
    }
    ctx.lvrename(&lvmeta::ops::LvrenameOptions {
        vg: "vg".into(),
        old: "r".into(),
        new: "r2".into(),
    })
    .unwrap();
    ctx.lvrename(&lvmeta::ops::LvrenameOptions {
        vg: "vg".into(),
        old: "m".into(),
        new: "m2".into(),
    })
    .unwrap();
    ctx.lvremove(&lvmeta::ops::LvremoveOptions {
        vg: "vg".into(),
        lvs: vec!["r2".into(), "m2".into()],
    })
    .unwrap();
    assert_eq!(lvs(&env, "vg"), ["a", "b"]);
}

/// `vgreduce --removemissing`: LVs on a missing PV are refused without --force; with it an
/// open one is refused (nothing changes), an active one is deactivated, then removed, and
/// the missing PV leaves the VG.
#[test]
fn vgreduce_removemissing_asks_device_mapper_first() {
    let (mut env, paths) = common::mem_env(3);
    let lv = |name: &str, pv: &str| LvcreateOptions {
        vg: String::new(),
        name: name.into(),
        size: SizeArg::Sectors(Sign::Absolute, 4 << 11),
        layout: Layout::Linear,
        pvs: vec![PathBuf::from(pv)],
    };
    {
        let ctx = Ctx { env: &env };
        common::new_vg(&ctx, "vg", &paths);
        ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
            vg: "vg".into(),
            ..lv("gone", "/mem/pv2")
        })
        .unwrap();
        ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
            vg: "vg".into(),
            ..lv("kept", "/mem/pv0")
        })
        .unwrap();
    }
    let vg = Ctx { env: &env }.peek_vg("vg").unwrap().1.vg;
    let kernel_with = |open: i32| {
        let dm = MemDm::new([]);
        let l = vg.lv("gone").unwrap();
        let uuid = dm_uuid(&vg.id, &l.id, None);
        dm.create(&vg.dm_name("gone"), &uuid).unwrap();
        dm.load(&uuid, &[(0, 8192, "error".into(), String::new())])
            .unwrap();
        dm.resume(&uuid).unwrap();
        dm.set_open_count(&vg.dm_name("gone"), open);
        Kernel {
            dm: Box::new(dm),
            nodes: Box::new(MemNodes::default()),
        }
    };
    // pv2 disappears.
    env.devices = Some(paths[..2].to_vec());
    env.kernel = Some(kernel_with(1));
    let ctx = Ctx { env: &env };
    let e = ctx
        .vgreduce(&lvmeta::ops::VgreduceOptions {
            vg: "vg".into(),
            remove_missing: true,
            force: false,
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(&e, OpError::PartialLvs { vg, .. } if vg == "vg"),
        "{e}"
    );
    let e = ctx
        .vgreduce(&lvmeta::ops::VgreduceOptions {
            vg: "vg".into(),
            remove_missing: true,
            force: true,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "LV vg/gone in use");
    assert_eq!(lvs(&env, "vg"), ["gone", "kept"]);
    assert_eq!(dm_names(&env), ["vg-gone"]);

    env.kernel = Some(kernel_with(0));
    let ctx = Ctx { env: &env };
    let lvmeta::ops::VgReduced::Missing { pvs, lvs: removed } = ctx
        .vgreduce(&lvmeta::ops::VgreduceOptions {
            vg: "vg".into(),
            remove_missing: true,
            force: true,
            ..Default::default()
        })
        .unwrap()
    else {
        panic!("--removemissing reports what it removed")
    };
    assert_eq!(removed, ["gone"]);
    assert_eq!(pvs.len(), 1);
    assert_eq!(lvs(&env, "vg"), ["kept"]);
    assert!(dm_names(&env).is_empty());
    let r = Ctx { env: &env }.peek_vg("vg").unwrap().1;
    assert_eq!(r.vg.pvs.len(), 2);
    assert!(r.missing().is_empty());
}

/// `pvremove -ff` wipes the label of a PV in a VG only when no active LV has extents on it.
#[test]
fn pvremove_twice_forced_refuses_a_pv_under_an_active_lv() {
    let env = setup(&[("a", 0)]);
    let ctx = Ctx { env: &env };
    let pv0 = PathBuf::from("/mem/pv0");
    let e = ctx
        .pvremove(&lvmeta::ops::PvremoveOptions {
            pvs: vec![pv0.clone()],
            force_twice: false,
        })
        .unwrap_err();
    assert!(
        matches!(&e, OpError::PvInVg { vg, .. } if vg == "vg"),
        "{e}"
    );
    // `a` is active and has its extents on pv0.
    let e = ctx
        .pvremove(&lvmeta::ops::PvremoveOptions {
            pvs: vec![pv0.clone()],
            force_twice: true,
        })
        .unwrap_err();
    assert!(
        matches!(&e, OpError::PvBusy { path } if *path == pv0),
        "{e}"
    );
    assert_eq!(lvs(&env, "vg"), ["a", "b"], "the label is still there");
    // pv1 holds no extent of an active LV: -ff wipes it.
    let pv1 = PathBuf::from("/mem/pv1");
    assert_eq!(
        ctx.pvremove(&lvmeta::ops::PvremoveOptions {
            pvs: vec![pv1.clone()],
            force_twice: true
        })
        .unwrap(),
        [pv1]
    );
    assert_eq!(
        Ctx { env: &env }.peek_vg("vg").unwrap().1.missing().len(),
        1
    );
}

/// `lvs` asks the environment's device-mapper (here the in-memory one), not a handle of its
/// own: the active, open LV shows `ao`, the other `--`.
#[test]
fn lvs_shows_the_state_the_environments_device_mapper_holds() {
    use lvmeta::report::{Cell, ReportKind, FIELDS};
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    let fields: Vec<_> = ["lv_name", "lv_attr"]
        .iter()
        .map(|n| FIELDS.iter().find(|f| f.name == *n).unwrap())
        .collect();
    let (rows, _) = ctx
        .report_with_warnings(
            ReportKind::Lvs,
            &fields,
            &["vg".to_string()],
            ops::Selection::default(),
        )
        .unwrap();
    let attrs: Vec<(String, String)> = rows
        .iter()
        .map(|r| match (&r[0], &r[1]) {
            (Cell::Str(n), Cell::Str(a)) => (n.clone(), a[4..6].to_string()),
            other => panic!("unexpected cells {other:?}"),
        })
        .collect();
    assert_eq!(
        attrs,
        [("a".into(), "ao".into()), ("b".into(), "--".into())],
        "{rows:?}"
    );
}

fn set_fault(devs: &[MemDev], f: Fault) {
    for d in devs {
        d.set_fault(f);
    }
}

/// A rename renames the devices only after its commit (lvm2 renames on resume, after
/// `vg_commit`): a commit that fails (no metadata copy written) leaves the devices under the
/// names the metadata still has; the same rename committed renames them.
#[test]
fn a_rename_whose_commit_fails_leaves_the_devices_under_their_old_names() {
    let (env, devs) = setup_devs(&[("a", 1), ("b", 0)]);
    let ctx = Ctx { env: &env };
    let lvrename = || {
        ctx.lvrename(&lvmeta::ops::LvrenameOptions {
            vg: "vg".into(),
            old: "a".into(),
            new: "c".into(),
        })
    };
    let vgrename = || {
        ctx.vgrename(&lvmeta::ops::VgrenameOptions {
            old: "vg".into(),
            new: "data".into(),
        })
    };
    set_fault(&devs, Fault::FailAfter { ok: 0 });
    let e = lvrename().unwrap_err();
    assert!(matches!(e, OpError::NoMetadataCopy { .. }), "{e}");
    let e = vgrename().unwrap_err();
    assert!(matches!(e, OpError::NoMetadataCopy { .. }), "{e}");
    set_fault(&devs, Fault::None);
    assert_eq!(lvs(&env, "vg"), ["a", "b"]);
    assert_eq!(
        dm_names(&env),
        ["vg-a", "vg-b"],
        "devices as the metadata names them"
    );
    lvrename().unwrap();
    assert_eq!(dm_names(&env), ["vg-b", "vg-c"]);
    vgrename().unwrap();
    assert_eq!(lvs(&env, "data"), ["b", "c"]);
    assert_eq!(dm_names(&env), ["data-b", "data-c"]);
}

/// A device-mapper rename that fails after the commit is reported in lvm2's words, and the
/// commit stands (the metadata is not rolled back).
#[test]
fn a_device_rename_failing_after_the_commit_is_reported_and_the_commit_stands() {
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    let dm = &env.kernel.as_ref().unwrap().dm;
    // Another device holds the name the renamed LV's device would take.
    dm.create("vg-c", "OTHER-c").unwrap();
    let e = ctx
        .lvrename(&lvmeta::ops::LvrenameOptions {
            vg: "vg".into(),
            old: "a".into(),
            new: "c".into(),
        })
        .unwrap_err();
    assert!(matches!(e, OpError::DevicesNotRenamed { .. }), "{e}");
    // lvm2's line after the kernel's error ("Problem reactivating logical volume vg/c.") is
    // lvmeta-cli's; the error names the LV under its new name, in its VG.
    assert!(
        matches!(&e, OpError::DevicesNotRenamed { old_vg, vg, lv, .. }
            if old_vg == "vg" && vg == "vg" && lv == "c"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 5);
    assert_eq!(lvs(&env, "vg"), ["b", "c"], "committed");
    assert_eq!(dm_names(&env), ["vg-a", "vg-c"]);

    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    let dm = &env.kernel.as_ref().unwrap().dm;
    dm.create("data-a", "OTHER-a").unwrap();
    let e = ctx
        .vgrename(&lvmeta::ops::VgrenameOptions {
            old: "vg".into(),
            new: "data".into(),
        })
        .unwrap_err();
    // lvm2's line ("Renaming "/dev/vg" to "/dev/data" failed") is lvmeta-cli's.
    assert!(
        matches!(&e, OpError::DevicesNotRenamed { old_vg, vg, .. }
            if old_vg == "vg" && vg == "data"),
        "{e}"
    );
    assert_eq!(lvs(&env, "data"), ["a", "b"], "committed");
    assert_eq!(dm_names(&env), ["data-a", "vg-a"]);
}
