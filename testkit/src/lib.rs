//! Test support shared by every crate: golden files, loud prerequisite checks and
//! self-cleaning loop devices. Used only from tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Compares `actual` with the golden file at `path`; with `UPDATE_GOLDEN=1` rewrites it instead.
/// A missing golden file is a failure (not a silent creation) unless updating.
pub fn assert_golden(path: impl AsRef<Path>, actual: &str) {
    let path = path.as_ref();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create golden dir");
        }
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "golden file {} unreadable ({e}); run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let first_diff = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n  golden: {:?}\n  actual: {:?}\n(UPDATE_GOLDEN=1 refreshes it)",
            path.display(),
            first_diff + 1,
            expected.lines().nth(first_diff),
            actual.lines().nth(first_diff)
        );
    }
}

/// Absolute path of a tool a test needs; panics naming the tool and the package when absent.
pub fn require_tool(name: &str, debian_package: &str) -> PathBuf {
    let dirs = [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ];
    dirs.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("prerequisite missing: `{name}` (Debian package `{debian_package}`); run scripts/install-deps")
        })
}

/// Panics unless running as root (loop devices, namespaces and the lab need it).
pub fn require_root() {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    let uid = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        uid.trim(),
        "0",
        "prerequisite missing: this test needs root (loop devices / namespaces)"
    );
}

/// A loop device over a sparse backing file, detached and deleted on drop.
pub struct LoopDevice {
    device: PathBuf,
    backing: PathBuf,
}

impl LoopDevice {
    /// Creates a sparse file of `size_mib` MiB in `dir` and attaches it.
    pub fn new(dir: &Path, name: &str, size_mib: u64) -> LoopDevice {
        require_root();
        let losetup = require_tool("losetup", "mount");
        let backing = dir.join(name);
        let file = std::fs::File::create(&backing).expect("create loop backing file");
        file.set_len(size_mib << 20)
            .expect("size loop backing file");
        drop(file);
        let out = Command::new(losetup)
            .args(["--find", "--show"])
            .arg(&backing)
            .output()
            .expect("run losetup");
        assert!(
            out.status.success(),
            "losetup --find --show {} failed: {}",
            backing.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let device = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        LoopDevice { device, backing }
    }

    pub fn path(&self) -> &Path {
        &self.device
    }

    pub fn backing_file(&self) -> &Path {
        &self.backing
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
        let _ = std::fs::remove_file(&self.backing);
    }
}
