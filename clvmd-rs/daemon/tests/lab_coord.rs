//! Lab tier for issue 14 (cluster-wide coordination), on one 3-node lab:
//! - item 4: an extend committed on node1 is in node2's and node3's dm tables without a
//!   command there (propagation);
//! - item 2: lvextend then lvreduce of an LV active on three nodes: when the command returns
//!   every node serves the new size; data below the old size is intact;
//! - item 3: the resizing command killed while every node is suspended (before the commit):
//!   every node resumes with the old size; node1 killed after its commit, before the resume:
//!   node2 and node3 converge on the committed size, and node1 gets it when it returns.
//!
//! Build first, then run as root, one lab at a time:
//!   cargo build -p lvmeta-cli -p clvmd-rs --bins
//!   flock /tmp/halvm-lab.lock cargo test -p clvmd-rs --test lab_coord -- --test-threads=1

mod lab_common;

use halvm_lab::{Lab, LabConfig, Output};
use lab_common::{Bins, HALVM_TOML, LVM_CONF};
use std::time::{Duration, Instant};

const ENV: &str = "DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR=/tmp/lvmsys HALVM_CONFIG=/tmp/halvm.toml";
const MIB: u64 = 1024 * 1024;

struct T {
    lab: Lab,
    bins: Bins,
    disk: String,
}

impl T {
    fn configure(&self, node: &str) {
        let n = self.lab.node(node);
        n.write_file("/tmp/lvmsys/lvm.conf", LVM_CONF.as_bytes(), 0o644)
            .expect("lvm.conf");
        n.write_file("/tmp/halvm.toml", HALVM_TOML.as_bytes(), 0o644)
            .expect("halvm.toml");
    }

    fn pre(&self) -> String {
        format!(
            "export {ENV}; mkdir -p /run/lvm /tmp/halvm-lock; \
             M() {{ c=$1; shift; {} \"$c\" --devices {} \"$@\"; }}; C={};\n",
            self.bins.lvmeta, self.disk, self.bins.clvmd
        )
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
            "{node}: `{script}` exited {}\nstdout: {}\nstderr: {}\nclvmd log: {}",
            out.code,
            out.stdout_str(),
            out.stderr_str(),
            self.log(node)
        );
        out.stdout_str()
    }

    /// The daemon, with the same lvm.conf as the commands (it plans tables from the disks).
    fn spawn_daemon(&self, node: &str) {
        let script = format!(
            "export {ENV}; exec {} -f --node-name {node}",
            self.bins.clvmd
        );
        self.lab
            .node(node)
            .spawn(&["sh", "-c", &script], "/tmp/clvmd.log")
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
        self.lab
            .node(node)
            .sh("cat /tmp/clvmd.log")
            .map(|o| o.stdout_str())
            .unwrap_or_default()
    }

    /// (size in bytes, suspended) of /dev/mapper/vg-lv1 as the node's kernel has it.
    fn dev(&self, node: &str) -> (u64, bool) {
        let out = self.ok(
            node,
            "blockdev --getsize64 /dev/mapper/vg-lv1; dmsetup info vg-lv1 | grep '^State'",
        );
        let mut lines = out.lines();
        let size = lines.next().unwrap_or("").trim().parse().expect("size");
        let state = lines.next().unwrap_or("");
        (size, state.contains("SUSPENDED"))
    }

    fn wait_dev(&self, node: &str, want: (u64, bool), what: &str) -> Duration {
        let t0 = Instant::now();
        loop {
            let got = self.dev(node);
            if got == want {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "{node}: {what}: device is {got:?}, want {want:?}\nclvmd log: {}",
                self.log(node)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `script` in the background on `node` with the resize paused at `phase`, and waits
    /// until the pause is reached; returns the paused command's pid.
    fn paused(&self, node: &str, phase: &str, script: &str) -> u32 {
        let full = format!(
            "{}export HALVM_TEST_PAUSE={phase}:/tmp/pause; {script}; echo EXIT $?",
            self.pre()
        );
        self.lab
            .node(node)
            .spawn(&["sh", "-c", &full], "/tmp/paused.log")
            .expect("spawn paused resize");
        let out = self
            .lab
            .wait_for(
                node,
                &["cat", "/tmp/pause"],
                "resize paused",
                Duration::from_secs(60),
                |o| o.success() && o.stdout_str().starts_with(phase),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "{e}; {}; clvmd log: {}",
                    self.run(node, "cat /tmp/paused.log").stdout_str(),
                    self.log(node)
                )
            });
        out.stdout_str()
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("pid in the pause file")
    }
}

#[test]
fn lab_coord_propagation_atomic_resize_and_failures() {
    halvm_testkit::require_root();
    let bins = Bins::new("coord");
    let lab = Lab::start(LabConfig {
        nodes: 3,
        shared_disks: 1,
        shared_disk_mib: 256,
        private_disks: 0,
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("lab did not start: {e}"));
    let mut t = T {
        lab,
        bins,
        disk: String::new(),
    };
    let by_id = t.lab.shared_disk(0);
    let nodes = ["node1", "node2", "node3"];
    for n in nodes {
        t.configure(n);
    }
    t.disk = t
        .ok("node1", &format!("readlink -f {by_id}"))
        .trim()
        .to_string();
    for n in nodes {
        t.spawn_daemon(n);
    }
    for n in nodes {
        t.wait_daemon(n, 3);
    }
    t.ok(
        "node1",
        &format!("M pvcreate {d} && M vgcreate --shared vg {d}", d = t.disk),
    );
    for n in ["node2", "node3"] {
        t.ok(n, "M vgchange --lockstart vg");
    }
    t.ok("node1", "M lvcreate -n lv1 -L 8m vg");
    for n in nodes {
        t.ok(n, "M lvchange -asy vg/lv1");
        assert_eq!(t.dev(n), (8 * MIB, false), "{n}");
    }
    // Data below the old size, to check after every resize.
    t.ok(
        "node1",
        "dd if=/dev/urandom of=/tmp/pat bs=1M count=1 2>/dev/null && \
         dd if=/tmp/pat of=/dev/mapper/vg-lv1 bs=1M oflag=direct 2>/dev/null && md5sum </tmp/pat >/tmp/pat.md5",
    );
    let md5 = t.ok("node1", "cat /tmp/pat.md5");
    let intact = |t: &T, n: &str| {
        let got = t.ok(
            n,
            "dd if=/dev/mapper/vg-lv1 bs=1M count=1 iflag=direct 2>/dev/null | md5sum",
        );
        assert_eq!(got, md5, "{n}: data below the old size changed");
    };

    // Items 2 and 4: lvextend on node1; when it returns every node serves the new size (the
    // others without any command of theirs).
    let t0 = Instant::now();
    t.ok("node1", "M lvextend -L 16m vg/lv1");
    let extend = t0.elapsed();
    for n in nodes {
        assert_eq!(t.dev(n), (16 * MIB, false), "{n} after lvextend returned");
        intact(&t, n);
    }
    let table = t.ok("node3", "dmsetup table vg-lv1");
    assert!(
        table.contains(&format!("0 {} linear", 16 * MIB / 512)),
        "{table}"
    );
    eprintln!("lvextend of an LV active on 3 nodes: {extend:?}");
    let t0 = Instant::now();
    t.ok("node2", "M lvreduce -f -L 8m vg/lv1");
    let reduce = t0.elapsed();
    for n in nodes {
        assert_eq!(t.dev(n), (8 * MIB, false), "{n} after lvreduce returned");
        intact(&t, n);
    }
    eprintln!("lvreduce of an LV active on 3 nodes: {reduce:?}");

    // Item 2's sampler: while node1 extends again, the host samples node2's and node3's
    // device (size, suspended) through the lab's control channel, one clock for all samples.
    // No unsuspended old size may be seen after an unsuspended new size was seen elsewhere.
    t.ok("node1", "rm -f /tmp/resize.done");
    let script = format!(
        "{}M lvextend -L 12m vg/lv1; echo $? > /tmp/resize.done",
        t.pre()
    );
    t.lab
        .node("node1")
        .spawn(&["sh", "-c", &script], "/tmp/resize.log")
        .expect("spawn lvextend");
    let mut samples: Vec<(Instant, Instant, &str, u64, bool)> = Vec::new();
    let t0 = Instant::now();
    loop {
        for n in ["node2", "node3"] {
            let a = Instant::now();
            let (size, susp) = t.dev(n);
            samples.push((a, Instant::now(), n, size, susp));
        }
        let done = t.run("node1", "cat /tmp/resize.done");
        if done.success() {
            assert_eq!(done.stdout_str().trim(), "0", "lvextend failed");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "lvextend did not return"
        );
    }
    for n in nodes {
        assert_eq!(
            t.dev(n),
            (12 * MIB, false),
            "{n} after the sampled lvextend"
        );
    }
    let serving = |s: &&(Instant, Instant, &str, u64, bool)| !s.4;
    for new in samples.iter().filter(serving).filter(|s| s.3 == 12 * MIB) {
        for old in samples.iter().filter(serving).filter(|s| s.3 == 8 * MIB) {
            assert!(
                old.0 <= new.1 || old.2 == new.2,
                "{} served the old size after {} served the new one",
                old.2,
                new.2
            );
        }
    }
    let suspended = samples.iter().filter(|s| s.4).count();
    eprintln!(
        "sampler: {} samples on node2/node3 during lvextend, {suspended} while suspended",
        samples.len()
    );
    t.ok("node1", "M lvreduce -f -L 8m vg/lv1");

    // Item 3a: the command dies while every node is suspended, before its commit: all
    // resume with the old size.
    let pid = t.paused("node2", "before-commit", "M lvextend -L 24m vg/lv1");
    for n in nodes {
        assert_eq!(
            t.dev(n),
            (8 * MIB, true),
            "{n}: suspended before the commit"
        );
    }
    t.ok("node2", &format!("kill -9 {pid}; rm -f /tmp/pause"));
    for n in nodes {
        let d = t.wait_dev(n, (8 * MIB, false), "rolled back after the command died");
        eprintln!("{n}: resumed {d:?} after the resizing command was killed");
        intact(&t, n);
    }
    assert!(t
        .ok("node1", "M lvs --noheadings -o lv_size --units m vg/lv1")
        .contains("8.00m"));

    // Item 3b: node1 dies after its commit, before phase 2: node2 and node3 converge on the
    // committed size; node1 gets it when it returns.
    t.paused("node1", "after-commit", "M lvextend -L 24m vg/lv1");
    for n in ["node2", "node3"] {
        assert_eq!(
            t.dev(n),
            (8 * MIB, true),
            "{n}: suspended while node1 commits"
        );
    }
    let killed = Instant::now();
    t.lab.kill("node1").expect("kill node1");
    for n in ["node2", "node3"] {
        t.wait_dev(n, (24 * MIB, false), "rolled forward after node1 died");
        intact(&t, n);
    }
    eprintln!(
        "node1 killed mid-resize -> survivors on the committed size: {:?}",
        killed.elapsed()
    );
    t.lab.restart("node1").expect("restart node1");
    t.configure("node1");
    t.spawn_daemon("node1");
    t.wait_daemon("node1", 3);
    t.ok(
        "node1",
        "M vgchange --lockstart vg && M lvchange -asy vg/lv1",
    );
    assert_eq!(t.dev("node1"), (24 * MIB, false), "node1 returned");
    intact(&t, "node1");
}

/// Item 1 (a representative subset on two nodes): VxVM activation modes through
/// `lvmeta vgchange -a`, conflicts naming the holder, read-only tables refusing writes, a
/// change of mode, and halvm.toml's default mode applied at lock start.
#[test]
fn lab_coord_activation_modes() {
    halvm_testkit::require_root();
    let bins = Bins::new("coord");
    let lab = Lab::start(LabConfig {
        nodes: 2,
        shared_disks: 1,
        shared_disk_mib: 128,
        private_disks: 0,
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("lab did not start: {e}"));
    let mut t = T {
        lab,
        bins,
        disk: String::new(),
    };
    let by_id = t.lab.shared_disk(0);
    for n in ["node1", "node2"] {
        t.configure(n);
    }
    t.disk = t
        .ok("node1", &format!("readlink -f {by_id}"))
        .trim()
        .to_string();
    for n in ["node1", "node2"] {
        t.spawn_daemon(n);
    }
    for n in ["node1", "node2"] {
        t.wait_daemon(n, 2);
    }
    t.ok(
        "node1",
        &format!(
            "M pvcreate {d} && M vgcreate --shared vg {d} && M lvcreate -n lv1 -L 8m vg",
            d = t.disk
        ),
    );
    t.ok("node2", "M vgchange --lockstart vg");
    let fails = |node: &str, script: &str| -> String {
        let o = t.run(node, script);
        assert!(
            !o.success(),
            "{node}: `{script}` should fail: {}",
            o.stdout_str()
        );
        o.stderr_str()
    };
    let write = "dd if=/dev/zero of=/dev/mapper/vg-lv1 bs=4k count=1 oflag=direct";

    // ew on node1: node2's ew, ro and sw are refused naming node1; sr is allowed, read-only.
    t.ok("node1", &format!("M vgchange -a ew vg && {write}"));
    for m in ["ew", "ro", "sw", "exclusive-write"] {
        let err = fails("node2", &format!("M vgchange -a {m} vg"));
        assert!(err.contains("node1"), "{m}: {err}");
    }
    t.ok("node2", "M vgchange -a shared-read vg");
    assert_eq!(
        t.ok("node2", "blockdev --getro /dev/mapper/vg-lv1").trim(),
        "1"
    );
    let err = fails("node2", write);
    assert!(
        err.contains("Read-only")
            || err.contains("Operation not permitted")
            || err.contains("Permission denied"),
        "write on sr: {err}"
    );
    assert_eq!(
        t.ok("node1", "blockdev --getro /dev/mapper/vg-lv1").trim(),
        "0"
    );

    // node1 off; both ro; then nobody may write (sw refused on node1, naming node2).
    t.ok("node1", "M vgchange -an vg && ! test -e /dev/mapper/vg-lv1");
    t.ok("node2", "M vgchange -a ro vg");
    t.ok("node1", "M vgchange -a ro vg");
    let err = fails("node1", write);
    assert!(
        err.contains("Read-only")
            || err.contains("Operation not permitted")
            || err.contains("Permission denied"),
        "write on ro: {err}"
    );
    let err = fails("node1", "M vgchange -a sw vg");
    assert!(err.contains("node2"), "{err}");

    // halvm.toml's default mode, applied when node2 joins the VG again.
    t.ok("node2", "M vgchange -an vg && M vgchange --lockstop vg");
    let toml = format!("{HALVM_TOML}[activation]\ndefault_mode = \"shared-read\"\n");
    t.lab
        .node("node2")
        .write_file("/tmp/halvm.toml", toml.as_bytes(), 0o644)
        .expect("halvm.toml");
    let out = t.ok("node2", "M vgchange --lockstart vg");
    assert!(out.contains("shared-read"), "{out}");
    assert_eq!(
        t.ok("node2", "blockdev --getro /dev/mapper/vg-lv1").trim(),
        "1"
    );
}
