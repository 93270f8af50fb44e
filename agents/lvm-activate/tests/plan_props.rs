//! Properties of the decisions over random snapshots: the safety rules hold for every
//! combination, not only the hand-picked cases.

use std::collections::BTreeSet;

use halvm_lvm_activate::config::{AccessMode, Config, Sharing, StopConfig};
use halvm_lvm_activate::model::*;
use halvm_lvm_activate::plan::*;
use proptest::prelude::*;

const NODES: [&str; 3] = ["n1", "n2", "n3"];

fn arb_config() -> impl Strategy<Value = Config> {
    (
        prop::sample::select(vec![AccessMode::SystemId, AccessMode::Tagging]),
        prop::option::of(prop::sample::select(vec!["a".to_string(), "b".to_string()])),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(|(access, lv, (partial, degraded, majority))| Config {
            vg: "vg".into(),
            lv,
            access,
            sharing: Sharing::Exclusive,
            tag: "pm".into(),
            partial,
            degraded,
            majority_pvs: majority && access == AccessMode::SystemId,
        })
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    let owner = prop::option::of(prop::sample::select(vec![
        "n1",
        "n2",
        "n3",
        "stranger",
        RELEASED_SYSTEM_ID,
    ]));
    let tags = prop::collection::vec(
        prop::sample::select(vec!["pm", "pm:n1", "pm:n2", "pm:n3", "other"]),
        0..3,
    );
    (
        any::<bool>(),
        owner,
        tags,
        prop::collection::vec(any::<bool>(), 3),
        prop::collection::vec(prop::sample::select(vec!["a", "b"]), 0..3),
        prop::collection::vec(any::<bool>(), 3),
        any::<(bool, bool, bool, bool)>(),
    )
        .prop_map(
            |(
                vg_visible,
                owner,
                tags,
                missing,
                active,
                members,
                (have_nodes, started, lock, by_pacemaker),
            )| {
                let pv = |i: usize| PvState {
                    name: format!("pv{i}"),
                    missing: missing[i],
                };
                let vg = VgState {
                    name: "vg".into(),
                    system_id: owner.map(str::to_string),
                    tags: tags.into_iter().map(str::to_string).collect(),
                    lock_type: lock
                        .then(|| "dlm".to_string())
                        .filter(|_| started && !have_nodes),
                    clustered: false,
                    pvs: (0..3).map(pv).collect(),
                    lvs: vec![
                        LvState {
                            name: "a".into(),
                            segments: vec![SegState {
                                lv_start: 0,
                                sectors: 8,
                                kind: SegKind::Striped,
                                areas: vec![vec!["pv0".into()]],
                            }],
                        },
                        LvState {
                            name: "b".into(),
                            segments: vec![SegState {
                                lv_start: 0,
                                sectors: 8,
                                kind: SegKind::Mirrored,
                                areas: vec![vec!["pv1".into()], vec!["pv2".into()]],
                            }],
                        },
                    ],
                };
                let active: BTreeSet<&str> = active.into_iter().collect();
                Snapshot {
                    vg: vg_visible.then_some(vg),
                    active: active
                        .into_iter()
                        .map(|n| ActiveLv {
                            name: n.into(),
                            state: DmState::Live,
                        })
                        .collect(),
                    local: LocalNode {
                        name: Some("n1".into()),
                        system_id: Some("n1".into()),
                    },
                    nodes: have_nodes.then(|| {
                        NODES
                            .iter()
                            .zip(&members)
                            .map(|(n, m)| ClusterNode {
                                id: None,
                                name: n.to_string(),
                                member: *n == "n1" || *m,
                            })
                            .collect()
                    }),
                    started,
                    by_pacemaker,
                    lock: None,
                }
            },
        )
}

/// Applies a plan to the snapshot the way the backend would.
fn apply(snap: &Snapshot, plan: &Plan) -> Snapshot {
    let mut s = snap.clone();
    for step in &plan.steps {
        match step {
            Step::SetSystemId { to, .. } => s.vg.as_mut().unwrap().system_id = Some(to.clone()),
            Step::AddTag(t) => s.vg.as_mut().unwrap().tags.push(t.clone()),
            Step::DelTag(t) => s.vg.as_mut().unwrap().tags.retain(|x| x != t),
            Step::LockStart => {
                s.lock = Some(LockDaemon::Running {
                    lockspace_started: true,
                })
            }
            Step::LockStop => {
                s.lock = Some(LockDaemon::Running {
                    lockspace_started: false,
                })
            }
            Step::Activate { lv, mode, .. } => s.active.push(ActiveLv {
                name: lv.clone(),
                state: if *mode == halvm_lvm_activate::plan::ActivationMode::Complete {
                    DmState::Live
                } else {
                    DmState::Degraded
                },
            }),
            Step::Deactivate { lv } => s.active.retain(|a| &a.name != lv),
            Step::MarkStarted => s.started = true,
            Step::ClearStarted => s.started = false,
        }
    }
    s
}

/// An owner other than n1 that start must never take the VG from: one that is not a known
/// cluster node (or the membership is unknown), or a live member when the start does not come
/// from Pacemaker (which starts the resource only where it is stopped everywhere else). Dead
/// nodes were fenced: taken over.
fn must_not_take(cfg: &Config, snap: &Snapshot) -> bool {
    let Some(vg) = &snap.vg else { return false };
    let node = |n: &str| {
        snap.nodes
            .as_ref()
            .and_then(|ns| ns.iter().find(|x| x.name == n))
    };
    let forbidden = |o: &str| match node(o) {
        None => true,
        Some(n) => n.member && !snap.by_pacemaker,
    };
    match cfg.access {
        AccessMode::SystemId => vg
            .system_id
            .as_deref()
            .is_some_and(|o| o != "n1" && o != RELEASED_SYSTEM_ID && forbidden(o)),
        _ => vg
            .tags
            .iter()
            .filter_map(|t| t.strip_prefix("pm:"))
            .any(|o| o != "n1" && forbidden(o)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn start_is_safe_and_effective(cfg in arb_config(), snap in arb_snapshot()) {
        match plan_start(&cfg, &snap) {
            Ok(plan) => {
                prop_assert!(!must_not_take(&cfg, &snap), "took a VG it must not: {:?}", plan);
                prop_assert_eq!(plan.steps.last(), Some(&Step::MarkStarted));
                for s in &plan.steps {
                    if let Step::Activate { lv, .. } = s {
                        prop_assert!(!snap.is_active(lv), "re-activated {}", lv);
                    }
                }
                let after = apply(&snap, &plan);
                let vg = after.vg.as_ref().unwrap();
                prop_assert_eq!(owner(cfg.access, &cfg.tag, vg, &after), Owner::Us);
                // What start did, monitor confirms.
                let v = assess(&cfg, &after, false, 0);
                prop_assert!(matches!(v, Ok(Verdict { state: MonitorState::Running | MonitorState::Degraded, .. })), "{:?}", v);
                // Start is idempotent.
                let again = plan_start(&cfg, &after).unwrap();
                prop_assert_eq!(again.steps, vec![Step::MarkStarted]);
            }
            Err(e) => {
                prop_assert!([1u8, 2, 6].contains(&e.exit_code()), "{:?}", e);
            }
        }
    }

    #[test]
    fn stop_always_succeeds_and_leaves_nothing_ours(cfg in arb_config(), snap in arb_snapshot()) {
        let stop = StopConfig::from(&cfg);
        let plan = plan_stop(&stop, &snap).unwrap();
        prop_assert_eq!(plan.steps.last(), Some(&Step::ClearStarted));
        let after = apply(&snap, &plan);
        // The managed LVs are inactive and a second stop only clears the marker.
        for a in &after.active {
            prop_assert!(cfg.lv.as_ref().is_some_and(|lv| lv != &a.name), "{} left active", a.name);
        }
        let again = plan_stop(&stop, &after).unwrap();
        let redeactivates = again.steps.iter().any(|s| matches!(s, Step::Deactivate { .. }));
        prop_assert!(!redeactivates, "second stop deactivates again: {:?}", again.steps);
        // Others' ownership is never touched.
        if let (Some(before), Some(vg)) = (&snap.vg, &after.vg) {
            let foreign = |v: &VgState| v.tags.iter().filter(|t| t.starts_with("pm:") && *t != "pm:n1").cloned().collect::<Vec<_>>();
            prop_assert_eq!(foreign(before), foreign(vg));
            if before.system_id.as_deref() != Some("n1") {
                prop_assert_eq!(&before.system_id, &vg.system_id);
            }
        }
        // After a clean stop of everything, a monitor says 7.
        if cfg.lv.is_none() && after.active.is_empty() {
            let m = assess(&cfg, &after, false, 0);
            let missing = after.vg.as_ref().is_some_and(|v| v.pvs.iter().any(|p| p.missing));
            if !missing {
                prop_assert!(matches!(m, Ok(Verdict { state: MonitorState::NotRunning, .. })), "{:?}", m);
            }
        }
    }

    #[test]
    fn monitor_states_agree_with_the_devices(cfg in arb_config(), snap in arb_snapshot(), probe in any::<bool>(), level in prop::sample::select(vec![0u32, 10, 20])) {
        let wanted: Vec<&str> = match (&cfg.lv, &snap.vg) {
            (Some(lv), _) => vec![lv.as_str()],
            (None, Some(_)) => vec!["a", "b"],
            (None, None) => vec![],
        };
        match assess(&cfg, &snap, probe, level) {
            Ok(v) => {
                let active = wanted.iter().filter(|l| snap.is_active(l)).count();
                match v.state {
                    MonitorState::NotRunning => {
                        prop_assert_eq!(active, 0);
                        prop_assert!(v.reads.is_empty());
                    }
                    _ => {
                        prop_assert_eq!(active, wanted.len());
                        prop_assert_eq!(v.reads.is_empty(), level == 0);
                    }
                }
            }
            Err(e) => prop_assert!([1u8, 6].contains(&e.exit_code()), "{:?}", e),
        }
    }
}
