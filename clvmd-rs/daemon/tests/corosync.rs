//! The daemon on a real corosync: one node on 127.0.0.1 in private network and mount
//! namespaces (libqb's IPC sockets are per network namespace, /run and /dev/shm private), so
//! it touches nothing of the host's. Checks CPG membership and quorum reach the daemon.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_clvmd-rs");

const CONF: &str = "totem {
    version: 2
    cluster_name: hosttest
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        name: solo
        nodeid: 1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_stderr: yes
    to_syslog: no
}
";

const SCRIPT: &str = r#"
set -e
dir="$1"; bin="$2"
ip link set lo up
mount -t tmpfs none /run
mount -t tmpfs none /dev/shm
mount -t tmpfs none /var/lib/corosync
mkdir -p /run/corosync
corosync -f -c "$dir/corosync.conf" > "$dir/corosync.log" 2>&1 &
cpid=$!
trap 'kill $cpid 2>/dev/null; wait $cpid 2>/dev/null || true' EXIT
for i in $(seq 100); do corosync-cfgtool -s > /dev/null 2>&1 && break; sleep 0.1; done
"$bin" -f -s /run/clvmd-rs/s.sock -p /run/clvmd-rs/pid --node-name solo > "$dir/clvmd.log" 2>&1 &
dpid=$!
for i in $(seq 100); do
    "$bin" -s /run/clvmd-rs/s.sock status > "$dir/status" 2>/dev/null && grep -q '^node solo (id 1), quorate' "$dir/status" && break
    sleep 0.1
done
"$bin" -s /run/clvmd-rs/s.sock status --json > "$dir/status.json"
kill $dpid
wait $dpid
"#;

#[test]
fn root_cpg_membership_and_quorum_from_a_real_corosync() {
    halvm_testkit::require_root();
    halvm_testkit::require_tool("corosync", "corosync");
    halvm_testkit::require_tool("unshare", "util-linux");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("corosync.conf"), CONF).unwrap();
    let out = Command::new("timeout")
        .args([
            "60",
            "unshare",
            "--net",
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
        ])
        .arg(SCRIPT)
        .arg("script")
        .arg(dir.path())
        .arg(BIN)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("clvmd.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "script failed: {}\n{log}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.path().join("corosync.log")).unwrap_or_default()
    );
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("status.json")).unwrap()).unwrap();
    assert_eq!(st["node_id"], 1);
    assert_eq!(st["quorate"], true);
    assert_eq!(st["members"][0]["id"], 1);
    assert!(log.contains("CPG membership"), "{log}");
    assert!(log.contains("quorum: quorate"), "{log}");
    assert!(log.contains("signal 15: exiting"), "{log}");
}
