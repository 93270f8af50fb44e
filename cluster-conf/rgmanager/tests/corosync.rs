//! `to_corosync` / `to_dlm_conf` for every sample: goldens (tests/golden/<sample>.corosync.conf
//! and .dlm.conf; UPDATE_GOLDEN=1 refreshes them), corosync's own check of the result
//! (`corosync -c FILE -t`), and the file parsed back: its nodelist is the cluster.conf's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use halvm_rgmanager::*;
use halvm_testkit::{assert_golden, require_tool};

const SAMPLES: [&str; 5] = ["seed003", "four_node", "global_refs", "fencing", "stack"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn conf(sample: &str) -> ClusterConf {
    let text = std::fs::read_to_string(dir().join("data").join(format!("{sample}.conf"))).unwrap();
    parse(&text).unwrap_or_else(|e| panic!("{sample}: {e}"))
}

#[test]
fn golden_corosync_and_dlm_conf() {
    for s in SAMPLES {
        let c = conf(s);
        let coro = to_corosync(&c, &[]).unwrap_or_else(|e| panic!("{s}: {e:?}"));
        assert_golden(
            dir().join("golden").join(format!("{s}.corosync.conf")),
            &coro.text,
        );
        let dlm = to_dlm_conf(&c).unwrap_or_else(|e| panic!("{s}: {e:?}"));
        assert_golden(
            dir().join("golden").join(format!("{s}.dlm.conf")),
            &dlm.text,
        );
    }
}

/// corosync.conf's grammar, enough to read ours back: `section {`, `key: value`, `}`, comments.
/// Returns (section path, key, value) triples; a node's keys come with the path
/// `nodelist.node[i]`.
fn read_back(text: &str) -> Vec<(String, String, String)> {
    let mut path: Vec<String> = Vec::new();
    let mut nodes = 0;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_suffix('{') {
            let mut name = name.trim().to_string();
            if name == "node" {
                name = format!("node[{nodes}]");
                nodes += 1;
            }
            path.push(name);
        } else if line == "}" {
            path.pop().expect("balanced braces");
        } else {
            let (k, v) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("not key: value: {line:?}"));
            out.push((path.join("."), k.trim().to_string(), v.trim().to_string()));
        }
    }
    assert!(path.is_empty(), "unclosed section {path:?}");
    out
}

#[test]
fn corosync_accepts_and_reads_back_the_nodelist() {
    let corosync = require_tool("corosync", "corosync");
    let tmp = tempfile::tempdir().unwrap();
    for s in SAMPLES {
        let c = conf(s);
        // Addresses corosync accepts here: the first node is this host (corosync -t looks
        // for itself in the nodelist), the others documentation addresses.
        let addrs: Vec<(String, Vec<String>)> = c
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let rings = match i {
                    0 => vec!["127.0.0.1".to_string(), "127.0.0.1".to_string()],
                    _ => vec![
                        format!("192.0.2.{}", i + 1),
                        format!("198.51.100.{}", i + 1),
                    ],
                };
                let links = if c.stack.altnames.is_empty() { 1 } else { 2 };
                (n.name.clone(), rings[..links].to_vec())
            })
            .collect();
        let text = to_corosync(&c, &addrs).unwrap().text;
        let log = tmp.path().join("corosync.log");
        // corosync -t also opens the crypto key: point it at a test key.
        let key = tmp.path().join("authkey");
        std::fs::write(&key, [0x5au8; 256]).unwrap();
        let checked: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("keyfile:"))
            .map(|l| match l {
                _ if l.trim_start().starts_with("logfile:") => {
                    format!("    logfile: {}\n", log.display())
                }
                "    crypto_hash: sha256" => format!("{l}\n    keyfile: {}\n", key.display()),
                _ => format!("{l}\n"),
            })
            .collect();
        let path = tmp.path().join(format!("{s}.conf"));
        std::fs::write(&path, &checked).unwrap();
        let out = Command::new(&corosync)
            .arg("-c")
            .arg(&path)
            .arg("-t")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{s}: corosync -t refused it: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let keys = read_back(&text);
        let get = |sec: &str, k: &str| {
            keys.iter()
                .find(|(p, key, _)| p == sec && key == k)
                .map(|t| t.2.as_str())
        };
        assert_eq!(get("totem", "cluster_name"), Some(c.name.as_str()), "{s}");
        assert_eq!(get("totem", "transport"), Some("knet"), "{s}");
        let mut nodes: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (p, k, v) in &keys {
            if p.starts_with("nodelist.node[") {
                let e = nodes.entry(p.clone()).or_default();
                match k.as_str() {
                    "name" => e.0 = v.clone(),
                    "nodeid" => e.1 = v.clone(),
                    _ => {}
                }
            }
        }
        let mut got: Vec<(String, String)> = nodes.into_values().collect();
        got.sort();
        let mut want: Vec<(String, String)> = c
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.nodeid.to_string()))
            .collect();
        want.sort();
        assert_eq!(got, want, "{s}");
        let two = c.cman.as_ref().is_some_and(|m| m.two_node) && c.nodes.len() == 2;
        assert_eq!(get("quorum", "two_node"), two.then_some("1"), "{s}");
        // corosync refuses a consensus below 1.2 x token when it starts (not with -t).
        let token: f64 = get("totem", "token").unwrap().parse().unwrap();
        if let Some(cons) = get("totem", "consensus") {
            assert!(cons.parse::<f64>().unwrap() >= 1.2 * token, "{s}");
        }
    }
}
