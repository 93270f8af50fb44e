//! A typed view of one VG's metadata document (the lvmeta-text tree) with the edits the
//! commands need. Keys this view does not model stay in each object's `extra` section and
//! are written back, so metadata written by lvm2 survives a round trip.
//!
//! This is the adapter between the commands and the metadata tree; it is kept in one module
//! so it can be replaced by `lvmeta-model` once that crate offers the same operations.

use std::collections::HashMap;

use lvmeta_text::{Node, Section, Value};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VgError {
    #[error("metadata of VG {vg}: {what}")]
    Malformed { vg: String, what: String },
    #[error("Logical Volume \"{lv}\" already exists in volume group \"{vg}\"")]
    LvExists { vg: String, lv: String },
    #[error("Failed to find logical volume \"{vg}/{lv}\"")]
    NoSuchLv { vg: String, lv: String },
    #[error(
        "Insufficient free space in VG {vg}: {needed} extents needed, but only {free} available"
    )]
    NoSpace { vg: String, needed: u64, free: u64 },
    #[error("VG {vg}: {needed} PVs with free space needed for {what}, only {found} usable")]
    NotEnoughPvs {
        vg: String,
        what: String,
        needed: usize,
        found: usize,
    },
    #[error("Physical volume {pv} is not in VG {vg}")]
    NoSuchPv { vg: String, pv: String },
    #[error("invalid name {name:?}: {why}")]
    BadName { name: String, why: String },
    #[error("LV {vg}/{lv}: {what}")]
    Unsupported {
        vg: String,
        lv: String,
        what: String,
    },
    #[error("Physical volume {pv} still in use in VG {vg}")]
    PvInUse { vg: String, pv: String },
}

/// A place an area points to: extents on a PV, or a sub-LV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    Pv { key: String, start: u64 },
    Lv { name: String, start: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub start_extent: u64,
    pub extent_count: u64,
    pub segtype: String,
    /// Sectors, 0 when not striped.
    pub stripe_size: u64,
    pub region_size: u64,
    pub areas: Vec<Area>,
    /// rmeta sub-LVs of raid segments, parallel to `areas`.
    pub meta_areas: Vec<Area>,
    pub log: Option<String>,
    pub extra: Section,
}

impl Seg {
    /// Extents each area takes on its PV.
    pub fn area_len(&self) -> u64 {
        if self.segtype == "striped" && !self.areas.is_empty() {
            self.extent_count / self.areas.len() as u64
        } else {
            self.extent_count
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lv {
    pub name: String,
    pub id: String,
    pub status: Vec<String>,
    pub flags: Vec<String>,
    pub tags: Vec<String>,
    pub creation_time: Option<i64>,
    pub creation_host: Option<String>,
    pub segments: Vec<Seg>,
    pub extra: Section,
}

impl Lv {
    pub fn size_extents(&self) -> u64 {
        self.segments.iter().map(|s| s.extent_count).sum()
    }
    pub fn visible(&self) -> bool {
        self.status.iter().any(|s| s == "VISIBLE")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pv {
    pub key: String,
    pub id: String,
    pub device: String,
    pub status: Vec<String>,
    pub flags: Vec<String>,
    pub tags: Vec<String>,
    pub dev_size: u64,
    pub pe_start: u64,
    pub pe_count: u64,
    pub extra: Section,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vg {
    pub name: String,
    pub id: String,
    pub seqno: u64,
    pub status: Vec<String>,
    pub flags: Vec<String>,
    pub tags: Vec<String>,
    pub system_id: Option<String>,
    pub extent_size: u64,
    pub max_lv: u64,
    pub max_pv: u64,
    pub pvs: Vec<Pv>,
    pub lvs: Vec<Lv>,
    /// Keys of the VG section not modelled (format, lock_type, metadata_copies ...).
    pub extra: Section,
    /// Top-level keys after the VG section (contents, version, description, host, time).
    pub trailer: Section,
}

fn strs(v: Option<&[Value]>) -> Vec<String> {
    v.unwrap_or(&[])
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn take(sec: &mut Section, key: &str) -> Option<Node> {
    sec.remove(key)
}

fn take_int(sec: &mut Section, key: &str) -> Option<i64> {
    match take(sec, key)? {
        Node::Value(Value::Int(i)) => Some(i),
        _ => None,
    }
}

fn take_str(sec: &mut Section, key: &str) -> Option<String> {
    match take(sec, key)? {
        Node::Value(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn take_strs(sec: &mut Section, key: &str) -> Vec<String> {
    match take(sec, key) {
        Some(Node::Value(Value::Array(a))) => strs(Some(&a)),
        _ => Vec::new(),
    }
}

fn take_areas(sec: &mut Section, key: &str, vg: &str) -> Result<Vec<Area>, VgError> {
    let arr = match take(sec, key) {
        Some(Node::Value(Value::Array(a))) => a,
        None => return Ok(Vec::new()),
        _ => {
            return Err(VgError::Malformed {
                vg: vg.into(),
                what: format!("{key} is not an array"),
            })
        }
    };
    let mut out = Vec::new();
    for pair in arr.chunks(2) {
        match pair {
            [Value::Str(name), Value::Int(start)] if *start >= 0 => {
                let start = *start as u64;
                if name.starts_with("pv") && name[2..].chars().all(|c| c.is_ascii_digit()) {
                    out.push(Area::Pv {
                        key: name.clone(),
                        start,
                    });
                } else {
                    out.push(Area::Lv {
                        name: name.clone(),
                        start,
                    });
                }
            }
            _ => {
                return Err(VgError::Malformed {
                    vg: vg.into(),
                    what: format!("{key}: expected name, extent pairs"),
                })
            }
        }
    }
    Ok(out)
}

fn areas_value(areas: &[Area]) -> Value {
    let mut v = Vec::new();
    for a in areas {
        match a {
            Area::Pv { key, start } => {
                v.push(Value::Str(key.clone()));
                v.push(Value::Int(*start as i64));
            }
            Area::Lv { name, start } => {
                v.push(Value::Str(name.clone()));
                v.push(Value::Int(*start as i64));
            }
        }
    }
    Value::Array(v)
}

impl Vg {
    /// Reads the whole metadata document (VG section plus trailer).
    pub fn from_doc(doc: &Section) -> Result<Vg, VgError> {
        Vg::from_doc_owned(doc.clone())
    }

    /// [`Vg::from_doc`] taking the tree by value: no copy of a large VG's tree.
    pub fn from_doc_owned(doc: Section) -> Result<Vg, VgError> {
        let mut vgsec = None;
        let mut trailer = Section::new();
        for (k, n) in doc.entries {
            match n {
                Node::Section(s) if vgsec.is_none() => vgsec = Some((k, s)),
                n => trailer.push(k, n),
            }
        }
        let (name, vgsec) = vgsec.ok_or_else(|| VgError::Malformed {
            vg: "?".into(),
            what: "no volume group section".into(),
        })?;
        let bad = |what: &str| VgError::Malformed {
            vg: name.clone(),
            what: what.into(),
        };
        let mut s = vgsec;
        let id = take_str(&mut s, "id").ok_or_else(|| bad("missing id"))?;
        let seqno = take_int(&mut s, "seqno").ok_or_else(|| bad("missing seqno"))? as u64;
        let (status, flags) = unlock_write(take_strs(&mut s, "status"), take_strs(&mut s, "flags"));
        let tags = take_strs(&mut s, "tags");
        let system_id = take_str(&mut s, "system_id");
        let extent_size =
            take_int(&mut s, "extent_size").ok_or_else(|| bad("missing extent_size"))?;
        if extent_size <= 0 {
            return Err(bad("extent_size must be positive"));
        }
        let max_lv = take_int(&mut s, "max_lv").unwrap_or(0) as u64;
        let max_pv = take_int(&mut s, "max_pv").unwrap_or(0) as u64;
        let mut pvs = Vec::new();
        if let Some(Node::Section(pvsec)) = take(&mut s, "physical_volumes") {
            for (key, n) in pvsec.entries {
                let Node::Section(mut p) = n else { continue };
                let pbad = |w: &str| bad(&format!("pv {key}: {w}"));
                pvs.push(Pv {
                    id: take_str(&mut p, "id").ok_or_else(|| pbad("missing id"))?,
                    device: take_str(&mut p, "device").unwrap_or_default(),
                    status: take_strs(&mut p, "status"),
                    flags: take_strs(&mut p, "flags"),
                    tags: take_strs(&mut p, "tags"),
                    dev_size: take_int(&mut p, "dev_size").unwrap_or(0).max(0) as u64,
                    pe_start: take_int(&mut p, "pe_start")
                        .ok_or_else(|| pbad("missing pe_start"))?
                        .max(0) as u64,
                    pe_count: take_int(&mut p, "pe_count")
                        .ok_or_else(|| pbad("missing pe_count"))?
                        .max(0) as u64,
                    key,
                    extra: p,
                });
            }
        }
        let mut lvs = Vec::new();
        if let Some(Node::Section(lvsec)) = take(&mut s, "logical_volumes") {
            for (lname, n) in lvsec.entries {
                let Node::Section(mut l) = n else { continue };
                let id = take_str(&mut l, "id")
                    .ok_or_else(|| bad(&format!("lv {lname}: missing id")))?;
                let (status, flags) =
                    unlock_write(take_strs(&mut l, "status"), take_strs(&mut l, "flags"));
                let tags = take_strs(&mut l, "tags");
                let creation_time = take_int(&mut l, "creation_time");
                let creation_host = take_str(&mut l, "creation_host");
                take(&mut l, "segment_count");
                let mut segments = Vec::new();
                let seg_keys: Vec<String> = l
                    .entries
                    .iter()
                    .filter(|(k, n)| k.starts_with("segment") && matches!(n, Node::Section(_)))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in seg_keys {
                    let Some(Node::Section(mut g)) = take(&mut l, &k) else {
                        continue;
                    };
                    let sbad = |w: &str| bad(&format!("lv {lname} {k}: {w}"));
                    let start_extent = take_int(&mut g, "start_extent")
                        .ok_or_else(|| sbad("missing start_extent"))?;
                    let extent_count = take_int(&mut g, "extent_count")
                        .ok_or_else(|| sbad("missing extent_count"))?;
                    if start_extent < 0 || extent_count <= 0 {
                        return Err(sbad("bad extent range"));
                    }
                    let segtype = take_str(&mut g, "type").ok_or_else(|| sbad("missing type"))?;
                    let stripe_size = take_int(&mut g, "stripe_size").unwrap_or(0).max(0) as u64;
                    let region_size = take_int(&mut g, "region_size").unwrap_or(0).max(0) as u64;
                    let log = take_str(&mut g, "mirror_log");
                    let (areas, meta_areas) = match segtype.as_str() {
                        "striped" => {
                            take(&mut g, "stripe_count");
                            (take_areas(&mut g, "stripes", &name)?, Vec::new())
                        }
                        "mirror" => {
                            take(&mut g, "mirror_count");
                            (take_areas(&mut g, "mirrors", &name)?, Vec::new())
                        }
                        t if t.starts_with("raid") => {
                            let count =
                                take_int(&mut g, "device_count").unwrap_or(0).max(0) as usize;
                            let names = take_strs(&mut g, "raids");
                            let lv = |n: &String| Area::Lv {
                                name: n.clone(),
                                start: 0,
                            };
                            if names.len() == 2 * count {
                                let meta = names.iter().step_by(2).map(lv).collect();
                                let data = names.iter().skip(1).step_by(2).map(lv).collect();
                                (data, meta)
                            } else {
                                (names.iter().map(lv).collect(), Vec::new())
                            }
                        }
                        _ => (Vec::new(), Vec::new()),
                    };
                    segments.push(Seg {
                        start_extent: start_extent as u64,
                        extent_count: extent_count as u64,
                        segtype,
                        stripe_size,
                        region_size,
                        areas,
                        meta_areas,
                        log,
                        extra: g,
                    });
                }
                segments.sort_by_key(|s| s.start_extent);
                lvs.push(Lv {
                    name: lname,
                    id,
                    status,
                    flags,
                    tags,
                    creation_time,
                    creation_host,
                    segments,
                    extra: l,
                });
            }
        }
        Ok(Vg {
            name,
            id,
            seqno,
            status,
            flags,
            tags,
            system_id,
            extent_size: extent_size as u64,
            max_lv,
            max_pv,
            pvs,
            lvs,
            extra: s,
            trailer,
        })
    }

    /// lvm2 writes WRITE_LOCKED instead of WRITE when the VG has a system ID or a lock type,
    /// so that old lvm versions treat it as read-only.
    fn write_locked(&self) -> bool {
        self.system_id.as_deref().is_some_and(|s| !s.is_empty())
            || self.extra.get_str("lock_type").is_some_and(|t| t != "none")
    }

    /// `status` and `flags` as lvm2 writes them: WRITE moves to flags as WRITE_LOCKED.
    fn status_out(&self, status: &[String], flags: &[String]) -> (Value, Value) {
        if self.write_locked() && status.iter().any(|s| s == "WRITE") {
            let st = status.iter().filter(|s| *s != "WRITE").cloned();
            let mut fl = flags.to_vec();
            fl.push("WRITE_LOCKED".into());
            (Value::str_array(st), Value::str_array(fl))
        } else {
            (
                Value::str_array(status.to_vec()),
                Value::str_array(flags.to_vec()),
            )
        }
    }

    /// The whole document in lvm2's key order.
    pub fn to_doc(&self) -> Section {
        self.to_doc_with_trailer(&self.trailer)
    }

    /// [`Vg::to_doc`] with another trailer (a commit writes a fresh one).
    pub fn to_doc_with_trailer(&self, trailer: &Section) -> Section {
        let mut s = Section::new();
        s.push("id", Value::Str(self.id.clone()));
        s.push("seqno", Value::Int(self.seqno as i64));
        let mut extra = self.extra.clone();
        let fmt = extra
            .remove("format")
            .unwrap_or(Node::Value(Value::Str("lvm2".into())));
        s.push("format", fmt);
        let (st, fl) = self.status_out(&self.status, &self.flags);
        s.push("status", st);
        s.push("flags", fl);
        if !self.tags.is_empty() {
            s.push("tags", Value::str_array(self.tags.clone()));
        }
        if let Some(id) = self.system_id.as_ref().filter(|s| !s.is_empty()) {
            s.push("system_id", Value::Str(id.clone()));
        }
        for k in ["lock_type", "lock_args"] {
            if let Some(n) = extra.remove(k) {
                s.push(k, n);
            }
        }
        s.push("extent_size", Value::Int(self.extent_size as i64));
        s.push("max_lv", Value::Int(self.max_lv as i64));
        s.push("max_pv", Value::Int(self.max_pv as i64));
        let mdc = extra
            .remove("metadata_copies")
            .unwrap_or(Node::Value(Value::Int(0)));
        for (k, n) in extra.entries {
            s.push(k, n);
        }
        s.push("metadata_copies", mdc);
        let mut pvsec = Section::new();
        for p in &self.pvs {
            let mut ps = Section::new();
            ps.push("id", Value::Str(p.id.clone()));
            ps.push("device", Value::Str(p.device.clone()));
            let mut pex = p.extra.clone();
            for k in ["device_id_type", "device_id"] {
                if let Some(n) = pex.remove(k) {
                    ps.push(k, n);
                }
            }
            ps.push("status", Value::str_array(p.status.clone()));
            ps.push("flags", Value::str_array(p.flags.clone()));
            if !p.tags.is_empty() {
                ps.push("tags", Value::str_array(p.tags.clone()));
            }
            ps.push("dev_size", Value::Int(p.dev_size as i64));
            ps.push("pe_start", Value::Int(p.pe_start as i64));
            ps.push("pe_count", Value::Int(p.pe_count as i64));
            for (k, n) in pex.entries {
                ps.push(k, n);
            }
            pvsec.push(p.key.clone(), ps);
        }
        s.push("physical_volumes", pvsec);
        if !self.lvs.is_empty() {
            let mut lvsec = Section::new();
            for l in &self.lvs {
                let mut ls = Section::new();
                ls.push("id", Value::Str(l.id.clone()));
                let (st, fl) = self.status_out(&l.status, &l.flags);
                ls.push("status", st);
                ls.push("flags", fl);
                if !l.tags.is_empty() {
                    ls.push("tags", Value::str_array(l.tags.clone()));
                }
                if let Some(t) = l.creation_time {
                    ls.push("creation_time", Value::Int(t));
                }
                if let Some(h) = &l.creation_host {
                    ls.push("creation_host", Value::Str(h.clone()));
                }
                for (k, n) in &l.extra.entries {
                    ls.push(k.clone(), n.clone());
                }
                ls.push("segment_count", Value::Int(l.segments.len() as i64));
                for (i, g) in l.segments.iter().enumerate() {
                    let mut gs = Section::new();
                    gs.push("start_extent", Value::Int(g.start_extent as i64));
                    gs.push("extent_count", Value::Int(g.extent_count as i64));
                    gs.push("type", Value::Str(g.segtype.clone()));
                    let mut gex = g.extra.clone();
                    if let Some(n) = gex.remove("tags") {
                        gs.push("tags", n);
                    }
                    match g.segtype.as_str() {
                        "striped" => {
                            gs.push("stripe_count", Value::Int(g.areas.len() as i64));
                            if g.areas.len() > 1 {
                                gs.push("stripe_size", Value::Int(g.stripe_size as i64));
                            }
                            for (k, n) in gex.entries.drain(..) {
                                gs.push(k, n);
                            }
                            gs.push("stripes", areas_value(&g.areas));
                        }
                        "mirror" => {
                            gs.push("mirror_count", Value::Int(g.areas.len() as i64));
                            if let Some(log) = &g.log {
                                gs.push("mirror_log", Value::Str(log.clone()));
                            }
                            gs.push("region_size", Value::Int(g.region_size as i64));
                            for (k, n) in gex.entries.drain(..) {
                                gs.push(k, n);
                            }
                            gs.push("mirrors", areas_value(&g.areas));
                        }
                        t if t.starts_with("raid") => {
                            gs.push("device_count", Value::Int(g.areas.len() as i64));
                            if g.stripe_size > 0 {
                                gs.push("stripe_size", Value::Int(g.stripe_size as i64));
                            }
                            gs.push("region_size", Value::Int(g.region_size as i64));
                            for (k, n) in gex.entries.drain(..) {
                                gs.push(k, n);
                            }
                            let name = |a: &Area| match a {
                                Area::Lv { name, .. } | Area::Pv { key: name, .. } => {
                                    Value::Str(name.clone())
                                }
                            };
                            let mut raids = Vec::new();
                            for (i, d) in g.areas.iter().enumerate() {
                                if let Some(m) = g.meta_areas.get(i) {
                                    raids.push(name(m));
                                }
                                raids.push(name(d));
                            }
                            gs.push("raids", Value::Array(raids));
                        }
                        _ => {
                            if g.stripe_size > 0 {
                                gs.push("stripe_size", Value::Int(g.stripe_size as i64));
                            }
                            if g.region_size > 0 {
                                gs.push("region_size", Value::Int(g.region_size as i64));
                            }
                        }
                    }
                    for (k, n) in gex.entries {
                        gs.push(k, n);
                    }
                    ls.push(format!("segment{}", i + 1), gs);
                }
                lvsec.push(l.name.clone(), ls);
            }
            s.push("logical_volumes", lvsec);
        }
        let mut doc = Section::new();
        doc.push(self.name.clone(), s);
        for (k, n) in &trailer.entries {
            doc.push(k.clone(), n.clone());
        }
        doc
    }

    pub fn lv(&self, name: &str) -> Option<&Lv> {
        self.lvs.iter().find(|l| l.name == name)
    }

    pub fn pv_by_key(&self, key: &str) -> Option<&Pv> {
        self.pvs.iter().find(|p| p.key == key)
    }

    pub fn total_extents(&self) -> u64 {
        self.pvs.iter().map(|p| p.pe_count).sum()
    }

    /// Used extents per PV key, as sorted (start, len) ranges.
    pub fn used_ranges(&self) -> std::collections::HashMap<String, Vec<(u64, u64)>> {
        let mut m: std::collections::HashMap<String, Vec<(u64, u64)>> = Default::default();
        for l in &self.lvs {
            for g in &l.segments {
                let len = g.area_len();
                for a in &g.areas {
                    if let Area::Pv { key, start } = a {
                        m.entry(key.clone()).or_default().push((*start, len));
                    }
                }
                for a in &g.meta_areas {
                    if let Area::Pv { key, start } = a {
                        m.entry(key.clone()).or_default().push((*start, len));
                    }
                }
            }
        }
        for v in m.values_mut() {
            v.sort_unstable();
        }
        m
    }

    pub fn used_on(&self, key: &str) -> u64 {
        self.used_ranges()
            .get(key)
            .map(|v| v.iter().map(|r| r.1).sum())
            .unwrap_or(0)
    }

    pub fn free_extents(&self) -> u64 {
        let used: u64 = self.used_ranges().values().flatten().map(|r| r.1).sum();
        self.total_extents().saturating_sub(used)
    }

    /// lvm's 10-character lv_attr for an LV that is not active (lvmeta does no activation).
    pub fn lv_attr(&self, lv: &Lv) -> String {
        self.lv_attr_with(lv, self.role(&lv.name))
    }

    /// [`Vg::lv_attr`] with the LV's role already known (see [`Vg::roles`]).
    pub fn lv_attr_with(&self, lv: &Lv, role: Option<(&'static str, bool)>) -> String {
        let has = |f: &str| lv.status.iter().any(|s| s == f);
        let t = lv
            .segments
            .first()
            .map(|s| s.segtype.as_str())
            .unwrap_or("");
        // Images show 'I' (not known to be in sync) as lvm2 does for inactive LVs.
        let (c0, c6) = if role == Some(("raid", false)) {
            ('I', 'r')
        } else if role == Some(("raid", true)) {
            ('e', 'r')
        } else if role == Some(("mirror", false)) {
            ('I', 'm')
        } else if role == Some(("mirror", true)) {
            ('l', 'm')
        } else if t.starts_with("raid") {
            ('r', 'r')
        } else if t == "mirror" {
            ('m', 'm')
        } else {
            ('-', '-')
        };
        let c1 = if has("WRITE") { 'w' } else { 'r' };
        format!("{c0}{c1}i---{c6}---")
    }

    /// The role of every sub-LV, computed in one pass (reports on VGs with thousands of LVs).
    pub fn roles(&self) -> HashMap<String, (&'static str, bool)> {
        let mut m = HashMap::new();
        for l in &self.lvs {
            for g in &l.segments {
                let kind = if g.segtype.starts_with("raid") {
                    "raid"
                } else if g.segtype == "mirror" {
                    "mirror"
                } else {
                    continue;
                };
                for a in &g.areas {
                    if let Area::Lv { name, .. } = a {
                        m.entry(name.clone()).or_insert((kind, false));
                    }
                }
                for a in &g.meta_areas {
                    if let Area::Lv { name, .. } = a {
                        m.entry(name.clone()).or_insert((kind, true));
                    }
                }
                if let Some(log) = &g.log {
                    m.entry(log.clone()).or_insert((kind, true));
                }
            }
        }
        m
    }

    /// How another LV uses `name`: ("raid"|"mirror", is metadata/log), None for top LVs.
    pub fn role(&self, name: &str) -> Option<(&'static str, bool)> {
        for l in &self.lvs {
            for g in &l.segments {
                let kind = if g.segtype.starts_with("raid") {
                    "raid"
                } else if g.segtype == "mirror" {
                    "mirror"
                } else {
                    continue;
                };
                let is = |a: &Area| matches!(a, Area::Lv { name: n, .. } if n == name);
                if g.areas.iter().any(is) {
                    return Some((kind, false));
                }
                if g.meta_areas.iter().any(is) || g.log.as_deref() == Some(name) {
                    return Some((kind, true));
                }
            }
        }
        None
    }

    pub fn vg_attr(&self) -> String {
        let w = if self.status.iter().any(|s| s == "WRITE") {
            'w'
        } else {
            'r'
        };
        let z = if self.status.iter().any(|s| s == "RESIZEABLE") {
            'z'
        } else {
            '-'
        };
        let x = if self.status.iter().any(|s| s == "EXPORTED") {
            'x'
        } else {
            '-'
        };
        let c = match self.extra.get_str("lock_type") {
            Some("dlm") | Some("sanlock") | Some("idm") => 's',
            _ if self.status.iter().any(|s| s == "CLUSTERED") => 'c',
            _ => '-',
        };
        format!("{w}{z}{x}-n{c}")
    }
}

/// What `create_lv` builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Linear,
    /// `stripe_size` in sectors.
    Striped {
        stripes: u32,
        stripe_size: u64,
    },
    Mirror {
        mirrors: u32,
    },
    Raid1 {
        mirrors: u32,
    },
}

/// Reads lvm2's WRITE_LOCKED (in flags, or in status from other writers) back as WRITE.
fn unlock_write(mut status: Vec<String>, mut flags: Vec<String>) -> (Vec<String>, Vec<String>) {
    let locked = status.iter().chain(&flags).any(|s| s == "WRITE_LOCKED");
    status.retain(|s| s != "WRITE_LOCKED");
    flags.retain(|s| s != "WRITE_LOCKED");
    if locked && !status.iter().any(|s| s == "WRITE") {
        let at = status
            .iter()
            .position(|s| s == "READ")
            .map(|i| i + 1)
            .unwrap_or(status.len());
        status.insert(at, "WRITE".into());
    }
    (status, flags)
}

/// lvm's name rules for VGs and LVs.
pub fn check_name(name: &str) -> Result<(), VgError> {
    let bad = |why: &str| VgError::BadName {
        name: name.into(),
        why: why.into(),
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > 127 {
        return Err(bad("longer than 127 characters"));
    }
    if name == "." || name == ".." || name.starts_with('-') {
        return Err(bad("reserved"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c))
    {
        return Err(bad("only a-z A-Z 0-9 + _ . - are allowed"));
    }
    for r in [
        "_cdata", "_cmeta", "_corig", "_mlog", "_mimage", "_pmspare", "_rimage", "_rmeta",
        "_tdata", "_tmeta", "_vorigin", "_vdata",
    ] {
        if name.contains(r) {
            return Err(bad("contains a name reserved for internal LVs"));
        }
    }
    Ok(())
}
