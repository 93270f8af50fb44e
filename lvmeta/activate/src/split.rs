//! Mirror break-off (`lvconvert --splitmirrors 1 --name NEW vg/lv`) as a change of the model.
//!
//! As lvm2 does it: the last image is split off. Its image LV (`lv_mimage_N` or `lv_rimage_N`)
//! becomes the visible LV `NEW` on the same extents, so it keeps the data as of the split; a raid
//! image's metadata LV (`lv_rmeta_N`) is dropped. When one image remains, the LV becomes linear
//! on that image's extents and the image (with its metadata or the mirror log) is dropped.

use lvmeta_model::{
    alloc::pv_areas, names, Allocation, Flag, ImagesRequest, LogicalVolume, SegmentKind,
    VolumeGroup,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("logical volume {vg}/{lv} not found")]
    NoSuchLv { vg: String, lv: String },
    #[error("{vg}/{lv} is not a mirror or raid1 LV")]
    NotMirrored { vg: String, lv: String },
    #[error("{vg}/{lv} has {images} images: cannot split off {count}")]
    TooFew {
        vg: String,
        lv: String,
        images: usize,
        count: usize,
    },
    #[error("splitting off {count} images at once is not supported (split one at a time)")]
    Count { count: usize },
    #[error("invalid LV name {name}: {reason}")]
    Name { name: String, reason: String },
    #[error("an LV named {name} already exists in {vg}")]
    Exists { vg: String, name: String },
    #[error("{0}")]
    Model(#[from] lvmeta_model::ModelError),
    /// `lvconvert --repair` of an LV neither mirror nor raid1 (lvm2's command matching
    /// refuses it).
    #[error("LV {vg}/{lv} of type {lv_type} cannot be repaired")]
    NotRepairable {
        vg: String,
        lv: String,
        lv_type: String,
    },
    /// [`repair_mirror`] asked for a raid1 LV ([`repair`] sends those to [`repair_raid1`]).
    #[error("{vg}/{lv} is a raid1 LV: repaired by repair_raid1")]
    RaidRepair { vg: String, lv: String },
    #[error("cannot replace every image of {vg}/{lv} at once")]
    ReplaceAll { vg: String, lv: String },
    #[error("{vg}/{lv} has no image on the devices to replace")]
    NothingToReplace { vg: String, lv: String },
    #[error("no room for replacement images of {vg}/{lv}")]
    NoReplacement { vg: String, lv: String },
    #[error("no usable images left in {vg}/{lv}")]
    NoUsableImages { vg: String, lv: String },
    /// Fewer PVs given than raid1 images to remove (lvm2's `_raid_extract_images`).
    #[error("cannot remove {extract} images of {vg}/{lv}: only {given} PVs given")]
    ExtractFromFewPvs {
        vg: String,
        lv: String,
        extract: usize,
        given: usize,
    },
    /// Not enough raid1 images on the PVs given to remove as many as asked.
    #[error("not enough images of {vg}/{lv} on the PVs given to remove")]
    ExtractShort { vg: String, lv: String },
    #[error("{vg}/{lv}: image {image} is missing from the metadata")]
    Dangling {
        vg: String,
        lv: String,
        image: String,
    },
}

/// What a split changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOutcome {
    /// The new visible LV holding the split image.
    pub new_lv: String,
    /// The image LV that was renamed to `new_lv`.
    pub image: String,
    /// Sub-LVs that no longer exist (their extents are free).
    pub removed: Vec<String>,
    /// The LV was left with one image and is linear now.
    pub now_linear: bool,
}

/// Splits the last image of mirror/raid1 LV `lv` off as the new LV `new_name`. On error the VG is
/// unchanged.
pub fn split_mirror(
    vg: &mut VolumeGroup,
    lv: &str,
    new_name: &str,
    count: usize,
) -> Result<SplitOutcome, SplitError> {
    if count != 1 {
        return Err(SplitError::Count { count });
    }
    names::validate_lv_name(new_name).map_err(|e| SplitError::Name {
        name: new_name.into(),
        reason: e.to_string(),
    })?;
    if vg.lv(new_name).is_some() {
        return Err(SplitError::Exists {
            vg: vg.name.clone(),
            name: new_name.into(),
        });
    }
    let Some(found) = images_of(vg, lv)? else {
        return Err(not_mirrored(vg, lv));
    };
    let (pairs, log) = (found.pairs(), found.log());
    if pairs.len() <= count {
        return Err(SplitError::TooFew {
            vg: vg.name.clone(),
            lv: lv.into(),
            images: pairs.len(),
            count,
        });
    }
    for (img, _) in &pairs {
        if vg.lv(img).is_none() {
            return Err(SplitError::Dangling {
                vg: vg.name.clone(),
                lv: lv.into(),
                image: img.clone(),
            });
        }
    }
    let (split_img, split_meta) = pairs.last().cloned().expect("checked above");
    let remaining = &pairs[..pairs.len() - count];
    let mut removed: Vec<String> = split_meta.into_iter().collect();
    let now_linear = remaining.len() == 1;

    let mut new_top: LogicalVolume = vg.lv(lv).expect("checked above").clone();
    if now_linear {
        let (img, meta) = &remaining[0];
        let img_lv = vg.lv(img).expect("checked above");
        new_top.segments = img_lv.segments.clone();
        removed.push(img.clone());
        removed.extend(meta.iter().cloned());
        removed.extend(log.iter().cloned());
        // (lvm2's RAID, MIRRORED and *_IMAGE bits are internal: never in metadata, so
        // nothing in `status` names the roles.)
    } else {
        match &mut new_top.segments[0].kind {
            SegmentKind::Mirror { legs, .. } => {
                legs.pop();
            }
            SegmentKind::Raid1 { images, .. } => {
                images.pop();
            }
            _ => unreachable!("checked above"),
        }
    }
    let mut split = vg.lv(&split_img).expect("checked above").clone();
    split.name = new_name.into();
    split.status.insert(Flag::Visible);

    // Apply: nothing above changed `vg`.
    vg.lvs
        .retain(|l| !removed.contains(&l.name) && l.name != split_img);
    if let Some(t) = vg.lvs.iter_mut().find(|l| l.name == lv) {
        *t = new_top;
    }
    let at = vg
        .lvs
        .iter()
        .rposition(|l| l.is_visible())
        .map_or(0, |i| i + 1);
    vg.lvs.insert(at, split);
    debug_assert!(vg
        .lvs
        .iter()
        .flat_map(|l| l.sub_lv_names())
        .all(|s| !removed.contains(&s)));
    Ok(SplitOutcome {
        new_lv: new_name.into(),
        image: split_img,
        removed,
        now_linear,
    })
}

/// An image LV and its raid metadata LV (None for a mirror image).
type ImagePair = (String, Option<String>);

/// What [`remove_images`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoveOutcome {
    /// The images removed (those asked for that were still images of the LV).
    pub images: Vec<String>,
    /// Every sub-LV that no longer exists (images, their raid metadata, the mirror log).
    pub removed: Vec<String>,
    /// The LV was left with one image and is linear now.
    pub now_linear: bool,
}

/// Removes failed images from mirror/raid1 LV `lv`, as lvm2's `lvconvert --repair` does with
/// `mirror_image_fault_policy = "remove"` (dmeventd's default) when no replacement is
/// allocated: the images go, their extents are free, and an LV left with one image becomes
/// linear on that image's extents (its log and raid metadata dropped). Names in `images` that
/// are not images of `lv` any more (an earlier repair removed them) are skipped, so repeating
/// a repair changes nothing. A raid1 LV keeps its image numbering only when it becomes linear;
/// removing raid1 images while two or more remain is refused (lvm2 renumbers them). On error
/// the VG is unchanged.
pub fn remove_images(
    vg: &mut VolumeGroup,
    lv: &str,
    images: &[String],
) -> Result<RemoveOutcome, SplitError> {
    let Some(found) = images_of(vg, lv)? else {
        // Already linear (a repair done before): nothing of `images` is left.
        if images.iter().all(|i| vg.lv(i).is_none()) {
            return Ok(RemoveOutcome::default());
        }
        return Err(not_mirrored(vg, lv));
    };
    let (pairs, log) = (found.pairs(), found.log());
    let raid = matches!(found, Images::Raid1(_));
    let (gone, kept): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(i, _)| images.contains(i));
    if gone.is_empty() {
        return Ok(RemoveOutcome::default());
    }
    if kept.is_empty() {
        return Err(SplitError::TooFew {
            vg: vg.name.clone(),
            lv: lv.into(),
            images: gone.len(),
            count: gone.len(),
        });
    }
    if raid && kept.len() > 1 {
        return Err(SplitError::Count { count: gone.len() });
    }
    for (img, _) in gone.iter().chain(&kept) {
        if vg.lv(img).is_none() {
            return Err(SplitError::Dangling {
                vg: vg.name.clone(),
                lv: lv.into(),
                image: img.clone(),
            });
        }
    }
    let mut removed: Vec<String> = gone
        .iter()
        .flat_map(|(i, m)| std::iter::once(i.clone()).chain(m.clone()))
        .collect();
    let now_linear = kept.len() == 1;
    let mut new_top: LogicalVolume = vg.lv(lv).expect("checked above").clone();
    if now_linear {
        let (img, meta) = &kept[0];
        new_top.segments = vg.lv(img).expect("checked above").segments.clone();
        removed.push(img.clone());
        removed.extend(meta.iter().cloned());
        removed.extend(log.iter().cloned());
        // The top LV keeps its status: lvm2 never writes MIRRORED or RAID into metadata
        // (flags.c gives them no name); the segment type alone says what the LV is.
    } else if let SegmentKind::Mirror { legs, .. } = &mut new_top.segments[0].kind {
        legs.retain(|l| !images.contains(&l.lv));
    }
    vg.lvs.retain(|l| !removed.contains(&l.name));
    if let Some(t) = vg.lvs.iter_mut().find(|l| l.name == lv) {
        *t = new_top;
    }
    Ok(RemoveOutcome {
        images: gone.into_iter().map(|(i, _)| i).collect(),
        removed,
        now_linear,
    })
}

/// Which images [`reduce_images`] takes out of a mirror or raid1 LV, and whether slot 0
/// (the primary image) is among them (lvm2 refuses that while the LV is not in sync).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReduceOutcome {
    /// The images removed, as they were named before.
    pub images: Vec<String>,
    /// Every sub-LV that no longer exists (images, raid metadata, a mirror's log when it
    /// became linear or `drop_log` asked).
    pub removed: Vec<String>,
    /// raid1 images and metadata LVs renamed to close the gaps (old, new).
    pub renamed: Vec<(String, String)>,
    /// The primary image (slot 0) was removed.
    pub primary: bool,
    /// The LV was left with one image and is linear now.
    pub now_linear: bool,
}

/// `lvconvert -m N` with fewer images than the mirror or raid1 LV `lv` has: it keeps
/// `total`. The images removed are lvm2's: a mirror's (`_remove_mirror_images`, the
/// `is_mirror_image_removable` pass from the last slot down, then the last of the rest)
/// those wholly on `pvs` (every PV without a list), the last first; a raid1's
/// (`_raid_extract_images`) those whose image or metadata has extents on `pvs`, the last
/// first, and the images after a gap are renumbered (`_shift_and_rename_image_components`).
/// A mirror loses its log when it becomes linear or `drop_log` (`lv_remove_mirrors`'s
/// `remove_log`). On error the VG is unchanged.
pub fn reduce_images(
    vg: &mut VolumeGroup,
    lv: &str,
    total: usize,
    pvs: Option<&[String]>,
    drop_log: bool,
) -> Result<ReduceOutcome, SplitError> {
    let Some(found) = images_of(vg, lv)? else {
        return Err(not_mirrored(vg, lv));
    };
    let pairs = found.pairs();
    let have = pairs.len();
    let extract = have.saturating_sub(total);
    if extract == 0 || total == 0 {
        return Err(SplitError::TooFew {
            vg: vg.name.clone(),
            lv: lv.into(),
            images: have,
            count: extract,
        });
    }
    let raid = matches!(found, Images::Raid1(_));
    // The PV list as metadata PV names (a device path names the PV on it).
    let names: Option<Vec<String>> = pvs
        .map(|l| {
            l.iter()
                .map(|n| {
                    vg.pvs
                        .iter()
                        .find(|p| p.name == *n || p.device.as_deref() == Some(n.as_str()))
                        .map(|p| p.name.clone())
                        .ok_or_else(|| lvmeta_model::ModelError::NoSuchPv { name: n.clone() })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let on = |name: &str, all: bool| {
        let Some(list) = names.as_deref() else {
            return true;
        };
        let mine = pvs_of(vg, name).unwrap_or_default();
        if all {
            mine.iter().all(|p| list.contains(p))
        } else {
            mine.iter().any(|p| list.contains(p))
        }
    };
    let mut chosen: Vec<usize> = Vec::new();
    if raid {
        if let Some(list) = pvs.filter(|l| l.len() < extract) {
            return Err(SplitError::ExtractFromFewPvs {
                vg: vg.name.clone(),
                lv: lv.into(),
                extract,
                given: list.len(),
            });
        }
        for s in (0..have).rev() {
            if chosen.len() == extract {
                break;
            }
            let (img, meta) = &pairs[s];
            if on(img, false) || meta.as_deref().is_some_and(|m| on(m, false)) {
                chosen.push(s);
            }
        }
        if chosen.len() < extract {
            return Err(SplitError::ExtractShort {
                vg: vg.name.clone(),
                lv: lv.into(),
            });
        }
    } else {
        for s in (0..have).rev() {
            if chosen.len() < extract && on(&pairs[s].0, true) {
                chosen.push(s);
            }
        }
        // The balance from the last of the others (lvm2's second, not preferred pass).
        for s in (0..have).rev() {
            if chosen.len() < extract && !chosen.contains(&s) {
                chosen.push(s);
            }
        }
    }
    let primary = chosen.contains(&0);
    let gone: Vec<String> = chosen.iter().map(|&s| pairs[s].0.clone()).collect();
    let mut work = vg.clone();
    if !raid || total == 1 {
        let out = remove_images(&mut work, lv, &gone)?;
        let mut removed = out.removed;
        if drop_log && !out.now_linear {
            if let Some(log) = mirror_log_of(&work, lv) {
                remove_log(&mut work, lv)?;
                removed.push(log);
            }
        }
        *vg = work;
        return Ok(ReduceOutcome {
            images: gone,
            removed,
            renamed: Vec::new(),
            primary,
            now_linear: out.now_linear,
        });
    }
    let mut removed = Vec::new();
    let mut kept: Vec<(String, String)> = Vec::new();
    for (s, (img, meta)) in pairs.iter().enumerate() {
        let meta = meta.clone().unwrap_or_default();
        if chosen.contains(&s) {
            removed.push(img.clone());
            removed.push(meta);
        } else {
            kept.push((meta, img.clone()));
        }
    }
    work.lvs.retain(|l| !removed.contains(&l.name));
    let mut renamed = Vec::new();
    let mut now = Vec::new();
    for (i, (meta, img)) in kept.into_iter().enumerate() {
        let (new_meta, new_img) = (format!("{lv}_rmeta_{i}"), format!("{lv}_rimage_{i}"));
        for (old, new) in [(&meta, &new_meta), (&img, &new_img)] {
            if old != new {
                if let Some(l) = work.lvs.iter_mut().find(|l| &l.name == old) {
                    l.name = new.clone();
                }
                renamed.push((old.clone(), new.clone()));
            }
        }
        now.push((new_meta, new_img));
    }
    set_raid_images(&mut work, lv, now);
    *vg = work;
    Ok(ReduceOutcome {
        images: gone,
        removed,
        renamed,
        primary,
        now_linear: false,
    })
}

/// What [`repair_mirror`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepairOutcome {
    /// Images on a missing PV, removed.
    pub failed: Vec<String>,
    /// Images before the repair.
    pub original: usize,
    /// Whether the disk log had extents on a missing PV (it was removed).
    pub failed_log: bool,
    /// Logs before the repair (1: a disk log, 0: core).
    pub logs: usize,
    /// The (images, logs) tried when converting back, in order (lvm2 prints each).
    pub tried: Vec<(usize, usize)>,
    /// Images after the repair.
    pub now: usize,
    /// Logs after the repair.
    pub logs_now: usize,
    /// The image sub-LVs allocated in place of the failed ones.
    pub added: Vec<String>,
    /// A disk log allocated by the repair: its header must be written before anything
    /// loads it.
    pub new_log: Option<String>,
    /// The mirror kept its disk log while images were added: that log calls the new
    /// images in sync, so it must start anew (lvm2 copies through its `_mimagetmp` layer).
    pub kept_log_with_new_images: bool,
}

/// `lvconvert --repair` of a mirror LV, as lvm2's `_lvconvert_mirrors_repair` with `-y`
/// (both images and log replaced). First `mirror_remove_missing`: the images with extents
/// on a MISSING PV are removed (a mirror left with one image is linear, its log gone), and a
/// disk log on a missing PV is removed (the mirror keeps a core log for now). Then the LV
/// is converted back to its image and log counts on other PVs (`_lvconvert_mirrors_aux`):
/// a linear LV becomes a mirror with the log; a mirror first gets its log back, then its
/// images. When that cannot be allocated: one image fewer, down to two, then no log. A
/// mirror with nothing on a missing PV is left alone (`failed` empty, `failed_log` false).
/// `req` gives the PVs to allocate from and the creation time of new sub-LVs (`total` is
/// ignored). On error the VG is unchanged.
pub fn repair_mirror(
    vg: &mut VolumeGroup,
    lv: &str,
    req: &ImagesRequest,
) -> Result<RepairOutcome, SplitError> {
    let (legs, log) = match images_of(vg, lv)? {
        Some(Images::Mirror { legs, log }) => (legs, log),
        Some(Images::Raid1(_)) => {
            return Err(SplitError::RaidRepair {
                vg: vg.name.clone(),
                lv: lv.into(),
            })
        }
        None => return Err(not_mirrored(vg, lv)),
    };
    let on_missing =
        |name: &str| pvs_of(vg, name).is_some_and(|on| on.iter().any(|p| pv_missing(vg, p)));
    let failed: Vec<String> = legs.iter().filter(|l| on_missing(l)).cloned().collect();
    let failed_log = log.as_deref().is_some_and(on_missing);
    let original = legs.len();
    let logs = usize::from(log.is_some());
    let mut out = RepairOutcome {
        failed,
        original,
        failed_log,
        logs,
        now: original,
        logs_now: logs,
        ..RepairOutcome::default()
    };
    if out.failed.is_empty() && !failed_log {
        return Ok(out);
    }
    if out.failed.len() == original {
        return Err(SplitError::NoUsableImages {
            vg: vg.name.clone(),
            lv: lv.into(),
        });
    }
    // `mirror_remove_missing`.
    let mut work = vg.clone();
    if !out.failed.is_empty() {
        remove_images(&mut work, lv, &out.failed)?;
    }
    // A mirror left with one image is linear, its log gone with the images.
    if failed_log && mirror_log_of(&work, lv).is_some() {
        remove_log(&mut work, lv)?;
    }
    // `_lvconvert_mirrors_aux`, fewer images then no log until one fits.
    let (mut mirrors, mut log_count) = (original, logs);
    loop {
        out.tried.push((mirrors, log_count));
        match convert_back(&mut work, lv, mirrors, log_count, req) {
            Ok((added, new_log)) => {
                out.kept_log_with_new_images = !added.is_empty() && log.is_some() && {
                    let now_log = mirror_log_of(&work, lv);
                    now_log.is_some() && now_log == log && new_log.is_none()
                };
                out.added = added;
                out.new_log = new_log;
                break;
            }
            Err(()) if mirrors > 2 => mirrors -= 1,
            Err(()) if log_count > 0 => log_count -= 1,
            Err(()) => break,
        }
    }
    out.now = image_count(&work, lv);
    out.logs_now = usize::from(mirror_log_of(&work, lv).is_some());
    *vg = work;
    Ok(out)
}

fn mirror_log_of(vg: &VolumeGroup, lv: &str) -> Option<String> {
    match vg.lv(lv)?.segments.first().map(|s| &s.kind) {
        Some(SegmentKind::Mirror { log, .. }) => log.clone(),
        _ => None,
    }
}

fn image_count(vg: &VolumeGroup, lv: &str) -> usize {
    match vg.lv(lv).and_then(|l| l.segments.first()).map(|s| &s.kind) {
        Some(SegmentKind::Mirror { legs, .. }) => legs.len(),
        _ => 1,
    }
}

fn remove_log(vg: &mut VolumeGroup, lv: &str) -> Result<(), SplitError> {
    vg.remove_mirror_log(lv)?;
    Ok(())
}

/// One try of lvm2's `_lvconvert_mirrors_aux(lv, mirrors, log_count)` during a repair:
/// Ok((new image sub-LVs, new disk log)). A linear LV becomes a mirror with its images and
/// log in one allocation (both or nothing). A mirror changes its log first (lvm2 commits
/// that before allocating images, so it stays when the images then fail), then gains or
/// (with fewer images asked than it has) loses its last images. Err: this try failed;
/// `vg` holds what lvm2 would have committed of it.
fn convert_back(
    vg: &mut VolumeGroup,
    lv: &str,
    mirrors: usize,
    log_count: usize,
    req: &ImagesRequest,
) -> Result<(Vec<String>, Option<String>), ()> {
    let creation = (req.alloc.creation_time, req.alloc.creation_host.clone());
    let pvs = req.alloc.pvs.as_deref();
    let images = ImagesRequest {
        total: mirrors,
        raid1: false,
        ..req.clone()
    };
    let linear = !matches!(
        vg.lv(lv).and_then(|l| l.segments.first()).map(|s| &s.kind),
        Some(SegmentKind::Mirror { .. })
    );
    if linear {
        let mut attempt = vg.clone();
        let added = attempt.add_images(lv, &images).map_err(|_| ())?;
        let new_log = if log_count > 0 {
            attempt
                .add_mirror_log(lv, pvs, &[], creation)
                .map_err(|_| ())?
        } else {
            None
        };
        if let Some(log) = &new_log {
            attempt.move_lv_before(log, &format!("{lv}_mimage_0"));
        }
        *vg = attempt;
        return Ok((added, new_log));
    }
    let have = image_count(vg, lv);
    let has_log = mirror_log_of(vg, lv).is_some();
    let mut new_log = None;
    if log_count > 0 && !has_log && mirrors >= have {
        new_log = vg
            .add_mirror_log(lv, pvs, &[], creation.clone())
            .map_err(|_| ())?;
    } else if log_count == 0 && has_log && mirrors >= have {
        remove_log(vg, lv).map_err(|_| ())?;
    }
    let added = match mirrors.cmp(&have) {
        std::cmp::Ordering::Greater => {
            let mut attempt = vg.clone();
            let added = attempt.add_images(lv, &images).map_err(|_| ())?;
            *vg = attempt;
            added
        }
        std::cmp::Ordering::Less => {
            // lvm2 removes images from the end (`_remove_mirror_images`), then the log.
            let legs: Vec<String> = match vg.lv(lv).map(|l| &l.segments[0].kind) {
                Some(SegmentKind::Mirror { legs, .. }) => {
                    legs[mirrors..].iter().map(|l| l.lv.clone()).collect()
                }
                _ => Vec::new(),
            };
            remove_images(vg, lv, &legs).map_err(|_| ())?;
            if log_count > 0 && mirror_log_of(vg, lv).is_none() && mirrors > 1 {
                new_log = vg.add_mirror_log(lv, pvs, &[], creation).map_err(|_| ())?;
            } else if log_count == 0 && mirror_log_of(vg, lv).is_some() {
                remove_log(vg, lv).map_err(|_| ())?;
            }
            Vec::new()
        }
        std::cmp::Ordering::Equal => Vec::new(),
    };
    Ok((added, new_log))
}

/// What [`repair_raid1`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RaidRepairOutcome {
    /// The images (`_rimage_N`) whose image or metadata LV has extents on a missing PV, in
    /// slot order.
    pub failed: Vec<String>,
    /// Replacement counts that could not be allocated, in order (lvm2 says "Failed to replace
    /// N devices.  Attempting to replace N-1 instead." for each).
    pub narrowed: Vec<usize>,
    /// The failed images replaced: the same names, now on new extents with `REBUILD`, in the
    /// same slots. Fewer than `failed` when there was not room for all: the others stay.
    pub replaced: Vec<String>,
    /// The new sub-LVs (image and metadata pairs).
    pub added: Vec<String>,
}

/// `lvconvert --repair` of a raid1 LV, as lvm2's `lv_raid_replace` (`raid_manip.c`): every
/// slot whose image or metadata LV has extents on a missing PV gets a new image and
/// metadata pair, allocated as one parallel allocation on PVs holding nothing of the LV
/// (failed images included), with `REBUILD` on the new image so that the kernel rebuilds it
/// (the caller loads it, then clears the flag). The new pair takes the failed pair's names
/// and slot, so the surviving images keep their numbers. When the replacements do not fit,
/// one fewer is tried (the highest slots are replaced first, as lvm2 extracts them), down to
/// one; none fitting is an error. Every slot failed is refused; no failed slot is an error
/// when the VG has a missing PV holding extents (lvm2: the LV does not contain the devices),
/// else nothing happens (`failed` empty). That the LV is active and in sync is the caller's
/// check (lvm2 needs the kernel for both). On error the VG is unchanged.
pub fn repair_raid1(
    vg: &mut VolumeGroup,
    lv: &str,
    req: &ImagesRequest,
) -> Result<RaidRepairOutcome, SplitError> {
    let Some(Images::Raid1(pairs)) = images_of(vg, lv)? else {
        return Err(not_mirrored(vg, lv));
    };
    let (vgname, lvname) = (vg.name.clone(), lv.to_string());
    let on_pvs = |name: &str| {
        pvs_of(vg, name).ok_or_else(|| SplitError::Dangling {
            vg: vgname.clone(),
            lv: lvname.clone(),
            image: name.into(),
        })
    };
    let mut used: Vec<String> = Vec::new();
    let mut failed_slots: Vec<usize> = Vec::new();
    for (slot, (meta, image)) in pairs.iter().enumerate() {
        let on = [on_pvs(image)?, on_pvs(meta)?].concat();
        if on.iter().any(|p| pv_missing(vg, p)) {
            failed_slots.push(slot);
        }
        for p in on {
            if !used.contains(&p) {
                used.push(p);
            }
        }
    }
    let failed: Vec<String> = failed_slots.iter().map(|&s| pairs[s].1.clone()).collect();
    if failed.is_empty() {
        // lvm2's failed PV list: missing PVs that hold extents.
        let holding = vg.pvs.iter().filter(|p| p.is_missing()).any(|p| {
            vg.lvs.iter().any(|l| {
                l.segments
                    .iter()
                    .flat_map(pv_areas)
                    .any(|(pv, _, _)| pv == p.name)
            })
        });
        if holding {
            return Err(SplitError::NothingToReplace {
                vg: vgname,
                lv: lvname,
            });
        }
        return Ok(RaidRepairOutcome::default());
    }
    if failed.len() == pairs.len() {
        return Err(SplitError::ReplaceAll {
            vg: vgname,
            lv: lvname,
        });
    }
    // lvm2's `_avoid_pvs_with_other_images_of_lv`: no PV holding any image of the LV, the
    // failed ones included.
    let allowed: Vec<String> = match &req.alloc.pvs {
        Some(names) => names
            .iter()
            .filter_map(|n| {
                vg.pvs
                    .iter()
                    .find(|p| p.name == *n || p.device.as_deref() == Some(n.as_str()))
            })
            .map(|p| p.name.clone())
            .collect(),
        None => vg.pvs.iter().map(|p| p.name.clone()).collect(),
    };
    let allowed: Vec<String> = allowed.into_iter().filter(|p| !used.contains(p)).collect();
    let mut out = RaidRepairOutcome {
        failed,
        ..RaidRepairOutcome::default()
    };
    // All failed slots, else one fewer (the highest first), down to one.
    let (narrowed, fit) = first_fit((1..=failed_slots.len()).rev(), |k| {
        let chosen = &failed_slots[failed_slots.len() - k..];
        let mut work = vg.clone();
        let gone: Vec<&str> = chosen
            .iter()
            .flat_map(|&s| [pairs[s].0.as_str(), pairs[s].1.as_str()])
            .collect();
        work.lvs.retain(|l| !gone.contains(&l.name.as_str()));
        let kept: Vec<(String, String)> = pairs
            .iter()
            .enumerate()
            .filter(|(s, _)| !chosen.contains(s))
            .map(|(_, p)| p.clone())
            .collect();
        set_raid_images(&mut work, lv, kept);
        let r = ImagesRequest {
            total: pairs.len(),
            raid1: true,
            alloc: Allocation {
                pvs: Some(allowed.clone()),
                ..req.alloc.clone()
            },
        };
        let added = work.add_images(lv, &r).ok()?;
        // The new pairs (appended, in allocation order) take the chosen slots and names.
        let SegmentKind::Raid1 { images, .. } = &work.lv(lv).expect("kept").segments[0].kind else {
            unreachable!("still raid1")
        };
        let mut new_pairs = images[pairs.len() - k..].iter();
        let mut rename: Vec<(String, String)> = Vec::new();
        let slots: Vec<(String, String)> = pairs
            .iter()
            .enumerate()
            .map(|(s, p)| {
                if chosen.contains(&s) {
                    let (m, i) = new_pairs.next().expect("k new pairs");
                    rename.push((m.clone(), p.0.clone()));
                    rename.push((i.clone(), p.1.clone()));
                }
                p.clone()
            })
            .collect();
        let to = |n: &str| {
            rename
                .iter()
                .find(|(from, _)| from == n)
                .map_or_else(|| n.to_string(), |(_, to)| to.clone())
        };
        for l in work.lvs.iter_mut() {
            l.name = to(&l.name);
        }
        set_raid_images(&mut work, lv, slots);
        let replaced: Vec<String> = chosen.iter().map(|&s| pairs[s].1.clone()).collect();
        let added: Vec<String> = added.iter().map(|n| to(n)).collect();
        Some((work, replaced, added))
    });
    out.narrowed = narrowed;
    let Some((_, (work, replaced, added))) = fit else {
        return Err(SplitError::NoReplacement {
            vg: vgname,
            lv: lvname,
        });
    };
    out.replaced = replaced;
    out.added = added;
    *vg = work;
    Ok(out)
}

/// The first of `counts`, tried in order, for which `attempt` gives something, with what it
/// gave, and the counts before it that did not fit: lvm2 narrows a repair that does not fit
/// by one at a time (each type by its own rule, in `attempt`).
fn first_fit<T>(
    counts: impl IntoIterator<Item = usize>,
    mut attempt: impl FnMut(usize) -> Option<T>,
) -> (Vec<usize>, Option<(usize, T)>) {
    let mut unfit = Vec::new();
    for n in counts {
        match attempt(n) {
            Some(t) => return (unfit, Some((n, t))),
            None => unfit.push(n),
        }
    }
    (unfit, None)
}

/// The images of a mirror or raid1 LV's one segment.
enum Images {
    Mirror {
        legs: Vec<String>,
        log: Option<String>,
    },
    /// (metadata, image) pairs in slot order.
    Raid1(Vec<(String, String)>),
}

impl Images {
    /// (image, metadata) pairs in order.
    fn pairs(&self) -> Vec<ImagePair> {
        match self {
            Images::Mirror { legs, .. } => legs.iter().map(|l| (l.clone(), None)).collect(),
            Images::Raid1(images) => images
                .iter()
                .map(|(m, i)| (i.clone(), Some(m.clone())))
                .collect(),
        }
    }

    fn log(&self) -> Option<String> {
        match self {
            Images::Mirror { log, .. } => log.clone(),
            Images::Raid1(_) => None,
        }
    }
}

/// LV `lv`'s images; None: it is not a mirror or raid1 LV of one segment.
fn images_of(vg: &VolumeGroup, lv: &str) -> Result<Option<Images>, SplitError> {
    let top = vg.lv(lv).ok_or_else(|| SplitError::NoSuchLv {
        vg: vg.name.clone(),
        lv: lv.into(),
    })?;
    let [seg] = top.segments.as_slice() else {
        return Ok(None);
    };
    Ok(match &seg.kind {
        SegmentKind::Mirror { legs, log, .. } => Some(Images::Mirror {
            legs: legs.iter().map(|l| l.lv.clone()).collect(),
            log: log.clone(),
        }),
        SegmentKind::Raid1 { images, .. } => Some(Images::Raid1(images.clone())),
        _ => None,
    })
}

fn not_mirrored(vg: &VolumeGroup, lv: &str) -> SplitError {
    SplitError::NotMirrored {
        vg: vg.name.clone(),
        lv: lv.into(),
    }
}

/// The PVs LV `name`'s extents are on (a PV once per area); None: no such LV.
fn pvs_of(vg: &VolumeGroup, name: &str) -> Option<Vec<String>> {
    let l = vg.lv(name)?;
    Some(
        l.segments
            .iter()
            .flat_map(pv_areas)
            .map(|(pv, _, _)| pv)
            .collect(),
    )
}

fn pv_missing(vg: &VolumeGroup, pv: &str) -> bool {
    vg.pvs.iter().any(|p| p.name == pv && p.is_missing())
}

/// Sets the (metadata, image) pairs of raid1 LV `lv`'s segment.
fn set_raid_images(vg: &mut VolumeGroup, lv: &str, pairs: Vec<(String, String)>) {
    if let Some(SegmentKind::Raid1 { images, .. }) = vg
        .lvs
        .iter_mut()
        .find(|l| l.name == lv)
        .map(|l| &mut l.segments[0].kind)
    {
        *images = pairs;
    }
}

/// What [`repair`] did, by the LV's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repaired {
    Mirror(RepairOutcome),
    Raid1(RaidRepairOutcome),
}

/// `lvconvert --repair`: [`repair_raid1`] for a raid1 LV, [`repair_mirror`] for a mirror;
/// any other LV is refused as lvm2 refuses it.
pub fn repair(vg: &mut VolumeGroup, lv: &str, req: &ImagesRequest) -> Result<Repaired, SplitError> {
    let top = vg.lv(lv).ok_or_else(|| SplitError::NoSuchLv {
        vg: vg.name.clone(),
        lv: lv.into(),
    })?;
    let lv_type = match top.segments.as_slice() {
        [s] if matches!(s.kind, SegmentKind::Raid1 { .. }) => {
            return repair_raid1(vg, lv, req).map(Repaired::Raid1)
        }
        [s] if matches!(s.kind, SegmentKind::Mirror { .. }) => {
            return repair_mirror(vg, lv, req).map(Repaired::Mirror)
        }
        segs if segs
            .iter()
            .all(|s| matches!(&s.kind, SegmentKind::Striped { areas, .. } if areas.len() == 1)) =>
        {
            "linear".to_string()
        }
        [s, ..] => match &s.kind {
            SegmentKind::Other { segtype, .. } => segtype.clone(),
            SegmentKind::Striped { .. } => "striped".into(),
            _ => "unknown".into(),
        },
        [] => "unknown".into(),
    };
    Err(SplitError::NotRepairable {
        vg: vg.name.clone(),
        lv: lv.into(),
        lv_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvmeta_model::{Layout, LvRequest, MirrorLog, PhysicalVolume};
    use lvmeta_ondisk::units::{Extents, Sectors};

    /// A VG of `pvs` PVs of 31 extents (4 MiB) each.
    fn vg(pvs: usize) -> VolumeGroup {
        let mut vg = VolumeGroup::new("vg", Sectors(8192)).unwrap();
        for i in 0..pvs {
            let pv = PhysicalVolume::new(
                &lvmeta_model::lvm_uuid::generate(),
                Some(&format!("/dev/vd{}", (b'b' + i as u8) as char)),
                Sectors(262144),
                Sectors(2048),
                Extents(31),
            )
            .unwrap();
            vg.add_pv(pv).unwrap();
        }
        vg
    }

    fn total(n: usize) -> ImagesRequest {
        ImagesRequest {
            total: n,
            ..ImagesRequest::default()
        }
    }

    /// The PVs an LV's extents are on.
    fn pvs_of(vg: &VolumeGroup, lv: &str) -> Vec<String> {
        vg.lv(lv)
            .unwrap()
            .segments
            .iter()
            .flat_map(lvmeta_model::alloc::pv_areas)
            .map(|a| a.0)
            .collect()
    }

    fn legs(vg: &VolumeGroup, lv: &str) -> Vec<String> {
        match &vg.lv(lv).unwrap().segments[0].kind {
            SegmentKind::Mirror { legs, .. } => legs.iter().map(|l| l.lv.clone()).collect(),
            SegmentKind::Raid1 { images, .. } => images.iter().map(|i| i.1.clone()).collect(),
            k => panic!("not mirrored: {k:?}"),
        }
    }

    #[test]
    fn a_linear_lv_becomes_a_mirror_keeping_its_extents() {
        let mut vg = vg(3);
        vg.create_lv(LvRequest::new("m", Extents(4), Layout::Linear))
            .unwrap();
        let before = vg.lv("m").unwrap().segments.clone();
        let added = vg.add_images("m", &total(2)).unwrap();
        assert_eq!(added, ["m_mimage_0", "m_mimage_1"]);
        assert_eq!(vg.lv("m_mimage_0").unwrap().segments, before);
        assert_eq!(pvs_of(&vg, "m_mimage_1"), ["pv1"]);
        assert!(!vg.lv("m_mimage_1").unwrap().is_visible());
        assert_eq!(legs(&vg, "m"), ["m_mimage_0", "m_mimage_1"]);
        assert!(matches!(
            &vg.lv("m").unwrap().segments[0].kind,
            SegmentKind::Mirror { log: None, region_size: Some(r), .. } if r.0 == 4096
        ));
        // Asking for what it has changes nothing; fewer is refused.
        let same = vg.clone();
        assert!(vg.add_images("m", &total(2)).unwrap().is_empty());
        assert_eq!(vg, same);
        assert!(vg.add_images("m", &total(1)).is_err());
        assert_eq!(vg, same);
        // A third image on the third PV; a fourth has no PV of its own left.
        assert_eq!(vg.add_images("m", &total(3)).unwrap(), ["m_mimage_2"]);
        assert_eq!(pvs_of(&vg, "m_mimage_2"), ["pv2"]);
        let three = vg.clone();
        assert!(vg.add_images("m", &total(4)).is_err());
        assert_eq!(vg, three, "a failed allocation leaves the VG unchanged");
    }

    #[test]
    fn a_linear_lv_becomes_raid1_with_rebuild_on_the_new_image() {
        let mut vg = vg(2);
        vg.create_lv(LvRequest::new("r", Extents(4), Layout::Linear))
            .unwrap();
        let req = ImagesRequest {
            raid1: true,
            ..total(2)
        };
        let added = vg.add_images("r", &req).unwrap();
        assert_eq!(
            added,
            ["r_rimage_0", "r_rmeta_0", "r_rimage_1", "r_rmeta_1"]
        );
        assert_eq!(pvs_of(&vg, "r_rmeta_0"), ["pv0"]);
        assert_eq!(pvs_of(&vg, "r_rimage_1"), ["pv1"]);
        assert_eq!(pvs_of(&vg, "r_rmeta_1"), ["pv1"]);
        assert!(!vg.lv("r_rimage_0").unwrap().status.contains(Flag::Rebuild));
        assert!(vg.lv("r_rimage_1").unwrap().status.contains(Flag::Rebuild));
        assert_eq!(legs(&vg, "r"), ["r_rimage_0", "r_rimage_1"]);
        // Not repaired here: said so, nothing changed.
        let before = vg.clone();
        assert!(matches!(
            repair_mirror(&mut vg, "r", &ImagesRequest::default()),
            Err(SplitError::RaidRepair { .. })
        ));
        assert_eq!(vg, before);
    }

    #[test]
    fn a_disk_log_mirror_keeps_its_log_when_images_are_added() {
        let mut vg = vg(4);
        vg.create_lv(LvRequest::new(
            "m",
            Extents(2),
            Layout::Mirror {
                mirrors: 1,
                log: MirrorLog::Disk,
            },
        ))
        .unwrap();
        let log = pvs_of(&vg, "m_mlog");
        let used: Vec<String> = ["m_mimage_0", "m_mimage_1", "m_mlog"]
            .iter()
            .flat_map(|l| pvs_of(&vg, l))
            .collect();
        let spare = vg.pvs.iter().position(|p| !used.contains(&p.name)).unwrap();
        let before = vg.clone();
        assert_eq!(vg.add_images("m", &total(3)).unwrap(), ["m_mimage_2"]);
        assert_eq!(pvs_of(&vg, "m_mlog"), log);
        // lvm2 adds them through its `_mimagetmp` layer, whose PVs include the log's: the
        // new image goes to the fourth PV.
        assert_eq!(pvs_of(&vg, "m_mimage_2"), [vg.pvs[spare].name.clone()]);
        assert!(matches!(
            &vg.lv("m").unwrap().segments[0].kind,
            SegmentKind::Mirror { log: Some(l), legs, .. } if l == "m_mlog" && legs.len() == 3
        ));
        // With only the log's PV free, lvm2 finds no room (root_lvconvert_of_a_disk_log_mirror_avoids_its_log_as_lvm2).
        let mut vg = before;
        vg.pvs[spare].set_missing(true);
        let still = vg.clone();
        assert!(vg.add_images("m", &total(3)).is_err());
        assert_eq!(vg, still);
    }

    fn disk_log_mirror(pvs: usize, mirrors: u32) -> VolumeGroup {
        let mut vg = vg(pvs);
        vg.create_lv(LvRequest::new(
            "m",
            Extents(4),
            Layout::Mirror {
                mirrors,
                log: MirrorLog::Disk,
            },
        ))
        .unwrap();
        vg
    }

    #[test]
    fn repair_of_a_failed_log_allocates_another_as_lvm2() {
        // The log goes to the PV holding nothing of the mirror.
        let mut vg = disk_log_mirror(4, 1);
        let used: Vec<String> = ["m_mimage_0", "m_mimage_1", "m_mlog"]
            .iter()
            .flat_map(|l| pvs_of(&vg, l))
            .collect();
        let spare = vg
            .pvs
            .iter()
            .find(|p| !used.contains(&p.name))
            .unwrap()
            .name
            .clone();
        fail_pv_of(&mut vg, "m_mlog");
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert!(r.failed.is_empty() && r.failed_log && r.added.is_empty());
        assert_eq!(
            (r.logs, r.logs_now, r.tried.as_slice()),
            (1, 1, &[(2, 1)][..])
        );
        assert_eq!(r.new_log.as_deref(), Some("m_mlog"));
        assert_eq!(pvs_of(&vg, "m_mlog"), [spare]);
        // No PV left for it: a core log, after trying.
        let mut vg = disk_log_mirror(3, 1);
        fail_pv_of(&mut vg, "m_mlog");
        for pv in vg.pvs.iter_mut().take(2) {
            pv.pe_count = Extents(4);
        }
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert_eq!((r.logs_now, r.tried.as_slice()), (0, &[(2, 1), (2, 0)][..]));
        assert!(vg.lv("m_mlog").is_none() && r.new_log.is_none());
        assert_eq!(legs(&vg, "m"), ["m_mimage_0", "m_mimage_1"]);
    }

    #[test]
    fn repair_of_a_failed_leg_keeps_lvm2s_log_count_and_names() {
        // Two legs: linear for a moment (its log gone), then a mirror with a new log.
        let mut vg = disk_log_mirror(4, 1);
        fail_pv_of(&mut vg, "m_mimage_1");
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert_eq!(r.tried, [(2, 1)]);
        assert_eq!((r.now, r.logs_now), (2, 1));
        assert!(r.new_log.is_some() && !r.kept_log_with_new_images);
        // Three legs: the log stays, so it must start anew; the new image is named past
        // the highest (lvm2's generate_lv_name) and avoids the log's PV.
        let mut vg = disk_log_mirror(5, 2);
        fail_pv_of(&mut vg, "m_mimage_1");
        let log = pvs_of(&vg, "m_mlog");
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert_eq!(
            (r.tried.as_slice(), r.added.as_slice()),
            (&[(3, 1)][..], &["m_mimage_3".to_string()][..])
        );
        assert!(r.kept_log_with_new_images && r.new_log.is_none());
        assert_eq!(legs(&vg, "m"), ["m_mimage_0", "m_mimage_2", "m_mimage_3"]);
        assert_eq!(pvs_of(&vg, "m_mlog"), log);
        assert_ne!(pvs_of(&vg, "m_mimage_3"), log);
    }

    fn mirror_with_leg_1_missing(pvs: usize) -> VolumeGroup {
        let mut vg = vg(pvs);
        vg.create_lv(LvRequest::new(
            "m",
            Extents(4),
            Layout::Mirror {
                mirrors: 1,
                log: MirrorLog::Core,
            },
        ))
        .unwrap();
        let dead = pvs_of(&vg, "m_mimage_1")[0].clone();
        vg.pvs
            .iter_mut()
            .find(|p| p.name == dead)
            .unwrap()
            .set_missing(true);
        vg
    }

    #[test]
    fn repair_replaces_a_failed_image_on_another_pv() {
        let mut vg = mirror_with_leg_1_missing(3);
        let survivor = vg.lv("m_mimage_0").unwrap().segments.clone();
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert_eq!(r.failed, ["m_mimage_1"]);
        assert_eq!(
            (r.original, r.now, r.tried.as_slice()),
            (2, 2, &[(2, 0)][..])
        );
        assert_eq!(legs(&vg, "m"), ["m_mimage_0", "m_mimage_1"]);
        assert_eq!(vg.lv("m_mimage_0").unwrap().segments, survivor);
        assert_eq!(pvs_of(&vg, "m_mimage_1"), ["pv2"]);
        // Repeating it finds nothing to repair.
        let again = vg.clone();
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert!(r.failed.is_empty());
        assert_eq!(vg, again);
    }

    #[test]
    fn repair_without_room_removes_the_failed_image() {
        let mut vg = mirror_with_leg_1_missing(2);
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert_eq!(
            (r.original, r.now, r.tried.as_slice()),
            (2, 1, &[(2, 0)][..])
        );
        assert!(r.added.is_empty());
        assert!(vg.lv("m_mimage_1").is_none() && vg.lv("m_mimage_0").is_none());
        assert_eq!(pvs_of(&vg, "m"), ["pv0"]);
        // Every image failed: refused, nothing changed.
        let mut vg = mirror_with_leg_1_missing(2);
        vg.pvs[0].set_missing(true);
        let before = vg.clone();
        assert!(matches!(
            repair_mirror(&mut vg, "m", &ImagesRequest::default()),
            Err(SplitError::NoUsableImages { .. })
        ));
        assert_eq!(vg, before);
    }

    #[test]
    fn repair_of_three_images_tries_fewer_as_lvm2() {
        let mut vg = vg(3);
        vg.create_lv(LvRequest::new(
            "m",
            Extents(4),
            Layout::Mirror {
                mirrors: 2,
                log: MirrorLog::Core,
            },
        ))
        .unwrap();
        vg.pvs[1].set_missing(true);
        let r = repair_mirror(&mut vg, "m", &ImagesRequest::default()).unwrap();
        assert_eq!(r.failed, ["m_mimage_1"]);
        assert_eq!(
            (r.original, r.now, r.tried.as_slice()),
            (3, 2, &[(3, 0), (2, 0)][..])
        );
        assert_eq!(legs(&vg, "m"), ["m_mimage_0", "m_mimage_2"]);
    }

    /// raid1 of `images` on the first PVs of a VG of `pvs` PVs, 4 extents each.
    fn raid1(pvs: usize, images: usize) -> VolumeGroup {
        let mut vg = vg(pvs);
        vg.create_lv(LvRequest::new(
            "r",
            Extents(4),
            Layout::Raid1 {
                mirrors: images as u32 - 1,
            },
        ))
        .unwrap();
        vg
    }

    fn fail_pv_of(vg: &mut VolumeGroup, lv: &str) {
        let dead = pvs_of(vg, lv)[0].clone();
        vg.pvs
            .iter_mut()
            .find(|p| p.name == dead)
            .unwrap()
            .set_missing(true);
    }

    fn raid_pairs(vg: &VolumeGroup, lv: &str) -> Vec<(String, String)> {
        match &vg.lv(lv).unwrap().segments[0].kind {
            SegmentKind::Raid1 { images, .. } => images.clone(),
            k => panic!("not raid1: {k:?}"),
        }
    }

    #[test]
    fn raid1_reduce_takes_the_last_images_or_those_on_the_pvs_and_renumbers() {
        // No PV list: the last image goes, nothing renamed.
        let mut vg = raid1(3, 3);
        let r = reduce_images(&mut vg, "r", 2, None, false).unwrap();
        assert_eq!(r.images, ["r_rimage_2"]);
        assert!(r.renamed.is_empty() && !r.primary && !r.now_linear);
        assert!(vg.lv("r_rimage_2").is_none() && vg.lv("r_rmeta_2").is_none());
        // The PV of image 1: it goes and image 2 becomes image 1, extents kept.
        let mut vg = raid1(3, 3);
        let pv1 = pvs_of(&vg, "r_rimage_1")[0].clone();
        let img2 = vg.lv("r_rimage_2").unwrap().segments.clone();
        let r = reduce_images(&mut vg, "r", 2, Some(&[pv1]), false).unwrap();
        assert_eq!(r.images, ["r_rimage_1"]);
        assert_eq!(
            r.renamed,
            [
                ("r_rmeta_2".to_string(), "r_rmeta_1".to_string()),
                ("r_rimage_2".to_string(), "r_rimage_1".to_string())
            ]
        );
        assert_eq!(vg.lv("r_rimage_1").unwrap().segments, img2);
        assert_eq!(
            raid_pairs(&vg, "r"),
            [
                ("r_rmeta_0".to_string(), "r_rimage_0".to_string()),
                ("r_rmeta_1".to_string(), "r_rimage_1".to_string())
            ]
        );
        // Too few PVs for the images asked, or none of the LV there: refused, unchanged.
        let mut vg = raid1(4, 3);
        let before = vg.clone();
        let e = reduce_images(&mut vg, "r", 1, Some(&["pv0".into()]), false).unwrap_err();
        assert!(
            matches!(
                e,
                SplitError::ExtractFromFewPvs {
                    extract: 2,
                    given: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = reduce_images(&mut vg, "r", 2, Some(&["pv3".into()]), false).unwrap_err();
        assert!(matches!(e, SplitError::ExtractShort { .. }), "{e}");
        assert_eq!(vg, before);
        // Down to one: linear on image 0's extents.
        let img0 = vg.lv("r_rimage_0").unwrap().segments.clone();
        let r = reduce_images(&mut vg, "r", 1, None, false).unwrap();
        assert!(r.now_linear);
        assert_eq!(vg.lv("r").unwrap().segments, img0);
    }

    #[test]
    fn mirror_reduce_prefers_images_wholly_on_the_pvs_then_the_last() {
        let mut vg = vg(4);
        vg.create_lv(LvRequest::new(
            "m",
            Extents(2),
            Layout::Mirror {
                mirrors: 3,
                log: MirrorLog::Core,
            },
        ))
        .unwrap();
        let pv0 = pvs_of(&vg, "m_mimage_0")[0].clone();
        let r = reduce_images(&mut vg, "m", 2, Some(&[pv0]), false).unwrap();
        assert_eq!(r.images, ["m_mimage_0", "m_mimage_3"]);
        assert!(r.primary);
        assert_eq!(legs(&vg, "m"), ["m_mimage_1", "m_mimage_2"]);
    }

    #[test]
    fn raid1_repair_replaces_the_failed_pair_in_its_slot_with_rebuild() {
        for failed in [1usize, 0] {
            let mut vg = raid1(3, 2);
            let keep = 1 - failed;
            let survivor = vg.lv(&format!("r_rimage_{keep}")).unwrap().clone();
            let names = raid_pairs(&vg, "r");
            fail_pv_of(&mut vg, &format!("r_rimage_{failed}"));
            let Repaired::Raid1(r) = repair(&mut vg, "r", &ImagesRequest::default()).unwrap()
            else {
                panic!("raid1 repaired as a mirror")
            };
            let img = format!("r_rimage_{failed}");
            let meta = format!("r_rmeta_{failed}");
            assert_eq!(r.failed, std::slice::from_ref(&img));
            assert_eq!(r.replaced, std::slice::from_ref(&img));
            assert!(r.narrowed.is_empty());
            let mut added = r.added.clone();
            added.sort();
            assert_eq!(added, [img.clone(), meta.clone()]);
            // The same names in the same slots; the survivor untouched; the new pair on the
            // third PV, the metadata right before its image, REBUILD on the image.
            assert_eq!(raid_pairs(&vg, "r"), names, "failed {failed}");
            assert_eq!(vg.lv(&survivor.name).unwrap(), &survivor);
            assert_eq!(pvs_of(&vg, &img), ["pv2"]);
            assert_eq!(pvs_of(&vg, &meta), ["pv2"]);
            assert!(vg.lv(&img).unwrap().status.contains(Flag::Rebuild));
            assert!(!vg.lv(&img).unwrap().is_visible());
            assert!(!vg.lv(&meta).unwrap().is_visible());
            assert_eq!(
                vg.lv(&meta).unwrap().segments[0].extent_count.0 + 4,
                vg.lv(&img).unwrap().segments[0].extent_count.0 + 1,
                "one extent of metadata, four of data"
            );
            // Nothing on the missing PV any more: a second repair finds nothing to do.
            let again = vg.clone();
            let Repaired::Raid1(r) = repair(&mut vg, "r", &ImagesRequest::default()).unwrap()
            else {
                panic!()
            };
            assert!(r.failed.is_empty() && r.added.is_empty());
            assert_eq!(vg, again);
        }
    }

    #[test]
    fn raid1_repair_without_room_is_refused_and_changes_nothing() {
        let mut vg = raid1(2, 2);
        fail_pv_of(&mut vg, "r_rimage_1");
        let before = vg.clone();
        assert!(matches!(
            repair_raid1(&mut vg, "r", &ImagesRequest::default()),
            Err(SplitError::NoReplacement { .. })
        ));
        assert_eq!(vg, before);
        // A PV with room but holding part of the LV (here named on the command line) is no
        // place for a replacement either.
        let mut vg = raid1(3, 2);
        fail_pv_of(&mut vg, "r_rimage_1");
        let before = vg.clone();
        let only_used = ImagesRequest {
            alloc: lvmeta_model::Allocation {
                pvs: Some(vec!["pv0".into(), "pv1".into()]),
                ..Default::default()
            },
            ..ImagesRequest::default()
        };
        assert!(matches!(
            repair_raid1(&mut vg, "r", &only_used),
            Err(SplitError::NoReplacement { .. })
        ));
        assert_eq!(vg, before);
    }

    #[test]
    fn raid1_repair_narrows_to_what_fits_replacing_the_highest_slots_first() {
        let mut vg = raid1(4, 3);
        fail_pv_of(&mut vg, "r_rimage_0");
        fail_pv_of(&mut vg, "r_rimage_2");
        let first = vg.lv("r_rimage_0").unwrap().clone();
        let r = repair_raid1(&mut vg, "r", &ImagesRequest::default()).unwrap();
        assert_eq!(r.failed, ["r_rimage_0", "r_rimage_2"]);
        assert_eq!(r.narrowed, [2]);
        assert_eq!(r.replaced, ["r_rimage_2"]);
        assert_eq!(pvs_of(&vg, "r_rimage_2"), ["pv3"]);
        // Slot 0 is still on its missing PV (a partial LV, as lvm2 leaves it).
        assert_eq!(vg.lv("r_rimage_0").unwrap(), &first);
        assert_eq!(
            raid_pairs(&vg, "r"),
            [0, 1, 2].map(|i| (format!("r_rmeta_{i}"), format!("r_rimage_{i}")))
        );
    }

    #[test]
    fn raid1_repair_refusals_and_nothing_to_do_as_lvm2() {
        // Every image failed.
        let mut vg = raid1(3, 2);
        fail_pv_of(&mut vg, "r_rimage_0");
        fail_pv_of(&mut vg, "r_rimage_1");
        let before = vg.clone();
        let e = repair_raid1(&mut vg, "r", &ImagesRequest::default()).unwrap_err();
        // lvm2's words for each refusal are lvmeta-cli's (`lvmeta_cli::wording`).
        assert!(
            matches!(&e, SplitError::ReplaceAll { vg, lv } if vg == "vg" && lv == "r"),
            "{e}"
        );
        assert_eq!(vg, before);
        // No missing PV: nothing to do.
        let mut vg = raid1(3, 2);
        let before = vg.clone();
        let r = repair_raid1(&mut vg, "r", &ImagesRequest::default()).unwrap();
        assert!(r.failed.is_empty());
        assert_eq!(vg, before);
        // A missing PV holding another LV, not this one: lvm2's error.
        vg.create_lv(LvRequest {
            alloc: lvmeta_model::Allocation {
                pvs: Some(vec!["pv2".into()]),
                ..Default::default()
            },
            ..LvRequest::new("l", Extents(2), Layout::Linear)
        })
        .unwrap();
        fail_pv_of(&mut vg, "l");
        assert!(vg.pvs[2].is_missing());
        let before = vg.clone();
        let e = repair_raid1(&mut vg, "r", &ImagesRequest::default()).unwrap_err();
        assert!(
            matches!(&e, SplitError::NothingToReplace { vg, lv } if vg == "vg" && lv == "r"),
            "{e}"
        );
        assert_eq!(vg, before);
        // A mirror goes to repair_mirror through `repair`.
        let mut vg = mirror_with_leg_1_missing(3);
        assert!(matches!(
            repair(&mut vg, "m", &ImagesRequest::default()),
            Ok(Repaired::Mirror(RepairOutcome { now: 2, .. }))
        ));
    }

    /// What clvmd-rs's global detach (`remove_images`, lvm2's "remove" fault policy) leaves
    /// behind, and what `--repair` makes of it.
    #[test]
    fn raid1_after_the_daemons_detach() {
        // Two images: the detach leaves a linear LV, which lvm2's --repair refuses too (the
        // way back is `lvconvert --type raid1 -m1`).
        let mut vg = raid1(3, 2);
        fail_pv_of(&mut vg, "r_rimage_1");
        let out = remove_images(&mut vg, "r", &["r_rimage_1".into()]).unwrap();
        assert!(out.now_linear);
        let e = repair(&mut vg, "r", &ImagesRequest::default()).unwrap_err();
        assert!(
            matches!(&e, SplitError::NotRepairable { lv_type, .. } if lv_type == "linear"),
            "{e}"
        );
        let back = ImagesRequest {
            raid1: true,
            ..total(2)
        };
        assert_eq!(vg.add_images("r", &back).unwrap().len(), 4);
        // Three images: the detach is refused (lvm2 would renumber the images), nothing is
        // committed, and the repair replaces the failed image in its slot.
        let mut vg = raid1(4, 3);
        fail_pv_of(&mut vg, "r_rimage_1");
        let before = vg.clone();
        assert!(remove_images(&mut vg, "r", &["r_rimage_1".into()]).is_err());
        assert_eq!(vg, before);
        let r = repair_raid1(&mut vg, "r", &ImagesRequest::default()).unwrap();
        assert_eq!(r.replaced, ["r_rimage_1"]);
        assert_eq!(pvs_of(&vg, "r_rimage_1"), ["pv3"]);
    }
}
