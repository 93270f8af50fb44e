//! Writing another node's commit (clvmd-rs's carried commit, issue 15): a command on a node
//! that could write no metadata copy of a shared VG still holds the VG lock EX and hands its
//! new metadata text to a node that may still reach the metadata areas. That node writes the
//! text as is, without the VG lock (the command holds it for it), and only if the VG on disk
//! is the one the command read, at the seqno it read: then nothing can have come between.

use lvmeta_model::VolumeGroup;

use super::{commit_text, peek, targets, Env, OpError, Result, VgError};

/// Writes `text` (the complete metadata of VG `vg_uuid` at seqno `disk_seqno + 1`) to every
/// metadata area of its PVs present here, if VG `vg` on disk here is `vg_uuid` at
/// `disk_seqno`. Returns the seqno written.
pub fn write_carried(
    env: &Env,
    vg: &str,
    vg_uuid: &str,
    disk_seqno: u64,
    text: &str,
) -> Result<u64> {
    let refused = |why: String| OpError::CarryRefused { vg: vg.into(), why };
    let bare = |u: &str| u.replace('-', "");
    let next = disk_seqno + 1;
    // The text first: cheap, and nothing is read from disk for garbage.
    match peek(text) {
        Some((_, seq)) if seq == next => {}
        Some((_, seq)) => return Err(refused(format!("its text is seqno {seq}, not {next}"))),
        None => return Err(refused("its text is not VG metadata".into())),
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
        return Err(refused(format!(
            "its text is VG {} at seqno {}, not {vg_uuid} at seqno {next}",
            new.id, new.seqno
        )));
    }
    let sc = super::scan(env)?;
    let on = sc.read_vg(vg)?;
    if bare(&on.vg.id) != bare(vg_uuid) || on.vg.seqno != disk_seqno {
        return Err(refused(format!(
            "the VG on disk here is {} at seqno {}, not {vg_uuid} at seqno {disk_seqno}",
            on.vg.id, on.vg.seqno
        )));
    }
    let t = targets(&sc, &new);
    if t.is_empty() {
        return Err(refused("none of its PVs is present here".into()));
    }
    commit_text(&new.name, &t, text.to_string(), None)?;
    log::warn!(
        "VG {}: wrote another node's commit (seqno {next}) to {} metadata area(s)",
        new.name,
        t.len()
    );
    Ok(next)
}
