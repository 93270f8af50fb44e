//! The quorum fence (EVMS) on simulated clusters: a node that loses quorum freezes its shared
//! VGs at once and thaws them only when quorum holds again, across daemon restarts.

use clvmd_core::sim::{Sim, CLUSTER};
use clvmd_core::{FenceAction, Input, Node, NodeConfig, Output, QuorumLoss};
use clvmd_proto::{ErrorKind, Mode, Request, Response};
use halvm_dlm::LockspaceName;
use rand::{Rng, SeedableRng};

const LV1: &str = "abcdef-0123-4567-89AB-CDEF-0123-456789";

fn start(sim: &mut Sim, node: u32, vg: &str) {
    let r = sim.call(
        node,
        100,
        Request::LockStart {
            vg: vg.into(),
            lock_args: format!("1.0.0:{CLUSTER}"),
        },
    );
    assert_eq!(r, Response::Done, "lockstart on node {node}");
}

fn activate(sim: &mut Sim, node: u32, mode: Mode) -> Response {
    sim.call(
        node,
        1,
        Request::LvLock {
            vg: "vg".into(),
            lv_uuid: LV1.into(),
            lv_name: "lv1".into(),
            mode,
        },
    )
}

fn three(policy: QuorumLoss) -> Sim {
    let mut sim = Sim::with_policy(3, 11, policy);
    for n in 1..=3 {
        start(&mut sim, n, "vg");
        start(&mut sim, n, "other");
    }
    assert_eq!(activate(&mut sim, 1, Mode::Pr), Response::Done);
    assert_eq!(activate(&mut sim, 2, Mode::Pr), Response::Done);
    sim
}

fn kernel_frozen(sim: &Sim, node: u32) -> Vec<String> {
    sim.frozen
        .get(&node)
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default()
}

fn status_frozen(sim: &Sim, node: u32) -> Vec<(String, String)> {
    sim.node(node)
        .status()
        .frozen
        .into_iter()
        .map(|f| (f.vg, f.state))
        .collect()
}

#[test]
fn minority_freezes_every_shared_vg_at_once_and_thaws_on_heal() {
    let mut sim = three(QuorumLoss::Freeze);
    let t0 = sim.now;
    sim.partition(&[1]);
    sim.run(10_000);
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    assert!(kernel_frozen(&sim, 2).is_empty() && kernel_frozen(&sim, 3).is_empty());
    // Bounded: the freeze is asked for on the quorum change itself, no timer in between.
    let freezes: Vec<u64> = sim
        .fence_log
        .iter()
        .filter(|(_, n, a)| *n == 1 && matches!(a, FenceAction::Freeze { .. }))
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(freezes, [t0, t0]);
    assert!(sim.fence_log.iter().all(
        |(_, _, a)| !matches!(a, FenceAction::Freeze { how, .. } if *how != QuorumLoss::Freeze)
    ));
    assert_eq!(
        status_frozen(&sim, 1),
        [
            ("other".to_string(), "frozen".to_string()),
            ("vg".to_string(), "frozen".to_string())
        ]
    );
    // No metadata change, no activation while frozen.
    let r = sim.call(
        1,
        5,
        Request::Lock {
            scope: clvmd_proto::Scope::Vg("vg".into()),
            mode: Mode::Ex,
            wait_ms: 0,
        },
    );
    assert!(
        matches!(
            r,
            Response::Failed {
                kind: ErrorKind::NoQuorum,
                ..
            }
        ),
        "{r:?}"
    );
    // The majority goes on.
    assert_eq!(activate(&mut sim, 3, Mode::Pr), Response::Done);

    sim.heal();
    sim.run(10_000);
    assert!(kernel_frozen(&sim, 1).is_empty());
    assert!(status_frozen(&sim, 1).is_empty());
    let thaws = sim
        .fence_log
        .iter()
        .filter(|(_, n, a)| *n == 1 && matches!(a, FenceAction::Thaw { .. }))
        .count();
    assert_eq!(thaws, 2);
}

#[test]
fn fail_io_policy_is_what_the_driver_is_asked_for() {
    let mut sim = three(QuorumLoss::FailIo);
    sim.partition(&[2]);
    sim.run(10_000);
    assert_eq!(kernel_frozen(&sim, 2), ["other", "vg"]);
    assert!(sim.frozen[&2].values().all(|h| *h == QuorumLoss::FailIo));
    assert_eq!(sim.node(2).status().frozen[0].how, "fail-io");
    sim.heal();
    sim.run(10_000);
    assert!(kernel_frozen(&sim, 2).is_empty());
}

#[test]
fn restarted_daemon_thaws_what_it_froze_only_once_quorum_holds() {
    let mut sim = three(QuorumLoss::Freeze);
    sim.partition(&[1]);
    sim.run(10_000);
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    sim.restart_daemon(1);
    sim.run(10_000);
    // Still in the minority: the new daemon knows the VGs are frozen and leaves them so.
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    assert_eq!(status_frozen(&sim, 1).len(), 2);
    assert!(!sim
        .fence_log
        .iter()
        .any(|(_, n, a)| *n == 1 && matches!(a, FenceAction::Thaw { .. })));
    sim.heal();
    sim.run(10_000);
    assert!(kernel_frozen(&sim, 1).is_empty());
    assert!(status_frozen(&sim, 1).is_empty());
    // It adopts its activation lock as before and keeps it exclusive against EX elsewhere.
    start(&mut sim, 1, "vg");
    assert_eq!(activate(&mut sim, 1, Mode::Pr), Response::Done);
    assert!(matches!(
        activate(&mut sim, 3, Mode::Ex),
        Response::Busy { .. }
    ));
}

#[test]
fn a_crashed_minority_node_comes_back_with_nothing_frozen() {
    let mut sim = three(QuorumLoss::Freeze);
    sim.partition(&[1]);
    sim.run(10_000);
    sim.crash(1);
    sim.heal();
    sim.reboot(1);
    sim.run(10_000);
    assert!(kernel_frozen(&sim, 1).is_empty());
    assert!(status_frozen(&sim, 1).is_empty());
}

/// Drives one node by hand so quorum can flap while a freeze is still in flight.
#[test]
fn quorum_flapping_mid_freeze_ends_thawed_and_mid_thaw_ends_frozen() {
    let mut n = Node::new(NodeConfig {
        node_id: 1,
        node_name: "n1".into(),
        quorum_loss: QuorumLoss::Freeze,
        detach: clvmd_core::Detach::Global,
    });
    n.step(0, Input::ClusterName(Some(CLUSTER.into())));
    n.step(0, Input::Membership { members: vec![1] });
    n.step(0, Input::Quorum { quorate: true });
    let outs = n.step(
        0,
        Input::Request {
            conn: 1,
            request: Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        },
    );
    assert!(outs.iter().any(|o| matches!(o, Output::Join { .. })));
    n.step(
        1,
        Input::Joined {
            ls: LockspaceName::for_vg("vg").unwrap(),
            result: Ok(false),
        },
    );
    let fences = |outs: &[Output]| -> Vec<(u64, FenceAction)> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Fence { tag, action } => Some((*tag, action.clone())),
                _ => None,
            })
            .collect()
    };
    // Lost: one freeze.
    let f = fences(&n.step(2, Input::Quorum { quorate: false }));
    assert_eq!(f.len(), 1);
    assert!(matches!(f[0].1, FenceAction::Freeze { .. }));
    // Regained before the freeze finished: nothing yet (one action per VG at a time)...
    assert!(fences(&n.step(3, Input::Quorum { quorate: true })).is_empty());
    // ...then the thaw as soon as it did.
    let t = fences(&n.step(
        4,
        Input::FenceDone {
            tag: f[0].0,
            result: Ok(()),
        },
    ));
    assert!(matches!(&t[..], [(_, FenceAction::Thaw { .. })]));
    // Lost again mid-thaw: the freeze follows the thaw.
    assert!(fences(&n.step(5, Input::Quorum { quorate: false })).is_empty());
    let f2 = fences(&n.step(
        6,
        Input::FenceDone {
            tag: t[0].0,
            result: Ok(()),
        },
    ));
    assert!(matches!(&f2[..], [(_, FenceAction::Freeze { .. })]));
    n.step(
        7,
        Input::FenceDone {
            tag: f2[0].0,
            result: Ok(()),
        },
    );
    assert_eq!(n.status().frozen[0].state, "frozen");
    // A failed thaw is retried after a second.
    let t2 = fences(&n.step(8, Input::Quorum { quorate: true }));
    n.step(
        9,
        Input::FenceDone {
            tag: t2[0].0,
            result: Err("EBUSY".into()),
        },
    );
    assert_eq!(n.status().frozen[0].error.as_deref(), Some("EBUSY"));
    assert_eq!(n.next_wake(), Some(1009));
    assert!(fences(&n.step(500, Input::Tick)).is_empty());
    let t3 = fences(&n.step(1009, Input::Tick));
    assert!(matches!(&t3[..], [(_, FenceAction::Thaw { .. })]));
    n.step(
        1010,
        Input::FenceDone {
            tag: t3[0].0,
            result: Ok(()),
        },
    );
    assert!(n.status().frozen.is_empty());
}

/// Random partitions, heals, crashes and daemon restarts: once things settle, a node's shared
/// VGs are frozen exactly when it is not quorate.
#[test]
fn frozen_exactly_when_not_quorate_under_random_faults() {
    for seed in 0..40u64 {
        let mut sim = three(QuorumLoss::Freeze);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut down: Option<u32> = None;
        for _ in 0..12 {
            match rng.gen_range(0..5) {
                0 => sim.partition(&[rng.gen_range(1..=3)]),
                1 => sim.heal(),
                2 => sim.restart_daemon(rng.gen_range(1..=3)),
                3 if down.is_none() => {
                    let n = rng.gen_range(1..=3);
                    sim.crash(n);
                    down = Some(n);
                }
                _ => {
                    if let Some(n) = down.take() {
                        sim.reboot(n);
                    }
                }
            }
            sim.run(10_000);
            for id in sim.alive_nodes() {
                let st = sim.node(id).status();
                let frozen = kernel_frozen(&sim, id);
                if st.quorate {
                    assert!(
                        frozen.is_empty(),
                        "seed {seed}: node {id} quorate but frozen {frozen:?}"
                    );
                } else {
                    let started: Vec<String> = st
                        .lockspaces
                        .iter()
                        .filter(|l| l.name != "lvm_global")
                        .map(|l| l.name.trim_start_matches("lvm_").to_string())
                        .collect();
                    for vg in started {
                        assert!(
                            frozen.contains(&vg),
                            "seed {seed}: node {id} not quorate, {vg} not frozen"
                        );
                    }
                }
                assert!(
                    st.frozen.iter().all(|f| f.state == "frozen"),
                    "seed {seed}: {:?}",
                    st.frozen
                );
            }
        }
    }
}
