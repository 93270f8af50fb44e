//! Two identical sets of loop devices: lvmeta drives set A, stock lvm2 drives set B (a private
//! LVM_SYSTEM_DIR whose filter accepts only set B, activation off). Reports of both are
//! normalised (device names mapped to their index, UUIDs and times left out) so they can be
//! compared for equality. Used by the root tier (`root_*` tests, run with --test-threads=1).

#![allow(dead_code, unused_imports)]

mod report;

use halvm_testkit::{require_root, require_tool, LoopDevice};
pub use report::{rows_of, Out, Rows, View, LV_FIELDS, PV_FIELDS, VG_FIELDS};
use std::process::Command;

pub struct Twins {
    // Loop devices go before the directory holding their files.
    pub a: Vec<LoopDevice>,
    pub b: Vec<LoopDevice>,
    pub dir: tempfile::TempDir,
}

impl Twins {
    pub fn new(n: usize, mib: u64) -> Twins {
        require_root();
        require_tool("lvm", "lvm2");
        let dir = tempfile::Builder::new()
            .prefix("lvmeta-twins")
            .tempdir()
            .unwrap();
        let a: Vec<LoopDevice> = (0..n)
            .map(|i| LoopDevice::new(dir.path(), &format!("a{i}"), mib))
            .collect();
        let b: Vec<LoopDevice> = (0..n)
            .map(|i| LoopDevice::new(dir.path(), &format!("b{i}"), mib))
            .collect();
        let accept: Vec<String> = b
            .iter()
            .map(|l| format!("\"a|^{}$|\"", l.path().display()))
            .collect();
        let d = dir.path().display();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/lvm.conf"),
            format!(
                "devices {{ filter = [{}, \"r|.*|\"] use_devicesfile = 0 obtain_device_list_from_udev = 0 }}\n\
                 global {{ activation = 0 locking_dir = \"{d}/lvmlock\" }}\n\
                 activation {{ udev_sync = 0 udev_rules = 0 monitoring = 0 }}\n\
                 backup {{ backup = 0 archive = 0 backup_dir = \"{d}/backup\" archive_dir = \"{d}/archive\" }}\n",
                accept.join(", ")
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("halvm.toml"), "").unwrap();
        Twins { a, b, dir }
    }

    /// Devices per set.
    pub fn devices(&self) -> usize {
        self.a.len()
    }

    pub fn a_dev(&self, i: usize) -> String {
        self.a[i].path().display().to_string()
    }

    pub fn b_dev(&self, i: usize) -> String {
        self.b[i].path().display().to_string()
    }

    /// `s` with the device paths of set A (lvmeta) or B (lvm2) written `{N}`.
    pub fn generic(&self, s: &str, lvm2: bool) -> String {
        let devs: Vec<String> = (0..self.a.len())
            .map(|i| if lvm2 { self.b_dev(i) } else { self.a_dev(i) })
            .collect();
        let mut order: Vec<usize> = (0..devs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(devs[i].len()));
        let mut s = s.to_string();
        for i in order {
            s = s.replace(&devs[i], &format!("{{{i}}}"));
        }
        s
    }

    /// The last error line of an lvmeta (`lvm2` false) or lvm2 run, devices written `{N}`.
    pub fn last_error(&self, o: &Out, lvm2: bool) -> Option<String> {
        o.errors().last().map(|l| self.generic(l, lvm2))
    }

    /// Copies set A onto set B byte for byte.
    pub fn clone_a_to_b(&self) {
        for (x, y) in self.a.iter().zip(&self.b) {
            let data = std::fs::read(x.path()).unwrap();
            std::fs::write(y.path(), &data).unwrap();
        }
    }

    /// Zeroes the start of every device of both sets (labels and metadata areas).
    pub fn wipe(&self) {
        for l in self.a.iter().chain(&self.b) {
            std::fs::write(l.path(), vec![0u8; 2 << 20]).unwrap();
        }
    }

    pub fn lvm(&self, args: &[String]) -> Out {
        self.lvm_with(args, &[])
    }

    /// `lvm` with extra environment variables.
    pub fn lvm_with(&self, args: &[String], env: &[(&str, &str)]) -> Out {
        let out = Command::new("lvm")
            .args(args)
            .envs(env.iter().copied())
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

    pub fn me(&self, args: &[String]) -> Out {
        self.me_with(args, &[])
    }

    /// lvmeta (set A) with extra environment variables.
    pub fn me_with(&self, args: &[String], env: &[(&str, &str)]) -> Out {
        let devs: Vec<String> = (0..self.a.len()).map(|i| self.a_dev(i)).collect();
        // HALVM_LVMETA_BIN: a copy of the binary, so long runs survive a rebuild.
        let bin = std::env::var_os("HALVM_LVMETA_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_lvmeta").into());
        let out = Command::new(bin)
            .arg(&args[0])
            .args(["--devices", &devs.join(","), "--lock-dir"])
            .arg(self.dir.path().join("locks"))
            .args(&args[1..])
            .env("HALVM_CONFIG", self.dir.path().join("halvm.toml"))
            .env_remove("HALVM_SYSTEM_ID")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// Runs a command line written with `{N}` for device N on lvmeta (set A) and on lvm2
    /// (set B).
    pub fn both(&self, template: &[String]) -> (Out, Out) {
        let on = |dev: &dyn Fn(usize) -> String| -> Vec<String> {
            template
                .iter()
                .map(|a| {
                    let mut s = a.clone();
                    for i in 0..self.a.len() {
                        s = s.replace(&format!("{{{i}}}"), &dev(i));
                    }
                    s
                })
                .collect()
        };
        let m = self.me(&on(&|i| self.a_dev(i)));
        let l = self.lvm(&on(&|i| self.b_dev(i)));
        (m, l)
    }

    /// A read-only command run by both tools on set A (lvmeta's disks), so that both read
    /// the same metadata (LV creation times included), each with `TZ=tz`.
    pub fn both_on_a(&self, args: &[String], tz: &str) -> (Out, Out) {
        let env = [("TZ", tz)];
        let m = self.me_with(args, &env);
        let mut on_a = vec![args[0].clone(), "--config".into(), self.filter_a()];
        on_a.extend(args[1..].iter().cloned());
        (m, self.lvm_with(&on_a, &env))
    }

    /// lvm2's `--config` text with a filter that accepts set A only.
    fn filter_a(&self) -> String {
        let accept: Vec<String> = (0..self.a.len())
            .map(|i| format!("\"a|^{}$|\"", self.a_dev(i)))
            .collect();
        format!("devices {{ filter = [{}, \"r|.*|\"] }}", accept.join(","))
    }

    /// `lvm vgck` of set A (lvmeta's disks), through lvm2 with a filter for set A.
    pub fn lvm_vgck_a(&self, vg: &str) -> Out {
        let accept: Vec<String> = (0..self.a.len())
            .map(|i| format!("a|^{}$|", self.a_dev(i)))
            .chain(std::iter::once("r|.*|".to_string()))
            .collect();
        let filter = accept
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(",");
        self.lvm(&[
            "vgck".into(),
            "--config".into(),
            format!("devices {{ filter = [{filter}] }}"),
            vg.into(),
        ])
    }

    /// Normalised reports of a VG as lvmeta (set A) and lvm2 (set B) see it.
    pub fn views(&self, vg: &str) -> (View, View) {
        let m = |a: &[&str]| self.me(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let l = |a: &[&str]| self.lvm(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let view = |run: &dyn Fn(&[&str]) -> Out, devs: Vec<String>| -> View {
            let lvs = run(&["lvs", "-a", "-o", LV_FIELDS, "--reportformat", "json", vg]);
            let vgs = run(&["vgs", "-o", VG_FIELDS, "--reportformat", "json", vg]);
            let pvs = run(&["pvs", "-o", PV_FIELDS, "--reportformat", "json"]);
            View {
                lvs: rows_of(&lvs, "lv", &devs),
                vgs: rows_of(&vgs, "vg", &devs),
                pvs: rows_of(&pvs, "pv", &devs),
            }
        };
        let a: Vec<String> = (0..self.a.len()).map(|i| self.a_dev(i)).collect();
        let b: Vec<String> = (0..self.b.len()).map(|i| self.b_dev(i)).collect();
        (view(&m, a), view(&l, b))
    }
}
