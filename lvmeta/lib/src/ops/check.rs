//! vgck: do all metadata copies agree, and their repair; what vgck and pvck find, typed
//! (displayed in lvm2's words).

use std::fmt;

use super::*;
use crate::txn::WriteOpts;
use lvmeta_ondisk::mda;

/// What vgck finds in a VG (and reports warn about): its metadata copies, PVs and devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VgFinding {
    /// The VG was read without its cluster lock.
    LockSkipped {
        vg: String,
        why: String,
    },
    ReadWithoutLock {
        vg: String,
    },
    /// A metadata copy stale, damaged or empty (`hint`: say how to repair it).
    CopyNotCurrent {
        vg: String,
        path: PathBuf,
        offset: u64,
        state: CopyState,
        newest: u64,
        hint: bool,
    },
    MissingPv {
        vg: String,
        uuid: String,
        last_seen: String,
    },
    /// A PV written as MISSING whose device is back.
    MarkedMissing {
        vg: String,
        uuid: String,
        device: String,
    },
    /// A device smaller than its PV (sizes in sectors).
    DeviceShrunk {
        path: PathBuf,
        sectors: u64,
        pv_sectors: u64,
    },
    /// After [`VgFinding::DeviceShrunk`]s of the VG.
    SizesChanged {
        vg: String,
    },
    CopiesAgree {
        vg: String,
        copies: usize,
        seqno: u64,
    },
    /// `--updatemetadata` rewrote the copies.
    Rewrote {
        vg: String,
        seqno: u64,
    },
}

impl VgFinding {
    /// A device-size warning (lvm2 prints those on stderr, the copy report on stdout).
    pub fn is_device_size(&self) -> bool {
        matches!(
            self,
            VgFinding::DeviceShrunk { .. } | VgFinding::SizesChanged { .. }
        )
    }
}

impl fmt::Display for VgFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VgFinding::LockSkipped { vg, why } => write!(f, "VG {vg} lock skipped: {why}"),
            VgFinding::ReadWithoutLock { vg } => write!(f, "Reading VG {vg} without a lock."),
            VgFinding::CopyNotCurrent {
                vg,
                path,
                offset,
                state,
                newest,
                hint,
            } => {
                write!(f, "WARNING: VG {vg}: metadata on {} at {offset} ", path.display())?;
                match state {
                    CopyState::Stale { seqno } => {
                        write!(f, "is stale (seqno {seqno}, newest {newest})")?
                    }
                    CopyState::Damaged { what } => write!(f, "is damaged ({what})")?,
                    CopyState::Empty | CopyState::Current => f.write_str("is empty")?,
                }
                if *hint {
                    write!(f, "; run vgck --updatemetadata {vg}")?;
                }
                Ok(())
            }
            VgFinding::MissingPv {
                vg,
                uuid,
                last_seen,
            } => write!(
                f,
                "WARNING: VG {vg} is missing PV {uuid} (last seen on {last_seen})"
            ),
            VgFinding::MarkedMissing { vg, uuid, device } => write!(
                f,
                "WARNING: VG {vg}: PV {uuid} ({device}) is marked MISSING but present; run vgextend --restoremissing {vg} {device}"
            ),
            VgFinding::DeviceShrunk {
                path,
                sectors,
                pv_sectors,
            } => write!(
                f,
                "WARNING: Device {} has size of {sectors} sectors which is smaller than corresponding PV size of {pv_sectors} sectors. Was device resized?",
                path.display()
            ),
            VgFinding::SizesChanged { vg } => write!(
                f,
                "WARNING: One or more devices used as PVs in VG {vg} have changed sizes."
            ),
            VgFinding::CopiesAgree { vg, copies, seqno } => write!(
                f,
                "VG {vg}: {copies} metadata copies agree (seqno {seqno})"
            ),
            VgFinding::Rewrote { vg, seqno } => {
                write!(f, "VG {vg}: rewrote metadata on all PVs (seqno {seqno})")
            }
        }
    }
}

/// What pvck finds on a device: its label, then each metadata area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PvFinding {
    NoLabel {
        path: PathBuf,
    },
    DamagedLabel {
        path: PathBuf,
        why: String,
    },
    /// `uuid` dashed; `size` in bytes.
    LabelOk {
        path: PathBuf,
        uuid: String,
        size: u64,
    },
    /// A committed copy: the VG name and seqno its text starts with (None: unreadable).
    AreaOk {
        path: PathBuf,
        offset: u64,
        vg: Option<(String, u64)>,
        size: u64,
        checksum: u32,
    },
    AreaEmpty {
        path: PathBuf,
        offset: u64,
    },
    AreaDamaged {
        path: PathBuf,
        offset: u64,
        why: String,
    },
}

impl PvFinding {
    /// A finding that makes pvck fail.
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            PvFinding::NoLabel { .. }
                | PvFinding::DamagedLabel { .. }
                | PvFinding::AreaDamaged { .. }
        )
    }
}

impl fmt::Display for PvFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PvFinding::NoLabel { path } => write!(f, "{}: no PV label found", path.display()),
            PvFinding::DamagedLabel { path, why } => {
                write!(f, "{}: damaged label: {why}", path.display())
            }
            PvFinding::LabelOk { path, uuid, size } => write!(
                f,
                "{}: label ok, PV UUID {uuid}, device size {size}",
                path.display()
            ),
            PvFinding::AreaOk {
                path,
                offset,
                vg,
                size,
                checksum,
            } => {
                let (name, seqno) = vg.as_ref().map_or(("?", 0), |(n, s)| (n.as_str(), *s));
                write!(
                    f,
                    "{}: metadata area at {offset} ok: {name} seqno {seqno} ({size} bytes, checksum {checksum:#010x})",
                    path.display()
                )
            }
            PvFinding::AreaEmpty { path, offset } => {
                write!(f, "{}: metadata area at {offset} ok, empty", path.display())
            }
            PvFinding::AreaDamaged { path, offset, why } => write!(
                f,
                "{}: metadata area at {offset} damaged: {why}",
                path.display()
            ),
        }
    }
}

/// `vgck`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgckOptions {
    /// None given: every VG.
    pub vgs: Vec<String>,
    /// `--updatemetadata`: rewrite stale or damaged copies.
    pub update_metadata: bool,
}

impl Ctx<'_> {
    /// Reports disagreeing copies; with `update`, rewrites them from the newest valid copy.
    pub fn vgck(&self, o: &VgckOptions) -> Result<(Vec<VgFinding>, bool)> {
        let (names, update) = (&o.vgs, o.update_metadata);
        let names = if names.is_empty() {
            self.peek_vg_names()?
        } else {
            names.to_vec()
        };
        let mut out = Vec::new();
        let mut clean = true;
        for name in names {
            let (lines, bad, flagged, agree) = self.read_vg(&name, true, |sc, r| -> Result<_> {
                let bad = r.stale_copies().count();
                let flagged =
                    r.vg.pvs
                        .iter()
                        .any(|p| r.devs.contains_key(&p.name) && p.is_missing());
                let agree = (bad == 0 && r.missing().is_empty() && !flagged).then(|| {
                    VgFinding::CopiesAgree {
                        vg: name.clone(),
                        copies: r.copies.len(),
                        seqno: r.vg.seqno,
                    }
                });
                let mut warnings = size_findings(sc, &r);
                warnings.extend(copy_findings(&r, false));
                Ok((warnings, bad, flagged, agree))
            })?;
            out.extend(lines);
            if flagged {
                clean = false;
            }
            if let Some(line) = agree {
                out.push(line);
                continue;
            }
            if update && bad > 0 {
                let opts = WriteOpts {
                    allow_missing: true,
                    ..WriteOpts::default()
                };
                let done = self.modify_vg(&name, &opts, |t| {
                    // Damaged headers are rewritten empty before the commit (not in test
                    // mode, where the commit is skipped too).
                    for c in t.copies.iter().filter(|_| !self.env.test_mode) {
                        if let CopyState::Damaged { .. } = c.state {
                            if let Some(d) = t.scan.pvs.iter().find(|d| d.path == c.path) {
                                mda::format_mda(d.dev.as_ref(), c.area)?;
                            }
                        }
                    }
                    Ok(())
                })?;
                out.push(VgFinding::Rewrote {
                    vg: name.clone(),
                    seqno: done.vg.seqno,
                });
            } else {
                clean = false;
            }
        }
        Ok((out, clean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The findings say what vgck's and pvck's lines said before they were typed.
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
        for (f, want) in vg_cases {
            assert_eq!(f.to_string(), want);
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
        for (f, want) in pv_cases {
            assert_eq!(f.to_string(), want);
            assert_eq!(
                f.is_problem(),
                want.contains("damaged") || want.contains("no PV")
            );
        }
    }
}
