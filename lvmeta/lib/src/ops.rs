//! The commands: device scanning, reading a VG from the newest valid copy, the two-phase
//! commit over every metadata area, and pv*/vg*/lv* operations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::filter::DeviceFilter;
use crate::lock::{LockError, LockManager, LockMode};
use crate::report::{self, Cell, FieldDef, FieldType, ReportKind};
use lvmeta_model::{
    self as model, LogicalVolume, ModelError, PhysicalVolume, Segment, SegmentKind, VolumeGroup,
};
use lvmeta_ondisk::dev::{BlockDev, FileDev};
use lvmeta_ondisk::label::{self, DiskLocn, PvHeaderExt, PvLabel};
use lvmeta_ondisk::mda;
use lvmeta_ondisk::pv::{self, FormatOptions};
use lvmeta_ondisk::store::MetadataStore;
use lvmeta_ondisk::units::Bytes;
pub use lvmeta_ondisk::units::{Extents, Sectors};
use lvmeta_ondisk::OnDiskError;

pub use lvmeta_model::{Layout, MirrorLog};

/// What was wrong with a VG, an LV or a name, in lvm2's words (scripts look for them).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VgError {
    #[error("metadata of VG {vg}: {what}")]
    Malformed { vg: String, what: String },
    #[error("Logical Volume \"{lv}\" already exists in volume group \"{vg}\"")]
    LvExists { vg: String, lv: String },
    #[error("Failed to find logical volume \"{vg}/{lv}\"")]
    NoSuchLv { vg: String, lv: String },
    #[error(
        "Insufficient free space in VG {vg}: {needed} extents needed, but only {free} available"
    )]
    NoSpace { vg: String, needed: u64, free: u64 },
    #[error("VG {vg}: {needed} PVs with free space needed for {what}, only {found} usable")]
    NotEnoughPvs {
        vg: String,
        what: String,
        needed: usize,
        found: usize,
    },
    #[error("Physical volume {pv} is not in VG {vg}")]
    NoSuchPv { vg: String, pv: String },
    #[error("invalid name {name:?}: {why}")]
    BadName { name: String, why: String },
    #[error("LV {vg}/{lv}: {what}")]
    Unsupported {
        vg: String,
        lv: String,
        what: String,
    },
    #[error("Physical volume {pv} still in use in VG {vg}")]
    PvInUse { vg: String, pv: String },
}

/// Errors of the commands; the binary maps them to lvm's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    OnDisk(#[from] OnDiskError),
    #[error(transparent)]
    Vg(#[from] VgError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error("Volume group \"{vg}\" not found")]
    VgNotFound { vg: String },
    #[error("Cannot access device {}: {source}", path.display())]
    Device {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Device {} has a damaged PV label: {source}", path.display())]
    BadLabel { path: PathBuf, source: OnDiskError },
    #[error("Duplicate PV UUID {uuid} on {} and {}", first.display(), second.display())]
    DuplicatePv {
        uuid: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("No physical volume label read from {}", path.display())]
    NotAPv { path: PathBuf },
    #[error("Physical volume '{}' is already in volume group '{vg}'", path.display())]
    PvInVg { path: PathBuf, vg: String },
    #[error("Can't initialize physical volume \"{}\": it already has a PV label (use -f)", path.display())]
    AlreadyPv { path: PathBuf },
    #[error("A volume group called {vg} already exists.")]
    VgExists { vg: String },
    #[error("VG {vg} is missing PV {uuid} (last seen on {device}); refusing to change it")]
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
    #[error("Cannot access VG {vg} with system ID {system_id} with local system ID {local}.")]
    Foreign {
        vg: String,
        system_id: String,
        local: String,
    },
    #[error(
        "Volume group \"{vg}\" not found in any valid metadata copy; damaged copies: {reasons}"
    )]
    NoValidCopy { vg: String, reasons: String },
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
    #[error("Volume group \"{vg}\" still contains {lvs} logical volume(s) (use -f)")]
    VgNotEmpty { vg: String, lvs: usize },
    #[error("{0}")]
    Failed(String),
    /// A size lvm2 refuses (zero, unchanged, below one extent ...).
    #[error(transparent)]
    Size(#[from] model::sizing::SizeError),
    #[error(transparent)]
    FullName(#[from] model::names::FullNameTooLong),
    #[error("Old and new volume group names must differ")]
    SameVgName,
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

/// Opens a device by path.
pub type OpenFn = Box<dyn Fn(&Path) -> std::io::Result<Arc<dyn BlockDev>> + Send + Sync>;

/// Where devices come from and how to lock; built by the binary from flags and config.
pub struct Env {
    /// `--devices`: exactly these, no scanning.
    pub devices: Option<Vec<PathBuf>>,
    pub filter: DeviceFilter,
    /// Extra places to scan (directories of block devices or image files, or files).
    pub scan: Vec<PathBuf>,
    pub locks: Arc<dyn LockManager>,
    /// This host's system ID; VGs with another one are foreign.
    pub system_id: Option<String>,
    pub host: String,
    /// Opens a device (tests substitute in-memory devices).
    pub open: OpenFn,
}

impl Env {
    pub fn file_open(path: &Path) -> std::io::Result<Arc<dyn BlockDev>> {
        match FileDev::open(path) {
            Ok(d) => Ok(Arc::new(d)),
            Err(_) => Ok(Arc::new(FileDev::open_read_only(path)?)),
        }
    }
}

/// One metadata area as read.
pub struct MdaRead {
    pub area: DiskLocn,
    pub res: Result<mda::MdaContents, OnDiskError>,
}

/// A device with a PV label.
pub struct PvDev {
    pub path: PathBuf,
    pub dev: Arc<dyn BlockDev>,
    pub label: PvLabel,
    pub mdas: Vec<MdaRead>,
}

impl PvDev {
    pub fn uuid_dashed(&self) -> String {
        crate::uuid::with_dashes(&self.label.pv_uuid)
    }
    pub fn pe_start_sectors(&self) -> u64 {
        self.label
            .data_areas
            .first()
            .map(|d| d.offset.0 / 512)
            .unwrap_or(2048)
    }
}

/// Everything a scan found.
#[derive(Default)]
pub struct Scan {
    pub pvs: Vec<PvDev>,
    pub unlabelled: Vec<PathBuf>,
    pub damaged: Vec<(PathBuf, OnDiskError)>,
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
fn last_seen(p: &PhysicalVolume) -> String {
    p.device.clone().unwrap_or_else(|| "[unknown]".into())
}

fn candidates(env: &Env) -> Vec<PathBuf> {
    if let Some(d) = &env.devices {
        return dedup_same_device(d.clone());
    }
    let mut out = Vec::new();
    if let Ok(parts) = std::fs::read_to_string("/proc/partitions") {
        for line in parts.lines().skip(2) {
            if let Some(name) = line.split_whitespace().nth(3) {
                let p = PathBuf::from(format!("/dev/{name}"));
                let s = name;
                let usual = [
                    "sd", "vd", "hd", "xvd", "nvme", "loop", "md", "mmcblk", "dasd",
                ]
                .iter()
                .any(|pre| s.starts_with(pre));
                if usual {
                    out.push(p);
                }
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
    dedup_same_device(out)
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

/// Reads labels and metadata areas of every candidate device, once each.
pub fn scan(env: &Env) -> Result<Scan> {
    let explicit = env.devices.is_some();
    let mut scan = Scan::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for path in candidates(env) {
        let dev = match (env.open)(&path) {
            Ok(d) => d,
            Err(source) if explicit => return Err(OpError::Device { path, source }),
            Err(_) => continue,
        };
        match label::read_label(dev.as_ref()) {
            Ok(None) => scan.unlabelled.push(path),
            Ok(Some(l)) => {
                if let Some(first) = seen.get(&l.pv_uuid) {
                    return Err(OpError::DuplicatePv {
                        uuid: crate::uuid::with_dashes(&l.pv_uuid),
                        first: first.clone(),
                        second: path,
                    });
                }
                seen.insert(l.pv_uuid.clone(), path.clone());
                let mdas = l
                    .metadata_areas
                    .iter()
                    .map(|a| MdaRead {
                        area: *a,
                        res: mda::read_mda(dev.as_ref(), *a),
                    })
                    .collect();
                scan.pvs.push(PvDev {
                    path,
                    dev,
                    label: l,
                    mdas,
                });
            }
            Err(e) => scan.damaged.push((path, e)),
        }
    }
    Ok(scan)
}

/// The VG name and seqno at the head of a metadata text, without a full parse.
fn peek(text: &str) -> Option<(&str, u64)> {
    let name = text.split_whitespace().next()?;
    let seq = text
        .lines()
        .take(8)
        .find_map(|l| l.trim().strip_prefix("seqno = "))
        .and_then(|s| s.trim().parse().ok())?;
    Some((name, seq))
}

impl Scan {
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

    /// Reads VG `name` from the newest valid copy; other copies are classified.
    pub fn read_vg(&self, name: &str) -> Result<VgRead> {
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
        let doc = lvmeta_text::parse(text).map_err(|err| OpError::Parse {
            what: format!("VG {name}"),
            err,
        })?;
        let vg = VolumeGroup::from_metadata(&doc).map_err(|e| VgError::Malformed {
            vg: name.into(),
            what: e.to_string(),
        })?;
        drop(doc);
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
        Ok(VgRead { vg, devs, copies })
    }

    pub fn pv_by_path(&self, path: &Path) -> Option<(usize, &PvDev)> {
        self.pvs.iter().enumerate().find(|(_, p)| p.path == path)
    }

    /// The scanned device holding a VG's PV (matched by PV UUID).
    pub fn device_index(&self, pv: &PhysicalVolume) -> Option<usize> {
        let raw = crate::uuid::without_dashes(&pv.id)?;
        self.pvs.iter().position(|d| d.label.pv_uuid == raw)
    }
}

/// A model operation's result with its error in lvm2's words.
fn in_model<T>(vgname: &str, r: std::result::Result<T, ModelError>) -> Result<T> {
    r.map_err(|e| model_error(vgname, e))
}

/// The model's errors in lvm2's words (the messages scripts and tests look for).
fn model_error(vgname: &str, e: ModelError) -> OpError {
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
        other => OpError::Failed(format!("VG {vgname}: {other}")),
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
fn committed_len(scan: &Scan, vg: &VolumeGroup) -> usize {
    vg.pvs
        .iter()
        .filter_map(|pv| scan.device_index(pv))
        .flat_map(|i| &scan.pvs[i].mdas)
        .filter_map(|m| m.res.as_ref().ok()?.committed.as_ref())
        .map(|t| t.text.len())
        .max()
        .unwrap_or(0)
}

/// What lvm2 writes after `creation_host` (`uname -snrvm`), from /proc; None if unreadable.
fn uname() -> Option<String> {
    let k = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .ok()
            .map(|s| s.trim().to_string())
    };
    Some(format!(
        "{} {} {} {} {}",
        k("ostype")?,
        k("hostname")?,
        k("osrelease")?,
        k("version")?,
        std::env::consts::ARCH
    ))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Hook between the two commit phases (crash tests stop here).
pub type Between<'a> = &'a mut dyn FnMut() -> std::io::Result<()>;

/// Writes `vg` (its seqno already set) to every metadata area of `targets` through
/// [`MetadataStore::prepare_image`] (text and precommitted slot everywhere), then commits
/// (slot 0 everywhere); a failure in between reverts. Nothing is written when the text does
/// not fit an area. `text` is taken over as the buffer written to the areas.
pub fn commit_text(
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
    let pending = MetadataStore::prepare_image(targets.to_vec(), &image)?;
    if let Some(f) = between {
        if let Err(e) = f() {
            let reverted = pending.revert();
            return Err(match reverted {
                Ok(()) => OpError::Failed(format!("commit interrupted: {e}")),
                Err(r) => OpError::Failed(format!(
                    "commit interrupted: {e}; withdrawing the prepared copies failed too: {r}"
                )),
            });
        }
    }
    pending.commit()?;
    Ok(())
}

/// Sets or clears the "PV is used by a VG" flag of the label extension, as lvm2 does when a PV
/// joins or leaves a VG (lvm2 warns about PVs in a VG without it).
fn set_used(d: &PvDev, used: bool) -> Result<()> {
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
fn targets(scan: &Scan, vg: &VolumeGroup) -> Vec<(Arc<dyn BlockDev>, DiskLocn)> {
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
    fn check_owner(&self, vg: &VolumeGroup, override_foreign: bool) -> Result<()> {
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

    /// With `majority`, more than half of the PVs present is enough (lvm2 --majoritypvs):
    /// the commit then reaches the present PVs only, and the others come back stale.
    fn check_complete(r: &VgRead, majority: bool) -> Result<()> {
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

    /// Read-modify-write of one VG under its exclusive lock. `f` gets the VG as read, the
    /// scan and the present PVs (key -> index into `Scan::pvs`).
    pub fn modify<F>(&self, name: &str, override_foreign: bool, f: F) -> Result<VolumeGroup>
    where
        F: FnOnce(&mut VolumeGroup, &Scan, &PvIndex) -> Result<()>,
    {
        self.modify_with(name, override_foreign, false, f)
    }

    /// `modify`; with `majority`, also with a minority of PVs missing.
    fn modify_with<F>(
        &self,
        name: &str,
        override_foreign: bool,
        majority: bool,
        f: F,
    ) -> Result<VolumeGroup>
    where
        F: FnOnce(&mut VolumeGroup, &Scan, &PvIndex) -> Result<()>,
    {
        let _lock = self.env.locks.lock_vg(name, LockMode::Exclusive)?;
        let scan = scan(self.env)?;
        let r = scan.read_vg(name)?;
        self.check_owner(&r.vg, override_foreign)?;
        Self::check_complete(&r, majority)?;
        // The VG as read is edited in place (no copy: it may hold thousands of LVs).
        let VgRead { mut vg, devs, .. } = r;
        let seqno = vg.seqno;
        f(&mut vg, &scan, &devs)?;
        vg.seqno = seqno + 1;
        // As lvm2: a PV absent from a write is marked so; when it returns, its older copy
        // is not trusted until `vgextend --restoremissing`.
        for pv in vg.pvs.iter_mut() {
            if !devs.contains_key(&pv.name) && !pv.flags.iter().any(|f| f == model::alloc::MISSING)
            {
                pv.flags.push(model::alloc::MISSING.into());
            }
        }
        self.write_vg(&scan, &mut vg)?;
        Ok(vg)
    }

    /// Records the PVs' current device paths as hints, then commits `vg` to the metadata
    /// areas of its present PVs.
    fn write_vg(&self, scan: &Scan, vg: &mut VolumeGroup) -> Result<()> {
        for p in vg.pvs.iter_mut() {
            if let Some(i) = scan.device_index(p) {
                p.device = Some(scan.pvs[i].path.to_string_lossy().into_owned());
            }
        }
        let text = metadata_text(vg, &self.env.host, now(), committed_len(scan, vg));
        commit_text(&vg.name, &targets(scan, vg), text, None)
    }

    // ---- PV commands ----

    pub fn pvcreate(
        &self,
        paths: &[PathBuf],
        mdasize: Option<u64>,
        uuid: Option<&str>,
        force: bool,
    ) -> Result<Vec<String>> {
        if uuid.is_some() && paths.len() != 1 {
            return Err(OpError::InvalidArg(
                "--uuid needs exactly one device".into(),
            ));
        }
        let raw_uuid = match uuid {
            Some(u) => Some(
                crate::uuid::without_dashes(u)
                    .ok_or_else(|| OpError::InvalidArg(format!("invalid UUID {u:?}")))?,
            ),
            None => None,
        };
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        // Check every device before writing any.
        let mut devs = Vec::new();
        for p in paths {
            let dev = (self.env.open)(p).map_err(|source| OpError::Device {
                path: p.clone(),
                source,
            })?;
            match label::read_label(dev.as_ref()) {
                Ok(Some(l)) => {
                    let vg = sc
                        .pvs
                        .iter()
                        .find(|d| d.label.pv_uuid == l.pv_uuid)
                        .and_then(|d| pv_vg_name(&sc, d));
                    if let Some(vg) = vg {
                        return Err(OpError::PvInVg {
                            path: p.clone(),
                            vg,
                        });
                    }
                    if !force {
                        return Err(OpError::AlreadyPv { path: p.clone() });
                    }
                }
                Ok(None) => {}
                Err(e) if force => {
                    let _ = e;
                }
                Err(source) => {
                    return Err(OpError::BadLabel {
                        path: p.clone(),
                        source,
                    })
                }
            }
            if let Some(u) = &raw_uuid {
                if let Some(d) = sc
                    .pvs
                    .iter()
                    .find(|d| &d.label.pv_uuid == u && d.path != *p)
                {
                    return Err(OpError::DuplicatePv {
                        uuid: crate::uuid::with_dashes(u),
                        first: d.path.clone(),
                        second: p.clone(),
                    });
                }
            }
            let size = dev.size().map_err(|source| OpError::Device {
                path: p.clone(),
                source,
            })?;
            let opts = FormatOptions {
                metadata_size: mdasize.map(Bytes),
                ..FormatOptions::default()
            };
            let (mda_area, pe_start) = pv::plan_layout(size, &opts)
                .map_err(|why| OpError::Failed(format!("{}: {why}", p.display())))?;
            // At least one MiB of data, so the PV holds an extent of the default size.
            if size.0 < pe_start.0 + (1 << 20) {
                return Err(OpError::Failed(format!(
                    "{}: device of {} bytes is too small for a PV with a {} byte metadata area",
                    p.display(),
                    size.0,
                    mda_area.size.0
                )));
            }
            devs.push((p.clone(), dev, opts));
        }
        let mut out = Vec::new();
        for (p, dev, opts) in devs {
            let pv_uuid = raw_uuid.clone().unwrap_or_else(|| {
                crate::uuid::without_dashes(&crate::uuid::generate())
                    .expect("generated ids are valid")
            });
            // lvm2's exact layout and bytes (label sectors zeroed, mda header, label).
            pv::format_pv(dev.as_ref(), &pv_uuid, &opts)?;
            out.push(format!(
                "Physical volume \"{}\" successfully created.",
                p.display()
            ));
        }
        Ok(out)
    }

    pub fn pvremove(&self, paths: &[PathBuf]) -> Result<Vec<String>> {
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        let mut todo = Vec::new();
        for p in paths {
            let dev = (self.env.open)(p).map_err(|source| OpError::Device {
                path: p.clone(),
                source,
            })?;
            let l = match label::read_label(dev.as_ref()) {
                Ok(Some(l)) => l,
                Ok(None) => return Err(OpError::NotAPv { path: p.clone() }),
                Err(source) => {
                    return Err(OpError::BadLabel {
                        path: p.clone(),
                        source,
                    })
                }
            };
            if let Some(vg) = sc
                .pvs
                .iter()
                .find(|d| d.label.pv_uuid == l.pv_uuid)
                .and_then(|d| pv_vg_name(&sc, d))
            {
                return Err(OpError::PvInVg {
                    path: p.clone(),
                    vg,
                });
            }
            todo.push((p, dev));
        }
        let mut out = Vec::new();
        for (p, dev) in todo {
            label::wipe_label(dev.as_ref())?;
            out.push(format!(
                "Labels on physical volume \"{}\" successfully wiped.",
                p.display()
            ));
        }
        Ok(out)
    }

    /// Checks labels and metadata areas; returns (messages, all good).
    pub fn pvck(&self, paths: &[PathBuf]) -> Result<(Vec<String>, bool)> {
        let mut out = Vec::new();
        let mut ok = true;
        for p in paths {
            let dev = (self.env.open)(p).map_err(|source| OpError::Device {
                path: p.clone(),
                source,
            })?;
            match label::read_label(dev.as_ref()) {
                Ok(None) => {
                    out.push(format!("{}: no PV label found", p.display()));
                    ok = false;
                }
                Err(e) => {
                    out.push(format!("{}: damaged label: {e}", p.display()));
                    ok = false;
                }
                Ok(Some(l)) => {
                    out.push(format!(
                        "{}: label ok, PV UUID {}, device size {}",
                        p.display(),
                        crate::uuid::with_dashes(&l.pv_uuid),
                        l.device_size.0
                    ));
                    for a in &l.metadata_areas {
                        match mda::read_mda(dev.as_ref(), *a) {
                            Ok(c) => match c.committed {
                                Some(t) => out.push(format!(
                                    "{}: metadata area at {} ok: {} seqno {} ({} bytes, checksum {:#010x})",
                                    p.display(),
                                    a.offset.0,
                                    peek(&t.text).map(|x| x.0).unwrap_or("?"),
                                    peek(&t.text).map(|x| x.1).unwrap_or(0),
                                    t.locn.size.0,
                                    t.locn.checksum
                                )),
                                None => out.push(format!("{}: metadata area at {} ok, empty", p.display(), a.offset.0)),
                            },
                            Err(e) => {
                                ok = false;
                                out.push(format!("{}: metadata area at {} damaged: {e}", p.display(), a.offset.0));
                            }
                        }
                    }
                }
            }
        }
        Ok((out, ok))
    }

    // ---- VG commands ----

    pub fn vgcreate(
        &self,
        name: &str,
        paths: &[PathBuf],
        extent_size: u64,
        system_id: Option<&str>,
        tags: &[String],
    ) -> Result<String> {
        in_model(name, model::names::validate_vg_name(name))?;
        for t in tags {
            check_tag(t)?;
        }
        let mut vg = VolumeGroup::new(name, Sectors(extent_size))
            .map_err(|e| OpError::InvalidArg(e.to_string()))?;
        vg.system_id = system_id.filter(|s| !s.is_empty()).map(str::to_string);
        vg.tags = tags.to_vec();
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let _l = self.env.locks.lock_vg(name, LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        if sc.vg_names().iter().any(|n| n == name) {
            return Err(OpError::VgExists { vg: name.into() });
        }
        let pvs = self.take_orphans(&sc, paths, extent_size)?;
        for (_, pv) in &pvs {
            in_model(name, vg.add_pv(pv.clone()))?;
        }
        let text = metadata_text(&vg, &self.env.host, now(), 0);
        commit_text(name, &targets(&sc, &vg), text, None)?;
        for (i, _) in &pvs {
            set_used(&sc.pvs[*i], true)?;
        }
        Ok(format!("Volume group \"{name}\" successfully created"))
    }

    /// Orphan PVs for `paths`, as VG entries (with their scan index).
    fn take_orphans(
        &self,
        sc: &Scan,
        paths: &[PathBuf],
        extent_size: u64,
    ) -> Result<Vec<(usize, PhysicalVolume)>> {
        let mut out = Vec::new();
        for p in paths {
            let (i, d) = sc.pv_by_path(p).ok_or_else(|| {
                if let Some((_, e)) = sc.damaged.iter().find(|(dp, _)| dp == p) {
                    OpError::Failed(format!("{}: damaged PV label: {e}", p.display()))
                } else {
                    OpError::NotAPv { path: p.clone() }
                }
            })?;
            if let Some(vg) = pv_vg_name(sc, d) {
                return Err(OpError::PvInVg {
                    path: p.clone(),
                    vg,
                });
            }
            let pe_start = d.pe_start_sectors();
            let dev_size = d.label.device_size.0 / 512;
            let pe_count = dev_size.saturating_sub(pe_start) / extent_size;
            if pe_count == 0 {
                return Err(OpError::Failed(format!(
                    "{}: too small for one extent",
                    p.display()
                )));
            }
            let pv = PhysicalVolume::new(
                &d.label.pv_uuid,
                Some(&p.to_string_lossy()),
                Sectors(dev_size),
                Sectors(pe_start),
                Extents(pe_count),
            )
            .map_err(|e| OpError::Failed(format!("{}: {e}", p.display())))?;
            out.push((i, pv));
        }
        Ok(out)
    }

    pub fn vgextend(&self, name: &str, paths: &[PathBuf]) -> Result<String> {
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let _l = self.env.locks.lock_vg(name, LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        let r = sc.read_vg(name)?;
        self.check_owner(&r.vg, false)?;
        Self::check_complete(&r, false)?;
        let new = self.take_orphans(&sc, paths, r.vg.extent_size.0)?;
        let mut vg = r.vg.clone();
        vg.seqno += 1;
        for (_, pv) in new {
            in_model(name, vg.add_pv(pv))?;
        }
        self.write_vg(&sc, &mut vg)?;
        for p in &vg.pvs {
            if let Some(i) = sc.device_index(p) {
                set_used(&sc.pvs[i], true)?;
            }
        }
        Ok(format!("Volume group \"{name}\" successfully extended"))
    }

    /// `vgextend --restoremissing`: PVs marked MISSING that are present again rejoin the VG
    /// and get its current metadata.
    pub fn vgextend_restoremissing(&self, name: &str, paths: &[PathBuf]) -> Result<String> {
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        self.modify(name, false, |vg, sc, devs| {
            for p in paths {
                let key = devs
                    .iter()
                    .find(|(_, &i)| sc.pvs[i].path == *p)
                    .map(|(k, _)| k.clone())
                    .ok_or_else(|| VgError::NoSuchPv {
                        vg: name.into(),
                        pv: p.display().to_string(),
                    })?;
                let pv = vg.pvs.iter_mut().find(|pv| pv.name == key);
                let Some(pv) = pv.filter(|pv| pv.flags.iter().any(|f| f == model::alloc::MISSING))
                else {
                    return Err(OpError::Failed(format!(
                        "Physical volume {} is not marked missing in VG {name}",
                        p.display()
                    )));
                };
                pv.flags.retain(|f| f != model::alloc::MISSING);
            }
            Ok(())
        })?;
        Ok(format!("Volume group \"{name}\" successfully extended"))
    }

    pub fn vgreduce(&self, name: &str, paths: &[PathBuf]) -> Result<Vec<String>> {
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let _l = self.env.locks.lock_vg(name, LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        let r = sc.read_vg(name)?;
        self.check_owner(&r.vg, false)?;
        Self::check_complete(&r, false)?;
        let used = used_extents(&r.vg);
        let mut removed: Vec<(usize, String)> = Vec::new();
        let mut out = Vec::new();
        for p in paths {
            let (key, &i) = r
                .devs
                .iter()
                .find(|(_, &i)| sc.pvs[i].path == *p)
                .ok_or_else(|| VgError::NoSuchPv {
                    vg: name.into(),
                    pv: p.display().to_string(),
                })?;
            if used.get(key).copied().unwrap_or(0) > 0 {
                return Err(VgError::PvInUse {
                    vg: name.into(),
                    pv: p.display().to_string(),
                }
                .into());
            }
            if r.vg.pvs.len() - removed.len() <= 1 {
                return Err(OpError::Failed(format!(
                    "Can't remove final physical volume \"{}\" from volume group \"{name}\"",
                    p.display()
                )));
            }
            let id = r.vg.pv(key).map(|pv| pv.id.clone()).unwrap_or_default();
            removed.push((i, id));
            out.push(format!(
                "Removed \"{}\" from volume group \"{name}\"",
                p.display()
            ));
        }
        let mut vg = r.vg.clone();
        for (_, id) in &removed {
            let key = vg
                .pvs
                .iter()
                .find(|pv| &pv.id == id)
                .map(|pv| pv.name.clone());
            if let Some(key) = key {
                in_model(name, vg.remove_pv(&key))?;
            }
        }
        vg.seqno += 1;
        self.write_vg(&sc, &mut vg)?;
        // The removed PVs become orphans: empty their metadata areas.
        for (i, _) in &removed {
            let d = &sc.pvs[*i];
            for a in &d.label.metadata_areas {
                mda::format_mda(d.dev.as_ref(), *a)?;
            }
            set_used(d, false)?;
        }
        Ok(out)
    }

    pub fn vgremove(&self, name: &str, force: bool) -> Result<String> {
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let _l = self.env.locks.lock_vg(name, LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        let r = sc.read_vg(name)?;
        self.check_owner(&r.vg, false)?;
        let visible = r.vg.lvs.iter().filter(|l| l.is_visible()).count();
        if visible > 0 && !force {
            return Err(OpError::VgNotEmpty {
                vg: name.into(),
                lvs: visible,
            });
        }
        for (dev, area) in targets(&sc, &r.vg) {
            mda::format_mda(dev.as_ref(), area)?;
        }
        for &i in r.devs.values() {
            set_used(&sc.pvs[i], false)?;
        }
        Ok(format!("Volume group \"{name}\" successfully removed"))
    }

    pub fn vgrename(&self, old: &str, new: &str) -> Result<String> {
        // Checked before locking: both names would take the same lock (issue 11 item 3).
        if old == new {
            return Err(OpError::SameVgName);
        }
        in_model(new, model::names::validate_vg_name(new))?;
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let _l = self.env.locks.lock_vg(old, LockMode::Exclusive)?;
        let _n = self.env.locks.lock_vg(new, LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        if sc.vg_names().iter().any(|n| n == new) {
            return Err(OpError::VgExists { vg: new.into() });
        }
        let r = sc.read_vg(old)?;
        self.check_owner(&r.vg, false)?;
        Self::check_complete(&r, false)?;
        // lvm2 renames such a VG and then cannot use it: refuse instead.
        for l in &r.vg.lvs {
            model::names::check_full_lv_name(new, &l.name)?;
        }
        let mut vg = r.vg.clone();
        vg.name = new.into();
        vg.seqno += 1;
        self.write_vg(&sc, &mut vg)?;
        Ok(format!(
            "Volume group \"{old}\" successfully renamed to \"{new}\""
        ))
    }

    pub fn vgchange(
        &self,
        name: &str,
        system_id: Option<&str>,
        add: &[String],
        del: &[String],
        majority: bool,
    ) -> Result<String> {
        if majority && system_id.is_none() {
            return Err(OpError::InvalidArg("--majoritypvs needs --systemid".into()));
        }
        // Setting the system ID is the explicit way to take over a foreign VG.
        self.modify_with(name, system_id.is_some(), majority, |vg, _, _| {
            if let Some(s) = system_id {
                vg.system_id = (!s.is_empty()).then(|| s.to_string());
            }
            for t in add {
                check_tag(t)?;
                if !vg.tags.contains(t) {
                    vg.tags.push(t.clone());
                }
            }
            vg.tags.retain(|t| !del.contains(t));
            // lvm2 keeps a VG's tags sorted.
            vg.tags.sort();
            Ok(())
        })?;
        Ok(format!("Volume group \"{name}\" successfully changed"))
    }

    /// Reports disagreeing copies; with `update`, rewrites them from the newest valid copy.
    pub fn vgck(&self, names: &[String], update: bool) -> Result<(Vec<String>, bool)> {
        let mode = if update {
            LockMode::Exclusive
        } else {
            LockMode::Shared
        };
        let names = if names.is_empty() {
            scan(self.env)?.vg_names()
        } else {
            names.to_vec()
        };
        let mut out = Vec::new();
        let mut clean = true;
        for name in names {
            let _l = self.env.locks.lock_vg(&name, mode)?;
            let sc = scan(self.env)?;
            let r = sc.read_vg(&name)?;
            let bad: Vec<_> = r.stale_copies().cloned().collect();
            out.extend(copy_warnings(&r, false));
            let flagged = r.vg.pvs.iter().any(|p| {
                r.devs.contains_key(&p.name) && p.flags.iter().any(|f| f == model::alloc::MISSING)
            });
            if flagged {
                clean = false;
            }
            if bad.is_empty() && r.missing().is_empty() && !flagged {
                out.push(format!(
                    "VG {name}: {} metadata copies agree (seqno {})",
                    r.copies.len(),
                    r.vg.seqno
                ));
                continue;
            }
            if update && !bad.is_empty() {
                self.check_owner(&r.vg, false)?;
                let mut vg = r.vg.clone();
                vg.seqno += 1;
                // Damaged headers are rewritten empty before the commit.
                for c in &bad {
                    if let CopyState::Damaged { .. } = c.state {
                        if let Some(d) = sc.pvs.iter().find(|d| d.path == c.path) {
                            mda::format_mda(d.dev.as_ref(), c.area)?;
                        }
                    }
                }
                self.write_vg(&sc, &mut vg)?;
                out.push(format!(
                    "VG {name}: rewrote metadata on all PVs (seqno {})",
                    vg.seqno
                ));
            } else {
                clean = false;
            }
        }
        Ok((out, clean))
    }

    pub fn vgcfgbackup(&self, name: &str, file: &Path) -> Result<String> {
        let _l = self.env.locks.lock_vg(name, LockMode::Shared)?;
        let sc = scan(self.env)?;
        let r = sc.read_vg(name)?;
        let mut vg = r.vg;
        for p in vg.pvs.iter_mut() {
            if let Some(i) = sc.device_index(p) {
                p.device = Some(sc.pvs[i].path.to_string_lossy().into_owned());
            }
        }
        let trailer = model::Trailer::new(
            &format!("Created *after* executing 'lvmeta vgcfgbackup {name}'"),
            &self.env.host,
            now(),
            uname().as_deref(),
        );
        let text = lvmeta_text::write_with(&vg.to_backup(&trailer), lvmeta_text::Style::Backup);
        std::fs::write(file, text).map_err(|source| OpError::File {
            path: file.into(),
            source,
        })?;
        Ok(format!("Volume group \"{name}\" successfully backed up."))
    }

    pub fn vgcfgrestore(&self, name: &str, file: &Path) -> Result<String> {
        let text = std::fs::read_to_string(file).map_err(|source| OpError::File {
            path: file.into(),
            source,
        })?;
        let doc = lvmeta_text::parse(&text).map_err(|err| OpError::Parse {
            what: file.display().to_string(),
            err,
        })?;
        let mut vg = VolumeGroup::from_metadata(&doc).map_err(|e| VgError::Malformed {
            vg: name.into(),
            what: format!("{}: {e}", file.display()),
        })?;
        if vg.name != name {
            return Err(OpError::InvalidArg(format!(
                "{} holds VG {}, not {name}",
                file.display(),
                vg.name
            )));
        }
        let _g = self.env.locks.lock_global(LockMode::Exclusive)?;
        let _l = self.env.locks.lock_vg(name, LockMode::Exclusive)?;
        let sc = scan(self.env)?;
        let current = sc.read_vg(name).ok();
        let mut devs = Vec::new();
        for p in &vg.pvs {
            let i = sc.device_index(p).ok_or_else(|| OpError::MissingPv {
                vg: name.into(),
                uuid: p.id.clone(),
                device: last_seen(p),
            })?;
            if let Some(other) = pv_vg_name(&sc, &sc.pvs[i]).filter(|o| o != name) {
                return Err(OpError::PvInVg {
                    path: sc.pvs[i].path.clone(),
                    vg: other,
                });
            }
            devs.push(i);
        }
        vg.seqno = current
            .as_ref()
            .map(|c| c.vg.seqno + 1)
            .unwrap_or(vg.seqno)
            .max(vg.seqno);
        self.write_vg(&sc, &mut vg)?;
        for i in devs {
            set_used(&sc.pvs[i], true)?;
        }
        Ok(format!("Restored volume group {name}."))
    }

    // ---- LV commands ----

    pub fn lvcreate(&self, vgname: &str, req: LvCreate) -> Result<String> {
        let name = req.name.clone();
        model::names::check_full_lv_name(vgname, &name)?;
        let mut notes = Vec::new();
        self.modify(vgname, false, |vg, sc, devs| {
            let pvs = pv_keys(sc, vgname, devs, &req.pvs)?;
            check_listed_free(vg, pvs.as_deref())?;
            let (sign, amount) = req.size.amount();
            if sign != crate::units::Sign::Absolute {
                return Err(OpError::InvalidArg(
                    "lvcreate takes an absolute size".into(),
                ));
            }
            let (stripes, stripe_size, images) = match req.layout {
                Layout::Striped {
                    stripes,
                    stripe_size,
                } => (u64::from(stripes), stripe_size.0, 0),
                Layout::Mirror { mirrors, .. } | Layout::Raid1 { mirrors } => {
                    (1, 0, u64::from(mirrors) + 1)
                }
                Layout::Linear => (1, 0, 0),
            };
            let counts = vg.size_counts(pvs.as_deref());
            let sized =
                model::sizing::create_extents(amount, &counts, stripes, stripe_size, images)?;
            if sized.extents == 0 {
                return Err(OpError::InvalidArg("size must be more than zero".into()));
            }
            notes = sized.notes.clone();
            let mut lr = model::LvRequest::new(&req.name, Extents(sized.extents), req.layout);
            lr.pvs = pvs;
            lr.creation_time = Some(now());
            lr.creation_host = Some(self.env.host.clone());
            lr.approx = sized.approx;
            in_model(vgname, vg.create_lv(lr).map(|_| ()))
        })?;
        notes.push(format!("Logical volume \"{name}\" created."));
        Ok(notes.join("\n"))
    }

    pub fn lvresize(
        &self,
        vgname: &str,
        lv: &str,
        size: SizeArg,
        pvs: &[PathBuf],
        dir: ResizeDir,
    ) -> Result<String> {
        use model::sizing::{self, display_size, Direction};
        let mut msg = Vec::new();
        self.modify(vgname, false, |vg, sc, devs| {
            let shape = vg.lv_shape(lv).ok_or(VgError::NoSuchLv {
                vg: vgname.into(),
                lv: lv.into(),
            })?;
            let cur = shape.le_count;
            let keys = pv_keys(sc, vgname, devs, pvs)?;
            check_listed_free(vg, keys.as_deref())?;
            let (sign, amount) = size.amount();
            let direction = match dir {
                ResizeDir::Extend => Direction::Extend,
                ResizeDir::Reduce => Direction::Reduce,
                ResizeDir::Any => Direction::Any,
            };
            let sized = sizing::resize_extents(
                &format!("{vgname}/{lv}"),
                &shape,
                sign,
                amount,
                &vg.size_counts(keys.as_deref()),
                direction,
            )?;
            let target = sized.extents;
            let es = vg.extent_size.0;
            msg = sized.notes.clone();
            if target > cur {
                in_model(
                    vgname,
                    vg.extend_lv_with(lv, Extents(target - cur), keys.as_deref(), sized.approx),
                )?;
            } else {
                in_model(vgname, vg.reduce_lv(lv, Extents(cur - target)))?;
            }
            let now_size = vg.lv(lv).map(|l| l.size().0).unwrap_or(0);
            if now_size == cur {
                msg.push(format!(
                    "Size of logical volume {vgname}/{lv} unchanged from {} ({cur} extents).",
                    display_size(cur * es)
                ));
                return Ok(());
            }
            msg.push(format!(
                "Size of logical volume {vgname}/{lv} changed from {} ({cur} extents) to {} ({now_size} extents).",
                display_size(cur * es),
                display_size(now_size * es)
            ));
            Ok(())
        })?;
        msg.push(format!(
            "Logical volume {vgname}/{lv} successfully resized."
        ));
        Ok(msg.join("\n"))
    }

    pub fn lvrename(&self, vgname: &str, old: &str, new: &str) -> Result<String> {
        model::names::check_full_lv_name(vgname, new)?;
        self.modify(vgname, false, |vg, _, _| {
            in_model(vgname, vg.rename_lv(old, new))
        })?;
        Ok(format!(
            "Renamed \"{old}\" to \"{new}\" in volume group \"{vgname}\""
        ))
    }

    pub fn lvremove(&self, vgname: &str, lvs: &[String]) -> Result<Vec<String>> {
        self.modify(vgname, false, |vg, _, _| {
            for l in lvs {
                in_model(vgname, vg.remove_lv(l))?;
            }
            Ok(())
        })?;
        Ok(lvs
            .iter()
            .map(|l| format!("Logical volume \"{l}\" successfully removed."))
            .collect())
    }

    // ---- reports ----

    /// Rows plus warnings about stale or damaged metadata copies and missing PVs.
    ///
    /// VGs owned by another host (a system ID other than ours) are left out unless
    /// `sel.foreign`, as lvm2 does; naming one without it is an error.
    pub fn report_with_warnings(
        &self,
        kind: ReportKind,
        fields: &[&'static FieldDef],
        targets: &[String],
        sel: Selection,
    ) -> Result<(Vec<Vec<Cell>>, Vec<String>)> {
        let all = sel.all_lvs;
        let mut lv_filter: Vec<(String, String)> = Vec::new();
        let mut want = Vec::new();
        if kind != ReportKind::Pvs {
            for t in targets {
                let t = t.trim_start_matches("/dev/");
                if let Some((v, l)) = t.split_once('/') {
                    lv_filter.push((v.into(), l.into()));
                    want.push(v.to_string());
                } else {
                    want.push(t.to_string());
                }
            }
            want.sort();
            want.dedup();
        }
        // With named VGs, lock first and scan once; otherwise discover the VGs, lock them
        // and scan again so that every VG is read under its lock.
        let mut guards = Vec::new();
        let (sc, mut names) = if !want.is_empty() {
            for w in &want {
                guards.push(self.env.locks.lock_vg(w, LockMode::Shared)?);
            }
            let sc = scan(self.env)?;
            let names = sc.vg_names();
            for w in &want {
                if !names.contains(w) {
                    // Says why: not there at all, or only damaged copies.
                    sc.read_vg(w)?;
                }
            }
            (sc, want.clone())
        } else {
            let first = scan(self.env)?;
            let names = first.vg_names();
            if names.is_empty() {
                (first, names)
            } else {
                for n in &names {
                    guards.push(self.env.locks.lock_vg(n, LockMode::Shared)?);
                }
                let sc = scan(self.env)?;
                let names = sc.vg_names();
                (sc, names)
            }
        };
        names.sort();
        let mut reads = Vec::new();
        let mut warnings = Vec::new();
        for (p, e) in &sc.damaged {
            warnings.push(format!("WARNING: {}: damaged PV label: {e}", p.display()));
        }
        for n in &names {
            let r = sc.read_vg(n)?;
            if !sel.foreign && kind != ReportKind::Pvs {
                if let Err(e) = self.check_owner(&r.vg, false) {
                    if want.contains(n) {
                        return Err(e);
                    }
                    continue;
                }
            }
            warnings.extend(copy_warnings(&r, true));
            reads.push(r);
        }
        let mut rows = Vec::new();
        match kind {
            ReportKind::Vgs => {
                for r in &reads {
                    rows.push(fields.iter().map(|f| vg_cell(f, &sc, r)).collect());
                }
            }
            ReportKind::Lvs => {
                let per_seg = fields.iter().any(|f| f.ftype == FieldType::Seg);
                let kernel = crate::activation::KernelView::probe();
                for r in &reads {
                    let roles = r.vg.sub_roles();
                    let row = LvRow {
                        sc: &sc,
                        r,
                        roles: &roles,
                        kernel: &kernel,
                    };
                    let mut lvs: Vec<_> =
                        r.vg.lvs.iter().filter(|l| all || l.is_visible()).collect();
                    if !lv_filter.is_empty() {
                        lvs.retain(|l| {
                            lv_filter
                                .iter()
                                .any(|(v, n)| *v == r.vg.name && *n == l.name)
                        });
                    }
                    lvs.sort_by(|a, b| a.name.cmp(&b.name));
                    for l in lvs {
                        if per_seg {
                            for s in &l.segments {
                                rows.push(
                                    fields
                                        .iter()
                                        .map(|f| lv_cell(f, &row, l, Some(s)))
                                        .collect(),
                                );
                            }
                        } else {
                            rows.push(fields.iter().map(|f| lv_cell(f, &row, l, None)).collect());
                        }
                    }
                }
            }
            ReportKind::Pvs => {
                let mut pvs: Vec<(usize, Option<&VgRead>)> = Vec::new();
                for (i, p) in sc.pvs.iter().enumerate() {
                    if !targets.is_empty() && !targets.iter().any(|t| Path::new(t) == p.path) {
                        continue;
                    }
                    let owner = reads.iter().find(|r| r.devs.values().any(|&j| j == i));
                    pvs.push((i, owner));
                }
                pvs.sort_by(|a, b| sc.pvs[a.0].path.cmp(&sc.pvs[b.0].path));
                for (i, owner) in pvs {
                    rows.push(fields.iter().map(|f| pv_cell(f, &sc, i, owner)).collect());
                }
            }
        }
        drop(guards);
        Ok((rows, warnings))
    }
}

/// Warnings about the copies of a VG that are not current and the PVs that are missing; with
/// `hint`, each copy warning says how to repair it.
fn copy_warnings(r: &VgRead, hint: bool) -> Vec<String> {
    let name = &r.vg.name;
    let mut out = Vec::new();
    for c in r.stale_copies() {
        let what = match &c.state {
            CopyState::Stale { seqno } => {
                format!("is stale (seqno {seqno}, newest {})", r.vg.seqno)
            }
            CopyState::Damaged { what } => format!("is damaged ({what})"),
            CopyState::Empty | CopyState::Current => "is empty".into(),
        };
        let repair = if hint {
            format!("; run vgck --updatemetadata {name}")
        } else {
            String::new()
        };
        out.push(format!(
            "WARNING: VG {name}: metadata on {} at {} {what}{repair}",
            c.path.display(),
            c.area.offset.0
        ));
    }
    for p in r.missing() {
        out.push(format!(
            "WARNING: VG {name} is missing PV {} (last seen on {})",
            p.id,
            last_seen(p)
        ));
    }
    for p in r.vg.pvs.iter().filter(|p| r.devs.contains_key(&p.name)) {
        if p.flags.iter().any(|f| f == model::alloc::MISSING) {
            out.push(format!(
                "WARNING: VG {name}: PV {} ({}) is marked MISSING but present; run vgextend --restoremissing {name} {}",
                p.id,
                last_seen(p),
                last_seen(p)
            ));
        }
    }
    out
}

/// Used extents per PV key (PVs without any are absent).
fn used_extents(vg: &VolumeGroup) -> HashMap<String, u64> {
    vg.pv_free_extents()
        .into_iter()
        .filter_map(|(key, free)| {
            let total = vg.pv(&key)?.pe_count.0;
            Some((key, total.saturating_sub(free.0))).filter(|(_, used)| *used > 0)
        })
        .collect()
}

/// Which VG a PV's own metadata names (None: orphan).
fn pv_vg_name(sc: &Scan, d: &PvDev) -> Option<String> {
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
fn pv_keys(
    sc: &Scan,
    vgname: &str,
    devs: &PvIndex,
    paths: &[PathBuf],
) -> Result<Option<Vec<String>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for p in paths {
        let k = devs
            .iter()
            .find(|(_, &i)| sc.pvs[i].path == *p)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| VgError::NoSuchPv {
                vg: vgname.to_string(),
                pv: p.display().to_string(),
            })?;
        keys.push(k);
    }
    Ok(Some(keys))
}

/// lvm2 builds a command line's PV list from PVs with free extents only (`create_pv_list`)
/// and refuses an empty one.
fn check_listed_free(vg: &VolumeGroup, keys: Option<&[String]>) -> Result<()> {
    let Some(keys) = keys else { return Ok(()) };
    let free = vg.pv_free_extents();
    if keys.iter().all(|k| {
        free.iter()
            .find(|(n, _)| n == k)
            .is_none_or(|(_, f)| f.0 == 0)
    }) {
        return Err(OpError::Failed(
            "No specified PVs have space available.".into(),
        ));
    }
    Ok(())
}

fn check_tag(t: &str) -> Result<()> {
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

/// Which objects a report shows besides the usual ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// `lvs -a`: hidden sub-LVs (mirror/raid images, logs) too.
    pub all_lvs: bool,
    /// `--foreign`: VGs with another host's system ID too.
    pub foreign: bool,
}

/// `-L`/`-l` as given.
#[derive(Debug, Clone)]
pub enum SizeArg {
    Sectors(crate::units::Sign, u64),
    Extents(crate::units::Sign, crate::units::ExtentsArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeDir {
    Extend,
    Reduce,
    Any,
}

impl SizeArg {
    /// The size in the words of lvm2's size rules ([`model::sizing`]).
    fn amount(&self) -> (model::sizing::Sign, model::sizing::Amount) {
        use crate::units::ExtentsArg as E;
        use model::sizing::{Amount, PercentOf};
        match self {
            SizeArg::Sectors(s, n) => (*s, Amount::Sectors(*n)),
            SizeArg::Extents(s, e) => (
                *s,
                match *e {
                    E::Count(n) => Amount::Extents(n),
                    E::PercentFree(p) => Amount::Percent(p, PercentOf::Free),
                    E::PercentVg(p) => Amount::Percent(p, PercentOf::Vg),
                    E::PercentPvs(p) => Amount::Percent(p, PercentOf::Pvs),
                    E::PercentLv(p) => Amount::Percent(p, PercentOf::Lv),
                    E::PercentOrigin(p) => Amount::Percent(p, PercentOf::Origin),
                },
            ),
        }
    }
}

pub struct LvCreate {
    pub name: String,
    pub size: SizeArg,
    pub layout: Layout,
    pub pvs: Vec<PathBuf>,
}

/// The device path of a PV key as scanned, `[unknown]` when the PV is missing.
fn pv_path(sc: &Scan, r: &VgRead, key: &str) -> String {
    r.devs
        .get(key)
        .map(|&i| sc.pvs[i].path.to_string_lossy().into_owned())
        .unwrap_or_else(|| "[unknown]".into())
}

/// Where an area starts: a device path or sub-LV name, and the first extent there.
type AreaAt = (String, u64);

/// A segment's data areas, and its metadata areas (raid1's rmeta sub-LVs).
fn seg_areas(sc: &Scan, r: &VgRead, g: &Segment) -> (Vec<AreaAt>, Vec<AreaAt>) {
    match &g.kind {
        SegmentKind::Striped { areas, .. } => (
            areas
                .iter()
                .map(|a| (pv_path(sc, r, &a.pv), a.start.0))
                .collect(),
            Vec::new(),
        ),
        SegmentKind::Mirror { legs, .. } => (
            legs.iter().map(|l| (l.lv.clone(), l.start.0)).collect(),
            Vec::new(),
        ),
        SegmentKind::Raid1 { images, .. } => (
            images.iter().map(|(_, i)| (i.clone(), 0)).collect(),
            images.iter().map(|(m, _)| (m.clone(), 0)).collect(),
        ),
        SegmentKind::Other { .. } => (
            model::alloc::pv_areas(g)
                .into_iter()
                .map(|(pv, start, _)| (pv_path(sc, r, &pv), start))
                .collect(),
            Vec::new(),
        ),
    }
}

/// What one LV row's cells are made from.
struct LvRow<'a> {
    sc: &'a Scan,
    r: &'a VgRead,
    roles: &'a HashMap<&'a str, model::SubRole>,
    kernel: &'a crate::activation::KernelView<'a>,
}

fn lv_cell(f: &FieldDef, row: &LvRow, l: &LogicalVolume, seg: Option<&Segment>) -> Cell {
    let LvRow {
        sc,
        r,
        roles,
        kernel,
    } = *row;
    let vg = &r.vg;
    let es = vg.extent_size.0;
    let display_name = || {
        if l.is_visible() {
            l.name.clone()
        } else {
            format!("[{}]", l.name)
        }
    };
    let seg = seg.or(l.segments.first());
    let s = |x: String| Cell::Str(x);
    let join = |areas: &[AreaAt]| {
        areas
            .iter()
            .map(|(n, st)| format!("{n}({st})"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match f.name {
        "lv_uuid" => s(l.id.clone()),
        "lv_name" => s(display_name()),
        "lv_full_name" => s(format!("{}/{}", vg.name, l.name)),
        "lv_path" => s(if l.is_visible() {
            format!("/dev/{}/{}", vg.name, l.name)
        } else {
            String::new()
        }),
        "lv_dm_path" => s(format!("/dev/mapper/{}", vg.dm_name(&l.name))),
        "lv_layout" => s(match seg.map(|g| g.kind.report_type()) {
            Some("raid1") => "raid,raid1".into(),
            Some(t) => t.into(),
            None => String::new(),
        }),
        "lv_role" => s(if l.is_visible() {
            "public".into()
        } else {
            "private".into()
        }),
        "lv_size" => Cell::Size(l.size().0 * es),
        "seg_count" => Cell::Num(l.segments.len() as i64),
        "lv_tags" => s(l.tags.join(",")),
        "lv_attr" => s(kernel.lv_attr(vg, l, roles.get(l.name.as_str()).copied())),
        "lv_host" => s(l.creation_host.clone().unwrap_or_default()),
        "mirror_log" => s(match seg.map(|g| &g.kind) {
            Some(SegmentKind::Mirror { log: Some(log), .. }) => log.clone(),
            _ => String::new(),
        }),
        "origin" | "move_pv" | "convert_lv" | "pool_lv" => s(String::new()),
        "data_percent" | "metadata_percent" => Cell::Pct(None),
        "copy_percent" => Cell::Pct(kernel.copy_percent(vg, l)),
        "vg_name" => s(vg.name.clone()),
        n if f.ftype == FieldType::Vg => vg_cell_named(n, f, sc, r),
        _ => {
            let Some(g) = seg else { return Cell::Empty };
            let len = g.area_len().0;
            let (areas, meta) = seg_areas(sc, r, g);
            match f.name {
                "segtype" => s(g.kind.report_type().to_string()),
                "stripes" | "data_stripes" => Cell::Num(areas.len() as i64),
                "stripe_size" => Cell::Size(match &g.kind {
                    SegmentKind::Striped { stripe_size, .. } => stripe_size.0,
                    _ => 0,
                }),
                "region_size" => Cell::Size(match &g.kind {
                    SegmentKind::Mirror { region_size, .. }
                    | SegmentKind::Raid1 { region_size, .. } => {
                        region_size.map(|r| r.0).unwrap_or(0)
                    }
                    _ => 0,
                }),
                "seg_start" => Cell::Size(g.start_extent.0 * es),
                "seg_start_pe" => Cell::Num(g.start_extent.0 as i64),
                "seg_size" => Cell::Size(g.extent_count.0 * es),
                "seg_size_pe" => Cell::Num(g.extent_count.0 as i64),
                "seg_tags" => s(g.tags.join(",")),
                "devices" => s(join(&areas)),
                "metadata_devices" => s(join(&meta)),
                "seg_pe_ranges" | "seg_le_ranges" => {
                    let parts: Vec<String> = areas
                        .iter()
                        .map(|(n, st)| format!("{n}:{st}-{}", st + len - 1))
                        .collect();
                    s(parts.join(if f.name == "seg_pe_ranges" { " " } else { "," }))
                }
                _ => Cell::Empty,
            }
        }
    }
}

fn vg_cell(f: &FieldDef, sc: &Scan, r: &VgRead) -> Cell {
    vg_cell_named(f.name, f, sc, r)
}

fn vg_cell_named(name: &str, _f: &FieldDef, sc: &Scan, r: &VgRead) -> Cell {
    let vg = &r.vg;
    let es = vg.extent_size.0;
    let mdas: Vec<(u64, u64)> = r
        .devs
        .values()
        .flat_map(|&i| sc.pvs[i].mdas.iter())
        .filter_map(|m| m.res.as_ref().ok())
        .map(|c| {
            (
                c.header.size.0,
                c.committed.as_ref().map(|t| t.locn.size.0).unwrap_or(0),
            )
        })
        .collect();
    match name {
        "vg_fmt" => Cell::Str("lvm2".into()),
        "vg_uuid" => Cell::Str(vg.id.clone()),
        "vg_name" => Cell::Str(vg.name.clone()),
        "vg_attr" => Cell::Str(vg.vg_attr()),
        "vg_permissions" => Cell::Str(if vg.status.iter().any(|s| s == "WRITE") {
            "writeable".into()
        } else {
            "read-only".into()
        }),
        "vg_allocation_policy" => Cell::Str("normal".into()),
        "vg_size" => Cell::Size(vg.total_extents().0 * es),
        "vg_free" => Cell::Size(vg.free_extents().0 * es),
        "vg_systemid" => Cell::Str(vg.system_id.clone().unwrap_or_default()),
        "vg_extent_size" => Cell::Size(es),
        "vg_extent_count" => Cell::Num(vg.total_extents().0 as i64),
        "vg_free_count" => Cell::Num(vg.free_extents().0 as i64),
        "max_lv" => Cell::Num(vg.max_lv as i64),
        "max_pv" => Cell::Num(vg.max_pv as i64),
        "pv_count" => Cell::Num(vg.pvs.len() as i64),
        "lv_count" => Cell::Num(vg.lvs.iter().filter(|l| l.is_visible()).count() as i64),
        "snap_count" => Cell::Num(0),
        "vg_seqno" => Cell::Num(vg.seqno as i64),
        "vg_tags" => Cell::Str(vg.tags.join(",")),
        "vg_mda_count" => Cell::Num(mdas.len() as i64),
        "vg_mda_size" => Cell::Size(mdas.iter().map(|m| m.0).min().unwrap_or(0) / 512),
        "vg_mda_free" => Cell::Size(
            mdas.iter()
                .map(|m| mda::max_text_size(m.0).saturating_sub(m.1))
                .min()
                .unwrap_or(0)
                / 512,
        ),
        _ => Cell::Empty,
    }
}

fn pv_cell(f: &FieldDef, sc: &Scan, i: usize, owner: Option<&VgRead>) -> Cell {
    let d = &sc.pvs[i];
    let entry = owner.and_then(|r| {
        let key = r.devs.iter().find(|(_, &j)| j == i)?.0;
        r.vg.pv(key).map(|p| (r, p))
    });
    let s = |x: String| Cell::Str(x);
    let mda_sizes: Vec<u64> = d.label.metadata_areas.iter().map(|a| a.size.0).collect();
    match f.name {
        "pv_fmt" => s("lvm2".into()),
        "pv_uuid" => s(d.uuid_dashed()),
        "dev_size" => Cell::Size(d.dev.size().map(|b| b.0 / 512).unwrap_or(0)),
        "pv_name" => s(d.path.to_string_lossy().into_owned()),
        "pv_mda_size" => Cell::Size(mda_sizes.iter().min().copied().unwrap_or(0) / 512),
        "pv_mda_free" => {
            let free = d
                .mdas
                .iter()
                .filter_map(|m| m.res.as_ref().ok())
                .map(|c| {
                    mda::max_text_size(c.header.size.0)
                        .saturating_sub(c.committed.as_ref().map(|t| t.locn.size.0).unwrap_or(0))
                })
                .min()
                .unwrap_or(0);
            Cell::Size(free / 512)
        }
        "pv_mda_count" => Cell::Num(mda_sizes.len() as i64),
        "pe_start" => Cell::Size(d.pe_start_sectors()),
        "pv_tags" => s(entry.map(|(_, p)| p.tags.join(",")).unwrap_or_default()),
        _ => match entry {
            Some((r, p)) => {
                let es = r.vg.extent_size.0;
                let pe_count = p.pe_count.0;
                let used = used_extents(&r.vg).get(&p.name).copied().unwrap_or(0);
                match f.name {
                    "pv_size" => Cell::Size(pe_count * es),
                    "pv_free" => Cell::Size((pe_count - used.min(pe_count)) * es),
                    "pv_used" => Cell::Size(used * es),
                    "pv_attr" => s(format!("{}--", if p.is_allocatable() { 'a' } else { '-' })),
                    "pv_pe_count" => Cell::Num(pe_count as i64),
                    "pv_pe_alloc_count" => Cell::Num(used as i64),
                    _ => vg_cell_named(f.name, f, sc, r),
                }
            }
            None => {
                let size = d.label.device_size.0 / 512;
                match f.name {
                    "pv_size" | "pv_free" => Cell::Size(size),
                    "pv_used" => Cell::Size(0),
                    "pv_attr" => s("---".into()),
                    "pv_pe_count" | "pv_pe_alloc_count" => Cell::Num(0),
                    "vg_name" => s(String::new()),
                    _ => Cell::Empty,
                }
            }
        },
    }
}
