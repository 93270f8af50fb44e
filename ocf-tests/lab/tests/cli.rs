//! Lab tier: the `halvm-lab` binary end to end (supervisor, run dir, faults, teardown).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_halvm-lab");

/// Runs `down` on drop, so a failing test leaves no lab behind.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .arg("--run-dir")
            .arg(&self.0)
            .arg("down")
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lab(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--run-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run halvm-lab")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = lab(dir, args);
    assert!(
        out.status.success(),
        "halvm-lab {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn lab_cli_up_run_faults_down() {
    let dir = RunDir(std::env::temp_dir().join(format!("halvm-lab-cli-{}", std::process::id())));
    let d = dir.0.as_path();
    let up = ok(d, &["up", "--nodes", "2", "--no-cluster"]);
    assert!(up.contains("node node2 10.78.0.12"), "{up}");
    let netns = up
        .lines()
        .find_map(|l| l.strip_prefix("netns "))
        .expect("netns line")
        .to_string();
    let labdir = up
        .lines()
        .find_map(|l| l.strip_prefix("dir "))
        .expect("dir line")
        .to_string();

    // A second `up` on the same run dir is refused.
    assert_eq!(lab(d, &["up", "--nodes", "1"]).status.code(), Some(4));

    // run passes output and exit code through.
    assert_eq!(ok(d, &["run", "node2", "--", "hostname"]).trim(), "node2");
    let out = lab(
        d,
        &[
            "run",
            "node1",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    // partition cuts node2 off the cluster network only; heal reconnects it.
    ok(
        d,
        &["run", "node1", "--", "ping", "-c1", "-W2", "10.77.0.12"],
    );
    ok(d, &["partition", "node2"]);
    assert!(ok(d, &["status"]).contains("node2 10.78.0.12 on partitioned"));
    assert_ne!(
        lab(
            d,
            &["run", "node1", "--", "ping", "-c1", "-W2", "10.77.0.12"]
        )
        .status
        .code(),
        Some(0)
    );
    ok(d, &["run", "node2", "--", "true"]);
    ok(d, &["heal", "node2"]);
    ok(
        d,
        &["run", "node1", "--", "ping", "-c3", "-W2", "10.77.0.12"],
    );

    // kill powers node1 off; restart brings it back.
    ok(d, &["kill", "node1"]);
    assert!(ok(d, &["status"]).contains("node1 10.78.0.11 off"));
    assert_ne!(
        lab(d, &["run", "node1", "--timeout", "5", "--", "true"])
            .status
            .code(),
        Some(0)
    );
    ok(d, &["restart", "node1"]);
    assert_eq!(ok(d, &["run", "node1", "--", "hostname"]).trim(), "node1");

    ok(d, &["down"]);
    let netns_list = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip")
            .stdout,
    )
    .to_string();
    assert!(
        !netns_list
            .lines()
            .any(|l| l.split_whitespace().next() == Some(netns.as_str())),
        "netns {netns} left behind"
    );
    assert!(!Path::new(&labdir).exists(), "{labdir} left behind");
    assert_eq!(lab(d, &["status"]).status.code(), Some(4));
}
