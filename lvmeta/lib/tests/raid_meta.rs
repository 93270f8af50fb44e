//! A new raid1's metadata sub-LVs start cleared, as lvm2 clears them (`_clear_lvs`): dm-raid
//! trusts a superblock it finds, so an old raid's metadata left on reused extents could make
//! the kernel call a new image in sync and skip its copy. In-memory PVs whose data areas hold
//! stale bytes; the images' own extents are left to the activation's zeroing (-Z).

mod common;

use lvmeta::ops::{Ctx, Layout, LvcreateOptions, SizeArg};
use lvmeta::units::Sign;
use lvmeta_model::alloc::pv_areas;
use lvmeta_ondisk::Bytes;

const STALE: u8 = 0xab;

#[test]
fn a_new_raid1_gets_cleared_metadata_sub_lvs_and_nothing_else_is_written() {
    let (env, paths) = common::mem_env(2);
    let ctx = Ctx { env: &env };
    common::new_vg(&ctx, "vg", &paths);
    let vg = Ctx { env: &env }.peek_vg("vg").unwrap().1.vg;
    let data_start = vg.pvs[0].pe_start.0 * 512;
    assert!(vg.pvs.iter().all(|p| p.pe_start.0 * 512 == data_start));
    for p in &paths {
        let dev = (env.open)(p).unwrap();
        dev.write_at(Bytes(data_start), &vec![STALE; 16 << 20])
            .unwrap();
    }
    ctx.lvcreate(&LvcreateOptions {
        vg: "vg".into(),
        name: "r".into(),
        size: SizeArg::Sectors(Sign::Absolute, 8 << 11),
        layout: Layout::Raid1 { mirrors: 1 },
        pvs: vec![],
    })
    .unwrap();
    let vg = Ctx { env: &env }.peek_vg("vg").unwrap().1.vg;
    // The first 4 KiB of an LV's first extent, and the byte after them.
    let start_of = |lv: &str| {
        let l = vg.lv(lv).unwrap();
        let (pv, start, _) = pv_areas(&l.segments[0]).into_iter().next().unwrap();
        let path = vg.pvs.iter().find(|p| p.name == pv).unwrap().device.clone();
        let dev = (env.open)(std::path::Path::new(&path.unwrap())).unwrap();
        let mut buf = vec![0u8; 4097];
        dev.read_at(Bytes(data_start + start * vg.extent_size.0 * 512), &mut buf)
            .unwrap();
        buf
    };
    for i in 0..2 {
        let meta = start_of(&format!("r_rmeta_{i}"));
        assert!(meta[..4096].iter().all(|&b| b == 0), "r_rmeta_{i} cleared");
        assert_eq!(meta[4096], STALE, "no more than lvm2's 4 KiB");
        let image = start_of(&format!("r_rimage_{i}"));
        assert!(image.iter().all(|&b| b == STALE), "r_rimage_{i} untouched");
    }
}
