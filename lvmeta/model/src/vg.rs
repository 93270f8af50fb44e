//! The volume-group model and its conversion from/to the text tree, with exactly the keys and
//! order lvm2's exporter writes (`lib/format_text/export.c`, segment `text_export`s).

use crate::flags::{self, Flag, FlagList, List, Object};
use crate::ModelError;
use lvmeta_ondisk::units::{Extents, Sectors};
use lvmeta_text::{CommentPlacement, Node, Section, Value};
use std::collections::{HashMap, HashSet};

/// A key the model does not know, with the modeled key it followed (None: before all of them),
/// so it is written back at the same place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraEntry {
    pub after: Option<String>,
    pub key: String,
    /// Owned: the model outlives the text it was read from.
    pub node: Node<'static>,
}

/// The keys of one section the model does not know, kept in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    pub entries: Vec<ExtraEntry>,
}

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Node<'static>> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    /// The unknown keys as a plain section (positions dropped).
    pub fn as_section(&self) -> Section<'static> {
        let mut s = Section::new();
        for e in &self.entries {
            s.push(e.key.clone(), e.node.clone());
        }
        s
    }
}

/// Builds a section from modeled keys in lvm2's order, putting unknown keys back where they were.
struct Builder<'a> {
    out: Section<'a>,
    extra: &'a Extra,
    placed: Vec<bool>,
}

impl<'a> Builder<'a> {
    fn new(extra: &'a Extra) -> Builder<'a> {
        let mut b = Builder {
            out: Section::new(),
            extra,
            placed: vec![false; extra.entries.len()],
        };
        b.place(None);
        b
    }

    fn place(&mut self, after: Option<&str>) {
        for (i, e) in self.extra.entries.iter().enumerate() {
            if !self.placed[i] && e.after.as_deref() == after {
                self.placed[i] = true;
                self.out.push(e.key.clone(), e.node.clone());
            }
        }
    }

    /// Writes a modeled key (if `node` is Some) and the unknown keys that followed it.
    fn key(&mut self, key: &'static str, node: Option<Node<'a>>) {
        if let Some(n) = node {
            self.out.push(key, n);
        }
        self.place(Some(key));
    }

    fn val(&mut self, key: &'static str, v: impl Into<Value<'a>>) {
        self.key(key, Some(Node::Value(v.into())));
    }

    fn finish(mut self) -> Section<'a> {
        for (i, e) in self.extra.entries.iter().enumerate() {
            if !self.placed[i] {
                self.out.push(e.key.clone(), e.node.clone());
            }
        }
        self.out
    }
}

fn int(u: u64) -> Value<'static> {
    Value::Int(i64::try_from(u).unwrap_or(i64::MAX))
}

fn strs(v: &[String]) -> Value<'_> {
    Value::str_array(v.iter().map(String::as_str))
}

/// `a == b` for keys: those the model reads are short, and comparing them as two overlapping
/// words is several times faster than a call to `memcmp` (reading a VG compares keys some
/// hundred thousand times).
#[inline(always)]
pub(crate) fn key_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word<const W: usize>(s: &[u8], at: usize) -> Option<[u8; W]> {
        s.get(at..at + W)?.try_into().ok()
    }
    match n {
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        // The first, middle and last bytes are all of them.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        _ => a == b,
    }
}

/// Most keys a [`Reader`] looks up (the VG section's).
const MAX_KEYS: usize = 16;
/// [`Reader::extra`]'s mask when every key the reader looks up is modeled.
const ALL_KEYS: u16 = u16::MAX;

/// The keys a [`Reader`] looks up, with a hash that tells them apart, found at compile time:
/// a key is found with one hash and one comparison instead of a search through the keys
/// (reading a VG looks keys up some ten thousand times).
struct KeyTable {
    keys: &'static [&'static str],
    /// The multiplier of [`KeyTable::slot`].
    mul: u64,
    /// `keys` index + 1 by hash slot; 0: no key.
    slots: [u8; KeyTable::SLOTS],
}

impl KeyTable {
    const SLOTS: usize = 64;

    /// Fails (at compile time) for more than [`MAX_KEYS`] keys, or keys that the bytes
    /// [`KeyTable::slot`] reads do not tell apart.
    const fn new(keys: &'static [&'static str]) -> KeyTable {
        assert!(keys.len() <= MAX_KEYS);
        let mut mul = 0x9E37_79B9_7F4A_7C15u64;
        let mut tries = 0;
        'seed: while tries < 1000 {
            let mut slots = [0u8; Self::SLOTS];
            let mut i = 0;
            while i < keys.len() {
                let h = Self::slot(keys[i].as_bytes(), mul);
                if slots[h] != 0 {
                    mul = mul.wrapping_add(0x6A09_E667_F3BC_C909) | 1;
                    tries += 1;
                    continue 'seed;
                }
                slots[h] = i as u8 + 1;
                i += 1;
            }
            return KeyTable { keys, mul, slots };
        }
        panic!("no hash tells these keys apart")
    }

    /// The hash slot of `key`: a multiplicative hash of its first and last four bytes (of
    /// its length and three bytes when shorter).
    #[inline(always)]
    const fn slot(key: &[u8], mul: u64) -> usize {
        const fn le32(b: &[u8], at: usize) -> u64 {
            (b[at] as u64)
                | (b[at + 1] as u64) << 8
                | (b[at + 2] as u64) << 16
                | (b[at + 3] as u64) << 24
        }
        let n = key.len();
        let x = if n >= 4 {
            le32(key, 0) | le32(key, n - 4) << 32
        } else if n > 0 {
            n as u64 | (key[0] as u64) << 8 | (key[n / 2] as u64) << 16 | (key[n - 1] as u64) << 24
        } else {
            0
        };
        (x.wrapping_mul(mul) >> 58) as usize
    }

    /// The index of `key` in `keys`.
    #[inline(always)]
    fn index(&self, key: &str) -> Option<usize> {
        let i = usize::from(self.slots[Self::slot(key.as_bytes(), self.mul)]).checked_sub(1)?;
        key_eq(self.keys[i], key).then_some(i)
    }
}

static VG_TABLE: KeyTable = KeyTable::new(&VG_KEYS);
static PV_TABLE: KeyTable = KeyTable::new(&PV_KEYS);
static LV_TABLE: KeyTable = KeyTable::new(&LV_KEYS);
static SEG_TABLE: KeyTable = KeyTable::new(&SEG_KEYS);
static TRAILER_TABLE: KeyTable = KeyTable::new(&Trailer::KEYS);

/// The set of `some` keys as bits of their indexes in `all` (a [`Reader`]'s keys): `extra`
/// tests membership with a mask instead of comparing strings. Fails (at compile time, where
/// it is a constant) if a key of `some` is not in `all`.
const fn key_mask(all: &[&str], some: &[&str]) -> u16 {
    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let mut mask = 0u16;
    let mut j = 0;
    while j < some.len() {
        let mut i = 0;
        while !same(all[i], some[j]) {
            i += 1;
        }
        mask |= 1 << i;
        j += 1;
    }
    mask
}

/// Reads typed keys of one section, naming the section in errors.
struct Reader<'a> {
    sec: &'a Section<'a>,
    /// The section's path (`vg/logical_volumes/lv`), joined only when an error names it:
    /// reading a VG makes readers for thousands of sections.
    parts: &'a [&'a str],
    /// The keys the model reads here, and the first entry of each (lvm2 reads the first
    /// occurrence only), found in one pass over the section instead of a search per key.
    table: &'static KeyTable,
    found: [Option<&'a Node<'a>>; MAX_KEYS],
    /// Bit `i`: `keys[i]` is in the section.
    present: u16,
    /// Whether unknown subsections are kept as extras (an LV's are its segments).
    extra_sections: bool,
    /// Whether an entry that is not one of `keys` may have to be kept as an extra.
    strays: bool,
}

// The reader and its typed getters are inlined into each reading function: there the key
// table is a known static, so a getter's literal key finds its slot at compile time and what
// is left is a load from `found` (a fifth of the model's work of reading a VG).
impl<'a> Reader<'a> {
    #[inline(always)]
    fn new(
        sec: &'a Section<'a>,
        parts: &'a [&'a str],
        table: &'static KeyTable,
        extra_sections: bool,
    ) -> Reader<'a> {
        let mut found = [None; MAX_KEYS];
        let mut present = 0u16;
        let mut strays = false;
        // lvm2 writes the keys in the table's order: the key after the last one found is
        // tried first, and only a miss is hashed.
        let mut next = 0;
        for (k, n) in &sec.entries {
            let i = match table.keys.get(next) {
                Some(want) if key_eq(want, k) => Some(next),
                _ => table.index(k),
            };
            match i {
                Some(i) => {
                    next = i + 1;
                    if present & (1 << i) == 0 {
                        present |= 1 << i;
                        found[i] = Some(n);
                    }
                }
                None => strays |= extra_sections || matches!(n, Node::Value(_)),
            }
        }
        Reader {
            sec,
            parts,
            table,
            found,
            present,
            extra_sections,
            strays,
        }
    }

    /// The first entry named `key`.
    #[inline(always)]
    fn get(&self, key: &str) -> Option<&'a Node<'a>> {
        match self.table.index(key) {
            Some(i) => self.found[i],
            None => self.sec.get(key),
        }
    }

    /// The entries whose keys are not in `known` (a [`key_mask`] of the reader's keys), in
    /// order, each with the known key it followed. A repeated known key is dropped: lvm2 reads
    /// the first occurrence only and never writes the others.
    fn extra(&self, known: u16) -> Extra {
        // Nearly every section holds modeled keys only: nothing to copy.
        if !self.strays && self.present & !known == 0 {
            return Extra::default();
        }
        let mut after: Option<&str> = None;
        let mut entries = Vec::new();
        for (k, n) in &self.sec.entries {
            match self.table.index(k) {
                // A known key: its first occurrence is where the extras after it go (a
                // repeated one is dropped).
                Some(i) if known & (1 << i) != 0 => {
                    let first = self.found[i].is_some_and(|first| std::ptr::eq(first, n));
                    after = if first { Some(k) } else { after };
                }
                _ if self.extra_sections || matches!(n, Node::Value(_)) => {
                    entries.push(ExtraEntry {
                        after: after.map(str::to_string),
                        key: str::to_owned(k),
                        node: n.clone().into_owned(),
                    });
                }
                _ => {}
            }
        }
        Extra { entries }
    }

    fn path(&self) -> String {
        self.parts.join("/")
    }

    fn wrong(&self, key: &str, expected: &'static str) -> ModelError {
        ModelError::WrongType {
            path: self.path(),
            key: key.to_string(),
            expected,
        }
    }

    fn missing(&self, key: &'static str) -> ModelError {
        ModelError::Missing {
            path: self.path(),
            key,
        }
    }

    #[inline(always)]
    fn opt_str(&self, key: &str) -> Result<Option<String>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Value(Value::Str(s))) => Ok(Some(str::to_owned(s))),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    #[inline(always)]
    fn str(&self, key: &'static str) -> Result<String, ModelError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    /// An lvm id (lvm2 refuses metadata whose ids are not 32 characters of its alphabet).
    #[inline(always)]
    fn id(&self) -> Result<String, ModelError> {
        let id = self.str("id")?;
        crate::lvm_uuid::validate(&id)?;
        Ok(id)
    }

    #[inline(always)]
    fn opt_u64(&self, key: &str) -> Result<Option<u64>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Value(Value::Int(i))) => u64::try_from(*i)
                .map(Some)
                .map_err(|_| self.wrong(key, "a non-negative integer")),
            Some(_) => Err(self.wrong(key, "an integer")),
        }
    }

    #[inline(always)]
    fn u64(&self, key: &'static str) -> Result<u64, ModelError> {
        self.opt_u64(key)?.ok_or_else(|| self.missing(key))
    }

    /// lvm2 keeps extent counts, extent sizes and the seqno in 32 bits; larger values are
    /// refused, which also keeps every sum the model makes far from overflowing.
    #[inline(always)]
    fn opt_u32(&self, key: &str) -> Result<Option<u64>, ModelError> {
        match self.opt_u64(key)? {
            Some(v) if v > u64::from(u32::MAX) => Err(self.wrong(key, "a 32-bit unsigned integer")),
            v => Ok(v),
        }
    }

    #[inline(always)]
    fn u32(&self, key: &'static str) -> Result<u64, ModelError> {
        self.opt_u32(key)?.ok_or_else(|| self.missing(key))
    }

    #[inline(always)]
    fn opt_i64(&self, key: &str) -> Result<Option<i64>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Value(Value::Int(i))) => Ok(Some(*i)),
            Some(_) => Err(self.wrong(key, "an integer")),
        }
    }

    /// A list of strings; absent means empty (lvm2 omits empty `tags`).
    /// A `status` or `flags` list of `object` (see [`FlagList::read`]).
    fn flag_list(&self, key: &str, object: Object, list: List) -> Result<FlagList, ModelError> {
        match self.get(key) {
            None => Ok(FlagList::new()),
            Some(Node::Value(Value::Array(a))) => {
                // Checked first, so the names are read without a Vec of them (and `map` keeps
                // their number known).
                if !a.iter().all(|v| matches!(v, Value::Str(_))) {
                    return Err(self.wrong(key, "an array of strings"));
                }
                Ok(FlagList::read(
                    object,
                    list,
                    a.iter().map(|v| v.as_str().unwrap_or_default()),
                ))
            }
            Some(_) => Err(self.wrong(key, "an array of strings")),
        }
    }

    /// `status` and `flags` of `object` with WRITE_LOCKED read as WRITE
    /// ([`flags::read_unlocked`]).
    fn status_and_flags(&self, object: Object) -> Result<(FlagList, FlagList), ModelError> {
        let names = |key| match self.get(key) {
            None => Ok(&[][..]),
            Some(Node::Value(Value::Array(a))) if a.iter().all(|v| matches!(v, Value::Str(_))) => {
                Ok(&a[..])
            }
            Some(_) => Err(self.wrong(key, "an array of strings")),
        };
        let status = names("status")?;
        let flags = names("flags")?;
        // All strings (checked above); `map`, not `filter_map`, so the lengths are known.
        let strs = |a: &'a [Value<'a>]| a.iter().map(|v| v.as_str().unwrap_or_default());
        Ok(flags::read_unlocked(object, strs(status), strs(flags)))
    }

    #[inline(always)]
    fn str_list(&self, key: &str) -> Result<Vec<String>, ModelError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Node::Value(Value::Array(a))) => {
                // Sized once: collecting through `Result` would grow the Vec step by step.
                let mut out = Vec::with_capacity(a.len());
                for v in a {
                    let s = v
                        .as_str()
                        .ok_or_else(|| self.wrong(key, "an array of strings"))?;
                    out.push(s.to_string());
                }
                Ok(out)
            }
            Some(_) => Err(self.wrong(key, "an array of strings")),
        }
    }

    #[inline(always)]
    fn array(&self, key: &'static str) -> Result<&'a [Value<'a>], ModelError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(Node::Value(Value::Array(a))) => Ok(a),
            Some(_) => Err(self.wrong(key, "an array")),
        }
    }

    #[inline(always)]
    fn section(&self, key: &str) -> Result<Option<&'a Section<'a>>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Section(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(key, "a section")),
        }
    }

    fn invalid(&self, problem: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            path: self.path(),
            problem: problem.into(),
        }
    }
}

/// One area of a striped segment: extents starting at `start` on PV `pv` (its key, `pv0`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeArea {
    pub pv: String,
    pub start: Extents,
}

/// An area on another LV (mirror images): logical extents starting at `start` of LV `lv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvArea {
    pub lv: String,
    pub start: Extents,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentKind {
    /// `type = "striped"`; linear is one area. `stripe_size` is zero when lvm2 writes none (one
    /// stripe).
    Striped {
        stripe_size: Sectors,
        areas: Vec<StripeArea>,
    },
    /// `type = "mirror"` (dm-mirror): legs are `_mimage_N` sub-LVs, `log` the `_mlog` sub-LV of
    /// a disk log (None: core log).
    Mirror {
        region_size: Option<Sectors>,
        log: Option<String>,
        legs: Vec<LvArea>,
    },
    /// `type = "raid1"` with metadata sub-LVs: `(rmeta, rimage)` pairs.
    Raid1 {
        region_size: Option<Sectors>,
        images: Vec<(String, String)>,
    },
    /// Any other segment type, kept verbatim (`raw` is the whole segment section).
    Other {
        segtype: String,
        /// Owned: the model outlives the text it was read from.
        raw: Section<'static>,
    },
}

impl SegmentKind {
    /// The sub-LVs a segment names, in metadata order: a mirror's legs, then its log; a
    /// raid1's (rmeta, rimage) pairs. Empty for other segments.
    pub fn sub_lvs(&self) -> Vec<&str> {
        match self {
            SegmentKind::Mirror { log, legs, .. } => legs
                .iter()
                .map(|l| l.lv.as_str())
                .chain(log.as_deref())
                .collect(),
            SegmentKind::Raid1 { images, .. } => images
                .iter()
                .flat_map(|(m, i)| [m.as_str(), i.as_str()])
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The segment type as lvs reports it (`linear` for one-stripe `striped`).
    pub fn report_type(&self) -> &str {
        match self {
            SegmentKind::Striped { areas, .. } if areas.len() == 1 => "linear",
            SegmentKind::Striped { .. } => "striped",
            SegmentKind::Mirror { .. } => "mirror",
            SegmentKind::Raid1 { .. } => "raid1",
            SegmentKind::Other { segtype, .. } => segtype,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub start_extent: Extents,
    pub extent_count: Extents,
    pub kind: SegmentKind,
    pub tags: Vec<String>,
    pub extra: Extra,
}

impl Segment {
    /// Extents each stripe area covers.
    pub fn area_len(&self) -> Extents {
        match &self.kind {
            SegmentKind::Striped { areas, .. } if !areas.is_empty() => {
                Extents(self.extent_count.0 / areas.len() as u64)
            }
            _ => self.extent_count,
        }
    }

    pub fn end(&self) -> Extents {
        Extents(self.start_extent.0 + self.extent_count.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    pub name: String,
    pub id: String,
    pub status: FlagList,
    pub flags: FlagList,
    pub tags: Vec<String>,
    pub creation_time: Option<i64>,
    pub creation_host: Option<String>,
    /// lvmlockd's per-LV lock arguments.
    pub lock_args: Option<String>,
    pub segments: Vec<Segment>,
    pub extra: Extra,
}

impl LogicalVolume {
    pub fn is_visible(&self) -> bool {
        self.status.contains(Flag::Visible)
    }

    pub fn size(&self) -> Extents {
        Extents(self.segments.iter().map(|s| s.extent_count.0).sum())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicalVolume {
    /// The key in `physical_volumes` (`pv0`, `pv1`...), by which segments refer to it.
    pub name: String,
    pub id: String,
    /// Device path hint.
    pub device: Option<String>,
    pub status: FlagList,
    pub flags: FlagList,
    pub tags: Vec<String>,
    pub dev_size: Sectors,
    pub pe_start: Sectors,
    pub pe_count: Extents,
    pub extra: Extra,
}

impl PhysicalVolume {
    /// A new allocatable PV entry.
    pub fn new(
        id: &str,
        device: Option<&str>,
        dev_size: Sectors,
        pe_start: Sectors,
        pe_count: Extents,
    ) -> Result<PhysicalVolume, ModelError> {
        Ok(PhysicalVolume {
            name: String::new(),
            id: crate::lvm_uuid::format_with_dashes(id)?,
            device: device.map(str::to_string),
            status: FlagList::of(&[Flag::Allocatable]),
            flags: FlagList::new(),
            tags: Vec::new(),
            dev_size,
            pe_start,
            pe_count,
            extra: Extra::default(),
        })
    }

    pub fn is_allocatable(&self) -> bool {
        self.status.contains(Flag::Allocatable)
    }

    /// Whether the metadata marks the PV MISSING (absent when it was last written).
    pub fn is_missing(&self) -> bool {
        self.flags.contains(Flag::Missing)
    }

    /// Marks or unmarks the PV MISSING.
    pub fn set_missing(&mut self, missing: bool) {
        self.flags.set(Flag::Missing, missing);
    }

    /// The device hint, or the PV's key when there is none.
    pub fn device_name(&self) -> &str {
        self.device.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeGroup {
    pub name: String,
    pub id: String,
    pub seqno: u64,
    pub format: Option<String>,
    pub status: FlagList,
    pub flags: FlagList,
    pub tags: Vec<String>,
    pub system_id: Option<String>,
    pub lock_type: Option<String>,
    pub lock_args: Option<String>,
    pub extent_size: Sectors,
    pub max_lv: u64,
    pub max_pv: u64,
    pub metadata_copies: u64,
    pub pvs: Vec<PhysicalVolume>,
    /// In metadata order (lvm2 writes visible LVs first, then hidden ones).
    pub lvs: Vec<LogicalVolume>,
    pub extra: Extra,
}

impl VolumeGroup {
    /// Whether `self` is `before` with LVs added and nothing else changed but the seqno: the
    /// VG's own fields and PVs equal, every LV of `before` here unchanged, and each added LV
    /// made of PV areas or of added LVs only (a new linear, striped, mirror or raid1 LV with
    /// its sub-LVs; not a snapshot, thin or cache LV, whose segments may name existing LVs).
    /// Such a commit changes no device-mapper table of an existing LV on any node.
    pub fn only_adds_lvs_to(&self, before: &VolumeGroup) -> bool {
        // Every field named, so that a new one is considered here.
        let VolumeGroup {
            name,
            id,
            seqno: _,
            format,
            status,
            flags,
            tags,
            system_id,
            lock_type,
            lock_args,
            extent_size,
            max_lv,
            max_pv,
            metadata_copies,
            pvs,
            lvs,
            extra,
        } = self;
        let same_vg = *name == before.name
            && *id == before.id
            && *format == before.format
            && *status == before.status
            && *flags == before.flags
            && *tags == before.tags
            && *system_id == before.system_id
            && *lock_type == before.lock_type
            && *lock_args == before.lock_args
            && *extent_size == before.extent_size
            && *max_lv == before.max_lv
            && *max_pv == before.max_pv
            && *metadata_copies == before.metadata_copies
            && *pvs == before.pvs
            && *extra == before.extra;
        if !same_vg {
            return false;
        }
        let old: HashMap<&str, &LogicalVolume> =
            before.lvs.iter().map(|l| (l.id.as_str(), l)).collect();
        let old_names: HashSet<&str> = before.lvs.iter().map(|l| l.name.as_str()).collect();
        let added: HashSet<&str> = lvs
            .iter()
            .filter(|l| !old.contains_key(l.id.as_str()))
            .map(|l| l.name.as_str())
            .collect();
        let mut kept = 0;
        for lv in lvs {
            match old.get(lv.id.as_str()) {
                Some(o) if *o == lv => kept += 1,
                Some(_) => return false,
                None if old_names.contains(lv.name.as_str()) => return false,
                None => {
                    let own = lv.segments.iter().all(|s| match &s.kind {
                        SegmentKind::Striped { .. } => true,
                        SegmentKind::Mirror { .. } | SegmentKind::Raid1 { .. } => {
                            s.kind.sub_lvs().iter().all(|n| added.contains(n))
                        }
                        SegmentKind::Other { .. } => false,
                    });
                    if !own {
                        return false;
                    }
                }
            }
        }
        kept == before.lvs.len()
    }
}

/// The keys after the VG section: what wrote the metadata and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// The comment lvm2 puts before `contents` (`# Generated by LVM2 version ...`), without
    /// the `#`.
    pub generated_by: Option<String>,
    pub contents: String,
    pub version: i64,
    pub description: String,
    pub creation_host: String,
    /// The uname text lvm2 writes as a comment after `creation_host`.
    pub creation_host_comment: Option<String>,
    pub creation_host_system_id: Option<String>,
    pub creation_time: i64,
    /// ctime() text lvm2 writes as a comment after `creation_time`.
    pub creation_time_comment: Option<String>,
    pub extra: Extra,
}

impl Trailer {
    /// A trailer for metadata written now by this suite. `uname` is the text lvm2 puts after
    /// `creation_host` (sysname nodename release version machine), if known.
    pub fn new(description: &str, host: &str, unix_time: i64, uname: Option<&str>) -> Trailer {
        let when = crate::time::ctime_utc(unix_time);
        Trailer {
            generated_by: Some(format!(
                " Generated by halvm lvmeta {}: {when}",
                env!("CARGO_PKG_VERSION")
            )),
            contents: "Text Format Volume Group".into(),
            version: 1,
            description: description.into(),
            creation_host: host.into(),
            creation_host_comment: uname.map(str::to_string),
            creation_host_system_id: None,
            creation_time: unix_time,
            creation_time_comment: Some(when),
            extra: Extra::default(),
        }
    }

    const KEYS: [&'static str; 6] = [
        "contents",
        "version",
        "description",
        "creation_host",
        "creation_host_system_id",
        "creation_time",
    ];

    /// Reads the trailer keys (and their comments) from a whole metadata document.
    pub fn from_metadata(doc: &Section) -> Result<Trailer, ModelError> {
        // The VG section is not part of the trailer's extras.
        let r = Reader::new(doc, &["metadata"], &TRAILER_TABLE, false);
        let extra = r.extra(ALL_KEYS);
        let comment_after = |key| {
            doc.trailing_comment(key)
                .map(|c| c.trim_start_matches('#').trim_start().to_string())
        };
        let generated_by = doc
            .comments
            .iter()
            .find(|c| c.placement == CommentPlacement::Before)
            .map(|c| c.text.trim_start_matches('#').to_string());
        Ok(Trailer {
            generated_by,
            contents: r.str("contents")?,
            version: r.opt_i64("version")?.ok_or_else(|| r.missing("version"))?,
            description: r.opt_str("description")?.unwrap_or_default(),
            creation_host: r.opt_str("creation_host")?.unwrap_or_default(),
            creation_host_comment: comment_after("creation_host"),
            creation_host_system_id: r.opt_str("creation_host_system_id")?,
            creation_time: r.opt_i64("creation_time")?.unwrap_or(0),
            creation_time_comment: comment_after("creation_time"),
            extra,
        })
    }

    /// Appends the trailer's entries and comments to `doc`.
    fn append_to<'a>(&'a self, doc: &mut Section<'a>) {
        let first = doc.entries.len();
        if let Some(g) = &self.generated_by {
            doc.add_comment(first, CommentPlacement::Before, format!("#{g}"));
        }
        let mut b = Builder::new(&self.extra);
        b.val("contents", self.contents.as_str());
        b.val("version", self.version);
        b.val("description", self.description.as_str());
        b.val("creation_host", self.creation_host.as_str());
        b.key(
            "creation_host_system_id",
            self.creation_host_system_id
                .as_deref()
                .map(|s| Node::Value(s.into())),
        );
        b.val("creation_time", self.creation_time);
        let sec = b.finish();
        for (k, n) in sec.entries {
            let idx = doc.entries.len();
            let comment = match &*k {
                "creation_host" => self.creation_host_comment.as_ref(),
                "creation_time" => self.creation_time_comment.as_ref(),
                _ => None,
            };
            if let Some(c) = comment {
                doc.add_comment(idx, CommentPlacement::After, format!("# {c}"));
            }
            doc.entries.push((k, n));
        }
    }
}

const VG_KEYS: [&str; 15] = [
    "id",
    "seqno",
    "format",
    "status",
    "flags",
    "tags",
    "system_id",
    "lock_type",
    "lock_args",
    "extent_size",
    "max_lv",
    "max_pv",
    "metadata_copies",
    "physical_volumes",
    "logical_volumes",
];

const PV_KEYS: [&str; 8] = [
    "id", "device", "status", "flags", "tags", "dev_size", "pe_start", "pe_count",
];

const LV_KEYS: [&str; 8] = [
    "id",
    "status",
    "flags",
    "tags",
    "creation_time",
    "creation_host",
    "lock_args",
    "segment_count",
];

impl VolumeGroup {
    /// A new empty VG (what vgcreate writes before adding PVs): `RESIZEABLE, READ, WRITE`,
    /// seqno 1, format lvm2, unlimited LVs and PVs.
    pub fn new(name: &str, extent_size: Sectors) -> Result<VolumeGroup, ModelError> {
        crate::names::validate_vg_name(name)?;
        // lvm2's `vg_check_new_extent_size` for the lvm2 format: a power of two, or else a
        // multiple of 128 KiB (`MIN_NON_POWER2_EXTENT_SIZE`).
        let es = extent_size.0;
        if es == 0 || (!es.is_power_of_two() && es % 256 != 0) || es < 8 {
            return Err(ModelError::Invalid {
                path: name.into(),
                problem: format!(
                    "extent size {es} sectors: a power of two of at least 4 KiB, or a multiple of 128 KiB"
                ),
            });
        }
        Ok(VolumeGroup {
            name: name.into(),
            id: crate::lvm_uuid::generate_dashed(),
            seqno: 1,
            format: Some("lvm2".into()),
            status: FlagList::of(&[Flag::Resizeable, Flag::Read, Flag::Write]),
            flags: FlagList::new(),
            tags: Vec::new(),
            system_id: None,
            lock_type: None,
            lock_args: None,
            extent_size,
            max_lv: 0,
            max_pv: 0,
            metadata_copies: 0,
            pvs: Vec::new(),
            lvs: Vec::new(),
            extra: Extra::default(),
        })
    }

    /// Adds a PV, named after its position (`pvN`), as lvm2 numbers them.
    pub fn add_pv(&mut self, mut pv: PhysicalVolume) -> Result<&PhysicalVolume, ModelError> {
        if self.pvs.iter().any(|p| p.id == pv.id) {
            return Err(ModelError::Invalid {
                path: self.name.clone(),
                problem: format!("PV {} is already in the volume group", pv.id),
            });
        }
        pv.name = format!("pv{}", self.pvs.len());
        self.pvs.push(pv);
        Ok(&self.pvs[self.pvs.len() - 1])
    }

    /// Removes an unused PV (vgreduce) and renumbers the rest as lvm2 does.
    pub fn remove_pv(&mut self, name: &str) -> Result<PhysicalVolume, ModelError> {
        let idx = self
            .pvs
            .iter()
            .position(|p| p.name == name || p.device.as_deref() == Some(name))
            .ok_or_else(|| ModelError::NoSuchPv {
                name: name.to_string(),
            })?;
        let key = self.pvs[idx].name.clone();
        let users: Vec<String> = self
            .lvs
            .iter()
            .filter(|lv| lv.uses_pv(&key))
            .map(|lv| lv.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(ModelError::PvInUse {
                pv: key,
                lvs: users,
            });
        }
        let pv = self.pvs.remove(idx);
        self.renumber_pvs();
        Ok(pv)
    }

    /// Renames PVs to `pv0..pvN-1` by position (lvm2 does this on every write) and updates
    /// the segments that refer to them.
    pub fn renumber_pvs(&mut self) {
        let map: Vec<(String, String)> = self
            .pvs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), format!("pv{i}")))
            .collect();
        if map.iter().all(|(a, b)| a == b) {
            return;
        }
        for lv in &mut self.lvs {
            for seg in &mut lv.segments {
                match &mut seg.kind {
                    SegmentKind::Striped { areas, .. } => {
                        for a in areas {
                            if let Some((_, new)) = map.iter().find(|(old, _)| *old == a.pv) {
                                a.pv = new.clone();
                            }
                        }
                    }
                    // PV areas of opaque segments (pvmove's mirror, flagged striped types).
                    SegmentKind::Other { raw, .. } => {
                        for key in ["stripes", "mirrors"] {
                            let Some(Node::Value(Value::Array(arr))) = raw.get_mut(key) else {
                                continue;
                            };
                            for pair in arr.chunks_mut(2) {
                                if let [Value::Str(pv), Value::Int(_)] = pair {
                                    if let Some((_, new)) = map.iter().find(|(old, _)| old == pv) {
                                        *pv = new.clone().into();
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        for (pv, (_, new)) in self.pvs.iter_mut().zip(map) {
            pv.name = new;
        }
    }

    pub fn pv(&self, name: &str) -> Option<&PhysicalVolume> {
        self.pvs.iter().find(|p| p.name == name)
    }

    pub fn pv_by_device(&self, device: &str) -> Option<&PhysicalVolume> {
        self.pvs
            .iter()
            .find(|p| p.device.as_deref() == Some(device))
    }

    pub fn lv(&self, name: &str) -> Option<&LogicalVolume> {
        self.lvs.iter().find(|l| l.name == name)
    }

    pub fn lv_mut(&mut self, name: &str) -> Option<&mut LogicalVolume> {
        self.lvs.iter_mut().find(|l| l.name == name)
    }

    /// Reads the VG from a whole metadata document (VG section plus trailer), or from a
    /// document holding just the VG section.
    pub fn from_metadata(doc: &Section) -> Result<VolumeGroup, ModelError> {
        let (name, sec) = doc.sections().next().ok_or(ModelError::NoVolumeGroup)?;
        Self::from_vg_section(name, sec)
    }

    fn from_vg_section(name: &str, sec: &Section) -> Result<VolumeGroup, ModelError> {
        let parts = [name];
        let r = Reader::new(sec, &parts, &VG_TABLE, true);
        let extent_size = r.u32("extent_size")?;
        if extent_size == 0 {
            return Err(r.invalid("extent_size is 0"));
        }
        let pvsecs = r.section("physical_volumes")?;
        let mut pvs = Vec::with_capacity(pvsecs.map_or(0, |s| s.entries.len()));
        if let Some(pvsec) = pvsecs {
            for (k, n) in &pvsec.entries {
                let Node::Section(s) = n else {
                    return Err(ModelError::WrongType {
                        path: format!("{name}/physical_volumes"),
                        key: str::to_owned(k),
                        expected: "a section",
                    });
                };
                pvs.push(read_pv(name, k, s)?);
            }
        }
        let pv_names: Vec<&str> = pvs
            .iter()
            .map(|p: &PhysicalVolume| p.name.as_str())
            .collect();
        let lvsecs = r.section("logical_volumes")?;
        let mut lvs = Vec::with_capacity(lvsecs.map_or(0, |s| s.entries.len()));
        if let Some(lvsec) = lvsecs {
            for (k, n) in &lvsec.entries {
                let Node::Section(s) = n else {
                    return Err(ModelError::WrongType {
                        path: format!("{name}/logical_volumes"),
                        key: str::to_owned(k),
                        expected: "a section",
                    });
                };
                lvs.push(read_lv(name, k, s, &pv_names)?);
            }
        }
        let id = r.id()?;
        let seqno = r.u32("seqno")?;
        let format = r.opt_str("format")?;
        let (status, flags) = r.status_and_flags(Object::Vg)?;
        let vg = VolumeGroup {
            name: name.to_string(),
            id,
            seqno,
            format,
            status,
            flags,
            tags: r.str_list("tags")?,
            system_id: r.opt_str("system_id")?,
            lock_type: r.opt_str("lock_type")?,
            lock_args: r.opt_str("lock_args")?,
            extent_size: Sectors(extent_size),
            max_lv: r.opt_u32("max_lv")?.unwrap_or(0),
            max_pv: r.opt_u32("max_pv")?.unwrap_or(0),
            metadata_copies: r.opt_u32("metadata_copies")?.unwrap_or(0),
            pvs,
            lvs,
            extra: r.extra(ALL_KEYS),
        };
        vg.check_references()?;
        Ok(vg)
    }

    /// Every PV and LV a segment names exists; areas stay inside their PV; a sub-LV belongs
    /// to one LV only, never to itself. Names are looked up through indexes, so a VG of
    /// thousands of LVs is checked in n log n, not n².
    fn check_references(&self) -> Result<(), ModelError> {
        let mut parent_of: HashMap<&str, &str> = HashMap::new();
        // PVs by name, the first of equal names first (what `self.pv` finds).
        let mut pvs: Vec<&PhysicalVolume> = self.pvs.iter().collect();
        pvs.sort_by(|a, b| a.name.cmp(&b.name));
        let pv = |name: &str| {
            let i = pvs.partition_point(|p| p.name.as_str() < name);
            pvs.get(i).filter(|p| p.name == name).copied()
        };
        // LV names, sorted once the first mirror or raid1 segment needs them.
        let mut lv_names: Option<Vec<&str>> = None;
        let lv_exists = |name: &str| {
            let names = lv_names.get_or_insert_with(|| {
                let mut v: Vec<&str> = self.lvs.iter().map(|l| l.name.as_str()).collect();
                v.sort_unstable();
                v
            });
            names.binary_search(&name).is_ok()
        };
        self.check_references_with(
            // Every earlier entry of `sub` named this LV, or this fails: one parent.
            |sub, parent| {
                let other = parent_of.get(sub).is_some_and(|&p| p != parent);
                parent_of.insert(sub, parent);
                other
            },
            pv,
            lv_exists,
        )
    }

    /// The rules of [`Self::check_references`], with its lookups given: `other_parent(sub,
    /// lv)` records that `lv` uses `sub` and says whether another LV used it before; `pv` finds
    /// the first PV of a name; `lv_exists` says whether an LV of a name exists.
    pub(crate) fn check_references_with<'a>(
        &'a self,
        mut other_parent: impl FnMut(&'a str, &'a str) -> bool,
        pv: impl Fn(&str) -> Option<&'a PhysicalVolume>,
        mut lv_exists: impl FnMut(&str) -> bool,
    ) -> Result<(), ModelError> {
        for lv in &self.lvs {
            for seg in &lv.segments {
                for sub in seg.kind.sub_lvs() {
                    if sub == lv.name || other_parent(sub, &lv.name) {
                        return Err(ModelError::Invalid {
                            path: format!("{}/logical_volumes/{}", self.name, lv.name),
                            problem: format!("sub-LV {sub:?} is used by more than one LV"),
                        });
                    }
                }
            }
        }
        for lv in &self.lvs {
            let path = || format!("{}/logical_volumes/{}", self.name, lv.name);
            let invalid = |problem: String| ModelError::Invalid {
                path: path(),
                problem,
            };
            for seg in &lv.segments {
                if let SegmentKind::Striped { areas, .. } = &seg.kind {
                    for a in areas {
                        let pv =
                            pv(&a.pv).ok_or_else(|| invalid(format!("unknown PV {:?}", a.pv)))?;
                        if a.start.0.saturating_add(seg.area_len().0) > pv.pe_count.0 {
                            return Err(invalid(format!(
                                "area {}({}) of {} extents runs past the PV's {} extents",
                                a.pv,
                                a.start.0,
                                seg.area_len().0,
                                pv.pe_count.0
                            )));
                        }
                    }
                }
                for l in seg.kind.sub_lvs() {
                    if !lv_exists(l) {
                        return Err(invalid(format!("unknown sub-LV {l:?}")));
                    }
                }
            }
        }
        Ok(())
    }

    /// The VG section alone, keys in lvm2's order (borrowing the VG's strings).
    pub fn to_vg_section(&self) -> Section<'_> {
        // lvm2 numbers PVs by position on every write; copying the VG (which may hold
        // thousands of LVs) is only needed when the keys are not in order already.
        if !self.pvs_numbered() {
            let mut vg = self.clone();
            vg.renumber_pvs();
            return vg.numbered_vg_section().into_owned();
        }
        self.numbered_vg_section()
    }

    /// The PVs' keys are `pv0..pvN-1` by position already, as lvm2 writes them.
    pub(crate) fn pvs_numbered(&self) -> bool {
        self.pvs
            .iter()
            .enumerate()
            .all(|(i, p)| p.name.strip_prefix("pv") == Some(i.to_string().as_str()))
    }

    fn numbered_vg_section(&self) -> Section<'_> {
        let vg = self;
        let locked = vg.is_write_locked();
        let mut b = Builder::new(&vg.extra);
        b.val("id", vg.id.as_str());
        b.val("seqno", int(vg.seqno));
        b.key(
            "format",
            vg.format.as_deref().map(|f| Node::Value(f.into())),
        );
        let (status, flags) = status_and_flags(&vg.status, &vg.flags, locked);
        b.val("status", status);
        b.val("flags", flags);
        b.key(
            "tags",
            (!vg.tags.is_empty()).then(|| Node::Value(strs(&vg.tags))),
        );
        b.key("system_id", opt_str_node(&vg.system_id));
        b.key("lock_type", opt_str_node(&vg.lock_type));
        b.key("lock_args", opt_str_node(&vg.lock_args));
        b.val("extent_size", int(vg.extent_size.0));
        b.val("max_lv", int(vg.max_lv));
        b.val("max_pv", int(vg.max_pv));
        b.val("metadata_copies", int(vg.metadata_copies));
        let mut pvs = Section::new();
        for pv in &vg.pvs {
            pvs.push(pv.name.clone(), write_pv(pv));
        }
        b.key("physical_volumes", Some(Node::Section(pvs)));
        let lvs_node = (!vg.lvs.is_empty()).then(|| {
            let mut lvs = Section::new();
            // lvm2 writes visible LVs first, then the hidden ones, each in list order.
            for lv in vg.lvs.iter().filter(|l| l.is_visible()) {
                lvs.push(lv.name.clone(), write_lv(lv, locked));
            }
            for lv in vg.lvs.iter().filter(|l| !l.is_visible()) {
                lvs.push(lv.name.clone(), write_lv(lv, locked));
            }
            Node::Section(lvs)
        });
        b.key("logical_volumes", lvs_node);
        b.finish()
    }

    /// The whole document as lvm2 writes it into a metadata area: VG section, then trailer.
    pub fn to_metadata<'a>(&'a self, trailer: &'a Trailer) -> Section<'a> {
        let mut doc = Section::new();
        doc.push(self.name.clone(), self.to_vg_section());
        trailer.append_to(&mut doc);
        doc
    }

    /// The whole document as lvm2 writes a backup file: trailer first, then the VG section
    /// (write it with `lvmeta_text::Style::Backup`).
    pub fn to_backup<'a>(&'a self, trailer: &'a Trailer) -> Section<'a> {
        let mut doc = Section::new();
        trailer.append_to(&mut doc);
        let mut vg = self.to_vg_section();
        crate::backup_comments::annotate_vg(&mut vg);
        doc.push(self.name.clone(), vg);
        doc
    }

    /// lvm2 (`vg_flag_write_locked`) replaces WRITE by the WRITE_LOCKED flag in VGs with a
    /// system ID or a lock type, so that lvm2 versions without them cannot write.
    pub fn is_write_locked(&self) -> bool {
        self.system_id.as_deref().is_some_and(|s| !s.is_empty())
            || self
                .lock_type
                .as_deref()
                .is_some_and(|s| !s.is_empty() && s != "none")
    }
}

/// `status` and `flags` as written (see [`flags::written`]).
fn status_and_flags<'a>(
    status: &'a FlagList,
    flags: &'a FlagList,
    locked: bool,
) -> (Value<'a>, Value<'a>) {
    let (status, flags) = flags::written(status, flags, locked);
    (Value::str_array(status), Value::str_array(flags))
}

fn opt_str_node(s: &Option<String>) -> Option<Node<'_>> {
    s.as_deref().map(|s| Node::Value(s.into()))
}

fn read_pv(vg: &str, name: &str, sec: &Section) -> Result<PhysicalVolume, ModelError> {
    let parts = [vg, "physical_volumes", name];
    let r = Reader::new(sec, &parts, &PV_TABLE, true);
    Ok(PhysicalVolume {
        name: name.to_string(),
        id: r.id()?,
        device: r.opt_str("device")?,
        status: r.flag_list("status", Object::Pv, List::Status)?,
        flags: r.flag_list("flags", Object::Pv, List::Flags)?,
        tags: r.str_list("tags")?,
        dev_size: Sectors(r.opt_u64("dev_size")?.unwrap_or(0)),
        pe_start: Sectors(r.u64("pe_start")?),
        pe_count: Extents(r.u32("pe_count")?),
        extra: r.extra(ALL_KEYS),
    })
}

fn write_pv(pv: &PhysicalVolume) -> Section<'_> {
    let mut b = Builder::new(&pv.extra);
    b.val("id", pv.id.as_str());
    b.key("device", opt_str_node(&pv.device));
    b.val("status", Value::str_array(pv.status.names()));
    b.val("flags", Value::str_array(pv.flags.names()));
    b.key(
        "tags",
        (!pv.tags.is_empty()).then(|| Node::Value(strs(&pv.tags))),
    );
    b.val("dev_size", int(pv.dev_size.0));
    b.val("pe_start", int(pv.pe_start.0));
    b.val("pe_count", int(pv.pe_count.0));
    b.finish()
}

fn read_lv(
    vg: &str,
    name: &str,
    sec: &Section,
    pv_names: &[&str],
) -> Result<LogicalVolume, ModelError> {
    // Segments are subsections; they are rebuilt from `segments`, not kept as extras.
    let parts = [vg, "logical_volumes", name];
    let r = Reader::new(sec, &parts, &LV_TABLE, false);
    let expected = match r.get("segment_count") {
        Some(Node::Value(Value::Int(n))) => {
            usize::try_from(*n).map_or(0, |n| n.min(sec.entries.len()))
        }
        _ => 0,
    };
    let mut segments = Vec::with_capacity(expected);
    for (k, s) in sec.sections() {
        segments.push(read_segment(
            &[vg, "logical_volumes", name, k],
            s,
            pv_names,
        )?);
    }
    let count = r.u32("segment_count")?;
    if count != segments.len() as u64 {
        return Err(r.invalid(format!(
            "segment_count is {count} but there are {} segments",
            segments.len()
        )));
    }
    let mut next = 0u64;
    for s in &segments {
        if s.start_extent.0 != next {
            return Err(r.invalid(format!(
                "segment starting at extent {} should start at {next}",
                s.start_extent.0
            )));
        }
        next = next.saturating_add(s.extent_count.0);
    }
    let id = r.id()?;
    let (status, flags) = r.status_and_flags(Object::Lv)?;
    Ok(LogicalVolume {
        name: name.to_string(),
        id,
        status,
        flags,
        tags: r.str_list("tags")?,
        creation_time: r.opt_i64("creation_time")?,
        creation_host: r.opt_str("creation_host")?,
        lock_args: r.opt_str("lock_args")?,
        segments,
        extra: r.extra(ALL_KEYS),
    })
}

fn write_lv(lv: &LogicalVolume, locked: bool) -> Section<'_> {
    let mut b = Builder::new(&lv.extra);
    b.val("id", lv.id.as_str());
    let (status, flags) = status_and_flags(&lv.status, &lv.flags, locked);
    b.val("status", status);
    b.val("flags", flags);
    b.key(
        "tags",
        (!lv.tags.is_empty()).then(|| Node::Value(strs(&lv.tags))),
    );
    b.key(
        "creation_time",
        lv.creation_time.map(|t| Node::Value(t.into())),
    );
    b.key("creation_host", opt_str_node(&lv.creation_host));
    b.key("lock_args", opt_str_node(&lv.lock_args));
    b.val("segment_count", lv.segments.len() as i64);
    let mut sec = b.finish();
    for (i, s) in lv.segments.iter().enumerate() {
        sec.push(format!("segment{}", i + 1), write_segment(s));
    }
    sec
}

pub(crate) const SEG_COMMON: [&str; 4] = ["start_extent", "extent_count", "type", "tags"];
pub(crate) const STRIPED_KEYS: [&str; 3] = ["stripe_count", "stripe_size", "stripes"];
pub(crate) const MIRROR_KEYS: [&str; 4] = ["mirror_count", "mirror_log", "region_size", "mirrors"];
const RAID1_KEYS: [&str; 3] = ["device_count", "region_size", "raids"];
/// Every key a segment of a modeled type may have (`region_size` is mirror's and raid1's).
const SEG_KEYS: [&str; 13] = [
    "start_extent",
    "extent_count",
    "type",
    "tags",
    "stripe_count",
    "stripe_size",
    "stripes",
    "mirror_count",
    "mirror_log",
    "region_size",
    "mirrors",
    "device_count",
    "raids",
];

/// The keys each modeled segment type reads, as [`Reader::extra`] masks of [`SEG_KEYS`].
const STRIPED_KNOWN: u16 = key_mask(&SEG_KEYS, &SEG_COMMON) | key_mask(&SEG_KEYS, &STRIPED_KEYS);
const MIRROR_KNOWN: u16 = key_mask(&SEG_KEYS, &SEG_COMMON) | key_mask(&SEG_KEYS, &MIRROR_KEYS);
const RAID1_KNOWN: u16 = key_mask(&SEG_KEYS, &SEG_COMMON) | key_mask(&SEG_KEYS, &RAID1_KEYS);

fn read_segment(parts: &[&str], sec: &Section, pv_names: &[&str]) -> Result<Segment, ModelError> {
    let r = Reader::new(sec, parts, &SEG_TABLE, true);
    let start_extent = Extents(r.u32("start_extent")?);
    let extent_count = Extents(r.u32("extent_count")?);
    let segtype = r.str("type")?;
    let tags = r.str_list("tags")?;
    let (kind, extra) = match segtype.as_str() {
        "striped" => {
            let count = r.u32("stripe_count")?;
            let arr = r.array("stripes")?;
            let areas = pv_areas(&r, "stripes", arr)?;
            if areas.len() as u64 != count || count == 0 {
                return Err(r.invalid(format!(
                    "stripe_count is {count} but `stripes` lists {} areas",
                    areas.len()
                )));
            }
            if extent_count.0 % count != 0 {
                return Err(r.invalid(format!(
                    "extent_count {} is not a multiple of stripe_count {count}",
                    extent_count.0
                )));
            }
            let stripe_size = Sectors(r.opt_u32("stripe_size")?.unwrap_or(0));
            (
                SegmentKind::Striped { stripe_size, areas },
                r.extra(STRIPED_KNOWN),
            )
        }
        // pvmove's temporary mirror has PV areas, not images: kept verbatim.
        "mirror" if !mirror_of_pvs(&r, pv_names) => {
            let count = r.u32("mirror_count")?;
            let arr = r.array("mirrors")?;
            let legs = lv_areas(&r, "mirrors", arr)?;
            if legs.len() as u64 != count || count == 0 {
                return Err(r.invalid(format!(
                    "mirror_count is {count} but `mirrors` lists {} images",
                    legs.len()
                )));
            }
            (
                SegmentKind::Mirror {
                    region_size: r.opt_u32("region_size")?.map(Sectors),
                    log: r.opt_str("mirror_log")?,
                    legs,
                },
                r.extra(MIRROR_KNOWN),
            )
        }
        "raid1" if raid1_with_meta(&r) => {
            let arr = r.array("raids")?;
            let names: Vec<String> = arr
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| r.wrong("raids", "an array of LV names"))?;
            let images = names
                .chunks(2)
                .map(|c| (c[0].clone(), c[1].clone()))
                .collect();
            (
                SegmentKind::Raid1 {
                    region_size: r.opt_u32("region_size")?.map(Sectors),
                    images,
                },
                r.extra(RAID1_KNOWN),
            )
        }
        _ => (
            SegmentKind::Other {
                segtype: segtype.clone(),
                raw: sec.clone().into_owned(),
            },
            Extra::default(),
        ),
    };
    Ok(Segment {
        start_extent,
        extent_count,
        kind,
        tags,
        extra,
    })
}

/// A mirror segment whose `mirrors` name PVs (pvmove), not LVs.
fn mirror_of_pvs(r: &Reader, pv_names: &[&str]) -> bool {
    let mirrors = match r.get("mirrors") {
        Some(Node::Value(v)) => v.as_array(),
        _ => None,
    };
    mirrors.is_some_and(|a| {
        a.iter()
            .step_by(2)
            .any(|v| v.as_str().is_some_and(|n| pv_names.contains(&n)))
    })
}

/// raid1 in the shape this model handles: `device_count` N and `raids` of N (rmeta, rimage)
/// name pairs; anything else stays an opaque segment.
fn raid1_with_meta(r: &Reader) -> bool {
    let value = |key| match r.get(key) {
        Some(Node::Value(v)) => Some(v),
        _ => None,
    };
    let count = value("device_count").and_then(Value::as_int);
    match (count, value("raids").and_then(Value::as_array)) {
        (Some(n), Some(a)) => {
            n > 0
                && usize::try_from(n).is_ok_and(|n| n * 2 == a.len())
                && a.iter().all(|v| v.as_str().is_some())
        }
        _ => false,
    }
}

fn pv_areas(r: &Reader, key: &str, arr: &[Value]) -> Result<Vec<StripeArea>, ModelError> {
    name_extent_pairs(r, key, arr, "pairs of PV name and extent", |pv, start| {
        StripeArea { pv, start }
    })
}

fn lv_areas(r: &Reader, key: &str, arr: &[Value]) -> Result<Vec<LvArea>, ModelError> {
    name_extent_pairs(r, key, arr, "pairs of LV name and extent", |lv, start| {
        LvArea { lv, start }
    })
}

/// `[name, extent, ...]` (a segment's areas on PVs or on LVs), each pair made by `area`.
fn name_extent_pairs<T>(
    r: &Reader,
    key: &str,
    arr: &[Value],
    expected: &'static str,
    area: impl Fn(String, Extents) -> T,
) -> Result<Vec<T>, ModelError> {
    if arr.len() % 2 != 0 {
        return Err(r.wrong(key, expected));
    }
    // Sized once: collecting through `Result` would grow the Vec step by step.
    let mut out = Vec::with_capacity(arr.len() / 2);
    for c in arr.chunks_exact(2) {
        match c {
            [Value::Str(name), Value::Int(start)] if (0..=i64::from(u32::MAX)).contains(start) => {
                out.push(area(str::to_owned(name), Extents(*start as u64)));
            }
            _ => return Err(r.wrong(key, expected)),
        }
    }
    Ok(out)
}

/// `[a, b, a, b, ...]`: a segment's areas as lvm2 writes them.
fn flat_pairs<'a>(pairs: impl Iterator<Item = (Value<'a>, Value<'a>)>) -> Value<'a> {
    Value::Array(pairs.flat_map(|(a, b)| [a, b]).collect())
}

fn write_segment(seg: &Segment) -> Section<'_> {
    if let SegmentKind::Other { segtype, raw } = &seg.kind {
        let mut raw = raw.clone();
        raw.set("start_extent", int(seg.start_extent.0));
        raw.set("extent_count", int(seg.extent_count.0));
        raw.set("type", Value::from(segtype.as_str()));
        return raw;
    }
    let mut b = Builder::new(&seg.extra);
    b.val("start_extent", int(seg.start_extent.0));
    b.val("extent_count", int(seg.extent_count.0));
    match &seg.kind {
        SegmentKind::Striped { stripe_size, areas } => {
            b.val("type", "striped");
            tags(&mut b, &seg.tags);
            b.val("stripe_count", areas.len() as i64);
            b.key(
                "stripe_size",
                (areas.len() > 1 || stripe_size.0 != 0).then(|| Node::Value(int(stripe_size.0))),
            );
            let arr = areas
                .iter()
                .map(|a| (Value::from(a.pv.as_str()), int(a.start.0)));
            b.val("stripes", flat_pairs(arr));
        }
        SegmentKind::Mirror {
            region_size,
            log,
            legs,
        } => {
            b.val("type", "mirror");
            tags(&mut b, &seg.tags);
            b.val("mirror_count", legs.len() as i64);
            b.key("mirror_log", opt_str_node(log));
            b.key("region_size", region_size.map(|r| Node::Value(int(r.0))));
            let arr = legs
                .iter()
                .map(|l| (Value::from(l.lv.as_str()), int(l.start.0)));
            b.val("mirrors", flat_pairs(arr));
        }
        SegmentKind::Raid1 {
            region_size,
            images,
        } => {
            b.val("type", "raid1");
            tags(&mut b, &seg.tags);
            b.val("device_count", images.len() as i64);
            b.key("region_size", region_size.map(|r| Node::Value(int(r.0))));
            let arr = images
                .iter()
                .map(|(m, i)| (Value::from(m.as_str()), Value::from(i.as_str())));
            b.val("raids", flat_pairs(arr));
        }
        SegmentKind::Other { .. } => unreachable!("handled above"),
    }
    b.finish()
}

fn tags<'a>(b: &mut Builder<'a>, tags: &'a [String]) {
    b.key("tags", (!tags.is_empty()).then(|| Node::Value(strs(tags))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{check_references_ref, extra_ref};
    use proptest::prelude::*;

    fn section() -> impl Strategy<Value = Section<'static>> {
        let pool = vec![
            "id",
            "status",
            "segment_count",
            "type",
            "stripes",
            "mirrors",
            "region_size",
            "contents",
            "physical_volumes",
            "x_unknown",
            "segment1",
        ];
        let node = prop_oneof![
            any::<i64>().prop_map(|i| Node::Value(Value::Int(i))),
            Just(Node::Section(Section::new())),
        ];
        prop::collection::vec((prop::sample::select(pool), node), 0..12).prop_map(|entries| {
            let mut s = Section::new();
            for (k, n) in entries {
                s.push(k, n);
            }
            s
        })
    }

    const NAMES: [&str; 6] = ["a", "b", "c", "a", "pv0", "zz"];

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(NAMES.to_vec()).prop_map(str::to_string)
    }

    fn segment() -> impl Strategy<Value = Segment> {
        let kind = prop_oneof![
            prop::collection::vec(
                (prop::sample::select(vec!["pv0", "pv1", "pv2"]), 0u64..12),
                1..3
            )
            .prop_map(|areas| SegmentKind::Striped {
                stripe_size: Sectors(0),
                areas: areas
                    .into_iter()
                    .map(|(pv, s)| StripeArea {
                        pv: pv.to_string(),
                        start: Extents(s),
                    })
                    .collect(),
            }),
            (
                prop::collection::vec(name(), 1..3),
                prop::option::of(name())
            )
                .prop_map(|(legs, log)| SegmentKind::Mirror {
                    region_size: None,
                    log,
                    legs: legs
                        .into_iter()
                        .map(|lv| LvArea {
                            lv,
                            start: Extents(0),
                        })
                        .collect(),
                }),
            prop::collection::vec((name(), name()), 1..3).prop_map(|images| SegmentKind::Raid1 {
                region_size: None,
                images,
            }),
        ];
        (1u64..6, kind).prop_map(|(n, kind)| Segment {
            start_extent: Extents(0),
            extent_count: Extents(n),
            kind,
            tags: Vec::new(),
            extra: Extra::default(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn key_eq_is_eq(a in "[a-c_]{0,20}", b in "[a-c_]{0,20}", cut in 0usize..20) {
            prop_assert_eq!(key_eq(&a, &b), a == b);
            let c: String = a.chars().take(cut).collect();
            prop_assert_eq!(key_eq(&a, &c), a == c);
            prop_assert!(key_eq(&a, &a.clone()));
            let mut d = a.clone().into_bytes();
            if let Some(x) = d.get_mut(cut) {
                *x = b'z';
            }
            let d = String::from_utf8(d).unwrap();
            prop_assert_eq!(key_eq(&a, &d), a == d);
        }

        /// A key table finds its keys and nothing else: the keys of every table, and strings
        /// near them (one byte changed, cut, extended).
        #[test]
        fn key_tables_find_exactly_their_keys(which in 0usize..5, any_key in 0usize..64, at in 0usize..30,
                                              byte in b'0'..=b'z', cut in 0usize..4, other in "[a-z_]{0,20}") {
            let tables = [&VG_TABLE, &PV_TABLE, &LV_TABLE, &SEG_TABLE, &TRAILER_TABLE];
            let all: Vec<&str> = tables.iter().flat_map(|t| t.keys.iter().copied()).collect();
            let table = tables[which];
            let base = all[any_key % all.len()];
            let mut changed = base.as_bytes().to_vec();
            if let Some(b) = changed.get_mut(at) {
                *b = byte;
            }
            let changed = String::from_utf8(changed).unwrap();
            let cut = &base[..base.len().saturating_sub(cut)];
            let longer = format!("{base}{}", char::from(byte));
            for k in [base, changed.as_str(), cut, longer.as_str(), other.as_str()] {
                prop_assert_eq!(table.index(k), table.keys.iter().position(|t| *t == k), "{:?}", k);
            }
        }

        #[test]
        fn reader_extras_as_two_passes(sec in section()) {
            let configs: [(&'static KeyTable, &[&str], bool); 5] = [
                (&LV_TABLE, &LV_KEYS, false),
                (&VG_TABLE, &VG_KEYS, true),
                (&SEG_TABLE, &["start_extent", "extent_count", "type", "tags", "stripe_count", "stripe_size", "stripes"], true),
                (&SEG_TABLE, &["start_extent", "extent_count", "type", "tags", "mirror_count", "mirror_log", "region_size", "mirrors"], true),
                (&TRAILER_TABLE, &Trailer::KEYS, false),
            ];
            for (table, known, sections) in configs {
                let r = Reader::new(&sec, &["t"], table, sections);
                let mask = key_mask(table.keys, known);
                let known = |k: &str| known.contains(&k);
                prop_assert_eq!(r.extra(mask), extra_ref(&sec, known, sections));
                for (k, _) in &sec.entries {
                    prop_assert_eq!(r.get(k).map(std::ptr::from_ref), sec.get(k).map(std::ptr::from_ref));
                }
            }
        }

        #[test]
        fn indexed_reference_checks_as_linear_ones(
            pes in prop::collection::vec((prop::sample::select(vec!["pv0", "pv1", "pv0"]), 0u64..16), 0..4),
            lvs in prop::collection::vec((name(), prop::collection::vec(segment(), 0..3)), 0..6),
        ) {
            let mut vg = VolumeGroup::new("vg", Sectors(8192)).unwrap();
            for (name, pe) in pes {
                vg.pvs.push(PhysicalVolume {
                    name: name.to_string(),
                    ..PhysicalVolume::new(&"a".repeat(32), None, Sectors(0), Sectors(0), Extents(pe)).unwrap()
                });
            }
            for (name, segments) in lvs {
                vg.lvs.push(LogicalVolume {
                    name,
                    id: "a".repeat(32),
                    status: FlagList::new(),
                    flags: FlagList::new(),
                    tags: Vec::new(),
                    creation_time: None,
                    creation_host: None,
                    lock_args: None,
                    segments,
                    extra: Extra::default(),
                });
            }
            prop_assert_eq!(vg.check_references(), check_references_ref(&vg));
        }
    }
}
