//! Activation on a shared VG through the library: each LV's lock is taken from the cluster
//! lock manager before its devices are created and released after they are removed; a
//! refusal creates nothing and says who holds the lock. Two "nodes" (two environments over
//! the same loop devices, each with its own in-memory device-mapper) share a cluster lock
//! manager with the DLM's exclusive/shared rules. The real clvmd-rs client is exercised in
//! clvmd-rs's and lvmeta-cli's tests and in the lab.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lvmeta::activation::{ActivateOptions, ActivationError, Kernel};
use lvmeta::lock::{LockError, LockGuard, LockManager, LockMode, LockTarget, MemLocking};
use lvmeta::ops::{Ctx, Env, Layout, LvcreateOptions, SizeArg};
use lvmeta::units::Sign;
use lvmeta_activate::DevNum;
use lvmeta_dm::mem::MemDm;
use lvmeta_dm::nodes::MemNodes;

/// LV locks of a whole cluster: uuid -> (node, mode) holders.
#[derive(Default)]
struct Table(Mutex<HashMap<String, Vec<(u32, LockMode)>>>);

struct NodeLocks {
    node: u32,
    table: Arc<Table>,
    vg_locks: MemLocking,
    calls: Mutex<Vec<String>>,
}

impl LockManager for NodeLocks {
    fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
        self.vg_locks.lock(target, mode)
    }

    fn lock_lv(&self, vg: &str, uuid: &str, name: &str, mode: LockMode) -> Result<(), LockError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("lock {vg}/{name} {mode:?}"));
        let mut t = self.table.0.lock().unwrap();
        let h = t.entry(uuid.to_string()).or_default();
        if let Some((n, m)) = h.iter().find(|(n, m)| {
            *n != self.node && (*m == LockMode::Exclusive || mode == LockMode::Exclusive)
        }) {
            return Err(LockError::HeldElsewhere {
                what: format!("LV {vg}/{name}"),
                holder: format!("node{n} ({m:?})"),
            });
        }
        h.retain(|(n, _)| *n != self.node);
        h.push((self.node, mode));
        Ok(())
    }

    fn unlock_lv(&self, vg: &str, uuid: &str, name: &str) -> Result<(), LockError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("unlock {vg}/{name}"));
        let mut t = self.table.0.lock().unwrap();
        t.entry(uuid.to_string())
            .or_default()
            .retain(|(n, _)| *n != self.node);
        Ok(())
    }
}

fn node_env(devs: &[PathBuf], node: u32, table: &Arc<Table>) -> (Env, Arc<NodeLocks>) {
    let locks = Arc::new(NodeLocks {
        node,
        table: table.clone(),
        vg_locks: MemLocking::new(),
        calls: Mutex::new(Vec::new()),
    });
    let mut env = Env::with_devices(devs.to_vec(), Arc::new(MemLocking::new()));
    env.cluster = Some(locks.clone());
    (env, locks)
}

/// An in-memory device-mapper that knows the loop devices (so tables on them load).
fn kernel(devs: &[PathBuf]) -> Kernel {
    use std::os::unix::fs::MetadataExt;
    let nums = devs.iter().map(|d| {
        let rdev = std::fs::metadata(d).unwrap().rdev();
        DevNum {
            major: nix::sys::stat::major(rdev) as u32,
            minor: nix::sys::stat::minor(rdev) as u32,
        }
    });
    Kernel {
        dm: Box::new(MemDm::new(nums)),
        nodes: Box::new(MemNodes::default()),
    }
}

fn lv(name: &str) -> LvcreateOptions {
    LvcreateOptions {
        vg: String::new(),
        name: name.into(),
        size: SizeArg::Sectors(Sign::Absolute, 8 * 2048),
        layout: Layout::Linear,
        pvs: vec![],
    }
}

#[test]
fn root_shared_vg_activation_takes_and_releases_lv_locks() {
    halvm_testkit::require_root();
    let dir = tempfile::tempdir().unwrap();
    let loops: Vec<_> = (0..2)
        .map(|i| halvm_testkit::LoopDevice::new(dir.path(), &format!("d{i}"), 64))
        .collect();
    let devs: Vec<PathBuf> = loops.iter().map(|l| l.path().to_path_buf()).collect();
    let table = Arc::new(Table::default());
    let (e1, l1) = node_env(&devs, 1, &table);
    let (e2, _l2) = node_env(&devs, 2, &table);
    let (c1, c2) = (Ctx { env: &e1 }, Ctx { env: &e2 });
    c1.pvcreate(&lvmeta::ops::PvcreateOptions {
        pvs: devs.to_vec(),
        ..Default::default()
    })
    .unwrap();
    c1.vgcreate(&lvmeta::ops::VgcreateOptions {
        tags: Vec::new(),
        shared_lock_args: Some("1.0.0:test".to_string()),
        ..lvmeta::ops::VgcreateOptions::new("vg", devs.to_vec())
    })
    .unwrap();
    c1.lvcreate(&lvmeta::ops::LvcreateOptions {
        vg: "vg".into(),
        ..lv("lv")
    })
    .unwrap();
    c1.lvcreate(&lvmeta::ops::LvcreateOptions {
        vg: "vg".into(),
        ..lv("lv2")
    })
    .unwrap();
    let opts = ActivateOptions::default();
    let names = ["lv".to_string()];
    // A device-mapper that cannot load the table (it does not know the PVs): the lock taken
    // for the activation is given back.
    let e = c1
        .change_activation_mode(
            &kernel(&[]),
            "vg",
            Some(&names),
            Some(LockMode::Exclusive),
            &opts,
        )
        .unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    assert_eq!(
        l1.calls.lock().unwrap().drain(..).collect::<Vec<_>>(),
        ["lock vg/lv Exclusive", "unlock vg/lv"]
    );
    let (k1, k2) = (kernel(&devs), kernel(&devs));

    let out = c1
        .change_activation_mode(&k1, "vg", Some(&names), Some(LockMode::Exclusive), &opts)
        .unwrap();
    assert_eq!(out, ["Activated vg/lv"]);
    assert_eq!(
        l1.calls.lock().unwrap().as_slice(),
        ["lock vg/lv Exclusive"]
    );
    // Node 2 is refused, exclusive or shared, naming node 1; it creates no device.
    for mode in [LockMode::Exclusive, LockMode::Shared] {
        let e = c2
            .change_activation_mode(&k2, "vg", Some(&names), Some(mode), &opts)
            .unwrap_err();
        assert!(e.to_string().contains("LV vg/lv is locked by node1"), "{e}");
    }
    assert!(k2.dm.list().unwrap().is_empty());
    // -an on node 1 removes the devices, then releases the lock; node 2 gets it.
    c1.change_activation_mode(&k1, "vg", Some(&names), None, &opts)
        .unwrap();
    assert_eq!(l1.calls.lock().unwrap().last().unwrap(), "unlock vg/lv");
    assert!(k1.dm.list().unwrap().is_empty());
    c2.change_activation_mode(&k2, "vg", Some(&names), Some(LockMode::Exclusive), &opts)
        .unwrap();
    // Shared on both nodes.
    let names2 = ["lv2".to_string()];
    for (c, k) in [(&c1, &k1), (&c2, &k2)] {
        c.change_activation_mode(k, "vg", Some(&names2), Some(LockMode::Shared), &opts)
            .unwrap();
    }
    // vgchange -an on node 2 releases both of its locks.
    let out = c2
        .change_activation_mode(&k2, "vg", None, None, &opts)
        .unwrap();
    assert!(
        out.last().unwrap().contains("0 logical volume(s)"),
        "{out:?}"
    );
    assert!(table
        .0
        .lock()
        .unwrap()
        .values()
        .flatten()
        .all(|(n, _)| *n != 2));

    // A host without the cluster lock manager cannot activate a shared VG at all.
    let mut e3 = Env::with_devices(devs.clone(), Arc::new(MemLocking::new()));
    e3.cluster = None;
    let c3 = Ctx { env: &e3 };
    let e = c3.change_activation_mode(
        &kernel(&devs),
        "vg",
        Some(&names),
        Some(LockMode::Exclusive),
        &opts,
    );
    assert!(
        matches!(
            e,
            Err(ActivationError::Op(_)) | Err(ActivationError::Shared { .. })
        ),
        "{:?}",
        e.err()
    );
}
