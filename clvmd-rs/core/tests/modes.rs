//! VxVM activation modes on simulated clusters: the 16 cells of the conflict table (DESIGN.md,
//! "Activation modes"), node against node, three-node combinations, and mode changes.

use clvmd_core::sim::{Sim, CLUSTER};
use clvmd_proto::{Holder, Mode, Request, Response};

const EW: Mode = Mode::Pw;
const RO: Mode = Mode::Pr;
const SR: Mode = Mode::Cr;
const SW: Mode = Mode::Cw;

fn cluster(n: u32, seed: u64) -> Sim {
    let mut sim = Sim::new(n, seed);
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
    sim
}

fn set(sim: &mut Sim, node: u32, mode: Mode) -> Response {
    sim.call(
        node,
        50 + u64::from(node),
        Request::VgMode {
            vg: "vg".into(),
            mode,
        },
    )
}

fn ok(r: &Response) -> bool {
    match r {
        Response::Done => true,
        Response::Busy { .. } => false,
        r => panic!("unexpected {r:?}"),
    }
}

/// VxVM's table, transcribed from the seed: rows held, columns asked, in the order ew ro sr sw.
const TABLE: [[bool; 4]; 4] = [
    [false, false, true, false],
    [false, true, true, false],
    [true, true, true, true],
    [false, false, true, true],
];
const MODES: [Mode; 4] = [EW, RO, SR, SW];

#[test]
fn the_sixteen_cells_node_against_node() {
    for (i, held) in MODES.iter().enumerate() {
        for (j, asked) in MODES.iter().enumerate() {
            let mut sim = cluster(2, (i * 4 + j) as u64);
            assert_eq!(set(&mut sim, 1, *held), Response::Done);
            let r = set(&mut sim, 2, *asked);
            assert_eq!(
                ok(&r),
                TABLE[i][j],
                "held {held:?} on node1, asked {asked:?} on node2: {r:?}"
            );
            if let Response::Busy { holder, .. } = &r {
                // The refusal names the holder and its mode.
                assert_eq!(
                    *holder,
                    Holder::Node {
                        id: 1,
                        name: "node1".into(),
                        mode: *held
                    }
                );
            }
            assert_eq!(
                sim.node(2).vg_mode_held("vg"),
                TABLE[i][j].then_some(*asked)
            );
            assert_eq!(sim.node(1).vg_mode_held("vg"), Some(*held));
        }
    }
}

#[test]
fn three_node_combinations() {
    // Many readers beside one exclusive writer.
    let mut sim = cluster(3, 1);
    assert!(ok(&set(&mut sim, 1, EW)));
    assert!(ok(&set(&mut sim, 2, SR)));
    assert!(ok(&set(&mut sim, 3, SR)));
    // Shared writers and shared readers, but then no read-only node and no exclusive writer.
    let mut sim = cluster(3, 2);
    assert!(ok(&set(&mut sim, 1, SW)));
    assert!(ok(&set(&mut sim, 2, SW)));
    assert!(ok(&set(&mut sim, 3, SR)));
    assert!(!ok(&set(&mut sim, 3, RO)));
    assert!(!ok(&set(&mut sim, 3, EW)));
    // A refused change keeps the mode held before.
    assert_eq!(sim.node(3).vg_mode_held("vg"), Some(SR));
    // Read-only everywhere: nobody may write until every ro node let go.
    let mut sim = cluster(3, 3);
    for n in 1..=3 {
        assert!(ok(&set(&mut sim, n, RO)));
    }
    assert!(!ok(&set(&mut sim, 1, SW)));
    assert!(ok(&set(&mut sim, 2, Mode::Nl)));
    assert!(ok(&set(&mut sim, 3, Mode::Nl)));
    // node1's own ro is converted, not counted against it.
    assert!(ok(&set(&mut sim, 1, EW)));
    assert!(!ok(&set(&mut sim, 2, RO)));
}

#[test]
fn off_and_conversions() {
    let mut sim = cluster(2, 4);
    assert!(ok(&set(&mut sim, 1, EW)));
    assert!(!ok(&set(&mut sim, 2, SW)));
    // ew -> sw on node1 (a conversion), then node2's sw fits.
    assert!(ok(&set(&mut sim, 1, SW)));
    assert!(ok(&set(&mut sim, 2, SW)));
    // off on both, then ew anywhere.
    assert!(ok(&set(&mut sim, 1, Mode::Nl)));
    assert!(ok(&set(&mut sim, 2, Mode::Nl)));
    assert_eq!(sim.node(1).vg_mode_held("vg"), None);
    assert!(ok(&set(&mut sim, 2, EW)));
    // Modes are not LVs: nothing to reload after a commit, nothing to suspend.
    assert!(sim.node(2).active_lvs("vg").is_empty());
    match sim.call(
        1,
        9,
        Request::VgMode {
            vg: "vg".into(),
            mode: Mode::Ex,
        },
    ) {
        Response::Failed { .. } => {}
        r => panic!("{r:?}"),
    }
}

/// A node in ro mode reloads another node's commit read-only.
#[test]
fn refresh_keeps_read_only_tables_of_ro_and_sr() {
    const U: &str = "aaaaaa-0000-0000-0000-0000-0000-000001";
    let mut sim = cluster(3, 5);
    sim.disk.insert(U.into(), 100);
    assert!(ok(&set(&mut sim, 2, RO)));
    assert!(!ok(&set(&mut sim, 3, SW)));
    assert!(ok(&set(&mut sim, 3, SR)));
    for (n, m) in [(2, Mode::Pr), (3, Mode::Cr)] {
        let r = sim.call(
            n,
            7,
            Request::LvLock {
                vg: "vg".into(),
                lv_uuid: U.into(),
                lv_name: "lv".into(),
                mode: m,
            },
        );
        assert_eq!(r, Response::Done);
        sim.create_dev(n, U);
    }
    let ex = Request::Lock {
        scope: clvmd_proto::Scope::Vg("vg".into()),
        mode: Mode::Ex,
        wait_ms: 1000,
    };
    assert!(matches!(sim.call(1, 8, ex), Response::Granted { .. }));
    sim.disk.insert(U.into(), 200);
    let unlock = Request::Unlock {
        scope: clvmd_proto::Scope::Vg("vg".into()),
        seqno: Some(2),
        removed: false,
        quiet: false,
    };
    assert_eq!(sim.call(1, 8, unlock), Response::Done);
    sim.run(1_000);
    let refreshes: Vec<(u32, bool)> = sim
        .dm_log
        .iter()
        .filter_map(|(n, a)| match a {
            clvmd_core::DmAction::Refresh { read_only, .. } => Some((*n, *read_only)),
            _ => None,
        })
        .collect();
    let mut r = refreshes.clone();
    r.sort();
    assert_eq!(r, vec![(2, true), (3, true)]);
    assert_eq!(sim.dev(2, U).unwrap().size, 200);
}
