//! A node that left the daemons' group may have committed a change and died before its VG
//! lock release announced it (`Committed` goes out with the release): the survivors would
//! serve the old tables until the next change (after a mirror split, a leg that is an LV of
//! its own now). So after a leave, for each VG with LVs active here, the survivor checks
//! whether the metadata on disk is newer than what its tables were loaded from, and reloads
//! only then:
//!
//! 1. It takes the VG lock shared for itself (an internal connection). The DLM grants it
//!    only after lock recovery: the dead node's EX is gone and that node fenced, so nothing
//!    writes the metadata any more and nobody else is committing.
//! 2. The lock value block carries the committed seqno (lvmlockd's `r_version`, written on
//!    every EX release with a commit). Valid and not newer than the seqno this node knows
//!    (its tables were loaded from it: its own commits, announced commits, earlier grants):
//!    nothing was lost, release. The DLM marks it invalid when an EX holder died (the dead
//!    node may have committed without writing it): then the driver reads the seqno from
//!    disk ([`DmAction::ReadSeqno`]) under the lock.
//! 3. The lock is released; if the disk is newer, each LV active here is refreshed (the
//!    driver loads only tables that change), except those a resize in flight reloads, those
//!    the leg watcher stopped on purpose (`policy.detach = local`: the metadata would give
//!    them their dead leg back), and none of a VG frozen on quorum loss (it waits for the
//!    thaw) or left under `policy.dg_failure = leave` (its LVs are being stopped here).
//!
//! `clvmd-rs status` lists what was reloaded so ([`PeerRefresh`]).
//!
//! The same gap without a node's death: a command killed (or crashed) after its commit and
//! before its VG lock release. Its connection goes, and the daemon, instead of dropping the
//! lock EX, keeps it for itself, reads the seqno on disk, and releases it with that seqno if
//! it is newer than the one known: the lock value block gets it and `Committed` goes out as
//! if the command had released it (every other node refreshes; this node refreshes too, as
//! the dead command's own reload never came).

use std::collections::{BTreeMap, BTreeSet};

use clvmd_proto::{ErrorKind, Mode, PeerRefresh, Response, Scope};
use halvm_dlm::LockspaceName;

use super::{node_name, ConnId, LsState, Node, Owner};
use crate::dm::{DmAction, DmReport, LvRef};

/// Internal connections of the rechecks (the driver numbers client connections from 1).
pub(crate) const RECHECK_CONN_BASE: ConnId = 1 << 62;
/// How long one attempt waits for the VG lock shared (lock recovery waits for the fence).
pub const RECHECK_WAIT_MS: u32 = 60_000;
/// Attempts before a recheck gives up (a lock held EX elsewhere all that time).
pub const RECHECK_TRIES: u32 = 5;
/// Records kept for `status`.
const KEEP: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// For quorum and a thaw, then the lock.
    Waiting,
    /// For the VG lock shared.
    Locking(ConnId),
    /// For the seqno on disk, under the lock.
    Reading(ConnId),
    /// For this many refreshes.
    Refreshing(usize),
}

#[derive(Debug)]
struct Recheck {
    /// The nodes whose leave asked for it.
    gone: BTreeSet<u32>,
    /// The seqno this node's tables were loaded from, when it started.
    since: Option<u32>,
    phase: Phase,
    tries: u32,
    /// Another node left after the read: check again when done.
    again: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Rechecks {
    next_conn: ConnId,
    vgs: BTreeMap<String, Recheck>,
    /// Internal connection -> VG (kept until the lock's release is answered).
    conns: BTreeMap<ConnId, String>,
    /// What was reloaded, newest last: (when, record without its age).
    done: Vec<(u64, PeerRefresh)>,
}

pub(crate) fn is_recheck_conn(conn: ConnId) -> bool {
    conn >= RECHECK_CONN_BASE
}

impl Node {
    fn vg_fenced(&self, vg: &str) -> bool {
        self.freezer.status(self.now).iter().any(|f| f.vg == vg)
    }

    /// The LVs of `vg` a recheck may reload.
    fn recheck_candidates(&self, vg: &str) -> Vec<LvRef> {
        self.active_lvs(vg)
            .into_iter()
            .filter(|lv| !self.coord_busy(&lv.uuid) && !self.watcher.is_stopped(&lv.uuid))
            .collect()
    }

    /// Nodes `gone` left the group: a recheck of every VG with LVs active here.
    pub(super) fn recheck_after_leave(&mut self, gone: &[u32]) {
        if gone.is_empty() || !self.members.contains(&self.cfg.node_id) {
            return;
        }
        let vgs: Vec<(String, Option<u32>)> = self
            .ls
            .iter()
            .filter(|(_, l)| l.state == LsState::Running)
            .filter_map(|(n, l)| n.vg().map(|vg| (vg.to_string(), l.seqno)))
            .collect();
        for (vg, since) in vgs {
            if self.dg_left(&vg) || self.recheck_candidates(&vg).is_empty() {
                continue;
            }
            match self.rechecks.vgs.get_mut(&vg) {
                Some(r) => {
                    r.gone.extend(gone);
                    if matches!(r.phase, Phase::Reading(_) | Phase::Refreshing(_)) {
                        r.again = true;
                    }
                }
                None => {
                    log::info!(
                        "node(s) {gone:?} left: checking VG {vg}'s metadata (tables here from \
                         seqno {since:?})"
                    );
                    self.rechecks.vgs.insert(
                        vg,
                        Recheck {
                            gone: gone.iter().copied().collect(),
                            since,
                            phase: Phase::Waiting,
                            tries: 0,
                            again: false,
                        },
                    );
                }
            }
        }
    }

    /// Starts the waiting rechecks whose VG may be read now (quorate, not frozen).
    pub(super) fn drive_rechecks(&mut self) {
        let waiting: Vec<String> = self
            .rechecks
            .vgs
            .iter()
            .filter(|(_, r)| r.phase == Phase::Waiting)
            .map(|(vg, _)| vg.clone())
            .collect();
        for vg in waiting {
            let running = LockspaceName::for_vg(&vg)
                .ok()
                .and_then(|n| self.ls.get(&n))
                .is_some_and(|l| l.state == LsState::Running);
            if !running || self.dg_left(&vg) || self.recheck_candidates(&vg).is_empty() {
                self.rechecks.vgs.remove(&vg);
                continue;
            }
            if !self.quorate || self.vg_fenced(&vg) {
                continue;
            }
            let r = self.rechecks.vgs.get_mut(&vg).expect("listed");
            if r.tries >= RECHECK_TRIES {
                log::error!(
                    "VG {vg}: gave up checking the metadata after node(s) {:?} left: the VG \
                     lock was not granted shared in {RECHECK_TRIES} attempts",
                    r.gone
                );
                self.rechecks.vgs.remove(&vg);
                continue;
            }
            r.tries += 1;
            self.rechecks.next_conn += 1;
            let conn = RECHECK_CONN_BASE + self.rechecks.next_conn;
            r.phase = Phase::Locking(conn);
            self.rechecks.conns.insert(conn, vg.clone());
            self.lock(conn, Scope::Vg(vg), Mode::Pr, RECHECK_WAIT_MS);
        }
    }

    fn recheck_release(&mut self, conn: ConnId, vg: &str) {
        self.unlock(conn, Scope::Vg(vg.to_string()), None, false, false);
    }

    /// A reply to a recheck's internal connection.
    pub(super) fn recheck_reply(&mut self, conn: ConnId, response: Response) {
        let Some(vg) = self.rechecks.conns.get(&conn).cloned() else {
            return;
        };
        let phase = self.rechecks.vgs.get(&vg).map(|r| r.phase);
        if phase != Some(Phase::Locking(conn)) {
            // The release's answer (or a stale one).
            self.rechecks.conns.remove(&conn);
            return;
        }
        let since = self.rechecks.vgs[&vg].since;
        match response {
            Response::Granted {
                r_version,
                lvb_invalid,
            } => {
                if let (false, Some(v), Some(s)) = (lvb_invalid, r_version, since) {
                    if v <= s {
                        log::info!(
                            "VG {vg}: seqno {v} in the lock value block, tables here from {s}: \
                             nothing to reload"
                        );
                        self.recheck_release(conn, &vg);
                        return self.recheck_finished(&vg);
                    }
                }
                let Some(lv) = self.recheck_candidates(&vg).into_iter().next() else {
                    self.recheck_release(conn, &vg);
                    return self.recheck_finished(&vg);
                };
                if let Some(r) = self.rechecks.vgs.get_mut(&vg) {
                    r.phase = Phase::Reading(conn);
                }
                log::info!(
                    "VG {vg}: lock value block {} (seqno {r_version:?}): reading the seqno on disk",
                    if lvb_invalid {
                        "invalid"
                    } else {
                        "newer or unknown"
                    }
                );
                let why = super::coord::Why::RecheckRead(vg.clone());
                self.dm(DmAction::ReadSeqno { lv }, why);
            }
            Response::Failed {
                kind: ErrorKind::NotStarted | ErrorKind::Invalid,
                message,
            } => {
                log::warn!("VG {vg}: no metadata check after a node left: {message}");
                self.rechecks.conns.remove(&conn);
                self.rechecks.vgs.remove(&vg);
            }
            other => {
                // Busy (held EX elsewhere all along) or a DLM error: try again.
                log::warn!("VG {vg}: lock for the metadata check not granted ({other:?}); again");
                self.rechecks.conns.remove(&conn);
                if let Some(r) = self.rechecks.vgs.get_mut(&vg) {
                    r.phase = Phase::Waiting;
                }
            }
        }
    }

    /// The seqno of `vg` read under the lock.
    pub(super) fn recheck_read(&mut self, vg: String, result: Result<DmReport, String>) {
        let Some(conn) = self.rechecks.vgs.get(&vg).and_then(|r| match r.phase {
            Phase::Reading(c) => Some(c),
            _ => None,
        }) else {
            return;
        };
        self.recheck_release(conn, &vg);
        let since = self.rechecks.vgs[&vg].since;
        let seqno = match result {
            Ok(DmReport { seqno: Some(s), .. }) => s,
            other => {
                let e = other.err().unwrap_or_else(|| "no seqno read".into());
                log::error!(
                    "VG {vg}: cannot read the committed seqno after a node left ({e}); tables \
                     not checked"
                );
                return self.recheck_finished(&vg);
            }
        };
        if since.is_some_and(|s| seqno <= s) {
            log::info!(
                "VG {vg}: seqno {seqno} on disk, tables here from {since:?}: nothing to reload"
            );
            return self.recheck_finished(&vg);
        }
        if self.vg_fenced(&vg) {
            // Frozen meanwhile: check again after the thaw.
            if let Some(r) = self.rechecks.vgs.get_mut(&vg) {
                r.phase = Phase::Waiting;
            }
            return;
        }
        self.note_seqno(&vg, seqno);
        let lvs = self.recheck_candidates(&vg);
        log::warn!(
            "VG {vg}: seqno {seqno} on disk, newer than the tables here (seqno {since:?}): a \
             node that left committed without announcing it; refreshing {} LV(s)",
            lvs.len()
        );
        let n = lvs.len();
        for lv in lvs {
            self.coord.refreshes += 1;
            let read_only = self.read_only_mode(&vg);
            let why = super::coord::Why::RecheckRefresh {
                lv: lv.clone(),
                seqno,
                since,
            };
            self.dm(DmAction::Refresh { lv, read_only }, why);
        }
        match self.rechecks.vgs.get_mut(&vg) {
            Some(r) if n > 0 => r.phase = Phase::Refreshing(n),
            _ => self.recheck_finished(&vg),
        }
    }

    /// One refresh of a recheck finished.
    pub(super) fn recheck_refreshed(
        &mut self,
        lv: LvRef,
        seqno: u32,
        since: Option<u32>,
        result: Result<DmReport, String>,
    ) {
        let gone = self
            .rechecks
            .vgs
            .get(&lv.vg)
            .map(|r| r.gone.clone())
            .unwrap_or_default();
        let nodes: Vec<String> = gone.iter().map(|&n| node_name(&self.names, n)).collect();
        match result {
            Ok(r) if !r.reloaded.is_empty() => {
                log::warn!(
                    "refreshed {lv} from seqno {seqno} after {} left (reloaded {})",
                    nodes.join(", "),
                    r.reloaded.join(", ")
                );
                self.rechecks.done.push((
                    self.now,
                    PeerRefresh {
                        vg: lv.vg.clone(),
                        lv: lv.name.clone(),
                        seqno,
                        from_seqno: since,
                        nodes,
                        reloaded: r.reloaded,
                        ago_ms: 0,
                    },
                ));
                let over = self.rechecks.done.len().saturating_sub(KEEP);
                self.rechecks.done.drain(..over);
            }
            Ok(_) => log::info!("{lv}: its tables match seqno {seqno}: nothing reloaded"),
            Err(e) => log::error!("refresh of {lv} to seqno {seqno} after a node left: {e}"),
        }
        let Some(r) = self.rechecks.vgs.get_mut(&lv.vg) else {
            return;
        };
        if let Phase::Refreshing(n) = r.phase {
            if n > 1 {
                r.phase = Phase::Refreshing(n - 1);
            } else {
                self.recheck_finished(&lv.vg);
            }
        }
    }

    fn recheck_finished(&mut self, vg: &str) {
        let seqno = LockspaceName::for_vg(vg)
            .ok()
            .and_then(|n| self.ls.get(&n))
            .and_then(|l| l.seqno);
        match self.rechecks.vgs.get_mut(vg) {
            Some(r) if r.again => {
                r.again = false;
                r.tries = 0;
                r.since = seqno;
                r.phase = Phase::Waiting;
            }
            _ => {
                self.rechecks.vgs.remove(vg);
            }
        }
    }

    /// Connection `conn` goes: a VG lock it held EX passes to an internal connection that
    /// reads the seqno on disk ([`Node::orphan_read`] releases it).
    pub(super) fn orphaned_vg_ex(&mut self, conn: ConnId) {
        let vgs: Vec<String> = self
            .ls
            .iter()
            .filter(|(_, l)| l.state == LsState::Running)
            .filter(|(_, l)| {
                l.res
                    .get(&halvm_dlm::ResourceName::vglk())
                    .is_some_and(|r| r.holders.get(&Owner::Conn(conn)) == Some(&Mode::Ex))
            })
            .filter_map(|(n, _)| n.vg().map(str::to_string))
            .collect();
        for vg in vgs {
            self.rechecks.next_conn += 1;
            let ic = RECHECK_CONN_BASE + self.rechecks.next_conn;
            let Some(r) = LockspaceName::for_vg(&vg)
                .ok()
                .and_then(|n| self.ls.get_mut(&n))
                .and_then(|l| l.res.get_mut(&halvm_dlm::ResourceName::vglk()))
            else {
                continue;
            };
            r.holders.remove(&Owner::Conn(conn));
            r.holders.insert(Owner::Conn(ic), Mode::Ex);
            if let Ok(n) = LockspaceName::for_vg(&vg) {
                self.touch(&n, &halvm_dlm::ResourceName::vglk());
            }
            log::warn!(
                "VG {vg}: a command went away holding its lock EX (it may have committed):                  reading the seqno on disk"
            );
            // The driver only needs the VG's name.
            let lv = self.active_lvs(&vg).into_iter().next().unwrap_or(LvRef {
                vg: vg.clone(),
                uuid: String::new(),
                name: String::new(),
            });
            let why = super::coord::Why::OrphanRead { conn: ic, vg };
            self.dm(DmAction::ReadSeqno { lv }, why);
        }
    }

    /// The seqno on disk after a command died holding `vg`'s lock EX (held by `conn` now):
    /// newer than known, it is released with it (announced) and this node refreshes.
    pub(super) fn orphan_read(
        &mut self,
        conn: ConnId,
        vg: String,
        result: Result<DmReport, String>,
    ) {
        let known = LockspaceName::for_vg(&vg)
            .ok()
            .and_then(|n| self.ls.get(&n))
            .and_then(|l| l.seqno);
        let seqno = match result {
            Ok(DmReport { seqno: Some(s), .. }) if known.is_none_or(|k| s > k) => Some(s),
            Ok(_) => None,
            Err(e) => {
                log::error!("VG {vg}: cannot read the seqno after a command went away: {e}");
                None
            }
        };
        self.unlock(conn, Scope::Vg(vg.clone()), seqno, false, false);
        if let Some(s) = seqno {
            log::warn!(
                "VG {vg}: seqno {s} on disk, newer than known ({known:?}): the command that went \
                 away committed; announced, and refreshing here"
            );
            self.propagate_commit(&vg, s);
        }
    }

    pub(super) fn recheck_status(&self) -> Vec<PeerRefresh> {
        self.rechecks
            .done
            .iter()
            .map(|(at, r)| PeerRefresh {
                ago_ms: self.now.saturating_sub(*at),
                ..r.clone()
            })
            .collect()
    }
}
