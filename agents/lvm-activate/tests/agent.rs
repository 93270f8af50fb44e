//! The agent end to end over the in-memory backend, through the OCF dispatcher: the
//! sequence ocf-tester runs, failover, and the anchor's known flaws.

use halvm_lvm_activate::agent::LvmActivate;
use halvm_lvm_activate::backend::MemBackend;
use halvm_lvm_activate::config::Sharing;
use halvm_lvm_activate::marker::MemMarker;
use halvm_lvm_activate::membership::StaticMembership;
use halvm_lvm_activate::model::*;
use halvm_lvm_activate::plan::{ActivationMode, RELEASED_SYSTEM_ID};
use halvm_ocf::{run, Env};

type TestAgent = LvmActivate<MemBackend, StaticMembership, MemMarker>;

fn vg(system_id: Option<&str>) -> VgState {
    let lv = |name: &str, pv: &str| LvState {
        name: name.into(),
        segments: vec![SegState {
            lv_start: 0,
            sectors: 8,
            kind: SegKind::Striped,
            areas: vec![vec![pv.into()]],
        }],
    };
    VgState {
        name: "vg1".into(),
        system_id: system_id.map(str::to_string),
        tags: vec![],
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
        ],
        lvs: vec![lv("a", "pv0"), lv("b", "pv1")],
    }
}

fn node(name: &str, v: VgState, members: &[(&str, bool)]) -> TestAgent {
    let mut backend = MemBackend {
        system_id: Some(name.into()),
        ..MemBackend::default()
    };
    backend.vgs.insert("vg1".into(), v);
    LvmActivate::new(
        backend,
        StaticMembership {
            local: Some(name.into()),
            nodes: Some(
                members
                    .iter()
                    .map(|(n, m)| ClusterNode {
                        id: None,
                        name: n.to_string(),
                        member: *m,
                    })
                    .collect(),
            ),
        },
        MemMarker::default(),
    )
}

fn call(agent: &mut TestAgent, action: &str, extra: &[(&str, &str)]) -> (u8, String) {
    let mut vars: Vec<(String, String)> = vec![
        ("OCF_RESKEY_vgname".into(), "vg1".into()),
        ("OCF_RESKEY_vg_access_mode".into(), "system_id".into()),
        ("OCF_RESOURCE_INSTANCE".into(), "vg1-rsc".into()),
        ("HA_LOGFACILITY".into(), "none".into()),
        ("HA_LOGFILE".into(), "/dev/null".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(kk, _)| kk != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = run(
        agent,
        &["LVM-activate".to_string(), action.to_string()],
        Env::Vars(vars),
        &mut out,
        &mut err,
    );
    (rc.code(), String::from_utf8(err).unwrap())
}

const PROBE: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "0");
const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "30000");
/// Pacemaker's controller names the node in every action it runs.
const PACEMAKER_ON_N2: (&str, &str) = ("OCF_RESKEY_CRM_meta_on_node", "n2");

#[test]
fn the_ocf_tester_sequence() {
    let mut a = node("n1", vg(None), &[("n1", true), ("n2", true)]);
    assert_eq!(call(&mut a, "meta-data", &[]).0, 0);
    assert_eq!(call(&mut a, "validate-all", &[]).0, 0);
    assert_eq!(
        call(&mut a, "monitor", &[RECURRING]).0,
        7,
        "monitor of a never-started resource"
    );
    assert_eq!(call(&mut a, "monitor", &[PROBE]).0, 7, "probe");
    assert_eq!(call(&mut a, "start", &[]).0, 0);
    assert_eq!(a.backend.vgs["vg1"].system_id.as_deref(), Some("n1"));
    assert_eq!(call(&mut a, "monitor", &[RECURRING]).0, 0);
    assert_eq!(call(&mut a, "monitor", &[PROBE]).0, 0);
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert_eq!(
        a.backend.vgs["vg1"].system_id.as_deref(),
        Some(RELEASED_SYSTEM_ID)
    );
    assert!(a.backend.active.is_empty());
    assert_eq!(
        call(&mut a, "monitor", &[RECURRING]).0,
        7,
        "after a clean stop (the anchor says 1)"
    );
    assert_eq!(call(&mut a, "start", &[]).0, 0);
    assert_eq!(call(&mut a, "start", &[]).0, 0, "start twice");
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert_eq!(call(&mut a, "stop", &[]).0, 0, "stop twice");
    assert_eq!(call(&mut a, "monitor", &[RECURRING]).0, 7);
}

#[test]
fn start_fails_when_activation_did_not_happen() {
    let mut a = node("n1", vg(None), &[("n1", true)]);
    a.backend.silently_fail_activation = vec!["b".into()];
    let (rc, err) = call(&mut a, "start", &[]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("ocf-exit-reason:vg1: activation of b did not take effect"),
        "{err}"
    );
    a.backend.silently_fail_activation.clear();
    // The recovery stop cleans up what the failed start left active.
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert!(a.backend.active.is_empty());
    a.backend.fail_activation = vec!["a".into()];
    let (rc, err) = call(&mut a, "start", &[("OCF_RESKEY_lvname", "a")]);
    assert_eq!(rc, 1);
    assert!(err.contains("activate on vg1/a: injected failure"), "{err}");
    // The recovery stop succeeds and cleans up.
    a.backend.fail_activation.clear();
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert!(a.backend.active.is_empty());
}

#[test]
fn monitor_reports_a_vanished_device_as_an_error() {
    let mut a = node("n1", vg(None), &[("n1", true)]);
    assert_eq!(call(&mut a, "start", &[]).0, 0);
    a.backend.active.clear();
    let (rc, err) = call(&mut a, "monitor", &[RECURRING]);
    assert_eq!(rc, 1);
    assert!(err.contains("a, b should be active but are not"), "{err}");
    // The VG itself disappears.
    a.backend.vgs.clear();
    let (rc, err) = call(&mut a, "monitor", &[RECURRING]);
    assert_eq!(rc, 1);
    assert!(err.contains("is not visible any more"), "{err}");
}

#[test]
fn monitor_depths_read_blocks() {
    let mut a = node("n1", vg(None), &[("n1", true)]);
    assert_eq!(call(&mut a, "start", &[]).0, 0);
    a.backend.journal.clear();
    assert_eq!(
        call(&mut a, "monitor", &[RECURRING, ("OCF_CHECK_LEVEL", "10")]).0,
        0
    );
    assert_eq!(a.backend.journal, vec!["read vg1/a@0", "read vg1/b@0"]);
    a.backend.bad_blocks = vec![("b".into(), 0)];
    let (rc, err) = call(
        &mut a,
        "monitor",
        &[RECURRING, ("OCF_RESKEY_OCF_CHECK_LEVEL", "20")],
    );
    assert_eq!(rc, 1);
    assert!(err.contains("vg1/b: reading sector 0 failed"), "{err}");
    assert_eq!(
        call(&mut a, "monitor", &[RECURRING]).0,
        0,
        "depth 0 reads nothing"
    );
}

/// The VG was made on n1 (its system ID is n1's) and nothing is active: Pacemaker's first
/// probe there, which may carry no interval at all, finds it cleanly stopped, not failed (an
/// error would make Pacemaker stop the group there and keep a failure record).
#[test]
fn a_probe_without_an_interval_on_the_vgs_owner_is_not_running() {
    let mut a = node("n1", vg(Some("n1")), &[("n1", true), ("n2", true)]);
    assert_eq!(
        call(&mut a, "monitor", &[]).0,
        7,
        "probe without an interval"
    );
    assert_eq!(call(&mut a, "monitor", &[PROBE]).0, 7, "probe");
    let (rc, err) = call(&mut a, "monitor", &[RECURRING]);
    assert_eq!(rc, 1, "a recurring monitor of an owned, inactive VG: {err}");
}

#[test]
fn start_takes_over_from_cluster_nodes_only() {
    // n1 started the VG and then died: its system ID stays on the VG.
    let mut n2 = node("n2", vg(Some("n1")), &[("n1", false), ("n2", true)]);
    assert_eq!(call(&mut n2, "monitor", &[PROBE]).0, 7);
    assert_eq!(call(&mut n2, "start", &[]).0, 0);
    assert_eq!(n2.backend.vgs["vg1"].system_id.as_deref(), Some("n2"));

    // The same with n1 still a member (the VG was made there, then put under Pacemaker,
    // whose probe found it stopped on n1): Pacemaker's start takes it over, as
    // resource-agents' agent does; the same start run by hand is refused (nobody checked n1).
    let mut n2 = node("n2", vg(Some("n1")), &[("n1", true), ("n2", true)]);
    assert_eq!(call(&mut n2, "monitor", &[PROBE]).0, 7);
    let (rc, err) = call(&mut n2, "start", &[]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("owned by n1, which is a live cluster member"),
        "{err}"
    );
    assert_eq!(n2.backend.vgs["vg1"].system_id.as_deref(), Some("n1"));
    assert_eq!(call(&mut n2, "start", &[PACEMAKER_ON_N2]).0, 0);
    assert_eq!(n2.backend.vgs["vg1"].system_id.as_deref(), Some("n2"));

    // An owner that is no cluster node at all (another host on the SAN): refused.
    let mut n2 = node("n2", vg(Some("elsewhere")), &[("n1", true), ("n2", true)]);
    let (rc, err) = call(&mut n2, "start", &[]);
    assert_eq!(rc, 1);
    assert!(err.contains("elsewhere"), "{err}");
    assert_eq!(
        n2.backend.vgs["vg1"].system_id.as_deref(),
        Some("elsewhere"),
        "ownership untouched"
    );
    assert!(n2.backend.active.is_empty());

    // Membership unreadable: refuse rather than guess.
    let mut n2 = node("n2", vg(Some("n1")), &[]);
    n2.membership.nodes = None;
    let (rc, err) = call(&mut n2, "start", &[]);
    assert_eq!(rc, 1);
    assert!(err.contains("cluster membership needed"), "{err}");
}

#[test]
fn tagging_lifecycle() {
    let mut a = node("n1", vg(None), &[("n1", true)]);
    let tagging = [
        ("OCF_RESKEY_vg_access_mode", "tagging"),
        ("OCF_RESKEY_tag", "ha"),
    ];
    assert_eq!(call(&mut a, "start", &tagging).0, 0);
    assert_eq!(a.backend.vgs["vg1"].tags, vec!["ha", "ha:n1"]);
    // As resource-agents: the tag passes lvm.conf's volume_list for this activation.
    assert_eq!(a.backend.volume_list, Some(vec!["@ha".to_string()]));
    assert_eq!(
        call(&mut a, "monitor", &[&tagging[..], &[RECURRING]].concat()).0,
        0
    );
    assert_eq!(call(&mut a, "stop", &tagging).0, 0);
    assert!(a.backend.vgs["vg1"].tags.is_empty());
    assert_eq!(
        call(&mut a, "monitor", &[&tagging[..], &[RECURRING]].concat()).0,
        7
    );
}

#[test]
fn degraded_mirror_activation_and_monitor() {
    let mut v = vg(None);
    v.pvs.push(PvState {
        name: "pv2".into(),
        missing: true,
    });
    v.lvs.push(LvState {
        name: "m".into(),
        segments: vec![SegState {
            lv_start: 0,
            sectors: 8,
            kind: SegKind::Mirrored,
            areas: vec![vec!["pv1".into()], vec!["pv2".into()]],
        }],
    });
    v.system_id = Some("n1".into());
    let mut a = node("n1", v, &[("n1", true)]);
    let (rc, err) = call(&mut a, "start", &[]);
    assert_eq!(rc, 1);
    assert!(err.contains("consider degraded_activation=true"), "{err}");
    assert_eq!(
        call(
            &mut a,
            "start",
            &[("OCF_RESKEY_degraded_activation", "true")]
        )
        .0,
        0
    );
    assert_eq!(a.backend.modes["m"], ActivationMode::Degraded);
    assert_eq!(
        call(
            &mut a,
            "monitor",
            &[RECURRING, ("OCF_RESKEY_degraded_activation", "true")]
        )
        .0,
        190
    );
}

/// A node of a cluster whose VG vg1 is shared (lock_type dlm), with the lock daemon running.
fn shared_node() -> TestAgent {
    let mut v = vg(None);
    v.lock_type = Some("dlm".into());
    let mut a = node("n1", v, &[("n1", true), ("n2", true)]);
    a.backend.lock_manager = true;
    a.backend.daemon_running = true;
    a
}

const LVMLOCKD: (&str, &str) = ("OCF_RESKEY_vg_access_mode", "lvmlockd");
const SHARED: (&str, &str) = ("OCF_RESKEY_activation_mode", "shared");

#[test]
fn lvmlockd_exclusive_passes_the_ocf_tester_sequence() {
    let mut a = shared_node();
    assert_eq!(call(&mut a, "validate-all", &[LVMLOCKD]).0, 0);
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, RECURRING]).0, 7);
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, PROBE]).0, 7);
    assert!(a.backend.journal.is_empty(), "monitor changes nothing");
    let (rc, err) = call(&mut a, "start", &[LVMLOCKD]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        a.backend.journal,
        [
            "lock_start vg1",
            "activate_locked vg1/a Complete Exclusive",
            "activate vg1/a Complete",
            "activate_locked vg1/b Complete Exclusive",
            "activate vg1/b Complete",
        ]
    );
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, RECURRING]).0, 0);
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, PROBE]).0, 0);
    // A second start finds everything in place: no lockstart, no activation.
    a.backend.journal.clear();
    assert_eq!(call(&mut a, "start", &[LVMLOCKD]).0, 0);
    assert!(a.backend.journal.is_empty(), "{:?}", a.backend.journal);
    assert_eq!(call(&mut a, "stop", &[LVMLOCKD]).0, 0);
    assert_eq!(
        a.backend.journal,
        ["deactivate vg1/b", "deactivate vg1/a", "lock_stop vg1"]
    );
    assert!(a.backend.lockspaces.is_empty() && a.backend.lv_locks.is_empty());
    // After a clean stop: 7, not an error (the anchor returns 1 here).
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, RECURRING]).0, 7);
    assert_eq!(call(&mut a, "stop", &[LVMLOCKD]).0, 0);
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, PROBE]).0, 7);
}

#[test]
fn shared_activation_coexists_with_other_shared_holders_only() {
    let mut a = shared_node();
    a.backend
        .held_elsewhere
        .insert("a".into(), ("node n2 (id 2, PR)".into(), Sharing::Shared));
    let (rc, err) = call(
        &mut a,
        "start",
        &[LVMLOCKD, SHARED, ("OCF_RESKEY_lvname", "a")],
    );
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        a.backend.lv_locks.get(&("vg1".into(), "a".into())),
        Some(&Sharing::Shared)
    );
    assert!(!a.backend.active.contains_key(&("vg1".into(), "b".into())));
    assert_eq!(
        call(
            &mut a,
            "monitor",
            &[LVMLOCKD, SHARED, ("OCF_RESKEY_lvname", "a"), RECURRING]
        )
        .0,
        0
    );
    // An exclusive holder elsewhere refuses both modes, naming the holder.
    for mode in ["exclusive", "shared"] {
        let mut b = shared_node();
        b.backend.held_elsewhere.insert(
            "b".into(),
            ("node n2 (id 2, EX)".into(), Sharing::Exclusive),
        );
        let (rc, err) = call(
            &mut b,
            "start",
            &[
                LVMLOCKD,
                ("OCF_RESKEY_activation_mode", mode),
                ("OCF_RESKEY_lvname", "b"),
            ],
        );
        assert_eq!(rc, 1, "{mode}: {err}");
        assert!(
            err.contains("ocf-exit-reason:LV vg1/b is locked by node n2 (id 2, EX)\n"),
            "{err}"
        );
        assert!(b.backend.active.is_empty());
        // Pacemaker then stops it here: nothing active, the lockspace closed again.
        assert_eq!(
            call(&mut b, "stop", &[LVMLOCKD, ("OCF_RESKEY_lvname", "b")]).0,
            0
        );
        assert!(b.backend.lockspaces.is_empty());
    }
}

/// VxVM's modes through activation_mode: LV locks by the mode's DLM mode (ew PW, ro and sw
/// PR, sr CR) meet other nodes' locks as the DLM grants them. (The
/// VG's mode lock is the daemon's: its table is tested in the simulator and the lab.)
#[test]
fn vxvm_activation_modes_take_their_lv_locks() {
    use halvm_config::ActivationMode as Vx;
    let held = |mode: Sharing| {
        let mut a = shared_node();
        a.backend
            .held_elsewhere
            .insert("a".into(), ("node n2 (id 2)".into(), mode));
        a
    };
    let start = |a: &mut TestAgent, mode: &str| {
        call(
            a,
            "start",
            &[
                LVMLOCKD,
                ("OCF_RESKEY_activation_mode", mode),
                ("OCF_RESKEY_lvname", "a"),
            ],
        )
    };
    // (held elsewhere, asked here, granted)
    let cells = [
        (Sharing::Vx(Vx::ExclusiveWrite), "ew", false),
        (Sharing::Vx(Vx::ExclusiveWrite), "sr", true),
        (Sharing::Vx(Vx::ExclusiveWrite), "ro", false),
        (Sharing::Vx(Vx::ReadOnly), "ro", true),
        (Sharing::Vx(Vx::SharedRead), "ew", true),
        (Sharing::Vx(Vx::SharedWrite), "sw", true),
        (Sharing::Exclusive, "sr", false),
        (Sharing::Shared, "ew", false),
        (Sharing::Shared, "sr", true),
    ];
    for (theirs, mine, granted) in cells {
        let mut a = held(theirs);
        let (rc, err) = start(&mut a, mine);
        assert_eq!(rc == 0, granted, "{theirs:?} held, {mine} asked: {err}");
        if granted {
            let want = Sharing::parse(mine).expect("a mode");
            assert_eq!(
                a.backend.lv_locks.get(&("vg1".into(), "a".into())),
                Some(&want)
            );
        } else {
            assert!(err.contains("is locked by node n2"), "{err}");
            assert!(a.backend.active.is_empty());
        }
    }
    // The VxVM modes need a shared VG, as shared does.
    let mut a = shared_node();
    let (rc, err) = call(
        &mut a,
        "validate-all",
        &[("OCF_RESKEY_activation_mode", "ro")],
    );
    assert_eq!(rc, 6, "{err}");
    assert!(err.contains("needs lvmlockd or clvmd"), "{err}");
}

#[test]
fn stop_keeps_the_lockspace_while_other_lvs_of_the_vg_are_active() {
    let mut a = shared_node();
    let lv = |n: &'static str| ("OCF_RESKEY_lvname", n);
    assert_eq!(call(&mut a, "start", &[LVMLOCKD, lv("a")]).0, 0);
    assert_eq!(call(&mut a, "start", &[LVMLOCKD, lv("b")]).0, 0);
    a.backend.journal.clear();
    assert_eq!(call(&mut a, "stop", &[LVMLOCKD, lv("a")]).0, 0);
    assert_eq!(a.backend.journal, ["deactivate vg1/a"]);
    assert_eq!(call(&mut a, "stop", &[LVMLOCKD, lv("b")]).0, 0);
    assert_eq!(
        a.backend.journal,
        ["deactivate vg1/a", "deactivate vg1/b", "lock_stop vg1"]
    );
}

#[test]
fn without_the_lock_daemon_start_fails_and_probes_say_stopped() {
    let mut a = shared_node();
    a.backend.daemon_running = false;
    // As heartbeat's lvmlockd_check: a probe before the daemon runs is "not running".
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, PROBE]).0, 7);
    assert_eq!(
        call(&mut a, "validate-all", &[LVMLOCKD]).0,
        0,
        "parameters only"
    );
    let (rc, err) = call(&mut a, "start", &[LVMLOCKD]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("ocf-exit-reason:the cluster lock daemon clvmd-rs is not running on this node (cannot connect to clvmd-rs: Connection refused); run the ocf:halvm:clvmd clone, ordered before the resources of volume group vg1\n"), "{err}");
    assert!(a.backend.journal.is_empty());
    assert_eq!(call(&mut a, "stop", &[LVMLOCKD]).0, 0, "nothing to stop");
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, RECURRING]).0, 7);
    // halvm.toml without lock_manager = "dlm": this node's setup (heartbeat's config_verify
    // of use_lvmlockd exits 2 as well).
    a.backend.lock_manager = false;
    let (rc, err) = call(&mut a, "start", &[LVMLOCKD]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("lock_manager = \"dlm\""), "{err}");
}

#[test]
fn clvmd_mode_uses_the_same_daemon_and_names_the_conversion_of_clustered_vgs() {
    let mut a = shared_node();
    let clvmd = ("OCF_RESKEY_vg_access_mode", "clvmd");
    assert_eq!(call(&mut a, "start", &[clvmd, SHARED]).0, 0);
    assert!(a
        .backend
        .journal
        .contains(&"activate_locked vg1/a Complete Shared".to_string()));
    assert_eq!(call(&mut a, "stop", &[clvmd, SHARED]).0, 0);
    // A VG lvm 2.02's clvmd made (vgcreate -cy): refused in both modes, with the command.
    for mode in ["clvmd", "lvmlockd"] {
        let mut v = vg(None);
        v.clustered = true;
        let mut b = node("n1", v, &[("n1", true)]);
        b.backend.lock_manager = true;
        b.backend.daemon_running = true;
        let (rc, err) = call(&mut b, "start", &[("OCF_RESKEY_vg_access_mode", mode)]);
        assert_eq!(rc, 6, "{err}");
        assert!(err.contains("ocf-exit-reason:volume group vg1 is CLUSTERED (made by lvm 2.02's clvmd), which no lock daemon of this stack serves; convert it once, with its LVs inactive everywhere: lvmeta vgchange --locktype dlm vg1\n"), "{err}");
        assert!(b.backend.journal.is_empty());
    }
}

#[test]
fn access_mode_must_match_the_vg_lock_type() {
    // lvmlockd on a local VG.
    let mut a = node("n1", vg(None), &[("n1", true)]);
    a.backend.lock_manager = true;
    a.backend.daemon_running = true;
    let (rc, err) = call(&mut a, "start", &[LVMLOCKD]);
    assert_eq!(rc, 6, "{err}");
    assert!(err.contains("no lock_type (a local VG"), "{err}");
    // system_id on a shared VG.
    let mut b = shared_node();
    let (rc, err) = call(&mut b, "start", &[]);
    assert_eq!(rc, 6, "{err}");
    assert!(err.contains("lock_type dlm (a shared VG)"), "{err}");
    // A sanlock VG is not ours to lock.
    let mut v = vg(None);
    v.lock_type = Some("sanlock".into());
    let mut c = node("n1", v, &[("n1", true)]);
    c.backend.lock_manager = true;
    c.backend.daemon_running = true;
    assert_eq!(call(&mut c, "start", &[LVMLOCKD]).0, 6);
}

#[test]
fn a_shared_lv_that_vanishes_while_started_is_an_error() {
    let mut a = shared_node();
    assert_eq!(call(&mut a, "start", &[LVMLOCKD]).0, 0);
    a.backend.active.clear();
    let (rc, err) = call(&mut a, "monitor", &[LVMLOCKD, RECURRING]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("should be active but are not"), "{err}");
}

/// Issue 15: clvmd-rs froze the VG on quorum loss (the devices are suspended). While that
/// may still be undone the monitor says running (no read: it would hang); once the daemon
/// stranded the VG (a partition merge, the cluster stack lost) the monitor fails, naming why.
#[test]
fn a_shared_lv_the_lock_daemon_stranded_fails_its_monitor() {
    let mut a = shared_node();
    assert_eq!(call(&mut a, "start", &[LVMLOCKD]).0, 0);
    for s in a.backend.active.values_mut() {
        *s = DmState::Suspended;
    }
    let (rc, err) = call(&mut a, "monitor", &[LVMLOCKD, RECURRING]);
    assert_eq!(rc, 0, "{err}");
    a.backend.io_stopped.insert(
        "vg1".into(),
        "I/O to VG vg1 is frozen for good (freeze) on node n1: a partition merge; Reboot this node"
            .into(),
    );
    let (rc, err) = call(&mut a, "monitor", &[LVMLOCKD, RECURRING]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("frozen for good") && err.contains("Reboot this node"),
        "{err}"
    );
    // A live device is asked about too: this node may have left the VG after losing its
    // metadata (policy.dg_failure = leave), and then the resource must move.
    for s in a.backend.active.values_mut() {
        *s = DmState::Live;
    }
    a.backend.io_stopped.insert(
        "vg1".into(),
        "this node (n1) left VG vg1 (policy.dg_failure = leave): since a commit from it failed"
            .into(),
    );
    let (rc, err) = call(&mut a, "monitor", &[LVMLOCKD, RECURRING]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("left VG vg1"), "{err}");
    a.backend.io_stopped.clear();
    assert_eq!(call(&mut a, "monitor", &[LVMLOCKD, RECURRING]).0, 0);
}

#[test]
fn stop_survives_a_broken_configuration() {
    let mut a = node("n1", vg(None), &[("n1", true)]);
    assert_eq!(call(&mut a, "start", &[]).0, 0);
    let (rc, err) = call(
        &mut a,
        "stop",
        &[
            ("OCF_RESKEY_vg_access_mode", "bogus"),
            ("OCF_RESKEY_activation_mode", "x"),
        ],
    );
    assert_eq!(rc, 0, "{err}");
    assert!(a.backend.active.is_empty(), "deactivated anyway");
    assert_eq!(call(&mut a, "stop", &[("OCF_RESKEY_vgname", "")]).0, 0);
}
