//! Lab tier: real kernel in QEMU, real corosync, dlm_controld and Pacemaker.
//! Run with `cargo test -p halvm-lab lab_ -- --test-threads=1` as root.

use halvm_lab::{Lab, LabConfig, Output};
use std::time::{Duration, Instant};

fn start(cfg: LabConfig) -> Lab {
    match Lab::start(cfg) {
        Ok(lab) => lab,
        Err(e) => panic!("lab did not start: {e}"),
    }
}

fn sh(lab: &Lab, node: &str, script: &str) -> Output {
    let out = lab
        .node(node)
        .sh(script)
        .unwrap_or_else(|e| panic!("{node}: {e}"));
    assert!(
        out.success(),
        "{node}: `{script}` exited {}\nstdout: {}\nstderr: {}",
        out.code,
        out.stdout_str(),
        out.stderr_str()
    );
    out
}

fn report(what: &str, lab: &Lab) {
    let t = lab.timings();
    let rss: Vec<String> = lab
        .nodes()
        .iter()
        .map(|n| {
            format!(
                "{n} {} MiB",
                lab.qemu_rss_kib(n).ok().flatten().unwrap_or(0) / 1024
            )
        })
        .collect();
    eprintln!(
        "{what}: agents up {:?}, quorate {:?}, dlm ready {:?}, pacemaker ready {:?}; qemu RSS {}",
        t.agents_up,
        t.quorate,
        t.dlm_ready,
        t.pacemaker_ready,
        rss.join(", ")
    );
}

/// One VM: linear, striped and mirror device-mapper devices over virtio disks; data written
/// through each is read back through it and found on the underlying disks.
#[test]
fn lab_dm_linear_striped_mirror() {
    let lab = start(LabConfig {
        nodes: 1,
        cluster: false,
        shared_disks: 0,
        private_disks: 3,
        private_disk_mib: 64,
        ..LabConfig::default()
    });
    report("1 node, no cluster", &lab);
    let (a, b, c) = (
        lab.private_disk("node1", 0),
        lab.private_disk("node1", 1),
        lab.private_disk("node1", 2),
    );
    // The node's init loaded the modules, mounted configfs and made /dev/misc point at /dev.
    sh(&lab, "node1", "for m in dm_mod dm_mirror dm_raid dlm virtio_blk virtio_net; do grep -q \"^$m \" /proc/modules || { echo missing $m; exit 1; }; done
        grep -q ' /sys/kernel/config configfs ' /proc/mounts && [ \"$(readlink /dev/misc)\" = /dev ] && [ \"$(hostname)\" = node1 ]");
    // 32 MiB = 65536 sectors per device.
    sh(
        &lab,
        "node1",
        &format!(
            "set -e
         dmsetup create lab-linear --table '0 65536 linear {a} 2048'
         dmsetup create lab-striped --table '0 65536 striped 2 128 {b} 0 {c} 0'
         dmsetup create lab-mirror --table '0 32768 mirror core 1 1024 2 {b} 65536 {c} 65536'
         ls -l /dev/mapper"
        ),
    );
    let table = sh(&lab, "node1", "dmsetup table").stdout_str();
    for want in [
        "lab-linear: 0 65536 linear",
        "lab-striped: 0 65536 striped 2 128",
        "lab-mirror: 0 32768 mirror core",
    ] {
        assert!(
            table.contains(want),
            "dmsetup table lacks `{want}`:\n{table}"
        );
    }
    // Wait for the mirror to be in sync (status shows N/N regions).
    lab.wait_for(
        "node1",
        &["dmsetup", "status", "lab-mirror"],
        "mirror in sync",
        Duration::from_secs(60),
        |o| {
            o.stdout_str()
                .split_whitespace()
                .any(|w| w.split_once('/').is_some_and(|(x, y)| x == y && x != "0"))
        },
    )
    .expect("mirror sync");
    sh(&lab, "node1", "head -c 4194304 /dev/urandom > /tmp/pattern");
    for dev in ["lab-linear", "lab-striped", "lab-mirror"] {
        let out = sh(
            &lab,
            "node1",
            &format!(
                "set -e
             dd if=/tmp/pattern of=/dev/mapper/{dev} bs=1M oflag=direct status=none
             sync
             a=$(sha256sum < /tmp/pattern)
             b=$(dd if=/dev/mapper/{dev} bs=1M count=4 iflag=direct status=none | sha256sum)
             echo \"$a\"; echo \"$b\"; [ \"$a\" = \"$b\" ]"
            ),
        );
        eprintln!(
            "{dev}: read back {}",
            out.stdout_str().lines().next().unwrap_or("")
        );
    }
    // The linear device maps sector 0 to sector 2048 of disk a.
    sh(&lab, "node1", &format!(
        "[ \"$(dd if={a} bs=512 skip=2048 count=8192 iflag=direct status=none | sha256sum)\" = \"$(sha256sum < /tmp/pattern)\" ]"
    ));
    // Striped, chunk 128 sectors (64 KiB): chunk 0 on b, chunk 1 on c.
    sh(&lab, "node1", &format!(
        "[ \"$(dd if={c} bs=64k count=1 iflag=direct status=none | sha256sum)\" = \"$(dd if=/tmp/pattern bs=64k skip=1 count=1 status=none | sha256sum)\" ]"
    ));
    // Both mirror legs hold the data written last (the mirror, at sector 65536 of b and c).
    for leg in [&b, &c] {
        sh(&lab, "node1", &format!(
            "[ \"$(dd if={leg} bs=512 skip=65536 count=8192 iflag=direct status=none | sha256sum)\" = \"$(sha256sum < /tmp/pattern)\" ]"
        ));
    }
    sh(
        &lab,
        "node1",
        "dmsetup remove lab-mirror && dmsetup remove lab-striped && dmsetup remove lab-linear",
    );
    mirror_handle_errors_holds_writes_until_reload(&lab, &b, &c);
}

/// The kernel fact the fault handling builds on (issue 15): a mirror loaded with
/// `handle_errors` (as lvm2 and lvmeta load them) holds a write after a leg fails until user
/// space reloads the table without that leg (dmeventd's job in lvm2); the held write then
/// completes and lands on the surviving leg.
fn mirror_handle_errors_holds_writes_until_reload(lab: &Lab, b: &str, c: &str) {
    sh(
        lab,
        "node1",
        &format!(
            "set -e
         dmsetup create he-legA --table '0 16384 linear {b} 98304'
         dmsetup create he-legB --table '0 16384 linear {c} 98304'
         dmsetup create he-m --table '0 16384 mirror core 1 1024 2 /dev/mapper/he-legA 0 /dev/mapper/he-legB 0 1 handle_errors'"
        ),
    );
    lab.wait_for(
        "node1",
        &["dmsetup", "status", "he-m"],
        "handle_errors mirror in sync",
        Duration::from_secs(60),
        |o| o.stdout_str().contains(" 16/16 "),
    )
    .expect("mirror sync");
    // Leg B fails: its table becomes the error target.
    sh(
        lab,
        "node1",
        "set -e; dmsetup suspend he-legB; dmsetup load he-legB --table '0 16384 error'; dmsetup resume he-legB
         head -c 262144 /dev/urandom > /tmp/he-data
         setsid sh -c 'dd if=/tmp/he-data of=/dev/mapper/he-m bs=64k oflag=direct conv=fsync status=none; echo $? > /tmp/he-rc' </dev/null >/dev/null 2>&1 &",
    );
    std::thread::sleep(Duration::from_secs(8));
    let held = sh(
        lab,
        "node1",
        "cat /tmp/he-rc 2>/dev/null || echo pending; dmsetup status he-m",
    )
    .stdout_str();
    assert!(
        held.starts_with("pending"),
        "a write to a handle_errors mirror with a failed leg completed without a reload:\n{held}"
    );
    assert!(held.contains(" AD "), "leg B is not reported dead:\n{held}");
    // Reloading without the dead leg (what dmeventd's repair amounts to) releases it.
    sh(
        lab,
        "node1",
        "set -e; dmsetup suspend --noflush he-m; dmsetup load he-m --table '0 16384 linear /dev/mapper/he-legA 0'; dmsetup resume he-m",
    );
    lab.wait_for(
        "node1",
        &["cat", "/tmp/he-rc"],
        "held write completes after the reload",
        Duration::from_secs(30),
        |o| o.stdout_str().trim() == "0",
    )
    .expect("held write released");
    sh(
        lab,
        "node1",
        "set -e; [ \"$(dd if=/dev/mapper/he-legA bs=64k count=4 iflag=direct status=none | sha256sum)\" = \"$(sha256sum < /tmp/he-data)\" ]
         dmsetup remove he-m && dmsetup remove he-legA && dmsetup remove he-legB",
    );
}

/// Two nodes share a disk: a block written on node1 is read on node2, and back.
#[test]
fn lab_shared_disk_between_nodes() {
    let lab = start(LabConfig {
        nodes: 2,
        cluster: false,
        ..LabConfig::default()
    });
    let disk = lab.shared_disk(0);
    sh(
        &lab,
        "node1",
        &format!(
            "set -e; head -c 4096 /dev/urandom > /tmp/block
         dd if=/tmp/block of={disk} bs=4096 seek=77 oflag=direct conv=notrunc status=none"
        ),
    );
    let sum1 = sh(&lab, "node1", "sha256sum < /tmp/block").stdout_str();
    let sum2 = sh(
        &lab,
        "node2",
        &format!("dd if={disk} bs=4096 skip=77 count=1 iflag=direct status=none | sha256sum"),
    )
    .stdout_str();
    assert_eq!(sum1, sum2, "node2 does not read what node1 wrote");
    sh(&lab, "node2", &format!("echo written-by-node2 | dd of={disk} bs=4096 seek=78 oflag=direct conv=sync status=none"));
    let back = sh(
        &lab,
        "node1",
        &format!("dd if={disk} bs=4096 skip=78 count=1 iflag=direct status=none | tr -d '\\000'"),
    )
    .stdout_str();
    assert_eq!(back.trim(), "written-by-node2");
}

/// Two nodes join one DLM lockspace; EX held on node1 makes node2's NOQUEUE requests fail;
/// after node1 is killed and fenced (dlm_controld -> fence_halvm_lab), node2 gets the lock.
#[test]
fn lab_dlm_lock_moves_after_fencing() {
    let t0 = Instant::now();
    let lab = start(LabConfig {
        nodes: 2,
        ..LabConfig::default()
    });
    report("2 nodes", &lab);
    let ready = lab.timings().dlm_ready.expect("dlm ready time");
    eprintln!(
        "2-node cluster with DLM ready in {ready:?} (test started {:?} ago)",
        t0.elapsed()
    );

    lab.node("node1")
        .spawn(
            &["halvm-dlm-probe", "labls", "RES1", "ex", "--hold"],
            "/tmp/hold.log",
        )
        .expect("spawn holder");
    lab.wait_for(
        "node1",
        &["cat", "/tmp/hold.log"],
        "EX granted on node1",
        Duration::from_secs(60),
        |o| o.stdout_str().contains("granted RES1 ex"),
    )
    .expect("node1 holds EX");
    for mode in ["ex", "pr"] {
        let out = lab
            .node("node2")
            .run(&["halvm-dlm-probe", "labls", "RES1", mode, "--noqueue"])
            .expect("run probe");
        assert_eq!(
            out.code, 2,
            "node2 NOQUEUE {mode} should be refused: {out:?}"
        );
        assert!(out.stdout_str().contains("busy"), "{out:?}");
    }
    // An unrelated resource is free.
    let out = lab
        .node("node2")
        .run(&["halvm-dlm-probe", "labls", "RES2", "ex", "--noqueue"])
        .expect("run probe");
    assert_eq!(out.code, 0, "{out:?}");

    // The fence agent, by hand, through the lab's power service (fence-agents argv protocol).
    let list = sh(&lab, "node2", "fence_halvm_lab -o list").stdout_str();
    assert_eq!(list, "node1,\nnode2,\n");
    let st = lab
        .node("node2")
        .run(&["fence_halvm_lab", "-o", "status", "-n", "node1"])
        .expect("status");
    assert_eq!(
        (st.code, st.stdout_str().trim()),
        (0, "Status: ON"),
        "{st:?}"
    );
    sh(
        &lab,
        "node2",
        "printf 'action=monitor\\n' | fence_halvm_lab",
    );

    let killed = Instant::now();
    lab.kill("node1").expect("kill node1");
    let out = lab
        .node("node2")
        .run(&["halvm-dlm-probe", "labls", "RES1", "ex", "--timeout", "120"])
        .expect("run queued probe");
    assert_eq!(
        out.code, 0,
        "node2 should get EX after node1 is fenced: {out:?}"
    );
    eprintln!(
        "EX moved to node2 {:?} after node1 was killed",
        killed.elapsed()
    );
    let fenced = lab
        .power_events()
        .iter()
        .any(|e| e.action == "off" && e.node == "node1");
    assert!(
        fenced,
        "node1 was not fenced through fence_halvm_lab: {:?}",
        lab.power_events()
    );
    let st = lab
        .node("node2")
        .run(&["fence_halvm_lab", "-o", "status", "-n", "node1"])
        .expect("status");
    assert_eq!(
        (st.code, st.stdout_str().trim()),
        (2, "Status: OFF"),
        "{st:?}"
    );
    let status = sh(&lab, "node2", "dlm_tool status").stdout_str();
    let line = status
        .lines()
        .find(|l| l.starts_with("node 1 "))
        .unwrap_or("");
    assert!(
        line.contains(" X ") && !line.contains("fence 0 "),
        "dlm_tool status shows no fencing of node 1:\n{status}"
    );
}

fn dummy_location(lab: &Lab, observer: &str) -> Option<String> {
    let out = lab
        .node(observer)
        .run(&["crm_resource", "--locate", "--resource", "dummy"])
        .ok()?;
    out.stdout_str()
        .lines()
        .find_map(|l| l.split("is running on:").nth(1))
        .map(|n| n.trim().to_string())
}

/// Pacemaker on three nodes with ocf:pacemaker:Dummy and stonith through fence_halvm_lab:
/// the node running Dummy is killed, Pacemaker fences it, Dummy starts on a survivor.
#[test]
fn lab_pacemaker_fences_and_recovers_dummy() {
    let lab = start(LabConfig {
        nodes: 3,
        pacemaker: true,
        ..LabConfig::default()
    });
    report("3 nodes + pacemaker", &lab);
    // Pacemaker's fencer reads the agent's metadata and lists the device.
    let meta = sh(
        &lab,
        "node1",
        "stonith_admin --metadata --agent fence_halvm_lab",
    )
    .stdout_str();
    assert!(
        meta.contains("<resource-agent name=\"fence_halvm_lab\""),
        "{meta}"
    );
    lab.wait_for(
        "node1",
        &["stonith_admin", "--list-registered"],
        "fence-lab registered",
        Duration::from_secs(60),
        |o| o.stdout_str().contains("fence-lab"),
    )
    .expect("fence device registered");
    sh(&lab, "node1", "cibadmin --create --scope resources --xml-text '<primitive id=\"dummy\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations><op id=\"dummy-monitor\" name=\"monitor\" interval=\"5s\"/></operations></primitive>'");
    let deadline = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        if let Some(n) = dummy_location(&lab, "node1") {
            break n;
        }
        assert!(Instant::now() < deadline, "dummy never started");
        std::thread::sleep(Duration::from_secs(1));
    };
    let observer = if victim == "node1" { "node2" } else { "node1" };
    eprintln!("dummy runs on {victim}; killing it");
    let killed = Instant::now();
    lab.kill(&victim).expect("kill");
    let deadline = Instant::now() + Duration::from_secs(180);
    let new_home = loop {
        if let Some(n) = dummy_location(&lab, observer) {
            if n != victim {
                break n;
            }
        }
        assert!(Instant::now() < deadline, "dummy did not move off {victim}");
        std::thread::sleep(Duration::from_secs(1));
    };
    eprintln!(
        "dummy moved {victim} -> {new_home} in {:?}",
        killed.elapsed()
    );
    let history = sh(
        &lab,
        observer,
        &format!("stonith_admin --history {victim} --verbose"),
    )
    .stdout_str();
    assert!(
        history.contains("successful") || history.contains("was able to"),
        "no successful fencing of {victim} in the stonith history:\n{history}"
    );
    assert!(
        lab.power_events()
            .iter()
            .any(|e| e.action == "off" && e.node == victim),
        "power service saw no off request for {victim}: {:?}",
        lab.power_events()
    );
    assert!(
        !lab.is_running(&victim).expect("known node"),
        "{victim} still powered"
    );
}

/// Three nodes: node3 is cut off the cluster network; the majority stays quorate and fences
/// node3 (dlm_controld -> fence_halvm_lab); after heal and restart node3 rejoins.
#[test]
fn lab_partition_fences_minority_then_rejoin() {
    let lab = start(LabConfig {
        nodes: 3,
        shared_disks: 0,
        ..LabConfig::default()
    });
    report("3 nodes", &lab);
    lab.node("node3")
        .spawn(
            &["halvm-dlm-probe", "labls", "RES3", "ex", "--hold"],
            "/tmp/hold.log",
        )
        .expect("spawn holder");
    lab.wait_for(
        "node3",
        &["cat", "/tmp/hold.log"],
        "EX granted on node3",
        Duration::from_secs(60),
        |o| o.stdout_str().contains("granted"),
    )
    .expect("node3 holds EX");
    let cut = Instant::now();
    lab.partition("node3").expect("partition");
    // (node3 alone loses quorum too, but the majority fences it within seconds of noticing,
    // so its own view is not checked here.)
    lab.wait_members("node1", 2, Duration::from_secs(60))
        .expect("majority of 2");
    lab.wait_quorate(&["node1", "node2"], Duration::from_secs(30))
        .expect("majority quorate");
    // The majority fences node3 and then gets its lock (and keeps holding it).
    lab.node("node1")
        .spawn(
            &["halvm-dlm-probe", "labls", "RES3", "ex", "--hold"],
            "/tmp/hold1.log",
        )
        .expect("spawn node1 holder");
    lab.wait_for(
        "node1",
        &["cat", "/tmp/hold1.log"],
        "EX granted on node1",
        Duration::from_secs(120),
        |o| o.stdout_str().contains("granted"),
    )
    .expect("node1 gets the lock after node3 is fenced");
    eprintln!(
        "partitioned node3's lock reached node1 {:?} after the cut",
        cut.elapsed()
    );
    assert!(
        lab.power_events()
            .iter()
            .any(|e| e.action == "off" && e.node == "node3"),
        "node3 was not fenced: {:?}",
        lab.power_events()
    );
    assert!(
        !lab.is_running("node3").expect("node3"),
        "fenced node3 still runs"
    );
    lab.heal("node3").expect("heal");
    let t = Instant::now();
    lab.restart("node3").expect("restart node3");
    lab.wait_members("node1", 3, Duration::from_secs(60))
        .expect("3 members again");
    eprintln!(
        "node3 rejoined (quorate, DLM ready) {:?} after restart",
        t.elapsed()
    );
    let out = lab
        .node("node3")
        .run(&["halvm-dlm-probe", "labls", "RES3", "pr", "--noqueue"])
        .expect("probe");
    assert_eq!(
        out.code, 2,
        "node1 still holds EX, node3 must be refused: {out:?}"
    );
}
