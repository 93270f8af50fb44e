//! The clvmd agent end to end over the in-memory daemon, through the OCF dispatcher.

use halvm_clvmd_agent::agent::Clvmd;
use halvm_clvmd_agent::control::MemControl;
use halvm_ocf::{run, Env};

fn call(a: &mut Clvmd<MemControl>, action: &str, extra: &[(&str, &str)]) -> (u8, String) {
    let mut vars: Vec<(String, String)> = vec![
        ("OCF_RESOURCE_INSTANCE".into(), "clvmd".into()),
        ("HA_LOGFACILITY".into(), "none".into()),
        ("HA_LOGFILE".into(), "/dev/null".into()),
        ("OCF_RESKEY_CRM_meta_interval".into(), "30000".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(kk, _)| kk != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = run(
        a,
        &["clvmd".to_string(), action.to_string()],
        Env::Vars(vars),
        &mut out,
        &mut err,
    );
    (rc.code(), String::from_utf8(err).unwrap())
}

const PROBE: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "0");

#[test]
fn the_ocf_tester_sequence() {
    let mut a = Clvmd::new(MemControl {
        start_delay: 3,
        ..MemControl::ready()
    });
    assert_eq!(call(&mut a, "meta-data", &[]).0, 0);
    assert_eq!(call(&mut a, "validate-all", &[]).0, 0);
    assert_eq!(call(&mut a, "monitor", &[]).0, 7);
    assert_eq!(call(&mut a, "monitor", &[PROBE]).0, 7);
    let (rc, err) = call(&mut a, "start", &[("OCF_RESKEY_debug", "true")]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        a.control.journal,
        ["spawn /usr/sbin/clvmd-rs --socket /run/clvmd-rs/clvmd-rs.sock --pidfile /run/clvmd-rs/clvmd-rs.pid --debug"]
    );
    assert_eq!(call(&mut a, "monitor", &[]).0, 0);
    assert_eq!(call(&mut a, "monitor", &[PROBE]).0, 0);
    assert_eq!(call(&mut a, "start", &[]).0, 0);
    assert_eq!(a.control.journal.len(), 1, "no second daemon");
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert_eq!(call(&mut a, "monitor", &[]).0, 7);
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert_eq!(a.control.journal[1..], ["terminate 4242"]);
}

#[test]
fn stop_refuses_while_lvs_are_active_and_stops_idle_lockspaces() {
    let mut a = Clvmd::new(MemControl {
        running: Some(7),
        ..MemControl::ready()
    });
    a.control.lockspaces.insert("lvm_global".into(), vec![]);
    a.control
        .lockspaces
        .insert("lvm_shared".into(), vec!["data".into()]);
    a.control.lockspaces.insert("lvm_idle".into(), vec![]);
    let (rc, err) = call(&mut a, "stop", &[]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("ocf-exit-reason:logical volumes are active under clvmd-rs's locks: shared/data; stop the resources that activated them first\n"), "{err}");
    assert!(a.control.journal.is_empty(), "nothing stopped");
    assert_eq!(call(&mut a, "monitor", &[]).0, 0);
    a.control.lockspaces.insert("lvm_shared".into(), vec![]);
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert_eq!(
        a.control.journal,
        ["lock_stop idle", "lock_stop shared", "terminate 7"]
    );
}

#[test]
fn failures_name_their_cause() {
    // No binary: 5 from validate-all and start (heartbeat's check_binary).
    let mut a = Clvmd::new(MemControl {
        binary_ok: false,
        ..MemControl::ready()
    });
    let (rc, err) = call(&mut a, "validate-all", &[]);
    assert_eq!(rc, 5, "{err}");
    assert!(err.contains("/usr/sbin/clvmd-rs"), "{err}");
    assert_eq!(call(&mut a, "start", &[]).0, 5);
    // No DLM: 1 with the reason.
    let mut a = Clvmd::new(MemControl {
        dlm: None,
        ..MemControl::ready()
    });
    let (rc, err) = call(&mut a, "start", &[]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("ocf-exit-reason:the DLM is not running on this node"),
        "{err}"
    );
    assert!(a.control.journal.is_empty());
    // The daemon refuses to start.
    let mut a = Clvmd::new(MemControl {
        spawn_error: Some("clvmd-rs exited with exit status: 1: socket in use".into()),
        ..MemControl::ready()
    });
    let (rc, err) = call(&mut a, "start", &[]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("starting clvmd-rs failed: clvmd-rs exited"),
        "{err}"
    );
    // Started but never answers: the start fails rather than claiming success.
    let mut a = Clvmd::new(MemControl {
        start_delay: u32::MAX,
        ..MemControl::ready()
    });
    let (rc, err) = call(&mut a, "start", &[]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("does not answer"), "{err}");
    // Alive but hung: monitor is an error (not 7), stop terminates it.
    let mut a = Clvmd::new(MemControl {
        running: Some(9),
        hung: true,
        ..MemControl::ready()
    });
    let (rc, err) = call(&mut a, "monitor", &[]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("pid 9) is alive but does not answer"), "{err}");
    assert_eq!(call(&mut a, "stop", &[]).0, 0);
    assert_eq!(a.control.journal, ["terminate 9"]);
    // A daemon that ignores SIGTERM fails the stop (the cluster then fences).
    let mut a = Clvmd::new(MemControl {
        running: Some(9),
        ignores_sigterm: true,
        ..MemControl::ready()
    });
    let (rc, err) = call(&mut a, "stop", &[]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("pid 9 is still running after SIGTERM"),
        "{err}"
    );
}

#[test]
fn parameters_are_absolute_paths() {
    let mut a = Clvmd::new(MemControl::ready());
    for (k, v) in [
        ("OCF_RESKEY_daemon", "clvmd-rs"),
        ("OCF_RESKEY_pidfile", "run/x.pid"),
        ("OCF_RESKEY_socket_path", "sock"),
        ("OCF_RESKEY_log_file", "log"),
        ("OCF_RESKEY_debug", "maybe"),
    ] {
        let (rc, err) = call(&mut a, "validate-all", &[(k, v)]);
        assert_eq!(rc, 6, "{k}: {err}");
    }
    let (rc, err) = call(
        &mut a,
        "start",
        &[
            ("OCF_RESKEY_daemon", "/opt/halvm/clvmd-rs"),
            ("OCF_RESKEY_socket_path", "/run/x/s.sock"),
            ("OCF_RESKEY_log_file", "/var/log/clvmd-rs.log"),
        ],
    );
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        a.control.journal,
        ["spawn /opt/halvm/clvmd-rs --socket /run/x/s.sock --pidfile /run/clvmd-rs/clvmd-rs.pid --log-file /var/log/clvmd-rs.log"]
    );
    // Stop with a broken configuration has nothing to stop.
    assert_eq!(call(&mut a, "stop", &[("OCF_RESKEY_pidfile", "x")]).0, 0);
}
