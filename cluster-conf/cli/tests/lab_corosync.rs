//! Lab tier: the seed's two-node cluster.conf, translated by `cluster-conf to-corosync`, is the
//! corosync.conf of the lab's two VMs, and they form a quorate cluster with it (corosync 3,
//! knet, crypto with a lab key, votequorum two_node) with dlm_controld ready on top.
//! Run as root, with the lab binaries built: `cargo build --workspace --bins`, then
//! `flock /tmp/halvm-lab.lock cargo test -p cluster-conf-cli --test lab_corosync -- --test-threads=1`.

use std::path::Path;
use std::process::Command;

use halvm_lab::guest::cluster_ip;
use halvm_lab::{Lab, LabConfig};

#[test]
fn lab_seed_cluster_conf_translated_forms_a_quorate_two_node_cluster() {
    halvm_testkit::require_root();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rgmanager/tests/data/seed003.conf");
    // The cluster.conf names its nodes serv-0001 and serv-0002; the lab's VMs have the
    // addresses cluster_ip(1) and cluster_ip(2).
    let out = Command::new(env!("CARGO_BIN_EXE_cluster-conf"))
        .arg("to-corosync")
        .arg(&seed)
        .arg("--addr")
        .arg(format!("serv-0001={}", cluster_ip(1)))
        .arg("--addr")
        .arg(format!("serv-0002={}", cluster_ip(2)))
        .output()
        .expect("run cluster-conf");
    assert!(out.status.success(), "{out:?}");
    let conf = String::from_utf8(out.stdout).unwrap();

    // Lab::start returns once both nodes report "Quorate: Yes" and dlm_controld is quorate.
    let lab = Lab::start(LabConfig {
        nodes: 2,
        corosync_conf: Some(conf),
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("lab with the translated corosync.conf did not start: {e}"));
    eprintln!("quorate after {:?}", lab.timings().quorate);
    for node in ["node1", "node2"] {
        let q = lab
            .node(node)
            .sh("corosync-quorumtool -s; corosync-cmapctl -g totem.cluster_name; corosync-cmapctl -g totem.crypto_cipher; corosync-cmapctl -g quorum.two_node; dlm_tool status")
            .unwrap_or_else(|e| panic!("{node}: {e}"));
        let text = q.stdout_str();
        assert!(q.success(), "{node}: {text}{}", q.stderr_str());
        let line = |key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .unwrap_or_else(|| panic!("{node}: no `{key}` in\n{text}"))
                .to_string()
        };
        assert!(line("Quorate:").ends_with("Yes"), "{node}: {text}");
        assert!(line("Nodes:").ends_with(" 2"), "{node}: {text}");
        assert!(line("Flags:").contains("2Node"), "{node}: {text}");
        assert!(
            line("totem.cluster_name").ends_with("= lvm-cluster"),
            "{node}: {text}"
        );
        assert!(
            line("totem.crypto_cipher").ends_with("= aes256"),
            "{node}: {text}"
        );
        assert!(line("quorum.two_node").ends_with("= 1"), "{node}: {text}");
        assert!(
            text.contains("quorate 1"),
            "{node}: dlm_controld not quorate: {text}"
        );
    }
}
