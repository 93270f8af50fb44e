//! A fine sampler of what size a device-mapper device serves on each node, on one clock.
//!
//! The host writes its own monotonic clock into sector 0 of a shared disk image every few
//! hundred microseconds ([`SharedClock`]). In each guest, `halvm-lab-agent sample-dm` reads
//! that sector (O_DIRECT, so through QEMU to the image each time), then the device's
//! `/sys/block/dm-N/dm/suspended`, `size`, `suspended` again, then the clock sector again, in a
//! tight loop. A sample therefore happened, on the host's clock, no earlier than its first clock
//! read `h1` and no later than its second `h2` plus the writer's staleness bound (the longest
//! time between two clock writes, measured by the writer). Guests' own clocks are never used.
//!
//! The guest keeps only runs of equal samples ([`Run`]); [`check_no_mix`] then asks whether any
//! node served the old size at an instant definitely after another node served the new one.
//! The resolution is what the run reports: the longest gap between two samples on a node plus
//! the writer's staleness. Measured in lab_coord on a loaded 2-core host: about 2 ms per sample
//! on average, but gaps up to 0.35 s when the host did not schedule a VM, and a staleness up to
//! 75 ms when it did not schedule the writer; a mix shorter than that could go unseen.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Marks a clock sector (so a sampler pointed at the wrong disk fails instead of lying).
pub const CLOCK_MAGIC: &[u8; 8] = b"HLCLOCK1";
const BLOCK: usize = 4096;

/// A 4 KiB buffer aligned for O_DIRECT.
struct Aligned(*mut u8);

impl Aligned {
    fn new() -> Aligned {
        let layout = std::alloc::Layout::from_size_align(BLOCK, BLOCK).expect("layout");
        // SAFETY: the layout has a non-zero size; the pointer is checked and freed in Drop
        // with the same layout.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!p.is_null(), "out of memory");
        Aligned(p)
    }
    fn buf(&mut self) -> &mut [u8] {
        // SAFETY: the allocation is BLOCK bytes, owned by self and borrowed mutably once.
        unsafe { std::slice::from_raw_parts_mut(self.0, BLOCK) }
    }
}

// SAFETY: Aligned owns its allocation exclusively (no aliasing pointer escapes), so moving it to
// another thread is sound.
unsafe impl Send for Aligned {}

impl Drop for Aligned {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(BLOCK, BLOCK).expect("layout");
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.0, layout) }
    }
}

/// The host's clock on a shared disk: a thread writes `CLOCK_MAGIC` and the nanoseconds since
/// [`SharedClock::start`] into sector 0 of the image until dropped.
pub struct SharedClock {
    stop: Arc<AtomicBool>,
    max_period_ns: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    base: Instant,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SharedClock {
    /// Starts writing into `image` (a shared disk's image file on the host).
    pub fn start(image: &Path, period: Duration) -> std::io::Result<SharedClock> {
        // O_DIRECT like QEMU's cache=none; buffered writes are coherent with its direct reads
        // too (a direct read writes back dirty pages first), so fall back if unsupported.
        let f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(image)
            .or_else(|_| OpenOptions::new().write(true).open(image))?;
        let stop = Arc::new(AtomicBool::new(false));
        let max_period_ns = Arc::new(AtomicU64::new(0));
        let writes = Arc::new(AtomicU64::new(0));
        let base = Instant::now();
        let write = move |f: &File, buf: &mut Aligned| -> std::io::Result<()> {
            let b = buf.buf();
            b[..8].copy_from_slice(CLOCK_MAGIC);
            b[8..16].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
            f.write_all_at(b, 0)
        };
        let mut buf = Aligned::new();
        write(&f, &mut buf)?;
        let (s, m, w) = (
            Arc::clone(&stop),
            Arc::clone(&max_period_ns),
            Arc::clone(&writes),
        );
        let thread = std::thread::spawn(move || {
            let mut last = Instant::now();
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(period);
                if write(&f, &mut buf).is_err() {
                    break;
                }
                // A reading is stale by at most the time from one landed write to the next
                // (its stamp was taken just before it landed).
                let landed = Instant::now();
                m.fetch_max(
                    landed.duration_since(last).as_nanos() as u64,
                    Ordering::SeqCst,
                );
                last = landed;
                w.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(SharedClock {
            stop,
            max_period_ns,
            writes,
            base,
            thread: Some(thread),
        })
    }

    /// The shared clock's current reading on the host.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Longest time between two landed writes so far: how stale a reading can be.
    pub fn staleness_ns(&self) -> u64 {
        self.max_period_ns.load(Ordering::SeqCst)
    }

    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }
}

impl Drop for SharedClock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Equal consecutive samples on one node: size (sectors) and suspended state, with the clock
/// readings bracketing the first and the last sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub size: u64,
    pub suspended: bool,
    /// `h1` of the first sample.
    pub first_h1: u64,
    /// `h2` of the first sample.
    pub first_h2: u64,
    /// `h1` of the last sample.
    pub last_h1: u64,
    /// `h2` of the last sample.
    pub last_h2: u64,
    pub count: u64,
}

/// What one node's sampler saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Samples {
    pub runs: Vec<Run>,
    pub samples: u64,
    /// Longest time between the starts of two consecutive samples (`h1` to `h1`).
    pub max_gap_ns: u64,
}

impl Samples {
    /// Parses the sampler's output: `run SIZE SUSP FIRST_H1 FIRST_H2 LAST_H1 LAST_H2 COUNT`
    /// lines and one `done SAMPLES MAX_GAP_NS` line.
    pub fn parse(text: &str) -> Result<Samples, String> {
        let mut s = Samples::default();
        let mut done = false;
        for l in text.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            let n = |i: usize| -> Result<u64, String> {
                w.get(i)
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("bad sampler line `{l}`"))
            };
            match w.first() {
                Some(&"run") => s.runs.push(Run {
                    size: n(1)?,
                    suspended: n(2)? != 0,
                    first_h1: n(3)?,
                    first_h2: n(4)?,
                    last_h1: n(5)?,
                    last_h2: n(6)?,
                    count: n(7)?,
                }),
                Some(&"done") => {
                    s.samples = n(1)?;
                    s.max_gap_ns = n(2)?;
                    done = true;
                }
                Some(&"error") => return Err(l.to_string()),
                _ => return Err(format!("bad sampler line `{l}`")),
            }
        }
        if !done {
            return Err(format!("sampler output has no `done` line:\n{text}"));
        }
        Ok(s)
    }
}

/// What [`check_no_mix`] found when there was no mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixReport {
    /// Earliest possible instant of the last old-size serving sample on any node.
    pub last_old_ns: u64,
    /// Latest possible instant of the first new-size serving sample on any node.
    pub first_new_ns: u64,
}

/// Fails if a node served `old` sectors at an instant definitely after another node served
/// `new` (outside any suspension). A sample is placed in `[h1, h2 + staleness_ns]`; "definitely
/// after" means the old sample's earliest instant is later than the new sample's latest.
pub fn check_no_mix(
    nodes: &[(String, Samples)],
    old: u64,
    new: u64,
    staleness_ns: u64,
) -> Result<MixReport, String> {
    let serving = |size: u64| {
        nodes.iter().flat_map(move |(n, s)| {
            s.runs
                .iter()
                .filter(move |r| !r.suspended && r.size == size)
                .map(move |r| (n.as_str(), r))
        })
    };
    let mut report = MixReport {
        last_old_ns: 0,
        first_new_ns: u64::MAX,
    };
    for (nn, new_run) in serving(new) {
        let new_latest = new_run.first_h2 + staleness_ns;
        report.first_new_ns = report.first_new_ns.min(new_latest);
        for (on, old_run) in serving(old) {
            report.last_old_ns = report.last_old_ns.max(old_run.last_h1);
            if on != nn && old_run.last_h1 > new_latest {
                return Err(format!(
                    "{on} served the old size ({old} sectors) at >= {} ns, after {nn} served the \
                     new size ({new} sectors) at <= {new_latest} ns",
                    old_run.last_h1
                ));
            }
        }
    }
    Ok(report)
}

/// Guest side (`halvm-lab-agent sample-dm`): samples `dm_name` until `stop` exists or
/// `max` passes, then writes the runs to `out`. After its first sample it creates `out`
/// with the extension `ready`, so a test can wait for the sampler instead of guessing.
pub fn sample_dm(
    clock_dev: &Path,
    dm_name: &str,
    out: &Path,
    stop: &Path,
    max: Duration,
) -> std::io::Result<()> {
    let result = sample_loop(clock_dev, dm_name, stop, &out.with_extension("ready"), max);
    let text = match result {
        Ok(t) => t,
        Err(e) => format!("error {e}\n"),
    };
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, out)
}

fn dm_sysfs(name: &str) -> std::io::Result<PathBuf> {
    for e in std::fs::read_dir("/sys/block")?.flatten() {
        let p = e.path();
        if std::fs::read_to_string(p.join("dm/name")).is_ok_and(|n| n.trim() == name) {
            return Ok(p);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("no device-mapper device {name}"),
    ))
}

fn read_u64(f: &File, buf: &mut [u8]) -> std::io::Result<u64> {
    let n = f.read_at(buf, 0)?;
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not a number"))
}

fn sample_loop(
    clock_dev: &Path,
    dm_name: &str,
    stop: &Path,
    ready: &Path,
    max: Duration,
) -> std::io::Result<String> {
    let clock = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(clock_dev)?;
    let mut cbuf = Aligned::new();
    let mut read_clock = || -> std::io::Result<u64> {
        let b = cbuf.buf();
        clock.read_exact_at(b, 0)?;
        if &b[..8] != CLOCK_MAGIC {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} holds no lab clock", clock_dev.display()),
            ));
        }
        Ok(u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")))
    };
    let dir = dm_sysfs(dm_name)?;
    let susp = File::open(dir.join("dm/suspended"))?;
    let size = File::open(dir.join("size"))?;
    let mut tb = [0u8; 32];
    let started = Instant::now();
    let mut runs: Vec<Run> = Vec::new();
    let (mut samples, mut max_gap, mut prev_h1) = (0u64, 0u64, None::<u64>);
    loop {
        let h1 = read_clock()?;
        let s1 = read_u64(&susp, &mut tb)?;
        let sz = read_u64(&size, &mut tb)?;
        let s2 = read_u64(&susp, &mut tb)?;
        let h2 = read_clock()?;
        // Counted as serving only if not suspended on both sides of the size read.
        let suspended = s1 != 0 || s2 != 0;
        samples += 1;
        if samples == 1 {
            std::fs::write(ready, b"")?;
        }
        if let Some(p) = prev_h1 {
            max_gap = max_gap.max(h1.saturating_sub(p));
        }
        prev_h1 = Some(h1);
        match runs.last_mut() {
            Some(r) if r.size == sz && r.suspended == suspended => {
                r.last_h1 = h1;
                r.last_h2 = h2;
                r.count += 1;
            }
            _ => runs.push(Run {
                size: sz,
                suspended,
                first_h1: h1,
                first_h2: h2,
                last_h1: h1,
                last_h2: h2,
                count: 1,
            }),
        }
        // A stat per sample would slow the loop; the stop file is checked every 64 samples.
        if samples % 64 == 0 && (stop.exists() || started.elapsed() > max) {
            break;
        }
    }
    let mut out = String::new();
    for r in &runs {
        out.push_str(&format!(
            "run {} {} {} {} {} {} {}\n",
            r.size,
            u8::from(r.suspended),
            r.first_h1,
            r.first_h2,
            r.last_h1,
            r.last_h2,
            r.count
        ));
    }
    out.push_str(&format!("done {samples} {max_gap}\n"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(size: u64, suspended: bool, first: u64, last: u64) -> Run {
        Run {
            size,
            suspended,
            first_h1: first,
            first_h2: first + 10,
            last_h1: last,
            last_h2: last + 10,
            count: 2,
        }
    }

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        let s = Samples::parse("run 16 0 1 2 3 4 5\nrun 32 1 6 7 8 9 2\ndone 7 99\n").unwrap();
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.runs[1].size, 32);
        assert!(s.runs[1].suspended);
        assert_eq!((s.samples, s.max_gap_ns), (7, 99));
        assert!(Samples::parse("run 16 0 1 2 3 4 5\n").is_err(), "no done");
        assert!(Samples::parse("run x\ndone 1 1\n").is_err());
        assert!(Samples::parse("error no device\n").is_err());
    }

    #[test]
    fn no_mix_when_every_old_precedes_every_new() {
        let a = Samples {
            runs: vec![
                run(8, false, 0, 100),
                run(8, true, 110, 500),
                run(12, false, 510, 900),
            ],
            samples: 10,
            max_gap_ns: 10,
        };
        let b = Samples {
            runs: vec![
                run(8, false, 0, 200),
                run(12, true, 210, 600),
                run(12, false, 610, 900),
            ],
            samples: 10,
            max_gap_ns: 10,
        };
        let r = check_no_mix(&[("a".into(), a), ("b".into(), b)], 8, 12, 5).unwrap();
        assert_eq!(r.last_old_ns, 200);
        assert_eq!(r.first_new_ns, 525);
    }

    #[test]
    fn a_mix_is_found() {
        // b still serves the old size at 700, after a served the new one from 510.
        let a = Samples {
            runs: vec![run(8, false, 0, 100), run(12, false, 510, 900)],
            ..Samples::default()
        };
        let b = Samples {
            runs: vec![run(8, false, 0, 700), run(12, false, 710, 900)],
            ..Samples::default()
        };
        let e = check_no_mix(&[("a".into(), a), ("b".into(), b)], 8, 12, 5).unwrap_err();
        assert!(e.starts_with("b served the old size"), "{e}");
    }

    #[test]
    fn overlap_within_the_uncertainty_is_not_a_mix() {
        // b's last old sample may have happened before a's first new one: not definite.
        let a = Samples {
            runs: vec![run(12, false, 500, 900)],
            ..Samples::default()
        };
        let b = Samples {
            runs: vec![run(8, false, 0, 512)],
            ..Samples::default()
        };
        assert!(check_no_mix(&[("a".into(), a), ("b".into(), b)], 8, 12, 5).is_ok());
    }

    /// The host side on a plain file (the guest side needs a device-mapper device: lab).
    #[test]
    fn clock_is_written_with_its_magic() {
        let dir = std::env::temp_dir().join(format!("halvm-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("clock.img");
        File::create(&img).unwrap().set_len(1 << 20).unwrap();
        let c = SharedClock::start(&img, Duration::from_micros(200)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let data = std::fs::read(&img).unwrap();
        assert_eq!(&data[..8], CLOCK_MAGIC);
        let t = u64::from_le_bytes(data[8..16].try_into().unwrap());
        assert!(t <= c.now_ns());
        assert!(c.writes() > 0);
        drop(c);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
