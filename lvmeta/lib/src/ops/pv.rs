//! PV commands: pvcreate, pvremove, pvck.

use std::path::PathBuf;

use super::*;
use crate::txn::LabelChange;
use lvmeta_ondisk::label;
use lvmeta_ondisk::mda;
use lvmeta_ondisk::pv::{self as ondisk_pv, FormatOptions};

/// `pvcreate`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PvcreateOptions {
    pub pvs: Vec<PathBuf>,
    /// `--metadatasize` in bytes (default: lvm2's 1020 KiB area, data at 1 MiB).
    pub metadata_size: Option<u64>,
    /// `--dataalignment` in bytes.
    pub data_alignment: Option<u64>,
    /// `--uuid` (one device only).
    pub uuid: Option<String>,
    /// `--restorefile`: a VG backup naming the PV (by `--uuid`), whose `pe_start` is kept.
    pub restore_file: Option<PathBuf>,
    /// `-f`: overwrite a damaged label.
    pub force: bool,
}

/// `pvremove`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PvremoveOptions {
    pub pvs: Vec<PathBuf>,
    /// `-ff`: also a PV in a VG, unless an active LV uses it.
    pub force_twice: bool,
}

/// `pvck`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PvckOptions {
    pub pvs: Vec<PathBuf>,
}

impl Ctx<'_> {
    /// Opens device `p` (the environment's opener: real files and devices, or test ones).
    fn open_device(&self, p: &Path) -> Result<std::sync::Arc<dyn lvmeta_ondisk::dev::BlockDev>> {
        (self.env.open)(p).map_err(|source| OpError::Device {
            path: p.to_path_buf(),
            source,
        })
    }

    /// Initialises those of `paths` that carry no PV label, as lvm2's vgcreate and vgextend
    /// do with an unlabelled device; returns the devices initialised.
    pub fn pvcreate_unlabelled(&self, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
        let mut bare = Vec::new();
        for p in paths {
            let dev = self.open_device(p)?;
            if matches!(label::read_label(dev.as_ref()), Ok(None)) {
                bare.push(p.clone());
            }
        }
        if bare.is_empty() {
            return Ok(Vec::new());
        }
        self.pvcreate(&PvcreateOptions {
            pvs: bare,
            ..PvcreateOptions::default()
        })
    }

    /// Makes devices PVs; returns them.
    pub fn pvcreate(&self, o: &PvcreateOptions) -> Result<Vec<PathBuf>> {
        let (paths, mdasize, uuid, force) = (&o.pvs, o.metadata_size, o.uuid.as_deref(), o.force);
        if o.restore_file.is_some() && uuid.is_none() {
            return Err(OpError::InvalidArg(
                "--uuid is required with --restorefile".into(),
            ));
        }
        if uuid.is_some() && paths.len() != 1 {
            return Err(OpError::InvalidArg(
                "--uuid needs exactly one device".into(),
            ));
        }
        let raw_uuid = match uuid {
            Some(u) => Some(
                lvmeta_model::lvm_uuid::strip_dashes(u)
                    .ok()
                    .ok_or_else(|| OpError::InvalidArg(format!("invalid UUID {u:?}")))?,
            ),
            None => None,
        };
        // --restorefile: the data area starts where the backup says this PV's did.
        let restored_pe_start = match (&o.restore_file, uuid) {
            (Some(f), Some(u)) => Some(restored_pe_start(f, u)?),
            _ => None,
        };
        self.change_labels(|sc| {
            // Check every device before writing any.
            let mut devs = Vec::new();
            for p in paths {
                let dev = self.open_device(p)?;
                match label::read_label(dev.as_ref()) {
                    Ok(Some(l)) => {
                        let vg = sc
                            .pvs
                            .iter()
                            .find(|d| d.label.pv_uuid == l.pv_uuid)
                            .and_then(|d| pv_vg_name(sc, d));
                        if let Some(vg) = vg {
                            return Err(OpError::PvInVg {
                                path: p.clone(),
                                vg,
                            });
                        }
                        // An orphan PV is initialised again without -f, as lvm2 does.
                    }
                    Ok(None) => {}
                    Err(e) if force => {
                        let _ = e;
                    }
                    Err(source) => {
                        return Err(OpError::BadLabel {
                            path: p.clone(),
                            source,
                        })
                    }
                }
                if let Some(u) = &raw_uuid {
                    if let Some(d) = sc
                        .pvs
                        .iter()
                        .find(|d| &d.label.pv_uuid == u && d.path != *p)
                    {
                        return Err(OpError::DuplicatePv {
                            uuid: lvmeta_model::lvm_uuid::format_with_dashes(u)
                                .unwrap_or_else(|_| u.clone()),
                            first: d.path.clone(),
                            second: p.clone(),
                        });
                    }
                }
                let size = dev.size().map_err(|source| OpError::Device {
                    path: p.clone(),
                    source,
                })?;
                let mut opts = FormatOptions {
                    metadata_size: mdasize.map(Bytes),
                    pe_start: restored_pe_start,
                    ..FormatOptions::default()
                };
                if let Some(a) = o.data_alignment {
                    opts.data_alignment = Bytes(a);
                }
                let (mda_area, pe_start) =
                    ondisk_pv::plan_layout(size, &opts).map_err(|why| OpError::PvLayout {
                        path: p.clone(),
                        why,
                    })?;
                // At least one MiB of data, so the PV holds an extent of the default size.
                if size.0 < pe_start.0 + (1 << 20) {
                    return Err(OpError::PvTooSmallForMda {
                        path: p.clone(),
                        size: size.0,
                        mda_size: mda_area.size.0,
                    });
                }
                devs.push((p.clone(), dev, opts));
            }
            let mut out = Vec::new();
            let mut changes = Vec::new();
            for (p, dev, opts) in devs {
                let uuid = raw_uuid
                    .clone()
                    .unwrap_or_else(lvmeta_model::lvm_uuid::generate);
                changes.push(LabelChange::Format { dev, uuid, opts });
                out.push(p);
            }
            Ok((out, changes))
        })
    }

    /// Wipes the labels of PVs in no VG; returns the devices wiped. With `force_twice`
    /// (lvm2's `-ff`) also of a PV in a VG, unless an active LV has extents on it
    /// (device-mapper is asked first).
    pub fn pvremove(&self, o: &PvremoveOptions) -> Result<Vec<PathBuf>> {
        let (paths, force_twice) = (&o.pvs, o.force_twice);
        self.change_labels(|sc| {
            let mut todo = Vec::new();
            for p in paths {
                let dev = self.open_device(p)?;
                let l = match label::read_label(dev.as_ref()) {
                    Ok(Some(l)) => l,
                    Ok(None) => return Err(OpError::NotAPv { path: p.clone() }),
                    Err(source) => {
                        return Err(OpError::BadLabel {
                            path: p.clone(),
                            source,
                        })
                    }
                };
                if let Some(vg) = sc
                    .pvs
                    .iter()
                    .find(|d| d.label.pv_uuid == l.pv_uuid)
                    .and_then(|d| pv_vg_name(sc, d))
                {
                    if !force_twice {
                        return Err(OpError::PvInVg {
                            path: p.clone(),
                            vg,
                        });
                    }
                    self.check_pv_unused(&vg, &l.pv_uuid, p)?;
                }
                todo.push((p, dev));
            }
            let out = todo.iter().map(|(p, _)| (*p).clone()).collect();
            let changes = todo
                .into_iter()
                .map(|(_, dev)| LabelChange::Wipe { dev })
                .collect();
            Ok((out, changes))
        })
    }

    /// Refuses when an active LV of `vg` has extents on the PV `raw_uuid` (lvm2 opens the
    /// device exclusively, which device-mapper's holders prevent).
    fn check_pv_unused(&self, vg: &str, raw_uuid: &str, path: &Path) -> Result<()> {
        let Some(kernel) = &self.env.kernel else {
            return Ok(());
        };
        // Under the VG's shared lock, as lvm2's process_each_pv reads a PV's VG (its LVs
        // cannot be changed meanwhile); this host's devices matter whoever owns the VG.
        let read = self.read_vg(vg, true, |_, r| -> Result<_> { Ok(r.vg) });
        let vgm = match read {
            Ok(v) => v,
            Err(e @ OpError::Lock(_)) => return Err(e),
            // Unreadable: nothing says which LVs use the PV (as before the lock).
            Err(_) => return Ok(()),
        };
        let Some(key) = vgm
            .pvs
            .iter()
            .find(|p| lvmeta_model::lvm_uuid::strip_dashes(&p.id).ok().as_deref() == Some(raw_uuid))
            .map(|p| p.name.clone())
        else {
            return Ok(());
        };
        for lv in vgm.lvs.iter().filter(|lv| lv.uses_pv(&key)) {
            let top = vgm.top_of(&lv.name);
            if crate::activation::check_not_in_use(kernel, &vgm, top).map_or(true, |active| active)
            {
                return Err(OpError::PvBusy {
                    path: path.to_path_buf(),
                });
            }
        }
        Ok(())
    }

    /// Checks labels and metadata areas; returns (findings, all good).
    pub fn pvck(&self, o: &PvckOptions) -> Result<(Vec<PvFinding>, bool)> {
        let mut out = Vec::new();
        for p in &o.pvs {
            let path = p.clone();
            let dev = self.open_device(p)?;
            match label::read_label(dev.as_ref()) {
                Ok(None) => out.push(PvFinding::NoLabel { path }),
                Err(e) => out.push(PvFinding::DamagedLabel {
                    path,
                    why: e.to_string(),
                }),
                Ok(Some(l)) => {
                    out.push(PvFinding::LabelOk {
                        path: path.clone(),
                        uuid: lvmeta_model::lvm_uuid::format_with_dashes(&l.pv_uuid)
                            .unwrap_or_else(|_| l.pv_uuid.clone()),
                        size: l.device_size.0,
                    });
                    for a in &l.metadata_areas {
                        let (path, offset) = (path.clone(), a.offset.0);
                        out.push(match mda::read_mda(dev.as_ref(), *a) {
                            Ok(c) => match c.committed {
                                Some(t) => PvFinding::AreaOk {
                                    path,
                                    offset,
                                    vg: peek(&t.text).map(|(n, s)| (n.to_string(), s)),
                                    size: t.locn.size.0,
                                    checksum: t.locn.checksum,
                                },
                                None => PvFinding::AreaEmpty { path, offset },
                            },
                            Err(e) => PvFinding::AreaDamaged {
                                path,
                                offset,
                                why: e.to_string(),
                            },
                        });
                    }
                }
            }
        }
        let ok = !out.iter().any(PvFinding::is_problem);
        Ok((out, ok))
    }
}

/// The `pe_start` (bytes) of PV `uuid` in the VG backup `file`, with lvm2's words when the
/// file does not name it.
fn restored_pe_start(file: &std::path::Path, uuid: &str) -> Result<Bytes> {
    let vg = super::backup::read_vg_file(file, "")?;
    let want = lvmeta_model::lvm_uuid::strip_dashes(uuid).unwrap_or_default();
    vg.pvs
        .iter()
        .find(|p| lvmeta_model::lvm_uuid::strip_dashes(&p.id).is_ok_and(|id| id == want))
        .map(|p| Bytes(p.pe_start.0 * 512))
        .ok_or_else(|| OpError::UuidNotInBackup {
            uuid: uuid.into(),
            file: file.to_path_buf(),
        })
}
