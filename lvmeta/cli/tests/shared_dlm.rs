//! lvmeta on shared VGs (lock_type "dlm") through clvmd-rs: two "nodes", each a real
//! clvmd-rs daemon loop (in this process, no corosync, quorate) over one in-memory DLM, and
//! the real lvmeta binary with halvm.toml `lock_manager = "dlm"`, on file-backed PVs both
//! nodes see. The kernel DLM and corosync parts are covered by the lab tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use clvmd_client::Client;
use clvmd_proto::{Mode, Scope};
use halvm_dlm::MemDlm;

struct Node {
    socket: PathBuf,
    locks: PathBuf,
}

struct Cluster {
    dir: tempfile::TempDir,
    dlm: MemDlm,
    disks: Vec<PathBuf>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Cluster {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cluster_name"), "testcluster\n").unwrap();
        std::fs::write(
            dir.path().join("halvm.toml"),
            "[locking]\nlock_manager = \"dlm\"\n",
        )
        .unwrap();
        let disks = (0..2)
            .map(|i| {
                let p = dir.path().join(format!("d{i}"));
                std::fs::File::create(&p)
                    .unwrap()
                    .set_len(64 << 20)
                    .unwrap();
                p
            })
            .collect();
        Cluster {
            dir,
            dlm: MemDlm::new(),
            disks,
        }
    }

    fn node(&self, id: u32) -> Node {
        let socket = self.dir.path().join(format!("n{id}.sock"));
        let listener = clvmd_rs::server::bind(&socket).unwrap();
        let opts = clvmd_rs::server::Options {
            socket: socket.clone(),
            pidfile: self.dir.path().join(format!("n{id}.pid")),
            foreground: true,
            node_name: Some(format!("n{id}")),
            corosync: false,
            debug: false,
            log_file: None,
            cluster_name_file: self.dir.path().join("cluster_name"),
            quorum_loss: clvmd_rs::QuorumLoss::Freeze,
            detach: clvmd_rs::Detach::Global,
            dg_failure: clvmd_proto::DgFailure::Dgdisable,
            fence_dir: self.dir.path().join("fence"),
        };
        let dlm = Arc::new(self.dlm.node(id));
        std::thread::spawn(move || clvmd_rs::server::serve(&opts, listener, dlm, true).unwrap());
        Node {
            socket,
            locks: self.dir.path().join(format!("locks{id}")),
        }
    }

    fn run(&self, node: &Node, args: &[&str]) -> Run {
        let devices = self
            .disks
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let out = Command::new(env!("CARGO_BIN_EXE_lvmeta"))
            .arg(args[0])
            .args(["--devices", &devices, "--lock-dir"])
            .arg(&node.locks)
            .args(&args[1..])
            .env("HALVM_CONFIG", self.dir.path().join("halvm.toml"))
            .env("LVM_SYSTEM_DIR", self.dir.path().join("lvm"))
            .env("CLVMD_RS_SOCKET", &node.socket)
            .env_remove("HALVM_SYSTEM_ID")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, node: &Node, args: &[&str]) -> String {
        let r = self.run(node, args);
        assert_eq!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
        r.stdout
    }

    fn disk(&self, i: usize) -> &str {
        self.disks[i].to_str().unwrap()
    }
}

fn vg_seqno(cl: &Cluster, node: &Node) -> u64 {
    let out = cl.ok(
        node,
        &["vgs", "--reportformat", "json", "-o", "vg_name,vg_seqno"],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["report"][0]["vg"][0]["vg_seqno"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn daemon_seqno(socket: &Path) -> Option<u32> {
    let st = Client::connect(socket, "t").unwrap().status().unwrap();
    st.lockspaces
        .iter()
        .find(|l| l.name == "lvm_vg0")
        .and_then(|l| l.seqno)
}

#[test]
fn shared_vg_created_started_changed_and_converted_through_clvmd_rs() {
    let cl = Cluster::new();
    let (n1, n2) = (cl.node(1), cl.node(2));
    cl.ok(&n1, &["pvcreate", cl.disk(0), cl.disk(1)]);
    let out = cl.ok(
        &n1,
        &["vgcreate", "--shared", "vg0", cl.disk(0), cl.disk(1)],
    );
    assert!(out.contains("lock type dlm, 1.0.0:testcluster"), "{out}");
    assert!(out.contains("Starting locking for VG vg0"), "{out}");
    let attr = cl.ok(&n1, &["vgs", "--noheadings", "-o", "vg_attr", "vg0"]);
    assert!(attr.trim().ends_with('s'), "{attr}");

    // A commit on node 1 leaves its seqno in the VGLK's LVB (the daemon reports what it saw).
    cl.ok(&n1, &["lvcreate", "-n", "lv1", "-L", "8m", "vg0"]);
    // The LV carries lvm2's lock_args: lvmlockd takes no LV lock without them.
    let backup = cl.dir.path().join("vg0.txt");
    cl.ok(&n1, &["vgcfgbackup", "-f", backup.to_str().unwrap(), "vg0"]);
    let text = std::fs::read_to_string(&backup).unwrap();
    let lv1 = &text[text.find("lv1 {").expect("lv1 in the backup")..];
    assert!(
        lv1[..lv1.find("segment1").unwrap()].contains("lock_args = \"dlm\""),
        "{text}"
    );
    let s1 = vg_seqno(&cl, &n1);
    assert_eq!(daemon_seqno(&n1.socket), Some(s1 as u32));

    // Node 2 has not started the lockspace: a change is refused with the command to run; a
    // report reads without the lock and says so, as lvm2 does.
    let r = cl.run(&n2, &["lvcreate", "-n", "nope", "-L", "8m", "vg0"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("vgchange --lockstart"), "{}", r.stderr);
    let r = cl.run(&n2, &["lvs", "--noheadings", "-o", "lv_name", "vg0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "lv1");
    assert!(
        r.stderr.contains("Reading VG vg0 without a lock.")
            && r.stderr.contains("vgchange --lockstart"),
        "{}",
        r.stderr
    );
    let out = cl.ok(&n2, &["vgchange", "--lockstart", "vg0"]);
    assert!(out.contains("Starting locking for VG vg0"), "{out}");
    // The reader on node 2 got the seqno from the LVB.
    let _ = cl.ok(&n2, &["lvs", "vg0"]);
    assert_eq!(daemon_seqno(&n2.socket), Some(s1 as u32));
    cl.ok(&n2, &["lvcreate", "-n", "lv2", "-L", "8m", "vg0"]);
    let lvs = cl.ok(&n1, &["lvs", "--noheadings", "-o", "lv_name", "vg0"]);
    assert_eq!(lvs.split_whitespace().collect::<Vec<_>>(), ["lv1", "lv2"]);

    // While node 1 holds the VG lock for a change, node 2's command waits for it.
    let mut holder = Client::connect(&n1.socket, "holder").unwrap();
    holder
        .lock(Scope::Vg("vg0".into()), Mode::Ex, std::time::Duration::ZERO)
        .unwrap();
    let t = std::thread::spawn({
        let socket = n2.socket.clone();
        move || {
            let mut c = Client::connect(&socket, "probe").unwrap();
            c.lock(Scope::Vg("vg0".into()), Mode::Pr, std::time::Duration::ZERO)
        }
    });
    let refused = t.join().unwrap().unwrap_err().to_string();
    assert!(refused.contains("is locked by another host"), "{refused}");
    drop(holder);

    // Stopping: node 2 leaves; node 1 turns the VG local again (under the VG lock).
    cl.ok(&n2, &["vgchange", "--lockstop", "vg0"]);
    let r = cl.run(&n2, &["lvchange", "-aey", "vg0/lv1"]);
    assert_ne!(r.code, 0);
    let r = cl.run(&n2, &["vgs", "vg0"]);
    assert!(r.stderr.contains("without a lock"), "{}", r.stderr);
    let out = cl.ok(&n1, &["vgchange", "--locktype", "none", "vg0"]);
    assert!(out.contains("lock type changed to none"), "{out}");
    let attr = cl.ok(&n1, &["vgs", "--noheadings", "-o", "vg_attr", "vg0"]);
    assert!(attr.trim().ends_with('-'), "{attr}");
    // ... and shared again.
    cl.ok(&n1, &["vgchange", "--locktype", "dlm", "vg0"]);
    let attr = cl.ok(&n1, &["vgs", "--noheadings", "-o", "vg_attr", "vg0"]);
    assert!(attr.trim().ends_with('s'), "{attr}");
    cl.dlm.assert_compatible();
}

#[test]
fn clustered_vg_of_lvm_2_02_is_named_with_the_conversion() {
    let cl = Cluster::new();
    let n1 = cl.node(1);
    // A local VG, then flagged CLUSTERED as lvm 2.02's vgcreate -cy left it.
    cl.ok(&n1, &["pvcreate", cl.disk(0)]);
    cl.ok(&n1, &["vgcreate", "vg0", cl.disk(0)]);
    let backup = cl.dir.path().join("vg0.backup");
    cl.ok(&n1, &["vgcfgbackup", "-f", backup.to_str().unwrap(), "vg0"]);
    let text = std::fs::read_to_string(&backup).unwrap();
    let text = text.replacen(
        "status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]",
        "status = [\"RESIZEABLE\", \"READ\", \"WRITE\", \"CLUSTERED\"]",
        1,
    );
    assert!(text.contains("CLUSTERED"), "{text}");
    std::fs::write(&backup, text).unwrap();
    cl.ok(
        &n1,
        &["vgcfgrestore", "-f", backup.to_str().unwrap(), "vg0"],
    );
    let r = cl.run(&n1, &["vgchange", "--lockstart", "vg0"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("vgchange --locktype dlm vg0"),
        "{}",
        r.stderr
    );
    cl.ok(&n1, &["vgchange", "--locktype", "dlm", "vg0"]);
    cl.ok(&n1, &["vgchange", "--lockstart", "vg0"]);
    let attr = cl.ok(&n1, &["vgs", "--noheadings", "-o", "vg_attr", "vg0"]);
    assert!(attr.trim().ends_with('s'), "{attr}");
}

/// vgremove of a shared VG, as lvm2: the removal reaches the other nodes through the VGLK's
/// lock value block (VBF_REMOVED), and the removing node leaves the lockspace.
#[test]
fn vgremove_of_a_shared_vg_marks_the_lvb_and_stops_the_lockspace() {
    let cl = Cluster::new();
    let (n1, n2) = (cl.node(1), cl.node(2));
    cl.ok(&n1, &["pvcreate", cl.disk(0)]);
    cl.ok(&n1, &["vgcreate", "--shared", "vg0", cl.disk(0)]);
    cl.ok(&n2, &["vgchange", "--lockstart", "vg0"]);
    cl.ok(&n1, &["vgremove", "vg0"]);
    let lockspaces = |n: &Node| -> Vec<String> {
        let st = Client::connect(&n.socket, "t").unwrap().status().unwrap();
        st.lockspaces.into_iter().map(|l| l.name).collect()
    };
    assert!(!lockspaces(&n1).contains(&"lvm_vg0".to_string()));
    assert!(lockspaces(&n2).contains(&"lvm_vg0".to_string()));
    let mut c = Client::connect(&n2.socket, "probe").unwrap();
    let err = c
        .lock(Scope::Vg("vg0".into()), Mode::Pr, std::time::Duration::ZERO)
        .unwrap_err()
        .to_string();
    assert!(err.contains("removed"), "{err}");
    cl.ok(&n2, &["vgchange", "--lockstop", "vg0"]);
    cl.dlm.assert_compatible();
}

/// lvm.conf's `global/use_lvmlockd = 1` (an lvm2 node set up for lvmlockd) selects clvmd-rs
/// without a halvm.toml lock_manager.
#[test]
fn use_lvmlockd_in_lvm_conf_selects_clvmd_rs() {
    let cl = Cluster::new();
    std::fs::write(cl.dir.path().join("halvm.toml"), "").unwrap();
    std::fs::create_dir_all(cl.dir.path().join("lvm")).unwrap();
    std::fs::write(
        cl.dir.path().join("lvm/lvm.conf"),
        "global {\n    use_lvmlockd = 1\n}\nbackup {\n    backup = 0\n    archive = 0\n}\n",
    )
    .unwrap();
    let n1 = cl.node(1);
    cl.ok(&n1, &["pvcreate", cl.disk(0)]);
    let out = cl.ok(&n1, &["vgcreate", "--shared", "vg0", cl.disk(0)]);
    assert!(out.contains("lock type dlm, 1.0.0:testcluster"), "{out}");
    cl.ok(&n1, &["lvcreate", "-n", "lv1", "-L", "8m", "vg0"]);
    assert!(daemon_seqno(&n1.socket).is_some());
}

/// Uniform shared storage: a node that cannot see one PV of a shared VG refuses to lock-start
/// it, naming the PV by UUID and last known device, unless partial activation is asked for.
/// Also the atomic resize's protocol end to end (no LV active: no device-mapper action).
#[test]
fn lockstart_refused_without_every_pv_and_resize_through_the_daemons() {
    let cl = Cluster::new();
    let n1 = cl.node(1);
    let n2 = cl.node(2);
    cl.ok(&n1, &["pvcreate", cl.disk(0), cl.disk(1)]);
    cl.ok(
        &n1,
        &["vgcreate", "--shared", "vg0", cl.disk(0), cl.disk(1)],
    );
    let pv1 = cl
        .ok(&n1, &["pvs", "--noheadings", "-o", "pv_uuid", cl.disk(1)])
        .trim()
        .to_string();
    // node2 sees only the first disk.
    let only_first = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lvmeta"))
            .arg(args[0])
            .args(["--devices", cl.disk(0), "--lock-dir"])
            .arg(&n2.locks)
            .args(&args[1..])
            .env("HALVM_CONFIG", cl.dir.path().join("halvm.toml"))
            .env("LVM_SYSTEM_DIR", cl.dir.path().join("lvm"))
            .env("CLVMD_RS_SOCKET", &n2.socket)
            .env_remove("HALVM_SYSTEM_ID")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = only_first(&["vgchange", "--lockstart", "vg0"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains(&pv1), "{err}");
    assert!(err.contains(cl.disk(1)), "{err}");
    assert!(
        daemon_seqno(&n2.socket).is_none(),
        "no lockspace was started"
    );
    let (code, err) = only_first(&[
        "vgchange",
        "--lockstart",
        "--activationmode",
        "partial",
        "vg0",
    ]);
    assert_eq!(code, 0, "{err}");
    cl.ok(&n2, &["vgchange", "--lockstop", "vg0"]);
    // With every PV node2 joins; an extend and a reduce go through both daemons' resize.
    cl.ok(&n2, &["vgchange", "--lockstart", "vg0"]);
    cl.ok(&n1, &["lvcreate", "-n", "lv", "-L", "8m", "vg0"]);
    cl.ok(&n2, &["lvextend", "-L", "16m", "vg0/lv"]);
    cl.ok(&n1, &["lvreduce", "-f", "-L", "12m", "vg0/lv"]);
    let size = cl.ok(
        &n2,
        &[
            "lvs",
            "--noheadings",
            "--units",
            "m",
            "-o",
            "lv_size",
            "vg0/lv",
        ],
    );
    assert_eq!(size.trim(), "12.00m");
    // One view: where the LV is active and the VG's activation modes, served by the daemon.
    let uuid = cl
        .ok(&n2, &["lvs", "--noheadings", "-o", "lv_uuid", "vg0/lv"])
        .trim()
        .to_string();
    let mut c = Client::connect(&n2.socket, "t").unwrap();
    c.vg_mode("vg0", Mode::Cr).unwrap();
    c.lv_lock("vg0", &uuid, "lv", Mode::Cr).unwrap();
    let out = cl.ok(
        &n2,
        &[
            "lvs",
            "--noheadings",
            "-o",
            "lv_name,lv_active_nodes",
            "vg0",
        ],
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["lv", "n2:cr"],
        "{out}"
    );
    let out = cl.ok(
        &n2,
        &["vgs", "--noheadings", "-o", "vg_activation_modes", "vg0"],
    );
    assert_eq!(out.trim(), "n2:sr");
    // Another daemon's node (no CPG between these two) does not see n2's holdings.
    let out = cl.ok(
        &n1,
        &["lvs", "--noheadings", "-o", "lv_active_nodes", "vg0"],
    );
    assert_eq!(out.trim(), "");
}
