//! Activation planner: the device-mapper devices, names, UUIDs and tables LVM2 would create for
//! an LV (no I/O).
//!
//! [`plan_lv`] walks an LV of a [`VolumeGroup`] the way lvm2's `dev_manager.c` builds its device
//! tree: sub-LVs (mirror images, raid images and metadata) get their own devices, created before
//! the device that maps them; missing PV areas become `error` devices named
//! `<vg>-<lv>-missing_<seg>_<area>` when partial (or, for raid, degraded) activation is allowed.
//! Tables are in 512-byte sectors; devices the tables use are [`DevRef`]s that the executor turns
//! into `major:minor` once the devices they name exist.
//!
//! [`split`] holds the metadata side of mirror break-off (`lvconvert --splitmirrors`).

pub mod split;

use lvmeta_model::{Flag, LogicalVolume, Segment, SegmentKind, VolumeGroup};
use std::collections::BTreeMap;
use std::fmt;

pub use split::{
    reduce_images, remove_images, repair, repair_mirror, repair_raid1, split_mirror,
    RaidRepairOutcome, ReduceOutcome, RemoveOutcome, RepairOutcome, Repaired, SplitOutcome,
};

/// A block device number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevNum {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// Where the PVs of a VG are: PV key (`pv0`...) to the device holding it. A PV absent from the
/// map is missing.
pub type PvDevices = BTreeMap<String, DevNum>;

/// `--activationmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivationMode {
    /// Every PV must be present.
    #[default]
    Complete,
    /// RAID LVs may miss images (their missing areas map to `error`); others must be complete.
    Degraded,
    /// Any missing area maps to `error`.
    Partial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    pub mode: ActivationMode,
    /// dm-mirror's `handle_errors` feature, which lvm2 sets unless monitoring is off
    /// (`--monitor n`); the `lvmeta` CLI follows lvm2's default.
    pub mirror_handle_errors: bool,
    /// dm-log's `sync` (Some(true): the log starts anew and the whole mirror is copied,
    /// for images the log would call in sync) or `nosync` (Some(false): a new log that
    /// calls every region in sync, for a mirror known to be in sync), for one load only;
    /// None: the log as it is (a disk log read from its device).
    pub mirror_resync: Option<bool>,
}

/// A device a table line refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DevRef {
    /// A PV's block device.
    Block(DevNum),
    /// Another device of the plan (or one that already exists), by dm UUID.
    Dm(String),
    /// raid's `-` placeholder for an absent image or metadata device.
    Absent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Dev(DevRef),
}

/// One line of a table: `start len target params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLine {
    pub start: u64,
    pub len: u64,
    pub target: String,
    pub params: Vec<Param>,
}

impl TableLine {
    /// The parameter string, with devices written by `dev` (e.g. `major:minor`).
    pub fn params_with(&self, mut dev: impl FnMut(&DevRef) -> String) -> String {
        let mut out = String::new();
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match p {
                Param::Text(t) => out.push_str(t),
                Param::Dev(DevRef::Absent) => out.push('-'),
                Param::Dev(d) => out.push_str(&dev(d)),
            }
        }
        out
    }

    /// `start len target params`, as `dmsetup table` prints it.
    pub fn render_with(&self, dev: impl FnMut(&DevRef) -> String) -> String {
        format!(
            "{} {} {} {}",
            self.start,
            self.len,
            self.target,
            self.params_with(dev)
        )
    }

    /// Devices this line uses that are themselves dm devices of a plan.
    pub fn dm_deps(&self) -> impl Iterator<Item = &str> {
        self.params.iter().filter_map(|p| match p {
            Param::Dev(DevRef::Dm(u)) => Some(u.as_str()),
            _ => None,
        })
    }
}

/// One device-mapper device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmDevice {
    pub name: String,
    pub uuid: String,
    /// The LV it belongs to.
    pub lv: String,
    /// lvm2's layer suffix (`missing_0_0`), None for the LV's own device.
    pub layer: Option<String>,
    pub table: Vec<TableLine>,
}

impl DmDevice {
    pub fn size(&self) -> u64 {
        self.table.last().map_or(0, |l| l.start + l.len)
    }
}

/// The devices of one LV, in create order (dependencies first). The last one is the LV itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub vg: String,
    pub lv: String,
    pub devices: Vec<DmDevice>,
    /// PVs missing from the LV's areas (only non-empty under partial/degraded activation).
    pub missing_pvs: Vec<String>,
}

impl Plan {
    /// The LV's own device (`/dev/<vg>/<lv>` points at it).
    pub fn top(&self) -> &DmDevice {
        self.devices.last().expect("a plan has at least one device")
    }

    /// Remove order: the LV's device first, then what it used.
    pub fn remove_order(&self) -> impl Iterator<Item = &DmDevice> {
        self.devices.iter().rev()
    }

    pub fn device(&self, uuid: &str) -> Option<&DmDevice> {
        self.devices.iter().find(|d| d.uuid == uuid)
    }

    /// Tables with devices written symbolically (`<dm name>` for dm devices), for reading and
    /// golden files.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for d in &self.devices {
            out.push_str(&format!("{}\n  uuid {}\n", d.name, d.uuid));
            for l in &d.table {
                let line = l.render_with(|r| match r {
                    DevRef::Block(n) => n.to_string(),
                    DevRef::Dm(u) => format!(
                        "<{}>",
                        self.device(u).map_or(u.as_str(), |d| d.name.as_str())
                    ),
                    DevRef::Absent => "-".into(),
                });
                out.push_str(&format!("  {line}\n"));
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("logical volume {vg}/{lv} not found")]
    NoSuchLv { vg: String, lv: String },
    #[error("{vg}/{lv} is a sub-volume of {parent}: activate {parent}")]
    SubVolume {
        vg: String,
        lv: String,
        parent: String,
    },
    #[error(
        "LV {vg}/{lv} is incomplete: PV {pv} ({device}) is missing; use --activationmode partial{}",
        if *.raid { " or degraded" } else { "" }
    )]
    Incomplete {
        vg: String,
        lv: String,
        pv: String,
        device: String,
        /// Degraded activation would do.
        raid: bool,
    },
    #[error("LV {vg}/{lv}: segment {segment} refers to unknown {what} {name}")]
    Dangling {
        vg: String,
        lv: String,
        segment: usize,
        what: &'static str,
        name: String,
    },
    #[error("LV {vg}/{lv}: segment type {segtype} cannot be activated")]
    Unsupported {
        vg: String,
        lv: String,
        segtype: String,
    },
    #[error("LV {vg}/{lv}: {problem}")]
    Invalid {
        vg: String,
        lv: String,
        problem: String,
    },
}

pub use lvmeta_model::ids::{dm_name, dm_uuid, mangle, split_dm_name};

/// Plans the devices of top-level LV `lv`.
pub fn plan_lv(
    vg: &VolumeGroup,
    lv: &str,
    pvs: &PvDevices,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let l = vg.lv(lv).ok_or_else(|| PlanError::NoSuchLv {
        vg: vg.name.clone(),
        lv: lv.into(),
    })?;
    if let Some(p) = vg.parent_of(lv) {
        return Err(PlanError::SubVolume {
            vg: vg.name.clone(),
            lv: lv.into(),
            parent: p.name.clone(),
        });
    }
    let mut p = Planner {
        vg,
        pvs,
        opts,
        devices: Vec::new(),
        missing: Vec::new(),
    };
    p.add_lv(l, l.name.as_str())?;
    Ok(Plan {
        vg: vg.name.clone(),
        lv: lv.into(),
        devices: p.devices,
        missing_pvs: p.missing,
    })
}

/// Plans every top-level LV of the VG (vgchange -ay), sorted by name.
pub fn plan_vg(
    vg: &VolumeGroup,
    pvs: &PvDevices,
    opts: &PlanOptions,
) -> Result<Vec<Plan>, PlanError> {
    let mut names: Vec<&str> = vg
        .lvs
        .iter()
        .filter(|l| l.is_visible())
        .map(|l| l.name.as_str())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| plan_lv(vg, n, pvs, opts))
        .collect()
}

struct Planner<'a> {
    vg: &'a VolumeGroup,
    pvs: &'a PvDevices,
    opts: &'a PlanOptions,
    devices: Vec<DmDevice>,
    missing: Vec<String>,
}

impl<'a> Planner<'a> {
    fn uuid_of(&self, lv: &LogicalVolume) -> String {
        dm_uuid(&self.vg.id, &lv.id, None)
    }

    fn sub(&self, top: &str, name: &str, segment: usize) -> Result<&'a LogicalVolume, PlanError> {
        let vg: &'a VolumeGroup = self.vg;
        vg.lv(name).ok_or_else(|| PlanError::Dangling {
            vg: self.vg.name.clone(),
            lv: top.into(),
            segment,
            what: "LV",
            name: name.into(),
        })
    }

    /// Adds `lv`'s devices (sub-LVs first) unless already planned; `top` names the LV the user
    /// asked for (for messages), `raid` whether `lv` is part of a raid LV (degraded is enough).
    fn add_lv(&mut self, lv: &LogicalVolume, top: &str) -> Result<String, PlanError> {
        let uuid = self.uuid_of(lv);
        if self.devices.iter().any(|d| d.uuid == uuid) {
            return Ok(uuid);
        }
        let ext = self.vg.extent_size.0;
        let raid_part = self.is_raid_part(lv);
        let mut table = Vec::new();
        for (si, seg) in lv.segments.iter().enumerate() {
            let start = seg.start_extent.0 * ext;
            let len = seg.extent_count.0 * ext;
            let line = match &seg.kind {
                SegmentKind::Striped { stripe_size, areas } => {
                    if areas.is_empty() {
                        return Err(self.invalid(top, format!("segment {si} has no areas")));
                    }
                    let mut devs = Vec::new();
                    for (ai, a) in areas.iter().enumerate() {
                        devs.extend(
                            self.pv_area(lv, top, si, seg, ai, &a.pv, a.start.0, raid_part)?,
                        );
                    }
                    if areas.len() == 1 {
                        TableLine {
                            start,
                            len,
                            target: "linear".into(),
                            params: devs,
                        }
                    } else {
                        let mut params = vec![
                            Param::Text(areas.len().to_string()),
                            Param::Text(stripe_size.0.to_string()),
                        ];
                        params.extend(devs);
                        TableLine {
                            start,
                            len,
                            target: "striped".into(),
                            params,
                        }
                    }
                }
                SegmentKind::Mirror {
                    region_size,
                    log,
                    legs,
                } => {
                    let region = region_size.ok_or_else(|| {
                        self.invalid(top, "mirror segment without region_size".into())
                    })?;
                    let mut params = Vec::new();
                    let handle = self.opts.mirror_handle_errors;
                    let sync = self
                        .opts
                        .mirror_resync
                        .map(|s| if s { "sync" } else { "nosync" });
                    let extra = usize::from(sync.is_some());
                    match log {
                        None => {
                            params.push(Param::Text("core".into()));
                            params.push(Param::Text((1 + extra).to_string()));
                        }
                        Some(log) => {
                            let log_lv = self.sub(top, log, si)?;
                            let dev = self.add_lv(log_lv, top)?;
                            params.push(Param::Text("disk".into()));
                            params.push(Param::Text((2 + extra).to_string()));
                            params.push(Param::Dev(DevRef::Dm(dev)));
                        }
                    }
                    params.push(Param::Text(region.0.to_string()));
                    params.extend(sync.map(|s| Param::Text(s.into())));
                    params.push(Param::Text(legs.len().to_string()));
                    for leg in legs {
                        let leg_lv = self.sub(top, &leg.lv, si)?;
                        let dev = self.add_lv(leg_lv, top)?;
                        params.push(Param::Dev(DevRef::Dm(dev)));
                        params.push(Param::Text((leg.start.0 * ext).to_string()));
                    }
                    if handle {
                        params.push(Param::Text("1".into()));
                        params.push(Param::Text("handle_errors".into()));
                    }
                    TableLine {
                        start,
                        len,
                        target: "mirror".into(),
                        params,
                    }
                }
                SegmentKind::Raid1 {
                    region_size,
                    images,
                } => {
                    let region = region_size.ok_or_else(|| {
                        self.invalid(top, "raid1 segment without region_size".into())
                    })?;
                    let mut devs = Vec::new();
                    let mut rebuild = Vec::new();
                    for (i, (meta, image)) in images.iter().enumerate() {
                        let vg: &'a VolumeGroup = self.vg;
                        let Some(img) = vg.lv(image) else {
                            devs.push(Param::Dev(DevRef::Absent));
                            devs.push(Param::Dev(DevRef::Absent));
                            continue;
                        };
                        // An image split off for tracking: visible and read-only.
                        if img.is_visible() && !img.status.contains(Flag::Write) {
                            devs.push(Param::Dev(DevRef::Absent));
                            devs.push(Param::Dev(DevRef::Absent));
                            continue;
                        }
                        if img.status.contains(Flag::Rebuild) {
                            rebuild.push(i);
                        }
                        let img_dev = self.add_lv(img, top)?;
                        match vg.lv(meta) {
                            Some(m) => {
                                let m_dev = self.add_lv(m, top)?;
                                devs.push(Param::Dev(DevRef::Dm(m_dev)));
                            }
                            None => devs.push(Param::Dev(DevRef::Absent)),
                        }
                        devs.push(Param::Dev(DevRef::Dm(img_dev)));
                    }
                    let count = 1 + 2 * rebuild.len() + 2;
                    let mut params = vec![
                        Param::Text("raid1".into()),
                        Param::Text(count.to_string()),
                        Param::Text("0".into()),
                    ];
                    for i in rebuild {
                        params.push(Param::Text("rebuild".into()));
                        params.push(Param::Text(i.to_string()));
                    }
                    params.push(Param::Text("region_size".into()));
                    params.push(Param::Text(region.0.to_string()));
                    params.push(Param::Text(images.len().to_string()));
                    params.extend(devs);
                    TableLine {
                        start,
                        len,
                        target: "raid".into(),
                        params,
                    }
                }
                SegmentKind::Other { segtype, .. } => {
                    return Err(PlanError::Unsupported {
                        vg: self.vg.name.clone(),
                        lv: top.into(),
                        segtype: segtype.clone(),
                    })
                }
            };
            table.push(line);
        }
        if table.is_empty() {
            return Err(self.invalid(top, format!("{} has no segments", lv.name)));
        }
        self.devices.push(DmDevice {
            name: dm_name(&self.vg.name, &lv.name, None),
            uuid: uuid.clone(),
            lv: lv.name.clone(),
            layer: None,
            table,
        });
        Ok(uuid)
    }

    fn invalid(&self, top: &str, problem: String) -> PlanError {
        PlanError::Invalid {
            vg: self.vg.name.clone(),
            lv: top.into(),
            problem,
        }
    }

    /// Raid images and metadata, or the raid LV itself: degraded activation covers them.
    fn is_raid_part(&self, lv: &LogicalVolume) -> bool {
        if lv
            .segments
            .iter()
            .any(|s| matches!(s.kind, SegmentKind::Raid1 { .. }))
        {
            return true;
        }
        self.vg.lvs.iter().any(|p| {
            p.segments.iter().any(|s| match &s.kind {
                SegmentKind::Raid1 { images, .. } => {
                    images.iter().any(|(m, i)| *m == lv.name || *i == lv.name)
                }
                _ => false,
            })
        })
    }

    /// The `dev offset` of one PV area, or of the error device standing in for a missing PV.
    #[allow(clippy::too_many_arguments)]
    fn pv_area(
        &mut self,
        lv: &LogicalVolume,
        top: &str,
        si: usize,
        seg: &Segment,
        ai: usize,
        pv_key: &str,
        pe: u64,
        raid_part: bool,
    ) -> Result<Vec<Param>, PlanError> {
        let pv = self.vg.pv(pv_key).ok_or_else(|| PlanError::Dangling {
            vg: self.vg.name.clone(),
            lv: top.into(),
            segment: si,
            what: "PV",
            name: pv_key.into(),
        })?;
        if let Some(dev) = self.pvs.get(pv_key) {
            let off = pv.pe_start.0 + self.vg.extent_size.0 * pe;
            return Ok(vec![
                Param::Dev(DevRef::Block(*dev)),
                Param::Text(off.to_string()),
            ]);
        }
        let allowed = match self.opts.mode {
            ActivationMode::Partial => true,
            ActivationMode::Degraded => raid_part,
            ActivationMode::Complete => false,
        };
        if !allowed {
            return Err(PlanError::Incomplete {
                vg: self.vg.name.clone(),
                lv: top.into(),
                pv: pv.id.clone(),
                device: pv.device_name().to_string(),
                raid: raid_part,
            });
        }
        if !self.missing.iter().any(|m| m == &pv.id) {
            self.missing.push(pv.id.clone());
        }
        // lvm2: one error device per missing area, as long as the whole segment, mapped from
        // offset 0 (a PV area has no logical extent of its own).
        let layer = format!("missing_{si}_{ai}");
        let uuid = dm_uuid(&self.vg.id, &lv.id, Some(&layer));
        if !self.devices.iter().any(|d| d.uuid == uuid) {
            self.devices.push(DmDevice {
                name: dm_name(&self.vg.name, &lv.name, Some(&layer)),
                uuid: uuid.clone(),
                lv: lv.name.clone(),
                layer: Some(layer),
                table: vec![TableLine {
                    start: 0,
                    len: seg.extent_count.0 * self.vg.extent_size.0,
                    target: "error".into(),
                    params: Vec::new(),
                }],
            });
        }
        Ok(vec![Param::Dev(DevRef::Dm(uuid)), Param::Text("0".into())])
    }
}
