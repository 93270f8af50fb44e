//! vgck: do all metadata copies agree, and their repair; what vgck and pvck find, typed
//! (lvmeta-cli says them, in lvm2's words where lvm2 has the line: `lvmeta_cli::wording`).

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
