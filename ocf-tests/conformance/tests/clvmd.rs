//! Host-tier OCF conformance of the clvmd agent (ocf:halvm:clvmd): meta-data against the
//! golden file and the three schemas, as `nobody`, validate-all, Pacemaker's `crm_resource`,
//! and the real daemon driven by the agent without a DLM (the start needs one: the VM lab
//! runs ocf-tester on it, see lab_agents.rs).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use halvm_ocf_tests::*;

fn agent() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_halvm-ocf-tests-clvmd"))
}

fn daemon() -> &'static str {
    env!("CARGO_BIN_EXE_halvm-ocf-tests-clvmd-rs")
}

fn meta_data() -> String {
    let out = run_agent(&agent(), "meta-data", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr, "", "meta-data writes nothing on stderr");
    out.stdout
}

#[test]
fn meta_data_matches_golden() {
    halvm_testkit::assert_golden(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/clvmd.meta-data.xml"),
        &meta_data(),
    );
}

#[test]
fn meta_data_is_valid_against_the_dtd_and_both_relaxng_schemas() {
    let md = meta_data();
    let out = xmllint_dtd(&md);
    assert_eq!(out.code, 0, "ra-api-1.dtd: {}", out.stderr);
    assert_eq!(out.stderr, "");
    let out = xmllint_rng(&md, &format!("{RA_DIR}/metadata.rng"), "resource-agents");
    assert_eq!(out.code, 0, "metadata.rng: {}", out.stderr);
    assert!(out.stderr.contains("- validates"), "{}", out.stderr);
    let out = xmllint_rng(&md, PCS_RNG, "pcs");
    assert_eq!(out.code, 0, "ocf-1.1.rng: {}", out.stderr);
    assert!(out.stderr.contains("- validates"), "{}", out.stderr);
    // The validators can fail on this document too.
    let reload_agent = md.replace(
        "<actions>\n",
        "<actions>\n<action name=\"reload-agent\" timeout=\"10s\" />\n",
    );
    assert_ne!(reload_agent, md);
    assert_ne!(
        xmllint_dtd(&reload_agent).code,
        0,
        "DTD must refuse reload-agent"
    );
    let time_type = md.replacen("type=\"boolean\"", "type=\"time\"", 1);
    assert_ne!(time_type, md);
    let out = xmllint_rng(
        &time_type,
        &format!("{RA_DIR}/metadata.rng"),
        "resource-agents",
    );
    assert_ne!(out.code, 0, "metadata.rng must refuse type=time");
}

#[test]
fn usage_and_validate_all() {
    let out = run_agent(&agent(), "usage", &[]);
    assert_eq!(
        (out.code, out.stdout.trim()),
        (
            0,
            "usage: clvmd {start|stop|monitor|meta-data|validate-all|usage}"
        )
    );
    let ok = run_agent(&agent(), "validate-all", &[("OCF_RESKEY_daemon", daemon())]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let missing = run_agent(
        &agent(),
        "validate-all",
        &[("OCF_RESKEY_daemon", "/nonexistent/clvmd-rs")],
    );
    assert_eq!(missing.code, 5, "{missing:?}");
    assert_eq!(
        missing.exit_reason(),
        Some("/nonexistent/clvmd-rs: No such file or directory (os error 2) is not installed or not available")
    );
    let relative = run_agent(
        &agent(),
        "validate-all",
        &[
            ("OCF_RESKEY_daemon", daemon()),
            ("OCF_RESKEY_socket_path", "clvmd.sock"),
        ],
    );
    assert_eq!(relative.code, 6, "{relative:?}");
    assert_eq!(
        relative.exit_reason(),
        Some("parameter socket_path=\"clvmd.sock\" is invalid: must be an absolute path")
    );
}

/// Where a test daemon lives: its own socket and pid file.
struct Paths {
    dir: tempfile::TempDir,
}

impl Paths {
    fn new() -> Paths {
        Paths {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn socket(&self) -> String {
        self.dir.path().join("s.sock").display().to_string()
    }
    fn pidfile(&self) -> String {
        self.dir.path().join("p.pid").display().to_string()
    }
    fn call(&self, action: &str) -> Outcome {
        let (s, p) = (self.socket(), self.pidfile());
        run_agent(
            &agent(),
            action,
            &[
                ("OCF_RESKEY_daemon", daemon()),
                ("OCF_RESKEY_socket_path", &s),
                ("OCF_RESKEY_pidfile", &p),
                ("OCF_RESKEY_CRM_meta_interval", "30000"),
            ],
        )
    }
}

#[test]
fn without_a_daemon_monitor_is_7_stop_0_and_start_names_the_missing_dlm() {
    let p = Paths::new();
    assert_eq!(p.call("monitor").code, 7);
    assert_eq!(p.call("stop").code, 0);
    let out = p.call("start");
    if Path::new("/sys/kernel/config/dlm/cluster/cluster_name").exists() {
        panic!(
            "this host runs a DLM: the test expects a host without one (the lab tests the start)"
        );
    }
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.exit_reason()
            .is_some_and(|r| r.starts_with("the DLM is not running on this node")),
        "{out:?}"
    );
    assert_eq!(p.call("monitor").code, 7, "nothing was started");
}

/// The real daemon (without corosync), started by hand: the agent sees it through its
/// socket, stops it with SIGTERM and waits for it. Root: the daemon serves root only.
#[test]
fn root_monitor_and_stop_a_real_daemon() {
    halvm_testkit::require_root();
    let p = Paths::new();
    let log = p.dir.path().join("log");
    let out = outcome(
        Command::new(daemon())
            .args([
                "--no-corosync",
                "--socket",
                &p.socket(),
                "--pidfile",
                &p.pidfile(),
            ])
            .arg("--log-file")
            .arg(&log),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    // The daemon writes its pid file after the fork: wait for it (bounded).
    for _ in 0..100 {
        if Path::new(&p.pidfile()).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid: i32 = std::fs::read_to_string(p.pidfile())
        .expect("pid file")
        .trim()
        .parse()
        .unwrap();
    /// SIGKILL on drop, should the test fail before the agent's stop (ESRCH ignored).
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _guard = Kill(pid);
    let out = p.call("monitor");
    assert_eq!(out.code, 0, "{out:?}");
    let out = p.call("start");
    assert_eq!(out.code, 0, "already running: {out:?}");
    let out = p.call("stop");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "daemon gone");
    assert_eq!(p.call("monitor").code, 7);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("signal 15: exiting"), "{text}");
}

#[test]
fn root_meta_data_runs_as_nobody() {
    halvm_testkit::require_root();
    let setpriv = halvm_testkit::require_tool("setpriv", "util-linux");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("clvmd");
    std::fs::copy(agent(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = outcome(
        Command::new(setpriv)
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&bin)
            .arg("meta-data"),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, meta_data());
}

/// Pacemaker's view through the real OCF tree (root: writes /usr/lib/ocf, restored after).
#[test]
fn root_crm_resource_validate_and_metadata() {
    halvm_testkit::require_root();
    let crm_resource = halvm_testkit::require_tool("crm_resource", "pacemaker-cli-utils");
    let _installed = InstalledAgent::install(&agent(), Path::new("/usr/lib/ocf"), "clvmd");
    let out = outcome(
        Command::new(&crm_resource).args(["--show-metadata", "ocf:halvm:clvmd"]),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim_end(), meta_data().trim_end());
    let validate = |opts: &[String]| {
        let mut cmd = Command::new(&crm_resource);
        cmd.args([
            "--validate",
            "--class",
            "ocf",
            "--provider",
            "halvm",
            "--agent",
            "clvmd",
        ]);
        for o in opts {
            cmd.arg("--option").arg(o);
        }
        let out = outcome(&mut cmd, None);
        (out.code, format!("{}{}", out.stdout, out.stderr))
    };
    let (code, all) = validate(&[format!("daemon={}", daemon())]);
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("returned 0 (ok)"), "{all}");
    let (code, all) = validate(&[
        format!("daemon={}", daemon()),
        "pidfile=clvmd.pid".to_string(),
    ]);
    assert_eq!(code, 6, "{all}");
    assert!(
        all.contains(
            "ocf-exit-reason:parameter pidfile=\"clvmd.pid\" is invalid: must be an absolute path"
        ),
        "{all}"
    );
    let (code, all) = validate(&["daemon=/nonexistent/clvmd-rs".to_string()]);
    assert_eq!(code, 5, "{all}");
    assert!(all.contains("returned 5 (not installed"), "{all}");
}
