//! A VG's metadata text written straight from the model: the bytes `lvmeta_text::write` makes
//! of [`VolumeGroup::to_metadata`], without building the tree (which copies every string of a
//! VG of thousands of LVs). The emitter of `lvmeta_text` owns the layout; this file owns the
//! keys and their order, mirroring `vg.rs`'s tree builders (`Builder`, `write_pv`, `write_lv`,
//! `write_segment`, `Trailer::append_to`); a property test holds the two to the same bytes.

use crate::backup_comments::{annotate_segment, comment_for, Owner};
use crate::flags::FlagList;
use crate::vg::{
    Extra, ExtraEntry, LogicalVolume, PhysicalVolume, Segment, SegmentKind, Trailer, VolumeGroup,
    MIRROR_KEYS, SEG_COMMON, STRIPED_KEYS,
};
use lvmeta_text::{Emitter, Lookahead, Node, Style, Value};
use std::fmt::Write as _;

impl VolumeGroup {
    /// Appends the text lvm2 writes into a metadata area (VG section, then `trailer`) to
    /// `out`: byte for byte `lvmeta_text::write(&self.to_metadata(trailer))`. Size `out`
    /// beforehand (a VG of 5,000 LVs is over a MiB of text).
    pub fn write_metadata(&self, trailer: &Trailer, out: &mut String) {
        let mut e = Emitter::new(out, Style::Metadata);
        write_vg(&mut e, self, false);
        write_trailer(&mut e, trailer);
        e.finish();
    }

    /// Appends the text lvm2 writes into a backup or archive file (`/etc/lvm/backup/<vg>`,
    /// `vgcfgbackup -f`) to `out`: `trailer` first (`description`, `creation_host` with the
    /// uname comment, `creation_time` with its date), then the VG, indented, with lvm2's
    /// informational comments; byte for byte
    /// `lvmeta_text::write_with(&self.to_backup(trailer), Style::Backup)`.
    pub fn write_backup(&self, trailer: &Trailer, out: &mut String) {
        let mut e = Emitter::new(out, Style::Backup);
        write_trailer(&mut e, trailer);
        write_vg(&mut e, self, true);
        e.finish();
    }
}

/// Values above `i64::MAX` are written as `i64::MAX`, as the tree builders do.
fn int(u: u64) -> i64 {
    i64::try_from(u).unwrap_or(i64::MAX)
}

/// The segment's `device_count` as `Section::get_int` would find it in the tree the builders
/// make: the first one in the order `Keys` places modeled and unknown keys. It decides the
/// layout of a `raids` array in a striped or mirror segment (an unknown key there). Unknown
/// keys never repeat a key the model writes (`Extra::collect`), so in raid1 segments it is
/// the modeled one.
fn segment_device_count(seg: &Segment) -> Option<i64> {
    // The modeled keys in the order `write_segment` writes them (or leaves them out).
    let own_keys: &[&str] = match &seg.kind {
        SegmentKind::Striped { .. } => &STRIPED_KEYS,
        SegmentKind::Mirror { .. } => &MIRROR_KEYS,
        SegmentKind::Raid1 { images, .. } => return Some(images.len() as i64),
        SegmentKind::Other { raw, .. } => return raw.get_int("device_count"),
    };
    let extra = &seg.extra;
    if !extra.entries.iter().any(|x| x.key == "raids") {
        // Nothing else depends on it.
        return None;
    }
    let as_int = |n: &Node| match n {
        Node::Value(Value::Int(i)) => Some(*i),
        _ => None,
    };
    let key = "device_count";
    let after = |a: Option<&str>| {
        extra
            .entries
            .iter()
            .find(|x| x.after.as_deref() == a && x.key == key)
    };
    if let Some(x) = after(None) {
        return as_int(&x.node);
    }
    let mut order = SEG_COMMON.iter().chain(own_keys);
    for &k in order.clone() {
        if let Some(x) = after(Some(k)) {
            return as_int(&x.node);
        }
    }
    // Those placed last: anchored after a key that is never written.
    extra
        .entries
        .iter()
        .find(|x| x.key == key && x.after.as_deref().is_some_and(|a| !order.any(|&k| k == a)))
        .and_then(|x| as_int(&x.node))
}

/// The PV keys as written: lvm2 numbers PVs `pv0..` by position on every write. When the
/// model's names are not in order already (`to_vg_section` then renumbers a copy of the VG),
/// the new names are looked up here instead.
struct PvNames<'a> {
    /// (old name, new name) by position; None when the names are in order.
    renamed: Option<Vec<(&'a str, String)>>,
}

impl<'a> PvNames<'a> {
    fn new(vg: &'a VolumeGroup) -> PvNames<'a> {
        let renamed = (!vg.pvs_numbered()).then(|| {
            vg.pvs
                .iter()
                .enumerate()
                .map(|(i, p)| (p.name.as_str(), format!("pv{i}")))
                .collect()
        });
        PvNames { renamed }
    }

    fn key<'s>(&'s self, i: usize, pv: &'s PhysicalVolume) -> &'s str {
        match &self.renamed {
            None => &pv.name,
            Some(map) => &map[i].1,
        }
    }

    /// The name a segment area refers to after renumbering (unknown names stay).
    fn area<'s>(&'s self, name: &'s str) -> &'s str {
        match &self.renamed {
            None => name,
            Some(map) => map
                .iter()
                .find(|(old, _)| *old == name)
                .map_or(name, |(_, new)| new.as_str()),
        }
    }

    /// The PV areas (`"pvN", extent` pairs) of an opaque segment's array, renamed; None when
    /// nothing is renamed or the key is not such an array.
    fn renamed_array<'s>(
        &'s self,
        raw: &'s lvmeta_text::Section<'_>,
        key: &str,
    ) -> Option<Value<'s>> {
        self.renamed.as_ref()?;
        let Some(Node::Value(Value::Array(arr))) = raw.get(key) else {
            return None;
        };
        let mut arr: Vec<Value<'s>> = arr.clone();
        for pair in arr.chunks_mut(2) {
            if let [Value::Str(pv), Value::Int(_)] = pair {
                *pv = self.area(pv).to_string().into();
            }
        }
        Some(Value::Array(arr))
    }
}

/// The modeled keys of one section in lvm2's order, with the unknown keys of `extra` put
/// where `vg.rs`'s `Builder` puts them: after the modeled key they followed, those that
/// followed none first, those whose key is never written last.
struct Keys<'e, 'o, 'x> {
    e: &'e mut Emitter<'o>,
    extra: &'x Extra,
    placed: Vec<bool>,
    /// Set for the trailer, whose `creation_host` and `creation_time` carry comments.
    trailer: Option<&'x Trailer>,
    /// Set in a backup file: whose keys these are and the VG's extent size, for lvm2's
    /// informational comments ([`comment_for`]).
    backup: Option<(Owner<'x>, u64)>,
    /// In a backup file, the keys written so far (only a key's first entry is commented).
    seen: Vec<&'x str>,
}

impl<'e, 'o, 'x> Keys<'e, 'o, 'x> {
    fn new(
        e: &'e mut Emitter<'o>,
        extra: &'x Extra,
        backup: Option<(Owner<'x>, u64)>,
    ) -> Keys<'e, 'o, 'x> {
        Self::with(e, extra, None, backup)
    }

    fn with(
        e: &'e mut Emitter<'o>,
        extra: &'x Extra,
        trailer: Option<&'x Trailer>,
        backup: Option<(Owner<'x>, u64)>,
    ) -> Keys<'e, 'o, 'x> {
        let mut k = Keys {
            e,
            extra,
            placed: vec![false; extra.entries.len()],
            trailer,
            backup,
            seen: Vec::new(),
        };
        k.place(None);
        k
    }

    /// In a backup file, lvm2's comment after `key = v` (the key's first entry only, of
    /// any kind: a section by that name first means no comment).
    fn note(&mut self, key: &'x str, v: Option<&Value>) {
        let Some((owner, extent)) = self.backup else {
            return;
        };
        if self.seen.contains(&key) {
            return;
        }
        self.seen.push(key);
        if let Some(c) = v.and_then(|v| comment_for(owner, key, v, extent)) {
            self.e.comment_after(&c);
        }
    }

    fn place(&mut self, after: Option<&str>) {
        self.place_if(|x| x.after.as_deref() == after);
    }

    /// Writes the unknown keys not placed yet that `which` picks.
    fn place_if(&mut self, which: impl Fn(&ExtraEntry) -> bool) {
        let extra = self.extra;
        for (i, x) in extra.entries.iter().enumerate() {
            if !self.placed[i] && which(x) {
                self.placed[i] = true;
                match (&x.node, self.backup) {
                    // Every subsection of an LV is commented as a segment (as the tree
                    // path's annotate does).
                    (Node::Section(sec), Some((Owner::Lv, extent))) => {
                        let mut sec = sec.clone();
                        annotate_segment(&mut sec, extent);
                        self.e.section(&x.key, &sec);
                    }
                    _ => self.e.node(&x.key, &x.node),
                }
                self.note(
                    &x.key,
                    match &x.node {
                        Node::Value(v) => Some(v),
                        Node::Section(_) => None,
                    },
                );
                self.commented(&x.key);
            }
        }
    }

    /// The trailer's comment after `creation_host` / `creation_time` (Trailer::append_to
    /// attaches them by key).
    fn commented(&mut self, key: &str) {
        let Some(t) = self.trailer else { return };
        let c = match key {
            "creation_host" => t.creation_host_comment.as_deref(),
            "creation_time" => t.creation_time_comment.as_deref(),
            _ => None,
        };
        if let Some(c) = c {
            self.e.comment_after(&format!("# {c}"));
        }
    }

    /// `key` was written or left out: the unknown keys that followed it come now.
    fn done(&mut self, key: &str) {
        if !self.extra.is_empty() {
            self.place(Some(key));
        }
    }

    /// `key` was written: its comment, then the unknown keys that followed it.
    fn written(&mut self, key: &str) {
        self.commented(key);
        self.done(key);
    }

    fn int(&mut self, key: &'static str, v: i64) {
        self.e.int(key, v);
        self.note(key, Some(&Value::Int(v)));
        self.written(key);
    }

    fn opt_int(&mut self, key: &'static str, v: Option<i64>) {
        match v {
            Some(v) => self.int(key, v),
            None => self.done(key),
        }
    }

    fn str(&mut self, key: &'static str, v: &str) {
        self.e.str(key, v);
        self.note(key, Some(&Value::Str(v.into())));
        self.written(key);
    }

    fn opt_str(&mut self, key: &'static str, v: Option<&str>) {
        match v {
            Some(v) => self.str(key, v),
            None => self.done(key),
        }
    }

    fn strs<I>(&mut self, key: &str, items: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.e.strs(key, items);
        self.written(key);
    }

    /// lvm2 leaves out empty tags.
    fn tags(&mut self, tags: &[String]) {
        if tags.is_empty() {
            self.done("tags");
        } else {
            self.strs("tags", tags);
        }
    }

    /// `status` and `flags` as written (see [`crate::flags::written`]).
    fn status_and_flags(&mut self, status: &FlagList, flags: &FlagList, locked: bool) {
        let (status, flags) = crate::flags::written(status, flags, locked);
        self.strs("status", status);
        self.strs("flags", flags);
    }

    /// The unknown keys not placed yet.
    fn finish(mut self) {
        self.place_if(|_| true);
    }
}

/// `backup`: as in a backup file (lvm2's informational comments).
fn write_vg(e: &mut Emitter, vg: &VolumeGroup, backup: bool) {
    let names = PvNames::new(vg);
    let extent = backup.then_some(vg.extent_size.0);
    let own = |o: Owner<'static>| extent.map(|x| (o, x));
    let locked = vg.is_write_locked();
    e.open_with(
        &vg.name,
        Lookahead {
            logical_volumes: !vg.lvs.is_empty() || vg.extra.get("logical_volumes").is_some(),
            device_count: None,
        },
    );
    let mut k = Keys::new(e, &vg.extra, own(Owner::Vg));
    k.str("id", &vg.id);
    k.int("seqno", int(vg.seqno));
    k.opt_str("format", vg.format.as_deref());
    k.status_and_flags(&vg.status, &vg.flags, locked);
    k.tags(&vg.tags);
    k.opt_str("system_id", vg.system_id.as_deref());
    k.opt_str("lock_type", vg.lock_type.as_deref());
    k.opt_str("lock_args", vg.lock_args.as_deref());
    k.int("extent_size", int(vg.extent_size.0));
    k.int("max_lv", int(vg.max_lv));
    k.int("max_pv", int(vg.max_pv));
    k.int("metadata_copies", int(vg.metadata_copies));
    k.e.open("physical_volumes");
    for (i, pv) in vg.pvs.iter().enumerate() {
        write_pv(k.e, names.key(i, pv), pv, extent);
    }
    k.e.close();
    k.written("physical_volumes");
    if !vg.lvs.is_empty() {
        k.e.open("logical_volumes");
        let mut scratch = String::new();
        // lvm2 writes visible LVs first, then the hidden ones, each in list order.
        for lv in vg.lvs.iter().filter(|l| l.is_visible()) {
            write_lv(k.e, lv, locked, &names, &mut scratch, extent);
        }
        for lv in vg.lvs.iter().filter(|l| !l.is_visible()) {
            write_lv(k.e, lv, locked, &names, &mut scratch, extent);
        }
        k.e.close();
        k.written("logical_volumes");
    } else {
        k.done("logical_volumes");
    }
    k.finish();
    e.close();
}

/// `extent`: set in a backup file (the VG's extent size, for lvm2's comments).
fn write_pv(e: &mut Emitter, key: &str, pv: &PhysicalVolume, extent: Option<u64>) {
    e.open(key);
    let mut k = Keys::new(e, &pv.extra, extent.map(|x| (Owner::Pv, x)));
    k.str("id", &pv.id);
    k.opt_str("device", pv.device.as_deref());
    k.strs("status", pv.status.names());
    k.strs("flags", pv.flags.names());
    k.tags(&pv.tags);
    k.int("dev_size", int(pv.dev_size.0));
    k.int("pe_start", int(pv.pe_start.0));
    k.int("pe_count", int(pv.pe_count.0));
    k.finish();
    e.close();
}

/// `scratch` holds the segment keys (`segment1`...), reused across LVs.
fn write_lv(
    e: &mut Emitter,
    lv: &LogicalVolume,
    locked: bool,
    names: &PvNames,
    scratch: &mut String,
    extent: Option<u64>,
) {
    e.open(&lv.name);
    let mut k = Keys::new(e, &lv.extra, extent.map(|x| (Owner::Lv, x)));
    k.str("id", &lv.id);
    k.status_and_flags(&lv.status, &lv.flags, locked);
    k.tags(&lv.tags);
    k.opt_int("creation_time", lv.creation_time);
    k.opt_str("creation_host", lv.creation_host.as_deref());
    k.opt_str("lock_args", lv.lock_args.as_deref());
    k.int("segment_count", lv.segments.len() as i64);
    k.finish();
    for (i, s) in lv.segments.iter().enumerate() {
        scratch.clear();
        // Writing into a String cannot fail.
        let _ = write!(scratch, "segment{}", i + 1);
        write_segment(e, scratch, s, names, extent);
    }
    e.close();
}

fn write_segment(e: &mut Emitter, key: &str, seg: &Segment, names: &PvNames, extent: Option<u64>) {
    if let SegmentKind::Other { segtype, raw } = &seg.kind {
        // Kept verbatim but for its place in the LV, its type and renumbered PV areas.
        let stripes = names.renamed_array(raw, "stripes");
        let mirrors = names.renamed_array(raw, "mirrors");
        let start = Value::Int(int(seg.start_extent.0));
        let count = Value::Int(int(seg.extent_count.0));
        let segtype = Value::Str(segtype.as_str().into());
        let mut overrides: Vec<(&str, &Value)> = Vec::with_capacity(5);
        overrides.extend(stripes.as_ref().map(|v| ("stripes", v)));
        overrides.extend(mirrors.as_ref().map(|v| ("mirrors", v)));
        overrides.extend([
            ("start_extent", &start),
            ("extent_count", &count),
            ("type", &segtype),
        ]);
        if let Some(x) = extent {
            // Rare (segment types lvmeta does not model) and commented inside: the tree
            // path's copy, annotated as that path does.
            let mut sec = raw.clone();
            for (k, v) in overrides {
                sec.set(k, v.clone());
            }
            annotate_segment(&mut sec, x);
            e.section(key, &sec);
            return;
        }
        e.open_with(key, Lookahead::of(raw));
        e.body_with(raw, &overrides);
        e.close();
        return;
    }
    e.open_with(
        key,
        Lookahead {
            logical_volumes: false,
            device_count: segment_device_count(seg),
        },
    );
    let ty = match &seg.kind {
        SegmentKind::Striped { .. } => "striped",
        SegmentKind::Mirror { .. } => "mirror",
        SegmentKind::Raid1 { .. } => "raid1",
        SegmentKind::Other { .. } => unreachable!("written verbatim above"),
    };
    let mut k = Keys::new(e, &seg.extra, extent.map(|x| (Owner::Segment(ty), x)));
    k.int("start_extent", int(seg.start_extent.0));
    k.int("extent_count", int(seg.extent_count.0));
    match &seg.kind {
        SegmentKind::Striped { stripe_size, areas } => {
            k.str("type", "striped");
            k.tags(&seg.tags);
            k.int("stripe_count", areas.len() as i64);
            k.opt_int(
                "stripe_size",
                (areas.len() > 1 || stripe_size.0 != 0).then(|| int(stripe_size.0)),
            );
            k.e.extent_areas(
                "stripes",
                areas.iter().map(|a| (names.area(&a.pv), int(a.start.0))),
            );
            k.written("stripes");
        }
        SegmentKind::Mirror {
            region_size,
            log,
            legs,
        } => {
            k.str("type", "mirror");
            k.tags(&seg.tags);
            k.int("mirror_count", legs.len() as i64);
            k.opt_str("mirror_log", log.as_deref());
            k.opt_int("region_size", region_size.map(|r| int(r.0)));
            k.e.extent_areas(
                "mirrors",
                legs.iter().map(|l| (l.lv.as_str(), int(l.start.0))),
            );
            k.written("mirrors");
        }
        SegmentKind::Raid1 {
            region_size,
            images,
        } => {
            k.str("type", "raid1");
            k.tags(&seg.tags);
            k.int("device_count", images.len() as i64);
            k.opt_int("region_size", region_size.map(|r| int(r.0)));
            k.e.name_pair_areas(
                "raids",
                images.iter().map(|(m, i)| (m.as_str(), i.as_str())),
            );
            k.written("raids");
        }
        SegmentKind::Other { .. } => unreachable!("written verbatim above"),
    }
    k.finish();
    e.close();
}

fn write_trailer(e: &mut Emitter, t: &Trailer) {
    if let Some(g) = &t.generated_by {
        e.comment_before(&format!("#{g}"));
    }
    let mut k = Keys::with(e, &t.extra, Some(t), None);
    k.str("contents", &t.contents);
    k.int("version", t.version);
    k.str("description", &t.description);
    k.str("creation_host", &t.creation_host);
    k.opt_str(
        "creation_host_system_id",
        t.creation_host_system_id.as_deref(),
    );
    k.int("creation_time", t.creation_time);
    k.finish();
}
