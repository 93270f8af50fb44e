//! The status flags of VGs, PVs and LVs (`status = [...]`, `flags = [...]`), typed: one table
//! binds each flag to its lvm2 name, its bit in lvm2's `status` word and the lists it may
//! appear in (lvm2's `lib/format_text/flags.c`: `STATUS_FLAG` entries go to `status`,
//! `COMPATIBLE_FLAG` ones to `flags`, `SEGTYPE_FLAG` ones into a segment's type). A name that
//! is not in the table for its object and list is kept as written and written back in place,
//! so metadata from a newer lvm2 survives a round trip byte for byte.

use std::fmt;

/// A flag lvm2 writes in metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    Exported,
    Resizeable,
    Pvmove,
    Read,
    Write,
    /// WRITE for lvm2 versions that know system IDs and lock types (`vg_flag_write_locked`).
    WriteLocked,
    /// `--setautoactivation n` (VG and LV).
    NoAutoActivate,
    Clustered,
    Shared,
    /// Only in old backup files (lvm2 reads it, never writes it).
    Partial,
    Allocatable,
    /// A PV absent when the metadata was written.
    Missing,
    FixedMinor,
    Visible,
    Locked,
    NotSynced,
    Rebuild,
    Reshape,
    ReshapeDataOffset,
    ReshapeDeltaDisksPlus,
    ReshapeDeltaDisksMinus,
    RemoveAfterReshape,
    WriteMostly,
    ActivationSkip,
    ErrorWhenFull,
    MetadataFormat,
    /// A thin pool whose metadata is cropped to what old kernels address (segment type flag).
    CropMetadata,
    /// An LV used as a cache volume (`lvconvert --cachevol`).
    CacheVol,
    /// A cache or writecache LV whose cache is a cachevol, not a cache pool (segment type flag).
    CacheUsesCachevol,
}

/// The objects that carry flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Vg,
    Pv,
    Lv,
}

/// Where a flag is written: lvm2's flag kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `status = [...]` (`STATUS_FLAG`): a reader that does not know it refuses the metadata.
    Status,
    /// `flags = [...]` (`COMPATIBLE_FLAG`): a reader that does not know it ignores it.
    Flags,
    /// `type = "raid5+RESHAPE"` (`SEGTYPE_FLAG`): a reader that does not know it sees an
    /// unknown segment type.
    Segtype,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct FlagDef {
    pub flag: Flag,
    /// As lvm2 writes it.
    pub name: &'static str,
    /// lvm2's bit (`lib/metadata/metadata-exported.h`).
    pub bit: u64,
    /// The objects and lists it belongs to.
    pub on: &'static [(Object, List)],
}

use List::{Flags as F, Segtype as T, Status as S};
use Object::{Lv, Pv, Vg};

/// lvm2's flag tables, in its order (VG, PV, LV).
pub const FLAGS: &[FlagDef] = &[
    def(Flag::Exported, "EXPORTED", 0x2, &[(Vg, S), (Pv, S)]),
    def(Flag::Resizeable, "RESIZEABLE", 0x4, &[(Vg, S)]),
    def(Flag::Pvmove, "PVMOVE", 0x2000, &[(Vg, S), (Lv, S)]),
    def(Flag::Read, "READ", 0x100, &[(Vg, S), (Lv, S)]),
    def(Flag::Write, "WRITE", 0x200, &[(Vg, S), (Lv, S)]),
    def(
        Flag::WriteLocked,
        "WRITE_LOCKED",
        0x0020_0000_0000_0000,
        &[(Vg, F), (Lv, F)],
    ),
    def(
        Flag::NoAutoActivate,
        "NOAUTOACTIVATE",
        0x10,
        &[(Vg, F), (Lv, F)],
    ),
    def(Flag::Clustered, "CLUSTERED", 0x400, &[(Vg, S)]),
    def(Flag::Shared, "SHARED", 0x800, &[(Vg, S)]),
    def(Flag::Partial, "PARTIAL", 0x1, &[(Vg, S)]),
    def(Flag::Allocatable, "ALLOCATABLE", 0x8, &[(Pv, S)]),
    def(Flag::Missing, "MISSING", 0x80_0000, &[(Pv, F), (Pv, S)]),
    def(Flag::FixedMinor, "FIXED_MINOR", 0x80, &[(Lv, S)]),
    def(Flag::Visible, "VISIBLE", 0x40, &[(Lv, S)]),
    def(Flag::Locked, "LOCKED", 0x4000, &[(Lv, S)]),
    def(Flag::NotSynced, "NOTSYNCED", 0x8_0000, &[(Lv, S)]),
    def(Flag::Rebuild, "REBUILD", 0x10_0000, &[(Lv, S)]),
    def(Flag::Reshape, "RESHAPE", 0x1000_0000_0000_0000, &[(Lv, T)]),
    def(
        Flag::ReshapeDataOffset,
        "RESHAPE_DATA_OFFSET",
        0x2000_0000_0000_0000,
        &[(Lv, T)],
    ),
    def(
        Flag::ReshapeDeltaDisksPlus,
        "RESHAPE_DELTA_DISKS_PLUS",
        0x0100_0000_0000_0000,
        &[(Lv, T)],
    ),
    def(
        Flag::ReshapeDeltaDisksMinus,
        "RESHAPE_DELTA_DISKS_MINUS",
        0x0200_0000_0000_0000,
        &[(Lv, T)],
    ),
    def(
        Flag::RemoveAfterReshape,
        "REMOVE_AFTER_RESHAPE",
        0x0400_0000_0000_0000,
        &[(Lv, T)],
    ),
    def(
        Flag::WriteMostly,
        "WRITEMOSTLY",
        0x0200_0000_0000,
        &[(Lv, S)],
    ),
    def(
        Flag::ActivationSkip,
        "ACTIVATION_SKIP",
        0x0400_0000_0000,
        &[(Lv, F)],
    ),
    def(
        Flag::ErrorWhenFull,
        "ERROR_WHEN_FULL",
        0x0008_0000_0000_0000,
        &[(Lv, F)],
    ),
    def(
        Flag::MetadataFormat,
        "METADATA_FORMAT",
        0x0800_0000_0000_0000,
        &[(Lv, T)],
    ),
    def(Flag::CropMetadata, "CROP_METADATA", 0x400, &[(Lv, T)]),
    def(
        Flag::CacheVol,
        "CACHE_VOL",
        0x0010_0000_0000_0000,
        &[(Lv, F)],
    ),
    def(
        Flag::CacheUsesCachevol,
        "CACHE_USES_CACHEVOL",
        0x4000_0000_0000_0000,
        &[(Lv, T)],
    ),
];

/// Bit `i` of entry `n`: row `i` of [`FLAGS`] has a name of `n` bytes.
static ROWS_BY_LEN: [u32; 32] = {
    assert!(FLAGS.len() <= 32);
    let mut t = [0u32; 32];
    let mut i = 0;
    while i < FLAGS.len() {
        t[FLAGS[i].name.len()] |= 1 << i;
        i += 1;
    }
    t
};

const fn def(flag: Flag, name: &'static str, bit: u64, on: &'static [(Object, List)]) -> FlagDef {
    FlagDef {
        flag,
        name,
        bit,
        on,
    }
}

impl Flag {
    /// The flag's row in [`FLAGS`].
    pub fn def(self) -> &'static FlagDef {
        // Every variant has a row (a test checks it).
        FLAGS
            .iter()
            .find(|d| d.flag == self)
            .expect("every flag is in the table")
    }

    /// As lvm2 writes it.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    pub fn bit(self) -> u64 {
        self.def().bit
    }

    /// The flag `name` means on `object` in `list`, if the table has one. Only the rows
    /// whose names have `name`'s length are compared (one or a few).
    pub fn lookup(object: Object, list: List, name: &str) -> Option<Flag> {
        let mut rows = ROWS_BY_LEN.get(name.len()).copied().unwrap_or(0);
        while rows != 0 {
            let d = &FLAGS[rows.trailing_zeros() as usize];
            if crate::vg::key_eq(d.name, name) && d.on.contains(&(object, list)) {
                return Some(d.flag);
            }
            rows &= rows - 1;
        }
        None
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of a flag list: a flag the table knows, or a name kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagWord {
    Known(Flag),
    Unknown(String),
}

impl FlagWord {
    pub fn name(&self) -> &str {
        match self {
            FlagWord::Known(f) => f.name(),
            FlagWord::Unknown(s) => s,
        }
    }
}

/// A `status` or `flags` list in metadata order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FlagList(Vec<FlagWord>);

impl FlagList {
    pub fn new() -> FlagList {
        FlagList(Vec::new())
    }

    /// Known flags, in this order.
    pub fn of(flags: &[Flag]) -> FlagList {
        FlagList(flags.iter().copied().map(FlagWord::Known).collect())
    }

    /// Reads the names of `list` of an `object`: those the table binds there become flags,
    /// any other is kept verbatim.
    pub fn read<S: AsRef<str>>(
        object: Object,
        list: List,
        names: impl IntoIterator<Item = S>,
    ) -> FlagList {
        FlagList(
            names
                .into_iter()
                .map(|n| {
                    let n = n.as_ref();
                    match Flag::lookup(object, list, n) {
                        Some(f) => FlagWord::Known(f),
                        None => FlagWord::Unknown(n.to_string()),
                    }
                })
                .collect(),
        )
    }

    /// The names as written, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.0.iter().map(FlagWord::name)
    }

    pub fn words(&self) -> &[FlagWord] {
        &self.0
    }

    pub fn contains(&self, f: Flag) -> bool {
        self.0.contains(&FlagWord::Known(f))
    }

    /// Adds `f` at the end unless present.
    pub fn insert(&mut self, f: Flag) {
        if !self.contains(f) {
            self.0.push(FlagWord::Known(f));
        }
    }

    /// Adds `f` right after `after` (at the end without it) unless present.
    pub fn insert_after(&mut self, f: Flag, after: Flag) {
        if self.contains(f) {
            return;
        }
        let at = self
            .0
            .iter()
            .position(|w| *w == FlagWord::Known(after))
            .map_or(self.0.len(), |i| i + 1);
        self.0.insert(at, FlagWord::Known(f));
    }

    /// Removes `f`; whether it was there.
    pub fn remove(&mut self, f: Flag) -> bool {
        let before = self.0.len();
        self.0.retain(|w| *w != FlagWord::Known(f));
        self.0.len() != before
    }

    /// Sets or clears `f` (added at the end).
    pub fn set(&mut self, f: Flag, on: bool) {
        if on {
            self.insert(f);
        } else {
            self.remove(f);
        }
    }

    /// lvm2's `status` bits of the known flags.
    pub fn bits(&self) -> u64 {
        self.0
            .iter()
            .map(|w| match w {
                FlagWord::Known(f) => f.bit(),
                FlagWord::Unknown(_) => 0,
            })
            .fold(0, |a, b| a | b)
    }

    /// The names kept verbatim.
    pub fn unknown(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|w| match w {
            FlagWord::Unknown(s) => Some(s.as_str()),
            FlagWord::Known(_) => None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// `status` and `flags` lists of `object` as the model holds them: lvm2's WRITE_LOCKED (in
/// `flags`) means WRITE, which the model always says in `status`, after READ, as lvm2 does
/// once it has read the metadata. In one pass: WRITE_LOCKED is dropped from `flags` as it is
/// read (an LV's only flag, most often, which then needs no Vec) and WRITE is put into
/// `status`, which has room for it.
pub fn read_unlocked<'n>(
    object: Object,
    status: impl IntoIterator<Item = &'n str>,
    flags: impl IntoIterator<Item = &'n str>,
) -> (FlagList, FlagList) {
    let mut locked = false;
    let flags = FlagList(
        flags
            .into_iter()
            .filter_map(|n| match Flag::lookup(object, List::Flags, n) {
                Some(Flag::WriteLocked) => {
                    locked = true;
                    None
                }
                Some(f) => Some(FlagWord::Known(f)),
                None => Some(FlagWord::Unknown(n.to_string())),
            })
            .collect(),
    );
    let status = status.into_iter();
    let mut words = Vec::with_capacity(status.size_hint().0 + usize::from(locked));
    words.extend(status.map(|n| match Flag::lookup(object, List::Status, n) {
        Some(f) => FlagWord::Known(f),
        None => FlagWord::Unknown(n.to_string()),
    }));
    let mut status = FlagList(words);
    if locked {
        status.insert_after(Flag::Write, Flag::Read);
    }
    (status, flags)
}

/// Writing: `status` and `flags` as written. When `locked` (a VG with a system ID or lock
/// type), WRITE becomes the WRITE_LOCKED flag, the first of lvm2's compatible flags.
pub fn written<'a>(
    status: &'a FlagList,
    flags: &'a FlagList,
    locked: bool,
) -> (
    impl Iterator<Item = &'a str> + Clone,
    impl Iterator<Item = &'a str> + Clone,
) {
    let lock = locked && status.contains(Flag::Write);
    let add = (lock && !flags.contains(Flag::WriteLocked)).then_some(Flag::WriteLocked.name());
    let status = status
        .0
        .iter()
        .filter(move |w| !(lock && **w == FlagWord::Known(Flag::Write)))
        .map(FlagWord::name);
    (status, add.into_iter().chain(flags.names()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference [`read_unlocked`] is held to: read both lists, then unlock.
    fn unlock_write(status: &mut FlagList, flags: &mut FlagList) {
        if flags.remove(Flag::WriteLocked) {
            status.insert_after(Flag::Write, Flag::Read);
        }
    }

    const ALL: [Flag; 29] = [
        Flag::Exported,
        Flag::Resizeable,
        Flag::Pvmove,
        Flag::Read,
        Flag::Write,
        Flag::WriteLocked,
        Flag::NoAutoActivate,
        Flag::Clustered,
        Flag::Shared,
        Flag::Partial,
        Flag::Allocatable,
        Flag::Missing,
        Flag::FixedMinor,
        Flag::Visible,
        Flag::Locked,
        Flag::NotSynced,
        Flag::Rebuild,
        Flag::Reshape,
        Flag::ReshapeDataOffset,
        Flag::ReshapeDeltaDisksPlus,
        Flag::ReshapeDeltaDisksMinus,
        Flag::RemoveAfterReshape,
        Flag::WriteMostly,
        Flag::ActivationSkip,
        Flag::ErrorWhenFull,
        Flag::MetadataFormat,
        Flag::CropMetadata,
        Flag::CacheVol,
        Flag::CacheUsesCachevol,
    ];

    /// Exhaustive: a new variant fails to compile here until it is listed (and so tested).
    fn listed(f: Flag) -> bool {
        match f {
            Flag::Exported
            | Flag::Resizeable
            | Flag::Pvmove
            | Flag::Read
            | Flag::Write
            | Flag::WriteLocked
            | Flag::NoAutoActivate
            | Flag::Clustered
            | Flag::Shared
            | Flag::Partial
            | Flag::Allocatable
            | Flag::Missing
            | Flag::FixedMinor
            | Flag::Visible
            | Flag::Locked
            | Flag::NotSynced
            | Flag::Rebuild
            | Flag::Reshape
            | Flag::ReshapeDataOffset
            | Flag::ReshapeDeltaDisksPlus
            | Flag::ReshapeDeltaDisksMinus
            | Flag::RemoveAfterReshape
            | Flag::WriteMostly
            | Flag::ActivationSkip
            | Flag::ErrorWhenFull
            | Flag::MetadataFormat
            | Flag::CropMetadata
            | Flag::CacheVol
            | Flag::CacheUsesCachevol => ALL.contains(&f),
        }
    }

    #[test]
    fn every_flag_has_one_row_and_names_and_bits_are_unique_per_object() {
        for f in ALL {
            assert!(listed(f));
            assert_eq!(FLAGS.iter().filter(|d| d.flag == f).count(), 1, "{f:?}");
            assert_eq!(
                Flag::lookup(f.def().on[0].0, f.def().on[0].1, f.name()),
                Some(f)
            );
        }
        assert_eq!(FLAGS.len(), ALL.len());
        for obj in [Object::Vg, Object::Pv, Object::Lv] {
            let rows: Vec<_> = FLAGS
                .iter()
                .filter(|d| d.on.iter().any(|(o, _)| *o == obj))
                .collect();
            for (i, a) in rows.iter().enumerate() {
                for b in &rows[i + 1..] {
                    assert_ne!(a.name, b.name);
                    assert_eq!(a.bit & b.bit, 0, "{} and {} share a bit", a.name, b.name);
                }
            }
        }
    }

    #[test]
    fn a_flag_is_known_only_where_lvm2_writes_it() {
        assert_eq!(
            Flag::lookup(Object::Lv, List::Status, "VISIBLE"),
            Some(Flag::Visible)
        );
        // WRITE_LOCKED is a compatible flag: in `status` it is some other, unknown word.
        assert_eq!(Flag::lookup(Object::Vg, List::Status, "WRITE_LOCKED"), None);
        assert_eq!(Flag::lookup(Object::Pv, List::Status, "VISIBLE"), None);
        // lvm2 2.03's newer flags, where its flags.c puts them.
        for (o, l, name, f) in [
            (
                Object::Vg,
                List::Flags,
                "NOAUTOACTIVATE",
                Flag::NoAutoActivate,
            ),
            (
                Object::Lv,
                List::Flags,
                "NOAUTOACTIVATE",
                Flag::NoAutoActivate,
            ),
            (Object::Lv, List::Flags, "CACHE_VOL", Flag::CacheVol),
            (
                Object::Lv,
                List::Segtype,
                "CROP_METADATA",
                Flag::CropMetadata,
            ),
            (
                Object::Lv,
                List::Segtype,
                "CACHE_USES_CACHEVOL",
                Flag::CacheUsesCachevol,
            ),
        ] {
            assert_eq!(Flag::lookup(o, l, name), Some(f), "{name}");
        }
        assert_eq!(Flag::lookup(Object::Lv, List::Status, "CACHE_VOL"), None);
        assert_eq!(
            Flag::lookup(Object::Pv, List::Flags, "NOAUTOACTIVATE"),
            None
        );
        let l = FlagList::read(Object::Lv, List::Status, ["READ", "NEW_ONE", "VISIBLE"]);
        assert_eq!(
            l.words(),
            [
                FlagWord::Known(Flag::Read),
                FlagWord::Unknown("NEW_ONE".into()),
                FlagWord::Known(Flag::Visible)
            ]
        );
        assert_eq!(l.bits(), 0x140);
        assert_eq!(l.unknown().collect::<Vec<_>>(), ["NEW_ONE"]);
    }

    #[test]
    fn write_locked_round_trip() {
        let mut status = FlagList::read(Object::Vg, List::Status, ["RESIZEABLE", "READ", "X"]);
        let mut flags = FlagList::read(Object::Vg, List::Flags, ["WRITE_LOCKED", "Y"]);
        unlock_write(&mut status, &mut flags);
        assert_eq!(
            status.names().collect::<Vec<_>>(),
            ["RESIZEABLE", "READ", "WRITE", "X"]
        );
        assert_eq!(flags.names().collect::<Vec<_>>(), ["Y"]);
        let (s, f) = written(&status, &flags, true);
        assert_eq!(s.collect::<Vec<_>>(), ["RESIZEABLE", "READ", "X"]);
        assert_eq!(f.collect::<Vec<_>>(), ["WRITE_LOCKED", "Y"]);
        let (s, f) = written(&status, &flags, false);
        assert_eq!(s.count(), 4);
        assert_eq!(f.collect::<Vec<_>>(), ["Y"]);
    }

    mod prop {
        use super::super::*;
        use super::unlock_write;
        use proptest::prelude::*;

        fn word() -> impl Strategy<Value = String> {
            prop_oneof![
                proptest::sample::select(FLAGS.iter().map(|d| d.name).collect::<Vec<_>>())
                    .prop_map(str::to_string),
                "[A-Z_]{1,12}",
            ]
        }

        fn object() -> impl Strategy<Value = Object> {
            proptest::sample::select(vec![Object::Vg, Object::Pv, Object::Lv])
        }

        fn list() -> impl Strategy<Value = List> {
            proptest::sample::select(vec![List::Status, List::Flags, List::Segtype])
        }

        proptest! {
            /// The lookup through rows of the name's length finds what a search of the whole
            /// table finds.
            #[test]
            fn lookup_is_a_table_search(o in object(), l in list(), name in word()) {
                let search = FLAGS.iter().find(|d| d.name == name && d.on.contains(&(o, l))).map(|d| d.flag);
                prop_assert_eq!(Flag::lookup(o, l, &name), search);
            }

            /// Reading with WRITE_LOCKED unlocked in one pass gives what reading and then
            /// unlocking gives.
            #[test]
            fn read_unlocked_is_read_then_unlock(o in object(),
                                                 status in proptest::collection::vec(word(), 0..6),
                                                 flags in proptest::collection::vec(word(), 0..6)) {
                let mut want_status = FlagList::read(o, List::Status, &status);
                let mut want_flags = FlagList::read(o, List::Flags, &flags);
                unlock_write(&mut want_status, &mut want_flags);
                let got = read_unlocked(o, status.iter().map(String::as_str), flags.iter().map(String::as_str));
                prop_assert_eq!(got, (want_status, want_flags));
            }

            /// print ∘ parse is the identity on any list of names, known or not.
            #[test]
            fn names_round_trip(o in object(), l in list(), names in proptest::collection::vec(word(), 0..8)) {
                let parsed = FlagList::read(o, l, &names);
                prop_assert_eq!(parsed.names().collect::<Vec<_>>(), names.iter().map(String::as_str).collect::<Vec<_>>());
                // parse ∘ print too.
                prop_assert_eq!(FlagList::read(o, l, parsed.names()), parsed);
            }
        }
    }
}
