//! vgcfgbackup and vgcfgrestore.

use std::path::Path;

use super::*;
use crate::txn::PostCommit;
use lvmeta_model::{self as model, VolumeGroup};

impl Ctx<'_> {
    pub fn vgcfgbackup(&self, name: &str, file: &Path) -> Result<String> {
        let text = self.read_vg(name, true, |sc, r| -> Result<_> {
            let mut vg = r.vg;
            for p in vg.pvs.iter_mut() {
                if let Some(i) = sc.device_index(p) {
                    p.device = Some(sc.pvs[i].path.to_string_lossy().into_owned());
                }
            }
            Ok(backup_text(
                &vg,
                &format!("Created *after* executing 'lvmeta vgcfgbackup {name}'"),
                &self.env.host,
            ))
        })?;
        std::fs::write(file, text).map_err(|source| OpError::File {
            path: file.into(),
            source,
        })?;
        Ok(format!("Volume group \"{name}\" successfully backed up."))
    }

    pub fn vgcfgrestore(&self, name: &str, file: &Path) -> Result<String> {
        let text = std::fs::read_to_string(file).map_err(|source| OpError::File {
            path: file.into(),
            source,
        })?;
        let doc = lvmeta_text::parse(&text).map_err(|err| OpError::Parse {
            what: file.display().to_string(),
            err,
        })?;
        let mut vg = VolumeGroup::from_metadata(&doc).map_err(|e| VgError::Malformed {
            vg: name.into(),
            what: format!("{}: {e}", file.display()),
        })?;
        if vg.name != name {
            return Err(OpError::InvalidArg(format!(
                "{} holds VG {}, not {name}",
                file.display(),
                vg.name
            )));
        }
        self.put_vg(name, "vgcfgrestore", |sc, current| {
            let mut post = Vec::new();
            for p in &vg.pvs {
                let i = sc.device_index(p).ok_or_else(|| OpError::MissingPv {
                    vg: name.into(),
                    uuid: p.id.clone(),
                    device: last_seen(p),
                })?;
                if let Some(other) = pv_vg_name(sc, &sc.pvs[i]).filter(|o| o != name) {
                    return Err(OpError::PvInVg {
                        path: sc.pvs[i].path.clone(),
                        vg: other,
                    });
                }
                post.push(PostCommit::SetUsed(i, true));
            }
            vg.seqno = current
                .as_ref()
                .map(|c| c.vg.seqno + 1)
                .unwrap_or(vg.seqno)
                .max(vg.seqno);
            Ok((vg, post))
        })?;
        Ok(format!("Restored volume group {name}."))
    }
}

/// A VG's metadata in the `vgcfgbackup` / `/etc/lvm/backup` layout (lvm2's backup files),
/// with `description` as lvm2 writes it (`Created *after* executing '...'`).
pub fn backup_text(vg: &VolumeGroup, description: &str, host: &str) -> String {
    let trailer = model::Trailer::new(description, host, now(), uname().as_deref());
    lvmeta_text::write_with(&vg.to_backup(&trailer), lvmeta_text::Style::Backup)
}
