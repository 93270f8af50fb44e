//! Device nodes and links, made by us because no udev runs where this is used (the lab), like
//! libdm with `DM_DISABLE_UDEV=1`: `/dev/mapper/<name>` block nodes and `/dev/<vg>/<lv>` links
//! to them.

use crate::{DmError, Result};
use lvmeta_activate::DevNum;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub trait Nodes {
    fn add_node(&self, name: &str, dev: DevNum) -> Result<()>;
    fn remove_node(&self, name: &str) -> Result<()>;
    fn add_link(&self, vg: &str, lv: &str, dm_name: &str) -> Result<()>;
    fn remove_link(&self, vg: &str, lv: &str) -> Result<()>;
}

/// Nodes under a `/dev` directory (tests may use another root).
pub struct DevFs {
    pub root: PathBuf,
}

impl Default for DevFs {
    fn default() -> Self {
        DevFs {
            root: PathBuf::from("/dev"),
        }
    }
}

fn node_err(what: &'static str, path: &Path, source: std::io::Error) -> DmError {
    DmError::Node {
        what,
        path: path.display().to_string(),
        source,
    }
}

impl Nodes for DevFs {
    fn add_node(&self, name: &str, dev: DevNum) -> Result<()> {
        let dir = self.root.join("mapper");
        std::fs::create_dir_all(&dir).map_err(|e| node_err("mkdir", &dir, e))?;
        let path = dir.join(name);
        let want = nix::sys::stat::makedev(dev.major.into(), dev.minor.into());
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if m.file_type().is_block_device() && m.rdev() == want {
                return Ok(());
            }
            std::fs::remove_file(&path).map_err(|e| node_err("remove", &path, e))?;
        }
        nix::sys::stat::mknod(
            &path,
            nix::sys::stat::SFlag::S_IFBLK,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            want,
        )
        .map_err(|e| node_err("mknod", &path, e.into()))
    }

    fn remove_node(&self, name: &str) -> Result<()> {
        let path = self.root.join("mapper").join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(node_err("remove", &path, e)),
        }
    }

    fn add_link(&self, vg: &str, lv: &str, dm_name: &str) -> Result<()> {
        let dir = self.root.join(vg);
        std::fs::create_dir_all(&dir).map_err(|e| node_err("mkdir", &dir, e))?;
        let link = dir.join(lv);
        let target = self.root.join("mapper").join(dm_name);
        if let Ok(t) = std::fs::read_link(&link) {
            if t == target {
                return Ok(());
            }
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).map_err(|e| node_err("symlink", &link, e))
    }

    fn remove_link(&self, vg: &str, lv: &str) -> Result<()> {
        let dir = self.root.join(vg);
        let link = dir.join(lv);
        match std::fs::remove_file(&link) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(node_err("remove", &link, e)),
        }
        // The VG directory goes with its last link, as with lvm2.
        let _ = std::fs::remove_dir(&dir);
        Ok(())
    }
}

/// Nodes kept in memory, for unit tests: `mapper/<name>` and `<vg>/<lv> -> <name>` entries.
#[derive(Debug, Default)]
pub struct MemNodes {
    pub entries: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl MemNodes {
    pub fn list(&self) -> Vec<(String, String)> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Nodes for MemNodes {
    fn add_node(&self, name: &str, dev: DevNum) -> Result<()> {
        self.entries
            .lock()
            .unwrap()
            .insert(format!("mapper/{name}"), dev.to_string());
        Ok(())
    }
    fn remove_node(&self, name: &str) -> Result<()> {
        self.entries
            .lock()
            .unwrap()
            .remove(&format!("mapper/{name}"));
        Ok(())
    }
    fn add_link(&self, vg: &str, lv: &str, dm_name: &str) -> Result<()> {
        self.entries
            .lock()
            .unwrap()
            .insert(format!("{vg}/{lv}"), dm_name.to_string());
        Ok(())
    }
    fn remove_link(&self, vg: &str, lv: &str) -> Result<()> {
        self.entries.lock().unwrap().remove(&format!("{vg}/{lv}"));
        Ok(())
    }
}
