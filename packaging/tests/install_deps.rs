//! scripts/install-deps must leave no policy-rc.d behind: it keeps daemons from starting only
//! while its own apt-get runs. These tests run the real script with fake `apt-get`,
//! `dpkg-query` and `sudo` first on PATH (they record their calls), and `POLICY_RC_D` pointing
//! into a temporary directory, so nothing is installed. `root_install_deps_*` runs it for real.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-deps")
}

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    /// `missing`: packages the fake dpkg-query reports as not installed.
    fn new(missing: &[&str]) -> Fake {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let log = dir.path().join("calls.log");
        let policy = dir.path().join("policy-rc.d");
        // apt-get records its arguments, and during `install` whether policy-rc.d exists and
        // what running it answers (101: "action forbidden", the point of the file).
        write_exec(
            &bin.join("apt-get"),
            &format!(
                "#!/bin/sh\necho \"apt-get $*\" >> {log}\n\
                 if [ \"$1\" = install ] || [ \"$3\" = install ] || [ \"$4\" = install ]; then\n\
                   if [ -x {policy} ]; then {policy} corosync start; echo \"policy-rc.d present, exit $?\" >> {log};\n\
                   else echo 'policy-rc.d absent' >> {log}; fi\n\
                   [ -z \"$FAKE_APT_FAIL\" ] || exit 100\n\
                 fi\nexit 0\n",
                log = log.display(),
                policy = policy.display()
            ),
        );
        let missing_list = missing.join(" ");
        write_exec(
            &bin.join("dpkg-query"),
            &format!(
                "#!/bin/sh\npkg=\"$3\"\necho \"dpkg-query $pkg\" >> {log}\n\
                 for m in {missing_list}; do [ \"$m\" = \"$pkg\" ] && exit 1; done\n\
                 printf 'install ok installed'\n",
                log = log.display()
            ),
        );
        write_exec(&bin.join("sudo"), "#!/bin/sh\nexec \"$@\"\n");
        Fake { dir }
    }

    fn policy(&self) -> PathBuf {
        self.dir.path().join("policy-rc.d")
    }

    fn run(&self, args: &[&str], fail_install: bool) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new("bash");
        c.arg(script())
            .args(args)
            .env("PATH", path)
            .env("POLICY_RC_D", self.policy());
        if fail_install {
            c.env("FAKE_APT_FAIL", "1");
        } else {
            c.env_remove("FAKE_APT_FAIL");
        }
        c.output().expect("run scripts/install-deps")
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.dir.path().join("calls.log")).unwrap_or_default()
    }
}

fn write_exec(path: &Path, body: &str) {
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn apt_lines(calls: &str) -> Vec<&str> {
    calls
        .lines()
        .filter(|l| !l.starts_with("dpkg-query"))
        .collect()
}

#[test]
fn install_deps_nothing_missing_runs_no_apt_and_writes_no_policy() {
    let f = Fake::new(&[]);
    let out = f.run(&[], false);
    assert!(out.status.success(), "{out:?}");
    assert!(apt_lines(&f.calls()).is_empty(), "{}", f.calls());
    assert!(!f.policy().exists());
}

#[test]
fn install_deps_policy_rc_d_only_during_the_install() {
    let f = Fake::new(&["corosync", "lvm2"]);
    let out = f.run(&[], false);
    assert!(out.status.success(), "{out:?}");
    let calls = f.calls();
    let apt = apt_lines(&calls);
    assert_eq!(
        apt,
        [
            "apt-get update -q",
            "apt-get install -y -q --no-install-recommends lvm2 corosync",
            "policy-rc.d present, exit 101",
        ],
        "{calls}"
    );
    assert!(!f.policy().exists(), "policy-rc.d left behind");
}

#[test]
fn install_deps_failed_install_still_removes_policy_rc_d() {
    let f = Fake::new(&["pcs"]);
    let out = f.run(&[], true);
    assert_eq!(out.status.code(), Some(100), "{out:?}");
    assert!(
        f.calls().contains("policy-rc.d present, exit 101"),
        "{}",
        f.calls()
    );
    assert!(
        !f.policy().exists(),
        "policy-rc.d left behind after a failed install"
    );
}

#[test]
fn install_deps_keeps_a_policy_rc_d_that_was_there() {
    let f = Fake::new(&["pcs"]);
    let theirs = "#!/bin/sh\n# the machine's own\nexit 101\n";
    write_exec(&f.policy(), theirs);
    for fail in [false, true] {
        f.run(&[], fail);
        assert_eq!(fs::read_to_string(f.policy()).unwrap(), theirs);
    }
    assert_eq!(
        f.calls().matches("policy-rc.d present, exit 101").count(),
        2,
        "{}",
        f.calls()
    );
}

#[test]
fn install_deps_build_group_needs_no_cluster_packages() {
    // The no-root file demo (scripts/demo lvmeta) installs only the build group.
    let f = Fake::new(&["corosync", "pacemaker", "pcs", "qemu-system-x86", "lvm2"]);
    let out = f.run(&["build"], false);
    assert!(out.status.success(), "{out:?}");
    let calls = f.calls();
    let asked: Vec<&str> = calls
        .lines()
        .filter_map(|l| l.strip_prefix("dpkg-query "))
        .collect();
    assert_eq!(asked, ["pkg-config", "libdevmapper-dev", "libclang-dev"]);
    assert!(apt_lines(&calls).is_empty(), "{calls}");
    let demo =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/demo")).unwrap();
    assert!(
        demo.contains("lvmeta) ./scripts/install-deps build;"),
        "scripts/demo lvmeta must install only the build group"
    );
}

#[test]
fn install_deps_no_group_means_every_group_and_unknown_group_fails() {
    let f = Fake::new(&[]);
    assert!(f.run(&[], false).status.success());
    let calls = f.calls();
    for p in [
        "lvm2",
        "pcs",
        "dlm-controld",
        "qemu-system-x86",
        "libclang-dev",
        "man-db",
    ] {
        assert!(
            calls.contains(&format!("dpkg-query {p}\n")),
            "{p} not checked: {calls}"
        );
    }
    let out = f.run(&["nosuch"], false);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown group 'nosuch'"));
}

/// The real script on this machine (every group; idempotent): whatever policy-rc.d was there
/// before is there after, unchanged, and none of ours is left.
#[test]
fn root_install_deps_leaves_policy_rc_d_as_it_was() {
    halvm_testkit::require_root();
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let before = fs::read(policy).ok();
    let out = Command::new(script())
        .env_remove("POLICY_RC_D")
        .output()
        .expect("run scripts/install-deps");
    assert!(out.status.success(), "{out:?}");
    let after = fs::read(policy).ok();
    assert_eq!(before, after, "/usr/sbin/policy-rc.d changed");
    if let Some(a) = after {
        assert!(
            !String::from_utf8_lossy(&a).contains("scripts/install-deps"),
            "install-deps' policy-rc.d left behind"
        );
    }
}
