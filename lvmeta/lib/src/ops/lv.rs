//! LV commands: lvcreate, lvextend/lvreduce/lvresize, lvrename, lvremove.

use std::path::PathBuf;

use super::*;
use crate::txn::{PostCommit, WriteOpts};
use lvmeta_model as model;

impl Ctx<'_> {
    // ---- LV commands ----

    pub fn lvcreate(&self, o: &LvcreateOptions) -> Result<LvCreated> {
        let vgname = o.vg.as_str();
        let mut req = o.clone();
        if !req.name.is_empty() {
            model::names::check_full_lv_name(vgname, &req.name)?;
        }
        let mut name = req.name.clone();
        let mut notes = Vec::new();
        self.modify(vgname, false, |vg, sc, devs| {
            if req.name.is_empty() {
                // lvm2's `generate_lv_name`: lvol<highest N in use + 1>.
                let next = vg
                    .lvs
                    .iter()
                    .filter_map(|l| l.name.strip_prefix("lvol")?.parse::<u64>().ok())
                    .map(|n| n + 1)
                    .max()
                    .unwrap_or(0);
                req.name = format!("lvol{next}");
                name = req.name.clone();
            }
            if let Layout::Striped { stripe_size, .. } = &mut req.layout {
                if stripe_size.0 > vg.extent_size.0 {
                    notes.push(format!(
                        "Reducing requested stripe size {} to maximum, physical extent size {}.",
                        model::sizing::display_size(stripe_size.0),
                        model::sizing::display_size(vg.extent_size.0)
                    ));
                    stripe_size.0 = vg.extent_size.0;
                }
            }
            let pvs = pv_keys(sc, vgname, devs, &req.pvs)?;
            check_listed_free(vg, pvs.as_deref())?;
            let (sign, amount) = req.size.amount();
            if sign != crate::units::Sign::Absolute {
                return Err(OpError::InvalidArg(
                    "lvcreate takes an absolute size".into(),
                ));
            }
            let (stripes, stripe_size, images) = match req.layout {
                Layout::Striped {
                    stripes,
                    stripe_size,
                } => (u64::from(stripes), stripe_size.0, 0),
                Layout::Mirror { mirrors, .. } | Layout::Raid1 { mirrors } => {
                    (1, 0, u64::from(mirrors) + 1)
                }
                Layout::Linear => (1, 0, 0),
            };
            let counts = vg.size_counts(pvs.as_deref());
            let sized =
                model::sizing::create_extents(amount, &counts, stripes, stripe_size, images)?;
            if sized.extents == 0 {
                return Err(OpError::InvalidArg("size must be more than zero".into()));
            }
            // lvm2 checks the name after the size, before the layout (`_lv_create_an_lv`).
            if vg.lv(&req.name).is_some() {
                return Err(VgError::LvExists {
                    vg: vgname.into(),
                    lv: req.name.clone(),
                }
                .into());
            }
            notes.extend(sized.notes.iter().cloned());
            let mut lr = model::LvRequest::new(&req.name, Extents(sized.extents), req.layout);
            lr.alloc = self.allocation(pvs);
            lr.approx = sized.approx;
            // lvm2's checks before allocating, in its order (`_lv_create_an_lv`,
            // `_sufficient_pes_free`).
            let pvh = match &lr.alloc.pvs {
                Some(k) => counts_with_free(vg, k),
                None => vg.pvs.len(),
            };
            if stripes > pvh as u64 {
                return Err(VgError::StripesOverPvs { stripes, pvs: pvh }.into());
            }
            if !sized.approx && counts.free_count < sized.extents {
                return Err(VgError::VgShort {
                    vg: vgname.into(),
                    free: counts.free_count,
                    needed: sized.extents,
                }
                .into());
            }
            let pe_needed = match req.layout {
                Layout::Raid1 { .. } => (sized.extents + 1) * images,
                Layout::Mirror { .. } => sized.extents * images,
                _ => sized.extents,
            };
            check_free(&counts, pe_needed, sized.approx)?;
            match vg.create_lv(lr.clone()) {
                Ok(_) => {
                    // lvmlockd locks only LVs with lock_args ("dlm" in a dlm VG, as lvm2 writes).
                    if vg.lock_type.as_deref() == Some("dlm") {
                        if let Some(lv) = vg.lv_mut(&req.name) {
                            lv.lock_args = Some("dlm".into());
                        }
                    }
                    // A new disk log must not trust what its extents held (lvm2's
                    // `_init_mirror_log`): its header records no region yet.
                    let log = vg.lv(&req.name).and_then(|l| match l.segments.first() {
                        Some(model::Segment {
                            kind: model::SegmentKind::Mirror { log, .. },
                            ..
                        }) => log.clone(),
                        _ => None,
                    });
                    if let Some(log) = log {
                        crate::mirror_log::init_log(self, vg, sc, devs, &log)?;
                    }
                    // A new raid1's metadata sub-LVs start cleared (lvm2's `_clear_lvs`).
                    let subs: Vec<String> = vg
                        .lv(&req.name)
                        .and_then(|l| l.segments.first())
                        .map(|s| s.kind.sub_lvs().into_iter().map(String::from).collect())
                        .unwrap_or_default();
                    crate::mirror_log::clear_raid_meta(
                        self,
                        vg,
                        sc,
                        devs,
                        subs.iter().map(String::as_str),
                    )?;
                    Ok(())
                }
                Err(ModelError::NotEnoughSpace { .. } | ModelError::NotEnoughPvs { .. }) => {
                    // What lvm2's allocator would have found before giving up.
                    let mut probe = vg.clone();
                    let mut r = lr;
                    r.approx = true;
                    let got = probe.create_lv(r).map_or(0, |l| l.size().0);
                    Err(if sized.approx && got == 0 {
                        VgError::NoneSuitable {
                            lv: req.name.clone(),
                        }
                    } else {
                        // lvm2 counts the missing extents of every image (`area_count /
                        // area_multiple`), a raid1's rmeta extent included until it is placed.
                        let more = match req.layout {
                            Layout::Raid1 { .. } if got == 0 => (sized.extents + 1) * images,
                            Layout::Raid1 { .. } | Layout::Mirror { .. } => {
                                sized.extents.saturating_sub(got) * images
                            }
                            _ => sized.extents.saturating_sub(got),
                        };
                        VgError::NotSuitable {
                            lv: req.name.clone(),
                            more,
                        }
                    }
                    .into())
                }
                Err(e) => in_model(vgname, Err(e)),
            }
        })?;
        Ok(LvCreated { name, notes })
    }

    pub fn lvresize(&self, o: &LvresizeOptions) -> Result<Resized> {
        let (vgname, lv, size, pvs, dir, force) = (
            o.vg.as_str(),
            o.lv.as_str(),
            o.size.clone(),
            &o.pvs,
            o.dir,
            o.force,
        );
        use model::sizing;
        let mut resized = None;
        self.modify(vgname, false, |vg, sc, devs| {
            let shape = vg.lv_shape(lv).ok_or(VgError::LvNotInVg {
                vg: vgname.into(),
                lv: lv.into(),
            })?;
            let cur = shape.le_count;
            // lvm2 asks the kernel's raid target before `lvreduce` (not `lvresize`) of a
            // raid LV, and refuses without one that can shrink.
            if dir == ResizeDir::Reduce
                && vg.top_level(lv).is_ok_and(|l| {
                    l.segments
                        .iter()
                        .any(|s| matches!(s.kind, model::SegmentKind::Raid1 { .. }))
                })
            {
                let can = self
                    .env
                    .kernel
                    .as_ref()
                    .is_some_and(|k| lvmeta_dm::raid_can_shrink(k.dm.as_ref()));
                if !can {
                    return Err(OpError::RaidCannotShrink);
                }
            }
            let keys = pv_keys(sc, vgname, devs, pvs)?;
            check_listed_free(vg, keys.as_deref())?;
            let (sign, amount) = size.amount();
            // One count of the free extents serves the sizing rules and the space check.
            let counts = vg.size_counts(keys.as_deref());
            let sized = sizing::resize_extents(
                &format!("{vgname}/{lv}"),
                &shape,
                sign,
                amount,
                &counts,
                dir,
            )?;
            let target = sized.extents;
            let es = vg.extent_size.0;
            let notes = sized.notes.clone();
            if target > cur {
                let by = target - cur;
                let pe_needed = by * shape.images.max(1);
                check_free(&counts, pe_needed, sized.approx)?;
                match vg.extend_lv_with(lv, Extents(by), keys.as_deref(), sized.approx) {
                    Ok(_) => {}
                    // lvm2's words whatever the layout: what the allocation could not place.
                    Err(ModelError::NotEnoughSpace { .. } | ModelError::NotEnoughPvs { .. }) => {
                        let mut probe = vg.clone();
                        let got = probe
                            .extend_lv_with(lv, Extents(by), keys.as_deref(), true)
                            .unwrap_or(0);
                        // lvm2 counts the missing extents of every image.
                        return Err(VgError::NotSuitable {
                            lv: lv.into(),
                            more: (by - got.min(by)) * shape.images.max(1),
                        }
                        .into());
                    }
                    Err(e) => return in_model(vgname, Err(e)),
                }
            } else {
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
                // lvm2's `check_lv_segments` refuses a mirror whose region outgrows it.
                let region = vg.lv(lv).and_then(|l| match l.segments.first() {
                    Some(model::Segment {
                        kind:
                            model::SegmentKind::Mirror {
                                region_size: Some(r),
                                ..
                            },
                        ..
                    }) => Some(r.0),
                    _ => None,
                });
                if region.is_some_and(|r| r > target * es) {
                    return Err(OpError::RegionTooBig {
                        vg: vgname.into(),
                        lv: lv.into(),
                    });
                }
                in_model(vgname, vg.reduce_lv(lv, Extents(cur - target)))?;
            }
            resized = Some(Resized {
                from: Extents(cur),
                to: vg.lv(lv).map(|l| l.size()).unwrap_or(Extents(0)),
                extent_size: vg.extent_size,
                notes,
            });
            Ok(())
        })?;
        Ok(resized.expect("set by the committed edit"))
    }

    /// Renames an LV; an active one's devices are renamed too (open or not, as lvm2).
    pub fn lvrename(&self, o: &LvrenameOptions) -> Result<()> {
        let (vgname, old, new) = (o.vg.as_str(), o.old.as_str(), o.new.as_str());
        model::names::check_full_lv_name(vgname, new)?;
        self.modify_vg(vgname, &WriteOpts::default(), |t| {
            let before = match &self.env.kernel {
                Some(k) if t.vg.lv(old).is_some() => {
                    crate::activation::active_devices(k, &t.vg, &[old.to_string()])?
                }
                _ => Vec::new(),
            };
            if t.vg.lv(old).is_none() {
                return Err(VgError::ExistingLvNotFound {
                    vg: vgname.into(),
                    lv: old.into(),
                }
                .into());
            }
            in_model(vgname, t.vg.rename_lv(old, new))?;
            // Only once the new name is committed (lvm2 renames on resume, after its commit).
            let renames = before.into_iter().map(|p| (p, new.to_string())).collect();
            t.after_commit(PostCommit::RenameDevices(renames));
            Ok(())
        })?;
        Ok(())
    }

    /// The metadata side of detaching failed mirror legs (clvmd-rs's `policy.detach =
    /// global`, in place of dmeventd's `lvconvert --repair --use-policies`): the failed
    /// images of the LV with UUID `lv_uuid` are removed as lvm2's repair removes them with
    /// `mirror_image_fault_policy = "remove"` (a mirror left with one image is linear), and
    /// the commit marks the PVs this host cannot see MISSING, as every lvm2 write does.
    /// Missing PVs are accepted: that is what is being repaired. Images already gone (another
    /// node detached them first) change nothing. A failed disk log is named in `images` by
    /// its LV id (no dashes): it is replaced as lvm2's `mirror_log_fault_policy = "allocate"`
    /// does (a new `_mlog` on a PV other than the failed one's, holding no image where
    /// possible, its header initialised so every node's next load copies the whole mirror),
    /// or the mirror gets a core log when there is no room. A log already replaced (its id
    /// is another) is left alone. Devices are left alone: the caller reloads.
    pub fn remove_failed_images(
        &self,
        vgname: &str,
        lv_uuid: &str,
        images: &[String],
    ) -> Result<ImagesRemoved> {
        let opts = WriteOpts {
            allow_missing: true,
            ..WriteOpts::default()
        };
        let done = self.modify_vg(vgname, &opts, |t| {
            let name =
                t.vg.lvs
                    .iter()
                    .find(|l| l.id == lv_uuid)
                    .map(|l| l.name.clone())
                    .ok_or_else(|| OpError::NoLvWithUuid {
                        vg: vgname.into(),
                        uuid: lv_uuid.into(),
                    })?;
            // A failed disk log, named by its LV id (a replacement keeps the name `_mlog`, not
            // the id): lvm2's `mirror_log_fault_policy = "allocate"`, first, as lvm2 adjusts
            // the log before the images.
            let log_lv = match t.vg.lv(&name).and_then(|l| l.segments.first()) {
                Some(model::Segment {
                    kind: model::SegmentKind::Mirror { log: Some(log), .. },
                    ..
                }) => t.vg.lv(log),
                _ => None,
            };
            let failed_log = log_lv
                .filter(|l| images.iter().any(|i| *i == l.id.replace('-', "")))
                .map(|l| {
                    let pvs: Vec<String> = l
                        .segments
                        .iter()
                        .flat_map(model::alloc::pv_areas)
                        .map(|a| a.0)
                        .collect();
                    (l.name.clone(), pvs)
                });
            if failed_log.is_some() {
                t.vg.remove_mirror_log(&name).map_err(OpError::Model)?;
            }
            let out = lvmeta_activate::remove_images(&mut t.vg, &name, images)?;
            let mut log = None;
            if let (Some((_, old_pvs)), false) = (&failed_log, out.now_linear) {
                let creation = self.creation();
                // Not on the failed log's PVs, nor on PVs this host cannot see.
                let mut avoid = old_pvs.clone();
                avoid.extend(
                    t.vg.pvs
                        .iter()
                        .filter(|p| !t.devs.contains_key(&p.name))
                        .map(|p| p.name.clone()),
                );
                log = Some(match t.vg.add_mirror_log(&name, None, &avoid, creation) {
                    Ok(Some(new)) => {
                        crate::mirror_log::init_log(self, &t.vg, t.scan, &t.devs, &new)?;
                        LogReplaced::Disk(new)
                    }
                    Ok(None) => unreachable!("the log was removed above"),
                    // No room elsewhere: lvm2's allocate policy falls back to a core log.
                    Err(e) => LogReplaced::Core(e.to_string()),
                });
            }
            if out.images.is_empty() && failed_log.is_none() {
                t.change_nothing();
            }
            let missing =
                t.vg.pvs
                    .iter()
                    .filter(|p| !p.is_missing() && t.scan.device_index(p).is_none())
                    .map(|p| p.id.clone())
                    .collect();
            Ok(ImagesRemoved {
                lv: name,
                images: out.images,
                now_linear: out.now_linear,
                missing,
                log,
            })
        })?;
        Ok(done.value)
    }

    /// Removes LVs. Device-mapper is asked first: an open LV is refused with lvm2's words
    /// and nothing changes; an active, unopened one is deactivated, then removed.
    pub fn lvremove(&self, o: &LvremoveOptions) -> Result<()> {
        let (vgname, lvs) = (o.vg.as_str(), &o.lvs);
        self.modify_vg(vgname, &WriteOpts::default(), |t| {
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

/// What [`Ctx::remove_failed_images`] committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagesRemoved {
    /// The LV's name (found by UUID).
    pub lv: String,
    /// The images removed; empty when an earlier repair had removed them (nothing written).
    pub images: Vec<String>,
    pub now_linear: bool,
    /// The VG's PVs marked MISSING by this commit (absent from this host's scan).
    pub missing: Vec<String>,
    /// A failed disk log named in the request was replaced (None: no log was named, or it
    /// went with the mirror becoming linear).
    pub log: Option<LogReplaced>,
}

/// What became of a mirror's failed disk log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogReplaced {
    /// A new disk log (this LV) on other PVs, its header initialised.
    Disk(String),
    /// No room for one: the mirror keeps its log in memory (why).
    Core(String),
}

/// What a resize did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resized {
    pub from: Extents,
    pub to: Extents,
    pub extent_size: Sectors,
    /// lvm2's notices about the size asked for (rounding, limits), in its words.
    pub notes: Vec<String>,
}

/// What lvcreate made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvCreated {
    /// The LV's name (lvm2's `lvolN` when none was given).
    pub name: String,
    /// lvm2's notices about the size and layout asked for, in its words.
    pub notes: Vec<String>,
}

/// lvm2's refusal of an exact size (not `%FREE`-like) needing more extents than the given
/// PVs (or the VG) have free.
fn check_free(counts: &model::sizing::VgCounts, pe_needed: u64, approx: bool) -> Result<()> {
    let avail = counts.listed_pvs_free.unwrap_or(counts.free_count);
    if !approx && pe_needed > avail {
        return Err(VgError::PvsShort {
            needed: pe_needed,
            free: avail,
        }
        .into());
    }
    Ok(())
}

/// How many of the listed PVs have free extents (lvm2 leaves out the others when it builds
/// a command line's PV list).
fn counts_with_free(vg: &lvmeta_model::VolumeGroup, keys: &[String]) -> usize {
    let free = vg.pv_free_extents();
    keys.iter()
        .filter(|k| free.iter().any(|(n, f)| n == *k && f.0 > 0))
        .count()
}

/// `-L`/`-l` as given.
#[derive(Debug, Clone)]
pub enum SizeArg {
    Sectors(crate::units::Sign, u64),
    Extents(crate::units::Sign, crate::units::ExtentsArg),
}

/// Which command asks: lvextend, lvreduce or lvresize (the sizing rules' own type).
pub use lvmeta_model::sizing::Direction as ResizeDir;

impl SizeArg {
    /// The size in the words of lvm2's size rules ([`model::sizing`]).
    fn amount(&self) -> (model::sizing::Sign, model::sizing::Amount) {
        use crate::units::ExtentsArg as E;
        use model::sizing::{Amount, PercentOf};
        match self {
            SizeArg::Sectors(s, n) => (*s, Amount::Sectors(*n)),
            SizeArg::Extents(s, e) => (
                *s,
                match *e {
                    E::Count(n) => Amount::Extents(n),
                    E::PercentFree(p) => Amount::Percent(p, PercentOf::Free),
                    E::PercentVg(p) => Amount::Percent(p, PercentOf::Vg),
                    E::PercentPvs(p) => Amount::Percent(p, PercentOf::Pvs),
                    E::PercentLv(p) => Amount::Percent(p, PercentOf::Lv),
                    E::PercentOrigin(p) => Amount::Percent(p, PercentOf::Origin),
                },
            ),
        }
    }
}

/// `lvcreate`'s options.
#[derive(Debug, Clone)]
pub struct LvcreateOptions {
    pub vg: String,
    /// Empty: lvm2's next free `lvolN`.
    pub name: String,
    pub size: SizeArg,
    pub layout: Layout,
    /// Allocate only from these PVs (empty: any).
    pub pvs: Vec<PathBuf>,
}

/// `lvextend`'s, `lvreduce`'s and `lvresize`'s options.
#[derive(Debug, Clone)]
pub struct LvresizeOptions {
    pub vg: String,
    pub lv: String,
    pub size: SizeArg,
    /// Allocate only from these PVs (empty: any).
    pub pvs: Vec<PathBuf>,
    /// Which command: which ways the size may go.
    pub dir: ResizeDir,
    /// `-f`: reduce an open LV too.
    pub force: bool,
}

/// `lvrename`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LvrenameOptions {
    pub vg: String,
    pub old: String,
    pub new: String,
}

/// `lvremove`'s options (LVs of one VG).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LvremoveOptions {
    pub vg: String,
    pub lvs: Vec<String>,
}
