//! Fuzzes the LVM2 text parser and the model built on it. Properties checked on every input:
//! nothing panics; whatever parses is written back into text that parses to the same tree;
//! whatever the model accepts, it writes as metadata it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;

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
    let trailer = lvmeta_model::Trailer::from_metadata(&doc)
        .unwrap_or_else(|_| lvmeta_model::Trailer::new("fuzz", "host", 0, None));
    let out = lvmeta_text::write(&vg.to_metadata(&trailer));
    let reparsed = lvmeta_text::parse(&out).expect("model output parses");
    lvmeta_model::VolumeGroup::from_metadata(&reparsed).expect("model reads its own output");
});
