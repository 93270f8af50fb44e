//! vgck: do all metadata copies agree, and their repair.

use super::*;
use crate::txn::WriteOpts;
use lvmeta_ondisk::mda;

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
    pub fn vgck(&self, o: &VgckOptions) -> Result<(Vec<String>, bool)> {
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
                    format!(
                        "VG {name}: {} metadata copies agree (seqno {})",
                        r.copies.len(),
                        r.vg.seqno
                    )
                });
                let mut warnings = size_warnings(sc, &r);
                warnings.extend(copy_warnings(&r, false));
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
                    ..WriteOpts::command("vgck --updatemetadata")
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
                out.push(format!(
                    "VG {name}: rewrote metadata on all PVs (seqno {})",
                    done.vg.seqno
                ));
            } else {
                clean = false;
            }
        }
        Ok((out, clean))
    }
}
