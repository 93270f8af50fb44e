//! Checks of another node's commit before it is written here (clvmd-rs's carried commit,
//! issue 15; written by [`crate::ops::Ctx::write_carried`]): a command on a node that could
//! write no metadata copy of a shared VG still holds the VG lock EX and hands its new
//! metadata text to a node that may still reach the metadata areas. That node writes the
//! text as is, without the VG lock (the command holds it for it), and only if the VG on disk
//! is the one the command read, at the seqno it read: then nothing can have come between.

use std::sync::Arc;

use lvmeta_model::VolumeGroup;
use lvmeta_ondisk::dev::BlockDev;
use lvmeta_ondisk::label::DiskLocn;

use super::{peek, targets, OpError, Result, Scan, VgError};

fn refused(vg: &str, why: String) -> OpError {
    OpError::CarryRefused { vg: vg.into(), why }
}

fn bare(u: &str) -> String {
    u.replace('-', "")
}

/// The VG `text` holds, if it is VG `vg_uuid`'s next commit after `disk_seqno`.
pub(crate) fn carried_vg(
    vg: &str,
    vg_uuid: &str,
    disk_seqno: u64,
    text: &str,
) -> Result<VolumeGroup> {
    let next = disk_seqno + 1;
    // The text first: cheap, and nothing is read from disk for garbage.
    match peek(text) {
        Some((_, seq)) if seq == next => {}
        Some((_, seq)) => return Err(refused(vg, format!("its text is seqno {seq}, not {next}"))),
        None => return Err(refused(vg, "its text is not VG metadata".into())),
    }
    let doc = lvmeta_text::parse(text).map_err(|err| OpError::Parse {
        what: format!("carried metadata of VG {vg}"),
        err,
    })?;
    let new = VolumeGroup::from_metadata(&doc).map_err(|e| VgError::Malformed {
        vg: vg.into(),
        what: e.to_string(),
    })?;
    drop(doc);
    if bare(&new.id) != bare(vg_uuid) || new.seqno != next {
        return Err(refused(
            vg,
            format!(
                "its text is VG {} at seqno {}, not {vg_uuid} at seqno {next}",
                new.id, new.seqno
            ),
        ));
    }
    Ok(new)
}

/// The metadata areas `new` is written to, if the VG on disk here (`on`) is `vg_uuid` at
/// `disk_seqno` and some of its PVs are present.
pub(crate) fn carried_targets(
    sc: &Scan,
    on: &VolumeGroup,
    new: &VolumeGroup,
    vg: &str,
    vg_uuid: &str,
    disk_seqno: u64,
) -> Result<Vec<(Arc<dyn BlockDev>, DiskLocn)>> {
    if bare(&on.id) != bare(vg_uuid) || on.seqno != disk_seqno {
        return Err(refused(
            vg,
            format!(
                "the VG on disk here is {} at seqno {}, not {vg_uuid} at seqno {disk_seqno}",
                on.id, on.seqno
            ),
        ));
    }
    let t = targets(sc, new);
    if t.is_empty() {
        return Err(refused(vg, "none of its PVs is present here".into()));
    }
    Ok(t)
}
