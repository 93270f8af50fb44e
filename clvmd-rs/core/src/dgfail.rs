//! The metadata-loss policy (`policy.dg_failure`, VxVM's `dgfailpolicy`): what follows when
//! the node committing a change to a shared VG cannot write any metadata copy.
//!
//! A node that cannot read any metadata copy of a shared VG with LVs active here (every
//! device behind its metadata fails I/O) is in the same state: when the driver needs the
//! metadata (a reload after a commit elsewhere, the check after a node left, a detach) and
//! reads no copy, it says so ([`Input::MetadataUnreadable`]) and the policy applies.
//!
//! The command holding the VG lock EX finds every metadata area's write (or sync) failing
//! from this node; its commit fails with nothing half-written (lvmeta's two-phase commit
//! leaves every committed copy as it was) and, still holding the lock, it tells this daemon
//! ([`Request::MetadataLost`], with the VG's own `halvm_dgfail_*` tag if it sets one). Then:
//!
//! - `dgdisable`: the daemon multicasts [`CpgMsg::VgDisabled`]; on delivery (its own
//!   included, in agreed order) every daemon records the VG disabled and from then on refuses
//!   the VG lock EX (every metadata change) and a lockstart, naming the VG, the node that
//!   lost the metadata and the way back. Reads (PR), activation and deactivation go on, so
//!   active volumes keep serving I/O. A daemon that joins later learns it from the others'
//!   snapshots. [`Request::VgEnable`] on any node (after the storage is fixed) multicasts
//!   [`CpgMsg::VgEnabled`].
//! - `leave`: only this node leaves the VG. Leaving the lockspace at once would drop the
//!   activation locks of LVs still active here, and another node could then activate them
//!   exclusively while this node still writes: so the daemon refuses changes and new
//!   activations here, reports every LV of the VG as failed to the resource agents'
//!   monitor ([`clvmd_proto::Status::io_blocked`]), so Pacemaker stops them here (their
//!   deactivation is allowed) and starts them elsewhere, and leaves the VG's lockspace once
//!   no lock of it is held here. [`Request::VgEnable`] here, then a lockstart, bring it back.
//!
//! Before the policy, a peer may carry the commit (beyond VxVM 4.1): it writes it from its
//! own view of the disks, which may still reach the metadata areas this node cannot. One
//! carrier is named (the lowest other member of the daemons' group); it answers
//! [`CpgMsg::Carried`]. Failed, no other member, or no answer within [`CARRY_MS`] (the
//! carrier died): the policy applies. Two commits are carried:
//!
//! - The daemon's own (a leg detach, `policy.detach = global`): the driver answers such a
//!   commit with [`Input::DetachNoMetadata`] without telling the policy, and the machine
//!   multicasts [`CpgMsg::CarryDetach`]. The carrier commits the same detach under the VG
//!   lock like any detach; its release propagates the commit to every node. Done: this node
//!   reloads the LV as after its own commit; not carried: I/O to the LV stops here (`FailLv`).
//! - A command's (lvmeta's): it still holds the VG lock EX and hands its new metadata text to
//!   its daemon ([`Request::CarryCommit`]); the machine multicasts [`CpgMsg::CarryCommit`]
//!   and the carrier writes exactly that text as the next commit ([`Output::WriteCommit`])
//!   without the VG lock (the requester holds it EX for it, so no other writer can
//!   interleave; taking it would deadlock), and only if the VG on disk is the one named at
//!   the seqno named. Done: the command succeeds and its release with the new seqno
//!   propagates the commit as any other; not carried: the command fails as before.

use super::*;
use crate::cpg::DisabledRec;
use clvmd_proto::{DgFailure, DisabledVg};

/// How long a carried commit may take (the carrier of a detach may wait up to the detach's
/// 10 s lock wait) before this node gives up on it.
pub const CARRY_MS: u64 = 20_000;

/// A commit of ours a peer carries.
#[derive(Debug, Clone)]
pub(crate) struct Carry {
    origin: Origin,
    vg: String,
    error: String,
    policy: Option<DgFailure>,
    pub(crate) deadline: u64,
}

/// Whose commit is carried: our detach (its watch tag) or a command's (its connection).
#[derive(Debug, Clone, Copy)]
enum Origin {
    Detach(u64),
    Command(ConnId),
}

/// A commit this node carries for a peer, under its watch tag.
#[derive(Debug, Clone)]
pub(crate) struct Carrying {
    origin: u32,
    /// The LV's (detach) or the VG's (command commit) UUID, as [`CpgMsg::Carried`] names it.
    uuid: String,
    /// A detach: this node commits under the VG lock, so it refreshes the VG itself.
    refresh: Option<String>,
}

/// A command's commit a peer writes ([`Request::CarryCommit`], [`Output::WriteCommit`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CarriedCommit {
    pub vg: String,
    pub vg_uuid: String,
    /// The seqno the VG must have on disk; the text's is one more.
    pub disk_seqno: u32,
    /// The complete metadata text (at most [`clvmd_proto::MAX_CARRY_TEXT`] bytes).
    pub metadata: String,
}

/// The commit of a [`clvmd_proto::CarryCommit`] request (its error and policy stay with the
/// requesting node).
impl From<clvmd_proto::CarryCommit> for CarriedCommit {
    fn from(r: clvmd_proto::CarryCommit) -> CarriedCommit {
        CarriedCommit {
            vg: r.vg,
            vg_uuid: r.vg_uuid,
            disk_seqno: r.disk_seqno,
            metadata: r.metadata,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Disabled {
    policy: DgFailure,
    rec: DisabledRec,
    since: u64,
}

impl Node {
    pub(super) fn metadata_lost(
        &mut self,
        conn: ConnId,
        vg: String,
        error: String,
        policy: Option<DgFailure>,
    ) {
        if LockspaceName::for_vg(&vg).is_err() {
            return self.reply(
                conn,
                failed(ErrorKind::Invalid, format!("bad VG name {vg:?}")),
            );
        }
        self.apply_policy(vg, error, policy);
        self.reply(conn, Response::Done);
    }

    /// The driver read no metadata copy of `vg` from here: the policy applies if LVs of it
    /// are active here (they depend on metadata this node can no longer read or change)
    /// and it is not disabled already.
    pub(super) fn metadata_unreadable(
        &mut self,
        vg: String,
        error: String,
        policy: Option<DgFailure>,
    ) {
        if self.disabled.contains_key(&vg) {
            return;
        }
        if self.active_lvs(&vg).is_empty() {
            log::warn!("VG {vg}: no metadata copy readable here ({error}); nothing of it active");
            return;
        }
        self.apply_policy(vg, error, policy);
    }

    /// Our detach under `tag` wrote no metadata copy: a peer carries it, if there is one.
    pub(super) fn carry_out(&mut self, tag: u64, error: String, policy: Option<DgFailure>) {
        let Some((lv, images)) = self.watcher.detach_job(tag) else {
            log::warn!("detach {tag} without metadata was not asked for");
            return;
        };
        let me = self.cfg.node_id;
        let Some(carrier) = self.members.iter().copied().find(|m| *m != me) else {
            return self.carry_failed(Origin::Detach(tag), lv.vg, error, policy, "no other node");
        };
        log::warn!(
            "{lv}: this node wrote no metadata copy for the detach ({error}); node {carrier} \
             carries the commit"
        );
        self.carries.insert(
            lv.uuid.clone(),
            Carry {
                origin: Origin::Detach(tag),
                vg: lv.vg.clone(),
                error,
                policy,
                deadline: self.now + CARRY_MS,
            },
        );
        self.out.push(Output::Cpg(CpgMsg::CarryDetach {
            carrier,
            lv,
            images,
        }));
    }

    /// A command holding `vg`'s lock EX on `conn` wrote no metadata copy: a peer writes its
    /// text, if there is one that may; else the policy applies at once.
    pub(super) fn carry_commit(&mut self, conn: ConnId, req: clvmd_proto::CarryCommit) {
        let (error, policy) = (req.error.clone(), req.policy);
        let commit = CarriedCommit::from(req);
        let Ok(name) = LockspaceName::for_vg(&commit.vg) else {
            return self.reply(
                conn,
                failed(ErrorKind::Invalid, format!("bad VG name {:?}", commit.vg)),
            );
        };
        let holds_ex = self
            .ls
            .get(&name)
            .and_then(|l| l.res.get(&ResourceName::vglk()))
            .and_then(|r| r.holders.get(&Owner::Conn(conn)))
            == Some(&Mode::Ex);
        if !holds_ex {
            // Without the lock another writer could interleave with the carrier's write.
            return self.reply(
                conn,
                failed(
                    ErrorKind::NotHeld,
                    format!(
                        "the lock for VG {} is not held EX by this client",
                        commit.vg
                    ),
                ),
            );
        }
        let me = self.cfg.node_id;
        let why = if let Some(p) = clvmd_proto::carry_text_problem(&commit.metadata) {
            Some(p)
        } else if ResourceName::lv(&commit.vg_uuid).is_err() {
            // An lvm2 UUID, as an LV's: the same form.
            Some(format!("bad VG UUID {:?}", commit.vg_uuid))
        } else if self.carries.contains_key(&commit.vg_uuid) {
            Some("a commit of this VG is being carried already".into())
        } else {
            None
        };
        let carrier = self.members.iter().copied().find(|m| *m != me);
        let (carrier, why) = match (carrier, why) {
            (_, Some(why)) => (None, why),
            (None, None) => (None, "no other node".into()),
            (Some(c), None) => (Some(c), String::new()),
        };
        let origin = Origin::Command(conn);
        let Some(carrier) = carrier else {
            return self.carry_failed(origin, commit.vg, error, policy, &why);
        };
        log::warn!(
            "VG {}: this node wrote no metadata copy of seqno {} ({error}); node {carrier} \
             carries the commit",
            commit.vg,
            u64::from(commit.disk_seqno) + 1
        );
        self.carries.insert(
            commit.vg_uuid.clone(),
            Carry {
                origin,
                vg: commit.vg.clone(),
                error,
                policy,
                deadline: self.now + CARRY_MS,
            },
        );
        self.out
            .push(Output::Cpg(CpgMsg::CarryCommit { carrier, commit }));
    }

    fn carry_failed(
        &mut self,
        origin: Origin,
        vg: String,
        error: String,
        policy: Option<DgFailure>,
        why: &str,
    ) {
        let e = format!("{error}; not carried by another node: {why}");
        self.apply_policy(vg, e.clone(), policy);
        match origin {
            Origin::Detach(tag) => {
                let (_, next) = self.watcher.done(tag, Err(e), self.now);
                self.follow(next);
            }
            Origin::Command(conn) => self.reply(
                conn,
                failed(
                    ErrorKind::NotCarried,
                    format!("not carried by another node: {why}"),
                ),
            ),
        }
    }

    /// A commit this node carried for a peer finished (`error` None: committed).
    pub(super) fn carried(&mut self, tag: u64, error: Option<String>) {
        let Some(c) = self.carrying.remove(&tag) else {
            return;
        };
        match (&error, &c.refresh) {
            // This node committed under the VG lock: it refreshes what it has active of the
            // VG, as every other node does on the commit's announcement (which skips the
            // committer). A command's commit is announced by its own release instead.
            (None, Some(vg)) => self.propagate_commit(vg, 0),
            (Some(e), _) => log::warn!("carrying node {}'s commit failed: {e}", c.origin),
            _ => {}
        }
        self.out.push(Output::Cpg(CpgMsg::Carried {
            origin: c.origin,
            uuid: c.uuid,
            error,
        }));
    }

    /// [`CpgMsg::CarryDetach`], [`CpgMsg::CarryCommit`] and [`CpgMsg::Carried`], from any
    /// node.
    fn carry_cpg(&mut self, from: u32, msg: &CpgMsg) {
        match msg {
            CpgMsg::CarryDetach {
                carrier,
                lv,
                images,
            } if *carrier == self.cfg.node_id && from != *carrier => {
                log::warn!("{lv}: carrying node {from}'s detach of {images:?}");
                let tag = self.watch_tag();
                self.carrying.insert(
                    tag,
                    Carrying {
                        origin: from,
                        uuid: lv.uuid.clone(),
                        refresh: Some(lv.vg.clone()),
                    },
                );
                self.out.push(Output::Watch {
                    tag,
                    action: WatchAction::Detach {
                        lv: lv.clone(),
                        images: images.clone(),
                    },
                });
            }
            CpgMsg::CarryCommit { carrier, commit }
                if *carrier == self.cfg.node_id && from != *carrier =>
            {
                log::warn!(
                    "VG {}: writing node {from}'s commit of seqno {} (it holds the VG lock EX \
                     and could write no metadata copy)",
                    commit.vg,
                    u64::from(commit.disk_seqno) + 1
                );
                let tag = self.watch_tag();
                self.carrying.insert(
                    tag,
                    Carrying {
                        origin: from,
                        uuid: commit.vg_uuid.clone(),
                        refresh: None,
                    },
                );
                self.out.push(Output::WriteCommit {
                    tag,
                    commit: commit.clone(),
                });
            }
            CpgMsg::Carried {
                origin,
                uuid,
                error,
            } if *origin == self.cfg.node_id => {
                let Some(c) = self.carries.remove(uuid) else {
                    return;
                };
                match (error, c.origin) {
                    (None, Origin::Detach(tag)) => {
                        log::warn!("node {from} committed our detach of LV {uuid}");
                        let (_, next) = self.watcher.done(tag, Ok(Vec::new()), self.now);
                        self.follow(next);
                    }
                    (None, Origin::Command(conn)) => {
                        log::warn!("node {from} wrote the commit of VG {} for us", c.vg);
                        let node_name = self.names.get(&from).cloned().unwrap_or_default();
                        self.reply(
                            conn,
                            Response::Carried {
                                node_id: from,
                                node_name,
                            },
                        );
                    }
                    (Some(e), origin) => {
                        let why = format!("node {from}: {e}");
                        self.carry_failed(origin, c.vg, c.error, c.policy, &why)
                    }
                }
            }
            _ => {}
        }
    }

    /// Carried detaches with no answer in time.
    pub(super) fn carry_deadlines(&mut self) {
        let now = self.now;
        let late: Vec<String> = self
            .carries
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(u, _)| u.clone())
            .collect();
        for uuid in late {
            if let Some(c) = self.carries.remove(&uuid) {
                self.carry_failed(c.origin, c.vg, c.error, c.policy, "no answer in time");
            }
        }
    }

    /// Applies the metadata-loss policy to `vg` after a commit from this node wrote no copy.
    fn apply_policy(&mut self, vg: String, error: String, policy: Option<DgFailure>) {
        let policy = policy.unwrap_or(self.cfg.dg_failure);
        log::error!(
            "VG {vg}: a commit from this node wrote no metadata copy ({error}); policy.dg_failure = {}",
            policy.as_str()
        );
        let rec = DisabledRec {
            vg: vg.clone(),
            node_id: self.cfg.node_id,
            node_name: self.cfg.node_name.clone(),
            error,
        };
        match policy {
            // Recorded when delivered back, in agreed order with every other node.
            DgFailure::Dgdisable => self.out.push(Output::Cpg(CpgMsg::VgDisabled(rec))),
            DgFailure::Leave => {
                self.disabled.insert(
                    vg,
                    Disabled {
                        policy,
                        rec,
                        since: self.now,
                    },
                );
            }
        }
    }

    pub(super) fn vg_enable(&mut self, conn: ConnId, vg: String) {
        match self.disabled.get(&vg).map(|d| d.policy) {
            None => self.reply(
                conn,
                failed(ErrorKind::Invalid, format!("VG {vg} is not disabled")),
            ),
            Some(DgFailure::Dgdisable) => {
                log::warn!("VG {vg}: enabled again from this node");
                self.out.push(Output::Cpg(CpgMsg::VgEnabled { vg }));
                self.reply(conn, Response::Done);
            }
            Some(DgFailure::Leave) => {
                log::warn!("VG {vg}: this node may use it again (lockstart next)");
                self.disabled.remove(&vg);
                self.reply(conn, Response::Done);
            }
        }
    }

    /// Why a change to `vg` (its lock EX, a lockstart) is refused here, if it is.
    pub(super) fn dg_refusal(&self, vg: &str) -> Option<Response> {
        self.disabled
            .get(vg)
            .map(|d| failed(ErrorKind::VgDisabled, self.disabled_status(d).refusal()))
    }

    /// Whether this node left `vg` under `policy.dg_failure = leave`.
    pub(super) fn dg_left(&self, vg: &str) -> bool {
        self.disabled
            .get(vg)
            .is_some_and(|d| d.policy == DgFailure::Leave)
    }

    /// Why an activation in `vg` is refused here: this node left it.
    pub(super) fn dg_activation_refusal(&self, vg: &str) -> Option<Response> {
        self.disabled
            .get(vg)
            .filter(|d| d.policy == DgFailure::Leave)
            .map(|d| failed(ErrorKind::VgDisabled, self.disabled_status(d).refusal()))
    }

    /// [`CpgMsg::VgDisabled`], [`CpgMsg::VgEnabled`], a snapshot's records and the carrying
    /// of detaches.
    pub(super) fn dg_cpg(&mut self, from: u32, msg: &CpgMsg) {
        match msg {
            CpgMsg::CarryDetach { .. } | CpgMsg::CarryCommit { .. } | CpgMsg::Carried { .. } => {
                self.carry_cpg(from, msg)
            }
            CpgMsg::VgDisabled(rec) => self.dg_record(rec.clone(), true),
            CpgMsg::VgEnabled { vg }
                if self
                    .disabled
                    .get(vg)
                    .is_some_and(|d| d.policy == DgFailure::Dgdisable) =>
            {
                log::warn!("VG {vg} enabled again");
                self.disabled.remove(vg);
            }
            CpgMsg::Snapshot { disabled, .. } => {
                for rec in disabled {
                    self.dg_record(rec.clone(), false);
                }
            }
            _ => {}
        }
    }

    fn dg_record(&mut self, rec: DisabledRec, fresh: bool) {
        // A node's own `leave` stays a leave: it says more (this node must go).
        if self.disabled.contains_key(&rec.vg) && !fresh {
            return;
        }
        if self
            .disabled
            .get(&rec.vg)
            .is_some_and(|d| d.policy == DgFailure::Leave)
        {
            return;
        }
        log::error!(
            "VG {} disabled cluster-wide after a commit from node {} failed: {}",
            rec.vg,
            rec.node_name,
            rec.error
        );
        self.disabled.insert(
            rec.vg.clone(),
            Disabled {
                policy: DgFailure::Dgdisable,
                rec,
                since: self.now,
            },
        );
    }

    /// The cluster-wide records, for this node's snapshot.
    pub(super) fn dg_snapshot(&self) -> Vec<DisabledRec> {
        self.disabled
            .values()
            .filter(|d| d.policy == DgFailure::Dgdisable)
            .map(|d| d.rec.clone())
            .collect()
    }

    /// `leave`: stops the lockspace of each VG this node left once nothing of it is held or
    /// in flight here.
    pub(super) fn dg_leave(&mut self) {
        let left: Vec<String> = self
            .disabled
            .iter()
            .filter(|(_, d)| d.policy == DgFailure::Leave)
            .map(|(vg, _)| vg.clone())
            .collect();
        for vg in left {
            let Ok(name) = LockspaceName::for_vg(&vg) else {
                continue;
            };
            let Some(ls) = self.ls.get_mut(&name) else {
                continue;
            };
            let idle = ls.state == LsState::Running
                && ls.deferred.is_empty()
                && ls
                    .res
                    .values()
                    .all(|r| r.holders.is_empty() && r.waiters.is_empty() && r.op.is_none());
            if idle {
                log::warn!("VG {vg}: nothing held here any more; leaving {name} (policy.dg_failure = leave)");
                ls.state = LsState::Leaving;
                self.out.push(Output::Leave { ls: name });
            }
        }
    }

    fn disabled_status(&self, d: &Disabled) -> DisabledVg {
        DisabledVg {
            vg: d.rec.vg.clone(),
            policy: d.policy,
            node_id: d.rec.node_id,
            node_name: d.rec.node_name.clone(),
            error: d.rec.error.clone(),
            for_ms: self.now.saturating_sub(d.since),
            lockspace_joined: LockspaceName::for_vg(&d.rec.vg)
                .is_ok_and(|n| self.ls.contains_key(&n)),
        }
    }

    pub(super) fn dg_status(&self) -> Vec<DisabledVg> {
        self.disabled
            .values()
            .map(|d| self.disabled_status(d))
            .collect()
    }
}
