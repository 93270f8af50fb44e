//! Typed messages.

use serde::{Deserialize, Serialize};

/// DLM lock modes, weakest first: the one definition the protocol, the state machine and the
/// DLM wrapper (`halvm-dlm`, which maps them to libdlm's `LKM_*MODE`) share. `Pr` is lvm's
/// "sh", `Ex` its "ex"; `Cr`, `Cw`, `Pw` are the VxVM activation modes sr, sw, ew (ro is `Pr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Null: holds a place (and the LVB), excludes nothing.
    Nl,
    /// Concurrent read.
    Cr,
    /// Concurrent write.
    Cw,
    /// Protected read.
    Pr,
    /// Protected write.
    Pw,
    /// Exclusive.
    Ex,
}

impl Mode {
    pub const ALL: [Mode; 6] = [Mode::Nl, Mode::Cr, Mode::Cw, Mode::Pr, Mode::Pw, Mode::Ex];

    /// The kernel's compatibility matrix (fs/dlm `__dlm_compat_matrix`).
    pub fn compatible(self, other: Mode) -> bool {
        use Mode::*;
        match (self, other) {
            (Nl, _) | (_, Nl) => true,
            (Cr, m) | (m, Cr) => m != Ex,
            (Cw, m) | (m, Cw) => m == Cw,
            (Pr, m) | (m, Pr) => m == Pr,
            _ => false,
        }
    }

    /// Whether releasing (or down-converting from) this mode writes the LVB.
    pub fn writes_lvb(self) -> bool {
        matches!(self, Mode::Pw | Mode::Ex)
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Nl => "NL",
            Mode::Cr => "CR",
            Mode::Cw => "CW",
            Mode::Pr => "PR",
            Mode::Pw => "PW",
            Mode::Ex => "EX",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a VG/global lock request is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GLLK in `lvm_global`: the PV/VG name space.
    Global,
    /// VGLK in `lvm_<vg>`: one VG's metadata.
    Vg(String),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Global => write!(f, "global lock"),
            Scope::Vg(vg) => write!(f, "lock for VG {vg}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// First message on every connection.
    Hello {
        version: u32,
        client: String,
    },
    /// Joins `lvm_<vg>` (and `lvm_global`); `lock_args` is the VG's (`1.0.0:<cluster>`).
    LockStart {
        vg: String,
        lock_args: String,
    },
    /// Leaves `lvm_<vg>`; refused while LV locks are held unless `force`.
    LockStop {
        vg: String,
        force: bool,
    },
    /// GLLK/VGLK in `mode` (PR or EX) for this connection; released when it closes.
    /// `wait_ms`: how long to retry while another host holds it (0: fail at once).
    Lock {
        scope: Scope,
        mode: Mode,
        wait_ms: u32,
    },
    /// Back to NL. For a VGLK held EX, `seqno` is the VG seqno just committed (written to the
    /// LVB) and `removed` marks the VG removed; for GLLK EX the LVB counter is bumped.
    /// `quiet`: the commit only added LVs of their own (no existing LV, PV or name changed),
    /// so no node has tables to reload and the commit is not announced over CPG (each node
    /// learns the seqno from the LVB at its next grant). Sent only when true, so a daemon
    /// from before it parses every other unlock.
    Unlock {
        scope: Scope,
        seqno: Option<u32>,
        removed: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        quiet: bool,
    },
    /// An LV activation lock; held by the daemon until [`Request::LvUnlock`].
    LvLock {
        vg: String,
        lv_uuid: String,
        lv_name: String,
        mode: Mode,
    },
    LvUnlock {
        vg: String,
        lv_uuid: String,
        lv_name: String,
    },
    /// Atomic resize, before the commit: every node with the LV active suspends it. Needs the
    /// VG lock held EX on this node. Answered `Done` once every daemon suspended it (or has it
    /// inactive); on a refusal or timeout every node resumes and the answer is `Failed`.
    /// Closing the connection before [`Request::ResumeLv`] resumes everywhere.
    SuspendLv {
        vg: String,
        lv_uuid: String,
        lv_name: String,
    },
    /// A VxVM activation mode on a shared VG, held by the daemon: `Cr` shared-read, `Cw`
    /// shared-write, `Pr` read-only, `Pw` exclusive-write (the DLM's compatibility is VxVM's
    /// conflict table), `Nl` off. A conflict is `Busy` naming the holder.
    VgMode {
        vg: String,
        mode: Mode,
    },
    /// After the commit: every node loads the LV's tables from the committed metadata and
    /// resumes; `Done` once every daemon answered with the same size.
    ResumeLv {
        vg: String,
        lv_uuid: String,
        lv_name: String,
    },
    Status,
    /// Answered `Done` once this daemon knows every lock the other clvmd-rs daemons hold (a
    /// CPG barrier: each tells what it had not told). Daemons tell a lock only when another
    /// needs to know, so a [`Request::Status`] asked next on the same connection shows the LV
    /// locks held elsewhere, contended or not. A daemon from before it refuses the frame.
    Sync,
    /// The command holding this VG's lock EX could not write any metadata copy (every
    /// metadata area failed from this node): the daemon applies the metadata-loss policy,
    /// `policy` (the VG's own `halvm_dgfail_*` tag) or else its `policy.dg_failure`.
    MetadataLost {
        vg: String,
        error: String,
        policy: Option<DgFailure>,
    },
    /// Lifts a VG's `dgdisable` (cluster-wide) or this node's `leave`, once the storage is
    /// back.
    VgEnable {
        vg: String,
    },
    /// See [`CarryCommit`] (on the wire as a struct variant would be).
    CarryCommit(CarryCommit),
}

impl Request {
    /// An LV's activation lock in `mode` ([`Request::LvLock`]); NL is its release
    /// ([`Request::LvUnlock`]).
    pub fn lv(vg: String, lv_uuid: String, lv_name: String, mode: Mode) -> Request {
        if mode == Mode::Nl {
            Request::LvUnlock {
                vg,
                lv_uuid,
                lv_name,
            }
        } else {
            Request::LvLock {
                vg,
                lv_uuid,
                lv_name,
                mode,
            }
        }
    }
}

/// The command holding this VG's lock EX on this connection could not write any metadata
/// copy: another node writes `metadata` (the complete text of the commit, at most
/// [`MAX_CARRY_TEXT`] bytes, see [`carry_text_problem`]) from its view of the disks, on
/// this command's behalf, if the VG there is `vg_uuid` at seqno `disk_seqno`
/// (the text's is one more). Answered [`Response::Carried`]; otherwise the metadata-loss
/// policy (`policy`, else the daemon's `policy.dg_failure`) applies, as after
/// [`Request::MetadataLost`] with `error`, and the answer is `Failed` (`NotCarried`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarryCommit {
    pub vg: String,
    pub vg_uuid: String,
    pub disk_seqno: u32,
    pub metadata: String,
    pub error: String,
    pub policy: Option<DgFailure>,
}

/// Largest metadata text a node carries for another ([`Request::CarryCommit`]). lvm2's
/// default metadata area (1 MiB) bounds a VG's text; a carried text travels in one socket
/// frame and one CPG message, so it is held to a quarter of that (a VG of some hundreds of
/// LVs). A larger text is not carried: the policy applies at once.
pub const MAX_CARRY_TEXT: usize = 256 * 1024;

/// Why `text` cannot be carried, if it cannot: too long, or holding control characters
/// metadata text never has (which would also make its JSON up to six times longer; with
/// tabs and newlines only, its JSON is at most twice as long).
pub fn carry_text_problem(text: &str) -> Option<String> {
    if text.len() > MAX_CARRY_TEXT {
        return Some(format!(
            "metadata text of {} bytes exceeds the {MAX_CARRY_TEXT} a node carries",
            text.len()
        ));
    }
    if text.is_empty() {
        return Some("empty metadata text".into());
    }
    text.bytes()
        .position(|b| b.is_ascii_control() && b != b'\n' && b != b'\t')
        .map(|at| format!("control character in the metadata text at byte {at}"))
}

/// `policy.dg_failure`: what follows a commit that could not write any metadata copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DgFailure {
    /// The VG is disabled on every node: changes refused, volumes keep serving I/O.
    #[default]
    Dgdisable,
    /// The node that lost the metadata leaves the VG; the others keep it.
    Leave,
}

impl DgFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            DgFailure::Dgdisable => "dgdisable",
            DgFailure::Leave => "leave",
        }
    }
}

/// Who holds a lock we could not get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// A node running clvmd-rs, which announced it holds the lock.
    Node { id: u32, name: String, mode: Mode },
    /// No clvmd-rs node claims it: a host running stock lvmlockd (or a lock just taken).
    OtherHost,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Node { id, name, mode } => write!(f, "node {name} (id {id}, {mode})"),
            Holder::OtherHost => write!(f, "another host (not running clvmd-rs)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is malformed or names something invalid.
    Invalid,
    /// The lockspace is not started here.
    NotStarted,
    /// The VG's lock_args name another cluster.
    ClusterMismatch,
    /// No DLM cluster (dlm_controld not running).
    NoDlm,
    /// Joining or leaving a lockspace failed.
    Lockspace,
    /// LV locks are held; lockstop needs force.
    LockspaceBusy,
    /// This node is not quorate: no metadata changes.
    NoQuorum,
    /// The VG was removed (VBF_REMOVED in the LVB).
    Removed,
    /// The lock is not held by this connection / daemon.
    NotHeld,
    /// A DLM call failed.
    Dlm,
    /// The protocol was not followed (no hello, wrong version).
    Protocol,
    /// The VG is disabled (`policy.dg_failure`): a node lost every metadata copy.
    VgDisabled,
    /// No other node carried the commit ([`Request::CarryCommit`]): the policy applied.
    NotCarried,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    Hello {
        version: u32,
        node_id: u32,
        node_name: String,
    },
    Done,
    /// A VG/global lock: the LVB's r_version (VG seqno, or GLLK counter) if the LVB is valid
    /// and initialised; `lvb_invalid` when the DLM lost it in recovery.
    Granted {
        r_version: Option<u32>,
        lvb_invalid: bool,
    },
    /// Held elsewhere in an incompatible mode.
    Busy {
        resource: String,
        holder: Holder,
    },
    Failed {
        kind: ErrorKind,
        message: String,
    },
    Status(Status),
    /// [`Request::CarryCommit`] done: node `node_id` wrote the commit.
    Carried {
        node_id: u32,
        node_name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: u32,
    pub name: Option<String>,
}

impl LockStatus {
    /// An LV's activation lock (its name is known only where the LV was asked for: one
    /// active on other nodes only has none here).
    pub fn is_lv(&self) -> bool {
        !matches!(self.resource.as_str(), "GLLK" | "VGLK" | MODE_RESOURCE)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteHold {
    pub node: u32,
    pub name: Option<String>,
    pub mode: Mode,
}

/// The DLM resource of a VG's activation mode (in `lvm_<vg>`, beside lvmlockd's `VGLK`).
pub const MODE_RESOURCE: &str = "HALVM_ACTMODE";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockStatus {
    /// `GLLK`, `VGLK`, [`MODE_RESOURCE`] or the LV UUID.
    pub resource: String,
    /// The LV name, for LV locks.
    pub lv_name: Option<String>,
    /// The DLM mode this node holds (NL when only placed).
    pub mode: Mode,
    /// Local holders: `persistent` (activation) or `client <pid>`.
    pub holders: Vec<String>,
    /// Other clvmd-rs nodes holding it, as they announced.
    pub remote: Vec<RemoteHold>,
    /// The last refusal here: who held it.
    pub last_busy: Option<Holder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockspaceStatus {
    pub name: String,
    pub state: String,
    /// The newest VG seqno seen (LVB or a commit announced over CPG).
    pub seqno: Option<u32>,
    pub locks: Vec<LockStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub node_id: u32,
    pub node_name: String,
    /// The DLM cluster this node is in (dlm_controld's), for new VGs' lock_args.
    pub cluster_name: Option<String>,
    pub quorate: bool,
    pub members: Vec<Member>,
    pub lockspaces: Vec<LockspaceStatus>,
    /// Shared VGs whose I/O this node stopped because it lost quorum.
    #[serde(default)]
    pub frozen: Vec<FrozenVg>,
    /// What is wrong with the cluster stack beside corosync (dlm_controld not running).
    #[serde(default)]
    pub cluster_stack: Option<String>,
    /// LVs active here with a failed mirror/raid1 leg (`policy.detach`).
    #[serde(default)]
    pub failed_lvs: Vec<FailedLv>,
    /// VGs disabled after a node lost every metadata copy (`policy.dg_failure`): cluster-wide
    /// (`dgdisable`) or left by this node (`leave`).
    #[serde(default)]
    pub disabled_vgs: Vec<DisabledVg>,
    /// LVs this node reloaded because the VG's metadata on disk was newer than its tables
    /// after a node left the group (that node committed and died before announcing it).
    #[serde(default)]
    pub peer_refreshes: Vec<PeerRefresh>,
}

/// An LV reloaded here after a node left the daemons' group with a commit it never announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRefresh {
    pub vg: String,
    pub lv: String,
    /// The committed seqno read from disk (under the VG lock shared) and loaded.
    pub seqno: u32,
    /// The seqno this node's tables were loaded from before, if it knew it.
    pub from_seqno: Option<u32>,
    /// The nodes that left (names where known).
    pub nodes: Vec<String>,
    /// Devices whose table changed.
    pub reloaded: Vec<String>,
    pub ago_ms: u64,
}

/// A VG disabled by the metadata-loss policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledVg {
    pub vg: String,
    /// `dgdisable` (every node refuses changes) or `leave` (this node left the VG).
    pub policy: DgFailure,
    /// The node that could not write any metadata copy.
    pub node_id: u32,
    pub node_name: String,
    /// Why its commit failed.
    pub error: String,
    pub for_ms: u64,
    /// `leave`: whether the VG's lockspace is still joined here (LVs still active).
    pub lockspace_joined: bool,
}

impl DisabledVg {
    /// The refusal of a change, naming the VG, the node and the way back.
    pub fn refusal(&self) -> String {
        match self.policy {
            DgFailure::Dgdisable => format!(
                "VG {} is disabled cluster-wide (policy.dg_failure = dgdisable) since a commit from node {} ({}) failed: {}. Volumes keep serving I/O; no metadata changes until the storage is fixed and `clvmd-rs enable {}` is run on a node that reads the VG",
                self.vg, self.node_name, self.node_id, self.error, self.vg
            ),
            DgFailure::Leave => format!(
                "this node ({}) left VG {} (policy.dg_failure = leave) since a commit from it failed: {}. Other nodes keep the VG; after fixing this node's storage run `clvmd-rs enable {}` here, then lvmeta vgchange --lockstart {}",
                self.node_name, self.vg, self.error, self.vg, self.vg
            ),
        }
    }
}

/// An LV active on this node whose mirror/raid1 leg failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedLv {
    pub vg: String,
    pub lv: String,
    pub uuid: String,
    /// Dead legs, 0-based in table order.
    pub dead_legs: Vec<usize>,
    /// The mirror's disk log failed.
    #[serde(default)]
    pub dead_log: bool,
    /// `stopped`: I/O to the LV stopped on this node (policy.detach = local, or a global
    /// detach that could not commit); `detaching`: the global detach is being committed;
    /// `detached`: the leg was detached cluster-wide and the LV reloaded without it here.
    pub action: String,
    pub for_ms: u64,
    pub error: Option<String>,
}

impl FailedLv {
    /// "leg(s) [1]", "log", or "leg(s) [1] and log".
    pub fn what_failed(&self) -> String {
        match (self.dead_legs.is_empty(), self.dead_log) {
            (true, true) => "log".into(),
            (false, true) => format!("leg(s) {:?} and log", self.dead_legs),
            _ => format!("leg(s) {:?}", self.dead_legs),
        }
    }
}

impl Status {
    /// Why this node does not serve I/O to LV `lv_uuid` (with dashes) of VG `vg`, for a
    /// resource agent's monitor: its VG is frozen on quorum loss, or a mirror leg failed and
    /// `policy.detach = local` stopped its I/O here. `None`: nothing the daemon did blocks it.
    pub fn io_blocked(&self, vg: &str, lv_uuid: &str) -> Option<String> {
        if let Some(f) = self.frozen.iter().find(|f| f.vg == vg) {
            if let Some(why) = &f.stranded {
                return Some(format!(
                    "I/O to VG {vg} is frozen for good ({}) on node {}: {why}",
                    f.how, self.node_name
                ));
            }
            return Some(format!(
                "I/O to VG {vg} is {} ({}): node {} lost quorum {} ms ago",
                f.state, f.how, self.node_name, f.for_ms
            ));
        }
        if let Some(d) = self
            .disabled_vgs
            .iter()
            .find(|d| d.vg == vg && d.policy == DgFailure::Leave)
        {
            return Some(d.refusal());
        }
        self.failed_lvs
            .iter()
            .find(|f| f.vg == vg && f.uuid == lv_uuid && f.action == "stopped")
            .map(|f| {
                format!(
                    "{vg}/{}: mirror {} failed; I/O stopped on node {} (policy.detach = local)",
                    f.lv,
                    f.what_failed(),
                    self.node_name
                )
            })
    }
}

/// A shared VG fenced off on quorum loss (`policy.quorum_loss`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenVg {
    pub vg: String,
    /// `freezing`, `frozen`, `thawing`, or `stranded` (frozen for good).
    pub state: String,
    /// `freeze` or `fail-io`.
    pub how: String,
    pub for_ms: u64,
    /// Why the last freeze or thaw failed.
    pub error: Option<String>,
    /// Set when the VG is never thawed again (state `stranded`): why, and what the admin must
    /// do. A partition merge, the cluster stack lost, or a daemon restarted while frozen.
    #[serde(default)]
    pub stranded: Option<String>,
}

/// serde's `skip_serializing_if` for flags sent only when set.
fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::Mode::{self, *};

    #[test]
    fn compatibility_matrix_is_the_kernels() {
        // Rows/columns NL CR CW PR PW EX, from fs/dlm/lock.c __dlm_compat_matrix.
        let m = [
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 0, 1, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 0, 0, 0, 0, 0],
        ];
        for (i, a) in Mode::ALL.iter().enumerate() {
            for (j, b) in Mode::ALL.iter().enumerate() {
                assert_eq!(a.compatible(*b), m[i][j] == 1, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn vxvm_activation_table_is_the_matrix() {
        // DESIGN.md: held in rows, asked in columns: ew ro sr sw; sr=CR sw=CW ro=PR ew=PW.
        let modes = [Pw, Pr, Cr, Cw];
        let table = [
            [false, false, true, false],
            [false, true, true, false],
            [true, true, true, true],
            [false, false, true, true],
        ];
        for (i, held) in modes.iter().enumerate() {
            for (j, asked) in modes.iter().enumerate() {
                assert_eq!(held.compatible(*asked), table[i][j], "{held} vs {asked}");
            }
        }
    }
}
