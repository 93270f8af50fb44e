//! Lab tier for issue 13: clvmd-rs on real kernels (DLM, device-mapper), corosync and
//! dlm_controld in QEMU guests, lvmeta as the client, stock lvm2 + lvmlockd as a peer.
//!
//! Three labs (CI budget): one 3-node lab runs items 1, 2 and 6 in turn, one runs the mixed
//! cluster (item 3), one 2-node lab runs the failures (items 4 and 5: orphans after a daemon
//! SIGKILL, fencing hand-over, reboot rejoin). Every scenario has a fresh VG on a disk of its
//! own.
//!
//! Build first, then run as root, one lab at a time:
//!   cargo build -p lvmeta-cli -p clvmd-rs -p halvm-lab -p halvm-lvm-activate \
//!     -p lvmeta-forward -p lvmeta-server --bins
//!   flock /tmp/halvm-lab.lock cargo test -p clvmd-rs --test lab_clvmd -- --test-threads=1
//! The lvmeta and clvmd-rs binaries are copied to a fresh directory before the VMs boot (the
//! guests run them over 9p; a rebuild under them would crash them).

mod lab_common;

use halvm_lab::{Lab, LabConfig, Output};
use lab_common::{Bins, HALVM_TOML, LVM_CONF};
use std::time::{Duration, Instant};

/// The socket of the lvmeta-server the lab tests start (not the default one, so that `M`'s
/// lvmeta, which forwards to a server at the default path, never does).
const LAB_SERVER: &str = "/run/lvmeta-lab/server.sock";

/// The stock lvm2 node of a mixed cluster: lvm2 with lvmlockd.
const LVM_CONF_LOCKD: &str = r#"devices { filter = [ "a|^/dev/vd|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { use_lvmlockd = 1 }
backup { backup = 0 archive = 0 }
"#;

struct T {
    lab: Lab,
    bins: Bins,
    /// The LVM-activate agent, copied aside with the other binaries.
    agent: String,
    /// lvmeta-server, and lvmc alone in a directory (no lvmeta beside it to fall back to).
    server: String,
    lvmc: String,
    /// The shared disks as the guests name them (/dev/vdX).
    disks: Vec<String>,
    /// Nodes running stock lvm2 + lvmlockd instead of clvmd-rs.
    stock: Vec<String>,
}

fn start(nodes: usize, disks: usize, disk_mib: u64) -> T {
    start_with(nodes, disks, disk_mib, LabConfig::default().dlm_fencing)
}

fn start_with(nodes: usize, disks: usize, disk_mib: u64, dlm_fencing: bool) -> T {
    halvm_testkit::require_root();
    let bins = Bins::new("clvmd");
    let agent = bins.extra("LVM-activate");
    let server = bins.extra("lvmeta-server");
    let lvmc = bins.extra_alone("lvmc");
    let lab = Lab::start(LabConfig {
        nodes,
        shared_disks: disks,
        shared_disk_mib: disk_mib,
        private_disks: 0,
        dlm_fencing,
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("lab did not start: {e}"));
    let mut t = T {
        lab,
        bins,
        agent,
        server,
        lvmc,
        disks: Vec::new(),
        stock: Vec::new(),
    };
    for k in 0..disks {
        let by_id = t.lab.shared_disk(k);
        let d = t.ok("node1", &format!("readlink -f {by_id}"));
        t.disks.push(d.trim().to_string());
    }
    for n in t.lab.nodes() {
        t.configure(&n);
    }
    t
}

impl T {
    /// lvm.conf and halvm.toml of a clvmd-rs node (again after a reboot: /tmp is a tmpfs).
    fn configure(&self, node: &str) {
        let n = self.lab.node(node);
        n.write_file("/tmp/lvmsys/lvm.conf", LVM_CONF.as_bytes(), 0o644)
            .expect("lvm.conf");
        n.write_file("/tmp/halvm.toml", HALVM_TOML.as_bytes(), 0o644)
            .expect("halvm.toml");
    }

    /// Makes `node` a stock lvm2 node: use_lvmlockd = 1 and `lvmlockd -g dlm`.
    fn lvmlockd(&mut self, node: &str) {
        self.lab
            .node(node)
            .write_file("/tmp/lvmsys/lvm.conf", LVM_CONF_LOCKD.as_bytes(), 0o644)
            .expect("lvm.conf");
        self.ok(node, "lvmlockd -g dlm");
        self.stock.push(node.to_string());
    }

    /// Shell prelude: `M` runs lvmeta with this lab's configuration on the shared disks; lvm
    /// (on a stock node) finds the same configuration in LVM_SYSTEM_DIR; `S` runs the same
    /// command line through lvmc and the lvmeta-server [`T::command_server`] started.
    fn pre(&self) -> String {
        let devices = self.disks.join(",");
        format!(
            "export DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR=/tmp/lvmsys HALVM_CONFIG=/tmp/halvm.toml; \
             mkdir -p /run/lvm /tmp/halvm-lock; \
             M() {{ c=$1; shift; LVMETA_SERVER=0 {} \"$c\" --devices {devices} \"$@\"; }}; \
             S() {{ c=$1; shift; LVMETA_SERVER=${{LVMETA_SERVER:-{LAB_SERVER}}} {} \"$c\" \
               --devices {devices} \"$@\"; }}; C={};\n",
            self.bins.lvmeta, self.lvmc, self.bins.clvmd
        )
    }

    /// Starts lvmeta-server on `node` (its socket [`LAB_SERVER`], its log in
    /// /tmp/lvmeta-server.log) and waits for its socket.
    fn command_server(&self, node: &str) {
        self.lab
            .node(node)
            .spawn(
                &[&self.server, "--socket", LAB_SERVER],
                "/tmp/lvmeta-server.log",
            )
            .expect("spawn lvmeta-server");
        self.lab
            .wait_for(
                node,
                &["test", "-S", LAB_SERVER],
                "lvmeta-server listening",
                Duration::from_secs(30),
                |o| o.success(),
            )
            .unwrap_or_else(|e| {
                panic!("{e}; log: {}", self.ok(node, "cat /tmp/lvmeta-server.log"))
            });
    }

    fn run(&self, node: &str, script: &str) -> Output {
        self.lab
            .node(node)
            .sh(&format!("{}{script}", self.pre()))
            .unwrap_or_else(|e| panic!("{node}: {e}"))
    }

    fn ok(&self, node: &str, script: &str) -> String {
        let out = self.run(node, script);
        assert!(
            out.success(),
            "{node}: `{script}` exited {}\nstdout: {}\nstderr: {}",
            out.code,
            out.stdout_str(),
            out.stderr_str()
        );
        out.stdout_str()
    }

    /// `script` must fail; returns its stderr.
    fn fails(&self, node: &str, script: &str) -> String {
        let out = self.run(node, script);
        assert!(
            !out.success(),
            "{node}: `{script}` should fail\nstdout: {}",
            out.stdout_str()
        );
        out.stderr_str()
    }

    /// The command that runs lvm's `cmd` on `node`: lvmeta, or lvm2 on a stock node.
    fn tool(&self, node: &str) -> &'static str {
        if self.stock.iter().any(|s| s == node) {
            "lvm"
        } else {
            "M"
        }
    }

    /// Starts clvmd-rs on each of `nodes` (in the foreground, its log in /tmp/clvmd.log),
    /// then waits until each is quorate and sees all of them.
    fn daemons(&self, nodes: &[&str]) {
        for n in nodes {
            self.spawn_daemon(n);
        }
        for n in nodes {
            self.wait_daemon(n, nodes.len());
        }
    }

    /// Starts clvmd-rs on `node` while `members` daemons (this one included) will be up.
    fn daemon(&self, node: &str, members: usize) {
        self.spawn_daemon(node);
        self.wait_daemon(node, members);
    }

    fn spawn_daemon(&self, node: &str) {
        self.lab
            .node(node)
            .spawn(
                &[&self.bins.clvmd, "-f", "--node-name", node],
                "/tmp/clvmd.log",
            )
            .expect("spawn clvmd-rs");
    }

    fn wait_daemon(&self, node: &str, members: usize) {
        self.lab
            .wait_for(
                node,
                &[&self.bins.clvmd, "status", "--json"],
                "clvmd-rs quorate",
                Duration::from_secs(60),
                |o| {
                    let s = o.stdout_str();
                    s.contains("\"quorate\":true") && s.matches("\"id\":").count() >= members
                },
            )
            .unwrap_or_else(|e| panic!("{e}; log: {}", self.log(node)));
    }

    fn log(&self, node: &str) -> String {
        self.run(node, "cat /tmp/clvmd.log").stdout_str()
    }

    fn lv_names(&self, node: &str, vg: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .ok(
                node,
                &format!("{} lvs --noheadings -o lv_name {vg}", self.tool(node)),
            )
            .split_whitespace()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    fn seqno(&self, node: &str, vg: &str) -> u64 {
        self.ok(node, &format!("M vgs --noheadings -o vg_seqno {vg}"))
            .trim()
            .parse()
            .expect("seqno")
    }

    /// A fresh shared VG `vg` on shared disk `disk`, made on `nodes[0]` and lock-started on
    /// the others (each with its own stack).
    fn shared_vg(&self, vg: &str, disk: usize, nodes: &[&str]) {
        let (first, rest) = nodes.split_first().expect("a node");
        let x = self.tool(first);
        self.ok(
            first,
            &format!(
                "{x} pvcreate {d} && {x} vgcreate --shared {vg} {d}",
                d = self.disks[disk]
            ),
        );
        for n in rest {
            self.ok(n, &format!("{} vgchange --lockstart {vg}", self.tool(n)));
        }
    }

    /// Runs `script` (with `$i` from 1 to `count`) on each node at once, each in the
    /// background with its log in `log`; waits until all are done and none failed.
    fn at_once(&self, jobs: &[(&str, String)], count: u32, log: &str) {
        for (n, cmd) in jobs {
            let script = format!(
                "{}for i in $(seq {count}); do {cmd} || echo FAIL $i; done; echo DONE",
                self.pre()
            );
            self.lab
                .node(n)
                .spawn(&["sh", "-c", &script], log)
                .expect("spawn loop");
        }
        for (n, _) in jobs {
            let out = self
                .lab
                .wait_for(
                    n,
                    &["cat", log],
                    "loop finished",
                    Duration::from_secs(900),
                    |o| o.stdout_str().contains("DONE"),
                )
                .expect("loop finished");
            assert!(
                !out.stdout_str().contains("FAIL"),
                "{n}: {}",
                out.stdout_str()
            );
        }
    }
}

/// Items 1, 2 and 6 in one 3-node lab, each on a VG of its own.
#[test]
fn lab_clvmd_three_nodes() {
    let t = start(3, 3, 512);
    t.daemons(&["node1", "node2", "node3"]);
    // node3's commands in item 1 and node2's in item 2 go through lvmc and lvmeta-server.
    t.command_server("node2");
    t.command_server("node3");
    let t0 = Instant::now();
    concurrent_lvcreate_from_three_nodes(&t, "vgc", 0);
    eprintln!("item 1 took {:?}", t0.elapsed());
    let t0 = Instant::now();
    exclusive_activation_names_the_holder(&t, "vgx", 1);
    eprintln!("item 2 took {:?}", t0.elapsed());
    // lvmc, alone in its directory, has no lvmeta to fall back to: without a server it
    // fails, so every `S` command that worked above ran in a worker of lvmeta-server.
    let err = t.fails("node3", "LVMETA_SERVER=/run/nonexistent.sock S lvs vgc");
    assert!(err.contains("no lvmeta beside lvmc or on PATH"), "{err}");
    let t0 = Instant::now();
    bad_input(&t, "vgb", 2);
    eprintln!("item 6 took {:?}", t0.elapsed());
}

/// Item 1: three nodes, 20 lvcreates from each at once: 60 LVs, one view, vgck clean, the
/// seqno advanced once per commit (none lost, none reused). node3's go through lvmc and its
/// lvmeta-server, whose workers run them concurrently with the other nodes' lvmeta.
fn concurrent_lvcreate_from_three_nodes(t: &T, vg: &str, disk: usize) {
    let nodes = ["node1", "node2", "node3"];
    t.shared_vg(vg, disk, &nodes);
    let before = t.seqno("node1", vg);
    let started = Instant::now();
    let jobs: Vec<(&str, String)> = nodes
        .iter()
        .map(|n| {
            let tool = if *n == "node3" { "S" } else { "M" };
            (*n, format!("{tool} lvcreate -n lv_{n}_$i -L 4m {vg}"))
        })
        .collect();
    t.at_once(&jobs, 20, "/tmp/lvcreate.log");
    eprintln!(
        "60 concurrent lvcreates on 3 nodes took {:?}",
        started.elapsed()
    );
    let names = t.lv_names("node1", vg);
    assert_eq!(names.len(), 60, "{names:?}");
    for n in ["node2", "node3"] {
        assert_eq!(t.lv_names(n, vg), names, "{n} sees another VG");
    }
    t.ok("node2", &format!("M vgck {vg}"));
    assert_eq!(t.seqno("node3", vg), before + 60, "one seqno per commit");
    // Every daemon learns the last seqno: with its next VG lock (the LVB) or an announced
    // commit (these only added LVs, so none was announced).
    for n in nodes {
        assert_eq!(t.seqno(n, vg), before + 60, "{n} reads the last commit");
        let st = t.ok(n, "$C status");
        assert!(
            st.contains(&format!("lockspace lvm_{vg} running seqno {}", before + 60)),
            "{n}: {st}"
        );
    }
}

/// Item 2: -aey on node1 refuses node2's -aey and -asy at once, naming node1; -asy on two
/// nodes works; after -an on node1, node2 gets -aey.
fn exclusive_activation_names_the_holder(t: &T, vg: &str, disk: usize) {
    t.shared_vg(vg, disk, &["node1", "node2"]);
    t.ok("node1", &format!("M lvcreate -n lv1 -L 8m {vg}"));
    t.ok(
        "node1",
        &format!("M lvchange -aey {vg}/lv1 && test -e /dev/mapper/{vg}-lv1"),
    );
    // Uncontended, node1's LV lock went untold; status and lv_active_nodes ask every daemon
    // first (a CPG barrier), so another node shows it anyway.
    let st = t.ok("node2", "$C status");
    assert!(st.contains("held by node1"), "{st}");
    let active = t.ok(
        "node2",
        &format!("M lvs --noheadings -o lv_active_nodes {vg}/lv1"),
    );
    assert_eq!(active.trim(), "node1:ex", "{active}");
    for a in ["-aey", "-asy"] {
        let t0 = Instant::now();
        let err = t.fails("node2", &format!("M lvchange {a} {vg}/lv1"));
        assert!(t0.elapsed() < Duration::from_secs(10), "refused at once");
        assert!(
            err.contains(&format!("LV {vg}/lv1 is locked by node node1")),
            "{a}: {err}"
        );
        t.fails("node2", &format!("test -e /dev/mapper/{vg}-lv1"));
    }
    // The same through lvmc: the worker's refusal reaches lvmc's stderr and exit code.
    let out = t.run("node2", &format!("S lvchange -aey {vg}/lv1"));
    assert_eq!(out.code, 5, "{}", out.stderr_str());
    assert!(
        out.stderr_str()
            .contains(&format!("LV {vg}/lv1 is locked by node node1")),
        "{}",
        out.stderr_str()
    );
    let st = t.ok("node2", "$C status");
    assert!(st.contains("held by node1"), "{st}");
    t.ok("node1", &format!("M lvchange -an {vg}/lv1"));
    // Activated by a worker of lvmeta-server: the LV lock outlives the worker (clvmd-rs
    // holds it), so node1 is refused until node2's -an.
    t.ok(
        "node2",
        &format!("S lvchange -aey {vg}/lv1 && test -e /dev/mapper/{vg}-lv1"),
    );
    let err = t.fails("node1", &format!("M lvchange -aey {vg}/lv1"));
    assert!(err.contains("node2"), "{err}");
    t.ok("node2", &format!("S lvchange -an {vg}/lv1"));
    t.ok("node1", &format!("M lvchange -asy {vg}/lv1"));
    t.ok("node2", &format!("M lvchange -asy {vg}/lv1"));
    let err = t.fails("node1", &format!("M lvchange -aey {vg}/lv1"));
    assert!(err.contains("node2"), "{err}");
    t.ok("node1", &format!("M lvchange -an {vg}/lv1"));
    t.ok("node2", &format!("M lvchange -an {vg}/lv1"));
}

/// Item 6: a non-root client is refused; a VG of another cluster is refused with both names;
/// a lockstart without dlm_controld is a clear error; bad frames do not crash the daemon.
/// Last in its lab: it stops dlm_controld on node2.
fn bad_input(t: &T, vg: &str, disk: usize) {
    t.shared_vg(vg, disk, &["node1", "node2"]);
    // Non-root: even with the socket opened up, peer credentials refuse.
    t.ok(
        "node1",
        "chmod 666 /run/clvmd-rs/clvmd-rs.sock; chmod 755 /run/clvmd-rs",
    );
    let err = t.fails(
        "node1",
        "setpriv --reuid 65534 --regid 65534 --clear-groups $C status",
    );
    assert!(err.contains("root only"), "{err}");
    // Garbage on the socket, then the daemon still answers.
    t.run(
        "node1",
        "perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => \"/run/clvmd-rs/clvmd-rs.sock\") or die; print $s \"\\xff\\xff\\xff\\xffgarbage\"; sleep 1'",
    );
    t.ok("node1", "$C status");
    // Another cluster's VG. As lvm2's vgcfgrestore, ours takes the global lock and the local
    // VG lock only, so the VG is restored with its lockspace stopped.
    t.ok("node1", &format!("M vgcfgbackup -f /tmp/vg.txt {vg}"));
    t.ok(
        "node1",
        &format!(
            "sed -i 's/lock_args = \"1.0.0:halvmlab\"/lock_args = \"1.0.0:othercluster\"/' /tmp/vg.txt \
             && grep -q othercluster /tmp/vg.txt \
             && M vgchange --lockstop {vg} && M vgcfgrestore -f /tmp/vg.txt {vg}"
        ),
    );
    for n in ["node1", "node2"] {
        let err = t.fails(
            n,
            &format!("M vgchange --lockstop {vg}; M vgchange --lockstart {vg}"),
        );
        assert!(
            err.contains("othercluster") && err.contains("halvmlab"),
            "{n}: {err}"
        );
    }
    // Without dlm_controld. A node whose dlm_controld dies while it is in lockspaces is
    // fenced by the others, so node2 first leaves every lockspace: its VGs are lock-stopped
    // and a clean stop of clvmd-rs leaves lvm_global.
    t.ok(
        "node2",
        "M vgchange -an vgc; M vgchange -an vgx; M vgchange --lockstop vgc; M vgchange --lockstop vgx;          kill $(cat /run/clvmd-rs/clvmd-rs.pid);          for i in $(seq 50); do test -e /run/clvmd-rs/clvmd-rs.pid || break; sleep 0.2; done",
    );
    let ls = t.ok("node2", "dlm_tool ls");
    assert!(!ls.contains("lvm_"), "clean stop left a lockspace: {ls}");
    t.ok("node2", "kill $(pidof dlm_controld); sleep 2");
    t.daemon("node2", 3);
    let err = t.fails("node2", &format!("M vgchange --lockstart {vg}"));
    assert!(err.contains("dlm_controld"), "{err}\n{}", t.log("node2"));
}

/// Items 4 and 5 in one 2-node lab, each on a VG of its own: orphans of a SIGKILLed daemon,
/// then the holder's node killed and fenced, then that node rebooted and rejoining.
#[test]
fn lab_clvmd_failures() {
    let t = start(2, 3, 256);
    t.daemons(&["node1", "node2"]);
    let t0 = Instant::now();
    killed_daemon_orphans_are_adopted(&t, "vgo", 0);
    eprintln!("item 5 (orphans) took {:?}", t0.elapsed());
    let t0 = Instant::now();
    // The reboot scenario's VG, made while node1 is up.
    t.shared_vg("vgr", 2, &["node1", "node2"]);
    t.ok("node1", "M lvcreate -n lv1 -L 8m vgr");
    survivor_activates_after_holder_is_fenced(&t, "vgf", 1);
    eprintln!("item 4 took {:?}", t0.elapsed());
    let t0 = Instant::now();
    rebooted_node_rejoins(&t, "vgr");
    eprintln!("item 5 (reboot) took {:?}", t0.elapsed());
}

/// Item 5: clvmd-rs SIGKILLed while holding activation locks: the LV stays active and
/// exclusive; a restarted daemon joins the lockspace its DLM still has by itself, so the
/// LVM-activate agent's stop (no lockstart in between, as after a crash-restart under
/// Pacemaker) adopts the orphan and releases it.
fn killed_daemon_orphans_are_adopted(t: &T, vg: &str, disk: usize) {
    t.shared_vg(vg, disk, &["node1", "node2"]);
    t.ok(
        "node1",
        &format!("M lvcreate -n lv1 -L 8m {vg} && M lvchange -aey {vg}/lv1"),
    );
    t.ok("node1", "kill -9 $(cat /run/clvmd-rs/clvmd-rs.pid)");
    t.ok("node1", &format!("sleep 1; test -e /dev/mapper/{vg}-lv1"));
    // Nobody claims it now, but the DLM still refuses node2.
    let err = t.fails("node2", &format!("M lvchange -aey {vg}/lv1"));
    assert!(err.contains("another host (not running clvmd-rs)"), "{err}");
    t.ok("node1", "rm -f /run/clvmd-rs/clvmd-rs.sock");
    t.daemon("node1", 2);
    t.ok(
        "node1",
        &format!(
            "OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=vg OCF_RESKEY_vgname={vg} \
             OCF_RESKEY_lvname=lv1 OCF_RESKEY_vg_access_mode=lvmlockd \
             OCF_RESKEY_activation_mode=exclusive {} stop",
            t.agent
        ),
    );
    let log = t.log("node1");
    assert!(
        log.contains("is still joined here") && log.contains("adopting orphan locks"),
        "{log}"
    );
    assert!(log.contains("adopted orphan EX lock"), "{log}");
    t.ok("node1", &format!("! test -e /dev/mapper/{vg}-lv1"));
    t.ok("node2", &format!("M lvchange -aey {vg}/lv1"));
    t.ok("node2", &format!("M lvchange -an {vg}/lv1"));
}

/// Item 4: the node holding an LV's EX lock (node1) is killed; after fencing, node2
/// activates. node1 stays down.
fn survivor_activates_after_holder_is_fenced(t: &T, vg: &str, disk: usize) {
    t.shared_vg(vg, disk, &["node1", "node2"]);
    t.ok(
        "node1",
        &format!("M lvcreate -n lv1 -L 8m {vg} && M lvchange -aey {vg}/lv1"),
    );
    t.fails("node2", &format!("M lvchange -aey {vg}/lv1"));
    let killed = Instant::now();
    t.lab.kill("node1").expect("kill node1");
    t.lab
        .wait_for(
            "node2",
            &["sh", "-c", &format!("{}M lvchange -aey {vg}/lv1", t.pre())],
            "-aey after fencing",
            Duration::from_secs(180),
            |o| o.success(),
        )
        .expect("survivor activates");
    eprintln!("holder killed -> survivor active: {:?}", killed.elapsed());
    assert!(
        t.lab
            .power_events()
            .iter()
            .any(|e| e.action == "off" && e.node == "node1"),
        "node1 was fenced"
    );
}

/// Item 5, second half: the killed node1 reboots, starts the daemon and lock-starts its VGs
/// again, then changes `vg` (made before it died) and node2 sees the change.
fn rebooted_node_rejoins(t: &T, vg: &str) {
    t.lab.wait_fenced("node1").expect("node1 fenced");
    t.lab.restart("node1").expect("restart node1");
    t.lab
        .wait_dlm_ready(&["node1"], Duration::from_secs(180))
        .expect("dlm ready");
    t.configure("node1");
    t.daemon("node1", 2);
    t.ok("node1", &format!("M vgchange --lockstart {vg}"));
    t.ok("node1", &format!("M lvcreate -n lv2 -L 8m {vg}"));
    assert_eq!(t.lv_names("node2", vg), ["lv1", "lv2"]);
    // The locks node2 took while node1 was down hold against the rebooted node.
    t.ok("node1", "M vgchange --lockstart vgf");
    let err = t.fails("node1", "M lvchange -aey vgf/lv1");
    assert!(err.contains("node2"), "{err}");
}

/// Item 3: node3 runs stock lvm2 with lvmlockd; each stack reads and changes a VG the other
/// created, exclusive activation excludes both ways, concurrent lvcreate through both stacks
/// loses nothing.
#[test]
fn lab_clvmd_mixed_cluster_with_stock_lvmlockd() {
    let mut t = start(3, 2, 512);
    t.daemons(&["node1", "node2"]);
    t.lvmlockd("node3");
    // vgm made by lvmeta, vgs by lvm2; each started everywhere.
    t.shared_vg("vgm", 0, &["node1", "node2", "node3"]);
    t.shared_vg("vgs", 1, &["node3", "node1", "node2"]);
    // Each stack reads and changes the VG the other created.
    t.ok("node3", "lvm lvcreate -an -Zn -n from_lvm2 -L 8m vgm");
    t.ok("node1", "M lvcreate -n from_lvmeta -L 8m vgs");
    assert_eq!(t.lv_names("node3", "vgs"), ["from_lvmeta"]);
    assert_eq!(t.lv_names("node2", "vgm"), ["from_lvm2"]);
    t.ok("node1", "M lvcreate -n from_lvmeta -L 8m vgm");
    t.ok("node3", "lvm lvcreate -an -Zn -n from_lvm2 -L 8m vgs");
    assert_eq!(t.lv_names("node3", "vgm"), ["from_lvm2", "from_lvmeta"]);
    assert_eq!(t.lv_names("node1", "vgs"), ["from_lvm2", "from_lvmeta"]);
    t.ok("node3", "lvm vgck vgm");
    t.ok("node1", "M vgck vgs");
    // Exclusive through lvmeta refuses lvm2, and the other way round.
    t.ok("node1", "M lvchange -aey vgm/from_lvmeta");
    let err = t.fails("node3", "lvm lvchange -aey vgm/from_lvmeta");
    assert!(
        err.contains("locked by other host") || err.contains("Failed to lock"),
        "{err}"
    );
    t.fails("node3", "lvm lvchange -asy vgm/from_lvmeta");
    t.ok("node3", "lvm lvchange -aey vgs/from_lvm2");
    let err = t.fails("node1", "M lvchange -asy vgs/from_lvm2");
    assert!(err.contains("another host (not running clvmd-rs)"), "{err}");
    let err = t.fails("node2", "M lvchange -aey vgs/from_lvm2");
    assert!(err.contains("another host (not running clvmd-rs)"), "{err}");
    t.ok("node3", "lvm lvchange -an vgs/from_lvm2");
    t.ok("node1", "M lvchange -an vgm/from_lvmeta");
    t.ok("node3", "lvm lvchange -aey vgm/from_lvmeta");
    t.ok("node3", "lvm lvchange -an vgm/from_lvmeta");
    stock_node_against_vxvm_modes(&t);
    // Concurrent lvcreate through both stacks into both VGs. lvm2 gives up on a VG lock
    // held elsewhere after a few retries, as a user's script would each command is tried
    // again; none may be lost.
    let retry = |cmd: String| {
        format!("{{ n=0; until {cmd}; do n=$((n+1)); [ $n -ge 30 ] && exit 1; sleep 0.3; done; }}")
    };
    for vg in ["vgm", "vgs"] {
        let before = t.lv_names("node2", vg).len();
        t.at_once(
            &[
                ("node1", retry(format!("M lvcreate -n a_$i -L 4m {vg}"))),
                (
                    "node3",
                    retry(format!("lvm lvcreate -an -Zn -n b_$i -L 4m {vg}")),
                ),
            ],
            10,
            &format!("/tmp/mixed-{vg}.log"),
        );
        let names = t.lv_names("node2", vg);
        assert_eq!(names.len(), before + 20, "{vg}: {names:?}");
        assert_eq!(t.lv_names("node3", vg), names);
        t.ok("node1", &format!("M vgck {vg}"));
        t.ok("node3", &format!("lvm vgck {vg}"));
    }
}

/// Issue 14 item 1's last clause, as CONTRACTS.md documents it: a halvm node's VxVM mode
/// takes LV locks (ew PW, ro and sw PR, sr CR) that a stock lvmlockd node's LV locks (-aey EX,
/// -asy PR) meet in the DLM. Its -aey is refused beside every mode, its -asy beside ew only;
/// the other way round, its -aey refuses every mode and its -asy refuses ew. lvmlockd never
/// takes the VG's mode lock, so beside a halvm `ro` its -asy node can write: the documented
/// limit, asserted so that a change is noticed.
fn stock_node_against_vxvm_modes(t: &T) {
    let lv = "vgm/from_lvmeta";
    let write = "dd if=/dev/zero of=/dev/mapper/vgm-from_lvmeta bs=4k count=1 oflag=direct";
    let t0 = Instant::now();
    for mode in ["ew", "ro", "sr", "sw"] {
        t.ok("node1", &format!("M vgchange -a {mode} vgm"));
        let err = t.fails("node3", &format!("lvm lvchange -aey {lv}"));
        assert!(
            err.contains("locked by other host") || err.contains("Failed to lock"),
            "stock -aey beside {mode}: {err}"
        );
        if mode == "ew" {
            t.fails("node3", &format!("lvm lvchange -asy {lv}"));
        } else {
            t.ok("node3", &format!("lvm lvchange -asy {lv}"));
            if mode == "ro" {
                // The documented limit: the stock node's shared activation is read-write.
                t.ok("node3", write);
                t.fails("node1", write);
            }
            t.ok("node3", &format!("lvm lvchange -an {lv}"));
        }
        t.ok("node1", "M vgchange -an vgm");
    }
    // The stock node first: its -aey refuses every mode; its -asy refuses ew only. (Lab time:
    // the weakest and the strongest mode; ro and sw take the same LV lock, PR.)
    t.ok("node3", &format!("lvm lvchange -aey {lv}"));
    for mode in ["ew", "sr"] {
        let err = t.fails("node1", &format!("M vgchange -a {mode} vgm"));
        assert!(
            err.contains("another host (not running clvmd-rs)"),
            "{mode} beside stock -aey: {err}"
        );
        t.ok("node1", "M vgchange -an vgm");
    }
    t.ok(
        "node3",
        &format!("lvm lvchange -an {lv} && lvm lvchange -asy {lv}"),
    );
    let err = t.fails("node1", "M vgchange -a ew vgm");
    assert!(
        err.contains("another host (not running clvmd-rs)"),
        "ew beside stock -asy: {err}"
    );
    t.ok("node1", "M vgchange -an vgm");
    for mode in ["sr", "sw"] {
        t.ok(
            "node1",
            &format!("M vgchange -a {mode} vgm && M vgchange -an vgm"),
        );
    }
    t.ok("node3", &format!("lvm lvchange -an {lv}"));
    eprintln!(
        "stock lvmlockd node against the VxVM modes: {:?}",
        t0.elapsed()
    );
}

/// Issue 15 item 2, both detach policies in one lab. node1 reaches the second PV of a shared
/// VG through a device-mapper layer (`flaky`) that the test turns into an error target, so
/// one mirror leg fails on node1 only; the handle_errors mirror holds node1's write.
///
/// `policy.detach = "local"`: clvmd-rs sees the dead leg in the status it polls, stops I/O
/// to the LV on node1 (the held write fails with EIO instead of hanging) and reports it;
/// node2, where both legs still work, takes the LV over with both legs in sync and the data
/// written before the failure.
///
/// `policy.detach = "global"` (daemons restarted): the LV active on both nodes, the same
/// failure on node1 makes node1's daemon detach the leg in the metadata (lvm2's repair:
/// image removed, the PV node1 cannot see flagged MISSING); both nodes reload the LV
/// without it, the held write completes, the data is intact on the remaining leg, and lvs
/// (lvmeta's and stock lvm2's) show the LV linear on every node.
#[test]
fn lab_faults_leg_failure_local_then_global_policy() {
    let t = start_with(2, 2, 256, false);
    let d1 = t.disks[0].clone();
    let by_id = t.lab.shared_disk(1);
    let d2 = t
        .ok("node1", &format!("readlink -f {by_id}"))
        .trim()
        .to_string();
    let toml = format!("{HALVM_TOML}[policy]\ndetach = \"local\"\n");
    for n in ["node1", "node2"] {
        t.lab
            .node(n)
            .write_file("/tmp/halvm.toml", toml.as_bytes(), 0o644)
            .expect("halvm.toml");
    }
    t.lab
        .node("node1")
        .write_file(
            "/tmp/lvmsys/lvm.conf",
            LVM_CONF
                .replace(
                    r#""a|^/dev/vd|","#,
                    r#""a|^/dev/vd|", "a|^/dev/mapper/flaky$|","#,
                )
                .as_bytes(),
            0o644,
        )
        .expect("lvm.conf");
    for n in ["node1", "node2"] {
        t.lab
            .node(n)
            .spawn(
                &[
                    &t.bins.clvmd,
                    "-f",
                    "--node-name",
                    n,
                    "-c",
                    "/tmp/halvm.toml",
                ],
                "/tmp/clvmd.log",
            )
            .expect("spawn clvmd-rs");
    }
    for n in ["node1", "node2"] {
        t.wait_daemon(n, 2);
    }
    t.ok(
        "node1",
        &format!("dmsetup create flaky --table \"0 $(blockdev --getsz {d2}) linear {d2} 0\""),
    );
    let mf = |n: &str| {
        let second = if n == "node1" {
            "/dev/mapper/flaky"
        } else {
            d2.as_str()
        };
        format!(
            "MF() {{ c=$1; shift; {} \"$c\" --devices {d1} --devices {second} \"$@\"; }}; ",
            t.bins.lvmeta
        )
    };
    t.ok(
        "node1",
        &format!("{}MF pvcreate {d1} /dev/mapper/flaky && MF vgcreate --shared vg {d1} /dev/mapper/flaky", mf("node1")),
    );
    t.ok(
        "node2",
        &format!("{}MF vgchange --lockstart vg", mf("node2")),
    );
    t.ok(
        "node1",
        &format!(
            "{}MF lvcreate --type mirror -m1 --mirrorlog core -n m -L 8m vg && MF lvchange -aey vg/m",
            mf("node1")
        ),
    );
    let in_sync = |o: &Output| {
        let s = o.stdout_str();
        let f: Vec<&str> = s.split_whitespace().collect();
        f.get(2) == Some(&"mirror")
            && f.get(6)
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(a, b)| a == b)
    };
    t.lab
        .wait_for(
            "node1",
            &["dmsetup", "status", "vg-m"],
            "mirror in sync",
            Duration::from_secs(120),
            in_sync,
        )
        .expect("mirror sync");
    let table = t.ok("node1", "dmsetup table vg-m");
    assert!(table.contains("handle_errors"), "{table}");
    t.ok(
        "node1",
        "head -c 1048576 /dev/urandom > /tmp/data && dd if=/tmp/data of=/dev/mapper/vg-m bs=64k oflag=direct conv=fsync status=none",
    );
    let sum = t.ok("node1", "sha256sum < /tmp/data");
    // Leg B fails on node1 only.
    t.ok(
        "node1",
        "set -e; n=$(blockdev --getsz /dev/mapper/flaky); dmsetup suspend flaky; \
         dmsetup load flaky --table \"0 $n error\"; dmsetup resume flaky",
    );
    let t0 = Instant::now();
    t.ok(
        "node1",
        "setsid sh -c 'dd if=/tmp/data of=/dev/mapper/vg-m bs=64k seek=16 oflag=direct conv=fsync status=none; echo $? > /tmp/rc' </dev/null >/dev/null 2>&1 &",
    );
    let rc = t
        .lab
        .wait_for(
            "node1",
            &["sh", "-c", "cat /tmp/rc 2>/dev/null"],
            "the held write to fail",
            Duration::from_secs(60),
            |o| !o.stdout_str().trim().is_empty(),
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node1")));
    let to_failed = t0.elapsed();
    assert_ne!(
        rc.stdout_str().trim(),
        "0",
        "the write to the failed mirror succeeded"
    );
    let st = t.ok("node1", "$C status --json");
    assert!(
        st.contains("\"action\":\"stopped\"") && st.contains("\"dead_legs\":[1]"),
        "{st}"
    );
    let human = t.ok("node1", "$C status");
    assert!(human.contains("LV vg/m failed"), "{human}");
    let st2 = t.ok("node2", "$C status --json");
    assert!(st2.contains("\"failed_lvs\":[]"), "{st2}");
    // Node1 lets go; node2 takes over with both legs.
    t.ok("node1", &format!("{}MF lvchange -an vg/m", mf("node1")));
    let st = t.ok("node1", "$C status --json");
    assert!(st.contains("\"failed_lvs\":[]"), "{st}");
    t.ok("node1", "dmsetup remove flaky");
    let left = t.ok("node1", "dmsetup ls");
    assert!(!left.contains("vg-"), "{left}");
    t.ok("node2", &format!("{}MF lvchange -aey vg/m", mf("node2")));
    let st = t.ok("node2", "dmsetup status vg-m");
    assert!(st.contains(" AA "), "{st}");
    let sum2 = t.ok(
        "node2",
        "dd if=/dev/mapper/vg-m bs=64k count=16 iflag=direct status=none | sha256sum",
    );
    assert_eq!(sum, sum2, "data written before the failure");
    t.ok("node2", &format!("{}MF lvchange -an vg/m", mf("node2")));
    println!(
        "local: leg failure -> held write failed with EIO on node1: {} ms (poll interval {} ms)",
        to_failed.as_millis(),
        clvmd_core::detach::WATCH_MS
    );
    println!("node1 log (local):\n{}", t.log("node1"));
    global_detach(&t, &d1, &d2, &sum, &mf);
    repair_leg(&t, &d1, &d2, &sum, &mf);
}

/// The second half of the leg-failure lab: `policy.detach = "global"`.
fn global_detach(t: &T, d1: &str, d2: &str, sum: &str, mf: &dyn Fn(&str) -> String) {
    let phase = Instant::now();
    let toml = format!("{HALVM_TOML}[policy]\ndetach = \"global\"\n");
    for n in ["node1", "node2"] {
        t.lab
            .node(n)
            .write_file("/tmp/halvm.toml", toml.as_bytes(), 0o644)
            .expect("halvm.toml");
        t.ok(
            n,
            "kill $(cat /run/clvmd-rs/clvmd-rs.pid); \
             for i in $(seq 50); do test -e /run/clvmd-rs/clvmd-rs.pid || break; sleep 0.2; done; \
             test ! -e /run/clvmd-rs/clvmd-rs.pid",
        );
    }
    // node1 sees its first disk and the second through flaky only (its own path to that
    // disk): the daemon commits the detach from what node1 sees, as lvm2 would there.
    t.lab
        .node("node1")
        .write_file(
            "/tmp/lvmsys/lvm.conf",
            LVM_CONF
                .replace(
                    r#""a|^/dev/vd|","#,
                    &format!(r#""a|^{d1}$|", "a|^/dev/mapper/flaky$|","#),
                )
                .as_bytes(),
            0o644,
        )
        .expect("lvm.conf");
    t.ok(
        "node1",
        &format!("dmsetup create flaky --table \"0 $(blockdev --getsz {d2}) linear {d2} 0\""),
    );
    // The daemon plans tables and commits from the disks: the commands' environment.
    for n in ["node1", "node2"] {
        let script = format!(
            "export DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR=/tmp/lvmsys HALVM_CONFIG=/tmp/halvm.toml; \
             exec {} -f --node-name {n} -c /tmp/halvm.toml",
            t.bins.clvmd
        );
        t.lab
            .node(n)
            .spawn(&["sh", "-c", &script], "/tmp/clvmd.log")
            .expect("spawn clvmd-rs");
    }
    for n in ["node1", "node2"] {
        t.wait_daemon(n, 2);
    }
    for n in ["node1", "node2"] {
        t.ok(
            n,
            &format!(
                "{}MF vgchange --lockstart vg && MF lvchange -asy vg/m",
                mf(n)
            ),
        );
    }
    for n in ["node1", "node2"] {
        t.lab
            .wait_for(
                n,
                &["dmsetup", "status", "vg-m"],
                "mirror in sync",
                Duration::from_secs(120),
                |o| {
                    let s = o.stdout_str();
                    let f: Vec<&str> = s.split_whitespace().collect();
                    f.get(2) == Some(&"mirror")
                        && f.get(6)
                            .and_then(|r| r.split_once('/'))
                            .is_some_and(|(a, b)| a == b)
                        && s.contains(" AA ")
                },
            )
            .expect("mirror sync");
    }
    t.ok(
        "node1",
        "set -e; n=$(blockdev --getsz /dev/mapper/flaky); dmsetup suspend flaky; \
         dmsetup load flaky --table \"0 $n error\"; dmsetup resume flaky",
    );
    // The write hits the dead leg at once; the guest clock times it to its completion.
    t.ok(
        "node1",
        "rm -f /tmp/rc; setsid sh -c 's=$(date +%s%N); dd if=/tmp/data of=/dev/mapper/vg-m bs=64k seek=32 oflag=direct conv=fsync status=none; echo $? $(( ($(date +%s%N) - s) / 1000000 )) > /tmp/rc' </dev/null >/dev/null 2>&1 &",
    );
    let rc = t
        .lab
        .wait_for(
            "node1",
            &["sh", "-c", "cat /tmp/rc 2>/dev/null"],
            "the held write to complete",
            Duration::from_secs(60),
            |o| !o.stdout_str().trim().is_empty(),
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node1")));
    let rc = rc.stdout_str();
    let (code, ms) = rc.trim().split_once(' ').expect("rc and ms");
    assert_eq!(
        code,
        "0",
        "the held write failed after {ms} ms; node1 log: {}",
        t.log("node1")
    );
    let st = t.ok("node1", "$C status --json");
    assert!(
        st.contains("\"action\":\"detached\"") && st.contains("\"dead_legs\":[1]"),
        "{st}"
    );
    // Every node reloaded the LV without the leg, with nothing left of the images.
    for n in ["node1", "node2"] {
        t.lab
            .wait_for(
                n,
                &["dmsetup", "table", "vg-m"],
                "vg-m reloaded linear",
                Duration::from_secs(30),
                |o| o.stdout_str().contains(" linear "),
            )
            .unwrap_or_else(|e| panic!("{e}; {n} log: {}", t.log(n)));
        let ls = t.ok(n, "dmsetup ls");
        assert!(!ls.contains("mimage"), "{n}: {ls}");
        let lvs = t.ok(
            n,
            &format!("{}MF lvs -a --noheadings -o lv_name,segtype vg", mf(n)),
        );
        assert_eq!(
            lvs.split_whitespace().collect::<Vec<_>>(),
            ["m", "linear"],
            "{n}"
        );
        let st = t.ok(n, "$C status --json");
        assert!(!st.contains("\"action\":\"stopped\""), "{n}: {st}");
    }
    // Stock lvm2 reads the VG the same (--shared: it reports shared VGs without lvmlockd).
    let lvm = t.ok(
        "node2",
        &format!(
            "lvm lvs --shared -a --noheadings -o lv_name,segtype --devices {d1} --devices {d2} vg"
        ),
    );
    assert_eq!(
        lvm.split_whitespace().collect::<Vec<_>>(),
        ["m", "linear"],
        "{lvm}"
    );
    let pvs = t.run(
        "node2",
        &format!("lvm pvs --shared -o pv_name,pv_attr,pv_missing --devices {d1} --devices {d2}"),
    );
    // Data written before the failure and the write held through it, on node2.
    let sum2 = t.ok(
        "node2",
        "dd if=/dev/mapper/vg-m bs=64k count=16 iflag=direct status=none | sha256sum; \
         dd if=/dev/mapper/vg-m bs=64k skip=32 count=16 iflag=direct status=none | sha256sum",
    );
    assert_eq!(sum2, format!("{sum}{sum}"), "data on the remaining leg");
    for n in ["node1", "node2"] {
        t.ok(n, &format!("{}MF lvchange -an vg/m", mf(n)));
    }
    t.ok("node1", "dmsetup remove flaky");
    for n in ["node1", "node2"] {
        let left = t.ok(n, "dmsetup ls");
        assert!(!left.contains("vg-"), "{n}: {left}");
    }
    println!(
        "global: leg failure -> held write completed on node1's remaining leg: {ms} ms (poll interval {} ms); phase took {:?}",
        clvmd_core::detach::WATCH_MS,
        phase.elapsed()
    );
    println!(
        "stock lvm2 pvs after the detach:\n{}{}",
        pvs.stdout_str(),
        pvs.stderr_str()
    );
    println!("node1 log (global):\n{}", t.log("node1"));
    println!("node2 log (global):\n{}", t.log("node2"));
}

/// The last part of the leg-failure lab (issue 15: "Repair brings the leg back in sync"):
/// after the global detach the LV is linear and node1's copy of the metadata has the second
/// PV MISSING. Node1 sees the disk again, `vgextend --restoremissing` takes it back, and
/// `lvconvert --type mirror -m1` on node1, with the LV active on both nodes, adds the leg
/// back: one metadata change under the VG lock, node1 reloads itself, node2 reloads through
/// propagation, and each kernel copies the data to the new leg. Done when `lvs -o
/// copy_percent` says 100.00 on both nodes and the two legs hold the same bytes.
fn repair_leg(t: &T, d1: &str, d2: &str, sum: &str, mf: &dyn Fn(&str) -> String) {
    let phase = Instant::now();
    t.ok(
        "node1",
        &format!("dmsetup create flaky --table \"0 $(blockdev --getsz {d2}) linear {d2} 0\""),
    );
    let flagged = |n: &str| {
        t.ok(
            n,
            &format!(
                "{}MF vgcfgbackup -f /tmp/vg.txt vg >/dev/null && grep -c '\"MISSING\"' /tmp/vg.txt || true",
                mf(n)
            ),
        )
    };
    assert_eq!(flagged("node1").trim(), "1", "the detached PV is MISSING");
    t.ok(
        "node1",
        &format!(
            "{}MF vgextend --restoremissing vg /dev/mapper/flaky",
            mf("node1")
        ),
    );
    assert_eq!(flagged("node2").trim(), "0", "restored, as node2 reads it");
    for n in ["node1", "node2"] {
        t.ok(n, &format!("{}MF lvchange -asy vg/m", mf(n)));
        // A linear LV has no copy to report: the field is empty, as in lvm2.
        let pct = t.ok(
            n,
            &format!("{}MF lvs --noheadings -o copy_percent vg/m", mf(n)),
        );
        assert_eq!(pct.trim(), "", "{n}");
    }
    let t0 = Instant::now();
    let conv = t.ok(
        "node1",
        &format!(
            "{}MF lvconvert --type mirror -m1 --mirrorlog core vg/m",
            mf("node1")
        ),
    );
    let converted = t0.elapsed();
    assert!(
        conv.contains("Logical volume vg/m being converted."),
        "{conv}"
    );
    // Each node polls lvs on its own clock until the copy is complete; the first values
    // seen show the progress.
    let mut synced = Vec::new();
    for n in ["node1", "node2"] {
        let out = t.ok(
            n,
            &format!(
                "{}seen=''; for i in $(seq 600); do \
                   p=$(MF lvs --noheadings -o sync_percent vg/m | tr -d ' '); \
                   case \" $seen \" in *\" $p \"*) ;; *) seen=\"$seen $p\";; esac; \
                   [ \"$p\" = 100.00 ] && break; sleep 0.1; done; echo $seen",
                mf(n)
            ),
        );
        let seen = out.trim().to_string();
        assert!(seen.ends_with("100.00"), "{n}: copy_percent seen: {seen}");
        synced.push((n, t0.elapsed(), seen));
        let table = t.ok(n, "dmsetup table vg-m");
        assert!(
            table.contains(" mirror ") && !table.contains("nosync"),
            "{n}: {table}"
        );
        let st = t.ok(n, "dmsetup status vg-m");
        assert!(st.contains(" AA "), "{n}: {st}");
        let lvs = t.ok(
            n,
            &format!(
                "{}MF lvs -a --noheadings -o lv_name,segtype,copy_percent vg",
                mf(n)
            ),
        );
        assert_eq!(
            lvs.split_whitespace().collect::<Vec<_>>(),
            [
                "m",
                "mirror",
                "100.00",
                "[m_mimage_0]",
                "linear",
                "[m_mimage_1]",
                "linear"
            ],
            "{n}"
        );
    }
    // The two legs hold the same bytes, and the data written before the failure and through
    // the detach (read through node2, which has the second disk directly).
    let legs = t.ok(
        "node2",
        "for l in 0 1; do dd if=/dev/mapper/vg-m_mimage_$l bs=1M iflag=direct status=none | sha256sum; done",
    );
    let legs: Vec<&str> = legs.lines().collect();
    assert_eq!(legs.len(), 2, "{legs:?}");
    assert_eq!(legs[0], legs[1], "the legs differ after the resync");
    for l in 0..2 {
        let data = t.ok(
            "node2",
            &format!(
                "dd if=/dev/mapper/vg-m_mimage_{l} bs=64k count=16 iflag=direct status=none | sha256sum; \
                 dd if=/dev/mapper/vg-m_mimage_{l} bs=64k skip=32 count=16 iflag=direct status=none | sha256sum"
            ),
        );
        assert_eq!(data, format!("{sum}{sum}"), "leg {l}");
    }
    // Stock lvm2 reads the mirror back.
    let lvm = t.ok(
        "node2",
        &format!(
            "lvm lvs --shared -a --noheadings -o lv_name,segtype --devices {d1} --devices {d2} vg"
        ),
    );
    assert_eq!(
        lvm.split_whitespace().collect::<Vec<_>>(),
        [
            "m",
            "mirror",
            "[m_mimage_0]",
            "linear",
            "[m_mimage_1]",
            "linear"
        ],
        "{lvm}"
    );
    // raid1 the same way, on node1 alone (lvm2 converts raid1 only when active): the new
    // image is loaded with `rebuild`, then committed without REBUILD and loaded once more, as
    // lvm2 does, so the live table ends without `rebuild` (the copy is proven below).
    let r0 = Instant::now();
    let conv = t.ok(
        "node1",
        &format!(
            "{}MF lvcreate -n r -L 4m vg {d1} >/dev/null && MF lvchange -aey vg/r && \
             dd if=/tmp/data of=/dev/mapper/vg-r bs=64k oflag=direct conv=fsync status=none && \
             MF lvconvert --type raid1 -m1 vg/r && dmsetup table vg-r",
            mf("node1")
        ),
    );
    assert!(
        conv.contains("Logical volume vg/r successfully converted.")
            && conv.contains(" raid1 ")
            && !conv.contains(" rebuild "),
        "{conv}"
    );
    let seen_r = t.ok(
        "node1",
        &format!(
            "{}seen=''; for i in $(seq 600); do \
               p=$(MF lvs --noheadings -o copy_percent vg/r | tr -d ' '); \
               case \" $seen \" in *\" $p \"*) ;; *) seen=\"$seen $p\";; esac; \
               [ \"$p\" = 100.00 ] && break; sleep 0.1; done; echo $seen",
            mf("node1")
        ),
    );
    assert!(
        seen_r.trim().ends_with("100.00"),
        "raid1 copy_percent seen: {seen_r}"
    );
    let raid_synced = r0.elapsed();
    let imgs = t.ok(
        "node1",
        "for l in 0 1; do dd if=/dev/mapper/vg-r_rimage_$l bs=64k count=16 iflag=direct status=none | sha256sum; done",
    );
    assert_eq!(imgs, format!("{sum}{sum}"), "raid1 images");
    let rebuild = t.ok(
        "node1",
        &format!(
            "{}MF vgcfgbackup -f /tmp/vg.txt vg >/dev/null && grep -c REBUILD /tmp/vg.txt || true",
            mf("node1")
        ),
    );
    assert_eq!(rebuild.trim(), "0", "REBUILD cleared after the load");
    t.ok(
        "node1",
        &format!("{}MF lvchange -an vg/r && MF lvremove vg/r", mf("node1")),
    );
    let log_phase = failed_disk_log(t, d1, d2, sum, mf);
    for n in ["node1", "node2"] {
        t.ok(n, &format!("{}MF lvchange -an vg/m", mf(n)));
        let pct = t.ok(
            n,
            &format!("{}MF lvs --noheadings -o copy_percent vg/m", mf(n)),
        );
        assert_eq!(pct.trim(), "", "{n}: inactive");
    }
    t.ok("node1", "dmsetup remove flaky");
    for n in ["node1", "node2"] {
        let left = t.ok(n, "dmsetup ls");
        assert!(!left.contains("vg-"), "{n}: {left}");
    }
    println!(
        "repair: lvconvert -m1 took {} ms; {}; phase took {:?}",
        converted.as_millis(),
        synced
            .iter()
            .map(|(n, d, seen)| format!(
                "{n} at 100.00% {} ms after the lvconvert (seen: {seen})",
                d.as_millis()
            ))
            .collect::<Vec<_>>()
            .join("; "),
        phase.elapsed()
    );
    println!(
        "repair: raid1 up-convert on node1 (lvcreate, write 1 MiB, lvconvert, 100.00%): {} ms (seen: {})",
        raid_synced.as_millis(),
        seen_r.trim()
    );
    println!("{log_phase}");
}

/// Issue 15, a failed disk log (lvm2's `mirror_log_fault_policy = "allocate"`, policy.detach =
/// global): the mirror active on both nodes gets a disk log (`lvconvert --mirrorlog disk` on
/// node1, reloaded on node2 by propagation); node1's log device then fails, dm-mirror holds
/// node1's write, and the daemon replaces the log cluster-wide on the other PV: the write
/// completes, both nodes load the new log and resync, stock lvm2 reads the result.
fn failed_disk_log(t: &T, d1: &str, d2: &str, sum: &str, mf: &dyn Fn(&str) -> String) -> String {
    let phase = Instant::now();
    let conv = t.ok(
        "node1",
        &format!("{}MF lvconvert --mirrorlog disk vg/m", mf("node1")),
    );
    assert!(conv.contains("Logical volume vg/m converted."), "{conv}");
    let log_dev = |n: &str| {
        t.ok(
            n,
            &format!("{}MF lvs -a --noheadings -o devices vg/m_mlog", mf(n)),
        )
        .trim()
        .split('(')
        .next()
        .unwrap_or("")
        .to_string()
    };
    let synced_disk = |n: &str, what: &str| {
        t.lab
            .wait_for(
                n,
                &["sh", "-c", "dmsetup table vg-m; dmsetup status vg-m"],
                what,
                Duration::from_secs(120),
                |o| {
                    let s = o.stdout_str();
                    let st: Vec<&str> = s.lines().nth(1).unwrap_or("").split_whitespace().collect();
                    s.contains(" mirror disk ")
                        && st
                            .get(6)
                            .and_then(|r| r.split_once('/'))
                            .is_some_and(|(a, b)| a == b)
                        && s.contains(" AA 3 disk ")
                        && s.trim_end().ends_with(" A")
                },
            )
            .unwrap_or_else(|e| panic!("{e}; {n} log: {}", t.log(n)));
    };
    for n in ["node1", "node2"] {
        synced_disk(n, "a disk log, in sync");
    }
    let before = log_dev("node2");
    // node1's log device fails; its next write needs the log, so dm-mirror holds it.
    t.ok(
        "node1",
        "set -e; n=$(blockdev --getsz /dev/mapper/vg-m_mlog); dmsetup suspend vg-m_mlog; \
         dmsetup load vg-m_mlog --table \"0 $n error\"; dmsetup resume vg-m_mlog; rm -f /tmp/rc; \
         setsid sh -c 's=$(date +%s%N); dd if=/tmp/data of=/dev/mapper/vg-m bs=64k seek=48 oflag=direct conv=fsync status=none; echo $? $(( ($(date +%s%N) - s) / 1000000 )) > /tmp/rc' </dev/null >/dev/null 2>&1 &",
    );
    let rc = t
        .lab
        .wait_for(
            "node1",
            &["sh", "-c", "cat /tmp/rc 2>/dev/null"],
            "the write held by the failed log to complete",
            Duration::from_secs(60),
            |o| !o.stdout_str().trim().is_empty(),
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node1")));
    let rc = rc.stdout_str();
    let (code, ms) = rc.trim().split_once(' ').expect("rc and ms");
    assert_eq!(
        code,
        "0",
        "the held write failed after {ms} ms; node1 log: {}",
        t.log("node1")
    );
    let st = t.ok("node1", "$C status --json");
    assert!(
        st.contains("\"dead_log\":true") && st.contains("\"action\":\"detached\""),
        "{st}"
    );
    for n in ["node1", "node2"] {
        synced_disk(n, "the new disk log, in sync again");
        let after = log_dev(n);
        assert!(
            !after.is_empty() && after != before,
            "{n}: log on {after}, was {before}"
        );
        let st = t.ok(n, "$C status --json");
        assert!(!st.contains("\"action\":\"stopped\""), "{n}: {st}");
    }
    let data = t.ok(
        "node2",
        "dd if=/dev/mapper/vg-m bs=64k skip=48 count=16 iflag=direct status=none | sha256sum",
    );
    assert_eq!(data, sum, "the held write, read on node2");
    let legs = t.ok(
        "node2",
        "for l in 0 1; do dd if=/dev/mapper/vg-m_mimage_$l bs=1M iflag=direct status=none | sha256sum; done",
    );
    let legs: Vec<&str> = legs.lines().collect();
    assert!(
        legs.len() == 2 && legs[0] == legs[1],
        "legs differ: {legs:?}"
    );
    let lvm = t.ok(
        "node2",
        &format!(
            "lvm lvs --shared -a --noheadings -o lv_name,segtype --devices {d1} --devices {d2} vg"
        ),
    );
    assert!(lvm.contains("[m_mlog]"), "{lvm}");
    format!(
        "failed disk log: held write completed on node1 after {ms} ms; log moved from {before} to {}; phase took {:?}; stock lvm2: {}",
        log_dev("node2"),
        phase.elapsed(),
        lvm.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// Largest sequence number on the `seq` LV as `node` reads it from the raw shared disk (each
/// sector `i` of the LV holds `i`; `off` is the LV's start on the disk, in sectors).
fn max_on_disk(t: &T, node: &str, off: u64) -> u64 {
    max_in(t, node, off, 16384)
}

/// As [`max_on_disk`] over `count` sectors from `off`.
fn max_in(t: &T, node: &str, off: u64, count: u64) -> u64 {
    t.ok(
        node,
        &format!(
            "dd if={} bs=512 skip={off} count={count} iflag=direct 2>/dev/null | tr -d '\\000' | sort -n | tail -1",
            t.disks[0]
        ),
    )
    .trim()
    .parse()
    .unwrap_or(0)
}

fn acked(t: &T, node: &str) -> u64 {
    t.ok(node, "cat /tmp/acked 2>/dev/null || echo 0")
        .trim()
        .parse()
        .expect("acked")
}

fn wait_acked(t: &T, at_least: u64, what: &str) {
    t.lab
        .wait_for(
            "node1",
            &["sh", "-c", "cat /tmp/acked 2>/dev/null || echo 0"],
            what,
            Duration::from_secs(60),
            |o| o.stdout_str().trim().parse::<u64>().unwrap_or(0) >= at_least,
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node1")));
}

/// Waits until node1's daemon reports `vg` in `state`; returns the time it took.
fn wait_state(t: &T, state: &str, since: Instant) -> Duration {
    let want = format!("\"state\":\"{state}\"");
    t.lab
        .wait_for(
            "node1",
            &[&t.bins.clvmd, "status", "--json"],
            &format!("vg {state} on node1"),
            Duration::from_secs(60),
            |o| o.stdout_str().contains(&want),
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node1")));
    since.elapsed()
}

/// No number reaches the disk and the writer makes no progress for `secs` s, the device is
/// suspended; returns the last number on disk, after checking every acknowledged one is there.
fn assert_no_progress(t: &T, off: u64, secs: u64) -> u64 {
    let m1 = max_on_disk(t, "node2", off);
    let a1 = acked(t, "node1");
    assert!(a1 <= m1, "acknowledged {a1} but only {m1} on disk");
    for _ in 0..secs {
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(
            max_on_disk(t, "node2", off),
            m1,
            "a write from node1 reached the disk while frozen; log: {}",
            t.log("node1")
        );
    }
    assert_eq!(
        acked(t, "node1"),
        a1,
        "the writer made progress while frozen"
    );
    let info = t.ok("node1", "dmsetup info vg-seq");
    assert!(info.contains("SUSPENDED"), "{info}");
    m1
}

/// Every acknowledged number up to `last` is on disk in its sector.
fn assert_nothing_lost(t: &T, off: u64, last: u64) {
    t.ok(
        "node2",
        &format!(
            "dd if={} bs=512 skip={off} count=16384 iflag=direct 2>/dev/null | tr -d '\\000' \
             | head -n {last} > /tmp/got && seq -f %08g 1 {last} > /tmp/want && cmp /tmp/got /tmp/want",
            t.disks[0]
        ),
    );
}

/// `corosync-quorumtool -s` on `node` as its `Key: value` lines (it exits 2 when not quorate).
fn quorum_info(t: &T, node: &str) -> std::collections::BTreeMap<String, String> {
    t.run(node, "corosync-quorumtool -s")
        .stdout_str()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Figures of the quorum flap (see [`quorum_flap`]).
struct Flap {
    how: &'static str,
    refused: String,
    to_frozen: Duration,
    to_thawed: Duration,
    to_resumed: Duration,
    before: u64,
    after: u64,
}

/// Quorum lost and regained on every node with corosync's membership unchanged: node1's
/// writer freezes (nothing reaches the disk), then resumes with nothing lost, the VG thawed
/// (not stranded) and no device left suspended on any node.
fn quorum_flap(t: &T, off: u64) -> Flap {
    let nodes = ["node1", "node2", "node3"];
    let ring: Vec<String> = nodes
        .iter()
        .map(|n| {
            let q = quorum_info(t, n);
            assert_eq!(
                q.get("Quorate").map(String::as_str),
                Some("Yes"),
                "{n}: {q:?}"
            );
            assert_eq!(q.get("Nodes").map(String::as_str), Some("3"), "{n}: {q:?}");
            q.get("Ring ID")
                .cloned()
                .unwrap_or_else(|| panic!("{n}: {q:?}"))
        })
        .collect();
    let a0 = acked(t, "node1");
    // votequorum's quorum is expected_votes/2+1: with 7 expected and 3 votes it is 4, so every
    // node is inquorate while all three stay members. `corosync-quorumtool -e` refuses an
    // expected_votes that would make a quorate cluster inquorate (votequorum's setexpected);
    // a runtime change of the cmap key quorum.expected_votes is applied (votequorum re-reads
    // its quorum.* keys and sends the new expected votes to every node).
    let tq = Instant::now();
    let e = t.run("node1", "corosync-quorumtool -e 7");
    let (how, refused) = if e.success() {
        ("corosync-quorumtool -e 7", String::new())
    } else {
        t.ok("node1", "corosync-cmapctl -s quorum.expected_votes u32 7");
        (
            "corosync-cmapctl -s quorum.expected_votes u32 7",
            format!("{}{}", e.stdout_str(), e.stderr_str())
                .trim()
                .to_string(),
        )
    };
    let to_frozen = wait_state(t, "frozen", tq);
    for (n, r) in nodes.iter().zip(&ring) {
        let q = quorum_info(t, n);
        assert_eq!(
            q.get("Quorate").map(String::as_str),
            Some("No"),
            "{n}: {q:?}"
        );
        assert_eq!(q.get("Nodes").map(String::as_str), Some("3"), "{n}: {q:?}");
        assert_eq!(q.get("Ring ID"), Some(r), "{n}: membership changed: {q:?}");
    }
    let st = t.ok("node1", "$C status --json");
    assert!(st.contains("\"quorate\":false"), "{st}");
    let m1 = assert_no_progress(t, off, 5);
    assert!(m1 >= a0, "{m1} on disk, {a0} acknowledged before");

    let tt = Instant::now();
    if !e.success() {
        // Back to the configuration: corosync.conf sets no expected_votes (the nodelist's 3).
        t.ok("node1", "corosync-cmapctl -d quorum.expected_votes");
    }
    // Lowering expected votes while inquorate is what -e is for (the key's deletion alone
    // once left node1 without quorum for 60 s); it also undoes a setexpected above.
    t.ok("node1", "corosync-quorumtool -e 3");
    let diag = |n: &str| {
        t.run(
            n,
            "corosync-quorumtool -s; corosync-cmapctl | grep -i -e '^quorum' -e votequorum",
        )
        .stdout_str()
    };
    t.lab
        .wait_quorate(&nodes, Duration::from_secs(30))
        .unwrap_or_else(|e| {
            panic!(
                "{e}; node1: {}\nnode2: {}\nnode3: {}",
                diag("node1"),
                diag("node2"),
                diag("node3")
            )
        });
    t.lab
        .wait_for(
            "node1",
            &[&t.bins.clvmd, "status", "--json"],
            "vg thawed on node1",
            Duration::from_secs(60),
            |o| {
                let s = o.stdout_str();
                s.contains("\"quorate\":true") && s.contains("\"frozen\":[]")
            },
        )
        .unwrap_or_else(|e| panic!("{e}; {}; log: {}", diag("node1"), t.log("node1")));
    let to_thawed = tt.elapsed();
    wait_acked(t, m1 + 1, "the writer to resume");
    let to_resumed = tt.elapsed();
    wait_acked(t, m1 + 10, "10 writes after the thaw");
    assert!(max_on_disk(t, "node2", off) > m1, "no new number on disk");
    for (n, r) in nodes.iter().zip(&ring) {
        let q = quorum_info(t, n);
        assert_eq!(
            q.get("Quorate").map(String::as_str),
            Some("Yes"),
            "{n}: {q:?}"
        );
        assert_eq!(q.get("Ring ID"), Some(r), "{n}: membership changed: {q:?}");
        t.lab
            .wait_for(
                n,
                &[&t.bins.clvmd, "status", "--json"],
                "nothing frozen",
                Duration::from_secs(30),
                |o| {
                    let s = o.stdout_str();
                    s.contains("\"quorate\":true") && s.contains("\"frozen\":[]")
                },
            )
            .unwrap_or_else(|e| panic!("{e}; log: {}", t.log(n)));
        let info = t.ok(n, "dmsetup info");
        assert!(!info.contains("SUSPENDED"), "{n}: {info}");
    }
    let log = t.log("node1");
    assert!(!log.contains("stranded"), "{log}");
    let after = acked(t, "node1");
    assert_nothing_lost(t, off, after);
    let wlog = t.ok("node1", "cat /tmp/writer.log");
    assert!(!wlog.contains("ERR"), "{wlog}");
    Flap {
        how,
        refused,
        to_frozen,
        to_thawed,
        to_resumed,
        before: m1,
        after,
    }
}

/// Issue 15 item 1 (EVMS quorum loss, no fencing). A writer on node1 writes sequence numbers
/// with O_DIRECT to a shared LV (sector i holds i); node2 reads the raw shared disk.
///
/// First a quorum flap with corosync's membership unchanged: the cmap key
/// `quorum.expected_votes` set to 7 at runtime (quorum 4 of 3 votes: every node inquorate, all
/// three still members, the ring id unchanged; `corosync-quorumtool -e 7` is refused, votequorum
/// does not let it make a quorate cluster inquorate), then the key deleted and
/// `corosync-quorumtool -e 3` (in one lab run, with the key deleted alone, node1's daemon saw
/// no quorum within 60 s). node1 freezes, no new number reaches the disk; with quorum back the VG is
/// thawed (not stranded), no device is left suspended on any node, the writer resumes and
/// every number from 1 on is on disk.
///
/// Then node1 is cut off (`partition`): it freezes, no new number reaches the disk, the writer
/// stalls, changes are refused, its local VG still serves I/O.
///
/// After `heal`, the majority recovered node1's locks while it was away, and stock
/// dlm_controld expels a node merging back with lockspace state (a "stateful merge": its
/// PV_STATEFUL flag is never cleared, so leaving the lockspaces would not avoid it). So what
/// clvmd-rs guarantees, and this test asserts, is the expelled path: node1 sees the merge,
/// strands the VG (frozen for good, never thawed by quorum, by the loss of its cluster stack
/// or by its own exit), the daemon stays up and says "reboot this node"; no number from node1
/// ever reaches the disk again, and nothing acknowledged before is lost. Then node3, whose
/// policy.quorum_loss is "fail-io", is cut off: its writer gets EIO (an error table, nothing
/// queued) and nothing more of it reaches the disk.
/// Prints the flap's loss -> frozen, regain -> thawed and -> writer resumed, partition ->
/// frozen and partition -> EIO (host clock).
#[test]
fn lab_faults_quorum_loss_freezes_minority_io() {
    let t0 = Instant::now();
    // Without fencing: the freeze is the only thing between node1 and the disks.
    let t = start_with(3, 2, 256, false);
    // node3 answers a quorum loss with policy.quorum_loss = "fail-io" (the last scenario).
    let failio = format!("{HALVM_TOML}[policy]\nquorum_loss = \"fail-io\"\n");
    t.lab
        .node("node3")
        .write_file("/tmp/halvm.toml", failio.as_bytes(), 0o644)
        .expect("halvm.toml");
    for n in ["node1", "node2", "node3"] {
        t.lab
            .node(n)
            .spawn(
                &[
                    &t.bins.clvmd,
                    "-f",
                    "--node-name",
                    n,
                    "-c",
                    "/tmp/halvm.toml",
                ],
                "/tmp/clvmd.log",
            )
            .expect("spawn clvmd-rs");
    }
    for n in ["node1", "node2", "node3"] {
        t.wait_daemon(n, 3);
    }
    t.shared_vg("vg", 0, &["node1", "node2", "node3"]);
    t.ok("node1", "M lvcreate -n seq -L 8m vg");
    t.ok("node1", "M lvchange -aey vg/seq");
    // A local VG on node1 (the second disk, never lock-started): the freeze leaves it alone.
    let d2 = t.disks[1].clone();
    t.ok(
        "node1",
        &format!("M pvcreate {d2} && M vgcreate loc {d2} && M lvcreate -n l -L 4m loc && M lvchange -ay loc/l"),
    );
    let table = t.ok("node1", "dmsetup table vg-seq");
    let off: u64 = table
        .split_whitespace()
        .nth(4)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("linear table: {table}"));
    let writer = "i=0; while [ $i -lt 16000 ]; do i=$((i+1)); \
                  printf '%08d\\n' $i | dd of=/dev/mapper/vg-seq bs=512 seek=$i count=1 \
                  oflag=direct conv=sync,notrunc 2>/dev/null || { echo ERR $i; exit 1; }; \
                  echo $i > /tmp/acked.tmp && mv /tmp/acked.tmp /tmp/acked; done";
    t.lab
        .node("node1")
        .spawn(&["sh", "-c", writer], "/tmp/writer.log")
        .expect("spawn writer");
    wait_acked(&t, 20, "20 writes");

    // A quorum flap with the membership unbroken: frozen, then thawed, the writer resumes.
    let flap = quorum_flap(&t, off);
    println!(
        "flap ({}): quorum lost -> frozen on node1: {} ms; quorum back -> thawed: {} ms, -> \
         the writer's next number acknowledged: {} ms (host clock); {} numbers before the \
         freeze, {} after the resume, none lost; `corosync-quorumtool -e 7`: {}",
        flap.how,
        flap.to_frozen.as_millis(),
        flap.to_thawed.as_millis(),
        flap.to_resumed.as_millis(),
        flap.before,
        flap.after,
        if flap.refused.is_empty() {
            "accepted".to_string()
        } else {
            format!("refused ({})", flap.refused)
        }
    );

    let tp = Instant::now();
    t.lab.partition("node1").expect("partition");
    let p_frozen = wait_state(&t, "frozen", tp);
    let st = t.ok("node1", "$C status --json");
    assert!(st.contains("\"quorate\":false"), "{st}");
    let st2 = t.ok("node2", "$C status --json");
    assert!(st2.contains("\"frozen\":[]"), "{st2}");
    // No change without quorum.
    let e = t.fails("node1", "M lvcreate -n x -L 4m vg");
    assert!(e.contains("quorate") || e.contains("quorum"), "{e}");
    // The local VG serves I/O.
    t.ok(
        "node1",
        "timeout 10 dd if=/dev/urandom of=/dev/mapper/loc-l bs=64k count=16 oflag=direct status=none",
    );
    let info = t.ok("node1", "dmsetup info loc-l");
    assert!(!info.contains("SUSPENDED"), "{info}");
    let m2 = assert_no_progress(&t, off, 10);

    let th = Instant::now();
    t.lab.heal("node1").expect("heal");
    let to_stranded = wait_state(&t, "stranded", th);
    let st = t.ok("node1", "$C status --json");
    // Which of the two node1 sees first is a race: corosync's quorum notification of the
    // merge, or its corosync killed by the expulsion. Either strands the VG.
    let merge = st.contains("partition merge");
    assert!(
        merge || st.contains("connection to the cluster stack was lost"),
        "{st}"
    );
    assert!(st.contains("Reboot this node"), "{st}");
    // Whatever the cluster stack does now (dlm_controld expels node1, its corosync stops),
    // the daemon stays up, the device stays suspended and nothing reaches the disk.
    assert_no_progress(&t, off, 20);
    let corosync = t.run("node1", "pidof corosync").success();
    let st = t.ok("node1", "$C status --json");
    assert!(st.contains("\"state\":\"stranded\""), "{st}");
    assert!(!st.contains("\"state\":\"frozen\""), "{st}");
    let human = t.ok("node1", "$C status");
    assert!(human.contains("never thawed"), "{human}");
    if !corosync {
        assert!(st.contains("\"quorate\":false"), "{st}");
        let log = t.log("node1");
        assert!(log.contains("cluster connection is lost"), "{log}");
    }
    assert_eq!(max_on_disk(&t, "node2", off), m2);
    assert_nothing_lost(&t, off, acked(&t, "node1"));
    let log = t.ok("node1", "cat /tmp/writer.log");
    assert!(!log.contains("ERR"), "{log}");
    let info = t.ok("node1", "dmsetup info loc-l");
    assert!(!info.contains("SUSPENDED"), "{info}");
    if !corosync {
        // Expelled: the majority serves the VG on, node2 takes the LV node1 held.
        t.ok("node2", "M lvchange -aey vg/seq");
    }

    // policy.quorum_loss = "fail-io" on node3: cut off, its held and new writes fail with
    // EIO (an error table, not a suspend) and nothing more reaches the disk.
    t.ok("node3", "M lvcreate -n f -L 4m vg && M lvchange -aey vg/f");
    let table = t.ok("node3", "dmsetup table vg-f");
    let off3: u64 = table
        .split_whitespace()
        .nth(4)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("linear table: {table}"));
    let writer3 = "i=0; while [ $i -lt 8000 ]; do i=$((i+1)); \
                   printf '%08d\\n' $i | dd of=/dev/mapper/vg-f bs=512 seek=$i count=1 \
                   oflag=direct conv=sync,notrunc 2>/dev/null || { echo ERR $i; exit 1; }; \
                   echo $i > /tmp/acked3; done";
    t.lab
        .node("node3")
        .spawn(&["sh", "-c", writer3], "/tmp/writer3.log")
        .expect("spawn writer");
    t.lab
        .wait_for(
            "node3",
            &["sh", "-c", "cat /tmp/acked3 2>/dev/null || echo 0"],
            "20 writes on node3",
            Duration::from_secs(60),
            |o| o.stdout_str().trim().parse::<u64>().unwrap_or(0) >= 20,
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node3")));
    let tp3 = Instant::now();
    t.lab.partition("node3").expect("partition node3");
    let err = t
        .lab
        .wait_for(
            "node3",
            &["sh", "-c", "cat /tmp/writer3.log"],
            "node3's writer to get an I/O error",
            Duration::from_secs(60),
            |o| o.stdout_str().contains("ERR"),
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node3")));
    let p_eio = tp3.elapsed();
    let failed_at: u64 = err
        .stdout_str()
        .trim()
        .trim_start_matches("ERR ")
        .parse()
        .expect("ERR <n>");
    let st3 = t.ok("node3", "$C status --json");
    assert!(
        st3.contains("\"how\":\"fail-io\"") && st3.contains("\"quorate\":false"),
        "{st3}"
    );
    let table = t.ok("node3", "dmsetup table vg-f");
    assert!(table.contains("error"), "{table}");
    let info = t.ok("node3", "dmsetup info vg-f");
    assert!(
        !info.contains("SUSPENDED"),
        "fail-io must not queue: {info}"
    );
    let acked3: u64 = t
        .ok("node3", "cat /tmp/acked3")
        .trim()
        .parse()
        .expect("acked3");
    assert_eq!(
        acked3 + 1,
        failed_at,
        "the writer stopped at its first error"
    );
    let m3 = max_in(&t, "node2", off3, 8192);
    assert!(
        m3 >= acked3 && m3 < failed_at,
        "on disk {m3}, acked {acked3}, failed {failed_at}"
    );
    t.ok(
        "node3",
        "! dd if=/dev/zero of=/dev/mapper/vg-f bs=512 count=1 oflag=direct status=none",
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(max_in(&t, "node2", off3, 8192), m3);
    println!(
        "fail-io: partition -> the writer's EIO on node3: {} ms (host clock, token+consensus \
         included)",
        p_eio.as_millis()
    );
    println!(
        "partition -> frozen: {} ms (host clock; corosync's token+consensus included); \
         heal -> stranded: {} ms; {m2} numbers before the freeze, none lost, none after; \
         node1's corosync after the heal: {}; stranded by {}; test {} s",
        p_frozen.as_millis(),
        to_stranded.as_millis(),
        if corosync {
            "running"
        } else {
            "stopped (expelled)"
        },
        if merge {
            "the merge"
        } else {
            "the lost cluster connection"
        },
        t0.elapsed().as_secs()
    );
    println!("node1 log:\n{}", t.log("node1"));
}

/// The highest sequence number on the `seq` LV as the storage itself holds it: a host thread
/// reads the shared disk's image (sector `i` of the LV holds `i`) every few milliseconds on the
/// host's clock, so it keeps sampling while the writer's node is cut off or powered off.
struct FencedDiskWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The last finished sample: when it started, and the highest number then.
    last: std::sync::Arc<std::sync::Mutex<(Instant, u64)>>,
    /// Each change: (start of the sample before, start of the sample that saw it, new max).
    changes: std::sync::Arc<std::sync::Mutex<Vec<(Instant, Instant, u64)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FencedDiskWatch {
    /// Watches the LV starting `off` sectors into `image`.
    fn start(image: &std::path::Path, off: u64) -> FencedDiskWatch {
        use std::os::unix::fs::FileExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let f = std::fs::File::open(image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
        let stop = Arc::new(AtomicBool::new(false));
        let last = Arc::new(Mutex::new((Instant::now(), 0)));
        let changes = Arc::new(Mutex::new(Vec::new()));
        let (s, l, c) = (Arc::clone(&stop), Arc::clone(&last), Arc::clone(&changes));
        let thread = std::thread::spawn(move || {
            let mut max = 0u64;
            let mut prev = Instant::now();
            let mut buf = vec![0u8; 64 * 512];
            while !s.load(Ordering::SeqCst) {
                let at = Instant::now();
                // Numbers land in order, one sector each: read on from the last one seen.
                let n = f.read_at(&mut buf, (off + max + 1) * 512).unwrap_or(0);
                let mut m = max;
                for sector in buf[..n].chunks(512) {
                    let v: u64 = std::str::from_utf8(&sector[..8])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if v != m + 1 {
                        break;
                    }
                    m = v;
                }
                if m != max {
                    max = m;
                    c.lock().expect("changes").push((prev, at, m));
                }
                *l.lock().expect("last") = (at, max);
                prev = at;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        FencedDiskWatch {
            stop,
            last,
            changes,
            thread: Some(thread),
        }
    }

    /// The highest number of the first sample that started after `t`.
    fn after(&self, t: Instant) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (at, m) = *self.last.lock().expect("last");
            if at >= t {
                return m;
            }
            assert!(Instant::now() < deadline, "the disk watch stalled");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn changes(&self) -> Vec<(Instant, Instant, u64)> {
        self.changes.lock().expect("changes").clone()
    }
}

impl Drop for FencedDiskWatch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A node's serial console as the host sees it: a thread reads the file QEMU writes every few
/// milliseconds and stamps each new line with the host's clock (no earlier than the guest wrote
/// it), so the log survives the node's power-off and is ordered with host events.
struct FencedConsoleWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    lines: std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FencedConsoleWatch {
    /// Watches what is appended to `path` from now on.
    fn start(path: std::path::PathBuf) -> FencedConsoleWatch {
        use std::io::{Read, Seek};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let mut f =
            std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        f.seek(std::io::SeekFrom::End(0)).expect("seek");
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (Arc::clone(&stop), Arc::clone(&lines));
        let thread = std::thread::spawn(move || {
            let mut partial = Vec::new();
            let mut buf = vec![0u8; 65536];
            while !s.load(Ordering::SeqCst) {
                let n = f.read(&mut buf).unwrap_or(0);
                let at = Instant::now();
                partial.extend_from_slice(&buf[..n]);
                while let Some(i) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=i).collect();
                    let line = String::from_utf8_lossy(&line).trim_end().to_string();
                    l.lock().expect("lines").push((at, line));
                }
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        FencedConsoleWatch {
            stop,
            lines,
            thread: Some(thread),
        }
    }

    fn lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().expect("lines").clone()
    }
}

impl Drop for FencedConsoleWatch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Issue 15 item 1 with fencing, and the recovery of a fenced node. Three nodes, dlm_controld
/// fencing through `fence_halvm_lab` (action=off). node3 holds a shared LV exclusively and a
/// writer there writes sequence numbers (sector i holds i, O_DIRECT); the host reads the shared
/// image every few ms. node3 is cut off: its daemon freezes the LV on the loss of quorum and the
/// majority's dlm_controld fences it (QEMU killed). node3's console (its daemon's log and the
/// writer's progress), stamped by the host as it appears, survives the fence: from the first
/// disk sample after the freeze line to the fence and after it, no new number reaches the disk,
/// every number node3 acknowledged is there, none missing in between. Should the fence beat
/// the freeze (the majority's fence agent quicker than node3's daemon), nothing lands after the
/// fence and the run says so.
///
/// Then node1 takes the LV over once the locks are recovered, writes, extends it and creates
/// another LV; node3 restarts, its daemon lock-starts the VG and sees the current
/// configuration: the sizes in `lvs` and in its activation, nothing frozen or suspended, no
/// stray device from before the fence, node1's lock honoured; stock lvm2 reads the VG.
/// Prints partition -> frozen, -> fenced, -> node1 active (host clock).
#[test]
fn lab_faults_quorum_loss_with_fencing() {
    let t0 = Instant::now();
    let t = start_with(3, 1, 256, true);
    t.spawn_daemon("node1");
    // node2's and node3's daemon logs also go to their serial consoles, which the host keeps
    // after a fence (node2's for the last phase).
    for n in ["node2", "node3"] {
        t.lab
            .node(n)
            .spawn(
                &[
                    "sh",
                    "-c",
                    &format!(
                        "{} -f --node-name {n} 2>&1 | tee /tmp/clvmd.log > /dev/ttyS0",
                        t.bins.clvmd
                    ),
                ],
                "/tmp/clvmd-tee.log",
            )
            .expect("spawn clvmd-rs");
    }
    for n in ["node1", "node2", "node3"] {
        t.wait_daemon(n, 3);
    }
    t.shared_vg("vg", 0, &["node1", "node2", "node3"]);
    t.ok(
        "node3",
        "M lvcreate -n seq -L 8m vg && M lvchange -aey vg/seq",
    );
    let table = t.ok("node3", "dmsetup table vg-seq");
    let off: u64 = table
        .split_whitespace()
        .nth(4)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("linear table: {table}"));
    let writer = "i=0; while [ $i -lt 16000 ]; do i=$((i+1)); echo seq-issue $i > /dev/ttyS0; \
                  printf '%08d\\n' $i | dd of=/dev/mapper/vg-seq bs=512 seek=$i count=1 \
                  oflag=direct conv=sync,notrunc 2>/dev/null || { echo ERR $i; exit 1; }; \
                  echo $i > /tmp/acked.tmp && mv /tmp/acked.tmp /tmp/acked; \
                  echo seq-acked $i > /dev/ttyS0; done";
    let console = FencedConsoleWatch::start(t.lab.console_log("node3"));
    t.lab
        .node("node3")
        .spawn(&["sh", "-c", writer], "/tmp/writer.log")
        .expect("spawn writer");
    let watch = FencedDiskWatch::start(&t.lab.shared_image(0), off);
    t.lab
        .wait_for(
            "node3",
            &["sh", "-c", "cat /tmp/acked 2>/dev/null || echo 0"],
            "20 writes on node3",
            Duration::from_secs(60),
            |o| o.stdout_str().trim().parse::<u64>().unwrap_or(0) >= 20,
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node3")));
    assert!(watch.after(Instant::now()) >= 20, "the host sees no writes");

    let tp = Instant::now();
    t.lab.partition("node3").expect("partition");
    // The fence often comes before a poll over the network would see node3 frozen, so node3's
    // console (its daemon's log and the writer's acknowledgements, stamped by the host as they
    // appear) tells when it froze: the line is logged once the device is suspended.
    let freeze_line = "vg-seq: I/O stopped (freeze)";
    let deadline = Instant::now() + Duration::from_secs(120);
    let fenced = |e: &halvm_lab::PowerEvent| e.action == "off" && e.node == "node3";
    let t_fenced = loop {
        if let Some(e) = t.lab.power_events().iter().find(|e| fenced(e)) {
            break e.at;
        }
        assert!(Instant::now() < deadline, "node3 not fenced in 120 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        !t.lab.is_running("node3").expect("node3"),
        "fenced node3 runs"
    );
    // What the serial port still had to write has reached the file.
    std::thread::sleep(Duration::from_secs(1));
    let lines = console.lines();
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let acked_of = |l: &str| {
        l.trim()
            .strip_prefix("seq-acked ")
            .and_then(|n| n.parse::<u64>().ok())
    };
    let acks: Vec<(usize, u64)> = text
        .iter()
        .enumerate()
        .filter_map(|(i, l)| acked_of(l).map(|n| (i, n)))
        .collect();
    let acked_last = acks.last().map(|a| a.1).expect("acks on node3's console");
    let m_final = watch.after(Instant::now());
    assert!(
        acked_last <= m_final && m_final <= acked_last + 1,
        "node3 acknowledged {acked_last}, the disk has up to {m_final}"
    );
    let changes = watch.changes();
    // A change seen by a sample whose predecessor started after the fence landed after it.
    assert!(
        changes.iter().all(|c| c.0 < t_fenced),
        "a number landed after node3 was fenced: {:?}",
        changes.last()
    );
    // When the last number was seen on disk (it landed at or before that).
    let last_seen = changes.last().expect("changes").1;
    // The console's stamps are upper bounds: a freeze line stamped after the fence may have
    // been written before it or not at all. Then the fence won the race and there is no freeze
    // to check (it happens when the majority's fence agent is quicker than node3's daemon).
    let freeze = lines
        .iter()
        .position(|(at, l)| l.contains(freeze_line) && *at < t_fenced);
    let tf = freeze.map(|at| lines[at].0);
    if let Some(at) = freeze {
        assert!(lines[at].0 > tp, "frozen before the partition");
        let acked_frozen = acks
            .iter()
            .filter(|a| a.0 < at)
            .map(|a| a.1)
            .max()
            .expect("acks before the freeze");
        // The write in flight at the freeze completes before the suspend returns (a flushing
        // suspend), and its acknowledgement may follow the log line; nothing after it.
        let acked_after: Vec<u64> = acks.iter().filter(|a| a.0 > at).map(|a| a.1).collect();
        assert!(
            acked_after.is_empty() || acked_after == [acked_frozen + 1],
            "node3 acknowledged {acked_after:?} after its freeze (last before: {acked_frozen})"
        );
        assert_eq!(
            watch.after(lines[at].0),
            m_final,
            "a number from node3 reached the disk after its freeze"
        );
    } else {
        println!(
            "node3 was fenced before its freeze took effect (fenced {} ms after the partition)",
            (t_fenced - tp).as_millis()
        );
    }
    // How many numbers landed after node3's daemon was told of the loss, and which of them the
    // writer started after it (the console is one ordered stream).
    let loss = text.iter().rposition(|l| l.contains("quorum: NOT quorate"));
    let t_loss = loss.map(|i| lines[i].0);
    let in_window = t_loss.map_or(0, |tl| changes.iter().filter(|c| c.0 >= tl).count());
    let issued_after_loss: Vec<u64> = text[loss.unwrap_or(text.len())..]
        .iter()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("seq-issue ")
                .and_then(|n| n.parse().ok())
        })
        .filter(|&n| n <= m_final)
        .collect();
    drop(watch);
    drop(console);
    // Every number from 1 to the last is on disk, in its sector.
    t.ok(
        "node2",
        &format!(
            "dd if={} bs=512 skip={} count={m_final} iflag=direct 2>/dev/null | tr -d '\\000' \
             > /tmp/got && seq -f %08g 1 {m_final} > /tmp/want && cmp /tmp/got /tmp/want",
            t.disks[0],
            off + 1
        ),
    );
    let freeze_log: Vec<&str> = text
        .iter()
        .copied()
        .filter(|l| l.contains("clvmd-rs") && (l.contains("quorum") || l.contains("freez")))
        .collect();

    // The majority takes the LV over once node3's locks are recovered.
    t.lab
        .wait_for(
            "node1",
            &["sh", "-c", &format!("{}M lvchange -aey vg/seq", t.pre())],
            "node1 -aey after the fence",
            Duration::from_secs(120),
            |o| o.success(),
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node1")));
    let to_taken = tp.elapsed();
    // The DLM grants node3's lock only after the fence (nothing of node3's lands after it).
    assert!(
        t_fenced < tp + to_taken,
        "node1 took the LV before node3 was fenced"
    );
    t.ok(
        "node1",
        "printf '%08d\\n' 99999999 | dd of=/dev/mapper/vg-seq bs=512 seek=16383 count=1 \
         oflag=direct conv=sync,notrunc status=none",
    );
    t.ok(
        "node1",
        "M lvextend -L 12m vg/seq && M lvcreate -n new -L 4m vg && M lvchange -an vg/new",
    );
    assert_eq!(
        t.ok("node1", "blockdev --getsz /dev/mapper/vg-seq").trim(),
        "24576"
    );
    let st = t.ok("node1", "$C status --json");
    assert!(st.contains("\"frozen\":[]"), "{st}");

    // node3 comes back and gets the current configuration.
    t.lab.heal("node3").expect("heal");
    let tr = Instant::now();
    t.lab.restart("node3").expect("restart node3");
    t.configure("node3");
    t.daemon("node3", 3);
    t.ok("node3", "M vgchange --lockstart vg");
    let to_rejoined = tr.elapsed();
    let lvs = t.ok(
        "node3",
        "M lvs --noheadings --units s -o lv_name,lv_size vg",
    );
    let lvs: Vec<String> = lvs.split_whitespace().map(str::to_string).collect();
    assert_eq!(lvs, ["new", "8192S", "seq", "24576S"], "{lvs:?}");
    t.ok("node3", "M lvchange -asy vg/new");
    assert_eq!(
        t.ok("node3", "blockdev --getsz /dev/mapper/vg-new").trim(),
        "8192"
    );
    let err = t.fails("node3", "M lvchange -aey vg/seq");
    assert!(err.contains("node1"), "{err}");
    assert_eq!(
        t.ok("node3", "dmsetup ls --target linear | cut -f1").trim(),
        "vg-new",
        "a device other than vg-new on node3"
    );
    let info = t.ok("node3", "dmsetup info");
    assert!(!info.contains("SUSPENDED"), "{info}");
    let st = t.ok("node3", "$C status --json");
    assert!(
        st.contains("\"quorate\":true") && st.contains("\"frozen\":[]") && !st.contains("stranded"),
        "{st}"
    );
    // node1's marker, written while node3 was away, reads back on node3 once it may read.
    t.ok("node3", "M lvchange -an vg/new");
    t.ok("node1", "M lvchange -an vg/seq");
    t.ok("node3", "M lvchange -asy vg/seq");
    let marker = t.ok(
        "node3",
        "dd if=/dev/mapper/vg-seq bs=512 skip=16383 count=1 iflag=direct status=none | head -c 8",
    );
    assert_eq!(marker, "99999999");
    t.ok("node3", "M lvchange -an vg/seq");
    let stock = t.ok(
        "node3",
        &format!(
            "lvm lvs --shared --noheadings --units s -o lv_name,lv_size --devices {} vg",
            t.disks[0]
        ),
    );
    let stock: Vec<&str> = stock.split_whitespace().collect();
    assert_eq!(
        stock,
        ["new", "8192S", "seq", "24576S"],
        "stock lvm2: {stock:?}"
    );
    let ms = |t: Option<Instant>| {
        t.map_or("not before the fence".to_string(), |t| {
            format!("{} ms", t.saturating_duration_since(tp).as_millis())
        })
    };
    println!(
        "with fencing: partition -> node3 frozen (its console): {}, -> fenced: {} ms, -> node1 \
         holds the LV: {} ms; frozen -> fenced {}; node3 acknowledged {acked_last}, {m_final} on \
         disk, none after the freeze or the fence, the last seen on disk {} ms after the \
         partition; {in_window} seen landing after the loss was reported on node3 ({}), of \
         which {issued_after_loss:?} were started after it; restart -> node3 lock-started: {} \
         ms; test {} s (host clock)",
        ms(tf),
        (t_fenced - tp).as_millis(),
        to_taken.as_millis(),
        tf.map_or("-".to_string(), |tf| format!(
            "{} ms",
            t_fenced.saturating_duration_since(tf).as_millis()
        )),
        last_seen.saturating_duration_since(tp).as_millis(),
        ms(t_loss),
        to_rejoined.as_millis(),
        t0.elapsed().as_secs()
    );
    println!(
        "node3 before the fence (console):\n{}",
        freeze_log.join("\n")
    );
    let td = Instant::now();
    let dlm = dlm_controld_dies_alone(&t);
    println!("{dlm}; phase {} s", td.elapsed().as_secs());
}

/// dlm_controld dies alone on node2, corosync up (quorum says nothing). The others'
/// dlm_controld take it for node2's failure: they tell corosync to remove node2 and fence it.
/// node2's daemon sees its dlm_controld's control socket close at once and freezes the shared
/// VG's active LV, stranded (never thawed): its console (stamped by the host as it appears,
/// kept after the fence) has the detection before the power-off and the stranding; whether the
/// suspend itself beat the fence is measured and printed. Returns what it measured.
fn dlm_controld_dies_alone(t: &T) -> String {
    t.ok("node2", "M lvchange -asy vg/new");
    let console = FencedConsoleWatch::start(t.lab.console_log("node2"));
    // The kill comes after the lab's agent on node2 has answered: the fence it sets off
    // powers node2 off within half a second, which under load can beat the agent's answer
    // (the control channel then waits for a reply that never comes).
    t.ok(
        "node2",
        "setsid sh -c 'sleep 0.5; kill -9 $(pidof dlm_controld)' </dev/null >/dev/null 2>&1 &",
    );
    let tk = Instant::now() + Duration::from_millis(500);
    let deadline = Instant::now() + Duration::from_secs(120);
    let fenced = |e: &halvm_lab::PowerEvent| e.action == "off" && e.node == "node2";
    let t_fenced = loop {
        if let Some(e) = t.lab.power_events().iter().find(|e| fenced(e)) {
            break e.at;
        }
        assert!(
            Instant::now() < deadline,
            "node2 not fenced in 120 s after its dlm_controld died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // What the serial port still had to write has reached the file.
    std::thread::sleep(Duration::from_secs(1));
    let lines = console.lines();
    let before: Vec<&str> = lines
        .iter()
        .filter(|(at, _)| *at < t_fenced)
        .map(|(_, l)| l.as_str())
        .collect();
    let all: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let seen = before.iter().any(|l| l.contains("dlm_controld went away"));
    let frozen = lines
        .iter()
        .find(|(at, l)| *at < t_fenced && l.contains("vg-new: I/O stopped (freeze)"))
        .map(|(at, _)| *at);
    // The death is seen at once (the socket closes as the process dies); the freeze that
    // follows races the majority's fence agent, which the lab's power service makes quick
    // (373-565 ms after the kill): in one of two runs the fence won.
    assert!(
        seen,
        "node2 was fenced ({} ms after the kill) before its daemon saw dlm_controld go; \
         console:\n{}",
        (t_fenced - tk).as_millis(),
        all.join("\n")
    );
    // Stranded for dlm_controld, or for corosync when the majority's expulsion of node2 had
    // already stopped its corosync by the time the daemon looked (seen once under load: the
    // daemon checks corosync first, the cause it reports when both are gone). Either way the
    // VG is frozen for good with the reason in the log.
    assert!(
        all.iter().any(|l| l.contains("stranded:")
            && (l.contains("dlm_controld stopped while this node had DLM lockspaces")
                || l.contains("the connection to the cluster stack was lost"))),
        "the daemon did not strand the VG for dlm_controld or the lost cluster stack; \
         console:\n{}",
        all.join("\n")
    );
    assert!(
        !before.iter().any(|l| l.contains("I/O resumed")),
        "{}",
        all.join("\n")
    );
    let daemon: Vec<&str> = before
        .iter()
        .copied()
        .filter(|l| l.contains("clvmd-rs") && (l.contains("dlm_controld") || l.contains("freez")))
        .collect();
    format!(
        "dlm_controld killed on node2 -> its daemon froze vg/new: {}, -> node2 fenced: {} ms \
         (host clock, the kill command included); node2 (console):\n{}",
        frozen.map_or("not before the fence".to_string(), |f| format!(
            "{} ms",
            f.saturating_duration_since(tk).as_millis()
        )),
        (t_fenced - tk).as_millis(),
        daemon.join("\n")
    )
}

/// Issue 15 item 3, the metadata-loss policy (`policy.dg_failure`), both policies in one
/// 2-node lab, each on a VG of its own. node1 loses write access to every metadata copy of
/// the VG (`blockdev --setro` on its view of the VG's only PV: reads go on, every write from
/// node1 fails with EPERM), so a change committed from node1 writes no copy; node2 too while
/// node1 commits, so no node can carry the commit (the third phase shows one carried).
///
/// `dgdisable` (halvm.toml's default): node1's lvcreate fails with the VG unchanged; node2's
/// daemon learns it over CPG; every later change on either node is refused naming the VG,
/// node1 and `clvmd-rs enable`; node2's active LV keeps serving I/O, lvs still reads, stock
/// lvm2 reads the metadata; after the storage is fixed, `clvmd-rs enable` lifts it everywhere.
///
/// `leave` (the VG's own tag, `lvmeta vgchange --dgfailpolicy leave`): only node1 leaves. Its
/// LV stays active but LVM-activate's monitor fails there; node2 goes on changing the VG;
/// once the agent stopped the LV on node1 the daemon stops node1's lockspace by itself and
/// node2 takes the LV over; node1's lockstart is refused until `clvmd-rs enable` there.
#[test]
fn lab_faults_dg_failure_dgdisable_then_leave() {
    let t0 = Instant::now();
    let t = start_with(2, 4, 64, false);
    let (da, db) = (t.disks[0].clone(), t.disks[1].clone());
    t.daemons(&["node1", "node2"]);
    let agent = |action: &str, vg: &str| {
        format!(
            "OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE={vg}-lv1 OCF_RESKEY_vgname={vg} \
             OCF_RESKEY_lvname=lv1 OCF_RESKEY_vg_access_mode=lvmlockd \
             OCF_RESKEY_activation_mode=exclusive OCF_RESKEY_CRM_meta_interval=10000 {} {action}",
            t.agent
        )
    };

    // --- dgdisable ---
    t.shared_vg("dga", 0, &["node1", "node2"]);
    // lvcreate activates the new LV exclusively where it runs, as lvm2 does.
    t.ok(
        "node1",
        "M lvcreate -n lv1 -L 8m dga && M lvchange -an dga/lv1",
    );
    t.ok("node2", "M lvchange -aey dga/lv1");
    t.ok(
        "node2",
        "dd if=/dev/urandom of=/dev/mapper/dga-lv1 bs=64k count=16 oflag=direct status=none",
    );
    let seq0 = t.seqno("node2", "dga");
    // node2 cannot write either while node1 commits, so no node can carry the commit.
    for n in ["node1", "node2"] {
        t.ok(n, &format!("blockdev --setro {da}"));
    }
    let failed = t.run("node1", "M lvcreate -n lv2 -L 8m dga");
    let lost_at = Instant::now();
    t.ok("node2", &format!("blockdev --setrw {da}"));
    assert!(!failed.success(), "{}", failed.stdout_str());
    let err = failed.stderr_str();
    assert!(
        err.contains("no metadata copy could be written") && err.contains("unchanged"),
        "{err}"
    );
    println!("dgdisable: node1's lvcreate (exit {}):\n{err}", failed.code);
    let st2 = t
        .lab
        .wait_for(
            "node2",
            &[&t.bins.clvmd, "status", "--json"],
            "node2 to record dga disabled",
            Duration::from_secs(10),
            |o| o.stdout_str().contains("\"policy\":\"dgdisable\""),
        )
        .unwrap_or_else(|e| panic!("{e}; node1 log: {}", t.log("node1")));
    let to_disabled = lost_at.elapsed();
    println!("dgdisable: node2 status --json:\n{}", st2.stdout_str());
    for n in ["node1", "node2"] {
        let human = t.ok(n, "$C status");
        assert!(
            human.contains("VG dga DISABLED cluster-wide (dgdisable)")
                && human.contains("clvmd-rs enable dga"),
            "{n}: {human}"
        );
        println!("dgdisable: {n}: clvmd-rs status:\n{human}");
        let out = t.run(n, "M lvcreate -n lv3 -L 8m dga");
        assert!(
            !out.success(),
            "{n}: a change to a disabled VG went through"
        );
        let refusal = out.stderr_str();
        assert!(
            refusal.contains("VG dga is disabled")
                && refusal.contains("node1")
                && refusal.contains("clvmd-rs enable dga"),
            "{n}: {refusal}"
        );
        println!("dgdisable: {n}: lvcreate (exit {}):\n{refusal}", out.code);
        assert_eq!(t.lv_names(n, "dga"), ["lv1"], "{n}");
    }
    // Nothing half-done: the same seqno, stock lvm2 reads it; the active LV serves I/O.
    assert_eq!(t.seqno("node2", "dga"), seq0);
    let lvm = t.ok(
        "node2",
        &format!("lvm lvs --shared --noheadings -o lv_name --devices {da} dga"),
    );
    assert_eq!(lvm.split_whitespace().collect::<Vec<_>>(), ["lv1"]);
    t.ok(
        "node2",
        "dd if=/dev/urandom of=/dev/mapper/dga-lv1 bs=64k count=16 seek=16 oflag=direct status=none \
         && dd if=/dev/mapper/dga-lv1 of=/dev/null bs=64k count=32 iflag=direct status=none",
    );
    // The storage comes back; enable from node1 lifts it on both.
    t.ok("node1", &format!("blockdev --setrw {da}"));
    let en = t.ok("node1", "$C enable dga");
    assert!(en.contains("VG dga enabled"), "{en}");
    t.lab
        .wait_for(
            "node2",
            &[&t.bins.clvmd, "status", "--json"],
            "dga enabled on node2",
            Duration::from_secs(10),
            |o| o.stdout_str().contains("\"disabled_vgs\":[]"),
        )
        .expect("enabled");
    t.ok("node2", "M lvcreate -n lv3 -L 8m dga");
    assert_eq!(t.lv_names("node1", "dga"), ["lv1", "lv3"]);
    t.ok("node2", "M vgchange -an dga");

    // --- leave (the VG's own policy) ---
    t.shared_vg("dgb", 1, &["node1", "node2"]);
    t.ok(
        "node1",
        "M vgchange --dgfailpolicy leave dgb && M lvcreate -n lv1 -L 8m dgb",
    );
    t.ok("node1", &agent("start", "dgb"));
    t.ok("node1", &agent("monitor", "dgb"));
    for n in ["node1", "node2"] {
        t.ok(n, &format!("blockdev --setro {db}"));
    }
    let failed = t.run("node1", "M lvcreate -n lv2 -L 8m dgb");
    t.ok("node2", &format!("blockdev --setrw {db}"));
    assert!(!failed.success(), "{}", failed.stdout_str());
    assert!(
        failed
            .stderr_str()
            .contains("no metadata copy could be written"),
        "{}",
        failed.stderr_str()
    );
    let human = t.ok("node1", "$C status");
    assert!(
        human.contains("VG dgb LEFT by this node (leave), lockspace still joined"),
        "{human}"
    );
    println!("leave: node1: clvmd-rs status:\n{human}");
    let st2 = t.ok("node2", "$C status --json");
    assert!(st2.contains("\"disabled_vgs\":[]"), "{st2}");
    // The resource agent's monitor fails on node1: Pacemaker would stop it there.
    let mon = t.run("node1", &agent("monitor", "dgb"));
    assert!(!mon.success(), "monitor passed on a node that left the VG");
    assert!(
        mon.stderr_str().contains("left VG dgb"),
        "{}",
        mon.stderr_str()
    );
    println!(
        "leave: node1: LVM-activate monitor (rc {}):\n{}",
        mon.code,
        mon.stderr_str()
    );
    let refusal = t.fails("node1", "M lvcreate -n lv2 -L 8m dgb");
    assert!(refusal.contains("left VG dgb"), "{refusal}");
    // node2 goes on changing the VG.
    t.ok("node2", "M lvcreate -n lv3 -L 8m dgb");
    // Pacemaker's stop on node1; the lockspace goes by itself; node2 takes the LV over.
    t.ok("node1", &agent("stop", "dgb"));
    t.lab
        .wait_for(
            "node1",
            &[&t.bins.clvmd, "status", "--json"],
            "node1 to leave lvm_dgb",
            Duration::from_secs(15),
            |o| !o.stdout_str().contains("\"name\":\"lvm_dgb\""),
        )
        .unwrap_or_else(|e| panic!("{e}; node1 log: {}", t.log("node1")));
    t.ok("node2", &agent("start", "dgb"));
    t.ok("node2", &agent("monitor", "dgb"));
    let refusal = t.fails("node1", "M vgchange --lockstart dgb");
    assert!(
        refusal.contains("left VG dgb") && refusal.contains("clvmd-rs enable dgb"),
        "{refusal}"
    );
    println!("leave: node1: vgchange --lockstart:\n{refusal}");
    println!(
        "leave: node1: clvmd-rs status:\n{}",
        t.ok("node1", "$C status")
    );
    // Back: storage fixed, enable here, lockstart.
    t.ok("node1", &format!("blockdev --setrw {db}"));
    t.ok("node1", "$C enable dgb && M vgchange --lockstart dgb");
    assert_eq!(t.lv_names("node1", "dgb"), ["lv1", "lv3"]);
    t.ok("node1", "M lvcreate -n lv4 -L 8m dgb && M vgchange -an dgb");
    t.ok("node2", &agent("stop", "dgb"));
    t.ok("node2", "M vgchange -an dgb");
    // Nothing left behind: no device of either VG, stock lvm2 reads both.
    for n in ["node1", "node2"] {
        let ls = t.ok(n, "dmsetup ls");
        assert!(!ls.contains("dga-") && !ls.contains("dgb-"), "{n}: {ls}");
        let st = t.ok(n, "$C status --json");
        assert!(st.contains("\"disabled_vgs\":[]"), "{n}: {st}");
    }
    let lvm = t.ok(
        "node2",
        &format!("lvm lvs --shared --noheadings -o vg_name,lv_name --devices {da} --devices {db}"),
    );
    assert_eq!(
        lvm.split_whitespace().collect::<Vec<_>>(),
        ["dga", "lv1", "dga", "lv3", "dgb", "lv1", "dgb", "lv3", "dgb", "lv4"],
        "{lvm}"
    );
    println!(
        "dgdisable: node1's failed commit -> disabled on node2: {} ms (host clock, incl. the \
         status command)",
        to_disabled.as_millis(),
    );
    println!("node1 log:\n{}", t.log("node1"));
    carried_detach(&t);
    println!("test {} s", t0.elapsed().as_secs());
}

/// The third phase: a peer carries the daemon's own commit. A mirror of shared VG dgc is
/// active on both nodes; node1 reaches its second PV through `flaky` (as in the leg-failure
/// lab) and loses write access to the first (`blockdev --setro`), then the second leg dies
/// there. node1's daemon cannot write the detach to any metadata copy, so node2 commits it:
/// no policy applies, both nodes reload the LV without the leg, node1's held write completes.
/// Then a command's commit from node1 is carried as well ([`carried_command`]).
fn carried_detach(t: &T) {
    let phase = Instant::now();
    let (d3, d4) = (t.disks[2].clone(), t.disks[3].clone());
    for n in ["node1", "node2"] {
        t.ok(
            n,
            "kill $(cat /run/clvmd-rs/clvmd-rs.pid); \
             for i in $(seq 50); do test -e /run/clvmd-rs/clvmd-rs.pid || break; sleep 0.2; done; \
             test ! -e /run/clvmd-rs/clvmd-rs.pid",
        );
    }
    t.lab
        .node("node1")
        .write_file(
            "/tmp/lvmsys/lvm.conf",
            LVM_CONF
                .replace(
                    r#""a|^/dev/vd|","#,
                    &format!(r#""a|^{d3}$|", "a|^/dev/mapper/flaky$|","#),
                )
                .as_bytes(),
            0o644,
        )
        .expect("lvm.conf");
    t.ok(
        "node1",
        &format!("dmsetup create flaky --table \"0 $(blockdev --getsz {d4}) linear {d4} 0\""),
    );
    // The daemon commits a detach from the disks it sees: the commands' environment.
    for n in ["node1", "node2"] {
        let script = format!(
            "export DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR=/tmp/lvmsys HALVM_CONFIG=/tmp/halvm.toml; \
             exec {} -f --node-name {n} -c /tmp/halvm.toml",
            t.bins.clvmd
        );
        t.lab
            .node(n)
            .spawn(&["sh", "-c", &script], "/tmp/clvmd.log")
            .expect("spawn clvmd-rs");
    }
    for n in ["node1", "node2"] {
        t.wait_daemon(n, 2);
    }
    let mf = |n: &str| {
        let second = if n == "node1" {
            "/dev/mapper/flaky"
        } else {
            d4.as_str()
        };
        format!(
            "MF() {{ c=$1; shift; {} \"$c\" --devices {d3} --devices {second} \"$@\"; }}; ",
            t.bins.lvmeta
        )
    };
    t.ok(
        "node1",
        &format!(
            "{}MF pvcreate {d3} /dev/mapper/flaky && MF vgcreate --shared dgc {d3} /dev/mapper/flaky \
             && MF lvcreate --type mirror -m1 --mirrorlog core -n m -L 8m dgc && MF lvchange -an dgc/m",
            mf("node1")
        ),
    );
    t.ok(
        "node2",
        &format!("{}MF vgchange --lockstart dgc", mf("node2")),
    );
    for n in ["node1", "node2"] {
        t.ok(n, &format!("{}MF lvchange -asy dgc/m", mf(n)));
    }
    for n in ["node1", "node2"] {
        t.lab
            .wait_for(
                n,
                &["dmsetup", "status", "dgc-m"],
                "mirror in sync",
                Duration::from_secs(120),
                |o| {
                    let s = o.stdout_str();
                    let f: Vec<&str> = s.split_whitespace().collect();
                    f.get(2) == Some(&"mirror")
                        && f.get(6)
                            .and_then(|r| r.split_once('/'))
                            .is_some_and(|(a, b)| a == b)
                        && s.contains(" AA ")
                },
            )
            .expect("mirror sync");
    }
    t.ok(
        "node1",
        "head -c 1048576 /dev/urandom > /tmp/data && dd if=/tmp/data of=/dev/mapper/dgc-m bs=64k oflag=direct conv=fsync status=none",
    );
    let sum = t.ok("node1", "sha256sum < /tmp/data");
    // node1 can no longer write to its first PV, and its second dies.
    t.ok(
        "node1",
        &format!(
            "set -e; blockdev --setro {d3}; n=$(blockdev --getsz /dev/mapper/flaky); \
             dmsetup suspend flaky; dmsetup load flaky --table \"0 $n error\"; dmsetup resume flaky"
        ),
    );
    t.ok(
        "node1",
        "rm -f /tmp/rc; setsid sh -c 's=$(date +%s%N); dd if=/tmp/data of=/dev/mapper/dgc-m bs=64k seek=16 oflag=direct conv=fsync status=none; echo $? $(( ($(date +%s%N) - s) / 1000000 )) > /tmp/rc' </dev/null >/dev/null 2>&1 &",
    );
    let rc = t
        .lab
        .wait_for(
            "node1",
            &["sh", "-c", "cat /tmp/rc 2>/dev/null"],
            "the held write to complete",
            Duration::from_secs(60),
            |o| !o.stdout_str().trim().is_empty(),
        )
        .unwrap_or_else(|e| panic!("{e}; log: {}", t.log("node1")));
    let rc = rc.stdout_str();
    let (code, ms) = rc.trim().split_once(' ').expect("rc and ms");
    assert_eq!(
        code,
        "0",
        "the held write failed after {ms} ms; node1 log: {}\nnode2 log: {}",
        t.log("node1"),
        t.log("node2")
    );
    let log1 = t.log("node1");
    assert!(log1.contains("carries the commit"), "{log1}");
    assert!(t.log("node2").contains("carrying node 1's detach"));
    let st = t.ok("node1", "$C status --json");
    assert!(
        st.contains("\"action\":\"detached\"") && st.contains("\"disabled_vgs\":[]"),
        "{st}"
    );
    println!(
        "carried: node1: clvmd-rs status:\n{}",
        t.ok("node1", "$C status")
    );
    for n in ["node1", "node2"] {
        t.lab
            .wait_for(
                n,
                &["dmsetup", "table", "dgc-m"],
                "dgc-m reloaded linear",
                Duration::from_secs(30),
                |o| o.stdout_str().contains(" linear "),
            )
            .unwrap_or_else(|e| panic!("{e}; {n} log: {}", t.log(n)));
        let st = t.ok(n, "$C status --json");
        assert!(st.contains("\"disabled_vgs\":[]"), "{n}: {st}");
    }
    let lvs = t.ok(
        "node2",
        &format!(
            "{}MF lvs -a --noheadings -o lv_name,segtype dgc",
            mf("node2")
        ),
    );
    assert_eq!(lvs.split_whitespace().collect::<Vec<_>>(), ["m", "linear"]);
    let sum2 = t.ok(
        "node2",
        "dd if=/dev/mapper/dgc-m bs=64k count=16 iflag=direct status=none | sha256sum; \
         dd if=/dev/mapper/dgc-m bs=64k skip=16 count=16 iflag=direct status=none | sha256sum",
    );
    assert_eq!(sum2, format!("{sum}{sum}"), "data on the remaining leg");
    carried_command(t, &d4, &mf);
    for n in ["node1", "node2"] {
        t.ok(n, &format!("{}MF lvchange -an dgc/m", mf(n)));
    }
    t.ok(
        "node1",
        &format!("blockdev --setrw {d3} && dmsetup remove flaky"),
    );
    for n in ["node1", "node2"] {
        let left = t.ok(n, "dmsetup ls");
        assert!(!left.contains("dgc-"), "{n}: {left}");
    }
    println!(
        "carried: leg failure on node1 (no metadata writable there) -> held write completed \
         after node2 committed the detach: {ms} ms (guest clock); phase {:?}",
        phase.elapsed()
    );
    println!("node1 log (carried):\n{}", t.log("node1"));
    println!("node2 log (carried):\n{}", t.log("node2"));
}

/// Within the third phase: a command's commit is carried too. flaky maps node1's second PV
/// again (the detached leg is no longer used) but read-only, as its first: node1 reads the
/// VG and can write no metadata copy. Its lvcreate hands the new metadata to its daemon,
/// node2 writes it, and the command succeeds saying so; node2 and stock lvm2 read the LV.
fn carried_command(t: &T, d4: &str, mf: &dyn Fn(&str) -> String) {
    let phase = Instant::now();
    t.ok(
        "node1",
        &format!(
            "set -e; n=$(blockdev --getsz {d4}); dmsetup suspend flaky; \
             dmsetup load flaky --table \"0 $n linear {d4} 0\"; dmsetup resume flaky; \
             blockdev --setro /dev/mapper/flaky"
        ),
    );
    let out = t.ok(
        "node1",
        &format!(
            "{}MF lvcreate -an -Zn -n carried -L 4m dgc 2>&1",
            mf("node1")
        ),
    );
    assert!(
        out.contains("node node2 (id 2) carried the commit")
            && out.contains("this node could write no metadata copy"),
        "{out}\nnode1 log: {}",
        t.log("node1")
    );
    assert!(t.log("node1").contains("node 2 carries the commit"));
    assert!(t.log("node2").contains("writing node 1's commit"));
    let lvs = t.ok(
        "node2",
        &format!("{}MF lvs --noheadings -o lv_name dgc", mf("node2")),
    );
    assert!(lvs.split_whitespace().any(|l| l == "carried"), "{lvs}");
    // Stock lvm2 reads the carried commit. No lvmlockd runs here, so its vgck refuses the
    // shared VG ("requires lvmlockd", even with --nolocking); --shared reports it.
    let lvs = t.ok("node2", "lvm lvs --shared --noheadings -o lv_name dgc");
    assert!(lvs.split_whitespace().any(|l| l == "carried"), "{lvs}");
    for n in ["node1", "node2"] {
        let st = t.ok(n, "$C status --json");
        assert!(st.contains("\"disabled_vgs\":[]"), "{n}: {st}");
    }
    t.ok("node1", "blockdev --setrw /dev/mapper/flaky");
    println!(
        "carried command: lvcreate on node1 written by node2; phase {:?}",
        phase.elapsed()
    );
}
