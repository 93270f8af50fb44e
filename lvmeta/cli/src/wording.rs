//! lvm2's words for the errors `lvmeta` prints: the one home of lvm2's error phrases.
//!
//! The library's errors are typed, with a plain `Display` for developers (the agents, the
//! daemon and the lab print that); here each error a command returns is said as lvm2 says it.
//! Every match is exhaustive (no `_` arm over a halvm enum), so a new variant needs a wording
//! decision here. A variant lvm2 has no counterpart for is halvm's own: its arm renders the
//! library's `Display`, and says so (`own(e)`).

use lvmeta::activation::ActivationError;
use lvmeta::env::EnvError;
use lvmeta::lock::LockError;
use lvmeta::ops::{CopyState, LvStartError, OpError, PvFinding, ReportWarning, VgError, VgFinding};
use lvmeta::report::ReportError;
use lvmeta::units::UnitsError;
use lvmeta_activate::split::SplitError;
use lvmeta_activate::PlanError;
use lvmeta_dm::DmError;
use lvmeta_model::names::FullNameTooLong;
use lvmeta_model::sizing::SizeError;
use lvmeta_model::ModelError;
use lvmeta_ondisk::OnDiskError;

use crate::CliError;

/// halvm's own message (lvm2 has no such case, or no such words): the library's `Display`.
fn own(e: &impl std::fmt::Display) -> String {
    e.to_string()
}

/// What `lvmeta` prints for a failed command (one or more lines, before indenting).
pub fn error(e: &CliError) -> String {
    match e {
        CliError::Op(e) => op(e),
        CliError::Config(e) => env(e),
        // Built by lvmeta-cli in lvm2's words (or halvm's where lvm2 has no such option).
        CliError::Usage(s) | CliError::NotUniform(s) | CliError::Refused(s) => s.clone(),
        // The lines are lvm2's (its selection help and syntax errors), built as data.
        CliError::Select(e) => e.lines.join("\n"),
        CliError::Activation(e) => activation(e),
        // clvmd-rs's protocol and its refusals: halvm's own.
        CliError::Cluster(e) => own(e),
    }
}

pub fn op(e: &OpError) -> String {
    use OpError as E;
    match e {
        E::OnDisk(e) => on_disk(e),
        E::Vg(e) => vg(e),
        E::Lock(e) => lock(e),
        E::Report(e) => report(e),
        E::VgNotFound { vg } => format!("Volume group \"{vg}\" not found"),
        E::Device { path, source } => {
            format!("Cannot access device {}: {source}", path.display())
        }
        E::BadLabel { path, source } => format!(
            "Device {} has a damaged PV label: {}",
            path.display(),
            on_disk(source)
        ),
        E::DuplicateDevices { vg } => {
            format!("Cannot update volume group {vg} with duplicate PV devices.")
        }
        E::DuplicatePv {
            uuid,
            first,
            second,
        } => format!(
            "Duplicate PV UUID {uuid} on {} and {}",
            first.display(),
            second.display()
        ),
        E::NotAPv { path } => format!("No physical volume label read from {}", path.display()),
        E::PvInVg { path, vg } => format!(
            "Physical volume '{}' is already in volume group '{vg}'",
            path.display()
        ),
        E::AlreadyPv { path } => format!(
            "Can't initialize physical volume \"{}\": it already has a PV label (use -f)",
            path.display()
        ),
        E::VgExists { vg } => format!("A volume group called {vg} already exists."),
        E::MissingPv { vg, uuid, device } => format!(
            "VG {vg} is missing PV {uuid} (last seen on {device}); refusing to change it"
        ),
        E::Foreign {
            vg,
            system_id,
            local,
        } => format!(
            "Cannot access VG {vg} with system ID {system_id} with local system ID {local}."
        ),
        E::NoValidCopy { vg, reasons } => format!(
            "Volume group \"{vg}\" not found in any valid metadata copy; damaged copies: {reasons}"
        ),
        E::PvBusy { path } => format!(
            "Can't open {} exclusively - not removing. Mounted filesystem?",
            path.display()
        ),
        E::InUse { vg, lv } => format!("Logical volume {vg}/{lv} in use."),
        E::RaidCannotShrink => "RAID module does not support shrinking.".into(),
        E::NotReduced { vg, lv, size } => format!(
            "WARNING: Reducing active and open logical volume to {size}.\n  THIS MAY DESTROY YOUR DATA (filesystem etc.)\n  Logical volume {vg}/{lv} NOT reduced (use -f to reduce it)."
        ),
        E::Dm(e) => dm(e),
        E::VgNotEmpty { vg, lvs } => {
            format!("Volume group \"{vg}\" still contains {lvs} logical volume(s) (use -f)")
        }
        E::Model(e) => model(e),
        E::VgModel { vg, source } => format!("VG {vg}: {}", model(source)),
        E::Split(e) => split(e),
        E::Plan { vg, lv, source } => format!("{vg}/{lv}: {}", plan(source)),
        E::NoSpecifiedPvSpace => "No specified PVs have space available.".into(),
        E::PvInvalid { path, source } => format!("{}: {}", path.display(), model(source)),
        E::UuidNotInBackup { uuid, file } => {
            format!("Can't find uuid {uuid} in backup file {}", file.display())
        }
        E::NotMarkedMissing { vg, path } => format!(
            "Physical volume {} is not marked missing in VG {vg}",
            path.display()
        ),
        E::FinalPv { vg, path } => format!(
            "Can't remove final physical volume \"{}\" from volume group \"{vg}\"",
            path.display()
        ),
        E::PartialLvs { vg, lvs } => format!(
            "WARNING: Partial LV {} needs to be repaired or removed.\n  There are still partial LVs in VG {vg}.\n  To remove them unconditionally use: vgreduce --removemissing --force.",
            lvs.join(", ")
        ),
        E::RegionTooBig { vg, lv } => format!(
            "LV {vg}/{lv}, segment 1 invalid: region size is bigger then LV itself for mirror segment.\nInternal error: LV segments corrupted in {lv}."
        ),
        E::LogWipe { why } => format!("Aborting. Failed to wipe mirror log. ({})", lv_start(why)),
        E::MetaInit { vg, lv, why } => {
            format!("Failed to initialize {vg}/{lv}. ({})", lv_start(why))
        }
        E::MirrorLogAlloc => "Unable to allocate extents for mirror log.".into(),
        E::MirrorAlloc(e) => format!("{}\nUnable to allocate extents for mirror(s).", model(e)),
        E::NotPermitted { vg, lv } => format!("Command not permitted on LV {vg}/{lv}."),
        E::LogOptionOnRaid => {
            "--corelog and --mirrorlog are only compatible with mirror devices.".into()
        }
        E::CannotReduce { lv, have, raid1 } => {
            if *raid1 {
                "Unable to reduce images by specified amount.".into()
            } else {
                format!("Unable to reduce images by specified amount - only {have} in {lv}")
            }
        }
        E::MustBeActive { vg, lv } => format!("{vg}/{lv} must be active to perform this operation."),
        E::AllocAndFree => "Cannot both allocate and free extents when specifying physical volumes to use.\nPlease specify the operation in two steps.".into(),
        E::PrimaryImage {
            vg,
            lv,
            raid1,
            sync_known,
        } => {
            if *raid1 {
                format!("Unable to remove all primary source devices\nFailed to extract images from {vg}/{lv}.")
            } else {
                format!(
                    "{}Unable to remove primary mirror image while mirror volume {vg}/{lv} is not in-sync.",
                    status_unknown("mirror sync", vg, lv, *sync_known)
                )
            }
        }
        E::ReplaceNotInSync { vg, lv, sync_known } => format!(
            "{}Unable to replace devices in {vg}/{lv} while it is not in-sync.\nFailed to replace faulty devices in {vg}/{lv}.",
            status_unknown("sync", vg, lv, *sync_known)
        ),
        E::Size(e) => size(e),
        E::FullName(e) => full_name(e),
        E::SameVgName => "Old and new volume group names must differ".into(),
        // lvm2's words after the kernel's error: vgrename's "Renaming ... failed",
        // lvrename's "Problem reactivating logical volume" (lvm2 2.03.16 in the lab,
        // `lab_nothing_in_use_is_removed`).
        E::DevicesNotRenamed {
            old_vg,
            vg,
            lv,
            error,
        } => {
            if old_vg != vg {
                format!("{error}\nRenaming \"/dev/{old_vg}\" to \"/dev/{vg}\" failed")
            } else {
                format!("{error}\nProblem reactivating logical volume {vg}/{lv}.")
            }
        }
        // halvm's own: lvmeta's commit protocol, its checks of devices and layouts.
        E::NoMajority { .. }
        | E::NoMetadataCopy { .. }
        | E::NoMetadataReadable { .. }
        | E::TooLarge { .. }
        | E::InvalidArg(_)
        | E::CarryRefused { .. }
        | E::File { .. }
        | E::Parse { .. }
        | E::CommitInterrupted { .. }
        | E::PvLabelDamaged { .. }
        | E::PvTooSmall { .. }
        | E::PvLayout { .. }
        | E::PvTooSmallForMda { .. }
        | E::NoLvWithUuid { .. }
        | E::MirrorRaidConversion { .. } => own(e),
    }
}

/// lvm2's line (`Unable to determine <what> status of VG/LV.`) when the kernel gave no
/// status, else nothing.
fn status_unknown(what: &str, vg: &str, lv: &str, known: bool) -> String {
    if known {
        String::new()
    } else {
        format!("Unable to determine {what} status of {vg}/{lv}.\n")
    }
}

pub fn vg(e: &VgError) -> String {
    use VgError as E;
    match e {
        E::LvExists { vg, lv } => {
            format!("Logical Volume \"{lv}\" already exists in volume group \"{vg}\"")
        }
        E::NoSuchLv { vg, lv } => format!("Failed to find logical volume \"{vg}/{lv}\""),
        E::NoSpace { vg, needed, free } => format!(
            "Insufficient free space in VG {vg}: {needed} extents needed, but only {free} available"
        ),
        // `add_mirror_log` after the images: `_sufficient_pes_free`'s line when the PVs are
        // short, then `add_mirror_log`'s.
        E::MirrorLogShort { needed, free } => {
            let short = if free < needed {
                format!(
                    "Insufficient free space: {needed} extents needed, but only {free} available\n"
                )
            } else {
                String::new()
            };
            format!("{short}Unable to allocate extents for mirror log.")
        }
        E::NoSuchPv { vg, pv } => format!("Physical volume {pv} is not in VG {vg}"),
        E::PvInUse { pv, .. } => format!("Physical volume \"{pv}\" still in use"),
        // lvm2's refusals before and after allocating (`lv_manip.c`).
        E::StripesOverPvs { stripes, pvs } => format!(
            "Number of stripes ({stripes}) must not exceed number of physical volumes ({pvs})"
        ),
        E::VgShort { vg, free, needed } => format!(
            "Volume group \"{vg}\" has insufficient free space ({free} extents): {needed} required."
        ),
        E::PvsShort { needed, free } => {
            format!("Insufficient free space: {needed} extents needed, but only {free} available")
        }
        E::NotSuitable { lv, more } => format!(
            "Insufficient suitable allocatable extents for logical volume {lv}: {more} more required"
        ),
        E::NoneSuitable { lv } => {
            format!("Insufficient suitable allocatable extents found for logical volume {lv}.")
        }
        E::LvNotInVg { vg, lv } => format!("Logical volume {lv} not found in volume group {vg}."),
        E::ExistingLvNotFound { vg, lv } => {
            format!("Existing logical volume \"{lv}\" not found in volume group \"{vg}\"")
        }
        // halvm's own: the model's checks.
        E::Malformed { .. } | E::NotEnoughPvs { .. } | E::BadName { .. } | E::Unsupported { .. } => {
            own(e)
        }
    }
}

pub fn lock(e: &LockError) -> String {
    use LockError as E;
    match e {
        // lvm2 without lvmlockd: "Cannot access VG vg with lock type dlm that requires
        // lvmlockd."; ours names the daemon that stands in for lvmlockd.
        E::NeedsCluster { vg, lock_type } => format!(
            "Cannot access VG {vg} with lock type {lock_type} that requires lvmlockd (clvmd-rs)."
        ),
        // halvm's own: lvmeta's lock files and clvmd-rs's answers.
        E::LockDir { .. }
        | E::Acquire { .. }
        | E::Busy { .. }
        | E::BadName { .. }
        | E::HeldElsewhere { .. }
        | E::Cluster { .. } => own(e),
    }
}

pub fn report(e: &ReportError) -> String {
    match e {
        ReportError::UnknownField { field } => format!("Unrecognised field: {field}"),
    }
}

pub fn env(e: &EnvError) -> String {
    use EnvError as E;
    match e {
        E::ConfigString { byte, line, what } => format!(
            "Parse error at byte {byte} (line {line}): {what}\nFailed to set overridden configuration entries."
        ),
        E::Lock(e) => lock(e),
        // halvm's own: halvm.toml, and lvm.conf as halvm reads it.
        E::Config(_)
        | E::LvmConfRead { .. }
        | E::LvmConfParse { .. }
        | E::LvmConfValue { .. }
        | E::Filter { .. } => own(e),
    }
}

pub fn activation(e: &ActivationError) -> String {
    use ActivationError as E;
    match e {
        E::Op(e) => op(e),
        E::Plan(e) => plan(e),
        E::Dm(e) => dm(e),
        E::Split(e) => split(e),
        E::Duplicates { vg } => {
            format!("Cannot activate LVs in VG {vg} while PVs appear on duplicate devices.")
        }
        E::NotBlock { vg, device } => format!(
            "Cannot activate LVs in VG {vg} while PVs appear on duplicate devices or as files: {device} is not a block device"
        ),
        E::Foreign {
            vg,
            system_id,
            local,
        } => format!(
            "Cannot activate LVs in a foreign VG {vg} (system ID {system_id}, local system ID {local})"
        ),
        E::Filtered { vg, lv } => format!(
            "Not activating {vg}/{lv} since it does not pass activation filter (volume_list)."
        ),
        E::NotInSync { vg, lv, percent } => {
            format!("Unable to split {vg}/{lv} while it is not in sync ({percent:.2}%)")
        }
        E::NoSuchLv { vg, lv } => format!("Logical volume {vg}/{lv} not found"),
        // halvm's own: shared VGs through clvmd-rs, activation modes, the host's dm.
        E::Shared { .. } | E::NotShared { .. } | E::NoDm { .. } => own(e),
    }
}

pub fn size(e: &SizeError) -> String {
    use SizeError as E;
    match e {
        E::BelowOne { lv } => format!("Unable to reduce {lv} below 1 extent."),
        E::Zero => "New size of 0 not permitted.".into(),
        E::Matches { new, cur } => {
            format!("New size ({new} extents) matches existing size ({cur} extents).")
        }
        // The same refusal, found after stripe rounding: lvm2 prints it without a full stop.
        E::MatchesAfterRounding { new, cur } => {
            format!("New size ({new} extents) matches existing size ({cur} extents)")
        }
        E::NotLarger { new, cur } => {
            format!("New size given ({new} extents) not larger than existing size ({cur} extents)")
        }
        E::NotLess { new, cur } => {
            format!("New size given ({new} extents) not less than existing size ({cur} extents)")
        }
        E::CalculatedZero => {
            "Calculated size of logical volume is 0 extents. Needs to be larger.".into()
        }
        E::AdjustedZero => {
            "Adjusted size of logical volume is 0 extents. Needs to be larger.".into()
        }
        E::PercentLvOnCreate => "Please express size as %FREE, %PVS or %VG.".into(),
        E::NoOrigin => "Specified LV does not have an origin LV.".into(),
        E::TooLarge { lv, by, limit } => {
            format!("Unable to extend {lv} by {by} logical extents: exceeds limit ({limit}).")
        }
    }
}

pub fn full_name(e: &FullNameTooLong) -> String {
    let FullNameTooLong { full, len } = e;
    format!("Internal error: LV name \"{full}\" length {len} is not supported.")
}

pub fn units(e: &UnitsError) -> String {
    use UnitsError as E;
    match e {
        E::BadSize(arg) => format!("Invalid argument for --size: {arg}"),
        E::BadExtents(arg) => format!("Invalid argument for --extents: {arg}"),
        E::NotSectors { arg, down, up } => format!(
            "Size is not a multiple of 512. Try using {down} or {up}.\nInvalid argument for --size: {arg}"
        ),
        // halvm's own: lvm2 says the units are invalid without listing them.
        E::Invalid(_) => own(e),
    }
}

pub fn split(e: &SplitError) -> String {
    use SplitError as E;
    match e {
        E::Model(e) => model(e),
        // lvm2's command matching refuses it (its first line a warning).
        E::NotRepairable { vg, lv, lv_type } => format!(
            "Command on LV {vg}/{lv} does not accept LV type {lv_type}.\nCommand not permitted on LV {vg}/{lv}."
        ),
        // lvm2 follows these three with lvconvert's own line.
        E::ReplaceAll { vg, lv } => format!(
            "Unable to replace all PVs from {vg}/{lv} at once.\nFailed to replace faulty devices in {vg}/{lv}."
        ),
        E::NothingToReplace { vg, lv } => format!(
            "Logical volume {vg}/{lv} does not contain devices specified to replace.\nFailed to replace faulty devices in {vg}/{lv}."
        ),
        E::NoReplacement { vg, lv } => format!(
            "Failed to allocate replacement images for {vg}/{lv}.\nFailed to replace faulty devices in {vg}/{lv}."
        ),
        E::NoUsableImages { vg, lv } => format!("No usable images left in {vg}/{lv}."),
        // `_raid_extract_images`' refusals, then `_raid_remove_images`' line.
        E::ExtractFromFewPvs {
            vg,
            lv,
            extract,
            given,
        } => format!(
            "Unable to remove {extract} images:  Only {given} device{} given.\nFailed to extract images from {vg}/{lv}.",
            if *given == 1 { "" } else { "s" }
        ),
        E::ExtractShort { vg, lv } => format!(
            "Unable to extract enough images to satisfy request.\nFailed to extract images from {vg}/{lv}."
        ),
        // halvm's own: lvmeta-activate's checks of the split.
        E::NoSuchLv { .. }
        | E::NotMirrored { .. }
        | E::TooFew { .. }
        | E::Count { .. }
        | E::Name { .. }
        | E::Exists { .. }
        | E::RaidRepair { .. }
        | E::Dangling { .. } => own(e),
    }
}

/// halvm's own throughout (lvmeta-activate's planner of device-mapper tables).
pub fn plan(e: &PlanError) -> String {
    use PlanError as E;
    match e {
        E::NoSuchLv { .. }
        | E::SubVolume { .. }
        | E::Incomplete { .. }
        | E::Dangling { .. }
        | E::Unsupported { .. }
        | E::Invalid { .. } => own(e),
    }
}

/// halvm's own throughout (lvmeta-dm's ioctls and device nodes).
pub fn dm(e: &DmError) -> String {
    use DmError as E;
    match e {
        E::Kernel { .. }
        | E::Open { .. }
        | E::NameTaken { .. }
        | E::NotActive { .. }
        | E::Node { .. }
        | E::Undo { .. } => own(e),
    }
}

/// halvm's own throughout (the model's and the allocator's checks).
pub fn model(e: &ModelError) -> String {
    use ModelError as E;
    match e {
        E::NoVolumeGroup
        | E::Missing { .. }
        | E::WrongType { .. }
        | E::Invalid { .. }
        | E::InvalidUuid { .. }
        | E::InvalidName { .. }
        | E::NameClash { .. }
        | E::NoSuchLv { .. }
        | E::NoSuchPv { .. }
        | E::SubVolume { .. }
        | E::NotEnoughSpace { .. }
        | E::NoMirrorLogSpace { .. }
        | E::NotEnoughPvs { .. }
        | E::PvInUse { .. }
        | E::InvalidSize { .. }
        | E::Unsupported { .. } => own(e),
    }
}

/// halvm's own throughout (lvmeta-ondisk's codec).
pub fn on_disk(e: &OnDiskError) -> String {
    use OnDiskError as E;
    match e {
        E::Io { .. }
        | E::Corrupt { .. }
        | E::MetadataTooLarge { .. }
        | E::Empty { .. }
        | E::Ignored { .. }
        | E::Invalid { .. }
        | E::NoUsableArea { .. }
        | E::NoCopyWritten { .. }
        | E::NulInText { .. } => own(e),
    }
}

/// halvm's own throughout (the start of a new LV written by lvmeta).
pub fn lv_start(e: &LvStartError) -> String {
    use LvStartError as E;
    match e {
        E::NoLv { .. } | E::NoExtents { .. } | E::PvNotInVg { .. } | E::PvMissing { .. } => own(e),
    }
}

/// vgck's lines and the warnings of reports: lvm2's where lvm2 has the line (reading
/// without a lock, missing PVs, shrunk devices), vgck's own report otherwise.
pub fn vg_finding(f: &VgFinding) -> String {
    use VgFinding as F;
    match f {
        // halvm's own: why a shared VG was read without its cluster lock.
        F::LockSkipped { vg, why } => format!("VG {vg} lock skipped: {why}"),
        F::ReadWithoutLock { vg } => format!("Reading VG {vg} without a lock."),
        F::CopyNotCurrent {
            vg,
            path,
            offset,
            state,
            newest,
            hint,
        } => {
            let what = match state {
                CopyState::Stale { seqno } => format!("is stale (seqno {seqno}, newest {newest})"),
                CopyState::Damaged { what } => format!("is damaged ({what})"),
                CopyState::Empty | CopyState::Current => "is empty".into(),
            };
            let hint = if *hint {
                format!("; run vgck --updatemetadata {vg}")
            } else {
                String::new()
            };
            format!(
                "WARNING: VG {vg}: metadata on {} at {offset} {what}{hint}",
                path.display()
            )
        }
        F::MissingPv {
            vg,
            uuid,
            last_seen,
        } => format!("WARNING: VG {vg} is missing PV {uuid} (last seen on {last_seen})"),
        F::MarkedMissing { vg, uuid, device } => format!(
            "WARNING: VG {vg}: PV {uuid} ({device}) is marked MISSING but present; run vgextend --restoremissing {vg} {device}"
        ),
        F::DeviceShrunk {
            path,
            sectors,
            pv_sectors,
        } => format!(
            "WARNING: Device {} has size of {sectors} sectors which is smaller than corresponding PV size of {pv_sectors} sectors. Was device resized?",
            path.display()
        ),
        F::SizesChanged { vg } => {
            format!("WARNING: One or more devices used as PVs in VG {vg} have changed sizes.")
        }
        // halvm's own: vgck's report of the copies.
        F::CopiesAgree { vg, copies, seqno } => {
            format!("VG {vg}: {copies} metadata copies agree (seqno {seqno})")
        }
        F::Rewrote { vg, seqno } => format!("VG {vg}: rewrote metadata on all PVs (seqno {seqno})"),
    }
}

/// pvck's lines: halvm's own throughout (lvm2's pvck prints another report).
pub fn pv_finding(f: &PvFinding) -> String {
    use PvFinding as F;
    match f {
        F::NoLabel { path } => format!("{}: no PV label found", path.display()),
        F::DamagedLabel { path, why } => format!("{}: damaged label: {why}", path.display()),
        F::LabelOk { path, uuid, size } => format!(
            "{}: label ok, PV UUID {uuid}, device size {size}",
            path.display()
        ),
        F::AreaOk {
            path,
            offset,
            vg,
            size,
            checksum,
        } => {
            let (name, seqno) = vg.as_ref().map_or(("?", 0), |(n, s)| (n.as_str(), *s));
            format!(
                "{}: metadata area at {offset} ok: {name} seqno {seqno} ({size} bytes, checksum {checksum:#010x})",
                path.display()
            )
        }
        F::AreaEmpty { path, offset } => {
            format!("{}: metadata area at {offset} ok, empty", path.display())
        }
        F::AreaDamaged { path, offset, why } => {
            format!(
                "{}: metadata area at {offset} damaged: {why}",
                path.display()
            )
        }
    }
}

/// A report's warning, on stderr before its rows.
pub fn report_warning(w: &ReportWarning) -> String {
    match w {
        // halvm's own (lvm2 skips such a device with its own debug lines).
        ReportWarning::DamagedLabel { path, why } => {
            format!("WARNING: {}: damaged PV label: {why}", path.display())
        }
        ReportWarning::Vg(f) => vg_finding(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    /// Every variant's name, through an exhaustive match: a new variant does not compile
    /// until it is listed here, and [`check`] then fails until a case renders it.
    macro_rules! variants {
        ($ty:ident { $($v:ident),+ $(,)? }) => {{
            fn name(e: &$ty) -> &'static str {
                match e {
                    $($ty::$v { .. } => stringify!($v),)+
                }
            }
            (name as fn(&$ty) -> &'static str, vec![$(stringify!($v)),+])
        }};
    }

    /// Each case renders to today's exact text, and every variant has a case.
    fn check<E: std::fmt::Debug>(
        cases: &[(E, &str)],
        render: fn(&E) -> String,
        (name, all): (fn(&E) -> &'static str, Vec<&'static str>),
    ) {
        for (e, want) in cases {
            assert_eq!(render(e), *want, "{e:?}");
        }
        let covered: BTreeSet<&str> = cases.iter().map(|(e, _)| name(e)).collect();
        let missing: Vec<&&str> = all.iter().filter(|v| !covered.contains(*v)).collect();
        assert!(
            missing.is_empty(),
            "variants without a wording case: {missing:?}"
        );
    }

    fn s(x: &str) -> String {
        x.to_string()
    }
    fn p() -> PathBuf {
        PathBuf::from("/dev/sdb")
    }
    fn io() -> std::io::Error {
        std::io::Error::other("cut")
    }
    fn on_disk_io() -> OnDiskError {
        OnDiskError::Io {
            path: p(),
            offset: lvmeta_ondisk::units::Bytes(512),
            source: io(),
        }
    }
    fn model_err() -> ModelError {
        ModelError::NoSuchLv { name: s("m") }
    }
    fn plan_err() -> PlanError {
        PlanError::NoSuchLv {
            vg: s("vg"),
            lv: s("m"),
        }
    }
    fn parse_err() -> lvmeta_text::ParseError {
        lvmeta_text::parse("a {").unwrap_err()
    }

    #[test]
    fn op_errors_keep_their_words() {
        use OpError as E;
        let (vg, lv) = (s("vg"), s("m"));
        let cases = vec![
            (E::OnDisk(on_disk_io()), "/dev/sdb: I/O error at byte 512 B: cut"),
            (
                E::Vg(VgError::NoSuchLv {
                    vg: vg.clone(),
                    lv: lv.clone(),
                }),
                "Failed to find logical volume \"vg/m\"",
            ),
            (
                E::Lock(LockError::Busy {
                    target: lvmeta::lock::LockTarget::Vg(vg.clone()),
                }),
                "lock for VG vg is held elsewhere and was not waited for",
            ),
            (
                E::Report(ReportError::UnknownField { field: s("nope") }),
                "Unrecognised field: nope",
            ),
            (E::VgNotFound { vg: vg.clone() }, "Volume group \"vg\" not found"),
            (
                E::Device {
                    path: p(),
                    source: io(),
                },
                "Cannot access device /dev/sdb: cut",
            ),
            (
                E::BadLabel {
                    path: p(),
                    source: on_disk_io(),
                },
                "Device /dev/sdb has a damaged PV label: /dev/sdb: I/O error at byte 512 B: cut",
            ),
            (E::DuplicateDevices { vg: vg.clone() }, "Cannot update volume group vg with duplicate PV devices."),
            (
                E::DuplicatePv {
                    uuid: s("U"),
                    first: p(),
                    second: PathBuf::from("/dev/sdc"),
                },
                "Duplicate PV UUID U on /dev/sdb and /dev/sdc",
            ),
            (E::NotAPv { path: p() }, "No physical volume label read from /dev/sdb"),
            (
                E::PvInVg {
                    path: p(),
                    vg: vg.clone(),
                },
                "Physical volume '/dev/sdb' is already in volume group 'vg'",
            ),
            (E::AlreadyPv { path: p() }, "Can't initialize physical volume \"/dev/sdb\": it already has a PV label (use -f)"),
            (E::VgExists { vg: vg.clone() }, "A volume group called vg already exists."),
            (
                E::MissingPv {
                    vg: vg.clone(),
                    uuid: s("U"),
                    device: s("/dev/sdc"),
                },
                "VG vg is missing PV U (last seen on /dev/sdc); refusing to change it",
            ),
            (
                E::NoMajority {
                    vg: vg.clone(),
                    present: 1,
                    total: 3,
                    needed: 2,
                },
                "VG vg: only 1 of 3 PVs present, --majoritypvs needs 2",
            ),
            (
                E::Foreign {
                    vg: vg.clone(),
                    system_id: s("other"),
                    local: s("here"),
                },
                "Cannot access VG vg with system ID other with local system ID here.",
            ),
            (
                E::NoMetadataCopy {
                    vg: vg.clone(),
                    areas: 2,
                    failed: vec![p(), PathBuf::from("/dev/sdc")],
                    first: s("gone"),
                },
                "VG vg: no metadata copy could be written from this host (2 of 2 metadata areas failed: /dev/sdb, /dev/sdc); the VG is unchanged: gone",
            ),
            (
                E::NoValidCopy {
                    vg: vg.clone(),
                    reasons: s("bad crc"),
                },
                "Volume group \"vg\" not found in any valid metadata copy; damaged copies: bad crc",
            ),
            (
                E::NoMetadataReadable {
                    vg: vg.clone(),
                    failed: vec![p()],
                    first: s("gone"),
                },
                "VG vg: no metadata copy can be read from this host (I/O errors on /dev/sdb): gone",
            ),
            (
                E::CarryRefused {
                    vg: vg.clone(),
                    why: s("seqno 3 on disk"),
                },
                "VG vg: not writing another node's commit: seqno 3 on disk",
            ),
            (
                E::TooLarge {
                    vg: vg.clone(),
                    path: p(),
                    needed: 2000,
                    available: 1000,
                },
                "metadata of VG vg is too large for the metadata area on /dev/sdb: needs 2000 bytes, holds 1000",
            ),
            (E::InvalidArg(s("-s 0")), "invalid argument: -s 0"),
            (
                E::File {
                    path: PathBuf::from("/etc/lvm/backup/vg"),
                    source: io(),
                },
                "/etc/lvm/backup/vg: cut",
            ),
            (
                E::Parse {
                    what: s("VG vg"),
                    err: parse_err(),
                },
                "metadata text of VG vg: line 1, column 4: unexpected end of input, expected '}'",
            ),
            (E::PvBusy { path: p() }, "Can't open /dev/sdb exclusively - not removing. Mounted filesystem?"),
            (
                E::InUse {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Logical volume vg/m in use.",
            ),
            (E::RaidCannotShrink, "RAID module does not support shrinking."),
            (
                E::NotReduced {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    size: s("4.00 MiB"),
                },
                "WARNING: Reducing active and open logical volume to 4.00 MiB.\n  THIS MAY DESTROY YOUR DATA (filesystem etc.)\n  Logical volume vg/m NOT reduced (use -f to reduce it).",
            ),
            (E::Dm(DmError::NotActive { uuid: s("LVM-x") }), "device LVM-x is not active"),
            (
                E::VgNotEmpty {
                    vg: vg.clone(),
                    lvs: 2,
                },
                "Volume group \"vg\" still contains 2 logical volume(s) (use -f)",
            ),
            (E::Model(model_err()), "no logical volume named \"m\""),
            (
                E::VgModel {
                    vg: vg.clone(),
                    source: model_err(),
                },
                "VG vg: no logical volume named \"m\"",
            ),
            (E::Split(SplitError::Count { count: 2 }), "splitting off 2 images at once is not supported (split one at a time)"),
            (
                E::Plan {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    source: Box::new(plan_err()),
                },
                "vg/m: logical volume vg/m not found",
            ),
            (
                E::CommitInterrupted {
                    source: io(),
                    revert: None,
                },
                "commit interrupted: cut",
            ),
            (
                E::CommitInterrupted {
                    source: io(),
                    revert: Some(on_disk_io()),
                },
                "commit interrupted: cut; withdrawing the prepared copies failed too: /dev/sdb: I/O error at byte 512 B: cut",
            ),
            (E::NoSpecifiedPvSpace, "No specified PVs have space available."),
            (
                E::PvLabelDamaged {
                    path: p(),
                    why: s("bad crc"),
                },
                "/dev/sdb: damaged PV label: bad crc",
            ),
            (E::PvTooSmall { path: p() }, "/dev/sdb: too small for one extent"),
            (
                E::PvInvalid {
                    path: p(),
                    source: model_err(),
                },
                "/dev/sdb: no logical volume named \"m\"",
            ),
            (
                E::PvLayout {
                    path: p(),
                    why: s("pe_start past the end"),
                },
                "/dev/sdb: pe_start past the end",
            ),
            (
                E::PvTooSmallForMda {
                    path: p(),
                    size: 100,
                    mda_size: 20,
                },
                "/dev/sdb: device of 100 bytes is too small for a PV with a 20 byte metadata area",
            ),
            (
                E::UuidNotInBackup {
                    uuid: s("u"),
                    file: PathBuf::from("/etc/lvm/backup/vg"),
                },
                "Can't find uuid u in backup file /etc/lvm/backup/vg",
            ),
            (
                E::NotMarkedMissing {
                    vg: vg.clone(),
                    path: p(),
                },
                "Physical volume /dev/sdb is not marked missing in VG vg",
            ),
            (
                E::FinalPv {
                    vg: vg.clone(),
                    path: p(),
                },
                "Can't remove final physical volume \"/dev/sdb\" from volume group \"vg\"",
            ),
            (
                E::PartialLvs {
                    vg: vg.clone(),
                    lvs: vec![s("a"), s("b")],
                },
                "WARNING: Partial LV a, b needs to be repaired or removed.\n  There are still partial LVs in VG vg.\n  To remove them unconditionally use: vgreduce --removemissing --force.",
            ),
            (
                E::RegionTooBig {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "LV vg/m, segment 1 invalid: region size is bigger then LV itself for mirror segment.\nInternal error: LV segments corrupted in m.",
            ),
            (
                E::NoLvWithUuid {
                    vg: vg.clone(),
                    uuid: s("U"),
                },
                "no LV with UUID U in VG vg",
            ),
            (
                E::LogWipe {
                    why: LvStartError::PvMissing { pv: s("pv1") },
                },
                "Aborting. Failed to wipe mirror log. (pv1 is missing)",
            ),
            (
                E::MetaInit {
                    vg: vg.clone(),
                    lv: s("r_rmeta_1"),
                    why: LvStartError::NoExtents { lv: s("r_rmeta_1") },
                },
                "Failed to initialize vg/r_rmeta_1. (r_rmeta_1 has no extents on a PV)",
            ),
            (E::MirrorLogAlloc, "Unable to allocate extents for mirror log."),
            (E::MirrorAlloc(model_err()), "no logical volume named \"m\"\nUnable to allocate extents for mirror(s)."),
            (
                E::NotPermitted {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Command not permitted on LV vg/m.",
            ),
            (
                E::MirrorRaidConversion {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "vg/m: converting between mirror and raid1 is not supported by lvmeta",
            ),
            (E::LogOptionOnRaid, "--corelog and --mirrorlog are only compatible with mirror devices."),
            (
                E::CannotReduce {
                    lv: lv.clone(),
                    have: 2,
                    raid1: false,
                },
                "Unable to reduce images by specified amount - only 2 in m",
            ),
            (
                E::CannotReduce {
                    lv: lv.clone(),
                    have: 2,
                    raid1: true,
                },
                "Unable to reduce images by specified amount.",
            ),
            (
                E::MustBeActive {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "vg/m must be active to perform this operation.",
            ),
            (E::AllocAndFree, "Cannot both allocate and free extents when specifying physical volumes to use.\nPlease specify the operation in two steps."),
            (
                E::PrimaryImage {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    raid1: true,
                    sync_known: true,
                },
                "Unable to remove all primary source devices\nFailed to extract images from vg/m.",
            ),
            (
                E::PrimaryImage {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    raid1: false,
                    sync_known: false,
                },
                "Unable to determine mirror sync status of vg/m.\nUnable to remove primary mirror image while mirror volume vg/m is not in-sync.",
            ),
            (
                E::PrimaryImage {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    raid1: false,
                    sync_known: true,
                },
                "Unable to remove primary mirror image while mirror volume vg/m is not in-sync.",
            ),
            (
                E::ReplaceNotInSync {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    sync_known: false,
                },
                "Unable to determine sync status of vg/m.\nUnable to replace devices in vg/m while it is not in-sync.\nFailed to replace faulty devices in vg/m.",
            ),
            (
                E::ReplaceNotInSync {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    sync_known: true,
                },
                "Unable to replace devices in vg/m while it is not in-sync.\nFailed to replace faulty devices in vg/m.",
            ),
            (E::Size(SizeError::Zero), "New size of 0 not permitted."),
            (
                E::FullName(lvmeta_model::names::check_full_lv_name(&"v".repeat(60), &"l".repeat(70)).unwrap_err()),
                "Internal error: LV name \"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv/llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll\" length 133 is not supported.",
            ),
            (E::SameVgName, "Old and new volume group names must differ"),
            (
                E::DevicesNotRenamed {
                    old_vg: s("old"),
                    vg: vg.clone(),
                    lv: lv.clone(),
                    error: s("device-mapper rename failed"),
                },
                "device-mapper rename failed\nRenaming \"/dev/old\" to \"/dev/vg\" failed",
            ),
            (
                E::DevicesNotRenamed {
                    old_vg: vg.clone(),
                    vg: vg.clone(),
                    lv: lv.clone(),
                    error: s("device-mapper rename failed"),
                },
                "device-mapper rename failed\nProblem reactivating logical volume vg/m.",
            ),
        ];
        check(
            &cases,
            op,
            variants!(OpError {
                OnDisk,
                Vg,
                Lock,
                Report,
                VgNotFound,
                Device,
                BadLabel,
                DuplicateDevices,
                DuplicatePv,
                NotAPv,
                PvInVg,
                AlreadyPv,
                VgExists,
                MissingPv,
                NoMajority,
                Foreign,
                NoMetadataCopy,
                NoValidCopy,
                NoMetadataReadable,
                CarryRefused,
                TooLarge,
                InvalidArg,
                File,
                Parse,
                PvBusy,
                InUse,
                RaidCannotShrink,
                NotReduced,
                Dm,
                VgNotEmpty,
                Model,
                VgModel,
                Split,
                Plan,
                CommitInterrupted,
                NoSpecifiedPvSpace,
                PvLabelDamaged,
                PvTooSmall,
                PvInvalid,
                PvLayout,
                PvTooSmallForMda,
                UuidNotInBackup,
                NotMarkedMissing,
                FinalPv,
                PartialLvs,
                RegionTooBig,
                NoLvWithUuid,
                LogWipe,
                MetaInit,
                MirrorLogAlloc,
                MirrorAlloc,
                NotPermitted,
                MirrorRaidConversion,
                LogOptionOnRaid,
                CannotReduce,
                MustBeActive,
                AllocAndFree,
                PrimaryImage,
                ReplaceNotInSync,
                Size,
                FullName,
                SameVgName,
                DevicesNotRenamed,
            }),
        );
    }

    #[test]
    fn vg_errors_keep_their_words() {
        use VgError as E;
        let (vg, lv) = (s("vg"), s("m"));
        let cases = vec![
            (
                E::Malformed {
                    vg: vg.clone(),
                    what: s("bad"),
                },
                "metadata of VG vg: bad",
            ),
            (
                E::LvExists {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Logical Volume \"m\" already exists in volume group \"vg\"",
            ),
            (
                E::NoSuchLv {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Failed to find logical volume \"vg/m\"",
            ),
            (
                E::NoSpace {
                    vg: vg.clone(),
                    needed: 10,
                    free: 4,
                },
                "Insufficient free space in VG vg: 10 extents needed, but only 4 available",
            ),
            (
                E::NotEnoughPvs {
                    vg: vg.clone(),
                    what: s("2 stripes"),
                    needed: 2,
                    found: 1,
                },
                "VG vg: 2 PVs with free space needed for 2 stripes, only 1 usable",
            ),
            (E::MirrorLogShort { needed: 1, free: 0 }, "Insufficient free space: 1 extents needed, but only 0 available\nUnable to allocate extents for mirror log."),
            (E::MirrorLogShort { needed: 1, free: 1 }, "Unable to allocate extents for mirror log."),
            (
                E::NoSuchPv {
                    vg: vg.clone(),
                    pv: s("/dev/sdb"),
                },
                "Physical volume /dev/sdb is not in VG vg",
            ),
            (
                E::BadName {
                    name: s("-x"),
                    why: s("starts with a hyphen"),
                },
                "invalid name \"-x\": starts with a hyphen",
            ),
            (
                E::Unsupported {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    what: s("thin pools"),
                },
                "LV vg/m: thin pools",
            ),
            (
                E::PvInUse {
                    vg: vg.clone(),
                    pv: s("/dev/sdb"),
                },
                "Physical volume \"/dev/sdb\" still in use",
            ),
            (E::StripesOverPvs { stripes: 3, pvs: 2 }, "Number of stripes (3) must not exceed number of physical volumes (2)"),
            (
                E::VgShort {
                    vg: vg.clone(),
                    free: 4,
                    needed: 10,
                },
                "Volume group \"vg\" has insufficient free space (4 extents): 10 required.",
            ),
            (E::PvsShort { needed: 10, free: 4 }, "Insufficient free space: 10 extents needed, but only 4 available"),
            (
                E::NotSuitable {
                    lv: lv.clone(),
                    more: 3,
                },
                "Insufficient suitable allocatable extents for logical volume m: 3 more required",
            ),
            (E::NoneSuitable { lv: lv.clone() }, "Insufficient suitable allocatable extents found for logical volume m."),
            (
                E::LvNotInVg {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Logical volume m not found in volume group vg.",
            ),
            (
                E::ExistingLvNotFound {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Existing logical volume \"m\" not found in volume group \"vg\"",
            ),
        ];
        check(
            &cases,
            super::vg,
            variants!(VgError {
                Malformed,
                LvExists,
                NoSuchLv,
                NoSpace,
                NotEnoughPvs,
                MirrorLogShort,
                NoSuchPv,
                BadName,
                Unsupported,
                PvInUse,
                StripesOverPvs,
                VgShort,
                PvsShort,
                NotSuitable,
                NoneSuitable,
                LvNotInVg,
                ExistingLvNotFound,
            }),
        );
    }

    #[test]
    fn lock_errors_keep_their_words() {
        use lvmeta::lock::LockTarget;
        use LockError as E;
        let cases = vec![
            (
                E::LockDir {
                    dir: PathBuf::from("/run/lock/lvm"),
                    source: io(),
                },
                "cannot create lock directory /run/lock/lvm: cut",
            ),
            (
                E::Acquire {
                    target: LockTarget::Global,
                    file: PathBuf::from("/run/lock/lvm/P_global"),
                    source: io(),
                },
                "cannot take global lock (/run/lock/lvm/P_global): cut",
            ),
            (
                E::Busy {
                    target: LockTarget::Vg(s("vg")),
                },
                "lock for VG vg is held elsewhere and was not waited for",
            ),
            (
                E::BadName { name: s("a/b") },
                "invalid VG name \"a/b\" for a lock",
            ),
            (
                E::NeedsCluster {
                    vg: s("vg"),
                    lock_type: s("dlm"),
                },
                "Cannot access VG vg with lock type dlm that requires lvmlockd (clvmd-rs).",
            ),
            (
                E::HeldElsewhere {
                    what: s("VG vg"),
                    holder: s("node2"),
                },
                "VG vg is locked by node2",
            ),
            (
                E::Cluster {
                    what: s("VG vg"),
                    message: s("lockspace not started"),
                },
                "VG vg: lockspace not started",
            ),
        ];
        check(
            &cases,
            lock,
            variants!(LockError {
                LockDir,
                Acquire,
                Busy,
                BadName,
                NeedsCluster,
                HeldElsewhere,
                Cluster,
            }),
        );
    }

    #[test]
    fn report_errors_keep_their_words() {
        let cases = vec![(
            ReportError::UnknownField { field: s("nope") },
            "Unrecognised field: nope",
        )];
        check(&cases, report, variants!(ReportError { UnknownField }));
    }

    #[test]
    fn env_errors_keep_their_words() {
        use EnvError as E;
        let conf = || PathBuf::from("/etc/lvm/lvm.conf");
        let cases = vec![
            (
                E::Config(halvm_config::ConfigError::Read {
                    path: PathBuf::from("/etc/halvm/halvm.toml"),
                    source: io(),
                }),
                "/etc/halvm/halvm.toml: cannot read configuration: cut",
            ),
            (
                E::LvmConfRead {
                    path: conf(),
                    source: io(),
                },
                "/etc/lvm/lvm.conf: cannot read lvm configuration: cut",
            ),
            (
                E::LvmConfParse {
                    path: conf(),
                    err: parse_err(),
                },
                "/etc/lvm/lvm.conf: line 1, column 4: unexpected end of input, expected '}'",
            ),
            (
                E::LvmConfValue {
                    path: conf(),
                    key: s("global/system_id_source"),
                    problem: s("unknown source \"x\""),
                },
                "/etc/lvm/lvm.conf: global/system_id_source: unknown source \"x\"",
            ),
            (
                E::Filter {
                    origin: s("lvm.conf devices/filter"),
                    err: lvmeta::filter::FilterError::NoSeparator { action: 'a' },
                },
                "lvm.conf devices/filter: invalid device filter: filter entry has no separator after 'a'",
            ),
            (
                E::ConfigString {
                    byte: 3,
                    line: 1,
                    what: "unexpected character",
                },
                "Parse error at byte 3 (line 1): unexpected character\nFailed to set overridden configuration entries.",
            ),
            (E::Lock(LockError::BadName { name: s("a/b") }), "invalid VG name \"a/b\" for a lock"),
        ];
        check(
            &cases,
            env,
            variants!(EnvError {
                Config,
                LvmConfRead,
                LvmConfParse,
                LvmConfValue,
                Filter,
                ConfigString,
                Lock,
            }),
        );
        // As lvm2 2.03.16 reports a --config string it cannot parse.
        let e = lvmeta::env::nest_config_paths("devices{filter=").unwrap_err();
        assert_eq!(
            env(&e),
            "Parse error at byte 16 (line 1): expected a value\nFailed to set overridden configuration entries."
        );
        let e = lvmeta::env::nest_config_paths(r#"devices{filter="r|.*|""#).unwrap_err();
        assert_eq!(
            env(&e),
            "Parse error at byte 23 (line 1): unexpected token\nFailed to set overridden configuration entries."
        );
    }
    #[test]
    fn activation_errors_keep_their_words() {
        use ActivationError as E;
        let (vg, lv) = (s("vg"), s("m"));
        let cases = vec![
            (E::Op(OpError::VgNotFound { vg: vg.clone() }), "Volume group \"vg\" not found"),
            (E::Plan(plan_err()), "logical volume vg/m not found"),
            (E::Dm(DmError::NotActive { uuid: s("LVM-x") }), "device LVM-x is not active"),
            (E::Split(SplitError::Count { count: 2 }), "splitting off 2 images at once is not supported (split one at a time)"),
            (E::Duplicates { vg: vg.clone() }, "Cannot activate LVs in VG vg while PVs appear on duplicate devices."),
            (
                E::NotBlock {
                    vg: vg.clone(),
                    device: s("/tmp/f"),
                },
                "Cannot activate LVs in VG vg while PVs appear on duplicate devices or as files: /tmp/f is not a block device",
            ),
            (
                E::Foreign {
                    vg: vg.clone(),
                    system_id: s("other"),
                    local: s("here"),
                },
                "Cannot activate LVs in a foreign VG vg (system ID other, local system ID here)",
            ),
            (
                E::Filtered {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Not activating vg/m since it does not pass activation filter (volume_list).",
            ),
            (
                E::Shared {
                    vg: vg.clone(),
                    lock_type: s("dlm"),
                },
                "VG vg is shared (lock_type dlm): its LVs are activated through clvmd-rs, not locally",
            ),
            (
                E::NotInSync {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    percent: 42.5,
                },
                "Unable to split vg/m while it is not in sync (42.50%)",
            ),
            (
                E::NoSuchLv {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Logical volume vg/m not found",
            ),
            (E::NotShared { vg: vg.clone() }, "VG vg is not shared: activation modes (ew, ro, sr, sw) need a shared VG (vgcreate --shared, or vgchange --locktype dlm)"),
            (E::NoDm { reason: s("no /dev/mapper/control") }, "device-mapper is not available: no /dev/mapper/control"),
        ];
        check(
            &cases,
            activation,
            variants!(ActivationError {
                Op,
                Plan,
                Dm,
                Split,
                Duplicates,
                NotBlock,
                Foreign,
                Filtered,
                Shared,
                NotInSync,
                NoSuchLv,
                NotShared,
                NoDm,
            }),
        );
    }

    #[test]
    fn size_errors_keep_their_words() {
        use SizeError as E;
        let cases = vec![
            (
                E::BelowOne { lv: s("m") },
                "Unable to reduce m below 1 extent.",
            ),
            (E::Zero, "New size of 0 not permitted."),
            (
                E::Matches { new: 4, cur: 4 },
                "New size (4 extents) matches existing size (4 extents).",
            ),
            (
                E::MatchesAfterRounding { new: 4, cur: 4 },
                "New size (4 extents) matches existing size (4 extents)",
            ),
            (
                E::NotLarger { new: 3, cur: 4 },
                "New size given (3 extents) not larger than existing size (4 extents)",
            ),
            (
                E::NotLess { new: 5, cur: 4 },
                "New size given (5 extents) not less than existing size (4 extents)",
            ),
            (
                E::CalculatedZero,
                "Calculated size of logical volume is 0 extents. Needs to be larger.",
            ),
            (
                E::AdjustedZero,
                "Adjusted size of logical volume is 0 extents. Needs to be larger.",
            ),
            (
                E::PercentLvOnCreate,
                "Please express size as %FREE, %PVS or %VG.",
            ),
            (E::NoOrigin, "Specified LV does not have an origin LV."),
            (
                E::TooLarge {
                    lv: s("m"),
                    by: 10,
                    limit: 5,
                },
                "Unable to extend m by 10 logical extents: exceeds limit (5).",
            ),
        ];
        check(
            &cases,
            size,
            variants!(SizeError {
                BelowOne,
                Zero,
                Matches,
                MatchesAfterRounding,
                NotLarger,
                NotLess,
                CalculatedZero,
                AdjustedZero,
                PercentLvOnCreate,
                NoOrigin,
                TooLarge,
            }),
        );
    }

    #[test]
    fn units_errors_keep_their_words() {
        use UnitsError as E;
        let cases = vec![
            (E::Invalid(s("x")), "invalid units specification \"x\" (use one of hHbBsSkKmMgGtTpPeErR)"),
            (E::BadSize(s("1x")), "Invalid argument for --size: 1x"),
            (E::BadExtents(s("1x")), "Invalid argument for --extents: 1x"),
            (
                E::NotSectors {
                    arg: s("1000b"),
                    down: 512,
                    up: 1024,
                },
                "Size is not a multiple of 512. Try using 512 or 1024.\nInvalid argument for --size: 1000b",
            ),
        ];
        check(
            &cases,
            units,
            variants!(UnitsError {
                Invalid,
                BadSize,
                BadExtents,
                NotSectors,
            }),
        );
    }

    #[test]
    fn split_errors_keep_their_words() {
        use SplitError as E;
        let (vg, lv) = (s("vg"), s("m"));
        let cases = vec![
            (
                E::NoSuchLv {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "logical volume vg/m not found",
            ),
            (
                E::NotMirrored {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "vg/m is not a mirror or raid1 LV",
            ),
            (
                E::TooFew {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    images: 2,
                    count: 2,
                },
                "vg/m has 2 images: cannot split off 2",
            ),
            (E::Count { count: 2 }, "splitting off 2 images at once is not supported (split one at a time)"),
            (
                E::Name {
                    name: s("-x"),
                    reason: s("starts with a hyphen"),
                },
                "invalid LV name -x: starts with a hyphen",
            ),
            (
                E::Exists {
                    vg: vg.clone(),
                    name: s("n"),
                },
                "an LV named n already exists in vg",
            ),
            (E::Model(model_err()), "no logical volume named \"m\""),
            (
                E::NotRepairable {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    lv_type: s("linear"),
                },
                "Command on LV vg/m does not accept LV type linear.\nCommand not permitted on LV vg/m.",
            ),
            (
                E::RaidRepair {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "vg/m is a raid1 LV: repaired by repair_raid1",
            ),
            (
                E::ReplaceAll {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Unable to replace all PVs from vg/m at once.\nFailed to replace faulty devices in vg/m.",
            ),
            (
                E::NothingToReplace {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Logical volume vg/m does not contain devices specified to replace.\nFailed to replace faulty devices in vg/m.",
            ),
            (
                E::NoReplacement {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Failed to allocate replacement images for vg/m.\nFailed to replace faulty devices in vg/m.",
            ),
            (
                E::NoUsableImages {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "No usable images left in vg/m.",
            ),
            (
                E::ExtractFromFewPvs {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    extract: 2,
                    given: 1,
                },
                "Unable to remove 2 images:  Only 1 device given.\nFailed to extract images from vg/m.",
            ),
            (
                E::ExtractFromFewPvs {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    extract: 3,
                    given: 2,
                },
                "Unable to remove 3 images:  Only 2 devices given.\nFailed to extract images from vg/m.",
            ),
            (
                E::ExtractShort {
                    vg: vg.clone(),
                    lv: lv.clone(),
                },
                "Unable to extract enough images to satisfy request.\nFailed to extract images from vg/m.",
            ),
            (
                E::Dangling {
                    vg: vg.clone(),
                    lv: lv.clone(),
                    image: s("m_mimage_1"),
                },
                "vg/m: image m_mimage_1 is missing from the metadata",
            ),
        ];
        check(
            &cases,
            split,
            variants!(SplitError {
                NoSuchLv,
                NotMirrored,
                TooFew,
                Count,
                Name,
                Exists,
                Model,
                NotRepairable,
                RaidRepair,
                ReplaceAll,
                NothingToReplace,
                NoReplacement,
                NoUsableImages,
                ExtractFromFewPvs,
                ExtractShort,
                Dangling,
            }),
        );
    }

    #[test]
    fn cli_errors_keep_their_words() {
        use CliError as E;
        let cases = vec![
            (E::Op(OpError::VgNotFound { vg: s("vg") }), "Volume group \"vg\" not found"),
            (
                E::Config(EnvError::ConfigString {
                    byte: 3,
                    line: 1,
                    what: "unexpected character",
                }),
                "Parse error at byte 3 (line 1): unexpected character\nFailed to set overridden configuration entries.",
            ),
            (E::Usage(s("lvcreate needs -L or -l")), "lvcreate needs -L or -l"),
            (
                E::Select(lvmeta::select::SelectError {
                    lines: vec![s("Selection syntax error at 'x'."), s("Use 'help' for selection to get more help.")],
                }),
                "Selection syntax error at 'x'.\nUse 'help' for selection to get more help.",
            ),
            (
                E::Activation(ActivationError::Filtered {
                    vg: s("vg"),
                    lv: s("m"),
                }),
                "Not activating vg/m since it does not pass activation filter (volume_list).",
            ),
            (
                E::Cluster(clvmd_client::ClientError::Failed {
                    kind: clvmd_proto::ErrorKind::NotStarted,
                    message: s("lockspace vg not started"),
                }),
                "lockspace vg not started",
            ),
            (E::NotUniform(s("Refusing to start locking for shared VG vg")), "Refusing to start locking for shared VG vg"),
            (E::Refused(s("Log type \"mirrored\" is DEPRECATED.")), "Log type \"mirrored\" is DEPRECATED."),
        ];
        check(
            &cases,
            error,
            variants!(CliError {
                Op,
                Config,
                Usage,
                Select,
                Activation,
                Cluster,
                NotUniform,
                Refused,
            }),
        );
        // CliError's own Display is the wording.
        for (e, want) in &cases {
            assert_eq!(e.to_string(), *want);
        }
    }

    /// halvm's own types say what the library says (their arms list every variant).
    #[test]
    fn halvm_own_types_render_the_librarys_words() {
        let dm_cases = [
            DmError::Kernel {
                op: "create",
                device: s("vg-m"),
                message: s("EBUSY"),
            },
            DmError::Open {
                name: s("vg-m"),
                open_count: 1,
            },
            DmError::NameTaken {
                name: s("vg-m"),
                existing: s("LVM-a"),
                wanted: s("LVM-b"),
            },
            DmError::NotActive { uuid: s("LVM-x") },
            DmError::Node {
                what: "mknod",
                path: s("/dev/vg/m"),
                source: io(),
            },
            DmError::Undo {
                failed: Box::new(DmError::NotActive { uuid: s("LVM-x") }),
                undo: s("remove failed"),
            },
        ];
        for e in &dm_cases {
            assert_eq!(dm(e), e.to_string());
        }
        let (name, all) = variants!(DmError {
            Kernel,
            Open,
            NameTaken,
            NotActive,
            Node,
            Undo
        });
        let covered: BTreeSet<&str> = dm_cases.iter().map(name).collect();
        assert_eq!(covered.len(), all.len());
        for e in [model_err(), ModelError::NoVolumeGroup] {
            assert_eq!(model(&e), e.to_string());
        }
        assert_eq!(plan(&plan_err()), plan_err().to_string());
        assert_eq!(on_disk(&on_disk_io()), on_disk_io().to_string());
        let start = LvStartError::PvMissing { pv: s("pv1") };
        assert_eq!(lv_start(&start), start.to_string());
    }

    /// The findings say what vgck's and pvck's lines said before they were typed, and every
    /// variant has a case.
    #[test]
    fn findings_keep_lvm2s_words() {
        let (vg, p) = (String::from("vg"), PathBuf::from("/dev/sdb"));
        let copy = |state, hint| VgFinding::CopyNotCurrent {
            vg: vg.clone(),
            path: p.clone(),
            offset: 4096,
            state,
            newest: 7,
            hint,
        };
        let vg_cases = [
            (
                VgFinding::LockSkipped {
                    vg: vg.clone(),
                    why: "no quorum".into(),
                },
                "VG vg lock skipped: no quorum",
            ),
            (
                VgFinding::ReadWithoutLock { vg: vg.clone() },
                "Reading VG vg without a lock.",
            ),
            (
                copy(CopyState::Stale { seqno: 5 }, true),
                "WARNING: VG vg: metadata on /dev/sdb at 4096 is stale (seqno 5, newest 7); run vgck --updatemetadata vg",
            ),
            (
                copy(CopyState::Damaged { what: "bad crc".into() }, false),
                "WARNING: VG vg: metadata on /dev/sdb at 4096 is damaged (bad crc)",
            ),
            (
                copy(CopyState::Empty, false),
                "WARNING: VG vg: metadata on /dev/sdb at 4096 is empty",
            ),
            (
                VgFinding::MissingPv {
                    vg: vg.clone(),
                    uuid: "U".into(),
                    last_seen: "/dev/sdc".into(),
                },
                "WARNING: VG vg is missing PV U (last seen on /dev/sdc)",
            ),
            (
                VgFinding::MarkedMissing {
                    vg: vg.clone(),
                    uuid: "U".into(),
                    device: "/dev/sdc".into(),
                },
                "WARNING: VG vg: PV U (/dev/sdc) is marked MISSING but present; run vgextend --restoremissing vg /dev/sdc",
            ),
            (
                VgFinding::DeviceShrunk {
                    path: p.clone(),
                    sectors: 10,
                    pv_sectors: 20,
                },
                "WARNING: Device /dev/sdb has size of 10 sectors which is smaller than corresponding PV size of 20 sectors. Was device resized?",
            ),
            (
                VgFinding::SizesChanged { vg: vg.clone() },
                "WARNING: One or more devices used as PVs in VG vg have changed sizes.",
            ),
            (
                VgFinding::CopiesAgree {
                    vg: vg.clone(),
                    copies: 2,
                    seqno: 7,
                },
                "VG vg: 2 metadata copies agree (seqno 7)",
            ),
            (
                VgFinding::Rewrote {
                    vg: vg.clone(),
                    seqno: 8,
                },
                "VG vg: rewrote metadata on all PVs (seqno 8)",
            ),
        ];
        let (name, all) = variants!(VgFinding {
            LockSkipped,
            ReadWithoutLock,
            CopyNotCurrent,
            MissingPv,
            MarkedMissing,
            DeviceShrunk,
            SizesChanged,
            CopiesAgree,
            Rewrote,
        });
        let covered: BTreeSet<&str> = vg_cases.iter().map(|(f, _)| name(f)).collect();
        assert_eq!(covered.len(), all.len(), "a VgFinding without a case");
        for (f, want) in vg_cases {
            assert_eq!(vg_finding(&f), want);
            assert_eq!(report_warning(&ReportWarning::Vg(f.clone())), want);
            assert_eq!(
                f.is_device_size(),
                want.starts_with("WARNING: Device ")
                    || want.starts_with("WARNING: One or more devices")
            );
        }
        let path = p.clone();
        let pv_cases = [
            (
                PvFinding::NoLabel { path: path.clone() },
                "/dev/sdb: no PV label found",
            ),
            (
                PvFinding::DamagedLabel {
                    path: path.clone(),
                    why: "bad".into(),
                },
                "/dev/sdb: damaged label: bad",
            ),
            (
                PvFinding::LabelOk {
                    path: path.clone(),
                    uuid: "U".into(),
                    size: 1024,
                },
                "/dev/sdb: label ok, PV UUID U, device size 1024",
            ),
            (
                PvFinding::AreaOk {
                    path: path.clone(),
                    offset: 4096,
                    vg: Some(("vg".into(), 3)),
                    size: 900,
                    checksum: 0xabc,
                },
                "/dev/sdb: metadata area at 4096 ok: vg seqno 3 (900 bytes, checksum 0x00000abc)",
            ),
            (
                PvFinding::AreaOk {
                    path: path.clone(),
                    offset: 4096,
                    vg: None,
                    size: 900,
                    checksum: 1,
                },
                "/dev/sdb: metadata area at 4096 ok: ? seqno 0 (900 bytes, checksum 0x00000001)",
            ),
            (
                PvFinding::AreaEmpty {
                    path: path.clone(),
                    offset: 4096,
                },
                "/dev/sdb: metadata area at 4096 ok, empty",
            ),
            (
                PvFinding::AreaDamaged {
                    path,
                    offset: 4096,
                    why: "bad".into(),
                },
                "/dev/sdb: metadata area at 4096 damaged: bad",
            ),
        ];
        let (name, all) = variants!(PvFinding {
            NoLabel,
            DamagedLabel,
            LabelOk,
            AreaOk,
            AreaEmpty,
            AreaDamaged,
        });
        let covered: BTreeSet<&str> = pv_cases.iter().map(|(f, _)| name(f)).collect();
        assert_eq!(covered.len(), all.len(), "a PvFinding without a case");
        for (f, want) in pv_cases {
            assert_eq!(pv_finding(&f), want);
            assert_eq!(
                f.is_problem(),
                want.contains("damaged") || want.contains("no PV")
            );
        }
        assert_eq!(
            report_warning(&ReportWarning::DamagedLabel {
                path: PathBuf::from("/dev/sdb"),
                why: s("bad crc"),
            }),
            "WARNING: /dev/sdb: damaged PV label: bad crc"
        );
    }
}
