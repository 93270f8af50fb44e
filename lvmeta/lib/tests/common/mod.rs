//! Shared by the library's integration tests: an environment over in-memory PVs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lvmeta::lock::MemLocking;
use lvmeta::ops::Env;
use lvmeta_ondisk::dev::{BlockDev, MemDev};
use lvmeta_ondisk::Bytes;

/// `n` in-memory devices of 64 MiB (`/mem/pv0`...), as the environment's `--devices`.
#[allow(dead_code)] // crash.rs brings its own fault-injecting devices.
pub fn mem_env(n: usize) -> (Env, Vec<PathBuf>) {
    let (env, paths, _) = mem_env_devs(n);
    (env, paths)
}

/// [`mem_env`] and its devices (clones share their fault injector: `set_fault` on one
/// reaches the environment's).
#[allow(dead_code)]
pub fn mem_env_devs(n: usize) -> (Env, Vec<PathBuf>, Vec<MemDev>) {
    let devs: Vec<(PathBuf, MemDev)> = (0..n)
        .map(|i| {
            let p = PathBuf::from(format!("/mem/pv{i}"));
            (p.clone(), MemDev::new(p, Bytes(64 << 20)))
        })
        .collect();
    let paths: Vec<PathBuf> = devs.iter().map(|d| d.0.clone()).collect();
    let mems = devs.iter().map(|d| d.1.clone()).collect();
    let mut env = Env::with_devices(paths.clone(), Arc::new(MemLocking::new()));
    env.open = Box::new(move |p: &Path| {
        devs.iter()
            .find(|d| d.0 == p)
            .map(|d| Arc::new(d.1.clone()) as Arc<dyn BlockDev>)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "absent"))
    });
    (env, paths, mems)
}

/// `pvcreate` of `paths`, then `vgcreate NAME` on them with lvm2's defaults.
#[allow(dead_code)] // Not every test binary makes its VG this way.
pub fn new_vg(ctx: &lvmeta::ops::Ctx, name: &str, paths: &[PathBuf]) {
    ctx.pvcreate(&lvmeta::ops::PvcreateOptions {
        pvs: paths.to_vec(),
        ..Default::default()
    })
    .unwrap();
    ctx.vgcreate(&lvmeta::ops::VgcreateOptions::new(name, paths.to_vec()))
        .unwrap();
}
