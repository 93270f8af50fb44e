//! The start marker: a file under HA_RSCTMP (a tmpfs, empty after boot) recording that
//! this node started the resource, so monitor can tell "stopped" from "vanished".

use std::path::{Path, PathBuf};

/// Keyed by the runtime directory (`HA_RSCTMP`) and the resource instance.
pub trait StartMarker {
    fn is_set(&self, rsctmp: &Path, instance: &str) -> bool;
    fn set(&mut self, rsctmp: &Path, instance: &str) -> std::io::Result<()>;
    fn clear(&mut self, rsctmp: &Path, instance: &str) -> std::io::Result<()>;
}

/// `<rsctmp>/halvm-LVM-activate-<instance>.started`.
pub fn marker_path(rsctmp: &Path, instance: &str) -> PathBuf {
    let safe: String = instance
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    rsctmp.join(format!("halvm-LVM-activate-{safe}.started"))
}

#[derive(Debug, Default, Clone)]
pub struct FileMarker;

impl StartMarker for FileMarker {
    fn is_set(&self, rsctmp: &Path, instance: &str) -> bool {
        marker_path(rsctmp, instance).exists()
    }
    fn set(&mut self, rsctmp: &Path, instance: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(rsctmp)?;
        std::fs::write(marker_path(rsctmp, instance), b"")
    }
    fn clear(&mut self, rsctmp: &Path, instance: &str) -> std::io::Result<()> {
        match std::fs::remove_file(marker_path(rsctmp, instance)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct MemMarker(pub bool);

impl StartMarker for MemMarker {
    fn is_set(&self, _: &Path, _: &str) -> bool {
        self.0
    }
    fn set(&mut self, _: &Path, _: &str) -> std::io::Result<()> {
        self.0 = true;
        Ok(())
    }
    fn clear(&mut self, _: &Path, _: &str) -> std::io::Result<()> {
        self.0 = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_marker_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let rsc = dir.path().join("rsc");
        let mut m = FileMarker;
        assert!(marker_path(&rsc, "vg/odd:0").ends_with("halvm-LVM-activate-vg_odd:0.started"));
        assert!(!m.is_set(&rsc, "a"));
        m.clear(&rsc, "a").unwrap();
        m.set(&rsc, "a").unwrap();
        assert!(m.is_set(&rsc, "a"));
        assert!(!m.is_set(&rsc, "b"));
        m.clear(&rsc, "a").unwrap();
        assert!(!m.is_set(&rsc, "a"));
    }
}
