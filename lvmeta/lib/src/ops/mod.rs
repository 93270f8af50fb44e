//! The commands: device scanning, reading a VG from the newest valid copy, the two-phase
//! commit over every metadata area, and pv*/vg*/lv* operations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::lock::LockError;
use crate::sysfs::SysBlock;
use lvmeta_model::lvm_uuid;
use lvmeta_model::{self as model, ModelError, PhysicalVolume, VolumeGroup};
use lvmeta_ondisk::dev::BlockDev;
use lvmeta_ondisk::label::{self, DiskLocn, PvHeaderExt, PvLabel};
use lvmeta_ondisk::mda;
use lvmeta_ondisk::store::MetadataStore;
use lvmeta_ondisk::units::Bytes;
pub use lvmeta_ondisk::units::{Extents, Sectors};
use lvmeta_ondisk::OnDiskError;

pub use lvmeta_model::{Layout, MirrorLog};

/// What was wrong with a VG, an LV or a name. The `Display` is plain; lvmeta-cli says it in
/// lvm2's words (`lvmeta_cli::wording`).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VgError {
    #[error("metadata of VG {vg}: {what}")]
    Malformed { vg: String, what: String },
    #[error("LV {vg}/{lv} already exists")]
    LvExists { vg: String, lv: String },
    #[error("LV {vg}/{lv} not found")]
    NoSuchLv { vg: String, lv: String },
    #[error("insufficient free space in VG {vg}: {needed} extents needed, {free} free")]
    NoSpace { vg: String, needed: u64, free: u64 },
    #[error("VG {vg}: {needed} PVs with free space needed for {what}, only {found} usable")]
    NotEnoughPvs {
        vg: String,
        what: String,
        needed: usize,
        found: usize,
    },
    /// No room for a mirror's log after its images (`needed` against `free` on the PVs).
    #[error("no room for the mirror log: {needed} extents needed, {free} free")]
    MirrorLogShort { needed: u64, free: u64 },
    #[error("PV {pv} is not in VG {vg}")]
    NoSuchPv { vg: String, pv: String },
    #[error("invalid name {name:?}: {why}")]
    BadName { name: String, why: String },
    #[error("LV {vg}/{lv}: {what}")]
    Unsupported {
        vg: String,
        lv: String,
        what: String,
    },
    #[error("PV {pv} of VG {vg} is still in use")]
    PvInUse { vg: String, pv: String },
    /// The refusals lvm2 makes before and after allocating (`lv_manip.c`).
    #[error("{stripes} stripes exceed the {pvs} PVs available")]
    StripesOverPvs { stripes: u64, pvs: usize },
    #[error("VG {vg} has {free} free extents, {needed} needed")]
    VgShort { vg: String, free: u64, needed: u64 },
    #[error("insufficient free space on the PVs given: {needed} extents needed, {free} free")]
    PvsShort { needed: u64, free: u64 },
    #[error("not enough suitable extents for LV {lv}: {more} more needed")]
    NotSuitable { lv: String, more: u64 },
    #[error("no suitable extents for LV {lv}")]
    NoneSuitable { lv: String },
    #[error("LV {lv} not found in VG {vg}")]
    LvNotInVg { vg: String, lv: String },
    #[error("existing LV {lv} not found in VG {vg}")]
    ExistingLvNotFound { vg: String, lv: String },
}

/// Errors of the commands; the binary maps them to lvm's exit codes. The `Display` is plain;
/// lvmeta-cli says them in lvm2's words (`lvmeta_cli::wording`).
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    OnDisk(#[from] OnDiskError),
    #[error(transparent)]
    Vg(#[from] VgError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("VG {vg} not found")]
    VgNotFound { vg: String },
    #[error("cannot access device {}: {source}", path.display())]
    Device {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("device {}: damaged PV label: {source}", path.display())]
    BadLabel { path: PathBuf, source: OnDiskError },
    #[error("VG {vg} has PVs on duplicate devices: not changed")]
    DuplicateDevices { vg: String },
    #[error("PV UUID {uuid} on both {} and {}", first.display(), second.display())]
    DuplicatePv {
        uuid: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: no PV label", path.display())]
    NotAPv { path: PathBuf },
    #[error("{} is already a PV of VG {vg}", path.display())]
    PvInVg { path: PathBuf, vg: String },
    #[error("{} already has a PV label (force needed)", path.display())]
    AlreadyPv { path: PathBuf },
    #[error("VG {vg} already exists")]
    VgExists { vg: String },
    #[error("VG {vg} is missing PV {uuid} (last seen on {device}): not changed")]
    MissingPv {
        vg: String,
        uuid: String,
        device: String,
    },
    #[error("VG {vg}: only {present} of {total} PVs present, --majoritypvs needs {needed}")]
    NoMajority {
        vg: String,
        present: usize,
        total: usize,
        needed: usize,
    },
    #[error("VG {vg} is foreign: system ID {system_id}, local system ID {local}")]
    Foreign {
        vg: String,
        system_id: String,
        local: String,
    },
    /// The commit wrote no metadata copy: every metadata area's write or sync failed from
    /// this host. Nothing changed on disk (every committed copy is the old one).
    #[error("VG {vg}: no metadata copy could be written from this host ({} of {areas} metadata areas failed: {}); the VG is unchanged: {first}", failed.len(), failed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoMetadataCopy {
        vg: String,
        areas: usize,
        failed: Vec<PathBuf>,
        first: String,
    },
    #[error("VG {vg} not found in any valid metadata copy; damaged copies: {reasons}")]
    NoValidCopy { vg: String, reasons: String },
    /// A VG known to exist ([`Scan::read_known_vg`]: its lockspace is started, LVs of it are
    /// active) is in no copy this host can read, and devices fail I/O: its metadata areas
    /// are behind them (their labels or areas cannot be read).
    #[error("VG {vg}: no metadata copy can be read from this host (I/O errors on {}): {first}", failed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoMetadataReadable {
        vg: String,
        failed: Vec<PathBuf>,
        first: String,
    },
    /// Another node's commit not written here ([`write_carried`]): the VG on disk is not the
    /// one it was made from, or its text is not that VG's next commit.
    #[error("VG {vg}: not writing another node's commit: {why}")]
    CarryRefused { vg: String, why: String },
    #[error("metadata of VG {vg} is too large for the metadata area on {}: needs {needed} bytes, holds {available}", path.display())]
    TooLarge {
        vg: String,
        path: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("invalid argument: {0}")]
    InvalidArg(String),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metadata text of {what}: {err}")]
    Parse {
        what: String,
        err: lvmeta_text::ParseError,
    },
    /// pvremove of a device that cannot be opened exclusively (as lvm2 refuses it).
    #[error("{}: cannot open exclusively (in use?): not removed", path.display())]
    PvBusy { path: PathBuf },
    /// An open LV, not removed or renamed (lvm2's `lv_check_not_in_use`).
    #[error("LV {vg}/{lv} in use")]
    InUse { vg: String, lv: String },
    /// `lvreduce` of a raid1 LV when the kernel's raid target cannot shrink (or is not
    /// there): lvm2's `_lvresize_check`.
    #[error("the kernel's raid target cannot shrink")]
    RaidCannotShrink,
    /// A reduce of an open LV not confirmed (`-f`), as lvm2 refuses it.
    #[error("LV {vg}/{lv} is active and open: not reduced to {size} (force needed)")]
    NotReduced {
        vg: String,
        lv: String,
        size: String,
    },
    #[error(transparent)]
    Dm(#[from] lvmeta_dm::DmError),
    #[error("VG {vg} still has {lvs} LVs (force needed)")]
    VgNotEmpty { vg: String, lvs: usize },
    /// A model error outside a VG's context (the model's own words).
    #[error(transparent)]
    Model(ModelError),
    /// A model error no [`in_model`] mapping names, prefixed with the VG.
    #[error("VG {vg}: {source}")]
    VgModel { vg: String, source: ModelError },
    /// lvmeta-activate's refusals of image splits, removals and repairs.
    #[error(transparent)]
    Split(#[from] lvmeta_activate::split::SplitError),
    /// The device-mapper devices of an LV could not be planned from its metadata.
    #[error("{vg}/{lv}: {source}")]
    Plan {
        vg: String,
        lv: String,
        source: Box<lvmeta_activate::PlanError>,
    },
    /// The hook between the commit's two phases failed: the prepared copies are withdrawn.
    #[error("commit interrupted: {source}{}", .revert.as_ref().map(|r| format!("; withdrawing the prepared copies failed too: {r}")).unwrap_or_default())]
    CommitInterrupted {
        source: std::io::Error,
        revert: Option<OnDiskError>,
    },
    /// None of a command line's PVs has free extents (lvm2's `create_pv_list`).
    #[error("none of the PVs given has free extents")]
    NoSpecifiedPvSpace,
    /// A device given to vgcreate/vgextend whose label the scan found damaged.
    #[error("{}: damaged PV label: {why}", path.display())]
    PvLabelDamaged { path: PathBuf, why: String },
    #[error("{}: too small for one extent", path.display())]
    PvTooSmall { path: PathBuf },
    #[error("{}: {source}", path.display())]
    PvInvalid { path: PathBuf, source: ModelError },
    /// pvcreate's layout of a device cannot be made (alignment, `--restorefile`'s pe_start).
    #[error("{}: {why}", path.display())]
    PvLayout { path: PathBuf, why: String },
    #[error("{}: device of {size} bytes is too small for a PV with a {mda_size} byte metadata area", path.display())]
    PvTooSmallForMda {
        path: PathBuf,
        size: u64,
        mda_size: u64,
    },
    /// `pvcreate --restorefile` naming a PV UUID the backup does not have.
    #[error("PV UUID {uuid} not in backup file {}", file.display())]
    UuidNotInBackup { uuid: String, file: PathBuf },
    /// `vgextend --restoremissing` of a PV not marked missing.
    #[error("PV {} of VG {vg} is not marked missing", path.display())]
    NotMarkedMissing { vg: String, path: PathBuf },
    #[error("{} is the last PV of VG {vg}: not removed", path.display())]
    FinalPv { vg: String, path: PathBuf },
    /// `vgreduce --removemissing` without `--force` while LVs are partial (their top LVs).
    #[error("VG {vg} has partial LVs ({}): repair or remove them, or force", lvs.join(", "))]
    PartialLvs { vg: String, lvs: Vec<String> },
    /// A mirror reduced below its region size (lvm2's segment check).
    #[error("LV {vg}/{lv}: mirror region size larger than the LV")]
    RegionTooBig { vg: String, lv: String },
    /// A repair asked for an LV id the VG no longer has.
    #[error("no LV with UUID {uuid} in VG {vg}")]
    NoLvWithUuid { vg: String, uuid: String },
    /// A new mirror log's header could not be written.
    #[error("cannot wipe the new mirror log: {why}")]
    LogWipe { why: LvStartError },
    /// A new raid1 metadata sub-LV could not be cleared.
    #[error("cannot clear {vg}/{lv}: {why}")]
    MetaInit {
        vg: String,
        lv: String,
        why: LvStartError,
    },
    /// No PV holds a new mirror log (lvm2's `add_mirror_log`).
    #[error("no room for the mirror log")]
    MirrorLogAlloc,
    /// The allocator's refusal of new mirror images (lvm2's `lv_add_mirrors`).
    #[error("cannot allocate the mirror images: {0}")]
    MirrorAlloc(ModelError),
    /// `--mirrorlog` on an LV that is not a mirror (lvm2's command matching).
    #[error("command not permitted on LV {vg}/{lv}")]
    NotPermitted { vg: String, lv: String },
    /// `lvconvert --type mirror|raid1 -m` of an LV of the other type.
    #[error("{vg}/{lv}: converting between mirror and raid1 is not supported by lvmeta")]
    MirrorRaidConversion { vg: String, lv: String },
    #[error("--corelog and --mirrorlog apply to mirror LVs only")]
    LogOptionOnRaid,
    /// `lvconvert -m -N` with N not below the image count.
    #[error("LV {lv} has {have} images: cannot remove that many")]
    CannotReduce {
        lv: String,
        have: usize,
        raid1: bool,
    },
    /// A raid1 image change or repair of an inactive LV (lvm2 asks the kernel first).
    #[error("LV {vg}/{lv} must be active")]
    MustBeActive { vg: String, lv: String },
    #[error("cannot both allocate and free extents on the PVs given in one step")]
    AllocAndFree,
    /// A down-convert would take the primary image of a copy not known to be in sync.
    #[error("LV {vg}/{lv}: not removing the primary image of a copy not known to be in sync")]
    PrimaryImage {
        vg: String,
        lv: String,
        raid1: bool,
        /// The kernel gave a sync status (else lvm2 says it cannot determine it).
        sync_known: bool,
    },
    /// `lvconvert --repair` of a raid1 LV not in sync.
    #[error("LV {vg}/{lv} is not known to be in sync: images not replaced")]
    ReplaceNotInSync {
        vg: String,
        lv: String,
        sync_known: bool,
    },
    /// A size lvm2 refuses (zero, unchanged, below one extent ...).
    #[error(transparent)]
    Size(#[from] lvmeta_model::sizing::SizeError),
    #[error(transparent)]
    FullName(#[from] lvmeta_model::names::FullNameTooLong),
    #[error("old and new VG names are the same")]
    SameVgName,
    /// A rename committed to the metadata whose device-mapper rename then failed (it runs
    /// after the commit, as lvm2's resume does): the metadata stands, the devices of LV
    /// `vg/lv` keep their old names (`old_vg` is the VG's name before a vgrename).
    #[error("LV {vg}/{lv} renamed in the metadata, its devices not: {error}")]
    DevicesNotRenamed {
        old_vg: String,
        vg: String,
        lv: String,
        error: String,
    },
}

/// Why the start of a new LV could not be written ([`crate::mirror_log`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LvStartError {
    #[error("no LV {lv} in {vg}")]
    NoLv { vg: String, lv: String },
    #[error("{lv} has no extents on a PV")]
    NoExtents { lv: String },
    #[error("{pv} not in {vg}")]
    PvNotInVg { vg: String, pv: String },
    #[error("{pv} is missing")]
    PvMissing { pv: String },
}

impl OpError {
    /// lvm's exit codes: 3 for invalid command lines (EINVALID_CMD_LINE), 5 otherwise (ECMD_FAILED).
    pub fn exit_code(&self) -> i32 {
        match self {
            OpError::InvalidArg(_) | OpError::Report(_) => 3,
            OpError::Vg(VgError::BadName { .. }) => 3,
            _ => 5,
        }
    }
}

pub type Result<T, E = OpError> = std::result::Result<T, E>;

pub use crate::env::{Env, OpenFn};

/// One metadata area as read: raw metadata text, so private to this module (reads go
/// through [`Scan`]'s checked reads, called by the transaction driver only).
pub(crate) struct MdaRead {
    pub area: DiskLocn,
    pub res: Result<mda::MdaContents, OnDiskError>,
}

/// A device with a PV label. Fields private: the raw device and metadata areas are reached
/// only through this module's reads and commits (the transaction path, `crate::txn`).
pub struct PvDev {
    path: PathBuf,
    dev: Arc<dyn BlockDev>,
    label: PvLabel,
    mdas: Vec<MdaRead>,
}

impl PvDev {
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The raw device, for the crate's writes after a commit (labels, mirror logs).
    pub(crate) fn dev(&self) -> &Arc<dyn BlockDev> {
        &self.dev
    }
    /// The PV label as read (locations only, no metadata text).
    pub fn label(&self) -> &PvLabel {
        &self.label
    }
    pub fn uuid_dashed(&self) -> String {
        lvm_uuid::format_with_dashes(&self.label.pv_uuid)
            .unwrap_or_else(|_| self.label.pv_uuid.clone())
    }
    pub fn pe_start_sectors(&self) -> u64 {
        self.label
            .data_areas
            .first()
            .map(|d| d.offset.0 / 512)
            .unwrap_or(2048)
    }
}

/// Everything a scan found. Fields private: holders of a scan (callbacks of the
/// transaction driver, `crate::txn`) read VGs through it and see devices through the
/// accessors below, never the raw metadata areas.
///
/// ```compile_fail,E0616
/// fn raw(s: &lvmeta::ops::Scan) -> usize { s.pvs.len() }
/// ```
/// ```compile_fail,E0616
/// fn raw(d: &lvmeta::ops::PvDev) -> usize { d.mdas.len() }
/// ```
/// ```
/// fn listed(s: &lvmeta::ops::Scan, p: &std::path::Path) -> Option<String> {
///     s.pv_by_path(p).map(|(_, d)| format!("{} {}", d.path().display(), d.uuid_dashed()))
/// }
/// ```
#[derive(Default)]
pub struct Scan {
    pvs: Vec<PvDev>,
    unlabelled: Vec<PathBuf>,
    damaged: Vec<(PathBuf, OnDiskError)>,
    /// PVs seen on more than one device (not multipath paths: those are not scanned).
    duplicates: Vec<Duplicate>,
}

/// One PV UUID on several devices: lvm2 uses one, warns about the others, and refuses to
/// change the VG (`allow_changes_with_duplicate_pvs = 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// With dashes.
    pub uuid: String,
    pub used: PathBuf,
    pub unused: Vec<PathBuf>,
    /// lvm2's reason for the choice ("device is in dm subsystem").
    pub reason: &'static str,
}

/// State of one metadata copy of a VG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyState {
    Current,
    Stale { seqno: u64 },
    Damaged { what: String },
    Empty,
}

#[derive(Debug, Clone)]
pub struct CopyInfo {
    pub path: PathBuf,
    pub area: DiskLocn,
    pub state: CopyState,
}

/// PV key (`pv0`...) -> index into `Scan::pvs`, for the PVs whose device is present.
pub type PvIndex = HashMap<String, usize>;

/// A VG as read: the model, its devices and the state of every copy.
pub struct VgRead {
    pub vg: VolumeGroup,
    pub devs: PvIndex,
    pub copies: Vec<CopyInfo>,
    /// Read without its cluster lock, and why (lvm2: "Reading VG vg without a lock.").
    pub lock_skipped: Option<String>,
}

impl VgRead {
    pub fn missing(&self) -> Vec<&PhysicalVolume> {
        self.vg
            .pvs
            .iter()
            .filter(|p| !self.devs.contains_key(&p.name))
            .collect()
    }
    pub fn stale_copies(&self) -> impl Iterator<Item = &CopyInfo> {
        self.copies.iter().filter(|c| c.state != CopyState::Current)
    }
}

/// Where a missing PV was last seen, for messages.
pub(crate) fn last_seen(p: &PhysicalVolume) -> String {
    p.device.clone().unwrap_or_else(|| "[unknown]".into())
}

fn candidates(env: &Env, sys: &SysBlock) -> Vec<PathBuf> {
    if let Some(d) = &env.devices {
        // lvm2 filters the devices given with --devices too.
        let mut d = d.clone();
        d.retain(|p| env.filter.accepts(&p.to_string_lossy()));
        return dedup_same_device(without_components(d, sys));
    }
    let mut out = Vec::new();
    if let Ok(parts) = std::fs::read_to_string("/proc/partitions") {
        for line in parts.lines().skip(2) {
            if let Some(name) = line.split_whitespace().nth(3) {
                let usual = [
                    "sd", "vd", "hd", "xvd", "nvme", "loop", "md", "mmcblk", "dasd", "dm-",
                ]
                .iter()
                .any(|pre| name.starts_with(pre));
                if !usual {
                    continue;
                }
                // A dm device by its /dev/mapper name, as lvm2 prefers it (filters and
                // messages see that name).
                let mapper = sys
                    .dm_name(name)
                    .map(|n| PathBuf::from(format!("/dev/mapper/{n}")))
                    .filter(|p| p.exists());
                out.push(mapper.unwrap_or_else(|| PathBuf::from(format!("/dev/{name}"))));
            }
        }
    }
    for s in &env.scan {
        if s.is_dir() {
            if let Ok(rd) = std::fs::read_dir(s) {
                let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
                names.sort();
                for p in names {
                    use std::os::unix::fs::FileTypeExt;
                    if let Ok(m) = std::fs::metadata(&p) {
                        if m.file_type().is_block_device() || m.is_file() {
                            out.push(p);
                        }
                    }
                }
            }
        } else {
            out.push(s.clone());
        }
    }
    out.retain(|p| env.filter.accepts(&p.to_string_lossy()));
    dedup_same_device(without_components(out, sys))
}

/// Leaves out what lvm2 does not scan: multipath paths, md members, LVs.
fn without_components(paths: Vec<PathBuf>, sys: &SysBlock) -> Vec<PathBuf> {
    paths
        .into_iter()
        .filter(|p| {
            let skip = sys.name_of_path(p).and_then(|n| sys.skip(&n));
            if let Some(why) = &skip {
                log::debug!("{}: skipped, {why}", p.display());
            }
            skip.is_none()
        })
        .collect()
}

/// Keeps the first path of each device: `/proc/partitions` and a `/dev` scan name the same
/// disks, and links or repeated `--devices` entries name one device twice. Reading it twice
/// would look like two PVs with one UUID.
fn dedup_same_device(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    use std::collections::HashSet;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut seen_devices = HashSet::new();
    let mut seen_paths = HashSet::new();
    paths
        .into_iter()
        .filter(|p| match std::fs::metadata(p) {
            Ok(m) if m.file_type().is_block_device() => seen_devices.insert((0, m.rdev())),
            Ok(m) => seen_devices.insert((m.dev(), m.ino())),
            // Unreadable paths are reported by the open that follows, once.
            Err(_) => seen_paths.insert(p.clone()),
        })
        .collect()
}

/// Reads labels and metadata areas of every candidate device, once each. Only the
/// transaction driver (`crate::txn`) scans: commands reach metadata through it.
pub(crate) fn scan(env: &Env) -> Result<Scan> {
    let sys = SysBlock::default();
    match &env.kernel {
        Some(k) => scan_with(env, &sys.with_dm(k.dm.as_ref())),
        None => scan_with(env, &sys),
    }
}

/// What a scan reads ahead of every device at once: the label (its first 4 sectors) and,
/// where lvm2 puts it, the first metadata area's header (at 4 KiB).
const SCAN_HEAD: u64 = 8 << 10;

/// Devices a scan opens and reads ahead at once (besides the PVs it keeps open).
pub(crate) const SCAN_BATCH: usize = 64;

/// [`scan`] with the given sysfs tree.
pub(crate) fn scan_with(env: &Env, sys: &SysBlock) -> Result<Scan> {
    let explicit = env.devices.is_some();
    let mut scan = Scan::default();
    // PV UUID -> indexes into scan.pvs, in scan order.
    let mut by_uuid: Vec<(String, Vec<usize>)> = Vec::new();
    // Every device's reads are started before the first is waited for, in two rounds: the
    // labels and first metadata area headers, then the texts the headers locate (lvm2
    // submits its scan's reads with aio for the same reason). Each device is still read and
    // checked in scan order. Devices are opened [`SCAN_BATCH`] at a time: a device that is no
    // PV is closed once its label is read, so a host with thousands of disks never runs out
    // of file descriptors (a device that cannot be opened would be skipped).
    let candidates = candidates(env, sys);
    let mut labelled = Vec::new();
    for batch in candidates.chunks(SCAN_BATCH) {
        let mut opened = Vec::new();
        for path in batch {
            match (env.open)(path) {
                Ok(d) => {
                    d.prefetch(Bytes(0), SCAN_HEAD);
                    opened.push((path.clone(), d));
                }
                Err(source) if explicit => {
                    return Err(OpError::Device {
                        path: path.clone(),
                        source,
                    })
                }
                Err(_) => continue,
            }
        }
        for (path, dev) in opened {
            match label::read_label(dev.as_ref()) {
                Ok(None) => scan.unlabelled.push(path),
                Ok(Some(l)) => {
                    let headers: Vec<_> = l
                        .metadata_areas
                        .iter()
                        .map(|a| {
                            let h = mda::read_mda_header(dev.as_ref(), *a);
                            if let Ok(h) = &h {
                                mda::prefetch_texts(dev.as_ref(), h);
                            }
                            (*a, h)
                        })
                        .collect();
                    labelled.push((path, dev, l, headers));
                }
                Err(e) => scan.damaged.push((path, e)),
            }
        }
    }
    for (path, dev, l, headers) in labelled {
        match by_uuid.iter_mut().find(|(u, _)| *u == l.pv_uuid) {
            Some((_, v)) => v.push(scan.pvs.len()),
            None => by_uuid.push((l.pv_uuid.clone(), vec![scan.pvs.len()])),
        }
        let mdas = headers
            .into_iter()
            .map(|(area, h)| MdaRead {
                area,
                res: h.and_then(|h| mda::read_texts(dev.as_ref(), h)),
            })
            .collect();
        scan.pvs.push(PvDev {
            path,
            dev,
            label: l,
            mdas,
        });
    }
    // One device per PV, chosen as lvm2 chooses among duplicates; the others are dropped
    // with lvm2's warnings.
    let mut drop = Vec::new();
    for (uuid, idx) in by_uuid.iter().filter(|(_, v)| v.len() > 1) {
        let cands: Vec<crate::sysfs::DupCandidate> = idx
            .iter()
            .map(|&i| match sys.name_of_path(&scan.pvs[i].path) {
                Some(n) => crate::sysfs::DupCandidate {
                    used_by_lv: sys.used_by_lv(&n),
                    is_dm: sys.is_dm(&n),
                    in_subsystem: sys.in_subsystem(&n),
                },
                None => Default::default(),
            })
            .collect();
        let (best, reason) = crate::sysfs::choose(&cands);
        let dashed = lvm_uuid::format_with_dashes(uuid).unwrap_or_else(|_| uuid.clone());
        let unused: Vec<PathBuf> = idx
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != best)
            .map(|(_, &i)| scan.pvs[i].path.clone())
            .collect();
        for u in &unused {
            log::warn!("WARNING: Not using device {} for PV {dashed}.", u.display());
        }
        let used = scan.pvs[idx[best]].path.clone();
        log::warn!(
            "WARNING: PV {dashed} prefers device {} because {reason}.",
            used.display()
        );
        drop.extend(
            idx.iter()
                .enumerate()
                .filter(|(k, _)| *k != best)
                .map(|(_, &i)| i),
        );
        scan.duplicates.push(Duplicate {
            uuid: dashed,
            used,
            unused,
            reason,
        });
    }
    drop.sort_unstable();
    for i in drop.into_iter().rev() {
        scan.pvs.remove(i);
    }
    Ok(scan)
}

/// The VG name and seqno at the head of a metadata text, without a full parse.
pub(crate) fn peek(text: &str) -> Option<(&str, u64)> {
    let name = text.split_whitespace().next()?;
    let seq = text
        .lines()
        .take(8)
        .find_map(|l| l.trim().strip_prefix("seqno = "))
        .and_then(|s| s.trim().parse().ok())?;
    Some((name, seq))
}

impl Scan {
    /// The PV device at index `i` (an index of [`VgRead::devs`] or [`Scan::device_index`]).
    pub(crate) fn pv(&self, i: usize) -> &PvDev {
        &self.pvs[i]
    }

    /// Whether a PV of `vg` was seen on more than one device.
    pub fn has_duplicates(&self, vg: &VolumeGroup) -> bool {
        let bare = |u: &str| u.replace('-', "");
        self.duplicates
            .iter()
            .any(|d| vg.pvs.iter().any(|p| bare(&p.id) == bare(&d.uuid)))
    }

    /// Names of the VGs whose metadata the scan saw, sorted.
    pub fn vg_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .pvs
            .iter()
            .flat_map(|p| p.mdas.iter())
            .filter_map(|m| m.res.as_ref().ok()?.committed.as_ref())
            .filter_map(|t| peek(&t.text).map(|(n, _)| n.to_string()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// [`Scan::read_vg`] of a VG known to exist (a caller that holds its lockspace or has
    /// LVs of it active): not found in any readable copy while devices fail I/O is
    /// [`OpError::NoMetadataReadable`], not "not found". (Without that knowledge a disk
    /// failing I/O says nothing of which VG it held.)
    pub(crate) fn read_known_vg(&self, name: &str) -> Result<VgRead> {
        match self.read_vg(name) {
            Err(e @ (OpError::VgNotFound { .. } | OpError::NoValidCopy { .. })) => {
                let mut failed: Vec<(PathBuf, String)> = self
                    .damaged
                    .iter()
                    .filter(|(_, e)| matches!(e, OnDiskError::Io { .. }))
                    .map(|(p, e)| (p.clone(), e.to_string()))
                    .collect();
                for p in &self.pvs {
                    for m in &p.mdas {
                        if let Err(e @ OnDiskError::Io { .. }) = &m.res {
                            failed.push((p.path.clone(), e.to_string()));
                        }
                    }
                }
                if failed.is_empty() {
                    return Err(e);
                }
                let first = failed[0].1.clone();
                let mut paths: Vec<PathBuf> = failed.into_iter().map(|f| f.0).collect();
                paths.dedup();
                Err(OpError::NoMetadataReadable {
                    vg: name.into(),
                    failed: paths,
                    first,
                })
            }
            r => r,
        }
    }

    /// Reads VG `name` from the newest valid copy; other copies are classified.
    pub(crate) fn read_vg(&self, name: &str) -> Result<VgRead> {
        let mut best: Option<(u64, &str, usize)> = None;
        let mut damaged: Vec<(usize, PathBuf, DiskLocn, String)> = Vec::new();
        for (i, p) in self.pvs.iter().enumerate() {
            for m in &p.mdas {
                match &m.res {
                    Ok(c) => {
                        if let Some(t) = &c.committed {
                            if let Some((n, seq)) = peek(&t.text) {
                                if n == name && best.is_none_or(|b| seq > b.0) {
                                    best = Some((seq, &t.text, i));
                                }
                            }
                        }
                    }
                    Err(e) => damaged.push((i, p.path.clone(), m.area, e.to_string())),
                }
            }
        }
        let Some((seq, text, _)) = best else {
            if !damaged.is_empty() {
                let reasons = damaged
                    .iter()
                    .map(|d| d.3.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(OpError::NoValidCopy {
                    vg: name.into(),
                    reasons,
                });
            }
            return Err(OpError::VgNotFound { vg: name.into() });
        };
        let vg = match crate::memo::take(text) {
            Some(vg) => {
                log::debug!("VG {name}: metadata text (seqno {seq}) as parsed before");
                vg
            }
            None => {
                let vg = crate::memo::parse(text).map_err(|e| match e {
                    crate::memo::TextError::Parse(err) => OpError::Parse {
                        what: format!("VG {name}"),
                        err,
                    },
                    crate::memo::TextError::Model(what) => VgError::Malformed {
                        vg: name.into(),
                        what,
                    }
                    .into(),
                })?;
                crate::memo::report(crate::memo::Report::Vg(text));
                vg
            }
        };
        let mut devs = HashMap::new();
        for pv in &vg.pvs {
            if let Some(i) = self.device_index(pv) {
                devs.insert(pv.name.clone(), i);
            }
        }
        let mut copies = Vec::new();
        for &i in devs.values() {
            let p = &self.pvs[i];
            for m in &p.mdas {
                let state = match &m.res {
                    Ok(c) => match &c.committed {
                        None => {
                            if c.header.committed().is_ignored() {
                                continue;
                            }
                            CopyState::Empty
                        }
                        Some(t) => match peek(&t.text) {
                            Some((n, s)) if n == name && s == seq && t.text == text => {
                                CopyState::Current
                            }
                            Some((_, s)) => CopyState::Stale { seqno: s },
                            None => CopyState::Damaged {
                                what: "unreadable text".into(),
                            },
                        },
                    },
                    Err(e) => CopyState::Damaged {
                        what: e.to_string(),
                    },
                };
                copies.push(CopyInfo {
                    path: p.path.clone(),
                    area: m.area,
                    state,
                });
            }
        }
        copies.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(VgRead {
            vg,
            devs,
            copies,
            lock_skipped: None,
        })
    }

    pub fn pv_by_path(&self, path: &Path) -> Option<(usize, &PvDev)> {
        self.pvs.iter().enumerate().find(|(_, p)| p.path == path)
    }

    /// The scanned device holding a VG's PV (matched by PV UUID).
    pub fn device_index(&self, pv: &PhysicalVolume) -> Option<usize> {
        let raw = lvm_uuid::strip_dashes(&pv.id).ok()?;
        self.pvs.iter().position(|d| d.label.pv_uuid == raw)
    }
}

/// A model operation's result with its error in lvm2's words.
pub(crate) fn in_model<T>(vgname: &str, r: std::result::Result<T, ModelError>) -> Result<T> {
    r.map_err(|e| model_error(vgname, e))
}

/// The model's errors in lvm2's words (the messages scripts and tests look for).
pub(crate) fn model_error(vgname: &str, e: ModelError) -> OpError {
    let vg = vgname.to_string();
    match e {
        ModelError::NameClash { name } => VgError::LvExists { vg, lv: name }.into(),
        ModelError::NoSuchLv { name } => VgError::NoSuchLv { vg, lv: name }.into(),
        ModelError::NotEnoughSpace { needed, free } => VgError::NoSpace {
            vg,
            needed: needed.0,
            free: free.0,
        }
        .into(),
        ModelError::NoMirrorLogSpace { needed, free } => VgError::MirrorLogShort {
            needed: needed.0,
            free: free.0,
        }
        .into(),
        ModelError::NotEnoughPvs {
            needed,
            available,
            what,
        } => VgError::NotEnoughPvs {
            vg,
            what: what.into(),
            needed,
            found: available,
        }
        .into(),
        ModelError::NoSuchPv { name } => VgError::NoSuchPv { vg, pv: name }.into(),
        ModelError::InvalidName { name, reason } => VgError::BadName {
            name,
            why: reason.into(),
        }
        .into(),
        ModelError::SubVolume { name, parent } => VgError::Unsupported {
            vg,
            lv: name,
            what: format!("hidden sub-volume of {parent}; act on {parent} instead"),
        }
        .into(),
        ModelError::PvInUse { pv, .. } => VgError::PvInUse { vg, pv }.into(),
        other => OpError::VgModel { vg, source: other },
    }
}

/// Text of a VG as lvm2 writes it into metadata areas: the model's text with a fresh trailer
/// shaped like lvm2's (the `# Generated by` line, the uname and ctime comments; lvm2 leaves the
/// description empty in metadata areas and fills it in backup files only). `size_hint` is the
/// length expected (the committed copy's, 0 if unknown): the text of a big VG is then written
/// into one allocation, which also has room for what [`commit_text`] appends to it.
pub fn metadata_text(vg: &VolumeGroup, host: &str, now: i64, size_hint: usize) -> String {
    let trailer = model::Trailer::new("", host, now, uname().as_deref());
    // An edit adds a few hundred bytes per LV it creates; the NUL and padding follow.
    let slack = size_hint / 16 + 4096 + mda::TEXT_ALIGNMENT as usize;
    let mut text = String::with_capacity(size_hint + slack);
    vg.write_metadata(&trailer, &mut text);
    text
}

/// Length of the longest committed text on `vg`'s present PVs (the copy an update replaces).
pub(crate) fn committed_len(scan: &Scan, vg: &VolumeGroup) -> usize {
    vg.pvs
        .iter()
        .filter_map(|pv| scan.device_index(pv))
        .flat_map(|i| &scan.pvs[i].mdas)
        .filter_map(|m| m.res.as_ref().ok()?.committed.as_ref())
        .map(|t| t.text.len())
        .max()
        .unwrap_or(0)
}

/// What lvm2 writes after `creation_host` (`uname -snrvm`): one uname(2), as lvm2 asks
/// (four /proc files cost twelve syscalls); None if it fails.
pub(crate) fn uname() -> Option<String> {
    let u = nix::sys::utsname::uname().ok()?;
    Some(format!(
        "{} {} {} {} {}",
        u.sysname().to_string_lossy(),
        u.nodename().to_string_lossy(),
        u.release().to_string_lossy(),
        u.version().to_string_lossy(),
        u.machine().to_string_lossy()
    ))
}

#[cfg(test)]
mod uname_tests {
    /// The fields in `uname -snrvm`'s order, as the kernel's /proc names them.
    #[test]
    fn uname_is_sysname_nodename_release_version_machine() {
        let k = |f: &str| {
            std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
                .unwrap()
                .trim()
                .to_string()
        };
        let want = format!(
            "{} {} {} {} {}",
            k("ostype"),
            k("hostname"),
            k("osrelease"),
            k("version"),
            std::env::consts::ARCH
        );
        assert_eq!(super::uname().as_deref(), Some(want.as_str()));
    }
}

/// The wall clock that stamps metadata, defined beside `timespec::Clock` so the time parser
/// imports nothing of the operations layer.
pub(crate) use crate::timespec::now;

/// Hook between the two commit phases (crash tests stop here).
pub(crate) type Between<'a> = &'a mut dyn FnMut() -> std::io::Result<()>;

/// Writes `vg` (its seqno already set) to every metadata area of `targets` through
/// [`MetadataStore::prepare_image`] (text and precommitted slot everywhere), then commits
/// (slot 0 everywhere); a failure in between reverts. Nothing is written when the text does
/// not fit an area. `text` is taken over as the buffer written to the areas.
pub(crate) fn commit_text(
    vg_name: &str,
    targets: &[(Arc<dyn BlockDev>, DiskLocn)],
    text: String,
    between: Option<Between<'_>>,
) -> Result<()> {
    let needed = text.len() as u64 + 1;
    let mut damaged = Vec::new();
    for (dev, area) in targets {
        let available = match mda::read_mda_header(dev.as_ref(), *area) {
            Ok(h) if h.committed().is_ignored() => continue,
            Ok(h) => h.max_text_size().0,
            Err(_) => {
                damaged.push((dev, *area));
                mda::max_text_size(area.size.0)
            }
        };
        if needed > available {
            return Err(OpError::TooLarge {
                vg: vg_name.into(),
                path: dev.path().to_path_buf(),
                needed,
                available,
            });
        }
    }
    // A damaged header holds nothing readable: start it afresh (as lvm2's
    // `vgck --updatemetadata` does) so the store can write the new copy there.
    for (dev, area) in damaged {
        mda::format_mda(dev.as_ref(), area)?;
    }
    let image = mda::TextImage::new(text)?;
    // Either phase failing on every area (precommit, or the commit headers) leaves every
    // committed copy the old one: the metadata-loss policy's case.
    let no_copy = |e: OnDiskError| match e {
        OnDiskError::NoCopyWritten {
            areas,
            failed,
            first,
        } => OpError::NoMetadataCopy {
            vg: vg_name.into(),
            areas,
            failed,
            first: first.to_string(),
        },
        e => e.into(),
    };
    let pending = MetadataStore::prepare_image(targets.to_vec(), &image).map_err(no_copy)?;
    if let Some(f) = between {
        if let Err(e) = f() {
            let reverted = pending.revert();
            return Err(OpError::CommitInterrupted {
                source: e,
                revert: reverted.err(),
            });
        }
    }
    pending.commit().map_err(no_copy)?;
    Ok(())
}

/// Sets or clears the "PV is used by a VG" flag of the label extension, as lvm2 does when a PV
/// joins or leaves a VG (lvm2 warns about PVs in a VG without it).
pub(crate) fn set_used(d: &PvDev, used: bool) -> Result<()> {
    let mut l = d.label.clone();
    let ext = l.extension.get_or_insert(PvHeaderExt {
        version: label::PV_HEADER_EXTENSION_VSN,
        flags: 0,
        bootloader_areas: vec![],
    });
    let want = if used {
        ext.flags | label::PV_EXT_USED
    } else {
        ext.flags & !label::PV_EXT_USED
    };
    if want != ext.flags {
        ext.flags = want;
        label::write_label(d.dev.as_ref(), &l)?;
    }
    Ok(())
}

/// All metadata areas of the VG's PVs that are present, in PV order.
pub(crate) fn targets(scan: &Scan, vg: &VolumeGroup) -> Vec<(Arc<dyn BlockDev>, DiskLocn)> {
    let mut out = Vec::new();
    for pv in &vg.pvs {
        if let Some(i) = scan.device_index(pv) {
            let p = &scan.pvs[i];
            for a in &p.label.metadata_areas {
                out.push((p.dev.clone(), *a));
            }
        }
    }
    out
}

pub struct Ctx<'a> {
    pub env: &'a Env,
}

impl Ctx<'_> {
    /// New LVs allocated from `pvs` (None: any PV) by this host, now.
    pub(crate) fn allocation(&self, pvs: Option<Vec<String>>) -> lvmeta_model::Allocation {
        let (creation_time, creation_host) = self.creation();
        lvmeta_model::Allocation {
            pvs,
            region_size: None,
            creation_time,
            creation_host,
        }
    }

    /// The creation stamp of an LV made now by this host (`creation_time`, `creation_host`).
    pub(crate) fn creation(&self) -> (Option<i64>, Option<String>) {
        (Some(now()), Some(self.env.host.clone()))
    }

    pub(crate) fn check_owner(&self, vg: &VolumeGroup, override_foreign: bool) -> Result<()> {
        if let Some(sid) = vg.system_id.as_ref().filter(|s| !s.is_empty()) {
            let local = self.env.system_id.clone().unwrap_or_default();
            if *sid != local && !override_foreign {
                return Err(OpError::Foreign {
                    vg: vg.name.clone(),
                    system_id: sid.clone(),
                    local: if local.is_empty() {
                        "(none)".into()
                    } else {
                        local
                    },
                });
            }
        }
        Ok(())
    }

    /// Read-modify-commit of one VG through the transaction driver ([`Ctx::modify_vg`]):
    /// `f` gets the VG as read, the scan and the present PVs (key -> index into
    /// `Scan::pvs`).
    pub fn modify<F>(&self, name: &str, override_foreign: bool, f: F) -> Result<VolumeGroup>
    where
        F: FnOnce(&mut VolumeGroup, &Scan, &PvIndex) -> Result<()>,
    {
        let opts = crate::txn::WriteOpts {
            override_foreign,
            ..crate::txn::WriteOpts::default()
        };
        let done = self.modify_vg(name, &opts, |t| f(&mut t.vg, t.scan, &t.devs))?;
        Ok(done.vg)
    }
}

/// With `majority`, more than half of the PVs present is enough (lvm2 --majoritypvs):
/// the commit then reaches the present PVs only, and the others come back stale.
pub(crate) fn check_complete(r: &VgRead, majority: bool) -> Result<()> {
    let missing = r.missing();
    if majority && !missing.is_empty() {
        let total = r.vg.pvs.len();
        let present = total - missing.len();
        let needed = total / 2 + 1;
        if present < needed {
            return Err(OpError::NoMajority {
                vg: r.vg.name.clone(),
                present,
                total,
                needed,
            });
        }
        return Ok(());
    }
    if let Some(p) = missing.first() {
        return Err(OpError::MissingPv {
            vg: r.vg.name.clone(),
            uuid: p.id.clone(),
            device: last_seen(p),
        });
    }
    Ok(())
}

/// The copies of a VG that are not current and the PVs that are missing; with `hint`, each
/// copy finding says how to repair it.
pub(crate) fn copy_findings(r: &VgRead, hint: bool) -> Vec<VgFinding> {
    let vg = &r.vg.name;
    let mut out = Vec::new();
    if let Some(why) = &r.lock_skipped {
        out.push(VgFinding::LockSkipped {
            vg: vg.clone(),
            why: why.clone(),
        });
        out.push(VgFinding::ReadWithoutLock { vg: vg.clone() });
    }
    for c in r.stale_copies() {
        out.push(VgFinding::CopyNotCurrent {
            vg: vg.clone(),
            path: c.path.clone(),
            offset: c.area.offset.0,
            state: c.state.clone(),
            newest: r.vg.seqno,
            hint,
        });
    }
    for p in r.missing() {
        out.push(VgFinding::MissingPv {
            vg: vg.clone(),
            uuid: p.id.clone(),
            last_seen: last_seen(p),
        });
    }
    for p in r.vg.pvs.iter().filter(|p| r.devs.contains_key(&p.name)) {
        if p.is_missing() {
            out.push(VgFinding::MarkedMissing {
                vg: vg.clone(),
                uuid: p.id.clone(),
                device: last_seen(p),
            });
        }
    }
    out
}

/// Devices smaller than the PV recorded on them (`dev_size` in the metadata): the device
/// shrank under the PV, and extents past its end are gone.
pub(crate) fn size_findings(sc: &Scan, r: &VgRead) -> Vec<VgFinding> {
    let mut out = Vec::new();
    for p in &r.vg.pvs {
        let Some(&i) = r.devs.get(&p.name) else {
            continue;
        };
        let d = &sc.pvs[i];
        let Ok(size) = d.dev.size() else { continue };
        let have = size.0 / 512;
        if have < p.dev_size.0 {
            out.push(VgFinding::DeviceShrunk {
                path: d.path.clone(),
                sectors: have,
                pv_sectors: p.dev_size.0,
            });
        }
    }
    if !out.is_empty() {
        out.push(VgFinding::SizesChanged {
            vg: r.vg.name.clone(),
        });
    }
    out
}

/// Used extents per PV key (PVs without any are absent).
pub(crate) fn used_extents(vg: &VolumeGroup) -> HashMap<String, u64> {
    vg.pv_free_extents()
        .into_iter()
        .filter_map(|(key, free)| {
            let total = vg.pv(&key)?.pe_count.0;
            Some((key, total.saturating_sub(free.0))).filter(|(_, used)| *used > 0)
        })
        .collect()
}

/// Which VG a PV's own metadata names (None: orphan). Other VGs are read from the scan
/// without their locks, under the global lock the callers hold (pvcreate, pvremove, vgcreate,
/// vgextend, vgcfgrestore), as lvm2 answers from lvmcache after its label scan under
/// `lock_global` (`_pvcreate_check_used`, `vg_extend_each_pv`, `backup_restore_vg`).
pub(crate) fn pv_vg_name(sc: &Scan, d: &PvDev) -> Option<String> {
    for m in &d.mdas {
        if let Ok(c) = &m.res {
            if let Some(t) = &c.committed {
                return peek(&t.text).map(|x| x.0.to_string());
            }
        }
    }
    // A PV without metadata areas belongs to whatever VG lists its UUID.
    let dashed = d.uuid_dashed();
    for n in sc.vg_names() {
        if let Ok(r) = sc.read_vg(&n) {
            if r.vg.pvs.iter().any(|p| p.id == dashed) {
                return Some(n);
            }
        }
    }
    None
}

/// The PV keys of `paths` (None: no PVs named, any may be used).
pub(crate) fn pv_keys(
    sc: &Scan,
    vgname: &str,
    devs: &PvIndex,
    paths: &[PathBuf],
) -> Result<Option<Vec<String>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let keys = paths.iter().map(|p| pv_key(sc, vgname, devs, p));
    keys.collect::<Result<_>>().map(Some)
}

/// The key (`pv0`...) of the PV at `path` in VG `vgname`.
pub(crate) fn pv_key(sc: &Scan, vgname: &str, devs: &PvIndex, path: &Path) -> Result<String> {
    let key = devs
        .iter()
        .find(|(_, &i)| sc.pvs[i].path == path)
        .map(|(k, _)| k.clone())
        .ok_or_else(|| VgError::NoSuchPv {
            vg: vgname.to_string(),
            pv: path.display().to_string(),
        })?;
    Ok(key)
}

/// lvm2 builds a command line's PV list from PVs with free extents only (`create_pv_list`)
/// and refuses an empty one.
pub(crate) fn check_listed_free(vg: &VolumeGroup, keys: Option<&[String]>) -> Result<()> {
    let Some(keys) = keys else { return Ok(()) };
    let free = vg.pv_free_extents();
    if keys.iter().all(|k| {
        free.iter()
            .find(|(n, _)| n == k)
            .is_none_or(|(_, f)| f.0 == 0)
    }) {
        return Err(OpError::NoSpecifiedPvSpace);
    }
    Ok(())
}

pub(crate) fn check_tag(t: &str) -> Result<()> {
    if t.is_empty()
        || t.len() > 1024
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+_.-/=!:&#".contains(c))
    {
        return Err(OpError::InvalidArg(format!("invalid tag {t:?}")));
    }
    Ok(())
}

mod backup;
pub(crate) mod carry;
mod check;
mod lv;
mod pv;
mod report;
pub mod shared;
mod vg;
pub mod wipe;

pub use backup::{backup_text, BackupFile, LvmBackups, VgcfgOptions};
pub use check::{PvFinding, VgFinding, VgckOptions};
pub use lv::{
    ImagesRemoved, LogReplaced, LvCreated, LvcreateOptions, LvremoveOptions, LvrenameOptions,
    LvresizeOptions, ResizeDir, Resized, SizeArg,
};
pub use pv::{PvckOptions, PvcreateOptions, PvremoveOptions};
pub use report::{ReportWarning, Selection};
pub use shared::VgLockTypeOptions;
pub use vg::{
    LvchangeTagsOptions, VgReduced, VgchangeOptions, VgcreateOptions, VgextendOptions,
    VgreduceOptions, VgremoveOptions, VgrenameOptions,
};

#[cfg(test)]
mod wording {
    use super::*;

    /// The typed errors' `Display` is a plain description naming their fields (lvm2's words
    /// are lvmeta-cli's: `lvmeta_cli::wording`), and their exit code lvm's ECMD_FAILED.
    #[test]
    fn typed_errors_say_what_they_are() {
        let (vg, lv, p) = (
            String::from("vg"),
            String::from("m"),
            PathBuf::from("/dev/sdb"),
        );
        let cases: Vec<(OpError, &str)> =
            vec![
            (OpError::NoSpecifiedPvSpace, "none of the PVs given has free extents"),
            (
                OpError::CommitInterrupted {
                    source: std::io::Error::other("cut"),
                    revert: None,
                },
                "commit interrupted: cut",
            ),
            (
                OpError::PvTooSmall { path: p.clone() },
                "/dev/sdb: too small for one extent",
            ),
            (
                OpError::PvTooSmallForMda {
                    path: p.clone(),
                    size: 100,
                    mda_size: 20,
                },
                "/dev/sdb: device of 100 bytes is too small for a PV with a 20 byte metadata area",
            ),
            (
                OpError::UuidNotInBackup {
                    uuid: "u".into(),
                    file: "/etc/lvm/backup/vg".into(),
                },
                "PV UUID u not in backup file /etc/lvm/backup/vg",
            ),
            (
                OpError::NotMarkedMissing {
                    vg: vg.clone(),
                    path: p.clone(),
                },
                "PV /dev/sdb of VG vg is not marked missing",
            ),
            (
                OpError::FinalPv {
                    vg: vg.clone(),
                    path: p.clone(),
                },
                "/dev/sdb is the last PV of VG vg: not removed",
            ),
            (
                OpError::PartialLvs {
                    vg: vg.clone(),
                    lvs: vec!["a".into(), "b".into()],
                },
                "VG vg has partial LVs (a, b): repair or remove them, or force",
            ),
            (
                OpError::RegionTooBig {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "LV vg/m: mirror region size larger than the LV",
            ),
            (
                OpError::LogWipe {
                    why: LvStartError::PvMissing { pv: "pv1".into() },
                },
                "cannot wipe the new mirror log: pv1 is missing",
            ),
            (
                OpError::MetaInit {
                    vg: vg.clone(),
                    lv: "r_rmeta_1".into(),
                    why: LvStartError::NoExtents {
                        lv: "r_rmeta_1".into(),
                    },
                },
                "cannot clear vg/r_rmeta_1: r_rmeta_1 has no extents on a PV",
            ),
            (
                OpError::CannotReduce {
                    lv: lv.clone(),
                    have: 2,
                    raid1: false,
                },
                "LV m has 2 images: cannot remove that many",
            ),
            (
                OpError::CannotReduce {
                    lv: lv.clone(),
                    have: 2,
                    raid1: true,
                },
                "LV m has 2 images: cannot remove that many",
            ),
            (
                OpError::PrimaryImage {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    raid1: true,
                    sync_known: true,
                },
                "LV vg/m: not removing the primary image of a copy not known to be in sync",
            ),
            (
                OpError::PrimaryImage {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    raid1: false,
                    sync_known: false,
                },
                "LV vg/m: not removing the primary image of a copy not known to be in sync",
            ),
            (
                OpError::PrimaryImage {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    raid1: false,
                    sync_known: true,
                },
                "LV vg/m: not removing the primary image of a copy not known to be in sync",
            ),
            (
                OpError::ReplaceNotInSync {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    sync_known: false,
                },
                "LV vg/m is not known to be in sync: images not replaced",
            ),
            (
                OpError::ReplaceNotInSync {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    sync_known: true,
                },
                "LV vg/m is not known to be in sync: images not replaced",
            ),
            (
                OpError::AllocAndFree,
                "cannot both allocate and free extents on the PVs given in one step",
            ),
            (
                OpError::MustBeActive {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "LV vg/m must be active",
            ),
            (
                OpError::NotPermitted {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "command not permitted on LV vg/m",
            ),
            (
                OpError::LogOptionOnRaid,
                "--corelog and --mirrorlog apply to mirror LVs only",
            ),
            (
                OpError::MirrorRaidConversion {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "vg/m: converting between mirror and raid1 is not supported by lvmeta",
            ),
            (OpError::MirrorLogAlloc, "no room for the mirror log"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want, "{e:?}");
            assert_eq!(e.exit_code(), 5, "{e:?}");
        }
        let (v, model) = (vg.clone(), ModelError::NoSuchLv { name: lv.clone() });
        assert_eq!(OpError::Model(model.clone()).to_string(), model.to_string());
        assert_eq!(
            OpError::VgModel {
                vg: v.clone(),
                source: model.clone()
            }
            .to_string(),
            format!("VG {v}: {model}")
        );
        assert_eq!(
            OpError::MirrorAlloc(model.clone()).to_string(),
            format!("cannot allocate the mirror images: {model}")
        );
        let revert = OnDiskError::Io {
            path: p.clone(),
            offset: Bytes(0),
            source: std::io::Error::other("gone"),
        };
        let shown = revert.to_string();
        assert_eq!(
            OpError::CommitInterrupted {
                source: std::io::Error::other("cut"),
                revert: Some(revert),
            }
            .to_string(),
            format!("commit interrupted: cut; withdrawing the prepared copies failed too: {shown}")
        );
    }
}
