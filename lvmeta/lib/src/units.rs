//! Sizes as lvm prints and parses them (`--units`, `-L 10G`, `+4m`).
//!
//! Printing follows libdm's `dm_size_to_string` with lvm's defaults (SI-consistent units:
//! lower case letters are powers of 1024, upper case powers of 1000; `r` is the default human
//! style that prefixes `<` when rounding hides a remainder).

/// An output unit as given to `--units`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// `h`/`H`/`r`/`R`: pick the largest unit; `R`/`r` mark rounding with `<`.
    Human { si: bool, mark_rounding: bool },
    /// A fixed factor in bytes and the suffix letter.
    Fixed {
        factor: u64,
        suffix: &'static str,
        precision: usize,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitsError {
    #[error("invalid units specification {0:?} (use one of hHbBsSkKmMgGtTpPeErR)")]
    Invalid(String),
    #[error("invalid size {0:?}")]
    BadSize(String),
    #[error("invalid extent count {0:?}")]
    BadExtents(String),
    #[error("size {arg:?} is not a multiple of 512 (nearest {down} or {up})")]
    NotSectors { arg: String, down: u64, up: u64 },
}

impl Default for Units {
    fn default() -> Self {
        Units::Human {
            si: false,
            mark_rounding: true,
        }
    }
}

/// Unit letters: the binary suffix, the SI one, the power.
const BIN: [(&str, &str, u32); 6] = [
    ("e", "E", 6),
    ("p", "P", 5),
    ("t", "T", 4),
    ("g", "G", 3),
    ("m", "M", 2),
    ("k", "K", 1),
];

impl Units {
    pub fn parse(s: &str) -> Result<Units, UnitsError> {
        let bad = || UnitsError::Invalid(s.to_string());
        let mut chars = s.chars();
        let c = chars.next().ok_or_else(bad)?;
        if chars.next().is_some() {
            return Err(bad());
        }
        Ok(match c {
            // Upper case: powers of 1000; r/R: lvm2's '<' before a rounded value.
            'h' | 'H' | 'r' | 'R' => Units::Human {
                si: c.is_ascii_uppercase(),
                mark_rounding: c.eq_ignore_ascii_case(&'r'),
            },
            // lvm2 writes bytes with an upper-case B whichever case was asked for.
            'b' | 'B' => Units::Fixed {
                factor: 1,
                suffix: "B",
                precision: 0,
            },
            's' | 'S' => Units::Fixed {
                factor: 512,
                suffix: "S",
                precision: 0,
            },
            _ => {
                let lower = c.to_ascii_lowercase();
                let (name, up, pow) = BIN
                    .iter()
                    .find(|(n, _, _)| n.starts_with(lower))
                    .ok_or_else(bad)?;
                let (base, suffix) = if c.is_ascii_lowercase() {
                    (1024u64, *name)
                } else {
                    (1000, *up)
                };
                Units::Fixed {
                    factor: base.pow(*pow),
                    suffix,
                    precision: 2,
                }
            }
        })
    }

    /// Formats a size given in 512-byte sectors.
    pub fn format(&self, sectors: u64, suffix: bool) -> String {
        let mut out = String::new();
        self.format_into(&mut out, sectors, suffix);
        out
    }

    /// [`Units::format`] appended to `out` (reports format thousands of sizes).
    pub fn format_into(&self, out: &mut String, sectors: u64, suffix: bool) {
        use std::fmt::Write as _;
        if sectors == 0 {
            out.push('0');
            match self {
                Units::Human { .. } if suffix => out.push(' '),
                Units::Fixed { suffix: s, .. } if suffix => out.push_str(s),
                _ => {}
            }
            return;
        }
        let bytes = sectors as f64 * 512.0;
        // Writing into a String cannot fail.
        let _ = match *self {
            Units::Fixed {
                factor,
                suffix: s,
                precision,
            } => {
                let v = bytes / factor as f64;
                write!(out, "{v:.precision$}{}", if suffix { s } else { "" })
            }
            Units::Human { si, mark_rounding } => {
                let base: u64 = if si { 1000 } else { 1024 };
                let names: [&str; 7] = if si {
                    ["E", "P", "T", "G", "M", "K", "B"]
                } else {
                    ["e", "p", "t", "g", "m", "k", "b"]
                };
                let total = sectors as u128 * 512;
                let mut byte: u128 = (base as u128).pow(6);
                let mut i = 0;
                while i < 6 && total < byte {
                    byte /= base as u128;
                    i += 1;
                }
                let mut prefix = "";
                if i < 6 && mark_rounding {
                    // C's nearbyintl rounds half to even: 1.125m prints as 1.12m, no "<".
                    let d = 100.0 * total as f64 / byte as f64;
                    if (d.floor() - d.round_ties_even()).abs() > 1e-9 {
                        prefix = "<";
                    }
                }
                let (precision, name) = if i == 6 { (0, names[6]) } else { (2, names[i]) };
                let v = total as f64 / byte as f64;
                // --nosuffix is ignored for human units, as in lvm.
                write!(out, "{prefix}{v:.precision$}{name}")
            }
        };
    }
}

/// How a `-L`/`--size` argument changes a size (the model's size rules use it too).
pub use lvmeta_model::sizing::Sign;

/// Parses an lvm size argument as lvm2's `_size_arg` does (`10G`, `+512m`, `-1t`, `100`,
/// `4.5g`, `0x10`, `1e3k`): an optional sign, a number as C's `strtod` reads it (decimal with
/// fraction and exponent, or hexadecimal), then a unit letter `kmgtpebs` in either case (powers
/// of 1024; `b` bytes, which must be whole sectors; `s` sectors; more text after the letter is
/// ignored, as lvm2 ignores it); no letter means MiB. Returns whole sectors (a fraction of a
/// sector is dropped, as lvm2 drops it).
pub fn parse_size(s: &str) -> Result<(Sign, u64), UnitsError> {
    let bad = || UnitsError::BadSize(s.to_string());
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (Sign::Plus, &s[1..]),
        Some(b'-') => (Sign::Minus, &s[1..]),
        _ => (Sign::Absolute, s),
    };
    let (value, unit) = strtod(rest).ok_or_else(bad)?;
    let sectors: f64 = match unit.chars().next().map(|c| c.to_ascii_lowercase()) {
        None => value * 2048.0,
        Some('s') => value,
        Some('b') => {
            let bytes = value as u64;
            if bytes % 512 != 0 {
                let up = bytes + 512 - bytes % 512;
                return Err(UnitsError::NotSectors {
                    arg: s.to_string(),
                    down: up - 512,
                    up,
                });
            }
            (bytes / 512) as f64
        }
        Some(c) => {
            let pow = "kmgtpe".find(c).ok_or_else(bad)? as i32;
            value * 1024f64.powi(pow) * 2.0
        }
    };
    if !sectors.is_finite() || sectors < 0.0 || sectors >= (u64::MAX >> 9) as f64 {
        return Err(bad());
    }
    Ok((sign, sectors as u64))
}

/// The number at the start of `s` as `strtod` reads it, and the rest; None if none.
fn strtod(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    if b.len() > 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' {
        let end = 2 + b[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if end == 2 {
            return Some((0.0, &s[1..]));
        }
        let v = u64::from_str_radix(&s[2..end], 16).ok()? as f64;
        return Some((v, &s[end..]));
    }
    let mut end = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let int_digits = end;
    let mut frac_digits = 0;
    if b.get(end) == Some(&b'.') {
        frac_digits = b[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        end += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(b.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let digits = b[e..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            end = e + digits;
        }
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// An `-l`/`--extents` argument: a count, or a percentage of something.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExtentsArg {
    Count(u64),
    PercentFree(u32),
    PercentVg(u32),
    PercentPvs(u32),
    PercentLv(u32),
    PercentOrigin(u32),
}

pub fn parse_extents(s: &str) -> Result<(Sign, ExtentsArg), UnitsError> {
    let bad = || UnitsError::BadExtents(s.to_string());
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (Sign::Plus, &s[1..]),
        Some(b'-') => (Sign::Minus, &s[1..]),
        _ => (Sign::Absolute, s),
    };
    if let Some((n, what)) = rest.split_once('%') {
        // lvm2 takes any percentage below 2^32 (`-l 150%FREE` takes what there is).
        let pct: u32 = n.parse().map_err(|_| bad())?;
        if pct == u32::MAX {
            return Err(bad());
        }
        // lvm2's abbreviations (`_get_percent_arg`), any case.
        let arg = match what.to_ascii_uppercase().as_str() {
            "F" | "FR" | "FREE" => ExtentsArg::PercentFree(pct),
            "V" | "VG" => ExtentsArg::PercentVg(pct),
            "P" | "PV" | "PVS" => ExtentsArg::PercentPvs(pct),
            "L" | "LV" => ExtentsArg::PercentLv(pct),
            "O" | "OR" | "ORIGIN" => ExtentsArg::PercentOrigin(pct),
            _ => return Err(bad()),
        };
        return Ok((sign, arg));
    }
    Ok((sign, ExtentsArg::Count(rest.parse().map_err(|_| bad())?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lvm_default_human_formats() {
        let r = Units::default();
        assert_eq!(r.format(16384, true), "8.00m");
        assert_eq!(r.format(245760, true), "120.00m");
        assert_eq!(r.format(0, true), "0 ");
        assert_eq!(r.format(128, true), "64.00k");
        // 2043 MiB shows as <2.00g
        assert_eq!(r.format(2043 * 2048, true), "<2.00g");
        assert_eq!(
            Units::parse("h").unwrap().format(2043 * 2048, true),
            "2.00g"
        );
    }

    #[test]
    fn fixed_units() {
        assert_eq!(Units::parse("b").unwrap().format(16384, true), "8388608B");
        assert_eq!(Units::parse("B").unwrap().format(16384, true), "8388608B");
        assert_eq!(Units::parse("s").unwrap().format(16384, true), "16384S");
        assert_eq!(Units::parse("m").unwrap().format(245760, false), "120.00");
        assert_eq!(Units::parse("M").unwrap().format(2048, true), "1.05M");
        assert!(Units::parse("x").is_err());
        assert!(Units::parse("mm").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8").unwrap(), (Sign::Absolute, 16384));
        assert_eq!(parse_size("+4m").unwrap(), (Sign::Plus, 8192));
        assert_eq!(parse_size("-1G").unwrap(), (Sign::Minus, 2097152));
        assert_eq!(parse_size("64k").unwrap(), (Sign::Absolute, 128));
        assert_eq!(parse_size("1.5k").unwrap(), (Sign::Absolute, 3));
        // lvm2 reads numbers with strtod: hexadecimal and exponents too.
        assert_eq!(parse_size("0x10").unwrap(), (Sign::Absolute, 16 * 2048));
        assert_eq!(parse_size("1e1").unwrap(), (Sign::Absolute, 10 * 2048));
        assert_eq!(parse_size("1024b").unwrap(), (Sign::Absolute, 2));
        assert!(matches!(
            parse_size("1000b"),
            Err(UnitsError::NotSectors {
                down: 512,
                up: 1024,
                ..
            })
        ));
        assert_eq!(parse_size("0.1m").unwrap(), (Sign::Absolute, 204));
        assert!(parse_size("").is_err());
        assert!(parse_size("4q").is_err());
        assert_eq!(
            parse_extents("100%FREE").unwrap(),
            (Sign::Absolute, ExtentsArg::PercentFree(100))
        );
        assert_eq!(
            parse_extents("+3").unwrap(),
            (Sign::Plus, ExtentsArg::Count(3))
        );
        assert_eq!(
            parse_extents("101%free").unwrap(),
            (Sign::Absolute, ExtentsArg::PercentFree(101))
        );
        assert_eq!(
            parse_extents("-50%LV").unwrap(),
            (Sign::Minus, ExtentsArg::PercentLv(50))
        );
        assert!(parse_extents("5%XX").is_err());
    }

    proptest! {
        #[test]
        fn parse_size_never_panics(s in ".{0,12}") { let _ = parse_size(&s); let _ = parse_extents(&s); }
        #[test]
        fn mib_roundtrip(n in 1u64..1_000_000) {
            prop_assert_eq!(parse_size(&format!("{n}m")).unwrap().1, n * 2048);
            prop_assert_eq!(Units::parse("m").unwrap().format(n * 2048, true), format!("{n}.00m"));
        }
    }
}
