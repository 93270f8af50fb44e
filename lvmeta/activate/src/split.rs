//! Mirror break-off (`lvconvert --splitmirrors 1 --name NEW vg/lv`) as a change of the model.
//!
//! As lvm2 does it: the last image is split off. Its image LV (`lv_mimage_N` or `lv_rimage_N`)
//! becomes the visible LV `NEW` on the same extents, so it keeps the data as of the split; a raid
//! image's metadata LV (`lv_rmeta_N`) is dropped. When one image remains, the LV becomes linear
//! on that image's extents and the image (with its metadata or the mirror log) is dropped.

use lvmeta_model::{
    alloc::pv_areas, names, Flag, ImagesRequest, LogicalVolume, SegmentKind, VolumeGroup,
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
    #[error(
        "{vg}/{lv}: --repair of a raid1 LV is not supported here (lvconvert -m adds images back)"
    )]
    RaidRepair { vg: String, lv: String },
    #[error("No usable images left in {vg}/{lv}.")]
    NoUsableImages { vg: String, lv: String },
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
    let top = vg.lv(lv).ok_or_else(|| SplitError::NoSuchLv {
        vg: vg.name.clone(),
        lv: lv.into(),
    })?;
    let not_mirrored = || SplitError::NotMirrored {
        vg: vg.name.clone(),
        lv: lv.into(),
    };
    let [seg] = top.segments.as_slice() else {
        return Err(not_mirrored());
    };
    // (image, metadata) pairs in order, and the mirror log.
    let (pairs, log): (Vec<(String, Option<String>)>, Option<String>) = match &seg.kind {
        SegmentKind::Mirror { legs, log, .. } => (
            legs.iter().map(|l| (l.lv.clone(), None)).collect(),
            log.clone(),
        ),
        SegmentKind::Raid1 { images, .. } => (
            images
                .iter()
                .map(|(m, i)| (i.clone(), Some(m.clone())))
                .collect(),
            None,
        ),
        _ => return Err(not_mirrored()),
    };
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
    let top = vg.lv(lv).ok_or_else(|| SplitError::NoSuchLv {
        vg: vg.name.clone(),
        lv: lv.into(),
    })?;
    let not_mirrored = || SplitError::NotMirrored {
        vg: vg.name.clone(),
        lv: lv.into(),
    };
    let (pairs, log, raid): (Vec<ImagePair>, Option<String>, bool) = match top.segments.as_slice() {
        [seg] => match &seg.kind {
            SegmentKind::Mirror { legs, log, .. } => (
                legs.iter().map(|l| (l.lv.clone(), None)).collect(),
                log.clone(),
                false,
            ),
            SegmentKind::Raid1 { images, .. } => (
                images
                    .iter()
                    .map(|(m, i)| (i.clone(), Some(m.clone())))
                    .collect(),
                None,
                true,
            ),
            // Already linear (a repair done before): nothing of `images` is left.
            _ if images.iter().all(|i| vg.lv(i).is_none()) => return Ok(RemoveOutcome::default()),
            _ => return Err(not_mirrored()),
        },
        _ if images.iter().all(|i| vg.lv(i).is_none()) => return Ok(RemoveOutcome::default()),
        _ => return Err(not_mirrored()),
    };
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

/// What [`repair_mirror`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepairOutcome {
    /// Images on a missing PV, removed.
    pub failed: Vec<String>,
    /// Images before the repair.
    pub original: usize,
    /// The image counts tried when up-converting back, in order (lvm2 prints each).
    pub tried: Vec<usize>,
    /// Images after the repair.
    pub now: usize,
    /// The sub-LVs allocated in place of the failed ones.
    pub added: Vec<String>,
}

/// `lvconvert --repair` of a mirror LV with lvm2's `allocate` policy for images
/// (`_lvconvert_mirrors_repair`): the images with extents on a MISSING PV are removed (a
/// mirror left with one image is linear for a moment), then the LV is up-converted back to
/// its image count on other PVs; when that cannot be allocated, one image fewer is tried,
/// down to two, as lvm2 does; failing that the LV stays as the removal left it. A mirror
/// without failed images is left alone (`failed` empty). `req` gives the PVs to allocate
/// from and the creation time of new sub-LVs (`total` is ignored). On error the VG is
/// unchanged.
pub fn repair_mirror(
    vg: &mut VolumeGroup,
    lv: &str,
    req: &ImagesRequest,
) -> Result<RepairOutcome, SplitError> {
    let top = vg.lv(lv).ok_or_else(|| SplitError::NoSuchLv {
        vg: vg.name.clone(),
        lv: lv.into(),
    })?;
    let legs: Vec<String> = match top.segments.as_slice() {
        [seg] => match &seg.kind {
            SegmentKind::Mirror { legs, .. } => legs.iter().map(|l| l.lv.clone()).collect(),
            SegmentKind::Raid1 { .. } => {
                return Err(SplitError::RaidRepair {
                    vg: vg.name.clone(),
                    lv: lv.into(),
                })
            }
            _ => {
                return Err(SplitError::NotMirrored {
                    vg: vg.name.clone(),
                    lv: lv.into(),
                })
            }
        },
        _ => {
            return Err(SplitError::NotMirrored {
                vg: vg.name.clone(),
                lv: lv.into(),
            })
        }
    };
    let on_missing = |name: &str| {
        vg.lv(name).is_some_and(|l| {
            l.segments
                .iter()
                .flat_map(pv_areas)
                .any(|(pv, _, _)| vg.pvs.iter().any(|p| p.name == pv && p.is_missing()))
        })
    };
    let failed: Vec<String> = legs.iter().filter(|l| on_missing(l)).cloned().collect();
    let original = legs.len();
    if failed.is_empty() {
        return Ok(RepairOutcome {
            original,
            now: original,
            ..RepairOutcome::default()
        });
    }
    if failed.len() == original {
        return Err(SplitError::NoUsableImages {
            vg: vg.name.clone(),
            lv: lv.into(),
        });
    }
    let mut work = vg.clone();
    remove_images(&mut work, lv, &failed)?;
    let mut out = RepairOutcome {
        failed,
        original,
        ..RepairOutcome::default()
    };
    out.now = original - out.failed.len();
    let mut target = original;
    loop {
        out.tried.push(target);
        let r = ImagesRequest {
            total: target,
            raid1: false,
            ..req.clone()
        };
        let mut attempt = work.clone();
        match attempt.add_images(lv, &r) {
            Ok(added) => {
                out.added = added;
                out.now = target;
                work = attempt;
                break;
            }
            Err(_) if target > 2 => target -= 1,
            Err(_) => break,
        }
    }
    *vg = work;
    Ok(out)
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
        let mut vg = vg(3);
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
        assert_eq!(vg.add_images("m", &total(3)).unwrap(), ["m_mimage_2"]);
        assert_eq!(pvs_of(&vg, "m_mlog"), log);
        // lvm2 keeps new images off the images' PVs only: the log's PV may take one.
        assert_eq!(pvs_of(&vg, "m_mimage_2"), log);
        assert!(matches!(
            &vg.lv("m").unwrap().segments[0].kind,
            SegmentKind::Mirror { log: Some(l), legs, .. } if l == "m_mlog" && legs.len() == 3
        ));
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
        assert_eq!((r.original, r.now, r.tried.as_slice()), (2, 2, &[2][..]));
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
        assert_eq!((r.original, r.now, r.tried.as_slice()), (2, 1, &[2][..]));
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
        assert_eq!((r.original, r.now, r.tried.as_slice()), (3, 2, &[3, 2][..]));
        assert_eq!(legs(&vg, "m"), ["m_mimage_0", "m_mimage_2"]);
    }
}
