//! Report rows of pvs, vgs and lvs: which objects, and each cell's value.

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::report::{
    Cell, Field, FieldDef, FieldType, LvField, PvField, ReportKind, SegField, VgField,
};
use lvmeta_model::{self as model, LogicalVolume, Segment, SegmentKind};
use lvmeta_ondisk::mda;

/// What a report warns about (on stderr, before its rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportWarning {
    /// A device whose PV label the scan found damaged (`why`: the codec's error).
    DamagedLabel { path: PathBuf, why: String },
    /// A VG's metadata copies, missing PVs or shrunk devices.
    Vg(VgFinding),
}

impl Ctx<'_> {
    // ---- reports ----

    /// Rows plus warnings about stale or damaged metadata copies and missing PVs.
    ///
    /// VGs owned by another host (a system ID other than ours) are left out unless
    /// `sel.foreign`, as lvm2 does; naming one without it is an error.
    pub fn report_with_warnings(
        &self,
        kind: ReportKind,
        fields: &[&'static FieldDef],
        targets: &[String],
        sel: Selection,
    ) -> Result<(Vec<Vec<Cell>>, Vec<ReportWarning>)> {
        let all = sel.all_lvs;
        let mut lv_filter: Vec<(String, String)> = Vec::new();
        let mut want = Vec::new();
        if kind != ReportKind::Pvs {
            for t in targets {
                let t = t.trim_start_matches("/dev/");
                if let Some((v, l)) = t.split_once('/') {
                    lv_filter.push((v.into(), l.into()));
                    want.push(v.to_string());
                } else {
                    want.push(t.to_string());
                }
            }
            want.sort();
            want.dedup();
        }
        let named = (!want.is_empty()).then_some(want.as_slice());
        let foreign = sel.foreign || kind == ReportKind::Pvs;
        self.read_vgs(named, foreign, |sc, reads| {
            let mut warnings = Vec::new();
            for (p, e) in &sc.damaged {
                warnings.push(ReportWarning::DamagedLabel {
                    path: p.clone(),
                    why: e.to_string(),
                });
            }
            for r in &reads {
                let findings = size_findings(sc, r)
                    .into_iter()
                    .chain(copy_findings(r, true));
                warnings.extend(findings.map(ReportWarning::Vg));
            }
            // A named LV that does not exist is an error, as in lvm2.
            for (v, n) in &lv_filter {
                let found = reads
                    .iter()
                    .any(|r| r.vg.name == *v && r.vg.lv(n).is_some());
                if !found {
                    return Err(VgError::NoSuchLv {
                        vg: v.clone(),
                        lv: n.clone(),
                    }
                    .into());
                }
            }
            let mut rows = Vec::new();
            match kind {
                ReportKind::Vgs => {
                    for r in &reads {
                        let view = self.view_of(fields, r);
                        rows.push(
                            fields
                                .iter()
                                .map(|f| vg_row_cell(f, sc, r, view.as_ref()))
                                .collect(),
                        );
                    }
                }
                ReportKind::Lvs => {
                    let per_seg = fields.iter().any(|f| f.ftype == FieldType::Seg);
                    // The environment's device-mapper, as every other command uses it.
                    let kernel = crate::activation::KernelView::of(
                        self.env.kernel.as_ref().map(|k| k.dm.as_ref()),
                    );
                    for r in &reads {
                        let roles = r.vg.sub_roles();
                        let view = self.view_of(fields, r);
                        let row = LvRow {
                            sc,
                            r,
                            roles: &roles,
                            kernel: &kernel,
                            view: view.as_ref(),
                        };
                        // Named LVs are shown even when hidden, as lvm2 shows them.
                        let lvs_of_vg = || r.vg.lvs.iter();
                        let mut lvs: Vec<_> = if lv_filter.iter().any(|(v, _)| *v == r.vg.name) {
                            lvs_of_vg()
                                .filter(|l| {
                                    lv_filter
                                        .iter()
                                        .any(|(v, n)| *v == r.vg.name && *n == l.name)
                                })
                                .collect()
                        } else if lv_filter.is_empty() || want.contains(&r.vg.name) {
                            lvs_of_vg().filter(|l| all || l.is_visible()).collect()
                        } else {
                            Vec::new()
                        };
                        lvs.sort_by(|a, b| a.name.cmp(&b.name));
                        for l in lvs {
                            if per_seg {
                                for s in &l.segments {
                                    rows.push(
                                        fields
                                            .iter()
                                            .map(|f| lv_cell(f, &row, l, Some(s)))
                                            .collect(),
                                    );
                                }
                            } else {
                                rows.push(
                                    fields.iter().map(|f| lv_cell(f, &row, l, None)).collect(),
                                );
                            }
                        }
                    }
                }
                ReportKind::Pvs => {
                    let mut pvs: Vec<(usize, Option<&VgRead>)> = Vec::new();
                    for (i, p) in sc.pvs.iter().enumerate() {
                        if !targets.is_empty() && !targets.iter().any(|t| Path::new(t) == p.path) {
                            continue;
                        }
                        let owner = reads.iter().find(|r| r.devs.values().any(|&j| j == i));
                        pvs.push((i, owner));
                    }
                    pvs.sort_by(|a, b| sc.pvs[a.0].path.cmp(&sc.pvs[b.0].path));
                    for (i, owner) in pvs {
                        rows.push(fields.iter().map(|f| pv_cell(f, sc, i, owner)).collect());
                    }
                }
            }
            Ok((rows, warnings))
        })
    }
}

/// Which objects a report shows besides the usual ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// `lvs -a`: hidden sub-LVs (mirror/raid images, logs) too.
    pub all_lvs: bool,
    /// `--foreign`: VGs with another host's system ID too.
    pub foreign: bool,
}

/// The device path of a PV key as scanned, `[unknown]` when the PV is missing.
fn pv_path(sc: &Scan, r: &VgRead, key: &str) -> String {
    r.devs
        .get(key)
        .map(|&i| sc.pvs[i].path.to_string_lossy().into_owned())
        .unwrap_or_else(|| "[unknown]".into())
}

/// Where an area starts: a device path or sub-LV name, and the first extent there.
type AreaAt = (String, u64);

/// A segment's data areas, and its metadata areas (raid1's rmeta sub-LVs).
fn seg_areas(sc: &Scan, r: &VgRead, g: &Segment) -> (Vec<AreaAt>, Vec<AreaAt>) {
    match &g.kind {
        SegmentKind::Striped { areas, .. } => (
            areas
                .iter()
                .map(|a| (pv_path(sc, r, &a.pv), a.start.0))
                .collect(),
            Vec::new(),
        ),
        SegmentKind::Mirror { legs, .. } => (
            legs.iter().map(|l| (l.lv.clone(), l.start.0)).collect(),
            Vec::new(),
        ),
        SegmentKind::Raid1 { images, .. } => (
            images.iter().map(|(_, i)| (i.clone(), 0)).collect(),
            images.iter().map(|(m, _)| (m.clone(), 0)).collect(),
        ),
        SegmentKind::Other { .. } => (
            model::alloc::pv_areas(g)
                .into_iter()
                .map(|(pv, start, _)| (pv_path(sc, r, &pv), start))
                .collect(),
            Vec::new(),
        ),
    }
}

/// What one LV row's cells are made from.
struct LvRow<'a> {
    sc: &'a Scan,
    r: &'a VgRead,
    roles: &'a HashMap<&'a str, model::SubRole>,
    kernel: &'a crate::activation::KernelView<'a>,
    /// The cluster's view of a shared VG, when a cluster field was asked for.
    view: Option<&'a crate::lock::ClusterView>,
}

fn lv_cell(f: &FieldDef, row: &LvRow, l: &LogicalVolume, seg: Option<&Segment>) -> Cell {
    let LvRow {
        sc,
        r,
        roles,
        kernel,
        view,
    } = *row;
    let vg = &r.vg;
    let es = vg.extent_size.0;
    let seg = seg.or(l.segments.first());
    let s = |x: String| Cell::Str(x);
    let x = match f.id {
        Field::Lv(x) => x,
        Field::Seg(x) => return seg_cell(x, sc, r, seg),
        Field::Vg(VgField::VgActivationModes) => return modes_cell(view),
        Field::Vg(x) => return vg_cell(x, sc, r),
        // lvs does not offer PV fields.
        Field::Pv(_) => return Cell::Empty,
    };
    match x {
        LvField::LvUuid => s(l.id.clone()),
        LvField::LvName => s(if l.is_visible() {
            l.name.clone()
        } else {
            format!("[{}]", l.name)
        }),
        LvField::LvFullName => s(format!("{}/{}", vg.name, l.name)),
        LvField::LvPath => s(if l.is_visible() {
            format!("/dev/{}/{}", vg.name, l.name)
        } else {
            String::new()
        }),
        LvField::LvDmPath => s(format!("/dev/mapper/{}", vg.dm_name(&l.name))),
        LvField::LvLayout => s(match seg.map(|g| g.kind.report_type()) {
            Some("raid1") => "raid,raid1".into(),
            Some(t) => t.into(),
            None => String::new(),
        }),
        LvField::LvRole => s(if l.is_visible() {
            "public".into()
        } else {
            "private".into()
        }),
        LvField::LvSize => Cell::Size(l.size().0 * es),
        LvField::SegCount => Cell::Num(l.segments.len() as i64),
        LvField::LvTags => s(l.tags.join(",")),
        LvField::LvAttr => s(kernel.lv_attr(vg, l, roles.get(l.name.as_str()).copied())),
        LvField::LvTime => Cell::Time(l.creation_time.unwrap_or(0)),
        LvField::LvTimeRemoved => Cell::Time(0),
        LvField::LvHost => s(l.creation_host.clone().unwrap_or_default()),
        LvField::MirrorLog => s(match seg.map(|g| &g.kind) {
            // A hidden LV in brackets, as lvm2's `_lvname_disp` (report/mark_hidden_devices).
            Some(SegmentKind::Mirror { log: Some(log), .. }) => {
                vg.lv_display_name(log).unwrap_or_else(|| log.clone())
            }
            _ => String::new(),
        }),
        // lvmeta makes no snapshots, pools or moves: empty, as lvm2 shows them for LVs
        // without.
        LvField::Origin | LvField::MovePv | LvField::ConvertLv | LvField::PoolLv => {
            s(String::new())
        }
        LvField::DataPercent | LvField::MetadataPercent => Cell::Pct(None),
        LvField::CopyPercent | LvField::SyncPercent => Cell::Pct(kernel.copy_percent(vg, l)),
        LvField::LvActiveNodes => s(view
            .and_then(|v| v.lvs.get(&l.id))
            .map(|n| n.join(","))
            .unwrap_or_default()),
    }
}

fn seg_cell(x: SegField, sc: &Scan, r: &VgRead, seg: Option<&Segment>) -> Cell {
    let Some(g) = seg else { return Cell::Empty };
    let es = r.vg.extent_size.0;
    let s = |x: String| Cell::Str(x);
    let len = g.area_len().0;
    let (areas, meta) = seg_areas(sc, r, g);
    let join = |areas: &[AreaAt]| {
        areas
            .iter()
            .map(|(n, st)| format!("{n}({st})"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let ranges = |sep: &str| {
        let parts: Vec<String> = areas
            .iter()
            .map(|(n, st)| format!("{n}:{st}-{}", st + len - 1))
            .collect();
        s(parts.join(sep))
    };
    match x {
        SegField::Segtype => s(g.kind.report_type().to_string()),
        SegField::Stripes | SegField::DataStripes => Cell::Num(areas.len() as i64),
        SegField::StripeSize => Cell::Size(match &g.kind {
            SegmentKind::Striped { stripe_size, .. } => stripe_size.0,
            _ => 0,
        }),
        SegField::RegionSize => Cell::Size(match &g.kind {
            SegmentKind::Mirror { region_size, .. } | SegmentKind::Raid1 { region_size, .. } => {
                region_size.map(|r| r.0).unwrap_or(0)
            }
            _ => 0,
        }),
        SegField::SegStart => Cell::Size(g.start_extent.0 * es),
        SegField::SegStartPe => Cell::Num(g.start_extent.0 as i64),
        SegField::SegSize => Cell::Size(g.extent_count.0 * es),
        SegField::SegSizePe => Cell::Num(g.extent_count.0 as i64),
        SegField::SegTags => s(g.tags.join(",")),
        SegField::Devices => s(join(&areas)),
        SegField::MetadataDevices => s(join(&meta)),
        SegField::SegPeRanges => ranges(" "),
        SegField::SegLeRanges => ranges(","),
    }
}

fn vg_cell(x: VgField, sc: &Scan, r: &VgRead) -> Cell {
    let vg = &r.vg;
    let es = vg.extent_size.0;
    // (area size, committed text size) of each metadata area of the VG's present PVs.
    let mdas = || -> Vec<(u64, u64)> {
        r.devs
            .values()
            .flat_map(|&i| sc.pvs[i].mdas.iter())
            .filter_map(|m| m.res.as_ref().ok())
            .map(|c| {
                (
                    c.header.size.0,
                    c.committed.as_ref().map(|t| t.locn.size.0).unwrap_or(0),
                )
            })
            .collect()
    };
    match x {
        VgField::VgFmt => Cell::Str("lvm2".into()),
        VgField::VgUuid => Cell::Str(vg.id.clone()),
        VgField::VgName => Cell::Str(vg.name.clone()),
        VgField::VgAttr => Cell::Str(vg.vg_attr()),
        VgField::VgPermissions => Cell::Str(if vg.status.contains(model::Flag::Write) {
            "writeable".into()
        } else {
            "read-only".into()
        }),
        VgField::VgAllocationPolicy => Cell::Str("normal".into()),
        VgField::VgSize => Cell::Size(vg.total_extents().0 * es),
        VgField::VgFree => Cell::Size(vg.free_extents().0 * es),
        VgField::VgSystemid => Cell::Str(vg.system_id.clone().unwrap_or_default()),
        VgField::VgExtentSize => Cell::Size(es),
        VgField::VgExtentCount => Cell::Num(vg.total_extents().0 as i64),
        VgField::VgFreeCount => Cell::Num(vg.free_extents().0 as i64),
        VgField::MaxLv => Cell::Num(vg.max_lv as i64),
        VgField::MaxPv => Cell::Num(vg.max_pv as i64),
        VgField::PvCount => Cell::Num(vg.pvs.len() as i64),
        VgField::LvCount => Cell::Num(vg.lvs.iter().filter(|l| l.is_visible()).count() as i64),
        VgField::SnapCount => Cell::Num(0),
        VgField::VgSeqno => Cell::Num(vg.seqno as i64),
        VgField::VgTags => Cell::Str(vg.tags.join(",")),
        // Needs the cluster's view: filled by the row builders that have it.
        VgField::VgActivationModes => Cell::Empty,
        VgField::VgMdaCount => Cell::Num(mdas().len() as i64),
        VgField::VgMdaSize => Cell::Size(mdas().iter().map(|m| m.0).min().unwrap_or(0) / 512),
        VgField::VgMdaFree => Cell::Size(
            mdas()
                .iter()
                .map(|m| mda::max_text_size(m.0).saturating_sub(m.1))
                .min()
                .unwrap_or(0)
                / 512,
        ),
    }
}

fn pv_cell(f: &FieldDef, sc: &Scan, i: usize, owner: Option<&VgRead>) -> Cell {
    let d = &sc.pvs[i];
    let entry = owner.and_then(|r| {
        let key = r.devs.iter().find(|(_, &j)| j == i)?.0;
        r.vg.pv(key).map(|p| (r, p))
    });
    let s = |x: String| Cell::Str(x);
    let x = match f.id {
        Field::Pv(x) => x,
        Field::Vg(v) => {
            return match entry {
                Some((r, _)) => vg_cell(v, sc, r),
                // An orphan PV is in lvm2's orphan VG, which reports as this.
                None => orphan_vg_cell(v),
            };
        }
        // pvs does not offer LV or segment fields.
        Field::Lv(_) | Field::Seg(_) => return Cell::Empty,
    };
    let mda_sizes = || d.label.metadata_areas.iter().map(|a| a.size.0);
    // Fields of the PV in its VG; an orphan has no extents.
    let in_vg = |x: PvField| -> Cell {
        match entry {
            Some((r, p)) => {
                let es = r.vg.extent_size.0;
                let pe_count = p.pe_count.0;
                let used = used_extents(&r.vg).get(&p.name).copied().unwrap_or(0);
                match x {
                    PvField::PvSize => Cell::Size(pe_count * es),
                    PvField::PvFree => Cell::Size((pe_count - used.min(pe_count)) * es),
                    PvField::PvUsed => Cell::Size(used * es),
                    PvField::PvAttr => {
                        s(format!("{}--", if p.is_allocatable() { 'a' } else { '-' }))
                    }
                    PvField::PvPeCount => Cell::Num(pe_count as i64),
                    _ => Cell::Num(used as i64),
                }
            }
            None => {
                let size = d.label.device_size.0 / 512;
                match x {
                    PvField::PvSize | PvField::PvFree => Cell::Size(size),
                    PvField::PvUsed => Cell::Size(0),
                    PvField::PvAttr => s("---".into()),
                    _ => Cell::Num(0),
                }
            }
        }
    };
    match x {
        PvField::PvFmt => s("lvm2".into()),
        PvField::PvUuid => s(d.uuid_dashed()),
        PvField::DevSize => Cell::Size(d.dev.size().map(|b| b.0 / 512).unwrap_or(0)),
        PvField::PvName => s(d.path.to_string_lossy().into_owned()),
        PvField::PvMdaSize => Cell::Size(mda_sizes().min().unwrap_or(0) / 512),
        PvField::PvMdaFree => {
            let free = d
                .mdas
                .iter()
                .filter_map(|m| m.res.as_ref().ok())
                .map(|c| {
                    mda::max_text_size(c.header.size.0)
                        .saturating_sub(c.committed.as_ref().map(|t| t.locn.size.0).unwrap_or(0))
                })
                .min()
                .unwrap_or(0);
            Cell::Size(free / 512)
        }
        PvField::PvMdaCount => Cell::Num(mda_sizes().count() as i64),
        PvField::PeStart => Cell::Size(d.pe_start_sectors()),
        PvField::PvTags => s(entry.map(|(_, p)| p.tags.join(",")).unwrap_or_default()),
        PvField::PvSize
        | PvField::PvFree
        | PvField::PvUsed
        | PvField::PvAttr
        | PvField::PvPeCount
        | PvField::PvPeAllocCount => in_vg(x),
    }
}

/// A `vgs` cell: VG fields only.
fn modes_cell(view: Option<&crate::lock::ClusterView>) -> Cell {
    Cell::Str(view.map(|v| v.modes.join(",")).unwrap_or_default())
}

impl Ctx<'_> {
    /// The cluster's view of `r`'s VG when a field needs it and the VG is shared.
    fn view_of(&self, fields: &[&FieldDef], r: &VgRead) -> Option<crate::lock::ClusterView> {
        let wanted = fields.iter().any(|f| {
            matches!(
                f.id,
                Field::Lv(LvField::LvActiveNodes) | Field::Vg(VgField::VgActivationModes)
            )
        });
        if !wanted {
            return None;
        }
        let c = self
            .env
            .cluster_locks_for(&r.vg.name, r.vg.lock_type.as_deref())
            .ok()
            .flatten()?;
        c.cluster_view(&r.vg.name)
    }
}

/// A VG field of an orphan PV: lvm2 reports its internal orphan VG (no name, read-only,
/// allocation policy "unknown", zero sizes and counts).
fn orphan_vg_cell(v: VgField) -> Cell {
    use VgField as V;
    let s = |x: &str| Cell::Str(x.to_string());
    match v {
        V::VgFmt => s("lvm2"),
        V::VgAttr => s("r-----"),
        V::VgPermissions => s("read-only"),
        V::VgAllocationPolicy => s("unknown"),
        V::VgUuid | V::VgName | V::VgSystemid | V::VgTags => s(""),
        V::VgSize | V::VgFree | V::VgExtentSize | V::VgMdaFree | V::VgMdaSize => Cell::Size(0),
        V::VgExtentCount
        | V::VgFreeCount
        | V::MaxLv
        | V::MaxPv
        | V::PvCount
        | V::LvCount
        | V::SnapCount
        | V::VgSeqno
        | V::VgMdaCount => Cell::Num(0),
        V::VgActivationModes => Cell::Empty,
    }
}

fn vg_row_cell(
    f: &FieldDef,
    sc: &Scan,
    r: &VgRead,
    view: Option<&crate::lock::ClusterView>,
) -> Cell {
    if f.id == Field::Vg(VgField::VgActivationModes) {
        return modes_cell(view);
    }
    match f.id {
        Field::Vg(x) => vg_cell(x, sc, r),
        _ => Cell::Empty,
    }
}
