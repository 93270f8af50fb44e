//! The guest kernel (Debian's stock package, cached outside the repo) and the initramfs that
//! mounts the host root over 9p and switches into a per-node init.

use crate::error::{LabError, Result};
use crate::host::{cmd_ok, cmd_output};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Metapackage that names the current stable kernel of the distribution.
const META_PACKAGE: &str = "linux-image-amd64";
/// Modules the initramfs needs before the switch, in any order: `modprobe --show-depends`
/// expands them into dependency order.
const INITRAMFS_MODULES: &[&str] = &["virtio_pci", "9pnet_virtio", "9p", "overlay"];

/// Default cache: outside the repository, survives between runs.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("HALVM_LAB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/halvm-lab"))
}

/// An unpacked kernel package with its module tree depmod'ed.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// e.g. `6.1.0-56-amd64`
    pub version: String,
    /// Root of the unpacked package (`<root>/lib/modules/<version>`, `<root>/boot/vmlinuz-*`).
    pub root: PathBuf,
}

impl Kernel {
    pub fn vmlinuz(&self) -> PathBuf {
        self.root
            .join("boot")
            .join(format!("vmlinuz-{}", self.version))
    }
    pub fn modules_dir(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.version)
    }

    /// Module files in load order (dependencies first) for the given module names.
    pub fn modules_in_order(&self, names: &[&str]) -> Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = Vec::new();
        for name in names {
            let text = cmd_output(Command::new("modprobe").arg("-d").arg(&self.root).args([
                "-S",
                &self.version,
                "--show-depends",
                name,
            ]))?;
            for line in text.lines() {
                if let Some(path) = line.strip_prefix("insmod ") {
                    let p = PathBuf::from(path.trim());
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Resolves the metapackage to the real `linux-image-<abi>-amd64` package name.
fn resolve_package() -> Result<String> {
    let text = cmd_output(Command::new("apt-cache").args(["depends", META_PACKAGE]))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-amd64") && *p != META_PACKAGE)
        .map(str::to_string)
        .ok_or_else(|| LabError::Prerequisite {
            what: format!("a kernel package behind {META_PACKAGE}"),
            hint: "run `apt-get update`".into(),
        })
}

fn cached_kernels(cache: &Path) -> Vec<Kernel> {
    let mut found = Vec::new();
    if let Ok(rd) = fs::read_dir(cache.join("kernel")) {
        for e in rd.flatten() {
            let version = e.file_name().to_string_lossy().to_string();
            let k = Kernel {
                version: version.clone(),
                root: e.path(),
            };
            if k.vmlinuz().exists() && k.modules_dir().join("modules.dep").exists() {
                found.push(k);
            }
        }
    }
    found.sort_by(|a, b| a.version.cmp(&b.version));
    found
}

/// How long a resolution of the metapackage is trusted before apt-cache is asked again.
const RESOLVE_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The real kernel package name, from a fresh cache file or apt-cache.
fn resolve_cached(cache: &Path) -> Result<String> {
    let file = cache.join("resolved");
    let fresh = fs::metadata(&file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < RESOLVE_TTL);
    if fresh {
        if let Ok(name) = fs::read_to_string(&file) {
            if !name.trim().is_empty() {
                return Ok(name.trim().to_string());
            }
        }
    }
    let name = resolve_package()?;
    let _ = fs::create_dir_all(cache);
    let _ = fs::write(&file, &name);
    Ok(name)
}

/// Returns the cached kernel, downloading and unpacking it first when needed.
pub fn ensure_kernel(cache: &Path) -> Result<Kernel> {
    let package = match resolve_cached(cache) {
        Ok(p) => p,
        // Offline but cached: use what we have.
        Err(e) => return cached_kernels(cache).pop().ok_or(e),
    };
    let version = package.trim_start_matches("linux-image-").to_string();
    if let Some(k) = cached_kernels(cache)
        .into_iter()
        .find(|k| k.version == version)
    {
        return Ok(k);
    }
    let debs = cache.join("debs");
    fs::create_dir_all(&debs).map_err(LabError::io("create", &debs))?;
    cmd_ok(
        Command::new("apt-get")
            .args(["download", "-q", &package])
            .current_dir(&debs),
    )?;
    let deb = fs::read_dir(&debs)
        .map_err(LabError::io("read", &debs))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
        })
        .ok_or_else(|| LabError::Prerequisite {
            what: format!("{package} .deb after apt-get download"),
            hint: "check apt sources".into(),
        })?;
    let kdir = cache.join("kernel");
    let tmp = kdir.join(format!(".{version}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(LabError::io("create", &tmp))?;
    cmd_ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tmp))?;
    cmd_ok(Command::new("depmod").arg("-b").arg(&tmp).arg(&version))?;
    let root = kdir.join(&version);
    fs::rename(&tmp, &root).map_err(LabError::io("rename", &root))?;
    Ok(Kernel { version, root })
}

/// The initramfs `/init`: mount the host root read-only over 9p, put a tmpfs overlay on it and
/// switch into the per-node init named by `halvm.init=` on the kernel command line.
const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /host /rw /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod /modules/$m || echo "initramfs: insmod $m failed"; done
# Read the command line before /proc moves.
NODE_INIT=$(sed -n 's/.*halvm\.init=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro hostroot /host || { echo "initramfs: 9p mount failed"; exec sh; }
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || { echo "initramfs: overlay failed"; exec sh; }
mount --move /dev /newroot/dev
mount --move /sys /newroot/sys
mount --move /proc /newroot/proc
echo "initramfs: switching to $NODE_INIT"
exec switch_root /newroot /bin/sh "$NODE_INIT"
"#;

/// Builds the initramfs (newc cpio) at `out`.
pub fn build_initramfs(kernel: &Kernel, busybox: &Path, out: &Path) -> Result<()> {
    let mut cpio = Cpio::default();
    for d in ["bin", "dev", "modules"] {
        cpio.dir(d);
    }
    cpio.char_dev("dev/console", 5, 1);
    let bb = fs::read(busybox).map_err(LabError::io("read", busybox))?;
    cpio.file("bin/busybox", 0o755, &bb);
    cpio.file("init", 0o755, INIT_SCRIPT.as_bytes());
    let mut order = String::new();
    for (i, m) in kernel
        .modules_in_order(INITRAMFS_MODULES)?
        .iter()
        .enumerate()
    {
        let data = fs::read(m).map_err(LabError::io("read", m))?;
        let name = format!(
            "{i:02}-{}",
            m.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        );
        cpio.file(&format!("modules/{name}"), 0o644, &data);
        order.push_str(&name);
        order.push('\n');
    }
    cpio.file("modules.order", 0o644, order.as_bytes());
    fs::write(out, cpio.finish()).map_err(LabError::io("write", out))
}

/// Minimal writer for the `newc` cpio format the kernel unpacks.
#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let namesize = name.len() + 1;
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            namesize as u32,
            0,
        ];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }
    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }
    pub fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, (0, 0), &[]);
    }
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, 0o100000 | perm, (0, 0), data);
    }
    pub fn char_dev(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, 0o020600, (major, minor), &[]);
    }
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        while self.buf.len() % 512 != 0 {
            self.buf.push(0);
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_header_layout() {
        let mut c = Cpio::default();
        c.file("init", 0o755, b"abc");
        let out = c.finish();
        assert_eq!(&out[..6], b"070701");
        // mode field is the second 8-hex field
        assert_eq!(&out[14..22], b"000081ed");
        // filesize field
        assert_eq!(&out[54..62], b"00000003");
        // name follows the 110-byte header
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(out.len() % 512, 0);
        assert!(out.windows(10).any(|w| w == b"TRAILER!!!"));
    }
}
