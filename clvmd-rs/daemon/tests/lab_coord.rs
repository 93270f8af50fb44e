//! Lab tier for issue 14 (cluster-wide coordination), on one 3-node lab:
//! - item 4: an extend committed on node1 is in node2's and node3's dm tables without a
//!   command there (propagation);
//! - item 2: lvextend then lvreduce of an LV active on three nodes, a writer on each: when the
//!   command returns every node serves the new size; no write fails and each node's last
//!   acknowledged write is on the disk; data below the old size is intact; during another
//!   lvextend a sampler on every node (halvm_lab::sampler, the host's clock on a shared disk)
//!   never sees one node serve the old size after another served the new one;
//! - item 3: the resizing command killed while every node is suspended (before the commit):
//!   every node resumes with the old size; node1 killed after its commit, before the resume:
//!   node2 and node3 converge on the committed size, and node1 gets it when it returns.
//!
//! - item 4 with a mirror split: `lvconvert --splitmirrors` on node1 of a mirror active on
//!   every node: node2's and node3's tables become linear and the images go, with no command
//!   there;
//! - issue 15, at the end: node1 splits a mirror and dies after its commit, before the lock
//!   release that would announce it: node2 and node3 reload from the newer metadata anyway;
//! - item 5: node3 loses one PV of a shared VG (`Lab::unplug`): its lock start is refused
//!   naming the PV's UUID and last known device, and so is activating an LV on it; asked for
//!   explicitly (degraded lock start, partial activation) it goes; after `Lab::plug` the lock
//!   start goes without asking.
//!
//! Build first, then run as root, one lab at a time:
//!   cargo build -p lvmeta-cli -p clvmd-rs --bins
//!   flock /tmp/halvm-lab.lock cargo test -p clvmd-rs --test lab_coord -- --test-threads=1

mod lab_common;

use halvm_lab::sampler::{check_no_mix, Samples, SharedClock};
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
             M() {{ c=$1; shift; {l} \"$c\" --devices {} \"$@\"; }}; \
             N() {{ {l} \"$@\"; }}; C={};\n",
            self.disk,
            self.bins.clvmd,
            l = self.bins.lvmeta,
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
    // shared0 holds `vg` (M: --devices); shared1 and shared2 hold `vg2` (N: lvm.conf's filter,
    // every /dev/vd* the node sees); shared3 carries the host's clock for the sampler.
    let lab = Lab::start(LabConfig {
        nodes: 3,
        shared_disks: 4,
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

    // Item 2's writers: one on each node, each writing a counter into its own 4 KiB block
    // below the old size (node1 at 2 MiB, node2 at 3 MiB, node3 at 4 MiB) through the
    // extend and the reduce; a write may wait while the devices are suspended, none may fail.
    for (i, n) in nodes.iter().enumerate() {
        let seek = (2 + i) * 256;
        let script = format!(
            "i=0; while ! test -e /tmp/w.stop; do i=$((i+1)); \
             printf '%08d' $i | dd of=/dev/mapper/vg-lv1 bs=4096 seek={seek} conv=sync oflag=direct 2>/tmp/w.err \
             || {{ echo ERR $i >>/tmp/w.log; exit 1; }}; echo $i >/tmp/w.n; done; echo DONE >>/tmp/w.log"
        );
        t.ok(n, "rm -f /tmp/w.stop /tmp/w.n /tmp/w.log /tmp/w.err");
        t.lab
            .node(n)
            .spawn(&["sh", "-c", &script], "/tmp/w.out")
            .expect("spawn writer");
    }
    let written = |t: &T, n: &str| -> u64 {
        t.ok(n, "cat /tmp/w.n 2>/dev/null || echo 0")
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let advancing = |t: &T, what: &str| {
        for n in nodes {
            let before = written(t, n);
            t.lab
                .wait_for(
                    n,
                    &["cat", "/tmp/w.n"],
                    what,
                    Duration::from_secs(30),
                    |o| o.stdout_str().trim().parse::<u64>().unwrap_or(0) > before,
                )
                .unwrap_or_else(|e| {
                    panic!(
                        "{n}: writer stuck {what}: {e}; {}",
                        t.ok(n, "cat /tmp/w.log /tmp/w.err 2>&1; true")
                    )
                });
        }
    };
    advancing(&t, "before the resize");

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
    // The writers went on through both resizes, none failed, and each one's last
    // acknowledged counter is on the disk, as seen from another node.
    advancing(&t, "after the resizes");
    for (i, n) in nodes.iter().enumerate() {
        t.ok(n, "touch /tmp/w.stop");
        t.lab
            .wait_for(
                n,
                &["cat", "/tmp/w.log"],
                "writer stopped",
                Duration::from_secs(30),
                |o| o.stdout_str().contains("DONE") || o.stdout_str().contains("ERR"),
            )
            .unwrap_or_else(|e| panic!("{n}: writer did not stop: {e}"));
        let log = t.ok(n, "cat /tmp/w.log");
        assert!(
            !log.contains("ERR"),
            "{n}: a write failed: {log} {}",
            t.ok(n, "cat /tmp/w.err")
        );
        let last = written(&t, n);
        let reader = nodes[(i + 1) % nodes.len()];
        let on_disk = t.ok(
            reader,
            &format!(
                "dd if=/dev/mapper/vg-lv1 bs=4096 skip={} count=1 iflag=direct 2>/dev/null | head -c 8",
                (2 + i) * 256
            ),
        );
        assert_eq!(
            on_disk.trim().parse::<u64>().ok(),
            Some(last),
            "{n}'s last acknowledged write, read on {reader}"
        );
        eprintln!("{n}: writer acknowledged {last} writes through extend and reduce");
    }

    // Item 2's sampler ("never a mix"), fine-grained: while node1 extends again, every node
    // samples its own device in a tight loop (halvm-lab-agent sample-dm), each sample
    // bracketed by two reads of the host's clock from a shared disk (shared3), so all samples
    // are on one clock without trusting the guests' clocks. Resolution: a sample is placed
    // within [h1, h2 + staleness]; h2 - h1 is one sysfs read between two O_DIRECT virtio
    // reads, the staleness is the host writer's longest gap between two clock writes, and
    // the longest time between samples is printed (one run: ~2 ms per sample on average, gaps
    // up to 0.35 s and staleness up to 75 ms on the loaded host). A mix briefer than those
    // could be missed; a longer one cannot.
    fine_sampler(&t);
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

    mirror_split_and_missing_pv(&t);
}

fn fine_sampler(t: &T) {
    let nodes = ["node1", "node2", "node3"];
    let clock = SharedClock::start(&t.lab.shared_image(3), Duration::from_micros(250))
        .expect("shared clock");
    let clock_dev = t.lab.shared_disk(3);
    for n in nodes {
        t.ok(
            n,
            "rm -f /tmp/sample.out /tmp/sample.stop /tmp/sample.ready",
        );
        t.lab
            .node(n)
            .spawn(
                &[
                    "halvm-lab-agent",
                    "sample-dm",
                    &clock_dev,
                    "vg-lv1",
                    "/tmp/sample.out",
                    "/tmp/sample.stop",
                    "120",
                ],
                "/tmp/sample.log",
            )
            .expect("spawn sampler");
    }
    // Each sampler marks its first sample (a loaded host can delay a spawn by seconds);
    // that they ran before and after the resize is checked on their output below.
    for n in nodes {
        t.lab
            .wait_for(
                n,
                &["test", "-e", "/tmp/sample.ready"],
                "the sampler's first sample",
                Duration::from_secs(30),
                |o| o.success(),
            )
            .unwrap_or_else(|e| {
                panic!("{n}: {e}; {}", t.run(n, "cat /tmp/sample.log").stdout_str())
            });
    }
    let start = clock.now_ns();
    let t0 = Instant::now();
    t.ok("node1", "M lvextend -L 12m vg/lv1");
    let took = t0.elapsed();
    let end = clock.now_ns();
    for n in nodes {
        t.ok(n, "touch /tmp/sample.stop");
    }
    let mut seen = Vec::new();
    for n in nodes {
        let out = t
            .lab
            .wait_for(
                n,
                &["cat", "/tmp/sample.out"],
                "sampler output",
                Duration::from_secs(30),
                |o| o.success(),
            )
            .unwrap_or_else(|e| {
                panic!("{n}: {e}; {}", t.run(n, "cat /tmp/sample.log").stdout_str())
            });
        let s = Samples::parse(&out.stdout_str()).unwrap_or_else(|e| panic!("{n}: {e}"));
        let (first, last) = (s.runs.first().expect("runs"), s.runs.last().expect("runs"));
        assert!(
            first.first_h2 < start && last.last_h1 > end,
            "{n}: the sampler did not cover the resize ({start}..{end} ns): {s:?}"
        );
        assert!(
            s.runs.iter().any(|r| r.suspended),
            "{n}: no suspended sample during the resize: {s:?}"
        );
        assert_eq!((last.size, last.suspended), (12 * MIB / 512, false), "{n}");
        eprintln!(
            "sampler {n}: {} samples, {} runs, longest gap between samples {:.2} ms",
            s.samples,
            s.runs.len(),
            s.max_gap_ns as f64 / 1e6
        );
        seen.push((n.to_string(), s));
    }
    let staleness = clock.staleness_ns();
    let r = check_no_mix(&seen, 8 * MIB / 512, 12 * MIB / 512, staleness)
        .unwrap_or_else(|e| panic!("a mix of sizes: {e}\n{seen:?}"));
    eprintln!(
        "never a mix: lvextend {took:?}; last old-size sample on any node at {:.1} ms, first \
         new-size sample at {:.1} ms (resize started at 0); clock staleness <= {:.2} ms \
         ({} writes)",
        (r.last_old_ns as f64 - start as f64) / 1e6,
        (r.first_new_ns as f64 - start as f64) / 1e6,
        staleness as f64 / 1e6,
        clock.writes()
    );
    for n in nodes {
        assert_eq!(
            t.dev(n),
            (12 * MIB, false),
            "{n} after the sampled lvextend"
        );
    }
}

/// Item 4 with a mirror split, then item 5 (see the module's comment), on `vg2` over shared1
/// and shared2.
fn mirror_split_and_missing_pv(t: &T) {
    let nodes = ["node1", "node2", "node3"];
    let dev = |n: &str, k: usize| {
        t.ok(n, &format!("readlink -f {}", t.lab.shared_disk(k)))
            .trim()
            .to_string()
    };
    let (d1, d2) = (dev("node1", 1), dev("node1", 2));
    t.ok(
        "node1",
        &format!("N pvcreate {d1} {d2} && N vgcreate --shared vg2 {d1} {d2}"),
    );
    for n in ["node2", "node3"] {
        t.ok(n, "N vgchange --lockstart vg2");
    }
    t.ok(
        "node1",
        "N lvcreate --type mirror -m 1 --mirrorlog core -L 8m -n m vg2",
    );
    for n in nodes {
        t.ok(n, "N lvchange -asy vg2/m");
    }
    // The split needs the mirror in sync where it runs (a core log resyncs on activation).
    t.lab
        .wait_for(
            "node1",
            &["dmsetup", "status", "vg2-m"],
            "vg2/m in sync",
            Duration::from_secs(60),
            |o| {
                o.stdout_str().split_whitespace().any(|w| {
                    w.split_once('/')
                        .is_some_and(|(a, b)| a == b && a.parse::<u64>().is_ok())
                })
            },
        )
        .expect("mirror sync");
    for n in ["node2", "node3"] {
        let table = t.ok(n, "dmsetup table vg2-m");
        assert!(table.contains(" mirror "), "{n}: {table}");
    }
    let t0 = Instant::now();
    t.ok("node1", "N lvconvert --splitmirrors 1 -n copy vg2/m");
    let split = t0.elapsed();
    // node2 and node3 reload without a command of theirs: the commit's multicast, then their
    // own reload (not awaited by the command: a split changes no size, so it is no atomic
    // resize), within seconds even on a loaded host.
    for n in ["node2", "node3"] {
        t.lab
            .wait_for(
                n,
                &["dmsetup", "table", "vg2-m"],
                "vg2-m reloaded linear after the split",
                Duration::from_secs(20),
                |o| {
                    let s = o.stdout_str();
                    s.contains(" linear ") && !s.contains("mirror")
                },
            )
            .unwrap_or_else(|e| panic!("{n}: {e}\nclvmd log: {}", t.log(n)));
        let ls = t.ok(n, "dmsetup ls");
        assert!(!ls.contains("vg2-m_mimage"), "{n}: images left: {ls}");
    }
    eprintln!(
        "mirror split on node1: {split:?}; reflected on node2 and node3 {:?} after it began",
        t0.elapsed()
    );

    // Item 5. node3 leaves vg2, then loses shared2 (as a LUN taken from one host).
    t.ok("node1", "N lvchange -an vg2/copy");
    t.ok("node3", "N lvchange -an vg2/m && N vgchange --lockstop vg2");
    let uuid = t
        .ok("node1", &format!("N pvs --noheadings -o pv_uuid {d2}"))
        .trim()
        .to_string();
    let t0 = Instant::now();
    let msg = t.lab.unplug("node3", "shared2").expect("unplug");
    eprintln!("{msg} in {:?}", t0.elapsed());
    let refused = t.run("node3", "N vgchange --lockstart vg2");
    let err = refused.stderr_str();
    assert_eq!(refused.code, 5, "lock start without shared2: {err}");
    assert!(
        err.contains(&format!("PV {uuid} (last seen on {d2})")),
        "the refusal names the PV and its last device: {err}"
    );
    let status = t.ok("node3", "$C status");
    assert!(!status.contains("vg2"), "node3 joined vg2 anyway: {status}");
    // Asked for explicitly, node3 joins; an LV on the missing PV is refused naming it, unless
    // partial activation is asked for (the missing part is an error target).
    t.ok(
        "node3",
        "N vgchange --lockstart --activationmode degraded vg2",
    );
    let refused = t.run("node3", "N lvchange -asy vg2/copy");
    assert!(!refused.success(), "copy activated without its PV");
    assert!(
        refused.stderr_str().contains(&uuid),
        "{}",
        refused.stderr_str()
    );
    t.ok("node3", "N lvchange -asy --activationmode partial vg2/copy");
    // As lvm2: the missing PV's extents map to an error device under the LV.
    let tables = t.ok("node3", "dmsetup table");
    assert!(
        tables
            .lines()
            .any(|l| l.starts_with("vg2-copy-missing_") && l.contains(" error")),
        "partial copy: {tables}"
    );
    t.ok(
        "node3",
        "N lvchange -an vg2/copy && N vgchange --lockstop vg2",
    );
    // The disk comes back: node3 joins without asking, and activates the LV on it.
    let msg = t.lab.plug("node3", "shared2").expect("plug");
    eprintln!("{msg}");
    t.ok("node3", "N vgchange --lockstart vg2");
    t.ok("node3", "N lvchange -asy vg2/copy");
    let table = t.ok("node3", "dmsetup table vg2-copy");
    assert!(
        table.contains(" linear ") && !table.contains("error"),
        "{table}"
    );

    // Item 1, three nodes: activation modes combine over the whole cluster (the sim checks
    // every combination; these are the ones a refusal must name the right holder in).
    for n in nodes {
        t.ok(n, "N vgchange -an vg2");
    }
    let refused_by = |node: &str, mode: &str, holder: &str| {
        let o = t.run(node, &format!("N vgchange -a {mode} vg2"));
        assert!(!o.success(), "{node}: -a {mode} granted beside {holder}");
        assert!(
            o.stderr_str().contains(holder),
            "{node}: -a {mode}: {}",
            o.stderr_str()
        );
    };
    let getro = |node: &str| {
        t.ok(node, "blockdev --getro /dev/mapper/vg2-m")
            .trim()
            .to_string()
    };
    t.ok("node1", "N vgchange -a sr vg2");
    t.ok("node2", "N vgchange -a sw vg2");
    // sr (CR) admits node3's ew (PW); sw (CW) on node2 does not, nor ro (PR).
    refused_by("node3", "ew", "node2");
    refused_by("node3", "ro", "node2");
    t.ok("node3", "N vgchange -a sw vg2");
    assert_eq!(
        [getro("node1"), getro("node2"), getro("node3")],
        ["1", "0", "0"]
    );
    t.ok("node2", "N vgchange -an vg2");
    t.ok("node3", "N vgchange -an vg2");
    // With only sr left on node1, ew is granted; ro beside it is refused naming its holder.
    t.ok("node3", "N vgchange -a ew vg2");
    refused_by("node2", "ro", "node3");
    refused_by("node2", "sw", "node3");
    t.ok("node2", "N vgchange -a sr vg2");
    assert_eq!(
        [getro("node1"), getro("node2"), getro("node3")],
        ["1", "1", "0"]
    );
    for n in nodes {
        t.ok(n, "N vgchange -an vg2");
    }
    split_then_death(t);
}

/// Issue 15, last: node1 splits a mirror active on every node and dies after its commit,
/// before its VG lock release (which announces a commit): node2 and node3 find the metadata
/// on disk newer than their tables once the DLM recovered node1's lock, and reload: the
/// split-off leg leaves their mirror. Last in the lab: node1 does not come back.
fn split_then_death(t: &T) {
    t.ok(
        "node1",
        "rm -f /tmp/pause; N lvcreate --type mirror -m 1 --mirrorlog core -L 8m -n m3 vg2",
    );
    for n in ["node1", "node2", "node3"] {
        t.ok(n, "N lvchange -asy vg2/m3");
    }
    t.lab
        .wait_for(
            "node1",
            &["dmsetup", "status", "vg2-m3"],
            "vg2/m3 in sync",
            Duration::from_secs(60),
            |o| {
                o.stdout_str().split_whitespace().any(|w| {
                    w.split_once('/')
                        .is_some_and(|(a, b)| a == b && a.parse::<u64>().is_ok())
                })
            },
        )
        .expect("mirror sync");
    t.paused(
        "node1",
        "after-commit",
        "N lvconvert --splitmirrors 1 -n copy3 vg2/m3",
    );
    for n in ["node2", "node3"] {
        let table = t.ok(n, "dmsetup table vg2-m3");
        assert!(table.contains(" mirror "), "{n} before the death: {table}");
    }
    let killed = Instant::now();
    t.lab.kill("node1").expect("kill node1");
    for n in ["node2", "node3"] {
        t.lab
            .wait_for(
                n,
                &["dmsetup", "table", "vg2-m3"],
                "vg2-m3 reloaded linear after node1 died",
                Duration::from_secs(60),
                |o| {
                    let s = o.stdout_str();
                    s.contains(" linear ") && !s.contains("mirror")
                },
            )
            .unwrap_or_else(|e| panic!("{n}: {e}\nclvmd log: {}", t.log(n)));
        let ls = t.ok(n, "dmsetup ls");
        assert!(!ls.contains("vg2-m3_mimage"), "{n}: images left: {ls}");
    }
    let took = killed.elapsed();
    let status = t.ok("node2", "$C status");
    assert!(
        status.contains("refreshed vg2/m3 from seqno") && status.contains("after node1 left"),
        "{status}"
    );
    eprintln!(
        "split on node1, node1 killed after its commit -> node2 and node3 reloaded: {took:?}\n\
         node2 status:\n{status}"
    );
}

/// Item 1 on two nodes: VxVM activation modes through
/// `lvmeta vgchange -a`, conflicts naming the holder, read-only tables refusing writes, a
/// change of mode, all 16 cells of the conflict table node against node, and halvm.toml's
/// default mode applied at lock start.
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

    // All 16 cells, node against node: node1 holds `held`, node2 asks for `asked`. The
    // table is DESIGN.md's (VxVM's), which the DLM modes make exact (ew=PW, ro=PR, sr=CR,
    // sw=CW); a refusal names node1; a granted ro/sr is read-only on node2.
    t.ok("node1", "M vgchange -an vg");
    t.ok("node2", "M vgchange -an vg");
    let modes = ["ew", "ro", "sr", "sw"];
    let compatible = |a: &str, b: &str| {
        matches!(
            (a, b),
            ("ew", "sr")
                | ("sr", "ew")
                | ("ro", "ro")
                | ("ro", "sr")
                | ("sr", "ro")
                | ("sr", "sr")
                | ("sr", "sw")
                | ("sw", "sr")
                | ("sw", "sw")
        )
    };
    for held in modes {
        t.ok("node1", &format!("M vgchange -a {held} vg"));
        for asked in modes {
            let script = format!("M vgchange -a {asked} vg");
            if compatible(held, asked) {
                t.ok("node2", &script);
                let ro = t.ok("node2", "blockdev --getro /dev/mapper/vg-lv1");
                let want = if matches!(asked, "ro" | "sr") {
                    "1"
                } else {
                    "0"
                };
                assert_eq!(ro.trim(), want, "{held} on node1, {asked} on node2");
                t.ok("node2", "M vgchange -an vg && ! test -e /dev/mapper/vg-lv1");
            } else {
                let err = fails("node2", &script);
                assert!(
                    err.contains("node1"),
                    "{held} on node1, {asked} on node2: {err}"
                );
                assert!(
                    t.run("node2", "test -e /dev/mapper/vg-lv1").code != 0,
                    "{held} on node1, {asked} refused on node2 but a device is there"
                );
            }
        }
        t.ok("node1", "M vgchange -an vg");
    }

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
