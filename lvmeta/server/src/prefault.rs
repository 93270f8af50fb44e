//! An idle child copies the memory it shares with the server before a client comes.
//!
//! A forked child shares its parent's pages copy-on-write: the first write to each costs a
//! page fault that copies it. A worker writes to many of them (the allocator reuses the
//! server's free blocks; the metadata parsed ahead is changed or freed; the stack), and under
//! an emulator such as QEMU's TCG each fault is tens of microseconds: ~2-3 ms of a 40-60 ms
//! command in the lab's guests. So an idle child breaks the sharing of its resident private
//! writable pages with `MADV_POPULATE_WRITE` (Linux 5.14), the kernel copying them in bulk
//! without a fault each. Pages never touched are not populated (`mincore` says which are
//! resident), and at most [`LIMIT`] bytes are copied. The copy changes no byte.
//!
//! When: only once no client has come to the server for [`QUIET`] (the child sees every
//! connection, also those another child takes), and in chunks between which the child looks
//! for a client, which it then serves at once (the copy is left where it was). When commands
//! come back to back (a script's loop) nothing is copied: the copy would only take the CPU
//! from the next command. [`Ahead`] decides; the child's wait for a client
//! (`worker::wait_for_client`) runs it. Best effort: an older kernel leaves the faults where
//! they were.

use std::io;
use std::time::{Duration, Instant};

/// How long no client must have come before a child copies (as long as the server waits
/// before it parses ahead).
pub(crate) const QUIET: Duration = Duration::from_millis(100);

/// Bytes copied at most: the server's own memory is a few MiB; metadata parsed ahead of
/// large VGs can make it more, of which a command uses one VG's.
const LIMIT: usize = 64 << 20;

/// Bytes populated in one call, between which the child looks for a client.
const CHUNK: usize = 256 << 10;

const PAGE: usize = 4096;

/// `MADV_POPULATE_WRITE` (Linux 5.14; not in every libc crate yet).
const MADV_POPULATE_WRITE: i32 = 23;

/// An idle child's copy ahead: waiting for a quiet spell, copying chunk by chunk, or done.
#[derive(Debug)]
pub(crate) enum Ahead {
    /// The last client seen (or the child's start) was at this instant.
    Quiet(Instant),
    /// Resident ranges (address, bytes) left to copy, the next last.
    Copying(Vec<(usize, usize)>),
    Done,
}

impl Ahead {
    pub(crate) fn new(now: Instant) -> Ahead {
        Ahead::Quiet(now)
    }

    /// How long the child may wait for a client before [`Ahead::step`] has work: the rest of
    /// the quiet spell, nothing while copying, forever once done.
    pub(crate) fn timeout(&self, now: Instant) -> Option<Duration> {
        match self {
            Ahead::Quiet(since) => Some(QUIET.saturating_sub(now.duration_since(*since))),
            Ahead::Copying(_) => Some(Duration::ZERO),
            Ahead::Done => None,
        }
    }

    /// A client came to the server (this child took it or not): the spell starts again; a
    /// copy under way stays where it is.
    pub(crate) fn client_seen(&mut self, now: Instant) {
        if let Ahead::Quiet(since) = self {
            *since = now;
        }
    }

    /// Works once the timeout passed without a client: starts the copy at the end of the
    /// quiet spell (finding the resident ranges), then copies one chunk a call.
    pub(crate) fn step(&mut self, now: Instant) {
        match self {
            Ahead::Quiet(since) if now.duration_since(*since) >= QUIET => {
                let mut ranges = resident_ranges(LIMIT);
                ranges.reverse();
                *self = Ahead::Copying(ranges);
            }
            Ahead::Quiet(_) | Ahead::Done => {}
            Ahead::Copying(ranges) => match ranges.pop() {
                Some((addr, len)) => {
                    let n = len.min(CHUNK);
                    // Failures (an old kernel: EINVAL; a range unmapped meanwhile) change
                    // nothing; the rest of the range is tried all the same.
                    let _ = populate_write(addr, n);
                    if len > n {
                        ranges.push((addr + n, len - n));
                    }
                }
                None => *self = Ahead::Done,
            },
        }
    }
}

/// The resident pages of this process's private writable mappings, as (address, bytes),
/// `limit` bytes at most.
fn resident_ranges(limit: usize) -> Vec<(usize, usize)> {
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(m) => m,
        Err(e) => {
            log::debug!("/proc/self/maps: {e}");
            return Vec::new();
        }
    };
    // mincore's answer for 256 MiB of address space at a time (a 1 GiB allocator arena
    // reserved but barely touched is common).
    let mut flags = vec![0u8; 1 << 16];
    let mut out = Vec::new();
    let mut total = 0;
    for (start, end) in writable_private(&maps) {
        let mut at = start;
        while at < end && total < limit {
            let len = (end - at).min(flags.len() * PAGE);
            let pages = len / PAGE;
            if resident(at, len, &mut flags[..pages]).is_err() {
                break;
            }
            for (first, n) in resident_runs(&flags[..pages]) {
                let bytes = (n * PAGE).min(limit - total);
                if bytes == 0 {
                    break;
                }
                out.push((at + first * PAGE, bytes));
                total += bytes;
            }
            at += len;
        }
    }
    out
}

/// The address ranges of `/proc/self/maps`' private writable mappings (`rw-p`).
fn writable_private(maps: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (range, perms) = (f.next()?, f.next()?);
            if perms != "rw-p" {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let (a, b) = (
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            );
            (a < b && a % PAGE == 0 && b % PAGE == 0).then_some((a, b))
        })
        .collect()
}

/// Runs of resident pages in `flags` (`mincore`'s answer, one byte a page, bit 0 resident)
/// as (first page, pages).
fn resident_runs(flags: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        if flags[i] & 1 == 0 {
            i += 1;
            continue;
        }
        let end = flags[i..]
            .iter()
            .position(|f| f & 1 == 0)
            .map_or(flags.len(), |n| i + n);
        runs.push((i, end - i));
        i = end;
    }
    runs
}

/// `mincore` of `[addr, addr + len)` into `flags` (one byte a page).
fn resident(addr: usize, len: usize, flags: &mut [u8]) -> io::Result<()> {
    assert!(flags.len() >= len.div_ceil(PAGE));
    // SAFETY: mincore only reads the page tables of the range (a range not mapped is
    // ENOMEM, not a fault) and writes one byte a page into `flags`, which holds that many.
    let r = unsafe { nix::libc::mincore(addr as *mut _, len, flags.as_mut_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `MADV_POPULATE_WRITE` of `[addr, addr + len)`.
fn populate_write(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: the advice faults pages in as if written without writing them: no byte of
    // the range changes, whatever it holds and whoever uses it.
    let r = unsafe { nix::libc::madvise(addr as *mut _, len, MADV_POPULATE_WRITE) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn private_writable_mappings_only() {
        let maps = "\
41109c00000-41149c00000 rw-p 00000000 00:00 0
5630b6109000-5630b610d000 rw-p 005a2000 00:16 4030563    /usr/sbin/lvmeta-server
5630b6000000-5630b6109000 r-xp 00000000 00:16 4030563    /usr/sbin/lvmeta-server
7f47cd113000-7f47cd363000 rw-s 00000000 00:01 12         /dev/zero (deleted)
7ffd063b8000-7ffd063d9000 rw-p 00000000 00:00 0          [stack]
garbage line
7ffd063d9000-7ffd063d8000 rw-p 00000000 00:00 0
";
        assert_eq!(
            writable_private(maps),
            vec![
                (0x41109c00000, 0x41149c00000),
                (0x5630b6109000, 0x5630b610d000),
                (0x7ffd063b8000, 0x7ffd063d9000),
            ]
        );
    }

    #[test]
    fn waits_for_a_quiet_spell_then_copies_chunk_by_chunk() {
        let t0 = Instant::now();
        let mut a = Ahead::new(t0);
        assert_eq!(a.timeout(t0), Some(QUIET));
        let half = t0 + QUIET / 2;
        a.step(half);
        assert!(matches!(a, Ahead::Quiet(_)), "not before the spell: {a:?}");
        // A client (for any child) starts the spell again.
        a.client_seen(half);
        assert_eq!(a.timeout(t0 + QUIET), Some(QUIET / 2));
        a.step(t0 + QUIET);
        assert!(matches!(a, Ahead::Quiet(_)));
        let quiet = half + QUIET;
        assert_eq!(a.timeout(quiet), Some(Duration::ZERO));
        a.step(quiet);
        // This process has resident writable memory (its stack at least).
        let Ahead::Copying(ranges) = &a else {
            panic!("{a:?}")
        };
        let total: usize = ranges.iter().map(|r| r.1).sum();
        assert!((PAGE..=LIMIT).contains(&total), "{total}");
        assert_eq!(
            a.timeout(quiet),
            Some(Duration::ZERO),
            "no waiting while copying"
        );
        // A client meanwhile does not restart the copy.
        a.client_seen(quiet);
        assert!(matches!(a, Ahead::Copying(_)));
        let mut steps = 0;
        while !matches!(a, Ahead::Done) {
            a.step(quiet);
            steps += 1;
            assert!(steps <= total / PAGE + 2, "never done");
        }
        assert!(steps > total.div_ceil(CHUNK) - 1);
        assert_eq!(a.timeout(quiet), None, "done: wait for a client only");
    }

    #[test]
    fn copies_resident_pages_only_and_changes_no_byte() {
        // A fresh mapping of 8 pages, of which page 2 written.
        let mut v = vec![0u8; 9 * PAGE];
        let base = (v.as_ptr() as usize).div_ceil(PAGE) * PAGE;
        let off = base - v.as_ptr() as usize;
        v[off + 2 * PAGE] = 7;
        let mut flags = vec![0u8; 8];
        resident(base, 8 * PAGE, &mut flags).unwrap();
        assert_eq!(flags[2] & 1, 1, "the written page is resident");
        // Needs Linux 5.14's MADV_POPULATE_WRITE.
        populate_write(base + 2 * PAGE, PAGE).expect("MADV_POPULATE_WRITE");
        assert_eq!(v[off + 2 * PAGE], 7, "no byte changes");
        let ranges = resident_ranges(LIMIT);
        assert!(
            ranges
                .iter()
                .any(|&(a, l)| a <= base + 2 * PAGE && base + 3 * PAGE <= a + l),
            "the written page is among the ranges"
        );
        assert_eq!(
            resident_ranges(PAGE).iter().map(|r| r.1).sum::<usize>(),
            PAGE
        );
    }

    proptest! {
        #[test]
        fn runs_cover_exactly_the_resident_pages(flags in proptest::collection::vec(0u8..4, 0..200)) {
            let runs = resident_runs(&flags);
            let mut covered = vec![false; flags.len()];
            let mut last_end = None;
            for &(first, n) in &runs {
                prop_assert!(n > 0);
                // Maximal and in order: a gap separates runs.
                if let Some(e) = last_end {
                    prop_assert!(first > e);
                }
                for c in &mut covered[first..first + n] {
                    *c = true;
                }
                last_end = Some(first + n);
            }
            for (f, c) in flags.iter().zip(&covered) {
                prop_assert_eq!(f & 1 == 1, *c);
            }
        }
    }
}
