//! What the daemons tell each other they hold ([`CpgMsg::Held`]), and when.
//!
//! Each announcement is a CPG multicast: a round trip to corosync and work for every node's
//! corosync, realtime-scheduled, which on a small node costs the command more than the DLM
//! call it announces. A command's GLLK or VGLK lives well under a second; an LV's activation
//! lock (or a VG's activation mode) lives for hours, but telling it at once put one multicast
//! on every `lvchange -aey`, `-asy` and `-an` (lvmlockd multicasts nothing for them). So a
//! hold is told only when someone needs to know:
//! - another node waits for it after a refusal ([`CpgMsg::Waiting`]): its early retry on
//!   our release and its refusal's holder need our announcements;
//! - another node's barrier asks: a refusal whose holder it does not know yet (an `-aey`
//!   refused names the node holding the LV this way), or a view of the cluster's LV locks
//!   (`Request::Sync`: `clvmd-rs status`, `lvs -o lv_active_nodes`);
//! - a GLLK/VGLK hold lasts [`ANNOUNCE_AFTER_MS`] (status on other nodes shows a long
//!   hold). An LV's lock is not told by age: it would put the multicast back a second after
//!   nearly every activation, and whoever needs to know asks;
//! - a member may be a daemon older than [`ASKS_FOR_LV_HOLDS`] (its snapshot says so, or has
//!   not come yet): such a daemon never asks for LV locks and shows them from what it was
//!   told, so every LV lock is told at once while it is in the group;
//! - a membership change (the snapshot tells every hold).
//!
//! A hold that was told is told again when it changes, its release included; one that was
//! not is released silently, as if it had never been. Nothing else depends on these
//! announcements: the DLM excludes, and the VG's seqno travels in the lock value block (and
//! in [`CpgMsg::Committed`], sent for every commit but one that only added LVs of their own:
//! it drives the refresh of LVs active on other nodes). The atomic resize, the metadata
//! check after a node left and the leg-failure policies ask every member over CPG or act
//! on this node's own locks, never on what others told.
//!
//! A barrier is answered by every other member ([`CpgMsg::BarrierAck`]) after it told its
//! untold holds; agreed order keeps each sender's messages in order, so once the sender has
//! every answer it knows every hold of a clvmd-rs node.
//!
//! Only members known to answer are waited for: a daemon from before barriers (CPG version 0,
//! [`crate::cpg::CPG_VERSION`]) never answers, and needs not, since it tells every hold at
//! once. A member's version comes in the snapshot it sends after each membership change; one
//! whose snapshot has not come yet is waited for until it does (agreed order: it comes, and
//! a new member's answer may come before it). A member seen sending a barrier or an answer
//! answers barriers whatever its snapshot says (daemons built after barriers came and before
//! snapshots carried a version).

use std::collections::BTreeSet;

use clvmd_proto::{Mode, Response};
use halvm_dlm::{LockspaceName, ResourceName};

use super::{self_holder, ConnId, Kind, Node, Output};
use crate::cpg::{CpgMsg, ANSWERS_BARRIERS, ASKS_FOR_LV_HOLDS};

/// How long a command's GLLK/VGLK hold goes untold when nobody asks.
pub const ANNOUNCE_AFTER_MS: u64 = 1_000;
/// How long a barrier waits for the other members' answers (a member that leaves, or whose
/// snapshot says it is too old to answer, is no longer waited for).
pub const BARRIER_ACK_MS: u64 = 2_000;

/// A refusal whose holder is not known yet.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub conn: ConnId,
    pub what: String,
    pub ls: LockspaceName,
    pub res: ResourceName,
    pub mode: Mode,
}

/// Who waits for a barrier's answers.
#[derive(Debug)]
pub(crate) enum Asker {
    /// A refusal, answered with its holder.
    Refusal(Refusal),
    /// A client's `Request::Sync`, answered `Done`.
    Sync(ConnId),
}

/// A barrier waiting for its answers.
#[derive(Debug)]
pub(crate) struct Unresolved {
    asker: Asker,
    /// Members whose answer is still awaited.
    acks: BTreeSet<u32>,
    /// Our barrier came back: what members too old to answer sent before it is known.
    returned: bool,
    deadline: u64,
}

impl Unresolved {
    fn settled(&self) -> bool {
        self.returned && self.acks.is_empty()
    }
}

impl Node {
    /// Whether another member may be a daemon that needs LV locks told at once: its
    /// snapshot says it is older than [`ASKS_FOR_LV_HOLDS`], or has not come yet.
    pub(super) fn lv_holds_at_once(&self) -> bool {
        let me = self.cfg.node_id;
        self.members
            .iter()
            .any(|m| *m != me && self.versions.get(m).is_none_or(|v| *v < ASKS_FOR_LV_HOLDS))
    }

    /// Tells the other daemons this node's mode of `rname` if it changed and they must know
    /// (module doc); `force`: a barrier asks.
    pub(super) fn tell(&mut self, lname: &LockspaceName, rname: &ResourceName, force: bool) {
        let now = self.now;
        let waited = self.remote_wait.contains(lname.as_str(), rname.as_str());
        let lv_at_once = self.lv_holds_at_once();
        let Some(r) = self.ls.get_mut(lname).and_then(|l| l.res.get_mut(rname)) else {
            return;
        };
        if r.mode == r.told {
            return;
        }
        let due = r.told != Mode::Nl
            || force
            || waited
            || match r.kind {
                Kind::Lv => lv_at_once,
                _ => now >= r.raised_at + ANNOUNCE_AFTER_MS,
            };
        if !due {
            return;
        }
        r.told = r.mode;
        self.out.push(Output::Cpg(CpgMsg::Held {
            ls: lname.to_string(),
            res: rname.to_string(),
            mode: r.mode,
        }));
    }

    /// The holds not told yet (LV locks only if `lv`): a pass over every resource.
    pub(super) fn untold(&mut self, lv: bool) -> Vec<(LockspaceName, ResourceName)> {
        #[cfg(test)]
        {
            self.scans += 1;
        }
        self.ls
            .iter()
            .flat_map(|(ln, l)| {
                l.res
                    .iter()
                    .filter(move |(_, r)| r.mode != r.told && (lv || r.kind != Kind::Lv))
                    .map(move |(rn, _)| (ln.clone(), rn.clone()))
            })
            .collect()
    }

    /// Tells the untold holds that became due (waited for, held long, or an older member
    /// came).
    pub(super) fn tell_due(&mut self) {
        if self.lv_holds_at_once() {
            // An older member may need any LV lock told: a pass over every resource, while
            // such a member is in the group (or its snapshot has not come yet).
            for (l, r) in self.untold(true) {
                self.tell(&l, &r, false);
            }
            return;
        }
        // Untold LV locks (there may be thousands, and this runs at every step) become due
        // only when an older member comes: nothing waits for an LV lock. So only each
        // lockspace's GLLK/VGLK is looked at.
        let untold: Vec<(LockspaceName, &'static ResourceName)> = self
            .ls
            .iter()
            .flat_map(|(n, l)| {
                super::lock_resources(l)
                    .filter(|(_, r)| r.mode != r.told)
                    .map(move |(rn, _)| (n.clone(), rn))
            })
            .collect();
        for (l, r) in untold {
            self.tell(&l, r, false);
        }
    }

    /// When an untold GLLK/VGLK hold becomes due by its age, and barriers' deadlines.
    pub(super) fn announce_wakes(&self) -> impl Iterator<Item = u64> + '_ {
        self.ls
            .values()
            .flat_map(super::lock_resources)
            .map(|(_, r)| r)
            .filter(|r| r.told == Mode::Nl && r.mode != Mode::Nl)
            .map(|r| r.raised_at + ANNOUNCE_AFTER_MS)
            .chain(self.unresolved_deadlines())
    }

    /// When the barriers waiting for answers give up.
    pub(super) fn unresolved_deadlines(&self) -> impl Iterator<Item = u64> + '_ {
        self.unresolved.values().map(|u| u.deadline)
    }

    /// `Request::Sync`: answered once every other member told its untold holds (at once
    /// when this node is alone or out of the group: nobody else holds anything it could
    /// learn).
    pub(super) fn sync(&mut self, conn: ConnId) {
        let me = self.cfg.node_id;
        if !self.members.contains(&me) || self.members.iter().all(|m| *m == me) {
            return self.reply(conn, Response::Done);
        }
        self.barrier(Asker::Sync(conn));
    }

    /// Asks every other member for its untold holds before answering `asker` (naming a
    /// refusal's holder).
    pub(super) fn barrier(&mut self, asker: Asker) {
        self.next_barrier += 1;
        let token = self.next_barrier;
        let me = self.cfg.node_id;
        let acks = self
            .members
            .iter()
            .copied()
            .filter(|m| *m != me && self.versions.get(m).is_none_or(|v| *v >= ANSWERS_BARRIERS))
            .collect();
        self.unresolved.insert(
            token,
            Unresolved {
                asker,
                acks,
                returned: false,
                deadline: self.now + BARRIER_ACK_MS,
            },
        );
        self.out.push(Output::Cpg(CpgMsg::Barrier { token }));
    }

    /// Another member's barrier: tell every untold hold, then answer.
    pub(super) fn answer_barrier(&mut self, origin: u32, token: u64) {
        for (l, r) in self.untold(true) {
            self.tell(&l, &r, true);
        }
        self.out
            .push(Output::Cpg(CpgMsg::BarrierAck { origin, token }));
    }

    /// Our own barrier came back: resolved if no answer is awaited.
    pub(super) fn barrier_returned(&mut self, token: u64) {
        let Some(u) = self.unresolved.get_mut(&token) else {
            return;
        };
        u.returned = true;
        if u.settled() {
            self.resolve(token);
        }
    }

    /// `from` answered `origin`'s barrier `token`.
    pub(super) fn barrier_ack(&mut self, from: u32, origin: u32, token: u64) {
        if origin != self.cfg.node_id {
            return;
        }
        let Some(u) = self.unresolved.get_mut(&token) else {
            return;
        };
        u.acks.remove(&from);
        // (Answers come after the barrier in agreed order: it has come back.)
        if u.settled() {
            self.resolve(token);
        }
    }

    /// Member `from`'s CPG version is at least `version`; a member too old to answer barriers
    /// is no longer waited for.
    pub(super) fn peer_version(&mut self, from: u32, version: u32) {
        let v = self.versions.entry(from).or_insert(version);
        *v = (*v).max(version);
        if *v >= ANSWERS_BARRIERS {
            return;
        }
        let mut done = Vec::new();
        for (t, u) in &mut self.unresolved {
            // Its holds are known as far as they can be: it tells each at once (and its
            // snapshot all of them).
            if u.acks.remove(&from) && u.settled() {
                done.push(*t);
            }
        }
        for t in done {
            self.resolve(t);
        }
    }

    /// Members gone are not waited for; out of the group, no answer comes at all.
    pub(super) fn barrier_membership(&mut self, gone: &[u32]) {
        let out = !self.members.contains(&self.cfg.node_id);
        let mut done = Vec::new();
        for (t, u) in &mut self.unresolved {
            for g in gone {
                u.acks.remove(g);
            }
            // The members left have answered (answers follow the barrier in agreed order):
            // what a gone member held, the DLM has released or is recovering.
            if out || u.settled() {
                done.push(*t);
            }
        }
        for t in done {
            self.resolve(t);
        }
    }

    /// Barriers whose answers did not all come in time are resolved with what is known.
    pub(super) fn barrier_deadlines(&mut self) {
        let now = self.now;
        let late: Vec<u64> = self
            .unresolved
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for t in late {
            log::warn!("barrier {t}: not every member answered in {BARRIER_ACK_MS} ms");
            self.resolve(t);
        }
    }

    /// Answers a refusal with the holder known now, or a sync.
    pub(super) fn resolve(&mut self, token: u64) {
        let u = match self.unresolved.remove(&token).map(|p| p.asker) {
            None => return,
            Some(Asker::Sync(conn)) => return self.reply(conn, Response::Done),
            Some(Asker::Refusal(u)) => u,
        };
        let holder = self_holder(
            &self.remote,
            &self.names,
            self.cfg.node_id,
            &u.ls,
            &u.res,
            u.mode,
        );
        if let Some(r) = self.ls.get_mut(&u.ls).and_then(|l| l.res.get_mut(&u.res)) {
            r.last_busy = Some(holder.clone());
        }
        self.reply(
            u.conn,
            Response::Busy {
                resource: u.what,
                holder,
            },
        );
    }
}
