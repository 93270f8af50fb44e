//! LV commands: lvcreate, lvextend/lvreduce/lvresize, lvrename, lvremove.

use std::path::PathBuf;

use super::*;
use crate::txn::WriteOpts;
use lvmeta_model::{self as model, VolumeGroup};

impl Ctx<'_> {
    // ---- LV commands ----

    pub fn lvcreate(&self, vgname: &str, req: LvCreate) -> Result<()> {
        self.modify(vgname, false, |vg, sc, devs| {
            let pvs = pv_keys(sc, vgname, devs, &req.pvs)?;
            let extents = req.size.extents(vg, pvs.as_deref())?;
            if extents == 0 {
                return Err(OpError::InvalidArg("size must be more than zero".into()));
            }
            let mut lr = model::LvRequest::new(&req.name, Extents(extents), req.layout);
            lr.pvs = pvs;
            lr.creation_time = Some(now());
            lr.creation_host = Some(self.env.host.clone());
            in_model(vgname, vg.create_lv(lr).map(|_| ()))?;
            // lvmlockd locks only LVs with lock_args ("dlm" in a dlm VG, as lvm2 writes).
            if vg.lock_type.as_deref() == Some("dlm") {
                if let Some(lv) = vg.lv_mut(&req.name) {
                    lv.lock_args = Some("dlm".into());
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    pub fn lvresize(
        &self,
        vgname: &str,
        lv: &str,
        size: SizeArg,
        pvs: &[PathBuf],
        dir: ResizeDir,
        force: bool,
    ) -> Result<Resized> {
        let mut resized = None;
        self.modify(vgname, false, |vg, sc, devs| {
            let cur = vg
                .lv(lv)
                .ok_or(VgError::NoSuchLv {
                    vg: vgname.into(),
                    lv: lv.into(),
                })?
                .size()
                .0;
            let keys = pv_keys(sc, vgname, devs, pvs)?;
            let target = size.target(vg, keys.as_deref(), cur)?;
            let es = vg.extent_size.0;
            if target == cur {
                return Err(OpError::Failed(format!(
                    "New size ({target} extents) matches existing size ({cur} extents)."
                )));
            }
            if target > cur {
                if dir == ResizeDir::Reduce {
                    return Err(OpError::InvalidArg(format!("New size given ({target} extents) not less than existing size ({cur} extents)")));
                }
                in_model(
                    vgname,
                    vg.extend_lv(lv, Extents(target - cur), keys.as_deref()),
                )?;
            } else {
                if dir == ResizeDir::Extend {
                    return Err(OpError::InvalidArg(format!("New size given ({target} extents) not larger than existing size ({cur} extents)")));
                }
                // lvm2 asks before reducing an open LV; -f is the answer.
                if !force {
                    if let Some(k) = &self.env.kernel {
                        if let Err(OpError::InUse { .. }) =
                            crate::activation::check_not_in_use(k, vg, lv)
                        {
                            return Err(OpError::NotReduced {
                                vg: vgname.into(),
                                lv: lv.into(),
                                size: crate::units::Units::default().format(target * es, true),
                            });
                        }
                    }
                }
                in_model(vgname, vg.reduce_lv(lv, Extents(cur - target)))?;
            }
            resized = Some(Resized {
                from: Extents(cur),
                to: vg.lv(lv).map(|l| l.size()).unwrap_or(Extents(0)),
                extent_size: vg.extent_size,
            });
            Ok(())
        })?;
        Ok(resized.expect("set by the committed edit"))
    }

    /// Renames an LV; an active one's devices are renamed too (open or not, as lvm2).
    pub fn lvrename(&self, vgname: &str, old: &str, new: &str) -> Result<()> {
        self.modify_vg(vgname, &WriteOpts::command("lvrename"), |t| {
            let before = match &self.env.kernel {
                Some(k) if t.vg.lv(old).is_some() => {
                    crate::activation::active_devices(k, &t.vg, &[old.to_string()])?
                }
                _ => Vec::new(),
            };
            in_model(vgname, t.vg.rename_lv(old, new))?;
            if let Some(k) = &self.env.kernel {
                crate::activation::rename_devices(k, &before, &t.vg, |_| new.to_string())?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Removes LVs. Device-mapper is asked first: an open LV is refused with lvm2's words
    /// and nothing changes; an active, unopened one is deactivated, then removed.
    pub fn lvremove(&self, vgname: &str, lvs: &[String]) -> Result<()> {
        self.modify_vg(vgname, &WriteOpts::command("lvremove"), |t| {
            for l in lvs {
                in_model(vgname, t.vg.top_level(l).map(|_| ()))?;
            }
            if let Some(k) = &self.env.kernel {
                crate::activation::deactivate_for_removal(k, &t.vg, lvs)?;
            }
            for l in lvs {
                in_model(vgname, t.vg.remove_lv(l))?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// What a resize did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resized {
    pub from: Extents,
    pub to: Extents,
    pub extent_size: Sectors,
}

/// `-L`/`-l` as given.
#[derive(Debug, Clone)]
pub enum SizeArg {
    Sectors(crate::units::Sign, u64),
    Extents(crate::units::Sign, crate::units::ExtentsArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeDir {
    Extend,
    Reduce,
    Any,
}

impl SizeArg {
    fn amount(&self, vg: &VolumeGroup, pvs: Option<&[String]>) -> Result<u64> {
        use crate::units::ExtentsArg as E;
        let pe_count = |k: &String| vg.pv(k).map(|p| p.pe_count.0).unwrap_or(0);
        Ok(match self {
            SizeArg::Sectors(_, s) => s.div_ceil(vg.extent_size.0),
            SizeArg::Extents(_, e) => match *e {
                E::Count(n) => n,
                E::PercentFree(p) => {
                    let free: u64 = match pvs {
                        None => vg.free_extents().0,
                        Some(k) => vg
                            .pv_free_extents()
                            .iter()
                            .filter(|(key, _)| k.contains(key))
                            .map(|(_, f)| f.0)
                            .sum(),
                    };
                    free * p as u64 / 100
                }
                E::PercentVg(p) => vg.total_extents().0 * p as u64 / 100,
                E::PercentPvs(p) => {
                    let total: u64 = match pvs {
                        None => vg.total_extents().0,
                        Some(k) => k.iter().map(pe_count).sum(),
                    };
                    total * p as u64 / 100
                }
                E::PercentOrigin(_) => {
                    return Err(OpError::InvalidArg(
                        "%ORIGIN needs a snapshot; lvmeta has none".into(),
                    ))
                }
            },
        })
    }

    fn sign(&self) -> crate::units::Sign {
        match self {
            SizeArg::Sectors(s, _) | SizeArg::Extents(s, _) => *s,
        }
    }

    /// Extents for a new LV.
    fn extents(&self, vg: &VolumeGroup, pvs: Option<&[String]>) -> Result<u64> {
        if self.sign() != crate::units::Sign::Absolute {
            return Err(OpError::InvalidArg(
                "lvcreate takes an absolute size".into(),
            ));
        }
        self.amount(vg, pvs)
    }

    /// New size of an LV of `cur` extents.
    fn target(&self, vg: &VolumeGroup, pvs: Option<&[String]>, cur: u64) -> Result<u64> {
        use crate::units::Sign;
        let n = self.amount(vg, pvs)?;
        Ok(match self.sign() {
            Sign::Absolute => n,
            Sign::Plus => cur + n,
            Sign::Minus => cur.checked_sub(n).filter(|v| *v > 0).ok_or_else(|| {
                OpError::InvalidArg(format!(
                    "cannot reduce by {n} extents an LV of {cur} extents"
                ))
            })?,
        })
    }
}

pub struct LvCreate {
    pub name: String,
    pub size: SizeArg,
    pub layout: Layout,
    pub pvs: Vec<PathBuf>,
}
