//! An idle child copies the memory it shares with the server before a client comes.
//!
//! A forked child shares its parent's pages copy-on-write: the first write to each costs a
//! page fault that copies it. A worker writes to many of them (the allocator reuses the
//! server's free blocks; the metadata parsed ahead is changed or freed; the stack), and under
//! an emulator such as QEMU's TCG each fault is tens of microseconds: ~2-3 ms of a 40-60 ms
//! command in the lab's guests. So a child, once forked, has a thread of the lowest priority
//! (`SCHED_IDLE`: it runs only when nothing else wants the CPU) break the sharing of every
//! resident private writable page with `MADV_POPULATE_WRITE` (Linux 5.14), the kernel
//! copying them in bulk without a fault each. Pages never touched are not populated
//! (`mincore` says which are resident), and at most [`LIMIT`] bytes are copied. Best effort:
//! an older kernel, or a client that comes first, only leaves the faults where they were.
//! The copy changes no byte, so it may run beside the command.

use std::io;

/// Bytes copied at most: the server's own memory is a few MiB; metadata parsed ahead of
/// large VGs can make it more, of which a command uses one VG's.
const LIMIT: usize = 64 << 20;

const PAGE: usize = 4096;

/// `MADV_POPULATE_WRITE` (Linux 5.14; not in every libc crate yet).
const MADV_POPULATE_WRITE: i32 = 23;

/// Starts the copy in a thread of its own; the caller goes on to wait for a client.
pub(crate) fn start() {
    let started = std::thread::Builder::new()
        .name("prefault".into())
        .spawn(|| {
            if let Err(e) = lowest_priority() {
                // At normal priority it would take the CPU from a command that starts.
                log::debug!("SCHED_IDLE: {e}; no copy ahead");
                return;
            }
            let maps = match std::fs::read_to_string("/proc/self/maps") {
                Ok(m) => m,
                Err(e) => return log::debug!("/proc/self/maps: {e}"),
            };
            let copied = copy_resident(&writable_private(&maps), LIMIT);
            log::debug!("copied {} KiB of the server's memory ahead", copied / 1024);
        });
    if let Err(e) = started {
        log::debug!("no thread to copy memory ahead: {e}");
    }
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

/// Copies the resident pages of `regions`, `limit` bytes at most; returns the bytes copied.
fn copy_resident(regions: &[(usize, usize)], limit: usize) -> usize {
    // mincore's answer for 256 MiB of address space at a time (a 1 GiB allocator arena
    // reserved but barely touched is common).
    let mut flags = vec![0u8; 1 << 16];
    let mut copied = 0;
    for &(start, end) in regions {
        let mut at = start;
        while at < end && copied < limit {
            let len = (end - at).min(flags.len() * PAGE);
            let pages = len / PAGE;
            if resident(at, len, &mut flags[..pages]).is_err() {
                break;
            }
            for (first, n) in resident_runs(&flags[..pages]) {
                let n = n.min((limit - copied) / PAGE);
                if n == 0 {
                    break;
                }
                // Failures (an old kernel: EINVAL; a range unmapped meanwhile) change nothing.
                if populate_write(at + first * PAGE, n * PAGE).is_ok() {
                    copied += n * PAGE;
                }
            }
            at += len;
        }
    }
    copied
}

/// This thread to `SCHED_IDLE`.
fn lowest_priority() -> io::Result<()> {
    let param = nix::libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for the call.
    let r = unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_IDLE, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
    fn copies_this_process_resident_pages_only() {
        // A fresh mapping: 8 pages, of which pages 2 and 5-6 touched.
        let mut v = vec![0u8; 8 * PAGE + PAGE];
        let base = (v.as_ptr() as usize).div_ceil(PAGE) * PAGE;
        let off = base - v.as_ptr() as usize;
        let mut flags = vec![0u8; 8];
        resident(base, 8 * PAGE, &mut flags).unwrap();
        // Whatever the allocator gave: the copy counts only resident pages.
        let before = resident_runs(&flags).iter().map(|r| r.1).sum::<usize>();
        v[off + 2 * PAGE] = 1;
        let copied = copy_resident(&[(base, base + 8 * PAGE)], LIMIT);
        resident(base, 8 * PAGE, &mut flags).unwrap();
        let after = resident_runs(&flags).iter().map(|r| r.1).sum::<usize>();
        assert!(after >= before.max(1));
        // Needs Linux 5.14's MADV_POPULATE_WRITE: without it nothing is copied.
        assert!(copied >= PAGE, "the touched page was not copied");
        assert!(copied <= after * PAGE, "{copied} > {after} pages");
        assert_eq!(v[off + 2 * PAGE], 1, "no byte changes");
        assert_eq!(
            copy_resident(&[(base, base + 8 * PAGE)], PAGE),
            PAGE,
            "the limit"
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
