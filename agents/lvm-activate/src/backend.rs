//! The volume I/O the agent needs, behind a small trait: an in-memory implementation for
//! tests, and the real one over the lvmeta library and device-mapper.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use clvmd_client::ClientError;
use clvmd_proto::ErrorKind;
use halvm_config::ActivationMode as VxMode;

/// How long the monitor waits for the lock daemon's status (it must not hang on it).
const MONITOR_ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
use lvmeta::activation::{ActivateOptions, ActivationError, Kernel};
use lvmeta::lock::{LockError, LockMode};
use lvmeta::ops::{Ctx as OpsCtx, Env, OpError, VgRead, VgchangeOptions};
use lvmeta_activate::ActivationMode;
use lvmeta_dm::DmBackend;
use lvmeta_model::{Segment, SegmentKind, VolumeGroup};

use crate::config::Sharing;
use crate::model::{ActiveLv, DmState, LockDaemon, LvState, PvState, SegKind, SegState, VgState};

/// Defined beside the agent's other errors, so the I/O-free planner never imports this module.
pub use crate::error::BackendError;

/// Reads and changes volume groups and their device-mapper devices.
pub trait VolumeBackend {
    /// The VG's metadata, `None` when no PV of it is visible.
    fn read_vg(&mut self, vg: &str) -> Result<Option<VgState>, BackendError>;
    /// Active LVs of the VG on this node, with their device-mapper state.
    fn active_lvs(&mut self, vg: &str) -> Result<Vec<ActiveLv>, BackendError>;
    /// This host's LVM system ID.
    fn local_system_id(&mut self) -> Result<Option<String>, BackendError>;
    fn set_system_id(
        &mut self,
        vg: &str,
        system_id: &str,
        majority: bool,
    ) -> Result<(), BackendError>;
    fn add_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError>;
    fn del_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError>;
    fn deactivate(&mut self, vg: &str, lv: &str) -> Result<(), BackendError>;
    /// Activates LVs of one VG alike (one read of the VG for all).
    fn activate_all(&mut self, a: &Activation) -> Result<(), BackendError>;
    fn deactivate_all(&mut self, vg: &str, lvs: &[String]) -> Result<(), BackendError> {
        lvs.iter().try_for_each(|lv| self.deactivate(vg, lv))
    }
    /// The activation/volume_list that replaces lvm.conf's for this agent's activations
    /// (tagging mode: `@<tag>`, as resource-agents' LVM-activate passes `--config
    /// activation{volume_list=["@tag"]}`); None: lvm.conf's (or halvm.toml's) applies.
    fn override_volume_list(&mut self, _list: Option<Vec<String>>) {}
    /// Reads one 4 KiB block at `sector` of the LV with O_DIRECT.
    fn read_block(&mut self, vg: &str, lv: &str, sector: u64) -> Result<(), BackendError>;
    /// The cluster lock daemon as seen from here, and whether `vg`'s lockspace runs here.
    fn lock_daemon(&mut self, vg: &str) -> Result<LockDaemon, BackendError>;
    /// Why the lock daemon keeps shared VG `vg`'s I/O stopped here for good (its quorum
    /// fence stranded the VG, or this node left the VG after losing its metadata), or a record it left under [`clvmd_proto::FENCE_DIR`] when it
    /// no longer answers. `None`: nothing the daemon did blocks the VG. Bounded in time.
    fn io_stopped(&mut self, vg: &str) -> Result<Option<String>, BackendError>;
    /// Starts the shared VG's lockspace here (idempotent).
    fn lock_start(&mut self, vg: &str) -> Result<(), BackendError>;
    /// Stops the shared VG's lockspace here. `Some(reason)`: it stays (not started, or LV
    /// locks still held here), which is no failure.
    fn lock_stop(&mut self, vg: &str) -> Result<Option<String>, BackendError>;
}

/// LVs of one VG to activate alike, in one backend call.
#[derive(Debug, Clone, Copy)]
pub struct Activation<'a> {
    pub vg: &'a str,
    pub lvs: &'a [String],
    /// What missing PVs allow (lvm's activation mode).
    pub mode: ActivationMode,
    /// A shared VG's: each LV under its cluster LV lock of this sharing; `None` for a local VG.
    pub lock: Option<Sharing>,
}

/// Reads one aligned block with O_DIRECT, bypassing the page cache so a dead path shows.
pub fn read_direct(path: &Path, sector: u64) -> std::io::Result<()> {
    const BLOCK: usize = 4096;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    // O_DIRECT needs an aligned buffer: take the aligned window of a larger allocation.
    let mut buf = vec![0u8; BLOCK * 2];
    let skip = buf.as_ptr().align_offset(BLOCK);
    let window = &mut buf[skip..skip + BLOCK];
    let offset = (sector * 512) / BLOCK as u64 * BLOCK as u64;
    let n = file.read_at(window, offset)?;
    if n != BLOCK {
        // The metadata says the LV extends here, the device does not: that is a failure.
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("short read: {n} of {BLOCK} bytes at byte {offset}"),
        ));
    }
    Ok(())
}

/// Active top-level LVs of VG `vg` as device-mapper reports them (one list, then a status
/// per LV of the VG): suspended devices, dm-raid/dm-mirror legs marked dead and error
/// targets (partial activation) show in the state.
pub fn dm_active_lvs(dm: &dyn DmBackend, vg: &str) -> Result<Vec<ActiveLv>, BackendError> {
    let mut out = Vec::new();
    for info in dm
        .list()
        .map_err(|e| io("list device-mapper devices", vg, None, e))?
    {
        // Sub-LVs (rimage, mlog, missing_...) carry a "-layer" suffix after the 64 id chars.
        let top = lvmeta_model::ids::split_dm_uuid(&info.uuid).is_some_and(|u| u.layer.is_none());
        if !top {
            continue;
        }
        let Some((v, lv, None)) = lvmeta_model::ids::split_dm_name(&info.name) else {
            continue;
        };
        if v != vg {
            continue;
        }
        let state = if info.suspended {
            DmState::Suspended
        } else {
            let st = dm
                .status(&info.uuid)
                .map_err(|e| io("device-mapper status", vg, Some(&lv), e))?;
            state_of(&st)
        };
        out.push(ActiveLv { name: lv, state });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Health from a device's status lines: every raid image or mirror leg dead is a failure, some
/// dead is degraded; an `error` segment (a hole left by partial activation) is degraded.
pub fn state_of(status: &[lvmeta_dm::RawLine]) -> DmState {
    let mut state = DmState::Live;
    for (_, _, target, params) in status {
        let f: Vec<&str> = params.split_whitespace().collect();
        let health = match target.as_str() {
            // raid1 <n> <health chars> <sync ratio> ...
            "raid" => f.get(2).copied(),
            // <n> <dev>... <ratio> <log count> <health chars> ...
            "mirror" => f
                .first()
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| f.get(n + 3).copied()),
            "error" => {
                state = state.max_with(DmState::Degraded);
                None
            }
            _ => None,
        };
        if let Some(h) = health {
            let dead = h.chars().filter(|c| *c == 'D').count();
            if dead > 0 && dead == h.len() {
                return DmState::Failed;
            }
            if h.chars().any(|c| c != 'A') {
                state = state.max_with(DmState::Degraded);
            }
        }
    }
    state
}

trait Worse {
    fn max_with(self, other: DmState) -> DmState;
}

impl Worse for DmState {
    fn max_with(self, other: DmState) -> DmState {
        let rank = |s: DmState| match s {
            DmState::Live => 0,
            DmState::Suspended => 1,
            DmState::Degraded => 2,
            DmState::Failed => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// The agent's view of a VG from lvmeta's reading of it: PVs by metadata key with their
/// presence, visible LVs with the PVs under each area (through raid/mirror sub-LVs).
pub fn vg_state(r: &VgRead) -> VgState {
    let vg = &r.vg;
    let pvs = vg
        .pvs
        .iter()
        .map(|p| PvState {
            name: p.name.clone(),
            missing: !r.devs.contains_key(&p.name),
        })
        .collect();
    let ext = vg.extent_size.0;
    let lvs = vg
        .lvs
        .iter()
        .filter(|l| l.is_visible())
        .map(|l| LvState {
            name: l.name.clone(),
            segments: l
                .segments
                .iter()
                .map(|s| {
                    let mirrored = matches!(
                        s.kind,
                        SegmentKind::Mirror { .. } | SegmentKind::Raid1 { .. }
                    );
                    SegState {
                        lv_start: s.start_extent.0 * ext,
                        sectors: s.extent_count.0 * ext,
                        kind: if mirrored {
                            SegKind::Mirrored
                        } else {
                            SegKind::Striped
                        },
                        areas: seg_area_pvs(vg, s, 0),
                    }
                })
                .collect(),
        })
        .collect();
    let lock_type = vg
        .lock_type
        .clone()
        .filter(|t| !t.is_empty() && t != "none");
    VgState {
        name: vg.name.clone(),
        system_id: vg.system_id.clone().filter(|s| !s.is_empty()),
        tags: vg.tags.clone(),
        lock_type,
        clustered: vg.status.contains(lvmeta_model::Flag::Clustered),
        pvs,
        lvs,
    }
}

/// The PV keys under each area of a segment: a stripe's PV, or every PV of a mirror leg or
/// raid1 image (a raid image needs its metadata sub-LV too).
fn seg_area_pvs(vg: &VolumeGroup, seg: &Segment, depth: usize) -> Vec<Vec<String>> {
    let under = |names: &[&str]| {
        let mut out = Vec::new();
        for n in names {
            lv_pvs(vg, n, &mut out, depth + 1);
        }
        out
    };
    match &seg.kind {
        SegmentKind::Striped { areas, .. } => areas.iter().map(|a| vec![a.pv.clone()]).collect(),
        SegmentKind::Mirror { legs, .. } => legs.iter().map(|l| under(&[&l.lv])).collect(),
        SegmentKind::Raid1 { images, .. } => images.iter().map(|(m, i)| under(&[i, m])).collect(),
        // pvmove's mirror and flagged striped types list PV areas.
        SegmentKind::Other { .. } => lvmeta_model::alloc::pv_areas(seg)
            .into_iter()
            .map(|(pv, _, _)| vec![pv])
            .collect(),
    }
}

/// Every PV under sub-LV `name`, added to `out` once each.
fn lv_pvs(vg: &VolumeGroup, name: &str, out: &mut Vec<String>, depth: usize) {
    // Metadata that nests without end (corrupt) stops here rather than recursing forever.
    if depth > 8 {
        return;
    }
    let Some(sub) = vg.lv(name) else { return };
    for s in &sub.segments {
        for pvs in seg_area_pvs(vg, s, depth) {
            for p in pvs {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
}

/// The production backend: VG metadata, system ID and tag changes through the lvmeta
/// library (committed under the VG lock), activation through lvmeta's planner and its
/// device-mapper executor, state from device-mapper, O_DIRECT reads of the LV device.
pub struct SystemBackend {
    /// `/` normally: where `dev/mapper` is.
    pub root: PathBuf,
    /// The cluster lock daemon's socket (`$CLVMD_RS_SOCKET` or clvmd-rs's default).
    pub socket: PathBuf,
    setup: Option<Setup>,
    make: Box<dyn Fn() -> Result<Setup, BackendError>>,
}

/// How long a VG lock another node holds is waited for (metadata reads and commits of other
/// nodes pass one by one); LV locks are refused at once.
const CLUSTER_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the backend works with, built on first use (meta-data and validate-all never need it).
pub struct Setup {
    pub env: Env,
    /// `None` on a host without device-mapper: metadata works, activation reports it.
    pub kernel: Option<Kernel>,
    /// Why `kernel` is `None`.
    pub dm_error: String,
    pub volume_list: Option<Vec<String>>,
    pub mirror_handle_errors: bool,
}

impl Setup {
    /// The environment every halvm tool builds (lvmeta's one builder: lvm.conf from
    /// `$LVM_SYSTEM_DIR`, halvm.toml or `$HALVM_CONFIG`, `$HALVM_SYSTEM_ID`): device filter,
    /// scan list, lock directory, volume_list, this host's system ID; and the kernel's
    /// device-mapper.
    pub fn from_config() -> Result<Setup, BackendError> {
        Setup::from_options(&lvmeta::env::EnvOptions::default())
    }

    /// [`Setup::from_config`] with explicit configuration paths (tests).
    pub fn from_options(opts: &lvmeta::env::EnvOptions) -> Result<Setup, BackendError> {
        // Installed only when halvm.toml says lock_manager = "dlm"; it connects per lock.
        let cluster = clvmd_client::DlmLocking::new(clvmd_client::socket_path(), CLUSTER_LOCK_WAIT);
        let built = lvmeta::env::build_with_cluster(opts, Some(std::sync::Arc::new(cluster)))
            .map_err(|e| BackendError::NotAvailable {
                what: format!("configuration: {e}"),
            })?;
        let mut env = built.env;
        // A kernel without device-mapper still lets the agent read and change metadata. The
        // environment's device-mapper becomes the agent's (one handle, one view).
        let (kernel, dm_error) = match env.kernel.take().map(Ok).unwrap_or_else(Kernel::real) {
            Ok(k) => (Some(k), String::new()),
            Err(e) => (None, e.to_string()),
        };
        let volume_list = env.volume_list.clone();
        Ok(Setup {
            env,
            kernel,
            dm_error,
            volume_list,
            mirror_handle_errors: true,
        })
    }
}

impl Default for SystemBackend {
    fn default() -> Self {
        SystemBackend {
            root: "/".into(),
            socket: clvmd_client::socket_path(),
            setup: None,
            make: Box::new(Setup::from_config),
        }
    }
}

impl SystemBackend {
    /// A backend over a given environment (tests: file-backed PVs, in-memory device-mapper).
    pub fn with_setup(root: PathBuf, setup: Setup) -> Self {
        SystemBackend {
            root,
            socket: clvmd_client::socket_path(),
            setup: Some(setup),
            make: Box::new(|| unreachable!("setup given")),
        }
    }

    pub fn setup(&mut self) -> Result<&mut Setup, BackendError> {
        if self.setup.is_none() {
            self.setup = Some((self.make)()?);
        }
        Ok(self.setup.as_mut().expect("just set"))
    }

    fn kernel(setup: &Setup) -> Result<&Kernel, BackendError> {
        setup
            .kernel
            .as_ref()
            .ok_or_else(|| BackendError::NotAvailable {
                what: format!(
                    "device-mapper is not available on this host (is dm-mod loaded?): {}",
                    setup.dm_error
                ),
            })
    }

    fn read(&mut self, vg: &str) -> Result<Option<VgRead>, BackendError> {
        let setup = self.setup()?;
        let ctx = OpsCtx { env: &setup.env };
        // Through lvmeta's transaction driver: the VG's locks (a cluster VG lock too; a shared
        // VG whose lockspace is not started here is read without it, as lvm2 does, which a
        // probe or a stop needs), one scan; ownership is the planner's business, so foreign
        // VGs are read as well.
        match ctx.read_vg(vg, true, |_, r| Ok::<_, OpError>(r)) {
            Ok(r) => Ok(Some(r)),
            Err(OpError::VgNotFound { .. }) => Ok(None),
            Err(e) => Err(io("read metadata", vg, None, e)),
        }
    }

    /// `vgchange` of `vg` with the options `set` fills in.
    fn vgchange(
        &mut self,
        op: &str,
        vg: &str,
        set: impl FnOnce(&mut VgchangeOptions),
    ) -> Result<(), BackendError> {
        let mut o = VgchangeOptions {
            vg: vg.into(),
            ..VgchangeOptions::default()
        };
        set(&mut o);
        let setup = self.setup()?;
        let ctx = OpsCtx { env: &setup.env };
        ctx.vgchange(&o)
            .map(|_| ())
            .map_err(|e| io(op, &o.vg, None, e))
    }

    /// One lvmeta activation call for all `lvs`: the VG is scanned and read once.
    fn change(
        &mut self,
        vg: &str,
        lvs: &[String],
        on: bool,
        mode: ActivationMode,
    ) -> Result<(), BackendError> {
        let how = on.then_some(LockMode::Exclusive);
        self.change_mode(vg, lvs, how, mode, None)
    }

    /// [`SystemBackend::change`] with the LV lock mode of a shared VG (`None`: deactivate,
    /// which releases the LV locks); a lock held by another node becomes
    /// [`BackendError::HeldElsewhere`].
    fn change_mode(
        &mut self,
        vg: &str,
        lvs: &[String],
        how: Option<LockMode>,
        mode: ActivationMode,
        vx_mode: Option<VxMode>,
    ) -> Result<(), BackendError> {
        let setup = self.setup()?;
        let kernel = Self::kernel(setup)?;
        let ctx = OpsCtx { env: &setup.env };
        let opts = ActivateOptions {
            mode,
            volume_list: setup.volume_list.clone(),
            mirror_handle_errors: setup.mirror_handle_errors,
            vx_mode,
        };
        let lv = (lvs.len() == 1).then(|| lvs[0].as_str());
        ctx.change_activation_mode(kernel, vg, Some(lvs), how, &opts)
            .map(|_| ())
            .map_err(|e| match e {
                ActivationError::Op(OpError::Lock(LockError::HeldElsewhere { what, holder })) => {
                    BackendError::HeldElsewhere {
                        vg: vg.into(),
                        what,
                        holder,
                    }
                }
                e => io(
                    if how.is_some() {
                        "activate"
                    } else {
                        "deactivate"
                    },
                    vg,
                    lv,
                    e,
                ),
            })
    }

    fn client(&self) -> Result<clvmd_client::Client, ClientError> {
        clvmd_client::Client::connect(
            &self.socket,
            &format!("LVM-activate pid {}", std::process::id()),
        )
    }
}

fn io(op: &str, vg: &str, lv: Option<&str>, e: impl std::fmt::Display) -> BackendError {
    BackendError::Io {
        op: op.into(),
        vg: vg.into(),
        lv: lv.map(str::to_string),
        detail: e.to_string(),
    }
}

impl VolumeBackend for SystemBackend {
    fn override_volume_list(&mut self, list: Option<Vec<String>>) {
        if let Ok(setup) = self.setup() {
            if list.is_some() {
                setup.volume_list = list;
            }
        }
    }

    fn read_vg(&mut self, vg: &str) -> Result<Option<VgState>, BackendError> {
        Ok(self.read(vg)?.as_ref().map(vg_state))
    }
    fn active_lvs(&mut self, vg: &str) -> Result<Vec<ActiveLv>, BackendError> {
        let setup = self.setup()?;
        let Some(kernel) = setup.kernel.as_ref() else {
            // No device-mapper: nothing can be active.
            return Ok(Vec::new());
        };
        dm_active_lvs(kernel.dm.as_ref(), vg)
    }
    fn local_system_id(&mut self) -> Result<Option<String>, BackendError> {
        Ok(self.setup()?.env.system_id.clone())
    }
    fn set_system_id(&mut self, vg: &str, id: &str, majority: bool) -> Result<(), BackendError> {
        // As vgchange --majoritypvs: lvmeta checks the majority and writes the present PVs.
        self.vgchange("set system ID", vg, |o| {
            o.system_id = Some(id.into());
            o.majority_pvs = majority;
        })
    }
    fn add_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError> {
        self.vgchange("add tag", vg, |o| o.add_tags = vec![tag.into()])
    }
    fn del_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError> {
        self.vgchange("delete tag", vg, |o| o.del_tags = vec![tag.into()])
    }
    fn deactivate(&mut self, vg: &str, lv: &str) -> Result<(), BackendError> {
        self.deactivate_all(vg, &[lv.to_string()])
    }
    fn deactivate_all(&mut self, vg: &str, lvs: &[String]) -> Result<(), BackendError> {
        self.change(vg, lvs, false, ActivationMode::Partial)
    }
    fn read_block(&mut self, vg: &str, lv: &str, sector: u64) -> Result<(), BackendError> {
        let path = self
            .root
            .join("dev/mapper")
            .join(lvmeta_model::ids::dm_name(vg, lv, None));
        read_direct(&path, sector).map_err(|e| BackendError::Io {
            op: format!("O_DIRECT read of sector {sector}"),
            vg: vg.into(),
            lv: Some(lv.into()),
            detail: e.to_string(),
        })
    }
    fn lock_daemon(&mut self, vg: &str) -> Result<LockDaemon, BackendError> {
        if self.setup()?.env.cluster.is_none() {
            return Ok(LockDaemon::NotConfigured);
        }
        let mut c = match self.client() {
            Ok(c) => c,
            Err(e @ ClientError::Connect { .. }) => {
                return Ok(LockDaemon::NotRunning {
                    detail: e.to_string(),
                })
            }
            Err(e) => return Err(io("ask the lock daemon", vg, None, e)),
        };
        let status = c
            .status()
            .map_err(|e| io("ask the lock daemon", vg, None, e))?;
        let name = format!("lvm_{vg}");
        Ok(LockDaemon::Running {
            lockspace_started: status
                .lockspaces
                .iter()
                .any(|l| l.name == name && l.state == "running"),
        })
    }
    fn io_stopped(&mut self, vg: &str) -> Result<Option<String>, BackendError> {
        if self.setup()?.env.cluster.is_none() {
            return Ok(None);
        }
        let status = clvmd_client::Client::connect_with_timeout(
            &self.socket,
            &format!("LVM-activate monitor pid {}", std::process::id()),
            MONITOR_ASK_TIMEOUT,
        )
        .and_then(|mut c| c.status());
        match status {
            Ok(st) => {
                let stranded = st.frozen.iter().any(|f| f.vg == vg && f.stranded.is_some());
                let left = st
                    .disabled_vgs
                    .iter()
                    .any(|d| d.vg == vg && d.policy == clvmd_proto::DgFailure::Leave);
                Ok((stranded || left).then(|| st.io_blocked(vg, "")).flatten())
            }
            Err(e) => {
                let record =
                    std::path::Path::new(clvmd_proto::FENCE_DIR).join(format!("{vg}.json"));
                Ok(record.exists().then(|| {
                    format!(
                        "I/O to VG {vg} was frozen by clvmd-rs (record {}), which does not answer \
                         ({e}): it stays frozen; reboot this node",
                        record.display()
                    )
                }))
            }
        }
    }
    fn lock_start(&mut self, vg: &str) -> Result<(), BackendError> {
        let setup = self.setup()?;
        let info = OpsCtx { env: &setup.env }
            .vg_lock_info(vg)
            .map_err(|e| io("lockstart", vg, None, e))?;
        let args = info.lock_args.unwrap_or_default();
        self.client()
            .and_then(|mut c| c.lock_start(vg, &args))
            .map_err(|e| io("lockstart", vg, None, e))
    }
    fn lock_stop(&mut self, vg: &str) -> Result<Option<String>, BackendError> {
        match self.client().and_then(|mut c| c.lock_stop(vg, false)) {
            Ok(()) => Ok(None),
            Err(ClientError::Failed {
                kind: ErrorKind::NotStarted | ErrorKind::LockspaceBusy,
                message,
            }) => Ok(Some(message)),
            Err(e) => Err(io("lockstop", vg, None, e)),
        }
    }
    fn activate_all(&mut self, a: &Activation) -> Result<(), BackendError> {
        let (vg, lvs) = (a.vg, a.lvs);
        let Some(sharing) = a.lock else {
            return self.change(vg, lvs, true, a.mode);
        };
        let how = if sharing.exclusive_lock() {
            LockMode::Exclusive
        } else {
            LockMode::Shared
        };
        if let Some(vx) = sharing.vx() {
            // The VG's mode on this node first (as `lvmeta vgchange -a MODE`): a conflicting
            // mode held elsewhere refuses here, naming the node; the lockspace's stop releases it.
            let setup = self.setup()?;
            let locks = setup
                .env
                .cluster_locks_for(vg, Some("dlm"))
                .map_err(|e| io("activate", vg, None, e))?
                .ok_or_else(|| io("activate", vg, None, "no cluster lock manager"))?;
            locks.set_vg_mode(vg, vx).map_err(|e| match e {
                LockError::HeldElsewhere { what, holder } => BackendError::HeldElsewhere {
                    vg: vg.into(),
                    what,
                    holder,
                },
                e => io("activate", vg, None, e),
            })?;
        }
        self.change_mode(vg, lvs, Some(how), a.mode, sharing.vx())
    }
}

/// In-memory volume groups and device-mapper table, with fault injection.
#[derive(Debug, Clone, Default)]
pub struct MemBackend {
    pub vgs: BTreeMap<String, VgState>,
    /// (VG, LV) → state.
    pub active: BTreeMap<(String, String), DmState>,
    pub system_id: Option<String>,
    /// Activations that "succeed" without creating a device (the anchor's flaw).
    pub silently_fail_activation: Vec<String>,
    /// LVs whose activation returns an error.
    pub fail_activation: Vec<String>,
    /// (LV, sector) reads that fail.
    pub bad_blocks: Vec<(String, u64)>,
    /// Fail metadata writes.
    pub fail_metadata_writes: bool,
    /// Every call, in order, for assertions.
    pub journal: Vec<String>,
    /// Activation modes used.
    pub modes: BTreeMap<String, ActivationMode>,
    /// halvm.toml selects the cluster lock manager.
    pub lock_manager: bool,
    /// The lock daemon answers.
    pub daemon_running: bool,
    /// Shared VGs whose lockspace runs here.
    pub lockspaces: BTreeSet<String>,
    /// LV locks held here: (VG, LV) → mode.
    pub lv_locks: BTreeMap<(String, String), Sharing>,
    /// LV locks other nodes hold: LV → (holder, mode).
    pub held_elsewhere: BTreeMap<String, (String, Sharing)>,
    /// The volume_list override asked for (tagging mode).
    pub volume_list: Option<Vec<String>>,
    /// What the lock daemon says stops a VG's I/O for good (VG → why).
    pub io_stopped: BTreeMap<String, String>,
}

impl MemBackend {
    fn io(op: &str, vg: &str, lv: Option<&str>, detail: &str) -> BackendError {
        BackendError::Io {
            op: op.into(),
            vg: vg.into(),
            lv: lv.map(str::to_string),
            detail: detail.into(),
        }
    }

    fn vg_mut(&mut self, vg: &str, op: &str) -> Result<&mut VgState, BackendError> {
        if self.fail_metadata_writes {
            return Err(Self::io(op, vg, None, "injected metadata write failure"));
        }
        self.vgs
            .get_mut(vg)
            .ok_or_else(|| Self::io(op, vg, None, "no such VG"))
    }

    fn activate_one(
        &mut self,
        vg: &str,
        lv: &str,
        mode: ActivationMode,
    ) -> Result<(), BackendError> {
        self.journal.push(format!("activate {vg}/{lv} {mode:?}"));
        if self.fail_activation.iter().any(|l| l == lv) {
            return Err(Self::io("activate", vg, Some(lv), "injected failure"));
        }
        if self.silently_fail_activation.iter().any(|l| l == lv) {
            return Ok(());
        }
        self.modes.insert(lv.to_string(), mode);
        let state = if mode == ActivationMode::Complete {
            DmState::Live
        } else {
            DmState::Degraded
        };
        self.active.insert((vg.to_string(), lv.to_string()), state);
        Ok(())
    }
}

impl VolumeBackend for MemBackend {
    fn override_volume_list(&mut self, list: Option<Vec<String>>) {
        self.volume_list = list;
    }
    fn read_vg(&mut self, vg: &str) -> Result<Option<VgState>, BackendError> {
        Ok(self.vgs.get(vg).cloned())
    }
    fn active_lvs(&mut self, vg: &str) -> Result<Vec<ActiveLv>, BackendError> {
        Ok(self
            .active
            .iter()
            .filter(|((v, _), _)| v == vg)
            .map(|((_, lv), s)| ActiveLv {
                name: lv.clone(),
                state: *s,
            })
            .collect())
    }
    fn local_system_id(&mut self) -> Result<Option<String>, BackendError> {
        Ok(self.system_id.clone())
    }
    fn set_system_id(&mut self, vg: &str, id: &str, majority: bool) -> Result<(), BackendError> {
        self.journal
            .push(format!("set_system_id {vg} {id} majority={majority}"));
        let v = self.vg_mut(vg, "set system ID")?;
        let total = v.pvs.len();
        let present = v.pvs.iter().filter(|p| !p.missing).count();
        // As lvm2: a metadata write with PVs missing needs --majoritypvs and a majority.
        if present < total && !(majority && present * 2 > total) {
            return Err(Self::io("set system ID", vg, None, "PVs missing"));
        }
        v.system_id = Some(id.to_string());
        Ok(())
    }
    fn add_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError> {
        self.journal.push(format!("add_tag {vg} {tag}"));
        let v = self.vg_mut(vg, "add tag")?;
        if !v.tags.iter().any(|t| t == tag) {
            v.tags.push(tag.to_string());
        }
        Ok(())
    }
    fn del_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError> {
        self.journal.push(format!("del_tag {vg} {tag}"));
        let v = self.vg_mut(vg, "delete tag")?;
        v.tags.retain(|t| t != tag);
        Ok(())
    }
    fn deactivate(&mut self, vg: &str, lv: &str) -> Result<(), BackendError> {
        self.journal.push(format!("deactivate {vg}/{lv}"));
        let key = (vg.to_string(), lv.to_string());
        self.active.remove(&key);
        self.lv_locks.remove(&key);
        Ok(())
    }
    fn read_block(&mut self, vg: &str, lv: &str, sector: u64) -> Result<(), BackendError> {
        self.journal.push(format!("read {vg}/{lv}@{sector}"));
        if !self.active.contains_key(&(vg.to_string(), lv.to_string())) {
            return Err(Self::io("read", vg, Some(lv), "no such device"));
        }
        if self.bad_blocks.iter().any(|(l, s)| l == lv && *s == sector) {
            return Err(Self::io("read", vg, Some(lv), "Input/output error"));
        }
        Ok(())
    }
    fn lock_daemon(&mut self, vg: &str) -> Result<LockDaemon, BackendError> {
        Ok(if !self.lock_manager {
            LockDaemon::NotConfigured
        } else if !self.daemon_running {
            LockDaemon::NotRunning {
                detail: "cannot connect to clvmd-rs: Connection refused".into(),
            }
        } else {
            LockDaemon::Running {
                lockspace_started: self.lockspaces.contains(vg),
            }
        })
    }
    fn io_stopped(&mut self, vg: &str) -> Result<Option<String>, BackendError> {
        Ok(self.io_stopped.get(vg).cloned())
    }
    fn lock_start(&mut self, vg: &str) -> Result<(), BackendError> {
        self.journal.push(format!("lock_start {vg}"));
        if !self.daemon_running {
            return Err(Self::io("lockstart", vg, None, "daemon not running"));
        }
        self.lockspaces.insert(vg.to_string());
        Ok(())
    }
    fn lock_stop(&mut self, vg: &str) -> Result<Option<String>, BackendError> {
        self.journal.push(format!("lock_stop {vg}"));
        if !self.daemon_running {
            return Err(Self::io("lockstop", vg, None, "daemon not running"));
        }
        if self.lv_locks.keys().any(|(v, _)| v == vg) {
            return Ok(Some(format!("VG {vg} has LVs active here")));
        }
        if !self.lockspaces.remove(vg) {
            return Ok(Some(format!("lockspace lvm_{vg} is not started")));
        }
        Ok(None)
    }
    fn activate_all(&mut self, a: &Activation) -> Result<(), BackendError> {
        let (vg, mode) = (a.vg, a.mode);
        for lv in a.lvs {
            let Some(sharing) = a.lock else {
                self.activate_one(vg, lv, mode)?;
                continue;
            };
            self.journal
                .push(format!("activate_locked {vg}/{lv} {mode:?} {sharing:?}"));
            if !self.lockspaces.contains(vg) {
                return Err(Self::io("activate", vg, Some(lv), "lockspace not started"));
            }
            if let Some((holder, theirs)) = self.held_elsewhere.get(lv) {
                if !sharing.lv_locks_compatible(*theirs) {
                    return Err(BackendError::HeldElsewhere {
                        vg: vg.into(),
                        what: format!("LV {vg}/{lv}"),
                        holder: holder.clone(),
                    });
                }
            }
            self.lv_locks.insert((vg.to_string(), lv.clone()), sharing);
            self.activate_one(vg, lv, mode)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use lvmeta::filter::DeviceFilter;
    use lvmeta::lock::MemLocking;
    use lvmeta::ops::Layout;
    use lvmeta::ops::{LvcreateOptions, SizeArg};
    use lvmeta::units::Sign;
    use lvmeta_dm::mem::MemDm;
    use lvmeta_dm::nodes::MemNodes;
    use lvmeta_ondisk::dev::{BlockDev, MemDev};
    use lvmeta_ondisk::units::Bytes;
    use std::sync::Arc;

    /// Three in-memory PVs; `present` of them visible to the backend.
    fn disks() -> Vec<(PathBuf, MemDev)> {
        (0..3)
            .map(|i| {
                let p = PathBuf::from(format!("/mem/pv{i}"));
                (p.clone(), MemDev::new(p, Bytes(64 << 20)))
            })
            .collect()
    }

    fn env(devs: &[(PathBuf, MemDev)], present: usize, sid: &str) -> Env {
        let devs: Vec<(PathBuf, MemDev)> = devs[..present].to_vec();
        Env {
            devices: Some(devs.iter().map(|d| d.0.clone()).collect()),
            filter: DeviceFilter::default(),
            scan: vec![],
            locks: Arc::new(MemLocking::new()),
            cluster: None,
            volume_list: None,
            hooks: None,
            test_mode: false,
            kernel: None,
            system_id: Some(sid.into()),
            host: "test".into(),
            open: Box::new(move |p: &Path| {
                devs.iter()
                    .find(|d| d.0 == p)
                    .map(|d| Arc::new(d.1.clone()) as Arc<dyn BlockDev>)
                    .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "absent"))
            }),
        }
    }

    fn lv(name: &str, layout: Layout, pvs: &[&str]) -> LvcreateOptions {
        LvcreateOptions {
            vg: String::new(),
            name: name.into(),
            size: SizeArg::Sectors(Sign::Absolute, 8 * 2048),
            layout,
            pvs: pvs.iter().map(PathBuf::from).collect(),
        }
    }

    /// A VG "ha" on three PVs: linear on pv0, striped over pv0+pv1, raid1 over pv1+pv2.
    fn make_vg(devs: &[(PathBuf, MemDev)]) {
        let e = env(devs, 3, "node1");
        let ctx = OpsCtx { env: &e };
        let paths: Vec<PathBuf> = devs.iter().map(|d| d.0.clone()).collect();
        ctx.pvcreate(&lvmeta::ops::PvcreateOptions {
            pvs: paths.to_vec(),
            ..Default::default()
        })
        .unwrap();
        ctx.vgcreate(&lvmeta::ops::VgcreateOptions {
            system_id: Some("".into()),
            tags: Vec::new(),
            ..lvmeta::ops::VgcreateOptions::new("ha", paths.to_vec())
        })
        .unwrap();
        ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
            vg: "ha".into(),
            ..lv("lin", Layout::Linear, &["/mem/pv0"])
        })
        .unwrap();
        ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
            vg: "ha".into(),
            ..lv(
                "str",
                Layout::Striped {
                    stripes: 2,
                    stripe_size: lvmeta::ops::Sectors(128),
                },
                &["/mem/pv0", "/mem/pv1"],
            )
        })
        .unwrap();
        ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
            vg: "ha".into(),
            ..lv(
                "mir",
                Layout::Raid1 { mirrors: 1 },
                &["/mem/pv1", "/mem/pv2"],
            )
        })
        .unwrap();
    }

    /// Activates ha/lin, complete, as in a local VG.
    fn activate_lin(b: &mut SystemBackend) -> Result<(), BackendError> {
        b.activate_all(&Activation {
            vg: "ha",
            lvs: &["lin".to_string()],
            mode: ActivationMode::Complete,
            lock: None,
        })
    }

    fn backend(devs: &[(PathBuf, MemDev)], present: usize, sid: &str) -> SystemBackend {
        SystemBackend::with_setup(
            "/nonexistent".into(),
            Setup {
                env: env(devs, present, sid),
                kernel: None,
                dm_error: "not in this test".into(),
                volume_list: None,
                mirror_handle_errors: true,
            },
        )
    }

    /// A cluster lock manager whose daemon does not answer.
    struct NoDaemon;
    impl lvmeta::lock::LockManager for NoDaemon {
        fn lock(
            &self,
            target: &lvmeta::lock::LockTarget,
            _mode: LockMode,
        ) -> Result<lvmeta::lock::LockGuard, LockError> {
            Err(LockError::Cluster {
                what: format!("the {target}"),
                message: "cannot connect to clvmd-rs: Connection refused".into(),
            })
        }
    }

    #[test]
    fn a_shared_vg_is_read_without_the_lock_daemon_and_the_daemon_is_reported() {
        let devs = disks();
        make_vg(&devs);
        OpsCtx {
            env: &env(&devs, 3, "node1"),
        }
        .vgchange_locktype(&lvmeta::ops::VgLockTypeOptions {
            vg: "ha".into(),
            dlm_lock_args: Some("1.0.0:lab".into()),
        })
        .unwrap();
        let mut b = backend(&devs, 3, "node1");
        b.setup().unwrap().env.cluster = Some(Arc::new(NoDaemon));
        b.socket = "/nonexistent/clvmd-rs.sock".into();
        // A probe or a stop before the lockspace runs still sees the VG.
        let vg = b.read_vg("ha").unwrap().expect("VG visible");
        assert_eq!(vg.lock_type.as_deref(), Some("dlm"));
        assert_eq!(vg.lvs.len(), 3);
        match b.lock_daemon("ha").unwrap() {
            LockDaemon::NotRunning { detail } => {
                assert!(detail.contains("/nonexistent/clvmd-rs.sock"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        let e = b.lock_start("ha").unwrap_err();
        assert!(
            e.to_string().contains("is the clvmd-rs daemon running?"),
            "{e}"
        );
        // Without lock_manager = "dlm" the agent says so instead of trying the socket.
        let mut local = backend(&devs, 3, "node1");
        assert_eq!(local.lock_daemon("ha").unwrap(), LockDaemon::NotConfigured);
    }

    #[test]
    fn reads_the_vg_through_lvmeta_with_missing_pvs_and_legs() {
        let devs = disks();
        make_vg(&devs);
        let mut b = backend(&devs, 3, "node1");
        assert_eq!(b.read_vg("absent").unwrap(), None);
        let vg = b.read_vg("ha").unwrap().expect("VG visible");
        assert_eq!(vg.system_id, None);
        assert_eq!(vg.lock_type, None);
        let names: Vec<&str> = vg.lvs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["lin", "str", "mir"], "sub-LVs are not listed");
        assert!(vg.missing().is_empty());
        let mir = vg.lv("mir").unwrap();
        assert_eq!(mir.segments[0].kind, SegKind::Mirrored);
        assert_eq!(mir.segments[0].areas.len(), 2);
        assert_eq!(vg.lv("str").unwrap().segments[0].areas.len(), 2);
        assert_eq!(vg.lv("lin").unwrap().segments[0].sectors, 8 * 2048);
        // The third PV gone: raid1 degraded, the others complete.
        let mut b = backend(&devs, 2, "node1");
        let vg = b.read_vg("ha").unwrap().unwrap();
        let missing = vg.missing();
        assert_eq!(missing.len(), 1);
        use crate::model::Health;
        assert_eq!(vg.lv("mir").unwrap().health(&missing), Health::Degraded);
        assert_eq!(vg.lv("str").unwrap().health(&missing), Health::Complete);
        // Only pv0: the striped LV has lost data.
        let mut b = backend(&devs, 1, "node1");
        let vg = b.read_vg("ha").unwrap().unwrap();
        assert_eq!(vg.lv("str").unwrap().health(&vg.missing()), Health::Partial);
    }

    #[test]
    fn system_id_and_tags_are_committed_and_read_back() {
        let devs = disks();
        make_vg(&devs);
        let mut b = backend(&devs, 3, "node1");
        assert_eq!(b.local_system_id().unwrap().as_deref(), Some("node1"));
        b.set_system_id("ha", "node1", false).unwrap();
        b.add_tag("ha", "pacemaker").unwrap();
        b.add_tag("ha", "pacemaker").unwrap();
        // A second backend (another process) sees the committed metadata.
        let mut other = backend(&devs, 3, "node2");
        let vg = other.read_vg("ha").unwrap().unwrap();
        assert_eq!(vg.system_id.as_deref(), Some("node1"));
        assert_eq!(vg.tags, ["pacemaker"]);
        // Taking over a foreign VG by setting the system ID works (the failover path).
        other.set_system_id("ha", "node2", false).unwrap();
        other.del_tag("ha", "pacemaker").unwrap();
        let vg = b.read_vg("ha").unwrap().unwrap();
        assert_eq!(vg.system_id.as_deref(), Some("node2"));
        assert!(vg.tags.is_empty());
        // With a PV missing the metadata is not changed.
        let mut partial = backend(&devs, 2, "node1");
        let e = partial.set_system_id("ha", "node1", false).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert_eq!(
            b.read_vg("ha").unwrap().unwrap().system_id.as_deref(),
            Some("node2")
        );
        // Two of three missing: no majority, nothing written.
        let mut lone = backend(&devs, 1, "node1");
        let e = lone.set_system_id("ha", "node1", true).unwrap_err();
        assert!(
            e.to_string()
                .contains("only 1 of 3 PVs present, --majoritypvs needs 2"),
            "{e}"
        );
        assert_eq!(
            b.read_vg("ha").unwrap().unwrap().system_id.as_deref(),
            Some("node2")
        );
        // Two of three present: the majority takeover writes the present PVs.
        partial.set_system_id("ha", "node1", true).unwrap();
        let vg = partial.read_vg("ha").unwrap().unwrap();
        assert_eq!(vg.system_id.as_deref(), Some("node1"));
        // With the third PV back its older copy is outvoted, and reported stale.
        let r = b.read("ha").unwrap().unwrap();
        assert_eq!(r.vg.system_id.as_deref(), Some("node1"));
        assert!(r.stale_copies().next().is_some(), "third copy is stale");
        let e = b.add_tag("nope", "t").unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
    }

    #[test]
    fn without_device_mapper_activation_says_so_and_nothing_is_active() {
        let devs = disks();
        make_vg(&devs);
        let mut b = backend(&devs, 3, "node1");
        assert_eq!(b.active_lvs("ha").unwrap(), vec![]);
        let e = activate_lin(&mut b).unwrap_err();
        assert!(
            matches!(&e, BackendError::NotAvailable { what } if what.contains("device-mapper")),
            "{e}"
        );
    }

    #[test]
    fn activation_on_file_backed_pvs_is_refused_by_lvmeta() {
        let devs = disks();
        make_vg(&devs);
        // The same PVs as regular files.
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = devs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let f = dir.path().join(format!("pv{i}"));
                std::fs::write(&f, d.1.snapshot()).unwrap();
                f
            })
            .collect();
        let mut e = env(&devs, 3, "node1");
        e.devices = Some(files);
        e.open = Box::new(Env::file_open);
        let mut b = SystemBackend::with_setup(
            "/nonexistent".into(),
            Setup {
                env: e,
                kernel: None,
                dm_error: "not in this test".into(),
                volume_list: None,
                mirror_handle_errors: true,
            },
        );
        assert_eq!(b.read_vg("ha").unwrap().unwrap().lvs.len(), 3);
        b.setup().unwrap().kernel = Some(Kernel {
            dm: Box::new(MemDm::new([])),
            nodes: Box::new(MemNodes::default()),
        });
        let e = activate_lin(&mut b).unwrap_err();
        assert!(e.to_string().contains("not a block device"), "{e}");
        assert_eq!(b.active_lvs("ha").unwrap(), vec![]);
    }

    #[test]
    fn device_mapper_state_of_the_vg() {
        let dm = MemDm::new([lvmeta_activate::DevNum { major: 8, minor: 0 }]);
        let u = "a".repeat(64);
        let mk = |name: &str, uuid: &str, target: &str, params: &str| {
            dm.create(name, uuid).unwrap();
            dm.load(uuid, &[(0, 8, target.into(), params.into())])
                .unwrap();
            dm.resume(uuid).unwrap();
        };
        mk("vg--a-data", &format!("LVM-{u}"), "linear", "8:0 0");
        mk(
            "vg--a-hole",
            &format!("LVM-{}", "b".repeat(64)),
            "error",
            "",
        );
        mk(
            "vg--a-data_rimage_0",
            &format!("LVM-{}-rimage_0", "c".repeat(64)),
            "linear",
            "8:0 8",
        );
        mk(
            "other-x",
            &format!("LVM-{}", "d".repeat(64)),
            "linear",
            "8:0 16",
        );
        mk("vg--a-crypt", "CRYPT-LUKS2-x", "linear", "8:0 24");
        let s = format!("LVM-{}", "e".repeat(64));
        mk("vg--a-susp", &s, "linear", "8:0 32");
        dm.suspend(&s).unwrap();
        let got = dm_active_lvs(&dm, "vg-a").unwrap();
        let got: Vec<(&str, DmState)> = got.iter().map(|a| (a.name.as_str(), a.state)).collect();
        assert_eq!(
            got,
            [
                ("data", DmState::Live),
                ("hole", DmState::Degraded),
                ("susp", DmState::Suspended)
            ]
        );
    }

    #[test]
    fn status_lines_give_health() {
        for (target, params, want) in [
            ("linear", "", DmState::Live),
            ("raid", "raid1 2 AA 16/16 idle 0 0 -", DmState::Live),
            ("raid", "raid1 2 AD 16/16 idle 0 0 -", DmState::Degraded),
            ("raid", "raid1 2 DD 0/16 idle 0 0 -", DmState::Failed),
            ("mirror", "2 253:1 253:2 8/8 1 AA 1 core", DmState::Live),
            ("mirror", "2 253:1 253:2 8/8 1 DA 1 core", DmState::Degraded),
            ("mirror", "2 253:1 253:2 8/8 1 DD 1 core", DmState::Failed),
        ] {
            let line = vec![(0u64, 8u64, target.to_string(), params.to_string())];
            assert_eq!(state_of(&line), want, "{target} {params}");
        }
    }

    #[test]
    fn direct_read_reads_a_file_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("disk");
        std::fs::write(&f, vec![7u8; 16384]).unwrap();
        match read_direct(&f, 8) {
            Ok(()) => {}
            // tmpfs does not support O_DIRECT; the error must still be reported, not hidden.
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}"),
        }
        assert!(read_direct(&dir.path().join("absent"), 0).is_err());
    }
}
