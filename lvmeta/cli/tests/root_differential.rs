//! Differential test against stock lvm2 (issue 11): seeded random command sequences run by
//! lvmeta on one set of loop devices and by lvm2 on a byte-for-byte clone; after every step
//! the exit codes and the reports (LVs with segments and PV extents, VG, PVs) must agree, and
//! `lvm vgck` must pass on lvmeta's disks after every lvmeta write.
//!
//! Root tier: `cargo test -p lvmeta-cli --test root_differential -- --test-threads=1`.
//! - `HALVM_DIFF_SEED=N` reruns one seed (the failure message names it);
//! - `HALVM_DIFF_SEEDS=N` runs N seeds from `HALVM_DIFF_FIRST` (default 1000) instead of
//!   the fixed CI set; `HALVM_DIFF_STEPS` sets the steps per seed (default 30);
//! - `HALVM_LVMETA_BIN` runs another lvmeta binary (a copy, for long runs while rebuilding).
//!
//! Messages are compared too but only counted (lvm2's wording is not all matched yet); the
//! test prints seeds, operations compared and message differences at the end.
//!
//! After every step a random `-S` report (time fields with lvm2's operators and date forms,
//! reserved values, numbers, sizes, `pe_start`, `seg_size_pe`, errors) runs through both
//! tools on set A, so both read the same metadata (same LV creation times), under a time
//! zone drawn per seed; exit code, stdout and stderr must agree byte for byte (lvm2's note
//! that activation is off aside). Its draws come from a second generator, so the command
//! sequences of the seeds stay as they were. `HALVM_DIFF_SELECT_EVERY=N`: after every Nth
//! step (default 3; 0: none). Unknown fields are not drawn: lvm2 lists all of its fields
//! before that error, lvmeta lists its own.

mod twins;

use twins::{Out, Twins};

/// SplitMix64: small, seedable, good enough to pick commands.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const DEVS: usize = 4;
const VG: &str = "dvg";

/// What the generator knows of the VG (only names; sizes come from the tools).
struct State {
    lvs: Vec<String>,
    next_lv: u32,
    /// Whether device 3 is in the VG.
    extended: bool,
    tags: Vec<String>,
}

fn pv_list(r: &mut Rng, in_vg: usize) -> Vec<String> {
    if r.chance(60) {
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..in_vg).collect();
    // Fisher-Yates: the order matters to lvm2's allocation.
    for i in (1..idx.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        idx.swap(i, j);
    }
    let n = 1 + r.below(in_vg as u64) as usize;
    idx[..n].iter().map(|i| format!("{{{i}}}")).collect()
}

fn size_arg(r: &mut Rng, signed: Option<&str>) -> Vec<String> {
    let sign = signed.unwrap_or("");
    match r.below(5) {
        0 | 1 => vec!["-l".into(), format!("{sign}{}", 1 + r.below(12))],
        2 if r.chance(15) => {
            // lvm2 reads sizes with strtod: hexadecimal and exponents too.
            let n = 1 + r.below(30);
            let v = if r.chance(50) {
                format!("{n:#x}")
            } else {
                format!("{n}e0")
            };
            vec!["-L".into(), format!("{sign}{v}")]
        }
        2 => {
            let unit = *r.pick(&["m", "k", "M"]);
            let n = match unit {
                "k" => 512 * (1 + r.below(40)),
                _ => 1 + r.below(40),
            };
            vec!["-L".into(), format!("{sign}{n}{unit}")]
        }
        _ => {
            let what = if sign.is_empty() || sign == "+" {
                *r.pick(&["FREE", "VG", "PVS", "LV"])
            } else {
                *r.pick(&["LV", "VG", "FREE"])
            };
            vec!["-l".into(), format!("{sign}{}%{what}", 1 + r.below(100))]
        }
    }
}

/// One random command line (devices written `{N}`); whether it may write.
fn step(r: &mut Rng, st: &mut State, v2: bool) -> Vec<String> {
    let in_vg = if st.extended { DEVS } else { DEVS - 1 };
    let some_lv = |r: &mut Rng, st: &State| -> String {
        if st.lvs.is_empty() || r.chance(5) {
            "nolv".to_string()
        } else {
            r.pick(&st.lvs).clone()
        }
    };
    let mut cmd: Vec<String> = Vec::new();
    // Seeds below V2_FIRST keep the first generator's sequences (so the seeds that found a
    // difference stay reproducers); later seeds add mirror/raid1, LV tags, pvcreate options.
    match r.below(if v2 { 110 } else { 100 }) {
        100..=105 => {
            // mirror/raid1, made by lvmeta (lvm2 needs device-mapper to make them); lvm2's
            // side gets them through vgcfgrestore of lvmeta's backup.
            st.next_lv += 1;
            let name = format!("lv{}", st.next_lv);
            let ty = *r.pick(&["raid1", "mirror"]);
            let m = if in_vg >= 3 && r.chance(25) { "2" } else { "1" };
            cmd.extend([
                "lvcreate".into(),
                "--type".into(),
                ty.into(),
                "-m".into(),
                m.into(),
            ]);
            // lvm2's default disk log, and now and then a core log (chosen without a draw,
            // so the seeds keep their sequences).
            if ty == "mirror" && st.next_lv % 3 == 0 {
                cmd.extend(["--mirrorlog".into(), "core".into()]);
            }
            cmd.extend(["-n".into(), name.clone()]);
            cmd.extend(["-l".into(), format!("{}", 1 + r.below(8))]);
            cmd.push(VG.into());
            cmd.extend(pv_list(r, in_vg));
            st.lvs.push(name);
        }
        106..=109 => {
            let lv = some_lv(r, st);
            let t = format!("lt{}", r.below(4));
            let op = if r.chance(40) { "--deltag" } else { "--addtag" };
            cmd.extend(["lvchange".into(), op.into(), t, format!("{VG}/{lv}")]);
        }
        0..=34 => {
            let name = if !st.lvs.is_empty() && r.chance(5) {
                r.pick(&st.lvs).clone()
            } else {
                st.next_lv += 1;
                format!("lv{}", st.next_lv)
            };
            // Now and then no -n (lvm2 names it lvolN) and -y (accepted, never asked).
            if r.chance(10) {
                cmd.push("lvcreate".into());
            } else {
                cmd.extend(["lvcreate".into(), "-n".into(), name.clone()]);
            }
            if r.chance(10) {
                cmd.push("-y".into());
            }
            match r.below(4) {
                0 => cmd.extend(["-i".into(), "2".into()]),
                1 if in_vg >= 3 => {
                    cmd.extend(["-i".into(), "3".into()]);
                    if r.chance(30) {
                        cmd.extend(["-I".into(), "128k".into()]);
                    }
                }
                _ => {}
            }
            let mut s = size_arg(r, None);
            if s[1].ends_with("%LV") {
                s[1] = s[1].replace("%LV", "%FREE");
            }
            cmd.extend(s);
            cmd.push(VG.into());
            cmd.extend(pv_list(r, in_vg));
            if cmd.get(1).map(String::as_str) == Some("-n") && !st.lvs.contains(&name) {
                st.lvs.push(name);
            }
        }
        35..=49 => {
            cmd.push("lvextend".into());
            cmd.extend(size_arg(r, Some("+")));
            cmd.push(format!("{VG}/{}", some_lv(r, st)));
            cmd.extend(pv_list(r, in_vg));
        }
        50..=61 => {
            cmd.extend(["lvreduce".into(), "-f".into()]);
            cmd.extend(size_arg(r, Some("-")));
            cmd.push(format!("{VG}/{}", some_lv(r, st)));
        }
        62..=71 => {
            cmd.extend(["lvresize".into(), "-f".into()]);
            let sign = *r.pick(&["", "+", "-"]);
            let mut s = size_arg(r, Some(sign));
            if sign.is_empty() && s[1].ends_with("%LV") {
                s[1] = s[1].replace("%LV", "%VG");
            }
            cmd.extend(s);
            cmd.push(format!("{VG}/{}", some_lv(r, st)));
        }
        72..=77 => {
            let old = some_lv(r, st);
            st.next_lv += 1;
            let new = format!("lv{}", st.next_lv);
            cmd.extend(["lvrename".into(), VG.into(), old.clone(), new.clone()]);
            if let Some(p) = st.lvs.iter().position(|l| *l == old) {
                st.lvs[p] = new;
            }
        }
        78..=85 => {
            let lv = some_lv(r, st);
            cmd.extend(["lvremove".into(), "-f".into(), format!("{VG}/{lv}")]);
            st.lvs.retain(|l| *l != lv);
        }
        86..=91 => {
            if st.extended {
                cmd.extend(["vgreduce".into(), VG.into(), format!("{{{}}}", DEVS - 1)]);
            } else {
                cmd.extend(["vgextend".into(), VG.into(), format!("{{{}}}", DEVS - 1)]);
            }
        }
        _ => {
            if !st.tags.is_empty() && r.chance(40) {
                let t = r.pick(&st.tags).clone();
                cmd.extend(["vgchange".into(), "--deltag".into(), t.clone(), VG.into()]);
                st.tags.retain(|x| *x != t);
            } else {
                let t = format!("tag{}", r.below(5));
                cmd.extend(["vgchange".into(), "--addtag".into(), t.clone(), VG.into()]);
                if !st.tags.contains(&t) {
                    st.tags.push(t);
                }
            }
        }
    }
    cmd
}

/// A mirror/raid1 lvcreate: lvmeta makes it on set A; lvm2's side (set B) restores lvmeta's
/// backup of the VG with `lvm vgcfgrestore`, so lvm2 reads lvmeta's text and writes it
/// itself. lvm2's outcome is the restore's (exit 0 when lvmeta succeeded; lvmeta's
/// failure is copied, as nothing on lvm2's side can be compared with it).
fn made_by_lvmeta(t: &Twins, cmd: &[String]) -> Result<(Out, Out), String> {
    let on_a: Vec<String> = cmd
        .iter()
        .map(|a| {
            (0..t.devices()).fold(a.clone(), |s, i| {
                s.replace(&format!("{{{i}}}"), &t.a_dev(i))
            })
        })
        .collect();
    let m = t.me(&on_a);
    if m.code != 0 {
        let copy = Out {
            code: m.code,
            stdout: String::new(),
            stderr: t.generic(&m.stderr, false),
        };
        return Ok((m, copy));
    }
    let file = t.dir.path().join("restore.vg");
    let b = t.me(&[
        "vgcfgbackup".into(),
        "-f".into(),
        file.display().to_string(),
        VG.into(),
    ]);
    if b.code != 0 {
        return Err(format!("lvmeta vgcfgbackup: {}", b.stderr));
    }
    // A device labelled by vgextend has another PV UUID on each side: name lvm2's.
    let uuids = |o: Out, lvm2: bool| -> Vec<(String, String)> {
        o.stdout
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.len() == 2).then(|| (t.generic(w[0], lvm2), w[1].to_string()))
            })
            .collect()
    };
    let q: Vec<String> = ["pvs", "--noheadings", "-o", "pv_name,pv_uuid"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (ua, ub) = (uuids(t.me(&q), false), uuids(t.lvm(&q), true));
    let mut text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    for (dev, a) in &ua {
        if let Some((_, b)) = ub.iter().find(|(d, _)| d == dev) {
            text = text.replace(a.as_str(), b);
        }
    }
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    let l = t.lvm(&[
        "vgcfgrestore".into(),
        "-f".into(),
        file.display().to_string(),
        VG.into(),
    ]);
    if l.code != 0 {
        return Err(format!("lvm vgcfgrestore of lvmeta's backup: {}", l.stderr));
    }
    Ok((m, l))
}

/// Zones the `-S` reports run in (`TZ` for both tools): names, a DST zone with a 30 minute
/// shift, a POSIX rule and a fixed offset.
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Prague",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "EST5EDT",
    "<+0330>-3:30",
];

/// A time value for `-S`: around the LVs' creation (`now`), as lvm2 reads them. Values with
/// a clock time are quoted: lvm2 reads past the end of a bare one that ends the selection
/// (into the next argument), which lvmeta does not imitate. Relative minutes and seconds
/// are left out: their ranges end within seconds of "now", which each tool takes itself.
fn time_value(r: &mut Rng, now: i64) -> String {
    use lvmeta::localtime::Tm;
    let g = Tm::gmtime(now - r.below(3) as i64 * 86_400);
    let (y, m, d) = (g.year + 1900, g.mon + 1, g.mday);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][g.mon as usize];
    let q = |s: String| format!("\"{s}\"");
    match r.below(6) {
        0 => format!("@{}", now - r.below(900) as i64),
        1 | 2 => {
            let date = match r.below(6) {
                0 => format!("{y}"),
                1 => format!("{y}-{m:02}"),
                2 => format!("{y}{m:02}{d:02}"),
                3 => format!("{y}-{:02}-{:02}", 1 + r.below(12), 1 + r.below(31)),
                _ => format!("{y}-{m:02}-{d:02}"),
            };
            let time = match r.below(5) {
                0 | 1 => String::new(),
                2 => format!(" {:02}", g.hour),
                3 => format!(" {:02}:{:02}", g.hour, r.below(60)),
                _ => format!(" {:02}:{:02}:{:02}", r.below(24), r.below(60), r.below(60)),
            };
            let tz = if time.is_empty() || r.chance(50) {
                String::new()
            } else {
                format!(
                    " {}{:02}{}",
                    r.pick(&["+", "-"]),
                    r.below(15),
                    r.pick(&[":00", "30", ":45", ""])
                )
            };
            if time.is_empty() && tz.is_empty() && r.chance(50) {
                date
            } else {
                q(format!("{date}{time}{tz}"))
            }
        }
        3 | 4 => q(match r.below(16) {
            0 => "today".into(),
            1 => "yesterday".into(),
            2 => r
                .pick(&[
                    "Monday",
                    "Tue",
                    "wednesday",
                    "Thursdays",
                    "Fri",
                    "Saturday",
                    "Sun",
                ])
                .to_string(),
            3 => r
                .pick(&["noon", "midnight", "today noon", "3PM", "11 AM"])
                .to_string(),
            4 => format!("yesterday {:02}:{:02}", r.below(24), r.below(60)),
            5 => format!("{} hours ago", 1 + r.below(30)),
            6 => format!(
                "{} {} ago",
                1 + r.below(3),
                r.pick(&["days", "weeks", "months", "years"])
            ),
            7 => format!("{mon} {y}"),
            8 => format!("{d} {mon} {y}"),
            9 => format!("{mon} {d}"),
            10 => format!("{y} {mon} {d} {:02}:{:02}", g.hour, r.below(60)),
            11 => mon.to_string(),
            12 => format!("1 day ago {:02}:00", r.below(24)),
            13 => format!(
                "{y} {:02}:{:02}:{:02}",
                r.below(24),
                r.below(60),
                r.below(60)
            ),
            14 => "1 year ago noon".into(),
            _ => format!("{y}"),
        }),
        _ => r
            .pick(&[
                "foo",
                "2026-13-01",
                "2026-02-30",
                "\"2026-12 10:00\"",
                "\"12:00\"",
                "\"yesterday today\"",
                "\"1 day 2 Feb\"",
                "\"2 foo ago\"",
                "@",
                "\"@12\"",
                "2026-1",
                "\"noon midnight\"",
                "\"today 2 hours ago\"",
                "\"2026-12-01 10:00 +15\"",
                "@99999999999999999999",
                "'yesterday'",
                "\"2026",
            ])
            .to_string(),
    }
}

fn cmp_op(r: &mut Rng) -> &'static str {
    const OPS: [&str; 8] = ["=", "!=", "<", "<=", ">", ">=", " = ", " != "];
    OPS[r.below(OPS.len() as u64) as usize]
}

/// One `field op value` of a `-S` selection for a report of `kind` ("lvs", "pvs", "vgs").
fn clause(r: &mut Rng, kind: &str, now: i64) -> String {
    let vg_perm = |r: &mut Rng| {
        format!(
            "vg_permissions{}{}",
            r.pick(&["=", "!=", "=~", "!~"]),
            r.pick(&[
                "rw",
                "writeable",
                "read-write",
                "r",
                "ro",
                "read-only",
                "foo",
                "\"rw\"",
                "'ro'"
            ])
        )
    };
    let size = |r: &mut Rng| {
        format!(
            "{}{}",
            r.pick(&["0", "1", "4", "8", "12", "4.5", "0.001", "16", "4194304", "8192"]),
            r.pick(&["", "m", "k", "M", "s", "b", "K", "g"])
        )
    };
    let number = |r: &mut Rng| {
        r.pick(&[
            "0",
            "1",
            "2",
            "3",
            "undef",
            "-1",
            "unknown",
            "1.9",
            "18446744073709551615",
            "18446744073709551616",
            "\"undefined\"",
            "-2",
        ])
        .to_string()
    };
    match kind {
        "lvs" => match r.below(10) {
            0..=3 => {
                let field = if r.chance(10) {
                    "lv_time_removed"
                } else {
                    "lv_time"
                };
                let op = if r.chance(40) {
                    r.pick(&[" since ", " after ", " until ", " before "])
                } else {
                    cmp_op(r)
                };
                format!("{field}{op}{}", time_value(r, now))
            }
            4 => format!(
                "seg_size_pe{}{}",
                cmp_op(r),
                r.pick(&[
                    "0",
                    "1",
                    "2",
                    "0b",
                    "1b",
                    "8",
                    "0.5s",
                    "4m",
                    "0.0000000000000001b",
                    "-1"
                ])
            ),
            5 => format!(
                "{}{}{}",
                r.pick(&["lv_size", "seg_size", "seg_start", "vg_free"]),
                cmp_op(r),
                size(r)
            ),
            6 => format!(
                "{}{}{}",
                r.pick(&["seg_count", "seg_start_pe", "vg_seqno", "lv_count"]),
                cmp_op(r),
                number(r)
            ),
            7 => vg_perm(r),
            _ => r
                .pick(&[
                    "lv_name=lv1",
                    "lv_name<a",
                    "lv_name since x",
                    "lv_time=~x",
                    "lv_tags=lt1",
                    "lv_time",
                    "seg_size_pe=1x",
                ])
                .to_string(),
        },
        "pvs" => match r.below(4) {
            0 | 1 => {
                // lvm2 compares the bits of its double of pe_start's sectors.
                let sectors = *r.pick(&[128u64, 2048, 4096, 6144, 8192, 3072]);
                let bits = (sectors as f64).to_bits();
                let v = match r.below(6) {
                    0 => sectors.to_string(),
                    1 => bits.to_string(),
                    2 => (bits + 1).to_string(),
                    3 => (bits - 1).to_string(),
                    4 => r.pick(&["0", "undef", "1m", "-1", "0.5"]).to_string(),
                    _ => format!("{}", sectors * 512),
                };
                format!("pe_start{}{v}", cmp_op(r))
            }
            2 => format!(
                "{}{}{}",
                r.pick(&["pv_size", "pv_free", "dev_size", "pv_used"]),
                cmp_op(r),
                size(r)
            ),
            _ => vg_perm(r),
        },
        _ => match r.below(3) {
            0 => format!(
                "{}{}{}",
                r.pick(&["vg_free", "vg_size", "vg_extent_size"]),
                cmp_op(r),
                size(r)
            ),
            1 => format!(
                "{}{}{}",
                r.pick(&["vg_extent_count", "vg_free_count", "pv_count", "max_lv"]),
                cmp_op(r),
                number(r)
            ),
            _ => vg_perm(r),
        },
    }
}

/// A report with a random `-S` (time fields, reserved values, numbers and sizes).
fn select_report(r: &mut Rng, now: i64) -> Vec<String> {
    let kind = *r.pick(&["lvs", "lvs", "lvs", "pvs", "vgs"]);
    let fields = match kind {
        "lvs" if r.chance(30) => "lv_name,lv_time,seg_size_pe,seg_start,seg_size",
        "lvs" => "lv_name,lv_time,lv_time_removed,lv_host,lv_size,seg_count,vg_permissions",
        "pvs" => "pv_name,pe_start,pv_size,pv_free",
        _ => "vg_name,vg_permissions,vg_free,vg_extent_count",
    };
    let mut expr = clause(r, kind, now);
    for _ in 0..r.below(3) {
        let join = *r.pick(&[" && ", ",", " || ", "#"]);
        expr = format!("{expr}{join}{}", clause(r, kind, now));
    }
    if r.chance(15) {
        expr = format!("!({expr})");
    }
    let mut cmd: Vec<String> = vec![kind.into(), "-o".into(), fields.into(), "-S".into(), expr];
    if r.chance(10) {
        cmd.extend(["--reportformat".into(), "json".into()]);
    }
    cmd
}

/// Runs a `-S` report through both tools on set A and compares everything they print.
fn compare_select(t: &Twins, cmd: &[String], tz: &str) -> Result<(), String> {
    let (m, l) = t.both_on_a(cmd, tz);
    // lvm2 notes that activation is off (the test's lvm.conf); nothing else is left out.
    let l_err: String = l
        .stderr
        .lines()
        .filter(|x| !x.contains("WARNING: Activation disabled."))
        .map(|x| format!("{x}\n"))
        .collect();
    if m.code != l.code || m.stdout != l.stdout || m.stderr != l_err {
        return Err(format!(
            "TZ={tz} {}: exit {} / {}\n--- lvmeta stdout\n{}--- lvm2 stdout\n{}--- lvmeta stderr\n{}--- lvm2 stderr\n{}",
            cmd.iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(" "),
            m.code,
            l.code,
            m.stdout,
            l.stdout,
            m.stderr,
            l_err
        ));
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    seeds: u64,
    ops: u64,
    selects: u64,
    writes: u64,
    message_diffs: Vec<String>,
}

/// Runs one seed; Err(description) on the first difference.
fn run_seed(t: &Twins, seed: u64, steps: usize, tally: &mut Tally) -> Result<(), String> {
    let mut r = Rng(seed);
    t.wipe();
    let devs: Vec<String> = (0..DEVS).map(|i| t.a_dev(i)).collect();
    let es = *r.pick(&["1m", "4m", "8m"]);
    // Half the seeds leave device 3 unlabelled: vgextend then initialises it, as lvm2 does.
    let labelled = if r.chance(50) { DEVS } else { DEVS - 1 };
    let v2 = seed >= V2_FIRST;
    // pvcreate with lvm2's layout options, run by both tools: the PVs must agree.
    let mut pvcreate: Vec<String> = vec!["pvcreate".into()];
    if !v2 {
        pvcreate.extend(devs[..labelled].iter().cloned());
        let o = t.me(&pvcreate);
        if o.code != 0 {
            return Err(format!("setup {pvcreate:?} failed: {}", o.stderr));
        }
        pvcreate.truncate(1);
    } else if r.chance(40) {
        let a = *r.pick(&["64k", "128", "1m", "2m", "3m", "4m"]);
        pvcreate.extend(["--dataalignment".into(), a.into()]);
    }
    if v2 && r.chance(40) {
        let m = *r.pick(&["512k", "1", "2m", "3m", "1500k"]);
        pvcreate.extend(["--metadatasize".into(), m.into()]);
    }
    let templ: Vec<String> = pvcreate
        .iter()
        .cloned()
        .chain((0..labelled).map(|i| format!("{{{i}}}")))
        .collect();
    let (m, l) = if v2 {
        t.both(&templ)
    } else {
        let ok = || Out {
            code: 0,
            stdout: String::new(),
            stderr: String::new(),
        };
        (ok(), ok())
    };
    let (a, b) = t.views(VG);
    if v2 && (m.code != l.code || a.pvs != b.pvs) {
        return Err(format!(
            "seed {seed}: {} differs: exit {} / {}\nlvmeta pvs {:?}\nlvm2 pvs {:?}\n{}{}",
            pvcreate.join(" "),
            m.code,
            l.code,
            a.pvs,
            b.pvs,
            m.stderr,
            l.stderr
        ));
    }
    tally.ops += u64::from(v2);
    let setup: Vec<Vec<String>> = vec![["vgcreate", "-s", es, VG]
        .iter()
        .map(|s| s.to_string())
        .chain(devs[..DEVS - 1].iter().cloned())
        .collect()];
    for c in &setup {
        let o = t.me(c);
        if o.code != 0 {
            return Err(format!("setup {c:?} failed: {}", o.stderr));
        }
    }
    t.clone_a_to_b();
    let mut st = State {
        lvs: Vec::new(),
        next_lv: 0,
        extended: false,
        tags: Vec::new(),
    };
    let mut log: Vec<String> = vec![pvcreate.join(" "), format!("vgcreate -s {es}")];
    // The `-S` reports draw from their own generator, so the command sequences stay.
    let mut rs = Rng(seed ^ 0x5E1E_C7ED_0000_0000);
    let tz = *rs.pick(ZONES);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for i in 0..steps {
        let mut cmd = step(&mut r, &mut st, v2);
        // HALVM_DIFF_TRACE: resizes and creates run with -vvvv (lvm2's allocation trace is
        // printed with a difference; the message counts mean nothing then).
        if std::env::var_os("HALVM_DIFF_TRACE").is_some() && cmd[0].starts_with("lv") {
            cmd.push("-vvvv".into());
        }
        let (m, l): (Out, Out) = if cmd.iter().any(|a| a == "--type") {
            match made_by_lvmeta(t, &cmd) {
                Ok(v) => v,
                Err(e) => return Err(format!("seed {seed} step {i}: {e}\n  {}", log.join("\n  "))),
            }
        } else {
            t.both(&cmd)
        };
        tally.ops += 1;
        log.push(format!(
            "{} -> lvmeta {} / lvm2 {}",
            cmd.join(" "),
            m.code,
            l.code
        ));
        let history = || log.join("\n  ");
        if m.code != l.code {
            return Err(format!(
                "seed {seed} step {i}: exit codes differ\n  {}\nlvmeta: {}{}\nlvm2: {}{}",
                history(),
                m.stdout,
                m.stderr,
                l.stdout,
                l.stderr
            ));
        }
        if cmd[0] == "vgextend" && m.code == 0 {
            st.extended = true;
        }
        if cmd[0] == "vgreduce" && m.code == 0 {
            st.extended = false;
        }
        if l.code != 0 && t.last_error(&m, false) != t.last_error(&l, true) {
            tally.message_diffs.push(format!(
                "{}: lvmeta {:?} / lvm2 {:?}",
                cmd.join(" "),
                t.last_error(&m, false),
                t.last_error(&l, true)
            ));
        }
        if m.code == 0 {
            tally.writes += 1;
            let ck = t.lvm_vgck_a(VG);
            if ck.code != 0 || !ck.errors().is_empty() {
                return Err(format!(
                    "seed {seed} step {i}: lvm vgck fails after lvmeta's write\n  {}\n{}",
                    history(),
                    ck.stderr
                ));
            }
        }
        let (a, b) = t.views(VG);
        if a != b {
            let only = |x: &twins::Rows, y: &twins::Rows| -> Vec<String> {
                x.iter()
                    .filter(|r| !y.contains(r))
                    .map(|r| format!("{r:?}"))
                    .collect()
            };
            let mut d = Vec::new();
            for (what, x, y) in [
                ("lvs", &a.lvs, &b.lvs),
                ("vgs", &a.vgs, &b.vgs),
                ("pvs", &a.pvs, &b.pvs),
            ] {
                for r in only(x, y) {
                    d.push(format!("{what} lvmeta only: {r}"));
                }
                for r in only(y, x) {
                    d.push(format!("{what} lvm2 only:   {r}"));
                }
            }
            let trace = |e: &str| -> String {
                e.lines()
                    .filter(|l| {
                        [
                            "alloc",
                            "Trying",
                            "Considering",
                            "Allocating",
                            "preferred",
                            "Sorting",
                        ]
                        .iter()
                        .any(|w| l.contains(w))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            return Err(format!(
                "seed {seed} step {i}: reports differ\n  {}\n{}\nlvmeta said: {}{}\nlvm2 said: {}{}",
                history(),
                d.join("\n"),
                m.stdout,
                if cmd.last().is_some_and(|a| a == "-vvvv") { String::new() } else { m.stderr.clone() },
                l.stdout,
                if cmd.last().is_some_and(|a| a == "-vvvv") { trace(&l.stderr) } else { l.stderr.clone() }
            ));
        }
        if select_every().is_some_and(|n| i % n == 0) {
            let q = select_report(&mut rs, now);
            tally.selects += 1;
            if let Err(e) = compare_select(t, &q, tz) {
                return Err(format!(
                    "seed {seed} step {i}: -S reports differ\n  {}\n{e}",
                    history()
                ));
            }
        }
    }
    tally.seeds += 1;
    Ok(())
}

/// `HALVM_DIFF_SELECT_EVERY=N`: a `-S` report after every Nth step (default 3, to keep the
/// CI set's time; 1 for long runs; 0 for none).
fn select_every() -> Option<usize> {
    match env_u64("HALVM_DIFF_SELECT_EVERY") {
        Some(0) => None,
        Some(n) => Some(n as usize),
        None => Some(3),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// The first seed of the second generator (mirror/raid1, LV tags, pvcreate options).
const V2_FIRST: u64 = 5000;

/// The CI set: about two minutes. Seeds 13, 182, 221, 1001 and 3013 once differed (cling to
/// the first segment; lvm2's area list order kept through one allocation, areas put back
/// after each pass; the cling policy's positional pass), 5021 and 5031 too (mirror/raid1
/// extended in parallel, approximately), 5083 (a size of exactly x.xx5 MiB printed as lvm2
/// rounds it), 5092 (an extension's normal policy first clings as `_check_pva` does under
/// `maximise_cling`) and 5096 (an approximate mirror extension that finds nothing leaves the LV
/// unchanged), 5148 (a positional cling pass leaves the areas' list order alone; mirrors with
/// a disk log), and stay in it.
const CI_SEEDS: &[u64] = &[13, 182, 221, 1001, 3013, 5021, 5031, 5083, 5092, 5096, 5148];

#[test]
fn root_differential_lvmeta_vs_lvm2() {
    let t = Twins::new(DEVS, 48);
    let steps = env_u64("HALVM_DIFF_STEPS").unwrap_or(30) as usize;
    let seeds: Vec<u64> = if let Some(s) = env_u64("HALVM_DIFF_SEED") {
        vec![s]
    } else if let Some(n) = env_u64("HALVM_DIFF_SEEDS") {
        let first = env_u64("HALVM_DIFF_FIRST").unwrap_or(1000);
        (first..first + n).collect()
    } else {
        CI_SEEDS.to_vec()
    };
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for &seed in &seeds {
        eprintln!("differential: seed {seed}");
        if let Err(e) = run_seed(&t, seed, steps, &mut tally) {
            eprintln!("{e}");
            failures.push(seed);
        }
    }
    eprintln!(
        "differential: {} of {} seeds agreed; {} operations compared ({} -S reports byte for byte), {} lvmeta writes checked with lvm vgck; {} message differences",
        tally.seeds,
        seeds.len(),
        tally.ops + tally.selects,
        tally.selects,
        tally.writes,
        tally.message_diffs.len()
    );
    for d in &tally.message_diffs {
        eprintln!("  message: {d}");
    }
    assert!(
        failures.is_empty(),
        "seeds with differences (rerun one with HALVM_DIFF_SEED=N): {failures:?}"
    );
}
