//! Scenarios on simulated clusters: issue 13's "what it must show" in miniature.

use clvmd_core::sim::{Sim, CLUSTER};
use clvmd_core::{CpgMsg, Input};
use clvmd_proto::{ErrorKind, Holder, Mode, Request, Response, Scope};
use halvm_dlm::{Dlm, Flags, LockspaceName, ResourceName};

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

fn lv(mode: Mode) -> Request {
    Request::LvLock {
        vg: "vg".into(),
        lv_uuid: LV1.into(),
        lv_name: "lv1".into(),
        mode,
    }
}

fn lv_off() -> Request {
    Request::LvUnlock {
        vg: "vg".into(),
        lv_uuid: LV1.into(),
        lv_name: "lv1".into(),
    }
}

fn busy_by(r: &Response) -> Holder {
    match r {
        Response::Busy { holder, .. } => holder.clone(),
        r => panic!("expected busy, got {r:?}"),
    }
}

fn three() -> Sim {
    let mut sim = Sim::new(3, 7);
    for n in 1..=3 {
        start(&mut sim, n, "vg");
    }
    sim
}

#[test]
fn exclusive_activation_names_the_holder_and_hands_over() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    let h = busy_by(&sim.call(2, 1, lv(Mode::Ex)));
    assert_eq!(
        h,
        Holder::Node {
            id: 1,
            name: "node1".into(),
            mode: Mode::Ex
        }
    );
    assert!(matches!(
        busy_by(&sim.call(2, 2, lv(Mode::Pr))),
        Holder::Node { id: 1, .. }
    ));
    // The activation lock outlives the client that asked for it.
    sim.disconnect(1, 1);
    assert!(matches!(
        sim.call(3, 1, lv(Mode::Ex)),
        Response::Busy { .. }
    ));
    assert_eq!(sim.call(1, 2, lv_off()), Response::Done);
    assert_eq!(sim.call(2, 3, lv(Mode::Ex)), Response::Done);
    sim.dlm.assert_compatible();
}

/// The DLM calls node `node` made on LV1 since `from` (an index into the sim's log).
fn lv1_calls(sim: &Sim, node: u32, from: usize) -> Vec<clvmd_core::DlmOp> {
    use clvmd_core::DlmOp;
    sim.dlm_log[from..]
        .iter()
        .filter(|(n, _, op)| {
            let res = match op {
                DlmOp::Lock { res, .. }
                | DlmOp::Convert { res, .. }
                | DlmOp::Unlock { res, .. }
                | DlmOp::Adopt { res, .. } => res,
            };
            *n == node && res.as_str() == LV1
        })
        .map(|(_, _, op)| op.clone())
        .collect()
}

#[test]
fn activation_takes_one_dlm_call_and_a_refusal_holds_nothing() {
    use clvmd_core::DlmOp;
    let mut sim = three();
    let persistent = Flags {
        noqueue: true,
        valblk: false,
        persistent: true,
        expedite: false,
    };
    let from = sim.dlm_log.len();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    let calls = lv1_calls(&sim, 1, from);
    assert!(
        matches!(&calls[..], [DlmOp::Lock { mode: halvm_dlm::Mode::Ex, flags, .. }] if *flags == persistent),
        "one persistent NOQUEUE EX lock, no NL lock first: {calls:?}"
    );
    // Refused at once with the holder named; node2 keeps no lock on the LV.
    let from = sim.dlm_log.len();
    assert!(matches!(
        busy_by(&sim.call(2, 1, lv(Mode::Ex))),
        Holder::Node { id: 1, .. }
    ));
    assert!(lv1_calls(&sim, 2, from).iter().all(|op| matches!(
        op,
        DlmOp::Lock {
            mode: halvm_dlm::Mode::Ex,
            ..
        }
    )));
    assert_eq!(sim.dlm.holders("lvm_vg", LV1).len(), 1);
    let from = sim.dlm_log.len();
    assert_eq!(sim.call(1, 2, lv_off()), Response::Done);
    let calls = lv1_calls(&sim, 1, from);
    assert!(matches!(&calls[..], [DlmOp::Unlock { .. }]), "{calls:?}");
    assert!(sim.dlm.holders("lvm_vg", LV1).is_empty());
    sim.dlm.assert_compatible();
}

#[test]
fn shared_activation_on_two_nodes() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Pr)), Response::Done);
    assert_eq!(sim.call(2, 1, lv(Mode::Pr)), Response::Done);
    assert!(matches!(
        sim.call(3, 1, lv(Mode::Ex)),
        Response::Busy { .. }
    ));
    // sh -> ex on one node is refused while the other shares it
    assert!(matches!(
        sim.call(1, 2, lv(Mode::Ex)),
        Response::Busy { .. }
    ));
    assert_eq!(sim.call(2, 2, lv_off()), Response::Done);
    assert_eq!(sim.call(1, 3, lv(Mode::Ex)), Response::Done);
    let h = sim.dlm.holders("lvm_vg", LV1);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].mode, halvm_dlm::Mode::Ex);
}

#[test]
fn vg_seqno_travels_in_the_lvb_and_over_cpg() {
    let mut sim = three();
    let ex = Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 0,
    };
    assert_eq!(
        sim.call(1, 1, ex.clone()),
        Response::Granted {
            r_version: None,
            lvb_invalid: false
        }
    );
    // Held EX on node1: node2's reader is refused, naming node1.
    let sh = Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Pr,
        wait_ms: 0,
    };
    assert!(matches!(
        busy_by(&sim.call(2, 1, sh.clone())),
        Holder::Node { id: 1, .. }
    ));
    let unlock = |seqno| Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno,
        removed: false,
        quiet: false,
    };
    assert_eq!(sim.call(1, 1, unlock(Some(5))), Response::Done);
    sim.run(0);
    assert_eq!(
        sim.call(2, 1, sh.clone()),
        Response::Granted {
            r_version: Some(5),
            lvb_invalid: false
        }
    );
    // A waiting writer gets it once the reader lets go.
    let ex_wait = Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 5_000,
    };
    sim.request(3, 1, ex_wait);
    sim.run(100);
    assert!(sim.take_replies(3, 1).is_empty(), "writer waits");
    assert_eq!(sim.call(2, 1, unlock(None)), Response::Done);
    sim.run(5_000);
    assert_eq!(
        sim.take_replies(3, 1),
        vec![Response::Granted {
            r_version: Some(5),
            lvb_invalid: false
        }]
    );
    // Every node learnt the seqno of the commit.
    for n in 1..=3 {
        let st = sim.node(n).status();
        let ls = st.lockspaces.iter().find(|l| l.name == "lvm_vg").unwrap();
        assert_eq!(ls.seqno, Some(5), "node {n}");
    }
}

#[test]
fn a_holder_no_daemon_claims_is_another_host() {
    let mut sim = three();
    // Node 9 runs stock lvmlockd: same DLM, no clvmd-rs.
    let mut stock = sim
        .dlm
        .node(9)
        .join(&LockspaceName::for_vg("vg").unwrap())
        .unwrap()
        .ls;
    let res = ResourceName::lv(LV1).unwrap();
    stock
        .lock(
            &res,
            halvm_dlm::Mode::Ex,
            Flags {
                noqueue: true,
                persistent: true,
                ..Flags::default()
            },
        )
        .unwrap();
    let r = sim.call(1, 1, lv(Mode::Pr));
    assert_eq!(busy_by(&r), Holder::OtherHost);
    assert_eq!(
        Holder::OtherHost.to_string(),
        "another host (not running clvmd-rs)"
    );
    // and the stock node is refused while we hold something
    drop(stock);
}

#[test]
fn killed_daemon_leaves_orphans_that_the_next_one_adopts() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    sim.restart_daemon(1);
    sim.run(0);
    // The LV stays exclusive: node2 is refused (nobody claims it over CPG now).
    assert_eq!(busy_by(&sim.call(2, 1, lv(Mode::Ex))), Holder::OtherHost);
    start(&mut sim, 1, "vg");
    // -an through the new daemon adopts the orphan and releases it.
    assert_eq!(sim.call(1, 2, lv_off()), Response::Done);
    assert!(sim.dlm.holders("lvm_vg", LV1).iter().all(|h| h.node != 1));
    assert_eq!(sim.call(2, 2, lv(Mode::Ex)), Response::Done);
}

/// An agent's stop right after the daemon was killed and restarted (no lockstart in between):
/// the -an releases the orphan, so the stop succeeds and another node may activate.
#[test]
fn restarted_daemon_releases_orphans_without_a_lockstart() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    sim.restart_daemon(1);
    sim.run(0);
    let st = sim.node(1).status();
    assert!(
        st.lockspaces
            .iter()
            .any(|l| l.name == "lvm_vg" && l.state == "running"),
        "{st:?}"
    );
    assert_eq!(busy_by(&sim.call(2, 1, lv(Mode::Ex))), Holder::OtherHost);
    assert_eq!(sim.call(1, 2, lv_off()), Response::Done);
    assert!(sim.dlm.holders("lvm_vg", LV1).iter().all(|h| h.node != 1));
    assert_eq!(sim.call(2, 2, lv(Mode::Ex)), Response::Done);
}

#[test]
fn restarted_daemon_adopts_on_reactivation_too() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    sim.restart_daemon(1);
    start(&mut sim, 1, "vg");
    assert_eq!(sim.call(1, 2, lv(Mode::Ex)), Response::Done);
    let h = sim.dlm.holders("lvm_vg", LV1);
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(!h[0].orphan);
    assert!(matches!(
        busy_by(&sim.call(3, 1, lv(Mode::Pr))),
        Holder::Node { id: 1, .. }
    ));
}

#[test]
fn crashed_holder_is_fenced_and_a_survivor_activates() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    sim.crash(1);
    assert_eq!(sim.call(2, 1, lv(Mode::Ex)), Response::Done);
    sim.reboot(1);
    start(&mut sim, 1, "vg");
    assert!(matches!(
        busy_by(&sim.call(1, 1, lv(Mode::Ex))),
        Holder::Node { id: 2, .. }
    ));
}

#[test]
fn crash_while_holding_vg_ex_marks_the_lvb_invalid() {
    let mut sim = three();
    let ex = Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 0,
    };
    assert!(matches!(
        sim.call(1, 1, ex.clone()),
        Response::Granted { .. }
    ));
    sim.crash(1);
    assert_eq!(
        sim.call(2, 1, ex),
        Response::Granted {
            r_version: None,
            lvb_invalid: true
        }
    );
}

#[test]
fn lockstart_errors_name_both_clusters_and_missing_dlm() {
    let mut sim = Sim::new(1, 1);
    let r = sim.call(
        1,
        1,
        Request::LockStart {
            vg: "vg".into(),
            lock_args: "1.0.0:othercluster".into(),
        },
    );
    match r {
        Response::Failed {
            kind: ErrorKind::ClusterMismatch,
            message,
        } => {
            assert!(
                message.contains("othercluster") && message.contains(CLUSTER),
                "{message}"
            )
        }
        r => panic!("{r:?}"),
    }
    sim.input(1, Input::ClusterName(None));
    let r = sim.call(
        1,
        1,
        Request::LockStart {
            vg: "vg".into(),
            lock_args: format!("1.0.0:{CLUSTER}"),
        },
    );
    assert!(
        matches!(&r, Response::Failed { kind: ErrorKind::NoDlm, message } if message.contains("dlm_controld")),
        "{r:?}"
    );
    let r = sim.call(1, 1, lv(Mode::Ex));
    assert!(
        matches!(
            r,
            Response::Failed {
                kind: ErrorKind::NotStarted,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn join_failure_is_reported() {
    let mut sim = Sim::new(1, 1);
    sim.dlm.set_down(1, true);
    let r = sim.call(
        1,
        1,
        Request::LockStart {
            vg: "vg".into(),
            lock_args: format!("1.0.0:{CLUSTER}"),
        },
    );
    assert!(
        matches!(
            r,
            Response::Failed {
                kind: ErrorKind::Lockspace,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn lockstop_refuses_with_active_lvs_and_releases_otherwise() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    let stop = |force| Request::LockStop {
        vg: "vg".into(),
        force,
    };
    let r = sim.call(1, 1, stop(false));
    assert!(
        matches!(&r, Response::Failed { kind: ErrorKind::LockspaceBusy, message } if message.contains("lv1")),
        "{r:?}"
    );
    assert_eq!(sim.call(1, 1, lv_off()), Response::Done);
    assert_eq!(sim.call(1, 1, stop(false)), Response::Done);
    assert!(sim
        .dlm
        .holders("lvm_vg", "VGLK")
        .iter()
        .all(|h| h.node != 1));
    let r = sim.call(1, 1, lv(Mode::Ex));
    assert!(matches!(
        r,
        Response::Failed {
            kind: ErrorKind::NotStarted,
            ..
        }
    ));
}

#[test]
fn minority_partition_refuses_changes() {
    let mut sim = three();
    sim.partition(&[1]);
    sim.run(0);
    let ex = Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 0,
    };
    assert!(matches!(
        sim.call(1, 1, ex.clone()),
        Response::Failed {
            kind: ErrorKind::NoQuorum,
            ..
        }
    ));
    assert!(matches!(
        sim.call(2, 1, ex.clone()),
        Response::Granted { .. }
    ));
    sim.heal();
    sim.run(0);
    assert!(sim.node(1).status().quorate);
}

#[test]
fn global_lock_counter_bumps_on_ex_release() {
    let mut sim = three();
    let gl = |mode| Request::Lock {
        scope: Scope::Global,
        mode,
        wait_ms: 0,
    };
    assert!(matches!(
        sim.call(1, 1, gl(Mode::Ex)),
        Response::Granted { .. }
    ));
    let un = Request::Unlock {
        scope: Scope::Global,
        seqno: None,
        removed: false,
        quiet: false,
    };
    assert_eq!(sim.call(1, 1, un.clone()), Response::Done);
    assert_eq!(
        sim.call(2, 1, gl(Mode::Pr)),
        Response::Granted {
            r_version: Some(1),
            lvb_invalid: false
        }
    );
}

#[test]
fn removed_vg_is_refused() {
    let mut sim = three();
    let ex = Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 0,
    };
    assert!(matches!(
        sim.call(1, 1, ex.clone()),
        Response::Granted { .. }
    ));
    let r = sim.call(
        1,
        1,
        Request::Unlock {
            scope: Scope::Vg("vg".into()),
            seqno: Some(9),
            removed: true,
            quiet: false,
        },
    );
    assert_eq!(r, Response::Done);
    assert!(matches!(
        sim.call(2, 1, ex),
        Response::Failed {
            kind: ErrorKind::Removed,
            ..
        }
    ));
}

#[test]
fn daemon_killed_mid_commit_leaves_vglk_ex_that_the_next_one_adopts_and_releases() {
    let mut sim = three();
    let ex = Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 0,
    };
    assert!(matches!(
        sim.call(1, 1, ex.clone()),
        Response::Granted { .. }
    ));
    assert_eq!(
        sim.call(
            1,
            1,
            Request::Unlock {
                scope: Scope::Vg("vg".into()),
                seqno: Some(4),
                removed: false,
                quiet: false,
            }
        ),
        Response::Done
    );
    assert!(matches!(
        sim.call(1, 1, ex.clone()),
        Response::Granted { .. }
    ));
    sim.restart_daemon(1);
    // The restarted daemon joins the lockspace its DLM still has at once (no lockstart): it
    // adopts the orphan EX and drops it to NL, leaving the LVB as the last release wrote it.
    sim.run(0);
    let holders = sim.dlm.holders("lvm_vg", "VGLK");
    assert!(holders.iter().all(|h| !h.orphan), "{holders:?}");
    assert_eq!(
        sim.call(2, 2, ex),
        Response::Granted {
            r_version: Some(4),
            lvb_invalid: false
        }
    );
}

/// A clean stop leaves lvm_global (no activation locks live there) and keeps the VG
/// lockspaces, whose activation locks stay for the next daemon.
#[test]
fn clean_stop_leaves_the_global_lockspace_only() {
    let mut sim = three();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    let gl = Request::Lock {
        scope: Scope::Global,
        mode: Mode::Pr,
        wait_ms: 0,
    };
    assert!(matches!(
        sim.call(1, 2, gl.clone()),
        Response::Granted { .. }
    ));
    sim.disconnect(1, 2);
    assert!(sim
        .dlm
        .holders("lvm_global", "GLLK")
        .iter()
        .any(|h| h.node == 1));
    sim.input(1, Input::Shutdown);
    sim.run(0);
    assert!(!sim.node(1).leaving_global());
    let names: Vec<String> = sim
        .node(1)
        .status()
        .lockspaces
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["lvm_vg"]);
    assert!(sim
        .dlm
        .holders("lvm_global", "GLLK")
        .iter()
        .all(|h| h.node != 1));
    // The activation lock is still held: node 2 is refused.
    assert!(matches!(
        sim.call(2, 1, lv(Mode::Ex)),
        Response::Busy { .. }
    ));
}

/// Two clients on node1 pass the VG lock (EX) between them with no gap, which needs no DLM
/// call; node2's writer, refused once, must still get it before its wait runs out: node1
/// lets a remote waiter it blocks through before admitting more of its own clients.
#[test]
fn remote_waiter_is_not_starved_by_local_hand_offs() {
    let mut sim = three();
    let ex = |wait_ms| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms,
    };
    let unlock = Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno: None,
        removed: false,
        quiet: false,
    };
    assert!(matches!(
        sim.call(1, 1, ex(60_000)),
        Response::Granted { .. }
    ));
    sim.request(1, 2, ex(60_000));
    sim.request(2, 1, ex(5_000));
    let t0 = sim.now;
    let mut holding = Some(1);
    let mut node1_grants = 0;
    let node2 = loop {
        assert!(sim.now < t0 + 20_000, "node2 never answered");
        // Whoever holds it on node1 releases and at once asks again.
        if let Some(h) = holding.take() {
            sim.request(1, h, unlock.clone());
            sim.request(1, h, ex(60_000));
        }
        sim.run(0);
        sim.now += 25;
        for id in sim.alive_nodes() {
            sim.input(id, Input::Tick);
        }
        sim.run(0);
        for c in [1, 2] {
            for r in sim.take_replies(1, c) {
                if matches!(r, Response::Granted { .. }) {
                    holding = Some(c);
                    node1_grants += 1;
                }
            }
        }
        if let Some(r) = sim.take_replies(2, 1).pop() {
            break (r, sim.now - t0);
        }
        sim.dlm.assert_compatible();
    };
    assert!(
        matches!(node2.0, Response::Granted { .. }),
        "node2 starved after {} ms and {node1_grants} hand-offs on node1: {:?}",
        node2.1,
        node2.0
    );
    // And node1's clients get their turn after node2's.
    assert_eq!(sim.call(2, 1, unlock), Response::Done);
    sim.run(1_000);
    let back: Vec<Response> = [1, 2]
        .into_iter()
        .flat_map(|c| sim.take_replies(1, c))
        .collect();
    assert!(
        back.iter().any(|r| matches!(r, Response::Granted { .. })),
        "{back:?}"
    );
}

/// The daemons of the nodes holding VGLK or an LV's lock, as node `n` knows them.
fn remote_holders(sim: &Sim, n: u32, res: &str) -> Vec<(u32, Mode)> {
    let st = sim.node(n).status();
    let ls = st.lockspaces.iter().find(|l| l.name == "lvm_vg").unwrap();
    ls.locks
        .iter()
        .filter(|l| l.resource == res)
        .flat_map(|l| l.remote.iter().map(|h| (h.node, h.mode)))
        .collect()
}

/// A command's VG lock is raised and released without a word to the other daemons (the
/// seqno travels in the lock value block and in `Committed`): an `lvchange -aey` multicasts
/// nothing (its activation lock is told only when asked, below), an `lvcreate` its commit
/// only. A VG lock hold that lasts is told, and then so is its release.
#[test]
fn a_commands_vg_lock_goes_untold() {
    let mut sim = three();
    let vg = |mode| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms: 60_000,
    };
    let unlock = |seqno| Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno,
        removed: false,
        quiet: false,
    };
    let sent = |sim: &Sim, from: usize| -> Vec<CpgMsg> {
        sim.cpg_log[from..]
            .iter()
            .filter(|(n, _)| *n == 1)
            .map(|(_, m)| m.clone())
            .collect()
    };
    // lvchange -aey: VGLK PR, the LV's lock EX, VGLK released.
    let from = sim.cpg_log.len();
    assert!(matches!(
        sim.call(1, 1, vg(Mode::Pr)),
        Response::Granted { .. }
    ));
    assert_eq!(sim.call(1, 2, lv(Mode::Ex)), Response::Done);
    assert_eq!(sim.call(1, 1, unlock(None)), Response::Done);
    sim.run(0);
    assert_eq!(sent(&sim, from), vec![]);
    assert!(remote_holders(&sim, 2, LV1).is_empty());
    // lvcreate: VGLK EX, released with the new seqno.
    let from = sim.cpg_log.len();
    assert!(matches!(
        sim.call(1, 1, vg(Mode::Ex)),
        Response::Granted { .. }
    ));
    assert_eq!(sim.call(1, 1, unlock(Some(2))), Response::Done);
    sim.run(0);
    let committed = |seqno| CpgMsg::Committed {
        vg: "vg".into(),
        seqno,
    };
    assert_eq!(sent(&sim, from), vec![committed(2)]);
    for n in 1..=3 {
        let st = sim.node(n).status();
        let ls = st.lockspaces.iter().find(|l| l.name == "lvm_vg").unwrap();
        assert_eq!(ls.seqno, Some(2), "node {n}");
    }
    // A hold that lasts is told, its release too.
    let from = sim.cpg_log.len();
    assert!(matches!(
        sim.call(1, 1, vg(Mode::Ex)),
        Response::Granted { .. }
    ));
    sim.run(0);
    assert!(remote_holders(&sim, 2, "VGLK").is_empty());
    sim.run(clvmd_core::ANNOUNCE_AFTER_MS);
    assert_eq!(remote_holders(&sim, 2, "VGLK"), vec![(1, Mode::Ex)]);
    assert_eq!(sim.call(1, 1, unlock(Some(3))), Response::Done);
    sim.run(0);
    assert!(remote_holders(&sim, 2, "VGLK").is_empty());
    let held = |mode| CpgMsg::Held {
        ls: "lvm_vg".into(),
        res: "VGLK".into(),
        mode,
    };
    assert_eq!(
        sent(&sim, from),
        vec![held(Mode::Ex), committed(3), held(Mode::Nl)]
    );
}

/// A commit that only added LVs (`quiet`) is not announced: no multicast at all for an
/// `lvcreate -an`, while the lock value block still carries its seqno, which the next node to
/// take the VG lock gets with its grant. A removal is announced however it is released.
#[test]
fn a_commit_that_only_adds_lvs_goes_unannounced() {
    let mut sim = three();
    let vg = |mode| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms: 60_000,
    };
    let unlock = |seqno, removed| Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno,
        removed,
        quiet: true,
    };
    let from = sim.cpg_log.len();
    assert!(matches!(
        sim.call(1, 1, vg(Mode::Ex)),
        Response::Granted { .. }
    ));
    assert_eq!(sim.call(1, 1, unlock(Some(2), false)), Response::Done);
    sim.run(0);
    assert_eq!(sim.cpg_log[from..].to_vec(), vec![], "nothing multicast");
    let seqno = |sim: &Sim, n| {
        let st = sim.node(n).status();
        st.lockspaces
            .iter()
            .find(|l| l.name == "lvm_vg")
            .unwrap()
            .seqno
    };
    assert_eq!(seqno(&sim, 1), Some(2), "the committing node knows it");
    assert_ne!(seqno(&sim, 2), Some(2), "node 2 was not told");
    assert_eq!(
        sim.call(2, 1, vg(Mode::Pr)),
        Response::Granted {
            r_version: Some(2),
            lvb_invalid: false
        },
        "the LVB has it"
    );
    assert_eq!(seqno(&sim, 2), Some(2), "learnt with the grant");
    assert_eq!(
        sim.call(
            2,
            1,
            Request::Unlock {
                scope: Scope::Vg("vg".into()),
                seqno: None,
                removed: false,
                quiet: false,
            }
        ),
        Response::Done
    );
    // A removal is announced even when the command says quiet.
    assert!(matches!(
        sim.call(1, 1, vg(Mode::Ex)),
        Response::Granted { .. }
    ));
    let from = sim.cpg_log.len();
    assert_eq!(sim.call(1, 1, unlock(Some(3), true)), Response::Done);
    sim.run(0);
    assert!(
        sim.cpg_log[from..].iter().any(|(n, m)| *n == 1
            && *m
                == CpgMsg::Committed {
                    vg: "vg".into(),
                    seqno: 3
                }),
        "{:?}",
        &sim.cpg_log[from..]
    );
}

/// An untold hold is told to a node that waits for it, which then gets the lock as soon as
/// it is released rather than at the end of its backoff.
#[test]
fn an_untold_vg_lock_is_told_to_a_waiter() {
    let mut sim = three();
    let vg = |mode, wait_ms| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms,
    };
    assert!(matches!(
        sim.call(1, 1, vg(Mode::Ex, 0)),
        Response::Granted { .. }
    ));
    sim.request(2, 1, vg(Mode::Ex, 60_000));
    // Less than the first backoff's worth: the refusal, node2's Waiting, node1's answer.
    sim.run(10);
    assert!(sim.take_replies(2, 1).is_empty());
    assert_eq!(remote_holders(&sim, 2, "VGLK"), vec![(1, Mode::Ex)]);
    let unlock = Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno: Some(4),
        removed: false,
        quiet: false,
    };
    assert_eq!(sim.call(1, 1, unlock), Response::Done);
    let t = sim.now;
    loop {
        sim.run(0);
        if let Some(r) = sim.take_replies(2, 1).pop() {
            assert!(matches!(r, Response::Granted { .. }), "{r:?}");
            break;
        }
        assert!(sim.advance(), "node2 never answered");
    }
    assert!(sim.now - t < 20, "node2 waited {} ms", sim.now - t);
}

/// A refused lock with a wait is retried until its wait is over, however late the refusals
/// come back. On a loaded host each round trip ran late and the machine gave up as soon as
/// its next backoff would have ended past the deadline: node2's reader with a 200 ms wait
/// was answered after 130 ms (the flake of client_locking's
/// `lvmeta_locks_carry_the_seqno_and_exclude_across_nodes`).
#[test]
fn a_refused_lock_waits_its_whole_wait_on_a_slow_host() {
    let vg = |mode, wait_ms| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms,
    };
    // Every round of work on the slow host ends `late` ms after it began.
    for late in [1, 7, 13, 29, 35, 41, 55, 70] {
        let mut sim = three();
        assert!(matches!(
            sim.call(1, 1, vg(Mode::Ex, 0)),
            Response::Granted { .. }
        ));
        let t0 = sim.now;
        sim.request(2, 1, vg(Mode::Pr, 200));
        let (r, waited) = loop {
            sim.run(0);
            if let Some(r) = sim.take_replies(2, 1).pop() {
                break (r, sim.now - t0);
            }
            assert!(sim.now < t0 + 5_000, "late {late}: node2 never answered");
            sim.now += late;
            for id in sim.alive_nodes() {
                sim.input(id, Input::Tick);
            }
        };
        // Named through the barrier: node1's VG lock was untold.
        assert!(
            matches!(busy_by(&r), Holder::Node { id: 1, .. }),
            "late {late}: {r:?}"
        );
        assert!(
            waited >= 200,
            "late {late}: answered after {waited} ms of its 200 ms wait"
        );
        // And not much after: the last try is made at the deadline.
        assert!(waited < 200 + late + 20, "late {late}: {waited} ms");
    }
}

/// A member running a daemon from before barriers (CPG version 0) never answers one; it tells
/// every hold at once, so waiting for it learns nothing. A refusal there names its holder as
/// soon as the members that answer have answered, not after `BARRIER_ACK_MS`.
#[test]
fn an_old_member_is_not_waited_for() {
    let vg = |mode| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms: 0,
    };
    let node1 = Holder::Node {
        id: 1,
        name: "node1".into(),
        mode: Mode::Ex,
    };
    for seed in 0..10 {
        let mut sim = Sim::mixed(3, seed, &[3]);
        for n in 1..=3 {
            start(&mut sim, n, "vg");
        }
        // A command's VG lock on node1: untold until node2's barrier asks.
        assert!(matches!(
            sim.call(1, 1, vg(Mode::Ex)),
            Response::Granted { .. }
        ));
        let t0 = sim.now;
        let r = sim.call(2, 1, vg(Mode::Pr));
        assert_eq!(busy_by(&r), node1, "seed {seed}");
        assert!(
            sim.now - t0 < 100,
            "seed {seed}: named after {} ms",
            sim.now - t0
        );
        assert_eq!(
            sim.call(
                1,
                1,
                Request::Unlock {
                    scope: Scope::Vg("vg".into()),
                    seqno: None,
                    removed: false,
                    quiet: false,
                }
            ),
            Response::Done
        );
    }
}

/// A member whose snapshot has not come yet (it just joined) is waited for until its snapshot
/// says whether it answers: an old one is then dropped from the barrier at once.
#[test]
fn an_old_joiner_is_waited_for_only_until_its_snapshot() {
    let vg = |mode| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms: 0,
    };
    let mut before_snapshot = 0;
    for seed in 0..40 {
        let mut sim = Sim::mixed(3, seed, &[3]);
        for n in 1..=3 {
            start(&mut sim, n, "vg");
        }
        sim.crash(3);
        sim.run(0);
        sim.reboot(3);
        // Node3's snapshot is on its way; two commands race for the VG lock meanwhile.
        let t0 = sim.now;
        sim.request(1, 1, vg(Mode::Ex));
        sim.request(2, 1, vg(Mode::Ex));
        let mut answers = Vec::new();
        while answers.len() < 2 {
            assert!(
                sim.now - t0 < 100,
                "seed {seed}: {answers:?} after {} ms",
                sim.now - t0
            );
            let sent = sim.cpg_log.len();
            if !sim.step_once() {
                assert!(sim.advance(), "seed {seed}: stuck");
            }
            // A barrier sent by a node that has not read node3's snapshot yet: node3's
            // version is unknown to it.
            for (n, m) in &sim.cpg_log[sent..] {
                if matches!(m, CpgMsg::Barrier { .. })
                    && sim
                        .inbox(*n)
                        .any(|(f, m)| *f == 3 && matches!(m, CpgMsg::Snapshot { .. }))
                {
                    before_snapshot += 1;
                }
            }
            for n in [1, 2] {
                answers.extend(sim.take_replies(n, 1).into_iter().map(|r| (n, r)));
            }
        }
        assert!(
            sim.now - t0 < 100,
            "seed {seed}: answered after {} ms",
            sim.now - t0
        );
        // One got it, the other was refused naming it.
        let (won, _) = answers
            .iter()
            .find(|(_, r)| matches!(r, Response::Granted { .. }))
            .unwrap_or_else(|| panic!("seed {seed}: {answers:?}"));
        let (lost, r) = answers.iter().find(|(n, _)| n != won).unwrap();
        assert!(
            matches!(busy_by(r), Holder::Node { id, .. } if id == *won),
            "seed {seed}: node {lost} got {r:?}"
        );
    }
    assert!(
        before_snapshot > 0,
        "no seed sent the barrier before the snapshot"
    );
}

/// A member whose snapshot carries no version but that answers barriers (built after barriers
/// came, before snapshots carried a version) is waited for once it was seen answering one.
#[test]
fn a_member_seen_answering_is_waited_for() {
    let vg = |mode| Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms: 0,
    };
    let unlock = Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno: None,
        removed: false,
        quiet: false,
    };
    for seed in 0..10 {
        let mut sim = Sim::new(2, seed);
        sim.unversioned.insert(2);
        // Its snapshots say version 0 from the next membership change on (CPG delivers what
        // a member sent before the change that removes it).
        sim.run(0);
        sim.crash(2);
        sim.reboot(2);
        for n in 1..=2 {
            start(&mut sim, n, "vg");
        }
        sim.run(0);
        // Node2's untold hold, node2 not waited for: named only if its answer, which comes
        // anyway, came before node1's own barrier (it cannot: agreed order).
        assert!(matches!(
            sim.call(2, 1, vg(Mode::Ex)),
            Response::Granted { .. }
        ));
        let r = sim.call(1, 1, vg(Mode::Pr));
        assert_eq!(busy_by(&r), Holder::OtherHost, "seed {seed}");
        sim.run(0);
        assert_eq!(sim.call(2, 1, unlock.clone()), Response::Done);
        // Seen answering: waited for from now on, so its next untold hold is named.
        assert!(matches!(
            sim.call(2, 1, vg(Mode::Ex)),
            Response::Granted { .. }
        ));
        let t0 = sim.now;
        let r = sim.call(1, 2, vg(Mode::Pr));
        assert!(
            matches!(busy_by(&r), Holder::Node { id: 2, .. }),
            "seed {seed}: {r:?}"
        );
        assert!(sim.now - t0 < 100, "named after {} ms", sim.now - t0);
    }
}

const LV2: &str = "abcdef-0123-4567-89AB-CDEF-0123-456790";

fn lv2(mode: Mode) -> Request {
    Request::LvLock {
        vg: "vg".into(),
        lv_uuid: LV2.into(),
        lv_name: "lv2".into(),
        mode,
    }
}

fn vg_mode(mode: Mode) -> Request {
    Request::VgMode {
        vg: "vg".into(),
        mode,
    }
}

/// The `Held` multicasts sent since `from`: (node, resource, mode).
fn helds(sim: &Sim, from: usize) -> Vec<(u32, String, Mode)> {
    sim.cpg_log[from..]
        .iter()
        .filter_map(|(n, m)| match m {
            CpgMsg::Held { res, mode, .. } => Some((*n, res.clone(), *mode)),
            _ => None,
        })
        .collect()
}

/// Issue 13 (speed): `lvchange -aey`, `-asy` and `-an` multicast nothing when nobody
/// contends: an LV's activation lock, like a command's VG lock, is told only when asked (and
/// so is a VG's activation mode).
#[test]
fn an_uncontended_activation_sends_nothing() {
    let mut sim = three();
    sim.run(0);
    let from = sim.cpg_log.len();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    // Hours later, as far as telling goes.
    sim.run(60_000);
    assert_eq!(sim.call(1, 1, lv_off()), Response::Done);
    for n in [2, 3] {
        assert_eq!(sim.call(n, 1, lv2(Mode::Pr)), Response::Done);
    }
    assert_eq!(sim.call(2, 1, vg_mode(Mode::Cw)), Response::Done);
    sim.run(60_000);
    for n in [2, 3] {
        assert_eq!(sim.call(n, 1, lv_off_2()), Response::Done);
    }
    assert_eq!(sim.call(2, 1, vg_mode(Mode::Nl)), Response::Done);
    sim.run(0);
    assert_eq!(sim.cpg_log[from..].to_vec(), vec![], "nothing multicast");
}

fn lv_off_2() -> Request {
    Request::LvUnlock {
        vg: "vg".into(),
        lv_uuid: LV2.into(),
        lv_name: "lv2".into(),
    }
}

/// A refused `-aey` or `-asy` names the node holding the LV, untold as its lock was (the
/// refused node's barrier asks), at once; the holder's lock, now told, is told again when
/// released, and the refused node then activates. A lock released untold leaves nothing
/// behind: a later refusal names the node holding it then.
#[test]
fn a_refused_activation_names_the_untold_holder() {
    for seed in 0..10 {
        let mut sim = Sim::new(3, seed);
        for n in 1..=3 {
            start(&mut sim, n, "vg");
        }
        sim.run(0);
        assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
        let asking = sim.cpg_log.len();
        for asked in [Mode::Ex, Mode::Pr] {
            let t0 = sim.now;
            let r = sim.call(2, 1, lv(asked));
            assert_eq!(
                busy_by(&r),
                Holder::Node {
                    id: 1,
                    name: "node1".into(),
                    mode: Mode::Ex
                },
                "seed {seed}"
            );
            assert!(sim.now - t0 < 100, "seed {seed}: after {} ms", sim.now - t0);
        }
        // Refused at once, without retries: nothing waits for an LV's lock.
        assert!(
            !sim.cpg_log[asking..]
                .iter()
                .any(|(_, m)| matches!(m, CpgMsg::Waiting { .. })),
            "seed {seed}"
        );
        // Status on the refused node shows the holder (and on the third node too: the barrier
        // made node1 tell everyone).
        sim.run(0);
        assert_eq!(remote_holders(&sim, 2, LV1), vec![(1, Mode::Ex)]);
        assert_eq!(remote_holders(&sim, 3, LV1), vec![(1, Mode::Ex)]);
        let from = sim.cpg_log.len();
        assert_eq!(sim.call(1, 1, lv_off()), Response::Done);
        sim.run(0);
        assert_eq!(helds(&sim, from), vec![(1, LV1.to_string(), Mode::Nl)]);
        assert!(remote_holders(&sim, 2, LV1).is_empty());
        assert_eq!(sim.call(2, 1, lv(Mode::Ex)), Response::Done);
        assert_eq!(sim.call(2, 1, lv_off()), Response::Done);
        // Held and released untold on node1, then held untold on node3: node2's refusal
        // names node3.
        assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
        assert_eq!(sim.call(1, 1, lv_off()), Response::Done);
        assert_eq!(sim.call(3, 1, lv(Mode::Pr)), Response::Done);
        let r = sim.call(2, 1, lv(Mode::Ex));
        assert!(
            matches!(
                busy_by(&r),
                Holder::Node {
                    id: 3,
                    mode: Mode::Pr,
                    ..
                }
            ),
            "seed {seed}: {r:?}"
        );
        // A conflicting activation mode is named the same way.
        assert_eq!(sim.call(1, 1, vg_mode(Mode::Pw)), Response::Done);
        let r = sim.call(3, 1, vg_mode(Mode::Pw));
        assert!(
            matches!(
                busy_by(&r),
                Holder::Node {
                    id: 1,
                    mode: Mode::Pw,
                    ..
                }
            ),
            "seed {seed}: {r:?}"
        );
    }
}

/// `clvmd-rs status` and `lvs -o lv_active_nodes` sync first: after a `Sync`, the status
/// shows every LV lock held elsewhere, contended or not. Alone in the group, it is answered
/// at once.
#[test]
fn a_sync_learns_every_lv_lock() {
    let mut sim = three();
    sim.run(0);
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    assert_eq!(sim.call(3, 1, lv2(Mode::Pr)), Response::Done);
    assert_eq!(sim.call(3, 1, vg_mode(Mode::Cr)), Response::Done);
    sim.run(0);
    assert!(remote_holders(&sim, 2, LV1).is_empty(), "untold");
    let t0 = sim.now;
    assert_eq!(sim.call(2, 5, Request::Sync), Response::Done);
    assert!(sim.now - t0 < 100, "synced after {} ms", sim.now - t0);
    assert_eq!(remote_holders(&sim, 2, LV1), vec![(1, Mode::Ex)]);
    assert_eq!(remote_holders(&sim, 2, LV2), vec![(3, Mode::Pr)]);
    assert_eq!(
        remote_holders(&sim, 2, clvmd_core::modes::MODE_RESOURCE),
        vec![(3, Mode::Cr)]
    );
    // Told now, so released aloud: the view stays right without another sync.
    assert_eq!(sim.call(1, 1, lv_off()), Response::Done);
    sim.run(0);
    assert!(remote_holders(&sim, 2, LV1).is_empty());
    // An old member never answers, and is not waited for: it told its locks at once.
    let mut sim = Sim::mixed(3, 4, &[3]);
    for n in 1..=3 {
        start(&mut sim, n, "vg");
    }
    sim.run(0);
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    let t0 = sim.now;
    assert_eq!(sim.call(2, 5, Request::Sync), Response::Done);
    assert!(sim.now - t0 < 100, "synced after {} ms", sim.now - t0);
    assert_eq!(remote_holders(&sim, 2, LV1), vec![(1, Mode::Ex)]);
    // Alone: nothing to learn.
    let mut one = Sim::new(1, 3);
    start(&mut one, 1, "vg");
    one.run(0);
    let from = one.cpg_log.len();
    assert_eq!(one.call(1, 5, Request::Sync), Response::Done);
    assert_eq!(one.cpg_log[from..].to_vec(), vec![], "no barrier");
}

/// A daemon older than lazy LV locks (CPG version 0, or 1) shows other nodes' LV locks, and
/// names a refusal's holder, from what it was told: while one is in the group, the others
/// tell their LV locks at once; once it is gone they stop.
#[test]
fn lv_locks_are_told_at_once_while_an_older_member_is_in() {
    for (old, v1) in [(vec![3], vec![]), (vec![], vec![3])] {
        let mut sim = Sim::mixed(3, 5, &old);
        sim.v1 = v1.iter().copied().collect();
        // The v1 snapshot comes with the next membership change (after the first ones are
        // read: the sim feeds a membership change ahead of the messages before it).
        sim.run(0);
        sim.crash(3);
        sim.reboot(3);
        for n in 1..=3 {
            start(&mut sim, n, "vg");
        }
        sim.run(0);
        let from = sim.cpg_log.len();
        assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
        sim.run(0);
        assert_eq!(
            helds(&sim, from),
            vec![(1, LV1.to_string(), Mode::Ex)],
            "old {old:?} v1 {v1:?}"
        );
        assert_eq!(remote_holders(&sim, 3, LV1), vec![(1, Mode::Ex)]);
        // The older node's refusal names node1 from what it was told, at once.
        let t0 = sim.now;
        let r = sim.call(3, 1, lv(Mode::Ex));
        assert!(
            matches!(busy_by(&r), Holder::Node { id: 1, .. }),
            "old {old:?} v1 {v1:?}: {r:?}"
        );
        assert!(sim.now - t0 < 100, "after {} ms", sim.now - t0);
        let from = sim.cpg_log.len();
        assert_eq!(sim.call(1, 1, lv_off()), Response::Done);
        sim.run(0);
        assert_eq!(helds(&sim, from), vec![(1, LV1.to_string(), Mode::Nl)]);
        // The older member leaves: LV locks go untold again.
        sim.crash(3);
        sim.run(0);
        let from = sim.cpg_log.len();
        assert_eq!(sim.call(2, 1, lv(Mode::Ex)), Response::Done);
        assert_eq!(sim.call(2, 1, lv_off()), Response::Done);
        sim.run(0);
        assert_eq!(helds(&sim, from), vec![], "old {old:?} v1 {v1:?}");
    }
}

/// A hold made untold while every member was new is told as soon as an older member's
/// snapshot says it needs it, and the older member then names it.
#[test]
fn an_untold_lv_lock_is_told_when_an_older_member_joins() {
    let mut sim = Sim::mixed(3, 9, &[3]);
    for n in 1..=3 {
        start(&mut sim, n, "vg");
    }
    sim.crash(3);
    sim.run(0);
    let from = sim.cpg_log.len();
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    sim.run(0);
    assert_eq!(helds(&sim, from), vec![], "all new: untold");
    sim.reboot(3);
    start(&mut sim, 3, "vg");
    sim.run(0);
    assert_eq!(remote_holders(&sim, 3, LV1), vec![(1, Mode::Ex)]);
    let r = sim.call(3, 1, lv(Mode::Ex));
    assert!(matches!(busy_by(&r), Holder::Node { id: 1, .. }), "{r:?}");
}
