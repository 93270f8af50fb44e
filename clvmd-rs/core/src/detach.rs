//! Mirror/raid1 leg failures, in place of dmeventd: the daemon polls the device-mapper status
//! of the LVs active here and, when a leg is dead, applies `policy.detach`.
//!
//! Mirrors are loaded with `handle_errors`: after a leg fails the kernel holds writes until
//! user space reloads the table, so doing nothing hangs the writers for ever. With `local`
//! this node alone stops I/O to the LV (its table becomes an error target, loaded after a
//! non-flushing suspend so the held writes fail with EIO instead of hanging) and reports the
//! LV as failed in its status, so the resource agent's monitor fails and Pacemaker moves the
//! service; the other nodes keep both legs.
//!
//! The policy is the VG's own when its metadata says so (a `halvm_detach_global|local` tag,
//! VxVM's per disk group `diskdetpolicy`), else this node's `policy.detach`: on a failure
//! the driver first reads the VG's tags ([`WatchAction::ReadPolicy`]).
//!
//! With `global` the node that saw the failure detaches the leg cluster-wide: its driver
//! commits the change through lvmeta's transaction path under the VG lock, as lvm2's
//! `lvconvert --repair` with `mirror_image_fault_policy = "remove"` (what dmeventd runs)
//! leaves it: the failed images are removed (a mirror left with one image becomes linear)
//! and PVs the committing node cannot see are flagged MISSING. The VG lock's release
//! multicasts the commit, so every other node with the LV active reloads it without the leg
//! (coord.rs's propagation); this node reloads it once the commit is done, with a
//! non-flushing suspend so the writes the mirror holds go on to the remaining legs. A commit
//! that fails (no quorum, metadata unreachable) falls back to `local`: writers must not hang.

use std::collections::BTreeMap;

use clvmd_proto::FailedLv;

use crate::dm::LvRef;

/// `policy.detach` in halvm.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detach {
    #[default]
    Global,
    Local,
}

/// How often the active LVs' status is read: the bound on detection time.
pub const WATCH_MS: u64 = 1000;

/// The status the driver read for one active LV's top device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvStatus {
    pub uuid: String,
    pub target: String,
    pub params: String,
    /// The image LV behind each leg, in the order of the live table, read together with the
    /// status (empty when they cannot be named). A detach names the failed legs by these:
    /// leg numbers shift when a reload drops a leg, names do not.
    pub legs: Vec<String>,
    /// The mirror's disk log LV, named from the live table (None: a core log, or unnamed).
    pub log: Option<String>,
}

/// The legs of a mirror or raid1 status line that are dead (0-based), or None when the line
/// is not a mirror/raid1 status or cannot be read.
///
/// mirror: `<#legs> <dev>... <in-sync>/<total> 1 <health chars> <#log> <log...>`,
/// a leg is healthy when its char is `A`. raid: `<type> <#devs> <health chars> ...`, `D` is
/// dead (`a` is alive but still syncing).
pub fn dead_legs(target: &str, params: &str) -> Option<Vec<usize>> {
    let f: Vec<&str> = params.split_whitespace().collect();
    let health = match target {
        "mirror" => {
            let n: usize = f.first()?.parse().ok()?;
            // The health string is one argument: its count is 1.
            if *f.get(n + 2)? != "1" {
                return None;
            }
            let h = *f.get(n + 3)?;
            (h.len() == n)
                .then_some(h)?
                .chars()
                .map(|c| c != 'A')
                .collect::<Vec<bool>>()
        }
        "raid" => {
            if !matches!(*f.first()?, "raid1") {
                return None;
            }
            let n: usize = f.get(1)?.parse().ok()?;
            let h = *f.get(2)?;
            (h.len() == n)
                .then_some(h)?
                .chars()
                .map(|c| c == 'D')
                .collect()
        }
        _ => return None,
    };
    Some(
        health
            .iter()
            .enumerate()
            .filter(|(_, d)| **d)
            .map(|(i, _)| i)
            .collect(),
    )
}

/// Whether a mirror status line shows its disk log failed: dm-log's status after the legs'
/// health is `1 core` or `3 disk <dev> <A|D|F>` (`D`: an I/O error, `F`: a flush failed). With
/// `handle_errors` dm-mirror then holds the writes that would mark a region until user space
/// reloads the table (lvm2's `mirror_log_fault_policy`).
pub fn failed_log(target: &str, params: &str) -> bool {
    if target != "mirror" {
        return false;
    }
    let f: Vec<&str> = params.split_whitespace().collect();
    let Some(n) = f.first().and_then(|n| n.parse::<usize>().ok()) else {
        return false;
    };
    // <#legs> <dev>*n <sync> 1 <health> <#log args> <log args...>
    let at = n + 4;
    matches!(
        (f.get(at), f.get(at + 1), f.get(at + 3)),
        (Some(&"3"), Some(&"disk"), Some(&("D" | "F")))
    )
}

#[derive(Debug, Clone)]
struct Failed {
    lv: LvRef,
    legs: Vec<usize>,
    /// The image LVs of `legs` (and the log LV when `log`), named when the failure was read.
    images: Vec<String>,
    /// The disk log failed.
    log: bool,
    since: u64,
    /// `stopped`: I/O stopped here (local, or a global detach that failed); `detaching`: the
    /// global commit is in flight; `reloading`: committed, this node's reload in flight;
    /// `detached`: committed and reloaded here without the leg.
    action: &'static str,
    error: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Watcher {
    pub(crate) policy: Detach,
    next_poll: u64,
    /// The poll in flight and the LVs it covers.
    poll: Option<(u64, Vec<LvRef>)>,
    /// FailLv actions in flight.
    stopping: BTreeMap<u64, String>,
    /// Detach commits in flight.
    detaching: BTreeMap<u64, String>,
    /// Reads of the VG's own policy in flight.
    deciding: BTreeMap<u64, String>,
    failed: BTreeMap<String, Failed>,
}

/// What the watcher wants the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchAction {
    /// Read the status of these LVs' top devices (those active here).
    Health { lvs: Vec<LvRef> },
    /// Stop I/O to the LV on this node: suspend without flushing, load an error target of
    /// the same size, resume.
    FailLv { lv: LvRef },
    /// Read the LV's VG's own detach policy from its metadata (its tags); answered with
    /// [`crate::Input::PolicyRead`].
    ReadPolicy { lv: LvRef },
    /// Detach the dead legs of the LV cluster-wide, named by their image LVs: commit the
    /// metadata change under the VG lock (the lock's release tells the other nodes); images
    /// an earlier commit removed already are skipped. Answered with no status lines.
    Detach { lv: LvRef, images: Vec<String> },
}

/// What the machine does next for a failed LV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Read the VG's own policy ([`WatchAction::ReadPolicy`]).
    ReadPolicy(LvRef),
    /// Stop I/O here ([`WatchAction::FailLv`]).
    Stop(LvRef),
    /// Commit the detach ([`WatchAction::Detach`]) of these images.
    Detach(LvRef, Vec<String>),
    /// The detach is committed: reload the LV here from the metadata.
    Reload(LvRef),
}

impl Watcher {
    pub(crate) fn new(policy: Detach) -> Self {
        Watcher {
            policy,
            ..Default::default()
        }
    }

    /// A poll of `active` when one is due; `tag` is the caller's.
    pub(crate) fn tick(&mut self, now: u64, active: Vec<LvRef>, tag: u64) -> Option<WatchAction> {
        if self.poll.is_some() || now < self.next_poll {
            return None;
        }
        // A detached LV is watched again (a three-leg mirror can lose another leg), but only
        // once reloaded here: before that its old table still reports the dead leg.
        let lvs: Vec<LvRef> = active
            .into_iter()
            .filter(|l| {
                self.failed
                    .get(&l.uuid)
                    .is_none_or(|f| f.action == "detached")
            })
            .collect();
        self.next_poll = now + WATCH_MS;
        if lvs.is_empty() {
            return None;
        }
        self.poll = Some((tag, lvs.clone()));
        Some(WatchAction::Health { lvs })
    }

    /// When the next poll is due (the caller drops it when no LV is active here).
    pub(crate) fn next_wake(&self, now: u64) -> Option<u64> {
        (self.poll.is_none() && self.next_poll > now).then_some(self.next_poll)
    }

    /// Whether [`Watcher::tick`] would poll now (the caller lists the active LVs only then).
    pub(crate) fn poll_due(&self, now: u64) -> bool {
        self.poll.is_none() && now >= self.next_poll
    }

    /// Handles a completion if `tag` is the watcher's; returns (mine, what to do next).
    pub(crate) fn done(
        &mut self,
        tag: u64,
        result: Result<Vec<LvStatus>, String>,
        now: u64,
    ) -> (bool, Vec<Follow>) {
        if let Some(uuid) = self.detaching.remove(&tag) {
            let Some(f) = self.failed.get_mut(&uuid) else {
                return (true, Vec::new());
            };
            return match result {
                Ok(_) => {
                    log::error!(
                        "{}: leg(s) {:?} detached cluster-wide (policy.detach = global) {} ms \
                         after the failure was seen; reloading here",
                        f.lv,
                        f.legs,
                        now.saturating_sub(f.since)
                    );
                    f.action = "reloading";
                    (true, vec![Follow::Reload(f.lv.clone())])
                }
                Err(e) => {
                    log::error!(
                        "{}: detaching leg(s) {:?} cluster-wide failed: {e}; stopping I/O on \
                         this node instead",
                        f.lv,
                        f.legs
                    );
                    f.action = "stopped";
                    f.error = Some(e);
                    (true, vec![Follow::Stop(f.lv.clone())])
                }
            };
        }
        if let Some(uuid) = self.stopping.remove(&tag) {
            if let Some(f) = self.failed.get_mut(&uuid) {
                match result {
                    Ok(_) => {
                        log::error!("{}: I/O stopped on this node (policy.detach = local)", f.lv)
                    }
                    Err(e) => {
                        log::error!("{}: stopping I/O failed: {e}", f.lv);
                        f.error = Some(e);
                    }
                }
            }
            return (true, Vec::new());
        }
        let Some((_, lvs)) = self.poll.take_if(|(t, _)| *t == tag) else {
            return (false, Vec::new());
        };
        let statuses = match result {
            Ok(s) => s,
            Err(e) => {
                log::warn!("reading mirror status failed: {e}");
                return (true, Vec::new());
            }
        };
        let mut stop = Vec::new();
        for s in statuses {
            let Some(dead) = dead_legs(&s.target, &s.params) else {
                continue;
            };
            let log = failed_log(&s.target, &s.params);
            if dead.is_empty() && !log {
                continue;
            }
            let Some(lv) = lvs.iter().find(|l| l.uuid == s.uuid) else {
                continue;
            };
            stop.push(Follow::ReadPolicy(lv.clone()));
            log::error!(
                "{lv}: mirror {} failed ({} {})",
                match (dead.is_empty(), log) {
                    (true, _) => "log".to_string(),
                    (false, true) => format!("leg(s) {dead:?} and log"),
                    (false, false) => format!("leg(s) {dead:?}"),
                },
                s.target,
                s.params
            );
            // The failed sub-LVs by name: a detach replaces the log as it removes legs.
            let images = dead
                .iter()
                .filter_map(|i| s.legs.get(*i).cloned())
                .chain(s.log.clone().filter(|_| log))
                .collect();
            self.failed.insert(
                lv.uuid.clone(),
                Failed {
                    lv: lv.clone(),
                    legs: dead,
                    images,
                    log,
                    since: now,
                    action: "deciding",
                    error: None,
                },
            );
        }
        (true, stop)
    }

    pub(crate) fn stopping(&mut self, tag: u64, lv: &LvRef) {
        self.stopping.insert(tag, lv.uuid.clone());
    }

    pub(crate) fn deciding(&mut self, tag: u64, lv: &LvRef) {
        self.deciding.insert(tag, lv.uuid.clone());
    }

    /// The VG's own policy was read (`None`: it sets none; an error: this node's is used):
    /// whether `tag` was the watcher's, and what to do next.
    pub(crate) fn policy_read(
        &mut self,
        tag: u64,
        result: Result<Option<Detach>, String>,
    ) -> (bool, Vec<Follow>) {
        let Some(uuid) = self.deciding.remove(&tag) else {
            return (false, Vec::new());
        };
        let Some(f) = self.failed.get_mut(&uuid) else {
            return (true, Vec::new());
        };
        let policy = match result {
            Ok(p) => p.unwrap_or(self.policy),
            Err(e) => {
                log::warn!(
                    "{}: cannot read VG {}'s detach policy ({e}); using this node's",
                    f.lv,
                    f.lv.vg
                );
                self.policy
            }
        };
        let next = match policy {
            Detach::Local => {
                f.action = "stopped";
                Follow::Stop(f.lv.clone())
            }
            Detach::Global if f.images.len() != f.legs.len() + usize::from(f.log) => {
                let e = format!(
                    "cannot name the image LVs of leg(s) {:?}{} from the live table",
                    f.legs,
                    if f.log { " and the log" } else { "" }
                );
                log::error!("{}: {e}; stopping I/O on this node instead", f.lv);
                f.action = "stopped";
                f.error = Some(e);
                Follow::Stop(f.lv.clone())
            }
            Detach::Global => {
                f.action = "detaching";
                Follow::Detach(f.lv.clone(), f.images.clone())
            }
        };
        (true, vec![next])
    }

    pub(crate) fn detaching(&mut self, tag: u64, lv: &LvRef) {
        self.detaching.insert(tag, lv.uuid.clone());
    }

    /// The LV and image LVs of the detach commit in flight under `tag`.
    pub(crate) fn detach_job(&self, tag: u64) -> Option<(LvRef, Vec<String>)> {
        let f = self.failed.get(self.detaching.get(&tag)?)?;
        Some((f.lv.clone(), f.images.clone()))
    }

    /// The reload after a detach finished here; a reload that failed leaves the mirror
    /// holding writes, so I/O is stopped instead.
    pub(crate) fn reloaded(
        &mut self,
        lv: &LvRef,
        result: Result<(), String>,
        now: u64,
    ) -> Vec<Follow> {
        let Some(f) = self.failed.get_mut(&lv.uuid) else {
            return Vec::new();
        };
        match result {
            Ok(()) => {
                log::error!(
                    "{lv}: reloaded without the failed leg(s) {:?}; I/O goes on here {} ms \
                     after the failure was seen",
                    f.legs,
                    now.saturating_sub(f.since)
                );
                f.action = "detached";
                Vec::new()
            }
            Err(e) => {
                log::error!(
                    "{lv}: reload without the failed leg(s) failed: {e}; stopping I/O on this \
                     node instead"
                );
                f.action = "stopped";
                f.error = Some(e);
                vec![Follow::Stop(f.lv.clone())]
            }
        }
    }

    /// Whether this node stopped the LV's I/O (an error table it must keep).
    pub(crate) fn is_stopped(&self, uuid: &str) -> bool {
        self.failed.get(uuid).is_some_and(|f| f.action == "stopped")
    }

    /// LVs no longer active here (deactivated), by `active(uuid)`: their failures are
    /// forgotten.
    pub(crate) fn retain_active(&mut self, active: impl Fn(&str) -> bool) {
        self.failed.retain(|u, _| active(u));
    }

    pub(crate) fn has_failed(&self) -> bool {
        !self.failed.is_empty()
    }

    pub(crate) fn status(&self, now: u64) -> Vec<FailedLv> {
        self.failed
            .values()
            .map(|f| FailedLv {
                vg: f.lv.vg.clone(),
                lv: f.lv.name.clone(),
                uuid: f.lv.uuid.clone(),
                dead_legs: f.legs.clone(),
                dead_log: f.log,
                action: f.action.into(),
                for_ms: now.saturating_sub(f.since),
                error: f.error.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_and_raid_status_lines() {
        assert_eq!(
            dead_legs("mirror", "2 253:1 253:2 512/512 1 AA 1 core"),
            Some(vec![])
        );
        assert_eq!(
            dead_legs("mirror", "2 253:1 253:2 500/512 1 AD 1 core"),
            Some(vec![1])
        );
        assert_eq!(
            dead_legs("mirror", "3 253:1 253:2 253:3 512/512 1 DAS 3 disk 253:0 A"),
            Some(vec![0, 2])
        );
        assert_eq!(
            dead_legs("raid", "raid1 2 AD 512/512 idle 0 0 -"),
            Some(vec![1])
        );
        assert_eq!(
            dead_legs("raid", "raid1 2 Aa 12/512 recover 0 0 -"),
            Some(vec![])
        );
        assert_eq!(dead_legs("linear", "8:0 0"), None);
        // A failed disk log: the legs are healthy, dm-log says D (I/O error) or F (flush).
        let log = |l: &str| format!("2 253:1 253:2 512/512 1 AA {l}");
        assert_eq!(dead_legs("mirror", &log("3 disk 253:0 D")), Some(vec![]));
        assert!(failed_log("mirror", &log("3 disk 253:0 D")));
        assert!(failed_log("mirror", &log("3 disk 253:0 F")));
        assert!(!failed_log("mirror", &log("3 disk 253:0 A")));
        assert!(!failed_log("mirror", &log("1 core")));
        assert!(failed_log(
            "mirror",
            "3 253:1 253:2 253:3 512/512 1 DAS 3 disk 253:0 D"
        ));
        assert!(!failed_log("raid", "raid1 2 AA 512/512 idle 0 0 -"));
        for bad in ["", "x", "2 253:1 253:2 1/2 1 AA 3 disk", "9 1 2 3"] {
            assert!(!failed_log("mirror", bad), "{bad}");
        }
        assert_eq!(dead_legs("raid", "raid5_ls 3 AAD 1/2 idle 0 0 -"), None);
        for bad in [
            "",
            "x",
            "2 253:1",
            "2 253:1 253:2 1/2 1 A 1 core",
            "9 1 2 3",
        ] {
            assert_eq!(dead_legs("mirror", bad), None, "{bad}");
        }
    }
}
