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
    let up = ok(
        d,
        &[
            "up",
            "--nodes",
            "2",
            "--no-cluster",
            "--shared-disks",
            "2",
            "--unplugged",
            "node2:shared1",
        ],
    );
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

    // --unplugged left shared1 out of node2 only; plug attaches it under the same by-id name,
    // with what node1 wrote on it.
    let has = |node: &str, disk: &str| {
        lab(
            d,
            &[
                "run",
                node,
                "--",
                "test",
                "-b",
                &format!("/dev/disk/by-id/virtio-{disk}"),
            ],
        )
        .status
        .success()
    };
    assert!(has("node1", "shared1") && !has("node2", "shared1"));
    assert!(has("node2", "shared0"));
    assert!(ok(d, &["status"]).contains("node2 10.78.0.12 on unplugged=shared1"));
    ok(
        d,
        &[
            "run",
            "node1",
            "--",
            "sh",
            "-c",
            "echo plugged-data | dd of=/dev/disk/by-id/virtio-shared1 bs=4096 conv=sync oflag=direct status=none",
        ],
    );
    let t = std::time::Instant::now();
    let plugged = ok(d, &["plug", "node2", "shared1"]);
    eprintln!(
        "plug took {:.2} s: {}",
        t.elapsed().as_secs_f64(),
        plugged.trim()
    );
    assert!(
        plugged.contains("shared1 plugged into node2 as vd"),
        "{plugged}"
    );
    let read = |node: &str, disk: &str| {
        lab(
            d,
            &[
                "run",
                node,
                "--",
                "sh",
                "-c",
                &format!("dd if=/dev/disk/by-id/virtio-{disk} bs=4096 count=1 iflag=direct status=none | tr -d '\\000'"),
            ],
        )
    };
    assert_eq!(
        String::from_utf8_lossy(&read("node2", "shared1").stdout).trim(),
        "plugged-data"
    );
    assert!(!ok(d, &["status"]).contains("unplugged"));
    // Plugging what is plugged is refused.
    assert_ne!(lab(d, &["plug", "node2", "shared1"]).status.code(), Some(0));
    assert_ne!(
        lab(d, &["unplug", "node2", "shared9"]).status.code(),
        Some(0)
    );

    // unplug takes a disk away even while a device-mapper table holds it open: reads through
    // the table then fail, and the by-id link is gone. Only node2 loses it.
    ok(
        d,
        &[
            "run",
            "node2",
            "--",
            "sh",
            "-c",
            "echo 0 8192 linear /dev/disk/by-id/virtio-shared0 0 | dmsetup create held",
        ],
    );
    let t = std::time::Instant::now();
    let unplugged = ok(d, &["unplug", "node2", "shared0"]);
    eprintln!(
        "unplug took {:.2} s: {}",
        t.elapsed().as_secs_f64(),
        unplugged.trim()
    );
    assert!(
        unplugged.contains("shared0 unplugged from node2 (was vd"),
        "{unplugged}"
    );
    assert!(!has("node2", "shared0") && has("node1", "shared0"));
    let held = lab(
        d,
        &[
            "run",
            "node2",
            "--",
            "dd",
            "if=/dev/mapper/held",
            "of=/dev/null",
            "bs=4096",
            "count=1",
            "iflag=direct",
        ],
    );
    assert!(
        !held.status.success(),
        "read through a table on an unplugged disk succeeded"
    );
    assert!(ok(d, &["status"]).contains("node2 10.78.0.12 on unplugged=shared0"));
    assert_ne!(
        lab(d, &["unplug", "node2", "shared0"]).status.code(),
        Some(0)
    );
    ok(d, &["run", "node2", "--", "dmsetup", "remove", "held"]);
    ok(d, &["plug", "node2", "shared0"]);
    assert!(has("node2", "shared0"));
    // A hot-plugged disk can be unplugged and plugged again (its block node is released).
    ok(d, &["unplug", "node2", "shared1"]);
    assert!(!has("node2", "shared1"));
    ok(d, &["plug", "node2", "shared1"]);
    assert_eq!(
        String::from_utf8_lossy(&read("node2", "shared1").stdout).trim(),
        "plugged-data"
    );

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

    // kill powers node1 off; restart brings it back, without the disk unplugged before.
    ok(d, &["unplug", "node1", "shared1"]);
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
    assert!(!has("node1", "shared1") && has("node1", "shared0"));
    ok(d, &["plug", "node1", "shared1"]);
    assert!(has("node1", "shared1"));

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
