//! The commit protocol over every metadata area of a VG, LVM2's vg_write / vg_precommit /
//! vg_commit / vg_revert:
//!
//! 1. [`MetadataStore::prepare`] checks every area's header, checks the text fits all of
//!    them, writes the text into each circular buffer after the committed copy (synced),
//!    then records it in each precommitted slot (one synced sector write per area).
//! 2. [`PendingCommit::commit`] moves it into slot 0 (committed) and clears slot 1, area by
//!    area; [`PendingCommit::revert`] only clears slot 1.
//!
//! The committed copy is never overwritten, and each slot change is one 512-byte header
//! write, so after a crash at any point every intact area holds either the old or the new
//! text committed; [`newest`] picks the copy with the highest `seqno`.

use crate::dev::BlockDev;
use crate::error::OnDiskError;
use crate::label::DiskLocn;
use crate::mda::{
    place_text, read_mda, read_mda_header, write_mda_header, write_text, MdaHeader, MdaText,
    RawLocn,
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
        if let Some(position) = new_text.bytes().position(|b| b == 0) {
            return Err(OnDiskError::NulInText { position });
        }
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
        let size = new_text.len() as u64 + 1;
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
        // Phase 1: text into every circular buffer (each synced).
        let mut prepared = Vec::with_capacity(usable.len());
        for (dev, area, h) in &usable {
            let new = write_text(dev.as_ref(), h, new_text)?;
            prepared.push(Prepared {
                dev: Arc::clone(dev),
                area: *area,
                new,
            });
        }
        // Phase 2: precommitted slots.
        let pending = PendingCommit {
            areas: prepared,
            skipped_ignored,
        };
        for (i, (p, (_, _, h))) in pending.areas.iter().zip(&usable).enumerate() {
            let mut h = h.clone();
            h.raw_locns[1] = p.new;
            if let Err(e) = write_mda_header(p.dev.as_ref(), &h) {
                // Best effort: withdraw the precommits already made; the first error counts.
                for q in &pending.areas[..i] {
                    let _ = set_slots(q, false);
                }
                return Err(e);
            }
        }
        Ok(pending)
    }

    /// Reads every area's committed copy, tolerating damaged ones.
    pub fn read_copies(areas: &[Area]) -> Vec<CopyReport> {
        read_copies(areas)
    }
}

/// Rewrites one prepared area's header: `commit` moves the new copy into slot 0; otherwise
/// slot 1 is cleared and slot 0 kept. The header is re-read first so a concurrent change
/// (slot 1 no longer ours) is refused instead of overwritten.
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
    write_mda_header(p.dev.as_ref(), &h)
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

    fn finish(self, commit: bool) -> Result<(), OnDiskError> {
        let mut first = None;
        for p in &self.areas {
            if let Err(e) = set_slots(p, commit) {
                first.get_or_insert(e);
            }
        }
        match first {
            None => Ok(()),
            Some(e) => Err(e),
        }
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
    use crate::mda::format_mda;

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
