//! The informational comments lvm2 adds to backup files (`outsize`, `outhint`, `outfc` in
//! `lib/format_text/export.c`); metadata areas never carry them.

use lvmeta_text::{CommentPlacement, Node, Section, Value};

/// `# 4 Megabytes` for a size in sectors, as lvm2's `_sectors_to_units` prints it (`%g`).
pub fn size_comment(sectors: u64) -> String {
    const UNITS: [&str; 6] = [
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Petabytes",
        "Exabytes",
    ];
    let mut d = sectors as f64 / 2.0;
    let mut i = 0;
    while d > 1024.0 && i < UNITS.len() - 1 {
        d /= 1024.0;
        i += 1;
    }
    format!("# {} {}", format_g(d), UNITS[i])
}

/// C's `%g` for the values lvm2 prints (below 10^6 after unit scaling).
fn format_g(d: f64) -> String {
    if d == 0.0 {
        return "0".into();
    }
    let int_digits = (d.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (6 - int_digits).max(0) as usize;
    let s = format!("{d:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn comment(sec: &mut Section, key: &str, text: String) {
    if let Some(i) = sec.entries.iter().position(|(k, _)| k == key) {
        let has = sec
            .comments
            .iter()
            .any(|c| c.index == i && c.placement == CommentPlacement::After);
        if !has {
            sec.add_comment(i, CommentPlacement::After, text);
        }
    }
}

fn int(sec: &Section, key: &str) -> Option<u64> {
    sec.get_int(key).and_then(|i| u64::try_from(i).ok())
}

/// Adds lvm2's comments to a VG section written by the model.
pub fn annotate_vg(vg: &mut Section) {
    let extent = int(vg, "extent_size").unwrap_or(0);
    comment(vg, "format", "# informational".into());
    if let Some(e) = int(vg, "extent_size") {
        comment(vg, "extent_size", size_comment(e));
    }
    if let Some(pvs) = vg.get_section_mut("physical_volumes") {
        for (_, n) in &mut pvs.entries {
            if let Node::Section(pv) = n {
                comment(pv, "device", "# Hint only".into());
                if let Some(s) = int(pv, "dev_size") {
                    comment(pv, "dev_size", size_comment(s));
                }
                if let Some(c) = int(pv, "pe_count") {
                    comment(pv, "pe_count", size_comment(c.saturating_mul(extent)));
                }
                if let Some(s) = int(pv, "ba_size") {
                    comment(pv, "ba_size", size_comment(s));
                }
            }
        }
    }
    if let Some(lvs) = vg.get_section_mut("logical_volumes") {
        for (_, n) in &mut lvs.entries {
            let Node::Section(lv) = n else { continue };
            if let Some(t) = lv.get_int("creation_time") {
                comment(
                    lv,
                    "creation_time",
                    format!("# {}", crate::time::iso_utc(t)),
                );
            }
            if lv.get_int("read_ahead") == Some(-1) {
                comment(lv, "read_ahead", "# None".into());
            }
            for (_, sn) in &mut lv.entries {
                let Node::Section(seg) = sn else { continue };
                if let Some(c) = int(seg, "extent_count") {
                    comment(seg, "extent_count", size_comment(c.saturating_mul(extent)));
                }
                if let Some(c) = int(seg, "reshape_count") {
                    comment(seg, "reshape_count", size_comment(c.saturating_mul(extent)));
                }
                let ty = seg.get_str("type").unwrap_or_default().to_string();
                if ty == "striped" {
                    if seg.get_value("stripe_count") == Some(&Value::Int(1)) {
                        comment(seg, "stripe_count", "# linear".into());
                    }
                    if let Some(s) = int(seg, "stripe_size") {
                        comment(seg, "stripe_size", size_comment(s));
                    }
                }
                if ty == "mirror" {
                    if let Some(c) = int(seg, "extents_moved") {
                        comment(seg, "extents_moved", size_comment(c.saturating_mul(extent)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_lvm2_prints_them() {
        assert_eq!(size_comment(8192), "# 4 Megabytes");
        assert_eq!(size_comment(128), "# 64 Kilobytes");
        assert_eq!(size_comment(131072), "# 64 Megabytes");
        assert_eq!(size_comment(15 * 8192), "# 60 Megabytes");
        assert_eq!(size_comment(2048), "# 1024 Kilobytes");
        assert_eq!(size_comment(3), "# 1.5 Kilobytes");
        assert_eq!(size_comment(3 << 21), "# 3 Gigabytes");
        assert_eq!(size_comment(1_000_000), "# 488.281 Megabytes");
        assert_eq!(size_comment(0), "# 0 Kilobytes");
    }
}
