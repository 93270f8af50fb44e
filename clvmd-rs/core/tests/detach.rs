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
    cluster_seeded(policy, 5)
}

fn cluster_seeded(policy: Detach, seed: u64) -> Sim {
    let mut sim = Sim::new(3, seed);
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

/// A cluster with a two-leg mirror LV1 active on nodes 1 and 2, its legs in the metadata.
fn mirrored(policy: Detach, legs: u32) -> Sim {
    let mut sim = cluster(policy);
    sim.disk_legs.insert(LV1.into(), legs);
    for n in [1, 2] {
        sim.create_dev(n, LV1);
    }
    sim
}

fn legs_on(sim: &Sim, n: u32) -> u32 {
    sim.dev(n, LV1).expect("active").legs
}

#[test]
fn global_policy_detaches_the_leg_on_every_node_and_io_goes_on() {
    let mut sim = mirrored(Detach::Global, 0b11);
    let t0 = sim.now;
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    // One commit, by the node that saw it, leaving leg 0.
    assert_eq!(sim.detach_log.len(), 1, "{:?}", sim.detach_log);
    let (t, node, uuid, left) = sim.detach_log[0].clone();
    assert_eq!((node, uuid.as_str(), left), (1, LV1, 0b01));
    assert!(t - t0 <= WATCH_MS, "committed after {} ms", t - t0);
    // Every node with the LV active reloaded without it; nobody stopped I/O.
    assert_eq!(legs_on(&sim, 1), 0b01);
    assert_eq!(legs_on(&sim, 2), 0b01);
    assert!(sim.stopped.is_empty(), "{:?}", sim.stopped);
    let refreshed: Vec<u32> = sim
        .dm_log
        .iter()
        .filter(|(_, a)| matches!(a, clvmd_core::DmAction::Refresh { .. }))
        .map(|(n, _)| *n)
        .collect();
    assert!(
        refreshed.contains(&1) && refreshed.contains(&2),
        "{refreshed:?}"
    );
    assert!(
        !refreshed.contains(&3),
        "node3 has nothing active: {refreshed:?}"
    );
    assert_eq!(failed(&sim, 1), [(vec![1], "detached".to_string())]);
    assert!(failed(&sim, 2).is_empty());
    let st = sim.node(1).status();
    assert_eq!(st.io_blocked("vg", LV1), None);
    // Done once: later polls find the LV linear and leave it alone.
    sim.run(5 * WATCH_MS);
    assert_eq!(sim.detach_log.len(), 1);
}

#[test]
fn two_nodes_seeing_one_failure_commit_the_detach_once() {
    let mut sim = mirrored(Detach::Global, 0b11);
    for n in [1, 2] {
        sim.lv_status
            .insert((n, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    }
    sim.run(5 * WATCH_MS);
    assert_eq!(sim.detach_log.len(), 1, "{:?}", sim.detach_log);
    assert_eq!((legs_on(&sim, 1), legs_on(&sim, 2)), (0b01, 0b01));
    assert!(sim.stopped.is_empty(), "{:?}", sim.stopped);
    for n in [1, 2] {
        assert_eq!(failed(&sim, n), [(vec![1], "detached".to_string())]);
    }
}

#[test]
fn legs_are_named_by_the_live_table_after_an_earlier_detach() {
    let mut sim = mirrored(Detach::Global, 0b111);
    sim.lv_status.insert(
        (1, LV1.into()),
        (
            "mirror".into(),
            "3 253:1 253:2 253:3 9/9 1 ADA 1 core".into(),
        ),
    );
    sim.run(5 * WATCH_MS);
    assert_eq!((legs_on(&sim, 1), legs_on(&sim, 2)), (0b101, 0b101));
    // Leg 0 of node2's two-leg table is the original leg 0.
    sim.lv_status.insert(
        (2, LV1.into()),
        ("mirror".into(), "2 253:1 253:2 9/9 1 DA 1 core".into()),
    );
    sim.run(5 * WATCH_MS);
    assert_eq!(sim.detach_log.len(), 2, "{:?}", sim.detach_log);
    assert_eq!((legs_on(&sim, 1), legs_on(&sim, 2)), (0b100, 0b100));
    assert!(sim.stopped.is_empty());
}

#[test]
fn a_detach_that_cannot_commit_stops_io_here_instead() {
    let mut sim = mirrored(Detach::Global, 0b11);
    // Another command holds the VG lock on node2 past the detach's wait.
    let r = sim.call(
        2,
        7,
        Request::Lock {
            scope: clvmd_proto::Scope::Vg("vg".into()),
            mode: Mode::Ex,
            wait_ms: 0,
        },
    );
    assert!(matches!(r, Response::Granted { .. }), "{r:?}");
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(15 * WATCH_MS);
    assert!(sim.detach_log.is_empty());
    assert_eq!(sim.stopped.len(), 1, "{:?}", sim.stopped);
    assert_eq!(sim.stopped[0].1, 1);
    assert_eq!(failed(&sim, 1), [(vec![1], "stopped".to_string())]);
    assert!(sim.node(1).status().io_blocked("vg", LV1).is_some());
    assert_eq!(legs_on(&sim, 2), 0b11, "node2 keeps both legs");
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

#[test]
fn a_vg_policy_overrides_the_nodes_both_ways() {
    // Nodes say global, the VG says local: only node1 stops, nothing is committed.
    let mut sim = mirrored(Detach::Global, 0b11);
    sim.vg_detach.insert("vg".into(), Detach::Local);
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert!(sim.detach_log.is_empty(), "{:?}", sim.detach_log);
    assert_eq!(sim.stopped.len(), 1, "{:?}", sim.stopped);
    assert_eq!(failed(&sim, 1), [(vec![1], "stopped".to_string())]);
    assert_eq!(legs_on(&sim, 2), 0b11);
    // Nodes say local, the VG says global: detached everywhere.
    let mut sim = mirrored(Detach::Local, 0b11);
    sim.vg_detach.insert("vg".into(), Detach::Global);
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert!(sim.stopped.is_empty(), "{:?}", sim.stopped);
    assert_eq!(sim.detach_log.len(), 1);
    assert_eq!((legs_on(&sim, 1), legs_on(&sim, 2)), (0b01, 0b01));
}

/// Under many interleavings (seeds), with the LV active on all three nodes and the failure
/// seen by one, two or three of them at staggered times: one commit, every node ends with the
/// remaining leg, nobody stops I/O.
#[test]
fn any_interleaving_of_nodes_seeing_the_failure_detaches_once() {
    for seed in 0..60u64 {
        let mut sim = cluster_seeded(Detach::Global, seed);
        assert_eq!(sim.call(3, 1, lv(Mode::Pr)), Response::Done);
        sim.disk_legs.insert(LV1.into(), 0b11);
        for n in 1..=3 {
            sim.create_dev(n, LV1);
        }
        let seers: Vec<u32> = (1..=3).filter(|n| (seed >> (n - 1)) & 1 == 1).collect();
        let seers = if seers.is_empty() { vec![2] } else { seers };
        for (i, n) in seers.iter().enumerate() {
            sim.lv_status
                .insert((*n, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
            sim.run((seed % 3) * 300 * i as u64);
        }
        sim.run(6 * WATCH_MS);
        assert_eq!(sim.detach_log.len(), 1, "seed {seed}: {:?}", sim.detach_log);
        for n in 1..=3 {
            assert_eq!(legs_on(&sim, n), 0b01, "seed {seed}, node {n}");
            assert_eq!(sim.node(n).status().io_blocked("vg", LV1), None);
        }
        assert!(sim.stopped.is_empty(), "seed {seed}: {:?}", sim.stopped);
    }
}

/// The node that committed the detach keeps its old table until its own reload is done: a
/// poll in between still reads the dead leg and must not start a second round (in the lab it
/// did, and the second detach, finding the LV linear, stopped I/O to a healthy LV).
#[test]
fn a_poll_during_this_nodes_reload_does_not_see_the_failure_again() {
    let mut sim = mirrored(Detach::Global, 0b11);
    sim.dm_held.insert(1);
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert_eq!(sim.detach_log.len(), 1, "{:?}", sim.detach_log);
    assert_eq!(failed(&sim, 1), [(vec![1], "reloading".to_string())]);
    assert_eq!(legs_on(&sim, 1), 0b11, "node1's reload is held");
    sim.dm_held.clear();
    sim.run(5 * WATCH_MS);
    assert_eq!(failed(&sim, 1), [(vec![1], "detached".to_string())]);
    assert_eq!((legs_on(&sim, 1), legs_on(&sim, 2)), (0b01, 0b01));
    let node1_refreshes = sim
        .dm_log
        .iter()
        .filter(|(n, a)| *n == 1 && matches!(a, clvmd_core::DmAction::Refresh { .. }))
        .count();
    assert_eq!(node1_refreshes, 1, "{:?}", sim.dm_log);
    assert!(sim.stopped.is_empty(), "{:?}", sim.stopped);
}

/// Two nodes see leg 1 of a three-leg mirror fail. Whichever commits first, the other may
/// reload (legs 0 and 2 left, renumbered 0 and 1) before its own detach runs: the legs are
/// named by their images when the failure is read, so the healthy third leg is never taken
/// for the dead one.
#[test]
fn a_second_node_detaching_after_it_reloaded_never_removes_a_healthy_leg() {
    for seed in 0..40u64 {
        let mut sim = cluster_seeded(Detach::Global, seed);
        sim.disk_legs.insert(LV1.into(), 0b111);
        for n in [1, 2] {
            sim.create_dev(n, LV1);
        }
        for n in [1, 2] {
            sim.lv_status.insert(
                (n, LV1.into()),
                (
                    "mirror".into(),
                    "3 253:1 253:2 253:3 9/9 1 ADA 1 core".into(),
                ),
            );
        }
        sim.run(6 * WATCH_MS);
        assert_eq!(
            sim.disk_legs[LV1], 0b101,
            "seed {seed}: {:?}",
            sim.detach_log
        );
        assert_eq!(sim.detach_log.len(), 1, "seed {seed}: {:?}", sim.detach_log);
        assert_eq!((legs_on(&sim, 1), legs_on(&sim, 2)), (0b101, 0b101));
        assert!(sim.stopped.is_empty(), "seed {seed}: {:?}", sim.stopped);
    }
}

/// A node that stopped an LV's I/O (local policy) keeps its error table when another node
/// commits to the VG: the propagated reload would otherwise give it the mirror back.
#[test]
fn a_commit_elsewhere_does_not_reload_an_lv_stopped_here() {
    let mut sim = mirrored(Detach::Local, 0b11);
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert_eq!(failed(&sim, 1), [(vec![1], "stopped".to_string())]);
    let before = sim.dm_log.len();
    // node2 commits a change to the VG (its VG lock released with a new seqno).
    let r = sim.call(
        2,
        9,
        Request::Lock {
            scope: clvmd_proto::Scope::Vg("vg".into()),
            mode: Mode::Ex,
            wait_ms: 0,
        },
    );
    assert!(matches!(r, Response::Granted { .. }), "{r:?}");
    let r = sim.call(
        2,
        9,
        Request::Unlock {
            scope: clvmd_proto::Scope::Vg("vg".into()),
            seqno: Some(7),
            removed: false,
            quiet: false,
        },
    );
    assert_eq!(r, Response::Done);
    sim.run(3 * WATCH_MS);
    let node1: Vec<_> = sim.dm_log[before..]
        .iter()
        .filter(|(n, a)| *n == 1 && matches!(a, clvmd_core::DmAction::Refresh { .. }))
        .collect();
    assert!(node1.is_empty(), "{node1:?}");
    assert!(sim.node(1).status().io_blocked("vg", LV1).is_some());
}

/// Issue 15: a node that commits and dies before announcing it makes the survivors check
/// the disk and reload, but never an LV one of them stopped on purpose (local policy): its
/// error table stays.
#[test]
fn a_node_dying_after_an_unannounced_commit_does_not_reload_an_lv_stopped_here() {
    let mut sim = mirrored(Detach::Local, 0b11);
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert_eq!(failed(&sim, 1), [(vec![1], "stopped".to_string())]);
    let r = sim.call(
        3,
        9,
        Request::Lock {
            scope: clvmd_proto::Scope::Vg("vg".into()),
            mode: Mode::Ex,
            wait_ms: 0,
        },
    );
    assert!(matches!(r, Response::Granted { .. }), "{r:?}");
    sim.disk_legs.insert(LV1.into(), 0b01);
    sim.seqno += 1;
    let before = sim.dm_log.len();
    sim.crash(3);
    sim.run(3 * WATCH_MS);
    let refreshed = |n: u32| {
        sim.dm_log[before..]
            .iter()
            .filter(|(m, a)| *m == n && matches!(a, clvmd_core::DmAction::Refresh { .. }))
            .count()
    };
    assert_eq!(refreshed(1), 0);
    assert!(sim.node(1).status().io_blocked("vg", LV1).is_some());
    // node2 had it healthy: reloaded to the new metadata.
    assert_eq!(refreshed(2), 1);
    assert_eq!(legs_on(&sim, 2), 0b01);
}

const DISK_HEALTHY: &str = "2 253:1 253:2 16384/16384 1 AA 3 disk 253:9 A";
const LOG_DEAD: &str = "2 253:1 253:2 16384/16384 1 AA 3 disk 253:9 D";

/// A two-leg mirror with a disk log (generation 1), active on nodes 1 and 2.
fn disk_logged(policy: Detach) -> Sim {
    let mut sim = cluster(policy);
    sim.disk_legs.insert(LV1.into(), 0b11);
    sim.disk_log.insert(LV1.into(), 1);
    for n in [1, 2] {
        sim.create_dev(n, LV1);
        sim.lv_status
            .insert((n, LV1.into()), ("mirror".into(), DISK_HEALTHY.into()));
    }
    sim.run(3 * WATCH_MS);
    assert!(sim.stopped.is_empty() && sim.detach_log.is_empty());
    sim
}

fn failed_log(sim: &Sim, n: u32) -> Vec<(bool, Vec<usize>, String)> {
    sim.node(n)
        .status()
        .failed_lvs
        .into_iter()
        .map(|f| (f.dead_log, f.dead_legs, f.action))
        .collect()
}

#[test]
fn a_failed_disk_log_is_replaced_cluster_wide_once_and_io_goes_on() {
    // lvm2's mirror_log_fault_policy = "allocate" under policy.detach = global: both nodes see
    // the log fail (both write); one commit replaces it (the other finds its id gone), every
    // node reloads with the new log and both legs, nobody stops I/O.
    let mut sim = disk_logged(Detach::Global);
    let t0 = sim.now;
    for n in [1, 2] {
        sim.lv_status
            .insert((n, LV1.into()), ("mirror".into(), LOG_DEAD.into()));
    }
    sim.run(6 * WATCH_MS);
    assert_eq!(sim.disk_log[LV1], 2, "replaced once: {:?}", sim.detach_log);
    assert_eq!(sim.detach_log.len(), 1, "{:?}", sim.detach_log);
    let (t, _, uuid, legs) = sim.detach_log[0].clone();
    assert_eq!((uuid.as_str(), legs), (LV1, 0b11), "no leg removed");
    assert!(t - t0 <= 2 * WATCH_MS, "committed after {} ms", t - t0);
    for n in [1, 2] {
        let d = sim.dev(n, LV1).unwrap();
        assert_eq!((d.legs, d.log, d.suspended), (0b11, 2, false), "node{n}");
    }
    assert!(sim.stopped.is_empty(), "{:?}", sim.stopped);
    let seen: Vec<_> = [1, 2].iter().flat_map(|n| failed_log(&sim, *n)).collect();
    assert!(
        seen.iter().all(|(log, legs, _)| *log && legs.is_empty()),
        "{seen:?}"
    );
    assert!(seen.iter().any(|(_, _, a)| a == "detached"), "{seen:?}");
    assert_eq!(sim.node(1).status().io_blocked("vg", LV1), None);
    // The new log is healthy: later polls change nothing.
    sim.run(5 * WATCH_MS);
    assert_eq!((sim.disk_log[LV1], sim.detach_log.len()), (2, 1));
}

#[test]
fn a_failed_disk_log_without_room_for_another_becomes_a_core_log() {
    let mut sim = disk_logged(Detach::Global);
    sim.log_room = false;
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LOG_DEAD.into()));
    sim.run(6 * WATCH_MS);
    assert_eq!(sim.disk_log[LV1], 0, "core log: {:?}", sim.detach_log);
    for n in [1, 2] {
        let d = sim.dev(n, LV1).unwrap();
        assert_eq!((d.legs, d.log), (0b11, 0), "node{n}");
    }
    assert!(sim.stopped.is_empty(), "{:?}", sim.stopped);
    assert_eq!(
        failed_log(&sim, 1),
        [(true, vec![], "detached".to_string())]
    );
}

#[test]
fn a_failed_disk_log_under_local_policy_stops_io_here_only() {
    let mut sim = disk_logged(Detach::Local);
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LOG_DEAD.into()));
    sim.run(5 * WATCH_MS);
    assert_eq!(sim.stopped.len(), 1, "{:?}", sim.stopped);
    assert_eq!(sim.stopped[0].1, 1);
    assert_eq!(sim.disk_log[LV1], 1, "metadata unchanged");
    assert_eq!(failed_log(&sim, 1), [(true, vec![], "stopped".to_string())]);
    assert!(failed_log(&sim, 2).is_empty());
    let why = sim.node(1).status().io_blocked("vg", LV1).expect("blocked");
    assert!(why.contains("mirror log failed"), "{why}");
    assert_eq!(sim.dev(2, LV1).unwrap().log, 1, "node2 keeps its log");
}
