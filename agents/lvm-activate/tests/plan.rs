//! The decision tables of start, stop and monitor, case by case.

use halvm_lvm_activate::config::{AccessMode, Config, Sharing, StopConfig};
use halvm_lvm_activate::error::ActivateError;
use halvm_lvm_activate::model::*;
use halvm_lvm_activate::plan::ActivationMode;
use halvm_lvm_activate::plan::*;

fn lin(pv: &str) -> SegState {
    SegState {
        lv_start: 0,
        sectors: 2048,
        kind: SegKind::Striped,
        areas: vec![vec![pv.into()]],
    }
}

fn vg(system_id: Option<&str>, tags: &[&str]) -> VgState {
    VgState {
        name: "vg1".into(),
        system_id: system_id.map(str::to_string),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        lock_type: None,
        clustered: false,
        pvs: vec![
            PvState {
                name: "pv0".into(),
                missing: false,
            },
            PvState {
                name: "pv1".into(),
                missing: false,
            },
            PvState {
                name: "pv2".into(),
                missing: false,
            },
        ],
        lvs: vec![
            LvState {
                name: "data".into(),
                segments: vec![
                    lin("pv0"),
                    SegState {
                        lv_start: 2048,
                        sectors: 2048,
                        kind: SegKind::Striped,
                        areas: vec![vec!["pv1".into()]],
                    },
                ],
            },
            LvState {
                name: "mirror".into(),
                segments: vec![SegState {
                    lv_start: 0,
                    sectors: 4096,
                    kind: SegKind::Mirrored,
                    areas: vec![vec!["pv1".into()], vec!["pv2".into()]],
                }],
            },
        ],
    }
}

fn cfg(access: AccessMode) -> Config {
    Config {
        vg: "vg1".into(),
        lv: None,
        access,
        sharing: Sharing::Exclusive,
        tag: "pacemaker".into(),
        partial: false,
        degraded: false,
        majority_pvs: false,
    }
}

fn nodes() -> Option<Vec<ClusterNode>> {
    Some(vec![
        ClusterNode {
            id: Some(1),
            name: "n1".into(),
            member: true,
        },
        ClusterNode {
            id: Some(2),
            name: "n2".into(),
            member: true,
        },
        ClusterNode {
            id: Some(3),
            name: "n3".into(),
            member: false,
        },
    ])
}

fn snap(vg: Option<VgState>, active: &[&str]) -> Snapshot {
    Snapshot {
        vg,
        active: active
            .iter()
            .map(|n| ActiveLv {
                name: n.to_string(),
                state: DmState::Live,
            })
            .collect(),
        local: LocalNode {
            name: Some("n1".into()),
            system_id: Some("n1".into()),
        },
        nodes: nodes(),
        started: false,
        lock: None,
        by_pacemaker: true,
    }
}

fn missing(mut v: VgState, pvs: &[&str]) -> VgState {
    for p in &mut v.pvs {
        if pvs.contains(&p.name.as_str()) {
            p.missing = true;
        }
    }
    v
}

fn activate_all() -> Vec<Step> {
    vec![
        Step::Activate {
            lv: "data".into(),
            mode: ActivationMode::Complete,
            lock: None,
        },
        Step::Activate {
            lv: "mirror".into(),
            mode: ActivationMode::Complete,
            lock: None,
        },
        Step::MarkStarted,
    ]
}

fn code(e: &ActivateError) -> u8 {
    e.exit_code()
}

// ---- start, system_id ----

#[test]
fn start_claims_an_unowned_or_released_vg() {
    for owner in [None, Some(RELEASED_SYSTEM_ID)] {
        let p = plan_start(&cfg(AccessMode::SystemId), &snap(Some(vg(owner, &[])), &[])).unwrap();
        let mut want = vec![Step::SetSystemId {
            from: owner.map(str::to_string),
            to: "n1".into(),
            majority: false,
        }];
        want.extend(activate_all());
        assert_eq!(p.steps, want, "{owner:?}");
    }
}

#[test]
fn start_on_our_vg_only_activates_what_is_inactive() {
    let p = plan_start(
        &cfg(AccessMode::SystemId),
        &snap(Some(vg(Some("n1"), &[])), &["data"]),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        vec![
            Step::Activate {
                lv: "mirror".into(),
                mode: ActivationMode::Complete,
                lock: None
            },
            Step::MarkStarted
        ]
    );
    // Everything active already: a second start changes nothing.
    let p = plan_start(
        &cfg(AccessMode::SystemId),
        &snap(Some(vg(Some("n1"), &[])), &["data", "mirror"]),
    )
    .unwrap();
    assert_eq!(p.steps, vec![Step::MarkStarted]);
}

#[test]
fn start_takes_over_from_cluster_nodes_only() {
    let p = plan_start(
        &cfg(AccessMode::SystemId),
        &snap(Some(vg(Some("n3"), &[])), &[]),
    )
    .unwrap();
    assert_eq!(
        p.steps[0],
        Step::SetSystemId {
            from: Some("n3".into()),
            to: "n1".into(),
            majority: false
        }
    );
    assert!(
        p.notes[0].contains("taking vg1 over from n3"),
        "{:?}",
        p.notes
    );

    // A live member: Pacemaker starts the resource here only once it is stopped there.
    let p = plan_start(
        &cfg(AccessMode::SystemId),
        &snap(Some(vg(Some("n2"), &[])), &[]),
    )
    .unwrap();
    assert_eq!(
        p.steps[0],
        Step::SetSystemId {
            from: Some("n2".into()),
            to: "n1".into(),
            majority: false
        }
    );
    assert!(
        p.info[0].contains("taking vg1 over from n2, a cluster member where it is stopped"),
        "{:?}",
        p.info
    );
    // Run by hand (no Pacemaker checked n2): refused.
    let mut by_hand = snap(Some(vg(Some("n2"), &[])), &[]);
    by_hand.by_pacemaker = false;
    let e = plan_start(&cfg(AccessMode::SystemId), &by_hand).unwrap_err();
    assert_eq!(
        e,
        ActivateError::OwnedByLiveNode {
            vg: "vg1".into(),
            owner: "n2".into()
        }
    );
    assert_eq!(code(&e), 1);

    let e = plan_start(
        &cfg(AccessMode::SystemId),
        &snap(Some(vg(Some("elsewhere"), &[])), &[]),
    )
    .unwrap_err();
    assert_eq!(
        e,
        ActivateError::ForeignOwner {
            vg: "vg1".into(),
            owner: "elsewhere".into()
        }
    );

    let mut s = snap(Some(vg(Some("n3"), &[])), &[]);
    s.nodes = None;
    let e = plan_start(&cfg(AccessMode::SystemId), &s).unwrap_err();
    assert!(
        matches!(e, ActivateError::MembershipUnknown { .. }),
        "{e:?}"
    );
    assert_eq!(code(&e), 1);
}

#[test]
fn start_needs_a_local_system_id() {
    let mut s = snap(Some(vg(None, &[])), &[]);
    s.local.system_id = None;
    let e = plan_start(&cfg(AccessMode::SystemId), &s).unwrap_err();
    assert_eq!(e, ActivateError::NoLocalSystemId);
    assert_eq!(code(&e), 2);
}

#[test]
fn start_misconfigured_vgs_exit_6() {
    let mut shared = vg(None, &[]);
    shared.lock_type = Some("dlm".into());
    let mut clustered = vg(None, &[]);
    clustered.clustered = true;
    let mut empty = vg(None, &[]);
    empty.lvs.clear();
    for (case, v) in [("dlm", shared), ("clustered", clustered), ("empty", empty)] {
        let e = plan_start(&cfg(AccessMode::SystemId), &snap(Some(v), &[])).unwrap_err();
        assert_eq!(code(&e), 6, "{case}: {e}");
    }
    let mut c = cfg(AccessMode::SystemId);
    c.lv = Some("nope".into());
    let e = plan_start(&c, &snap(Some(vg(None, &[])), &[])).unwrap_err();
    assert_eq!(
        e,
        ActivateError::LvNotInVg {
            vg: "vg1".into(),
            lv: "nope".into()
        }
    );
    assert_eq!(code(&e), 6);
    let e = plan_start(&cfg(AccessMode::SystemId), &snap(None, &[])).unwrap_err();
    assert_eq!(e, ActivateError::VgNotFound { vg: "vg1".into() });
    assert_eq!(code(&e), 1);
}

#[test]
fn start_one_lv_only() {
    let mut c = cfg(AccessMode::SystemId);
    c.lv = Some("mirror".into());
    let p = plan_start(&c, &snap(Some(vg(Some("n1"), &[])), &[])).unwrap();
    assert_eq!(
        p.steps,
        vec![
            Step::Activate {
                lv: "mirror".into(),
                mode: ActivationMode::Complete,
                lock: None
            },
            Step::MarkStarted
        ]
    );
}

// ---- start, missing PVs ----

#[test]
fn ownership_change_with_missing_pvs_needs_majority_pvs_and_a_majority() {
    let one_missing = missing(vg(Some("n3"), &[]), &["pv2"]);
    let e = plan_start(
        &cfg(AccessMode::SystemId),
        &snap(Some(one_missing.clone()), &[]),
    )
    .unwrap_err();
    assert_eq!(
        e,
        ActivateError::MissingPvs {
            vg: "vg1".into(),
            missing: vec!["pv2".into()],
            hint: Some("majority_pvs=true".into())
        }
    );
    assert_eq!(code(&e), 1);
    assert!(e.to_string().contains("consider majority_pvs=true"), "{e}");
    // partial_activation does not allow a system ID change (lvm2 refuses it too).
    let mut c = cfg(AccessMode::SystemId);
    c.partial = true;
    assert!(plan_start(&c, &snap(Some(one_missing.clone()), &[])).is_err());

    let mut c = cfg(AccessMode::SystemId);
    c.majority_pvs = true;
    c.degraded = true;
    let p = plan_start(&c, &snap(Some(one_missing), &[])).unwrap();
    assert_eq!(
        p.steps[0],
        Step::SetSystemId {
            from: Some("n3".into()),
            to: "n1".into(),
            majority: true
        }
    );
    assert_eq!(
        p.steps[2],
        Step::Activate {
            lv: "mirror".into(),
            mode: ActivationMode::Degraded,
            lock: None
        }
    );

    // Two of three missing: no majority.
    let e = plan_start(
        &c,
        &snap(Some(missing(vg(Some("n3"), &[]), &["pv1", "pv2"])), &[]),
    )
    .unwrap_err();
    assert_eq!(
        e,
        ActivateError::MissingPvs {
            vg: "vg1".into(),
            missing: vec!["pv1".into(), "pv2".into()],
            hint: None
        }
    );
}

#[test]
fn lv_activation_rules_with_missing_pvs() {
    // We own the VG already, so no metadata write: only the per-LV rules apply.
    let v = missing(vg(Some("n1"), &[]), &["pv2"]);
    let e = plan_start(&cfg(AccessMode::SystemId), &snap(Some(v.clone()), &[])).unwrap_err();
    assert_eq!(
        e,
        ActivateError::LvNeedsMissingPvs {
            vg: "vg1".into(),
            lv: "mirror".into(),
            missing: vec!["pv2".into()],
            hint: Some("degraded_activation=true".into())
        }
    );
    let mut c = cfg(AccessMode::SystemId);
    c.degraded = true;
    let p = plan_start(&c, &snap(Some(v.clone()), &[])).unwrap();
    assert_eq!(
        p.steps[1],
        Step::Activate {
            lv: "mirror".into(),
            mode: ActivationMode::Degraded,
            lock: None
        }
    );
    let mut c = cfg(AccessMode::SystemId);
    c.partial = true;
    let p = plan_start(&c, &snap(Some(v), &[])).unwrap();
    assert_eq!(
        p.steps[1],
        Step::Activate {
            lv: "mirror".into(),
            mode: ActivationMode::Partial,
            lock: None
        }
    );

    // pv1 holds data of the linear LV and one mirror leg.
    let v = missing(vg(Some("n1"), &[]), &["pv1"]);
    let mut c = cfg(AccessMode::SystemId);
    c.degraded = true;
    let e = plan_start(&c, &snap(Some(v.clone()), &[])).unwrap_err();
    assert!(
        matches!(e, ActivateError::LvNeedsMissingPvs { ref lv, ref hint, .. } if lv == "data" && hint.as_deref() == Some("partial_activation=true")),
        "{e:?}"
    );
    c.partial = true;
    let p = plan_start(&c, &snap(Some(v), &[])).unwrap();
    assert_eq!(
        p.steps,
        vec![
            Step::Activate {
                lv: "data".into(),
                mode: ActivationMode::Partial,
                lock: None
            },
            Step::Activate {
                lv: "mirror".into(),
                mode: ActivationMode::Degraded,
                lock: None
            },
            Step::MarkStarted
        ]
    );
    // Both mirror legs missing: the mirror's data is gone.
    let v = missing(vg(Some("n1"), &[]), &["pv1", "pv2"]);
    let mut c = cfg(AccessMode::SystemId);
    c.lv = Some("mirror".into());
    c.degraded = true;
    assert!(plan_start(&c, &snap(Some(v), &[])).is_err());
}

// ---- start, tagging ----

#[test]
fn tagging_claims_and_takes_over() {
    let c = cfg(AccessMode::Tagging);
    let p = plan_start(&c, &snap(Some(vg(None, &[])), &[])).unwrap();
    let mut want = vec![
        Step::AddTag("pacemaker".into()),
        Step::AddTag("pacemaker:n1".into()),
    ];
    want.extend(activate_all());
    assert_eq!(p.steps, want);

    let p = plan_start(
        &c,
        &snap(Some(vg(None, &["pacemaker", "pacemaker:n1", "other"])), &[]),
    )
    .unwrap();
    assert_eq!(p.steps, activate_all());

    let p = plan_start(
        &c,
        &snap(Some(vg(None, &["pacemaker", "pacemaker:n3"])), &[]),
    )
    .unwrap();
    let mut want = vec![
        Step::DelTag("pacemaker:n3".into()),
        Step::AddTag("pacemaker:n1".into()),
    ];
    want.extend(activate_all());
    assert_eq!(p.steps, want);

    let p = plan_start(
        &c,
        &snap(Some(vg(None, &["pacemaker", "pacemaker:n2"])), &[]),
    )
    .unwrap();
    let mut want = vec![
        Step::DelTag("pacemaker:n2".into()),
        Step::AddTag("pacemaker:n1".into()),
    ];
    want.extend(activate_all());
    assert_eq!(p.steps, want);
    let e = plan_start(&c, &snap(Some(vg(None, &["pacemaker"])), &[])).unwrap_err();
    assert_eq!(
        e,
        ActivateError::UnknownTagOwner {
            vg: "vg1".into(),
            tag: "pacemaker".into()
        }
    );
    // Unrelated tags do not count as owners.
    assert!(plan_start(&c, &snap(Some(vg(None, &["backup", "n2"])), &[])).is_ok());
    let mut s = snap(Some(vg(None, &[])), &[]);
    s.local.name = None;
    assert_eq!(code(&plan_start(&c, &s).unwrap_err()), 2);
}

#[test]
fn tagging_with_missing_pvs_needs_partial_or_degraded() {
    let c = cfg(AccessMode::Tagging);
    let v = missing(vg(None, &[]), &["pv2"]);
    let e = plan_start(&c, &snap(Some(v.clone()), &[])).unwrap_err();
    assert!(
        matches!(e, ActivateError::MissingPvs { hint: Some(ref h), .. } if h == "partial_activation=true"),
        "{e:?}"
    );
    let mut c = cfg(AccessMode::Tagging);
    c.degraded = true;
    assert!(plan_start(&c, &snap(Some(v), &[])).is_ok());
}

// ---- stop ----

fn stop_cfg(access: AccessMode) -> StopConfig {
    StopConfig::from(&cfg(access))
}

#[test]
fn stop_deactivates_then_releases() {
    let p = plan_stop(
        &stop_cfg(AccessMode::SystemId),
        &snap(Some(vg(Some("n1"), &[])), &["data", "mirror"]),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        vec![
            Step::Deactivate {
                lv: "mirror".into()
            },
            Step::Deactivate { lv: "data".into() },
            Step::SetSystemId {
                from: Some("n1".into()),
                to: RELEASED_SYSTEM_ID.into(),
                majority: false
            },
            Step::ClearStarted
        ]
    );
    let p = plan_stop(
        &stop_cfg(AccessMode::Tagging),
        &snap(
            Some(vg(None, &["pacemaker", "pacemaker:n1", "x"])),
            &["data"],
        ),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        vec![
            Step::Deactivate { lv: "data".into() },
            Step::DelTag("pacemaker:n1".into()),
            Step::DelTag("pacemaker".into()),
            Step::ClearStarted
        ]
    );
}

#[test]
fn stop_when_stopped_or_not_ours_changes_no_ownership() {
    // Already released: stop twice is harmless.
    let p = plan_stop(
        &stop_cfg(AccessMode::SystemId),
        &snap(Some(vg(Some(RELEASED_SYSTEM_ID), &[])), &[]),
    )
    .unwrap();
    assert_eq!(p.steps, vec![Step::ClearStarted]);
    // Owned by another node: never touch its ownership.
    let p = plan_stop(
        &stop_cfg(AccessMode::SystemId),
        &snap(Some(vg(Some("n2"), &[])), &[]),
    )
    .unwrap();
    assert_eq!(p.steps, vec![Step::ClearStarted]);
    // VG gone, nothing active.
    let p = plan_stop(&stop_cfg(AccessMode::SystemId), &snap(None, &[])).unwrap();
    assert_eq!(p.steps, vec![Step::ClearStarted]);
    // VG gone but devices left: deactivate them.
    let p = plan_stop(&stop_cfg(AccessMode::SystemId), &snap(None, &["data"])).unwrap();
    assert_eq!(
        p.steps,
        vec![Step::Deactivate { lv: "data".into() }, Step::ClearStarted]
    );
    // No usable configuration at all.
    let c = StopConfig {
        vg: None,
        lv: None,
        access: None,
        tag: "pacemaker".into(),
        majority_pvs: false,
    };
    assert_eq!(
        plan_stop(&c, &snap(None, &[])).unwrap().steps,
        vec![Step::ClearStarted]
    );
}

#[test]
fn stop_of_one_lv_keeps_ownership_while_others_run() {
    let mut c = stop_cfg(AccessMode::SystemId);
    c.lv = Some("data".into());
    let p = plan_stop(&c, &snap(Some(vg(Some("n1"), &[])), &["data", "mirror"])).unwrap();
    assert_eq!(
        p.steps,
        vec![Step::Deactivate { lv: "data".into() }, Step::ClearStarted]
    );
    // The normal course, logged at info: no warning for it.
    assert_eq!(p.notes, Vec::<String>::new());
    assert_eq!(
        p.info,
        ["vg1: other LVs stay active here, keeping ownership"]
    );
    let p = plan_stop(&c, &snap(Some(vg(Some("n1"), &[])), &["data"])).unwrap();
    assert_eq!(
        p.steps[1],
        Step::SetSystemId {
            from: Some("n1".into()),
            to: RELEASED_SYSTEM_ID.into(),
            majority: false
        }
    );
}

/// A shared VG's exclusive LV stopped on a node where a clone keeps another LV active (the
/// admin guide's layout): the lockspace stays, which is said at info level, not as a warning
/// about ownership (a shared VG has none).
#[test]
fn stop_of_one_shared_lv_beside_a_clone_warns_nothing() {
    let mut c = stop_cfg(AccessMode::Lvmlockd);
    c.lv = Some("data".into());
    let mut v = vg(None, &[]);
    v.lock_type = Some("dlm".into());
    let mut s = snap(Some(v), &["data", "mirror"]);
    s.lock = Some(LockDaemon::Running {
        lockspace_started: true,
    });
    let p = plan_stop(&c, &s).unwrap();
    assert_eq!(
        p.steps,
        vec![Step::Deactivate { lv: "data".into() }, Step::ClearStarted]
    );
    assert_eq!(p.notes, Vec::<String>::new());
    assert_eq!(
        p.info,
        ["vg1: other LVs stay active here, so its lockspace stays"]
    );
}

#[test]
fn stop_with_missing_pvs_keeps_ownership_without_majority() {
    let v = missing(vg(Some("n1"), &[]), &["pv2"]);
    let p = plan_stop(
        &stop_cfg(AccessMode::SystemId),
        &snap(Some(v.clone()), &["data"]),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        vec![Step::Deactivate { lv: "data".into() }, Step::ClearStarted]
    );
    assert!(
        p.notes[0].contains("keeping this node's system ID"),
        "{:?}",
        p.notes
    );
    let mut c = stop_cfg(AccessMode::SystemId);
    c.majority_pvs = true;
    let p = plan_stop(&c, &snap(Some(v), &["data"])).unwrap();
    assert_eq!(
        p.steps[1],
        Step::SetSystemId {
            from: Some("n1".into()),
            to: RELEASED_SYSTEM_ID.into(),
            majority: true
        }
    );
}

// ---- monitor ----

fn state(r: Result<Verdict, ActivateError>) -> Result<MonitorState, u8> {
    r.map(|v| v.state).map_err(|e| e.exit_code())
}

#[test]
fn monitor_exit_rules() {
    let c = cfg(AccessMode::SystemId);
    let released = Some(vg(Some(RELEASED_SYSTEM_ID), &[]));
    let ours = Some(vg(Some("n1"), &[]));
    // Never started / cleanly stopped: 7, probe or not.
    for probe in [true, false] {
        assert_eq!(
            state(assess(&c, &snap(released.clone(), &[]), probe, 0)),
            Ok(MonitorState::NotRunning)
        );
        assert_eq!(
            state(assess(&c, &snap(None, &[]), probe, 0)),
            Ok(MonitorState::NotRunning)
        );
        assert_eq!(
            state(assess(&c, &snap(Some(vg(Some("n2"), &[])), &[]), probe, 0)),
            Ok(MonitorState::NotRunning)
        );
    }
    // Running.
    assert_eq!(
        state(assess(
            &c,
            &snap(ours.clone(), &["data", "mirror"]),
            false,
            0
        )),
        Ok(MonitorState::Running)
    );
    // Ours (or started) but nothing active: an error for monitors, 7 for probes.
    assert_eq!(
        state(assess(&c, &snap(ours.clone(), &[]), false, 0)),
        Err(1)
    );
    assert_eq!(
        state(assess(&c, &snap(ours.clone(), &[]), true, 0)),
        Ok(MonitorState::NotRunning)
    );
    let mut s = snap(released.clone(), &[]);
    s.started = true;
    assert_eq!(state(assess(&c, &s, false, 0)), Err(1));
    // Started, and the VG vanished.
    let mut s = snap(None, &[]);
    s.started = true;
    assert_eq!(
        assess(&c, &s, false, 0).unwrap_err(),
        ActivateError::VgVanished { vg: "vg1".into() }
    );
    assert_eq!(state(assess(&c, &s, true, 0)), Ok(MonitorState::NotRunning));
    // Devices active, VG not visible: PVs lost under us.
    assert_eq!(state(assess(&c, &snap(None, &["data"]), true, 0)), Err(1));
    // Should be active, and the VG became misconfigured: 6.
    let mut bad = vg(Some("n1"), &[]);
    bad.lock_type = Some("dlm".into());
    assert_eq!(state(assess(&c, &snap(Some(bad), &[]), false, 0)), Err(6));
    let mut c1 = c.clone();
    c1.lv = Some("gone".into());
    assert_eq!(
        state(assess(&c1, &snap(ours.clone(), &[]), false, 0)),
        Err(6)
    );
    // Half active.
    let e = assess(&c, &snap(ours.clone(), &["data"]), false, 0).unwrap_err();
    assert_eq!(
        e,
        ActivateError::PartiallyActive {
            vg: "vg1".into(),
            inactive: vec!["mirror".into()]
        }
    );
    // Active here but owned by a live node now.
    assert_eq!(
        state(assess(
            &c,
            &snap(Some(vg(Some("n2"), &[])), &["data", "mirror"]),
            false,
            0
        )),
        Err(1)
    );
}

#[test]
fn monitor_device_states_and_missing_pvs() {
    let c = cfg(AccessMode::SystemId);
    let mut s = snap(Some(vg(Some("n1"), &[])), &["data", "mirror"]);
    s.active[1].state = DmState::Degraded;
    assert_eq!(state(assess(&c, &s, false, 0)), Ok(MonitorState::Degraded));
    s.active[1].state = DmState::Suspended;
    let v = assess(&c, &s, false, 0).unwrap();
    assert_eq!(v.state, MonitorState::Running);
    assert_eq!(v.notes, vec!["vg1/mirror is suspended".to_string()]);
    s.active[0].state = DmState::Failed;
    assert_eq!(
        assess(&c, &s, false, 0).unwrap_err(),
        ActivateError::DeviceFailed {
            vg: "vg1".into(),
            lv: "data".into()
        }
    );

    // A mirror leg lost: degraded (190), not a failure.
    let s = snap(
        Some(missing(vg(Some("n1"), &[]), &["pv2"])),
        &["data", "mirror"],
    );
    assert_eq!(state(assess(&c, &s, false, 0)), Ok(MonitorState::Degraded));
    // Data lost: an error unless partial activation was asked for.
    let s = snap(
        Some(missing(vg(Some("n1"), &[]), &["pv0"])),
        &["data", "mirror"],
    );
    assert_eq!(state(assess(&c, &s, false, 0)), Err(1));
    let mut cp = c.clone();
    cp.partial = true;
    assert_eq!(state(assess(&cp, &s, false, 0)), Ok(MonitorState::Degraded));
}

#[test]
fn monitor_depths_ask_for_reads() {
    let c = cfg(AccessMode::SystemId);
    let s = snap(Some(vg(Some("n1"), &[])), &["data", "mirror"]);
    assert!(assess(&c, &s, false, 0).unwrap().reads.is_empty());
    assert_eq!(
        assess(&c, &s, false, 10).unwrap().reads,
        vec![("data".into(), 0), ("mirror".into(), 0)]
    );
    assert_eq!(
        assess(&c, &s, false, 20).unwrap().reads,
        vec![
            ("data".into(), 0),
            ("data".into(), 2048),
            ("mirror".into(), 0)
        ]
    );
    // Nothing to read when not running.
    let s = snap(Some(vg(Some(RELEASED_SYSTEM_ID), &[])), &[]);
    assert!(assess(&c, &s, false, 20).unwrap().reads.is_empty());
}

#[test]
fn health_of_segments() {
    let v = vg(None, &[]);
    let none = std::collections::BTreeSet::new();
    assert_eq!(v.lvs[0].health(&none), Health::Complete);
    let pv1: std::collections::BTreeSet<&str> = ["pv1"].into();
    assert_eq!(v.lvs[0].health(&pv1), Health::Partial);
    assert_eq!(v.lvs[1].health(&pv1), Health::Degraded);
    assert_eq!(v.lvs[1].missing_pvs(&pv1), vec!["pv1".to_string()]);
}

/// Found by the property test: start must not pass an already-active LV that monitor fails.
#[test]
fn start_judges_already_active_lvs_like_monitor() {
    let c = cfg(AccessMode::SystemId);
    // Data of "data" lost while it was active: start fails as monitor does.
    let s = snap(
        Some(missing(vg(Some("n1"), &[]), &["pv0"])),
        &["data", "mirror"],
    );
    let e = plan_start(&c, &s).unwrap_err();
    assert!(
        matches!(e, ActivateError::LvNeedsMissingPvs { ref lv, .. } if lv == "data"),
        "{e:?}"
    );
    assert_eq!(assess(&c, &s, false, 0).unwrap_err().exit_code(), 1);
    // A mirror leg lost while active: degraded, still running; start passes, monitor 190.
    let s = snap(
        Some(missing(vg(Some("n1"), &[]), &["pv2"])),
        &["data", "mirror"],
    );
    assert_eq!(plan_start(&c, &s).unwrap().steps, vec![Step::MarkStarted]);
    assert_eq!(
        assess(&c, &s, false, 0).unwrap().state,
        MonitorState::Degraded
    );
}

fn shared(started: bool) -> (Config, Snapshot) {
    let mut v = vg(None, &[]);
    v.lock_type = Some("dlm".into());
    let mut s = snap(Some(v), &[]);
    s.lock = Some(LockDaemon::Running {
        lockspace_started: started,
    });
    (cfg(AccessMode::Lvmlockd), s)
}

#[test]
fn shared_vg_start_lock_starts_then_activates_under_lv_locks() {
    let (mut c, s) = shared(false);
    c.sharing = Sharing::Shared;
    c.lv = Some("data".into());
    let p = plan_start(&c, &s).unwrap();
    assert_eq!(
        p.steps,
        [
            Step::LockStart,
            Step::Activate {
                lv: "data".into(),
                mode: ActivationMode::Complete,
                lock: Some(Sharing::Shared),
            },
            Step::MarkStarted,
        ]
    );
    // Lockspace running already: no lockstart; a lost mirror leg needs degraded_activation.
    let (mut c, mut s) = shared(true);
    s.vg = Some(missing(s.vg.take().unwrap(), &["pv2"]));
    let e = plan_start(&c, &s).unwrap_err();
    assert!(e.to_string().contains("degraded_activation=true"), "{e}");
    c.degraded = true;
    let p = plan_start(&c, &s).unwrap();
    assert_eq!(
        p.steps,
        [
            Step::Activate {
                lv: "data".into(),
                mode: ActivationMode::Complete,
                lock: Some(Sharing::Exclusive),
            },
            Step::Activate {
                lv: "mirror".into(),
                mode: ActivationMode::Degraded,
                lock: Some(Sharing::Exclusive),
            },
            Step::MarkStarted,
        ]
    );
}

#[test]
fn shared_vg_start_needs_the_daemon_and_the_lock_manager() {
    let (c, mut s) = shared(false);
    s.lock = Some(LockDaemon::NotRunning {
        detail: "refused".into(),
    });
    let e = plan_start(&c, &s).unwrap_err();
    assert!(matches!(e, ActivateError::LockDaemonDown { .. }), "{e}");
    assert_eq!(e.exit_code(), 1);
    s.lock = Some(LockDaemon::NotConfigured);
    assert_eq!(plan_start(&c, &s).unwrap_err().exit_code(), 2);
    s.lock = None;
    assert_eq!(plan_start(&c, &s).unwrap_err().exit_code(), 1);
}

#[test]
fn shared_vg_stop_deactivates_then_lock_stops_when_nothing_is_left() {
    let (c, mut s) = shared(true);
    s.active = ["data", "mirror"]
        .iter()
        .map(|n| ActiveLv {
            name: n.to_string(),
            state: DmState::Live,
        })
        .collect();
    let p = plan_stop(&StopConfig::from(&c), &s).unwrap();
    assert_eq!(
        p.steps,
        [
            Step::Deactivate {
                lv: "mirror".into()
            },
            Step::Deactivate { lv: "data".into() },
            Step::LockStop,
            Step::ClearStarted,
        ]
    );
    // One LV of the resource; the other stays active here: the lockspace stays.
    let mut one = StopConfig::from(&c);
    one.lv = Some("data".into());
    let p = plan_stop(&one, &s).unwrap();
    assert_eq!(
        p.steps,
        [Step::Deactivate { lv: "data".into() }, Step::ClearStarted]
    );
    // Daemon gone, nothing active: nothing to do, no error.
    s.active.clear();
    s.lock = Some(LockDaemon::NotRunning {
        detail: "refused".into(),
    });
    let p = plan_stop(&StopConfig::from(&c), &s).unwrap();
    assert_eq!(p.steps, [Step::ClearStarted]);
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
}

#[test]
fn shared_vg_monitor_follows_the_devices() {
    let (c, mut s) = shared(true);
    assert_eq!(
        assess(&c, &s, false, 0).unwrap().state,
        MonitorState::NotRunning
    );
    s.active = ["data", "mirror"]
        .iter()
        .map(|n| ActiveLv {
            name: n.to_string(),
            state: DmState::Live,
        })
        .collect();
    assert_eq!(
        assess(&c, &s, false, 0).unwrap().state,
        MonitorState::Running
    );
    // Tags mean nothing to a shared VG's monitor.
    s.vg.as_mut().unwrap().tags = vec!["pacemaker:n2".into()];
    assert_eq!(
        assess(&c, &s, false, 0).unwrap().state,
        MonitorState::Running
    );
}
