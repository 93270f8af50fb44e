//! The parent's decisions, free of I/O: how many children to fork now, whether to stop.
//!
//! Children are idle (blocked waiting for a connection) or busy (running one command). The
//! parent keeps one idle child at all times and tops up to `idle` while no command runs,
//! within `max` children in all, so at most `max` commands run at once and further
//! connections wait in the socket's backlog. Why not replace a child that accepted at once:
//! the fork and the new child's start compete with that command for the CPU (on a 1-vCPU
//! guest they lengthened every command); a second client arriving meanwhile still finds a
//! child waiting, and a burst of them gets one more each time a waiting child accepts.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Idle children kept ready (at least 1).
    pub idle: usize,
    /// Children in all, hence busy ones at most (at least `idle`).
    pub max: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("--idle must be at least 1")]
    NoIdle,
    #[error("--max ({max}) must be at least --idle ({idle})")]
    MaxBelowIdle { idle: usize, max: usize },
}

impl Limits {
    pub fn new(idle: usize, max: usize) -> Result<Limits, LimitsError> {
        if idle == 0 {
            return Err(LimitsError::NoIdle);
        }
        if max < idle {
            return Err(LimitsError::MaxBelowIdle { idle, max });
        }
        Ok(Limits { idle, max })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A child was forked (it starts idle).
    Forked(i32),
    /// A child accepted a connection and now runs a command.
    Accepted(i32),
    /// A child was reaped.
    Exited(i32),
    /// SIGTERM or SIGINT: end the idle children, let the busy ones finish.
    Stop,
    /// The idle children are told to exit (the parent learnt something its next children
    /// should start with: lvmeta's parsed-text memo); new ones replace them. Retired ones
    /// count toward nothing: they exit at once, unless one accepted a connection first.
    Retire,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    limits: Limits,
    idle: BTreeSet<i32>,
    busy: BTreeSet<i32>,
    retiring: BTreeSet<i32>,
    stopping: bool,
}

/// What a reaped child was, for the parent's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Was {
    Idle,
    Busy,
    /// Idle when retired: its exit was asked for.
    Retired,
    Unknown,
}

impl Pool {
    pub fn new(limits: Limits) -> Pool {
        Pool {
            limits,
            idle: BTreeSet::new(),
            busy: BTreeSet::new(),
            retiring: BTreeSet::new(),
            stopping: false,
        }
    }

    /// Applies `e`; for `Exited`, says what the child was.
    pub fn on(&mut self, e: Event) -> Was {
        match e {
            Event::Forked(pid) => {
                self.idle.insert(pid);
            }
            Event::Accepted(pid) => {
                // A pid already reaped (its exit read first) stays gone. A retired child
                // may have accepted before it saw it was retired: it runs that command.
                if self.idle.remove(&pid) || self.retiring.remove(&pid) {
                    self.busy.insert(pid);
                }
            }
            Event::Exited(pid) => {
                return if self.idle.remove(&pid) {
                    Was::Idle
                } else if self.busy.remove(&pid) {
                    Was::Busy
                } else if self.retiring.remove(&pid) {
                    Was::Retired
                } else {
                    Was::Unknown
                };
            }
            Event::Stop => self.stopping = true,
            Event::Retire => self.retiring.append(&mut self.idle),
        }
        Was::Unknown
    }

    /// Children to fork now: one if none is idle, up to `idle` idle ones while none is busy
    /// (module doc), within `max` in all; none once stopping.
    pub fn forks_wanted(&self) -> usize {
        if self.stopping {
            return 0;
        }
        // Retired children count until reaped: one may yet run a command.
        let all = self.idle.len() + self.busy.len() + self.retiring.len();
        let target = if self.busy.is_empty() {
            self.limits.idle
        } else {
            1
        };
        target
            .saturating_sub(self.idle.len())
            .min(self.limits.max.saturating_sub(all))
    }

    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Stopping and every child reaped: the parent may exit.
    pub fn done(&self) -> bool {
        self.stopping && self.idle.is_empty() && self.busy.is_empty() && self.retiring.is_empty()
    }

    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    pub fn busy(&self) -> usize {
        self.busy.len()
    }
}

/// When the parent parses the metadata texts its workers sent (`lvmeta::memo`): once no
/// command has run for `quiet`. Commands in a tight loop (a script) come faster and find the
/// CPU theirs; a command typed or run by an agent comes later and finds its text parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ahead {
    quiet: Duration,
    /// Since when texts wait and no command runs.
    since: Option<Instant>,
}

impl Ahead {
    pub fn new(quiet: Duration) -> Ahead {
        Ahead { quiet, since: None }
    }

    /// After every wake-up of the parent: whether to parse now. `waiting`: texts wait;
    /// `running`: a command runs (or the server stops).
    pub fn due(&mut self, now: Instant, waiting: bool, running: bool) -> bool {
        if !waiting || running {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        if now.duration_since(since) >= self.quiet {
            self.since = None;
            return true;
        }
        false
    }

    /// How long the parent may sleep before [`Ahead::due`] can say yes (None: until
    /// something else wakes it).
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.since
            .map(|s| self.quiet.saturating_sub(now.duration_since(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn texts_are_parsed_after_a_quiet_spell_only() {
        let q = Duration::from_millis(100);
        let ms = |n| Duration::from_millis(n);
        let t0 = Instant::now();
        let mut a = Ahead::new(q);
        // Nothing waits: never, and no timer.
        assert!(!a.due(t0, false, false));
        assert_eq!(a.wait(t0), None);
        // A tight loop: a command every 40 ms, texts waiting: never.
        let mut t = t0;
        for _ in 0..20 {
            assert!(!a.due(t, true, true));
            t += ms(10);
            assert!(!a.due(t, true, false));
            t += ms(30);
        }
        // The last command, then quiet: the timer runs from its end, due 100 ms on, once.
        assert!(!a.due(t, true, true));
        t += ms(10);
        assert!(!a.due(t, true, false));
        assert_eq!(a.wait(t), Some(q));
        assert_eq!(a.wait(t + ms(60)), Some(ms(40)));
        assert!(!a.due(t + ms(99), true, false));
        assert!(a.due(t + ms(100), true, false));
        assert_eq!(a.wait(t + ms(100)), None);
        assert!(!a.due(t + ms(300), false, false), "nothing left to parse");
    }

    fn fork_all(p: &mut Pool, next: &mut i32) {
        for _ in 0..p.forks_wanted() {
            *next += 1;
            p.on(Event::Forked(*next));
        }
    }

    #[test]
    fn tops_up_idle_children_only_while_no_command_runs() {
        let mut p = Pool::new(Limits::new(2, 32).unwrap());
        assert_eq!(p.forks_wanted(), 2);
        p.on(Event::Forked(10));
        p.on(Event::Forked(11));
        assert_eq!(p.forks_wanted(), 0);
        // One accepted: one still waits, so no fork competes with the command.
        p.on(Event::Accepted(10));
        assert_eq!((p.idle(), p.busy(), p.forks_wanted()), (1, 1, 0));
        assert_eq!(p.on(Event::Exited(10)), Was::Busy);
        assert_eq!(p.forks_wanted(), 1);
        p.on(Event::Forked(12));
        assert_eq!(p.forks_wanted(), 0);
    }

    #[test]
    fn a_child_is_always_waiting_while_commands_run() {
        let mut p = Pool::new(Limits::new(2, 32).unwrap());
        p.on(Event::Forked(1));
        p.on(Event::Forked(2));
        p.on(Event::Accepted(1));
        p.on(Event::Accepted(2));
        // Two commands run and nobody waits: one at once, not two.
        assert_eq!((p.idle(), p.busy(), p.forks_wanted()), (0, 2, 1));
        p.on(Event::Forked(3));
        assert_eq!(p.forks_wanted(), 0);
    }

    #[test]
    fn busy_children_are_capped_by_max() {
        let mut p = Pool::new(Limits::new(2, 3).unwrap());
        let mut next = 0;
        fork_all(&mut p, &mut next);
        p.on(Event::Accepted(1));
        fork_all(&mut p, &mut next);
        p.on(Event::Accepted(2));
        // Nobody waits: one more, the last within max.
        assert_eq!((p.busy(), p.idle(), p.forks_wanted()), (2, 0, 1));
        fork_all(&mut p, &mut next);
        p.on(Event::Accepted(3));
        // 3 busy = max: no fork although nobody waits.
        assert_eq!((p.busy(), p.idle(), p.forks_wanted()), (3, 0, 0));
        p.on(Event::Exited(2));
        assert_eq!(p.forks_wanted(), 1);
    }

    #[test]
    fn stop_waits_for_busy_children() {
        let mut p = Pool::new(Limits::new(2, 32).unwrap());
        p.on(Event::Forked(1));
        p.on(Event::Forked(2));
        p.on(Event::Accepted(1));
        p.on(Event::Stop);
        assert_eq!(p.forks_wanted(), 0);
        assert_eq!(p.on(Event::Exited(2)), Was::Idle);
        assert!(!p.done(), "a command still runs");
        p.on(Event::Exited(1));
        assert!(p.done());
    }

    #[test]
    fn late_or_unknown_reports_change_nothing() {
        let mut p = Pool::new(Limits::new(1, 4).unwrap());
        p.on(Event::Forked(1));
        assert_eq!(p.on(Event::Exited(1)), Was::Idle);
        p.on(Event::Accepted(1));
        assert_eq!((p.idle(), p.busy()), (0, 0));
        assert_eq!(p.on(Event::Exited(99)), Was::Unknown);
    }

    #[test]
    fn retired_children_are_replaced_and_may_still_run_a_command() {
        let mut p = Pool::new(Limits::new(2, 3).unwrap());
        let mut next = 0;
        fork_all(&mut p, &mut next);
        p.on(Event::Accepted(1));
        p.on(Event::Retire);
        // Child 2 was idle: retired, so one is forked at once (a command runs).
        assert_eq!((p.idle(), p.busy(), p.forks_wanted()), (0, 1, 1));
        fork_all(&mut p, &mut next);
        assert_eq!(p.on(Event::Exited(2)), Was::Retired);
        // One retired child accepted before it saw it: it runs that command.
        p.on(Event::Retire);
        p.on(Event::Accepted(3));
        assert_eq!((p.idle(), p.busy()), (0, 2));
        assert_eq!(p.on(Event::Exited(3)), Was::Busy);
        p.on(Event::Stop);
        p.on(Event::Exited(1));
        assert!(p.done());
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(Limits::new(0, 4), Err(LimitsError::NoIdle));
        assert_eq!(
            Limits::new(3, 2),
            Err(LimitsError::MaxBelowIdle { idle: 3, max: 2 })
        );
    }

    proptest! {
        /// Whatever happens (retirements included), the parent never holds more than `max`
        /// children, never more than `idle` idle ones, after a stop it forks nothing, and
        /// otherwise it leaves no moment without a child waiting unless `max` children run
        /// commands or are about to exit.
        #[test]
        fn invariants_hold(idle in 1usize..4, extra in 0usize..4,
                           ops in prop::collection::vec((0u8..6, 0usize..8), 0..80)) {
            let mut p = Pool::new(Limits::new(idle, idle + extra).unwrap());
            let mut next = 0;
            for (op, pick) in ops {
                fork_all(&mut p, &mut next);
                prop_assert!(p.idle() + p.busy() + p.retiring.len() <= idle + extra);
                prop_assert!(p.idle() <= idle);
                let idles: Vec<i32> = p.idle.iter().copied().collect();
                let all: Vec<i32> = p.idle.iter().chain(p.busy.iter()).copied().collect();
                match op {
                    0 if !idles.is_empty() => { p.on(Event::Accepted(idles[pick % idles.len()])); }
                    1 if !all.is_empty() => { p.on(Event::Exited(all[pick % all.len()])); }
                    2 => { p.on(Event::Stop); }
                    3 => { p.on(Event::Retire); }
                    // A retired child exits, or accepts first (then runs a command).
                    4 if !p.retiring.is_empty() => {
                        let r: Vec<i32> = p.retiring.iter().copied().collect();
                        let pid = r[pick % r.len()];
                        p.on(if pick % 2 == 0 { Event::Accepted(pid) } else { Event::Exited(pid) });
                    }
                    _ => {}
                }
                if p.stopping() {
                    prop_assert_eq!(p.forks_wanted(), 0);
                } else {
                    let mut q = p.clone();
                    fork_all(&mut q, &mut next);
                    prop_assert!(q.idle() >= 1 || q.busy() + q.retiring.len() == idle + extra);
                }
            }
        }
    }
}
