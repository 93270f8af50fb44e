//! Activation: turns a VG as read into device-mapper devices (through `lvmeta-activate`'s plans
//! and `lvmeta-dm`'s executor), with lvm2's checks: a foreign VG (another system ID) is not
//! activated, `volume_list` filters which LVs may be, and a missing PV fails activation naming
//! it unless partial or degraded activation is asked for. Also the reload of an active LV after
//! a resize, mirror break-off, and the active state and sync % that `lvs` shows.

use crate::lock::{LockError, LockManager, LockMode};
use crate::ops::{Ctx, OpError, VgError, VgRead};
use lvmeta_activate::{
    plan_lv, split::SplitError, split_mirror, ActivationMode, DevNum, Plan, PlanError, PlanOptions,
    PvDevices,
};
use lvmeta_dm::{DmBackend, DmError, Nodes};
use lvmeta_model::VolumeGroup;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Dm(#[from] DmError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error("VG {vg}: PVs on duplicate devices: not activated")]
    Duplicates { vg: String },
    #[error("VG {vg}: {device} is not a block device: not activated")]
    NotBlock { vg: String, device: String },
    #[error("VG {vg} is foreign (system ID {system_id}, local system ID {local}): not activated")]
    Foreign {
        vg: String,
        system_id: String,
        local: String,
    },
    #[error("LV {vg}/{lv} not in activation/volume_list: not activated")]
    Filtered { vg: String, lv: String },
    #[error("VG {vg} is shared (lock_type {lock_type}): its LVs are activated through clvmd-rs, not locally")]
    Shared { vg: String, lock_type: String },
    #[error("LV {vg}/{lv} is not in sync ({percent:.2}%): not split")]
    NotInSync {
        vg: String,
        lv: String,
        percent: f64,
    },
    #[error("LV {vg}/{lv} not found")]
    NoSuchLv { vg: String, lv: String },
    #[error("VG {vg} is not shared: activation modes (ew, ro, sr, sw) need a shared VG (vgcreate --shared, or vgchange --locktype dlm)")]
    NotShared { vg: String },
    #[error("device-mapper is not available: {reason}")]
    NoDm { reason: String },
}

impl ActivationError {
    /// lvm's ECMD_FAILED for everything here.
    pub fn exit_code(&self) -> i32 {
        match self {
            ActivationError::Op(e) => e.exit_code(),
            _ => 5,
        }
    }
}

pub type Result<T, E = ActivationError> = std::result::Result<T, E>;

/// How to reach the kernel: the real device-mapper and `/dev`, or test doubles.
pub struct Kernel {
    pub dm: Box<dyn DmBackend>,
    pub nodes: Box<dyn Nodes>,
}

impl Kernel {
    /// `/dev/mapper/control` and nodes under `/dev`.
    pub fn real() -> Result<Kernel> {
        let dm = lvmeta_dm::ioctl::DmIoctl::open().map_err(|e| ActivationError::NoDm {
            reason: e.to_string(),
        })?;
        Ok(Kernel {
            dm: Box::new(dm),
            nodes: Box::new(lvmeta_dm::DevFs::default()),
        })
    }

    /// This kernel for test mode (`-t`): it is asked, never changed.
    pub fn dry_run(self) -> Kernel {
        use lvmeta_dm::dry_run::DryRun;
        Kernel {
            dm: Box::new(DryRun(self.dm)),
            nodes: Box::new(DryRun(self.nodes)),
        }
    }
}

/// `lvchange -a` / `vgchange -a` options.
#[derive(Debug, Clone, Default)]
pub struct ActivateOptions {
    pub mode: ActivationMode,
    /// lvm's `activation/volume_list`: `vg`, `vg/lv`, `@tag` (LV or VG tag). None: no filter.
    pub volume_list: Option<Vec<String>>,
    pub mirror_handle_errors: bool,
    /// A VxVM activation mode on a shared VG: the LV locks are taken in its mode and ro/sr
    /// load read-only tables. None: lvm's -aey/-asy.
    pub vx_mode: Option<halvm_config::ActivationMode>,
}

/// Device numbers of the VG's PVs that are present.
pub fn pv_devices(ctx: &Ctx, r: &VgRead, scan: &crate::ops::Scan) -> Result<PvDevices> {
    let _ = ctx;
    if scan.has_duplicates(&r.vg) {
        return Err(ActivationError::Duplicates {
            vg: r.vg.name.clone(),
        });
    }
    let mut out = PvDevices::new();
    for (key, &i) in &r.devs {
        let path = scan.pv(i).path();
        let m = std::fs::metadata(path).map_err(|source| OpError::Device {
            path: path.to_path_buf(),
            source,
        })?;
        if !m.file_type().is_block_device() {
            return Err(ActivationError::NotBlock {
                vg: r.vg.name.clone(),
                device: path.display().to_string(),
            });
        }
        let rdev = m.rdev();
        out.insert(
            key.clone(),
            DevNum {
                major: nix::sys::stat::major(rdev) as u32,
                minor: nix::sys::stat::minor(rdev) as u32,
            },
        );
    }
    Ok(out)
}

/// lvm2's `volume_list` match for one LV.
pub fn passes_volume_list(list: &[String], vg: &VolumeGroup, lv: &str) -> bool {
    let lv_tags = vg.lv(lv).map(|l| l.tags.clone()).unwrap_or_default();
    list.iter().any(|e| {
        if let Some(tag) = e.strip_prefix('@') {
            tag == "*" || lv_tags.iter().any(|t| t == tag) || vg.tags.iter().any(|t| t == tag)
        } else if let Some((v, l)) = e.split_once('/') {
            v == vg.name && l == lv
        } else {
            e == &vg.name
        }
    })
}

/// The transaction path's owner check ([`Ctx::check_owner`]), in activation's error type.
fn check_foreign(ctx: &Ctx, vg: &VolumeGroup) -> Result<()> {
    ctx.check_owner(vg, false).map_err(|e| match e {
        OpError::Foreign {
            vg,
            system_id,
            local,
        } => ActivationError::Foreign {
            vg,
            system_id,
            local,
        },
        e => ActivationError::Op(e),
    })
}

/// The lock manager of a shared VG's activation locks; None for a local VG. Without a cluster
/// lock manager a shared VG cannot be activated here.
fn lv_locks<'e>(ctx: &'e Ctx, vg: &VolumeGroup) -> Result<Option<&'e dyn LockManager>> {
    match ctx.env.cluster_locks_for(&vg.name, vg.lock_type.as_deref()) {
        Ok(c) => Ok(c),
        Err(LockError::NeedsCluster { lock_type, .. }) => Err(ActivationError::Shared {
            vg: vg.name.clone(),
            lock_type,
        }),
        Err(e) => Err(ActivationError::Op(e.into())),
    }
}

fn top_level(vg: &VolumeGroup) -> Vec<String> {
    vg.lvs
        .iter()
        .filter(|l| l.is_visible())
        .map(|l| l.name.clone())
        .collect()
}

/// Reads the VG under a shared lock and returns it with the PV devices. `enforce_sh`: the
/// shared cluster lock is required (activation, as lvm2); otherwise (deactivation) a shared
/// VG is read without it when it cannot be had.
fn read(ctx: &Ctx, vgname: &str, enforce_sh: bool) -> Result<(VolumeGroup, PvDevices)> {
    // Ownership is checked by the callers that need it (activation, not deactivation).
    ctx.read_vg_with(vgname, true, enforce_sh, |scan, r| {
        let pvs = pv_devices(ctx, &r, scan)?;
        Ok((r.vg, pvs))
    })
}

impl Ctx<'_> {
    /// `lvchange -a y|n` (lvs: Some) and `vgchange -a y|n` (lvs: None: every visible LV).
    /// Returns a line per LV acted on. On a shared VG, `-ay` is exclusive as in lvm2.
    pub fn change_activation(
        &self,
        kernel: &Kernel,
        vgname: &str,
        lvs: Option<&[String]>,
        activate: bool,
        opts: &ActivateOptions,
    ) -> Result<Vec<String>> {
        let how = if activate {
            Some(LockMode::Exclusive)
        } else {
            None
        };
        self.change_activation_mode(kernel, vgname, lvs, how, opts)
    }

    /// [`Ctx::change_activation`] with the activation lock mode of a shared VG: `Some(mode)`
    /// activates (`Exclusive`: -aey, `Shared`: -asy), None deactivates. On a shared VG each
    /// LV's lock is taken through the cluster lock manager before its devices are created
    /// (a refusal names the node holding it) and released after they are removed; the lock
    /// outlives this process. Local VGs ignore the mode.
    pub fn change_activation_mode(
        &self,
        kernel: &Kernel,
        vgname: &str,
        lvs: Option<&[String]>,
        how: Option<LockMode>,
        opts: &ActivateOptions,
    ) -> Result<Vec<String>> {
        let activate = how.is_some();
        let (vg, pvs) = read(self, vgname, activate)?;
        if activate {
            check_foreign(self, &vg)?;
        }
        let cluster = lv_locks(self, &vg)?;
        let names: Vec<String> = match lvs {
            Some(l) => {
                for n in l {
                    if vg.lv(n).is_none() {
                        return Err(ActivationError::NoSuchLv {
                            vg: vgname.into(),
                            lv: n.clone(),
                        });
                    }
                }
                l.to_vec()
            }
            None => top_level(&vg),
        };
        let mut out = Vec::new();
        for lv in &names {
            if activate {
                if let Some(list) = &opts.volume_list {
                    if !passes_volume_list(list, &vg, lv) {
                        return Err(ActivationError::Filtered {
                            vg: vgname.into(),
                            lv: lv.clone(),
                        });
                    }
                }
                let plan = plan_lv(
                    &vg,
                    lv,
                    &pvs,
                    &PlanOptions {
                        mode: opts.mode,
                        mirror_handle_errors: opts.mirror_handle_errors,
                        ..PlanOptions::default()
                    },
                )?;
                if let (Some(c), Some(mode), Some(l)) = (cluster, how, vg.lv(lv)) {
                    match opts.vx_mode {
                        Some(vx) => c.lock_lv_for_mode(vgname, &l.id, lv, vx),
                        None => c.lock_lv(vgname, &l.id, lv, mode),
                    }
                    .map_err(|e| ActivationError::Op(e.into()))?;
                }
                let read_only = opts.vx_mode.is_some_and(|m| {
                    matches!(
                        m,
                        halvm_config::ActivationMode::ReadOnly
                            | halvm_config::ActivationMode::SharedRead
                    )
                });
                let o = match lvmeta_dm::activate_with(
                    kernel.dm.as_ref(),
                    kernel.nodes.as_ref(),
                    &plan,
                    read_only,
                ) {
                    Ok(o) => o,
                    Err(e) => {
                        // Not active here after all: let the other nodes have it.
                        if let (Some(c), Some(l)) = (cluster, vg.lv(lv)) {
                            let _ = c.unlock_lv(vgname, &l.id, lv);
                        }
                        return Err(e.into());
                    }
                };
                if !plan.missing_pvs.is_empty() {
                    out.push(format!(
                        "WARNING: {vgname}/{lv} activated without PV(s) {}",
                        plan.missing_pvs.join(", ")
                    ));
                }
                if !o.created.is_empty() {
                    out.push(format!("Activated {vgname}/{lv}"));
                }
            } else {
                // Deactivation needs no PV: plan as if partial to learn the device names.
                let plan = plan_lv(&vg, lv, &pvs, &partial())?;
                let o = lvmeta_dm::deactivate(kernel.dm.as_ref(), kernel.nodes.as_ref(), &plan)?;
                if let (Some(c), Some(l)) = (cluster, vg.lv(lv)) {
                    c.unlock_lv(vgname, &l.id, lv)
                        .map_err(|e| ActivationError::Op(e.into()))?;
                }
                if !o.removed.is_empty() {
                    out.push(format!("Deactivated {vgname}/{lv}"));
                }
            }
        }
        if lvs.is_none() {
            let active = top_level(&vg)
                .iter()
                .filter(|l| {
                    plan_lv(&vg, l, &pvs, &partial())
                        .ok()
                        .and_then(|p| kernel.dm.info(&p.top().uuid).ok().flatten())
                        .is_some()
                })
                .count();
            out.push(format!(
                "{active} logical volume(s) in volume group \"{vgname}\" now active"
            ));
        }
        Ok(out)
    }

    /// `vgchange -a ew|ro|sr|sw|n` on a shared VG (VxVM's activation modes): takes the VG's
    /// mode through the cluster lock manager (refused when another node holds a conflicting
    /// one, naming it), then activates every LV with the LV locks of that mode (ro and sr
    /// read-only); `Off` deactivates and releases the mode. A change of mode while LVs are
    /// active deactivates them first, so the new tables and locks are the mode's.
    pub fn change_vg_mode(
        &self,
        kernel: &Kernel,
        vgname: &str,
        mode: halvm_config::ActivationMode,
        opts: &ActivateOptions,
    ) -> Result<Vec<String>> {
        use halvm_config::ActivationMode as M;
        let (vg, _) = read(self, vgname, mode != M::Off)?;
        let Some(cluster) = lv_locks(self, &vg)? else {
            return Err(ActivationError::NotShared { vg: vgname.into() });
        };
        let op = |e: LockError| ActivationError::Op(e.into());
        let mut out = Vec::new();
        if mode == M::Off {
            out.extend(self.change_activation_mode(kernel, vgname, None, None, opts)?);
            cluster.set_vg_mode(vgname, M::Off).map_err(op)?;
            out.push(format!("Activation mode of VG {vgname}: off"));
            return Ok(out);
        }
        cluster.set_vg_mode(vgname, mode).map_err(op)?;
        // The LVs get the mode's locks and tables: what is active in another mode goes first.
        out.extend(self.change_activation_mode(kernel, vgname, None, None, opts)?);
        let how = match mode {
            M::ExclusiveWrite => LockMode::Exclusive,
            _ => LockMode::Shared,
        };
        let o = ActivateOptions {
            vx_mode: Some(mode),
            ..opts.clone()
        };
        out.extend(self.change_activation_mode(kernel, vgname, None, Some(how), &o)?);
        out.push(format!(
            "Activation mode of VG {vgname}: {} ({})",
            mode.as_str(),
            mode.abbreviation()
        ));
        Ok(out)
    }

    /// The plan of `lv` as its devices are now, if it is active (before a metadata change).
    pub fn active_plan(&self, kernel: &Kernel, vgname: &str, lv: &str) -> Result<Option<Plan>> {
        let (vg, pvs) = read(self, vgname, true)?;
        let plan = plan_lv(&vg, lv, &pvs, &partial())?;
        Ok(kernel.dm.info(&plan.top().uuid)?.map(|_| plan))
    }

    /// [`Ctx::active_plan`] where there is a kernel to ask; none without one.
    pub(crate) fn active_plan_with(
        &self,
        kernel: Option<&Kernel>,
        vgname: &str,
        lv: &str,
    ) -> Result<Option<Plan>> {
        kernel.map_or(Ok(None), |k| self.active_plan(k, vgname, lv))
    }

    /// [`Ctx::active_plan_with`], and how far the LV's copy is in sync.
    pub(crate) fn active_plan_and_sync(
        &self,
        kernel: Option<&Kernel>,
        vgname: &str,
        lv: &str,
    ) -> Result<(Option<Plan>, CopyProgress)> {
        let before = self.active_plan_with(kernel, vgname, lv)?;
        let sync = match (kernel, &before) {
            (Some(k), Some(p)) => lvmeta_dm::view::sync_of(k.dm.as_ref(), &p.top().uuid),
            _ => None,
        };
        Ok((before, CopyProgress(sync)))
    }

    /// After a metadata change of an active LV: suspend, load the new tables, resume.
    pub fn reload_active(
        &self,
        kernel: &Kernel,
        vgname: &str,
        lv: &str,
        before: &Plan,
    ) -> Result<Vec<String>> {
        self.reload_active_with(kernel, vgname, lv, before, ActivationMode::Complete, None)
    }

    /// [`Ctx::reload_active`] with dm-log's `sync`/`nosync` for this load of a mirror
    /// ([`PlanOptions::mirror_resync`]).
    pub fn reload_active_resync(
        &self,
        kernel: &Kernel,
        vgname: &str,
        lv: &str,
        before: &Plan,
        mirror_resync: Option<bool>,
    ) -> Result<Vec<String>> {
        let mode = ActivationMode::Complete;
        self.reload_active_with(kernel, vgname, lv, before, mode, mirror_resync)
    }

    /// [`Ctx::reload_active`], planning the new tables in `mode` (partial: missing PV areas
    /// become error devices), with dm-log's `sync`/`nosync` for a mirror.
    fn reload_active_with(
        &self,
        kernel: &Kernel,
        vgname: &str,
        lv: &str,
        before: &Plan,
        mode: ActivationMode,
        mirror_resync: Option<bool>,
    ) -> Result<Vec<String>> {
        let (vg, pvs) = read(self, vgname, true)?;
        // Keep dm-mirror's handle_errors as the live table has it; an LV becoming a mirror
        // gets it as activation gives it by default (lvm2's monitoring).
        let live = kernel.dm.table(&before.top().uuid)?;
        let handle = !live.iter().any(|l| l.2 == "mirror")
            || live
                .iter()
                .any(|l| l.2 == "mirror" && l.3.contains("handle_errors"));
        let opts = PlanOptions {
            mirror_handle_errors: handle,
            mode,
            mirror_resync,
        };
        let plan = plan_lv(&vg, lv, &pvs, &opts)?;
        // A handle_errors mirror may hold writes (a failed leg or log): a non-flushing
        // suspend hands them to the new table instead of failing them.
        let noflush = live
            .iter()
            .any(|l| l.2 == "mirror" && l.3.contains("handle_errors"));
        let o = lvmeta_dm::reload_opts(
            kernel.dm.as_ref(),
            kernel.nodes.as_ref(),
            before,
            &plan,
            false,
            noflush,
        )?;
        Ok(o.reloaded.iter().map(|d| format!("Reloaded {d}")).collect())
    }

    /// `lvconvert --splitmirrors 1 --name NEW vg/lv`: commits the split, then (if the LV is
    /// active) reloads it without the image and activates the new LV on the image's extents.
    pub fn split_mirrors(
        &self,
        kernel: Option<&Kernel>,
        o: &SplitMirrorsOptions,
    ) -> Result<Vec<String>> {
        let (vgname, lv, new_name, count) =
            (o.vg.as_str(), o.lv.as_str(), o.new_name.as_str(), o.count);
        let (before, sync) = self.active_plan_and_sync(kernel, vgname, lv)?;
        if let Some(s) = sync.0.filter(|s| *s < 100.0) {
            return Err(ActivationError::NotInSync {
                vg: vgname.into(),
                lv: lv.into(),
                percent: s,
            });
        }
        self.modify(vgname, false, |vg, _, _| {
            split_mirror(vg, lv, new_name, count)?;
            Ok(())
        })?;
        let mut out = vec![format!(
            "Logical volume {vgname}/{lv} split: image is now {vgname}/{new_name}"
        )];
        if let (Some(k), Some(p)) = (kernel, before) {
            out.extend(self.reload_active(k, vgname, lv, &p)?);
            out.extend(self.change_activation(
                k,
                vgname,
                Some(&[new_name.to_string()]),
                true,
                &ActivateOptions {
                    mirror_handle_errors: true,
                    ..ActivateOptions::default()
                },
            )?);
        }
        Ok(out)
    }
}

/// How far an LV's copy (mirror or raid) is in sync, in percent: `None` when device-mapper
/// shows no such status (inactive, or an error table where I/O was stopped).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CopyProgress(pub(crate) Option<f64>);

impl CopyProgress {
    /// Wholly in sync (lvm2 needs that known, not assumed).
    pub(crate) fn done(self) -> bool {
        self.0.is_some_and(|s| s >= 100.0)
    }

    /// The kernel gave a status (else lvm2 says "Unable to determine ... status": the
    /// refusals carrying this, [`OpError::PrimaryImage`], [`OpError::ReplaceNotInSync`]).
    pub(crate) fn known(self) -> bool {
        self.0.is_some()
    }
}

impl Ctx<'_> {
    /// `lvconvert -m N [--type mirror|raid1] VG/LV [PV...]`: adds images until the LV has
    /// `total` (a linear LV becomes a mirror, with lvm2's disk log unless `log` says core,
    /// or raid1), and changes a mirror's log as `log` asks ([`crate::mirror_log`]). A disk
    /// log kept while images are added starts anew (a new header when inactive; dm-log's
    /// `sync` on the reload when active), so the new images are copied. An active LV is
    /// reloaded at once, so dm-mirror or dm-raid copies the new images by itself (no
    /// `nosync`); progress shows in `lvs -o copy_percent`. raid1 needs the LV active, as
    /// lvm2: its new images are committed with `REBUILD`, loaded, then committed without it
    /// (lvm2's two commits), so a later activation does not rebuild again.
    pub fn convert_images(
        &self,
        kernel: Option<&Kernel>,
        o: &ConvertImagesOptions,
    ) -> Result<Vec<String>> {
        let (vgname, lv) = (o.vg.as_str(), o.lv.as_str());
        let (before, sync) = self.active_plan_and_sync(kernel, vgname, lv)?;
        let mut added = Vec::new();
        let mut raid1 = false;
        let write = crate::txn::WriteOpts::default();
        // The log's change (see `crate::mirror_log`) and dm-log's sync for the reload.
        let mut log_changed = false;
        let mut resync = None;
        let mut reduced = None;
        self.modify_vg(vgname, &write, |t| {
            let top = t.vg.top_level(lv).map_err(|_| VgError::NoSuchLv {
                vg: vgname.into(),
                lv: lv.into(),
            })?;
            let had_log = match top.segments.first().map(|s| &s.kind) {
                Some(lvmeta_model::SegmentKind::Mirror { log, .. }) => Some(log.is_some()),
                _ => None,
            };
            raid1 = match top.segments.first().map(|s| &s.kind) {
                Some(lvmeta_model::SegmentKind::Raid1 { .. }) => true,
                Some(lvmeta_model::SegmentKind::Mirror { .. }) => false,
                // lvm2's mirror_segtype_default.
                _ => o.raid1.unwrap_or(true),
            };
            if o.raid1.is_some_and(|r| r != raid1) {
                // lvm2 would take the LV over to the other type: not built here.
                return Err(OpError::MirrorRaidConversion {
                    vg: vgname.into(),
                    lv: lv.into(),
                });
            }
            if raid1 && o.log.is_some() {
                return Err(OpError::LogOptionOnRaid);
            }
            let have = match top.segments.first().map(|s| &s.kind) {
                Some(lvmeta_model::SegmentKind::Raid1 { images, .. }) => images.len(),
                Some(lvmeta_model::SegmentKind::Mirror { legs, .. }) => legs.len(),
                _ => 1,
            };
            let total = match o.mirrors {
                Mirrors::To(n) => n + 1,
                Mirrors::More(n) => have + n,
                Mirrors::Fewer(n) if n >= have => {
                    return Err(OpError::CannotReduce {
                        lv: lv.into(),
                        have,
                        raid1,
                    });
                }
                Mirrors::Fewer(n) => have - n,
            };
            if raid1 && before.is_none() {
                return Err(OpError::MustBeActive {
                    vg: vgname.into(),
                    lv: lv.into(),
                });
            }
            if total < have {
                let core = o.log == Some(lvmeta_model::MirrorLog::Core);
                if o.log == Some(lvmeta_model::MirrorLog::Disk)
                    && had_log == Some(false)
                    && !o.pvs.is_empty()
                {
                    return Err(OpError::AllocAndFree);
                }
                let pvs = (!o.pvs.is_empty()).then_some(o.pvs.as_slice());
                let r = lvmeta_activate::reduce_images(&mut t.vg, lv, total, pvs, core)?;
                // lvm2 will not pull the primary image of a copy still syncing, nor of an
                // inactive mirror (it has no sync status to read).
                if r.primary && !sync.done() {
                    return Err(OpError::PrimaryImage {
                        vg: vgname.into(),
                        lv: lv.into(),
                        raid1,
                        sync_known: sync.known(),
                    });
                }
                // A mirror asked for a disk log it has not: lvm2 adds it after the removal.
                let disk = o.log == Some(lvmeta_model::MirrorLog::Disk);
                if !raid1 && !r.now_linear && disk && had_log == Some(false) {
                    let creation = self.creation();
                    let log =
                        t.vg.add_mirror_log(lv, None, &[], creation)
                            .map_err(crate::mirror_log::log_alloc_error)?
                            .expect("no log yet");
                    crate::mirror_log::init_log(self, &t.vg, t.scan, &t.devs, &log)?;
                }
                reduced = Some(r);
                return Ok(());
            }
            added =
                t.vg.add_images(lv, &self.images_request(total, raid1, &o.pvs))
                    .map_err(|e| match e {
                        // lvm2's `lv_add_mirrors` closes with its own line.
                        lvmeta_model::ModelError::NotEnoughSpace { .. }
                        | lvmeta_model::ModelError::NotEnoughPvs { .. }
                            if !raid1 =>
                        {
                            OpError::MirrorAlloc(e)
                        }
                        e => OpError::Model(e),
                    })?;
            // New raid1 metadata sub-LVs start cleared (lvm2's `_clear_lvs`).
            crate::mirror_log::clear_raid_meta(
                self,
                &t.vg,
                t.scan,
                &t.devs,
                added.iter().map(String::as_str),
            )?;
            if !raid1 {
                // lvm2's log: as the mirror has it, a disk log for a linear LV, or as asked.
                let disk = match o.log {
                    Some(l) => l == lvmeta_model::MirrorLog::Disk,
                    None => had_log.unwrap_or(true),
                };
                let had = had_log.unwrap_or(false);
                if disk && !had {
                    let pvs = (!o.pvs.is_empty()).then(|| o.pvs.clone());
                    let creation = self.creation();
                    let log =
                        t.vg.add_mirror_log(lv, pvs.as_deref(), &[], creation)
                            .map_err(crate::mirror_log::log_alloc_error)?
                            .expect("no log yet");
                    if had_log.is_none() {
                        // A linear LV made a mirror: lvm2 sets the log up before the images.
                        t.vg.move_lv_before(&log, &format!("{lv}_mimage_0"));
                    }
                    crate::mirror_log::init_log(self, &t.vg, t.scan, &t.devs, &log)?;
                    log_changed = true;
                } else if !disk && had {
                    t.vg.remove_mirror_log(lv).map_err(OpError::Model)?;
                    log_changed = true;
                } else if disk && !added.is_empty() {
                    // The kept log calls the new images in sync: it starts anew.
                    if before.is_some() {
                        resync = Some(true);
                    } else if let Some(log) =
                        t.vg.lv(lv)
                            .and_then(|l| match l.segments.first().map(|s| &s.kind) {
                                Some(lvmeta_model::SegmentKind::Mirror { log, .. }) => log.clone(),
                                _ => None,
                            })
                    {
                        // Inactive: nothing has it open, so its header is rewritten.
                        crate::mirror_log::init_log(self, &t.vg, t.scan, &t.devs, &log)?;
                    }
                }
            }
            if added.is_empty() && !log_changed {
                t.change_nothing();
            }
            Ok(())
        })?;
        if let Some(r) = reduced {
            // One commit (lvm2 commits the removed images renamed `*_extracted`, reloads,
            // removes them, commits again: the same end state); the reload drops their
            // devices and renames the renumbered ones.
            let mut out = Vec::new();
            if let (Some(k), Some(p)) = (kernel, &before) {
                let mode = ActivationMode::Partial;
                out.extend(self.reload_active_with(k, vgname, lv, p, mode, None)?);
            }
            log::debug!("{vgname}/{lv}: removed {:?}", r.removed);
            out.push(if raid1 {
                format!("Logical volume {vgname}/{lv} successfully converted.")
            } else {
                format!("Logical volume {vgname}/{lv} converted.")
            });
            return Ok(out);
        }
        if added.is_empty() && !log_changed {
            return Ok(Vec::new());
        }
        if added.is_empty() {
            // Only the log changed (`-m N --mirrorlog ...` at the image count it has).
            return self.log_converted(kernel, vgname, lv, before.as_ref(), sync);
        }
        let new = NewImages {
            before: before.as_ref(),
            added: &added,
            raid1,
            resync,
        };
        let mut out = self.load_new_images(kernel, vgname, lv, new, &write)?;
        if raid1 {
            out.push(format!(
                "Logical volume {vgname}/{lv} successfully converted."
            ));
        } else {
            out.push(format!("Logical volume {vgname}/{lv} being converted."));
            if before.is_none() {
                out.push("Conversion starts after activation.".into());
            }
        }
        Ok(out)
    }

    /// The end of a conversion that changed only a mirror's log: an active LV is reloaded,
    /// without a full copy when it was in sync (`nosync`), else the new log calls every region
    /// out of sync; then lvm2's "converted." line.
    pub(crate) fn log_converted(
        &self,
        kernel: Option<&Kernel>,
        vgname: &str,
        lv: &str,
        before: Option<&Plan>,
        sync: CopyProgress,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if let (Some(k), Some(p)) = (kernel, before) {
            let resync = sync.done().then_some(false);
            out.extend(self.reload_active_resync(k, vgname, lv, p, resync)?);
        }
        out.push(format!("Logical volume {vgname}/{lv} converted."));
        Ok(out)
    }

    /// `lvconvert --repair VG/LV [PV...]`, with lvm2's messages. PVs this host cannot see
    /// count as missing, as in lvm2. A mirror: lvm2's repair with the `allocate` policy
    /// ([`lvmeta_activate::repair_mirror`]); an active one is reloaded (partially, without
    /// the missing devices) and the new images resync in the kernel. A raid1 LV: lvm2's
    /// `lv_raid_replace` ([`lvmeta_activate::repair_raid1`]), which needs the LV active and
    /// in sync; the new images are loaded as those of an up-convert are (`rebuild N`, then
    /// committed without `REBUILD`).
    pub fn repair_images(
        &self,
        kernel: Option<&Kernel>,
        o: &ConvertImagesOptions,
    ) -> Result<Vec<String>> {
        use lvmeta_activate::Repaired;
        let opts = crate::txn::WriteOpts {
            allow_missing: true,
            ..crate::txn::WriteOpts::default()
        };
        let (vgname, lv) = (o.vg.as_str(), o.lv.as_str());
        let (before, sync) = self.active_plan_and_sync(kernel, vgname, lv)?;
        let req = self.images_request(0, false, &o.pvs);
        let done = self.modify_vg(vgname, &opts, |t| {
            let raid1 = t.vg.lv(lv).is_some_and(|l| {
                matches!(
                    l.segments.first().map(|s| &s.kind),
                    Some(lvmeta_model::SegmentKind::Raid1 { .. })
                )
            });
            // lvm2 asks the kernel whether a raid1 LV is in sync before replacing images.
            if raid1 && before.is_none() {
                return Err(OpError::MustBeActive {
                    vg: vgname.into(),
                    lv: lv.into(),
                });
            }
            if raid1 && !sync.done() {
                // No raid status (an error table where I/O was stopped): lvm2 cannot tell.
                return Err(OpError::ReplaceNotInSync {
                    vg: vgname.into(),
                    lv: lv.into(),
                    sync_known: sync.known(),
                });
            }
            for pv in t.vg.pvs.iter_mut() {
                if t.scan.device_index(pv).is_none() {
                    pv.set_missing(true);
                }
            }
            let r = lvmeta_activate::repair(&mut t.vg, lv, &req)?;
            if matches!(&r, Repaired::Mirror(m) if m.failed.is_empty() && !m.failed_log)
                || matches!(&r, Repaired::Raid1(m) if m.failed.is_empty())
            {
                t.change_nothing();
            }
            if let Repaired::Mirror(m) = &r {
                // A new disk log gets a fresh header; a kept one would call the new images
                // in sync: rewritten when inactive (nothing has it open), else dm-log's
                // `sync` on the reload.
                let log = match (&m.new_log, m.kept_log_with_new_images, &before) {
                    (Some(l), _, _) => Some(l.clone()),
                    (None, true, None) => t.vg.lv(lv).and_then(|l| match l.segments.first() {
                        Some(lvmeta_model::Segment {
                            kind: lvmeta_model::SegmentKind::Mirror { log, .. },
                            ..
                        }) => log.clone(),
                        _ => None,
                    }),
                    _ => None,
                };
                if let Some(log) = log {
                    crate::mirror_log::init_log(self, &t.vg, t.scan, &t.devs, &log)?;
                }
            }
            if let Repaired::Raid1(m) = &r {
                // The replacement metadata sub-LVs start cleared (lvm2's `_clear_lvs`).
                let added = m.added.iter().map(String::as_str);
                crate::mirror_log::clear_raid_meta(self, &t.vg, t.scan, &t.devs, added)?;
            }
            Ok(r)
        });
        // The new images loaded (an active LV), and a raid1's second commit.
        let load = |added: &[String], raid1, resync| {
            let before = before.as_ref();
            let new = NewImages {
                before,
                added,
                raid1,
                resync,
            };
            self.load_new_images(kernel, vgname, lv, new, &opts)
        };
        match done?.value {
            Repaired::Raid1(r) => {
                let mut out: Vec<String> = r
                    .narrowed
                    .iter()
                    .map(|n| {
                        format!(
                            "Failed to replace {n} devices.  Attempting to replace {} instead.",
                            n - 1
                        )
                    })
                    .collect();
                if r.failed.is_empty() {
                    out.push(format!(
                        "{vgname}/{lv} does not contain devices specified to replace."
                    ));
                } else {
                    out.extend(load(&r.added, true, None)?);
                }
                out.push(format!(
                    "Faulty devices in {vgname}/{lv} successfully replaced."
                ));
                Ok(out)
            }
            Repaired::Mirror(r) => {
                if r.failed.is_empty() && !r.failed_log {
                    return Ok(vec![format!(
                        "Volume {vgname}/{lv} is consistent. Nothing to repair."
                    )]);
                }
                let mut out = Vec::new();
                if !r.failed.is_empty() {
                    out.push(format!(
                        "Mirror status: {} of {} images failed.",
                        r.failed.len(),
                        r.original
                    ));
                }
                if r.failed_log {
                    out.push("Mirror log status: 1 of 1 images failed.".into());
                }
                for (n, logs) in &r.tried {
                    out.push(format!(
                        "WARNING: Trying to up-convert to {n} images, {logs} logs."
                    ));
                }
                if r.now != r.original {
                    out.push(format!(
                        "WARNING: Failed to replace {} of {} images in volume {vgname}/{lv}.",
                        r.original - r.now,
                        r.original
                    ));
                }
                if r.logs_now != r.logs {
                    out.push(format!(
                        "WARNING: Failed to replace {} of {} logs in volume {vgname}/{lv}.",
                        r.logs - r.logs_now,
                        r.logs
                    ));
                }
                let resync = (r.kept_log_with_new_images && before.is_some()).then_some(true);
                out.extend(load(&r.added, false, resync)?);
                // lvm2's words when the new images wait for an activation to be copied.
                if before.is_none() && !r.added.is_empty() {
                    out.push("Conversion starts after activation.".into());
                }
                Ok(out)
            }
        }
    }

    /// New images (`added`, of an up-convert or a repair) reach the kernel: an active LV is
    /// reloaded (partially: a repair may leave images on missing PVs), so dm-mirror or
    /// dm-raid copies them; raid1's new images carry `REBUILD` (`rebuild N` in the table)
    /// and are committed without it once loaded, lvm2's second commit, so that a later
    /// activation does not rebuild them again.
    #[allow(clippy::too_many_arguments)]
    fn load_new_images(
        &self,
        kernel: Option<&Kernel>,
        vgname: &str,
        lv: &str,
        new: NewImages<'_>,
        write: &crate::txn::WriteOpts,
    ) -> Result<Vec<String>> {
        let NewImages {
            before,
            added,
            raid1,
            resync,
        } = new;
        let mut out = Vec::new();
        if let (Some(k), Some(p)) = (kernel, before) {
            let mode = ActivationMode::Partial;
            out.extend(self.reload_active_with(k, vgname, lv, p, mode, resync)?);
        }
        if raid1 && !added.is_empty() {
            self.clear_rebuild(vgname, added, write)?;
            // lvm2 reloads once more after its second commit, so the live table is the
            // metadata's (no `rebuild N`); dm-raid goes on from the recovery checkpoint
            // its new superblocks hold.
            if let Some(k) = kernel.filter(|_| before.is_some()) {
                let now = self.active_plan_with(Some(k), vgname, lv)?;
                if let Some(p) = now {
                    self.reload_active_with(k, vgname, lv, &p, ActivationMode::Partial, None)?;
                }
            }
        }
        Ok(out)
    }

    fn images_request(
        &self,
        total: usize,
        raid1: bool,
        pvs: &[String],
    ) -> lvmeta_model::ImagesRequest {
        lvmeta_model::ImagesRequest {
            total,
            raid1,
            alloc: self.allocation((!pvs.is_empty()).then(|| pvs.to_vec())),
        }
    }

    /// lvm2's second commit of a raid1 up-convert: the new images lose `REBUILD` once the
    /// kernel has them.
    /// `write` is the first commit's (a repair's accepts the missing PVs it repairs).
    fn clear_rebuild(
        &self,
        vgname: &str,
        images: &[String],
        write: &crate::txn::WriteOpts,
    ) -> Result<()> {
        self.modify_vg(vgname, write, |t| {
            for l in t.vg.lvs.iter_mut().filter(|l| images.contains(&l.name)) {
                l.status.remove(lvmeta_model::Flag::Rebuild);
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// `lvconvert -m`'s argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirrors {
    /// `-m N`: N + 1 images afterwards.
    To(usize),
    /// `-m +N`: N more images than now.
    More(usize),
    /// `-m -N`: N fewer images than now.
    Fewer(usize),
}

impl Default for Mirrors {
    fn default() -> Self {
        Mirrors::To(0)
    }
}

/// `lvconvert -m N` and `lvconvert --repair`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertImagesOptions {
    pub vg: String,
    pub lv: String,
    /// `-m`: the image count asked for. Unused by `--repair`.
    pub mirrors: Mirrors,
    /// `--type raid1` (Some(true)) or `mirror` (Some(false)); None: raid1 for a linear LV
    /// (lvm2's default), the LV's own type otherwise.
    pub raid1: Option<bool>,
    /// Allocate only from these PVs.
    pub pvs: Vec<String>,
    /// `--mirrorlog core|disk` (`--corelog`: core) for a mirror; None: as the mirror has it,
    /// or lvm2's disk log for a linear LV becoming a mirror.
    pub log: Option<lvmeta_model::MirrorLog>,
}

/// The device-mapper devices an LV would have, named from the metadata alone (no PV
/// needed): what removal and rename look for in the kernel.
fn device_names(vg: &VolumeGroup, lv: &str) -> std::result::Result<Plan, OpError> {
    plan_lv(vg, lv, &PvDevices::new(), &partial()).map_err(|source| OpError::Plan {
        vg: vg.name.clone(),
        lv: lv.into(),
        source: Box::new(source),
    })
}

/// Refuses when the LV's top device is open (lvm2: "Logical volume vg/lv in use.");
/// true when it is active.
pub fn check_not_in_use(
    kernel: &Kernel,
    vg: &VolumeGroup,
    lv: &str,
) -> std::result::Result<bool, OpError> {
    let plan = device_names(vg, lv)?;
    match kernel.dm.info(&plan.top().uuid)? {
        None => Ok(false),
        Some(i) if i.open_count > 0 => Err(OpError::InUse {
            vg: vg.name.clone(),
            lv: lv.to_string(),
        }),
        Some(_) => Ok(true),
    }
}

/// Deactivates LVs that are about to be removed: all refused when one is open (nothing is
/// deactivated then), nothing to do for inactive ones (lvm2 deactivates an active, unused LV
/// before removing it).
pub fn deactivate_for_removal(
    kernel: &Kernel,
    vg: &VolumeGroup,
    lvs: &[String],
) -> std::result::Result<(), OpError> {
    for lv in lvs {
        check_not_in_use(kernel, vg, lv)?;
    }
    for lv in lvs {
        let plan = device_names(vg, lv)?;
        match lvmeta_dm::deactivate(kernel.dm.as_ref(), kernel.nodes.as_ref(), &plan) {
            Ok(_) => {}
            Err(DmError::Open { .. }) => {
                return Err(OpError::InUse {
                    vg: vg.name.clone(),
                    lv: lv.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The device names of the LVs among `lvs` that are active, before a rename (see
/// [`rename_devices`]).
pub fn active_devices(
    kernel: &Kernel,
    vg: &VolumeGroup,
    lvs: &[String],
) -> std::result::Result<Vec<Plan>, OpError> {
    let mut out = Vec::new();
    for lv in lvs {
        let plan = device_names(vg, lv)?;
        if kernel.dm.info(&plan.top().uuid)?.is_some() {
            out.push(plan);
        }
    }
    Ok(out)
}

/// After a rename committed to the metadata (`vg` as committed): the active devices of
/// `before` (as found before the change) take the names of LV `lv` of `vg`, open or not, as
/// in lvm2.
pub fn rename_devices(
    kernel: &Kernel,
    before: &Plan,
    vg: &VolumeGroup,
    lv: &str,
) -> std::result::Result<(), OpError> {
    let after = device_names(vg, lv)?;
    lvmeta_dm::rename(kernel.dm.as_ref(), kernel.nodes.as_ref(), before, &after)?;
    Ok(())
}

fn partial() -> PlanOptions {
    PlanOptions {
        mode: ActivationMode::Partial,
        ..PlanOptions::default()
    }
}

/// `lvconvert --splitmirrors`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitMirrorsOptions {
    pub vg: String,
    pub lv: String,
    /// `--name`: the new LV holding the split image.
    pub new_name: String,
    /// `--splitmirrors N` (lvm2 allows 1 for raid1 with `--name`).
    pub count: usize,
}

/// The kernel's view for reports (`lvs`) lives with the device-mapper code.
pub use lvmeta_dm::view::KernelView;

/// The images a convert or a repair added, for [`Ctx::load_new_images`].
struct NewImages<'a> {
    /// The LV's active plan before the change (None: inactive here).
    before: Option<&'a Plan>,
    added: &'a [String],
    raid1: bool,
    /// dm-log's `sync`/`nosync` for the first load of a mirror.
    resync: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvmeta_model::{Layout, LvRequest, PhysicalVolume};
    use lvmeta_ondisk::units::{Extents, Sectors};

    #[test]
    fn a_copy_is_done_only_when_known_whole_and_an_unknown_one_says_so() {
        let unknown = CopyProgress(None);
        assert!(!unknown.done() && !unknown.known());
        let half = CopyProgress(Some(50.0));
        assert!(!half.done() && half.known());
        assert!(CopyProgress(Some(100.0)).done());
    }

    fn vg() -> VolumeGroup {
        let mut vg = VolumeGroup::new("vg1", Sectors(8192)).unwrap();
        vg.tags = vec!["site-a".into()];
        for i in 0..2 {
            let pv = PhysicalVolume::new(
                &lvmeta_model::lvm_uuid::generate(),
                Some(&format!("/dev/vd{}", ["b", "c"][i])),
                Sectors(262144),
                Sectors(2048),
                Extents(31),
            )
            .unwrap();
            vg.add_pv(pv).unwrap();
        }
        vg.create_lv(LvRequest::new("data", Extents(2), Layout::Linear))
            .unwrap();
        vg.create_lv(LvRequest::new(
            "r",
            Extents(2),
            Layout::Raid1 { mirrors: 1 },
        ))
        .unwrap();
        vg.lv_mut("data").unwrap().tags = vec!["keep".into()];
        vg
    }

    #[test]
    fn volume_list_matches_like_lvm2() {
        let vg = vg();
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(passes_volume_list(&l(&["vg1"]), &vg, "r"));
        assert!(passes_volume_list(&l(&["vg1/data"]), &vg, "data"));
        assert!(!passes_volume_list(&l(&["vg1/data"]), &vg, "r"));
        assert!(passes_volume_list(&l(&["@keep"]), &vg, "data"));
        assert!(!passes_volume_list(&l(&["@keep"]), &vg, "r"));
        assert!(passes_volume_list(&l(&["@site-a"]), &vg, "r"), "VG tag");
        assert!(!passes_volume_list(&l(&["other", "vg2/r"]), &vg, "r"));
        assert!(
            !passes_volume_list(&[], &vg, "r"),
            "an empty list activates nothing"
        );
    }
}
