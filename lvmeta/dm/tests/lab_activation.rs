//! Lab tier: activation on a real kernel, with stock lvm2 as the oracle.
//! Run as root with `cargo build --workspace --bins && cargo test -p lvmeta-dm --test
//! lab_activation -- --test-threads=1`. The `lvmeta` and `LVM-activate` binaries are copied to a
//! fresh path before the VM boots (the guests run them over 9p; a rebuild under them would
//! crash them).

#[path = "../../cli/tests/twins/report.rs"]
mod report;

use halvm_lab::{Lab, LabConfig, Output};
use lvmeta_activate::{plan_lv, DevNum, DevRef, PlanOptions, PvDevices};
use lvmeta_model::VolumeGroup;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The lvmeta and LVM-activate binaries beside this test's target directory, copied where no
/// rebuild touches them.
struct Bin {
    dir: PathBuf,
    path: String,
    agent: String,
}

impl Bin {
    fn new() -> Bin {
        let exe = std::env::current_exe().expect("current_exe");
        let target = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target dir")
            .to_path_buf();
        let dir = PathBuf::from(format!(
            "/var/tmp/halvm-activate-bin-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("bin dir");
        let copy = |name: &str| {
            let built = target.join(name);
            assert!(
                built.exists(),
                "missing prerequisite: {} (build it first: cargo build --workspace --bins)",
                built.display()
            );
            let path = dir.join(name);
            std::fs::copy(&built, &path).unwrap_or_else(|e| panic!("copy {name}: {e}"));
            path.display().to_string()
        };
        Bin {
            path: copy("lvmeta"),
            agent: copy("LVM-activate"),
            dir,
        }
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct T {
    lab: Lab,
    _bin: Bin,
    /// Shell prelude: $LVMETA, $LVM, $DEVS.
    pre: String,
    disks: Vec<String>,
}

const LVM_CONF: &str = r#"devices { filter = [ "a|^/dev/vd|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { use_lvmlockd = 0 }
backup { backup = 0 archive = 0 }
"#;

fn start(disks: usize) -> T {
    halvm_testkit::require_root();
    let bin = Bin::new();
    let lab = Lab::start(LabConfig {
        nodes: 1,
        cluster: false,
        shared_disks: 0,
        private_disks: disks,
        private_disk_mib: 64,
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("lab did not start: {e}"));
    let mut t = T {
        lab,
        pre: String::new(),
        disks: Vec::new(),
        _bin: bin,
    };
    let devs: Vec<String> = (0..disks)
        .map(|k| {
            let p = t.lab.private_disk("node1", k);
            t.sh(&format!("readlink -f {p}")).trim().to_string()
        })
        .collect();
    t.lab
        .node("node1")
        .write_file("/tmp/lvmsys/lvm.conf", LVM_CONF.as_bytes(), 0o644)
        .expect("lvm.conf");
    t.pre = format!(
        "export DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR=/tmp/lvmsys; mkdir -p /run/lvm /tmp/halvm-lock; \
         M() {{ c=$1; shift; {} \"$c\" --lock-dir /tmp/halvm-lock --devices {} \"$@\"; }}; \
         LVMETA=M; LVM=lvm; DEVS='{}';\n",
        t._bin.path,
        devs.join(","),
        devs.join(" ")
    );
    t.disks = devs;
    t
}

impl T {
    fn run(&self, script: &str) -> Output {
        let s = format!("{}{script}", self.pre);
        self.lab
            .node("node1")
            .sh(&s)
            .unwrap_or_else(|e| panic!("node1: {e}"))
    }

    fn sh(&self, script: &str) -> String {
        let out = self.run(script);
        assert!(
            out.success(),
            "`{script}` exited {}\nstdout: {}\nstderr: {}",
            out.code,
            out.stdout_str(),
            out.stderr_str()
        );
        out.stdout_str()
    }

    /// Runs a script that must fail; returns its stderr.
    fn fails(&self, script: &str) -> String {
        let out = self.run(script);
        assert!(
            !out.success(),
            "`{script}` succeeded but should have failed\nstdout: {}",
            out.stdout_str()
        );
        out.stderr_str() + &out.stdout_str()
    }

    /// `name: table` of every dm device whose name starts with `prefix`, with dm device numbers
    /// written as the names of those devices (minors differ from one activation to the next).
    fn dm_state(&self, prefix: &str) -> BTreeMap<String, String> {
        let info = self.sh("dmsetup info -c --noheadings --separator ' ' -o name,uuid,major,minor");
        let mut num_to_name = BTreeMap::new();
        let mut uuids = BTreeMap::new();
        for l in info.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() == 4 {
                num_to_name.insert(format!("{}:{}", f[2], f[3]), f[0].to_string());
                uuids.insert(f[0].to_string(), f[1].to_string());
            }
        }
        let table = self.sh("dmsetup table");
        let mut out = BTreeMap::new();
        for l in table.lines() {
            let Some((name, rest)) = l.split_once(": ") else {
                continue;
            };
            if !name.starts_with(prefix) {
                continue;
            }
            let norm: Vec<String> = rest
                .split_whitespace()
                .map(|w| {
                    num_to_name
                        .get(w)
                        .map(|n| format!("<{n}>"))
                        .unwrap_or_else(|| w.to_string())
                })
                .collect();
            let e = out
                .entry(format!(
                    "{name} {}",
                    uuids.get(name).cloned().unwrap_or_default()
                ))
                .or_insert_with(String::new);
            e.push_str(&norm.join(" "));
            e.push('\n');
        }
        out
    }

    /// The planner's devices for `vg/lv`, in the same form as [`T::dm_state`], from the VG's
    /// metadata as lvmeta reads it and the PVs' device numbers in the guest.
    fn planned(
        &self,
        vg: &str,
        lv: &str,
        opts: &PlanOptions,
        missing: &[&str],
    ) -> BTreeMap<String, String> {
        let text = self.sh(&format!(
            "$LVMETA vgcfgbackup -f /tmp/plan-{vg}.txt {vg} >/dev/null && cat /tmp/plan-{vg}.txt"
        ));
        let model =
            VolumeGroup::from_metadata(&lvmeta_text::parse(&text).expect("parse")).expect("model");
        let mut pvs = PvDevices::new();
        for pv in &model.pvs {
            let dev = pv.device.clone().unwrap_or_default();
            if missing.contains(&dev.as_str()) {
                continue;
            }
            let st = self.sh(&format!("stat -L -c '%t %T' {dev}"));
            let f: Vec<u32> = st
                .split_whitespace()
                .map(|x| u32::from_str_radix(x, 16).unwrap())
                .collect();
            pvs.insert(
                pv.name.clone(),
                DevNum {
                    major: f[0],
                    minor: f[1],
                },
            );
        }
        let plan = plan_lv(&model, lv, &pvs, opts).expect("plan");
        let mut out = BTreeMap::new();
        for d in &plan.devices {
            let mut s = String::new();
            for l in &d.table {
                let line = l.render_with(|r| match r {
                    DevRef::Block(n) => n.to_string(),
                    DevRef::Dm(u) => format!("<{}>", plan.device(u).expect("dep").name),
                    DevRef::Absent => "-".into(),
                });
                s.push_str(&line.split_whitespace().collect::<Vec<_>>().join(" "));
                s.push('\n');
            }
            out.insert(format!("{} {}", d.name, d.uuid), s);
        }
        out
    }

    fn wait_synced(&self, vg: &str, lv: &str) -> Duration {
        let t0 = Instant::now();
        loop {
            let o = self.sh(&format!(
                "$LVMETA lvs --noheadings -o copy_percent {vg}/{lv}"
            ));
            let v: f64 = o.trim().parse().unwrap_or(-1.0);
            if v >= 100.0 {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "{vg}/{lv} not in sync after 300 s: {o}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn assert_same(what: &str, a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) {
    assert!(!a.is_empty(), "{what}: no devices");
    assert_eq!(a, b, "{what}: device sets differ");
}

/// Writes 1 MiB of a fresh pattern at `off_mib` of the device; returns its sha256.
fn write_pattern(t: &T, dev: &str, off_mib: u64, tag: &str) -> String {
    t.sh(&format!(
        "set -e; head -c 1048576 /dev/urandom > /tmp/p-{tag}; \
         dd if=/tmp/p-{tag} of={dev} bs=1M seek={off_mib} oflag=direct conv=notrunc status=none; \
         sha256sum < /tmp/p-{tag} | cut -d' ' -f1"
    ))
    .trim()
    .to_string()
}

fn read_sum(t: &T, dev: &str, off_mib: u64) -> String {
    t.sh(&format!(
        "dd if={dev} bs=1M skip={off_mib} count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1"
    ))
    .trim()
    .to_string()
}

/// linear, striped, mirror and raid1 LVs made by lvm2: the devices lvmeta's planner makes and
/// lvmeta activates are identical (names, UUIDs, tables) to lvm2's; data written through either
/// reads back through the other; mirror and raid1 resync reaches 100 %.
#[test]
fn lab_activation_matches_lvm2_and_keeps_data() {
    let t = start(4);
    t.sh(
        "set -e; for d in $DEVS; do $LVM pvcreate -q $d; done; $LVM vgcreate -q -s 4m vg-lab $DEVS;
          $LVM lvcreate -q -an -Zn -y -L 8m -n lin vg-lab;
          $LVM lvcreate -q -an -Zn -y -L 4m -n lin vg-lab 2>/dev/null || true;
          $LVM lvcreate -q -an -Zn -y -i 2 -I 64k -L 8m -n str-ipe vg-lab;
          $LVM lvextend -q -L 12m vg-lab/lin;
          $LVM lvcreate -q -y --type mirror -m 1 --mirrorlog core -L 8m -n mir vg-lab;
          $LVM lvcreate -q -y --type raid1 -m 1 -L 8m -n r1 vg-lab;
          $LVM vgchange -q -an vg-lab",
    );
    // lvm2 loads dm-mirror with handle_errors unless told --monitor n, and so does lvmeta.
    let planned_opts = PlanOptions {
        mirror_handle_errors: true,
        ..PlanOptions::default()
    };
    for lv in ["lin", "str-ipe", "mir", "r1"] {
        let dev = format!("/dev/vg-lab/{lv}");
        // lvm2 first: its devices are the reference.
        t.sh(&format!("$LVM lvchange -q -ay vg-lab/{lv}"));
        let by_lvm2 = t.dm_state("vg--lab-");
        let planned = t.planned("vg-lab", lv, &planned_opts, &[]);
        assert_same(&format!("{lv}: planner vs lvm2"), &planned, &by_lvm2);
        let a = write_pattern(&t, &dev, 1, &format!("{lv}-a"));
        t.sh(&format!("$LVM lvchange -q -an vg-lab/{lv}"));
        assert!(t.dm_state("vg--lab-").is_empty());

        // lvmeta: the same devices, and lvm2's data.
        let out = t.sh(&format!("$LVMETA lvchange -ay vg-lab/{lv}"));
        assert!(out.contains("Activated"), "{out}");
        let by_lvmeta = t.dm_state("vg--lab-");
        assert_same(&format!("{lv}: lvmeta vs lvm2"), &by_lvmeta, &by_lvm2);
        assert_eq!(read_sum(&t, &dev, 1), a, "{lv}: lvm2's data through lvmeta");
        let attr = t.sh(&format!("$LVMETA lvs --noheadings -o lv_attr vg-lab/{lv}"));
        assert_eq!(attr.trim().chars().nth(4), Some('a'), "{lv}: {attr}");
        if lv == "mir" || lv == "r1" {
            let took = t.wait_synced("vg-lab", lv);
            eprintln!("{lv}: in sync after {took:?} (lvmeta lvs Cpy%Sync 100.00)");
        }
        let b = write_pattern(&t, &dev, 2, &format!("{lv}-b"));
        t.sh(&format!("$LVMETA lvchange -an vg-lab/{lv}"));
        assert!(t.dm_state("vg--lab-").is_empty(), "lvmeta left devices");
        assert!(!t.sh("ls /dev/vg-lab 2>/dev/null || true").contains(lv));

        // And back: lvmeta's writes through lvm2.
        t.sh(&format!("$LVM lvchange -q -ay vg-lab/{lv}"));
        assert_eq!(read_sum(&t, &dev, 2), b, "{lv}: lvmeta's data through lvm2");
        assert_eq!(read_sum(&t, &dev, 1), a);
        t.sh(&format!("$LVM lvchange -q -an vg-lab/{lv}"));
    }
    // vgchange -ay / -an of the whole VG.
    let out = t.sh("$LVMETA vgchange -ay vg-lab");
    assert!(
        out.contains("4 logical volume(s) in volume group \"vg-lab\" now active"),
        "{out}"
    );
    t.sh("$LVMETA vgchange -an vg-lab");
    assert!(t.dm_state("vg--lab-").is_empty());
    mirror_placement_matches_lvm2(&t);
    raid1_meta_placement_matches_lvm2(&t);
}

/// lvm2 with device-mapper (set A) and lvmeta (set B) on byte-for-byte clones of one VG.
const CMP_LVM_CONF: &str = r#"devices { filter = [ "a|^/dev/mapper/pa[0-3]$|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 polling_interval = 1 }
global { use_lvmlockd = 0 }
backup { backup = 0 archive = 0 }
"#;

/// Issue 11: where mirror and raid1 LVs go, compared with a real lvm2 run (the host has no
/// device-mapper, so the root tier's differential test cannot make them with lvm2). Four
/// 24 MiB PVs per side, dm-linear pieces of the four disks (set A at 0, set B at 32 MiB);
/// lvm2 makes the VG on A, `dd` clones it to B, lvmeta renames its copy (the two sides'
/// dm devices must not share names). Then the same commands run on both sides, and after
/// each the exit codes, lvm2's last error line and `lvs -a` (segments, PVs and extents of
/// every sub-LV, the root tier's comparison) must agree.
fn mirror_placement_matches_lvm2(t: &T) {
    t.sh("$LVM vgremove -q -f vg-lab");
    let steps = [
        // The images fit on {0} and {3}, the disk log does not: lvm2 allocates the log
        // after the images and says "Unable to allocate extents for mirror log.", exit 5.
        "lvcreate -an -Zn -n f0 -l 20 VG {0}",
        "lvcreate -an -Zn -n f3 -l 20 VG {3}",
        "lvcreate -y --type mirror -m1 -n nolog -l 3 VG {0} {3}",
        "lvremove -f VG/f0 VG/f3",
        "lvcreate -an -Zn -n lin -l 3 VG {1}",
        "lvcreate -y --type mirror -m1 -n m1 -l 4 VG",
        "lvcreate -y --type mirror -m1 --mirrorlog core -n m2 -l 3 VG",
        "lvcreate -y --type raid1 -m1 -n r1 -l 3 VG",
        "lvcreate -y --type raid1 -m2 -n r2 -l 2 VG",
        "lvextend -l +2 VG/m1",
        "lvextend -l +3 VG/r1",
        "lvextend -l +1 VG/r2",
        "lvextend -l +2 VG/m2",
        // The new image beside m2's two segments: lvm2 keeps each LE range off the PVs
        // that range uses (before, lvmeta kept it off every PV of the LV).
        "lvconvert -y -m+1 VG/m2",
        "lvconvert -y -m+1 VG/r1",
        // A disk log: lvm2 copies through its `_mimagetmp` layer (collapsed when in sync,
        // polled every second here); lvmeta writes the final shape. Same rows after: the
        // new image kept off the log's PV.
        "lvconvert -y --config activation/polling_interval=1 -m+1 VG/m1",
        "lvcreate -y --type mirror -m1 --mirrorlog disk -n m3 -l 2 VG {2} {0} {3}",
        "lvextend -l +3 VG/m3",
        "lvcreate -y --type raid1 -m1 -n r3 -l 2 VG {3} {1}",
    ];
    compare_with_lvm2(t, "mirror/raid1 placement", &[24; 4], &steps);
}

/// raid1 whose allocation's first pass holds only the rmetas (an area of one extent among
/// those chosen): lvm2 places the images where the later passes find room, clinging to
/// nothing (the property test's regression `pes = [6, 7, 1]`, and lvmeta-model's
/// `raid1_images_do_not_cling_to_the_rmetas_pvs`). Three 8 MiB PVs (7 extents each).
fn raid1_meta_placement_matches_lvm2(t: &T) {
    // Free: {0} 6 extents, {1} 7, {2} 1; lv1's rmeta_1 ends up on {0}, its rimage_1 on {2}.
    let pes_6_7_1 = [
        "lvcreate -an -Zn -n g0 -l 1 VG {0}",
        "lvcreate -an -Zn -n g2 -l 6 VG {2}",
        "lvcreate -y --type raid1 -m1 -n lv0 -l 2 VG",
        "lvcreate -y --type mirror -m1 --mirrorlog core -n lv2 -l 2 VG",
        "lvcreate -y --type raid1 -m1 -n lv1 -l 1 VG",
    ];
    compare_with_lvm2(t, "raid1 rmeta apart (6, 7, 1)", &[8; 3], &pes_6_7_1);
    // Free: {0}:0 and {0}:2, {1}:5-6, {2}:6; rimage_0 on {0}:2 although rmeta_0 is on {1}.
    let no_cling = [
        "lvcreate -an -Zn -n f0 -l 1 VG {0}",
        "lvcreate -an -Zn -n f1 -l 1 VG {0}",
        "lvcreate -an -Zn -n f2 -l 1 VG {0}",
        "lvcreate -an -Zn -n f3 -l 4 VG {0}",
        "lvremove -f VG/f0 VG/f2",
        "lvcreate -an -Zn -n g1 -l 5 VG {1}",
        "lvcreate -an -Zn -n g2 -l 6 VG {2}",
        "lvcreate -y --type raid1 -m1 -n r -l 1 VG",
    ];
    compare_with_lvm2(t, "raid1 images clinging to nothing", &[8; 3], &no_cling);
}

/// The comparison of [`mirror_placement_matches_lvm2`]: PVs of `pv_mib` MiB (at most four
/// of at most 32 MiB, 1 MiB extents), `steps` run on both sides with `VG` and `{i}` (PV i)
/// replaced.
fn compare_with_lvm2(t: &T, what: &str, pv_mib: &[u64], steps: &[&str]) {
    assert!(pv_mib.len() <= 4 && pv_mib.iter().all(|&m| m <= 32));
    let t0 = Instant::now();
    // lvmeta reads lvm.conf's filter too: each side a configuration accepting its set.
    for (dir, set) in [("lvmcmp", "pa"), ("lvmcmpb", "pb")] {
        t.lab
            .node("node1")
            .write_file(
                &format!("/tmp/{dir}/lvm.conf"),
                CMP_LVM_CONF
                    .replace("pa[0-3]", &format!("{set}[0-3]"))
                    .as_bytes(),
                0o644,
            )
            .expect("lvm.conf");
    }
    let n = pv_mib.len();
    let set = |s: &str| -> Vec<String> { (0..n).map(|i| format!("/dev/mapper/p{s}{i}")).collect() };
    let (a, b) = (set("a"), set("b"));
    let pre = format!(
        "A() {{ LVM_SYSTEM_DIR=/tmp/lvmcmp lvm \"$@\"; }}; \
         B() {{ c=$1; shift; LVM_SYSTEM_DIR=/tmp/lvmcmpb {} \"$c\" --lock-dir /tmp/halvm-lock --devices {} \"$@\"; }};\n",
        t._bin.path,
        b.join(",")
    );
    let mib: Vec<String> = pv_mib.iter().map(|m| m.to_string()).collect();
    t.sh(&format!(
        "{pre}set -e; set -- $DEVS; i=0; \
         for m in {mib}; do eval d=\\${{$((i + 1))}}; \
           dmsetup create pa$i --table \"0 $((m * 2048)) linear $d 0\"; \
           dmsetup create pb$i --table \"0 $((m * 2048)) linear $d 65536\"; \
           dd if=/dev/zero of=/dev/mapper/pa$i bs=1M count=$m 2>/dev/null; i=$((i + 1)); done; \
         A pvcreate -q {pa}; A vgcreate -q -s 1m cmp {pa}; \
         for i in {idx}; do dd if=/dev/mapper/pa$i of=/dev/mapper/pb$i bs=1M 2>/dev/null; done; \
         B vgrename cmp cmq >/dev/null",
        mib = mib.join(" "),
        idx = (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(" "),
        pa = a.join(" ")
    ));
    let on = |cmd: &str, devs: &[String], vg: &str| -> String {
        devs.iter()
            .enumerate()
            .fold(cmd.replace("VG", vg), |c, (i, d)| {
                c.replace(&format!("{{{i}}}"), d)
            })
    };
    let mut ok = 0;
    for cmd in steps {
        let out = t.sh(&format!(
            "{pre}mkdir -p /tmp/cmp; cd /tmp/cmp; \
             A {} >l.out 2>&1; echo $? >l.code; B {} >m.out 2>&1; echo $? >m.code; \
             A lvs -a -o {f} --reportformat json cmp >l.lvs 2>/dev/null; \
             B lvs -a -o {f} --reportformat json cmq >m.lvs 2>/dev/null; \
             for x in l.code m.code l.out m.out l.lvs m.lvs; do cat $x; echo @@@; done",
            on(cmd, &a, "cmp"),
            on(cmd, &b, "cmq"),
            f = report::LV_FIELDS
        ));
        let p: Vec<&str> = out.split("@@@\n").collect();
        assert_eq!(p.len(), 7, "{cmd}: {out}");
        let side = |code: &str, stderr: &str| report::Out {
            code: code.trim().parse().expect("exit code"),
            stdout: String::new(),
            stderr: stderr.to_string(),
        };
        let (l, m) = (side(p[0], p[2]), side(p[1], p[3]));
        assert_eq!(
            m.code, l.code,
            "{cmd}: exit codes differ\nlvmeta: {}\nlvm2: {}",
            m.stderr, l.stderr
        );
        if l.code != 0 {
            assert_eq!(
                m.errors().last(),
                l.errors().last(),
                "{cmd}: lvmeta and lvm2 disagree on the error"
            );
        }
        // The layered up-convert must have happened, not failed alike.
        if cmd.contains("polling_interval") {
            assert_eq!(l.code, 0, "{cmd}: {}", l.stderr);
        }
        let rows = |json: &str, devs: &[String]| {
            let o = report::Out {
                code: 0,
                stdout: json.to_string(),
                stderr: String::new(),
            };
            report::rows_of(&o, "lv", devs)
        };
        let (lr, mr) = (rows(p[4], &a), rows(p[5], &b));
        let only = |x: &report::Rows, y: &report::Rows| -> Vec<String> {
            x.iter()
                .filter(|r| !y.contains(r))
                .map(|r| format!("{r:?}"))
                .collect()
        };
        assert!(
            lr == mr,
            "{cmd}: lvs -a differ\nlvmeta only: {:#?}\nlvm2 only: {:#?}",
            only(&mr, &lr),
            only(&lr, &mr)
        );
        ok += 1;
    }
    t.sh(&format!(
        "{pre}A vgchange -q -an cmp; B vgchange -an cmq >/dev/null; \
         for i in {idx}; do dmsetup remove pa$i; dmsetup remove pb$i; done",
        idx = (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
    ));
    eprintln!(
        "{what}: {ok} commands compared with lvm2 in {:?}",
        t0.elapsed()
    );
}

/// An active LV grows and shrinks under lvmeta (suspend, reload, resume) and keeps its data;
/// the reloaded tables are what lvm2 makes of the new metadata; a raid1 split holds the data
/// as of the split.
#[test]
fn lab_resize_and_split_of_active_lvs() {
    let t = start(3);
    t.sh(
        "set -e; $LVMETA pvcreate $DEVS >/dev/null; $LVMETA vgcreate vs $DEVS >/dev/null;
          $LVMETA lvcreate -an -Zn -L 8m -n data vs >/dev/null;
          $LVMETA lvcreate -an -Zn -L 4m -n gap vs >/dev/null;
          $LVMETA lvcreate -an -Zn --type raid1 -m 2 -L 8m -n r vs >/dev/null;
          $LVMETA lvcreate -an -Zn --type mirror -m 1 --mirrorlog core -L 8m -n m vs >/dev/null",
    );
    t.sh("$LVMETA lvchange -ay vs/data vs/r");
    let a = write_pattern(&t, "/dev/vs/data", 6, "data");
    // Grow across the gap: two segments.
    let out = t.sh("$LVMETA lvextend -L 20m vs/data");
    assert!(out.contains("Reloaded vs-data"), "{out}");
    assert_eq!(t.sh("blockdev --getsz /dev/vs/data").trim(), "40960");
    assert_eq!(read_sum(&t, "/dev/vs/data", 6), a);
    let b = write_pattern(&t, "/dev/vs/data", 18, "data2");
    t.sh("$LVMETA lvreduce -L 16m vs/data");
    assert_eq!(t.sh("blockdev --getsz /dev/vs/data").trim(), "32768");
    assert_eq!(read_sum(&t, "/dev/vs/data", 6), a);
    let _ = b;
    let ours = t.dm_state("vs-data");
    t.sh("$LVMETA lvchange -an vs/data && $LVM lvchange -q -ay vs/data");
    assert_same(
        "resized data: lvmeta vs lvm2",
        &ours,
        &t.dm_state("vs-data"),
    );
    assert_eq!(read_sum(&t, "/dev/vs/data", 6), a);
    t.sh("$LVM lvchange -q -an vs/data");

    // raid1 of 3, active through lvmeta: lvm2 takes lvmeta's devices for its own and grows the
    // LV (lvmeta's lvextend refuses raid1), and lvmeta's plan of the new metadata is what lvm2
    // loaded. Then resync, write, split one image off, write again.
    t.wait_synced("vs", "r");
    let early = write_pattern(&t, "/dev/vs/r", 1, "r-early");
    t.sh("$LVM lvextend -q -L 12m vs/r");
    assert_eq!(t.sh("blockdev --getsz /dev/vs/r").trim(), "24576");
    assert_eq!(read_sum(&t, "/dev/vs/r", 1), early);
    let opts = PlanOptions::default();
    assert_same(
        "raid1 grown by lvm2: plan vs live",
        &t.planned("vs", "r", &opts, &[]),
        &t.dm_state("vs-r"),
    );
    t.wait_synced("vs", "r");
    let before = write_pattern(&t, "/dev/vs/r", 3, "r-before");
    let out = t.sh("$LVMETA lvconvert --splitmirrors 1 --name r-backup vs/r");
    assert!(out.contains("Activated vs/r-backup"), "{out}");
    let after = write_pattern(&t, "/dev/vs/r", 3, "r-after");
    assert_ne!(before, after);
    assert_eq!(
        read_sum(&t, "/dev/vs/r-backup", 3),
        before,
        "split leg as of the split"
    );
    assert_eq!(read_sum(&t, "/dev/vs/r", 3), after);
    let st = t.dm_state("vs-r");
    assert!(st.keys().any(|k| k.starts_with("vs-r--backup ")), "{st:?}");
    assert!(!st.keys().any(|k| k.starts_with("vs-r_rimage_2")), "{st:?}");
    let r_table = st
        .iter()
        .find(|(k, _)| k.starts_with("vs-r "))
        .unwrap()
        .1
        .clone();
    assert!(r_table.contains("region_size 4096 2 "), "{r_table}");
    // lvm2 reads the split metadata and makes the same devices of it.
    let ours = t.dm_state("vs-r");
    t.sh("$LVMETA vgchange -an vs && $LVM vgck vs && $LVM vgchange -q -ay vs");
    let theirs = t.dm_state("vs-r");
    assert_same("after split: lvmeta vs lvm2", &ours, &theirs);
    assert_eq!(read_sum(&t, "/dev/vs/r-backup", 3), before);
    assert_eq!(read_sum(&t, "/dev/vs/r", 3), after);
    t.sh("$LVM vgchange -q -an vs");

    // A two-leg mirror (core log): the split leaves a linear LV and a copy as of the split.
    t.sh("$LVMETA lvchange -ay vs/m");
    t.wait_synced("vs", "m");
    let before = write_pattern(&t, "/dev/vs/m", 5, "m-before");
    let out = t.sh("$LVMETA lvconvert --splitmirrors 1 --name m-copy vs/m");
    assert!(out.contains("Activated vs/m-copy"), "{out}");
    let after = write_pattern(&t, "/dev/vs/m", 5, "m-after");
    assert_eq!(read_sum(&t, "/dev/vs/m-copy", 5), before);
    assert_eq!(read_sum(&t, "/dev/vs/m", 5), after);
    let st = t.dm_state("vs-m");
    assert_eq!(st.len(), 2, "only vs-m and vs-m--copy remain: {st:?}");
    assert!(
        st.iter().all(|(_, table)| table.contains(" linear ")),
        "{st:?}"
    );
    t.sh("$LVMETA vgchange -an vs && $LVM vgck vs && $LVM lvchange -q -ay vs/m vs/m-copy");
    assert_same(
        "after mirror split: lvmeta vs lvm2",
        &st,
        &t.dm_state("vs-m"),
    );
    assert_eq!(read_sum(&t, "/dev/vs/m-copy", 5), before);
    t.sh("$LVM vgchange -q -an vs");

    // Issue 15: the leg brought back (`lvconvert -m1` of the active linear LV: the kernel
    // copies it), then a PV out of this host's sight and `lvconvert --repair` replaces its
    // image on the third PV, reloads, and the kernel copies again; lvm2 makes the same
    // devices of the result.
    t.sh("$LVMETA lvchange -ay vs/m");
    let up = write_pattern(&t, "/dev/vs/m", 5, "m-up");
    let out = t.sh("$LVMETA lvconvert --type mirror -m1 --mirrorlog core vs/m");
    assert!(
        out.contains("Logical volume vs/m being converted."),
        "{out}"
    );
    let up_sync = t.wait_synced("vs", "m");
    for l in 0..2 {
        assert_eq!(
            read_sum(&t, &format!("/dev/mapper/vs-m_mimage_{l}"), 5),
            up,
            "leg {l}"
        );
    }
    let dev_of = |lv: &str| -> String {
        let d = t.sh(&format!("$LVMETA lvs --noheadings -o devices vs/{lv}"));
        d.trim().split('(').next().unwrap_or("").to_string()
    };
    let gone = dev_of("m_mimage_1");
    let keep: Vec<String> = t.disks.iter().filter(|d| **d != gone).cloned().collect();
    assert_eq!(keep.len(), 2, "{gone} among {:?}", t.disks);
    let out = t.sh(&format!(
        "{} lvconvert -y --repair --lock-dir /tmp/halvm-lock --devices {} vs/m 2>&1",
        t._bin.path,
        keep.join(",")
    ));
    assert!(
        out.contains("Mirror status: 1 of 2 images failed.")
            && out.contains("WARNING: Trying to up-convert to 2 images, 0 logs.")
            && !out.contains("Failed to replace"),
        "{out}"
    );
    let new_dev = dev_of("m_mimage_1");
    assert!(new_dev != gone && keep.contains(&new_dev), "{new_dev}");
    let repair_sync = t.wait_synced("vs", "m");
    for l in 0..2 {
        assert_eq!(
            read_sum(&t, &format!("/dev/mapper/vs-m_mimage_{l}"), 5),
            up,
            "leg {l}"
        );
    }
    let st = t.dm_state("vs-m");
    let mirror = st.iter().find(|(k, _)| k.starts_with("vs-m ")).unwrap().1;
    assert!(
        mirror.contains(" mirror ") && !mirror.contains("nosync"),
        "{mirror}"
    );
    // The PV is back in sight: written MISSING by the repair, taken back by restoremissing.
    t.sh(&format!(
        "$LVMETA vgextend --restoremissing vs {gone} && $LVM vgck vs"
    ));
    t.sh("$LVMETA vgchange -an vs && $LVM lvchange -q -ay vs/m");
    assert_same("repaired mirror: lvmeta vs lvm2", &st, &t.dm_state("vs-m"));
    t.sh("$LVM vgchange -q -an vs");
    let raid = raid1_repair_phase(&t);
    let dl = disk_log_phase(&t);
    let down = down_convert_phase(&t);
    println!(
        "lvconvert -m1 of an active 8 MiB LV to 100.00%: {} ms; --repair to 100.00%: {} ms; {raid}; \
         disk-log phase {} ms (held write released {} ms after lvconvert --mirrorlog core began); \
         down-convert phase {} ms",
        up_sync.as_millis(),
        repair_sync.as_millis(),
        dl.0.as_millis(),
        dl.1.as_millis(),
        down.as_millis()
    );
}

/// `lvconvert -m1` of an active 3-image raid1 LV and of an active 3-leg mirror (lvm2's
/// `_raid_remove_images` / `_remove_mirror_images`): the last image goes, the LV keeps
/// reading the data written before, the kernel's table holds two images, no device or LV of
/// the removed image (nor lvm2's `_extracted` names) is left, stock lvm2 reads the VG
/// (`vgck`, `lvs -a`) and activates the same devices from it.
fn down_convert_phase(t: &T) -> Duration {
    let t0 = Instant::now();
    t.sh(
        "set -e; $LVMETA lvcreate -an -Zn --type raid1 -m2 -L 4m -n dr vs >/dev/null;
         $LVMETA lvcreate -an -Zn --type mirror -m2 --mirrorlog core -L 4m -n dm vs >/dev/null;
         $LVMETA lvchange -ay vs/dr vs/dm >/dev/null",
    );
    let devs = |table: &str| {
        table
            .split_whitespace()
            .filter(|w| {
                w.split_once(':')
                    .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
            })
            .count()
    };
    let mut data = BTreeMap::new();
    for (lv, raid, want_devs) in [("dr", true, 4), ("dm", false, 2)] {
        t.wait_synced("vs", lv);
        let pat = write_pattern(t, &format!("/dev/vs/{lv}"), 1, &format!("{lv}-down"));
        let out = t.sh(&format!("$LVMETA lvconvert -m1 vs/{lv}"));
        let said = if raid {
            format!("Logical volume vs/{lv} successfully converted.")
        } else {
            format!("Logical volume vs/{lv} converted.")
        };
        assert!(out.contains(&said), "{out}");
        assert_eq!(
            read_sum(t, &format!("/dev/vs/{lv}"), 1),
            pat,
            "{lv} reads its data"
        );
        let table = t.sh(&format!("dmsetup table vs-{lv}"));
        assert_eq!(devs(&table), want_devs, "{lv}: two images: {table}");
        let names = t.sh("dmsetup ls");
        for gone in ["_rimage_2", "_rmeta_2", "_mimage_2", "_extracted"] {
            let gone = format!("vs-{lv}{gone}");
            assert!(!names.contains(&gone), "{gone} left: {names}");
        }
        assert!(!names.contains("_extracted"), "{names}");
        data.insert(lv, pat);
    }
    let lvs = t.sh("$LVM vgck vs && $LVM lvs -a --noheadings -o lv_name vs");
    for gone in ["_extracted", "dr_rimage_2", "dr_rmeta_2", "dm_mimage_2"] {
        assert!(!lvs.contains(gone), "{gone} in lvm2's lvs -a: {lvs}");
    }
    for kept in ["dr_rimage_1", "dr_rmeta_1", "dm_mimage_1"] {
        assert!(
            lvs.contains(kept),
            "{kept} missing from lvm2's lvs -a: {lvs}"
        );
    }
    let ours = (t.dm_state("vs-dr"), t.dm_state("vs-dm"));
    t.sh("$LVMETA lvchange -an vs/dr vs/dm && $LVM lvchange -q -ay vs/dr vs/dm");
    assert_same(
        "raid1 down-converted: lvmeta vs lvm2",
        &ours.0,
        &t.dm_state("vs-dr"),
    );
    assert_same(
        "mirror down-converted: lvmeta vs lvm2",
        &ours.1,
        &t.dm_state("vs-dm"),
    );
    for (lv, pat) in &data {
        assert_eq!(
            &read_sum(t, &format!("/dev/vs/{lv}"), 1),
            pat,
            "{lv} through lvm2"
        );
    }
    t.sh("$LVM lvchange -q -an vs/dr vs/dm");
    t0.elapsed()
}

/// Issue 15, raid1 `lvconvert --repair`: two raid1 LVs on the same two PVs, `rr` repaired by
/// lvmeta and `ss` by stock lvm2. Each one's second image fails in the kernel (its image and
/// metadata devices get error tables) and its PV leaves the repairing host's sight; data
/// written then reaches the first image only. The repair puts a new image and metadata pair
/// on the third PV, dm-raid rebuilds it (progress in `lvs -o+sync_percent`), and the images
/// end byte-identical, the data written while degraded included. lvmeta's result has lvm2's
/// shape (names, PVs, attributes), stock lvm2 accepts the metadata (`vgck`, `lvs`) and
/// activates the same devices from it. Returns the figures.
fn raid1_repair_phase(t: &T) -> String {
    let t0 = Instant::now();
    let free = t.sh("$LVMETA pvs --noheadings -o pv_name,pv_free --units m --nosuffix");
    let mut by_free: Vec<(f64, String)> = free
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let n = f.next()?.to_string();
            Some((f.next()?.parse().ok()?, n))
        })
        .collect();
    by_free.sort_by(|x, y| y.0.total_cmp(&x.0));
    assert!(
        by_free.len() == 3 && by_free[0].0 >= 16.0 && by_free[2].0 >= 8.0,
        "room for two 4 MiB raid1 LVs and their replacements: {free}"
    );
    let (c, a, b) = (&by_free[0].1, &by_free[1].1, &by_free[2].1);
    t.sh(&format!(
        "set -e; for n in rr ss; do $LVMETA lvcreate -an -Zn --type raid1 -m1 -L 4m -n $n vs {a} {b} >/dev/null; done;
         $LVMETA lvchange -ay vs/rr vs/ss >/dev/null"
    ));
    for lv in ["rr", "ss"] {
        t.wait_synced("vs", lv);
        t.sh(&format!(
            "set -e; for d in vs-{lv}_rmeta_1 vs-{lv}_rimage_1; do \
               dmsetup load $d --table \"0 $(blockdev --getsz /dev/mapper/$d) error\"; dmsetup resume $d; done"
        ));
    }
    let mut data = BTreeMap::new();
    for lv in ["rr", "ss"] {
        data.insert(
            lv,
            write_pattern(t, &format!("/dev/vs/{lv}"), 1, &format!("{lv}-degraded")),
        );
        let st = t.sh(&format!("dmsetup status vs-{lv}"));
        assert!(
            st.contains(" raid1 2 AD "),
            "{lv}: the second image failed: {st}"
        );
    }
    let filter = format!("devices {{ filter = [ \"a|^{a}$|\", \"a|^{c}$|\", \"r|.*|\" ] }}");
    // md's resync throttled to 256 KiB/s for rr (16 s for 4 MiB), so `lvs` catches the
    // rebuild under way even when the repair command itself takes seconds (at 1 MiB/s a
    // loaded host's 4 s command saw only 100%).
    let limits = "/proc/sys/dev/raid/speed_limit_min /proc/sys/dev/raid/speed_limit_max";
    let saved = t.sh(&format!("cat {limits}"));
    t.sh("echo 256 > /proc/sys/dev/raid/speed_limit_min; echo 256 > /proc/sys/dev/raid/speed_limit_max");
    let cmd_t = Instant::now();
    let out = t.sh(&format!(
        "{} lvconvert -y --repair --lock-dir /tmp/halvm-lock --devices {a},{c} vs/rr 2>&1",
        t._bin.path
    ));
    let cmd_took = cmd_t.elapsed();
    assert!(
        out.contains("Faulty devices in vs/rr successfully replaced."),
        "{out}"
    );
    let rr_t = Instant::now();
    let progress = t.sh("$LVMETA lvs -o+sync_percent vs/rr");
    assert!(progress.contains("Cpy%Sync"), "{progress}");
    let mut seen: Vec<f64> = Vec::new();
    loop {
        let o = t.sh("$LVMETA lvs --noheadings -o sync_percent vs/rr");
        let v: f64 = o.trim().parse().unwrap_or(-1.0);
        seen.push(v);
        if v >= 100.0 {
            break;
        }
        assert!(
            rr_t.elapsed() < Duration::from_secs(120),
            "vs/rr not in sync after 120 s: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let rr_sync = rr_t.elapsed();
    assert!(
        seen.iter().any(|v| (0.0..100.0).contains(v)),
        "lvs showed the rebuild under way: {seen:?} (the repair command took {cmd_took:?})"
    );
    let mut old = saved.split_whitespace();
    t.sh(&format!(
        "echo {} > /proc/sys/dev/raid/speed_limit_min; echo {} > /proc/sys/dev/raid/speed_limit_max",
        old.next().expect("min"),
        old.next().expect("max")
    ));
    let out = t.sh(&format!(
        "$LVM lvconvert -y --repair --config '{filter}' vs/ss 2>&1"
    ));
    assert!(
        out.contains("Faulty devices in vs/ss successfully replaced."),
        "{out}"
    );
    t.wait_synced("vs", "ss");
    for lv in ["rr", "ss"] {
        let st = t.sh(&format!("dmsetup status vs-{lv}"));
        assert!(st.contains(" raid1 2 AA "), "{lv}: {st}");
        let whole = |i: usize| {
            t.sh(&format!(
                "dd if=/dev/mapper/vs-{lv}_rimage_{i} bs=1M iflag=direct status=none | sha256sum"
            ))
        };
        assert_eq!(whole(0), whole(1), "{lv}: images differ");
        assert_eq!(
            read_sum(t, &format!("/dev/mapper/vs-{lv}_rimage_1"), 1),
            data[lv],
            "{lv}: the data written while degraded was copied to the new image"
        );
    }
    // lvmeta's repair has lvm2's shape: same sub-LV names, PVs and attributes.
    let shape = |lv: &str| -> Vec<String> {
        t.sh(&format!(
            "$LVM lvs -a --noheadings --config '{filter}' -o lv_name,lv_attr,devices,region_size,lv_size vs 2>/dev/null"
        ))
        .lines()
        .filter(|l| {
            let n = l.split_whitespace().next().unwrap_or("");
            n.trim_start_matches('[').starts_with(lv)
        })
        .map(|l| {
            // Extents differ (ss came second): the PV and sub-LV names stay.
            let mut depth = 0;
            l.replace(lv, "X")
                .chars()
                .filter(|&ch| {
                    depth += usize::from(ch == '(');
                    let keep = depth == 0;
                    depth -= usize::from(ch == ')');
                    keep
                })
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
    };
    let (ours, theirs) = (shape("rr"), shape("ss"));
    assert_eq!(ours.len(), 5, "{ours:?}");
    assert_eq!(
        ours, theirs,
        "raid1 repaired by lvmeta (left) and lvm2 (right)"
    );
    let meta =
        t.sh("$LVMETA vgcfgbackup -f /tmp/raidrep.txt vs >/dev/null && cat /tmp/raidrep.txt");
    assert!(
        !meta.contains("REBUILD"),
        "REBUILD cleared by the second commit"
    );
    let live = t.dm_state("vs-rr");
    assert!(
        live.values().all(|v| !v.contains("rebuild")),
        "the live table is the metadata's: {live:?}"
    );
    t.sh(&format!(
        "$LVMETA vgextend --restoremissing vs {b} && $LVM vgck vs && $LVM lvs -a vs >/dev/null"
    ));
    t.sh("$LVMETA vgchange -an vs && $LVM lvchange -q -ay vs/rr");
    assert_same(
        "repaired raid1: lvmeta vs lvm2",
        &live,
        &t.dm_state("vs-rr"),
    );
    assert_eq!(read_sum(t, "/dev/vs/rr", 1), data["rr"]);
    t.sh("$LVM vgchange -q -an vs");
    // The room goes back to the phases after this one.
    t.sh("$LVMETA lvremove -f vs/rr >/dev/null && $LVMETA lvremove -f vs/ss >/dev/null");
    format!(
        "raid1 --repair of a 4 MiB LV to 100.00% at 256 KiB/s: {} ms (lvs right after it: {}; \
         sync_percent polled: {seen:?}); raid1 phase {} ms",
        rr_sync.as_millis(),
        progress.lines().last().unwrap_or("").trim(),
        t0.elapsed().as_millis()
    )
}

/// Issue 15, a mirror's disk log on an active mirror: `--mirrorlog core` and `disk` reload it
/// without a copy when in sync (`nosync`), `-m +1` keeps the log and loads it once with `sync`
/// (the new image is copied; lvm2 then makes the same devices); then the log's device fails:
/// dm-mirror shows `3 disk <dev> D|F` and holds a write until `lvconvert --mirrorlog core`
/// reloads it, which hands the held write to the new table. Returns (phase time, time the
/// write was held after the command started).
fn disk_log_phase(t: &T) -> (Duration, Duration) {
    let t0 = Instant::now();
    let table = |t: &T| t.sh("dmsetup table vs-dl").trim().to_string();
    // The log shares the first image's PV (both PVs listed hold an image), so `-m +1` has a
    // PV left: lvm2 keeps a new image off the log's PV too (its `_mimagetmp` layer).
    let (d0, d1) = (&t.disks[0], &t.disks[1]);
    t.sh(&format!(
        "$LVMETA lvcreate -an -Zn --type mirror -m1 -L 4m -n dl vs {d0} {d1} >/dev/null \
         && $LVMETA lvchange -ay vs/dl"
    ));
    assert!(table(t).contains(" mirror disk 2 "), "{}", table(t));
    t.wait_synced("vs", "dl");
    let pat = write_pattern(t, "/dev/vs/dl", 1, "dl");
    let out = t.sh("$LVMETA lvconvert --mirrorlog core vs/dl");
    assert!(out.contains("Logical volume vs/dl converted."), "{out}");
    assert!(
        table(t).contains(" mirror core 2 4096 nosync 2 "),
        "{}",
        table(t)
    );
    assert!(
        t.run("dmsetup info vs-dl_mlog").code != 0,
        "the log's device is gone"
    );
    let out = t.sh(&format!("$LVMETA lvconvert --mirrorlog disk vs/dl {d0}"));
    assert!(out.contains("Logical volume vs/dl converted."), "{out}");
    assert!(table(t).contains(" 4096 nosync 2 "), "{}", table(t));
    assert!(table(t).contains(" mirror disk 3 "), "{}", table(t));
    let out = t.sh("$LVMETA lvconvert -m +1 vs/dl");
    assert!(
        out.contains("Logical volume vs/dl being converted."),
        "{out}"
    );
    assert!(table(t).contains(" 4096 sync 3 "), "{}", table(t));
    t.wait_synced("vs", "dl");
    for l in 0..3 {
        assert_eq!(
            read_sum(t, &format!("/dev/mapper/vs-dl_mimage_{l}"), 1),
            pat,
            "image {l} after -m +1"
        );
    }
    t.sh("$LVMETA lvchange -an vs/dl && $LVMETA lvchange -ay vs/dl");
    let ours = t.dm_state("vs-dl");
    t.sh("$LVMETA lvchange -an vs/dl && $LVM vgck vs && $LVM lvchange -q -ay vs/dl");
    assert_same(
        "disk-log mirror of 3: lvmeta vs lvm2",
        &ours,
        &t.dm_state("vs-dl"),
    );
    t.sh("$LVM lvchange -q -an vs/dl && $LVMETA lvchange -ay vs/dl");
    t.wait_synced("vs", "dl");

    // The log's device fails under the live mirror.
    t.sh(
        "set -e; S=$(blockdev --getsz /dev/mapper/vs-dl_mlog); dmsetup suspend vs-dl_mlog; \
          dmsetup load vs-dl_mlog --table \"0 $S error\"; dmsetup resume vs-dl_mlog; \
          head -c 4194304 /dev/urandom > /tmp/dl-w; rm -f /tmp/dl-done; \
          (dd if=/tmp/dl-w of=/dev/vs/dl bs=1M oflag=direct conv=notrunc status=none \
             && touch /tmp/dl-done) >/dev/null 2>&1 &",
    );
    let seen = Instant::now();
    let status = loop {
        let st = t.sh("dmsetup status vs-dl").trim().to_string();
        let f: Vec<&str> = st.split_whitespace().collect();
        if f.len() >= 4 && f[f.len() - 4] == "3" && matches!(f[f.len() - 1], "D" | "F") {
            break st;
        }
        assert!(
            seen.elapsed() < Duration::from_secs(20),
            "no failed log in: {st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.contains(" AAA 3 disk "), "{status}");
    println!("failed disk log, dm-mirror status: {status}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        t.run("test -e /tmp/dl-done").code != 0,
        "the write was not held: {status}"
    );
    let cmd = Instant::now();
    let out = t.sh("$LVMETA lvconvert --mirrorlog core vs/dl");
    assert!(out.contains("Logical volume vs/dl converted."), "{out}");
    let held = loop {
        if t.run("test -e /tmp/dl-done").code == 0 {
            break cmd.elapsed();
        }
        assert!(
            cmd.elapsed() < Duration::from_secs(20),
            "the held write never completed"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let st = t.sh("dmsetup status vs-dl");
    assert!(st.contains(" 1 core"), "{st}");
    let want = t
        .sh("sha256sum < /tmp/dl-w | cut -d' ' -f1")
        .trim()
        .to_string();
    let got = t
        .sh("dd if=/dev/vs/dl bs=4M count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1")
        .trim()
        .to_string();
    assert_eq!(got, want, "the held write landed whole");
    t.wait_synced("vs", "dl");
    t.sh("$LVMETA lvchange -an vs/dl && $LVM vgck vs");
    (t0.elapsed(), held)
}

/// Bad input: a missing PV fails naming it (and partial activation matches lvm2's), a foreign
/// VG is refused, an open LV is not deactivated, a name clash mid-activation of a raid1 leaves
/// no device behind, and volume_list filters.
#[test]
fn lab_bad_input_leaves_no_stray_devices() {
    let t = start(3);
    t.sh(&format!(
        "set -e; $LVMETA pvcreate $DEVS >/dev/null; $LVMETA vgcreate vb $DEVS >/dev/null;
          $LVMETA lvcreate -an -Zn -i 3 -I 64k -L 12m -n s vb >/dev/null;
          $LVMETA lvcreate -an -Zn --type raid1 -m 1 -L 8m -n r vb {} {} >/dev/null;
          $LVMETA lvcreate -an -Zn -L 4m -n l vb {} >/dev/null",
        t.disks[1], t.disks[2], t.disks[0]
    ));
    // The raid1 has run once (its superblocks written) before its PV goes missing: a raid set
    // never assembled cannot be assembled degraded, by lvm2 or lvmeta alike.
    t.sh("$LVMETA lvchange -ay vb/r");
    t.wait_synced("vb", "r");
    t.sh("$LVMETA lvchange -an vb/r");
    let last = t.disks[2].clone();
    let others = format!("{},{}", t.disks[0], t.disks[1]);
    let pv_uuid = t
        .sh(&format!("$LVM pvs --noheadings -o pv_uuid {last}"))
        .trim()
        .to_string();
    // Missing PV: lvmeta sees only two of the three disks.
    let few_def = format!(
        "F() {{ c=$1; shift; {} \"$c\" --lock-dir /tmp/halvm-lock --devices {others} \"$@\"; }}; F",
        t._bin.path
    );
    let few = few_def.as_str();
    let err = t.fails(&format!("{few} lvchange -ay vb/s"));
    assert!(err.contains(&pv_uuid) && err.contains(&last), "{err}");
    assert!(err.contains("--activationmode partial"), "{err}");
    assert!(
        t.dm_state("vb-").is_empty(),
        "stray devices after a refused activation"
    );
    // Partial: error targets for the missing areas, exactly as lvm2 does with the PV filtered out.
    t.sh(&format!("{few} lvchange -ay --activationmode partial vb/s"));
    let ours = t.dm_state("vb-");
    assert!(ours.values().any(|v| v.contains(" error")), "{ours:?}");
    t.sh(&format!("{few} lvchange -an vb/s"));
    assert!(t.dm_state("vb-").is_empty());
    let hide = format!(
        "$LVM lvchange -q -ay --activationmode partial --config 'devices {{ filter = [ \"r|^{last}$|\", \"a|^/dev/vd|\", \"r|.*|\" ] }}' vb/s"
    );
    t.sh(&hide);
    assert_same("partial: lvmeta vs lvm2", &ours, &t.dm_state("vb-"));
    t.sh("dmsetup remove vb-s; for d in $(dmsetup ls | awk '/^vb-/{print $1}'); do dmsetup remove $d; done");
    // Degraded raid1 works with --activationmode degraded (lvm2's error devices for the image).
    let err = t.fails(&format!("{few} lvchange -ay vb/r"));
    assert!(err.contains("degraded"), "{err}");
    assert!(t.dm_state("vb-").is_empty());
    // lvm2 first (the PV filtered out), then lvmeta: the same devices.
    let lvm2 = t.run(&hide.replace("partial", "degraded").replace("vb/s", "vb/r"));
    let theirs = t.dm_state("vb-");
    eprintln!(
        "lvm2 degraded raid1: exit {} {}\n{theirs:#?}\n{}",
        lvm2.code,
        lvm2.stderr_str(),
        t.sh("dmesg | tail -n 15")
    );
    t.sh("for d in $(dmsetup ls | awk '/^vb-r/{print $1}' | sort -r); do dmsetup remove $d 2>/dev/null; done; true");
    let ours_out = t.run(&format!(
        "{few} lvchange -ay --activationmode degraded vb/r"
    ));
    let ours = t.dm_state("vb-");
    eprintln!(
        "lvmeta degraded raid1: exit {} {}\n{}",
        ours_out.code,
        ours_out.stderr_str(),
        t.sh("dmesg | tail -n 15")
    );
    assert!(lvm2.success(), "lvm2 degraded activation failed");
    assert!(ours_out.success(), "lvmeta degraded activation failed");
    assert!(ours.keys().any(|k| k.contains("-missing_0_0 ")), "{ours:?}");
    assert_same("degraded raid1: lvmeta vs lvm2", &ours, &theirs);
    t.sh(&format!("{few} lvchange -an vb/r"));
    assert!(t.dm_state("vb-").is_empty());
    assert!(t.dm_state("vb-").is_empty());

    // Foreign system ID.
    t.sh("$LVMETA vgchange --systemid elsewhere vb >/dev/null");
    let err = t.fails("$LVMETA lvchange -ay vb/l");
    assert!(
        err.contains("foreign") && err.contains("elsewhere"),
        "{err}"
    );
    assert!(t.dm_state("vb-").is_empty());
    t.sh("HALVM_SYSTEM_ID=elsewhere $LVMETA vgchange --systemid '' vb >/dev/null");

    // volume_list.
    let err = t.fails("$LVMETA lvchange -ay --volume-list vb/s,@keep vb/l");
    assert!(err.contains("activation filter"), "{err}");
    // The same filter from halvm.toml's activation.volume_list.
    let err = t.fails(
        "printf '[activation]\\nvolume_list = [\"vb/s\", \"@keep\"]\\n' > /tmp/h.toml; \
         $LVMETA lvchange -ay --halvm-config /tmp/h.toml vb/l",
    );
    assert!(err.contains("activation filter"), "{err}");
    assert!(t.dm_state("vb-").is_empty());
    t.sh("$LVMETA lvchange -ay --volume-list vb/l vb/l");

    // An open LV stays.
    let err = t.fails("exec 3</dev/vb/l; $LVMETA lvchange -an vb/l");
    assert!(err.contains("is open"), "{err}");
    assert_eq!(t.dm_state("vb-l").len(), 1);
    t.sh("$LVMETA lvchange -an vb/l");

    // A name clash at the third device of a raid1: nothing of it stays.
    t.sh("dmsetup create vb-r_rimage_1 --table '0 8 zero'");
    let err = t.fails("$LVMETA lvchange -ay vb/r");
    assert!(err.contains("vb-r_rimage_1"), "{err}");
    let left: Vec<String> = t.dm_state("vb-").into_keys().collect();
    assert_eq!(left.len(), 1, "only the blocker may remain: {left:?}");
    t.sh("dmsetup remove vb-r_rimage_1");
    t.sh("$LVMETA lvchange -ay vb/r && $LVMETA lvchange -an vb/r");
    assert!(t.dm_state("vb-").is_empty());
}

/// Issue 12, "nothing in use destroyed": lvremove and vgremove -f of an open LV fail with
/// lvm2's message and change nothing; of an active, unopened LV they deactivate and remove,
/// leaving no dm device; lvrename of an open LV renames its device; lvreduce of an open LV
/// needs -f. First, `-t` on active LVs changes nothing ([`test_mode_changes_nothing`]). Then
/// vgrename of active and open LVs, compared with lvm2's ([`vgrename_of_active_lvs`]), and
/// a dm rename failing after the commit with its recovery ([`rename_failing_after_the_commit`]).
#[test]
fn lab_nothing_in_use_is_removed() {
    let t = start(2);
    t.sh(
        "set -e; $LVMETA pvcreate $DEVS; $LVMETA vgcreate -s 4m vu $DEVS;
          $LVMETA lvcreate -n held -L 8m vu; $LVMETA lvcreate -n idle -L 8m vu;
          $LVMETA lvcreate -n mir -m 1 --type raid1 -L 8m vu;
          $LVMETA lvchange -ay vu/held vu/idle vu/mir;
          $LVMETA lvcreate -an -Zn -n off -L 4m vu",
    );
    test_mode_changes_nothing(&t);
    // Hold vu/held open (a shell keeping a descriptor on it) for the first half.
    t.sh("(exec 3</dev/mapper/vu-held; exec sleep 600) >/dev/null 2>&1 & echo $! >/tmp/holder");
    let seqno = || {
        t.sh("$LVMETA vgs --noheadings -o vg_seqno vu")
            .trim()
            .to_string()
    };
    let before = seqno();

    let e = t.fails("$LVMETA lvremove -f vu/held");
    assert!(e.contains("Logical volume vu/held in use."), "{e}");
    let e = t.fails("$LVMETA vgremove -f vu");
    assert!(e.contains("Logical volume vu/held in use."), "{e}");
    assert_eq!(seqno(), before, "a refused removal changed the metadata");
    let names = t.sh("dmsetup ls | cut -f1 | sort | tr '\\n' ' '");
    for d in ["vu-held", "vu-idle", "vu-mir"] {
        assert!(
            names.contains(d),
            "{d} gone after a refused removal: {names}"
        );
    }

    // Reducing the open LV needs -f; renaming it renames its device.
    let e = t.fails("$LVMETA lvreduce -L 4m vu/held");
    assert!(e.contains("NOT reduced"), "{e}");
    t.sh("$LVMETA lvrename vu held kept");
    assert!(t
        .sh("dmsetup info -c --noheadings -o name vu-kept")
        .contains("vu-kept"));
    assert!(t.sh("ls /dev/vu").contains("kept"));

    // Active and not open: deactivated, then removed.
    t.sh("$LVMETA lvremove -f vu/idle");
    assert!(t.dm_state("vu-idle").is_empty(), "vu-idle left a dm device");
    assert!(!t
        .sh("$LVMETA lvs --noheadings -o lv_name vu")
        .contains("idle"));

    // Released: vgremove -f deactivates the rest and removes the VG.
    t.sh("kill $(cat /tmp/holder); sleep 1");
    t.sh("$LVMETA vgremove -f vu");
    assert!(t.dm_state("vu-").is_empty(), "vgremove -f left dm devices");
    t.fails("$LVMETA vgs vu");
    cachevol_flags_round_trip(&t);

    // vgrename of active LVs, by lvmeta and by lvm2 on the same devices: both leave the same.
    let added = Instant::now();
    let ours = vgrename_of_active_lvs(&t, "$LVMETA", "vr", "vn");
    let lvm2s = vgrename_of_active_lvs(&t, "$LVM", "vr", "vn");
    assert_eq!(ours, lvm2s, "what lvmeta's and lvm2's vgrename leave");
    rename_failing_after_the_commit(&t);
    eprintln!("renames of active LVs: {:?}", added.elapsed());
}

/// `vgrename` by `tool` ("$LVMETA" or "$LVM") of a VG with active LVs: `a` mounted (ext4),
/// `b` held open by a process, `m` a raid1. Every dm device takes the new name and keeps
/// its UUID and table, none is left under the old name; the data reads back through the new
/// names, the mounted filesystem and the holder keep working, and the other tool sees the
/// LVs active and open under the new name. Returns what it leaves (VG names written OLD and
/// NEW): the dm names, the `/dev/NEW` entries (each a link to its LV's device), whether
/// `/dev/OLD` is left.
fn vgrename_of_active_lvs(t: &T, tool: &str, old: &str, new: &str) -> Vec<String> {
    let (y, other) = match tool {
        "$LVM" => ("-q -y", "$LVMETA"),
        _ => ("-y", "$LVM"),
    };
    t.sh(&format!(
        "set -e; {tool} vgcreate {y} -s 4m {old} $DEVS >/dev/null; \
         {tool} lvcreate {y} -n a -L 16m {old} >/dev/null; \
         {tool} lvcreate {y} -n b -L 8m {old} >/dev/null; \
         {tool} lvcreate {y} --type raid1 -m 1 -n m -L 4m {old} >/dev/null; \
         mkfs.ext4 -q -F /dev/{old}/a; mkdir -p /mnt/{old}; mount /dev/{old}/a /mnt/{old}; \
         head -c 1048576 /dev/urandom > /mnt/{old}/f; sync"
    ));
    let file_sum = || {
        t.sh(&format!("sha256sum < /mnt/{old}/f | cut -d' ' -f1"))
            .trim()
            .to_string()
    };
    let f = file_sum();
    let b = write_pattern(t, &format!("/dev/mapper/{old}-b"), 1, &format!("{old}b"));
    t.sh(&format!(
        "(exec 3</dev/mapper/{old}-b; exec sleep 600) >/dev/null 2>&1 & echo $! >/tmp/holder-{old}"
    ));
    let before = t.dm_state(&format!("{old}-"));
    assert_eq!(before.len(), 7, "{tool}: {old}'s devices: {before:?}");

    t.sh(&format!("{tool} vgrename {old} {new}"));
    let (o, n) = (format!("{old}-"), format!("{new}-"));
    let expected: BTreeMap<String, String> = before
        .iter()
        .map(|(k, v)| {
            (
                k.replacen(&o, &n, 1),
                v.replace(&format!("<{o}"), &format!("<{n}")),
            )
        })
        .collect();
    assert_eq!(
        t.dm_state(&n),
        expected,
        "{tool} vgrename: every device renamed, UUIDs and tables unchanged"
    );
    assert!(
        t.dm_state(&o).is_empty(),
        "{tool}: devices left under {old}"
    );
    // Data: through the new names, the mounted filesystem, and the holder's own descriptor.
    for dev in [format!("/dev/mapper/{new}-b"), format!("/dev/{new}/b")] {
        assert_eq!(read_sum(t, &dev, 1), b, "{tool}: {dev}");
    }
    let holder = t.sh(&format!("cat /tmp/holder-{old}")).trim().to_string();
    t.sh(&format!("kill -0 {holder}"));
    assert_eq!(
        read_sum(t, &format!("/proc/{holder}/fd/3"), 1),
        b,
        "{tool}: read through the holder's descriptor"
    );
    assert_eq!(file_sum(), f, "{tool}: the mounted filesystem");
    let attrs = t.sh(&format!(
        "{other} lvs --noheadings -o lv_name,lv_attr {new}"
    ));
    let attrs: BTreeMap<&str, Vec<char>> = attrs
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?, w.next()?.chars().collect()))
        })
        .collect();
    for (lv, open) in [("a", 'o'), ("b", 'o'), ("m", '-')] {
        let a = attrs
            .get(lv)
            .unwrap_or_else(|| panic!("{other} lvs {new}: no {lv}: {attrs:?}"));
        assert_eq!((a[4], a[5]), ('a', open), "{other} sees {new}/{lv}: {a:?}");
    }
    // The filesystem written after the rename checks clean and mounts under the new name.
    t.sh(&format!(
        "set -e; head -c 65536 /dev/urandom > /mnt/{old}/g; sync; umount /mnt/{old}; \
         fsck.ext4 -n -f /dev/{new}/a >/dev/null 2>&1; mount /dev/{new}/a /mnt/{old}"
    ));
    assert_eq!(file_sum(), f, "{tool}: the filesystem mounted again");

    let links = t.sh(&format!(
        "for l in $(ls /dev/{new}); do \
           [ $(stat -L -c %t:%T /dev/{new}/$l) = $(stat -L -c %t:%T /dev/mapper/{new}-$l) ] \
             && echo $l $(readlink /dev/{new}/$l) || echo $l NOT {new}-$l; done; \
         [ -e /dev/{old} ] && echo old dir left: $(ls /dev/{old}) || true"
    ));
    eprintln!("{tool} vgrename {old} {new}: /dev/{new} entries:\n{links}");
    let mut left: Vec<String> = t
        .dm_state(&n)
        .keys()
        .map(|k| k.split(' ').next().unwrap().replacen(&n, "NEW-", 1))
        .collect();
    left.extend(links.lines().map(|l| {
        let name = l.split(' ').next().unwrap_or_default();
        match l.contains(" NOT ") || l.starts_with("old dir") {
            true => l.replace(new, "NEW").replace(old, "OLD"),
            false => format!("/dev/NEW/{name} -> NEW-{name}"),
        }
    }));
    t.sh(&format!(
        "set -e; kill {holder}; umount /mnt/{old}; rmdir /mnt/{old}; sleep 1; \
         {tool} vgremove {y} -f {new} >/dev/null"
    ));
    assert!(
        t.dm_state(&n).is_empty(),
        "{tool}: vgremove -f {new} left devices"
    );
    left
}

/// A device-mapper rename failing after lvrename's commit (another device holds the new dm
/// name): lvmeta exits 5 with the kernel's error and lvm2's last line, "Problem reactivating
/// logical volume" (as `in_use::a_device_rename_failing_after_the_commit_is_reported_and_
/// the_commit_stands` pins), the commit stands (lvm2 reads the new name), the LV's device
/// works under its old name. Recovery, as docs/admin-guide.md says: `lvchange -ay` links the
/// new name to the LV's own device; with the colliding device gone, `lvchange -an` then
/// `-ay` gives the device the metadata's name and leaves no stale link. The same for
/// vgrename. Then lvm2 in both cases: its output (printed, for docs/lvm2-parity.md) has
/// lvmeta's last lines.
fn rename_failing_after_the_commit(t: &T) {
    t.sh("set -e; $LVMETA vgcreate -s 4m vf $DEVS >/dev/null; $LVMETA lvcreate -y -n a -L 8m vf >/dev/null");
    let sum = write_pattern(t, "/dev/mapper/vf-a", 1, "vfa");
    let uuid = t
        .sh("dmsetup info -c --noheadings -o uuid vf-a")
        .trim()
        .to_string();
    t.sh("dmsetup create vf-c --table '0 8192 zero'");
    let out = t.run("$LVMETA lvrename vf a c");
    let err = out.stderr_str();
    eprintln!(
        "lvmeta lvrename vf a c over a taken dm name: exit {}\n{err}",
        out.code
    );
    assert_eq!(out.code, 5, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "device-mapper rename of vf-a to vf-c failed: Device or resource busy",
            "Problem reactivating logical volume vf/c."
        ],
        "{err}"
    );
    // -ay links the new name to the LV's own device, not to the device holding vf-c.
    t.sh("$LVMETA lvchange -ay vf/c");
    assert_eq!(read_sum(t, "/dev/vf/c", 1), sum, "/dev/vf/c is the LV");
    // Recovery: the colliding device removed, deactivate and activate again.
    t.sh("set -e; dmsetup remove vf-c; $LVMETA lvchange -an vf/c");
    assert!(t.dm_state("vf-").is_empty(), "deactivated");
    assert_eq!(
        t.sh("ls -A /dev/vf 2>/dev/null || true").trim(),
        "",
        "stale links"
    );
    t.sh("$LVMETA lvchange -ay vf/c");
    assert_eq!(
        t.sh("dmsetup info -c --noheadings -o uuid vf-c").trim(),
        uuid,
        "the LV's device under the metadata's name"
    );
    assert_eq!(read_sum(t, "/dev/vf/c", 1), sum);
    assert_eq!(t.sh("ls /dev/vf").trim(), "c");

    // vgrename: the same, the devices left under the old VG name.
    t.sh("dmsetup create vg9-c --table '0 8192 zero'");
    let out = t.run("$LVMETA vgrename vf vg9");
    let err = out.stderr_str();
    eprintln!(
        "lvmeta vgrename vf vg9 over a taken dm name: exit {}\n{err}",
        out.code
    );
    assert_eq!(out.code, 5, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "device-mapper rename of vf-c to vg9-c failed: Device or resource busy",
            "Renaming \"/dev/vf\" to \"/dev/vg9\" failed"
        ],
        "{err}"
    );
    assert_eq!(
        t.sh("$LVM lvs --noheadings -o vg_name,lv_name vg9")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["vg9", "c"]
    );
    assert_eq!(
        read_sum(t, "/dev/vf/c", 1),
        sum,
        "the old link still leads to it"
    );
    t.sh("set -e; dmsetup remove vg9-c; $LVMETA lvchange -an vg9/c");
    assert!(t.dm_state("vf-").is_empty(), "deactivated");
    assert_eq!(
        t.sh("ls -A /dev/vf 2>/dev/null || true").trim(),
        "",
        "stale links"
    );
    t.sh("$LVMETA lvchange -ay vg9/c");
    assert_eq!(
        t.sh("dmsetup info -c --noheadings -o uuid vg9-c").trim(),
        uuid
    );
    assert_eq!(read_sum(t, "/dev/vg9/c", 1), sum);
    t.sh("$LVMETA vgremove -f vg9 >/dev/null");
    assert!(t.dm_state("vg9-").is_empty());

    // lvm2 in the same case (printed, for docs/lvm2-parity.md).
    t.sh(
        "set -e; $LVM vgcreate -q vg2 $DEVS; $LVM lvcreate -q -y -n a -L 8m vg2; \
         dmsetup create vg2-c --table '0 8192 zero'",
    );
    let out = t.run("$LVM lvrename vg2 a c");
    let after = t
        .sh("$LVM lvs --noheadings -o lv_name,lv_attr vg2; dmsetup ls | sort; ls /dev/vg2 || true");
    eprintln!(
        "lvm2 lvrename vg2 a c over a taken dm name: exit {}\n{}{}\nthen:\n{after}",
        out.code,
        out.stdout_str(),
        out.stderr_str()
    );
    let lvm2_lvrename = (out.code, out.stderr_str());
    // lvm2 left vg2-a suspended (2.03.16): resumed before the clean-up.
    let clean = "for d in $(dmsetup ls | cut -f1 | grep -E '^vg[23]-' || true); do \
                 dmsetup resume $d; dmsetup remove $d; done; rm -rf /dev/vg2 /dev/vg3";
    t.sh(&format!(
        "set -e; dmsetup resume vg2-a || true; {clean}; $LVM vgremove -q -f vg2 >/dev/null"
    ));
    t.sh(
        "set -e; $LVM vgcreate -q vg2 $DEVS; $LVM lvcreate -q -y -n a -L 8m vg2; \
         dmsetup create vg3-a --table '0 8192 zero'",
    );
    let out = t.run("$LVM vgrename vg2 vg3");
    let after = t.sh("$LVM lvs --noheadings -o vg_name,lv_name,lv_attr; dmsetup ls | sort; ls /dev/vg2 /dev/vg3 || true");
    eprintln!(
        "lvm2 vgrename vg2 vg3 over a taken dm name: exit {}\n{}{}\nthen:\n{after}",
        out.code,
        out.stdout_str(),
        out.stderr_str()
    );
    let lvm2_vgrename = out.stderr_str();
    t.sh(&format!("set -e; {clean}; $LVM vgremove -q -f vg3 >/dev/null 2>&1 || $LVM vgremove -q -f vg2 >/dev/null"));
    assert!(t.dm_state("vg2-").is_empty() && t.dm_state("vg3-").is_empty());
    // lvmeta's last lines are lvm2's (its exit code differs for vgrename: lvm2 says 0).
    let says = |err: &str, line: &str| err.lines().any(|l| l.trim() == line);
    assert_eq!(lvm2_lvrename.0, 5, "lvm2 lvrename: {}", lvm2_lvrename.1);
    assert!(
        says(
            &lvm2_lvrename.1,
            "Problem reactivating logical volume vg2/c."
        ),
        "lvm2 lvrename: {}",
        lvm2_lvrename.1
    );
    assert!(
        says(
            &lvm2_vgrename,
            "Renaming \"/dev/vg2\" to \"/dev/vg3\" failed"
        ),
        "lvm2 vgrename: {lvm2_vgrename}"
    );
}

/// lvm2's CACHE_VOL (the cachevol's flags) and CACHE_USES_CACHEVOL (in the cached LV's segment
/// type), which lvm2 writes only with device-mapper (it wipes the cachevol): lvmeta's model
/// reads CACHE_VOL as a known flag and writes lvm2's backup back byte for byte, and a commit
/// by lvmeta keeps both flags where lvm2 reads them.
fn cachevol_flags_round_trip(t: &T) {
    use lvmeta_model::{Flag, Trailer};
    let backup =
        || t.sh("$LVM vgcfgbackup -q -f /tmp/vc.backup vc >/dev/null && cat /tmp/vc.backup");
    t.sh("set -e; $LVM vgcreate -q vc $DEVS; \
         $LVM lvcreate -q -an -Zn -n main -L 8m vc; $LVM lvcreate -q -an -Zn -n fast -L 8m vc; \
         $LVM lvconvert -q -y --type cache --cachevol fast vc/main");
    let text = backup();
    assert!(text.contains("\"CACHE_VOL\""), "{text}");
    assert!(text.contains("\"cache+CACHE_USES_CACHEVOL\""), "{text}");
    let doc = lvmeta_text::parse(&text).expect("parse");
    let vg = VolumeGroup::from_metadata(&doc).expect("model");
    let cvol = vg
        .lvs
        .iter()
        .find(|l| l.flags.contains(Flag::CacheVol))
        .unwrap_or_else(|| panic!("no LV with a known CACHE_VOL flag: {text}"));
    assert_eq!(cvol.flags.unknown().count(), 0, "{:?}", cvol.flags);
    let trailer = Trailer::from_metadata(&doc).expect("trailer");
    let again = lvmeta_text::write_with(&vg.to_backup(&trailer), lvmeta_text::Style::Backup);
    assert_eq!(again, text, "lvm2's cachevol backup through the model");
    // A commit by lvmeta (a new LV) keeps the cache as lvm2 reads it.
    t.sh("$LVMETA lvcreate -an -Zn -n other -L 4m vc >/dev/null && $LVM vgck vc");
    let after = backup();
    assert!(after.contains("\"CACHE_VOL\""), "{after}");
    assert!(after.contains("\"cache+CACHE_USES_CACHEVOL\""), "{after}");
    assert_eq!(
        t.sh("$LVM lvs --noheadings -o segtype vc/main").trim(),
        "cache"
    );
    t.sh("$LVM vgremove -q -f vc");
}

/// lvm2's `-t/--test` with a real device-mapper: activation, deactivation, removal and a
/// resize of active LVs (linear and raid1) say what they would do, succeed, and leave the PVs'
/// labels and metadata areas and every dm device (tables, suspended or not, inactive tables)
/// as they were.
fn test_mode_changes_nothing(t: &T) {
    let state = || {
        let disks = t.sh("for d in $DEVS; do head -c 1048576 $d | sha256sum; done; \
             dmsetup info -c --noheadings --separator ' ' -o name,uuid,attr,tables_loaded \
               | grep '^vu-' | sort");
        (disks, t.dm_state("vu-"))
    };
    let before = state();
    assert_eq!(before.1.len(), 7, "vu's devices: {:?}", before.1);
    for cmd in [
        "lvchange -ay -t vu/off",
        "lvchange -an -t vu/idle",
        "lvchange -an -t vu/mir",
        "vgchange -an -t vu",
        "lvremove -f -t vu/idle",
        "lvremove -f -t vu/mir",
        "lvextend -t -L +4m vu/idle",
        "lvreduce -f -t -L 4m vu/held",
    ] {
        let out = t.run(&format!("$LVMETA {cmd}"));
        assert!(
            out.success(),
            "{cmd}: exit {}\n{}{}",
            out.code,
            out.stdout_str(),
            out.stderr_str()
        );
        assert!(
            out.stderr_str().contains("TEST MODE"),
            "{cmd}: no TEST MODE line: {}",
            out.stderr_str()
        );
        let now = state();
        assert_eq!(now.0, before.0, "{cmd}: PVs or dm device states changed");
        assert_eq!(now.1, before.1, "{cmd}: dm tables changed");
    }
}

/// lvm2's configuration for the multipath test: device names as an admin writes them (the
/// paths and the map both accepted), lvm2's multipath component detection on (its default).
const LVM_CONF_MPATH: &str = r#"devices { filter = [ "a|^/dev/vd|", "a|^/dev/mapper/mp$|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 multipath_component_detection = 1 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { use_lvmlockd = 0 system_id_source = "uname" }
backup { backup = 0 archive = 0 }
"#;

/// Issue 16 on a SAN: one image attached twice (two paths) under a dm-multipath map. The VG on
/// it is found once, through the map, by lvmeta (scanning, no --devices) as by lvm2; commands
/// and LVM-activate's start and monitor work; with one path failed, they still do. On the same
/// boot, new LVs as lvm2 makes them: one created over an old ext4 signature shows no
/// filesystem (`blkid`), while one made with `-Zn -Wn` over it still shows the stale ext4 (the
/// check can fail).
#[test]
fn lab_multipath_vg_found_once_and_new_lvs_wiped() {
    halvm_testkit::require_root();
    let bin = Bin::new();
    let t0 = Instant::now();
    let lab = Lab::start(LabConfig {
        nodes: 1,
        cluster: false,
        shared_disks: 1,
        shared_disk_paths: 2,
        shared_disk_mib: 128,
        private_disks: 0,
        ..LabConfig::default()
    })
    .unwrap_or_else(|e| panic!("lab did not start: {e}"));
    eprintln!("lab up in {:?}", t0.elapsed());
    let a = lab.shared_disk_path(0, 0);
    let b = lab.shared_disk_path(0, 1);
    lab.node("node1")
        .write_file("/tmp/lvmsys/lvm.conf", LVM_CONF_MPATH.as_bytes(), 0o644)
        .expect("lvm.conf");
    lab.node("node1")
        .write_file("/tmp/halvm.toml", b"", 0o644)
        .expect("halvm.toml");
    let mut t = T {
        lab,
        pre: String::new(),
        disks: Vec::new(),
        _bin: bin,
    };
    t.pre = format!(
        "export DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR=/tmp/lvmsys HALVM_CONFIG=/tmp/halvm.toml; \
         mkdir -p /run/lvm /run/lock/lvm /tmp/rsc; \
         M() {{ {lvmeta} \"$@\"; }}; LVMETA=M; LVM=lvm; \
         AGENT() {{ OCF_ROOT=/usr/lib/ocf OCF_RESKEY_vgname=vm OCF_RESKEY_vg_access_mode=system_id \
           OCF_RESOURCE_INSTANCE=vm-res HA_RSCTMP=/tmp/rsc HALVM_SYSTEM_ID=node1 \
           HA_LOGFACILITY=none HA_LOGFILE=/dev/null {agent} \"$@\"; }}; \
         A=$(readlink -f {a}); B=$(readlink -f {b});\n",
        lvmeta = t._bin.path,
        agent = t._bin.agent,
    );
    // Two paths to one image: a dm-multipath map over both (as multipathd would make it).
    t.sh(
        "set -e; modprobe -a dm-multipath dm-round-robin; [ \"$A\" != \"$B\" ]; \
         S=$(blockdev --getsz $A); \
         dmsetup create mp -u mpath-halvmlab0 --table \"0 $S multipath 0 0 1 1 round-robin 0 2 1 $A 1000 $B 1000\"; \
         test -b /dev/mapper/mp",
    );
    t.sh("set -e; M pvcreate /dev/mapper/mp; M vgcreate vm /dev/mapper/mp");
    // Found once, through the map, by lvmeta (no warning: the paths are not scanned) and by
    // lvm2 (2.03.16 here sees the paths as duplicates of the map and says it prefers the map).
    for cmd in [
        "M pvs --noheadings -o pv_name,vg_name",
        "$LVM pvs --noheadings -o pv_name,vg_name",
    ] {
        let out = t.run(cmd);
        assert!(out.success(), "{cmd}: {}", out.stderr_str());
        let rows: Vec<String> = out
            .stdout_str()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(rows, ["/dev/mapper/mp vm"], "{cmd}");
        let err = out.stderr_str();
        if cmd.starts_with('M') {
            assert!(!err.contains("WARNING"), "{cmd}: {err}");
        } else {
            let other: Vec<&str> = err
                .lines()
                .filter(|l| {
                    !l.trim().is_empty()
                        && !l.contains("prefers device /dev/mapper/mp because")
                        && !l.contains("WARNING: Not using device /dev/vd")
                })
                .collect();
            assert!(other.is_empty(), "{cmd}: {err}");
        }
    }

    // The paths' holder, the map, is known from one device-mapper listing of every device
    // with its uuid (DM_LIST_DEVICES with DM_UUID_FLAG), not read in sysfs per holder.
    let out = t.run("M pvs -vv --noheadings -o pv_name");
    let err = out.stderr_str();
    assert!(out.success(), "{err}");
    assert!(err.contains("device-mapper listed "), "{err}");
    assert!(
        !err.contains("reading them in sysfs") && !err.contains("reading dm uuids in sysfs"),
        "{err}"
    );
    for path in t.sh("echo $A $B").split_whitespace() {
        assert!(
            err.contains(&format!(
                "{path}: skipped, device is a multipath component (of mp)"
            )),
            "{path}: {err}"
        );
    }

    // New LVs over an old ext4 signature.
    t.sh(
        "set -e; M lvcreate -an -Zn -n old -L 16m vm; M lvchange -ay vm/old; \
         mkfs.ext4 -q -F /dev/vm/old; blkid -p -o value -s TYPE /dev/vm/old | grep -qx ext4; \
         M lvremove -f vm/old",
    );
    let ctl = t.sh("M lvcreate -Zn -Wn -n ctl -L 16m vm");
    assert!(!ctl.contains("Wiping"), "{ctl}");
    assert_eq!(
        t.sh("blkid -p -o value -s TYPE /dev/vm/ctl").trim(),
        "ext4",
        "without -Z/-W the stale signature is there: the check below can fail"
    );
    t.sh("M lvremove -f vm/ctl");
    let made = t.sh("M lvcreate -n new -L 16m vm");
    assert!(
        made.contains("Wiping ext4 signature on /dev/vm/new.")
            && made.contains("Logical volume \"new\" created."),
        "{made}"
    );
    assert!(
        t.sh("dmsetup info -c --noheadings -o name vm-new")
            .contains("vm-new"),
        "active"
    );
    let probe = t.run("blkid -p /dev/vm/new");
    assert_eq!(
        probe.code,
        2,
        "blkid found something: {}",
        probe.stdout_str()
    );
    assert_eq!(
        t.sh("dd if=/dev/vm/new bs=4096 count=1 status=none | tr -d '\\0' | wc -c")
            .trim(),
        "0",
        "first 4 KiB zeroed"
    );
    // -t writes nothing and activates nothing.
    let seq = t.sh("M vgs --noheadings -o vg_seqno vm");
    t.sh("M lvcreate -t -n dry -L 4m vm");
    assert_eq!(t.sh("M vgs --noheadings -o vg_seqno vm"), seq);
    assert!(!t.sh("dmsetup ls").contains("vm-dry"));

    // The agent: start (claims the VG, activates its LVs) and monitor.
    t.sh("M lvchange -an vm/new");
    let start = t.run("AGENT start");
    assert_eq!(
        start.code,
        0,
        "start: {}{}",
        start.stdout_str(),
        start.stderr_str()
    );
    let mon = t.run("OCF_RESKEY_CRM_meta_interval=10000 AGENT monitor");
    assert_eq!(mon.code, 0, "monitor: {}", mon.stderr_str());

    // One path fails: the map keeps the other; I/O, commands (a new LV activated and zeroed
    // through the map: the agent's monitor wants every LV of its VG active), the monitor go on.
    t.sh("dmsetup message mp 0 fail_path $B");
    let st = t.sh("dmsetup status mp");
    assert!(
        st.contains(" F ") && st.contains(" A "),
        "one path failed: {st}"
    );
    t.sh(
        "set -e; dd if=/dev/zero of=/dev/vm/new bs=1M count=2 oflag=direct status=none; \
          M lvcreate -n after -L 4m vm",
    );
    let lvs = t.sh("M lvs --noheadings -o lv_name vm");
    let mut names: Vec<&str> = lvs.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["after", "new"]);
    let ck = t.run("$LVM vgck vm");
    assert!(ck.success(), "lvm vgck: {}", ck.stderr_str());
    let mon = t.run("OCF_RESKEY_CRM_meta_interval=10000 AGENT monitor");
    assert_eq!(
        mon.code,
        0,
        "monitor with a failed path: {}",
        mon.stderr_str()
    );
    let stop = t.run("AGENT stop");
    assert_eq!(stop.code, 0, "stop: {}", stop.stderr_str());
    eprintln!("multipath test done in {:?}", t0.elapsed());
}
