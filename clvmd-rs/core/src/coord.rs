//! Cluster-wide coordination over CPG agreed order (CVM's ports w and v).
//!
//! **Propagation.** A `Committed { vg, seqno }` from another node makes this node refresh
//! every LV of `vg` it has active: the driver re-plans it from the committed metadata and
//! loads only the tables that changed (an extend, a mirror split, a leg removed).
//!
//! **Atomic resize**, led by the daemon of the node running the command, which holds the VG
//! lock EX (so no other change and no activation reads the VG meanwhile):
//! 1. `SuspendLv` → `Suspend{txn}` multicast; every member suspends the LV if active (flush)
//!    and answers `Suspended`. When all members answered the client commits.
//! 2. `ResumeLv` → `Resume{txn}`; every member that suspended loads the tables planned from
//!    the metadata on disk and resumes, answering `Resumed` with its size.
//!
//! No node serves a new size while another serves the old one: every holder is suspended
//! before the commit and serves again only with tables read after it.
//!
//! **Failures: the disk decides.** Whatever ends a resize early (the leader's node leaves
//! the group, its client disconnects, a member cannot suspend, a timeout) ends in the same
//! step on every node: reload from the committed metadata on disk and resume. The commit is
//! one atomic sector write (lvm2's mda header), so every survivor reads the same answer: the
//! new size if the leader committed before it died (roll forward), the old one if it did not
//! (roll back). Nothing needs a vote, and a node that was away reads the same disk when it
//! activates again. CPG's virtual synchrony delivers the membership change at the same point
//! of the message stream on every survivor. Reading after the leader left relies on it being
//! fenced (as DLM recovery does before releasing its VG lock).

use std::collections::{BTreeMap, BTreeSet};

use clvmd_proto::{ErrorKind, Mode, Response};
use halvm_dlm::{LockspaceName, ResourceName};

use super::{failed, node_name, ConnId, LsState, Node, Output};
use crate::cpg::CpgMsg;
use crate::dm::{DmAction, DmReport, LvRef};

/// How long the leader waits for every member to suspend before it gives up (and resumes
/// everywhere), and for every member to resume before it reports the laggards.
pub const SUSPEND_TIMEOUT_MS: u64 = 15_000;
pub const RESUME_TIMEOUT_MS: u64 = 30_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Why {
    /// Another node's commit.
    Propagate,
    /// Phase 1 of `origin`'s resize `txn`.
    Suspend { origin: u32, txn: u64 },
    /// Phase 2 (or convergence after a failure, `ack: false`).
    Resume { origin: u32, txn: u64, ack: bool },
    /// This node's own detach of a failed leg (detach.rs) is committed.
    Detached(LvRef),
    /// A VG's seqno read after a node left (recheck.rs).
    RecheckRead(String),
    /// A VG's seqno read after a command died holding its lock EX (recheck.rs).
    OrphanRead { conn: ConnId, vg: String },
    /// A reload to `seqno` after a node left (recheck.rs).
    RecheckRefresh {
        lv: LvRef,
        seqno: u32,
        since: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Suspending,
    Suspended,
    Resuming,
}

#[derive(Debug)]
struct Lead {
    conn: ConnId,
    lv: LvRef,
    phase: Phase,
    waiting: BTreeSet<u32>,
    errors: Vec<String>,
    sizes: BTreeMap<u32, u64>,
    deadline: u64,
}

/// An LV this node suspended for someone's resize, until that resize resumes it.
#[derive(Debug)]
struct Part {
    lv: LvRef,
}

#[derive(Debug, Default)]
pub(crate) struct Coord {
    next_tag: u64,
    pending: BTreeMap<u64, Why>,
    next_txn: u64,
    leads: BTreeMap<u64, Lead>,
    parts: BTreeMap<(u32, u64), Part>,
    /// Refreshes done for other nodes' commits (status, tests).
    pub(crate) refreshes: u64,
}

/// DM tags use the top bit so they never collide with DLM tags in a driver's logs.
const DM_TAG_BASE: u64 = 1 << 63;

impl Node {
    /// Queues a device-mapper action; `why` says what its completion continues.
    pub(super) fn dm(&mut self, action: DmAction, why: Why) -> u64 {
        self.coord.next_tag += 1;
        let tag = DM_TAG_BASE | self.coord.next_tag;
        self.coord.pending.insert(tag, why);
        self.out.push(Output::Dm { tag, action });
        tag
    }

    /// The LVs of `vg` active here: those whose activation lock the daemon holds.
    pub fn active_lvs(&self, vg: &str) -> Vec<LvRef> {
        let Ok(name) = LockspaceName::for_vg(vg) else {
            return Vec::new();
        };
        let Some(ls) = self.ls.get(&name) else {
            return Vec::new();
        };
        ls.res
            .iter()
            .filter(|(n, r)| super::active_lv(n, r))
            .map(|(n, r)| LvRef {
                vg: vg.to_string(),
                uuid: n.to_string(),
                name: r.lv_name.clone().unwrap_or_else(|| n.to_string()),
            })
            .collect()
    }

    /// Whether this node's activation mode of `vg` loads read-only tables (ro, sr).
    pub(super) fn read_only_mode(&self, vg: &str) -> bool {
        matches!(self.vg_mode_held(vg), Some(Mode::Pr | Mode::Cr))
    }

    fn is_active(&self, lv: &LvRef) -> bool {
        self.active_lvs(&lv.vg).iter().any(|l| l.uuid == lv.uuid)
    }

    /// How many refreshes this node did for other nodes' commits.
    pub fn refresh_count(&self) -> u64 {
        self.coord.refreshes
    }

    pub(super) fn dm_done(&mut self, tag: u64, result: Result<DmReport, String>) {
        let Some(why) = self.coord.pending.remove(&tag) else {
            return;
        };
        match why {
            Why::Propagate => {
                if let Err(e) = result {
                    log::error!("refresh after a commit elsewhere failed: {e}");
                }
            }
            Why::RecheckRead(vg) => self.recheck_read(vg, result),
            Why::OrphanRead { conn, vg } => self.orphan_read(conn, vg, result),
            Why::RecheckRefresh { lv, seqno, since } => {
                self.recheck_refreshed(lv, seqno, since, result)
            }
            Why::Detached(lv) => {
                let now = self.now;
                let next = self.watcher.reloaded(&lv, result.map(|_| ()), now);
                self.follow(next);
            }
            Why::Suspend { origin, txn } => {
                let (active, error) = match result {
                    Ok(r) => (r.active, None),
                    Err(e) => (true, Some(format!("{}: {e}", self.cfg.node_name))),
                };
                self.out.push(Output::Cpg(CpgMsg::Suspended {
                    origin,
                    txn,
                    active,
                    error,
                }));
            }
            Why::Resume { origin, txn, ack } => {
                let (size_sectors, error) = match result {
                    Ok(r) => (r.size_sectors.filter(|_| r.active), None),
                    Err(e) => (None, Some(format!("{}: {e}", self.cfg.node_name))),
                };
                if let Some(e) = &error {
                    log::error!("resume after resize {origin}/{txn}: {e}");
                }
                if ack {
                    self.out.push(Output::Cpg(CpgMsg::Resumed {
                        origin,
                        txn,
                        size_sectors,
                        error,
                    }));
                }
            }
        }
    }

    /// This node committed the detach of `lv`'s failed leg: reload it here (the other nodes
    /// reload on the commit's multicast). The driver suspends a mirror without flushing, so
    /// the writes it holds since the leg failed go on to the remaining legs.
    pub(super) fn reload_detached(&mut self, lv: LvRef) {
        if !self.is_active(&lv) {
            return;
        }
        self.dm(
            DmAction::Refresh {
                read_only: self.read_only_mode(&lv.vg),
                lv: lv.clone(),
            },
            Why::Detached(lv),
        );
    }

    /// Whether a resize in flight suspended LV `uuid` here (its Resume reloads it).
    pub(super) fn coord_busy(&self, uuid: &str) -> bool {
        self.coord.parts.values().any(|p| p.lv.uuid == uuid)
    }

    /// Another node committed to `vg`: refresh what is active here.
    pub(super) fn propagate_commit(&mut self, vg: &str, _seqno: u32) {
        let busy: BTreeSet<String> = self
            .coord
            .parts
            .values()
            .map(|p| p.lv.uuid.clone())
            .collect();
        for lv in self.active_lvs(vg) {
            if busy.contains(&lv.uuid) {
                // Its resize's Resume reloads it.
                continue;
            }
            if self.watcher.is_stopped(&lv.uuid) {
                // Its I/O was stopped here on purpose (a dead leg, policy.detach = local):
                // a reload from the metadata would give it its mirror back.
                log::warn!("{lv}: I/O stopped here after a leg failure; not reloaded");
                continue;
            }
            self.coord.refreshes += 1;
            self.dm(
                DmAction::Refresh {
                    read_only: self.read_only_mode(&lv.vg),
                    lv,
                },
                Why::Propagate,
            );
        }
    }

    fn lv_ref(&mut self, conn: ConnId, vg: String, uuid: String, name: String) -> Option<LvRef> {
        if let Err(e) = ResourceName::lv(&uuid) {
            self.reply(conn, failed(ErrorKind::Invalid, e.to_string()));
            return None;
        }
        Some(LvRef { vg, uuid, name })
    }

    pub(super) fn suspend_lv(&mut self, conn: ConnId, vg: String, uuid: String, name: String) {
        let Some(lv) = self.lv_ref(conn, vg, uuid, name) else {
            return;
        };
        let Some(lname) = self.vg_ls(conn, &lv.vg) else {
            return;
        };
        let vglk_ex = self.ls.get(&lname).is_some_and(|l| {
            l.state == LsState::Running
                && l.res.get(&ResourceName::vglk()).is_some_and(|r| {
                    r.mode == Mode::Ex && r.holders.values().any(|m| *m == Mode::Ex)
                })
        });
        if !vglk_ex {
            return self.reply(
                conn,
                failed(
                    ErrorKind::NotHeld,
                    format!(
                        "resizing {lv} cluster-wide needs the lock for VG {} held EX here",
                        lv.vg
                    ),
                ),
            );
        }
        if self.coord.leads.values().any(|l| l.lv.uuid == lv.uuid) {
            return self.reply(
                conn,
                failed(
                    ErrorKind::Invalid,
                    format!("a resize of {lv} is in progress"),
                ),
            );
        }
        self.coord.next_txn += 1;
        let txn = self.coord.next_txn;
        self.coord.leads.insert(
            txn,
            Lead {
                conn,
                lv: lv.clone(),
                phase: Phase::Suspending,
                waiting: self.members.clone(),
                errors: Vec::new(),
                sizes: BTreeMap::new(),
                deadline: self.now + SUSPEND_TIMEOUT_MS,
            },
        );
        self.out.push(Output::Cpg(CpgMsg::Suspend { txn, lv }));
    }

    pub(super) fn resume_lv(&mut self, conn: ConnId, vg: String, uuid: String, name: String) {
        let Some(lv) = self.lv_ref(conn, vg, uuid, name) else {
            return;
        };
        let now = self.now;
        let members = self.members.clone();
        let found =
            self.coord.leads.iter_mut().find(|(_, l)| {
                l.conn == conn && l.lv.uuid == lv.uuid && l.phase == Phase::Suspended
            });
        let Some((&txn, lead)) = found else {
            return self.reply(
                conn,
                failed(
                    ErrorKind::NotHeld,
                    format!("{lv} was not suspended by this client"),
                ),
            );
        };
        lead.phase = Phase::Resuming;
        lead.waiting = members;
        lead.deadline = now + RESUME_TIMEOUT_MS;
        let lv = lead.lv.clone();
        self.out.push(Output::Cpg(CpgMsg::Resume { txn, lv }));
    }

    /// Ends a resize early: every node reloads from disk and resumes.
    fn abort_lead(&mut self, txn: u64, why: String) {
        let Some(lead) = self.coord.leads.remove(&txn) else {
            return;
        };
        log::warn!(
            "resize of {} abandoned: {why}; every node reloads it from disk",
            lead.lv
        );
        self.out
            .push(Output::Cpg(CpgMsg::Resume { txn, lv: lead.lv }));
        if self.conns.contains_key(&lead.conn) {
            self.reply(lead.conn, failed(ErrorKind::Dlm, why));
        }
    }

    pub(super) fn coord_disconnected(&mut self, conn: ConnId) {
        let txns: Vec<u64> = self
            .coord
            .leads
            .iter()
            .filter(|(_, l)| l.conn == conn)
            .map(|(t, _)| *t)
            .collect();
        for t in txns {
            let phase = self.coord.leads[&t].phase;
            if phase == Phase::Resuming {
                self.coord.leads.remove(&t);
            } else {
                self.abort_lead(t, "the resizing command went away".into());
            }
        }
    }

    pub(super) fn coord_membership(&mut self, gone: &[u32]) {
        for g in gone {
            for l in self.coord.leads.values_mut() {
                l.waiting.remove(g);
            }
            // Resizes led by a node that left: converge on what the disk says.
            let orphaned: Vec<(u32, u64)> = self
                .coord
                .parts
                .keys()
                .filter(|(o, _)| o == g)
                .copied()
                .collect();
            for key in orphaned {
                let part = self.coord.parts.remove(&key).expect("listed");
                log::warn!(
                    "node {} left in the middle of resizing {}: reloading it from disk",
                    key.0,
                    part.lv
                );
                self.dm(
                    DmAction::Refresh {
                        read_only: self.read_only_mode(&part.lv.vg),
                        lv: part.lv,
                    },
                    Why::Resume {
                        origin: key.0,
                        txn: key.1,
                        ack: false,
                    },
                );
            }
        }
        self.check_leads();
    }

    pub(super) fn coord_cpg(&mut self, from: u32, msg: CpgMsg) {
        let me = self.cfg.node_id;
        match msg {
            CpgMsg::Suspend { txn, lv } => {
                if self.is_active(&lv) {
                    self.coord
                        .parts
                        .insert((from, txn), Part { lv: lv.clone() });
                    self.dm(
                        DmAction::Suspend { lv, flush: true },
                        Why::Suspend { origin: from, txn },
                    );
                } else {
                    self.out.push(Output::Cpg(CpgMsg::Suspended {
                        origin: from,
                        txn,
                        active: false,
                        error: None,
                    }));
                }
            }
            CpgMsg::Resume { txn, lv } => {
                if let Some(part) = self.coord.parts.remove(&(from, txn)) {
                    self.dm(
                        DmAction::Refresh {
                            read_only: self.read_only_mode(&part.lv.vg),
                            lv: part.lv,
                        },
                        Why::Resume {
                            origin: from,
                            txn,
                            ack: true,
                        },
                    );
                } else {
                    let _ = lv;
                    self.out.push(Output::Cpg(CpgMsg::Resumed {
                        origin: from,
                        txn,
                        size_sectors: None,
                        error: None,
                    }));
                }
            }
            CpgMsg::Suspended {
                origin, txn, error, ..
            } if origin == me => {
                if let Some(l) = self.coord.leads.get_mut(&txn) {
                    if l.phase == Phase::Suspending {
                        l.waiting.remove(&from);
                        l.errors.extend(error);
                    }
                }
                self.check_leads();
            }
            CpgMsg::Resumed {
                origin,
                txn,
                size_sectors,
                error,
            } if origin == me => {
                if let Some(l) = self.coord.leads.get_mut(&txn) {
                    if l.phase == Phase::Resuming {
                        l.waiting.remove(&from);
                        l.errors.extend(error);
                        if let Some(s) = size_sectors {
                            l.sizes.insert(from, s);
                        }
                    }
                }
                self.check_leads();
            }
            _ => {}
        }
    }

    /// Answers leads whose members all answered.
    fn check_leads(&mut self) {
        let done: Vec<u64> = self
            .coord
            .leads
            .iter()
            .filter(|(_, l)| l.waiting.is_empty() && l.phase != Phase::Suspended)
            .map(|(t, _)| *t)
            .collect();
        for txn in done {
            let lead = self.coord.leads.get_mut(&txn).expect("listed");
            match lead.phase {
                Phase::Suspending if !lead.errors.is_empty() => {
                    let why = format!(
                        "cannot suspend {} everywhere: {}",
                        lead.lv,
                        lead.errors.join("; ")
                    );
                    self.abort_lead(txn, why);
                }
                Phase::Suspending => {
                    lead.phase = Phase::Suspended;
                    let conn = lead.conn;
                    self.reply(conn, Response::Done);
                }
                Phase::Resuming => {
                    let lead = self.coord.leads.remove(&txn).expect("listed");
                    let sizes: BTreeSet<u64> = lead.sizes.values().copied().collect();
                    let resp = if !lead.errors.is_empty() {
                        failed(
                            ErrorKind::Dlm,
                            format!("resuming {} failed: {}", lead.lv, lead.errors.join("; ")),
                        )
                    } else if sizes.len() > 1 {
                        failed(
                            ErrorKind::Dlm,
                            format!(
                                "{} has different sizes on the nodes: {:?}",
                                lead.lv, lead.sizes
                            ),
                        )
                    } else {
                        Response::Done
                    };
                    self.reply(lead.conn, resp);
                }
                Phase::Suspended => {}
            }
        }
    }

    pub(super) fn coord_tick(&mut self) {
        let now = self.now;
        let late: Vec<u64> = self
            .coord
            .leads
            .iter()
            .filter(|(_, l)| l.phase != Phase::Suspended && l.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for txn in late {
            let l = &self.coord.leads[&txn];
            let nodes: Vec<String> = l
                .waiting
                .iter()
                .map(|&n| node_name(&self.names, n))
                .collect();
            match l.phase {
                Phase::Suspending => self.abort_lead(
                    txn,
                    format!("{} did not suspend {} in time", nodes.join(", "), l.lv),
                ),
                _ => {
                    let l = self.coord.leads.remove(&txn).expect("listed");
                    self.reply(
                        l.conn,
                        failed(
                            ErrorKind::Dlm,
                            format!("{} did not resume {} in time", nodes.join(", "), l.lv),
                        ),
                    );
                }
            }
        }
    }

    pub(super) fn coord_deadlines(&self) -> impl Iterator<Item = u64> + '_ {
        self.coord
            .leads
            .values()
            .filter(|l| l.phase != Phase::Suspended)
            .map(|l| l.deadline)
    }
}
