//! The quorum fence (EVMS) on simulated clusters: a node that loses quorum freezes its shared
//! VGs at once and thaws them only when quorum holds again with its membership continuous;
//! after a partition merge, a lost cluster connection or a daemon restart they stay frozen
//! for good (stranded).

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

fn thaws(sim: &Sim, node: u32) -> usize {
    sim.fence_log
        .iter()
        .filter(|(_, n, a)| *n == node && matches!(a, FenceAction::Thaw { .. }))
        .count()
}

fn assert_stranded(sim: &Sim, node: u32, why: &str) {
    let st = sim.node(node).status();
    assert_eq!(st.frozen.len(), 2, "{:?}", st.frozen);
    for f in &st.frozen {
        assert_eq!(f.state, "stranded", "{f:?}");
        let s = f.stranded.as_deref().unwrap_or_default();
        assert!(s.contains(why) && s.contains("Reboot this node"), "{s}");
    }
    let blocked = st
        .io_blocked("vg", LV1)
        .expect("the monitor sees the VG blocked");
    assert!(blocked.contains("frozen for good"), "{blocked}");
}

#[test]
fn minority_freezes_every_shared_vg_at_once_and_a_merge_back_never_thaws_it() {
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

    // Issue 15's hole, as it happened in the lab: at the heal corosync gives node 1 quorum
    // back a moment before dlm_controld on the majority expels it (a stateful merge: the
    // majority recovered its locks meanwhile). Thawing on that regain let node 1's writer
    // reach the disk. A merge back is not a continuous membership: never thawed.
    sim.heal();
    sim.run(10_000);
    assert!(sim.node(1).status().quorate);
    assert_eq!(thaws(&sim, 1), 0, "{:?}", sim.fence_log);
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    assert_stranded(&sim, 1, "partition merge");
    // The expulsion follows: corosync stops on node 1; the daemon stays up, still frozen.
    sim.expel(1);
    sim.run(10_000);
    assert_eq!(thaws(&sim, 1), 0);
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    assert!(!sim.node(1).status().quorate);
    assert_stranded(&sim, 1, "partition merge");
    // What the admin is told to do: reboot. Then the node serves again.
    sim.crash(1);
    sim.reboot(1);
    sim.run(10_000);
    assert!(kernel_frozen(&sim, 1).is_empty());
    start(&mut sim, 1, "vg");
    assert_eq!(activate(&mut sim, 1, Mode::Pr), Response::Done);
}

#[test]
fn a_quorum_flap_with_continuous_membership_thaws() {
    let mut sim = three(QuorumLoss::Freeze);
    let all = vec![1, 2, 3];
    sim.input(
        1,
        Input::QuorumView {
            quorate: false,
            members: all.clone(),
        },
    );
    sim.run(10_000);
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    sim.input(
        1,
        Input::QuorumView {
            quorate: true,
            members: all,
        },
    );
    sim.run(10_000);
    assert!(kernel_frozen(&sim, 1).is_empty());
    assert_eq!(thaws(&sim, 1), 2);
}

#[test]
fn losing_the_cluster_connection_freezes_at_once_and_never_thaws() {
    let mut sim = three(QuorumLoss::Freeze);
    let t0 = sim.now;
    // corosync (or dlm_controld with it) goes away under a running node: the others will
    // recover its locks, so its I/O must stop as on a quorum loss, and for good.
    sim.expel(2);
    sim.run(10_000);
    assert_eq!(kernel_frozen(&sim, 2), ["other", "vg"]);
    assert!(sim
        .fence_log
        .iter()
        .filter(|(_, n, _)| *n == 2)
        .all(|(t, _, a)| *t == t0 && matches!(a, FenceAction::Freeze { .. })));
    assert_stranded(&sim, 2, "connection to the cluster stack was lost");
    // A late quorum notification changes nothing.
    sim.input(
        2,
        Input::QuorumView {
            quorate: true,
            members: vec![1, 2, 3],
        },
    );
    sim.input(2, Input::Quorum { quorate: true });
    sim.run(10_000);
    assert_eq!(thaws(&sim, 2), 0);
    assert!(!sim.node(2).status().quorate);
    // No lock for a change or an activation either.
    let r = activate(&mut sim, 2, Mode::Pr);
    assert!(matches!(r, Response::Failed { .. }), "{r:?}");
}

#[test]
fn dlm_controld_dying_alone_freezes_at_once_and_never_thaws() {
    let mut sim = three(QuorumLoss::Freeze);
    let t0 = sim.now;
    // corosync stays up (quorum and membership unchanged); only dlm_controld goes away. The
    // other nodes' dlm_controld see it leave as a failure and recover node 2's locks.
    sim.input(2, Input::DlmControld { running: false });
    sim.run(10_000);
    assert_eq!(kernel_frozen(&sim, 2), ["other", "vg"]);
    assert!(sim
        .fence_log
        .iter()
        .filter(|(_, n, _)| *n == 2)
        .all(|(t, _, a)| *t == t0 && matches!(a, FenceAction::Freeze { .. })));
    assert_stranded(
        &sim,
        2,
        "dlm_controld stopped while this node had DLM lockspaces",
    );
    let st = sim.node(2).status();
    assert!(st.quorate, "corosync's quorum is shown as it is");
    let why = st.cluster_stack.expect("status says what is wrong");
    assert!(
        why.contains("dlm_controld is not running") && why.contains("reboot"),
        "{why}"
    );
    // The others go on.
    assert!(kernel_frozen(&sim, 1).is_empty() && kernel_frozen(&sim, 3).is_empty());
    // No lock for an activation or a change, said so.
    for r in [
        activate(&mut sim, 2, Mode::Pr),
        sim.call(
            2,
            1,
            Request::Lock {
                scope: clvmd_proto::Scope::Vg("vg".into()),
                mode: Mode::Ex,
                wait_ms: 0,
            },
        ),
    ] {
        assert!(
            matches!(&r, Response::Failed { kind: ErrorKind::NoDlm, message }
                if message.contains("dlm_controld is not running")),
            "{r:?}"
        );
    }
    // dlm_controld back (it would refuse the kernel's lockspaces), quorum views: no thaw.
    sim.input(2, Input::DlmControld { running: true });
    sim.input(
        2,
        Input::QuorumView {
            quorate: true,
            members: vec![1, 2, 3],
        },
    );
    sim.run(10_000);
    assert_eq!(thaws(&sim, 2), 0);
    assert_stranded(&sim, 2, "dlm_controld stopped");
    assert!(sim.node(2).status().cluster_stack.is_some());
}

#[test]
fn dlm_controld_gone_with_no_lockspace_only_refuses_until_it_is_back() {
    let mut n = Node::new(NodeConfig {
        node_id: 1,
        node_name: "n1".into(),
        quorum_loss: QuorumLoss::Freeze,
        detach: clvmd_core::Detach::Global,
        dg_failure: clvmd_proto::DgFailure::Dgdisable,
    });
    n.step(0, Input::ClusterName(Some(CLUSTER.into())));
    n.step(0, Input::Membership { members: vec![1] });
    n.step(0, Input::Quorum { quorate: true });
    assert!(step_fenced(&mut n, 1, Input::DlmControld { running: false }).is_empty());
    let start = Input::Request {
        conn: 1,
        request: Request::LockStart {
            vg: "vg".into(),
            lock_args: format!("1.0.0:{CLUSTER}"),
        },
    };
    let out = n.step(2, start.clone());
    assert!(
        out.iter().any(|o| matches!(o, Output::Reply { response: Response::Failed { kind: ErrorKind::NoDlm, message }, .. }
            if message.contains("dlm_controld is not running"))),
        "{out:?}"
    );
    assert!(
        !out.iter().any(|o| matches!(o, Output::Join { .. })),
        "{out:?}"
    );
    assert!(n.status().cluster_stack.is_some());
    // Back before any lockspace was joined: nothing was lost, the node serves again.
    n.step(3, Input::DlmControld { running: true });
    assert!(n.status().cluster_stack.is_none());
    let out = n.step(4, start);
    assert!(
        out.iter().any(|o| matches!(o, Output::Join { .. })),
        "{out:?}"
    );
    assert!(n.status().frozen.is_empty());
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
    assert_eq!(kernel_frozen(&sim, 2), ["other", "vg"]);
    assert!(sim.frozen[&2].values().all(|h| *h == QuorumLoss::FailIo));
    assert_stranded(&sim, 2, "partition merge");
}

#[test]
fn a_daemon_restarted_while_frozen_never_thaws() {
    let mut sim = three(QuorumLoss::Freeze);
    sim.partition(&[1]);
    sim.run(10_000);
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    sim.restart_daemon(1);
    sim.run(10_000);
    // The new daemon knows the VGs are frozen (the record under /run) and leaves them so:
    // what happened to this node's locks while no daemon watched is unknown.
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    assert_stranded(&sim, 1, "previous daemon");
    sim.heal();
    sim.run(10_000);
    assert!(sim.node(1).status().quorate);
    assert_eq!(thaws(&sim, 1), 0);
    assert_eq!(kernel_frozen(&sim, 1), ["other", "vg"]);
    // Restarted again (a crash loop) and quorate all along: still frozen.
    sim.restart_daemon(1);
    sim.run(10_000);
    assert_eq!(thaws(&sim, 1), 0);
    assert_stranded(&sim, 1, "previous daemon");
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
        dg_failure: clvmd_proto::DgFailure::Dgdisable,
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

/// Random partitions, heals, crashes, expulsions and daemon restarts: once things settle, a
/// node that is not quorate has every started shared VG frozen; a quorate node has frozen
/// only VGs it reports stranded; and a stranded VG stays frozen until its node goes down.
#[test]
fn frozen_when_not_quorate_and_stranded_for_good_under_random_faults() {
    for seed in 0..40u64 {
        let mut sim = three(QuorumLoss::Freeze);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut down: Option<u32> = None;
        let mut stranded: std::collections::BTreeSet<(u32, String)> = Default::default();
        for _ in 0..12 {
            match rng.gen_range(0..6) {
                0 => sim.partition(&[rng.gen_range(1..=3)]),
                1 => sim.heal(),
                2 => sim.restart_daemon(rng.gen_range(1..=3)),
                3 if down.is_none() => {
                    let n = rng.gen_range(1..=3);
                    sim.crash(n);
                    stranded.retain(|(id, _)| *id != n);
                    down = Some(n);
                }
                5 => {
                    let n = rng.gen_range(1..=3);
                    if Some(n) != down {
                        sim.expel(n);
                    }
                }
                _ => {
                    if let Some(n) = down.take() {
                        sim.reboot(n);
                    }
                }
            }
            sim.run(10_000);
            for (id, vg) in &stranded {
                assert!(
                    kernel_frozen(&sim, *id).contains(vg),
                    "seed {seed}: node {id} thawed stranded {vg}"
                );
            }
            for id in sim.alive_nodes() {
                let st = sim.node(id).status();
                let frozen = kernel_frozen(&sim, id);
                if st.quorate {
                    for vg in &frozen {
                        assert!(
                            st.frozen
                                .iter()
                                .any(|f| &f.vg == vg && f.state == "stranded"),
                            "seed {seed}: node {id} quorate, {vg} frozen but not stranded: {:?}",
                            st.frozen
                        );
                    }
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
                for f in &st.frozen {
                    assert!(
                        f.state == "frozen" || f.state == "stranded",
                        "seed {seed}: {f:?}"
                    );
                    if f.state == "stranded" {
                        stranded.insert((id, f.vg.clone()));
                    }
                }
            }
        }
    }
}

/// One node, driven by hand: every fence action completes at once.
fn lone_node_with_vg() -> Node {
    let mut n = Node::new(NodeConfig {
        node_id: 1,
        node_name: "n1".into(),
        quorum_loss: QuorumLoss::Freeze,
        detach: clvmd_core::Detach::Global,
        dg_failure: clvmd_proto::DgFailure::Dgdisable,
    });
    n.step(0, Input::ClusterName(Some(CLUSTER.into())));
    n.step(0, Input::Membership { members: vec![1] });
    n.step(
        0,
        Input::QuorumView {
            quorate: true,
            members: vec![1, 2, 3],
        },
    );
    n.step(
        0,
        Input::Request {
            conn: 1,
            request: Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        },
    );
    n.step(
        1,
        Input::Joined {
            ls: LockspaceName::for_vg("vg").unwrap(),
            result: Ok(false),
        },
    );
    n
}

/// Steps `input` and completes every fence action it asks for; returns them.
fn step_fenced(n: &mut Node, now: u64, input: Input) -> Vec<FenceAction> {
    let mut done = Vec::new();
    let mut queue = vec![input];
    while let Some(i) = queue.pop() {
        for o in n.step(now, i) {
            if let Output::Fence { tag, action } = o {
                done.push(action);
                queue.push(Input::FenceDone {
                    tag,
                    result: Ok(()),
                });
            }
        }
    }
    done
}

proptest::proptest! {
    /// Random quorum views (node 1 always in its own): the VG is frozen whenever the node is
    /// not quorate, and it is thawed only if, since the view before its freeze, no node left
    /// the view and came back (a merge), no cluster connection was lost, dlm_controld never went
    /// away and no restart came.
    #[test]
    fn never_thawed_after_a_merge(
        events in proptest::collection::vec((proptest::bool::ANY, 0u8..4, 0u8..12), 1..40)
    ) {
        let mut n = lone_node_with_vg();
        let mut frozen = false;
        // Views since the last quorate view before the current freeze (that view first).
        let mut since: Vec<std::collections::BTreeSet<u32>> = Vec::new();
        let mut last_quorate_view: std::collections::BTreeSet<u32> = [1, 2, 3].into();
        let mut lost = false;
        for (k, (quorate, others, kind)) in events.into_iter().enumerate() {
            let now = 10 + k as u64;
            let mut members = vec![1];
            if others & 1 != 0 { members.push(2); }
            if others & 2 != 0 { members.push(3); }
            let view: std::collections::BTreeSet<u32> = members.iter().copied().collect();
            let input = match kind {
                0 => {
                    lost = true;
                    Input::ClusterLost { why: "test".into() }
                }
                // dlm_controld gone with the lockspace joined: as lost as the connection.
                1 => {
                    lost = true;
                    Input::DlmControld { running: false }
                }
                2 => Input::DlmControld { running: true },
                _ => Input::QuorumView { quorate, members },
            };
            if !frozen {
                since = vec![last_quorate_view.clone()];
            }
            if kind > 2 {
                since.push(view.clone());
            }
            let acts = step_fenced(&mut n, now, input);
            for a in &acts {
                match a {
                    FenceAction::Freeze { .. } => frozen = true,
                    FenceAction::Thaw { .. } => {
                        proptest::prop_assert!(!lost, "thawed after the cluster connection was lost");
                        // A node present, then absent, then present again in `since`.
                        let merged = [2u32, 3].iter().any(|x| {
                            let seen: Vec<bool> = since.iter().map(|v| v.contains(x)).collect();
                            let gone = (1..seen.len()).find(|&j| !seen[j] && seen[..j].contains(&true));
                            gone.is_some_and(|j| seen[j + 1..].contains(&true))
                        });
                        proptest::prop_assert!(!merged, "thawed after a merge: {since:?}");
                        frozen = false;
                    }
                }
            }
            let st = n.status();
            if !st.quorate {
                proptest::prop_assert!(frozen, "not quorate and not frozen");
            }
            if st.cluster_stack.is_some() {
                proptest::prop_assert!(frozen, "dlm_controld gone and not frozen");
            }
            // Only a quorum view is a view (`view` is drawn for every event).
            if kind > 2 && st.quorate && !frozen {
                last_quorate_view = view;
            }
        }
    }
}

/// corosync reports quorum changes only: the first view a daemon gets may already be the
/// partition. The daemons' group before it stands for the earlier view, so the heal is still
/// seen as a merge.
#[test]
fn a_first_quorum_view_that_is_the_partition_still_counts_departures() {
    let mut n = Node::new(NodeConfig {
        node_id: 1,
        node_name: "n1".into(),
        quorum_loss: QuorumLoss::Freeze,
        detach: clvmd_core::Detach::Global,
        dg_failure: clvmd_proto::DgFailure::Dgdisable,
    });
    n.step(0, Input::ClusterName(Some(CLUSTER.into())));
    n.step(0, Input::Quorum { quorate: true });
    n.step(
        0,
        Input::Membership {
            members: vec![1, 2, 3],
        },
    );
    n.step(
        0,
        Input::Request {
            conn: 1,
            request: Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        },
    );
    n.step(
        1,
        Input::Joined {
            ls: LockspaceName::for_vg("vg").unwrap(),
            result: Ok(false),
        },
    );
    let f = step_fenced(
        &mut n,
        2,
        Input::QuorumView {
            quorate: false,
            members: vec![1],
        },
    );
    assert!(matches!(&f[..], [FenceAction::Freeze { .. }]), "{f:?}");
    n.step(3, Input::Membership { members: vec![1] });
    let t = step_fenced(
        &mut n,
        4,
        Input::QuorumView {
            quorate: true,
            members: vec![1, 2, 3],
        },
    );
    assert!(t.is_empty(), "thawed after a merge: {t:?}");
    assert_eq!(n.status().frozen[0].state, "stranded");
}
