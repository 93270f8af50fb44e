//! Fuzzes the LVM2 text parser and the model built on it. Properties checked on every input:
//! nothing panics; whatever parses is written back into text that parses to the same tree;
//! whatever the model accepts, it writes as metadata it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvmeta_model::{Layout, LvRequest};
use lvmeta_ondisk::units::{Extents, Sectors};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = lvmeta_text::parse(text) else {
        return;
    };
    for style in [lvmeta_text::Style::Metadata, lvmeta_text::Style::Backup] {
        let written = lvmeta_text::write_with(&doc, style);
        let again = lvmeta_text::parse(&written).expect("written text parses");
        assert_eq!(again, doc, "tree changed through {style:?} text");
    }
    let Ok(vg) = lvmeta_model::VolumeGroup::from_metadata(&doc) else {
        return;
    };
    let _ = vg.free_extents();
    let _ = vg.pv_free_extents();
    for lv in &vg.lvs {
        let _ = vg.lv_attr(&lv.name, true);
        let _ = vg.lv_segments(&lv.name);
        let _ = vg.parent_of(&lv.name);
    }
    // The allocator on whatever the model accepted: errors are fine, panics are not, and a
    // VG it changed still writes and reads back.
    let mut edited = vg.clone();
    let names: Vec<String> = edited.lvs.iter().map(|l| l.name.clone()).collect();
    let _ = edited.create_lv(LvRequest::new("fz_a", Extents(3), Layout::Linear));
    let _ = edited.create_lv(LvRequest::new(
        "fz_s",
        Extents(4),
        Layout::Striped {
            stripes: 2,
            stripe_size: Sectors(128),
        },
    ));
    let _ = edited.create_lv(LvRequest::new("fz_r", Extents(1), Layout::Raid1 { mirrors: 1 }));
    for name in names.iter().take(8) {
        let _ = edited.extend_lv(name, Extents(2), None);
        let _ = edited.reduce_lv(name, Extents(1));
    }
    if let Some(name) = names.first() {
        let _ = edited.rename_lv(name, "fz_renamed");
        let _ = edited.remove_lv("fz_renamed");
    }
    let text = lvmeta_text::write(&edited.to_metadata(&lvmeta_model::Trailer::new("f", "h", 0, None)));
    lvmeta_model::VolumeGroup::from_metadata(&lvmeta_text::parse(&text).expect("parses"))
        .expect("model reads what it wrote after edits");

    let trailer = lvmeta_model::Trailer::from_metadata(&doc)
        .unwrap_or_else(|_| lvmeta_model::Trailer::new("fuzz", "host", 0, None));
    let out = lvmeta_text::write(&vg.to_metadata(&trailer));
    let mut direct = String::new();
    vg.write_metadata(&trailer, &mut direct);
    assert_eq!(direct, out, "the direct writer writes what the tree writer writes");
    let reparsed = lvmeta_text::parse(&out).expect("model output parses");
    lvmeta_model::VolumeGroup::from_metadata(&reparsed).expect("model reads its own output");
});
