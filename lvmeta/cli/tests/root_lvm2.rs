//! Stock lvm2 as the oracle, both directions, on loop devices (root tier: run with
//! `--test-threads=1`). lvm2 runs with a private LVM_SYSTEM_DIR whose filter accepts only this
//! test's loop devices, with activation off (the host kernel has no device-mapper).

use halvm_testkit::{require_root, require_tool, LoopDevice};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

struct Sandbox {
    dir: tempfile::TempDir,
    loops: Vec<LoopDevice>,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Sandbox {
    fn new(n: usize, mib: u64) -> Sandbox {
        require_root();
        require_tool("lvm", "lvm2");
        let dir = tempfile::tempdir().unwrap();
        let loops: Vec<LoopDevice> = (0..n)
            .map(|i| LoopDevice::new(dir.path(), &format!("disk{i}"), mib))
            .collect();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        let accept: Vec<String> = loops
            .iter()
            .map(|l| format!("\"a|^{}$|\"", l.path().display()))
            .collect();
        let d = dir.path().display();
        std::fs::write(
            etc.join("lvm.conf"),
            format!(
                "devices {{ filter = [{}, \"r|.*|\"] use_devicesfile = 0 obtain_device_list_from_udev = 0 }}\n\
                 global {{ activation = 0 locking_dir = \"{d}/lvmlock\" system_id_source = \"uname\" }}\n\
                 activation {{ udev_sync = 0 udev_rules = 0 monitoring = 0 }}\n\
                 backup {{ backup = 1 archive = 1 backup_dir = \"{d}/backup\" archive_dir = \"{d}/archive\" }}\n",
                accept.join(", ")
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("halvm.toml"), "").unwrap();
        Sandbox { dir, loops }
    }

    fn dev(&self, i: usize) -> &str {
        self.loops[i].path().to_str().unwrap()
    }

    fn devs(&self, n: usize) -> Vec<&str> {
        (0..n).map(|i| self.dev(i)).collect()
    }

    fn lvm(&self, args: &[&str]) -> Out {
        let out = Command::new("lvm")
            .args(args)
            .env("LVM_SYSTEM_DIR", self.dir.path().join("etc"))
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    fn lvm_ok(&self, args: &[&str]) -> String {
        let o = self.lvm(args);
        assert_eq!(o.code, 0, "lvm {args:?}: {}{}", o.stdout, o.stderr);
        let noise = |l: &&str| {
            !l.contains("Activation disabled") && !l.contains("not zeroed") && !l.trim().is_empty()
        };
        let warnings: Vec<&str> = o.stderr.lines().filter(noise).collect();
        assert!(warnings.is_empty(), "lvm {args:?} warned: {warnings:?}");
        o.stdout
    }

    fn me(&self, args: &[&str]) -> Out {
        let devs: Vec<&str> = (0..self.loops.len()).map(|i| self.dev(i)).collect();
        let mut c = Command::new(env!("CARGO_BIN_EXE_lvmeta"));
        c.arg(args[0])
            .args(["--devices", &devs.join(","), "--lock-dir"])
            .arg(self.dir.path().join("locks"));
        c.args(&args[1..]);
        c.env("HALVM_CONFIG", self.dir.path().join("halvm.toml"));
        // lvm2's configuration of the sandbox (its backup directories among others).
        c.env("LVM_SYSTEM_DIR", self.dir.path().join("etc"));
        c.env("HALVM_SYSTEM_ID", hostname());
        let out = c.output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// `lvmeta` as an lvm2 node runs it: lvm2's configuration (`$LVM_SYSTEM_DIR`), so
    /// lvm2's lock directory and system ID, no `--lock-dir` and no `$HALVM_SYSTEM_ID`.
    fn me_as_lvm2_node(&self, args: &[&str]) -> Out {
        let devs: Vec<&str> = (0..self.loops.len()).map(|i| self.dev(i)).collect();
        let mut c = Command::new(env!("CARGO_BIN_EXE_lvmeta"));
        c.arg(args[0]).args(["--devices", &devs.join(",")]);
        c.args(&args[1..]);
        c.env("HALVM_CONFIG", self.dir.path().join("halvm.toml"));
        c.env("LVM_SYSTEM_DIR", self.dir.path().join("etc"));
        c.env_remove("HALVM_SYSTEM_ID");
        let out = c.output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    fn me_ok(&self, args: &[&str]) -> String {
        let o = self.me(args);
        assert_eq!(o.code, 0, "lvmeta {args:?}: {}{}", o.stdout, o.stderr);
        o.stdout
    }

    /// lvm2's `vgck` must pass without a warning.
    fn lvm_vgck(&self, vg: &str) {
        self.lvm_ok(&["vgck", vg]);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

const LV_FIELDS: &[&str] = &[
    "lv_name",
    "vg_name",
    "lv_size",
    "segtype",
    "stripes",
    "stripe_size",
    "region_size",
    "seg_start",
    "seg_start_pe",
    "seg_size",
    "seg_size_pe",
    "devices",
    "metadata_devices",
    "seg_pe_ranges",
    "lv_attr",
];
const VG_FIELDS: &str = "vg_name,pv_count,lv_count,vg_size,vg_free,vg_tags,vg_systemid,vg_seqno,vg_extent_size,vg_extent_count,vg_free_count,vg_attr,vg_uuid";
const PV_FIELDS: &str = "pv_name,vg_name,pv_size,pv_free,pe_start,pv_uuid,pv_pe_count,pv_pe_alloc_count,pv_attr,pv_mda_size";

type Rows = Vec<BTreeMap<String, String>>;

fn rows(json: &str, key: &str, keep: &[&str]) -> Rows {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("bad json {e}: {json}"));
    let mut out: Rows = v["report"][0][key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| {
                    let mut s = v.as_str().unwrap().to_string();
                    if k == "lv_attr" {
                        // lvm2 shows X (unknown) for state, open and health with activation off.
                        s = s
                            .chars()
                            .enumerate()
                            .map(|(i, c)| if [4, 5, 8].contains(&i) { '-' } else { c })
                            .collect();
                    }
                    (k.clone(), s)
                })
                .collect()
        })
        .collect();
    out.sort_by(|a, b| {
        (a.get("lv_name"), a.get("seg_start_pe"), a.get("pv_name")).cmp(&(
            b.get("lv_name"),
            b.get("seg_start_pe"),
            b.get("pv_name"),
        ))
    });
    out
}

/// lvm2's and lvmeta's views of `vg` (LVs with segments, VG, PVs) must be equal.
fn same_view(s: &Sandbox, vg: &str) {
    let lvm_lvs = s.lvm_ok(&[
        "lvs",
        "-a",
        "-o+seg_all,devices,metadata_devices",
        "--reportformat",
        "json",
        vg,
    ]);
    let lvs_fields = LV_FIELDS.join(",");
    let me_lvs = s.me_ok(&["lvs", "-a", "-o", &lvs_fields, "--reportformat", "json", vg]);
    assert_eq!(
        rows(&me_lvs, "lv", LV_FIELDS),
        rows(&lvm_lvs, "lv", LV_FIELDS),
        "lvs of {vg}"
    );
    let vf: Vec<&str> = VG_FIELDS.split(',').collect();
    let a = rows(
        &s.lvm_ok(&["vgs", "-o", VG_FIELDS, "--reportformat", "json", vg]),
        "vg",
        &vf,
    );
    let b = rows(
        &s.me_ok(&["vgs", "-o", VG_FIELDS, "--reportformat", "json", vg]),
        "vg",
        &vf,
    );
    assert_eq!(b, a, "vgs of {vg}");
    let pf: Vec<&str> = PV_FIELDS.split(',').collect();
    let a = rows(
        &s.lvm_ok(&["pvs", "-o", PV_FIELDS, "--reportformat", "json"]),
        "pv",
        &pf,
    );
    let b = rows(
        &s.me_ok(&["pvs", "-o", PV_FIELDS, "--reportformat", "json"]),
        "pv",
        &pf,
    );
    assert_eq!(b, a, "pvs");
    // Default column output too, byte for byte except the attr state columns.
    let mask = |t: String| {
        t.replace("-XX-", "----")
            .replace("XX---", "-----")
            .replace("r-X-", "r---")
            .replace("XXr-X-", "--r---")
            .replace("XXr", "--r")
            .replace("XXm", "--m")
    };
    assert_eq!(mask(s.me_ok(&["vgs", vg])), mask(s.lvm_ok(&["vgs", vg])));
}

#[test]
fn root_lvmeta_writes_lvm2_reads() {
    for npv in 1..=4 {
        let s = Sandbox::new(npv, 64);
        let devs = s.devs(npv);
        let mut a = vec!["pvcreate"];
        a.extend(&devs);
        s.me_ok(&a);
        let host = hostname();
        let mut a = vec![
            "vgcreate",
            "vg",
            "--addtag",
            "t1",
            "--addtag",
            "t2",
            "--systemid",
            &host,
        ];
        a.extend(&devs);
        s.me_ok(&a);
        s.me_ok(&["lvcreate", "-n", "lin", "-L", "8m", "vg"]);
        if npv >= 2 {
            s.me_ok(&["lvcreate", "-n", "st2", "-i", "2", "-L", "8m", "vg"]);
            s.me_ok(&[
                "lvcreate", "-n", "r1", "--type", "raid1", "-m", "1", "-L", "4m", "vg",
            ]);
            s.me_ok(&[
                "lvcreate", "-n", "mir", "--type", "mirror", "-m", "1", "-L", "4m", "vg",
            ]);
        }
        if npv >= 3 {
            s.me_ok(&[
                "lvcreate", "-n", "st3", "-i", "3", "-I", "64k", "-L", "12m", "vg",
            ]);
        }
        s.me_ok(&["lvcreate", "-n", "gap", "-L", "4m", "vg"]);
        s.me_ok(&["lvextend", "-L", "+8m", "vg/lin"]);
        s.me_ok(&["lvextend", "-l", "+1", "vg/lin"]);
        s.lvm_vgck("vg");
        same_view(&s, "vg");
        let lvs = s.lvm_ok(&["lvs", "--noheadings", "-o", "lv_name,seg_count", "vg/lin"]);
        assert!(
            lvs.split_whitespace().collect::<Vec<_>>() == ["lin", "2"] || lvs.contains(" 3"),
            "{lvs}"
        );
    }
}

#[test]
fn root_lvmeta_resizes_raid1_and_mirror_lvm2_reads() {
    let s = Sandbox::new(3, 64);
    let devs = s.devs(3);
    let mut a = vec!["pvcreate"];
    a.extend(&devs);
    s.me_ok(&a);
    let host = hostname();
    let mut a = vec!["vgcreate", "vg", "--systemid", &host];
    a.extend(&devs);
    s.me_ok(&a);
    s.me_ok(&[
        "lvcreate", "-n", "r1", "--type", "raid1", "-m", "1", "-L", "4m", "vg",
    ]);
    s.me_ok(&[
        "lvcreate", "-n", "mir", "--type", "mirror", "-m", "1", "-L", "4m", "vg",
    ]);
    // Something after each image, so growing adds segments elsewhere.
    s.me_ok(&["lvcreate", "-n", "gap", "-i", "3", "-L", "12m", "vg"]);
    s.me_ok(&["lvextend", "-L", "+8m", "vg/r1"]);
    s.me_ok(&["lvextend", "-L", "16m", "vg/mir"]);
    s.lvm_vgck("vg");
    same_view(&s, "vg");
    let sizes = s.lvm_ok(&[
        "lvs",
        "-a",
        "--noheadings",
        "--units",
        "m",
        "-o",
        "lv_name,lv_size",
        "vg",
    ]);
    let size = |lv: &str| {
        sizes
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w[0] == lv)
            .map(|w| w[1].to_string())
    };
    for (lv, want) in [
        ("r1", "12.00m"),
        ("[r1_rimage_0]", "12.00m"),
        ("[r1_rimage_1]", "12.00m"),
        ("mir", "16.00m"),
        ("[mir_mimage_0]", "16.00m"),
        ("[mir_mimage_1]", "16.00m"),
    ] {
        assert_eq!(size(lv).as_deref(), Some(want), "{lv} in {sizes}");
    }
    s.me_ok(&["lvresize", "-L", "-4m", "vg/r1"]);
    s.me_ok(&["lvreduce", "-L", "4m", "vg/mir"]);
    s.lvm_vgck("vg");
    same_view(&s, "vg");
}

#[test]
fn root_lvm2_writes_lvmeta_reads() {
    for npv in 1..=4 {
        let s = Sandbox::new(npv, 64);
        let devs = s.devs(npv);
        let mut a = vec!["pvcreate"];
        a.extend(&devs);
        s.lvm_ok(&a);
        let mut a = vec!["vgcreate", "--addtag", "x1", "vg"];
        a.extend(&devs);
        s.lvm_ok(&a);
        s.lvm_ok(&["lvcreate", "-an", "-Zn", "-n", "lin", "-L", "8m", "vg"]);
        if npv >= 2 {
            s.lvm_ok(&[
                "lvcreate", "-an", "-Zn", "-n", "st2", "-i", "2", "-L", "8m", "vg",
            ]);
        }
        if npv >= 3 {
            s.lvm_ok(&[
                "lvcreate", "-an", "-Zn", "-n", "st3", "-i", "3", "-I", "64k", "-L", "12m", "vg",
            ]);
        }
        s.lvm_ok(&["lvcreate", "-an", "-Zn", "-n", "gap", "-L", "4m", "vg"]);
        s.lvm_ok(&["lvextend", "-L", "+8m", "vg/lin"]);
        s.lvm_ok(&["lvchange", "--addtag", "lt", "vg/gap"]);
        same_view(&s, "vg");
        let c = s.me(&["vgck", "vg"]);
        assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    }
}

/// raid1 and mirror LVs written by lvm2 through vgcfgrestore of a hand-written file.
#[test]
fn root_lvm2_restored_raid1_and_mirror_read_by_lvmeta() {
    let s = Sandbox::new(2, 64);
    s.lvm_ok(&["pvcreate", s.dev(0), s.dev(1)]);
    s.lvm_ok(&["vgcreate", "vg", s.dev(0), s.dev(1)]);
    let bk = s.dir.path().join("vg.bk");
    s.lvm_ok(&["vgcfgbackup", "-f", bk.to_str().unwrap(), "vg"]);
    let text = std::fs::read_to_string(&bk).unwrap();
    let lvs = r#"
	logical_volumes {

		r {
			id = "aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 2

				type = "raid1"
				device_count = 2
				region_size = 1024

				raids = [
					"r_rmeta_0", "r_rimage_0",
					"r_rmeta_1", "r_rimage_1"
				]
			}
		}

		r_rmeta_0 {
			id = "bbbbbb-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 1

				type = "striped"
				stripe_count = 1

				stripes = [
					"pv0", 0
				]
			}
		}

		r_rimage_0 {
			id = "cccccc-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 2

				type = "striped"
				stripe_count = 1

				stripes = [
					"pv0", 1
				]
			}
		}

		r_rmeta_1 {
			id = "dddddd-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 1

				type = "striped"
				stripe_count = 1

				stripes = [
					"pv1", 0
				]
			}
		}

		r_rimage_1 {
			id = "eeeeee-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 2

				type = "striped"
				stripe_count = 1

				stripes = [
					"pv1", 1
				]
			}
		}

		m {
			id = "ffffff-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 1

				type = "mirror"
				mirror_count = 2
				region_size = 1024

				mirrors = [
					"m_mimage_0", 0,
					"m_mimage_1", 0
				]
			}
		}

		m_mimage_0 {
			id = "gggggg-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 1

				type = "striped"
				stripe_count = 1

				stripes = [
					"pv0", 3
				]
			}
		}

		m_mimage_1 {
			id = "hhhhhh-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 1

				type = "striped"
				stripe_count = 1

				stripes = [
					"pv1", 3
				]
			}
		}
	}
"#;
    // Insert the LVs after the physical_volumes section (before the VG's closing brace).
    let end = text.find("\n}\n").expect("VG section end");
    let edited = format!("{}{}{}", &text[..end], lvs, &text[end..]);
    std::fs::write(&bk, edited).unwrap();
    // vgcfgrestore asks device-mapper about active LVs and warns that it cannot; the exit
    // code still tells.
    let o = s.lvm(&["vgcfgrestore", "-f", bk.to_str().unwrap(), "vg"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    s.lvm_vgck("vg");
    same_view(&s, "vg");
    // lvmeta edits the VG; lvm2 still agrees.
    s.me_ok(&["lvcreate", "-n", "more", "-L", "4m", "vg"]);
    s.me_ok(&["lvrename", "vg", "r", "rr"]);
    s.lvm_vgck("vg");
    same_view(&s, "vg");
}

#[test]
fn root_alternating_edits_lose_nothing() {
    let s = Sandbox::new(3, 64);
    s.lvm_ok(&["pvcreate", s.dev(0), s.dev(1)]);
    s.me_ok(&["pvcreate", s.dev(2)]);
    s.me_ok(&["vgcreate", "vg", s.dev(0), s.dev(1)]);
    s.lvm_ok(&["vgextend", "vg", s.dev(2)]);
    same_view(&s, "vg");
    let steps: Vec<(bool, Vec<&str>)> = vec![
        (true, vec!["lvcreate", "-n", "a", "-L", "8m", "vg"]),
        (
            false,
            vec![
                "lvcreate", "-an", "-Zn", "-n", "b", "-i", "2", "-L", "8m", "vg",
            ],
        ),
        (true, vec!["lvextend", "-L", "+4m", "vg/b"]),
        (false, vec!["lvextend", "-L", "+4m", "vg/a"]),
        (true, vec!["lvrename", "vg", "a", "a2"]),
        (false, vec!["lvrename", "vg", "b", "b2"]),
        (
            true,
            vec![
                "lvcreate", "-n", "c", "-i", "3", "-I", "64k", "-L", "12m", "vg",
            ],
        ),
        (false, vec!["lvremove", "-y", "vg/a2"]),
        (true, vec!["lvremove", "vg/b2"]),
        (
            false,
            vec!["lvcreate", "-an", "-Zn", "-n", "d", "-L", "4m", "vg"],
        ),
        (true, vec!["vgchange", "vg", "--addtag", "both"]),
        (false, vec!["vgrename", "vg", "vg2"]),
        (true, vec!["lvcreate", "-n", "e", "-l", "100%FREE", "vg2"]),
    ];
    for (me, args) in steps {
        if me {
            s.me_ok(&args);
        } else {
            s.lvm_ok(&args);
        }
        let vg = if s.lvm(&["vgs", "vg2"]).code == 0 {
            "vg2"
        } else {
            "vg"
        };
        s.lvm_vgck(vg);
        same_view(&s, vg);
    }
    let names = s.me_ok(&["lvs", "--noheadings", "-o", "lv_name"]);
    assert_eq!(
        names.split_whitespace().collect::<Vec<_>>(),
        ["c", "d", "e"]
    );
    let free = s.lvm_ok(&["vgs", "--noheadings", "-o", "vg_free_count", "vg2"]);
    assert_eq!(free.trim(), "0");
}

#[test]
fn root_damaged_copy_vgck_repairs_and_lvm2_agrees() {
    let s = Sandbox::new(2, 64);
    s.me_ok(&["pvcreate", s.dev(0), s.dev(1)]);
    s.me_ok(&["vgcreate", "vg", s.dev(0), s.dev(1)]);
    s.me_ok(&["lvcreate", "-n", "a", "-L", "8m", "vg"]);
    let before = s.me_ok(&["lvs", "-a"]);
    // Corrupt the newest text copy on the second PV.
    let data = std::fs::read(s.loops[1].backing_file()).unwrap();
    let at = data[..1 << 20]
        .windows(4)
        .rposition(|w| w == b"vg {")
        .unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(s.dev(1))
            .unwrap();
        f.write_all_at(b"XXXX", at as u64 + 30).unwrap();
        f.sync_all().unwrap();
    }
    assert_eq!(s.me_ok(&["lvs", "-a"]), before, "reads from the good copy");
    let c = s.me(&["vgck", "vg"]);
    assert_eq!(c.code, 5);
    assert!(
        c.stdout.contains(s.dev(1)) && c.stdout.contains("damaged"),
        "{}",
        c.stdout
    );
    // lvm2 sees the damage too.
    let o = s.lvm(&["vgck", "vg"]);
    assert!(o.stderr.contains(s.dev(1)), "lvm2 vgck: {}", o.stderr);
    s.me_ok(&["vgck", "--updatemetadata", "vg"]);
    s.lvm_vgck("vg");
    same_view(&s, "vg");
    assert_eq!(s.me(&["vgck", "vg"]).code, 0);
}

#[test]
fn root_concurrent_lvcreates_on_loop_devices() {
    let s = Sandbox::new(2, 128);
    s.me_ok(&["pvcreate", s.dev(0), s.dev(1)]);
    s.me_ok(&["vgcreate", "-s", "1m", "vg", s.dev(0), s.dev(1)]);
    let s = std::sync::Arc::new(s);
    let procs = 4;
    let each = 10;
    let ts: Vec<_> = (0..procs)
        .map(|p| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..each {
                    s.me_ok(&["lvcreate", "-n", &format!("p{p}x{i}"), "-L", "1m", "vg"]);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let n = s.lvm_ok(&["lvs", "--noheadings", "-o", "lv_name", "vg"]);
    assert_eq!(n.lines().count(), procs * each);
    s.lvm_vgck("vg");
}

/// Issue 12: `lvm lvcreate` and `lvmeta lvcreate` at once on one VG (two processes of each,
/// 25 LVs apiece). lvmeta takes lvm2's own lock files (`V_vg` in lvm.conf's locking_dir,
/// lvm2's protocol), so no update is lost: all 100 LVs exist and lvm2's vgck passes. With
/// separate lock directories, 5 of 60 LVs were lost in such a run.
#[test]
fn root_lvm2_and_lvmeta_lvcreate_concurrently_lose_nothing() {
    let s = Sandbox::new(2, 128);
    s.lvm_ok(&["pvcreate", s.dev(0), s.dev(1)]);
    s.lvm_ok(&["vgcreate", "-s", "1m", "vg", s.dev(0), s.dev(1)]);
    let s = std::sync::Arc::new(s);
    let each = 25;
    let mut ts = Vec::new();
    for p in 0..4 {
        let s = s.clone();
        // Each writer reports its first failure instead of panicking, so that every thread
        // ends and the sandbox (loop devices) is cleaned up before the test fails.
        ts.push(std::thread::spawn(move || -> Result<(), String> {
            for i in 0..each {
                let name = format!("p{p}x{i}");
                let o = if p % 2 == 0 {
                    s.lvm(&["lvcreate", "-an", "-Zn", "-n", &name, "-l", "1", "vg"])
                } else {
                    s.me_as_lvm2_node(&["lvcreate", "-n", &name, "-l", "1", "vg"])
                };
                if o.code != 0 {
                    let tool = if p % 2 == 0 { "lvm" } else { "lvmeta" };
                    return Err(format!("{tool} lvcreate {name}: {}{}", o.stdout, o.stderr));
                }
            }
            Ok(())
        }));
    }
    let failures: Vec<String> = ts
        .into_iter()
        .filter_map(|t| t.join().expect("writer thread").err())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let n = s.lvm_ok(&["lvs", "--noheadings", "-o", "lv_name", "vg"]);
    assert_eq!(n.lines().count(), 4 * each, "{n}");
    s.lvm_vgck("vg");
    let o = s.me_as_lvm2_node(&["lvs", "--noheadings", "-o", "lv_name", "vg"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 4 * each);
}

/// Issue 12: lvmeta on an lvm2 node (`system_id_source = "uname"`) creates VGs owned by this
/// host, as lvm2 does, and lvm2 sees the same owner.
#[test]
fn root_lvmeta_vgcreate_takes_lvm2s_system_id() {
    let s = Sandbox::new(1, 64);
    let o = s.me_as_lvm2_node(&["pvcreate", s.dev(0)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = s.me_as_lvm2_node(&["vgcreate", "vg", s.dev(0)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let sid = s.lvm_ok(&["vgs", "--noheadings", "-o", "vg_systemid", "vg"]);
    assert_eq!(sid.trim(), hostname());
    let o = s.me_as_lvm2_node(&["vgs", "--noheadings", "-o", "vg_name"]);
    assert_eq!(o.stdout.trim(), "vg", "{}", o.stderr);
}

/// lvm2's segment view of `vg` (lvm2 reads it), to compare before and after a restore.
fn lvm2_lvs(s: &Sandbox, vg: &str) -> Rows {
    let json = s.lvm_ok(&[
        "lvs",
        "-a",
        "-o+seg_all,devices,metadata_devices",
        "--reportformat",
        "json",
        vg,
    ]);
    rows(&json, "lv", LV_FIELDS)
}

/// lvm2's vgcfgrestore asks device-mapper for active LVs first; this host has none, which it
/// says in warnings that are not about what it restores.
fn lvm2_vgcfgrestore(s: &Sandbox, args: &[&str]) {
    let mut a = vec!["vgcfgrestore"];
    a.extend(args);
    let o = s.lvm(&a);
    assert_eq!(o.code, 0, "lvm {a:?}: {}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("Restored volume group vg"),
        "{}",
        o.stdout
    );
    let no_dm = [
        "/dev/mapper/control",
        "device-mapper",
        "libdevmapper",
        "Failed to check for active volumes",
    ];
    let other: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !no_dm.iter().any(|n| l.contains(n)))
        .collect();
    assert!(other.is_empty(), "lvm {a:?} warned: {other:?}");
}

/// The newest archive of `vg` in the sandbox whose description names `command`.
fn archive_before(s: &Sandbox, vg: &str, command: &str) -> std::path::PathBuf {
    let dir = s.dir.path().join("archive");
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&format!("{vg}_"))
                && std::fs::read_to_string(p)
                    .unwrap()
                    .contains(&format!("Created *before* executing '{command}"))
        })
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no archive of {vg} before '{command}' in {}", dir.display()))
}

/// Issue 16: a mistaken `lvremove` is undone with `vgcfgrestore` from lvmeta's archive; lvm2
/// restores from lvmeta's archive and lvmeta from lvm2's (one archive directory, lvm2's
/// file names and layout, `vgcfgrestore -l` of each lists the other's files).
#[test]
fn root_lvremove_undone_with_vgcfgrestore_both_ways() {
    let s = Sandbox::new(2, 64);
    let devs = s.devs(2);
    let mut a = vec!["pvcreate"];
    a.extend(&devs);
    s.me_ok(&a);
    let mut a = vec!["vgcreate", "vg"];
    a.extend(&devs);
    s.me_ok(&a);
    s.me_ok(&["lvcreate", "-n", "keep", "-L", "8m", "vg"]);
    s.me_ok(&["lvcreate", "-n", "data", "-i", "2", "-L", "16m", "vg"]);
    s.me_ok(&["lvextend", "-L", "+4m", "vg/keep"]);
    let before = lvm2_lvs(&s, "vg");
    assert_eq!(before.iter().filter(|r| r["lv_name"] == "data").count(), 1);

    // 1. lvmeta lvremove, undone by lvmeta vgcfgrestore from lvmeta's archive.
    s.me_ok(&["lvremove", "-f", "vg/data"]);
    assert!(lvm2_lvs(&s, "vg").iter().all(|r| r["lv_name"] != "data"));
    let ours = archive_before(&s, "vg", "lvremove");
    let list = s.me_ok(&["vgcfgrestore", "-l", "vg"]);
    assert!(list.contains(ours.to_str().unwrap()), "{list}");
    s.me_ok(&["vgcfgrestore", "-f", ours.to_str().unwrap(), "vg"]);
    s.lvm_vgck("vg");
    assert_eq!(
        lvm2_lvs(&s, "vg"),
        before,
        "restored by lvmeta from lvmeta's archive"
    );
    same_view(&s, "vg");

    // 2. lvm2 restores from lvmeta's archive (and lists it).
    s.me_ok(&["lvremove", "-f", "vg/data"]);
    let ours = archive_before(&s, "vg", "lvremove");
    let list = s.lvm_ok(&["vgcfgrestore", "-l", "vg"]);
    assert!(
        list.contains(ours.to_str().unwrap()),
        "lvm2 lists ours: {list}"
    );
    lvm2_vgcfgrestore(&s, &["-f", ours.to_str().unwrap(), "vg"]);
    s.lvm_vgck("vg");
    assert_eq!(
        lvm2_lvs(&s, "vg"),
        before,
        "restored by lvm2 from lvmeta's archive"
    );
    same_view(&s, "vg");

    // 3. lvmeta restores from lvm2's archive (and lists it).
    s.lvm_ok(&["lvremove", "-f", "vg/data"]);
    assert!(lvm2_lvs(&s, "vg").iter().all(|r| r["lv_name"] != "data"));
    let theirs = archive_before(&s, "vg", "lvremove -f vg/data");
    assert!(
        std::fs::read_to_string(&theirs)
            .unwrap()
            .contains("Generated by LVM2"),
        "{} is lvm2's",
        theirs.display()
    );
    let list = s.me_ok(&["vgcfgrestore", "-l", "vg"]);
    assert!(
        list.contains(theirs.to_str().unwrap()),
        "we list lvm2's: {list}"
    );
    s.me_ok(&["vgcfgrestore", "-f", theirs.to_str().unwrap(), "vg"]);
    s.lvm_vgck("vg");
    assert_eq!(
        lvm2_lvs(&s, "vg"),
        before,
        "restored by lvmeta from lvm2's archive"
    );
    same_view(&s, "vg");

    // The backup after the last command is ours, and lvm2 restores it without -f.
    let backup = std::fs::read_to_string(s.dir.path().join("backup/vg")).unwrap();
    assert!(
        backup.contains("Created *after* executing 'vgcfgrestore"),
        "{backup}"
    );
    lvm2_vgcfgrestore(&s, &["vg"]);
    s.lvm_vgck("vg");
    assert_eq!(lvm2_lvs(&s, "vg"), before);
}
