//! The volume I/O the agent needs, behind a small trait: an in-memory implementation for
//! tests, and the pieces of the real one that exist today.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::model::{ActiveLv, DmState, VgState};
use crate::plan::ActivationKind;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The facility is not part of this build or host.
    #[error("{what}")]
    NotAvailable { what: String },
    /// An operation failed.
    #[error("{op} on {vg}{}: {detail}", lv.as_ref().map(|l| format!("/{l}")).unwrap_or_default())]
    Io {
        op: String,
        vg: String,
        lv: Option<String>,
        detail: String,
    },
}

/// Reads and changes volume groups and their device-mapper devices.
pub trait VolumeBackend {
    /// The VG's metadata, `None` when no PV of it is visible.
    fn read_vg(&mut self, vg: &str) -> Result<Option<VgState>, BackendError>;
    /// Active LVs of the VG on this node, with their device-mapper state.
    fn active_lvs(&mut self, vg: &str) -> Result<Vec<ActiveLv>, BackendError>;
    /// This host's LVM system ID.
    fn local_system_id(&mut self) -> Result<Option<String>, BackendError>;
    fn set_system_id(
        &mut self,
        vg: &str,
        system_id: &str,
        majority: bool,
    ) -> Result<(), BackendError>;
    fn add_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError>;
    fn del_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError>;
    fn activate(&mut self, vg: &str, lv: &str, kind: ActivationKind) -> Result<(), BackendError>;
    fn deactivate(&mut self, vg: &str, lv: &str) -> Result<(), BackendError>;
    /// Reads one 4 KiB block at `sector` of the LV with O_DIRECT.
    fn read_block(&mut self, vg: &str, lv: &str, sector: u64) -> Result<(), BackendError>;
}

/// The device-mapper name LVM gives an LV: dashes doubled, joined by one dash.
pub fn dm_name(vg: &str, lv: &str) -> String {
    format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}

/// Splits a device-mapper name back into (VG, LV); `None` for non-LVM names.
pub fn split_dm_name(name: &str) -> Option<(String, String)> {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            if i + 1 < b.len() && b[i + 1] == b'-' {
                i += 2;
                continue;
            }
            let vg = name[..i].replace("--", "-");
            let lv = name[i + 1..].replace("--", "-");
            if vg.is_empty() || lv.is_empty() {
                return None;
            }
            return Some((vg, lv));
        }
        i += 1;
    }
    None
}

/// Reads one aligned block with O_DIRECT, bypassing the page cache so a dead path shows.
pub fn read_direct(path: &Path, sector: u64) -> std::io::Result<()> {
    const BLOCK: usize = 4096;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    // O_DIRECT needs an aligned buffer: take the aligned window of a larger allocation.
    let mut buf = vec![0u8; BLOCK * 2];
    let skip = buf.as_ptr().align_offset(BLOCK);
    let window = &mut buf[skip..skip + BLOCK];
    let offset = (sector * 512) / BLOCK as u64 * BLOCK as u64;
    let n = file.read_at(window, offset)?;
    if n != BLOCK {
        // The metadata says the LV extends here, the device does not: that is a failure.
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("short read: {n} of {BLOCK} bytes at byte {offset}"),
        ));
    }
    Ok(())
}

/// Active LVM devices of a VG from sysfs (`/sys/block/dm-*/dm/{name,uuid,suspended}`),
/// without libdevmapper. `root` is `/` normally.
pub fn sysfs_active_lvs(root: &Path, vg: &str) -> std::io::Result<Vec<ActiveLv>> {
    let block = root.join("sys/block");
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&block) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let dm = entry.path().join("dm");
        let Ok(name) = std::fs::read_to_string(dm.join("name")) else {
            continue;
        };
        let uuid = std::fs::read_to_string(dm.join("uuid")).unwrap_or_default();
        if !uuid.starts_with("LVM-") {
            continue;
        }
        let Some((v, lv)) = split_dm_name(name.trim()) else {
            continue;
        };
        // Sub-LVs (rimage, mlog...) carry a "-suffix" in their UUID; only top-level LVs count.
        if v != vg || uuid.trim().len() != 4 + 64 {
            continue;
        }
        let suspended = std::fs::read_to_string(dm.join("suspended"))
            .map(|s| s.trim() == "1")
            .unwrap_or(false);
        out.push(ActiveLv {
            name: lv,
            state: if suspended {
                DmState::Suspended
            } else {
                DmState::Live
            },
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The production backend. Device-mapper state and O_DIRECT reads are real; VG metadata,
/// ownership changes and activation need the lvmeta library and its device-mapper
/// activation, which are not part of this build yet: those report `NotAvailable` (exit 5).
pub struct SystemBackend {
    pub root: PathBuf,
}

const PENDING: &str = "the lvmeta volume backend (VG metadata, system ID/tag changes, device-mapper activation) is not built into this version of halvm";

impl SystemBackend {
    fn pending<T>() -> Result<T, BackendError> {
        Err(BackendError::NotAvailable {
            what: PENDING.to_string(),
        })
    }
}

impl VolumeBackend for SystemBackend {
    fn read_vg(&mut self, _vg: &str) -> Result<Option<VgState>, BackendError> {
        Self::pending()
    }
    fn active_lvs(&mut self, vg: &str) -> Result<Vec<ActiveLv>, BackendError> {
        sysfs_active_lvs(&self.root, vg).map_err(|e| BackendError::Io {
            op: "reading device-mapper state".into(),
            vg: vg.into(),
            lv: None,
            detail: e.to_string(),
        })
    }
    fn local_system_id(&mut self) -> Result<Option<String>, BackendError> {
        Self::pending()
    }
    fn set_system_id(&mut self, _vg: &str, _id: &str, _majority: bool) -> Result<(), BackendError> {
        Self::pending()
    }
    fn add_tag(&mut self, _vg: &str, _tag: &str) -> Result<(), BackendError> {
        Self::pending()
    }
    fn del_tag(&mut self, _vg: &str, _tag: &str) -> Result<(), BackendError> {
        Self::pending()
    }
    fn activate(
        &mut self,
        _vg: &str,
        _lv: &str,
        _kind: ActivationKind,
    ) -> Result<(), BackendError> {
        Self::pending()
    }
    fn deactivate(&mut self, _vg: &str, _lv: &str) -> Result<(), BackendError> {
        Self::pending()
    }
    fn read_block(&mut self, vg: &str, lv: &str, sector: u64) -> Result<(), BackendError> {
        let path = self.root.join("dev/mapper").join(dm_name(vg, lv));
        read_direct(&path, sector).map_err(|e| BackendError::Io {
            op: format!("O_DIRECT read of sector {sector}"),
            vg: vg.into(),
            lv: Some(lv.into()),
            detail: e.to_string(),
        })
    }
}

/// In-memory volume groups and device-mapper table, with fault injection.
#[derive(Debug, Clone, Default)]
pub struct MemBackend {
    pub vgs: BTreeMap<String, VgState>,
    /// (VG, LV) → state.
    pub active: BTreeMap<(String, String), DmState>,
    pub system_id: Option<String>,
    /// Activations that "succeed" without creating a device (the anchor's flaw).
    pub silently_fail_activation: Vec<String>,
    /// LVs whose activation returns an error.
    pub fail_activation: Vec<String>,
    /// (LV, sector) reads that fail.
    pub bad_blocks: Vec<(String, u64)>,
    /// Fail metadata writes.
    pub fail_metadata_writes: bool,
    /// Every call, in order, for assertions.
    pub journal: Vec<String>,
    /// Activation kinds used.
    pub kinds: BTreeMap<String, ActivationKind>,
}

impl MemBackend {
    fn io(op: &str, vg: &str, lv: Option<&str>, detail: &str) -> BackendError {
        BackendError::Io {
            op: op.into(),
            vg: vg.into(),
            lv: lv.map(str::to_string),
            detail: detail.into(),
        }
    }

    fn vg_mut(&mut self, vg: &str, op: &str) -> Result<&mut VgState, BackendError> {
        if self.fail_metadata_writes {
            return Err(Self::io(op, vg, None, "injected metadata write failure"));
        }
        self.vgs
            .get_mut(vg)
            .ok_or_else(|| Self::io(op, vg, None, "no such VG"))
    }
}

impl VolumeBackend for MemBackend {
    fn read_vg(&mut self, vg: &str) -> Result<Option<VgState>, BackendError> {
        Ok(self.vgs.get(vg).cloned())
    }
    fn active_lvs(&mut self, vg: &str) -> Result<Vec<ActiveLv>, BackendError> {
        Ok(self
            .active
            .iter()
            .filter(|((v, _), _)| v == vg)
            .map(|((_, lv), s)| ActiveLv {
                name: lv.clone(),
                state: *s,
            })
            .collect())
    }
    fn local_system_id(&mut self) -> Result<Option<String>, BackendError> {
        Ok(self.system_id.clone())
    }
    fn set_system_id(&mut self, vg: &str, id: &str, majority: bool) -> Result<(), BackendError> {
        self.journal
            .push(format!("set_system_id {vg} {id} majority={majority}"));
        let v = self.vg_mut(vg, "set system ID")?;
        let total = v.pvs.len();
        let present = v.pvs.iter().filter(|p| !p.missing).count();
        // As lvm2: a metadata write with PVs missing needs --majoritypvs and a majority.
        if present < total && !(majority && present * 2 > total) {
            return Err(Self::io("set system ID", vg, None, "PVs missing"));
        }
        v.system_id = Some(id.to_string());
        Ok(())
    }
    fn add_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError> {
        self.journal.push(format!("add_tag {vg} {tag}"));
        let v = self.vg_mut(vg, "add tag")?;
        if !v.tags.iter().any(|t| t == tag) {
            v.tags.push(tag.to_string());
        }
        Ok(())
    }
    fn del_tag(&mut self, vg: &str, tag: &str) -> Result<(), BackendError> {
        self.journal.push(format!("del_tag {vg} {tag}"));
        let v = self.vg_mut(vg, "delete tag")?;
        v.tags.retain(|t| t != tag);
        Ok(())
    }
    fn activate(&mut self, vg: &str, lv: &str, kind: ActivationKind) -> Result<(), BackendError> {
        self.journal.push(format!("activate {vg}/{lv} {kind:?}"));
        if self.fail_activation.iter().any(|l| l == lv) {
            return Err(Self::io("activate", vg, Some(lv), "injected failure"));
        }
        if self.silently_fail_activation.iter().any(|l| l == lv) {
            return Ok(());
        }
        self.kinds.insert(lv.to_string(), kind);
        let state = if kind == ActivationKind::Complete {
            DmState::Live
        } else {
            DmState::Degraded
        };
        self.active.insert((vg.to_string(), lv.to_string()), state);
        Ok(())
    }
    fn deactivate(&mut self, vg: &str, lv: &str) -> Result<(), BackendError> {
        self.journal.push(format!("deactivate {vg}/{lv}"));
        self.active.remove(&(vg.to_string(), lv.to_string()));
        Ok(())
    }
    fn read_block(&mut self, vg: &str, lv: &str, sector: u64) -> Result<(), BackendError> {
        self.journal.push(format!("read {vg}/{lv}@{sector}"));
        if !self.active.contains_key(&(vg.to_string(), lv.to_string())) {
            return Err(Self::io("read", vg, Some(lv), "no such device"));
        }
        if self.bad_blocks.iter().any(|(l, s)| l == lv && *s == sector) {
            return Err(Self::io("read", vg, Some(lv), "Input/output error"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dm_names_double_dashes() {
        assert_eq!(dm_name("vg", "lv"), "vg-lv");
        assert_eq!(dm_name("my-vg", "my-lv"), "my--vg-my--lv");
        assert_eq!(
            split_dm_name("my--vg-my--lv"),
            Some(("my-vg".into(), "my-lv".into()))
        );
        assert_eq!(split_dm_name("novg"), None);
        assert_eq!(split_dm_name("-lv"), None);
    }

    #[test]
    fn sysfs_lists_top_level_lvm_devices() {
        let root = tempfile::tempdir().unwrap();
        let mk = |n: &str, name: &str, uuid: &str, susp: &str| {
            let d = root.path().join("sys/block").join(n).join("dm");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
            std::fs::write(d.join("uuid"), format!("{uuid}\n")).unwrap();
            std::fs::write(d.join("suspended"), format!("{susp}\n")).unwrap();
        };
        let u = "a".repeat(64);
        mk("dm-0", "vg--a-data", &format!("LVM-{u}"), "0");
        mk("dm-1", "vg--a-db", &format!("LVM-{u}"), "1");
        mk(
            "dm-2",
            "vg--a-data_rimage_0",
            &format!("LVM-{u}-rimage_0"),
            "0",
        );
        mk("dm-3", "other-x", &format!("LVM-{u}"), "0");
        mk("dm-4", "vg--a-crypt", "CRYPT-LUKS2-x", "0");
        let got = sysfs_active_lvs(root.path(), "vg-a").unwrap();
        assert_eq!(
            got,
            vec![
                ActiveLv {
                    name: "data".into(),
                    state: DmState::Live
                },
                ActiveLv {
                    name: "db".into(),
                    state: DmState::Suspended
                },
            ]
        );
        assert_eq!(
            sysfs_active_lvs(&root.path().join("nothing"), "vg").unwrap(),
            vec![]
        );
    }

    #[test]
    fn direct_read_reads_a_file_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("disk");
        std::fs::write(&f, vec![7u8; 16384]).unwrap();
        match read_direct(&f, 8) {
            Ok(()) => {}
            // tmpfs does not support O_DIRECT; the error must still be reported, not hidden.
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}"),
        }
        assert!(read_direct(&dir.path().join("absent"), 0).is_err());
    }

    proptest! {
        #[test]
        fn dm_name_round_trips(vg in "[a-z0-9][a-z0-9_.+-]{0,10}", lv in "[a-z0-9][a-z0-9_.+-]{0,10}") {
            prop_assert_eq!(split_dm_name(&dm_name(&vg, &lv)), Some((vg.clone(), lv.clone())));
        }
    }
}
