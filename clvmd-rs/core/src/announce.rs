//! What the daemons tell each other they hold ([`CpgMsg::Held`]), and when.
//!
//! An LV's activation lock is told at once: it outlives the command, and a refused node
//! names its holder from it. A command's GLLK or VGLK is raised and released within one
//! command, usually well under a second: telling both would cost two multicasts per command
//! (each a round trip to corosync and work for every node's corosync, which under load is
//! what spread the commands' times). So such a hold is told only when someone needs to know:
//! - another node waits for it after a refusal ([`CpgMsg::Waiting`]): its early retry on
//!   our release and its refusal's holder need our announcements;
//! - another node's barrier asks (a refusal whose holder it does not know yet);
//! - the hold lasts [`ANNOUNCE_AFTER_MS`] (status on other nodes shows a long hold);
//! - a membership change (the snapshot tells every hold).
//!
//! A hold that was told is told again when it changes, its release included; one that was
//! not is released silently, as if it had never been. Nothing else depends on these
//! announcements: the DLM excludes, and the VG's seqno travels in the lock value block (and
//! in [`CpgMsg::Committed`], sent for every commit but one that only added LVs of their own:
//! it drives the refresh of LVs active on other nodes).
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
use crate::cpg::{CpgMsg, ANSWERS_BARRIERS};

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

/// A refusal waiting for its barrier's answers.
#[derive(Debug)]
pub(crate) struct Unresolved {
    pub refusal: Refusal,
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
    /// Tells the other daemons this node's mode of `rname` if it changed and they must know
    /// (module doc); `force`: a barrier asks.
    pub(super) fn tell(&mut self, lname: &LockspaceName, rname: &ResourceName, force: bool) {
        let now = self.now;
        let waited = self
            .remote_wait
            .contains_key(&(lname.to_string(), rname.to_string()));
        let Some(r) = self.ls.get_mut(lname).and_then(|l| l.res.get_mut(rname)) else {
            return;
        };
        if r.mode == r.told {
            return;
        }
        let due = r.kind == Kind::Lv
            || r.told != Mode::Nl
            || force
            || waited
            || now >= r.raised_at + ANNOUNCE_AFTER_MS;
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

    /// The GLLK/VGLK holds not told yet.
    fn untold(&self) -> Vec<(LockspaceName, ResourceName)> {
        self.ls
            .iter()
            .flat_map(|(ln, l)| {
                l.res
                    .iter()
                    .filter(|(_, r)| r.kind != Kind::Lv && r.mode != r.told)
                    .map(move |(rn, _)| (ln.clone(), rn.clone()))
            })
            .collect()
    }

    /// Tells the untold holds that became due (waited for, or held long).
    pub(super) fn tell_due(&mut self) {
        for (l, r) in self.untold() {
            self.tell(&l, &r, false);
        }
    }

    /// When an untold hold becomes due by its age, and barriers' deadlines.
    pub(super) fn announce_wakes(&self) -> impl Iterator<Item = u64> + '_ {
        self.ls
            .values()
            .flat_map(|l| l.res.values())
            .filter(|r| r.kind != Kind::Lv && r.told == Mode::Nl && r.mode != Mode::Nl)
            .map(|r| r.raised_at + ANNOUNCE_AFTER_MS)
            .chain(self.unresolved.values().map(|u| u.deadline))
    }

    /// Asks every other member for its untold holds before naming `refusal`'s holder.
    pub(super) fn barrier(&mut self, refusal: Refusal) {
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
                refusal,
                acks,
                returned: false,
                deadline: self.now + BARRIER_ACK_MS,
            },
        );
        self.out.push(Output::Cpg(CpgMsg::Barrier { token }));
    }

    /// Another member's barrier: tell every untold hold, then answer.
    pub(super) fn answer_barrier(&mut self, origin: u32, token: u64) {
        for (l, r) in self.untold() {
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

    /// Answers a refusal with the holder known now.
    pub(super) fn resolve(&mut self, token: u64) {
        let Some(u) = self.unresolved.remove(&token).map(|p| p.refusal) else {
            return;
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
