//! A mirror's log on an existing mirror (`lvconvert --mirrorlog core|disk`, `--corelog`) and
//! the initialisation of a new disk log, as lvm2's `add_mirror_log` / `remove_mirror_log` /
//! `_init_mirror_log`.
//!
//! dm-log trusts a disk log it finds: a log whose header carries its magic and a region count
//! makes the kernel call those regions in sync. New log extents may hold an old log's bits
//! (lvm2 wipes them), and a log kept while images are added would call the new images in
//! sync. So a new log gets a header recording no region before anything loads it (every
//! region out of sync: the whole mirror is copied on its first load, on every node), and an
//! active mirror whose images the log does not cover is loaded once with dm-log's `sync`
//! (a new log in the kernel). An active mirror known to be in sync gets a new log with
//! `nosync`, as lvm2 does, so nothing is copied.
//!
//! New raid1 metadata sub-LVs are cleared the same way ([`clear_raid_meta`]).

use crate::activation::{Kernel, Result};
use crate::ops::{Ctx, LvStartError, OpError, PvIndex, Scan, VgError};
use lvmeta_model::{alloc::pv_areas, ModelError, SegmentKind, VolumeGroup};
use lvmeta_ondisk::Bytes;

/// dm-log's `MIRROR_MAGIC` ("MiRr") and `MIRROR_DISK_VERSION`.
pub const MIRROR_MAGIC: u32 = 0x4D69_5272;
pub const MIRROR_DISK_VERSION: u32 = 2;

/// What is written at the start of a new log: dm-log's `log_header_disk` (LE magic, version,
/// `nr_regions` = 0) and zeros, the header and the start of its bitset.
pub fn new_log_header() -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    b[0..4].copy_from_slice(&MIRROR_MAGIC.to_le_bytes());
    b[4..8].copy_from_slice(&MIRROR_DISK_VERSION.to_le_bytes());
    b
}

/// Writes [`new_log_header`] at the start of log LV `log` through the PV holding its first
/// extent (no device-mapper needed), and syncs it. Nothing is written in test mode.
pub fn init_log(
    ctx: &Ctx,
    vg: &VolumeGroup,
    scan: &Scan,
    devs: &PvIndex,
    log: &str,
) -> std::result::Result<(), OpError> {
    let failed = |why| OpError::LogWipe { why };
    write_lv_start(ctx, vg, scan, devs, log, &new_log_header(), failed)
}

/// Zeroes the first 4 KiB of each new raid1 metadata sub-LV (`_rmeta_N`) in `lvs`, as lvm2
/// clears new metadata LVs before it loads them (`_clear_lvs`): dm-raid trusts a superblock it
/// finds, so extents that held an earlier raid's metadata of the same size could make the
/// kernel call a new image in sync and skip its copy. Other names are passed over.
pub fn clear_raid_meta<'a>(
    ctx: &Ctx,
    vg: &VolumeGroup,
    scan: &Scan,
    devs: &PvIndex,
    lvs: impl IntoIterator<Item = &'a str>,
) -> std::result::Result<(), OpError> {
    for meta in lvs.into_iter().filter(|n| n.contains("_rmeta_")) {
        let failed = |why| OpError::MetaInit {
            vg: vg.name.clone(),
            lv: meta.into(),
            why,
        };
        write_lv_start(ctx, vg, scan, devs, meta, &[0u8; 4096], failed)?;
    }
    Ok(())
}

/// Writes `data` at the start of LV `lv` through the PV holding its first extent (no
/// device-mapper needed: the extents are new, nothing has them open) and syncs it. `failed`
/// says what the write was for when its place is not known.
fn write_lv_start(
    ctx: &Ctx,
    vg: &VolumeGroup,
    scan: &Scan,
    devs: &PvIndex,
    lv: &str,
    data: &[u8],
    failed: impl Fn(LvStartError) -> OpError,
) -> std::result::Result<(), OpError> {
    if ctx.env.test_mode {
        return Ok(());
    }
    let l = vg.lv(lv).ok_or_else(|| {
        failed(LvStartError::NoLv {
            vg: vg.name.clone(),
            lv: lv.into(),
        })
    })?;
    let (pv, start, count) = l
        .segments
        .first()
        .and_then(|s| pv_areas(s).into_iter().next())
        .ok_or_else(|| failed(LvStartError::NoExtents { lv: lv.into() }))?;
    // Never past the LV's first area (small extents): what follows belongs to others.
    let room = usize::try_from(count * vg.extent_size.0 * 512).unwrap_or(usize::MAX);
    let data = &data[..data.len().min(room)];
    let pe_start = vg
        .pvs
        .iter()
        .find(|p| p.name == pv)
        .map(|p| p.pe_start.0)
        .ok_or_else(|| {
            failed(LvStartError::PvNotInVg {
                vg: vg.name.clone(),
                pv: pv.clone(),
            })
        })?;
    let dev = devs
        .get(&pv)
        .map(|&i| scan.pv(i).dev().clone())
        .ok_or_else(|| failed(LvStartError::PvMissing { pv: pv.clone() }))?;
    let off = Bytes((pe_start + start * vg.extent_size.0) * 512);
    let io = |source| OpError::Device {
        path: dev.path().to_path_buf(),
        source,
    };
    dev.write_at(off, data).map_err(io)?;
    dev.sync().map_err(io)
}

/// `lvconvert --mirrorlog core|disk VG/LV [PV...]`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertLogOptions {
    pub vg: String,
    pub lv: String,
    /// `disk` (true) or `core`.
    pub disk: bool,
    /// Allocate the log only on these PVs.
    pub pvs: Vec<String>,
}

/// lvm2's message when a log cannot be placed.
pub(crate) fn log_alloc_error(e: ModelError) -> OpError {
    match e {
        ModelError::NotEnoughSpace { .. } | ModelError::NotEnoughPvs { .. } => {
            OpError::MirrorLogAlloc
        }
        e => OpError::Model(e),
    }
}

impl Ctx<'_> {
    /// `lvconvert --mirrorlog core|disk VG/LV [PV...]` of a mirror, with lvm2's messages. An
    /// active LV is reloaded ([`Ctx::log_converted`]). An inactive LV changes in the metadata
    /// (and a new disk log's header); its next activation copies the whole mirror, as lvm2's.
    pub fn convert_mirror_log(
        &self,
        kernel: Option<&Kernel>,
        o: &ConvertLogOptions,
    ) -> Result<Vec<String>> {
        let (vgname, lv) = (o.vg.as_str(), o.lv.as_str());
        let (before, sync) = self.active_plan_and_sync(kernel, vgname, lv)?;
        let mut counts = (0, 0);
        let creation = self.creation();
        let pvs = (!o.pvs.is_empty()).then(|| o.pvs.clone());
        let done = self.modify_vg(vgname, &crate::txn::WriteOpts::default(), |t| {
            let top = t.vg.top_level(lv).map_err(|_| VgError::NoSuchLv {
                vg: vgname.into(),
                lv: lv.into(),
            })?;
            let (images, has_log) = match top.segments.as_slice() {
                [s] => match &s.kind {
                    SegmentKind::Mirror { legs, log, .. } => (legs.len(), log.is_some()),
                    _ => return Err(not_permitted(vgname, lv)),
                },
                _ => return Err(not_permitted(vgname, lv)),
            };
            counts = (images, usize::from(has_log));
            if has_log == o.disk {
                t.change_nothing();
                return Ok(false);
            }
            if o.disk {
                let log =
                    t.vg.add_mirror_log(lv, pvs.as_deref(), &[], creation.clone())
                        .map_err(log_alloc_error)?
                        .expect("checked: no log yet");
                init_log(self, &t.vg, t.scan, &t.devs, &log)?;
            } else {
                t.vg.remove_mirror_log(lv).map_err(OpError::Model)?;
            }
            Ok(true)
        })?;
        if !done.value {
            // lvm2 2.03.16 says nothing (later versions print the counts).
            log::info!(
                "Volume {vgname}/{lv} has already image count {} and log count {}.",
                counts.0,
                counts.1
            );
            return Ok(Vec::new());
        }
        self.log_converted(kernel, vgname, lv, before.as_ref(), sync)
    }
}

/// lvm2's refusal of `--mirrorlog` on an LV that is not a mirror (command matching).
fn not_permitted(vg: &str, lv: &str) -> OpError {
    OpError::NotPermitted {
        vg: vg.into(),
        lv: lv.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_log_header_records_no_region() {
        let h = new_log_header();
        assert_eq!(&h[0..4], b"rRiM", "MIRROR_MAGIC little-endian");
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 2);
        assert!(h[8..].iter().all(|&b| b == 0), "nr_regions 0 and no bits");
        assert_eq!(h.len() % 512, 0);
    }
}
