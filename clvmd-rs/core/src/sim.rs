//! Many nodes in one process: each [`Node`] driven against one [`MemDlm`], CPG as an
//! agreed-order log delivered to each member at its own pace, a network that can be cut, and
//! a seeded scheduler that interleaves everything (the shape of raft-rs's test harness).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use clvmd_proto::{Request, Response};
use halvm_dlm::{Dlm, DlmLockspace, LockspaceName, MemDlm, MemNode, Outcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::detach::{Detach, LvStatus, WatchAction};
use crate::dm::{DmAction, DmReport};
use crate::machine::{ConnId, DlmOp, Input, Node, NodeConfig, Output};
use crate::quorum::{FenceAction, QuorumLoss};
use crate::CpgMsg;

/// A simulated device-mapper device: the top device of an LV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimDev {
    pub size: u64,
    pub suspended: bool,
    /// The mirror legs its live table maps, as a bit mask of the LV's original legs (0: not
    /// mirrored).
    pub legs: u32,
    /// The disk log its live table uses ([`Sim::disk_log`]'s generation; 0: none).
    pub log: u32,
}

/// The UUID of the simulated VG ([`Sim::vg_uuid`] at the start).
pub const SIM_VG_UUID: &str = "Vvvvvv-vvvv-vvvv-vvvv-vvvv-vvvv-vvvvvv";

/// The cluster name every simulated node's DLM reports.
pub const CLUSTER: &str = "simcluster";

enum Work {
    Join(LockspaceName),
    Leave(LockspaceName),
    Dlm(LockspaceName, u64, DlmOp),
    Fence(u64, FenceAction),
    Watch(u64, WatchAction),
    /// The next step of a detach commit, after the daemon answered its client connection.
    Detach(ConnId, Response),
    /// Another node's commit to write (dgfail.rs).
    WriteCommit(u64, crate::CarriedCommit),
}

/// A global detach in flight, run as the daemon's driver runs it: a client of the node's own
/// daemon that takes the VG lock EX, commits, and releases it with the new seqno.
#[derive(Debug)]
struct DetachJob {
    tag: u64,
    lv: crate::dm::LvRef,
    images: Vec<String>,
    unlocking: bool,
    /// The node could not write the metadata ([`Sim::no_metadata`]).
    lost: bool,
}

/// The image LV name of original leg `bit` of a simulated mirror.
/// The LV id of generation `g` of the simulated mirror's disk log: a replaced log has a
/// new id, so a second detach of the old one leaves the new one alone.
pub fn log_id(g: u32) -> String {
    format!("mlog{g}")
}

fn image_name(bit: u32) -> String {
    format!("m_mimage_{bit}")
}

/// Client connections the simulated detach driver uses (apart from the tests' own).
const DETACH_CONN_BASE: ConnId = 1 << 40;

struct SimNode {
    node: Node,
    dlm: MemNode,
    spaces: BTreeMap<LockspaceName, Box<dyn DlmLockspace>>,
    /// DLM calls not yet carried out, in order (one worker per node, as per lockspace).
    work: VecDeque<Work>,
    /// CPG messages delivered to this node but not yet stepped.
    inbox: VecDeque<(u32, CpgMsg)>,
    /// Device-mapper actions not yet carried out, in order.
    dm_work: VecDeque<(u64, DmAction)>,
    /// Active LVs' top devices by LV UUID.
    devs: BTreeMap<String, SimDev>,
    alive: bool,
}

/// The simulated cluster.
pub struct Sim {
    pub dlm: MemDlm,
    nodes: BTreeMap<u32, SimNode>,
    /// Which partition each node is in (same number: can talk).
    partition: BTreeMap<u32, u32>,
    pub now: u64,
    rng: StdRng,
    /// Replies received: (node, conn, response).
    pub replies: VecDeque<(u32, ConnId, Response)>,
    pub steps: u64,
    /// `policy.quorum_loss` of nodes started from now on.
    pub quorum_loss: QuorumLoss,
    /// The kernel's side of the quorum fence: per node, the VGs frozen and how. It survives
    /// a daemon restart (as device-mapper state and the driver's record under /run do) and
    /// is lost in a crash.
    pub frozen: BTreeMap<u32, BTreeMap<String, QuorumLoss>>,
    /// Every fence action carried out: (time, node, action).
    pub fence_log: Vec<(u64, u32, FenceAction)>,
    /// `policy.detach` of nodes started from now on.
    pub detach: Detach,
    /// `policy.dg_failure` of nodes started from now on.
    pub dg_failure: clvmd_proto::DgFailure,
    /// What each node's kernel reports for an LV's top device: (node, LV uuid) -> (target,
    /// status params); set it to simulate a leg failure seen by one node.
    pub lv_status: BTreeMap<(u32, String), (String, String)>,
    /// LVs whose I/O a node stopped (FailLv): (time, node, LV uuid).
    pub stopped: Vec<(u64, u32, String)>,
    /// The committed metadata on the shared disks, as far as the devices care: LV UUID ->
    /// size in sectors.
    pub disk: BTreeMap<String, u64>,
    /// Check after every device-mapper action that no two nodes serve different sizes of one
    /// LV (suspended devices serve nothing).
    pub check_sizes: bool,
    /// Every device-mapper action carried out: (node, action).
    pub dm_log: Vec<(u32, DmAction)>,
    /// Every DLM call carried out: (node, lockspace, call).
    pub dlm_log: Vec<(u32, LockspaceName, DlmOp)>,
    /// Every CPG multicast sent: (node, message).
    pub cpg_log: Vec<(u32, CpgMsg)>,
    /// The mirror legs in the committed metadata: LV UUID -> bit mask of the original legs.
    pub disk_legs: BTreeMap<String, u32>,
    /// The mirror's disk log in the committed metadata: LV UUID -> generation (a detach that
    /// replaces a failed log makes a new one; 0: a core log). Its LV id is [`log_id`].
    pub disk_log: BTreeMap<String, u32>,
    /// Whether a detach finds room for a new log (else the mirror falls back to a core log).
    pub log_room: bool,
    /// The detach policy VGs set in their metadata (tags), by VG name.
    pub vg_detach: BTreeMap<String, Detach>,
    /// Nodes that cannot write any metadata copy (every metadata area fails from there):
    /// their detach commits fail with [`Input::DetachNoMetadata`], as the daemon's driver's do.
    pub no_metadata: BTreeSet<u32>,
    /// Nodes that cannot read any metadata copy: their reloads and seqno reads fail, and
    /// the driver says so ([`Input::MetadataUnreadable`]), as the daemon's does.
    pub no_metadata_read: BTreeSet<u32>,
    /// The metadata-loss policy VGs set in their metadata (tags), by VG name.
    pub vg_dgfail: BTreeMap<String, clvmd_proto::DgFailure>,
    /// The VG's committed seqno (detach commits and carried commits bump it).
    pub seqno: u32,
    /// The VG's UUID on disk (a carried commit must name it).
    pub vg_uuid: String,
    /// Commits nodes wrote for others: (time, carrier, seqno written, text).
    pub carried_log: Vec<(u64, u32, u32, String)>,
    /// Detach commits that changed the metadata: (time, node, LV uuid, legs left).
    pub detach_log: Vec<(u64, u32, String, u32)>,
    detach_jobs: BTreeMap<(u32, ConnId), DetachJob>,
    next_detach_conn: ConnId,
    /// Nodes whose device-mapper actions wait (a slow reload) until taken out of this set.
    pub dm_held: BTreeSet<u32>,
    /// Nodes whose corosync was stopped by an expulsion ([`Sim::expel`]): out of every view.
    pub expelled: BTreeSet<u32>,
    /// Nodes that look, on the CPG wire, like a daemon from before barriers (CPG version 0):
    /// their barriers and answers are not sent and their snapshots carry no version. (Their
    /// machine is today's: it still leaves a command's VG lock and, among members as new as
    /// it, an LV's lock untold, which such a daemon never did, so a test must not expect
    /// their holds to be named; and its own refusals wait for their barrier's deadline.)
    pub old: BTreeSet<u32>,
    /// Nodes whose snapshots say CPG version 1: they answer barriers and expect LV locks told
    /// at once (their own are told as today's machine tells them).
    pub v1: BTreeSet<u32>,
    /// Nodes whose snapshots carry no version but which answer barriers (daemons built after
    /// barriers came and before snapshots carried a version).
    pub unversioned: BTreeSet<u32>,
}

impl Sim {
    /// `n` nodes (ids 1..=n), all quorate and members of one partition.
    pub fn new(n: u32, seed: u64) -> Self {
        Self::with_policy(n, seed, QuorumLoss::Freeze)
    }

    /// As [`Sim::new`], every node with `policy.quorum_loss = policy`.
    pub fn with_policy(n: u32, seed: u64, policy: QuorumLoss) -> Self {
        Self::build(n, seed, policy, &[])
    }

    /// As [`Sim::new`], nodes `old` looking like daemons from before barriers ([`Sim::old`])
    /// from their start.
    pub fn mixed(n: u32, seed: u64, old: &[u32]) -> Self {
        Self::build(n, seed, QuorumLoss::Freeze, old)
    }

    fn build(n: u32, seed: u64, policy: QuorumLoss, old: &[u32]) -> Self {
        let mut sim = Sim {
            dlm: MemDlm::new(),
            nodes: BTreeMap::new(),
            partition: BTreeMap::new(),
            now: 0,
            rng: StdRng::seed_from_u64(seed),
            replies: VecDeque::new(),
            steps: 0,
            quorum_loss: policy,
            frozen: BTreeMap::new(),
            fence_log: Vec::new(),
            detach: Detach::Global,
            dg_failure: clvmd_proto::DgFailure::Dgdisable,
            lv_status: BTreeMap::new(),
            stopped: Vec::new(),
            disk: BTreeMap::new(),
            check_sizes: false,
            dm_log: Vec::new(),
            dlm_log: Vec::new(),
            cpg_log: Vec::new(),
            disk_legs: BTreeMap::new(),
            disk_log: BTreeMap::new(),
            log_room: true,
            vg_detach: BTreeMap::new(),
            seqno: 1,
            vg_uuid: SIM_VG_UUID.into(),
            carried_log: Vec::new(),
            detach_log: Vec::new(),
            detach_jobs: BTreeMap::new(),
            no_metadata: BTreeSet::new(),
            no_metadata_read: BTreeSet::new(),
            vg_dgfail: BTreeMap::new(),
            next_detach_conn: DETACH_CONN_BASE,
            expelled: BTreeSet::new(),
            dm_held: BTreeSet::new(),
            old: old.iter().copied().collect(),
            unversioned: BTreeSet::new(),
            v1: BTreeSet::new(),
        };
        for id in 1..=n {
            sim.start_node(id);
        }
        sim.membership_changed();
        sim
    }

    fn start_node(&mut self, id: u32) {
        let node = Node::new(NodeConfig {
            node_id: id,
            node_name: format!("node{id}"),
            quorum_loss: self.quorum_loss,
            detach: self.detach,
            dg_failure: self.dg_failure,
        });
        self.nodes.insert(
            id,
            SimNode {
                node,
                dlm: self.dlm.node(id),
                spaces: BTreeMap::new(),
                work: VecDeque::new(),
                inbox: VecDeque::new(),
                dm_work: VecDeque::new(),
                devs: BTreeMap::new(),
                alive: true,
            },
        );
        self.partition.entry(id).or_insert(0);
        self.input(id, Input::ClusterName(Some(CLUSTER.into())));
        let left: Vec<(String, QuorumLoss)> = self
            .frozen
            .get(&id)
            .map(|f| f.iter().map(|(vg, how)| (vg.clone(), *how)).collect())
            .unwrap_or_default();
        if !left.is_empty() {
            self.input(id, Input::FrozenFound { vgs: left });
        }
        let members = self.members_of(id);
        let quorate = members.len() * 2 > self.nodes.len();
        self.input(id, Input::QuorumView { quorate, members });
        // As the daemon does at start: what its DLM still has joined (a restart's leftovers).
        let names = self.nodes[&id].dlm.joined_here().expect("MemDlm lists");
        if !names.is_empty() {
            self.input(id, Input::LockspacesFound { names });
        }
    }

    fn members_of(&self, id: u32) -> Vec<u32> {
        let p = self.partition[&id];
        self.nodes
            .iter()
            .filter(|(n, s)| s.alive && self.partition[*n] == p && !self.expelled.contains(n))
            .map(|(n, _)| *n)
            .collect()
    }

    fn membership_changed(&mut self) {
        let ids: Vec<u32> = self
            .alive_nodes()
            .into_iter()
            .filter(|n| !self.expelled.contains(n))
            .collect();
        for id in ids {
            let members = self.members_of(id);
            // Quorum: a strict majority of all configured nodes.
            let quorate = members.len() * 2 > self.nodes.len();
            self.input(
                id,
                Input::QuorumView {
                    quorate,
                    members: members.clone(),
                },
            );
            self.input(id, Input::Membership { members });
        }
    }

    pub fn alive_nodes(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|(_, s)| s.alive)
            .map(|(n, _)| *n)
            .collect()
    }

    /// Steps node `id` with `input` and routes what comes out.
    pub fn input(&mut self, id: u32, input: Input) {
        let now = self.now;
        let sn = self.nodes.get_mut(&id).expect("node");
        if !sn.alive {
            return;
        }
        let outs = sn.node.step(now, input);
        // The targeted drive (machine.rs) must leave nothing a pass over everything would do.
        sn.node.assert_rested();
        self.steps += 1;
        for o in outs {
            self.route(id, o);
        }
    }

    fn route(&mut self, id: u32, o: Output) {
        // Most outputs become work for the node's own queue, taken later in a random order.
        let work = match o {
            Output::Reply { conn, response } if self.detach_jobs.contains_key(&(id, conn)) => {
                Work::Detach(conn, response)
            }
            Output::Reply { conn, response } => {
                self.replies.push_back((id, conn, response));
                return;
            }
            Output::Join { ls } => Work::Join(ls),
            Output::Leave { ls } => Work::Leave(ls),
            Output::Dlm { ls, tag, op } => Work::Dlm(ls, tag, op),
            Output::Fence { tag, action } => Work::Fence(tag, action),
            Output::Watch { tag, action } => Work::Watch(tag, action),
            Output::WriteCommit { tag, commit } => Work::WriteCommit(tag, commit),
            Output::Dm { tag, action } => {
                self.nodes
                    .get_mut(&id)
                    .unwrap()
                    .dm_work
                    .push_back((tag, action));
                return;
            }
            Output::Cpg(msg) => {
                let msg = match msg {
                    CpgMsg::Barrier { .. } | CpgMsg::BarrierAck { .. }
                        if self.old.contains(&id) =>
                    {
                        return;
                    }
                    CpgMsg::Snapshot {
                        name,
                        holds,
                        disabled,
                        ..
                    } if self.old.contains(&id)
                        || self.unversioned.contains(&id)
                        || self.v1.contains(&id) =>
                    {
                        CpgMsg::Snapshot {
                            name,
                            holds,
                            disabled,
                            version: u32::from(self.v1.contains(&id)),
                        }
                    }
                    msg => msg,
                };
                self.cpg_log.push((id, msg.clone()));
                // Agreed order: every member of the sender's partition gets it, in one global
                // order (appending now to every inbox keeps the order identical everywhere).
                for m in self.members_of(id) {
                    self.nodes
                        .get_mut(&m)
                        .unwrap()
                        .inbox
                        .push_back((id, msg.clone()));
                }
                return;
            }
        };
        self.nodes.get_mut(&id).unwrap().work.push_back(work);
    }

    /// A client request on `node` over connection `conn`.
    pub fn request(&mut self, node: u32, conn: ConnId, request: Request) {
        self.input(node, Input::Request { conn, request });
    }

    fn do_work(&mut self, id: u32) {
        let sn = self.nodes.get_mut(&id).unwrap();
        let Some(w) = sn.work.pop_front() else {
            return;
        };
        let input = match w {
            Work::Join(ls) => {
                let result = sn.dlm.join(&ls).map(|j| {
                    sn.spaces.insert(ls.clone(), j.ls);
                    j.existed
                });
                Input::Joined {
                    ls,
                    result: result.map_err(|e| e.to_string()),
                }
            }
            Work::Leave(ls) => {
                let result = match sn.spaces.remove(&ls) {
                    Some(s) => s.release().map_err(|e| e.to_string()),
                    None => Ok(()),
                };
                Input::Left { ls, result }
            }
            Work::Dlm(ls, tag, op) => {
                self.dlm_log.push((id, ls.clone(), op.clone()));
                let result = match sn.spaces.get_mut(&ls) {
                    Some(space) => execute(space.as_mut(), &op),
                    None => Err(format!("lockspace {ls} not joined")),
                };
                Input::DlmDone { tag, result }
            }
            Work::Fence(tag, action) => {
                let k = self.frozen.entry(id).or_default();
                match &action {
                    FenceAction::Freeze { vg, how } => {
                        k.insert(vg.clone(), *how);
                    }
                    FenceAction::Thaw { vg } => {
                        k.remove(vg);
                    }
                }
                self.fence_log.push((self.now, id, action));
                Input::FenceDone {
                    tag,
                    result: Ok(()),
                }
            }
            Work::Detach(conn, response) => return self.detach_step(id, conn, response),
            // As the daemon's driver: the disk must hold the VG named at the seqno named.
            Work::WriteCommit(tag, c) => {
                let result = if self.no_metadata.contains(&id) {
                    Err("no metadata copy could be written from this host".into())
                } else if c.vg_uuid != self.vg_uuid || c.disk_seqno != self.seqno {
                    Err(format!(
                        "VG {} on disk is {} at seqno {}, not {} at seqno {}",
                        c.vg, self.vg_uuid, self.seqno, c.vg_uuid, c.disk_seqno
                    ))
                } else {
                    self.seqno += 1;
                    self.carried_log
                        .push((self.now, id, self.seqno, c.metadata.clone()));
                    Ok(())
                };
                Input::CommitWritten { tag, result }
            }
            Work::Watch(tag, action) => {
                let result = match action {
                    WatchAction::Health { lvs } => lvs
                        .iter()
                        .filter_map(|l| {
                            // The live table's legs: the set bits of the device's mask.
                            let live = sn.devs.get(&l.uuid).map_or(0, |d| d.legs);
                            self.lv_status
                                .get(&(id, l.uuid.clone()))
                                .map(|(t, p)| LvStatus {
                                    uuid: l.uuid.clone(),
                                    target: t.clone(),
                                    params: p.clone(),
                                    legs: (0..32)
                                        .filter(|b| live & (1 << b) != 0)
                                        .map(image_name)
                                        .collect(),
                                    log: sn
                                        .devs
                                        .get(&l.uuid)
                                        .filter(|d| d.log > 0 && p.contains(" disk "))
                                        .map(|d| log_id(d.log)),
                                })
                        })
                        .collect(),
                    WatchAction::FailLv { lv } => {
                        self.stopped.push((self.now, id, lv.uuid));
                        Vec::new()
                    }
                    WatchAction::ReadPolicy { lv } => {
                        let result = Ok(self.vg_detach.get(&lv.vg).copied());
                        self.input(id, Input::PolicyRead { tag, result });
                        return;
                    }
                    WatchAction::Detach { lv, images } => {
                        // Answered when the commit is done (Work::Detach).
                        self.next_detach_conn += 1;
                        let conn = self.next_detach_conn;
                        let vg = lv.vg.clone();
                        self.detach_jobs.insert(
                            (id, conn),
                            DetachJob {
                                tag,
                                lv,
                                images,
                                unlocking: false,
                                lost: false,
                            },
                        );
                        self.input(id, Input::Connected { conn, pid: 1 });
                        self.input(
                            id,
                            Input::Request {
                                conn,
                                request: Request::Lock {
                                    scope: clvmd_proto::Scope::Vg(vg),
                                    mode: clvmd_proto::Mode::Ex,
                                    wait_ms: 10_000,
                                },
                            },
                        );
                        return;
                    }
                };
                Input::WatchDone {
                    tag,
                    result: Ok(result),
                }
            }
        };
        self.dlm.assert_compatible();
        self.input(id, input);
    }

    /// A detach commit's next step: with the VG lock granted, drop the legs from the
    /// committed metadata (as lvmeta's transaction does: only legs still there) and release
    /// the lock with the new seqno; once released, answer the machine.
    fn detach_step(&mut self, id: u32, conn: ConnId, response: Response) {
        let Some(job) = self.detach_jobs.get_mut(&(id, conn)) else {
            return;
        };
        let vg = job.lv.vg.clone();
        let result = match (job.unlocking, response) {
            (false, Response::Granted { .. }) if self.no_metadata.contains(&id) => {
                // The commit writes no copy; the lock is released unchanged.
                job.lost = true;
                job.unlocking = true;
                self.release_vg(id, conn, vg, None);
                return;
            }
            (true, Response::Done) if job.lost => {
                let job = self.detach_jobs.remove(&(id, conn)).expect("present");
                let policy = self.vg_dgfail.get(&vg).copied();
                self.input(id, Input::Disconnected { conn });
                self.input(
                    id,
                    Input::DetachNoMetadata {
                        tag: job.tag,
                        error: "no metadata copy could be written from this host".into(),
                        policy,
                    },
                );
                return;
            }
            (false, Response::Granted { .. }) => {
                job.unlocking = true;
                let uuid = job.lv.uuid.clone();
                let dead: u32 = (0..32)
                    .filter(|b| job.images.contains(&image_name(*b)))
                    .fold(0, |m, b| m | (1 << b));
                let mut seqno = None;
                if let Some(on_disk) = self.disk_legs.get_mut(&uuid) {
                    if *on_disk & dead != 0 {
                        *on_disk &= !dead;
                        self.seqno += 1;
                        seqno = Some(self.seqno);
                        self.detach_log.push((self.now, id, uuid.clone(), *on_disk));
                    }
                }
                // The failed log, named by its id: replaced (or a core log) only while it is
                // still the mirror's log.
                if let Some(g) = self.disk_log.get_mut(&uuid) {
                    if *g > 0 && job.images.contains(&log_id(*g)) {
                        *g = if self.log_room { *g + 1 } else { 0 };
                        self.seqno += 1;
                        seqno = Some(self.seqno);
                        let legs = self.disk_legs.get(&uuid).copied().unwrap_or(0);
                        self.detach_log.push((self.now, id, uuid, legs));
                    }
                }
                self.release_vg(id, conn, vg, seqno);
                return;
            }
            (true, Response::Done) => Ok(Vec::new()),
            (_, other) => Err(format!("{other:?}")),
        };
        let job = self.detach_jobs.remove(&(id, conn)).expect("present");
        self.input(id, Input::Disconnected { conn });
        self.input(
            id,
            Input::WatchDone {
                tag: job.tag,
                result,
            },
        );
    }

    /// The detach job on (`id`, `conn`) releases its VG lock, handing on `seqno` when it
    /// committed.
    fn release_vg(&mut self, id: u32, conn: ConnId, vg: String, seqno: Option<u32>) {
        let request = Request::Unlock {
            scope: clvmd_proto::Scope::Vg(vg),
            seqno,
            removed: false,
            quiet: false,
        };
        self.input(id, Input::Request { conn, request });
    }

    /// Runs one random pending event; false when nothing is pending (time may still pass).
    pub fn step_once(&mut self) -> bool {
        let mut choices = Vec::new();
        let mut dm = Vec::new();
        for (id, sn) in &self.nodes {
            if !sn.alive {
                continue;
            }
            if !sn.work.is_empty() {
                choices.push((*id, true));
            }
            if !sn.inbox.is_empty() {
                choices.push((*id, false));
            }
            if !sn.dm_work.is_empty() && !self.dm_held.contains(id) {
                dm.push(*id);
            }
        }
        if choices.is_empty() && dm.is_empty() {
            return false;
        }
        let pick = self.rng.gen_range(0..choices.len() + dm.len());
        if pick >= choices.len() {
            self.do_dm(dm[pick - choices.len()]);
            return true;
        }
        let (id, work) = choices[pick];
        if work {
            self.do_work(id);
        } else {
            let (from, msg) = self.nodes.get_mut(&id).unwrap().inbox.pop_front().unwrap();
            self.input(id, Input::Cpg { from, msg });
        }
        true
    }

    /// Runs until nothing is pending and no timer is due within `max_ms` of simulated time.
    pub fn run(&mut self, max_ms: u64) {
        let end = self.now + max_ms;
        loop {
            while self.step_once() {}
            match self.next_wake() {
                Some(t) if t <= end => self.tick_at(t),
                _ => break,
            }
        }
    }

    /// Moves time to the next due timer and ticks every node; false when none is due.
    pub fn advance(&mut self) -> bool {
        match self.next_wake() {
            Some(t) => {
                self.tick_at(t);
                true
            }
            None => false,
        }
    }

    /// The earliest timer of a live node.
    fn next_wake(&self) -> Option<u64> {
        self.nodes
            .values()
            .filter(|s| s.alive)
            .filter_map(|s| s.node.next_wake())
            .min()
    }

    /// Time moves on to `t` (never back) and every live node gets a tick.
    fn tick_at(&mut self, t: u64) {
        self.now = self.now.max(t);
        for id in self.alive_nodes() {
            self.input(id, Input::Tick);
        }
    }

    /// Takes the replies for (node, conn).
    pub fn take_replies(&mut self, node: u32, conn: ConnId) -> Vec<Response> {
        let mut out = Vec::new();
        self.replies.retain(|(n, c, r)| {
            if *n == node && *c == conn {
                out.push(r.clone());
                false
            } else {
                true
            }
        });
        out
    }

    /// Sends `req` and runs until it is answered; panics if it never is.
    pub fn call(&mut self, node: u32, conn: ConnId, req: Request) -> Response {
        self.request(node, conn, req);
        for _ in 0..10_000 {
            let r = self.take_replies(node, conn);
            if let Some(first) = r.into_iter().next() {
                return first;
            }
            if !self.step_once() {
                self.run(60_000);
                let r = self.take_replies(node, conn);
                return r
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| panic!("node {node} conn {conn}: no answer"));
            }
        }
        panic!("node {node} conn {conn}: no answer after 10000 steps")
    }

    pub fn disconnect(&mut self, node: u32, conn: ConnId) {
        self.input(node, Input::Disconnected { conn });
    }

    /// The node dies and is fenced: its DLM locks go, the others see it leave.
    pub fn crash(&mut self, id: u32) {
        let sn = self.nodes.get_mut(&id).unwrap();
        sn.alive = false;
        sn.work.clear();
        sn.inbox.clear();
        sn.dm_work.clear();
        sn.devs.clear();
        self.detach_jobs.retain(|(n, _), _| *n != id);
        let spaces = std::mem::take(&mut self.nodes.get_mut(&id).unwrap().spaces);
        self.dlm.crash_node(id);
        // The kernel went with it.
        self.frozen.remove(&id);
        // Closing after the crash finds nothing left to orphan.
        drop(spaces);
        self.membership_changed();
    }

    /// Boots a crashed node again (a fresh daemon, no lockspaces).
    pub fn reboot(&mut self, id: u32) {
        self.expelled.remove(&id);
        self.start_node(id);
        self.membership_changed();
    }

    /// The daemon on `id` is SIGKILLed and restarted: its persistent DLM locks stay as
    /// orphans in lockspaces that stay joined; the new daemon starts empty.
    pub fn restart_daemon(&mut self, id: u32) {
        let sn = self.nodes.remove(&id).unwrap();
        drop(sn.spaces);
        self.detach_jobs.retain(|(n, _), _| *n != id);
        self.start_node(id);
        self.membership_changed();
    }

    /// dlm_controld on the majority expels node `id` (a stateful merge): its corosync stops,
    /// so its daemon loses the cluster connection; the node and its kernel state stay.
    pub fn expel(&mut self, id: u32) {
        self.input(
            id,
            Input::ClusterLost {
                why: "cpg dispatch: CS_ERR_LIBRARY".into(),
            },
        );
        self.expelled.insert(id);
        self.membership_changed();
    }

    /// Cuts the network: nodes in `group` form one partition, the others another.
    pub fn partition(&mut self, group: &[u32]) {
        let set: BTreeSet<u32> = group.iter().copied().collect();
        for (id, p) in self.partition.iter_mut() {
            *p = u32::from(set.contains(id));
        }
        self.membership_changed();
    }

    pub fn heal(&mut self) {
        for p in self.partition.values_mut() {
            *p = 0;
        }
        self.membership_changed();
    }

    /// The CPG messages delivered to node `id` but not stepped yet, in order: (sender, message).
    pub fn inbox(&self, id: u32) -> impl Iterator<Item = &(u32, CpgMsg)> {
        self.nodes[&id].inbox.iter()
    }

    pub fn node(&self, id: u32) -> &Node {
        &self.nodes[&id].node
    }

    /// Carries out node `id`'s next device-mapper action on its simulated devices, planning
    /// from [`Sim::disk`] as the real driver plans from the committed metadata.
    fn do_dm(&mut self, id: u32) {
        let seqno = self.seqno;
        let disk = &self.disk;
        let disk_legs = &self.disk_legs;
        let disk_log = &self.disk_log;
        let lv_status = &mut self.lv_status;
        let sn = self.nodes.get_mut(&id).unwrap();
        let Some((tag, action)) = sn.dm_work.pop_front() else {
            return;
        };
        let uuid = action.lv().uuid.clone();
        let reads = matches!(
            action,
            DmAction::Refresh { .. } | DmAction::ReadSeqno { .. }
        );
        if reads && self.no_metadata_read.contains(&id) {
            let vg = action.lv().vg.clone();
            let error = format!("VG {vg}: no metadata copy can be read from this host");
            self.dm_log.push((id, action));
            self.input(
                id,
                Input::MetadataUnreadable {
                    vg,
                    error: error.clone(),
                    policy: None,
                },
            );
            self.input(
                id,
                Input::DmDone {
                    tag,
                    result: Err(error),
                },
            );
            return;
        }
        let dev = sn.devs.get_mut(&uuid);
        let active = dev.is_some();
        let mut report = DmReport {
            active,
            ..DmReport::default()
        };
        if let Some(d) = dev {
            match &action {
                DmAction::Suspend { .. } => d.suspended = true,
                DmAction::Resume { .. } => d.suspended = false,
                DmAction::Refresh { .. } => {
                    let want = disk.get(&uuid).copied().unwrap_or(d.size);
                    let legs = disk_legs.get(&uuid).copied().unwrap_or(d.legs);
                    let log = disk_log.get(&uuid).copied().unwrap_or(d.log);
                    if want != d.size || legs != d.legs || log != d.log {
                        report.reloaded.push(action.lv().name.clone());
                    }
                    if legs != d.legs || log != d.log {
                        // The failed leg is gone from the table: the kernel reports the
                        // remaining ones healthy (one leg left: linear, not watched).
                        let n = legs.count_ones() as usize;
                        if n > 1 {
                            let devs: Vec<String> =
                                (0..n).map(|i| format!("253:{}", i + 1)).collect();
                            lv_status.insert(
                                (id, uuid.clone()),
                                (
                                    "mirror".into(),
                                    format!(
                                        "{n} {} 9/9 1 {} {}",
                                        devs.join(" "),
                                        "A".repeat(n),
                                        if log > 0 { "3 disk 253:9 A" } else { "1 core" }
                                    ),
                                ),
                            );
                        } else {
                            lv_status.remove(&(id, uuid.clone()));
                        }
                    }
                    d.size = want;
                    d.legs = legs;
                    d.log = log;
                    d.suspended = false;
                }
                DmAction::Status { .. } | DmAction::ReadSeqno { .. } => {}
            }
            report.size_sectors = Some(d.size);
        }
        if let DmAction::ReadSeqno { .. } = &action {
            report.seqno = Some(seqno);
        }
        self.dm_log.push((id, action));
        if self.check_sizes {
            self.assert_one_size(&uuid);
        }
        self.input(
            id,
            Input::DmDone {
                tag,
                result: Ok(report),
            },
        );
    }

    /// Panics if two live nodes serve different sizes of LV `uuid`.
    pub fn assert_one_size(&self, uuid: &str) {
        let serving: BTreeMap<u32, u64> = self
            .nodes
            .iter()
            .filter(|(_, s)| s.alive)
            .filter_map(|(n, s)| {
                s.devs
                    .get(uuid)
                    .filter(|d| !d.suspended)
                    .map(|d| (*n, d.size))
            })
            .collect();
        let sizes: BTreeSet<u64> = serving.values().copied().collect();
        assert!(
            sizes.len() <= 1,
            "LV {uuid} served with different sizes: {serving:?}"
        );
    }

    /// The LV's device on node `id`, if active there.
    pub fn dev(&self, id: u32, uuid: &str) -> Option<SimDev> {
        self.nodes[&id].devs.get(uuid).copied()
    }

    /// What `lvchange -a` does after the daemon granted the LV lock: makes the device with the
    /// committed size. (The activation lock goes through [`Sim::call`].)
    pub fn create_dev(&mut self, id: u32, uuid: &str) {
        let size = self.disk.get(uuid).copied().unwrap_or(0);
        let legs = self.disk_legs.get(uuid).copied().unwrap_or(0);
        let log = self.disk_log.get(uuid).copied().unwrap_or(0);
        self.nodes.get_mut(&id).unwrap().devs.insert(
            uuid.to_string(),
            SimDev {
                size,
                suspended: false,
                legs,
                log,
            },
        );
    }
}

/// Carries out one DLM call: the same mapping the daemon's lockspace workers use.
pub fn execute(ls: &mut dyn DlmLockspace, op: &DlmOp) -> Result<Outcome, String> {
    let r = match op {
        DlmOp::Lock { res, mode, flags } => ls.lock(res, *mode, *flags),
        DlmOp::Convert {
            res,
            lkid,
            mode,
            flags,
            lvb,
        } => ls.convert(
            res,
            halvm_dlm::Conversion {
                lkid: *lkid,
                mode: *mode,
                flags: *flags,
                lvb: lvb.as_ref(),
            },
        ),
        DlmOp::Unlock { res, lkid } => ls.unlock(res, *lkid).map(|()| {
            Outcome::Granted(halvm_dlm::Granted {
                lkid: *lkid,
                lvb: None,
                lvb_invalid: false,
            })
        }),
        DlmOp::Adopt { res, mode } => ls.adopt(res, *mode),
    };
    r.map_err(|e| e.to_string())
}
