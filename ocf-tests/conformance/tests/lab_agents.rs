//! Lab tier: LVM-activate and clvmd on a real kernel (device-mapper and the DLM in QEMU
//! guests), driven by `ocf-tester` and by Pacemaker (pcs and crmsh) with fencing through the
//! lab's fence agent. Run as root, one at a time, everything built before the VMs boot:
//!   cargo build -p halvm-lab --bins && cargo test -p halvm-ocf-tests --no-run
//!   flock /tmp/halvm-lab.lock cargo test -p halvm-ocf-tests --test lab_agents -- --test-threads=1 --nocapture
//! The agents, lvmeta and clvmd-rs are copied to a fresh host directory that the guests reach
//! over 9p, so a rebuild never changes a binary under a running guest.

use halvm_lab::{Lab, LabConfig, Output};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Fresh copies of the binaries under test, removed on drop.
struct Bins {
    dir: PathBuf,
}

impl Bins {
    fn new() -> Bins {
        halvm_testkit::require_root();
        let dir = PathBuf::from(format!("/var/tmp/halvm-agents-lab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("bin dir");
        for (built, name) in [
            (
                env!("CARGO_BIN_EXE_halvm-ocf-tests-LVM-activate"),
                "LVM-activate",
            ),
            (env!("CARGO_BIN_EXE_halvm-ocf-tests-lvmeta"), "lvmeta"),
            (env!("CARGO_BIN_EXE_halvm-ocf-tests-clvmd"), "clvmd"),
            (env!("CARGO_BIN_EXE_halvm-ocf-tests-clvmd-rs"), "clvmd-rs"),
        ] {
            std::fs::copy(built, dir.join(name))
                .unwrap_or_else(|e| panic!("copy {built} to {}: {e}", dir.display()));
        }
        Bins { dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Bins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const AGENT: &str = "/usr/lib/ocf/resource.d/halvm/LVM-activate";
const CLVMD_AGENT: &str = "/usr/lib/ocf/resource.d/halvm/clvmd";
const HEARTBEAT: &str = "/usr/lib/ocf/resource.d/heartbeat/LVM-activate";

/// lvm2 in the guests, for resource-agents' LVM-activate: no udev, the lab's disks, system IDs
/// from the host name.
const LVM_CONF: &str = r#"devices { filter = [ "a|^/dev/vd|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { use_lvmlockd = 0 system_id_source = "uname" }
backup { backup = 0 archive = 0 }
"#;

/// The same plus a volume_list, which resource-agents' tagging mode demands (without its tag).
fn lvm_conf_tagging() -> String {
    LVM_CONF.replace(
        "monitoring = 0 }",
        "monitoring = 0 volume_list = [ \"@halvm-none\" ] }",
    )
}

/// `scan = []`: lvmeta lists /proc/partitions' devices already; scanning `/dev` (the default)
/// too makes it see every PV twice.
const HALVM_TOML: &str = "[devices]\nfilter = [\"a|^/dev/vd|\", \"r|.*|\"]\nscan = []\n";

fn start(cfg: LabConfig) -> Lab {
    Lab::start(cfg).unwrap_or_else(|e| panic!("lab did not start: {e}"))
}

fn run(lab: &Lab, node: &str, script: &str) -> Output {
    lab.node(node)
        .sh(&format!("export DM_DISABLE_UDEV=1; {script}"))
        .unwrap_or_else(|e| panic!("{node}: {e}"))
}

fn sh(lab: &Lab, node: &str, script: &str) -> String {
    let out = run(lab, node, script);
    assert!(
        out.success(),
        "{node}: `{script}` exited {}\nstdout: {}\nstderr: {}",
        out.code,
        out.stdout_str(),
        out.stderr_str()
    );
    out.stdout_str()
}

/// Installs the agent and lvmeta into the guest's root (links to the host copies, which no
/// rebuild touches; copies would cost the guest's RAM), with halvm.toml and lvm.conf.
fn install(lab: &Lab, node: &str, bins: &Bins) {
    install_with(lab, node, bins, HALVM_TOML);
}

/// [`install`] for shared VGs: halvm.toml selects the cluster lock manager (clvmd-rs).
fn install_shared(lab: &Lab, node: &str, bins: &Bins) {
    install_with(
        lab,
        node,
        bins,
        &format!("{HALVM_TOML}[locking]\nlock_manager = \"dlm\"\n"),
    );
}

fn install_with(lab: &Lab, node: &str, bins: &Bins, halvm_toml: &str) {
    let n = lab.node(node);
    n.write_file("/etc/halvm/halvm.toml", halvm_toml.as_bytes(), 0o644)
        .expect("halvm.toml");
    n.write_file("/etc/lvm/lvm.conf", LVM_CONF.as_bytes(), 0o644)
        .expect("lvm.conf");
    sh(
        lab,
        node,
        &format!(
            "set -e; mkdir -p /usr/lib/ocf/resource.d/halvm /mnt/data /run/lvm /var/log/crmsh
             ln -sf {} {AGENT}
             ln -sf {} {CLVMD_AGENT}
             ln -sf {} /usr/local/sbin/lvmeta
             modprobe ext4",
            bins.path("LVM-activate"),
            bins.path("clvmd"),
            bins.path("lvmeta")
        ),
    );
}

/// VG `vgha` on the first shared disk with `lvs` linear LVs of 8 MiB (`data` first).
fn make_vg(lab: &Lab, node: &str, lvs: usize) {
    let disk = lab.shared_disk(0);
    let mut script = format!(
        "set -e; d=$(readlink -f {disk}); lvmeta pvcreate $d >/dev/null; \
         lvmeta vgcreate -s 4m vgha $d >/dev/null; lvmeta lvcreate -an -Zn -L 64m -n data vgha >/dev/null"
    );
    for i in 1..lvs {
        script.push_str(&format!(
            "; lvmeta lvcreate -an -Zn -L 4m -n lv{i} vgha >/dev/null"
        ));
    }
    sh(lab, node, &script);
}

struct Tester {
    code: i32,
    text: String,
}

fn ocf_tester(lab: &Lab, node: &str, agent: &str, opts: &[&str]) -> Tester {
    let o: Vec<String> = opts.iter().map(|o| format!("-o {o}")).collect();
    let out = run(
        lab,
        node,
        &format!("ocf-tester -n test {} {agent} 2>&1", o.join(" ")),
    );
    Tester {
        code: out.code,
        text: out.stdout_str() + &out.stderr_str(),
    }
}

fn vg_field(lab: &Lab, node: &str, field: &str) -> String {
    sh(
        lab,
        node,
        &format!("lvmeta vgs --foreign --noheadings -o {field} vgha"),
    )
    .trim()
    .to_string()
}

/// ocf-tester passes for our agent in system_id and tagging modes on a real kernel; the
/// heartbeat agent's result on the same VG is printed for the record.
#[test]
fn lab_ocf_tester_passes_system_id_and_tagging() {
    let bins = Bins::new();
    let lab = start(LabConfig {
        nodes: 2,
        pacemaker: true,
        shared_disks: 1,
        shared_disk_mib: 128,
        ..LabConfig::default()
    });
    for n in ["node1", "node2"] {
        install(&lab, n, &bins);
    }
    make_vg(&lab, "node1", 3);

    let t = ocf_tester(
        &lab,
        "node1",
        AGENT,
        &["vgname=vgha", "vg_access_mode=system_id"],
    );
    eprintln!(
        "--- ocf-tester, ours, system_id (exit {}):\n{}",
        t.code, t.text
    );
    assert_eq!(t.code, 0, "ocf-tester failed:\n{}", t.text);
    assert!(t.text.contains("passed all tests"), "{}", t.text);
    // What the run left: the VG released, nothing active.
    assert_eq!(vg_field(&lab, "node1", "systemid"), "halvm-released");
    assert_eq!(
        sh(&lab, "node1", "dmsetup ls | grep -c '^vgha-' || true").trim(),
        "0"
    );
    // A real start on node1 makes real devices that node2 cannot take while node1 lives.
    sh(
        &lab,
        "node1",
        &format!(
            "OCF_ROOT=/usr/lib/ocf OCF_RESKEY_vgname=vgha OCF_RESKEY_vg_access_mode=system_id {AGENT} start"
        ),
    );
    assert_eq!(vg_field(&lab, "node1", "systemid"), "node1");
    let tables = sh(&lab, "node1", "dmsetup table | sort");
    assert!(tables.contains("vgha-data: 0 131072 linear"), "{tables}");
    let refused = run(
        &lab,
        "node2",
        &format!(
            "OCF_ROOT=/usr/lib/ocf OCF_RESKEY_vgname=vgha OCF_RESKEY_vg_access_mode=system_id {AGENT} start"
        ),
    );
    assert_ne!(
        refused.code,
        0,
        "node2 took a VG a live node owns: {}",
        refused.stderr_str()
    );
    assert_eq!(vg_field(&lab, "node1", "systemid"), "node1");
    sh(
        &lab,
        "node1",
        &format!(
            "OCF_ROOT=/usr/lib/ocf OCF_RESKEY_vgname=vgha OCF_RESKEY_vg_access_mode=system_id {AGENT} stop"
        ),
    );

    // Tagging mode works on a VG without a system ID (lvm2 would treat it as foreign).
    sh(
        &lab,
        "node1",
        "lvmeta vgchange --systemid '' vgha >/dev/null",
    );
    let t = ocf_tester(
        &lab,
        "node1",
        AGENT,
        &["vgname=vgha", "vg_access_mode=tagging", "tag=pacemaker"],
    );
    eprintln!(
        "--- ocf-tester, ours, tagging (exit {}):\n{}",
        t.code, t.text
    );
    assert_eq!(t.code, 0, "ocf-tester failed:\n{}", t.text);
    assert!(t.text.contains("passed all tests"), "{}", t.text);
    assert_eq!(vg_field(&lab, "node1", "tags"), "", "stop removed the tag");

    // The anchor, for the record (DESIGN.md: it is expected to fail). Its validate-all wants
    // a system_id VG to carry one already (else "vg_access_mode doesn't match the lock_type").
    sh(
        &lab,
        "node1",
        "lvmeta vgchange --systemid node1 vgha >/dev/null",
    );
    for opts in [
        &["vgname=vgha", "vg_access_mode=system_id"][..],
        &["vgname=vgha", "vg_access_mode=tagging", "tag=pacemaker"][..],
    ] {
        let conf = if opts[1].ends_with("tagging") {
            lvm_conf_tagging()
        } else {
            LVM_CONF.to_string()
        };
        lab.node("node1")
            .write_file("/etc/lvm/lvm.conf", conf.as_bytes(), 0o644)
            .expect("lvm.conf");
        let t = ocf_tester(&lab, "node1", HEARTBEAT, opts);
        eprintln!(
            "--- ocf-tester, resource-agents' LVM-activate, {} (exit {}):\n{}",
            opts[1], t.code, t.text
        );
        run(
            &lab,
            "node1",
            "lvm vgchange -q -an vgha; lvm vgchange -q --deltag pacemaker vgha",
        );
    }
}

/// Where `crm_resource --locate` says the Filesystem resource `rsc` runs, seen from
/// `observer`, once that node has it mounted (a pending start already counts as "running").
fn location(lab: &Lab, observer: &str, rsc: &str, not: Option<&str>) -> Option<String> {
    let out = run(
        lab,
        observer,
        &format!("crm_resource --locate -r {rsc} 2>/dev/null"),
    );
    let node = out
        .stdout_str()
        .lines()
        .find_map(|l| l.split("is running on: ").nth(1))
        .map(|n| n.trim().to_string())
        .filter(|n| Some(n.as_str()) != not)?;
    // The node may be the one just killed: no answer is no.
    lab.node(&node)
        .sh("grep -qs ' /mnt/data ext4 ' /proc/mounts")
        .ok()?
        .success()
        .then_some(node)
}

fn wait_location(
    lab: &Lab,
    observer: &str,
    rsc: &str,
    not: Option<&str>,
    within: Duration,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Some(n) = location(lab, observer, rsc, not) {
            return n;
        }
        if Instant::now() > deadline {
            let mon = run(lab, observer, "crm_mon -1 -r 2>&1").stdout_str();
            panic!("{rsc} not running (off {not:?}) within {within:?}:\n{mon}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Writes data on the node running the group, kills that node, and waits until the group runs
/// on a survivor: the node was fenced, the data is intact. Returns (victim, new home, time).
fn failover(
    lab: &Lab,
    fs: &str,
    observer_pref: &str,
    check: &dyn Fn(&Lab, &str),
) -> (String, String, Duration) {
    let home = wait_location(lab, observer_pref, fs, None, Duration::from_secs(180));
    // Probes on every node (the VG's creator included, whose system ID it carries) said
    // "not running": a probe's error is a failed action that makes Pacemaker stop the group
    // there and keeps a failure record until a clean-up.
    let mon = run(lab, observer_pref, "crm_mon -1 -r 2>&1").stdout_str();
    assert!(
        !mon.contains("Failed Resource Actions"),
        "the group started with failed actions:\n{mon}"
    );
    let sum = sh(
        lab,
        &home,
        "set -e; dd if=/dev/urandom of=/mnt/data/blob bs=1M count=8 2>/dev/null; \
         echo halvm > /mnt/data/hello; sync; md5sum /mnt/data/blob | cut -d' ' -f1",
    );
    let observer = lab
        .nodes()
        .into_iter()
        .find(|n| *n != home)
        .expect("a survivor");
    eprintln!("group runs on {home}; killing it");
    let fenced_before = lab.power_events().iter().filter(|e| e.node == home).count();
    let killed = Instant::now();
    lab.kill(&home).expect("kill");
    let new_home = wait_location(lab, &observer, fs, Some(&home), Duration::from_secs(240));
    let took = killed.elapsed();
    eprintln!("group moved {home} -> {new_home} in {took:?}");
    eprintln!("{}", run(lab, &new_home, "crm_mon -1 -r 2>&1").stdout_str());
    let events: Vec<String> = lab
        .power_events()
        .iter()
        .filter(|e| e.node == home)
        .map(|e| format!("{} {}", e.action, e.node))
        .collect();
    assert!(
        events.len() > fenced_before,
        "{home} was not fenced through the lab's fence agent (power events: {events:?})"
    );
    let after = sh(
        lab,
        &new_home,
        "set -e; cat /mnt/data/hello; md5sum /mnt/data/blob | cut -d' ' -f1",
    );
    assert_eq!(after, format!("halvm\n{sum}"), "data after failover");
    check(lab, &new_home);
    (home, new_home, took)
}

/// Three nodes, stonith through fence_halvm_lab: a group of ocf:halvm:LVM-activate (system_id)
/// and ocf:heartbeat:Filesystem, made with pcs, fails over when its node is killed; then the
/// same group made with `crm configure` on the same cluster (the killed node restarted).
#[test]
fn lab_pacemaker_failover_pcs_and_crm() {
    let bins = Bins::new();
    let lab = start(LabConfig {
        nodes: 3,
        pacemaker: true,
        shared_disks: 1,
        shared_disk_mib: 256,
        // corosync was OOM-killed in a 768 MiB guest running pcs, crmsh and a mounted ext4.
        memory_mib: 1024,
        ..LabConfig::default()
    });
    for n in lab.nodes() {
        install(&lab, &n, &bins);
    }
    make_vg(&lab, "node1", 1);
    sh(
        &lab,
        "node1",
        "set -e; lvmeta lvchange -ay vgha/data >/dev/null; mkfs.ext4 -q /dev/vgha/data; \
         lvmeta lvchange -an vgha/data >/dev/null",
    );
    sh(
        &lab,
        "node1",
        "set -e; pcs resource create vg ocf:halvm:LVM-activate vgname=vgha vg_access_mode=system_id \
         op monitor interval=10s timeout=60s --group g1; \
         pcs resource create fs ocf:heartbeat:Filesystem device=/dev/vgha/data directory=/mnt/data \
         fstype=ext4 op monitor interval=10s --group g1",
    );
    let owns = |lab: &Lab, node: &str| assert_eq!(vg_field(lab, node, "systemid"), node);
    let (victim, home, took) = failover(&lab, "fs", "node1", &owns);
    eprintln!("pcs: kill {victim} -> started on {home}: {took:?}");

    // crmsh: the same group, made anew, after the killed node is back.
    lab.restart(&victim).expect("restart the fenced node");
    install(&lab, &victim, &bins);
    // One call each: under TCG one pcs call can take a minute, and the guest agent gives a
    // command 120 s.
    for cmd in [
        "pcs resource disable g1 --wait=100",
        "pcs resource delete fs",
        "pcs resource delete vg",
    ] {
        sh(&lab, &home, cmd);
    }
    // The group made with resource-agents' LVM-activate, then moved to ours in place as
    // docs/admin-guide.md says ("Moving a live cluster from heartbeat's LVM-activate").
    sh(
        &lab,
        &home,
        // One transaction, so the Filesystem never exists outside its group.
        "set -e; printf '%s\n' \
         'primitive vg2 ocf:heartbeat:LVM-activate params vgname=vgha vg_access_mode=system_id op monitor interval=10s timeout=60s' \
         'primitive fs2 ocf:heartbeat:Filesystem params device=/dev/vgha/data directory=/mnt/data fstype=ext4 op monitor interval=10s' \
         'group g2 vg2 fs2' > /tmp/g2.crm; crm configure load update /tmp/g2.crm",
    );
    let t0 = Instant::now();
    move_to_halvm_in_place(&lab, &home);
    eprintln!("heartbeat -> halvm in place: {:?}", t0.elapsed());
    let (victim2, home2, took2) = failover(&lab, "fs2", &home, &owns);
    eprintln!("crm: kill {victim2} -> started on {home2}: {took2:?}");
    eprintln!(
        "failover times (kill -> Filesystem started on a survivor): pcs {took:?}, crm {took2:?}"
    );
}

/// The admin guide's move of a running group's `vg2` from ocf:heartbeat:LVM-activate to
/// ocf:halvm:LVM-activate: the halvm agent's probe by hand (0 where it runs, 7 elsewhere),
/// unmanage, the provider changed with cibadmin, refresh, manage. What an admin must see: the
/// resource Started where it was, now with the halvm agent, no failed actions, the VG still
/// owned there with its LV active, and the Filesystem never restarted (a process working in
/// it, which the Filesystem agent's stop would kill, lives on).
fn move_to_halvm_in_place(lab: &Lab, observer: &str) {
    let at = wait_location(lab, observer, "fs2", None, Duration::from_secs(180));
    let mon = settled_mon(lab, observer);
    eprintln!("--- g2 with resource-agents' LVM-activate:\n{mon}");
    assert!(
        mon.contains("ocf:heartbeat:LVM-activate"),
        "heartbeat's agent runs vg2:\n{mon}"
    );
    assert_no_failed_actions(lab, &mon, "with resource-agents' LVM-activate");
    let holder = lab
        .node(&at)
        .spawn(
            &["sh", "-c", "cd /mnt/data && exec sleep 100000"],
            "/tmp/holder.log",
        )
        .expect("a process in /mnt/data");
    let vg = [
        "vgname=vgha",
        "vg_access_mode=system_id",
        "CRM_meta_interval=0",
    ];
    for n in lab.nodes() {
        let want = if n == at { 0 } else { 7 };
        let out = agent_action(lab, &n, AGENT, "monitor", &vg);
        assert_eq!(out.code, want, "{n}: halvm's probe: {}", out.stderr_str());
    }
    for cmd in [
        "crm resource unmanage vg2",
        "cibadmin --modify --xml-text '<primitive id=\"vg2\" provider=\"halvm\"/>'",
        "crm_resource --refresh --resource vg2",
    ] {
        sh(lab, observer, cmd);
    }
    let mon = settled_mon(lab, observer);
    eprintln!("--- vg2 refreshed with ocf:halvm:LVM-activate, unmanaged:\n{mon}");
    assert_no_failed_actions(lab, &mon, "after the refresh");
    sh(lab, observer, "crm resource manage vg2");
    let mon = settled_mon(lab, observer);
    eprintln!("--- vg2 managed again:\n{mon}");
    assert_no_failed_actions(lab, &mon, "once managed by the halvm agent");
    let line = |rsc: &str| {
        mon.lines()
            .find(|l| l.contains(&format!("{rsc}\t")) || l.contains(&format!("{rsc} ")))
            .unwrap_or_else(|| panic!("{rsc} not in crm_mon:\n{mon}"))
            .to_string()
    };
    let (vg2, fs2) = (line("vg2"), line("fs2"));
    assert!(
        vg2.contains("ocf:halvm:LVM-activate") && vg2.contains(&format!("Started {at}")),
        "{vg2}\n{mon}"
    );
    assert!(fs2.contains(&format!("Started {at}")), "{fs2}\n{mon}");
    assert_eq!(vg_field(lab, &at, "systemid"), at, "ownership kept");
    assert!(
        sh(lab, &at, "dmsetup table vgha-data").contains("linear"),
        "LV still active"
    );
    assert!(
        run(lab, &at, &format!("kill -0 {holder}")).success(),
        "the Filesystem was restarted: the process in /mnt/data is gone\n{mon}"
    );
    sh(lab, &at, &format!("kill {holder}"));
}

/// The clvmd-rs log of a node (the clone's log_file), for failure messages.
fn clvmd_log(lab: &Lab, node: &str) -> String {
    run(lab, node, "tail -n 40 /tmp/clvmd.log 2>&1").stdout_str()
}

/// Runs an agent action by hand as Pacemaker would (OCF_ROOT, parameters as OCF_RESKEY_*).
fn agent_action(lab: &Lab, node: &str, agent: &str, action: &str, params: &[&str]) -> Output {
    let env: Vec<String> = params.iter().map(|p| format!("OCF_RESKEY_{p}")).collect();
    run(
        lab,
        node,
        &format!("OCF_ROOT=/usr/lib/ocf {} {agent} {action}", env.join(" ")),
    )
}

/// Issue 13 item 7 and the agents' ocf-tester runs, on one 3-node cluster with stonith:
/// ocf-tester passes for ocf:halvm:clvmd (the daemon started and stopped on the DLM) and for
/// LVM-activate with vg_access_mode=lvmlockd, exclusive and shared; an exclusive start on a
/// second node is refused naming the holder; then a clone of ocf:halvm:clvmd, a group of
/// LVM-activate (lvmlockd, exclusive) and Filesystem, and a shared activation clone: the
/// shared clone runs on all three nodes, and the group fails over when its node is killed,
/// the node fenced and the data intact.
#[test]
fn lab_shared_vg_ocf_tester_and_pacemaker_failover() {
    let bins = Bins::new();
    let lab = start(LabConfig {
        nodes: 3,
        pacemaker: true,
        shared_disks: 1,
        shared_disk_mib: 256,
        memory_mib: 1024,
        ..LabConfig::default()
    });
    for n in lab.nodes() {
        install_shared(&lab, &n, &bins);
    }
    let daemon = format!("daemon={}", bins.path("clvmd-rs"));
    let clvmd_opts = [daemon.as_str(), "log_file=/tmp/clvmd.log"];

    // ocf-tester on the clvmd agent, before any clone manages the daemon.
    let t = ocf_tester(&lab, "node1", CLVMD_AGENT, &clvmd_opts);
    eprintln!(
        "--- ocf-tester, ocf:halvm:clvmd (exit {}):\n{}",
        t.code, t.text
    );
    assert_eq!(
        t.code,
        0,
        "ocf-tester failed:\n{}\nlog:\n{}",
        t.text,
        clvmd_log(&lab, "node1")
    );
    assert!(t.text.contains("passed all tests"), "{}", t.text);
    assert!(
        !run(&lab, "node1", "pgrep -x clvmd-rs").success(),
        "the daemon is stopped after the run"
    );

    // The daemon as a clone on every node.
    sh(
        &lab,
        "node1",
        &format!(
            "set -e; pcs resource create clvmd ocf:halvm:clvmd {} \
             op monitor interval=10s timeout=60s clone interleave=true",
            clvmd_opts.join(" ")
        ),
    );
    for n in lab.nodes() {
        lab.wait_for(
            &n,
            &[&bins.path("clvmd-rs"), "status"],
            "clvmd-rs answers",
            Duration::from_secs(180),
            |o| o.success(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", clvmd_log(&lab, &n)));
    }

    // A shared VG made on node1: an LV for the group (ext4) and one for the shared clone.
    let disk = lab.shared_disk(0);
    sh(
        &lab,
        "node1",
        &format!(
            "set -e; d=$(readlink -f {disk}); lvmeta pvcreate $d >/dev/null
             lvmeta vgcreate --shared -s 4m vgha $d >/dev/null
             lvmeta lvcreate -an -Zn -L 64m -n data vgha >/dev/null
             lvmeta lvcreate -an -Zn -L 8m -n sh vgha >/dev/null
             lvmeta lvchange -aey vgha/data >/dev/null; mkfs.ext4 -q /dev/vgha/data
             lvmeta lvchange -an vgha/data >/dev/null
             lvmeta vgchange --lockstop vgha >/dev/null"
        ),
    );
    // (The agent runs below refuse a VG without lock_type dlm with exit 6.)

    // ocf-tester on LVM-activate, lvmlockd mode, exclusive then shared.
    for opts in [
        &["vgname=vgha", "lvname=data", "vg_access_mode=lvmlockd"][..],
        &[
            "vgname=vgha",
            "lvname=sh",
            "vg_access_mode=lvmlockd",
            "activation_mode=shared",
        ][..],
        &[
            "vgname=vgha",
            "lvname=sh",
            "vg_access_mode=lvmlockd",
            "activation_mode=ro",
        ][..],
    ] {
        let t = ocf_tester(&lab, "node1", AGENT, opts);
        eprintln!(
            "--- ocf-tester, LVM-activate {} (exit {}):\n{}",
            opts.join(" "),
            t.code,
            t.text
        );
        assert_eq!(
            t.code,
            0,
            "ocf-tester failed:\n{}\nlog:\n{}",
            t.text,
            clvmd_log(&lab, "node1")
        );
        assert!(t.text.contains("passed all tests"), "{}", t.text);
    }
    assert_eq!(
        sh(&lab, "node1", "dmsetup ls | grep -c '^vgha-' || true").trim(),
        "0",
        "nothing left active"
    );

    // Exclusive on node1 refuses node2 at once, naming node1; shared on two nodes works.
    let data = ["vgname=vgha", "lvname=data", "vg_access_mode=lvmlockd"];
    let out = agent_action(&lab, "node1", AGENT, "start", &data);
    assert!(out.success(), "{}", out.stderr_str());
    let t0 = Instant::now();
    let out = agent_action(&lab, "node2", AGENT, "start", &data);
    assert_eq!(out.code, 1, "{}", out.stderr_str());
    assert!(t0.elapsed() < Duration::from_secs(20), "refused at once");
    assert!(
        out.stderr_str()
            .contains("ocf-exit-reason:LV vgha/data is locked by node node1"),
        "{}",
        out.stderr_str()
    );
    assert!(agent_action(&lab, "node2", AGENT, "stop", &data).success());
    assert!(agent_action(&lab, "node1", AGENT, "stop", &data).success());

    // VxVM's modes (issue 14): ro on node1 loads a read-only table; ew on node2 is refused at
    // once naming node1 (VxVM's table), sr on node2 goes beside it.
    let vx = |mode: &'static str| {
        [
            "vgname=vgha",
            "lvname=sh",
            "vg_access_mode=lvmlockd",
            match mode {
                "ro" => "activation_mode=ro",
                "ew" => "activation_mode=ew",
                _ => "activation_mode=sr",
            },
        ]
    };
    let out = agent_action(&lab, "node1", AGENT, "start", &vx("ro"));
    assert!(out.success(), "{}", out.stderr_str());
    assert_eq!(
        sh(&lab, "node1", "blockdev --getro /dev/mapper/vgha-sh").trim(),
        "1"
    );
    let out = agent_action(&lab, "node2", AGENT, "start", &vx("ew"));
    assert_eq!(out.code, 1, "{}", out.stderr_str());
    assert!(
        out.stderr_str().contains("ocf-exit-reason:") && out.stderr_str().contains("node1"),
        "{}",
        out.stderr_str()
    );
    assert!(agent_action(&lab, "node2", AGENT, "stop", &vx("ew")).success());
    let out = agent_action(&lab, "node2", AGENT, "start", &vx("sr"));
    assert!(out.success(), "{}", out.stderr_str());
    for n in ["node2", "node1"] {
        let m = if n == "node1" { "ro" } else { "sr" };
        assert!(agent_action(&lab, n, AGENT, "stop", &vx(m)).success());
        assert!(
            !run(&lab, n, "test -e /dev/mapper/vgha-sh").success(),
            "{n}: stopped"
        );
    }
    assert_eq!(
        agent_action(
            &lab,
            "node1",
            AGENT,
            "monitor",
            &[
                "vgname=vgha",
                "lvname=data",
                "vg_access_mode=lvmlockd",
                "CRM_meta_interval=10000"
            ]
        )
        .code,
        7,
        "7 after a clean stop"
    );

    // Pacemaker: the group and the shared clone, after the daemon's clone. One pcs call per
    // command: under TCG each takes seconds, and the lab bounds one command at 120 s.
    for cmd in [
        "pcs resource create vg ocf:halvm:LVM-activate vgname=vgha lvname=data \
         vg_access_mode=lvmlockd op monitor interval=10s timeout=60s --group g1",
        "pcs resource create fs ocf:heartbeat:Filesystem device=/dev/vgha/data \
         directory=/mnt/data fstype=ext4 op monitor interval=10s --group g1",
        "pcs constraint order start clvmd-clone then g1",
        "pcs constraint colocation add g1 with clvmd-clone",
        "pcs resource create shlv ocf:halvm:LVM-activate vgname=vgha lvname=sh \
         vg_access_mode=lvmlockd activation_mode=shared op monitor interval=10s timeout=60s \
         clone interleave=true",
        "pcs constraint order start clvmd-clone then shlv-clone",
        "pcs constraint colocation add shlv-clone with clvmd-clone",
    ] {
        sh(&lab, "node1", cmd);
    }
    let shared_on = |lab: &Lab, nodes: &[String]| {
        for n in nodes {
            lab.wait_for(
                n,
                &["dmsetup", "info", "vgha-sh"],
                "shared LV active",
                Duration::from_secs(180),
                |o| o.success(),
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", run(lab, n, "crm_mon -1 -r 2>&1").stdout_str()));
        }
    };
    shared_on(&lab, &lab.nodes());
    let located = sh(&lab, "node1", "crm_resource --locate -r shlv-clone");
    assert_eq!(located.matches("is running on:").count(), 3, "{located}");

    let active_here = |lab: &Lab, node: &str| {
        let t = sh(lab, node, "dmsetup table vgha-data");
        assert!(t.contains("linear"), "{node}: {t}");
    };
    let (victim, home, took) = failover(&lab, "fs", "node1", &active_here);
    eprintln!("lvmlockd group: kill {victim} -> started on {home}: {took:?}");
    // The shared clone keeps running on the survivors.
    let survivors: Vec<String> = lab.nodes().into_iter().filter(|n| *n != victim).collect();
    shared_on(&lab, &survivors);
    // What an admin sees once the cluster settled: the fenced node's history is gone with it,
    // and the survivors' monitors (clvmd while the DLM recovered, the shared LV's, the group's)
    // failed nothing.
    let mon = settled_mon(&lab, &home);
    eprintln!("--- after the failover:\n{mon}");
    assert_no_failed_actions(&lab, &mon, "after the failover");

    // The killed node comes back (HA_RSCTMP, a tmpfs, is empty: no start markers): an admin's
    // clean-up probes it again (its agents are installed only after the boot), and the clones
    // start there without a failed action.
    lab.restart(&victim).expect("restart the fenced node");
    install_shared(&lab, &victim, &bins);
    sh(
        &lab,
        &home,
        &format!("crm_resource --cleanup --node {victim}"),
    );
    shared_on(&lab, &lab.nodes());
    let mon = settled_mon(&lab, &home);
    eprintln!("--- after {victim} rejoined:\n{mon}");
    assert_no_failed_actions(&lab, &mon, &format!("after {victim} rejoined"));
    assert!(
        mon.contains("Online: [ node1 node2 node3 ]"),
        "{victim} back online:\n{mon}"
    );
    // What an admin's grep finds: no warning or error from the agents under Pacemaker in all
    // of this (probes, starts, monitors, the failover, the rejoin); Pacemaker's
    // crm_feature_set made every action warn of an unknown parameter.
    for n in lab.nodes() {
        let w = agent_warnings(&lab, &n);
        assert!(
            w.trim().is_empty(),
            "{n}: the agents' warnings and errors:\n{w}"
        );
    }
}

/// The halvm agents' WARN and ERROR lines in a node's logs.
fn agent_warnings(lab: &Lab, node: &str) -> String {
    run(
        lab,
        node,
        "grep -rhE '(LVM-activate|clvmd)' /var/log 2>/dev/null | grep -E 'WARN|ERROR' | tail -n 200",
    )
    .stdout_str()
}

/// `crm_mon -1 -r` once Pacemaker has no action pending (`crm_resource --wait`).
fn settled_mon(lab: &Lab, node: &str) -> String {
    let w = run(lab, node, "crm_resource --wait --timeout=100s 2>&1");
    if !w.success() {
        eprintln!("crm_resource --wait: {}", w.stdout_str());
    }
    run(lab, node, "crm_mon -1 -r 2>&1").stdout_str()
}

/// No "Failed Resource Actions" in `mon`; on failure, the agents' errors from every live node's
/// Pacemaker log and the clvmd-rs logs.
fn assert_no_failed_actions(lab: &Lab, mon: &str, when: &str) {
    if !mon.contains("Failed Resource Actions") {
        return;
    }
    let mut logs = String::new();
    for n in lab.nodes() {
        if !lab.is_running(&n).unwrap_or(false) {
            continue;
        }
        logs += &format!(
            "--- {n}:\n{}\n{}",
            run(
                lab,
                &n,
                "grep -E 'LVM-activate|clvmd|Filesystem' /var/log/pacemaker/pacemaker.log \
                 | grep -E 'ERROR|WARN|error|exit-reason|not running|Result of' | tail -n 60"
            )
            .stdout_str(),
            clvmd_log(lab, &n)
        );
    }
    panic!("failed actions {when}:\n{mon}\n{logs}");
}
