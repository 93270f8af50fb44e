//! Report rows of pvs, vgs and lvs: which objects, and each cell's value.

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::report::{Cell, FieldDef, FieldType, ReportKind};
use lvmeta_model::{self as model, LogicalVolume, Segment, SegmentKind};
use lvmeta_ondisk::mda;

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
    ) -> Result<(Vec<Vec<Cell>>, Vec<String>)> {
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
                warnings.push(format!("WARNING: {}: damaged PV label: {e}", p.display()));
            }
            for r in &reads {
                warnings.extend(copy_warnings(r, true));
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
                        rows.push(fields.iter().map(|f| vg_cell(f, sc, r)).collect());
                    }
                }
                ReportKind::Lvs => {
                    let per_seg = fields.iter().any(|f| f.ftype == FieldType::Seg);
                    let kernel = crate::activation::KernelView::probe();
                    for r in &reads {
                        let roles = r.vg.sub_roles();
                        let row = LvRow {
                            sc,
                            r,
                            roles: &roles,
                            kernel: &kernel,
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
}

fn lv_cell(f: &FieldDef, row: &LvRow, l: &LogicalVolume, seg: Option<&Segment>) -> Cell {
    let LvRow {
        sc,
        r,
        roles,
        kernel,
    } = *row;
    let vg = &r.vg;
    let es = vg.extent_size.0;
    let display_name = || {
        if l.is_visible() {
            l.name.clone()
        } else {
            format!("[{}]", l.name)
        }
    };
    let seg = seg.or(l.segments.first());
    let s = |x: String| Cell::Str(x);
    let join = |areas: &[AreaAt]| {
        areas
            .iter()
            .map(|(n, st)| format!("{n}({st})"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match f.name {
        "lv_uuid" => s(l.id.clone()),
        "lv_name" => s(display_name()),
        "lv_full_name" => s(format!("{}/{}", vg.name, l.name)),
        "lv_path" => s(if l.is_visible() {
            format!("/dev/{}/{}", vg.name, l.name)
        } else {
            String::new()
        }),
        "lv_dm_path" => s(format!("/dev/mapper/{}", vg.dm_name(&l.name))),
        "lv_layout" => s(match seg.map(|g| g.kind.report_type()) {
            Some("raid1") => "raid,raid1".into(),
            Some(t) => t.into(),
            None => String::new(),
        }),
        "lv_role" => s(if l.is_visible() {
            "public".into()
        } else {
            "private".into()
        }),
        "lv_size" => Cell::Size(l.size().0 * es),
        "seg_count" => Cell::Num(l.segments.len() as i64),
        "lv_tags" => s(l.tags.join(",")),
        "lv_attr" => s(kernel.lv_attr(vg, l, roles.get(l.name.as_str()).copied())),
        "lv_host" => s(l.creation_host.clone().unwrap_or_default()),
        "mirror_log" => s(match seg.map(|g| &g.kind) {
            Some(SegmentKind::Mirror { log: Some(log), .. }) => log.clone(),
            _ => String::new(),
        }),
        "origin" | "move_pv" | "convert_lv" | "pool_lv" => s(String::new()),
        "data_percent" | "metadata_percent" => Cell::Pct(None),
        "copy_percent" => Cell::Pct(kernel.copy_percent(vg, l)),
        "vg_name" => s(vg.name.clone()),
        n if f.ftype == FieldType::Vg => vg_cell_named(n, f, sc, r),
        _ => {
            let Some(g) = seg else { return Cell::Empty };
            let len = g.area_len().0;
            let (areas, meta) = seg_areas(sc, r, g);
            match f.name {
                "segtype" => s(g.kind.report_type().to_string()),
                "stripes" | "data_stripes" => Cell::Num(areas.len() as i64),
                "stripe_size" => Cell::Size(match &g.kind {
                    SegmentKind::Striped { stripe_size, .. } => stripe_size.0,
                    _ => 0,
                }),
                "region_size" => Cell::Size(match &g.kind {
                    SegmentKind::Mirror { region_size, .. }
                    | SegmentKind::Raid1 { region_size, .. } => {
                        region_size.map(|r| r.0).unwrap_or(0)
                    }
                    _ => 0,
                }),
                "seg_start" => Cell::Size(g.start_extent.0 * es),
                "seg_start_pe" => Cell::Num(g.start_extent.0 as i64),
                "seg_size" => Cell::Size(g.extent_count.0 * es),
                "seg_size_pe" => Cell::Num(g.extent_count.0 as i64),
                "seg_tags" => s(g.tags.join(",")),
                "devices" => s(join(&areas)),
                "metadata_devices" => s(join(&meta)),
                "seg_pe_ranges" | "seg_le_ranges" => {
                    let parts: Vec<String> = areas
                        .iter()
                        .map(|(n, st)| format!("{n}:{st}-{}", st + len - 1))
                        .collect();
                    s(parts.join(if f.name == "seg_pe_ranges" { " " } else { "," }))
                }
                _ => Cell::Empty,
            }
        }
    }
}

fn vg_cell(f: &FieldDef, sc: &Scan, r: &VgRead) -> Cell {
    vg_cell_named(f.name, f, sc, r)
}

fn vg_cell_named(name: &str, _f: &FieldDef, sc: &Scan, r: &VgRead) -> Cell {
    let vg = &r.vg;
    let es = vg.extent_size.0;
    let mdas: Vec<(u64, u64)> = r
        .devs
        .values()
        .flat_map(|&i| sc.pvs[i].mdas.iter())
        .filter_map(|m| m.res.as_ref().ok())
        .map(|c| {
            (
                c.header.size.0,
                c.committed.as_ref().map(|t| t.locn.size.0).unwrap_or(0),
            )
        })
        .collect();
    match name {
        "vg_fmt" => Cell::Str("lvm2".into()),
        "vg_uuid" => Cell::Str(vg.id.clone()),
        "vg_name" => Cell::Str(vg.name.clone()),
        "vg_attr" => Cell::Str(vg.vg_attr()),
        "vg_permissions" => Cell::Str(if vg.status.iter().any(|s| s == "WRITE") {
            "writeable".into()
        } else {
            "read-only".into()
        }),
        "vg_allocation_policy" => Cell::Str("normal".into()),
        "vg_size" => Cell::Size(vg.total_extents().0 * es),
        "vg_free" => Cell::Size(vg.free_extents().0 * es),
        "vg_systemid" => Cell::Str(vg.system_id.clone().unwrap_or_default()),
        "vg_extent_size" => Cell::Size(es),
        "vg_extent_count" => Cell::Num(vg.total_extents().0 as i64),
        "vg_free_count" => Cell::Num(vg.free_extents().0 as i64),
        "max_lv" => Cell::Num(vg.max_lv as i64),
        "max_pv" => Cell::Num(vg.max_pv as i64),
        "pv_count" => Cell::Num(vg.pvs.len() as i64),
        "lv_count" => Cell::Num(vg.lvs.iter().filter(|l| l.is_visible()).count() as i64),
        "snap_count" => Cell::Num(0),
        "vg_seqno" => Cell::Num(vg.seqno as i64),
        "vg_tags" => Cell::Str(vg.tags.join(",")),
        "vg_mda_count" => Cell::Num(mdas.len() as i64),
        "vg_mda_size" => Cell::Size(mdas.iter().map(|m| m.0).min().unwrap_or(0) / 512),
        "vg_mda_free" => Cell::Size(
            mdas.iter()
                .map(|m| mda::max_text_size(m.0).saturating_sub(m.1))
                .min()
                .unwrap_or(0)
                / 512,
        ),
        _ => Cell::Empty,
    }
}

fn pv_cell(f: &FieldDef, sc: &Scan, i: usize, owner: Option<&VgRead>) -> Cell {
    let d = &sc.pvs[i];
    let entry = owner.and_then(|r| {
        let key = r.devs.iter().find(|(_, &j)| j == i)?.0;
        r.vg.pv(key).map(|p| (r, p))
    });
    let s = |x: String| Cell::Str(x);
    let mda_sizes: Vec<u64> = d.label.metadata_areas.iter().map(|a| a.size.0).collect();
    match f.name {
        "pv_fmt" => s("lvm2".into()),
        "pv_uuid" => s(d.uuid_dashed()),
        "dev_size" => Cell::Size(d.dev.size().map(|b| b.0 / 512).unwrap_or(0)),
        "pv_name" => s(d.path.to_string_lossy().into_owned()),
        "pv_mda_size" => Cell::Size(mda_sizes.iter().min().copied().unwrap_or(0) / 512),
        "pv_mda_free" => {
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
        "pv_mda_count" => Cell::Num(mda_sizes.len() as i64),
        "pe_start" => Cell::Size(d.pe_start_sectors()),
        "pv_tags" => s(entry.map(|(_, p)| p.tags.join(",")).unwrap_or_default()),
        _ => match entry {
            Some((r, p)) => {
                let es = r.vg.extent_size.0;
                let pe_count = p.pe_count.0;
                let used = used_extents(&r.vg).get(&p.name).copied().unwrap_or(0);
                match f.name {
                    "pv_size" => Cell::Size(pe_count * es),
                    "pv_free" => Cell::Size((pe_count - used.min(pe_count)) * es),
                    "pv_used" => Cell::Size(used * es),
                    "pv_attr" => s(format!("{}--", if p.is_allocatable() { 'a' } else { '-' })),
                    "pv_pe_count" => Cell::Num(pe_count as i64),
                    "pv_pe_alloc_count" => Cell::Num(used as i64),
                    _ => vg_cell_named(f.name, f, sc, r),
                }
            }
            None => {
                let size = d.label.device_size.0 / 512;
                match f.name {
                    "pv_size" | "pv_free" => Cell::Size(size),
                    "pv_used" => Cell::Size(0),
                    "pv_attr" => s("---".into()),
                    "pv_pe_count" | "pv_pe_alloc_count" => Cell::Num(0),
                    "vg_name" => s(String::new()),
                    _ => Cell::Empty,
                }
            }
        },
    }
}
