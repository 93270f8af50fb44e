//! Every field of the report table renders: each one listed in `report::FIELDS` gives a
//! value in some row of a VG that has every kind of object lvmeta makes (striped, raid1 and
//! mirror LVs, tags, a system ID, an orphan PV), except the fields lvm2 also leaves empty for
//! such a VG (snapshots, pools, moves, and the kernel's percentages on a host without it).

mod common;

use lvmeta::ops::{Ctx, Env, Layout, LvcreateOptions, MirrorLog, Selection, SizeArg};
use lvmeta::report::{self, Cell, FieldType, ReportKind, FIELDS};
use lvmeta::units::Sign;
use lvmeta_ondisk::Sectors;

const ALWAYS_EMPTY: &[&str] = &[
    "lv_time_removed",
    "origin",
    "move_pv",
    "convert_lv",
    "pool_lv",
    "data_percent",
    "metadata_percent",
    "copy_percent",
    "sync_percent",
    // Cluster fields: empty for a local VG.
    "lv_active_nodes",
    "vg_activation_modes",
];

fn env() -> Env {
    let (mut env, paths) = common::mem_env(4);
    env.system_id = Some("host-a".into());
    let ctx = Ctx { env: &env };
    ctx.pvcreate(&lvmeta::ops::PvcreateOptions {
        pvs: paths.to_vec(),
        ..Default::default()
    })
    .unwrap();
    ctx.vgcreate(&lvmeta::ops::VgcreateOptions {
        system_id: None,
        tags: vec!["vgtag".into()],
        ..lvmeta::ops::VgcreateOptions::new("vg", paths[..3].to_vec())
    })
    .unwrap();
    let lv = |name: &str, layout| LvcreateOptions {
        vg: String::new(),
        name: name.into(),
        size: SizeArg::Sectors(Sign::Absolute, 8 << 11),
        layout,
        pvs: vec![],
    };
    ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
        vg: "vg".into(),
        ..lv(
            "st",
            Layout::Striped {
                stripes: 2,
                stripe_size: Sectors(128),
            },
        )
    })
    .unwrap();
    ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
        vg: "vg".into(),
        ..lv("r", Layout::Raid1 { mirrors: 1 })
    })
    .unwrap();
    ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
        vg: "vg".into(),
        ..lv(
            "m",
            Layout::Mirror {
                mirrors: 1,
                log: MirrorLog::Disk,
            },
        )
    })
    .unwrap();
    // Tags on an LV, a segment and a PV come from lvm2-made metadata; set them in the model.
    ctx.modify("vg", false, |vg, _, _| {
        let st = vg.lv_mut("st").unwrap();
        st.tags = vec!["lvtag".into()];
        st.segments[0].tags = vec!["segtag".into()];
        vg.pvs[0].tags = vec!["pvtag".into()];
        Ok(())
    })
    .unwrap();
    env
}

fn filled(c: &Cell) -> bool {
    match c {
        Cell::Str(s) => !s.is_empty(),
        Cell::Size(_) | Cell::Num(_) => true,
        Cell::Pct(p) => p.is_some(),
        Cell::Time(t) => *t != 0,
        Cell::Empty => false,
    }
}

#[test]
fn every_listed_field_renders() {
    let env = env();
    let ctx = Ctx { env: &env };
    let sel = Selection {
        all_lvs: true,
        foreign: false,
    };
    for (kind, types) in [
        (
            ReportKind::Lvs,
            &[FieldType::Lv, FieldType::Seg, FieldType::Vg][..],
        ),
        (ReportKind::Vgs, &[FieldType::Vg][..]),
        (ReportKind::Pvs, &[FieldType::Pv, FieldType::Vg][..]),
    ] {
        let fields: Vec<_> = FIELDS.iter().filter(|f| types.contains(&f.ftype)).collect();
        let (rows, _) = ctx.report_with_warnings(kind, &fields, &[], sel).unwrap();
        assert!(!rows.is_empty(), "{kind:?}: no rows");
        for (i, f) in fields.iter().enumerate() {
            let some = rows.iter().any(|r| filled(&r[i]));
            if ALWAYS_EMPTY.contains(&f.name) {
                assert!(!some, "{kind:?} {}: lvmeta has none of these", f.name);
            } else {
                assert!(some, "{kind:?} {}: empty in every row", f.name);
            }
        }
        // And the text and JSON layouts take every field.
        for json in [false, true] {
            let o = report::Options {
                json,
                ..report::Options::default()
            };
            let text = report::render(kind, &fields, &rows, &o);
            for f in &fields {
                let shown = if json { f.name } else { f.heading };
                assert!(text.contains(shown), "{kind:?}: {} not rendered", f.name);
            }
        }
    }
    // Each field names itself: selecting it by name gives it back.
    for f in FIELDS {
        let kind = match f.ftype {
            FieldType::Lv | FieldType::Seg => ReportKind::Lvs,
            FieldType::Vg => ReportKind::Vgs,
            FieldType::Pv => ReportKind::Pvs,
        };
        let got = report::select_fields(kind, &[f.name.to_string()]).unwrap();
        assert_eq!(got[0].id, f.id, "{}", f.name);
    }
}
