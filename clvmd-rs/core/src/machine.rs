//! The per-node state machine.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use clvmd_proto::{
    DgFailure, ErrorKind, Holder, LockStatus, LockspaceStatus, Member, Mode, RemoteHold, Request,
    Response, Scope, Status,
};
use halvm_dlm::{Flags, LockId, LockspaceName, Outcome, ResourceName};

use crate::cpg::{CpgMsg, ANSWERS_BARRIERS};
use crate::detach::{Detach, Follow, LvStatus, WatchAction, Watcher};
use crate::dm::{DmAction, DmReport, LvRef};
use crate::lvb::ValBlk;
use crate::quorum::{FenceAction, Freezer, QuorumLoss};

// What the daemons tell each other they hold, and when (most holds are told late, if ever).
#[path = "announce.rs"]
mod announce;
pub use announce::ANNOUNCE_AFTER_MS;
use announce::{Asker, Refusal, Unresolved};
// Cluster-wide coordination (issue 14) lives beside the lock logic, in child modules so they
// reach the node's state: propagation of commits and the two-phase atomic resize.
#[path = "coord.rs"]
mod coord;
pub(crate) use coord::Coord;
#[path = "dgfail.rs"]
mod dgfail;
pub use dgfail::{CarriedCommit, CARRY_MS};
#[cfg(test)]
#[path = "drive_tests.rs"]
mod drive_tests;
#[path = "modes.rs"]
pub mod modes;
#[path = "recheck.rs"]
mod recheck;

/// A client connection, numbered by the driver.
pub type ConnId = u64;

/// First retry after a refusal, and the cap of the backoff (ms).
const RETRY_MIN_MS: u64 = 20;
const RETRY_MAX_MS: u64 = 500;

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub node_id: u32,
    pub node_name: String,
    /// What to do with shared VGs' I/O when quorum is lost (halvm.toml policy.quorum_loss).
    pub quorum_loss: QuorumLoss,
    /// What to do when a mirror leg fails (halvm.toml policy.detach).
    pub detach: Detach,
    /// What to do when a commit here cannot write any metadata copy (policy.dg_failure),
    /// for VGs without their own `halvm_dgfail_*` tag.
    pub dg_failure: DgFailure,
}

#[derive(Debug, Clone)]
pub enum Input {
    /// A client connected (`pid` from its peer credentials).
    Connected {
        conn: ConnId,
        pid: i32,
    },
    Request {
        conn: ConnId,
        request: Request,
    },
    Disconnected {
        conn: ConnId,
    },
    /// The DLM cluster name (`/sys/kernel/config/dlm/cluster/cluster_name`), `None` when
    /// dlm_controld is not running. The driver refreshes it before a lockstart.
    ClusterName(Option<String>),
    /// A [`Output::Join`] finished: `Ok(existed)`.
    Joined {
        ls: LockspaceName,
        result: Result<bool, String>,
    },
    /// A [`Output::Leave`] finished.
    Left {
        ls: LockspaceName,
        result: Result<(), String>,
    },
    /// A [`Output::Dlm`] finished.
    DlmDone {
        tag: u64,
        result: Result<Outcome, String>,
    },
    /// CPG membership of the daemons' group (node ids).
    Membership {
        members: Vec<u32>,
    },
    /// A CPG message in agreed order (our own included).
    Cpg {
        from: u32,
        msg: CpgMsg,
    },
    /// Corosync quorum.
    Quorum {
        quorate: bool,
    },
    /// Corosync quorum with its member list (the quorum service's notification): a node that
    /// left this list while this node was frozen and is back in it is a partition merge, and
    /// the frozen VGs are never thawed ([`crate::quorum`]).
    QuorumView {
        quorate: bool,
        members: Vec<u32>,
    },
    /// The connection to corosync failed (CPG or quorum): this node is not quorate from now
    /// on and whatever is frozen stays frozen. The daemon stays up to say so.
    ClusterLost {
        why: String,
    },
    /// dlm_controld appeared or went away (the daemon watches its control socket) while
    /// corosync may run on: see [`crate::quorum::DLM_CONTROLD_LOST`].
    DlmControld {
        running: bool,
    },
    /// A [`Output::Dm`] finished.
    DmDone {
        tag: u64,
        result: Result<DmReport, String>,
    },
    /// Time passed (retries are due at [`Node::next_wake`]).
    Tick,
    /// The daemon stops cleanly (SIGTERM): it leaves `lvm_global`, which holds no activation
    /// locks; VG lockspaces stay joined so their activation locks live on as orphans for the
    /// next daemon. Done when [`Node::leaving_global`] turns false.
    Shutdown,
    /// A [`Output::Fence`] finished.
    FenceDone {
        tag: u64,
        result: Result<(), String>,
    },
    /// A [`Output::Watch`] finished: the status lines read (empty for `FailLv`).
    WatchDone {
        tag: u64,
        result: Result<Vec<LvStatus>, String>,
    },
    /// At start: the lockspaces this node's DLM still has joined, left by a daemon that died.
    /// lvmlockd's (`lvm_*`) are joined again at once, so their orphan locks are adopted and
    /// released by the next `-an` without a lockstart (an agent's stop after a restart).
    LockspacesFound {
        names: Vec<LockspaceName>,
    },
    /// A [`WatchAction::ReadPolicy`] finished: the VG's own detach policy, if it sets one.
    PolicyRead {
        tag: u64,
        result: Result<Option<Detach>, String>,
    },
    /// The answer to a [`WatchAction::Detach`] whose commit wrote no metadata copy (instead of
    /// [`Input::WatchDone`]); the driver has not applied the metadata-loss policy: the
    /// machine first asks a peer to carry the commit (dgfail.rs). `policy`: the VG's own.
    DetachNoMetadata {
        tag: u64,
        error: String,
        policy: Option<DgFailure>,
    },
    /// A [`Output::WriteCommit`] finished (`Err`: refused or failed, why).
    CommitWritten {
        tag: u64,
        result: Result<(), String>,
    },
    /// The driver could read no metadata copy of `vg` (its devices fail I/O) when it needed
    /// the metadata (a reload, a seqno check, a detach): with LVs of `vg` active here the
    /// metadata-loss policy applies, as after a commit that wrote no copy. `policy`: the VG's
    /// own, when known (its tags cannot be read now: usually none).
    MetadataUnreadable {
        vg: String,
        error: String,
        policy: Option<DgFailure>,
    },
    /// At start: shared VGs a previous daemon left frozen on this node (the driver's record).
    FrozenFound {
        vgs: Vec<(String, QuorumLoss)>,
    },
}

/// One DLM call, to run in order with the other calls of its lockspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlmOp {
    Lock {
        res: ResourceName,
        mode: halvm_dlm::Mode,
        flags: Flags,
    },
    Convert {
        res: ResourceName,
        lkid: LockId,
        mode: halvm_dlm::Mode,
        flags: Flags,
        lvb: Option<halvm_dlm::Lvb>,
    },
    Unlock {
        res: ResourceName,
        lkid: LockId,
    },
    Adopt {
        res: ResourceName,
        mode: halvm_dlm::Mode,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Reply {
        conn: ConnId,
        response: Response,
    },
    Join {
        ls: LockspaceName,
    },
    Leave {
        ls: LockspaceName,
    },
    Dlm {
        ls: LockspaceName,
        tag: u64,
        op: DlmOp,
    },
    /// Multicast to the group in agreed order.
    Cpg(CpgMsg),
    /// Freeze or thaw a shared VG's active LVs on this node (quorum loss); answer with
    /// [`Input::FenceDone`].
    Fence {
        tag: u64,
        action: FenceAction,
    },
    /// Read mirror/raid health or stop I/O to an LV with a failed leg (detach.rs); answer
    /// with [`Input::WatchDone`].
    Watch {
        tag: u64,
        action: WatchAction,
    },
    /// Write another node's commit (it holds the VG lock EX and could write no metadata copy)
    /// from this node's view of the disks, without taking the VG lock: only if the VG there
    /// is `commit.vg_uuid` at seqno `commit.disk_seqno` and the text is that VG at the next
    /// seqno. Answered with [`Input::CommitWritten`] (dgfail.rs).
    WriteCommit {
        tag: u64,
        commit: CarriedCommit,
    },
    /// A device-mapper action, carried out in order with the node's other [`Output::Dm`]s;
    /// answered by [`Input::DmDone`] with the same tag.
    Dm {
        tag: u64,
        action: DmAction,
    },
}

/// `new` conflicts with nothing `old` does not conflict with: converting to it cannot be
/// refused. (The modes' numeric order is not this order: CW and PR are not comparable.)
fn weaker(new: Mode, old: Mode) -> bool {
    Mode::ALL
        .iter()
        .all(|m| !old.compatible(*m) || new.compatible(*m))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Conn(ConnId),
    /// An activation lock, held by the daemon itself.
    Persistent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Global,
    Vg,
    Lv,
}

#[derive(Debug)]
struct Waiter {
    conn: ConnId,
    owner: Owner,
    mode: Mode,
    deadline: u64,
    retry_at: u64,
    attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Create,
    Adopt(Mode),
    Up(Mode),
    Down(Mode),
    Unlock,
}

#[derive(Debug)]
struct Res {
    kind: Kind,
    lv_name: Option<String>,
    lkid: Option<LockId>,
    /// The DLM mode granted here.
    mode: Mode,
    op: Option<(u64, OpKind)>,
    /// Clients to answer when the op in flight completes (releases).
    op_replies: Vec<ConnId>,
    holders: BTreeMap<Owner, Mode>,
    waiters: VecDeque<Waiter>,
    lvb: Option<ValBlk>,
    lvb_invalid: bool,
    /// Orphan modes still to try (a previous daemon left the lockspace joined).
    adopt: Vec<Mode>,
    last_busy: Option<Holder>,
    /// The mode announced to the other daemons as waited for ([`CpgMsg::Waiting`]).
    announced_wait: Option<Mode>,
    /// The mode the other daemons were last told this node holds ([`CpgMsg::Held`], or a
    /// snapshot); it lags [`Res::mode`] while a hold is not told yet (announce.rs).
    told: Mode,
    /// When the mode last rose from NL (how long an untold hold has lasted).
    raised_at: u64,
    /// This resource's entry in [`Node::wakes`]: when its first waiter's retry or deadline
    /// comes (as of its last drive).
    wake: Option<u64>,
}

impl Res {
    fn new(kind: Kind, adopt: bool) -> Self {
        Res {
            kind,
            lv_name: None,
            lkid: None,
            mode: Mode::Nl,
            op: None,
            op_replies: Vec::new(),
            holders: BTreeMap::new(),
            waiters: VecDeque::new(),
            lvb: None,
            lvb_invalid: false,
            // NL last: a daemon killed between commands leaves GLLK/VGLK as NL orphans.
            adopt: if adopt {
                vec![Mode::Ex, Mode::Pw, Mode::Pr, Mode::Cw, Mode::Cr, Mode::Nl]
            } else {
                Vec::new()
            },
            last_busy: None,
            announced_wait: None,
            told: Mode::Nl,
            raised_at: 0,
            wake: None,
        }
    }

    fn has_lvb(&self) -> bool {
        self.kind != Kind::Lv
    }

    /// Whether `w` fits beside the local holders (its own holding is being replaced).
    fn locally_ok(&self, w: &Waiter) -> bool {
        self.holders
            .iter()
            .all(|(o, m)| *o == w.owner || m.compatible(w.mode))
    }

    /// The mode the local holders need, with `w` holding beside them (replacing its owner's).
    fn need(&self, w: Option<&Waiter>) -> Mode {
        self.holders
            .iter()
            .filter(|(o, _)| w.is_none_or(|w| **o != w.owner))
            .map(|(_, m)| *m)
            .chain(w.map(|w| w.mode))
            .max()
            .unwrap_or(Mode::Nl)
    }

    /// When driving this resource may do something new with no other change: its first
    /// waiter's retry or deadline (what [`Res::target`] and the deadline check read), unless
    /// a DLM call is in flight (its completion drives it).
    fn next_wake(&self, now: u64) -> Option<u64> {
        if self.op.is_some() {
            return None;
        }
        let w = self.waiters.front()?;
        [w.retry_at, w.deadline]
            .into_iter()
            .filter(|t| *t > now)
            .min()
    }

    /// The DLM mode to convert to: the holders plus the first waiter if it fits beside them and
    /// is not backing off. While it backs off after a refusal the node drops to what its
    /// holders need, so two nodes converting up from PR cannot block each other for good.
    fn target(&self, now: u64) -> Mode {
        let w = self
            .waiters
            .front()
            .filter(|w| self.locally_ok(w) && w.retry_at <= now);
        self.need(w)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LsState {
    Joining,
    Running,
    Leaving,
}

#[derive(Debug)]
struct Ls {
    state: LsState,
    existed: bool,
    res: BTreeMap<ResourceName, Res>,
    /// Requests that arrived while joining, replayed once joined.
    deferred: Vec<(ConnId, Request)>,
    stop_replies: Vec<ConnId>,
    seqno: Option<u32>,
}

/// What other daemons announced of their locks: lockspace -> resource -> node -> mode, with
/// the names as they were sent. Nested so that a lookup borrows the names (drive looks up
/// every resource it moves).
#[derive(Debug, Default)]
struct Remote(BTreeMap<String, BTreeMap<String, BTreeMap<u32, Mode>>>);

impl Remote {
    fn get(&self, ls: &str, res: &str) -> Option<&BTreeMap<u32, Mode>> {
        self.0.get(ls)?.get(res)
    }

    fn contains(&self, ls: &str, res: &str) -> bool {
        self.get(ls, res).is_some()
    }

    /// Records node `from`'s `mode` on `res` (NL: none).
    fn note(&mut self, ls: &str, res: &str, from: u32, mode: Mode) {
        if mode == Mode::Nl {
            let Some(l) = self.0.get_mut(ls) else {
                return;
            };
            if let Some(h) = l.get_mut(res) {
                h.remove(&from);
                if h.is_empty() {
                    l.remove(res);
                }
            }
            if l.is_empty() {
                self.0.remove(ls);
            }
        } else {
            self.insert(ls, res, from, mode);
        }
    }

    /// Records node `from`'s `mode` on `res` as it is (a snapshot's).
    fn insert(&mut self, ls: &str, res: &str, from: u32, mode: Mode) {
        if !self.0.contains_key(ls) {
            self.0.insert(ls.to_string(), BTreeMap::new());
        }
        let l = self.0.get_mut(ls).expect("present");
        if !l.contains_key(res) {
            l.insert(res.to_string(), BTreeMap::new());
        }
        l.get_mut(res).expect("present").insert(from, mode);
    }

    /// Forgets what node `n` announced.
    fn forget(&mut self, n: u32) {
        for l in self.0.values_mut() {
            for h in l.values_mut() {
                h.remove(&n);
            }
            l.retain(|_, h| !h.is_empty());
        }
        self.0.retain(|_, l| !l.is_empty());
    }

    /// The resources of lockspace `ls` something was announced of.
    fn resources<'a>(&'a self, ls: &str) -> impl Iterator<Item = &'a String> + 'a {
        self.0.get(ls).into_iter().flat_map(|l| l.keys())
    }
}

/// One daemon's state.
#[derive(Debug)]
pub struct Node {
    cfg: NodeConfig,
    now: u64,
    quorate: bool,
    cluster_name: Option<String>,
    /// The connection to corosync failed: never quorate again in this daemon's life.
    cluster_lost: bool,
    /// dlm_controld is gone: since when, and whether a lockspace was joined then (this node's
    /// locks are then recovered by the others: nothing frozen is thawed, ever).
    dlm_down: Option<(u64, bool)>,
    members: BTreeSet<u32>,
    names: BTreeMap<u32, String>,
    /// Other members' CPG versions, from their snapshots (or seen answering a barrier); a
    /// member not in it has not sent its snapshot since it joined (announce.rs).
    versions: BTreeMap<u32, u32>,
    /// What other daemons announced they hold.
    remote: Remote,
    /// What other daemons announced they wait for after a refusal.
    remote_wait: Remote,
    ls: BTreeMap<LockspaceName, Ls>,
    conns: BTreeMap<ConnId, i32>,
    next_tag: u64,
    tags: BTreeMap<u64, (LockspaceName, ResourceName)>,
    /// Refusals whose holder is not known yet, by barrier token: answered when every other
    /// member answered our barrier (announce.rs).
    unresolved: BTreeMap<u64, Unresolved>,
    next_barrier: u64,
    /// xorshift state for retry jitter (deterministic per node, no I/O).
    jitter: u64,
    freezer: Freezer,
    watcher: Watcher,
    next_watch_tag: u64,
    /// Propagation and atomic resize state (coord.rs).
    coord: Coord,
    /// VGs disabled by the metadata-loss policy (dgfail.rs).
    disabled: BTreeMap<String, dgfail::Disabled>,
    /// Commits of ours a peer carries, by LV uuid (detach) or VG uuid (command's commit).
    carries: BTreeMap<String, dgfail::Carry>,
    /// Commits this node carries for a peer, by watch tag (dgfail.rs).
    carrying: BTreeMap<u64, dgfail::Carrying>,
    /// Metadata checks after a node left (recheck.rs).
    rechecks: recheck::Rechecks,
    /// Resources changed since they were last driven: a step drives these, not every
    /// resource (the cost of a request must not grow with the locks held). Whatever changes
    /// what [`Node::drive`] reads of a resource marks it ([`Node::touch`]).
    dirty: BTreeSet<(LockspaceName, ResourceName)>,
    /// When a resource's first waiter's retry or deadline comes, as [`Res::wake`] says
    /// (one entry per resource that has one): due ones are driven, the first is
    /// [`Node::next_wake`]'s.
    wakes: BTreeSet<(u64, LockspaceName, ResourceName)>,
    /// The resources driven in the current step, and the passes over every resource it made
    /// (tests of the targeted drive).
    #[cfg(test)]
    driven: Vec<(LockspaceName, ResourceName)>,
    #[cfg(test)]
    scans: u32,
    out: Vec<Output>,
}

fn failed(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Failed {
        kind,
        message: message.into(),
    }
}

/// The answer to a request on a lockspace this node has not joined.
fn not_started(name: &LockspaceName) -> Response {
    failed(
        ErrorKind::NotStarted,
        format!("lockspace {name} is not started"),
    )
}

impl Node {
    pub fn new(cfg: NodeConfig) -> Self {
        let mut names = BTreeMap::new();
        names.insert(cfg.node_id, cfg.node_name.clone());
        Node {
            now: 0,
            quorate: false,
            cluster_name: None,
            cluster_lost: false,
            dlm_down: None,
            members: BTreeSet::new(),
            names,
            versions: BTreeMap::new(),
            remote: Remote::default(),
            remote_wait: Remote::default(),
            ls: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_tag: 0,
            tags: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            next_barrier: 0,
            jitter: 0x9E37_79B9_7F4A_7C15 ^ u64::from(cfg.node_id),
            freezer: Freezer::new(cfg.quorum_loss),
            watcher: Watcher::new(cfg.detach),
            next_watch_tag: 0,
            coord: Coord::default(),
            disabled: BTreeMap::new(),
            carries: BTreeMap::new(),
            carrying: BTreeMap::new(),
            rechecks: recheck::Rechecks::default(),
            dirty: BTreeSet::new(),
            wakes: BTreeSet::new(),
            #[cfg(test)]
            driven: Vec::new(),
            #[cfg(test)]
            scans: 0,
            out: Vec::new(),
            cfg,
        }
    }

    pub fn node_id(&self) -> u32 {
        self.cfg.node_id
    }

    /// Advances the machine by one input at time `now_ms` (monotonic milliseconds). Its cost
    /// does not grow with the locks held: it drives the resources the input changed and
    /// those whose retry or deadline came, and looks at each lockspace's GLLK/VGLK. Passes
    /// over every resource are left to rare inputs (a membership change, the health poll
    /// once a second, an older member in the group) and a client's disconnection, which
    /// looks at each resource without allocating.
    pub fn step(&mut self, now_ms: u64, input: Input) -> Vec<Output> {
        self.now = self.now.max(now_ms);
        #[cfg(test)]
        {
            self.driven.clear();
            self.scans = 0;
        }
        match input {
            Input::Connected { conn, pid } => {
                self.conns.insert(conn, pid);
            }
            Input::Request { conn, request } => self.request(conn, request),
            Input::Disconnected { conn } => self.disconnected(conn),
            Input::ClusterName(n) => self.cluster_name = n,
            Input::Joined { ls, result } => self.joined(ls, result),
            Input::Left { ls, result } => self.left(ls, result),
            Input::DlmDone { tag, result } => self.dlm_done(tag, result),
            Input::Membership { members } => self.membership(members),
            Input::Cpg { from, msg } => self.cpg(from, msg),
            Input::Quorum { quorate } => {
                if !self.cluster_lost {
                    self.quorate = quorate;
                }
            }
            Input::QuorumView { quorate, members } => {
                if !self.cluster_lost {
                    if !self.freezer.has_view() && !self.members.is_empty() {
                        // No quorum view yet (corosync reports changes only): the daemons'
                        // group stands for the view before this change, so that a first
                        // notification that is already the partition still counts departures.
                        let cpg: Vec<u32> = self.members.iter().copied().collect();
                        self.freezer.view(self.quorate, &cpg);
                    }
                    self.quorate = quorate;
                    self.freezer.view(quorate, &members);
                }
            }
            Input::ClusterLost { why } => {
                self.cluster_lost = true;
                self.quorate = false;
                self.freezer.cluster_lost(&why);
                self.membership(Vec::new());
            }
            Input::DlmControld { running } => self.dlm_controld(running),
            Input::DmDone { tag, result } => self.dm_done(tag, result),
            Input::Tick => {}
            Input::Shutdown => self.shutdown(),
            Input::FenceDone { tag, result } => {
                if !self.freezer.done(tag, result, self.now) {
                    log::warn!("fence completion {tag} was not asked for");
                }
            }
            Input::FrozenFound { vgs } => self.freezer.found(vgs, self.now),
            Input::MetadataUnreadable { vg, error, policy } => {
                self.metadata_unreadable(vg, error, policy)
            }
            Input::LockspacesFound { names } => self.rejoin(names),
            Input::WatchDone { tag, result } if self.carrying.contains_key(&tag) => {
                self.carried(tag, result.err())
            }
            Input::DetachNoMetadata { tag, error, .. } if self.carrying.contains_key(&tag) => {
                self.carried(tag, Some(error))
            }
            Input::DetachNoMetadata { tag, error, policy } => self.carry_out(tag, error, policy),
            Input::CommitWritten { tag, result } => self.carried(tag, result.err()),
            Input::WatchDone { tag, result } => {
                let (mine, next) = self.watcher.done(tag, result, self.now);
                if !mine {
                    log::warn!("watch completion {tag} was not asked for");
                }
                self.follow(next);
            }
            Input::PolicyRead { tag, result } => {
                let (mine, next) = self.watcher.policy_read(tag, result);
                if !mine {
                    log::warn!("policy read {tag} was not asked for");
                }
                self.follow(next);
            }
        }
        self.coord_tick();
        self.drive_rechecks();
        self.drive_dirty();
        self.tell_due();
        self.barrier_deadlines();
        self.carry_deadlines();
        self.dg_leave();
        self.fence();
        self.watch();
        // What the passes after the drive changed (a barrier resolved for a metadata check
        // releases its lock) moves in this step too.
        self.drive_dirty();
        let mut out = std::mem::take(&mut self.out);
        self.freezer.gate(&mut out);
        out
    }

    /// Carries out what the leg watcher decided for failed LVs.
    pub(super) fn follow(&mut self, next: Vec<Follow>) {
        for f in next {
            match f {
                Follow::ReadPolicy(lv) => {
                    self.watch_out(Watcher::deciding, lv, |lv| WatchAction::ReadPolicy { lv })
                }
                Follow::Stop(lv) => {
                    self.watch_out(Watcher::stopping, lv, |lv| WatchAction::FailLv { lv })
                }
                Follow::Detach(lv, images) => self.watch_out(Watcher::detaching, lv, |lv| {
                    WatchAction::Detach { lv, images }
                }),
                Follow::Reload(lv) => self.reload_detached(lv),
            }
        }
    }

    /// When the machine next needs a [`Input::Tick`] (a retry or a deadline is due).
    pub fn next_wake(&self) -> Option<u64> {
        let now = self.now;
        // Every entry of `wakes` is later than `now` (due ones are driven and taken out).
        self.wakes
            .first()
            .map(|(t, _, _)| *t)
            .into_iter()
            .chain(self.coord_deadlines())
            .chain(self.carries.values().map(|c| c.deadline))
            .chain(self.announce_wakes())
            .filter(|t| *t > now)
            .chain(self.freezer.next_wake(now))
            .chain(self.watcher.next_wake(now).filter(|_| self.any_active()))
            .min()
    }

    /// Asks the outside for the watcher's `action` on `lv` under a new tag, which the watcher
    /// records with `note`.
    fn watch_out(
        &mut self,
        note: fn(&mut Watcher, u64, &LvRef),
        lv: LvRef,
        action: impl FnOnce(LvRef) -> WatchAction,
    ) {
        let tag = self.watch_tag();
        note(&mut self.watcher, tag, &lv);
        self.out.push(Output::Watch {
            tag,
            action: action(lv),
        });
    }

    fn watch_tag(&mut self) -> u64 {
        // Apart from DLM tags and coord's (top bit).
        self.next_watch_tag += 1;
        (1 << 62) | self.next_watch_tag
    }

    fn all_active(&self) -> Vec<crate::dm::LvRef> {
        self.ls
            .keys()
            .filter_map(|n| n.vg())
            .flat_map(|vg| self.active_lvs(vg))
            .collect()
    }

    /// Whether an LV is active here (stops at the first one found, allocating nothing).
    fn any_active(&self) -> bool {
        self.ls
            .iter()
            .filter(|(n, _)| n.vg().is_some())
            .any(|(_, l)| l.res.iter().any(|(n, r)| active_lv(n, r)))
    }

    /// Whether LV `uuid` is active here, in any VG.
    fn uuid_active(ls: &BTreeMap<LockspaceName, Ls>, uuid: &str) -> bool {
        let Ok(n) = ResourceName::new(uuid) else {
            return false;
        };
        ls.iter()
            .filter(|(l, _)| l.vg().is_some())
            .any(|(_, l)| l.res.get(&n).is_some_and(|r| active_lv(&n, r)))
    }

    /// Polls the health of the LVs active here (not in a fenced VG) when due.
    fn watch(&mut self) {
        if self.watcher.has_failed() {
            let ls = &self.ls;
            self.watcher
                .retain_active(|uuid| Self::uuid_active(ls, uuid));
        }
        // Listing every active LV is for the poll (once a second), not every step.
        if !self.watcher.poll_due(self.now) {
            return;
        }
        #[cfg(test)]
        {
            self.scans += 1;
        }
        let active = self.all_active();
        let fenced: BTreeSet<String> = self
            .freezer
            .status(self.now)
            .into_iter()
            .map(|f| f.vg)
            .collect();
        let active: Vec<_> = active
            .into_iter()
            .filter(|l| !fenced.contains(&l.vg))
            .collect();
        let tag = (1 << 62) | (self.next_watch_tag + 1);
        if let Some(action) = self.watcher.tick(self.now, active, tag) {
            self.next_watch_tag += 1;
            self.out.push(Output::Watch { tag, action });
        }
    }

    /// dlm_controld went away or came back. Gone with a lockspace joined, it is the loss of
    /// the cluster stack: the same freeze as a quorum loss, stranded (never thawed); gone with
    /// none, the node only refuses to lock until it is back.
    fn dlm_controld(&mut self, running: bool) {
        match (running, self.dlm_down) {
            (false, None) => {
                let broken = !self.ls.is_empty();
                if broken {
                    self.freezer
                        .strand(crate::quorum::DLM_CONTROLD_LOST.to_string());
                } else {
                    log::error!("dlm_controld is not running: no lock is served until it is");
                }
                self.dlm_down = Some((self.now, broken));
            }
            (true, Some((_, false))) => {
                log::info!("dlm_controld is running again");
                self.dlm_down = None;
            }
            (true, Some((_, true))) => log::error!(
                "dlm_controld is running again, but this node's DLM lockspaces stayed behind \
                 without it: {}",
                crate::quorum::STRANDED_ADVICE
            ),
            _ => {}
        }
    }

    /// Whether this node may lock and keep I/O going: quorate, with dlm_controld running.
    fn serving(&self) -> bool {
        self.quorate && self.dlm_down.is_none()
    }

    /// Why this node refuses a lock for a change or an activation, if it does.
    fn not_serving(&self, what: &str) -> Option<Response> {
        if self.dlm_down.is_some() {
            Some(failed(
                ErrorKind::NoDlm,
                format!("{what}: dlm_controld is not running on this node"),
            ))
        } else if !self.quorate {
            Some(failed(
                ErrorKind::NoQuorum,
                format!("{what}: this node is not quorate"),
            ))
        } else {
            None
        }
    }

    /// Freezes the started shared VGs while not serving, thaws them once quorate again.
    fn fence(&mut self) {
        let serving = self.serving();
        let shared = self.ls.keys().filter_map(|n| n.vg());
        for (tag, action) in self.freezer.reconcile(serving, shared, self.now) {
            self.out.push(Output::Fence { tag, action });
        }
    }

    fn reply(&mut self, conn: ConnId, response: Response) {
        if recheck::is_recheck_conn(conn) {
            return self.recheck_reply(conn, response);
        }
        self.out.push(Output::Reply { conn, response });
    }

    fn request(&mut self, conn: ConnId, req: Request) {
        match req {
            Request::Hello { .. } => self.reply(
                conn,
                Response::Hello {
                    version: clvmd_proto::PROTOCOL_VERSION,
                    node_id: self.cfg.node_id,
                    node_name: self.cfg.node_name.clone(),
                },
            ),
            Request::Status => {
                let s = self.status();
                self.reply(conn, Response::Status(s));
            }
            Request::Sync => self.sync(conn),
            Request::LockStart { vg, lock_args } => self.lock_start(conn, vg, lock_args),
            Request::LockStop { vg, force } => self.lock_stop(conn, vg, force),
            Request::Lock {
                scope,
                mode,
                wait_ms,
            } => self.lock(conn, scope, mode, wait_ms),
            Request::Unlock {
                scope,
                seqno,
                removed,
                quiet,
            } => self.unlock(conn, scope, seqno, removed, quiet),
            Request::LvLock {
                vg,
                lv_uuid,
                lv_name,
                mode,
            } => self.lv_lock(conn, vg, lv_uuid, lv_name, mode),
            Request::LvUnlock {
                vg,
                lv_uuid,
                lv_name,
            } => self.lv_unlock(conn, vg, lv_uuid, lv_name),
            Request::SuspendLv {
                vg,
                lv_uuid,
                lv_name,
            } => self.suspend_lv(conn, vg, lv_uuid, lv_name),
            Request::ResumeLv {
                vg,
                lv_uuid,
                lv_name,
            } => self.resume_lv(conn, vg, lv_uuid, lv_name),
            Request::VgMode { vg, mode } => self.vg_mode(conn, vg, mode),
            Request::MetadataLost { vg, error, policy } => {
                self.metadata_lost(conn, vg, error, policy)
            }
            Request::VgEnable { vg } => self.vg_enable(conn, vg),
            Request::CarryCommit(c) => self.carry_commit(conn, c),
        }
    }

    fn vg_ls(&mut self, conn: ConnId, vg: &str) -> Option<LockspaceName> {
        match LockspaceName::for_vg(vg) {
            Ok(n) => Some(n),
            Err(e) => {
                self.reply(conn, failed(ErrorKind::Invalid, e.to_string()));
                None
            }
        }
    }

    /// The lockspace and resource of LV `uuid` in `vg`, and the request that holds it in
    /// `mode` (`Nl`: the unlock); None: refused to `conn` (bad names).
    fn lv_hold(
        &mut self,
        conn: ConnId,
        vg: String,
        uuid: String,
        lv_name: &str,
        mode: Mode,
    ) -> Option<(LockspaceName, ResourceName, Request)> {
        let name = self.vg_ls(conn, &vg)?;
        let res = match ResourceName::lv(&uuid) {
            Ok(r) => r,
            Err(e) => {
                self.reply(conn, failed(ErrorKind::Invalid, e.to_string()));
                return None;
            }
        };
        Some((name, res, Request::lv(vg, uuid, lv_name.to_string(), mode)))
    }

    fn ensure_global(&mut self) {
        let g = LockspaceName::global();
        if !self.ls.contains_key(&g) {
            self.start_join(g);
        }
    }

    fn start_join(&mut self, name: LockspaceName) {
        self.ls.insert(
            name.clone(),
            Ls {
                state: LsState::Joining,
                existed: false,
                res: BTreeMap::new(),
                deferred: Vec::new(),
                stop_replies: Vec::new(),
                seqno: None,
            },
        );
        self.out.push(Output::Join { ls: name });
    }

    fn lock_start(&mut self, conn: ConnId, vg: String, lock_args: String) {
        if let Some(r) = self.dg_activation_refusal(&vg) {
            return self.reply(conn, r);
        }
        if self.dlm_down.is_some() {
            // A join would wait for dlm_controld for ever.
            return self.reply(
                conn,
                failed(
                    ErrorKind::NoDlm,
                    format!("cannot start lockspace for VG {vg}: dlm_controld is not running"),
                ),
            );
        }
        let Some(name) = self.vg_ls(conn, &vg) else {
            return;
        };
        let Some(ours) = self.cluster_name.clone() else {
            return self.reply(
                conn,
                failed(
                    ErrorKind::NoDlm,
                    format!(
                        "cannot start lockspace for VG {vg}: no DLM cluster \
                         (/sys/kernel/config/dlm/cluster/cluster_name is missing: \
                         is dlm_controld running?)"
                    ),
                ),
            );
        };
        let theirs = match lock_args.split_once(':') {
            Some((ver, cluster)) if ver.split('.').next() == Some("1") => cluster.to_string(),
            _ => {
                return self.reply(
                    conn,
                    failed(
                        ErrorKind::Invalid,
                        format!("VG {vg} has lock_args {lock_args:?}, not \"1.x.y:<cluster>\""),
                    ),
                )
            }
        };
        if theirs != ours {
            return self.reply(
                conn,
                failed(
                    ErrorKind::ClusterMismatch,
                    format!(
                        "VG {vg} belongs to DLM cluster {theirs:?} (lock_args) but this node \
                         is in cluster {ours:?}"
                    ),
                ),
            );
        }
        self.ensure_global();
        match self.ls.get_mut(&name).map(|l| l.state) {
            None => {
                self.start_join(name.clone());
                let ls = self.ls.get_mut(&name).expect("just inserted");
                ls.deferred
                    .push((conn, Request::LockStart { vg, lock_args }));
            }
            Some(LsState::Joining) => {
                let ls = self.ls.get_mut(&name).expect("present");
                ls.deferred
                    .push((conn, Request::LockStart { vg, lock_args }));
            }
            Some(LsState::Running) => self.reply(conn, Response::Done),
            Some(LsState::Leaving) => self.reply(
                conn,
                failed(
                    ErrorKind::Lockspace,
                    format!("lockspace {name} is stopping"),
                ),
            ),
        }
    }

    fn rejoin(&mut self, names: Vec<LockspaceName>) {
        for name in names {
            let lvm = name == LockspaceName::global() || name.vg().is_some();
            if lvm && !self.ls.contains_key(&name) {
                log::info!("lockspace {name} is still joined here: joining it again");
                self.start_join(name);
            }
        }
    }

    fn lock_stop(&mut self, conn: ConnId, vg: String, force: bool) {
        let Some(name) = self.vg_ls(conn, &vg) else {
            return;
        };
        let Some(ls) = self.ls.get_mut(&name) else {
            return self.reply(conn, not_started(&name));
        };
        if ls.state == LsState::Leaving {
            ls.stop_replies.push(conn);
            return;
        }
        let active: Vec<String> = ls
            .res
            .iter()
            .filter(|(_, r)| r.kind == Kind::Lv && !r.holders.is_empty())
            .map(|(n, r)| r.lv_name.clone().unwrap_or_else(|| n.to_string()))
            .collect();
        if !active.is_empty() && !force {
            return self.reply(
                conn,
                failed(
                    ErrorKind::LockspaceBusy,
                    format!(
                        "VG {vg} has LVs active here (locks held: {}); deactivate them first",
                        active.join(", ")
                    ),
                ),
            );
        }
        ls.stop_replies.push(conn);
        let why = format!("lockspace {name} is stopping");
        self.leave(name, why);
    }

    /// Starts leaving lockspace `name`: every request still waiting in it (for a lock, an
    /// operation, or the join) is refused with `why`.
    fn leave(&mut self, name: LockspaceName, why: String) {
        let Some(ls) = self.ls.get_mut(&name) else {
            return;
        };
        ls.state = LsState::Leaving;
        let mut refuse = Vec::new();
        for (n, r) in ls.res.iter_mut() {
            refuse.extend(r.waiters.drain(..).map(|w| w.conn));
            refuse.append(&mut r.op_replies);
            // Its wake goes with its waiters.
            self.dirty.insert((name.clone(), n.clone()));
        }
        refuse.extend(ls.deferred.drain(..).map(|(c, _)| c));
        for c in refuse {
            self.reply(c, failed(ErrorKind::NotStarted, why.clone()));
        }
        self.out.push(Output::Leave { ls: name });
    }

    fn shutdown(&mut self) {
        let name = LockspaceName::global();
        let Some(ls) = self.ls.get(&name) else {
            return;
        };
        if ls.state != LsState::Running {
            return;
        }
        self.leave(name, "clvmd-rs is stopping".to_string());
    }

    /// Whether a clean stop still waits for `lvm_global` to be left.
    pub fn leaving_global(&self) -> bool {
        self.ls
            .get(&LockspaceName::global())
            .is_some_and(|l| l.state == LsState::Leaving)
    }

    fn lock(&mut self, conn: ConnId, scope: Scope, mode: Mode, wait_ms: u32) {
        if !matches!(mode, Mode::Pr | Mode::Ex) {
            return self.reply(
                conn,
                failed(
                    ErrorKind::Invalid,
                    "VG and global locks are PR (sh) or EX (ex)",
                ),
            );
        }
        if self.dlm_down.is_some() || (mode == Mode::Ex && !self.quorate) {
            if let Some(r) = self.not_serving(&format!("cannot take the {scope} for a change")) {
                return self.reply(conn, r);
            }
        }
        if let (Mode::Ex, Scope::Vg(vg)) = (mode, &scope) {
            if let Some(r) = self.dg_refusal(vg) {
                return self.reply(conn, r);
            }
        }
        let (name, res, kind) = match &scope {
            Scope::Global => {
                self.ensure_global();
                (LockspaceName::global(), ResourceName::gllk(), Kind::Global)
            }
            Scope::Vg(vg) => {
                let Some(n) = self.vg_ls(conn, vg) else {
                    return;
                };
                (n, ResourceName::vglk(), Kind::Vg)
            }
        };
        let req = Request::Lock {
            scope,
            mode,
            wait_ms,
        };
        self.enqueue(
            conn,
            name,
            res,
            kind,
            None,
            Owner::Conn(conn),
            mode,
            wait_ms,
            req,
        );
    }

    fn lv_lock(&mut self, conn: ConnId, vg: String, uuid: String, lv_name: String, mode: Mode) {
        if mode == Mode::Nl {
            return self.lv_unlock(conn, vg, uuid, lv_name);
        }
        if let Some(r) = self.not_serving(&format!("cannot activate {vg}/{lv_name}")) {
            return self.reply(conn, r);
        }
        if let Some(r) = self.dg_activation_refusal(&vg) {
            return self.reply(conn, r);
        }
        let Some((name, res, req)) = self.lv_hold(conn, vg, uuid, &lv_name, mode) else {
            return;
        };
        self.hold_persistent(conn, name, res, lv_name, mode, req);
    }

    fn lv_unlock(&mut self, conn: ConnId, vg: String, uuid: String, lv_name: String) {
        let Some((name, res, req)) = self.lv_hold(conn, vg, uuid, &lv_name, Mode::Nl) else {
            return;
        };
        let Some(ls) = self.ls.get(&name) else {
            return self.reply(conn, not_started(&name));
        };
        let known = ls.res.contains_key(&res);
        if !known && !ls.existed && ls.state == LsState::Running {
            // Nothing held and no previous daemon that could have left an orphan.
            return self.reply(conn, Response::Done);
        }
        self.hold_persistent(conn, name, res, lv_name, Mode::Nl, req);
    }

    /// [`Self::enqueue`] for a hold that outlives the connection (an LV's activation, a VG's
    /// activation mode): LV kind, never waited for; `label` names it in status and errors.
    fn hold_persistent(
        &mut self,
        conn: ConnId,
        name: LockspaceName,
        res: ResourceName,
        label: String,
        mode: Mode,
        req: Request,
    ) {
        self.enqueue(
            conn,
            name,
            res,
            Kind::Lv,
            Some(label),
            Owner::Persistent,
            mode,
            0,
            req,
        );
    }

    /// Queues a request to hold `res` in `mode` for `owner` (NL: release the holding).
    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &mut self,
        conn: ConnId,
        name: LockspaceName,
        res: ResourceName,
        kind: Kind,
        lv_name: Option<String>,
        owner: Owner,
        mode: Mode,
        wait_ms: u32,
        req: Request,
    ) {
        let now = self.now;
        let Some(ls) = self.ls.get_mut(&name) else {
            return self.reply(
                conn,
                failed(
                    ErrorKind::NotStarted,
                    format!("lockspace {name} is not started (vgchange --lockstart)"),
                ),
            );
        };
        match ls.state {
            LsState::Joining => return ls.deferred.push((conn, req)),
            LsState::Leaving => {
                return self.reply(
                    conn,
                    failed(
                        ErrorKind::NotStarted,
                        format!("lockspace {name} is stopping"),
                    ),
                )
            }
            LsState::Running => {}
        }
        let existed = ls.existed;
        let r = ls
            .res
            .entry(res.clone())
            .or_insert_with(|| Res::new(kind, existed));
        if lv_name.is_some() {
            r.lv_name = lv_name;
        }
        if r.holders.get(&owner) == Some(&mode) && r.op.is_none() && r.adopt.is_empty() {
            // Already held so (e.g. lvchange -aey twice).
            let resp = match kind {
                Kind::Lv => Response::Done,
                _ => granted(r),
            };
            return self.reply(conn, resp);
        }
        r.waiters.push_back(Waiter {
            conn,
            owner,
            mode,
            deadline: now + u64::from(wait_ms),
            retry_at: now,
            attempts: 0,
        });
        self.touch(&name, &res);
    }

    fn unlock(
        &mut self,
        conn: ConnId,
        scope: Scope,
        seqno: Option<u32>,
        removed: bool,
        quiet: bool,
    ) {
        let (name, res) = match &scope {
            Scope::Global => (LockspaceName::global(), ResourceName::gllk()),
            Scope::Vg(vg) => {
                let Some(n) = self.vg_ls(conn, vg) else {
                    return;
                };
                (n, ResourceName::vglk())
            }
        };
        let r = self
            .ls
            .get_mut(&name)
            .and_then(|l| l.res.get_mut(&res))
            .filter(|r| r.holders.contains_key(&Owner::Conn(conn)));
        let Some(r) = r else {
            return self.reply(
                conn,
                failed(
                    ErrorKind::NotHeld,
                    format!("the {scope} is not held by this client"),
                ),
            );
        };
        let held = r.holders.remove(&Owner::Conn(conn)).expect("checked");
        let mut committed = None;
        if held == Mode::Ex {
            // The new value is ours at once (a local waiter may take the lock without a DLM
            // call); the DLM gets it on the next down-conversion from EX.
            let cur = r.lvb.map(|v| v.r_version).unwrap_or(0);
            r.lvb = Some(match r.kind {
                Kind::Global => ValBlk::new(cur.wrapping_add(1), false),
                _ => ValBlk::new(seqno.unwrap_or(cur), removed),
            });
            r.lvb_invalid = false;
            if let (Kind::Vg, Some(s)) = (r.kind, seqno) {
                committed = Some(s);
            }
        }
        r.op_replies.push(conn);
        self.touch(&name, &res);
        if let (Some(s), Scope::Vg(vg)) = (committed, scope) {
            self.note_seqno(&vg, s);
            // A commit that only added LVs changes no node's tables: the multicast would cost
            // every node's corosync work for nothing (the LVB carries the seqno; other nodes
            // learn it at their next grant). A removal is always announced.
            if !quiet || removed {
                self.out
                    .push(Output::Cpg(CpgMsg::Committed { vg, seqno: s }));
            }
        }
    }

    fn disconnected(&mut self, conn: ConnId) {
        self.coord_disconnected(conn);
        self.conns.remove(&conn);
        // A command gone while holding a VG lock EX may have committed (killed after its
        // commit, before its release announced it): the daemon keeps the lock and checks.
        self.orphaned_vg_ex(conn);
        // One pass over the resources, without allocating but for what the client had.
        for (ln, ls) in self.ls.iter_mut() {
            ls.deferred.retain(|(c, _)| *c != conn);
            for (rn, r) in ls.res.iter_mut() {
                let had = r.waiters.iter().any(|w| w.conn == conn)
                    || r.op_replies.contains(&conn)
                    || r.holders.contains_key(&Owner::Conn(conn));
                if had {
                    r.waiters.retain(|w| w.conn != conn);
                    r.op_replies.retain(|c| *c != conn);
                    r.holders.remove(&Owner::Conn(conn));
                    self.dirty.insert((ln.clone(), rn.clone()));
                }
            }
        }
    }

    fn joined(&mut self, name: LockspaceName, result: Result<bool, String>) {
        let Some(ls) = self.ls.get_mut(&name) else {
            return;
        };
        match result {
            Ok(existed) => {
                ls.state = LsState::Running;
                ls.existed = existed;
                if existed {
                    log::info!("lockspace {name} was joined already: adopting orphan locks");
                }
                let (res, kind) = match name.vg() {
                    Some(_) => (ResourceName::vglk(), Kind::Vg),
                    None => (ResourceName::gllk(), Kind::Global),
                };
                ls.res.insert(res.clone(), Res::new(kind, existed));
                let deferred = std::mem::take(&mut ls.deferred);
                self.touch(&name, &res);
                for (conn, req) in deferred {
                    self.request(conn, req);
                }
            }
            Err(e) => {
                let ls = self.ls.remove(&name).expect("present");
                self.forget_wakes(&name);
                for (conn, _) in ls.deferred {
                    self.reply(
                        conn,
                        failed(ErrorKind::Lockspace, format!("cannot join {name}: {e}")),
                    );
                }
            }
        }
    }

    fn left(&mut self, name: LockspaceName, result: Result<(), String>) {
        let Some(ls) = self.ls.remove(&name) else {
            return;
        };
        self.forget_wakes(&name);
        // What the others were told of (an untold hold they never heard of).
        let holds: Vec<String> = ls
            .res
            .iter()
            .filter(|(_, r)| r.told != Mode::Nl)
            .map(|(n, _)| n.to_string())
            .collect();
        for res in holds {
            self.out.push(Output::Cpg(CpgMsg::Held {
                ls: name.to_string(),
                res,
                mode: Mode::Nl,
            }));
        }
        for (res, _) in ls.res.iter().filter(|(_, r)| r.announced_wait.is_some()) {
            self.out.push(Output::Cpg(CpgMsg::Waiting {
                ls: name.to_string(),
                res: res.to_string(),
                mode: Mode::Nl,
            }));
        }
        self.tags.retain(|_, (l, _)| *l != name);
        for conn in ls.stop_replies {
            let resp = match &result {
                Ok(()) => Response::Done,
                Err(e) => failed(ErrorKind::Lockspace, format!("cannot leave {name}: {e}")),
            };
            self.reply(conn, resp);
        }
    }

    fn membership(&mut self, members: Vec<u32>) {
        let new: BTreeSet<u32> = members.into_iter().collect();
        for gone in self.members.difference(&new) {
            self.remote.forget(*gone);
            self.remote_wait.forget(*gone);
        }
        // Joiners learn our waits again (drive announces them anew).
        for r in self.ls.values_mut().flat_map(|l| l.res.values_mut()) {
            r.announced_wait = None;
        }
        // Rare: every resource is driven (waits announced again, remote waits gone).
        self.touch_all();
        let gone: Vec<u32> = self.members.difference(&new).copied().collect();
        for g in &gone {
            // Back later, it may run another version: its next snapshot says.
            self.versions.remove(g);
        }
        self.members = new;
        self.coord_membership(&gone);
        self.recheck_after_leave(&gone);
        self.barrier_membership(&gone);
        let holds = self
            .ls
            .iter()
            .flat_map(|(ln, l)| {
                l.res
                    .iter()
                    .filter(|(_, r)| r.mode != Mode::Nl)
                    .map(move |(rn, r)| (ln.to_string(), rn.to_string(), r.mode))
            })
            .collect();
        let disabled = self.dg_snapshot();
        self.out.push(Output::Cpg(CpgMsg::Snapshot {
            name: self.cfg.node_name.clone(),
            holds,
            disabled,
            version: crate::cpg::CPG_VERSION,
        }));
        // The snapshot told every hold, untold ones included.
        for r in self.ls.values_mut().flat_map(|l| l.res.values_mut()) {
            r.told = r.mode;
        }
    }

    fn cpg(&mut self, from: u32, msg: CpgMsg) {
        if msg.is_coord() {
            return self.coord_cpg(from, msg);
        }
        if from != self.cfg.node_id || !matches!(msg, CpgMsg::Snapshot { .. }) {
            self.dg_cpg(from, &msg);
        }
        if from == self.cfg.node_id {
            match msg {
                CpgMsg::Committed { vg, seqno } => self.note_seqno(&vg, seqno),
                CpgMsg::Barrier { token } => self.barrier_returned(token),
                _ => {}
            }
            return;
        }
        match msg {
            CpgMsg::Snapshot {
                name,
                holds,
                version,
                ..
            } => {
                self.names.insert(from, name);
                self.remote.forget(from);
                for (ls, res, mode) in holds {
                    self.remote.insert(&ls, &res, from, mode);
                }
                self.peer_version(from, version);
            }
            CpgMsg::Held { ls, res, mode } => {
                self.remote.note(&ls, &res, from, mode);
                self.retry_now(&ls, &res);
            }
            CpgMsg::Waiting { ls, res, mode } => {
                self.remote_wait.note(&ls, &res, from, mode);
                // A waiter of ours may yield to it now, or a hold become due to be told.
                self.touch_named(&ls, &res);
            }
            CpgMsg::Committed { vg, seqno } => {
                self.note_seqno(&vg, seqno);
                self.propagate_commit(&vg, seqno);
            }
            CpgMsg::Barrier { token } => {
                self.peer_version(from, ANSWERS_BARRIERS);
                self.answer_barrier(from, token)
            }
            CpgMsg::BarrierAck { origin, token } => {
                self.peer_version(from, ANSWERS_BARRIERS);
                self.barrier_ack(from, origin, token)
            }
            _ => {}
        }
    }

    /// Another node released or lowered `res`: a waiter of ours backing off after a refusal
    /// tries again now rather than at the end of its backoff.
    fn retry_now(&mut self, ls: &str, res: &str) {
        let now = self.now;
        let (Ok(l), Ok(r)) = (LockspaceName::new(ls), ResourceName::new(res)) else {
            return;
        };
        let held = self.remote.get(ls, res);
        if let Some(w) = self
            .ls
            .get_mut(&l)
            .and_then(|l| l.res.get_mut(&r))
            .and_then(|r| r.waiters.front_mut())
        {
            if w.attempts > 0 && held.is_none_or(|h| h.values().all(|m| m.compatible(w.mode))) {
                w.retry_at = now;
            }
        }
        self.touch(&l, &r);
    }

    fn note_seqno(&mut self, vg: &str, seqno: u32) {
        if let Ok(n) = LockspaceName::for_vg(vg) {
            if let Some(ls) = self.ls.get_mut(&n) {
                ls.seqno = Some(ls.seqno.map_or(seqno, |s| s.max(seqno)));
            }
        }
    }

    fn dlm_done(&mut self, tag: u64, result: Result<Outcome, String>) {
        let Some((lname, rname)) = self.tags.remove(&tag) else {
            return;
        };
        let Some(ls) = self.ls.get_mut(&lname) else {
            return;
        };
        let vg = lname.vg().map(str::to_string);
        let Some(r) = ls.res.get_mut(&rname) else {
            return;
        };
        let Some((t, kind)) = r.op.take() else {
            return;
        };
        debug_assert_eq!(t, tag);
        let before = r.mode;
        let now = self.now;
        let mut announce = None;
        let mut seqno_seen = None;
        let mut replies: Vec<(ConnId, Response)> = Vec::new();
        let mut unresolved = None;
        let in_group = self.members.contains(&self.cfg.node_id);
        match (kind, result) {
            (_, Err(e)) => {
                log::error!("DLM {kind:?} of {rname} in {lname}: {e}");
                let msg = format!("DLM call on {rname} in {lname} failed: {e}");
                for c in r.op_replies.drain(..) {
                    replies.push((c, failed(ErrorKind::Dlm, msg.clone())));
                }
                match kind {
                    OpKind::Adopt(_) => r.adopt.clear(),
                    OpKind::Down(_) | OpKind::Unlock => {}
                    _ => {
                        if let Some(w) = r.waiters.pop_front() {
                            replies.push((w.conn, failed(ErrorKind::Dlm, msg)));
                        }
                    }
                }
            }
            (OpKind::Create, Ok(Outcome::Granted(g))) => {
                r.lkid = Some(g.lkid);
                r.mode = Mode::Nl;
                read_lvb(r, &g);
                seqno_seen = r.lvb.filter(|_| r.kind == Kind::Vg).map(|v| v.r_version);
            }
            (OpKind::Adopt(m), Ok(Outcome::Granted(g))) => {
                log::info!("adopted orphan {m} lock on {rname} in {lname}");
                r.adopt.clear();
                r.lkid = Some(g.lkid);
                r.mode = m;
                if r.kind == Kind::Lv && m != Mode::Nl {
                    r.holders.insert(Owner::Persistent, m);
                }
                announce = Some(m);
            }
            (OpKind::Adopt(_), Ok(Outcome::WouldBlock)) => {
                r.adopt.remove(0);
            }
            (OpKind::Adopt(_), Ok(_)) => r.adopt.clear(),
            (OpKind::Up(m), Ok(Outcome::Granted(g))) => {
                // A new LV lock's id, or the converted lock's own.
                r.lkid = Some(g.lkid);
                r.mode = m;
                read_lvb(r, &g);
                seqno_seen = r.lvb.filter(|_| r.kind == Kind::Vg).map(|v| v.r_version);
                announce = Some(m);
                if let Some(w) = r.waiters.front_mut() {
                    w.attempts = 0;
                }
            }
            (OpKind::Up(m), Ok(_)) => {
                // Refused (EAGAIN): retry later or give up on the first waiter.
                let now = self.now;
                self.jitter ^= self.jitter << 13;
                self.jitter ^= self.jitter >> 7;
                self.jitter ^= self.jitter << 17;
                let jitter = self.jitter % RETRY_MIN_MS;
                let holder = self_holder(
                    &self.remote,
                    &self.names,
                    self.cfg.node_id,
                    &lname,
                    &rname,
                    m,
                );
                r.last_busy = Some(holder.clone());
                if let Some(w) = r.waiters.front_mut() {
                    w.attempts += 1;
                    let backoff =
                        (RETRY_MIN_MS << w.attempts.min(5).saturating_sub(1)).min(RETRY_MAX_MS);
                    if now < w.deadline {
                        // The last try is at the deadline: giving up because the next backoff
                        // would end past it answered a 200 ms wait after 130 ms on a slow host.
                        w.retry_at = (now + backoff + jitter).min(w.deadline);
                    } else {
                        let w = r.waiters.pop_front().expect("front");
                        let what = match (&r.lv_name, &vg) {
                            (Some(lv), Some(vg)) => format!("LV {vg}/{lv}"),
                            _ => format!("{rname} in {lname}"),
                        };
                        if holder == Holder::OtherHost && in_group {
                            unresolved = Some(Refusal {
                                conn: w.conn,
                                what,
                                ls: lname.clone(),
                                res: rname.clone(),
                                mode: m,
                            });
                        } else {
                            replies.push((
                                w.conn,
                                Response::Busy {
                                    resource: what,
                                    holder,
                                },
                            ));
                        }
                    }
                }
            }
            (OpKind::Down(m), Ok(_)) => {
                r.mode = m;
                announce = Some(m);
                for c in r.op_replies.drain(..) {
                    replies.push((c, Response::Done));
                }
            }
            (OpKind::Unlock, Ok(_)) => {
                r.lkid = None;
                r.mode = Mode::Nl;
                announce = Some(Mode::Nl);
                for c in r.op_replies.drain(..) {
                    replies.push((c, Response::Done));
                }
            }
            (OpKind::Create, Ok(o)) => {
                let msg = format!("DLM refused a NL lock on {rname} in {lname}: {o:?}");
                if let Some(w) = r.waiters.pop_front() {
                    replies.push((w.conn, failed(ErrorKind::Dlm, msg)));
                }
            }
        }
        if before == Mode::Nl && r.mode != Mode::Nl {
            r.raised_at = now;
        }
        if let Some(s) = seqno_seen {
            ls.seqno = Some(ls.seqno.map_or(s, |x| x.max(s)));
        }
        self.touch(&lname, &rname);
        if announce.is_some() {
            self.tell(&lname, &rname, false);
        }
        for (c, resp) in replies {
            self.reply(c, resp);
        }
        if let Some(u) = unresolved {
            self.barrier(Asker::Refusal(u));
        }
    }

    /// Marks resource `rname` of `lname` for driving in this step (see [`Node::dirty`]):
    /// called wherever what [`Node::drive`] reads of it changes.
    fn touch(&mut self, lname: &LockspaceName, rname: &ResourceName) {
        if self
            .ls
            .get(lname)
            .is_some_and(|l| l.res.contains_key(rname))
        {
            self.dirty.insert((lname.clone(), rname.clone()));
        }
    }

    /// [`Node::touch`] by the names another daemon sent.
    fn touch_named(&mut self, ls: &str, res: &str) {
        if let (Ok(l), Ok(r)) = (LockspaceName::new(ls), ResourceName::new(res)) {
            self.touch(&l, &r);
        }
    }

    /// Marks every resource (inputs that change what all of them read: membership).
    fn touch_all(&mut self) {
        #[cfg(test)]
        {
            self.scans += 1;
        }
        for (n, l) in &self.ls {
            for r in l.res.keys() {
                self.dirty.insert((n.clone(), r.clone()));
            }
        }
    }

    /// Drives the resources marked, and those whose retry or deadline came, each until it
    /// rests (a drive that did something may let the next waiter in: it goes again).
    fn drive_dirty(&mut self) {
        let now = self.now;
        while self.wakes.first().is_some_and(|(t, _, _)| *t <= now) {
            let (_, l, r) = self.wakes.pop_first().expect("first");
            if let Some(res) = self.ls.get_mut(&l).and_then(|x| x.res.get_mut(&r)) {
                res.wake = None;
            }
            self.dirty.insert((l, r));
        }
        while let Some((l, r)) = self.dirty.pop_first() {
            if self.drive(&l, &r) {
                self.dirty.insert((l.clone(), r.clone()));
            }
            self.rewake(&l, &r);
        }
    }

    /// Files resource `rname`'s next wake ([`Res::next_wake`]) in [`Node::wakes`].
    fn rewake(&mut self, lname: &LockspaceName, rname: &ResourceName) {
        let now = self.now;
        let Some(r) = self.ls.get_mut(lname).and_then(|l| l.res.get_mut(rname)) else {
            return;
        };
        let wake = r.next_wake(now);
        if wake == r.wake {
            return;
        }
        if let Some(t) = r.wake {
            self.wakes.remove(&(t, lname.clone(), rname.clone()));
        }
        if let Some(t) = wake {
            self.wakes.insert((t, lname.clone(), rname.clone()));
        }
        r.wake = wake;
    }

    /// Forgets the wakes of lockspace `name`'s resources (it is gone).
    fn forget_wakes(&mut self, name: &LockspaceName) {
        self.wakes.retain(|(_, l, _)| l != name);
        self.dirty.retain(|(l, _)| l != name);
    }

    /// Moves one resource toward what its holders and first waiter need: admits waiters,
    /// issues at most one DLM call, and forgets an LV lock nobody holds. Whether it did
    /// anything (answered, called, announced, forgot): then driving it again may do more.
    fn drive(&mut self, lname: &LockspaceName, rname: &ResourceName) -> bool {
        #[cfg(test)]
        self.driven.push((lname.clone(), rname.clone()));
        let now = self.now;
        let mut moved = false;
        let mut replies = Vec::new();
        let mut call = None;
        let mut announce_wait = None;
        // Other nodes waiting for this resource after a refusal (fairness, see `yields`); this
        // node's own `Waiting` announcements never get here (`cpg` ignores its own messages).
        let remote_waits: Vec<(u32, Mode)> = self
            .remote_wait
            .get(lname.as_str(), rname.as_str())
            .map(|h| h.iter().map(|(n, m)| (*n, *m)).collect())
            .unwrap_or_default();
        // A local waiter yields to a conflicting remote one that was refused before it: it is
        // neither let in under the mode granted here nor converts up, and the node drops to
        // what its current holders need once they are done, so the remote waiter gets its
        // turn. One that was refused too contends through the DLM unless the grant here is
        // what blocks the remote one (two refused waiters never both stand back). Releases
        // never yield.
        let yields_to = |r: &Res, w: &Waiter| -> Option<(u32, Mode)> {
            if w.mode == Mode::Nl {
                return None;
            }
            remote_waits
                .iter()
                .find(|(_, m)| !m.compatible(w.mode) && (w.attempts == 0 || !m.compatible(r.mode)))
                .copied()
        };
        {
            let Some(ls) = self.ls.get_mut(lname) else {
                return false;
            };
            if ls.state != LsState::Running {
                return false;
            }
            let Some(r) = ls.res.get_mut(rname) else {
                return false;
            };
            if r.op.is_some() {
                return false;
            }
            loop {
                // Admit waiters the granted mode already covers.
                let admitted = match r.waiters.front() {
                    Some(w)
                        if r.adopt.is_empty()
                            && r.locally_ok(w)
                            && r.need(Some(w)) == r.mode
                            && yields_to(r, w).is_none() =>
                    {
                        w.mode != Mode::Nl || r.lkid.is_none() || r.kind != Kind::Lv
                    }
                    _ => false,
                };
                if !admitted {
                    break;
                }
                let w = r.waiters.pop_front().expect("front");
                if w.mode == Mode::Nl {
                    r.holders.remove(&w.owner);
                    replies.push((w.conn, Response::Done));
                    continue;
                }
                if r.lvb.is_some_and(|v| v.removed()) {
                    replies.push((
                        w.conn,
                        failed(ErrorKind::Removed, format!("the VG of {lname} was removed")),
                    ));
                    continue;
                }
                r.holders.insert(w.owner, w.mode);
                let resp = match r.kind {
                    Kind::Lv => Response::Done,
                    _ => granted(r),
                };
                replies.push((w.conn, resp));
            }
            // An LV unlock waiting while a release is in progress is handled above; an NL
            // waiter on an LV whose lock is still there needs the unlock below.
            let lv_release = r.kind == Kind::Lv
                && r.waiters
                    .front()
                    .is_some_and(|w| w.mode == Mode::Nl && r.adopt.is_empty());
            if lv_release {
                let w = r.waiters.front().expect("front");
                r.holders.remove(&w.owner);
                let w = r.waiters.pop_front().expect("front");
                r.op_replies.push(w.conn);
                moved = true;
            }
            let yielding = r.waiters.front().and_then(|w| yields_to(r, w));
            let target = if yielding.is_some() {
                r.need(None)
            } else {
                r.target(now)
            };
            let lvb_flags = r.has_lvb();
            let kind = if !r.adopt.is_empty() {
                Some(OpKind::Adopt(r.adopt[0]))
            } else if r.lkid.is_none() && r.kind == Kind::Lv {
                // An activation lock is made in its mode at once (one DLM call, NOQUEUE and
                // PERSISTENT as the convert would be): it carries no LVB to read first, and
                // nothing is held while a refused waiter backs off. lvmlockd makes an NL lock
                // and converts it; the modes and names the DLM sees are the same.
                (target != Mode::Nl).then_some(OpKind::Up(target))
            } else if r.lkid.is_none() {
                // GLLK and VGLK: an NL lock kept between commands, which reads the LVB.
                Some(OpKind::Create)
            } else if r.kind == Kind::Lv && target == Mode::Nl && r.waiters.is_empty() {
                Some(OpKind::Unlock)
            } else if target != r.mode && !weaker(target, r.mode) {
                // Stronger, or not comparable (PR <-> CW, activation modes): may be refused.
                Some(OpKind::Up(target))
            } else if target != r.mode {
                Some(OpKind::Down(target))
            } else {
                None
            };
            // A finished release with nothing to convert answers at once.
            if kind.is_none() {
                replies.extend(r.op_replies.drain(..).map(|c| (c, Response::Done)));
            }
            // Deadlines of waiters that are blocked locally (behind another local holder).
            if kind.is_none() {
                if let Some(w) = r.waiters.front() {
                    let blocked = !r.locally_ok(w) || yielding.is_some();
                    if blocked && w.deadline <= now && w.retry_at <= now {
                        let w = r.waiters.pop_front().expect("front");
                        let holder = match yielding {
                            Some((id, mode)) => Holder::Node {
                                id,
                                name: node_name(&self.names, id),
                                mode,
                            },
                            None => Holder::Node {
                                id: self.cfg.node_id,
                                name: self.cfg.node_name.clone(),
                                mode: r.mode,
                            },
                        };
                        replies.push((
                            w.conn,
                            Response::Busy {
                                resource: format!("{rname} in {lname}"),
                                holder,
                            },
                        ));
                    }
                }
            }
            // Announce what the first waiter waits for once the DLM has refused it.
            let waiting = r
                .waiters
                .front()
                .filter(|w| w.attempts > 0 && w.mode != Mode::Nl)
                .map(|w| w.mode);
            if waiting != r.announced_wait {
                r.announced_wait = waiting;
                announce_wait = Some(waiting.unwrap_or(Mode::Nl));
            }
            if let Some(kind) = kind {
                let flags = |noqueue: bool| Flags {
                    noqueue,
                    valblk: lvb_flags,
                    persistent: noqueue,
                    expedite: !noqueue,
                };
                let res = rname.clone();
                let op = match kind {
                    OpKind::Adopt(m) => DlmOp::Adopt { res, mode: m },
                    OpKind::Create => DlmOp::Lock {
                        res,
                        mode: Mode::Nl,
                        flags: flags(false),
                    },
                    OpKind::Unlock => DlmOp::Unlock {
                        res,
                        lkid: r.lkid.expect("held"),
                    },
                    OpKind::Up(m) if r.lkid.is_none() => DlmOp::Lock {
                        res,
                        mode: m,
                        flags: flags(true),
                    },
                    OpKind::Up(m) | OpKind::Down(m) => {
                        let lvb = (lvb_flags && r.mode == Mode::Ex)
                            .then(|| r.lvb.map(|v| v.encode()))
                            .flatten();
                        let mut f = flags(true);
                        if r.mode == Mode::Ex && lvb.is_none() {
                            // Leaving EX with VALBLK writes the block: with nothing known
                            // (an adopted orphan) leave it as it is.
                            f.valblk = false;
                        }
                        DlmOp::Convert {
                            res,
                            lkid: r.lkid.expect("held"),
                            mode: m,
                            flags: f,
                            lvb,
                        }
                    }
                };
                self.next_tag += 1;
                r.op = Some((self.next_tag, kind));
                call = Some((self.next_tag, op));
            }
        }
        moved |= !replies.is_empty() || call.is_some() || announce_wait.is_some();
        if let Some(mode) = announce_wait {
            self.out.push(Output::Cpg(CpgMsg::Waiting {
                ls: lname.to_string(),
                res: rname.to_string(),
                mode,
            }));
        }
        if let Some((tag, op)) = call {
            self.tags.insert(tag, (lname.clone(), rname.clone()));
            self.out.push(Output::Dlm {
                ls: lname.clone(),
                tag,
                op,
            });
        }
        // Forget an LV resource that is fully released and idle.
        if let Some(ls) = self.ls.get_mut(lname) {
            if let Some(r) = ls.res.get(rname) {
                if r.kind == Kind::Lv
                    && r.lkid.is_none()
                    && r.op.is_none()
                    && r.waiters.is_empty()
                    && r.holders.is_empty()
                    && r.adopt.is_empty()
                {
                    if let Some(t) = r.wake {
                        self.wakes.remove(&(t, lname.clone(), rname.clone()));
                    }
                    ls.res.remove(rname);
                    moved = true;
                }
            }
        }
        for (c, resp) in replies {
            self.reply(c, resp);
        }
        moved
    }

    /// Panics unless the targeted drive of the last step left nothing for the passes over
    /// every resource it replaced: driving every resource once changes nothing and says
    /// nothing, neither does telling every untold hold that is due, and [`Node::next_wake`]
    /// is what a scan of every resource gives. The simulator checks it after every step.
    pub(crate) fn assert_rested(&mut self) {
        let state = |n: &Node| format!("{:?} {:?} {:?}", n.ls, n.tags, n.rechecks);
        let before = state(self);
        let (out, tag) = (self.out.len(), self.next_tag);
        #[cfg(test)]
        let (driven, scans) = (self.driven.len(), self.scans);
        let (wake, scanned) = (self.next_wake(), self.next_wake_scan());
        let all: Vec<(LockspaceName, ResourceName)> = self
            .ls
            .iter()
            .flat_map(|(n, l)| l.res.keys().map(move |r| (n.clone(), r.clone())))
            .collect();
        for (l, r) in &all {
            self.drive(l, r);
        }
        let lv = self.lv_holds_at_once();
        for (l, r) in self.untold(lv) {
            self.tell(&l, &r, false);
        }
        let after = state(self);
        assert!(
            self.out.len() == out && self.next_tag == tag && before == after,
            "node {}: a pass over every resource did more than the targeted drive at {}: \
             {:?}\nbefore: {before}\nafter:  {after}",
            self.cfg.node_id,
            self.now,
            &self.out[out..],
        );
        assert_eq!(
            wake, scanned,
            "node {}: next_wake at {}, against a scan of every resource",
            self.cfg.node_id, self.now
        );
        #[cfg(test)]
        {
            self.driven.truncate(driven);
            self.scans = scans;
        }
    }

    /// [`Node::next_wake`] as a pass over every resource finds it (its reference).
    fn next_wake_scan(&self) -> Option<u64> {
        let now = self.now;
        let any_active = !self.all_active().is_empty();
        self.ls
            .values()
            .flat_map(|l| l.res.values())
            .filter(|r| r.op.is_none())
            .filter_map(|r| r.waiters.front())
            .flat_map(|w| [w.retry_at, w.deadline])
            .chain(self.coord_deadlines())
            .chain(self.carries.values().map(|c| c.deadline))
            .chain(
                self.ls
                    .values()
                    .flat_map(|l| l.res.values())
                    .filter(|r| r.kind != Kind::Lv && r.told == Mode::Nl && r.mode != Mode::Nl)
                    .map(|r| r.raised_at + ANNOUNCE_AFTER_MS),
            )
            .chain(self.unresolved_deadlines())
            .filter(|t| *t > now)
            .chain(self.freezer.next_wake(now))
            .chain(self.watcher.next_wake(now).filter(|_| any_active))
            .min()
    }

    /// What this node knows: its own locks, and the other nodes' as they told them (an
    /// uncontended LV lock elsewhere is told only when asked: a [`Request::Sync`] first makes
    /// the view complete).
    pub fn status(&self) -> Status {
        let lockspaces = self
            .ls
            .iter()
            .map(|(n, l)| LockspaceStatus {
                name: n.to_string(),
                state: match l.state {
                    LsState::Joining => "joining",
                    LsState::Running => "running",
                    LsState::Leaving => "stopping",
                }
                .into(),
                seqno: l.seqno,
                locks: {
                    let mut names: BTreeSet<String> = l.res.keys().map(|r| r.to_string()).collect();
                    names.extend(self.remote.resources(n.as_str()).cloned());
                    names
                        .into_iter()
                        .map(|res| {
                            let local = ResourceName::new(&res).ok().and_then(|r| l.res.get(&r));
                            LockStatus {
                                lv_name: local.and_then(|r| r.lv_name.clone()),
                                mode: local.map_or(Mode::Nl, |r| r.mode),
                                holders: local
                                    .map(|r| {
                                        r.holders
                                            .iter()
                                            .map(|(o, m)| match o {
                                                Owner::Persistent => format!("persistent {m}"),
                                                Owner::Conn(c) if recheck::is_recheck_conn(*c) => {
                                                    format!("clvmd-rs (metadata check) {m}")
                                                }
                                                Owner::Conn(c) => format!(
                                                    "client pid {} {m}",
                                                    self.conns.get(c).copied().unwrap_or(0)
                                                ),
                                            })
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                                remote: self
                                    .remote
                                    .get(n.as_str(), &res)
                                    .map(|h| {
                                        h.iter()
                                            .map(|(node, mode)| RemoteHold {
                                                node: *node,
                                                name: self.names.get(node).cloned(),
                                                mode: *mode,
                                            })
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                                last_busy: local.and_then(|r| r.last_busy.clone()),
                                resource: res,
                            }
                        })
                        .collect()
                },
            })
            .collect();
        Status {
            node_id: self.cfg.node_id,
            node_name: self.cfg.node_name.clone(),
            cluster_name: self.cluster_name.clone(),
            quorate: self.quorate,
            members: self
                .members
                .iter()
                .map(|m| Member {
                    id: *m,
                    name: self.names.get(m).cloned(),
                })
                .collect(),
            lockspaces,
            frozen: self.freezer.status(self.now),
            cluster_stack: self.dlm_down.map(|(since, broken)| {
                format!(
                    "dlm_controld is not running (for {} ms){}",
                    self.now.saturating_sub(since),
                    if broken {
                        "; it went away with lockspaces joined: the shared VGs stay frozen \
                         (stranded), reboot this node"
                    } else {
                        "; no lock is served until it is back"
                    }
                )
            }),
            failed_lvs: self.watcher.status(self.now),
            disabled_vgs: self.dg_status(),
            peer_refreshes: self.recheck_status(),
        }
    }
}

/// Whether resource `n` is an LV's activation lock held here (what [`Node::active_lvs`]
/// lists).
fn active_lv(n: &ResourceName, r: &Res) -> bool {
    r.kind == Kind::Lv
        && r.holders.contains_key(&Owner::Persistent)
        && n.as_str() != modes::MODE_RESOURCE
}

static GLLK: std::sync::LazyLock<ResourceName> = std::sync::LazyLock::new(ResourceName::gllk);
static VGLK: std::sync::LazyLock<ResourceName> = std::sync::LazyLock::new(ResourceName::vglk);

/// A lockspace's GLLK and VGLK: its resources that are no LV's (a command's locks), found
/// without a pass over its LV locks.
fn lock_resources(l: &Ls) -> impl Iterator<Item = (&'static ResourceName, &Res)> + '_ {
    [&*GLLK, &*VGLK]
        .into_iter()
        .filter_map(|n| l.res.get(n).map(|r| (n, r)))
        .filter(|(_, r)| r.kind != Kind::Lv)
}

fn granted(r: &Res) -> Response {
    Response::Granted {
        r_version: r.lvb.map(|v| v.r_version),
        lvb_invalid: r.lvb_invalid,
    }
}

fn read_lvb(r: &mut Res, g: &halvm_dlm::Granted) {
    if let Some(b) = &g.lvb {
        r.lvb_invalid = g.lvb_invalid;
        match ValBlk::decode(b) {
            Ok(v) => r.lvb = v,
            Err(e) => {
                log::error!("{e}");
                r.lvb_invalid = true;
            }
        }
    }
}

fn self_holder(
    remote: &Remote,
    names: &BTreeMap<u32, String>,
    me: u32,
    ls: &LockspaceName,
    res: &ResourceName,
    mode: Mode,
) -> Holder {
    remote
        .get(ls.as_str(), res.as_str())
        .and_then(|h| h.iter().find(|(n, m)| **n != me && !m.compatible(mode)))
        .map(|(n, m)| Holder::Node {
            id: *n,
            name: node_name(names, *n),
            mode: *m,
        })
        .unwrap_or(Holder::OtherHost)
}

/// A node's name as the daemons' group gave it, else `node<id>`.
fn node_name(names: &BTreeMap<u32, String>, id: u32) -> String {
    names
        .get(&id)
        .cloned()
        .unwrap_or_else(|| format!("node{id}"))
}
