//! Propagation of commits and the atomic cluster-wide resize, on simulated clusters.
//! The simulator's device-mapper plans from `Sim::disk` (the committed metadata) as the real
//! driver plans from the disks; `check_sizes` asserts after every device-mapper action that
//! no two nodes serve different sizes of one LV.

use clvmd_core::sim::{Sim, CLUSTER};
use clvmd_core::DmAction;
use clvmd_proto::{ErrorKind, Mode, Request, Response, Scope};

const U: &str = "aaaaaa-0000-0000-0000-0000-0000-000001";
const OLD: u64 = 100;
const NEW: u64 = 200;

fn lv_req(suspend: bool) -> Request {
    let (vg, lv_uuid, lv_name) = ("vg".into(), U.into(), "lv".into());
    if suspend {
        Request::SuspendLv {
            vg,
            lv_uuid,
            lv_name,
        }
    } else {
        Request::ResumeLv {
            vg,
            lv_uuid,
            lv_name,
        }
    }
}

fn vg_ex() -> Request {
    Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 60_000,
    }
}

fn unlock(seqno: u32) -> Request {
    Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno: Some(seqno),
        removed: false,
        quiet: false,
    }
}

/// `n` nodes, VG lock-started everywhere, the LV active shared on `active` nodes.
fn cluster(n: u32, active: &[u32], seed: u64) -> Sim {
    let mut sim = Sim::new(n, seed);
    sim.disk.insert(U.into(), OLD);
    for id in 1..=n {
        let r = sim.call(
            id,
            1,
            Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        );
        assert_eq!(r, Response::Done);
    }
    for &id in active {
        let r = sim.call(
            id,
            2,
            Request::LvLock {
                vg: "vg".into(),
                lv_uuid: U.into(),
                lv_name: "lv".into(),
                mode: Mode::Pr,
            },
        );
        assert_eq!(r, Response::Done);
        sim.create_dev(id, U);
    }
    sim.check_sizes = true;
    sim
}

fn sizes(sim: &Sim, nodes: &[u32]) -> Vec<(u64, bool)> {
    nodes
        .iter()
        .map(|n| {
            let d = sim.dev(*n, U).expect("active");
            (d.size, d.suspended)
        })
        .collect()
}

#[test]
fn a_commit_elsewhere_reloads_active_lvs_without_a_command() {
    let mut sim = cluster(3, &[1, 2], 7);
    sim.check_sizes = false; // a plain commit is not a resize: node1 reloads itself
    assert!(matches!(sim.call(1, 10, vg_ex()), Response::Granted { .. }));
    sim.disk.insert(U.into(), NEW);
    assert_eq!(sim.call(1, 10, unlock(2)), Response::Done);
    sim.run(1_000);
    // node2 has it active: refreshed; node3 has nothing active: nothing to do; node1 made
    // the change itself (its command reloads it).
    assert_eq!(sim.dev(2, U).unwrap().size, NEW);
    assert_eq!(sim.node(2).refresh_count(), 1);
    assert_eq!(sim.node(3).refresh_count(), 0);
    assert_eq!(sim.node(1).refresh_count(), 0);
    assert!(sim.dm_log.iter().all(|(n, _)| *n == 2));
    // Every node learnt the seqno.
    for n in 1..=3 {
        let st = sim.node(n).status();
        let ls = st.lockspaces.iter().find(|l| l.name == "lvm_vg").unwrap();
        assert_eq!(ls.seqno, Some(2), "node{n}");
    }
}

/// The command's side of a resize: VG lock EX, suspend everywhere, commit, resume
/// everywhere, release.
fn resize(sim: &mut Sim, leader: u32, to: u64) {
    assert!(matches!(
        sim.call(leader, 10, vg_ex()),
        Response::Granted { .. }
    ));
    assert_eq!(sim.call(leader, 10, lv_req(true)), Response::Done);
    sim.disk.insert(U.into(), to);
    assert_eq!(sim.call(leader, 10, lv_req(false)), Response::Done);
    assert_eq!(sim.call(leader, 10, unlock(2)), Response::Done);
}

#[test]
fn resize_is_atomic_under_any_interleaving() {
    for seed in 0..200 {
        let mut sim = cluster(3, &[1, 2, 3], seed);
        resize(&mut sim, 1 + (seed % 3) as u32, NEW);
        // Returned: every node serves the new size.
        assert_eq!(
            sizes(&sim, &[1, 2, 3]),
            vec![(NEW, false); 3],
            "seed {seed}"
        );
        sim.run(1_000);
        assert_eq!(
            sizes(&sim, &[1, 2, 3]),
            vec![(NEW, false); 3],
            "seed {seed}"
        );
        // And back down (lvreduce).
        resize(&mut sim, 1 + ((seed + 1) % 3) as u32, OLD);
        assert_eq!(
            sizes(&sim, &[1, 2, 3]),
            vec![(OLD, false); 3],
            "seed {seed}"
        );
    }
}

#[test]
fn every_holder_is_suspended_before_the_commit() {
    let mut sim = cluster(3, &[1, 2, 3], 3);
    assert!(matches!(sim.call(1, 10, vg_ex()), Response::Granted { .. }));
    assert_eq!(sim.call(1, 10, lv_req(true)), Response::Done);
    assert_eq!(sizes(&sim, &[1, 2, 3]), vec![(OLD, true); 3]);
    let suspends = sim
        .dm_log
        .iter()
        .filter(|(_, a)| matches!(a, DmAction::Suspend { flush: true, .. }))
        .count();
    assert_eq!(suspends, 3);
}

#[test]
fn inactive_nodes_take_part_without_device_actions() {
    let mut sim = cluster(3, &[2], 5);
    resize(&mut sim, 1, NEW);
    assert_eq!(
        sim.dev(2, U).unwrap(),
        clvmd_core::sim::SimDev {
            size: NEW,
            suspended: false,
            legs: 0,
            log: 0
        }
    );
    assert!(sim.dm_log.iter().all(|(n, _)| *n == 2));
}

#[test]
fn resize_needs_the_vg_lock_held_ex() {
    let mut sim = cluster(2, &[1, 2], 1);
    match sim.call(1, 10, lv_req(true)) {
        Response::Failed { kind, .. } => assert_eq!(kind, ErrorKind::NotHeld),
        r => panic!("{r:?}"),
    }
    assert!(sim.dm_log.is_empty());
    // Resume without a suspend is refused too.
    assert!(matches!(sim.call(1, 10, vg_ex()), Response::Granted { .. }));
    match sim.call(1, 10, lv_req(false)) {
        Response::Failed { kind, .. } => assert_eq!(kind, ErrorKind::NotHeld),
        r => panic!("{r:?}"),
    }
}

/// The leader dies between the phases: survivors reload from disk, so they roll forward if
/// the commit reached the disk and back if it did not; a node that returns activates with
/// what the disk says.
#[test]
fn leader_death_between_phases_converges_on_the_disk() {
    for committed in [false, true] {
        for seed in 0..30 {
            let mut sim = cluster(3, &[1, 2, 3], seed);
            assert!(matches!(sim.call(1, 10, vg_ex()), Response::Granted { .. }));
            assert_eq!(sim.call(1, 10, lv_req(true)), Response::Done);
            if committed {
                sim.disk.insert(U.into(), NEW);
            }
            sim.crash(1);
            sim.run(1_000);
            let want = if committed { NEW } else { OLD };
            assert_eq!(sizes(&sim, &[2, 3]), vec![(want, false); 2], "seed {seed}");
            // The node comes back and activates: the committed size.
            sim.reboot(1);
            sim.run(1_000);
            sim.create_dev(1, U);
            assert_eq!(sim.dev(1, U).unwrap().size, want);
            sim.assert_one_size(U);
            // The VG lock the dead leader held is free again.
            assert!(matches!(sim.call(2, 20, vg_ex()), Response::Granted { .. }));
        }
    }
}

/// A member dies mid-resize: the leader stops waiting for it and finishes; on return it gets
/// the committed size.
#[test]
fn member_death_mid_resize_does_not_block_it() {
    for seed in 0..30 {
        let mut sim = cluster(3, &[1, 2, 3], seed);
        assert!(matches!(sim.call(1, 10, vg_ex()), Response::Granted { .. }));
        sim.request(1, 10, lv_req(true));
        // Let some of phase 1 happen, then kill node3.
        for _ in 0..(seed % 7) {
            sim.step_once();
        }
        sim.crash(3);
        sim.run(1_000);
        let r = sim.take_replies(1, 10);
        assert_eq!(r, vec![Response::Done], "seed {seed}");
        sim.disk.insert(U.into(), NEW);
        assert_eq!(sim.call(1, 10, lv_req(false)), Response::Done);
        assert_eq!(sizes(&sim, &[1, 2]), vec![(NEW, false); 2]);
        sim.reboot(3);
        sim.run(1_000);
        sim.create_dev(3, U);
        assert_eq!(sim.dev(3, U).unwrap().size, NEW);
    }
}

/// The command dies after phase 1 (lvextend killed): its connection closes, the VG lock goes
/// and every node reloads from disk (nothing committed: the old size).
#[test]
fn command_death_after_suspend_resumes_everywhere() {
    let mut sim = cluster(3, &[1, 2, 3], 11);
    assert!(matches!(sim.call(1, 10, vg_ex()), Response::Granted { .. }));
    assert_eq!(sim.call(1, 10, lv_req(true)), Response::Done);
    sim.disconnect(1, 10);
    sim.run(1_000);
    assert_eq!(sizes(&sim, &[1, 2, 3]), vec![(OLD, false); 3]);
    assert!(matches!(sim.call(2, 20, vg_ex()), Response::Granted { .. }));
}

/// A node cut off from the leader mid-resize (partition) converges: the majority finishes,
/// the minority node (not quorate: its VG is frozen, issue 15) stays suspended, also after
/// the heal (a partition merge strands its frozen VGs: the majority recovered its locks);
/// rebooted, as its status tells the admin, it serves the committed size.
#[test]
fn partition_mid_resize_converges_on_both_sides() {
    let mut sim = cluster(3, &[1, 2, 3], 13);
    assert!(matches!(sim.call(1, 10, vg_ex()), Response::Granted { .. }));
    assert_eq!(sim.call(1, 10, lv_req(true)), Response::Done);
    sim.disk.insert(U.into(), NEW);
    sim.partition(&[1, 2]);
    sim.run(1_000);
    // node3 lost the leader and quorum: its reload waits, the device stays suspended.
    assert_eq!(sizes(&sim, &[3]), vec![(OLD, true)]);
    assert_eq!(sim.call(1, 10, lv_req(false)), Response::Done);
    assert_eq!(sizes(&sim, &[1, 2]), vec![(NEW, false); 2]);
    sim.heal();
    sim.run(1_000);
    assert_eq!(sizes(&sim, &[1, 2]), vec![(NEW, false); 2]);
    assert_eq!(sizes(&sim, &[3]), vec![(OLD, true)]);
    assert_eq!(sim.node(3).status().frozen[0].state, "stranded");
    sim.crash(3);
    sim.reboot(3);
    sim.run(1_000);
    sim.create_dev(3, U);
    assert_eq!(sim.dev(3, U).unwrap().size, NEW);
}

/// [`cluster`] with the LV a two-leg mirror (legs 0 and 1) on nodes 1 and 2, and every node's
/// tables known to come from seqno 1 (a commit announced).
fn mirrored_cluster(seed: u64) -> Sim {
    let mut sim = cluster(3, &[1, 2], seed);
    sim.check_sizes = false; // a split is no resize
    sim.disk_legs.insert(U.into(), 0b11);
    for n in [1, 2] {
        sim.create_dev(n, U);
    }
    sim.seqno = 1;
    assert!(matches!(sim.call(3, 10, vg_ex()), Response::Granted { .. }));
    assert_eq!(sim.call(3, 10, unlock(1)), Response::Done);
    sim.run(1_000);
    sim
}

fn actions_since(sim: &Sim, from: usize, node: u32, read: bool) -> Vec<DmAction> {
    sim.dm_log[from..]
        .iter()
        .filter(|(n, a)| {
            *n == node
                && if read {
                    matches!(a, DmAction::ReadSeqno { .. })
                } else {
                    matches!(a, DmAction::Refresh { .. })
                }
        })
        .map(|(_, a)| a.clone())
        .collect()
}

/// Issue 15: node3 splits the mirror (leg 1 becomes an LV of its own: seqno 2 on disk) and
/// dies before its VG lock release, which is what announces a commit. After lock recovery
/// the survivors find the lock value block invalid (an EX holder died), read seqno 2 from
/// disk under the VG lock shared, newer than the 1 their tables come from, and reload: no
/// survivor keeps leg 1 in its mirror. `status` says so. Without the check they kept it.
#[test]
fn a_node_dying_between_its_commit_and_its_announcement_leaves_no_stale_table() {
    for seed in 0..20 {
        let mut sim = mirrored_cluster(seed);
        assert!(matches!(sim.call(3, 10, vg_ex()), Response::Granted { .. }));
        sim.disk_legs.insert(U.into(), 0b01);
        sim.seqno = 2;
        sim.crash(3);
        sim.run(5_000);
        for n in [1, 2] {
            let d = sim.dev(n, U).unwrap();
            assert_eq!((d.legs, d.suspended), (0b01, false), "seed {seed}, node{n}");
            let st = sim.node(n).status();
            assert_eq!(st.peer_refreshes.len(), 1, "seed {seed}, node{n}");
            let r = &st.peer_refreshes[0];
            assert_eq!(
                (r.vg.as_str(), r.lv.as_str(), r.seqno, r.from_seqno),
                ("vg", "lv", 2, Some(1)),
                "seed {seed}"
            );
            assert_eq!(r.nodes, ["node3"]);
            let ls = st.lockspaces.iter().find(|l| l.name == "lvm_vg").unwrap();
            assert_eq!(ls.seqno, Some(2));
            // The VG lock taken for the check is released.
            let vglk = ls.locks.iter().find(|l| l.resource == "VGLK").unwrap();
            assert!(vglk.holders.is_empty(), "seed {seed}: {:?}", vglk.holders);
        }
        // A later leave with nothing new on disk reloads nothing (the block stays invalid
        // until the next EX release, so the disk is read again, and says 2). node3 is back
        // first, so node1 stays quorate.
        sim.reboot(3);
        sim.run(1_000);
        let from = sim.dm_log.len();
        sim.crash(2);
        sim.run(5_000);
        assert!(
            actions_since(&sim, from, 1, false).is_empty(),
            "seed {seed}"
        );
        assert_eq!(actions_since(&sim, from, 1, true).len(), 1, "seed {seed}");
        assert_eq!(sim.node(1).status().peer_refreshes.len(), 1);
    }
}

/// A node that leaves holding nothing (or after announcing its commits) costs the survivors
/// one VG lock grant: the lock value block is valid and not newer than their tables, so they
/// neither read the disk nor reload anything (the reverted attempt reloaded every active LV).
#[test]
fn a_node_leaving_with_nothing_unannounced_reloads_nothing() {
    for seed in 0..10 {
        let mut sim = mirrored_cluster(seed);
        // An announced commit: reloaded by propagation, not by the leave.
        assert!(matches!(sim.call(3, 10, vg_ex()), Response::Granted { .. }));
        sim.disk_legs.insert(U.into(), 0b01);
        sim.seqno = 2;
        assert_eq!(sim.call(3, 10, unlock(2)), Response::Done);
        sim.run(1_000);
        assert_eq!(sim.dev(2, U).unwrap().legs, 0b01);
        let from = sim.dm_log.len();
        sim.crash(3);
        sim.run(5_000);
        for n in [1, 2] {
            assert!(
                actions_since(&sim, from, n, false).is_empty(),
                "seed {seed}"
            );
            assert!(actions_since(&sim, from, n, true).is_empty(), "seed {seed}");
            assert!(sim.node(n).status().peer_refreshes.is_empty());
        }
    }
}

/// A survivor that lost quorum with the leave has the VG frozen: nothing of it is read or
/// reloaded (the check waits for quorum and the thaw).
#[test]
fn no_check_of_a_vg_frozen_by_the_leave() {
    let mut sim = Sim::new(2, 3);
    sim.disk.insert(U.into(), OLD);
    for id in 1..=2 {
        let r = sim.call(
            id,
            1,
            Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        );
        assert_eq!(r, Response::Done);
        let r = sim.call(
            id,
            2,
            Request::LvLock {
                vg: "vg".into(),
                lv_uuid: U.into(),
                lv_name: "lv".into(),
                mode: Mode::Pr,
            },
        );
        assert_eq!(r, Response::Done);
        sim.create_dev(id, U);
    }
    assert!(matches!(sim.call(2, 10, vg_ex()), Response::Granted { .. }));
    sim.disk.insert(U.into(), NEW);
    sim.seqno = 2;
    let from = sim.dm_log.len();
    sim.crash(2);
    sim.run(5_000);
    assert!(!sim.node(1).status().frozen.is_empty());
    assert!(actions_since(&sim, from, 1, false).is_empty());
    assert!(actions_since(&sim, from, 1, true).is_empty());
    assert_eq!(sim.dev(1, U).unwrap().size, OLD);
}

/// Issue 15, the same gap without a death: node3's command splits the mirror and is killed
/// before its VG lock release. Its daemon keeps the lock, reads seqno 2 on disk, newer than
/// the 1 known, and releases it with 2: the commit is announced and every node reloads, node3
/// included. A command that goes away without committing announces nothing.
#[test]
fn a_command_killed_after_its_commit_is_announced_by_its_daemon() {
    for seed in 0..10 {
        let mut sim = mirrored_cluster(seed);
        let r = sim.call(
            3,
            2,
            Request::LvLock {
                vg: "vg".into(),
                lv_uuid: U.into(),
                lv_name: "lv".into(),
                mode: Mode::Pr,
            },
        );
        assert_eq!(r, Response::Done);
        sim.create_dev(3, U);
        assert!(matches!(sim.call(3, 11, vg_ex()), Response::Granted { .. }));
        let from = sim.dm_log.len();
        sim.disconnect(3, 11);
        sim.run(1_000);
        assert!(
            actions_since(&sim, from, 1, false).is_empty(),
            "seed {seed}"
        );
        assert!(matches!(sim.call(3, 12, vg_ex()), Response::Granted { .. }));
        sim.disk_legs.insert(U.into(), 0b01);
        sim.seqno = 2;
        sim.disconnect(3, 12);
        sim.run(1_000);
        for n in [1, 2, 3] {
            assert_eq!(sim.dev(n, U).unwrap().legs, 0b01, "seed {seed}, node{n}");
            let st = sim.node(n).status();
            let ls = st.lockspaces.iter().find(|l| l.name == "lvm_vg").unwrap();
            assert_eq!(ls.seqno, Some(2), "seed {seed}, node{n}");
        }
        // The lock value block has it: a later reader sees seqno 2, valid.
        let r = sim.call(
            1,
            13,
            Request::Lock {
                scope: Scope::Vg("vg".into()),
                mode: Mode::Pr,
                wait_ms: 10_000,
            },
        );
        assert_eq!(
            r,
            Response::Granted {
                r_version: Some(2),
                lvb_invalid: false
            },
            "seed {seed}"
        );
    }
}
