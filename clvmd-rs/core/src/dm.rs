//! Device-mapper actions the state machine asks its driver for, and what comes back.
//!
//! The machine never computes tables: an action names an LV and the driver plans its tables
//! with lvmeta's activation planner from the VG's *committed* metadata as it is on disk
//! (read without a lock: lvm2's commit is one atomic sector write, so a read sees the old or
//! the new metadata, never a mix). That keeps the disk the one judge of what is committed.

use serde::{Deserialize, Serialize};

/// One LV, as the machine knows it from its activation lock.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LvRef {
    pub vg: String,
    /// The LV UUID with dashes (the LV lock's resource name).
    pub uuid: String,
    /// For messages and device names; the UUID identifies the LV.
    pub name: String,
}

impl std::fmt::Display for LvRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.vg, self.name)
    }
}

/// One device-mapper action on the LV's devices (top device and sub-devices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DmAction {
    /// Suspends the LV's top device. `flush`: wait for in-flight I/O (a resize); without it
    /// I/O is queued in the kernel (`--noflush`: a freeze, or a mirror leg held by
    /// `handle_errors`). Not active here: done, [`DmReport::active`] false.
    Suspend { lv: LvRef, flush: bool },
    /// Resumes the LV's devices with the tables they have (undoes a [`DmAction::Suspend`]).
    Resume { lv: LvRef },
    /// Plans the LV from the committed metadata on disk and brings the live devices to it:
    /// changed tables are loaded (a device suspended by [`DmAction::Suspend`] gets its new
    /// table and is resumed), new sub-devices created, dropped ones removed. `read_only`: the
    /// top device's table is read-only (this node's activation mode of the VG is ro or sr).
    /// Not active here: nothing.
    Refresh { lv: LvRef, read_only: bool },
    /// The live status lines of the LV's devices (mirror/raid health), nothing changed.
    Status { lv: LvRef },
    /// Reads the committed seqno of `lv`'s VG from disk ([`DmReport::seqno`]); nothing
    /// changed. Asked for under the VG lock held shared, after a node left the group.
    ReadSeqno { lv: LvRef },
}

impl DmAction {
    pub fn lv(&self) -> &LvRef {
        match self {
            DmAction::Suspend { lv, .. }
            | DmAction::Resume { lv }
            | DmAction::Refresh { lv, .. }
            | DmAction::Status { lv }
            | DmAction::ReadSeqno { lv } => lv,
        }
    }
}

/// What the driver found after an action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmReport {
    /// The LV's top device exists here.
    pub active: bool,
    /// Its size in 512-byte sectors after the action (live table), when active.
    pub size_sectors: Option<u64>,
    /// Devices whose live table changed.
    pub reloaded: Vec<String>,
    /// `(device, target, status params)` for [`DmAction::Status`].
    pub status: Vec<(String, String, String)>,
    /// The VG's committed seqno on disk, for [`DmAction::ReadSeqno`].
    #[serde(default)]
    pub seqno: Option<u32>,
}
