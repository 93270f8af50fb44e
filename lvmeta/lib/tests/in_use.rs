//! Nothing in use is destroyed (issue 12): lvremove, vgremove -f, lvrename, vgrename and
//! lvreduce ask device-mapper first. In-memory PVs and the in-memory device-mapper; an
//! "active" LV is a device made in `MemDm` under the LV's dm name and UUID, as activation
//! would make it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lvmeta::activation::Kernel;
use lvmeta::lock::MemLocking;
use lvmeta::ops::{self, Ctx, Env, Layout, LvCreate, OpError, ResizeDir, SizeArg};
use lvmeta::units::Sign;
use lvmeta_activate::dm_uuid;
use lvmeta_dm::mem::MemDm;
use lvmeta_dm::nodes::MemNodes;
use lvmeta_dm::DmBackend;
use lvmeta_ondisk::dev::{BlockDev, MemDev};
use lvmeta_ondisk::Bytes;

/// Two in-memory PVs holding VG `vg` with linear LVs `a` and `b` (8 MiB each); the LVs
/// in `active` have a device in device-mapper, opened `open` times.
fn setup(active: &[(&str, i32)]) -> Env {
    let devs: Vec<(PathBuf, MemDev)> = (0..2)
        .map(|i| {
            let p = PathBuf::from(format!("/mem/pv{i}"));
            (p.clone(), MemDev::new(p, Bytes(64 << 20)))
        })
        .collect();
    let paths: Vec<PathBuf> = devs.iter().map(|d| d.0.clone()).collect();
    let mut env = Env::with_devices(paths.clone(), Arc::new(MemLocking::new()));
    env.open = Box::new(move |p: &Path| {
        devs.iter()
            .find(|d| d.0 == p)
            .map(|d| Arc::new(d.1.clone()) as Arc<dyn BlockDev>)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "absent"))
    });
    {
        let ctx = Ctx { env: &env };
        ctx.pvcreate(&paths, None, None, false).unwrap();
        ctx.vgcreate("vg", &paths, 8192, None, &[]).unwrap();
        for lv in ["a", "b"] {
            ctx.lvcreate(
                "vg",
                LvCreate {
                    name: lv.into(),
                    size: SizeArg::Sectors(Sign::Absolute, 8 << 11),
                    layout: Layout::Linear,
                    pvs: vec![],
                },
            )
            .unwrap();
        }
    }
    let vg = ops::scan(&env).unwrap().read_vg("vg").unwrap().vg;
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
    env
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
    let r = ops::scan(env).unwrap().read_vg(vg).unwrap();
    let mut n: Vec<String> = r.vg.lvs.iter().map(|l| l.name.clone()).collect();
    n.sort();
    n
}

#[test]
fn lvremove_refuses_an_open_lv_with_lvm2s_words_and_changes_nothing() {
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    let e = ctx.lvremove("vg", &["b".into(), "a".into()]).unwrap_err();
    assert!(matches!(e, OpError::InUse { .. }), "{e}");
    assert_eq!(e.to_string(), "Logical volume vg/a in use.");
    assert_eq!(e.exit_code(), 5);
    assert_eq!(lvs(&env, "vg"), ["a", "b"], "nothing removed");
    assert_eq!(dm_names(&env), ["vg-a"], "the open device stays");
}

#[test]
fn lvremove_deactivates_an_active_unopened_lv_then_removes_it() {
    let env = setup(&[("a", 0)]);
    let ctx = Ctx { env: &env };
    ctx.lvremove("vg", &["a".into()]).unwrap();
    assert_eq!(lvs(&env, "vg"), ["b"]);
    assert!(dm_names(&env).is_empty(), "no dm device left");
}

#[test]
fn vgremove_force_refuses_open_lvs_and_deactivates_the_others() {
    let env = setup(&[("a", 0), ("b", 2)]);
    let ctx = Ctx { env: &env };
    let e = ctx.vgremove("vg", true).unwrap_err();
    assert_eq!(e.to_string(), "Logical volume vg/b in use.");
    assert_eq!(lvs(&env, "vg"), ["a", "b"]);
    assert_eq!(dm_names(&env), ["vg-a", "vg-b"], "nothing deactivated");

    let env = setup(&[("a", 0)]);
    let ctx = Ctx { env: &env };
    ctx.vgremove("vg", true).unwrap();
    assert!(ops::scan(&env).unwrap().read_vg("vg").is_err());
    assert!(dm_names(&env).is_empty());
}

#[test]
fn lvrename_renames_the_active_device_even_open() {
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    ctx.lvrename("vg", "a", "c").unwrap();
    assert_eq!(lvs(&env, "vg"), ["b", "c"]);
    assert_eq!(dm_names(&env), ["vg-c"]);
}

#[test]
fn vgrename_renames_every_active_device() {
    let env = setup(&[("a", 0), ("b", 1)]);
    let ctx = Ctx { env: &env };
    ctx.vgrename("vg", "data").unwrap();
    assert_eq!(lvs(&env, "data"), ["a", "b"]);
    assert_eq!(dm_names(&env), ["data-a", "data-b"]);
}

#[test]
fn lvreduce_of_an_open_lv_needs_force() {
    let env = setup(&[("a", 1)]);
    let ctx = Ctx { env: &env };
    let minus = || SizeArg::Sectors(Sign::Minus, 4 << 11);
    let e = ctx
        .lvresize("vg", "a", minus(), &[], ResizeDir::Reduce, false)
        .unwrap_err();
    assert!(
        e.to_string().contains("Logical volume vg/a NOT reduced"),
        "{e}"
    );
    let size = |env: &Env| {
        let r = ops::scan(env).unwrap().read_vg("vg").unwrap();
        r.vg.lv("a").unwrap().size().0
    };
    assert_eq!(size(&env), 2);
    ctx.lvresize("vg", "a", minus(), &[], ResizeDir::Reduce, true)
        .unwrap();
    assert_eq!(size(&env), 1);
    // An inactive LV is reduced without -f, as before.
    ctx.lvresize("vg", "b", minus(), &[], ResizeDir::Reduce, false)
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
        ctx.lvcreate(
            "vg",
            LvCreate {
                name: name.into(),
                size: SizeArg::Sectors(Sign::Absolute, 4 << 11),
                layout,
                pvs: vec![],
            },
        )
        .unwrap();
    }
    ctx.lvrename("vg", "r", "r2").unwrap();
    ctx.lvrename("vg", "m", "m2").unwrap();
    ctx.lvremove("vg", &["r2".into(), "m2".into()]).unwrap();
    assert_eq!(lvs(&env, "vg"), ["a", "b"]);
}
