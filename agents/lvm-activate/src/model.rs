//! The input snapshot the decisions are made on, read through the backend and membership.

use std::collections::BTreeSet;

/// A physical volume of the VG as the metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvState {
    /// The PV's name in the metadata (`pv0`, ...), or its device.
    pub name: String,
    /// Not found on this node.
    pub missing: bool,
}

/// How a segment's areas relate: every stripe is needed, or any complete leg will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegKind {
    /// Linear (one area) or striped: all areas hold distinct data.
    Striped,
    /// dm-mirror or raid1: every leg holds all the data.
    Mirrored,
}

/// One segment of an LV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegState {
    /// First sector of the segment within the LV.
    pub lv_start: u64,
    pub sectors: u64,
    pub kind: SegKind,
    /// For each area (stripe or leg), the PVs it lives on.
    pub areas: Vec<Vec<String>>,
}

/// A (visible, top-level) logical volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvState {
    pub name: String,
    pub segments: Vec<SegState>,
}

/// What missing PVs do to an LV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Every area present.
    Complete,
    /// Redundancy lost, every byte still readable from a remaining leg.
    Degraded,
    /// Some data is on missing PVs only.
    Partial,
}

impl LvState {
    pub fn health(&self, missing: &BTreeSet<&str>) -> Health {
        let area_ok = |a: &Vec<String>| a.iter().all(|pv| !missing.contains(pv.as_str()));
        let mut worst = Health::Complete;
        for s in &self.segments {
            let ok = s.areas.iter().filter(|a| area_ok(a)).count();
            let h = if ok == s.areas.len() {
                Health::Complete
            } else {
                match s.kind {
                    SegKind::Mirrored if ok > 0 => Health::Degraded,
                    _ => Health::Partial,
                }
            };
            worst = worst.max(h);
        }
        worst
    }

    /// The PVs this LV uses that are missing.
    pub fn missing_pvs(&self, missing: &BTreeSet<&str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.segments {
            for pv in s.areas.iter().flatten() {
                if missing.contains(pv.as_str()) && !out.contains(pv) {
                    out.push(pv.clone());
                }
            }
        }
        out
    }
}

/// A volume group as its metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgState {
    pub name: String,
    /// `system_id`; `None` when unset or empty.
    pub system_id: Option<String>,
    pub tags: Vec<String>,
    /// `lock_type` (`dlm`, `sanlock`); `None` for a local VG.
    pub lock_type: Option<String>,
    /// The old clvmd `CLUSTERED` flag.
    pub clustered: bool,
    pub pvs: Vec<PvState>,
    pub lvs: Vec<LvState>,
}

impl VgState {
    pub fn missing(&self) -> BTreeSet<&str> {
        self.pvs
            .iter()
            .filter(|p| p.missing)
            .map(|p| p.name.as_str())
            .collect()
    }

    pub fn lv(&self, name: &str) -> Option<&LvState> {
        self.lvs.iter().find(|l| l.name == name)
    }
}

/// Device-mapper state of an active LV on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmState {
    Live,
    /// Suspended (e.g. in the middle of a cluster-wide resize): still counts as active.
    Suspended,
    /// The target reports lost redundancy (raid/mirror leg dead).
    Degraded,
    /// The target reports failure (error target, dead raid).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveLv {
    pub name: String,
    pub state: DmState,
}

/// A node the cluster knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub id: Option<u32>,
    pub name: String,
    /// In the current membership (alive).
    pub member: bool,
}

/// This node's identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalNode {
    /// The cluster node name (`crm_node -n`).
    pub name: Option<String>,
    /// The LVM system ID of this host.
    pub system_id: Option<String>,
}

/// The cluster lock daemon (clvmd-rs) as this node sees it, for a shared VG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockDaemon {
    /// halvm.toml does not select the cluster lock manager (`lock_manager = "dlm"`).
    NotConfigured,
    /// Nothing answers on the daemon's socket.
    NotRunning { detail: String },
    /// The daemon answers; `lockspace_started`: the VG's lockspace runs on this node.
    Running { lockspace_started: bool },
}

/// Everything a decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `None`: the VG is not visible from this node.
    pub vg: Option<VgState>,
    /// Active LVs of the VG on this node (device-mapper).
    pub active: Vec<ActiveLv>,
    pub local: LocalNode,
    /// Known cluster nodes; `None` when the membership could not be read.
    pub nodes: Option<Vec<ClusterNode>>,
    /// This node's start marker exists (set by start, cleared by stop, gone after reboot).
    pub started: bool,
    /// The lock daemon, read for the lvmlockd and clvmd access modes only.
    pub lock: Option<LockDaemon>,
    /// Pacemaker's controller runs this action (it passes `CRM_meta_on_node`): it starts a
    /// resource only once every other node reported it stopped. Not so for an agent run by
    /// hand or by ocf-tester.
    pub by_pacemaker: bool,
}

impl Snapshot {
    pub fn is_active(&self, lv: &str) -> bool {
        self.active.iter().any(|a| a.name == lv)
    }
}
