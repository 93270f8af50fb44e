//! Detaching a failed mirror leg in the metadata (clvmd-rs's `policy.detach = global`): the
//! failed image goes as lvm2's `lvconvert --repair` removes it, the PV this host cannot see
//! is flagged MISSING, and `vgextend --restoremissing` brings it back. In-memory PVs.

mod common;

use std::path::Path;

use lvmeta::ops::{self, Ctx, Layout, LvcreateOptions, MirrorLog, SizeArg, VgextendOptions};
use lvmeta::units::Sign;
use lvmeta_ondisk::dev::{BlockDev, MemDev};
use lvmeta_ondisk::Bytes;

#[test]
fn a_failed_leg_is_removed_and_its_unseen_pv_marked_missing() {
    let (mut env, paths) = common::mem_env(2);
    let ctx = Ctx { env: &env };
    common::new_vg(&ctx, "vg", &paths);
    ctx.lvcreate(&LvcreateOptions {
        vg: "vg".into(),
        name: "m".into(),
        size: SizeArg::Sectors(Sign::Absolute, 8 << 11),
        layout: Layout::Mirror {
            mirrors: 1,
            log: MirrorLog::Core,
        },
        pvs: vec![],
    })
    .unwrap();
    let before = ops::scan(&env).unwrap().read_vg("vg").unwrap().vg;
    let uuid = before.lv("m").unwrap().id.clone();
    let pv1 = before.pvs[1].id.clone();
    let survivor = before.lv("m_mimage_0").unwrap().segments.clone();
    // The second PV fails on this host.
    let open = std::mem::replace(&mut env.open, Box::new(ops::Env::file_open));
    let lost = paths[1].clone();
    let open = std::sync::Arc::new(open);
    let o = open.clone();
    // (It opens but shows no label, as a disk whose reads fail is skipped by the scan.)
    env.open = Box::new(move |p: &Path| {
        if p == lost {
            let blank = MemDev::new(p.to_path_buf(), Bytes(64 << 20));
            return Ok(std::sync::Arc::new(blank) as std::sync::Arc<dyn BlockDev>);
        }
        o(p)
    });
    let ctx = Ctx { env: &env };
    let out = ctx
        .remove_failed_images("vg", &uuid, &["m_mimage_1".into()])
        .unwrap();
    assert_eq!(out.lv, "m");
    assert_eq!(out.images, ["m_mimage_1"]);
    assert!(out.now_linear);
    assert_eq!(out.missing, [pv1]);
    let vg = ops::scan(&env).unwrap().read_vg("vg").unwrap().vg;
    assert_eq!(vg.seqno, before.seqno + 1);
    assert_eq!(
        vg.lvs.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["m"]
    );
    assert_eq!(vg.lv("m").unwrap().segments, survivor);
    assert!(vg.pvs[1].is_missing());
    // Another node seeing the same failure later commits nothing.
    let again = ctx
        .remove_failed_images("vg", &uuid, &["m_mimage_1".into()])
        .unwrap();
    assert!(again.images.is_empty());
    let vg2 = ops::scan(&env).unwrap().read_vg("vg").unwrap().vg;
    assert_eq!(vg2.seqno, vg.seqno);
    // The disk is back: still MISSING (its copy of the metadata is older) until restored.
    env.open = Box::new(move |p: &Path| open(p));
    let ctx = Ctx { env: &env };
    let vg = ops::scan(&env).unwrap().read_vg("vg").unwrap().vg;
    assert!(vg.pvs[1].is_missing());
    let vg = ctx
        .vgextend(&VgextendOptions {
            vg: "vg".into(),
            pvs: vec![paths[1].clone()],
            restore_missing: true,
        })
        .unwrap();
    assert!(!vg.pvs[1].is_missing());
    let vg = ops::scan(&env).unwrap().read_vg("vg").unwrap().vg;
    assert!(!vg.pvs[1].is_missing());
    assert_eq!(vg.lv("m").unwrap().segments, survivor);
}
