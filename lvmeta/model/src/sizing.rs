//! lvm2's size arithmetic for `lvcreate` and `lvresize`, free of I/O: how `-L`, `-l` and
//! percentages become extents, how striped sizes round, and which resizes lvm2 refuses.
//!
//! Rules from lvm2 2.03 (`tools/lvcreate.c` `_update_extents_params`, `lib/metadata/
//! lv_manip.c` `_lvresize_adjust_size`, `_lvresize_extents_from_percent`,
//! `_lvresize_adjust_extents`, `_round_to_stripe_boundary`, `lib/misc/lvm-percent.c`):
//! - a byte size becomes extents rounded up, except a relative reduction (`-L -N`), which
//!   removes at most N (rounded down);
//! - `N%X` is `(N * count + 99) / 100` for resizes that do not reduce, `N * count / 100` for
//!   reductions and for `lvcreate`; `%FREE`/`%VG`/`%PVS` count physical extents and ask for
//!   "approximate" allocation (take what fits, up to the size);
//! - a striped size is rounded to whole stripes toward the original size, and down only when
//!   the VG has no room for the rounded-up size of a percentage;
//! - a resize that ends at the current size, at 0, or below 1 extent is refused.

/// How a size argument changes a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Absolute,
    Plus,
    Minus,
}

/// What a percentage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PercentOf {
    Free,
    Vg,
    Pvs,
    Lv,
    Origin,
}

/// A size as given: `-L` in sectors, `-l` in extents, or `-l N%X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Sectors(u64),
    Extents(u64),
    Percent(u32, PercentOf),
}

/// The VG's counts a size depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VgCounts {
    /// Extent size in sectors.
    pub extent_size: u64,
    pub extent_count: u64,
    pub free_count: u64,
    /// Free extents of the PVs named on the command line, when some were named.
    pub listed_pvs_free: Option<u64>,
}

/// The shape of an LV a resize looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvShape {
    /// Logical extents (the LV's size).
    pub le_count: u64,
    /// Physical extents of the LV and its sub-LVs (images, rmeta, logs).
    pub pe_count: u64,
    /// Per segment: (logical length, stripes, stripe size in sectors); 1 stripe for linear
    /// and for mirror/raid1 (their images are linear).
    pub segments: Vec<(u64, u64, u64)>,
    /// Images of a mirror/raid1 LV (`-m` + 1), 0 otherwise.
    pub images: u64,
}

/// Which command asks: lvextend, lvreduce or lvresize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Extend,
    Reduce,
    Any,
}

/// A new size: extents, and whether lvm2 would take less if less is free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sized {
    pub extents: u64,
    pub approx: bool,
    /// What lvm2 prints on stdout about rounding, in its words.
    pub notes: Vec<String>,
}

/// Sizes lvm2 refuses, in lvm2's words (exit code 5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("LV {lv} cannot shrink below 1 extent")]
    BelowOne { lv: String },
    #[error("new size of 0")]
    Zero,
    #[error("new size {new} extents equals the current size {cur}")]
    Matches { new: u64, cur: u64 },
    /// The same refusal, found after stripe rounding.
    #[error("new size {new} extents equals the current size {cur} after stripe rounding")]
    MatchesAfterRounding { new: u64, cur: u64 },
    #[error("new size {new} extents not larger than the current size {cur}")]
    NotLarger { new: u64, cur: u64 },
    #[error("new size {new} extents not less than the current size {cur}")]
    NotLess { new: u64, cur: u64 },
    #[error("calculated size of 0 extents")]
    CalculatedZero,
    #[error("size of 0 extents after adjusting")]
    AdjustedZero,
    #[error("a new LV's size cannot be a percentage of an LV (use %FREE, %PVS or %VG)")]
    PercentLvOnCreate,
    #[error("%ORIGIN of an LV without an origin")]
    NoOrigin,
    #[error("extending LV {lv} by {by} extents exceeds the limit of {limit}")]
    TooLarge { lv: String, by: u64, limit: u64 },
}

/// lvm2's `MAX_EXTENT_COUNT` (extent counts are 32-bit on disk).
pub const MAX_EXTENT_COUNT: u64 = u32::MAX as u64;

/// `percent_of_extents`.
pub fn percent_of(pct: u32, count: u64, round_up: bool) -> u64 {
    (u64::from(pct) * count + if round_up { 99 } else { 0 }) / 100
}

/// `_lvresize_adjust_size`: sectors to extents; up, except when reducing by an amount.
pub fn extents_of_size(sectors: u64, extent_size: u64, sign: Sign) -> (u64, bool) {
    let es = extent_size.max(1);
    let rest = sectors % es;
    if rest == 0 {
        return (sectors / es, false);
    }
    let rounded = if sign == Sign::Minus {
        sectors - rest
    } else {
        sectors - rest + es
    };
    (rounded / es, true)
}

/// Extents of a new LV (`lvcreate -L/-l`), before allocation. `images` is `-m` + 1 for
/// mirror/raid1 (else 0), `stripes` 1 for linear.
pub fn create_extents(
    amount: Amount,
    vg: &VgCounts,
    stripes: u64,
    stripe_size: u64,
    images: u64,
) -> Result<Sized, SizeError> {
    let mut notes = Vec::new();
    let (mut extents, approx) = match amount {
        Amount::Sectors(s) => {
            let (e, rounded) = extents_of_size(s, vg.extent_size, Sign::Absolute);
            if rounded {
                notes.push(format!(
                    "Rounding up size to full physical extent {}.",
                    display_size(e * vg.extent_size)
                ));
            }
            (e, false)
        }
        Amount::Extents(e) => (e, false),
        Amount::Percent(p, of) => {
            let e = match of {
                PercentOf::Vg => {
                    let e = percent_of(p, vg.extent_count, false);
                    if e > vg.free_count {
                        notes.push(format!(
                            "Reducing {p}%VG to remaining free space {} in VG.",
                            display_size(vg.free_count * vg.extent_size)
                        ));
                        vg.free_count
                    } else {
                        e
                    }
                }
                PercentOf::Free => percent_of(p, vg.free_count, false),
                PercentOf::Pvs => {
                    percent_of(p, vg.listed_pvs_free.unwrap_or(vg.extent_count), false)
                }
                PercentOf::Lv => return Err(SizeError::PercentLvOnCreate),
                PercentOf::Origin => return Err(SizeError::NoOrigin),
            };
            if e == 0 {
                return Err(SizeError::CalculatedZero);
            }
            let e = e.checked_div(images).map_or(e, |per| per.max(1));
            (e, true)
        }
    };
    let stripe_unit = stripes * (stripe_size / vg.extent_size.max(1)).max(1);
    if approx && stripes > 1 {
        let rest = extents % stripe_unit;
        if rest != 0 && vg.free_count < extents - rest + stripe_unit {
            notes.push(format!(
                "Rounding size ({extents} extents) down to stripe boundary size ({} extents)",
                extents - rest
            ));
            extents -= rest;
        }
    }
    if extents == 0 {
        return Err(SizeError::AdjustedZero);
    }
    if stripes > 1 && extents % stripes != 0 {
        let up = extents + stripes - extents % stripes;
        notes.push(format!(
            "Rounding size {} ({extents} extents) up to stripe boundary size {} ({up} extents).",
            display_size(extents * vg.extent_size),
            display_size(up * vg.extent_size)
        ));
        extents = up;
    }
    Ok(Sized {
        extents,
        approx,
        notes,
    })
}

/// The new size of an LV (`lvextend`/`lvreduce`/`lvresize`), as lvm2's
/// `_lvresize_adjust_extents` computes it for linear, striped, mirror and raid1 LVs.
pub fn resize_extents(
    lv_name: &str,
    lv: &LvShape,
    sign: Sign,
    amount: Amount,
    vg: &VgCounts,
    dir: Direction,
) -> Result<Sized, SizeError> {
    let mut notes = Vec::new();
    let cur = lv.le_count;
    let (mut extents, are_pes, pct, approx) = match amount {
        Amount::Sectors(s) => {
            let (e, rounded) = extents_of_size(s, vg.extent_size, sign);
            if rounded {
                notes.push(format!(
                    "Rounding size to boundary between physical extents: {}.",
                    display_size(e * vg.extent_size)
                ));
            }
            (e, false, false, false)
        }
        Amount::Extents(e) => (e, false, false, false),
        Amount::Percent(p, of) => {
            let up = sign != Sign::Minus;
            let e = match of {
                PercentOf::Vg => {
                    let e = percent_of(p, vg.extent_count, up);
                    if sign == Sign::Absolute && e > cur + vg.free_count {
                        notes.push(format!(
                            "Reducing {p}%VG to remaining free space {} in VG.",
                            display_size((cur + vg.free_count) * vg.extent_size)
                        ));
                        cur + vg.free_count
                    } else {
                        e
                    }
                }
                PercentOf::Free => percent_of(p, vg.free_count, up),
                PercentOf::Lv => percent_of(p, cur, up),
                PercentOf::Pvs => percent_of(p, vg.listed_pvs_free.unwrap_or(vg.extent_count), up),
                PercentOf::Origin => return Err(SizeError::NoOrigin),
            };
            let pes = matches!(of, PercentOf::Vg | PercentOf::Free | PercentOf::Pvs);
            let approx =
                (sign == Sign::Absolute && pes) || (sign == Sign::Plus && of == PercentOf::Free);
            (e, pes, true, approx)
        }
    };
    let are_pes = are_pes && lv.pe_count > 0;
    let existing = if are_pes { lv.pe_count } else { cur };
    let reducing = sign == Sign::Minus || (sign == Sign::Absolute && extents < existing);
    let last = lv.segments.last().copied().unwrap_or((cur, 1, 0));
    let (mut stripes, mut stripe_size) = (last.1, last.2);
    let seg_size;
    if !reducing {
        let mut grow = match sign {
            Sign::Plus => extents,
            _ => extents - existing,
        };
        // Physical extents of a mirror become logical extents per image.
        if are_pes && lv.images > 0 {
            grow /= lv.images;
        }
        if grow >= MAX_EXTENT_COUNT - cur {
            return Err(SizeError::TooLarge {
                lv: lv_name.to_string(),
                by: grow,
                limit: MAX_EXTENT_COUNT,
            });
        }
        seg_size = grow;
        extents = cur + grow;
    } else {
        let new = if sign == Sign::Minus {
            if extents >= existing {
                return Err(SizeError::BelowOne {
                    lv: lv_name.to_string(),
                });
            }
            existing - extents
        } else {
            extents
        };
        // The segment the new end falls in decides the stripes.
        let (mut le_used, mut pe_used) = (0u64, 0u64);
        let mut size_in_seg = new;
        let mut result = new;
        for &(len, st, ss) in &lv.segments {
            let pe_len = if lv.images > 0 { len * lv.images } else { len };
            stripes = st;
            stripe_size = ss;
            if are_pes {
                if new <= pe_used + pe_len {
                    let s = (new - pe_used)
                        .checked_div(lv.images)
                        .unwrap_or(new - pe_used);
                    size_in_seg = s;
                    result = le_used + s;
                    break;
                }
            } else if new <= le_used + len {
                size_in_seg = new - le_used;
                result = new;
                break;
            }
            le_used += len;
            pe_used += pe_len;
        }
        seg_size = size_in_seg;
        extents = result;
    }
    if extents == 0 {
        return Err(SizeError::Zero);
    }
    if extents == cur {
        return Err(SizeError::Matches { new: extents, cur });
    }
    if stripes > 1 {
        let unit = stripes * (stripe_size / vg.extent_size.max(1)).max(1);
        let rest = seg_size % unit;
        if rest != 0 && (extents < cur || !pct || vg.free_count >= extents - cur - rest + unit) {
            let up = extents - rest + unit;
            notes.push(format!(
                "Rounding size ({extents} extents) up to stripe boundary size for segment ({up} extents)."
            ));
            extents = up;
        } else if rest != 0 {
            notes.push(format!(
                "Rounding size ({extents} extents) down to stripe boundary size for segment ({} extents)",
                extents - rest
            ));
            extents -= rest;
        }
    }
    if extents < cur {
        if dir == Direction::Extend {
            return Err(SizeError::NotLarger { new: extents, cur });
        }
    } else if extents > cur {
        if dir == Direction::Reduce {
            return Err(SizeError::NotLess { new: extents, cur });
        }
    } else {
        return Err(SizeError::MatchesAfterRounding { new: extents, cur });
    }
    Ok(Sized {
        extents,
        approx,
        notes,
    })
}

impl crate::VolumeGroup {
    /// The shape [`resize_extents`] needs, of LV `name` (None if there is no such LV).
    pub fn lv_shape(&self, name: &str) -> Option<LvShape> {
        use crate::SegmentKind;
        let lv = self.lv(name)?;
        let mut images = 0;
        let mut segments = Vec::new();
        for s in &lv.segments {
            match &s.kind {
                SegmentKind::Striped { areas, stripe_size } => {
                    segments.push((s.extent_count.0, areas.len().max(1) as u64, stripe_size.0))
                }
                SegmentKind::Mirror { legs, .. } => {
                    images = legs.len() as u64;
                    segments.push((s.extent_count.0, 1, 0));
                }
                SegmentKind::Raid1 { images: i, .. } => {
                    images = i.len() as u64;
                    segments.push((s.extent_count.0, 1, 0));
                }
                _ => segments.push((s.extent_count.0, 1, 0)),
            }
        }
        // Physical extents of the LV and every sub-LV (lvm2's `_lv_pe_count`).
        let mut pe_count = 0;
        let mut todo = vec![lv.name.clone()];
        let mut seen = Vec::new();
        while let Some(n) = todo.pop() {
            if seen.contains(&n) {
                continue;
            }
            let Some(l) = self.lv(&n) else { continue };
            for s in &l.segments {
                if let SegmentKind::Striped { .. } = s.kind {
                    pe_count += s.extent_count.0;
                }
            }
            todo.extend(l.sub_lv_names());
            seen.push(n);
        }
        Some(LvShape {
            le_count: lv.size().0,
            pe_count,
            segments,
            images,
        })
    }

    /// The counts [`resize_extents`] and [`create_extents`] need; `listed` are the PV keys
    /// named on the command line.
    pub fn size_counts(&self, listed: Option<&[String]>) -> VgCounts {
        VgCounts {
            extent_size: self.extent_size.0,
            extent_count: self.total_extents().0,
            free_count: self.free_extents().0,
            listed_pvs_free: listed.map(|k| {
                self.pv_free_extents()
                    .iter()
                    .filter(|(key, _)| k.contains(key))
                    .map(|(_, f)| f.0)
                    .sum()
            }),
        }
    }
}

/// lvm2's `display_size` with its default units (`20.00 MiB`).
pub fn display_size(sectors: u64) -> String {
    const UNITS: [&str; 6] = ["EiB", "PiB", "TiB", "GiB", "MiB", "KiB"];
    let bytes = sectors as u128 * 512;
    if bytes == 0 {
        return "0   ".to_string();
    }
    let mut unit: u128 = 1 << 60;
    for name in UNITS {
        if bytes >= unit {
            return format!("{:.2} {name}", bytes as f64 / unit as f64);
        }
        unit >>= 10;
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vg(free: u64) -> VgCounts {
        VgCounts {
            extent_size: 8192,
            extent_count: 45,
            free_count: free,
            listed_pvs_free: None,
        }
    }

    fn linear(le: u64) -> LvShape {
        LvShape {
            le_count: le,
            pe_count: le,
            segments: vec![(le, 1, 0)],
            images: 0,
        }
    }

    fn striped(le: u64, stripes: u64) -> LvShape {
        LvShape {
            le_count: le,
            pe_count: le,
            segments: vec![(le, stripes, 128)],
            images: 0,
        }
    }

    #[test]
    fn striped_reduce_that_would_not_shrink_is_refused() {
        // issue 11 item 1: -i3 -l3, lvreduce -l -2 → rounds back up to 3 and is refused.
        let e = resize_extents(
            "vg/lv",
            &striped(3, 3),
            Sign::Minus,
            Amount::Extents(2),
            &vg(42),
            Direction::Reduce,
        );
        assert_eq!(e, Err(SizeError::MatchesAfterRounding { new: 3, cur: 3 }));
        let e = resize_extents(
            "vg/lv",
            &striped(3, 3),
            Sign::Minus,
            Amount::Extents(3),
            &vg(42),
            Direction::Reduce,
        );
        assert_eq!(e, Err(SizeError::BelowOne { lv: "vg/lv".into() }));
        let ok = resize_extents(
            "vg/lv",
            &striped(6, 3),
            Sign::Absolute,
            Amount::Extents(7),
            &vg(42),
            Direction::Any,
        )
        .unwrap();
        assert_eq!(ok.extents, 9);
    }

    #[test]
    fn relative_reduce_removes_at_most_what_was_asked() {
        // issue 11 item 2 (4 MiB extents): 8m LV -1536k → no change; 40m -21m → 20m.
        let e = resize_extents(
            "vg/a",
            &linear(2),
            Sign::Minus,
            Amount::Sectors(3072),
            &vg(40),
            Direction::Reduce,
        );
        assert_eq!(e, Err(SizeError::Matches { new: 2, cur: 2 }));
        let ok = resize_extents(
            "vg/b",
            &linear(10),
            Sign::Minus,
            Amount::Sectors(21 * 2048),
            &vg(40),
            Direction::Any,
        )
        .unwrap();
        assert_eq!(ok.extents, 5);
        // An absolute size rounds up: 13m → 16m.
        let ok = resize_extents(
            "vg/b",
            &linear(8),
            Sign::Absolute,
            Amount::Sectors(13 * 2048),
            &vg(40),
            Direction::Reduce,
        )
        .unwrap();
        assert_eq!(ok.extents, 4);
    }

    #[test]
    fn percentages_round_up_unless_reducing_or_creating() {
        assert_eq!(percent_of(33, 10, true), 4);
        assert_eq!(percent_of(33, 10, false), 3);
        let ok = resize_extents(
            "vg/a",
            &linear(2),
            Sign::Plus,
            Amount::Percent(33, PercentOf::Free),
            &vg(10),
            Direction::Extend,
        )
        .unwrap();
        assert_eq!((ok.extents, ok.approx), (6, true));
        let c = create_extents(Amount::Percent(33, PercentOf::Free), &vg(10), 1, 0, 0).unwrap();
        assert_eq!((c.extents, c.approx), (3, true));
        assert_eq!(display_size(0), "0   ");
        assert_eq!(display_size(40960), "20.00 MiB");
    }

    proptest! {
        #[test]
        fn a_granted_resize_changes_the_size_in_whole_stripes(
            le in 1u64..50, stripes in 1u64..4, by in 0u64..60, minus in any::<bool>(),
            sectors in any::<bool>(), free in 0u64..100,
        ) {
            let le = le * stripes;
            let lv = striped(le, stripes);
            let sign = if minus { Sign::Minus } else { Sign::Plus };
            let amount = if sectors { Amount::Sectors(by * 3000) } else { Amount::Extents(by) };
            if let Ok(s) = resize_extents("vg/x", &lv, sign, amount, &vg(free), Direction::Any) {
                prop_assert!(s.extents > 0);
                prop_assert_ne!(s.extents, le);
                prop_assert_eq!(s.extents % stripes, 0);
                prop_assert_eq!(s.extents < le, minus);
            }
        }
    }
}
