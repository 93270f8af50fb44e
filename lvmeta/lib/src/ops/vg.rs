//! VG commands: vgcreate, vgextend, vgreduce, vgremove, vgrename, vgchange.

use std::path::PathBuf;

use super::*;
use crate::txn::{PostCommit, WriteOpts};
use lvmeta_model::{self as model, PhysicalVolume, VolumeGroup};

/// `vgcreate`'s options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgcreateOptions {
    pub vg: String,
    /// Orphan PVs (the CLI makes unlabelled devices PVs first, as lvm2).
    pub pvs: Vec<PathBuf>,
    /// In sectors (lvm2's default 4 MiB: 8192).
    pub extent_size: u64,
    /// `--systemid` (`""`: none); None: this host's.
    pub system_id: Option<String>,
    pub tags: Vec<String>,
    /// `--shared`: the dlm lock arguments; the VG gets `lock_type = "dlm"` and no system ID
    /// (every node of the cluster imports it).
    pub shared_lock_args: Option<String>,
}

impl VgcreateOptions {
    pub fn new(vg: &str, pvs: Vec<PathBuf>) -> VgcreateOptions {
        VgcreateOptions {
            vg: vg.into(),
            pvs,
            extent_size: 8192,
            system_id: None,
            tags: Vec::new(),
            shared_lock_args: None,
        }
    }
}

/// `vgextend`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgextendOptions {
    pub vg: String,
    pub pvs: Vec<PathBuf>,
    /// `--restoremissing`: take back PVs written as MISSING that are present again.
    pub restore_missing: bool,
}

/// `vgreduce`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgreduceOptions {
    pub vg: String,
    /// The PVs to remove (without `remove_missing`).
    pub pvs: Vec<PathBuf>,
    /// `--removemissing`: the missing PVs leave the VG.
    pub remove_missing: bool,
    /// With `remove_missing`: remove the LVs on missing PVs too.
    pub force: bool,
}

/// What vgreduce did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VgReduced {
    /// These devices left the VG.
    Pvs(Vec<PathBuf>),
    /// `--removemissing`: these missing PVs (UUIDs) left, with these LVs.
    Missing { pvs: Vec<String>, lvs: Vec<String> },
}

/// `vgremove`'s options (one VG).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgremoveOptions {
    pub vg: String,
    /// Remove the VG's LVs too.
    pub force: bool,
}

/// `vgrename`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgrenameOptions {
    pub old: String,
    pub new: String,
}

/// `vgchange`'s metadata options (activation is `crate::activation`'s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgchangeOptions {
    pub vg: String,
    /// `--systemid` (`""` removes it); allowed on a foreign VG.
    pub system_id: Option<String>,
    pub add_tags: Vec<String>,
    pub del_tags: Vec<String>,
    /// `--majoritypvs` (with `system_id`).
    pub majority_pvs: bool,
}

impl Ctx<'_> {
    /// Creates a VG of orphan PVs, local (this host's system ID unless given) or shared.
    pub fn vgcreate(&self, o: &VgcreateOptions) -> Result<VolumeGroup> {
        let (name, paths, extent_size, tags) = (o.vg.as_str(), &o.pvs, o.extent_size, &o.tags);
        in_model(name, model::names::validate_vg_name(name))?;
        for t in tags {
            check_tag(t)?;
        }
        let mut vg = VolumeGroup::new(name, Sectors(extent_size))
            .map_err(|e| OpError::InvalidArg(e.to_string()))?;
        // As lvm2: the VG gets this host's system ID unless one is given (`""`: none); a
        // shared VG none.
        vg.system_id = match (&o.shared_lock_args, &o.system_id) {
            (Some(_), _) => None,
            (None, Some(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
            (None, None) => self.env.system_id.clone(),
        };
        if let Some(args) = &o.shared_lock_args {
            vg.lock_type = Some("dlm".into());
            vg.lock_args = Some(args.clone());
        }
        vg.tags = tags.to_vec();
        self.put_vg(name, |sc, _| {
            if sc.vg_names().iter().any(|n| n == name) {
                return Err(OpError::VgExists { vg: name.into() });
            }
            let pvs = self.take_orphans(sc, paths, extent_size)?;
            let mut post = Vec::new();
            for (i, pv) in pvs {
                in_model(name, vg.add_pv(pv))?;
                post.push(PostCommit::SetUsed(i, true));
            }
            Ok((vg, post))
        })
    }

    /// Orphan PVs for `paths`, as VG entries (with their scan index).
    pub(super) fn take_orphans(
        &self,
        sc: &Scan,
        paths: &[PathBuf],
        extent_size: u64,
    ) -> Result<Vec<(usize, PhysicalVolume)>> {
        let mut out = Vec::new();
        for p in paths {
            let (i, d) = sc.pv_by_path(p).ok_or_else(|| {
                if let Some((_, e)) = sc.damaged.iter().find(|(dp, _)| dp == p) {
                    OpError::PvLabelDamaged {
                        path: p.clone(),
                        why: e.to_string(),
                    }
                } else {
                    OpError::NotAPv { path: p.clone() }
                }
            })?;
            if let Some(vg) = pv_vg_name(sc, d) {
                return Err(OpError::PvInVg {
                    path: p.clone(),
                    vg,
                });
            }
            let pe_start = d.pe_start_sectors();
            let dev_size = d.label.device_size.0 / 512;
            let pe_count = dev_size.saturating_sub(pe_start) / extent_size;
            if pe_count == 0 {
                return Err(OpError::PvTooSmall { path: p.clone() });
            }
            let pv = PhysicalVolume::new(
                &d.label.pv_uuid,
                Some(&p.to_string_lossy()),
                Sectors(dev_size),
                Sectors(pe_start),
                Extents(pe_count),
            )
            .map_err(|source| OpError::PvInvalid {
                path: p.clone(),
                source,
            })?;
            out.push((i, pv));
        }
        Ok(out)
    }

    /// Adds orphan PVs to a VG, or (`restore_missing`) takes back PVs written as MISSING.
    pub fn vgextend(&self, o: &VgextendOptions) -> Result<VolumeGroup> {
        if o.restore_missing {
            return self.vgextend_restoremissing(&o.vg, &o.pvs);
        }
        let (name, paths) = (o.vg.as_str(), &o.pvs);
        let opts = WriteOpts {
            global: true,
            ..WriteOpts::default()
        };
        self.modify_vg(name, &opts, |t| {
            let new = self.take_orphans(t.scan, paths, t.vg.extent_size.0)?;
            for (_, pv) in new {
                in_model(name, t.vg.add_pv(pv))?;
            }
            // Every PV of the VG is marked used, the new ones and any that was not.
            let present: Vec<usize> =
                t.vg.pvs
                    .iter()
                    .filter_map(|p| t.scan.device_index(p))
                    .collect();
            for i in present {
                t.after_commit(PostCommit::SetUsed(i, true));
            }
            Ok(())
        })
        .map(|d| d.vg)
    }

    /// `vgextend --restoremissing`: PVs marked MISSING that are present again rejoin the VG
    /// and get its current metadata.
    fn vgextend_restoremissing(&self, name: &str, paths: &[PathBuf]) -> Result<VolumeGroup> {
        let opts = WriteOpts {
            global: true,
            ..WriteOpts::default()
        };
        self.modify_vg(name, &opts, |t| {
            let (vg, sc, devs) = (&mut t.vg, t.scan, &t.devs);
            for p in paths {
                let key = pv_key(sc, name, devs, p)?;
                let pv = vg.pvs.iter_mut().find(|pv| pv.name == key);
                let Some(pv) = pv.filter(|pv| pv.is_missing()) else {
                    return Err(OpError::NotMarkedMissing {
                        vg: name.into(),
                        path: p.clone(),
                    });
                };
                pv.set_missing(false);
            }
            Ok(())
        })
        .map(|d| d.vg)
    }

    /// Removes unused PVs from a VG, or (`remove_missing`) the missing ones.
    pub fn vgreduce(&self, o: &VgreduceOptions) -> Result<VgReduced> {
        if o.remove_missing {
            let (pvs, lvs) = self.vgreduce_removemissing(&o.vg, o.force)?;
            return Ok(VgReduced::Missing { pvs, lvs });
        }
        self.vgreduce_pvs(&o.vg, &o.pvs).map(VgReduced::Pvs)
    }

    /// Removes unused PVs from a VG; returns the devices removed.
    fn vgreduce_pvs(&self, name: &str, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
        let opts = WriteOpts {
            global: true,
            ..WriteOpts::default()
        };
        let done = self.modify_vg(name, &opts, |t| {
            let used = used_extents(&t.vg);
            let mut removed: Vec<(usize, String)> = Vec::new();
            let mut out = Vec::new();
            for p in paths {
                let (key, &i) = t
                    .devs
                    .iter()
                    .find(|(_, &i)| t.scan.pvs[i].path == *p)
                    .ok_or_else(|| VgError::NoSuchPv {
                        vg: name.into(),
                        pv: p.display().to_string(),
                    })?;
                if used.get(key).copied().unwrap_or(0) > 0 {
                    return Err(VgError::PvInUse {
                        vg: name.into(),
                        pv: p.display().to_string(),
                    }
                    .into());
                }
                if t.vg.pvs.len() - removed.len() <= 1 {
                    return Err(OpError::FinalPv {
                        vg: name.into(),
                        path: p.clone(),
                    });
                }
                let id = t.vg.pv(key).map(|pv| pv.id.clone()).unwrap_or_default();
                removed.push((i, id));
                out.push(p.clone());
            }
            for (i, id) in &removed {
                let key =
                    t.vg.pvs
                        .iter()
                        .find(|pv| &pv.id == id)
                        .map(|pv| pv.name.clone());
                if let Some(key) = key {
                    in_model(name, t.vg.remove_pv(&key))?;
                }
                // The removed PVs become orphans: their metadata areas are emptied.
                t.after_commit(PostCommit::Orphan(*i));
            }
            Ok(out)
        })?;
        Ok(done.value)
    }

    /// `vgreduce --removemissing`: the PVs of the VG that are missing leave it. LVs with
    /// extents on them are refused (lvm2: "There are still partial LVs"), unless `force`,
    /// which removes them first, asking device-mapper as lvremove does (an open one is
    /// refused, an active one deactivated). Returns (removed PV UUIDs, removed LVs).
    fn vgreduce_removemissing(
        &self,
        name: &str,
        force: bool,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let opts = WriteOpts {
            global: true,
            allow_missing: true,
            ..WriteOpts::default()
        };
        let done = self.modify_vg(name, &opts, |t| {
            let missing: Vec<(String, String)> =
                t.vg.pvs
                    .iter()
                    .filter(|p| t.scan.device_index(p).is_none())
                    .map(|p| (p.name.clone(), p.id.clone()))
                    .collect();
            if missing.is_empty() {
                t.change_nothing();
                return Ok((Vec::new(), Vec::new()));
            }
            // The visible LVs with extents (their own or their images') on a missing PV.
            let mut partial: Vec<String> = Vec::new();
            for lv in &t.vg.lvs {
                if !missing.iter().any(|(k, _)| lv.uses_pv(k)) {
                    continue;
                }
                let top = t.vg.top_of(&lv.name);
                if !partial.iter().any(|n| n == top) {
                    partial.push(top.to_string());
                }
            }
            if !partial.is_empty() && !force {
                return Err(OpError::PartialLvs {
                    vg: name.into(),
                    lvs: partial,
                });
            }
            if let Some(k) = &self.env.kernel {
                crate::activation::deactivate_for_removal(k, &t.vg, &partial)?;
            }
            for l in &partial {
                in_model(name, t.vg.remove_lv(l))?;
            }
            for (_, id) in &missing {
                let key =
                    t.vg.pvs
                        .iter()
                        .find(|p| &p.id == id)
                        .map(|p| p.name.clone());
                if let Some(key) = key {
                    in_model(name, t.vg.remove_pv(&key))?;
                }
            }
            Ok((missing.into_iter().map(|(_, id)| id).collect(), partial))
        })?;
        Ok(done.value)
    }

    pub fn vgremove(&self, o: &VgremoveOptions) -> Result<()> {
        let (name, force) = (o.vg.as_str(), o.force);
        let opts = WriteOpts {
            global: true,
            allow_missing: true,
            ..WriteOpts::default()
        };
        self.modify_vg(name, &opts, |t| {
            let visible = visible_lvs(&t.vg);
            if !visible.is_empty() && !force {
                return Err(OpError::VgNotEmpty {
                    vg: name.into(),
                    lvs: visible.len(),
                });
            }
            // As lvremove: nothing open goes, what is active is deactivated first.
            if let Some(k) = &self.env.kernel {
                crate::activation::deactivate_for_removal(k, &t.vg, &visible)?;
            }
            t.remove_vg();
            Ok(())
        })?;
        Ok(())
    }

    pub fn vgrename(&self, o: &VgrenameOptions) -> Result<()> {
        let (old, new) = (o.old.as_str(), o.new.as_str());
        // Checked before locking: both names would take the same lock (issue 11 item 3).
        if old == new {
            return Err(OpError::SameVgName);
        }
        in_model(new, model::names::validate_vg_name(new))?;
        let opts = WriteOpts {
            global: true,
            also_lock: Some(new.to_string()),
            ..WriteOpts::default()
        };
        self.modify_vg(old, &opts, |t| {
            if t.scan.vg_names().iter().any(|n| n == new) {
                return Err(OpError::VgExists { vg: new.into() });
            }
            // lvm2 renames such a VG and then cannot use it: refuse instead.
            for l in &t.vg.lvs {
                model::names::check_full_lv_name(new, &l.name)?;
            }
            let before = match &self.env.kernel {
                Some(k) => {
                    let visible = visible_lvs(&t.vg);
                    crate::activation::active_devices(k, &t.vg, &visible)?
                }
                None => Vec::new(),
            };
            t.vg.name = new.into();
            // Active LVs' devices follow the new VG name (vg-lv → new-lv), once it is
            // committed (lvm2 renames on resume, after its commit).
            let renames = before
                .into_iter()
                .map(|p| {
                    let lv = p.lv.clone();
                    (p, lv)
                })
                .collect();
            t.after_commit(PostCommit::RenameDevices(renames));
            Ok(())
        })?;
        Ok(())
    }

    pub fn vgchange(&self, o: &VgchangeOptions) -> Result<VolumeGroup> {
        let (name, system_id, add, del, majority) = (
            o.vg.as_str(),
            o.system_id.as_deref(),
            &o.add_tags,
            &o.del_tags,
            o.majority_pvs,
        );
        if majority && system_id.is_none() {
            return Err(OpError::InvalidArg("--majoritypvs needs --systemid".into()));
        }
        // Setting the system ID is the explicit way to take over a foreign VG.
        let opts = WriteOpts {
            override_foreign: system_id.is_some(),
            majority,
            ..WriteOpts::default()
        };
        self.modify_vg(name, &opts, |t| {
            let vg = &mut t.vg;
            if let Some(s) = system_id {
                vg.system_id = (!s.is_empty()).then(|| s.to_string());
            }
            edit_tags(&mut vg.tags, add, del)
        })
        .map(|d| d.vg)
    }
}

/// `lvchange --addtag/--deltag`'s options (one LV).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LvchangeTagsOptions {
    pub vg: String,
    pub lv: String,
    pub add_tags: Vec<String>,
    pub del_tags: Vec<String>,
}

/// Adds and deletes tags, keeping them sorted as lvm2 does (VGs and LVs alike).
fn edit_tags(tags: &mut Vec<String>, add: &[String], del: &[String]) -> Result<()> {
    for t in add {
        check_tag(t)?;
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    tags.retain(|t| !del.contains(t));
    tags.sort();
    Ok(())
}

impl Ctx<'_> {
    /// `lvchange --addtag/--deltag` of one LV.
    pub fn lvchange_tags(&self, o: &LvchangeTagsOptions) -> Result<()> {
        let (vgname, lv) = (o.vg.as_str(), o.lv.as_str());
        self.modify_vg(vgname, &WriteOpts::default(), |t| {
            let l =
                t.vg.lvs
                    .iter_mut()
                    .find(|l| l.name == lv)
                    .ok_or_else(|| VgError::NoSuchLv {
                        vg: vgname.into(),
                        lv: lv.into(),
                    })?;
            edit_tags(&mut l.tags, &o.add_tags, &o.del_tags)
        })
        .map(|_| ())
    }
}

/// The names of the VG's visible LVs.
fn visible_lvs(vg: &VolumeGroup) -> Vec<String> {
    vg.lvs
        .iter()
        .filter(|l| l.is_visible())
        .map(|l| l.name.clone())
        .collect()
}
