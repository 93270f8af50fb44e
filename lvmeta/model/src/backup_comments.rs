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

/// The section a key is in: which comment it gets depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner<'a> {
    Vg,
    Pv,
    Lv,
    /// A segment of this `type`.
    Segment(&'a str),
}

/// The comment lvm2 writes after `key = v` in a backup file (`# 4 Megabytes`, `# Hint
/// only` ...), if any: the one table of them, used by both writers. `extent` is the VG's
/// extent size in sectors.
pub(crate) fn comment_for(owner: Owner, key: &str, v: &Value, extent: u64) -> Option<String> {
    let int = || v.as_int().and_then(|i| u64::try_from(i).ok());
    let extents = || int().map(|c| size_comment(c.saturating_mul(extent)));
    match (owner, key) {
        (Owner::Vg, "format") => Some("# informational".into()),
        (Owner::Vg, "extent_size") => int().map(size_comment),
        (Owner::Pv, "device") => Some("# Hint only".into()),
        (Owner::Pv, "dev_size" | "ba_size") => int().map(size_comment),
        (Owner::Pv, "pe_count") => extents(),
        (Owner::Lv, "creation_time") => {
            v.as_int().map(|t| format!("# {}", crate::time::iso_utc(t)))
        }
        (Owner::Lv, "read_ahead") => (v.as_int() == Some(-1)).then(|| "# None".into()),
        (Owner::Segment(_), "extent_count" | "reshape_count") => extents(),
        (Owner::Segment("striped"), "stripe_count") => {
            (v.as_int() == Some(1)).then(|| "# linear".into())
        }
        (Owner::Segment("striped"), "stripe_size") => int().map(size_comment),
        (Owner::Segment("mirror"), "extents_moved") => extents(),
        _ => None,
    }
}

/// Adds the comments of `owner`'s keys to `sec`: after the first entry of each key, unless
/// a comment follows it already.
fn annotate(sec: &mut Section, owner: Owner, extent: u64) {
    let mut seen: Vec<String> = Vec::new();
    let mut add = Vec::new();
    for (i, (k, n)) in sec.entries.iter().enumerate() {
        if seen.iter().any(|s| s == k) {
            continue;
        }
        seen.push(k.to_string());
        let Node::Value(v) = n else { continue };
        let has = sec
            .comments
            .iter()
            .any(|c| c.index == i && c.placement == CommentPlacement::After);
        if let (false, Some(text)) = (has, comment_for(owner, k, v, extent)) {
            add.push((i, text));
        }
    }
    for (i, text) in add {
        sec.add_comment(i, CommentPlacement::After, text);
    }
}

/// Adds lvm2's comments to a segment section written by the model.
pub(crate) fn annotate_segment(seg: &mut Section, extent: u64) {
    let ty = seg.get_str("type").unwrap_or_default().to_string();
    annotate(seg, Owner::Segment(&ty), extent);
}

/// Adds lvm2's comments to a VG section written by the model.
pub fn annotate_vg(vg: &mut Section) {
    let extent = vg
        .get_int("extent_size")
        .and_then(|i| u64::try_from(i).ok())
        .unwrap_or(0);
    annotate(vg, Owner::Vg, extent);
    // Every section by that name (an unknown value by the same name may come first).
    for (k, n) in &mut vg.entries {
        let Node::Section(list) = n else { continue };
        match &**k {
            "physical_volumes" => {
                for (_, n) in &mut list.entries {
                    if let Node::Section(pv) = n {
                        annotate(pv, Owner::Pv, extent);
                    }
                }
            }
            "logical_volumes" => {
                for (_, n) in &mut list.entries {
                    let Node::Section(lv) = n else { continue };
                    annotate(lv, Owner::Lv, extent);
                    for (_, sn) in &mut lv.entries {
                        if let Node::Section(seg) = sn {
                            annotate_segment(seg, extent);
                        }
                    }
                }
            }
            _ => {}
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
