//! Block device access: the [`BlockDev`] trait, [`FileDev`] over a regular file or block
//! device, and [`MemDev`], an in-memory device with fault injection for crash tests.

use crate::units::Bytes;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Positioned reads and writes on a device. Implementations are shared between threads
/// (the commit protocol holds them in `Arc<dyn BlockDev>`).
pub trait BlockDev: Send + Sync {
    /// Fills `buf` from byte `off`; reading past the end is an error.
    fn read_at(&self, off: Bytes, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `data` at byte `off`.
    fn write_at(&self, off: Bytes, data: &[u8]) -> io::Result<()>;
    /// Makes every completed write durable.
    fn sync(&self) -> io::Result<()>;
    /// Device size in bytes.
    fn size(&self) -> io::Result<Bytes>;
    /// Path used in error messages and reports.
    fn path(&self) -> &Path;
    /// Says `[off, off + len)` will be read soon, so that the reads of several devices are
    /// under way at once (lvm2 submits its scan's reads with aio for the same reason). Never
    /// waits and never fails: a device that cannot start reading ahead is read when asked.
    fn prefetch(&self, off: Bytes, len: u64) {
        let _ = (off, len);
    }
}

/// A regular file or a block device (loop device, disk, partition).
#[derive(Debug)]
pub struct FileDev {
    file: File,
    path: PathBuf,
}

impl FileDev {
    /// Opens `path` for reading and writing.
    pub fn open(path: impl AsRef<Path>) -> io::Result<FileDev> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        FileDev::fresh(file, path)
    }

    /// Opens `path` read-only; writes then fail with the OS error.
    pub fn open_read_only(path: impl AsRef<Path>) -> io::Result<FileDev> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path)?;
        FileDev::fresh(file, path)
    }

    /// A shared disk is written by other nodes behind this host's page cache: drop what the
    /// cache holds of a block device so that what we read next comes from the disk (lvm2
    /// reads with O_DIRECT for the same reason). Our own writes are synced before anyone
    /// else reads them, so every cached page is clean and can go.
    fn fresh(file: File, path: PathBuf) -> io::Result<FileDev> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::FileTypeExt;
        if file.metadata()?.file_type().is_block_device() {
            nix::fcntl::posix_fadvise(
                file.as_raw_fd(),
                0,
                0,
                nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
            )
            .map_err(io::Error::from)?;
        }
        Ok(FileDev { file, path })
    }
}

impl BlockDev for FileDev {
    fn read_at(&self, off: Bytes, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, off.0)
    }

    fn write_at(&self, off: Bytes, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, off.0)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn size(&self) -> io::Result<Bytes> {
        // Block devices report a zero length in their metadata; seeking to the end works for
        // both kinds. `&File` implements Seek, and positioned I/O ignores the cursor.
        let mut f = &self.file;
        let end = f.seek(SeekFrom::End(0))?;
        Ok(Bytes(end))
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn prefetch(&self, off: Bytes, len: u64) {
        use std::os::fd::AsRawFd;
        // POSIX_FADV_WILLNEED starts the page cache's reading of the range and returns.
        let (Ok(off), Ok(len)) = (i64::try_from(off.0), i64::try_from(len)) else {
            return;
        };
        // A hint: a failure only leaves the range to be read when asked.
        let _ = nix::fcntl::posix_fadvise(
            self.file.as_raw_fd(),
            off,
            len,
            nix::fcntl::PosixFadviseAdvice::POSIX_FADV_WILLNEED,
        );
    }
}

/// When writes stop succeeding. Counted over every device sharing one [`FaultInjector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every write succeeds.
    None,
    /// The first `ok` writes succeed; every later write fails and nothing of it lands.
    FailAfter { ok: u64 },
    /// The first `ok` writes succeed; the next one lands only its first `prefix` bytes and
    /// fails (a torn write at a crash); every later write fails and nothing of it lands.
    TearAfter { ok: u64, prefix: usize },
}

#[derive(Debug)]
struct FaultState {
    fault: Fault,
    /// Every read fails (a disk gone bad or a dead path), apart from the write plan.
    fail_reads: bool,
    writes: u64,
    log: Vec<WriteRecord>,
}

/// One attempted write, as seen by a [`FaultInjector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    pub path: PathBuf,
    pub offset: Bytes,
    pub len: usize,
}

/// Shared write counter and fault plan; clone it into several [`MemDev`]s to model one
/// machine crashing in the middle of a multi-device update.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    state: Arc<Mutex<FaultState>>,
}

/// What the injector decided for one write.
enum Verdict {
    Land,
    Torn(usize),
    Fail,
}

impl Default for FaultInjector {
    fn default() -> Self {
        FaultInjector::new()
    }
}

impl FaultInjector {
    pub fn new() -> FaultInjector {
        FaultInjector {
            state: Arc::new(Mutex::new(FaultState {
                fault: Fault::None,
                fail_reads: false,
                writes: 0,
                log: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the fault plan and restarts the write count at zero.
    pub fn set(&self, fault: Fault) {
        let mut s = self.lock();
        s.fault = fault;
        s.writes = 0;
        s.log.clear();
    }

    /// Makes every read fail with an I/O error (`true`) or succeed again.
    pub fn set_read_failure(&self, fail: bool) {
        self.lock().fail_reads = fail;
    }

    /// Every write attempted since the last [`FaultInjector::set`], in order.
    pub fn log(&self) -> Vec<WriteRecord> {
        self.lock().log.clone()
    }

    /// Writes attempted since the last [`FaultInjector::set`] (failed ones included).
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    fn verdict(&self, path: &Path, offset: Bytes, len: usize) -> Verdict {
        let mut s = self.lock();
        let index = s.writes;
        s.writes += 1;
        s.log.push(WriteRecord {
            path: path.to_path_buf(),
            offset,
            len,
        });
        match s.fault {
            Fault::None => Verdict::Land,
            Fault::FailAfter { ok } => {
                if index < ok {
                    Verdict::Land
                } else {
                    Verdict::Fail
                }
            }
            Fault::TearAfter { ok, prefix } => {
                if index < ok {
                    Verdict::Land
                } else if index == ok {
                    Verdict::Torn(prefix)
                } else {
                    Verdict::Fail
                }
            }
        }
    }
}

/// An in-memory device. Clones share the same bytes and fault injector.
#[derive(Debug, Clone)]
pub struct MemDev {
    bytes: Arc<Mutex<Vec<u8>>>,
    injector: FaultInjector,
    path: PathBuf,
}

impl MemDev {
    /// A zero-filled device of `size` bytes named `path` (only used in messages).
    pub fn new(path: impl Into<PathBuf>, size: Bytes) -> MemDev {
        MemDev::with_injector(path, size, FaultInjector::new())
    }

    /// Like [`MemDev::new`] but counting writes with a shared `injector`.
    pub fn with_injector(path: impl Into<PathBuf>, size: Bytes, injector: FaultInjector) -> MemDev {
        let len = usize::try_from(size.0).expect("MemDev size fits in memory");
        MemDev {
            bytes: Arc::new(Mutex::new(vec![0; len])),
            injector,
            path: path.into(),
        }
    }

    /// A device holding a copy of `data` (e.g. an image captured from real lvm2).
    pub fn from_bytes(path: impl Into<PathBuf>, data: Vec<u8>) -> MemDev {
        MemDev {
            bytes: Arc::new(Mutex::new(data)),
            injector: FaultInjector::new(),
            path: path.into(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn injector(&self) -> &FaultInjector {
        &self.injector
    }

    /// Makes every read of this device (and of those sharing its injector) fail.
    pub fn set_read_failure(&self, fail: bool) {
        self.injector.set_read_failure(fail);
    }

    /// Sets this device's (possibly shared) fault plan.
    pub fn set_fault(&self, fault: Fault) {
        self.injector.set(fault);
    }

    /// A copy of the whole content.
    pub fn snapshot(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// Replaces the whole content (same length required) without counting a write.
    pub fn restore(&self, data: &[u8]) {
        let mut b = self.lock();
        assert_eq!(b.len(), data.len(), "restore with a different size");
        b.copy_from_slice(data);
    }

    /// Overwrites bytes directly, bypassing the fault injector (simulated media damage).
    pub fn poke(&self, off: Bytes, data: &[u8]) {
        let mut b = self.lock();
        let start = usize::try_from(off.0).expect("offset fits");
        b[start..start + data.len()].copy_from_slice(data);
    }

    fn range(len: usize, off: Bytes, n: usize) -> io::Result<std::ops::Range<usize>> {
        let start = usize::try_from(off.0).map_err(|_| eof())?;
        let end = start.checked_add(n).ok_or_else(eof)?;
        if end > len {
            return Err(eof());
        }
        Ok(start..end)
    }
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "access beyond the end of the device",
    )
}

impl BlockDev for MemDev {
    fn read_at(&self, off: Bytes, buf: &mut [u8]) -> io::Result<()> {
        if self.injector.lock().fail_reads {
            return Err(io::Error::other("injected fault: read failed"));
        }
        let b = self.lock();
        let r = MemDev::range(b.len(), off, buf.len())?;
        buf.copy_from_slice(&b[r]);
        Ok(())
    }

    fn write_at(&self, off: Bytes, data: &[u8]) -> io::Result<()> {
        let mut b = self.lock();
        let r = MemDev::range(b.len(), off, data.len())?;
        match self.injector.verdict(&self.path, off, data.len()) {
            Verdict::Land => {
                b[r].copy_from_slice(data);
                Ok(())
            }
            Verdict::Torn(prefix) => {
                let n = prefix.min(data.len());
                b[r.start..r.start + n].copy_from_slice(&data[..n]);
                Err(io::Error::other("injected fault: torn write"))
            }
            Verdict::Fail => Err(io::Error::other("injected fault: write failed")),
        }
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn size(&self) -> io::Result<Bytes> {
        Ok(Bytes(self.lock().len() as u64))
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memdev_reads_back_writes_and_bounds() {
        let d = MemDev::new("/mem/a", Bytes(1024));
        d.write_at(Bytes(10), b"hello").unwrap();
        let mut buf = [0u8; 5];
        d.read_at(Bytes(10), &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert!(d.read_at(Bytes(1020), &mut buf).is_err());
        assert!(d.write_at(Bytes(1022), b"abc").is_err());
        assert_eq!(d.size().unwrap(), Bytes(1024));
        let clone = d.clone();
        clone.write_at(Bytes(0), b"x").unwrap();
        d.read_at(Bytes(0), &mut buf[..1]).unwrap();
        assert_eq!(buf[0], b'x');
    }

    #[test]
    fn fail_after_and_tear() {
        let d = MemDev::new("/mem/a", Bytes(64));
        d.set_fault(Fault::FailAfter { ok: 1 });
        d.write_at(Bytes(0), b"aaaa").unwrap();
        assert!(d.write_at(Bytes(4), b"bbbb").is_err());
        assert_eq!(&d.snapshot()[..8], b"aaaa\0\0\0\0");

        d.set_fault(Fault::TearAfter { ok: 1, prefix: 2 });
        d.write_at(Bytes(8), b"cccc").unwrap();
        assert!(d.write_at(Bytes(12), b"dddd").is_err());
        assert!(d.write_at(Bytes(16), b"eeee").is_err());
        assert_eq!(&d.snapshot()[8..20], b"ccccdd\0\0\0\0\0\0");
        assert_eq!(d.injector().writes(), 3);
    }

    #[test]
    fn shared_injector_counts_across_devices() {
        let inj = FaultInjector::new();
        let a = MemDev::with_injector("/mem/a", Bytes(16), inj.clone());
        let b = MemDev::with_injector("/mem/b", Bytes(16), inj.clone());
        inj.set(Fault::FailAfter { ok: 1 });
        a.write_at(Bytes(0), b"1").unwrap();
        assert!(b.write_at(Bytes(0), b"2").is_err());
        assert_eq!(inj.writes(), 2);
    }

    #[test]
    fn filedev_on_regular_file() {
        let dir = std::env::temp_dir().join(format!("ondisk-filedev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("img");
        std::fs::write(&p, vec![0u8; 4096]).unwrap();
        let d = FileDev::open(&p).unwrap();
        d.write_at(Bytes(512), b"LABELONE").unwrap();
        d.sync().unwrap();
        let mut buf = [0u8; 8];
        d.read_at(Bytes(512), &mut buf).unwrap();
        assert_eq!(&buf, b"LABELONE");
        assert_eq!(d.size().unwrap(), Bytes(4096));
        assert!(d.read_at(Bytes(4090), &mut buf).is_err());
        assert_eq!(d.path(), p.as_path());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
