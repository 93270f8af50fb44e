//! Local time as lvm2 reads and prints it through the C library: `localtime_r`, `mktime`
//! (with its normalisation of out-of-range fields and its `tm_isdst` rules) and the default
//! `report/time_format` (`%Y-%m-%d %T %z`). The rules of the time zone (`TZ`, else
//! /etc/localtime, as glibc) sit behind [`ZoneRules`], so the arithmetic is tested with made-up
//! zones and no I/O.

use lvmeta_model::time::{civil_from_days, days_from_civil};
use std::sync::Arc;

/// A time zone: the UTC offset and whether daylight saving time is in force at an instant.
pub trait ZoneRules: Send + Sync {
    /// (seconds east of UTC, DST) at unix time `t`.
    fn at(&self, t: i64) -> (i64, bool);
}

/// A time zone to compute with (cheap to clone).
#[derive(Clone)]
pub struct Zone(Arc<dyn ZoneRules>);

impl std::fmt::Debug for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Zone")
    }
}

struct Fixed(i64);

impl ZoneRules for Fixed {
    fn at(&self, _: i64) -> (i64, bool) {
        (self.0, false)
    }
}

/// The system's zone as glibc finds it (`TZ`, else /etc/localtime), read by jiff when first
/// needed (most reports print no time).
struct System(std::sync::OnceLock<jiff::tz::TimeZone>);

impl ZoneRules for System {
    fn at(&self, t: i64) -> (i64, bool) {
        let tz = self
            .0
            .get_or_init(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC));
        match jiff::Timestamp::from_second(t) {
            Ok(ts) => {
                let info = tz.to_offset_info(ts);
                (
                    i64::from(info.offset().seconds()),
                    info.dst() == jiff::tz::Dst::Yes,
                )
            }
            Err(_) => (0, false),
        }
    }
}

impl Zone {
    pub fn new(rules: Arc<dyn ZoneRules>) -> Zone {
        Zone(rules)
    }
    pub fn utc() -> Zone {
        Zone::fixed(0)
    }
    /// A zone `offset` seconds east of UTC, without DST.
    pub fn fixed(offset: i64) -> Zone {
        Zone(Arc::new(Fixed(offset)))
    }
    /// This host's zone: `TZ`, else /etc/localtime; UTC when neither can be read (glibc's
    /// fallback too).
    pub fn system() -> Zone {
        Zone(Arc::new(System(std::sync::OnceLock::new())))
    }

    pub fn at(&self, t: i64) -> (i64, bool) {
        self.0.at(t)
    }

    /// `localtime_r`.
    pub fn localtime(&self, t: i64) -> Tm {
        let (off, dst) = self.at(t);
        let mut tm = Tm::from_naive(t + off);
        tm.isdst = i32::from(dst);
        tm.gmtoff = off;
        tm
    }

    /// `mktime`: normalises `tm` (fields out of range carry over, as glibc) and returns the
    /// unix time. `tm.isdst` < 0: whatever the zone says; 0 or > 0: the wall time is read as
    /// standard or daylight time, and when the zone says otherwise at that instant the offset
    /// of a nearby instant with the asked DST is used (glibc's search).
    pub fn mktime(&self, tm: &mut Tm) -> i64 {
        // glibc: -1 for a time time_t cannot hold (tm left alone).
        let Some(naive) = tm.naive() else {
            return -1;
        };
        let mut off = self.at(naive).0;
        for _ in 0..3 {
            let o = self.at(naive - off).0;
            if o == off {
                break;
            }
            off = o;
        }
        let mut t = naive - off;
        if tm.isdst >= 0 && self.at(t).1 != (tm.isdst > 0) {
            let want = tm.isdst > 0;
            // glibc probes instants up to about a year away for one with the asked DST.
            let other = (1..=24)
                .flat_map(|k| [t - k * 15 * 86_400, t + k * 15 * 86_400])
                .map(|p| self.at(p))
                .find(|&(_, d)| d == want);
            if let Some((o, _)) = other {
                t = naive - o;
            }
        }
        *tm = self.localtime(t);
        t
    }

    /// lvm2's default `report/time_format`, `%Y-%m-%d %T %z`, in this zone.
    pub fn format_default(&self, t: i64) -> String {
        let tm = self.localtime(t);
        let sign = if tm.gmtoff < 0 { '-' } else { '+' };
        let o = tm.gmtoff.abs();
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
            tm.year + 1900,
            tm.mon + 1,
            tm.mday,
            tm.hour,
            tm.min,
            tm.sec,
            o / 3600,
            o / 60 % 60
        )
    }
}

/// C's `struct tm`: `year` counts from 1900, `mon` from 0, `wday` 0 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tm {
    pub year: i64,
    pub mon: i64,
    pub mday: i64,
    pub hour: i64,
    pub min: i64,
    pub sec: i64,
    pub wday: i64,
    pub isdst: i32,
    pub gmtoff: i64,
}

impl Tm {
    /// The broken-down form of seconds since the epoch, read as UTC.
    fn from_naive(s: i64) -> Tm {
        let days = s.div_euclid(86_400);
        let secs = s.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Tm {
            year: y - 1900,
            mon: m - 1,
            mday: d,
            hour: secs / 3600,
            min: secs / 60 % 60,
            sec: secs % 60,
            wday: (days + 4).rem_euclid(7),
            isdst: 0,
            gmtoff: 0,
        }
    }

    /// The fields as seconds since the epoch read as UTC, out-of-range fields carried over
    /// (months into years, then days, hours, minutes, seconds added).
    fn naive(&self) -> Option<i64> {
        // Years beyond what any zone table covers are refused before they can overflow.
        const MAX_YEAR: i64 = 1 << 32;
        let y = self
            .year
            .checked_add(1900)?
            .checked_add(self.mon.div_euclid(12))?;
        if !(-MAX_YEAR..=MAX_YEAR).contains(&y) {
            return None;
        }
        let m = self.mon.rem_euclid(12) + 1;
        let days = days_from_civil(y, m, 1)
            .checked_add(self.mday)?
            .checked_sub(1)?;
        days.checked_mul(86_400)?
            .checked_add(self.hour.checked_mul(3600)?)?
            .checked_add(self.min.checked_mul(60)?)?
            .checked_add(self.sec)
    }

    /// `gmtime_r`.
    pub fn gmtime(t: i64) -> Tm {
        Tm::from_naive(t)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Central European time with EU rules (last Sunday of March / October, 01:00 UTC).
    pub(crate) struct Cet;

    impl ZoneRules for Cet {
        fn at(&self, t: i64) -> (i64, bool) {
            let y = Tm::gmtime(t).year + 1900;
            let last_sunday = |m: i64| {
                let last = days_from_civil(y, m + 1, 1) - 1;
                let wday = (last + 4).rem_euclid(7);
                (last - wday) * 86_400 + 3600
            };
            if t >= last_sunday(3) && t < last_sunday(10) {
                (7200, true)
            } else {
                (3600, false)
            }
        }
    }

    #[test]
    fn formats_as_lvm2() {
        // `lvs -o lv_time` by lvm2 2.03.16 with TZ=UTC, TZ=Europe/Prague.
        assert_eq!(
            Zone::utc().format_default(1795306593),
            "2026-11-22 00:16:33 +0000"
        );
        let cet = Zone::new(Arc::new(Cet));
        assert_eq!(cet.format_default(1795306593), "2026-11-22 01:16:33 +0100");
        assert_eq!(cet.format_default(1783000000), "2026-07-02 15:46:40 +0200");
        assert_eq!(
            Zone::fixed(-(5 * 3600 + 1800)).format_default(0),
            "1969-12-31 18:30:00 -0530"
        );
    }

    #[test]
    fn mktime_normalises_and_honours_isdst() {
        let cet = Zone::new(Arc::new(Cet));
        let mut tm = Tm {
            year: 126,
            mon: 6,
            mday: 2,
            hour: 15,
            min: 46,
            sec: 40,
            isdst: -1,
            ..Tm::default()
        };
        assert_eq!(cet.mktime(&mut tm), 1783000000);
        assert_eq!(tm.isdst, 1);
        // Read as standard time in summer: one hour later, as glibc.
        let mut tm0 = Tm { isdst: 0, ..tm };
        assert_eq!(cet.mktime(&mut tm0), 1783000000 + 3600);
        // Carries: 2026-13-32 25:61:61 is 2027-02-02 02:02:01.
        let mut c = Tm {
            year: 126,
            mon: 12,
            mday: 32,
            hour: 25,
            min: 61,
            sec: 61,
            isdst: -1,
            ..Tm::default()
        };
        let t = Zone::utc().mktime(&mut c);
        assert_eq!(Zone::utc().format_default(t), "2027-02-02 02:02:01 +0000");
        assert_eq!((c.mon, c.mday, c.wday), (1, 2, 2));
    }

    proptest! {
        #[test]
        fn mktime_inverts_localtime(t in -2_000_000_000i64..4_000_000_000) {
            for z in [Zone::utc(), Zone::fixed(19800), Zone::new(Arc::new(Cet))] {
                // localtime's own isdst: mktime reads the wall time back to the instant.
                let mut tm = z.localtime(t);
                prop_assert_eq!(z.mktime(&mut tm), t);
            }
        }
    }
}
