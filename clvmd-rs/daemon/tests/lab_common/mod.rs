//! What the clvmd-rs lab tests share: the binaries copied aside before the VMs boot, and a
//! clvmd-rs node's lvm.conf and halvm.toml.

use std::path::PathBuf;

/// lvmeta and clvmd-rs beside this test's target directory, copied where no rebuild touches
/// them.
pub struct Bins {
    dir: PathBuf,
    pub lvmeta: String,
    pub clvmd: String,
}

impl Bins {
    /// `tag` names the copy's directory (`/var/tmp/halvm-<tag>-bin-<pid>`).
    pub fn new(tag: &str) -> Bins {
        let exe = std::env::current_exe().expect("current_exe");
        let target = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target dir")
            .to_path_buf();
        let dir = PathBuf::from(format!("/var/tmp/halvm-{tag}-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("bin dir");
        let lvmeta = copy_aside(&target, &dir, "lvmeta");
        let clvmd = copy_aside(&target, &dir, "clvmd-rs");
        Bins { dir, lvmeta, clvmd }
    }

    /// Copies one more binary of the same build aside (e.g. the LVM-activate agent); returns
    /// the copy's path.
    #[allow(dead_code)] // lab_coord runs no agent
    pub fn extra(&self, name: &str) -> String {
        let exe = std::env::current_exe().expect("current_exe");
        let target = exe.parent().and_then(|d| d.parent()).expect("target dir");
        copy_aside(target, &self.dir, name)
    }
}

impl Bins {
    /// Copies one more binary of the same build into a subdirectory of its own (`lvmc`
    /// without the `lvmeta` it would fall back to beside it); returns the copy's path.
    #[allow(dead_code)] // lab_coord runs no lvmc
    pub fn extra_alone(&self, name: &str) -> String {
        let exe = std::env::current_exe().expect("current_exe");
        let target = exe.parent().and_then(|d| d.parent()).expect("target dir");
        let dir = self.dir.join(format!("{name}.d"));
        std::fs::create_dir_all(&dir).expect("bin subdir");
        copy_aside(target, &dir, name)
    }
}

fn copy_aside(target: &std::path::Path, dir: &std::path::Path, name: &str) -> String {
    let built = target.join(name);
    assert!(
        built.exists(),
        "missing prerequisite: {} (build it first: cargo build -p lvmeta-cli -p clvmd-rs \
         -p halvm-lvm-activate -p lvmeta-forward -p lvmeta-server --bins)",
        built.display()
    );
    let to = dir.join(name);
    std::fs::copy(&built, &to).expect("copy binary");
    to.display().to_string()
}

impl Drop for Bins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub const LVM_CONF: &str = r#"devices { filter = [ "a|^/dev/vd|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { use_lvmlockd = 0 }
backup { backup = 0 archive = 0 }
"#;

pub const HALVM_TOML: &str = "[locking]\nlock_manager = \"dlm\"\nlock_dir = \"/tmp/halvm-lock\"\n";
