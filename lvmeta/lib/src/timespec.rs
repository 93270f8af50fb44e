//! Time values of `-S` on time fields (`lv_time`), as lvm2 2.03 reads them: `@SECONDS`,
//! libdm's formatted dates (`YYYY[-MM[-DD]] [hh[:mm[:ss]]] [+-hh[:mm]]` and the short forms
//! without separators), and lvm2's natural forms (report.c's `_lv_time_handler`: `today`,
//! `yesterday`, weekdays, months, `noon`, `midnight`, `N units ago`, `AM`/`PM`, ...), each
//! with lvm2's rounding to a range and lvm2's error lines.
//!
//! lvm2's quirks are kept, since scripts see them: libdm's end of a day range looks the days
//! of the month up one month early (and January's as 0), so `2026-03-31` spans the whole of
//! April too and `2026-12` all of 2027; `!=` on a range selects what `=` selects.

use crate::localtime::{Tm, Zone};

/// A parsed time value: one instant, or the range `t1..=t2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeValue {
    pub t1: i64,
    pub t2: Option<i64>,
}

/// What the time is read against: lvm2 takes "now" once per report and the C library's zone.
#[derive(Debug, Clone)]
pub struct Clock {
    pub now: i64,
    pub zone: Zone,
}

impl Clock {
    pub fn system() -> Clock {
        Clock {
            now: now(),
            zone: Zone::system(),
        }
    }
}

/// The system clock, in seconds since the epoch (0 before it).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// C's `strtol` on a byte string: leading space, sign, digits; (value, bytes read, overflow).
fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && (s[i] as char).is_ascii_whitespace() {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    let mut over = false;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = i64::from(s[i] - b'0');
        match v.checked_mul(10).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => over = true,
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    if over {
        v = i64::MAX;
    }
    (if neg { -v } else { v }, i, over)
}

/// Byte at `i`, NUL past the end (the C strings these rules were written for).
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while at(s, i) != 0 && (at(s, i) as char).is_ascii_whitespace() {
        i += 1;
    }
    i
}

// ---- libdm's formatted dates (libdm-report.c `_parse_formatted_date_time`) ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Range {
    None,
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// libdm's `_get_days_in_month(month, year)`: `month` 1-12; 0 reads before the table
/// (lvm2 2.03.16 behaves as if it held 0 there).
fn days_in_month(month: i64, year: i64) -> i64 {
    const DAYS: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) {
        return 0;
    }
    if month == 2 && is_leap(year) {
        29
    } else {
        DAYS[(month - 1) as usize]
    }
}

/// What a date or a time is made of: the separator, how wide its first number is written
/// (`YYYY`, `hh`), the values the unwritten parts take, the range of one, two and three
/// parts, and the error for a bad length.
struct Shape {
    sep: u8,
    width: i64,
    unwritten: i64,
    ranges: [Range; 3],
    bad_format: &'static str,
}

const DATE_SHAPE: Shape = Shape {
    sep: b'-',
    width: 4,
    unwritten: 1,
    ranges: [Range::Year, Range::Month, Range::Day],
    bad_format: "Incorrect date format.",
};

const TIME_SHAPE: Shape = Shape {
    sep: b':',
    width: 2,
    unwritten: 0,
    ranges: [Range::Hour, Range::Minute, Range::Second],
    bad_format: "Incorrect time format.",
};

/// libdm's scan of `N1[sepN2[sepN3]]` or the same digits run together (`YYYYMMDD`,
/// `hhmmss`), as `_get_date` and `_get_time` both do it: the three numbers, the range
/// they name (None: all three written with separators) and where the scan ended.
fn three_parts(s: &[u8], shape: &Shape) -> Result<([i64; 3], Range, usize), Vec<String>> {
    let (mut n1, e, _) = strtol(s);
    let (mut n2, mut n3) = (-1, -1);
    let mut end = e;
    let mut len: i64 = 0;
    if at(s, end) == shape.sep {
        len += shape.width - end as i64;
        let p = end + 1;
        if at(s, p).is_ascii_digit() {
            let (v, e, _) = strtol(&s[p..]);
            n2 = v;
            end = p + e;
            len += 2 - e as i64;
            if at(s, end) == shape.sep {
                let p = end + 1;
                let (v, e, _) = strtol(s.get(p..).unwrap_or(&[]));
                n3 = v;
                end = p + e;
                len += 2 - e as i64;
            }
        }
    }
    let len = len + end as i64;
    let [one, two, three] = shape.ranges;
    let mut r = Range::None;
    if n3 == -1 {
        if n2 == -1 {
            match len - shape.width {
                0 => {
                    r = one;
                    n2 = shape.unwritten;
                    n3 = shape.unwritten;
                }
                2 => {
                    r = two;
                    n3 = shape.unwritten;
                    n2 = n1 % 100;
                    n1 /= 100;
                }
                4 => {
                    r = three;
                    n3 = n1 % 100;
                    n2 = (n1 / 100) % 100;
                    n1 /= 10000;
                }
                _ => return Err(vec![shape.bad_format.to_string()]),
            }
        } else if len == shape.width + 3 {
            r = two;
            n3 = shape.unwritten;
        } else {
            return Err(vec![shape.bad_format.to_string()]);
        }
    }
    Ok(([n1, n2, n3], r, end))
}

fn get_date(s: &[u8], tm: &mut Tm, range: &mut Range) -> Result<usize, Vec<String>> {
    let fail = |m: &str| Err(vec![m.to_string()]);
    if !at(s, 0).is_ascii_digit() {
        return Err(Vec::new());
    }
    let ([n1, n2, n3], mut r, end) = three_parts(s, &DATE_SHAPE)?;
    if !(1..=12).contains(&n2) {
        return fail("Specified month out of range.");
    }
    if n3 < 1 || n3 > days_in_month(n2, n1) {
        return fail("Specified day out of range.");
    }
    if r == Range::None {
        r = Range::Day;
    }
    tm.year = n1 - 1900;
    tm.mon = n2 - 1;
    tm.mday = n3;
    *range = r;
    Ok(skip_space(s, end))
}

fn get_time(s: &[u8], tm: &mut Tm, range: &mut Range) -> Result<usize, Vec<String>> {
    let fail = |m: &str| Err(vec![m.to_string()]);
    if !at(s, 0).is_ascii_digit() {
        tm.hour = 0;
        tm.min = 0;
        tm.sec = 0;
        return Ok(skip_space(s, 0));
    }
    let ([n1, n2, n3], r, end) = three_parts(s, &TIME_SHAPE)?;
    if !(0..=23).contains(&n1) {
        return fail("Specified hours out of range.");
    }
    if !(0..=60).contains(&n2) {
        return fail("Specified minutes out of range.");
    }
    if !(0..=60).contains(&n3) {
        return fail("Specified seconds out of range.");
    }
    if *range != Range::Day {
        return fail("Full date specification needed.");
    }
    tm.hour = n1;
    tm.min = n2;
    tm.sec = n3;
    *range = r;
    Ok(skip_space(s, end))
}

/// The zone suffix: (bytes read, offset east of GMT in seconds if given); None: malformed.
fn get_tz(s: &[u8]) -> Option<(usize, Option<i64>)> {
    let mut i = 0;
    let mut sign = 1;
    if !at(s, 0).is_ascii_digit() {
        match at(s, 0) {
            b'+' => i = 1,
            b'-' => {
                sign = -1;
                i = 1;
            }
            _ => return Some((skip_space(s, 0), None)),
        }
    }
    let (mut n1, e, _) = strtol(&s[i..]);
    let mut n2 = -1;
    let mut end = i + e;
    let mut start = i;
    let mut len: i64 = 0;
    if at(s, end) == b':' {
        len = 2 - (end - start) as i64;
        start = end + 1;
        if at(s, start).is_ascii_digit() {
            let (v, e, _) = strtol(&s[start..]);
            n2 = v;
            end = start + e;
            len = 2 - e as i64;
        }
    }
    let len = len + end as i64 - start as i64;
    if n2 == -1 {
        match len {
            2 => n2 = 0,
            4 => {
                n2 = n1 % 100;
                n1 /= 100;
            }
            _ => return None,
        }
    }
    if !(0..=60).contains(&n2) || !(0..=14).contains(&n1) {
        return None;
    }
    Some((skip_space(s, end), Some(sign * (n1 * 3600 + n2 * 60))))
}

/// libdm's `_local_tz_offset`.
fn local_tz_offset(zone: &Zone, t: i64) -> i64 {
    let mut g = Tm::gmtime(t);
    g.isdst = 0;
    let mut tg = zone.mktime(&mut g);
    if g.isdst > 0 {
        tg -= 3600;
    }
    t - tg
}

fn final_time(range: Range, tm: &Tm, tz: Option<i64>, zone: &Zone) -> TimeValue {
    let mut up = *tm;
    // libdm's cascade, with its month lookup one month early (see the module's note).
    let mut step = range;
    loop {
        match step {
            Range::Second if up.sec < 59 => up.sec += 1,
            Range::Second => {
                step = Range::Minute;
                continue;
            }
            Range::Minute if up.min < 59 => up.min += 1,
            Range::Minute => {
                step = Range::Hour;
                continue;
            }
            Range::Hour if up.hour < 23 => up.hour += 1,
            Range::Hour => {
                step = Range::Day;
                continue;
            }
            Range::Day if up.mday < days_in_month(up.mon, up.year) => up.mday += 1,
            Range::Day => {
                step = Range::Month;
                continue;
            }
            Range::Month if up.mon < 11 => up.mon += 1,
            Range::Month => {
                step = Range::Year;
                continue;
            }
            Range::Year => up.year += 1,
            Range::None => {}
        }
        break;
    }
    let mut tm1 = *tm;
    let mut t1 = zone.mktime(&mut tm1);
    let mut t2 = zone.mktime(&mut up) - 1;
    if let Some(offset) = tz {
        let off = offset - local_tz_offset(zone, t1);
        t1 -= off;
        t2 -= off;
    }
    TimeValue {
        t1,
        t2: (range != Range::None).then_some(t2),
    }
}

/// libdm's formatted date and time; Err: the lines lvm2 logs (possibly none).
fn parse_formatted(s: &[u8], zone: &Zone) -> Result<TimeValue, Vec<String>> {
    let mut tm = Tm {
        isdst: -1,
        ..Tm::default()
    };
    let mut range = Range::None;
    let i = get_date(s, &mut tm, &mut range)?;
    let j = i + get_time(&s[i..], &mut tm, &mut range)?;
    let (k, tz) = get_tz(&s[j..]).ok_or_else(Vec::new)?;
    if at(s, j + k) != 0 {
        return Err(Vec::new());
    }
    Ok(final_time(range, &tm, tz, zone))
}

// ---- lvm2's natural forms (report.c `_lv_time_handler_parse_fuzzy_name`) ----

/// report.c's `time_id_t`, in its order (granularities compare by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Id {
    Null,
    Num,
    Str,
    NumMultiplier,
    NumMultiplierNegative,
    NumDay,
    NumYear,
    FrameAgo,
    Today,
    Yesterday,
    Weekday(u8),
    Noon,
    Midnight,
    UnitSecond,
    UnitSecondRel,
    UnitMinute,
    UnitMinuteRel,
    UnitHour,
    UnitHourRel,
    Am,
    Pm,
    UnitDay,
    UnitWeek,
    UnitMonth,
    UnitYear,
    TzMinute,
    TzHour,
    /// `TIME_UNIT__END`: no granularity seen.
    UnitEnd,
    Month(u8),
}

const DATE: u8 = 1;
const TIME: u8 = 2;
const ABS: u8 = 4;
const REL: u8 = 8;

impl Id {
    /// (flags, granularity) from report.c's `_time_props`.
    fn prop(self) -> (u8, Id) {
        use Id::*;
        match self {
            NumDay | Today | Yesterday | Weekday(_) => (DATE | ABS, UnitDay),
            NumYear => (DATE | ABS, UnitYear),
            FrameAgo => (DATE | TIME | REL, Null),
            Noon | Midnight | UnitSecond => (TIME | ABS, UnitSecond),
            UnitSecondRel => (TIME | REL, UnitSecond),
            UnitMinute => (TIME | ABS, UnitMinute),
            UnitMinuteRel => (TIME | REL, UnitMinute),
            UnitHour | Am | Pm => (TIME | ABS, UnitHour),
            UnitHourRel => (TIME | REL, UnitHour),
            UnitDay => (DATE | REL, UnitDay),
            UnitWeek => (DATE | REL, UnitWeek),
            UnitMonth => (DATE | REL, UnitMonth),
            UnitYear => (DATE | REL, UnitYear),
            TzMinute | TzHour => (TIME | ABS, Null),
            Month(_) => (DATE | ABS, UnitMonth),
            _ => (0, Null),
        }
    }
    fn is_unit(self) -> bool {
        Id::UnitSecond <= self && self < Id::UnitEnd
    }
    fn is_month(self) -> bool {
        matches!(self, Id::Month(_))
    }
    fn is_num(self) -> bool {
        matches!(
            self,
            Id::NumMultiplier | Id::NumMultiplierNegative | Id::NumDay | Id::NumYear
        )
    }
    fn is_label_date(self) -> bool {
        matches!(self, Id::Today | Id::Yesterday | Id::Weekday(_))
    }
    fn is_label_time(self) -> bool {
        matches!(self, Id::Noon | Id::Midnight)
    }
}

/// report.c's `_time_reg`: name, meaning, plural with `s` allowed.
const WORDS: &[(&str, Id, bool)] = &[
    ("ago", Id::FrameAgo, false),
    ("today", Id::Today, false),
    ("yesterday", Id::Yesterday, false),
    ("Sunday", Id::Weekday(0), true),
    ("Sun", Id::Weekday(0), false),
    ("Monday", Id::Weekday(1), true),
    ("Mon", Id::Weekday(1), false),
    ("Tuesday", Id::Weekday(2), true),
    ("Tue", Id::Weekday(2), false),
    ("Wednesday", Id::Weekday(3), true),
    ("Wed", Id::Weekday(3), false),
    ("Thursday", Id::Weekday(4), true),
    ("Thu", Id::Weekday(4), false),
    ("Friday", Id::Weekday(5), true),
    ("Fri", Id::Weekday(5), false),
    ("Saturday", Id::Weekday(6), true),
    ("Sat", Id::Weekday(6), false),
    ("noon", Id::Noon, true),
    ("midnight", Id::Midnight, true),
    ("second", Id::UnitSecond, true),
    ("sec", Id::UnitSecond, true),
    ("s", Id::UnitSecond, false),
    ("minute", Id::UnitMinute, true),
    ("min", Id::UnitMinute, true),
    ("m", Id::UnitMinute, false),
    ("hour", Id::UnitHour, true),
    ("hr", Id::UnitHour, true),
    ("h", Id::UnitHour, false),
    ("AM", Id::Am, false),
    ("PM", Id::Pm, false),
    ("day", Id::UnitDay, true),
    ("week", Id::UnitWeek, true),
    ("month", Id::UnitMonth, true),
    ("year", Id::UnitYear, true),
    ("yr", Id::UnitYear, true),
    ("January", Id::Month(0), false),
    ("Jan", Id::Month(0), false),
    ("February", Id::Month(1), false),
    ("Feb", Id::Month(1), false),
    ("March", Id::Month(2), false),
    ("Mar", Id::Month(2), false),
    ("April", Id::Month(3), false),
    ("Apr", Id::Month(3), false),
    ("May", Id::Month(4), false),
    ("June", Id::Month(5), false),
    ("Jun", Id::Month(5), false),
    ("July", Id::Month(6), false),
    ("Jul", Id::Month(6), false),
    ("August", Id::Month(7), false),
    ("Aug", Id::Month(7), false),
    ("September", Id::Month(8), false),
    ("Sep", Id::Month(8), false),
    ("October", Id::Month(9), false),
    ("Oct", Id::Month(9), false),
    ("November", Id::Month(10), false),
    ("Nov", Id::Month(10), false),
    ("December", Id::Month(11), false),
    ("Dec", Id::Month(11), false),
];

#[derive(Debug, Clone, Copy)]
struct Item {
    id: Id,
    /// Offset of the item in the text, and its length.
    s: usize,
    len: usize,
}

/// report.c's `_move_till_item_end`: digits stop at the first non-digit, anything else at
/// a space.
fn item_end(s: &[u8], mut i: usize) -> usize {
    let num = at(s, i).is_ascii_digit();
    while at(s, i) != 0 && !(at(s, i) as char).is_ascii_whitespace() {
        if num && !at(s, i).is_ascii_digit() {
            break;
        }
        i += 1;
    }
    i
}

/// report.c's `_get_time` (hh:mm[:ss] or a zone's hh:mm); the position after it.
fn fuzzy_clock(s: &[u8], mut i: usize, items: &mut Vec<Item>, tz: i32) -> Option<usize> {
    let part = |items: &mut Vec<Item>, id: Id, i: usize, end: usize| {
        let m = if tz == -1 {
            Id::NumMultiplierNegative
        } else {
            Id::NumMultiplier
        };
        items.push(Item {
            id: m,
            s: i,
            len: end - i,
        });
        items.push(Item { id, s: end, len: 0 });
    };
    let end = item_end(s, i);
    part(
        items,
        if tz != 0 { Id::TzHour } else { Id::UnitHour },
        i,
        end,
    );
    if at(s, end) != b':' {
        return None;
    }
    i = end + 1;
    let end = item_end(s, i);
    part(
        items,
        if tz != 0 {
            Id::TzMinute
        } else {
            Id::UnitMinute
        },
        i,
        end,
    );
    if at(s, end) != b':' {
        // lvm2 steps over the character after the minutes, whatever it is.
        return Some(end + 1);
    }
    if tz != 0 {
        return None;
    }
    i = end + 1;
    let end = item_end(s, i);
    items.push(Item {
        id: Id::NumMultiplier,
        s: i,
        len: end - i,
    });
    items.push(Item {
        id: Id::UnitSecond,
        s: end,
        len: 0,
    });
    Some(end + 1)
}

/// The C string at `i` (to the NUL), for lvm2's messages.
fn c_str(s: &[u8], i: usize) -> String {
    let rest = s.get(i..).unwrap_or(&[]);
    let n = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..n]).into_owned()
}

/// lvm2's natural forms. `s` is the token, a NUL, then whatever followed the token's end
/// in the selection (lvm2 may read past the NUL after a clock time). None: not a natural
/// form (lvm2 then reads a formatted date); Some(Err): lines lvm2 logs on the way.
fn parse_fuzzy(s: &[u8], clock: &Clock) -> Option<Result<TimeValue, Vec<String>>> {
    let mut items: Vec<Item> = Vec::new();
    let mut fuzzy = false;
    let mut i = skip_space(s, 0);
    while at(s, i) != 0 {
        let c = at(s, i);
        if !(c.is_ascii_digit() || c == b'-' || c == b':' || c == b'+') {
            fuzzy = true;
        }
        let end = item_end(s, i);
        let id = if c.is_ascii_alphabetic() {
            Id::Str
        } else if c.is_ascii_digit() {
            if at(s, end) == b':' {
                i = fuzzy_clock(s, i, &mut items, 0)?;
                continue;
            }
            Id::Num
        } else if c == b'-' || c == b'+' {
            i = fuzzy_clock(s, i + 1, &mut items, if c == b'-' { -1 } else { 1 })?;
            continue;
        } else {
            return None;
        };
        items.push(Item {
            id,
            s: i,
            len: end - i,
        });
        i = skip_space(s, end);
    }
    if !fuzzy {
        return None;
    }
    Some(translate(s, items, clock))
}

struct Granularity {
    min_abs_date: Id,
    max_abs_date: Option<Id>,
    min_abs_time: Id,
    min_rel_time: Id,
}

fn translate(s: &[u8], mut items: Vec<Item>, clock: &Clock) -> Result<TimeValue, Vec<String>> {
    let err = |m: String| Err(vec![m]);
    // Words first; `ago` turns the clock units before it into relative ones.
    for k in 0..items.len() {
        if items[k].id == Id::Str {
            let it = items[k];
            let text = &s[it.s..it.s + it.len];
            let found = WORDS.iter().find(|(name, _, plural)| {
                let n = name.len();
                (text.len() == n || (*plural && text.len() == n + 1 && text[n] == b's'))
                    && text[..n].eq_ignore_ascii_case(name.as_bytes())
            });
            let Some(&(_, id, _)) = found else {
                return err(format!(
                    "Unrecognized string in date/time specification at \"{}\".",
                    c_str(s, it.s)
                ));
            };
            items[k].id = id;
            if id.is_unit() && k > 0 && items[k - 1].id == Id::Num {
                items[k - 1].id = Id::NumMultiplier;
            }
        }
        if items[k].id == Id::FrameAgo {
            for p in (0..k).rev() {
                if items[p].id == Id::FrameAgo {
                    break;
                }
                items[p].id = match items[p].id {
                    Id::UnitSecond => Id::UnitSecondRel,
                    Id::UnitMinute => Id::UnitMinuteRel,
                    Id::UnitHour => Id::UnitHourRel,
                    o => o,
                };
            }
        }
    }
    let mut g = Granularity {
        min_abs_date: Id::UnitEnd,
        max_abs_date: None,
        min_abs_time: Id::UnitEnd,
        min_rel_time: Id::UnitEnd,
    };
    for k in 0..items.len() {
        if items[k].id == Id::Num {
            let next = items.get(k + 1).map(|i| i.id);
            let len = items[k].len;
            items[k].id = if next.is_some_and(Id::is_month) {
                match items.get(k + 2) {
                    Some(nn) if nn.id == Id::Num => {
                        if len < nn.len {
                            items[k + 2].id = Id::NumYear;
                            Id::NumDay
                        } else {
                            items[k + 2].id = Id::NumDay;
                            Id::NumYear
                        }
                    }
                    _ if len <= 2 => Id::NumDay,
                    _ => Id::NumYear,
                }
            } else if k > 0 && items[k - 1].id.is_month() {
                if len <= 2 {
                    Id::NumDay
                } else {
                    Id::NumYear
                }
            } else {
                Id::NumYear
            };
        }
        let (flags, gran) = items[k].id.prop();
        if gran == Id::Null {
            continue;
        }
        if flags & DATE != 0 && flags & ABS != 0 {
            if g.max_abs_date.is_none_or(|m| gran > m) {
                g.max_abs_date = Some(gran);
            }
            if gran < g.min_abs_date {
                g.min_abs_date = gran;
            }
        } else if flags & ABS != 0 && gran < g.min_abs_time {
            g.min_abs_time = gran;
        } else if flags & REL != 0 && gran < g.min_rel_time {
            g.min_rel_time = gran;
        }
    }
    check(s, &items, &g)?;
    span(s, &items, &g, clock)
}

/// report.c's `_check_time_items`.
fn check(s: &[u8], items: &[Item], g: &Granularity) -> Result<(), Vec<String>> {
    let (mut date, mut time) = (Seen::default(), Seen::default());
    // TIME_UNIT__START stands below every granularity when no absolute date was seen.
    let max_abs_date_above_rel = g.max_abs_date.is_some_and(|m| m >= g.min_rel_time);
    for it in items {
        let (flags, _) = it.id.prop();
        let rel = flags & REL != 0;
        let at = || c_str(s, it.s);
        if flags & DATE != 0 {
            let label = it.id.is_label_date();
            date.next("date", rel, max_abs_date_above_rel, label, at)?;
        } else if flags & TIME != 0 {
            time.next("time", rel, true, it.id.is_label_time(), at)?;
        }
    }
    Ok(())
}

/// What `_check_time_items` keeps of the date items, and of the time items, seen so far:
/// whether the first was relative, and whether one was a label (`today`, `noon`...).
#[derive(Default)]
struct Seen {
    rel: Option<bool>,
    label: bool,
}

impl Seen {
    /// The next item of this kind (`what`): mixing relative and absolute ones is refused when
    /// `mixed_counts`, and any item after a label is.
    fn next(
        &mut self,
        what: &str,
        rel: bool,
        mixed_counts: bool,
        label: bool,
        at: impl Fn() -> String,
    ) -> Result<(), Vec<String>> {
        match self.rel {
            None => self.rel = Some(rel),
            Some(r) if r != rel && mixed_counts => {
                return Err(vec![format!(
                    "Mixed absolute and relative {what} specification found at \"{}\".",
                    at()
                )]);
            }
            _ => {}
        }
        if self.label {
            return Err(vec![format!(
                "Ambiguous {what} specification found at \"{}\".",
                at()
            )]);
        }
        self.label |= label;
        Ok(())
    }
}

/// report.c's `_translate_time_items`, `_adjust_time_for_granularity` and
/// `_get_resulting_time_span`.
fn span(
    s: &[u8],
    items: &[Item],
    g: &Granularity,
    clock: &Clock,
) -> Result<TimeValue, Vec<String>> {
    const DAY: i64 = 86_400;
    let zone = &clock.zone;
    let now = zone.localtime(clock.now);
    let mut tm = now;
    tm.isdst = 0;
    let mut t: i64 = 0;
    let mut multiplier: i64 = 1;
    let mut prev: Option<Id> = None;
    for it in items {
        let id = it.id;
        if id.is_num() {
            let (num, _, over) = strtol(&s[it.s..]);
            if over {
                return Err(vec!["_translate_time_items: invalid time.".into()]);
            }
            match id {
                Id::NumMultiplierNegative => multiplier = num.wrapping_neg(),
                Id::NumMultiplier => multiplier = num,
                Id::NumDay => tm.mday = num,
                Id::NumYear => tm.year = num.wrapping_sub(1900),
                _ => {}
            }
        } else if let Id::Month(m) = id {
            tm.mon = i64::from(m);
        } else if let Id::Weekday(w) = id {
            let w = i64::from(w);
            let back = if now.wday < w {
                7 - w + now.wday
            } else {
                now.wday - w
            };
            t = t.wrapping_add(back * DAY);
        } else if id == Id::Yesterday {
            t += DAY;
        } else if id == Id::Noon {
            tm.hour = 12;
            tm.min = 0;
            tm.sec = 0;
        } else if id == Id::Midnight {
            tm.hour = 0;
            tm.min = 0;
            tm.sec = 0;
        } else if id.is_unit() {
            match id {
                Id::UnitSecond => tm.sec = multiplier,
                Id::UnitSecondRel => t = t.wrapping_add(multiplier),
                Id::UnitMinute => tm.min = multiplier,
                Id::UnitMinuteRel => t = t.wrapping_add(multiplier.wrapping_mul(60)),
                Id::UnitHour => tm.hour = multiplier,
                Id::UnitHourRel => t = t.wrapping_add(multiplier.wrapping_mul(3600)),
                Id::Am if prev == Some(Id::NumMultiplier) => tm.hour = multiplier,
                Id::Pm => {
                    if prev.is_some_and(Id::is_unit) {
                        t -= 12 * 3600;
                    } else if prev == Some(Id::NumMultiplier) {
                        tm.hour = multiplier.wrapping_add(12);
                    }
                }
                Id::UnitDay => t = t.wrapping_add(multiplier.wrapping_mul(DAY)),
                Id::UnitWeek => t = t.wrapping_add(multiplier.wrapping_mul(7 * DAY)),
                Id::UnitMonth => {
                    tm.year = tm.year.wrapping_sub(multiplier / 12);
                    let n = multiplier % 12;
                    if n > tm.mon + 1 {
                        tm.year -= 1;
                        tm.mon += 12 - n;
                    } else {
                        tm.mon -= n;
                    }
                }
                Id::UnitYear => tm.year = tm.year.wrapping_sub(multiplier),
                _ => {}
            }
        }
        prev = Some(id);
    }
    // _adjust_time_for_granularity
    match g.min_abs_date {
        Id::UnitYear => {
            tm.mon = 0;
            tm.mday = 1;
        }
        Id::UnitMonth => tm.mday = 1,
        _ => {}
    }
    match g.min_abs_time {
        Id::UnitHour => {
            tm.min = 0;
            tm.sec = 0;
        }
        Id::UnitMinute => tm.sec = 0,
        Id::UnitEnd if g.min_rel_time == Id::UnitEnd => {
            tm.hour = 0;
            tm.min = 0;
            tm.sec = 0;
        }
        _ => {}
    }
    let rel_date = (Id::UnitDay..=Id::UnitYear).contains(&g.min_rel_time);
    if g.min_abs_time == Id::UnitEnd && rel_date {
        tm.hour = 0;
        tm.min = 0;
        tm.sec = 0;
    }
    // _get_resulting_time_span
    let mut t1 = zone.mktime(&mut tm).wrapping_sub(t);
    let mut t2 = t1;
    if g.min_abs_time != Id::UnitEnd {
        match g.min_abs_time {
            Id::UnitMinute => t2 += 59,
            Id::UnitHour => t2 += 3599,
            _ => {}
        }
    } else if g.min_rel_time != Id::UnitEnd {
        match g.min_rel_time {
            Id::UnitMinute => t1 -= 61,
            Id::UnitHour => t1 -= 3601,
            _ if rel_date => t2 += DAY - 1,
            _ => {}
        }
    } else if g.min_abs_date == Id::UnitMonth {
        // report.c passes the year since 1900 for the leap year test.
        t2 += DAY * days_in_month(tm.mon + 1, tm.year) - 1;
    } else if g.min_abs_date != Id::UnitEnd {
        t2 += DAY - 1;
    }
    if zone.at(t1).1 {
        t1 -= 3600;
    }
    if zone.at(t2).1 {
        t2 -= 3600;
    }
    Ok(TimeValue { t1, t2: Some(t2) })
}

/// A time value as lvm2 reads it after a time field's operator. `token` is the value
/// (unquoted), `after` what follows its closing quote or its end in the selection, `quoted`
/// whether it was quoted. Err: lvm2's lines before "Failed to parse time value ...".
pub fn parse(token: &str, after: &str, clock: &Clock) -> Result<TimeValue, Vec<String>> {
    let mut lines = Vec::new();
    let mut buf = token.as_bytes().to_vec();
    buf.push(0);
    buf.extend_from_slice(after.as_bytes());
    match parse_fuzzy(&buf, clock) {
        Some(Ok(v)) => return Ok(v),
        Some(Err(l)) => lines.extend(l),
        None => {}
    }
    match parse_formatted(token.as_bytes(), &clock.zone) {
        Ok(v) if lines.is_empty() => Ok(v),
        Ok(_) => Err(lines),
        Err(l) => {
            lines.extend(l);
            Err(lines)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localtime::tests::Cet;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn utc_at(now: i64) -> Clock {
        Clock {
            now,
            zone: Zone::utc(),
        }
    }

    fn ts(s: &str) -> i64 {
        // "YYYY-MM-DD hh:mm:ss" in UTC.
        let b = s.as_bytes();
        let n = |a: usize, l: usize| s[a..a + l].parse::<i64>().unwrap();
        let _ = b;
        let mut tm = Tm {
            year: n(0, 4) - 1900,
            mon: n(5, 2) - 1,
            mday: n(8, 2),
            hour: n(11, 2),
            min: n(14, 2),
            sec: n(17, 2),
            isdst: -1,
            ..Tm::default()
        };
        Zone::utc().mktime(&mut tm)
    }

    fn range(a: &str, b: &str) -> TimeValue {
        TimeValue {
            t1: ts(a),
            t2: Some(ts(b)),
        }
    }

    #[test]
    fn formatted_dates_and_lvm2s_ranges() {
        // Each compared with lvm2 2.03.16 (TZ=UTC) on LVs whose creation_time was set by
        // vgcfgrestore: the ranges include libdm's month lookup one month early.
        let c = utc_at(ts("2026-12-07 02:14:00"));
        let p = |s: &str| parse(s, "", &c).unwrap();
        assert_eq!(
            p("2026-02-28"),
            range("2026-02-28 00:00:00", "2026-02-28 23:59:59")
        );
        assert_eq!(
            p("2026-01-01"),
            range("2026-01-01 00:00:00", "2026-01-31 23:59:59")
        );
        assert_eq!(
            p("2026-01-31"),
            range("2026-01-31 00:00:00", "2026-03-02 23:59:59")
        );
        assert_eq!(
            p("2026-03-31"),
            range("2026-03-31 00:00:00", "2026-04-30 23:59:59")
        );
        assert_eq!(
            p("2026-12"),
            range("2026-12-01 00:00:00", "2027-11-30 23:59:59")
        );
        assert_eq!(
            p("2026"),
            range("2026-01-01 00:00:00", "2026-12-31 23:59:59")
        );
        assert_eq!(
            p("2026-03-31 23"),
            range("2026-03-31 23:00:00", "2026-05-01 22:59:59")
        );
        assert_eq!(
            p("20260315 1230"),
            range("2026-03-15 12:30:00", "2026-03-15 12:30:59")
        );
        // A full time is one instant, not a range (libdm's RANGE_NONE).
        assert_eq!(
            p("2026-03-15 12:30:10"),
            TimeValue {
                t1: ts("2026-03-15 12:30:10"),
                t2: None
            }
        );
        assert_eq!(
            p("2026-03-15 12:30 +02:00"),
            range("2026-03-15 10:30:00", "2026-03-15 10:30:59")
        );
        assert_eq!(
            p("2026-03-15 12:30 -0130"),
            range("2026-03-15 14:00:00", "2026-03-15 14:00:59")
        );
    }

    #[test]
    fn errors_as_lvm2() {
        let c = utc_at(ts("2026-12-07 02:14:00"));
        let e = |s: &str| parse(s, "", &c).unwrap_err();
        assert_eq!(
            e("foo"),
            ["Unrecognized string in date/time specification at \"foo\"."]
        );
        assert_eq!(
            e("2 foo ago"),
            [
                "Unrecognized string in date/time specification at \"foo ago\".",
                "Incorrect date format."
            ]
        );
        assert_eq!(e("2026-13-01"), ["Specified month out of range."]);
        assert_eq!(e("2026-12-01 25:00"), ["Specified hours out of range."]);
        assert_eq!(e("12:00"), ["Incorrect date format."]);
        assert_eq!(
            e("yesterday today"),
            ["Ambiguous date specification found at \"today\"."]
        );
        assert_eq!(
            e("1 day 2 Feb"),
            [
                "Mixed absolute and relative date specification found at \"2 Feb\".",
                "Incorrect date format."
            ]
        );
        assert_eq!(e("2026-02-30"), ["Specified day out of range."]);
        assert_eq!(e("2026-12 10:00"), ["Full date specification needed."]);
        assert!(e("2026-12-01 10:00 +15").is_empty());
        assert!(e("2026-12-01x").is_empty());
    }

    #[test]
    fn natural_forms() {
        // Monday 2026-12-07 02:14:00 UTC.
        let c = utc_at(ts("2026-12-07 02:14:00"));
        let p = |s: &str| parse(s, "", &c).unwrap();
        assert_eq!(
            p("today"),
            range("2026-12-07 00:00:00", "2026-12-07 23:59:59")
        );
        assert_eq!(
            p("yesterday"),
            range("2026-12-06 00:00:00", "2026-12-06 23:59:59")
        );
        assert_eq!(
            p("Saturday"),
            range("2026-12-05 00:00:00", "2026-12-05 23:59:59")
        );
        assert_eq!(
            p("2 hours ago"),
            range("2026-12-06 23:13:59", "2026-12-07 00:14:00")
        );
        assert_eq!(
            p("3 days ago"),
            range("2026-12-04 00:00:00", "2026-12-04 23:59:59")
        );
        assert_eq!(
            p("Feb 2026"),
            range("2026-02-01 00:00:00", "2026-02-28 23:59:59")
        );
        assert_eq!(
            p("15 Feb 2026 noon"),
            range("2026-02-15 12:00:00", "2026-02-15 12:00:00")
        );
        assert_eq!(
            p("yesterday 10:30"),
            range("2026-12-06 10:30:00", "2026-12-06 10:30:59")
        );
        assert_eq!(
            p("3PM"),
            range("2026-12-07 15:00:00", "2026-12-07 15:59:59")
        );
        assert_eq!(
            p("1 month ago"),
            range("2026-11-07 00:00:00", "2026-11-07 23:59:59")
        );
    }

    #[test]
    fn natural_forms_in_summer_time_as_lvm2() {
        // lvm2 reads the wall time as standard time and takes an hour off in summer.
        let cet = Zone::new(Arc::new(Cet));
        let now = ts("2026-07-02 10:00:00");
        let c = Clock { now, zone: cet };
        let v = parse("today", "", &c).unwrap();
        assert_eq!(v.t1, ts("2026-07-01 22:00:00"));
        assert_eq!(v.t2, Some(ts("2026-07-02 21:59:59")));
    }

    proptest! {
        /// Any text yields a value or lvm2's lines, never a panic.
        #[test]
        fn any_text_parses_or_fails(s in "[ -~]{0,30}", after in "[ -~]{0,8}") {
            let c = utc_at(1_796_609_640);
            let _ = parse(&s, &after, &c);
        }

        /// A formatted day is the range of that day (days below lvm2's early lookup).
        #[test]
        fn formatted_day_is_a_day(y in 1971i64..2100, m in 1i64..=12, d in 1i64..=28) {
            let c = utc_at(0);
            let v = parse(&format!("{y:04}-{m:02}-{d:02}"), "", &c).unwrap();
            let start = ts(&format!("{y:04}-{m:02}-{d:02} 00:00:00"));
            prop_assert_eq!(v.t1, start);
            let early = days_in_month(m - 1, y - 1900);
            if d < early {
                prop_assert_eq!(v.t2, Some(start + 86_399));
            }
        }
    }
}
