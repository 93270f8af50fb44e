//! The driver of the state machine's device-mapper actions ([`clvmd_core::DmAction`]): one
//! thread runs them in order (a suspend must finish before the refresh that resumes) and
//! hands completions back to the poll loop like the lockspace workers do.
//!
//! Tables come from lvmeta's activation planner over the VG's committed metadata, read from
//! disk without a lock (lvm2's commit is one atomic sector write), and are applied with
//! lvmeta's device-mapper executor, so the devices are lvm2's (names, UUIDs, tables).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{channel, Sender};

use clvmd_core::{DmAction, DmReport, Input, LvRef};
use lvmeta::activation::{pv_devices, Kernel};
use lvmeta::env::Env;
use lvmeta::ops::Ctx;
use lvmeta_activate::{plan_lv, ActivationMode, DevNum, Plan, PlanOptions};
use lvmeta_dm::DmBackend;

/// Why a device-mapper action failed.
#[derive(Debug, thiserror::Error)]
pub enum DmError {
    /// The VG's metadata could not be read from any copy here (its devices fail I/O): the
    /// metadata-loss policy's case ([`Input::MetadataUnreadable`]).
    #[error("{error}")]
    MetadataUnreadable { vg: String, error: String },
    #[error("{0}")]
    Other(String),
}

impl From<String> for DmError {
    fn from(e: String) -> Self {
        DmError::Other(e)
    }
}

/// Carries out device-mapper actions (the kernel's, or a test double).
pub trait DmExec {
    fn run(&mut self, action: &DmAction) -> Result<DmReport, DmError>;
}

/// Makes the executor inside its thread (the kernel's handles stay on that thread).
pub type MakeDmExec = Box<dyn FnOnce() -> Box<dyn DmExec> + Send>;

/// Starts the thread that runs the executor `make` builds; completions go to `done` and a
/// byte to `wake`. Every action runs under the quorum fence's guard, and none resumes a
/// device of a VG the fence holds.
pub fn spawn(
    make: MakeDmExec,
    guard: crate::fence::FenceGuard,
    done: Sender<Input>,
    wake: UnixStream,
) -> Sender<(u64, DmAction)> {
    let (tx, rx) = channel::<(u64, DmAction)>();
    std::thread::Builder::new()
        .name("device-mapper".into())
        .spawn(move || {
            let mut wake = wake;
            let mut exec = make();
            for (tag, action) in rx {
                log::debug!("device-mapper: {action:?}");
                let result = run_guarded(exec.as_mut(), &guard, &action);
                if let Err(e) = &result {
                    log::error!("device-mapper action on {}: {e}", action.lv());
                }
                if let Err(DmError::MetadataUnreadable { vg, error }) = &result {
                    let unreadable = Input::MetadataUnreadable {
                        vg: vg.clone(),
                        error: error.clone(),
                        // The VG's own policy is in the metadata it cannot read.
                        policy: None,
                    };
                    if done.send(unreadable).is_err() {
                        return;
                    }
                }
                let result = result.map_err(|e| e.to_string());
                if done.send(Input::DmDone { tag, result }).is_err() {
                    return;
                }
                let _ = wake.write(&[1]);
            }
        })
        .expect("spawn device-mapper thread");
    tx
}

/// Runs `action` holding the fence's guard; refuses one that would resume a fenced VG.
fn run_guarded(
    exec: &mut dyn DmExec,
    guard: &crate::fence::FenceGuard,
    action: &DmAction,
) -> Result<DmReport, DmError> {
    let fenced = guard.lock();
    let vg = &action.lv().vg;
    match action {
        DmAction::Resume { .. } | DmAction::Refresh { .. } if fenced.contains(vg) => {
            Err(DmError::Other(format!(
                "VG {vg} is frozen on this node (quorum lost): {} not reloaded or resumed",
                action.lv()
            )))
        }
        _ => exec.run(action),
    }
}

/// The executor the daemon uses: the kernel's device-mapper, with the environment lvmeta
/// builds from lvm.conf and halvm.toml (no locks are taken through it: reads only).
pub fn kernel_dm() -> MakeDmExec {
    Box::new(|| {
        Box::new(LvmDm::new(Box::new(|| {
            daemon_env(std::sync::Arc::new(lvmeta::lock::MemLocking::new()))
                .map_err(|e| e.to_string())
        })))
    })
}

/// lvmeta's environment as the daemon's threads use it: lvm.conf and halvm.toml, `locks` for
/// its locking, suspended devices skipped.
pub(crate) fn daemon_env(
    locks: std::sync::Arc<dyn lvmeta::lock::LockManager>,
) -> Result<Env, lvmeta::env::EnvError> {
    let mut env =
        lvmeta::env::build_with_cluster(&lvmeta::env::EnvOptions::default(), Some(locks))?.env;
    skip_suspended(&mut env);
    Ok(env)
}

/// Reading a suspended device blocks until it is resumed, and the daemon's threads are the
/// ones that resume: skip them, as lvm2's ignore_suspended_devices does.
fn skip_suspended(env: &mut Env) {
    let open = std::mem::replace(&mut env.open, Box::new(Env::file_open));
    env.open = Box::new(move |path| {
        if suspended_dm(path) {
            return Err(std::io::Error::other("a suspended device-mapper device"));
        }
        open(path)
    });
}

/// Whether `path` is a device-mapper device that is suspended now (sysfs says so).
fn suspended_dm(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(path) else {
        return false;
    };
    if !m.file_type().is_block_device() {
        return false;
    }
    let (major, minor) = (
        nix::sys::stat::major(m.rdev()),
        nix::sys::stat::minor(m.rdev()),
    );
    std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/dm/suspended"))
        .is_ok_and(|s| s.trim() == "1")
}

/// The kernel's device-mapper, with tables planned from the disks by lvmeta.
pub struct LvmDm {
    /// Builds the environment (lvm.conf filters, halvm.toml) on first use: a daemon on a host
    /// without device-mapper never needs it.
    make_env: Box<dyn Fn() -> Result<Env, String>>,
    kernel: Option<Kernel>,
}

impl LvmDm {
    pub fn new(make_env: Box<dyn Fn() -> Result<Env, String>>) -> Self {
        LvmDm {
            make_env,
            kernel: None,
        }
    }

    fn kernel(&mut self) -> Result<&Kernel, String> {
        if self.kernel.is_none() {
            self.kernel = Some(Kernel::real().map_err(|e| e.to_string())?);
        }
        Ok(self.kernel.as_ref().expect("set"))
    }

    /// The committed seqno of `vg` on disk (lvmlockd's LVB carries it as 32 bits).
    fn seqno(&self, vg: &str) -> Result<u32, DmError> {
        let env = (self.make_env)()?;
        let (_, r) = read_known(&env, vg)?;
        Ok(r.vg.seqno as u32)
    }

    /// The LV's plan from the committed metadata, and whether its handle_errors matters.
    fn plan(&self, lv: &LvRef, handle_errors: bool) -> Result<Plan, DmError> {
        let env = (self.make_env)()?;
        let (sc, r) = read_known(&env, &lv.vg)?;
        let name =
            r.vg.lvs
                .iter()
                .find(|l| l.id == lv.uuid)
                .map(|l| l.name.clone())
                .ok_or_else(|| format!("LV {lv} (UUID {}) is not in the metadata", lv.uuid))?;
        let pvs = pv_devices(&Ctx { env: &env }, &r, &sc).map_err(|e| e.to_string())?;
        // Missing PVs map to error targets rather than failing: the devices already exist,
        // and a reload must not fail where the activation was allowed.
        let opts = PlanOptions {
            mode: ActivationMode::Partial,
            mirror_handle_errors: handle_errors,
            ..PlanOptions::default()
        };
        Ok(plan_lv(&r.vg, &name, &pvs, &opts).map_err(|e| e.to_string())?)
    }
}

/// Reads VG `vg`, which exists (the machine has LVs of it active): no readable copy behind
/// devices failing I/O is [`DmError::MetadataUnreadable`]. Without a lock (a peek): the
/// daemon acts for the node that holds the VG's DLM lock and committed what is read, or
/// reads the seqno for a lock value block (lvmlockd reads it so).
fn read_known(env: &Env, vg: &str) -> Result<(lvmeta::ops::Scan, lvmeta::ops::VgRead), DmError> {
    Ctx { env }.peek_known_vg(vg).map_err(|e| match e {
        lvmeta::ops::OpError::NoMetadataReadable { .. } => DmError::MetadataUnreadable {
            vg: vg.to_string(),
            error: e.to_string(),
        },
        e => DmError::Other(e.to_string()),
    })
}

/// The size of a device's live table in sectors.
fn size(dm: &dyn DmBackend, uuid: &str) -> Result<u64, String> {
    Ok(dm
        .table(uuid)
        .map_err(|e| e.to_string())?
        .iter()
        .map(|l| l.1)
        .sum())
}

/// Every device-mapper device under `top` (itself included), by UUID, following the
/// `major:minor` references in the live tables.
fn tree(dm: &dyn DmBackend, top: &str) -> Result<BTreeSet<String>, String> {
    let by_dev: BTreeMap<DevNum, String> = dm
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        // Only lvm2's devices: others (a test's error layer, multipath) are not the LV's,
        // and may have no UUID at all.
        .filter(|i| lvmeta_model::ids::is_lvm_uuid(&i.uuid))
        .map(|i| (i.dev, i.uuid))
        .collect();
    let mut seen = BTreeSet::new();
    let mut todo = vec![top.to_string()];
    while let Some(u) = todo.pop() {
        if !seen.insert(u.clone()) {
            continue;
        }
        for l in dm.table(&u).map_err(|e| e.to_string())? {
            for tok in l.3.split_whitespace() {
                if let Some((a, b)) = tok.split_once(':') {
                    if let (Ok(major), Ok(minor)) = (a.parse(), b.parse()) {
                        if let Some(sub) = by_dev.get(&DevNum { major, minor }) {
                            todo.push(sub.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(seen)
}

impl DmExec for LvmDm {
    fn run(&mut self, action: &DmAction) -> Result<DmReport, DmError> {
        let lv = action.lv().clone();
        if let DmAction::ReadSeqno { .. } = action {
            return Ok(DmReport {
                seqno: Some(self.seqno(&lv.vg)?),
                ..DmReport::default()
            });
        }
        let plan0 = self.plan(&lv, false)?;
        let top = plan0.top().uuid.clone();
        let dm = self.kernel()?.dm.as_ref();
        let mut report = DmReport::default();
        if dm.info(&top).map_err(|e| e.to_string())?.is_none() {
            return Ok(report);
        }
        report.active = true;
        match action {
            DmAction::Suspend { flush, .. } => {
                let r = if *flush {
                    dm.suspend(&top)
                } else {
                    dm.suspend_noflush(&top)
                };
                r.map_err(|e| e.to_string())?;
            }
            DmAction::Resume { .. } => {
                // Bottom first, as a reload resumes.
                for d in &plan0.devices {
                    if dm.info(&d.uuid).ok().flatten().is_some_and(|i| i.suspended) {
                        dm.resume(&d.uuid).map_err(|e| e.to_string())?;
                    }
                }
            }
            DmAction::Refresh { read_only, .. } => {
                // Keep dm-mirror's handle_errors as the live tables have it.
                let before = tree(dm, &top)?;
                let handle = before.iter().any(|u| {
                    dm.table(u).is_ok_and(|t| {
                        t.iter()
                            .any(|l| l.2 == "mirror" && l.3.contains("handle_errors"))
                    })
                });
                let plan = if handle { self.plan(&lv, true)? } else { plan0 };
                let kernel = self.kernel()?;
                let (dm, nodes) = (kernel.dm.as_ref(), kernel.nodes.as_ref());
                // A handle_errors mirror may hold writes (a leg failed): suspend it without
                // flushing so they go on to the new table instead of failing.
                let o = lvmeta_dm::reload_opts(dm, nodes, &plan, &plan, *read_only, handle)
                    .map_err(|e| e.to_string())?;
                report.reloaded = o.reloaded;
                // A device left suspended by a resize whose table did not change (a resize
                // rolled back) is resumed too.
                for d in &plan.devices {
                    if dm.info(&d.uuid).ok().flatten().is_some_and(|i| i.suspended) {
                        dm.resume(&d.uuid).map_err(|e| e.to_string())?;
                    }
                }
                // Devices the LV no longer uses (a split-off image, a removed leg).
                for u in before {
                    if plan.device(&u).is_none() && lvmeta_model::ids::is_lvm_uuid(&u) {
                        if let Some(i) = dm.info(&u).map_err(|e| e.to_string())? {
                            if i.open_count == 0 {
                                dm.remove(&u).map_err(|e| e.to_string())?;
                                nodes.remove_node(&i.name).map_err(|e| e.to_string())?;
                                report.reloaded.push(format!("removed {}", i.name));
                            }
                        }
                    }
                }
            }
            DmAction::ReadSeqno { .. } => {}
            DmAction::Status { .. } => {
                for d in &plan0.devices {
                    if let Ok(lines) = dm.status(&d.uuid) {
                        for l in lines {
                            report.status.push((d.name.clone(), l.2, l.3));
                        }
                    }
                }
            }
        }
        let dm = self.kernel()?.dm.as_ref();
        report.size_sectors = Some(size(dm, &top)?);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(Vec<String>);

    impl DmExec for Count {
        fn run(&mut self, action: &DmAction) -> Result<DmReport, DmError> {
            self.0.push(format!("{action:?}"));
            Ok(DmReport::default())
        }
    }

    /// A reload or resume ordered before the machine knew of a freeze reaches this thread
    /// after the fence thread suspended the VG: it must not resume it.
    #[test]
    fn nothing_of_a_fenced_vg_is_resumed_or_reloaded() {
        let lv = |vg: &str| LvRef {
            vg: vg.into(),
            uuid: "abcdef-0123-4567-89AB-CDEF-0123-456789".into(),
            name: "lv".into(),
        };
        let guard = crate::fence::FenceGuard::default();
        guard.lock().insert("vg".into());
        let mut exec = Count(Vec::new());
        for a in [
            DmAction::Resume { lv: lv("vg") },
            DmAction::Refresh {
                lv: lv("vg"),
                read_only: false,
            },
        ] {
            let e = run_guarded(&mut exec, &guard, &a).unwrap_err().to_string();
            assert!(e.contains("frozen"), "{e}");
        }
        assert!(exec.0.is_empty());
        // Suspending is no resume; another VG is not fenced.
        run_guarded(
            &mut exec,
            &guard,
            &DmAction::Suspend {
                lv: lv("vg"),
                flush: true,
            },
        )
        .unwrap();
        run_guarded(&mut exec, &guard, &DmAction::Resume { lv: lv("other") }).unwrap();
        assert_eq!(exec.0.len(), 2);
        guard.lock().remove("vg");
        run_guarded(&mut exec, &guard, &DmAction::Resume { lv: lv("vg") }).unwrap();
    }
}
