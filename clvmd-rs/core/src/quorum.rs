//! The quorum-loss fence (EVMS): a node without quorum stops I/O to the active LVs of every
//! shared VG it has started, and undoes that when quorum returns. This is a second layer
//! beside Pacemaker's fencing: it holds where fencing is slow or absent.
//!
//! Policy only, free of I/O: [`Freezer`] compares what should be frozen (every started shared
//! VG while not quorate, nothing while quorate) with what is, and asks the driver for one
//! [`FenceAction`] per VG at a time. The driver finds the VG's active top-level devices and
//! records what it did under /run, so a daemon restarted while frozen learns it back
//! ([`crate::Input::FrozenFound`]).
//!
//! A frozen VG is thawed only when quorum holds AND this node's membership was continuous
//! while it was frozen: no node left its view and came back (a partition merge: the majority
//! recovered this node's DLM locks meanwhile, and dlm_controld expels a node merging back
//! with lockspace state), the connection to corosync was never lost, and the daemon was not
//! restarted. Otherwise the VG is *stranded*: it stays frozen for good, whatever happens to
//! quorum, the cluster stack or the daemon, and status says what the admin must do. Nothing
//! in this module or the driver resumes a device on exit.

use std::collections::BTreeMap;

use clvmd_proto::FrozenVg;

use crate::dm::DmAction;
use crate::machine::Output;

/// `policy.quorum_loss` in halvm.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuorumLoss {
    /// Suspend (with flush) every active top-level device: I/O queues in the kernel.
    #[default]
    Freeze,
    /// Swap every active top-level device's table for an error target: I/O fails with EIO.
    FailIo,
}

impl QuorumLoss {
    pub fn as_str(self) -> &'static str {
        match self {
            QuorumLoss::Freeze => "freeze",
            QuorumLoss::FailIo => "fail-io",
        }
    }
}

/// What the driver does to the device-mapper devices of one VG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceAction {
    /// Stop I/O to every active LV of shared VG `vg` on this node, as `how` says.
    Freeze { vg: String, how: QuorumLoss },
    /// Undo what the last `Freeze` of `vg` did (resume, or load the saved tables back).
    Thaw { vg: String },
}

/// Retry of a failed thaw (a freeze is never retried blindly: a half-done one is thawed).
const RETRY_MS: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Freezing,
    Frozen,
    Thawing,
}

#[derive(Debug, Clone)]
struct VgFence {
    phase: Phase,
    how: QuorumLoss,
    since: u64,
    error: Option<String>,
    retry_at: u64,
    /// Why this node's locks on the VG can no longer be trusted: the VG is never thawed.
    stranded: Option<String>,
}

/// What the admin of a stranded node must do (status and log).
pub const STRANDED_ADVICE: &str = "I/O stays frozen; the other nodes may have recovered this \
     node's locks and moved its services. Reboot this node (the kernel's DLM lockspaces outlive \
     the cluster stack, so dlm_controld will not start beside them); do not resume the devices \
     by hand";

/// Why a node whose dlm_controld went away while it had lockspaces joined never thaws: its
/// dlm_controld left its CPG groups as a failure (CPG_REASON_PROCDOWN), so every other node's
/// dlm_controld fences this node (with fencing on) and recovers its DLM locks, handing them on.
/// Corosync's membership and quorum say nothing of it: stock dlm_controld 4.2 also tells
/// corosync to remove the node (seen in the lab, with and without fencing), but that comes
/// later than this node's own dlm_controld socket closing, and other versions may not. The
/// kernel's lockspaces here still believe they hold those locks, and a dlm_controld started
/// again does not take them over. It is a partition merge in all but corosync's view.
pub const DLM_CONTROLD_LOST: &str = "dlm_controld stopped while this node had DLM lockspaces \
     joined: the other nodes' dlm_controld took it for a failure of this node and fence it or \
     recover its locks, even though corosync's membership holds";

#[derive(Debug, Default)]
pub(crate) struct Freezer {
    pub(crate) policy: QuorumLoss,
    vgs: BTreeMap<String, VgFence>,
    inflight: BTreeMap<u64, String>,
    next_tag: u64,
    /// Device-mapper resumes and refreshes (coord.rs) of LVs in fenced VGs, held back until
    /// the VG is thawed: a resize finishing while quorum is lost must not restart I/O.
    held: Vec<Output>,
    /// Corosync's member list as last seen, and the nodes that left it since this node was
    /// last quorate with nothing fenced: one of them coming back is a partition merge.
    view: Option<std::collections::BTreeSet<u32>>,
    departed: std::collections::BTreeSet<u32>,
    /// Why every fence is stranded from now on (a merge, the cluster connection lost).
    suspect: Option<String>,
    /// VGs stranded while a thaw was in flight: frozen again as soon as it ends.
    refreeze: Vec<String>,
}

impl Freezer {
    pub(crate) fn new(policy: QuorumLoss) -> Self {
        Freezer {
            policy,
            ..Default::default()
        }
    }

    /// VGs a previous daemon left frozen (found by the driver at start).
    pub(crate) fn found(&mut self, vgs: Vec<(String, QuorumLoss)>, now: u64) {
        for (vg, how) in vgs {
            let why = "left frozen by a previous daemon: what happened to this node's locks \
                       while no daemon watched is unknown"
                .to_string();
            log::error!("{vg}: {why}; {STRANDED_ADVICE}");
            self.vgs.entry(vg).or_insert(VgFence {
                phase: Phase::Frozen,
                how,
                since: now,
                error: None,
                retry_at: 0,
                stranded: Some(why),
            });
        }
    }

    /// Corosync's quorum view changed (`members`: its node list). Call before
    /// [`Freezer::reconcile`] with the same `quorate`.
    pub(crate) fn view(&mut self, quorate: bool, members: &[u32]) {
        let new: std::collections::BTreeSet<u32> = members.iter().copied().collect();
        if let Some(old) = &self.view {
            self.departed.extend(old.difference(&new));
        }
        let back: Vec<u32> = self.departed.intersection(&new).copied().collect();
        if !back.is_empty() && !self.vgs.is_empty() {
            self.strand(format!(
                "node(s) {back:?} left this node's view while it was frozen and came back (a \
                 partition merge): the majority recovered this node's DLM locks meanwhile, and \
                 dlm_controld expels a node that merges back with lockspace state"
            ));
        }
        self.view = Some(new);
        if quorate && self.vgs.is_empty() && self.suspect.is_none() {
            self.departed.clear();
        }
    }

    pub(crate) fn has_view(&self) -> bool {
        self.view.is_some()
    }

    /// The connection to corosync is gone (corosync or dlm_controld stopped, or this node was
    /// expelled): quorum is unknown from now on and nothing frozen may be thawed.
    pub(crate) fn cluster_lost(&mut self, why: &str) {
        self.strand(format!(
            "the connection to the cluster stack was lost ({why})"
        ));
    }

    /// Nothing frozen from now on is ever thawed, for `why`.
    pub(crate) fn strand(&mut self, why: String) {
        if self.suspect.is_none() {
            log::error!("{why}; {STRANDED_ADVICE}");
            self.suspect = Some(why.clone());
        }
        for (vg, f) in self.vgs.iter_mut() {
            if f.stranded.is_none() {
                log::error!("{vg}: stranded: {why}");
                f.stranded = Some(why.clone());
            }
        }
    }

    /// The actions that bring the kernel to what `quorate` asks for, given the shared VGs
    /// started here; `(tag, action)` pairs.
    pub(crate) fn reconcile<'a>(
        &mut self,
        quorate: bool,
        shared: impl Iterator<Item = &'a str>,
        now: u64,
    ) -> Vec<(u64, FenceAction)> {
        let mut out = Vec::new();
        for vg in std::mem::take(&mut self.refreeze) {
            if let Some(f) = self.vgs.get_mut(&vg) {
                log::error!("{vg}: stranded while thawing: freezing it again");
                f.phase = Phase::Freezing;
                out.push((vg.clone(), FenceAction::Freeze { vg, how: f.how }));
            }
        }
        if !quorate {
            for vg in shared {
                if !self.vgs.contains_key(vg) {
                    let how = self.policy;
                    match &self.suspect {
                        Some(why) => {
                            log::warn!("freezing I/O to {vg} ({}), stranded: {why}", how.as_str())
                        }
                        None => log::warn!("quorum lost: freezing I/O to {vg} ({})", how.as_str()),
                    }
                    self.vgs.insert(
                        vg.to_string(),
                        VgFence {
                            phase: Phase::Freezing,
                            how,
                            since: now,
                            error: None,
                            retry_at: 0,
                            stranded: self.suspect.clone(),
                        },
                    );
                    out.push((vg.to_string(), FenceAction::Freeze { vg: vg.into(), how }));
                }
            }
        } else {
            for (vg, f) in self.vgs.iter_mut() {
                if f.phase == Phase::Frozen && f.retry_at <= now && f.stranded.is_none() {
                    log::info!("quorum regained: thawing {vg}");
                    f.phase = Phase::Thawing;
                    out.push((vg.clone(), FenceAction::Thaw { vg: vg.clone() }));
                }
            }
        }
        out.into_iter()
            .map(|(vg, a)| {
                self.next_tag += 1;
                self.inflight.insert(self.next_tag, vg);
                (self.next_tag, a)
            })
            .collect()
    }

    /// Whether `tag` was ours; records the outcome.
    pub(crate) fn done(&mut self, tag: u64, result: Result<(), String>, now: u64) -> bool {
        let Some(vg) = self.inflight.remove(&tag) else {
            return false;
        };
        let Some(f) = self.vgs.get_mut(&vg) else {
            return true;
        };
        match (f.phase, result) {
            (Phase::Freezing, Ok(())) => {
                log::warn!(
                    "{vg}: I/O frozen ({}) {} ms after the loss",
                    f.how.as_str(),
                    now - f.since
                );
                f.phase = Phase::Frozen;
            }
            (Phase::Freezing, Err(e)) => {
                // Whatever was done is recorded by the driver; a thaw undoes it.
                log::error!("{vg}: freezing failed: {e}");
                f.phase = Phase::Frozen;
                f.error = Some(e);
            }
            (Phase::Thawing, Ok(())) if f.stranded.is_some() => {
                // Stranded while the thaw ran (a merge seen meanwhile): freeze again.
                self.refreeze.push(vg);
            }
            (Phase::Thawing, Ok(())) => {
                log::info!("{vg}: I/O resumed after {} ms", now - f.since);
                self.vgs.remove(&vg);
            }
            (Phase::Thawing, Err(e)) => {
                log::error!("{vg}: thawing failed (retrying): {e}");
                f.phase = Phase::Frozen;
                f.error = Some(e);
                f.retry_at = now + RETRY_MS;
            }
            (Phase::Frozen, _) => {}
        }
        true
    }

    /// Holds back what would restart I/O in a fenced VG; releases what was held once its VG
    /// is thawed. Order among the released outputs is kept.
    pub(crate) fn gate(&mut self, out: &mut Vec<Output>) {
        if self.vgs.is_empty() && self.held.is_empty() {
            // Nothing fenced, nothing held back.
            return;
        }
        let fenced = |vgs: &BTreeMap<String, VgFence>, o: &Output| match o {
            Output::Dm {
                action: DmAction::Resume { lv } | DmAction::Refresh { lv, .. },
                ..
            } => vgs.contains_key(&lv.vg),
            _ => false,
        };
        let (still, free): (Vec<Output>, Vec<Output>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|o| fenced(&self.vgs, o));
        self.held = still;
        let mut keep = free;
        for o in out.drain(..) {
            if fenced(&self.vgs, &o) {
                log::info!("held back while quorum is lost: {o:?}");
                self.held.push(o);
            } else {
                keep.push(o);
            }
        }
        *out = keep;
    }

    pub(crate) fn next_wake(&self, now: u64) -> Option<u64> {
        self.vgs
            .values()
            .filter(|f| f.phase == Phase::Frozen && f.retry_at > now)
            .map(|f| f.retry_at)
            .min()
    }

    pub(crate) fn status(&self, now: u64) -> Vec<FrozenVg> {
        self.vgs
            .iter()
            .map(|(vg, f)| FrozenVg {
                vg: vg.clone(),
                state: match (f.phase, &f.stranded) {
                    (Phase::Freezing, _) => "freezing",
                    (Phase::Frozen, Some(_)) => "stranded",
                    (Phase::Frozen, None) => "frozen",
                    (Phase::Thawing, _) => "thawing",
                }
                .into(),
                stranded: f
                    .stranded
                    .as_ref()
                    .map(|w| format!("{w}; {STRANDED_ADVICE}")),
                how: f.how.as_str().into(),
                for_ms: now.saturating_sub(f.since),
                error: f.error.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dm::LvRef;

    fn dm(tag: u64, vg: &str, resume: bool) -> Output {
        let lv = LvRef {
            vg: vg.into(),
            uuid: "u".into(),
            name: "lv".into(),
        };
        Output::Dm {
            tag,
            action: if resume {
                DmAction::Resume { lv }
            } else {
                DmAction::Suspend { lv, flush: true }
            },
        }
    }

    #[test]
    fn a_vg_stranded_while_its_thaw_runs_is_frozen_again() {
        let mut f = Freezer::new(QuorumLoss::Freeze);
        f.view(true, &[1, 2, 3]);
        f.view(false, &[1]);
        let a = f.reconcile(false, ["vg"].into_iter(), 0);
        assert!(f.done(a[0].0, Ok(()), 1));
        // Quorate alone (nobody came back yet): continuous, the thaw starts...
        f.view(true, &[1]);
        let t = f.reconcile(true, ["vg"].into_iter(), 2);
        assert!(matches!(&t[..], [(_, FenceAction::Thaw { .. })]));
        // ...and the others come back before it ends: a merge.
        f.view(true, &[1, 2, 3]);
        assert!(f.done(t[0].0, Ok(()), 3));
        let again = f.reconcile(true, ["vg"].into_iter(), 4);
        assert!(
            matches!(&again[..], [(_, FenceAction::Freeze { .. })]),
            "{again:?}"
        );
        assert!(f.done(again[0].0, Ok(()), 5));
        assert!(f.reconcile(true, ["vg"].into_iter(), 6).is_empty());
        assert_eq!(f.status(7)[0].state, "stranded");
    }

    #[test]
    fn resumes_in_a_fenced_vg_wait_for_the_thaw() {
        let mut f = Freezer::new(QuorumLoss::Freeze);
        let a = f.reconcile(false, ["vg"].into_iter(), 0);
        let mut out = vec![dm(1, "vg", true), dm(2, "vg", false), dm(3, "other", true)];
        f.gate(&mut out);
        assert_eq!(out, [dm(2, "vg", false), dm(3, "other", true)]);
        assert!(f.done(a[0].0, Ok(()), 1));
        let t = f.reconcile(true, ["vg"].into_iter(), 2);
        let mut out = Vec::new();
        f.gate(&mut out);
        assert!(out.is_empty(), "still thawing");
        assert!(f.done(t[0].0, Ok(()), 3));
        f.gate(&mut out);
        assert_eq!(out, [dm(1, "vg", true)]);
    }
}
