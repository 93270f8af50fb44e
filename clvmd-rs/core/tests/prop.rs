//! Property tests on simulated clusters under random interleavings:
//! - never two incompatible holders of one resource (checked in the DLM after every call, and
//!   on what clients were told: an LV granted EX on one node is granted nowhere else);
//! - no lost update: every commit happens under VGLK EX, sees the seqno the previous commit
//!   left (so none is reused), and the LVB hands each writer and reader the latest seqno;
//! - a refusal names its holder, promptly, whether the hold was told or not (GLLK, VGLK and
//!   LV locks alike), old members or not; an LV's lock is multicast only when an old member
//!   needs it.

use std::collections::{BTreeMap, BTreeSet};

use clvmd_core::sim::{Sim, CLUSTER};
use clvmd_proto::{Holder, Mode, Request, Response, Scope};
use proptest::prelude::*;

const LVS: [&str; 2] = [
    "aaaaaa-0000-0000-0000-0000-0000-000001",
    "aaaaaa-0000-0000-0000-0000-0000-000002",
];

#[derive(Debug, Clone, Copy)]
enum Action {
    Commit,
    Read,
    LvOn(usize, bool),
    LvOff(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => Just(Action::Commit),
        1 => Just(Action::Read),
        2 => (0..LVS.len(), any::<bool>()).prop_map(|(l, ex)| Action::LvOn(l, ex)),
        1 => (0..LVS.len()).prop_map(Action::LvOff),
    ]
}

#[derive(Debug)]
enum St {
    Idle,
    /// Asked; holds VGLK once granted.
    Asked(Action),
    /// Holds VGLK (EX for a commit) having seen this r_version.
    Holding(Action),
    Unlocking,
}

struct Client {
    node: u32,
    conn: u64,
    script: Vec<Action>,
    st: St,
}

fn vg_lock(mode: Mode) -> Request {
    Request::Lock {
        scope: Scope::Vg("vg".into()),
        mode,
        wait_ms: 60_000,
    }
}

fn run(nodes: u32, scripts: Vec<(u32, Vec<Action>)>, seed: u64) -> (u32, usize) {
    let mut sim = Sim::new(nodes, seed);
    for n in 1..=nodes {
        let r = sim.call(
            n,
            1_000,
            Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        );
        assert_eq!(r, Response::Done);
    }
    let mut clients: Vec<Client> = scripts
        .into_iter()
        .enumerate()
        .map(|(i, (node, mut script))| {
            script.reverse();
            Client {
                node: 1 + node % nodes,
                conn: i as u64 + 1,
                script,
                st: St::Idle,
            }
        })
        .collect();
    let mut disk: u32 = 0;
    let mut used = BTreeSet::new();
    // LV -> node -> granted mode, as clients were told.
    let mut active: BTreeMap<usize, BTreeMap<u32, Mode>> = BTreeMap::new();
    let mut rng_state = seed | 1;
    let mut rand = move |n: usize| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        (rng_state % n as u64) as usize
    };
    let mut busy = 0usize;
    for _round in 0..200_000 {
        // Deliver replies.
        let replies: Vec<_> = sim.replies.drain(..).collect();
        for (node, conn, resp) in replies {
            let c = clients
                .iter_mut()
                .find(|c| c.node == node && c.conn == conn)
                .expect("reply to a known client");
            c.st = match (std::mem::replace(&mut c.st, St::Idle), resp) {
                (
                    St::Asked(a @ (Action::Commit | Action::Read)),
                    Response::Granted {
                        r_version,
                        lvb_invalid,
                    },
                ) => {
                    assert!(!lvb_invalid);
                    // The LVB hands over the latest committed seqno.
                    assert_eq!(r_version.unwrap_or(0), disk, "stale LVB for {a:?}");
                    St::Holding(a)
                }
                (St::Asked(Action::Commit | Action::Read), Response::Busy { .. }) => {
                    busy += 1;
                    St::Idle
                }
                (St::Asked(Action::LvOn(l, ex)), Response::Done) => {
                    let mode = if ex { Mode::Ex } else { Mode::Pr };
                    let a = active.entry(l).or_default();
                    a.insert(node, mode);
                    for (n1, m1) in a.iter() {
                        for (n2, m2) in a.iter() {
                            assert!(
                                n1 == n2 || !(*m1 == Mode::Ex || *m2 == Mode::Ex),
                                "LV {l}: node {n1} {m1} and node {n2} {m2}"
                            );
                        }
                    }
                    St::Idle
                }
                (St::Asked(Action::LvOn(..)), Response::Busy { .. }) => {
                    busy += 1;
                    St::Idle
                }
                (St::Asked(Action::LvOff(l)), Response::Done) => {
                    active.entry(l).or_default().remove(&node);
                    St::Idle
                }
                (St::Unlocking, Response::Done) => St::Idle,
                (st, resp) => panic!("client {conn} on node {node}: {resp:?} in {st:?}"),
            };
        }
        // Let one client act, or the cluster make progress.
        let choice = rand(clients.len() + 3);
        if choice < clients.len() {
            let c = &mut clients[choice];
            match c.st {
                St::Idle => {
                    if let Some(a) = c.script.pop() {
                        let req = match a {
                            Action::Commit => vg_lock(Mode::Ex),
                            Action::Read => vg_lock(Mode::Pr),
                            Action::LvOn(l, ex) => Request::LvLock {
                                vg: "vg".into(),
                                lv_uuid: LVS[l].into(),
                                lv_name: format!("lv{l}"),
                                mode: if ex { Mode::Ex } else { Mode::Pr },
                            },
                            Action::LvOff(l) => Request::LvUnlock {
                                vg: "vg".into(),
                                lv_uuid: LVS[l].into(),
                                lv_name: format!("lv{l}"),
                            },
                        };
                        c.st = St::Asked(a);
                        let (node, conn) = (c.node, c.conn);
                        sim.request(node, conn, req);
                    }
                }
                St::Holding(a) => {
                    let seqno = if matches!(a, Action::Commit) {
                        disk += 1;
                        assert!(used.insert(disk), "seqno {disk} reused");
                        Some(disk)
                    } else {
                        None
                    };
                    c.st = St::Unlocking;
                    let (node, conn) = (c.node, c.conn);
                    sim.request(
                        node,
                        conn,
                        Request::Unlock {
                            scope: Scope::Vg("vg".into()),
                            seqno,
                            removed: false,
                            quiet: false,
                        },
                    );
                }
                _ => {}
            }
        } else if !sim.step_once() {
            let done = clients
                .iter()
                .all(|c| c.script.is_empty() && matches!(c.st, St::Idle));
            if done && sim.replies.is_empty() {
                break;
            }
            // Time passes only when no client can act (clients act at once, in sim time).
            let can_act = clients.iter().any(|c| {
                matches!(c.st, St::Holding(_)) || (matches!(c.st, St::Idle) && !c.script.is_empty())
            });
            if !can_act && sim.replies.is_empty() && !sim.advance() {
                panic!(
                    "stuck: {:?}",
                    clients.iter().map(|c| &c.st).collect::<Vec<_>>()
                );
            }
        }
    }
    assert!(
        clients
            .iter()
            .all(|c| c.script.is_empty() && matches!(c.st, St::Idle)),
        "did not finish"
    );
    sim.dlm.assert_compatible();
    // Every node knows the last seqno (the LVB it read, or the commits announced over CPG).
    if disk > 0 {
        for n in 1..=nodes {
            let st = sim.node(n).status();
            let ls = st.lockspaces.iter().find(|l| l.name == "lvm_vg").unwrap();
            assert_eq!(ls.seqno, Some(disk), "node {n}");
        }
    }
    (disk, busy)
}

proptest! {
    // 96 cases by default; PROPTEST_CASES raises it for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(96),
        .. ProptestConfig::default()
    })]

    #[test]
    fn no_incompatible_holders_and_no_lost_update(
        nodes in 2u32..=4,
        scripts in prop::collection::vec((0u32..4, prop::collection::vec(action(), 1..12)), 2..8),
        seed in any::<u64>(),
    ) {
        let commits: usize = scripts
            .iter()
            .map(|(_, s)| s.iter().filter(|a| matches!(a, Action::Commit)).count())
            .sum();
        let (disk, _busy) = run(nodes, scripts, seed);
        // Commits wait (60 s of simulated retries) rather than fail, so none is lost.
        prop_assert_eq!(disk as usize, commits);
    }
}

#[test]
fn sixty_concurrent_commits_from_three_nodes() {
    // Issue 13's first lab scenario in miniature: 20 writers per node at once.
    let scripts: Vec<_> = (0..60).map(|i| (i % 3, vec![Action::Commit])).collect();
    for seed in 0..20 {
        let (disk, busy) = run(3, scripts.clone(), seed);
        assert_eq!((disk, busy), (60, 0), "seed {seed}");
    }
}

/// What a refusal is about (prop test below).
#[derive(Debug, Clone, Copy)]
enum Held {
    Vg,
    Global,
    Lv,
}

fn take(res: Held, mode: Mode, wait_ms: u32) -> Request {
    match res {
        Held::Vg | Held::Global => Request::Lock {
            scope: match res {
                Held::Vg => Scope::Vg("vg".into()),
                _ => Scope::Global,
            },
            mode,
            wait_ms,
        },
        Held::Lv => Request::LvLock {
            vg: "vg".into(),
            lv_uuid: LVS[0].into(),
            lv_name: "lv0".into(),
            mode,
        },
    }
}

/// Node `holder` holds `res` in `held` (told to the others or not yet); node `asker` asks in
/// `asked` with `wait_ms` and is refused: the refusal names `holder`, after the whole wait
/// and without waiting for the barrier's deadline (nodes `old` never answer barriers).
#[allow(clippy::too_many_arguments)]
fn refusal(
    nodes: u32,
    holder: u32,
    asker: u32,
    old: &[u32],
    res: Held,
    (held, asked): (Mode, Mode),
    told: bool,
    wait_ms: u32,
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut sim = Sim::mixed(nodes, seed, old);
    for n in 1..=nodes {
        let r = sim.call(
            n,
            100,
            Request::LockStart {
                vg: "vg".into(),
                lock_args: format!("1.0.0:{CLUSTER}"),
            },
        );
        prop_assert_eq!(r, Response::Done);
    }
    // Every member's snapshot read: a member whose version is not known yet is told LV locks
    // at once, as an old one.
    sim.run(0);
    let from = sim.cpg_log.len();
    let r = sim.call(holder, 1, take(res, held, 0));
    prop_assert!(
        matches!(r, Response::Granted { .. } | Response::Done),
        "{:?}",
        r
    );
    if told {
        sim.run(clvmd_core::ANNOUNCE_AFTER_MS);
    }
    sim.run(0);
    if matches!(res, Held::Lv) {
        // An LV's lock is told at once only while a member may need it (an old one), never
        // by age: uncontended among new members, nothing is multicast.
        let helds = sim.cpg_log[from..]
            .iter()
            .filter(|(_, m)| matches!(m, clvmd_core::CpgMsg::Held { .. }))
            .count();
        prop_assert_eq!(
            helds,
            usize::from(!old.is_empty()),
            "{:?}",
            &sim.cpg_log[from..]
        );
    }
    let t0 = sim.now;
    let r = sim.call(asker, 1, take(res, asked, wait_ms));
    let waited = sim.now - t0;
    match r {
        Response::Busy { holder: h, .. } => prop_assert_eq!(
            h,
            Holder::Node {
                id: holder,
                name: format!("node{holder}"),
                mode: held
            }
        ),
        r => prop_assert!(false, "not refused: {:?}", r),
    }
    // LV locks are never waited for.
    let wait = if matches!(res, Held::Lv) { 0 } else { wait_ms };
    prop_assert!(u64::from(wait) <= waited, "answered after {} ms", waited);
    prop_assert!(
        waited < u64::from(wait) + 100,
        "answered after {} ms",
        waited
    );
    sim.dlm.assert_compatible();
    Ok(())
}

fn conflicting() -> impl Strategy<Value = (Mode, Mode)> {
    prop_oneof![
        Just((Mode::Ex, Mode::Ex)),
        Just((Mode::Ex, Mode::Pr)),
        Just((Mode::Pr, Mode::Ex)),
    ]
}

fn held() -> impl Strategy<Value = Held> {
    prop_oneof![Just(Held::Vg), Just(Held::Global), Just(Held::Lv)]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(96),
        .. ProptestConfig::default()
    })]

    /// All members new: whoever holds, told or not, the refusal names it.
    #[test]
    fn a_refusal_always_names_its_holder(
        (nodes, holder, asker) in (2u32..=4).prop_flat_map(|n| (Just(n), 1..=n, 1..n)),
        res in held(),
        modes in conflicting(),
        told in any::<bool>(),
        wait_ms in prop_oneof![Just(0u32), 1u32..400],
        seed in any::<u64>(),
    ) {
        // The asker: any node but the holder.
        let asker = if asker >= holder { asker + 1 } else { asker };
        refusal(nodes, holder, asker, &[], res, modes, told, wait_ms, seed)?;
    }

    /// With members from before barriers beside them (neither holder nor asker): still
    /// named, and not held up by the old members' silence.
    #[test]
    fn old_members_do_not_hold_up_a_refusal(
        old_mask in 1u32..4,
        res in held(),
        modes in conflicting(),
        told in any::<bool>(),
        wait_ms in prop_oneof![Just(0u32), 1u32..400],
        seed in any::<u64>(),
    ) {
        // Nodes 3 and 4 may be old; node1 holds, node2 asks.
        let old: Vec<u32> = [3, 4].into_iter().filter(|n| old_mask & (1 << (n - 3)) != 0).collect();
        refusal(4, 1, 2, &old, res, modes, told, wait_ms, seed)?;
    }

    /// An old member refused an LV names its holder, a new node, from what it was told:
    /// with an old member in the group LV locks are told at once, and the old member's own
    /// barrier (which it never sends) is not needed.
    #[test]
    fn an_old_member_refused_an_lv_names_its_holder(
        holder in 1u32..=2,
        modes in conflicting(),
        told in any::<bool>(),
        seed in any::<u64>(),
    ) {
        refusal(3, holder, 3, &[3], Held::Lv, modes, told, 0, seed)?;
    }
}
