//! The metadata-loss policy (policy.dg_failure) on simulated clusters: a node whose commit
//! cannot write any metadata copy tells its daemon, which disables the VG cluster-wide
//! (`dgdisable`) or leaves it (`leave`).

use clvmd_core::detach::WATCH_MS;
use clvmd_core::sim::{Sim, CLUSTER, SIM_VG_UUID};
use clvmd_core::{Detach, CARRY_MS};
use clvmd_proto::{DgFailure, ErrorKind, Mode, Request, Response, Scope};

const LV1: &str = "abcdef-0123-4567-89AB-CDEF-0123-456789";
const HEALTHY: &str = "2 253:1 253:2 16384/16384 1 AA 1 core";
const LEG1_DEAD: &str = "2 253:1 253:2 16384/16384 1 AD 1 core";

fn cluster(policy: DgFailure, seed: u64) -> Sim {
    let mut sim = Sim::new(3, seed);
    sim.dg_failure = policy;
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
    sim
}

fn lv(mode: Mode) -> Request {
    Request::LvLock {
        vg: "vg".into(),
        lv_uuid: LV1.into(),
        lv_name: "lv1".into(),
        mode,
    }
}

fn vg_lock(mode: Mode) -> Request {
    Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms: 0,
    }
}

fn unlock() -> Request {
    Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno: None,
        removed: false,
        quiet: false,
    }
}

/// What lvmeta does when its commit writes no copy: still holding the VG lock EX, it tells
/// the daemon, then releases the lock.
fn lose_metadata(sim: &mut Sim, node: u32, policy: Option<DgFailure>) {
    assert!(sim.call(node, 7, vg_lock(Mode::Ex)).granted());
    let r = sim.call(
        node,
        7,
        Request::MetadataLost {
            vg: "vg".into(),
            error: "no metadata copy could be written from this host".into(),
            policy,
        },
    );
    assert_eq!(r, Response::Done);
    assert_eq!(sim.call(node, 7, unlock()), Response::Done);
    sim.run(1000);
}

trait Granted {
    fn granted(&self) -> bool;
}

impl Granted for Response {
    fn granted(&self) -> bool {
        matches!(self, Response::Granted { .. })
    }
}

fn refused(r: &Response) -> &str {
    match r {
        Response::Failed {
            kind: ErrorKind::VgDisabled,
            message,
        } => message,
        r => panic!("expected a VgDisabled refusal, got {r:?}"),
    }
}

fn disabled(sim: &Sim, n: u32) -> Vec<(String, DgFailure, String)> {
    sim.node(n)
        .status()
        .disabled_vgs
        .into_iter()
        .map(|d| (d.vg, d.policy, d.node_name))
        .collect()
}

fn joined(sim: &Sim, n: u32) -> bool {
    sim.node(n)
        .status()
        .lockspaces
        .iter()
        .any(|l| l.name == "lvm_vg")
}

#[test]
fn dgdisable_refuses_changes_on_every_node_until_enabled_and_io_goes_on() {
    for seed in 0..20 {
        let mut sim = cluster(DgFailure::Dgdisable, seed);
        assert_eq!(sim.call(2, 1, lv(Mode::Ex)), Response::Done);
        lose_metadata(&mut sim, 1, None);
        for n in 1..=3 {
            assert_eq!(
                disabled(&sim, n),
                [("vg".into(), DgFailure::Dgdisable, "node1".into())],
                "node {n}, seed {seed}"
            );
            let r = sim.call(n, 10, vg_lock(Mode::Ex));
            let m = refused(&r);
            for want in ["VG vg is disabled", "node1", "clvmd-rs enable vg"] {
                assert!(m.contains(want), "{m}");
            }
            // Reads go on.
            assert!(sim.call(n, 11, vg_lock(Mode::Pr)).granted(), "seed {seed}");
            assert_eq!(sim.call(n, 11, unlock()), Response::Done);
            // Nothing stops I/O: no LV is reported blocked.
            assert_eq!(sim.node(n).status().io_blocked("vg", LV1), None);
        }
        // The active LV stays active; deactivation and another activation are allowed.
        assert!(joined(&sim, 2));
        assert_eq!(sim.call(2, 1, lv(Mode::Nl)), Response::Done);
        assert_eq!(sim.call(3, 1, lv(Mode::Ex)), Response::Done);
        // A daemon restarted meanwhile learns it from the others' snapshots.
        sim.restart_daemon(1);
        sim.run(1000);
        assert_eq!(disabled(&sim, 1).len(), 1, "seed {seed}");
        // Enabled from any node: lifted everywhere.
        assert_eq!(
            sim.call(2, 12, Request::VgEnable { vg: "vg".into() }),
            Response::Done
        );
        sim.run(1000);
        for n in 1..=3 {
            assert!(disabled(&sim, n).is_empty(), "node {n} seed {seed}");
        }
        assert!(sim.call(2, 13, vg_lock(Mode::Ex)).granted());
    }
}

#[test]
fn leave_takes_only_that_node_out_once_its_lvs_are_deactivated() {
    let mut sim = cluster(DgFailure::Leave, 3);
    assert_eq!(sim.call(1, 1, lv(Mode::Ex)), Response::Done);
    lose_metadata(&mut sim, 1, None);
    // The others keep the VG.
    for n in [2, 3] {
        assert!(disabled(&sim, n).is_empty());
        assert!(sim.call(n, 10, vg_lock(Mode::Ex)).granted());
        assert_eq!(sim.call(n, 10, unlock()), Response::Done);
    }
    let st = sim.node(1).status();
    assert_eq!(st.disabled_vgs.len(), 1);
    assert!(st.disabled_vgs[0].lockspace_joined);
    // The LV active here still holds its lock (another node must not take it while this one
    // may write) and is reported failed, so the agent's monitor fails and Pacemaker moves it.
    let why = st.io_blocked("vg", LV1).expect("reported to the monitor");
    assert!(why.contains("left VG vg"), "{why}");
    assert!(!sim.call(2, 1, lv(Mode::Ex)).eq(&Response::Done));
    // No change and no new activation from node 1.
    refused(&sim.call(1, 10, vg_lock(Mode::Ex)));
    refused(&sim.call(
        1,
        11,
        Request::LvLock {
            vg: "vg".into(),
            lv_uuid: "zzzzzz-0123-4567-89AB-CDEF-0123-456789".into(),
            lv_name: "lv2".into(),
            mode: Mode::Pr,
        },
    ));
    // Pacemaker stops it here: the lockspace goes, the LV can start on node 2.
    assert_eq!(sim.call(1, 1, lv(Mode::Nl)), Response::Done);
    sim.run(1000);
    assert!(!joined(&sim, 1));
    assert!(!sim.node(1).status().disabled_vgs[0].lockspace_joined);
    assert_eq!(sim.call(2, 2, lv(Mode::Ex)), Response::Done);
    // A lockstart is refused until enabled here.
    let start = Request::LockStart {
        vg: "vg".into(),
        lock_args: format!("1.0.0:{CLUSTER}"),
    };
    refused(&sim.call(1, 12, start.clone()));
    assert_eq!(
        sim.call(1, 12, Request::VgEnable { vg: "vg".into() }),
        Response::Done
    );
    assert_eq!(sim.call(1, 12, start), Response::Done);
    assert!(sim.call(1, 13, vg_lock(Mode::Ex)).granted());
}

#[test]
fn the_vgs_own_policy_wins_over_the_nodes() {
    let mut sim = cluster(DgFailure::Leave, 4);
    lose_metadata(&mut sim, 2, Some(DgFailure::Dgdisable));
    for n in 1..=3 {
        assert_eq!(
            disabled(&sim, n),
            [("vg".into(), DgFailure::Dgdisable, "node2".into())]
        );
    }
    let mut sim = cluster(DgFailure::Dgdisable, 4);
    lose_metadata(&mut sim, 2, Some(DgFailure::Leave));
    assert!(disabled(&sim, 1).is_empty());
    assert!(!joined(&sim, 2));
    assert_eq!(disabled(&sim, 2)[0].1, DgFailure::Leave);
}

/// A 3-node cluster with a two-leg mirror LV1 active on nodes 1 and 2, `policy.detach =
/// global`, and nodes `blind` unable to write any metadata copy; leg 1 then dies on node 1.
fn detach_without_metadata(blind: &[u32], seed: u64) -> Sim {
    let mut sim = Sim::new(3, seed);
    sim.detach = Detach::Global;
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
    sim.disk_legs.insert(LV1.into(), 0b11);
    for n in [1, 2] {
        assert_eq!(sim.call(n, 1, lv(Mode::Pr)), Response::Done);
        sim.lv_status
            .insert((n, LV1.into()), ("mirror".into(), HEALTHY.into()));
        sim.create_dev(n, LV1);
    }
    sim.run(3 * WATCH_MS);
    sim.no_metadata.extend(blind.iter().copied());
    sim.lv_status
        .insert((1, LV1.into()), ("mirror".into(), LEG1_DEAD.into()));
    sim.run(5 * WATCH_MS);
    sim
}

/// Beyond VxVM: the daemon's own commit (a leg detach) that writes no copy from node 1 is
/// carried by a node that still sees the metadata; no policy applies, I/O goes on.
#[test]
fn a_detach_without_metadata_is_carried_by_a_peer() {
    for seed in 0..10 {
        let sim = detach_without_metadata(&[1], seed);
        let by: Vec<(u32, u32)> = sim.detach_log.iter().map(|d| (d.1, d.3)).collect();
        assert_eq!(by, [(2, 0b01)], "seed {seed}: one commit, by node 2");
        assert!(sim.stopped.is_empty(), "seed {seed}: {:?}", sim.stopped);
        for n in [1, 2] {
            assert_eq!(sim.dev(n, LV1).expect("active").legs, 0b01, "node {n}");
        }
        let f = &sim.node(1).status().failed_lvs;
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].action, "detached", "seed {seed}");
        for n in 1..=3 {
            assert!(disabled(&sim, n).is_empty(), "node {n} seed {seed}");
        }
    }
}

/// When no node can write the metadata the carrier's commit fails too: node 1 applies the
/// policy (dgdisable here) and stops I/O to the LV (writers must not hang).
#[test]
fn a_detach_no_node_can_write_disables_the_vg_and_stops_io_locally() {
    let sim = detach_without_metadata(&[1, 2, 3], 9);
    assert!(sim.detach_log.is_empty(), "{:?}", sim.detach_log);
    assert_eq!(
        sim.stopped.iter().map(|s| s.1).collect::<Vec<_>>(),
        [1],
        "{:?}",
        sim.stopped
    );
    for n in 1..=3 {
        assert_eq!(
            disabled(&sim, n),
            [("vg".into(), DgFailure::Dgdisable, "node1".into())]
        );
    }
    let e = sim.node(1).status().disabled_vgs[0].error.clone();
    assert!(e.contains("not carried by another node: node 2"), "{e}");
}

/// Issue 15: a node that can read no metadata copy of the VG (every device behind it fails
/// I/O) with an LV of it active falls under the policy when its driver next needs the
/// metadata (here: the reload after node2's commit). node3, with nothing active, reads
/// nothing and is not concerned.
#[test]
fn a_node_that_can_read_no_metadata_copy_with_lvs_active_applies_the_policy() {
    for (policy, seed) in [(DgFailure::Dgdisable, 1), (DgFailure::Leave, 2)] {
        let mut sim = cluster(policy, seed);
        for n in [1, 2] {
            assert_eq!(sim.call(n, 1, lv(Mode::Pr)), Response::Done);
            sim.create_dev(n, LV1);
        }
        sim.no_metadata_read.insert(1);
        sim.no_metadata_read.insert(3);
        // node2 commits a change and announces it.
        assert!(sim.call(2, 9, vg_lock(Mode::Ex)).granted());
        let r = sim.call(
            2,
            9,
            Request::Unlock {
                scope: Scope::Vg("vg".into()),
                seqno: Some(5),
                removed: false,
                quiet: false,
            },
        );
        assert_eq!(r, Response::Done);
        sim.run(1000);
        let want = ("vg".to_string(), policy, "node1".to_string());
        match policy {
            DgFailure::Dgdisable => {
                for n in 1..=3 {
                    assert_eq!(disabled(&sim, n), std::slice::from_ref(&want), "node{n}");
                }
                let e = refused(&sim.call(3, 9, vg_lock(Mode::Ex))).to_string();
                assert!(
                    e.contains("VG vg is disabled") && e.contains("node1"),
                    "{e}"
                );
            }
            DgFailure::Leave => {
                assert_eq!(disabled(&sim, 1), [want]);
                assert!(disabled(&sim, 2).is_empty() && disabled(&sim, 3).is_empty());
                assert!(sim.node(1).status().io_blocked("vg", LV1).is_some());
            }
        }
    }
}

/// lvmeta's commit that wrote no copy from `node`, handed to its daemon under the VG lock
/// EX (conn 7) to be carried; `disk_seqno` is the seqno the command read.
fn carry(disk_seqno: u32, metadata: &str) -> Request {
    Request::CarryCommit(clvmd_proto::CarryCommit {
        vg: "vg".into(),
        vg_uuid: SIM_VG_UUID.into(),
        disk_seqno,
        metadata: metadata.into(),
        error: "no metadata copy could be written from this host".into(),
        policy: None,
    })
}

fn not_carried(r: &Response) -> &str {
    match r {
        Response::Failed {
            kind: ErrorKind::NotCarried,
            message,
        } => message,
        r => panic!("expected a NotCarried answer, got {r:?}"),
    }
}

fn lvb_seqno(sim: &Sim, n: u32) -> Option<u32> {
    sim.node(n)
        .status()
        .lockspaces
        .iter()
        .find(|l| l.name == "lvm_vg")
        .and_then(|l| l.seqno)
}

/// Beyond VxVM: a command's commit that writes no copy from node 1 is written by node 2 (the
/// lowest other member) while node 1's command holds the VG lock EX; the command's release
/// with the new seqno propagates it as any commit. No policy applies.
#[test]
fn a_commands_commit_without_metadata_is_carried_by_a_peer() {
    for seed in 0..10 {
        let mut sim = cluster(DgFailure::Dgdisable, seed);
        sim.seqno = 4;
        sim.no_metadata.insert(1);
        assert!(sim.call(1, 7, vg_lock(Mode::Ex)).granted());
        let r = sim.call(1, 7, carry(4, "vg {\nseqno = 5\n}\n"));
        assert_eq!(
            r,
            Response::Carried {
                node_id: 2,
                node_name: "node2".into()
            },
            "seed {seed}"
        );
        let log: Vec<(u32, u32, &str)> = sim
            .carried_log
            .iter()
            .map(|c| (c.1, c.2, c.3.as_str()))
            .collect();
        assert_eq!(log, [(2, 5, "vg {\nseqno = 5\n}\n")], "seed {seed}");
        let release = Request::Unlock {
            scope: Scope::Vg("vg".into()),
            seqno: Some(5),
            removed: false,
            quiet: false,
        };
        assert_eq!(sim.call(1, 7, release), Response::Done);
        sim.run(1000);
        for n in 1..=3 {
            assert!(disabled(&sim, n).is_empty(), "node {n} seed {seed}");
            assert_eq!(lvb_seqno(&sim, n), Some(5), "node {n} seed {seed}");
        }
        // Another node's next change sees the carried commit in the lock value block.
        assert_eq!(
            sim.call(3, 8, vg_lock(Mode::Ex)),
            Response::Granted {
                r_version: Some(5),
                lvb_invalid: false
            }
        );
    }
}

/// The carrier finds another seqno on disk than the command read (or another VG): it writes
/// nothing and refuses; the command's node applies the policy and the command fails.
#[test]
fn a_carrier_that_sees_another_seqno_refuses_and_the_policy_applies() {
    for seed in 0..5 {
        let mut sim = cluster(DgFailure::Dgdisable, seed);
        sim.seqno = 6;
        sim.no_metadata.insert(1);
        assert!(sim.call(1, 7, vg_lock(Mode::Ex)).granted());
        let r = sim.call(1, 7, carry(4, "vg {\nseqno = 5\n}\n"));
        let m = not_carried(&r);
        assert!(m.contains("node 2") && m.contains("seqno 6"), "{m}");
        assert!(sim.carried_log.is_empty(), "seed {seed}");
        assert_eq!(sim.seqno, 6);
        assert_eq!(sim.call(1, 7, unlock()), Response::Done);
        sim.run(1000);
        for n in 1..=3 {
            assert_eq!(
                disabled(&sim, n),
                [("vg".into(), DgFailure::Dgdisable, "node1".into())],
                "node {n} seed {seed}"
            );
        }
        let e = sim.node(3).status().disabled_vgs[0].error.clone();
        assert!(e.contains("not carried by another node: node 2"), "{e}");
    }
}

/// Alone in the cluster, nobody can carry the commit: the policy applies at once.
#[test]
fn a_commit_with_no_other_node_to_carry_it_applies_the_policy() {
    let mut sim = Sim::new(1, 3);
    sim.dg_failure = DgFailure::Leave;
    sim.restart_daemon(1);
    let start = Request::LockStart {
        vg: "vg".into(),
        lock_args: format!("1.0.0:{CLUSTER}"),
    };
    assert_eq!(sim.call(1, 100, start), Response::Done);
    sim.no_metadata.insert(1);
    assert!(sim.call(1, 7, vg_lock(Mode::Ex)).granted());
    let r = sim.call(1, 7, carry(1, "vg {\nseqno = 2\n}\n"));
    assert!(not_carried(&r).contains("no other node"), "{r:?}");
    assert_eq!(
        disabled(&sim, 1),
        [("vg".into(), DgFailure::Leave, "node1".into())]
    );
    assert!(sim.carried_log.is_empty());
}

/// The carrier dies before it answers: after the carry deadline the policy applies and the
/// command fails; nothing was written.
#[test]
fn a_carrier_that_dies_times_out_and_the_policy_applies() {
    for seed in 0..5 {
        let mut sim = cluster(DgFailure::Dgdisable, seed);
        sim.no_metadata.insert(1);
        assert!(sim.call(1, 7, vg_lock(Mode::Ex)).granted());
        let t0 = sim.now;
        sim.request(1, 7, carry(1, "vg {\nseqno = 2\n}\n"));
        sim.crash(2);
        sim.run(2 * CARRY_MS);
        let r = sim.take_replies(1, 7);
        assert_eq!(r.len(), 1, "seed {seed}: {r:?}");
        assert!(not_carried(&r[0]).contains("no answer in time"), "{r:?}");
        assert!(sim.now - t0 >= CARRY_MS, "seed {seed}");
        assert!(sim.carried_log.is_empty());
        for n in [1, 3] {
            assert_eq!(
                disabled(&sim, n),
                [("vg".into(), DgFailure::Dgdisable, "node1".into())],
                "node {n} seed {seed}"
            );
        }
    }
}

/// Only the command holding the VG lock EX may have its commit carried (the lock is what
/// keeps other writers out while the carrier writes); a text too large or not metadata is
/// not sent to any node.
#[test]
fn a_carry_needs_the_vg_lock_ex_and_a_bounded_text() {
    let mut sim = cluster(DgFailure::Dgdisable, 4);
    let r = sim.call(1, 7, carry(1, "vg {}\n"));
    assert!(
        matches!(
            r,
            Response::Failed {
                kind: ErrorKind::NotHeld,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(sim.call(1, 7, vg_lock(Mode::Pr)).granted());
    let r = sim.call(1, 7, carry(1, "vg {}\n"));
    assert!(
        matches!(
            r,
            Response::Failed {
                kind: ErrorKind::NotHeld,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(sim.call(1, 7, unlock()), Response::Done);
    assert!(disabled(&sim, 1).is_empty());
    assert!(sim.call(1, 7, vg_lock(Mode::Ex)).granted());
    let big = "x".repeat(clvmd_proto::MAX_CARRY_TEXT + 1);
    let r = sim.call(1, 7, carry(1, &big));
    assert!(not_carried(&r).contains("exceeds"), "{r:?}");
    assert!(sim.carried_log.is_empty());
    sim.run(1000);
    assert_eq!(
        disabled(&sim, 2),
        [("vg".into(), DgFailure::Dgdisable, "node1".into())]
    );
}
