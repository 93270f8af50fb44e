//! The commit protocol over every metadata area of a VG, LVM2's vg_write / vg_precommit /
//! vg_commit / vg_revert:
//!
//! 1. [`MetadataStore::prepare`] checks every area's header, checks the text fits all of
//!    them, then on each device writes the text into each circular buffer after the
//!    committed copy and records it in the precommitted slot, and syncs the device once.
//! 2. [`PendingCommit::commit`] moves it into slot 0 (committed) and clears slot 1 (one
//!    sector write per area, then one sync per device); [`PendingCommit::revert`] only clears
//!    slot 1.
//!
//! Syncs: each phase writes in area order (into the page cache: fast, and the crash tests
//! see one fixed write sequence), then syncs every device once, the devices in parallel
//! (one thread each), so an update waits for two sync rounds, not three syncs per area one
//! after another. That is the fewest that keep crash consistency: the commit
//! header must not reach the disk before the text it points at (the phase 1 sync, completed
//! on every device before any commit header is written), and the update must be durable
//! when `commit` returns (the phase 2 sync). The text and the precommitted slot need no
//! sync between them: slot 1 is never read as the committed copy, and a precommitted copy
//! torn by a crash is reported as `precommitted_damage` beside an intact committed copy.
//! Writes stay buffered (no `O_DIRECT`): the sync is what orders them, on files and block
//! devices alike.
//!
//! The committed copy is never overwritten, and each slot change is one 512-byte header
//! write, so after a crash at any point every intact area holds either the old or the new
//! text committed; [`newest`] picks the copy with the highest `seqno`.

use crate::dev::BlockDev;
use crate::error::OnDiskError;
use crate::label::DiskLocn;
use crate::mda::{
    place_text, read_mda, read_mda_header, write_image_unsynced, write_mda_header_unsynced,
    MdaHeader, MdaText, RawLocn, TextImage,
};
use crate::units::Bytes;
use std::path::PathBuf;
use std::sync::Arc;

/// One metadata area: the device and the area's location from the PV label.
pub type Area = (Arc<dyn BlockDev>, DiskLocn);

/// Entry point of the commit protocol.
pub struct MetadataStore;

/// One area's committed copy, or why there is none.
#[derive(Debug)]
pub struct CopyReport {
    pub path: PathBuf,
    pub area: DiskLocn,
    /// `Err(Empty | Ignored)` for areas without a copy on purpose; `Err(Io | Corrupt)` for
    /// damaged ones (see [`OnDiskError::is_damage`]).
    pub result: Result<MdaText, OnDiskError>,
}

/// What a [`CopyReport`] says, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyStatus {
    Ok,
    Empty,
    Ignored,
    Damaged,
}

impl CopyReport {
    pub fn status(&self) -> CopyStatus {
        match &self.result {
            Ok(_) => CopyStatus::Ok,
            Err(OnDiskError::Empty { .. }) => CopyStatus::Empty,
            Err(OnDiskError::Ignored { .. }) => CopyStatus::Ignored,
            Err(_) => CopyStatus::Damaged,
        }
    }
}

struct Prepared {
    dev: Arc<dyn BlockDev>,
    area: DiskLocn,
    new: RawLocn,
}

/// Text written and precommitted on every area; must be committed or reverted.
#[must_use = "a prepared metadata update must be committed or reverted"]
pub struct PendingCommit {
    areas: Vec<Prepared>,
    skipped_ignored: usize,
}

fn invalid(path: PathBuf, what: String) -> OnDiskError {
    OnDiskError::Invalid { path, what }
}

impl MetadataStore {
    /// Writes `new_text` into every non-ignored area and precommits it. Every area's header
    /// must be intact; nothing is written when the text does not fit any of them.
    pub fn prepare(areas: Vec<Area>, new_text: &str) -> Result<PendingCommit, OnDiskError> {
        Self::prepare_image(areas, &TextImage::from_text(new_text)?)
    }

    /// [`prepare`](MetadataStore::prepare) of a text made ready for the areas once
    /// ([`TextImage::new`] takes an owned text over without copying it).
    pub fn prepare_image(
        areas: Vec<Area>,
        image: &TextImage,
    ) -> Result<PendingCommit, OnDiskError> {
        let total = areas.len();
        for (i, (d, a)) in areas.iter().enumerate() {
            if areas[..i]
                .iter()
                .any(|(d2, a2)| d2.path() == d.path() && a2.offset == a.offset)
            {
                return Err(invalid(
                    d.path().to_path_buf(),
                    format!("metadata area at {} listed twice", a.offset),
                ));
            }
        }
        // Phase 0: read every header and check the text fits everywhere before writing.
        let size = image.size();
        let mut usable: Vec<(Arc<dyn BlockDev>, DiskLocn, MdaHeader)> = Vec::new();
        let mut skipped_ignored = 0;
        for (dev, area) in areas {
            let h = read_mda_header(dev.as_ref(), area)?;
            if h.committed().is_ignored() {
                skipped_ignored += 1;
                continue;
            }
            place_text(h.start.0, &h, size).map_err(|(needed, available)| {
                OnDiskError::MetadataTooLarge {
                    needed: Bytes(needed),
                    available: Bytes(available),
                }
            })?;
            usable.push((dev, area, h));
        }
        if usable.is_empty() {
            return Err(OnDiskError::NoUsableArea { areas: total });
        }
        // Phase 1: the text and the precommitted slot of every area, in order, then one
        // sync per device (devices in parallel). Every sync completes before any commit
        // header is written. The writes themselves stay in area order (they only reach the
        // page cache), so the write sequence is the same as with a sync after each.
        let mut pending = PendingCommit {
            areas: Vec::with_capacity(usable.len()),
            skipped_ignored,
        };
        let mut failed = None;
        // Every area is tried even after one failed, to tell "this copy failed" from "no
        // copy can be written from here" (the metadata-loss policy acts on the second). The
        // committed copies are untouched either way: only precommitted slots were written,
        // and they are withdrawn below.
        let mut failed_paths = Vec::new();
        for (dev, area, h) in &usable {
            let r = write_image_unsynced(dev.as_ref(), h, image).and_then(|new| {
                let mut h = h.clone();
                h.raw_locns[1] = new;
                write_mda_header_unsynced(dev.as_ref(), &h).map(|()| new)
            });
            match r {
                Ok(new) => pending.areas.push(Prepared {
                    dev: Arc::clone(dev),
                    area: *area,
                    new,
                }),
                Err(e) => {
                    failed_paths.push(dev.path().to_path_buf());
                    failed.get_or_insert(e);
                }
            }
        }
        // The sync is where a buffered write to a failing device reports its error.
        let written: Vec<(&Arc<dyn BlockDev>, DiskLocn)> =
            pending.areas.iter().map(|q| (&q.dev, q.area)).collect();
        for (path, r) in sync_each(&written) {
            if let Err(e) = r {
                failed_paths.push(path);
                failed.get_or_insert(e);
            }
        }
        if let Some(first) = failed.take() {
            let all = usable
                .iter()
                .all(|(d, _, _)| failed_paths.iter().any(|p| p == d.path()));
            failed = Some(if all {
                failed_paths.dedup();
                OnDiskError::NoCopyWritten {
                    areas: usable.len(),
                    failed: failed_paths,
                    first: Box::new(first),
                }
            } else {
                first
            });
        }
        if let Some(e) = failed {
            // Best effort: withdraw the precommits already made; the first error counts.
            for q in &pending.areas {
                let _ = set_slots(q, false);
            }
            let _ = sync_devices(
                &pending
                    .areas
                    .iter()
                    .map(|q| (&q.dev, q.area))
                    .collect::<Vec<_>>(),
            );
            return Err(e);
        }
        Ok(pending)
    }

    /// Reads every area's committed copy, tolerating damaged ones.
    pub fn read_copies(areas: &[Area]) -> Vec<CopyReport> {
        read_copies(areas)
    }
}

/// Rewrites one prepared area's header (not synced): `commit` moves the new copy into slot
/// 0; otherwise slot 1 is cleared and slot 0 kept. The header is re-read first so a
/// concurrent change (slot 1 no longer ours) is refused instead of overwritten.
fn set_slots(p: &Prepared, commit: bool) -> Result<(), OnDiskError> {
    let mut h = read_mda_header(p.dev.as_ref(), p.area)?;
    let slot1 = *h.precommitted();
    let already_committed = *h.committed() == p.new;
    if slot1 != p.new && !(already_committed && slot1.is_empty()) {
        return Err(invalid(
            p.dev.path().to_path_buf(),
            format!(
                "metadata area at {} changed underneath the pending update (precommitted slot {:?})",
                p.area.offset, slot1
            ),
        ));
    }
    if commit {
        h.raw_locns[0] = p.new;
    }
    h.raw_locns[1] = RawLocn::default();
    write_mda_header_unsynced(p.dev.as_ref(), &h)
}

/// Syncs every device of `areas` once (areas grouped by device path), each on its own
/// thread when there are several, so their waits overlap. The first error in area order
/// counts.
fn sync_devices(areas: &[(&Arc<dyn BlockDev>, DiskLocn)]) -> Result<(), OnDiskError> {
    sync_each(areas).into_iter().try_for_each(|(_, r)| r)
}

/// [`sync_devices`] with each device's own result, by device path.
fn sync_each(areas: &[(&Arc<dyn BlockDev>, DiskLocn)]) -> Vec<(PathBuf, Result<(), OnDiskError>)> {
    let mut devs: Vec<(&Arc<dyn BlockDev>, DiskLocn)> = Vec::new();
    for &(d, a) in areas {
        if !devs.iter().any(|(e, _)| e.path() == d.path()) {
            devs.push((d, a));
        }
    }
    let sync = |(d, a): &(&Arc<dyn BlockDev>, DiskLocn)| {
        d.sync().map_err(|e| OnDiskError::io(d.path(), a.offset, e))
    };
    let results: Vec<Result<(), OnDiskError>> = match devs.len() {
        0 => Vec::new(),
        1 => vec![sync(&devs[0])],
        _ => std::thread::scope(|sc| {
            let handles: Vec<_> = devs.iter().map(|d| sc.spawn(move || sync(d))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        }),
    };
    devs.iter()
        .map(|(d, _)| d.path().to_path_buf())
        .zip(results)
        .collect()
}

impl PendingCommit {
    /// Makes the new text the committed copy on every area. Every area is attempted; the
    /// first error is returned (then some areas may hold the new copy and others the old).
    pub fn commit(self) -> Result<(), OnDiskError> {
        self.finish(true)
    }

    /// Drops the precommitted copy everywhere; the committed copy stays.
    pub fn revert(self) -> Result<(), OnDiskError> {
        self.finish(false)
    }

    /// Every area's header is rewritten, in order, then each device synced once (devices
    /// in parallel). Every area is attempted; the first error (in area order) counts. A
    /// commit whose header write or sync failed on every area committed no copy: every
    /// committed slot on disk is the old one (a header is one sector), so it is
    /// [`OnDiskError::NoCopyWritten`], as when the first phase fails everywhere.
    fn finish(self, commit: bool) -> Result<(), OnDiskError> {
        let mut first = None;
        // Areas whose device failed an I/O; any other error (a concurrent change) is no
        // loss of the metadata.
        let mut failed: Vec<PathBuf> = Vec::new();
        let mut other = false;
        for p in &self.areas {
            if let Err(e) = set_slots(p, commit) {
                if matches!(e, OnDiskError::Io { .. }) {
                    failed.push(p.dev.path().to_path_buf());
                } else {
                    other = true;
                }
                first.get_or_insert(e);
            }
        }
        let written: Vec<(&Arc<dyn BlockDev>, DiskLocn)> =
            self.areas.iter().map(|p| (&p.dev, p.area)).collect();
        for (path, r) in sync_each(&written) {
            if let Err(e) = r {
                if !failed.contains(&path) {
                    failed.push(path);
                }
                // Header write errors first (area order), then sync errors.
                first.get_or_insert(e);
            }
        }
        let Some(first) = first else {
            return Ok(());
        };
        let all = self
            .areas
            .iter()
            .all(|p| failed.iter().any(|f| f == p.dev.path()));
        if commit && all && !other {
            failed.dedup();
            return Err(OnDiskError::NoCopyWritten {
                areas: self.areas.len(),
                failed,
                first: Box::new(first),
            });
        }
        Err(first)
    }

    /// Where the new copy went on each area: (device path, area, location).
    pub fn locations(&self) -> Vec<(PathBuf, DiskLocn, RawLocn)> {
        self.areas
            .iter()
            .map(|p| (p.dev.path().to_path_buf(), p.area, p.new))
            .collect()
    }

    /// Areas left alone because they are marked ignored.
    pub fn skipped_ignored(&self) -> usize {
        self.skipped_ignored
    }
}

/// Reads every area's committed copy, tolerating damaged ones.
pub fn read_copies(areas: &[Area]) -> Vec<CopyReport> {
    areas
        .iter()
        .map(|(dev, area)| {
            let path = dev.path().to_path_buf();
            let result = read_mda(dev.as_ref(), *area).and_then(|c| match c.committed {
                Some(t) => Ok(t),
                None if c.header.committed().is_ignored() => Err(OnDiskError::Ignored {
                    path: path.clone(),
                    offset: area.offset,
                }),
                None => Err(OnDiskError::Empty {
                    path: path.clone(),
                    offset: area.offset,
                }),
            });
            CopyReport {
                path,
                area: *area,
                result,
            }
        })
        .collect()
}

/// The `seqno` of a VG metadata text: the first `seqno = N` line, which LVM2 writes right
/// after the VG's `id`. `None` when absent.
pub fn text_seqno(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("seqno")?;
        let rest = rest.trim_start().strip_prefix('=')?;
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// The intact copy with the highest seqno (the first one listed among equals).
pub fn newest(reports: &[CopyReport]) -> Option<&MdaText> {
    let mut best: Option<(&MdaText, Option<u64>)> = None;
    for t in reports.iter().filter_map(|r| r.result.as_ref().ok()) {
        let s = text_seqno(&t.text);
        if best.as_ref().is_none_or(|(_, bs)| s > *bs) {
            best = Some((t, s));
        }
    }
    best.map(|(t, _)| t)
}

/// Reads all areas and returns the newest intact copy; when there is none, the first
/// damage found (or [`OnDiskError::NoUsableArea`] if every area is empty or ignored).
pub fn read_newest(areas: &[Area]) -> Result<MdaText, OnDiskError> {
    let mut reports = read_copies(areas);
    if let Some(t) = newest(&reports) {
        return Ok(t.clone());
    }
    match reports
        .iter()
        .position(|r| r.status() == CopyStatus::Damaged)
    {
        Some(i) => Err(reports.swap_remove(i).result.expect_err("damaged")),
        None => Err(OnDiskError::NoUsableArea { areas: areas.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::MemDev;
    use crate::mda::{format_mda, write_mda_header};

    fn setup(n: usize) -> (Vec<MemDev>, Vec<Area>) {
        let area = DiskLocn::new(4096, 1_044_480);
        let devs: Vec<MemDev> = (0..n)
            .map(|i| MemDev::new(format!("/mem/pv{i}"), Bytes(2 << 20)))
            .collect();
        let areas = devs
            .iter()
            .map(|d| {
                format_mda(d, area).unwrap();
                (Arc::new(d.clone()) as Arc<dyn BlockDev>, area)
            })
            .collect();
        (devs, areas)
    }

    #[test]
    fn seqno_extraction() {
        assert_eq!(text_seqno("vg {\nid = \"x\"\nseqno = 42\n}"), Some(42));
        assert_eq!(text_seqno("vg {\n\tseqno=7\n"), Some(7));
        assert_eq!(text_seqno("vg { }"), None);
        assert_eq!(text_seqno("seqnos = 3\n"), None);
    }

    #[test]
    fn prepare_commit_revert_cycle() {
        let (_devs, areas) = setup(2);
        let p = MetadataStore::prepare(areas.clone(), "vg {\nseqno = 1\n}\n").unwrap();
        // Before commit: nothing committed, precommit visible.
        for r in read_copies(&areas) {
            assert_eq!(r.status(), CopyStatus::Empty);
        }
        let c = read_mda(areas[0].0.as_ref(), areas[0].1).unwrap();
        assert_eq!(c.precommitted.unwrap().text, "vg {\nseqno = 1\n}\n");
        p.commit().unwrap();
        assert_eq!(read_newest(&areas).unwrap().text, "vg {\nseqno = 1\n}\n");
        let p = MetadataStore::prepare(areas.clone(), "vg {\nseqno = 2\n}\n").unwrap();
        assert_eq!(p.locations().len(), 2);
        p.revert().unwrap();
        for r in read_copies(&areas) {
            assert_eq!(r.result.unwrap().text, "vg {\nseqno = 1\n}\n");
        }
        let c = read_mda(areas[1].0.as_ref(), areas[1].1).unwrap();
        assert!(c.precommitted.is_none() && c.header.precommitted().is_empty());
    }

    #[test]
    fn too_large_writes_nothing() {
        let (devs, areas) = setup(2);
        let before: Vec<_> = devs.iter().map(|d| d.snapshot()).collect();
        let big = "x".repeat(600_000);
        assert!(matches!(
            MetadataStore::prepare(areas, &big),
            Err(OnDiskError::MetadataTooLarge {
                needed: Bytes(600_001),
                available: Bytes(521_472)
            })
        ));
        for (d, b) in devs.iter().zip(before) {
            assert!(d.snapshot() == b);
        }
    }

    #[test]
    fn ignored_and_duplicate_areas() {
        let (devs, mut areas) = setup(2);
        crate::mda::format_mda_with(&devs[1], areas[1].1, true).unwrap();
        let p = MetadataStore::prepare(areas.clone(), "vg {\nseqno = 1\n}").unwrap();
        assert_eq!(p.skipped_ignored(), 1);
        p.commit().unwrap();
        let st: Vec<_> = read_copies(&areas).iter().map(CopyReport::status).collect();
        assert_eq!(st, vec![CopyStatus::Ok, CopyStatus::Ignored]);
        let only_ignored = vec![areas[1].clone()];
        assert!(matches!(
            MetadataStore::prepare(only_ignored, "x"),
            Err(OnDiskError::NoUsableArea { areas: 1 })
        ));
        areas.push(areas[0].clone());
        assert!(matches!(
            MetadataStore::prepare(areas, "x"),
            Err(OnDiskError::Invalid { .. })
        ));
    }

    /// Issue 15: the second phase (the commit headers) failing on every area commits no copy
    /// either: the same structured error as the first phase's, and every committed copy is
    /// the old one. One failing area of two is an ordinary error (the other has the new one).
    #[test]
    fn a_commit_step_failing_everywhere_is_no_copy_written() {
        use crate::dev::Fault;
        let (devs, areas) = setup(2);
        MetadataStore::prepare(areas.clone(), "vg {\nseqno = 1\n}")
            .unwrap()
            .commit()
            .unwrap();
        let pending = MetadataStore::prepare(areas.clone(), "vg {\nseqno = 2\n}").unwrap();
        for d in &devs {
            d.set_fault(Fault::FailAfter { ok: 0 });
        }
        match pending.commit() {
            Err(OnDiskError::NoCopyWritten {
                areas: 2, failed, ..
            }) => assert_eq!(failed.len(), 2, "{failed:?}"),
            r => panic!("expected NoCopyWritten, got {r:?}"),
        }
        for (d, a) in &areas {
            let t = read_mda(d.as_ref(), *a).unwrap().committed.unwrap();
            assert_eq!(text_seqno(&t.text), Some(1));
        }
        // One area of two fails its commit header: not "no copy".
        devs[0].set_fault(Fault::None);
        devs[1].set_fault(Fault::None);
        let pending = MetadataStore::prepare(areas.clone(), "vg {\nseqno = 3\n}").unwrap();
        devs[1].set_fault(Fault::FailAfter { ok: 0 });
        let r = pending.commit();
        assert!(matches!(r, Err(OnDiskError::Io { .. })), "{r:?}");
        let t = read_mda(areas[0].0.as_ref(), areas[0].1)
            .unwrap()
            .committed
            .unwrap();
        assert_eq!(text_seqno(&t.text), Some(3));
    }

    #[test]
    fn no_copy_written_only_when_every_area_fails() {
        use crate::dev::Fault;
        let (devs, areas) = setup(2);
        MetadataStore::prepare(areas.clone(), "vg {\nseqno = 1\n}")
            .unwrap()
            .commit()
            .unwrap();
        devs[1].set_fault(Fault::FailAfter { ok: 0 });
        let one = MetadataStore::prepare(areas.clone(), "vg {\nseqno = 2\n}");
        assert!(
            matches!(one, Err(OnDiskError::Io { .. })),
            "{:?}",
            one.err()
        );
        devs[0].set_fault(Fault::FailAfter { ok: 0 });
        match MetadataStore::prepare(areas.clone(), "vg {\nseqno = 2\n}") {
            Err(OnDiskError::NoCopyWritten {
                areas: 2, failed, ..
            }) => {
                assert_eq!(failed.len(), 2, "{failed:?}")
            }
            r => panic!("expected NoCopyWritten, got {:?}", r.err()),
        }
        // Nothing half-done: every area still holds seqno 1 committed, nothing precommitted.
        for (d, a) in &areas {
            let h = read_mda_header(d.as_ref(), *a).unwrap();
            assert!(h.precommitted().is_empty());
            let t = read_mda(d.as_ref(), *a).unwrap().committed.unwrap();
            assert_eq!(text_seqno(&t.text), Some(1));
        }
    }

    #[test]
    fn concurrent_change_is_refused() {
        let (devs, areas) = setup(1);
        let p = MetadataStore::prepare(areas.clone(), "vg {\nseqno = 1\n}").unwrap();
        // Someone else clears the precommitted slot.
        let mut h = read_mda_header(&devs[0], areas[0].1).unwrap();
        h.raw_locns[1] = RawLocn::default();
        write_mda_header(&devs[0], &h).unwrap();
        assert!(matches!(p.commit(), Err(OnDiskError::Invalid { .. })));
    }
}

#[cfg(test)]
mod sync_tests {
    use super::*;
    use crate::dev::MemDev;
    use crate::mda::{format_mda, MDA_HEADER_SIZE};
    use std::path::Path;
    use std::sync::Mutex;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Write { dev: usize, off: u64, len: usize },
        Sync { dev: usize },
    }

    /// A MemDev that logs its writes and syncs into a log shared by several devices.
    struct Logged {
        id: usize,
        inner: MemDev,
        log: Arc<Mutex<Vec<Ev>>>,
    }

    impl BlockDev for Logged {
        fn read_at(&self, off: Bytes, buf: &mut [u8]) -> std::io::Result<()> {
            self.inner.read_at(off, buf)
        }
        fn write_at(&self, off: Bytes, data: &[u8]) -> std::io::Result<()> {
            self.log.lock().unwrap().push(Ev::Write {
                dev: self.id,
                off: off.0,
                len: data.len(),
            });
            self.inner.write_at(off, data)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.log.lock().unwrap().push(Ev::Sync { dev: self.id });
            Ok(())
        }
        fn size(&self) -> std::io::Result<Bytes> {
            self.inner.size()
        }
        fn path(&self) -> &Path {
            self.inner.path()
        }
    }

    /// `ndev` devices; device 0 carries `extra` more areas (like a PV with two mdas).
    fn rig(ndev: usize, extra: usize) -> (Vec<Area>, Arc<Mutex<Vec<Ev>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut areas = Vec::new();
        for id in 0..ndev {
            let inner = MemDev::new(format!("/mem/pv{id}"), Bytes(4 << 20));
            let dev: Arc<dyn BlockDev> = Arc::new(Logged {
                id,
                inner: inner.clone(),
                log: Arc::clone(&log),
            });
            let n = if id == 0 { 1 + extra } else { 1 };
            for k in 0..n as u64 {
                let area = DiskLocn::new(4096 + k * (1 << 20), 1 << 20);
                format_mda(&inner, area).unwrap();
                areas.push((Arc::clone(&dev), area));
            }
        }
        (areas, log)
    }

    fn is_header(areas: &[Area], dev: usize, off: u64, len: usize) -> bool {
        len == MDA_HEADER_SIZE
            && areas
                .iter()
                .any(|(d, a)| d.path() == Path::new(&format!("/mem/pv{dev}")) && a.offset.0 == off)
    }

    /// Per device: phase 1 is the text and precommit writes of its areas, then exactly one
    /// sync; every phase 1 sync comes before the first commit header write anywhere; phase 2
    /// is one header write per area, then exactly one sync.
    fn check(ndev: usize, extra: usize, commit: bool) {
        let (areas, log) = rig(ndev, extra);
        let text = format!("vg {{\nseqno = 1\n{}\n}}\n", "x".repeat(3000));
        let p = MetadataStore::prepare(areas.clone(), &text).unwrap();
        let phase1 = log.lock().unwrap().clone();
        log.lock().unwrap().clear();
        if commit {
            p.commit().unwrap();
        } else {
            p.revert().unwrap();
        }
        let phase2 = log.lock().unwrap().clone();
        for dev in 0..ndev {
            let areas_here = if dev == 0 { 1 + extra } else { 1 };
            let mine = |evs: &[Ev]| -> Vec<Ev> {
                evs.iter()
                    .filter(|e| match e {
                        Ev::Write { dev: d, .. } | Ev::Sync { dev: d } => *d == dev,
                    })
                    .cloned()
                    .collect()
            };
            let p1 = mine(&phase1);
            assert_eq!(p1.last(), Some(&Ev::Sync { dev }), "dev {dev}: {p1:?}");
            assert_eq!(
                p1.iter().filter(|e| matches!(e, Ev::Sync { .. })).count(),
                1
            );
            // Text then precommit header, per area.
            assert_eq!(p1.len(), 2 * areas_here + 1, "dev {dev}: {p1:?}");
            for pair in p1[..p1.len() - 1].chunks(2) {
                let [Ev::Write {
                    off: t, len: tl, ..
                }, Ev::Write {
                    off: h, len: hl, ..
                }] = pair
                else {
                    panic!("dev {dev}: {pair:?}");
                };
                assert!(!is_header(&areas, dev, *t, *tl), "text first: {pair:?}");
                assert!(is_header(&areas, dev, *h, *hl), "then the header: {pair:?}");
            }
            let p2 = mine(&phase2);
            assert_eq!(p2.len(), areas_here + 1, "dev {dev}: {p2:?}");
            assert_eq!(p2.last(), Some(&Ev::Sync { dev }));
            for e in &p2[..areas_here] {
                let Ev::Write { off, len, .. } = e else {
                    panic!("{e:?}")
                };
                assert!(is_header(&areas, dev, *off, *len));
            }
        }
        let want = if commit { Some(text.as_str()) } else { None };
        for r in read_copies(&areas) {
            assert_eq!(r.result.as_ref().ok().map(|t| t.text.as_str()), want);
        }
    }

    #[test]
    fn one_sync_per_device_per_phase_single() {
        check(1, 0, true);
    }

    #[test]
    fn one_sync_per_device_per_phase_three_devices() {
        check(3, 0, true);
        check(3, 0, false);
    }

    #[test]
    fn two_areas_on_one_device_share_its_syncs() {
        check(2, 1, true);
    }
}

#[cfg(test)]
mod prop_tests {
    use super::*;
    use crate::dev::MemDev;
    use crate::mda::{format_mda, max_text_size};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any sequence of updates of any fitting size: each prepare leaves the committed copy
        /// readable, each commit makes the new one readable, on areas of varied sizes.
        #[test]
        fn prop_update_sequences(area_kib in 4u64..40, sizes in proptest::collection::vec(0.0f64..1.0, 1..25)) {
            let area = DiskLocn::new(4096, area_kib * 1024);
            let d = MemDev::new("/mem/p", Bytes(64 * 1024));
            format_mda(&d, area).unwrap();
            let areas: Vec<Area> = vec![(Arc::new(d.clone()) as Arc<dyn BlockDev>, area)];
            let max = max_text_size(area.size.0) as usize;
            let mut current: Option<String> = None;
            for (i, f) in sizes.iter().enumerate() {
                let len = ((max - 1) as f64 * f) as usize;
                let text: String = std::iter::repeat_n((b'a' + (i % 26) as u8) as char, len).collect();
                let p = MetadataStore::prepare(areas.clone(), &text).unwrap();
                let before = read_copies(&areas).remove(0).result.ok().map(|t| t.text);
                prop_assert_eq!(&before, &current);
                if i % 3 == 2 {
                    p.revert().unwrap();
                } else {
                    p.commit().unwrap();
                    current = Some(text);
                }
                let now = read_copies(&areas).remove(0).result.ok().map(|t| t.text);
                prop_assert_eq!(&now, &current);
            }
        }
    }
}
