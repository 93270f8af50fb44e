//! Messages the daemons exchange over CPG (group `clvmd-rs`), delivered in agreed order.

use clvmd_proto::Mode;

use crate::dm::LvRef;
use serde::{Deserialize, Serialize};

/// The CPG group name.
pub const GROUP: &str = "clvmd-rs";
/// What this daemon speaks beyond the messages every clvmd-rs daemon decodes, told in its
/// [`CpgMsg::Snapshot`]. Additions go in new optional fields (serde default) or new messages,
/// which an older daemon ignores (unknown fields are skipped, an unknown message is logged and
/// dropped); a peer relies on one only once the sender's version says it has it. Raised with
/// each such addition; a peer that sends no version is 0.
/// - 1: answers [`CpgMsg::Barrier`] with [`CpgMsg::BarrierAck`].
/// - 2: tells an LV's activation lock (or a VG's activation mode) only when asked, as a
///   command's GLLK/VGLK (`announce.rs`), and sends a barrier before it shows the LV locks
///   other nodes hold (`clvmd-rs status`, `lvs -o lv_active_nodes`). An older daemon relies on
///   them being told at once for these views: while one is in the group, every node tells
///   them at once.
pub const CPG_VERSION: u32 = 2;
/// The first [`CPG_VERSION`] that answers barriers.
pub const ANSWERS_BARRIERS: u32 = 1;
/// The first [`CPG_VERSION`] that does not need to be told LV locks at once.
pub const ASKS_FOR_LV_HOLDS: u32 = 2;

/// Largest message accepted from a peer (a carried commit's text, whose JSON is at most
/// twice [`clvmd_proto::MAX_CARRY_TEXT`], fits).
pub const MAX_MESSAGE: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpgMsg {
    /// Everything the sender holds (above NL), sent after each membership change so joiners
    /// learn it; replaces what was known of the sender.
    Snapshot {
        name: String,
        holds: Vec<(String, String, Mode)>,
        /// VGs the sender knows disabled cluster-wide (`policy.dg_failure = dgdisable`).
        #[serde(default)]
        disabled: Vec<DisabledRec>,
        /// The sender's [`CPG_VERSION`] (0 from a daemon that sends none).
        #[serde(default)]
        version: u32,
    },
    /// The sender now holds `res` in `ls` in `mode` (NL: released).
    Held { ls: String, res: String, mode: Mode },
    /// The sender's first waiter for `res` in `ls` was refused by the DLM and waits for
    /// `mode` (NL: no longer waits). A node that holds the lock against it lets it through
    /// before admitting more of its own clients, so passing the lock between local clients
    /// cannot starve another node.
    Waiting { ls: String, res: String, mode: Mode },
    /// A barrier: every other member answers it with [`CpgMsg::BarrierAck`] after announcing
    /// the holds it had not announced yet (a command's VG or global lock, an LV's activation
    /// lock: see `announce.rs`).
    /// Once the sender has the answers of every member whose version answers barriers
    /// ([`ANSWERS_BARRIERS`]), every hold of a clvmd-rs node is known to it (an older daemon
    /// announces every hold at once), so a holder still unknown is not a clvmd-rs node.
    Barrier { token: u64 },
    /// A member's answer to `origin`'s [`CpgMsg::Barrier`], sent after its announcements.
    BarrierAck { origin: u32, token: u64 },
    /// A commit to `vg` left this seqno (the VGLK was released from EX with it).
    Committed { vg: String, seqno: u32 },
    /// A node could not write any metadata copy of the VG: disabled on every node
    /// (`policy.dg_failure = dgdisable`, dgfail.rs).
    VgDisabled(DisabledRec),
    /// The VG's `dgdisable` is lifted (`clvmd-rs enable`).
    VgEnabled { vg: String },
    /// The sender's leg detach wrote no metadata copy: `carrier` commits the same detach
    /// from its own view of the disks (dgfail.rs), then answers [`CpgMsg::Carried`].
    CarryDetach {
        carrier: u32,
        lv: LvRef,
        images: Vec<String>,
    },
    /// The sender's command holds the VG lock EX and wrote no metadata copy: `carrier` writes
    /// its text as the next commit, without the VG lock, if the VG on disk is the one named
    /// at the seqno named (dgfail.rs), then answers [`CpgMsg::Carried`] with the VG UUID.
    CarryCommit {
        carrier: u32,
        commit: crate::CarriedCommit,
    },
    /// `carrier`'s answer to `origin`'s [`CpgMsg::CarryDetach`] of LV `uuid` or
    /// [`CpgMsg::CarryCommit`] of VG `uuid`.
    Carried {
        origin: u32,
        uuid: String,
        error: Option<String>,
    },
    /// Atomic resize, phase 1: every node with `lv` active suspends it (flushing) and answers
    /// [`CpgMsg::Suspended`]. `txn` is unique per sender.
    Suspend { txn: u64, lv: LvRef },
    /// A node's answer to `origin`'s [`CpgMsg::Suspend`]; `error` when it could not suspend.
    Suspended {
        origin: u32,
        txn: u64,
        active: bool,
        error: Option<String>,
    },
    /// Phase 2: every node that suspended `lv` for `txn` loads its tables from the committed
    /// metadata on disk and resumes (the disk decides: new size if the commit happened, old
    /// size if not, which is also how an aborted resize is rolled back).
    Resume { txn: u64, lv: LvRef },
    /// A node's answer to `origin`'s [`CpgMsg::Resume`], with the size it now serves.
    Resumed {
        origin: u32,
        txn: u64,
        size_sectors: Option<u64>,
        error: Option<String>,
    },
}

/// A VG disabled by the metadata-loss policy, as every node records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledRec {
    pub vg: String,
    /// The node that could not write any metadata copy.
    pub node_id: u32,
    pub node_name: String,
    /// Why its commit failed.
    pub error: String,
}

impl CpgMsg {
    /// Messages of the resize protocol (coord.rs).
    pub fn is_coord(&self) -> bool {
        matches!(
            self,
            CpgMsg::Suspend { .. }
                | CpgMsg::Suspended { .. }
                | CpgMsg::Resume { .. }
                | CpgMsg::Resumed { .. }
        )
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("CPG messages serialize")
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() > MAX_MESSAGE {
            return None;
        }
        serde_json::from_slice(b).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The snapshot as daemons before [`CPG_VERSION`] decode it.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum OldMsg {
        Snapshot {
            name: String,
            holds: Vec<(String, String, Mode)>,
            #[serde(default)]
            disabled: Vec<DisabledRec>,
        },
    }

    fn snapshot(version: u32) -> CpgMsg {
        CpgMsg::Snapshot {
            name: "node1".into(),
            holds: vec![("lvm_vg".into(), "VGLK".into(), Mode::Ex)],
            disabled: Vec::new(),
            version,
        }
    }

    #[test]
    fn an_older_daemon_reads_a_snapshot_with_a_version() {
        let old: OldMsg = serde_json::from_slice(&snapshot(CPG_VERSION).encode()).unwrap();
        let OldMsg::Snapshot {
            name,
            holds,
            disabled,
        } = old;
        assert_eq!(name, "node1");
        assert_eq!(holds.len(), 1);
        assert!(disabled.is_empty());
    }

    #[test]
    fn an_older_daemons_snapshot_is_version_0() {
        let mut v: serde_json::Value = serde_json::from_slice(&snapshot(7).encode()).unwrap();
        v["snapshot"].as_object_mut().unwrap().remove("version");
        let b = serde_json::to_vec(&v).unwrap();
        assert_eq!(CpgMsg::decode(&b), Some(snapshot(0)));
    }

    proptest! {
        #[test]
        fn snapshots_round_trip(
            name in "[a-z0-9.-]{0,16}",
            holds in prop::collection::vec(("[a-z_]{1,8}", "[A-Za-z0-9-]{1,38}", 0usize..6), 0..4),
            version in any::<u32>(),
        ) {
            let m = CpgMsg::Snapshot {
                name,
                holds: holds.into_iter().map(|(l, r, m)| (l, r, Mode::ALL[m])).collect(),
                disabled: Vec::new(),
                version,
            };
            prop_assert_eq!(CpgMsg::decode(&m.encode()), Some(m));
        }
    }
}
