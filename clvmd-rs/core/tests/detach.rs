//! Mirror leg failures on simulated clusters (policy.detach): the daemon notices a dead leg
//! from the status it polls, in place of dmeventd.

use clvmd_core::detach::WATCH_MS;
use clvmd_core::sim::{Sim, CLUSTER};
use clvmd_core::Detach;
use clvmd_proto::{Mode, Request, Response};

const LV1: &str = "abcdef-0123-4567-89AB-CDEF-0123-456789";
const HEALTHY: &str = "2 253:1 253:2 16384/16384 1 AA 1 core";
const LEG1_DEAD: &str = "2 253:1 253:2 16384/16384 1 AD 1 core";

fn lv(mode: Mode) -> Request {
    Request::LvLock {
        vg: "vg".into(),
        lv_uuid: LV1.into(),
        lv_name: "m".into(),
        mode,
    }
}

fn cluster(policy: Detach) -> Sim {
    let mut sim = Sim::new(3, 5);
    sim.detach = policy;
    // Nodes started before the policy was set: restart their daemons with it.
    for n in 1..=3 {
        sim.restart_daemon(n);
    }
    for n in 1..=3 {
        let r = sim.call(
            n,
            100,
            Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        );
        assert_eq!(r, Response::Done);
    }
    for n in [1, 2] {
        assert_eq!(sim.call(n, 1, lv(Mode::Pr)), Response::Done);
        sim.lv_status
            .insert((n, LV1.into()), ("mirror".into(), HEALTHY.into()));
    }
    sim.run(3 * WATCH_MS);
    sim
}

fn failed(sim: &Sim, n: u32) -> Vec<(Vec<usize>, String)> {
    sim.node(n)
        .status()
        .failed_lvs
        .into_iter()
        .map(|f| (f.dead_legs, f.action))
        .collect()
}

#[test]
fn local_policy_stops_io_on_the_node_that_saw_the_failure_only() {
    let mut sim = cluster(Detach::Local);
    assert!(sim.stopped.is_empty());
    let t0 = sim.now;
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert_eq!(sim.stopped.len(), 1, "{:?}", sim.stopped);
    let (t, node, uuid) = sim.stopped[0].clone();
    assert_eq!((node, uuid.as_str()), (1, LV1));
    assert!(t - t0 <= WATCH_MS, "detected after {} ms", t - t0);
    assert_eq!(failed(&sim, 1), [(vec![1], "stopped".to_string())]);
    assert!(failed(&sim, 2).is_empty());
    // Reported once, stopped once: later polls leave a failed LV alone.
    sim.run(5 * WATCH_MS);
    assert_eq!(sim.stopped.len(), 1);
    // Deactivating it here clears the report.
    let r = sim.call(
        1,
        2,
        Request::LvUnlock {
            vg: "vg".into(),
            lv_uuid: LV1.into(),
            lv_name: "m".into(),
        },
    );
    assert_eq!(r, Response::Done);
    sim.run(2 * WATCH_MS);
    assert!(failed(&sim, 1).is_empty());
}

#[test]
fn global_policy_reports_without_stopping_io() {
    let mut sim = cluster(Detach::Global);
    sim.lv_status.insert(
        (2, LV1.into()),
        ("raid".into(), "raid1 2 DA 9/9 idle 0 0 -".into()),
    );
    sim.run(3 * WATCH_MS);
    assert!(sim.stopped.is_empty());
    assert_eq!(failed(&sim, 2), [(vec![0], "reported".to_string())]);
    assert!(failed(&sim, 1).is_empty());
}

#[test]
fn a_frozen_vg_is_not_polled_and_healthy_or_syncing_legs_are_not_failures() {
    let mut sim = cluster(Detach::Local);
    sim.lv_status.insert(
        (2, LV1.into()),
        ("raid".into(), "raid1 2 Aa 3/9 recover 0 0 -".into()),
    );
    // Quorum lost and regained with the membership unchanged (a thaw follows; after a
    // partition merge node 1 would stay frozen for good, quorum.rs).
    let view = |quorate| clvmd_core::Input::QuorumView {
        quorate,
        members: vec![1, 2, 3],
    };
    sim.input(1, view(false));
    sim.run(2 * WATCH_MS);
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert!(sim.stopped.is_empty(), "{:?}", sim.stopped);
    assert!(failed(&sim, 2).is_empty());
    sim.input(1, view(true));
    sim.run(3 * WATCH_MS);
    assert_eq!(sim.stopped.len(), 1);
}
