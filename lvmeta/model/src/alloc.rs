//! The extent allocator: create, extend, reduce, remove and rename LVs on the model. No I/O.
//!
//! Policy: linear and striped follow lvm2's `normal` allocation (`lib/metadata/lv_manip.c`
//! `_allocate`), policy by policy:
//! - contiguous: continue every area of the LV's last segment right where it ends;
//! - cling: each area on the PV of the last segment's matching area (its largest free range);
//! - normal: one free range per PV, chosen like lvm2 (the largest, or a smaller one that still
//!   holds the request, see `lvm_pick`), PVs holding the most of the request first (VG order
//!   on ties), then further passes clinging to PVs already used; each pass is one segment,
//!   adjacent segments are merged as `lv_merge_segments` does.
//!
//! A `root_*` test replays lvcreate/lvextend/lvreduce/lvremove sequences (linear, `-i2`,
//! `-i3`, fragmented space, PV lists) with lvm2 and with this allocator and finds the same
//! extents after every step. Also:
//! - striped: the size is rounded up to a multiple of the stripe count, each stripe on its own
//!   PV, equal extents per stripe;
//! - mirror / raid1 (`mirrors` N → N+1 images): the images are the parallel areas of one
//!   allocation, placed by the policies above as stripes are; raid1 asks one more extent
//!   per image and splits a `_rmeta_N` off the front of each area of the first pass (when that
//!   pass holds only the metadata, the images go where later passes find room); a mirror's
//!   disk log (`_mlog`) is a second allocation, as lvm2's `add_mirror_log` (see
//!   `alloc_mirror_log`); new images beside an existing LV (`lvconvert -m+N`) avoid, LE range
//!   by LE range, the PVs that range uses (mirror) or every PV of the LV (raid1). lvm2 cannot
//!   create these without device-mapper: the lab test `lab_activation_matches_lvm2_and_keeps_data`
//!   compares creates, extends and up-converts with a real lvm2 run, and the root tier's
//!   differential test checks that lvm2 accepts, extends, reduces and removes them as lvmeta does;
//! - only PVs with `ALLOCATABLE` status, restricted to the PVs the request names.
//!
//! Mirror log: [`MirrorLog::Disk`] is the default, as lvm2's `--mirrorlog` (a `_mlog` sub-LV);
//! [`MirrorLog::Core`] keeps it in memory (lvm2 records that by omitting `mirror_log`).

use crate::vg::{LogicalVolume, LvArea, Segment, SegmentKind, StripeArea, VolumeGroup};
use crate::{Extra, Flag, FlagList, ModelError};
use lvmeta_ondisk::units::{Extents, Sectors};

/// lvm2's default region size for mirror and raid (2 MiB, `DEFAULT_RAID_REGION_SIZE`).
pub const DEFAULT_REGION_SIZE: Sectors = Sectors(4096);

/// lvm2's default stripe size (64 KiB).
pub const DEFAULT_STRIPE_SIZE: Sectors = Sectors(128);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MirrorLog {
    /// In memory (`--mirrorlog core`): no `mirror_log` key, no `_mlog` sub-LV.
    Core,
    /// A `_mlog` sub-LV (one extent but for huge LVs), lvm2's default.
    #[default]
    Disk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Linear,
    /// `stripes` ≥ 2, `stripe_size` a power of two of at least 8 sectors (4 KiB).
    Striped {
        stripes: u32,
        stripe_size: Sectors,
    },
    /// dm-mirror with `mirrors` extra copies (`-m`), so `mirrors + 1` images.
    Mirror {
        mirrors: u32,
        log: MirrorLog,
    },
    /// raid1 with `mirrors` extra copies, `mirrors + 1` (rmeta, rimage) pairs.
    Raid1 {
        mirrors: u32,
    },
}

/// What a request that allocates new LVs ([`LvRequest`], [`ImagesRequest`]) says besides
/// their shape: where from, the region size, and what the new LVs record of their making.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    /// Allocate only from these PVs (PV keys like `pv0` or device paths); None: any.
    pub pvs: Option<Vec<String>>,
    /// Region size of a mirror/raid1 LV created or made from a linear one (default 2 MiB,
    /// lowered to fit small LVs).
    pub region_size: Option<Sectors>,
    pub creation_time: Option<i64>,
    pub creation_host: Option<String>,
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvRequest {
    pub name: String,
    /// Size in extents; striped sizes are rounded up to a multiple of the stripe count.
    pub size: Extents,
    pub layout: Layout,
    pub alloc: Allocation,
    /// Take what fits, up to `size` (lvm2's approximate allocation for percentages);
    /// linear and striped only.
    pub approx: bool,
}

impl LvRequest {
    pub fn new(name: &str, size: Extents, layout: Layout) -> LvRequest {
        LvRequest {
            name: name.to_string(),
            size,
            layout,
            alloc: Allocation::default(),
            approx: false,
        }
    }
}

/// What [`VolumeGroup::add_images`] is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImagesRequest {
    /// Images the LV has afterwards (`-m N`: N + 1).
    pub total: usize,
    /// A linear LV becomes raid1 (else a mirror with a core log); a mirror or raid1 LV keeps
    /// its type.
    pub raid1: bool,
    pub alloc: Allocation,
}

/// Used extents per PV, as sorted `(start, len)` ranges.
#[derive(Debug, Clone)]
pub(crate) struct FreeMap {
    pub(crate) pvs: Vec<PvSpace>,
    /// lvm2's approximate allocation (`-l N%FREE` ...): take what fits, up to the size.
    pub(crate) approx: bool,
    /// For an extension: the PVs of the LV's *first* segment, slot by slot. lvm2's cling
    /// policy with `maximise_cling` (the default) looks at the segment holding LE 0 only
    /// (`_check_cling` hands `_for_each_pv` the whole LV from LE 0, which visits one segment).
    pub(crate) cling_to: Option<Vec<usize>>,
    /// raid1's metadata extents split off the front of each area of an allocation's first
    /// pass (lvm2's `alloc_and_split_meta` with `log_len`).
    pub(crate) split_meta: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct PvSpace {
    pub(crate) name: String,
    pub(crate) pe_count: u64,
    pub(crate) used: Vec<(u64, u64)>,
    /// Starts of the free areas in the order of lvm2's `pv_map` area list, which one
    /// allocation keeps and rearranges (`_insert_area`, `reinsert_changed_pv_area`,
    /// `consume_pv_area`): largest first, and an area that shrinks goes after every area
    /// at least as large as what is left of it.
    pub(crate) order: Vec<u64>,
    /// (start, unreserved extents) of the areas a pass reserved from (`pva->unreserved` below
    /// `pva->count`); the next pass puts them back to full size and re-inserts them
    /// (`_reset_unreserved`), but for those its list walk skips after a re-insert.
    pub(crate) reserved: Vec<(u64, u64)>,
}

impl PvSpace {
    pub(crate) fn free_ranges(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut pos = 0;
        for &(s, l) in &self.used {
            // Damaged metadata may name extents past the end of the PV: never free space.
            if pos >= self.pe_count {
                break;
            }
            if s > pos {
                out.push((pos, s.min(self.pe_count) - pos));
            }
            pos = pos.max(s.saturating_add(l));
        }
        if pos < self.pe_count {
            out.push((pos, self.pe_count - pos));
        }
        out
    }

    pub(crate) fn free(&self) -> u64 {
        self.free_ranges().iter().map(|r| r.1).sum()
    }

    fn take(&mut self, start: u64, len: u64) {
        let count = self.free_at(start);
        let i = self.used.partition_point(|&(s, _)| s < start);
        self.used.insert(i, (start, len));
        // `consume_pv_area`: the area leaves the list; what is left of it goes back in.
        self.order.retain(|&s| s != start);
        self.reserved.retain(|r| r.0 != start);
        if count > len {
            let left = count - len;
            let sizes = self.free_ranges();
            let size_of = |s: u64| sizes.iter().find(|r| r.0 == s).map_or(0, |r| r.1);
            let at = self
                .order
                .iter()
                .position(|&s| left > size_of(s))
                .unwrap_or(self.order.len());
            self.order.insert(at, start + len);
        }
    }

    /// `_reset_unreserved` on this PV: each area reserved from in the last pass gets its
    /// full size back and is re-inserted after the areas at least as large, the walk going
    /// on after its new place (as lvm2's list iteration does).
    fn reset_unreserved(&mut self) {
        if self.reserved.is_empty() {
            return;
        }
        let mut list = self.areas_in_order();
        let mut i = 0;
        while i < list.len() {
            let a = list[i];
            if !self.reserved.iter().any(|r| r.0 == a.0) {
                i += 1;
                continue;
            }
            self.reserved.retain(|r| r.0 != a.0);
            list.remove(i);
            let at = list.iter().position(|b| a.1 > b.1).unwrap_or(list.len());
            list.insert(at, a);
            i = if at >= i { at + 1 } else { i };
        }
        // lvm2 walks on after an area's new place: an area it passes over that way keeps
        // its reservation into the next pass (seed 5092).
        self.order = list.iter().map(|a| a.0).collect();
    }

    /// What is unreserved of the area at `start` (its size when nothing is).
    fn unreserved_of(&self, start: u64, count: u64) -> u64 {
        self.reserved
            .iter()
            .find(|r| r.0 == start)
            .map_or(count, |r| r.1)
    }

    /// The first area in list order with anything unreserved (`_check_pva` skips the others).
    fn first_unreserved(&self) -> Option<(u64, u64)> {
        self.areas_in_order()
            .into_iter()
            .find(|&(s, l)| self.unreserved_of(s, l) > 0)
    }

    /// Free areas (start, size) in lvm2's list order.
    fn areas_in_order(&self) -> Vec<(u64, u64)> {
        let mut ranges = self.free_ranges();
        let mut out: Vec<(u64, u64)> = self
            .order
            .iter()
            .filter_map(|&s| ranges.iter().find(|r| r.0 == s).copied())
            .collect();
        // Areas the list does not know (none, normally) go by size.
        ranges.retain(|r| !out.contains(r));
        ranges.sort_by_key(|&(s, l)| (std::cmp::Reverse(l), s));
        out.extend(ranges);
        out
    }

    /// Length of the free range beginning exactly at `pe`.
    fn free_at(&self, pe: u64) -> u64 {
        self.free_ranges()
            .iter()
            .find(|r| r.0 == pe)
            .map_or(0, |r| r.1)
    }
}

impl FreeMap {
    pub(crate) fn new(vg: &VolumeGroup) -> FreeMap {
        let mut pvs: Vec<PvSpace> = vg
            .pvs
            .iter()
            .map(|p| PvSpace {
                name: p.name.clone(),
                pe_count: p.pe_count.0,
                used: Vec::new(),
                order: Vec::new(),
                reserved: Vec::new(),
            })
            .collect();
        for lv in &vg.lvs {
            for seg in &lv.segments {
                for (pv, start, len) in pv_areas(seg) {
                    if let Some(p) = pvs.iter_mut().find(|p| p.name == pv) {
                        p.used.push((start, len));
                    }
                }
            }
        }
        for p in &mut pvs {
            p.used.sort_unstable();
            let mut r = p.free_ranges();
            r.sort_by_key(|&(s, l)| (std::cmp::Reverse(l), s));
            p.order = r.into_iter().map(|r| r.0).collect();
        }
        FreeMap {
            pvs,
            approx: false,
            cling_to: None,
            split_meta: 0,
        }
    }

    fn idx(&self, name: &str) -> Option<usize> {
        self.pvs.iter().position(|p| p.name == name)
    }

    fn total_free(&self, cands: &[usize]) -> u64 {
        cands.iter().map(|&i| self.pvs[i].free()).sum()
    }

    /// `n` extents from `cands`, see the module's policy. Returns (pv index, start, len) chunks.
    fn alloc_linear(
        &mut self,
        cands: &[usize],
        n: u64,
        continue_at: Option<(usize, u64)>,
    ) -> Result<Vec<(usize, u64, u64)>, ModelError> {
        let free = self.total_free(cands);
        if free < n && !self.approx {
            return Err(ModelError::NotEnoughSpace {
                needed: Extents(n),
                free: Extents(free),
            });
        }
        let prev = continue_at.map(|p| vec![p]);
        let segs = self.alloc_parallel(cands, 1, n, prev.as_deref())?;
        Ok(segs
            .into_iter()
            .map(|(len, areas)| (areas[0].0, areas[0].1, len))
            .collect())
    }

    /// Before a striped allocation ([`FreeMap::alloc_parallel`] with one area per stripe):
    /// `stripes` distinct PVs with free extents, unless the allocation is approximate.
    fn check_stripes(&self, cands: &[usize], stripes: usize) -> Result<(), ModelError> {
        let usable = cands.iter().filter(|&&i| self.pvs[i].free() > 0).count();
        if usable < stripes && !self.approx {
            return Err(ModelError::NotEnoughPvs {
                needed: stripes,
                available: usable,
                what: "stripes",
            });
        }
        Ok(())
    }

    /// Free ranges of a PV in lvm2's `pv_map` list order.
    fn areas_by_size(&self, pv: usize) -> Vec<(u64, u64)> {
        self.pvs[pv].areas_in_order()
    }

    /// lvm2's area choice on one PV for the normal policy (`_find_some_parallel_space` with
    /// `_check_pva` and `_calc_required_extents`), simulated on lvm2's area list: areas
    /// largest first (equal sizes by start); each visited area that is still big enough
    /// replaces the one found before (the first is always taken); taking reserves `need`
    /// from it, and an area only partly reserved moves down the list by what is left of it
    /// (`reinsert_changed_pv_area`), the walk going on after its new place.
    /// Returns (start, size).
    fn lvm_pick(&mut self, pv: usize, need: u64) -> Option<(u64, u64)> {
        self.lvm_walk(pv, need, false, &|_| true)
    }

    /// `lvm_pick`, the walk ending at the first area `matches` refuses (lvm2's NEXT_PV). With
    /// `cling` (cling to allocated) every visited area is taken, big enough or not.
    fn lvm_walk(
        &mut self,
        pv: usize,
        need: u64,
        cling: bool,
        matches: &dyn Fn(u64) -> bool,
    ) -> Option<(u64, u64)> {
        self.pvs[pv].reset_unreserved();
        // (start, count, unreserved)
        let mut list: Vec<(u64, u64, u64)> = self
            .areas_by_size(pv)
            .into_iter()
            .map(|(s, l)| (s, l, self.pvs[pv].unreserved_of(s, l)))
            .collect();
        let mut found: Option<(u64, u64)> = None;
        let mut i = 0;
        while i < list.len() {
            let (start, count, unreserved) = list[i];
            if unreserved == 0 {
                i += 1;
                continue;
            }
            if !matches(start) || (found.is_some() && !cling && unreserved < need) {
                break;
            }
            found = Some((start, count));
            if need >= unreserved {
                list[i].2 = 0;
                i += 1;
                continue;
            }
            // Partly reserved: re-inserted before the first area whose size is smaller
            // than what is left (`_insert_area` with `reduced`).
            let left = unreserved - need;
            let moved = list.remove(i);
            let at = list.iter().position(|a| left > a.1).unwrap_or(list.len());
            list.insert(at, (moved.0, moved.1, left));
            i = at + 1;
        }
        // The list keeps its new order for the rest of this allocation.
        self.pvs[pv].order = list.iter().map(|a| a.0).collect();
        self.pvs[pv].reserved = list
            .iter()
            .filter(|a| a.2 < a.1)
            .map(|a| (a.0, a.2))
            .collect();
        found
    }

    /// lvm2's allocation cascade for `n` parallel areas of `per_area` extents each
    /// (`_allocate`): contiguous to the previous segment, then cling to its PVs, then normal
    /// (best area per PV, PVs with the most room first, then clinging to PVs already used).
    /// `prev` is the end of each area of the LV's last segment, when it has `n` areas.
    #[allow(clippy::type_complexity)]
    fn alloc_parallel(
        &mut self,
        cands: &[usize],
        n: usize,
        per_area: u64,
        prev: Option<&[(usize, u64)]>,
    ) -> Result<Vec<(u64, Vec<(usize, u64)>)>, ModelError> {
        let free = self.total_free(cands);
        let not_enough = || ModelError::NotEnoughSpace {
            needed: Extents(per_area.saturating_mul(n as u64)),
            free: Extents(free),
        };
        let mut st = Progress {
            out: Vec::new(),
            rest: per_area,
            used_by_slot: vec![Vec::new(); n],
            meta: self.split_meta,
        };
        // lvm2's A_AREA_COUNT_MATCHES: the last segment has `n` areas (wherever they are).
        let prev_any = prev.filter(|p| p.len() == n);
        let prev = prev_any.filter(|p| p.iter().all(|(pv, _)| cands.contains(pv)));
        // The PVs of the first segment, slot by slot, for an extension.
        let first: Vec<usize> = match (&self.cling_to, prev_any) {
            (Some(c), Some(_)) => c.clone(),
            (None, Some(p)) => p.iter().map(|a| a.0).collect(),
            _ => Vec::new(),
        };
        let r = Request {
            cands,
            n,
            prev: prev_any.unwrap_or(&[]),
            first: &first,
        };
        // Policy "contiguous": one pass.
        if let Some(prev) = prev {
            let sizes: Vec<u64> = prev
                .iter()
                .map(|&(pv, pe)| self.pvs[pv].free_at(pe))
                .collect();
            if sizes.iter().all(|&l| l > 0) {
                let len = sizes.iter().copied().min().unwrap_or(0).min(st.rest);
                st.take(self, len, prev.to_vec());
            }
        } else if let Some((len, areas)) = self.normal_pass(&r, st.rest) {
            st.take(self, len, areas);
        }
        if prev_any.is_some() {
            // Policy "cling" of an extension (A_CLING_TO_LVSEG): first positionally, then,
            // once a positional pass finds nothing, sorted (lvm2 drops A_POSITIONAL_FILL).
            let mut positional = true;
            while st.rest > 0 {
                let found = if positional {
                    self.cling_positional(&r, st.rest)
                } else {
                    self.cling_sorted(&r, st.rest, &[])
                };
                match found {
                    Some((len, areas)) => st.take(self, len, areas),
                    None if positional => positional = false,
                    None => break,
                }
            }
        } else {
            // Policy "cling" of a new LV (A_CLING_TO_ALLOCATED, positional): each slot on a PV
            // it already used, that PV's first area.
            while st.rest > 0 {
                let mut areas = Vec::new();
                for slot in 0..n {
                    let pvs: Vec<usize> = cands
                        .iter()
                        .copied()
                        .filter(|pv| st.used_by_slot[slot].contains(pv))
                        .collect();
                    for &pv in &pvs {
                        self.pvs[pv].reset_unreserved();
                    }
                    let pick = pvs
                        .iter()
                        .find_map(|&pv| self.pvs[pv].first_unreserved().map(|(s, l)| (pv, s, l)));
                    match pick {
                        Some(a) if !areas.iter().any(|b: &(usize, u64, u64)| b.0 == a.0) => {
                            areas.push(a)
                        }
                        _ => break,
                    }
                }
                if areas.len() < n {
                    break;
                }
                let len = areas.iter().map(|a| a.2).min().unwrap_or(0).min(st.rest);
                st.take(self, len, areas.iter().map(|a| (a.0, a.1)).collect());
            }
        }
        // Policy "normal" with A_CLING_TO_ALLOCATED while that finds room: areas on PVs this
        // allocation already used, and for an extension (set from the start, as lvm2's
        // `_init_alloc_parms`) also those `_check_pva` finds under `maximise_cling`
        // (continuing a last-segment area, on a first-segment PV); then plain normal.
        let cling = prev_any.is_some() || !st.out.is_empty();
        if !self.normal_policy(&r, &mut st, cling) {
            return Err(not_enough());
        }
        Ok(st.out)
    }

    /// The normal policy's passes until `st` has all it needs: with `cling`
    /// (A_CLING_TO_ALLOCED) first, dropped when a pass finds nothing and set again after
    /// one that finds something (maximise_cling). False when the space runs out (an
    /// approximate allocation keeps what it found, lvm2's `approx_alloc`).
    fn normal_policy(&mut self, r: &Request, st: &mut Progress, mut cling: bool) -> bool {
        while st.rest > 0 {
            let found = if cling {
                let used: Vec<usize> = st.used_by_slot.iter().flatten().copied().collect();
                self.cling_sorted(r, st.rest, &used)
            } else {
                self.normal_pass(r, st.rest)
            };
            match found {
                Some((len, areas)) => {
                    st.take(self, len, areas);
                    cling = true;
                }
                None if cling => cling = false,
                None => return self.approx,
            }
        }
        true
    }

    /// New mirror images beside an LV's LEs, as lvm2's `add_mirror_images` allocates them
    /// with the parallel areas of `build_parallel_areas_from_lv(lv, 0, 0)`: `ranges` are the
    /// LV's LE ranges (length, PVs they use), cut at every segment boundary of any image.
    /// One allocation, split at each range's end (`max_to_allocate`), each range kept off
    /// the PVs it already uses (`_pv_is_parallel`); after the first range the normal policy
    /// clings to the PVs this allocation used (maximise_cling keeps A_CLING_TO_ALLOCED set
    /// after a pass that found something).
    #[allow(clippy::type_complexity)]
    fn alloc_parallel_ranges(
        &mut self,
        cands: &[usize],
        n: usize,
        ranges: &[(u64, Vec<usize>)],
    ) -> Result<Vec<(u64, Vec<(usize, u64)>)>, ModelError> {
        let needed: u64 = ranges.iter().map(|r| r.0).sum::<u64>() * n as u64;
        // `_sufficient_pes_free`: the whole request against all candidates, up front.
        let free = self.total_free(cands);
        let not_enough = || ModelError::NotEnoughSpace {
            needed: Extents(needed),
            free: Extents(free),
        };
        if free < needed {
            return Err(not_enough());
        }
        let mut out = Vec::new();
        let mut used_by_slot: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, (len, busy)) in ranges.iter().enumerate() {
            let c: Vec<usize> = cands
                .iter()
                .copied()
                .filter(|pv| !busy.contains(pv))
                .collect();
            let segs = if i == 0 {
                self.alloc_parallel(&c, n, *len, None)?
            } else {
                let mut st = Progress {
                    out: Vec::new(),
                    rest: *len,
                    used_by_slot: used_by_slot.clone(),
                    meta: 0,
                };
                let r = Request {
                    cands: &c,
                    n,
                    prev: &[],
                    first: &[],
                };
                if !self.normal_policy(&r, &mut st, true) {
                    return Err(not_enough());
                }
                st.out
            };
            for (_, areas) in &segs {
                for (slot, &(pv, _)) in areas.iter().enumerate() {
                    if !used_by_slot[slot].contains(&pv) {
                        used_by_slot[slot].push(pv);
                    }
                }
            }
            out.extend(segs);
        }
        Ok(out)
    }

    /// One positional pass of lvm2's cling policy for an extension (`_find_some_parallel_space`
    /// with A_CLING_TO_LVSEG | A_POSITIONAL_FILL): PVs in candidate order, each offering only
    /// its first area in the list; that area fills the first free slot whose last-segment
    /// area it continues (`_check_contiguous`, as `maximise_cling` asks), else the first free
    /// slot whose first-segment area is on the same PV (`_check_cling`), taken whole.
    /// Every slot filled: (len, areas by slot); else nothing is allocated.
    fn cling_positional(&mut self, r: &Request, need: u64) -> Option<(u64, Vec<(usize, u64)>)> {
        let Request {
            cands,
            n,
            prev,
            first,
        } = *r;
        let mut slots: Vec<Option<(usize, u64, u64)>> = vec![None; n];
        let mut filled = 0;
        for &pv in cands {
            self.pvs[pv].reset_unreserved();
            let Some((start, count)) = self.pvs[pv].first_unreserved() else {
                continue;
            };
            let free = |slots: &[Option<(usize, u64, u64)>], s: usize| slots[s].is_none();
            let slot = (0..n)
                .find(|&s| free(&slots, s) && prev[s] == (pv, start))
                .or_else(|| (0..n.min(first.len())).find(|&s| free(&slots, s) && first[s] == pv));
            if let Some(s) = slot {
                // Reserved whole but only in the pass's own record (`_is_condition` →
                // `_reserve_area`): the area's unreserved count is untouched, so the next
                // pass's `_reset_unreserved` leaves it where it is in the list (seed 5148).
                slots[s] = Some((pv, start, count));
                filled += 1;
                if filled == n {
                    break;
                }
            }
        }
        if filled < n {
            return None;
        }
        let slots: Vec<(usize, u64, u64)> = slots.into_iter().flatten().collect();
        common_span(&slots, need)
    }

    /// The cling policy's pass without A_POSITIONAL_FILL (and the normal policy's with
    /// A_CLING_TO_ALLOCATED, `used` then naming the PVs this allocation used): on each PV the
    /// areas that continue a last-segment area or lie on a first-segment (or used) PV are
    /// walked as in the normal policy
    /// (the walk stops at the first area that does neither), the last one taken; then the
    /// areas are sorted by how much of the request each holds (stable) and the first `n` used.
    fn cling_sorted(
        &mut self,
        r: &Request,
        need: u64,
        used: &[usize],
    ) -> Option<(u64, Vec<(usize, u64)>)> {
        let mut found: Vec<(usize, u64, u64)> = Vec::new();
        for &pv in r.cands {
            let on_first = r.first.contains(&pv) || used.contains(&pv);
            let matches = |start: u64| on_first || r.prev.contains(&(pv, start));
            if let Some((s, l)) = self.lvm_walk(pv, need, true, &matches) {
                found.push((pv, s, l.min(need)));
            }
        }
        largest_first(found, r.n, need)
    }

    /// One pass of lvm2's normal policy: an area per PV (VG order), sorted by how much of
    /// the request each holds (stable), the first `n` used. Returns (len, areas).
    fn normal_pass(&mut self, r: &Request, need: u64) -> Option<(u64, Vec<(usize, u64)>)> {
        let mut slots: Vec<(usize, u64, u64)> = Vec::new();
        for &pv in r.cands {
            if let Some((s, l)) = self.lvm_pick(pv, need) {
                slots.push((pv, s, l.min(need)));
            }
        }
        largest_first(slots, r.n, need)
    }
}

/// The end of the normal and cling passes: the areas found (PV, start, length), sorted by how
/// much of the request each holds (stable, as lvm2's qsort of `_comp_area`), the first `n`
/// taken. `None` when fewer than `n` were found.
fn largest_first(
    mut found: Vec<(usize, u64, u64)>,
    n: usize,
    need: u64,
) -> Option<(u64, Vec<(usize, u64)>)> {
    found.sort_by_key(|a| std::cmp::Reverse(a.2));
    if found.len() < n {
        return None;
    }
    common_span(&found[..n], need)
}

/// What a pass allocates from its chosen areas: as many extents as all of them hold (at most
/// `need`), and where each starts; `None` when that is nothing.
fn common_span(chosen: &[(usize, u64, u64)], need: u64) -> Option<(u64, Vec<(usize, u64)>)> {
    let len = chosen.iter().map(|a| a.2).min().unwrap_or(0).min(need);
    (len > 0).then(|| (len, chosen.iter().map(|a| (a.0, a.1)).collect()))
}

/// PV extents a segment occupies: its stripes, or the PV areas an opaque segment lists under
/// `stripes` (e.g. `striped+FLAG` types) or `mirrors` (pvmove).
pub fn pv_areas(seg: &Segment) -> Vec<(String, u64, u64)> {
    match &seg.kind {
        SegmentKind::Striped { areas, .. } => {
            let len = seg.area_len().0;
            areas
                .iter()
                .map(|a| (a.pv.clone(), a.start.0, len))
                .collect()
        }
        SegmentKind::Other { raw, .. } => {
            let mut out = Vec::new();
            for key in ["stripes", "mirrors"] {
                let Some(arr) = raw.get_array(key) else {
                    continue;
                };
                let n = (arr.len() / 2).max(1) as u64;
                let len = if key == "stripes" {
                    seg.extent_count.0 / n
                } else {
                    seg.extent_count.0
                };
                for pair in arr.chunks(2) {
                    if let [lvmeta_text::Value::Str(pv), lvmeta_text::Value::Int(start)] = pair {
                        if let Ok(start) = u64::try_from(*start) {
                            out.push((str::to_owned(pv), start, len));
                        }
                    }
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// What an allocation has found so far.
/// What the passes of one allocation share: `n` parallel areas from the PVs `cands`; for an
/// extension, the end of each area of the LV's last segment (`prev`) and the PVs of its first
/// segment by slot (`first`), which the cling passes follow (both empty otherwise).
#[derive(Clone, Copy)]
struct Request<'a> {
    cands: &'a [usize],
    n: usize,
    prev: &'a [(usize, u64)],
    first: &'a [usize],
}

struct Progress {
    out: Vec<(u64, Vec<(usize, u64)>)>,
    rest: u64,
    /// The PVs each slot's data areas use (lvm2's `alloced_areas[s]`, what cling to
    /// allocated looks at).
    used_by_slot: Vec<Vec<usize>>,
    /// Metadata extents split off the front of each area of the first pass.
    meta: u64,
}

impl Progress {
    fn take(&mut self, fm: &mut FreeMap, len: u64, areas: Vec<(usize, u64)>) {
        // A first pass holding no more than the metadata leaves the images without an area
        // (`_alloc_parallel_area` skips empty ones): nothing for later passes to cling to,
        // the rmeta's PV included.
        let data = if self.out.is_empty() {
            len.saturating_sub(self.meta)
        } else {
            len
        };
        for (slot, &(pv, s)) in areas.iter().enumerate() {
            fm.pvs[pv].take(s, len);
            if data > 0 && !self.used_by_slot[slot].contains(&pv) {
                self.used_by_slot[slot].push(pv);
            }
        }
        self.rest -= len;
        self.out.push((len, areas));
    }
}

/// The PVs (as free-map indexes) of the areas of an LV's first segment.
fn first_segment_pvs(fm: &FreeMap, lv: &LogicalVolume) -> Option<Vec<usize>> {
    match &lv.segments.first()?.kind {
        SegmentKind::Striped { areas, .. } => areas.iter().map(|a| fm.idx(&a.pv)).collect(),
        _ => None,
    }
}

impl LogicalVolume {
    /// The LV names a mirror/raid1 LV's segments refer to (legs and log; rmeta and rimage),
    /// in metadata order.
    pub fn sub_lv_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .segments
            .iter()
            .flat_map(|seg| seg.kind.sub_lvs())
            .map(str::to_string)
            .collect();
        out.dedup();
        out
    }

    /// Whether any of this LV's own segments has extents on PV `key` (its metadata name,
    /// `pvN`); a mirror's or raid's extents are on its sub-LVs.
    pub fn uses_pv(&self, key: &str) -> bool {
        self.segments
            .iter()
            .any(|s| pv_areas(s).iter().any(|a| a.0 == key))
    }
}

fn linear_segments(chunks: &[(String, u64, u64)], start: u64) -> Vec<Segment> {
    let mut le = start;
    chunks
        .iter()
        .map(|(pv, s, l)| {
            let seg = Segment {
                start_extent: Extents(le),
                extent_count: Extents(*l),
                kind: SegmentKind::Striped {
                    stripe_size: Sectors(0),
                    areas: vec![StripeArea {
                        pv: pv.clone(),
                        start: Extents(*s),
                    }],
                },
                tags: Vec::new(),
                extra: Extra::default(),
            };
            le += l;
            seg
        })
        .collect()
}

/// Appends segments, merging a new one into the last when lvm2 would (`lv_merge_segments`):
/// same stripe count and size, each area continuing its predecessor on the same PV.
fn append_merging(lv: &mut LogicalVolume, new: Vec<Segment>) {
    for seg in new {
        if let Some(last) = lv.segments.last_mut() {
            if let (
                SegmentKind::Striped {
                    stripe_size: s1,
                    areas: a1,
                },
                SegmentKind::Striped {
                    stripe_size: s2,
                    areas: a2,
                },
            ) = (&last.kind, &seg.kind)
            {
                let len1 = last.area_len().0;
                if s1 == s2
                    && a1.len() == a2.len()
                    && a1
                        .iter()
                        .zip(a2)
                        .all(|(x, y)| x.pv == y.pv && x.start.0 + len1 == y.start.0)
                {
                    last.extent_count.0 += seg.extent_count.0;
                    continue;
                }
            }
        }
        let mut seg = seg;
        seg.start_extent = lv.size();
        lv.segments.push(seg);
    }
}

/// Removes the last `n` extents of a linear/striped LV; a striped segment shrinks by a
/// multiple of its stripe count (rounded up, as lvm2 rounds to the stripe boundary).
fn trim_end(lv: &mut LogicalVolume, n: u64) {
    let mut rest = n;
    while rest > 0 {
        let Some(last) = lv.segments.last_mut() else {
            return;
        };
        if last.extent_count.0 <= rest {
            rest -= last.extent_count.0;
            lv.segments.pop();
            continue;
        }
        let stripes = match &last.kind {
            SegmentKind::Striped { areas, .. } => areas.len().max(1) as u64,
            _ => 1,
        };
        let cut = rest.div_ceil(stripes) * stripes;
        if cut >= last.extent_count.0 {
            lv.segments.pop();
        } else {
            last.extent_count.0 -= cut;
        }
        rest = 0;
    }
}

/// Extents of a mirror's disk log (lvm2's `_mirror_log_extents`): a 1 KiB header
/// (`MIRROR_LOG_OFFSET`) and a bitset of the regions in 32-bit words, in whole sectors.
fn mirror_log_extents(region: Sectors, extent_size: Sectors, extents: u64) -> u64 {
    let regions = extents
        .saturating_mul(extent_size.0)
        .div_ceil(region.0.max(1));
    let bitset_bytes = regions.div_ceil(32) * 32 / 8;
    let sectors = (1024 + bitset_bytes).div_ceil(512);
    sectors.div_ceil(extent_size.0.max(1)).max(1)
}

fn region_size_for(req: Option<Sectors>, lv_sectors: u64) -> Sectors {
    let mut r = req.unwrap_or(DEFAULT_REGION_SIZE).0.max(1);
    // lvm2 lowers the region size to a power of two no larger than the LV.
    while r > lv_sectors && r > 1 {
        r /= 2;
    }
    Sectors(r)
}

impl VolumeGroup {
    /// Resolves the candidate PVs of a request: allocatable ones, in the order the request
    /// names them (lvm2 allocates from its PV list in command-line order, and that order
    /// breaks ties between equal areas), else in VG order.
    fn candidates(&self, fm: &FreeMap, names: Option<&[String]>) -> Result<Vec<usize>, ModelError> {
        let order: Vec<&crate::PhysicalVolume> = match names {
            Some(names) => {
                let mut v: Vec<&crate::PhysicalVolume> = Vec::new();
                for n in names {
                    let pv = self
                        .pvs
                        .iter()
                        .find(|p| p.name == *n || p.device.as_deref() == Some(n.as_str()))
                        .ok_or_else(|| ModelError::NoSuchPv { name: n.clone() })?;
                    if !v.iter().any(|q| q.name == pv.name) {
                        v.push(pv);
                    }
                }
                v
            }
            None => self.pvs.iter().collect(),
        };
        Ok(order
            .into_iter()
            .filter(|p| p.is_allocatable())
            // A PV written as missing holds stale data until `vgextend --restoremissing`.
            .filter(|p| !p.is_missing())
            .filter_map(|p| fm.idx(&p.name))
            .collect())
    }

    /// The visible LV that has `name` among its sub-LVs.
    pub fn parent_of(&self, name: &str) -> Option<&LogicalVolume> {
        self.lvs
            .iter()
            .find(|l| l.sub_lv_names().iter().any(|s| s == name))
    }

    /// The visible LV that LV `name` is part of: its topmost parent, or `name` itself.
    pub fn top_of<'a>(&'a self, name: &'a str) -> &'a str {
        let mut top = name;
        while let Some(p) = self.parent_of(top) {
            top = p.name.as_str();
        }
        top
    }

    /// The visible LV `name`: `NoSuchLv`, or `SubVolume` for a hidden sub-LV.
    pub fn top_level(&self, name: &str) -> Result<&LogicalVolume, ModelError> {
        let lv = self.lv(name).ok_or_else(|| ModelError::NoSuchLv {
            name: name.to_string(),
        })?;
        if let Some(p) = self.parent_of(name) {
            return Err(ModelError::SubVolume {
                name: name.to_string(),
                parent: p.name.clone(),
            });
        }
        Ok(lv)
    }

    fn new_lv(&self, name: &str, visible: bool, req: &Allocation) -> LogicalVolume {
        let mut status = FlagList::of(&[Flag::Read, Flag::Write]);
        if visible {
            status.insert(Flag::Visible);
        }
        LogicalVolume {
            name: name.to_string(),
            id: crate::lvm_uuid::generate_dashed(),
            status,
            flags: FlagList::new(),
            tags: Vec::new(),
            creation_time: req.creation_time,
            creation_host: req.creation_host.clone(),
            lock_args: None,
            segments: Vec::new(),
            extra: Extra::default(),
        }
    }

    fn check_new_name(&self, name: &str) -> Result<(), ModelError> {
        crate::names::validate_lv_name(name)?;
        if self.lv(name).is_some() {
            return Err(ModelError::NameClash {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// Creates an LV (and its sub-LVs); on error the VG is unchanged.
    pub fn create_lv(&mut self, req: LvRequest) -> Result<&LogicalVolume, ModelError> {
        self.check_new_name(&req.name)?;
        if req.size.0 == 0 {
            return Err(ModelError::InvalidSize {
                name: req.name.clone(),
                problem: "size is zero".into(),
            });
        }
        let mut fm = FreeMap::new(self);
        let cands = self.candidates(&fm, req.alloc.pvs.as_deref())?;
        let mut created: Vec<LogicalVolume> = Vec::new();
        let mut top = self.new_lv(&req.name, true, &req.alloc);
        match req.layout {
            Layout::Linear => {
                fm.approx = req.approx;
                let chunks = fm.alloc_linear(&cands, req.size.0, None)?;
                if chunks.is_empty() {
                    return Err(ModelError::NotEnoughSpace {
                        needed: req.size,
                        free: Extents(0),
                    });
                }
                let named = self.name_chunks(&fm, &chunks);
                top.segments = linear_segments(&named, 0);
            }
            Layout::Striped {
                stripes,
                stripe_size,
            } => {
                if stripes < 2 {
                    return Err(ModelError::InvalidSize {
                        name: req.name.clone(),
                        problem: format!("{stripes} stripes: striped needs at least 2"),
                    });
                }
                check_stripe_size(&req.name, stripe_size, self.extent_size)?;
                let n = stripes as usize;
                let per = req.size.0.div_ceil(stripes as u64);
                fm.approx = req.approx;
                fm.check_stripes(&cands, n)?;
                let segs = fm.alloc_parallel(&cands, n, per, None)?;
                if segs.is_empty() {
                    return Err(ModelError::NotEnoughSpace {
                        needed: req.size,
                        free: Extents(fm.total_free(&cands)),
                    });
                }
                for (len, areas) in segs {
                    let seg = self.striped_segment(&fm, len, &areas, stripe_size);
                    append_merging(&mut top, vec![seg]);
                }
            }
            Layout::Mirror { mirrors, log } => {
                let mut size = req.size.0;
                let mut legs =
                    self.alloc_images(&mut fm, &cands, mirrors, req.size.0, false, &req.name)?;
                let region = region_size_for(
                    req.alloc.region_size,
                    req.size.0.saturating_mul(self.extent_size.0),
                );
                let log_lv = match log {
                    MirrorLog::Core => None,
                    MirrorLog::Disk => {
                        // rhbz1269533: images that took the VG's last extent give one back
                        // for the log (`_lv_create_an_lv`: `lv_reduce(lv, 1)`).
                        if size > 1 && fm.pvs.iter().all(|p| p.free() == 0) {
                            size -= 1;
                            for (_, _, chunks) in &mut legs {
                                if let Some(last) = chunks.last_mut() {
                                    fm.pvs[last.0].used.retain(|u| u.0 + u.1 != last.1 + last.2);
                                    last.2 -= 1;
                                    if last.2 > 0 {
                                        fm.pvs[last.0].used.push((last.1, last.2));
                                        fm.pvs[last.0].used.sort_unstable();
                                    } else {
                                        chunks.pop();
                                    }
                                }
                            }
                        }
                        let images: Vec<usize> =
                            legs.iter().flat_map(|l| l.2.iter().map(|c| c.0)).collect();
                        let log_len = mirror_log_extents(region, self.extent_size, size);
                        let chunk = Self::alloc_mirror_log(&mut fm, &cands, &images, log_len)
                            .ok_or(ModelError::NoMirrorLogSpace {
                                needed: Extents(log_len),
                                free: Extents(fm.total_free(&cands)),
                            })?;
                        let mut l = self.new_lv(&format!("{}_mlog", req.name), false, &req.alloc);
                        l.segments = linear_segments(&self.name_chunks(&fm, &[chunk]), 0);
                        Some(l)
                    }
                };
                let mut leg_areas = Vec::new();
                for (i, (_, _, chunks)) in legs.iter().enumerate() {
                    let name = format!("{}_mimage_{i}", req.name);
                    let mut img = self.new_lv(&name, false, &req.alloc);
                    img.segments = linear_segments(&self.name_chunks(&fm, chunks), 0);
                    leg_areas.push(LvArea {
                        lv: name,
                        start: Extents(0),
                    });
                    created.push(img);
                }
                top.segments.push(Segment {
                    start_extent: Extents(0),
                    extent_count: Extents(size),
                    kind: SegmentKind::Mirror {
                        region_size: Some(region),
                        log: log_lv.as_ref().map(|l| l.name.clone()),
                        legs: leg_areas,
                    },
                    tags: Vec::new(),
                    extra: Extra::default(),
                });
                created.extend(log_lv);
            }
            Layout::Raid1 { mirrors } => {
                let legs =
                    self.alloc_images(&mut fm, &cands, mirrors, req.size.0, true, &req.name)?;
                let mut images = Vec::new();
                for (i, (_, meta, chunks)) in legs.iter().enumerate() {
                    let iname = format!("{}_rimage_{i}", req.name);
                    let mname = format!("{}_rmeta_{i}", req.name);
                    // lvm2 creates rimage_N then rmeta_N for each N.
                    let mut img = self.new_lv(&iname, false, &req.alloc);
                    img.segments = linear_segments(&self.name_chunks(&fm, chunks), 0);
                    let mut meta_lv = self.new_lv(&mname, false, &req.alloc);
                    let meta = meta.map(|m| vec![m]).unwrap_or_default();
                    meta_lv.segments = linear_segments(&self.name_chunks(&fm, &meta), 0);
                    created.push(img);
                    created.push(meta_lv);
                    images.push((mname, iname));
                }
                let region = region_size_for(
                    req.alloc.region_size,
                    req.size.0.saturating_mul(self.extent_size.0),
                );
                top.segments.push(Segment {
                    start_extent: Extents(0),
                    extent_count: req.size,
                    kind: SegmentKind::Raid1 {
                        region_size: Some(region),
                        images,
                    },
                    tags: Vec::new(),
                    extra: Extra::default(),
                });
            }
        }
        for l in &created {
            if self.lv(&l.name).is_some() {
                return Err(ModelError::NameClash {
                    name: l.name.clone(),
                });
            }
        }
        // Keep the order lvm2 writes (and so reads back): visible LVs first, then hidden ones.
        let at = self
            .lvs
            .iter()
            .rposition(|l| l.is_visible())
            .map_or(0, |i| i + 1);
        self.lvs.insert(at, top);
        self.lvs.extend(created);
        let idx = self
            .lvs
            .iter()
            .position(|l| l.name == req.name)
            .unwrap_or(0);
        Ok(&self.lvs[idx])
    }

    fn name_chunks(&self, fm: &FreeMap, chunks: &[(usize, u64, u64)]) -> Vec<(String, u64, u64)> {
        chunks
            .iter()
            .map(|&(i, s, l)| (fm.pvs[i].name.clone(), s, l))
            .collect()
    }

    fn striped_segment(
        &self,
        fm: &FreeMap,
        per_stripe: u64,
        areas: &[(usize, u64)],
        stripe_size: Sectors,
    ) -> Segment {
        Segment {
            start_extent: Extents(0),
            extent_count: Extents(per_stripe * areas.len() as u64),
            kind: SegmentKind::Striped {
                stripe_size,
                areas: areas
                    .iter()
                    .map(|&(i, s)| StripeArea {
                        pv: fm.pvs[i].name.clone(),
                        start: Extents(s),
                    })
                    .collect(),
            },
            tags: Vec::new(),
            extra: Extra::default(),
        }
    }

    /// Places `mirrors + 1` images of `size` extents, each on its own PV; with `meta`, a
    /// one-extent metadata area right before each image on the same PV. Returns per image:
    /// (pv index, metadata chunk, image chunks).
    #[allow(clippy::type_complexity)]
    fn alloc_images(
        &self,
        fm: &mut FreeMap,
        cands: &[usize],
        mirrors: u32,
        size: u64,
        meta: bool,
        name: &str,
    ) -> Result<Vec<(usize, Option<(usize, u64, u64)>, Vec<(usize, u64, u64)>)>, ModelError> {
        if mirrors == 0 {
            return Err(ModelError::InvalidSize {
                name: name.to_string(),
                problem: "0 mirrors: use a linear LV".into(),
            });
        }
        self.place_images(fm, cands, mirrors as usize + 1, size, meta, None)
    }

    /// Places `n` images of `size` extents, each on its own PV among `cands` (see
    /// [`Self::alloc_images`]).
    #[allow(clippy::type_complexity)]
    fn place_images(
        &self,
        fm: &mut FreeMap,
        cands: &[usize],
        n: usize,
        size: u64,
        meta: bool,
        ranges: Option<&[(u64, Vec<usize>)]>,
    ) -> Result<Vec<(usize, Option<(usize, u64, u64)>, Vec<(usize, u64, u64)>)>, ModelError> {
        let need = size.saturating_add(u64::from(meta));
        let usable = cands.iter().filter(|&&i| fm.pvs[i].free() > 0).count();
        if usable < n && ranges.is_none() {
            return Err(ModelError::NotEnoughPvs {
                needed: n,
                available: usable,
                what: "mirror images",
            });
        }
        // lvm2 allocates the images as the parallel areas of one allocation
        // (`lv_extend` → `_allocate`, area_count = images): the same policies as stripes.
        // raid1 asks for one more extent per area (`alloc_and_split_meta`) and splits the
        // rmeta off the front of each image's first area (`_alloc_parallel_area`).
        fm.split_meta = u64::from(meta);
        let segs = match ranges {
            Some(r) => fm.alloc_parallel_ranges(cands, n, r),
            None => fm.alloc_parallel(cands, n, need, None),
        };
        fm.split_meta = 0;
        let segs = segs?;
        let mut out: Vec<(usize, Option<(usize, u64, u64)>, Vec<(usize, u64, u64)>)> = (0..n)
            .map(|slot| (segs.first().map_or(0, |s| s.1[slot].0), None, Vec::new()))
            .collect();
        for (i, (len, areas)) in segs.iter().enumerate() {
            for (slot, &(pv, start)) in areas.iter().enumerate() {
                let (start, len) = if meta && i == 0 {
                    out[slot].1 = Some((pv, start, 1));
                    (start + 1, len - 1)
                } else {
                    (start, *len)
                };
                // Passes that continue an image on its PV make one segment
                // (`lv_merge_segments`).
                match out[slot].2.last_mut() {
                    Some(last) if last.0 == pv && last.1 + last.2 == start => last.2 += len,
                    _ if len > 0 => out[slot].2.push((pv, start, len)),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// lvm2's parallel areas of a mirror (or a linear LV about to become one) for new
    /// images (`build_parallel_areas_from_lv(lv, 0, 0)`): its LEs cut at every segment
    /// boundary of the images (of the LV itself when linear), each range with the PVs (as
    /// free-map indexes) its LEs use. Returns (length, PVs) in LE order.
    fn parallel_ranges(
        &self,
        fm: &FreeMap,
        top: &LogicalVolume,
        images: &[String],
    ) -> Vec<(u64, Vec<usize>)> {
        let lvs: Vec<&LogicalVolume> = if images.is_empty() {
            vec![top]
        } else {
            images.iter().filter_map(|i| self.lv(i)).collect()
        };
        let size = top.size().0;
        let mut cuts: Vec<u64> = lvs
            .iter()
            .flat_map(|l| l.segments.iter().map(|s| s.start_extent.0))
            .chain([0, size])
            .filter(|&c| c <= size)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts.windows(2)
            .map(|w| {
                let mut busy: Vec<usize> = Vec::new();
                for l in &lvs {
                    for seg in &l.segments {
                        let (a, b) = (seg.start_extent.0, seg.start_extent.0 + seg.extent_count.0);
                        if a < w[1] && w[0] < b {
                            for (pv, _, _) in pv_areas(seg) {
                                if let Some(i) = fm.idx(&pv).filter(|i| !busy.contains(i)) {
                                    busy.push(i);
                                }
                            }
                        }
                    }
                }
                (w[1] - w[0], busy)
            })
            .collect()
    }

    /// Adds images to LV `name` until it has `req.total` (`lvconvert -m`, and the second half
    /// of a mirror repair): a linear LV becomes a mirror with a core log or raid1, its
    /// segments moving to image 0 (`_mimage_0`, or `_rimage_0` with a one-extent `_rmeta_0`
    /// on the same PV); a mirror or raid1 LV keeps its type. New raid1 images go to PVs
    /// holding nothing of the LV; new mirror images, LE range by LE range, to PVs holding
    /// nothing of that range nor the mirror's disk log (see `parallel_ranges`); both placed by lvcreate's policies
    /// (raid1 metadata right before its image). New raid1 images take the lowest free index, new mirror images
    /// lvm2's `generate_lv_name` number (the highest plus one); new sub-LVs go to the end of
    /// the VG's list, as lvm2 writes them. New raid1 images carry `REBUILD` (the kernel
    /// rebuilds them; the caller clears it once loaded, as lvm2 does). Returns the new
    /// sub-LVs; nothing when the LV already has `total` images. On error the VG is unchanged.
    pub fn add_images(
        &mut self,
        name: &str,
        req: &ImagesRequest,
    ) -> Result<Vec<String>, ModelError> {
        let top = self.top_level(name)?.clone();
        let size = top.size();
        let unsupported = |what| ModelError::Unsupported {
            name: name.to_string(),
            what,
        };
        let linear = top
            .segments
            .iter()
            .all(|s| matches!(&s.kind, SegmentKind::Striped { areas, .. } if areas.len() == 1));
        // (image LV names, whether raid1, sub-LV names whose PVs new images must avoid)
        let (images, raid1): (Vec<String>, bool) = match top.segments.as_slice() {
            _ if linear && !top.segments.is_empty() => (Vec::new(), req.raid1),
            [seg] => match &seg.kind {
                // A disk log stays: it would call the new images in sync, so the caller
                // makes the kernel resync the whole mirror (lvm2 syncs through a temporary
                // layer instead; the end state is the same).
                SegmentKind::Mirror { legs, .. } => {
                    (legs.iter().map(|l| l.lv.clone()).collect(), false)
                }
                SegmentKind::Raid1 { images, .. } => {
                    (images.iter().map(|(_, i)| i.clone()).collect(), true)
                }
                _ => return Err(unsupported("adding images to this segment type")),
            },
            _ => return Err(unsupported("adding images to this segment type")),
        };
        let have = images.len().max(1);
        if req.total < have {
            return Err(ModelError::InvalidSize {
                name: name.to_string(),
                problem: format!(
                    "has {have} images: lvconvert -m does not remove images here (use --splitmirrors)"
                ),
            });
        }
        if req.total == have {
            return Ok(Vec::new());
        }
        let mut fm = FreeMap::new(self);
        let mut avoid: Vec<String> = Vec::new();
        let mut segs_of = |lv: &LogicalVolume| {
            for seg in &lv.segments {
                for (pv, _, _) in pv_areas(seg) {
                    if !avoid.contains(&pv) {
                        avoid.push(pv);
                    }
                }
            }
        };
        if images.is_empty() {
            segs_of(&top);
        }
        for sub in top.sub_lv_names() {
            if let Some(l) = self.lv(&sub) {
                segs_of(l);
            }
        }
        // A mirror's new images avoid, range by range, the PVs the LV uses there (lvm2's
        // parallel areas per segment); raid1's avoid every PV of the LV
        // (`build_parallel_areas_from_lv(lv, 0, 1)`, one list). A mirror with a disk log gets
        // its new images through lvm2's `_mimagetmp` layer (`_insert_lvconvert_layer`): the
        // old mirror, log included, is then one area, so the log's PVs are avoided in every
        // range (`_for_each_pv` walks `seg->log_lv`).
        let log_pvs: Vec<usize> = match top.segments.first().map(|s| &s.kind) {
            Some(SegmentKind::Mirror { log: Some(log), .. }) => self
                .lv(log)
                .into_iter()
                .flat_map(|l| l.segments.iter().flat_map(pv_areas))
                .filter_map(|(pv, _, _)| fm.idx(&pv))
                .collect(),
            _ => Vec::new(),
        };
        let ranges = (!raid1).then(|| {
            let mut r = self.parallel_ranges(&fm, &top, &images);
            for (_, busy) in &mut r {
                for &p in &log_pvs {
                    if !busy.contains(&p) {
                        busy.push(p);
                    }
                }
            }
            r
        });
        let cands: Vec<usize> = self
            .candidates(&fm, req.alloc.pvs.as_deref())?
            .into_iter()
            .filter(|&i| ranges.is_some() || !avoid.contains(&fm.pvs[i].name))
            .collect();
        let (img_fmt, meta_fmt) = if raid1 {
            ("_rimage_", Some("_rmeta_"))
        } else {
            ("_mimage_", None)
        };
        let mut created: Vec<LogicalVolume> = Vec::new();
        let taken = |created: &[LogicalVolume], n: &str| {
            self.lv(n).is_some() || created.iter().any(|l| l.name == n)
        };
        // Image 0 of a linear LV: its segments under a new hidden LV.
        let mut first: Option<(String, Option<String>)> = None;
        if images.is_empty() {
            let iname = format!("{name}{img_fmt}0");
            if taken(&created, &iname) {
                return Err(ModelError::NameClash { name: iname });
            }
            let mut img = self.new_lv(&iname, false, &req.alloc);
            img.segments = top.segments.clone();
            created.push(img);
            let mut mname = None;
            if let Some(mf) = meta_fmt {
                let m = format!("{name}{mf}0");
                if taken(&created, &m) {
                    return Err(ModelError::NameClash { name: m });
                }
                // lvm2 allocates the first image's metadata on the image's own PVs.
                let own: Vec<usize> = avoid.iter().filter_map(|p| fm.idx(p)).collect();
                let chunks = fm.alloc_linear(&own, 1, None)?;
                let mut meta = self.new_lv(&m, false, &req.alloc);
                meta.segments = linear_segments(&self.name_chunks(&fm, &chunks), 0);
                created.push(meta);
                mname = Some(m);
            }
            first = Some((iname, mname));
        }
        let add = req.total - have;
        let placed = self.place_images(&mut fm, &cands, add, size.0, raid1, ranges.as_deref())?;
        let mut new_pairs: Vec<(String, Option<String>)> = Vec::new();
        // A mirror's new images are named as lvm2's `generate_lv_name` names them: the
        // highest `<lv>_mimage_N` in the VG plus one (a repaired 3-image mirror gets
        // `_mimage_3`, not the failed `_mimage_1` back).
        let prefix = format!("{name}{img_fmt}");
        let mut next_mimage = self
            .lvs
            .iter()
            .chain(&created)
            .filter_map(|l| l.name.strip_prefix(&prefix))
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<usize>().ok()
            })
            .max()
            .map_or(0, |h| h + 1);
        for (_, meta, chunks) in placed {
            let idx = if raid1 || first.is_some() {
                (0..)
                    .find(|i| {
                        !taken(&created, &format!("{name}{img_fmt}{i}"))
                            && meta_fmt.is_none_or(|mf| !taken(&created, &format!("{name}{mf}{i}")))
                    })
                    .expect("an unused index")
            } else {
                next_mimage += 1;
                next_mimage - 1
            };
            let iname = format!("{name}{img_fmt}{idx}");
            let mut img = self.new_lv(&iname, false, &req.alloc);
            img.segments = linear_segments(&self.name_chunks(&fm, &chunks), 0);
            if raid1 {
                img.status.insert(Flag::Rebuild);
            }
            created.push(img);
            let mut mname = None;
            if let (Some(mf), Some(m)) = (meta_fmt, meta) {
                let n = format!("{name}{mf}{idx}");
                let mut meta_lv = self.new_lv(&n, false, &req.alloc);
                meta_lv.segments = linear_segments(&self.name_chunks(&fm, &[m]), 0);
                created.push(meta_lv);
                mname = Some(n);
            }
            new_pairs.push((iname, mname));
        }
        let mut new_top = top.clone();
        if let Some(first) = first {
            let all: Vec<(String, Option<String>)> =
                std::iter::once(first).chain(new_pairs).collect();
            let region = Some(region_size_for(
                req.alloc.region_size,
                size.0.saturating_mul(self.extent_size.0),
            ));
            let kind = if raid1 {
                SegmentKind::Raid1 {
                    region_size: region,
                    images: all
                        .into_iter()
                        .map(|(i, m)| (m.expect("raid1 metadata"), i))
                        .collect(),
                }
            } else {
                SegmentKind::Mirror {
                    region_size: region,
                    log: None,
                    legs: all
                        .into_iter()
                        .map(|(i, _)| LvArea {
                            lv: i,
                            start: Extents(0),
                        })
                        .collect(),
                }
            };
            new_top.segments = vec![Segment {
                start_extent: Extents(0),
                extent_count: size,
                kind,
                tags: Vec::new(),
                extra: Extra::default(),
            }];
        } else {
            match &mut new_top.segments[0].kind {
                SegmentKind::Mirror { legs, .. } => {
                    legs.extend(new_pairs.into_iter().map(|(i, _)| LvArea {
                        lv: i,
                        start: Extents(0),
                    }))
                }
                SegmentKind::Raid1 { images, .. } => images.extend(
                    new_pairs
                        .into_iter()
                        .map(|(i, m)| (m.expect("raid1 metadata"), i)),
                ),
                _ => unreachable!("checked above"),
            }
        }
        let names: Vec<String> = created.iter().map(|l| l.name.clone()).collect();
        if let Some(t) = self.lvs.iter_mut().find(|l| l.name == name) {
            *t = new_top;
        }
        self.lvs.extend(created);
        Ok(names)
    }

    /// `lvconvert --mirrorlog disk` (lvm2's `add_mirror_log`): gives mirror LV `name` a disk
    /// log `<name>_mlog` of the size lvcreate gives it, placed as lvcreate places it (on a PV
    /// holding no image where one has room; else on an image's PV). `pvs`: allocate only
    /// there; `avoid`: PVs that must not hold it (a failed log's). The new sub-LV goes to the
    /// end of the VG's list. Returns the log's name, or None when the mirror has a disk log
    /// already. The caller initialises the log's header before anything loads it. On error
    /// the VG is unchanged.
    pub fn add_mirror_log(
        &mut self,
        name: &str,
        pvs: Option<&[String]>,
        avoid: &[String],
        creation: (Option<i64>, Option<String>),
    ) -> Result<Option<String>, ModelError> {
        let top = self.top_level(name)?.clone();
        let (region, legs) = match top.segments.as_slice() {
            [Segment {
                kind:
                    SegmentKind::Mirror {
                        log: None,
                        region_size,
                        legs,
                    },
                ..
            }] => (*region_size, legs.clone()),
            [Segment {
                kind: SegmentKind::Mirror { log: Some(_), .. },
                ..
            }] => return Ok(None),
            _ => {
                return Err(ModelError::Unsupported {
                    name: name.to_string(),
                    what: "a mirror log on an LV that is not a one-segment mirror",
                })
            }
        };
        let log_name = format!("{name}_mlog");
        if self.lv(&log_name).is_some() {
            return Err(ModelError::NameClash { name: log_name });
        }
        let mut fm = FreeMap::new(self);
        let cands: Vec<usize> = self
            .candidates(&fm, pvs)?
            .into_iter()
            .filter(|&i| !avoid.contains(&fm.pvs[i].name))
            .collect();
        let images: Vec<usize> = legs
            .iter()
            .filter_map(|l| self.lv(&l.lv))
            .flat_map(|l| l.segments.iter().flat_map(pv_areas))
            .filter_map(|(pv, _, _)| fm.idx(&pv))
            .collect();
        let size = top.size().0;
        let region = region
            .unwrap_or_else(|| region_size_for(None, size.saturating_mul(self.extent_size.0)));
        let log_len = mirror_log_extents(region, self.extent_size, size);
        let chunk = Self::alloc_mirror_log(&mut fm, &cands, &images, log_len).ok_or(
            ModelError::NotEnoughSpace {
                needed: Extents(log_len),
                free: Extents(fm.total_free(&cands)),
            },
        )?;
        let stamp = Allocation {
            creation_time: creation.0,
            creation_host: creation.1,
            ..Allocation::default()
        };
        let mut log = self.new_lv(&log_name, false, &stamp);
        log.segments = linear_segments(&self.name_chunks(&fm, &[chunk]), 0);
        if let Some(SegmentKind::Mirror { log: l, .. }) = self
            .lvs
            .iter_mut()
            .find(|l| l.name == name)
            .map(|t| &mut t.segments[0].kind)
        {
            *l = Some(log_name.clone());
        }
        self.lvs.push(log);
        Ok(Some(log_name))
    }

    /// Moves LV `name` right before LV `before` in the VG's list (the order metadata is
    /// written in). lvm2 sets a linear LV's new disk log up before it forms the mirror's
    /// images (`add_mirror_images`: `_set_up_mirror_log`, then `_form_mirror`), so the log
    /// precedes them. Nothing happens when either is missing.
    pub fn move_lv_before(&mut self, name: &str, before: &str) {
        let (Some(from), Some(_)) = (
            self.lvs.iter().position(|l| l.name == name),
            self.lvs.iter().position(|l| l.name == before),
        ) else {
            return;
        };
        let lv = self.lvs.remove(from);
        let to = self
            .lvs
            .iter()
            .position(|l| l.name == before)
            .expect("checked above");
        self.lvs.insert(to, lv);
    }

    /// `lvconvert --mirrorlog core` (lvm2's `remove_mirror_log`): mirror LV `name` loses its
    /// disk log, whose extents are free again. Returns the log's name, or None when the
    /// mirror keeps its log in memory already.
    pub fn remove_mirror_log(&mut self, name: &str) -> Result<Option<String>, ModelError> {
        let top = self.top_level(name)?;
        let log = match top.segments.as_slice() {
            [Segment {
                kind: SegmentKind::Mirror { log, .. },
                ..
            }] => log.clone(),
            _ => {
                return Err(ModelError::Unsupported {
                    name: name.to_string(),
                    what: "a mirror log on an LV that is not a one-segment mirror",
                })
            }
        };
        let Some(log) = log else { return Ok(None) };
        if let Some(SegmentKind::Mirror { log: l, .. }) = self
            .lvs
            .iter_mut()
            .find(|l| l.name == name)
            .map(|t| &mut t.segments[0].kind)
        {
            *l = None;
        }
        self.lvs.retain(|l| l.name != log);
        Ok(Some(log))
    }

    /// lvm2's disk log of a new mirror (`add_mirror_log`, a second allocation after the
    /// images): `_find_some_parallel_space` with no parallel areas and one log area. Every
    /// area is big enough for a request of nothing, so each PV offers the last area its walk
    /// visits, all offers weigh the same (`log_len`) and the stable sort leaves the last PV
    /// (in candidate order) for the log, at the start of that area. PVs holding an image
    /// are passed over (`_pv_is_parallel`) unless no other PV has room, when the normal
    /// policy's extra log iteration looks at them too (`mirror_logs_require_separate_pvs`
    /// is 0 by default). Returns (pv index, start, len).
    fn alloc_mirror_log(
        fm: &mut FreeMap,
        cands: &[usize],
        images: &[usize],
        log_len: u64,
    ) -> Option<(usize, u64, u64)> {
        // A fresh allocation: the areas in `create_pv_maps` order again.
        for p in &mut fm.pvs {
            let mut r = p.free_ranges();
            r.sort_by_key(|&(s, l)| (std::cmp::Reverse(l), s));
            p.order = r.into_iter().map(|r| r.0).collect();
            p.reserved.clear();
        }
        for log_iteration in [false, true] {
            let mut found: Vec<(usize, u64, u64)> = Vec::new();
            for &pv in cands {
                if !log_iteration && images.contains(&pv) {
                    continue;
                }
                if let Some((s, l)) = fm.lvm_walk(pv, log_len, true, &|_| true) {
                    found.push((pv, s, l.min(log_len)));
                }
            }
            if found.is_empty() {
                continue;
            }
            found.sort_by_key(|a| std::cmp::Reverse(a.2));
            // The smallest offer that still holds the log.
            let pick = found.iter().rev().find(|a| a.2 >= log_len)?;
            fm.pvs[pick.0].take(pick.1, log_len);
            return Some((pick.0, pick.1, log_len));
        }
        None
    }

    /// Grows an LV by `by` extents (striped: rounded up to the stripe count), appending
    /// segments and merging adjacent ones; mirror/raid1 grow every image on its own PV.
    pub fn extend_lv(
        &mut self,
        name: &str,
        by: Extents,
        pvs: Option<&[String]>,
    ) -> Result<(), ModelError> {
        self.extend_lv_with(name, by, pvs, false).map(|_| ())
    }

    /// [`Self::extend_lv`]; with `approx` (linear and striped), takes what fits up to `by`
    /// as lvm2 does for percentages. Returns the extents added (0 when nothing fits).
    pub fn extend_lv_with(
        &mut self,
        name: &str,
        by: Extents,
        pvs: Option<&[String]>,
        approx: bool,
    ) -> Result<u64, ModelError> {
        let before = self.lv(name).map_or(0, |l| l.size().0);
        self.extend_inner(name, by, pvs, approx)?;
        Ok(self.lv(name).map_or(0, |l| l.size().0) - before)
    }

    fn extend_inner(
        &mut self,
        name: &str,
        by: Extents,
        pvs: Option<&[String]>,
        approx: bool,
    ) -> Result<(), ModelError> {
        let lv = self.top_level(name)?.clone();
        if by.0 == 0 {
            return Err(ModelError::InvalidSize {
                name: name.to_string(),
                problem: "extension is zero".into(),
            });
        }
        let mut fm = FreeMap::new(self);
        let cands = self.candidates(&fm, pvs)?;
        let last = lv.segments.last().ok_or_else(|| ModelError::Unsupported {
            name: name.to_string(),
            what: "extending an LV without segments",
        })?;
        match &last.kind {
            SegmentKind::Striped { areas, .. } if areas.len() == 1 => {
                let a = &areas[0];
                let cont = fm.idx(&a.pv).map(|i| (i, a.start.0 + last.area_len().0));
                fm.approx = approx;
                fm.cling_to = first_segment_pvs(&fm, &lv);
                let chunks = fm.alloc_linear(&cands, by.0, cont)?;
                let segs = linear_segments(&self.name_chunks(&fm, &chunks), 0);
                let lvm = self.lv_mut(name).ok_or_else(|| ModelError::NoSuchLv {
                    name: name.to_string(),
                })?;
                append_merging(lvm, segs);
            }
            SegmentKind::Striped { stripe_size, areas } => {
                let n = areas.len();
                let per = by.0.div_ceil(n as u64);
                let cont: Option<Vec<(usize, u64)>> = areas
                    .iter()
                    .map(|a| fm.idx(&a.pv).map(|i| (i, a.start.0 + last.area_len().0)))
                    .collect();
                fm.approx = approx;
                fm.cling_to = first_segment_pvs(&fm, &lv);
                fm.check_stripes(&cands, n)?;
                let segs = fm.alloc_parallel(&cands, n, per, cont.as_deref())?;
                let new: Vec<Segment> = segs
                    .iter()
                    .map(|(len, areas)| self.striped_segment(&fm, *len, areas, *stripe_size))
                    .collect();
                let lvm = self.lv_mut(name).ok_or_else(|| ModelError::NoSuchLv {
                    name: name.to_string(),
                })?;
                append_merging(lvm, new);
            }
            SegmentKind::Mirror { .. } | SegmentKind::Raid1 { .. } if lv.segments.len() == 1 => {
                let images: Vec<String> = match &last.kind {
                    SegmentKind::Mirror { legs, .. } => legs.iter().map(|l| l.lv.clone()).collect(),
                    SegmentKind::Raid1 { images, .. } => {
                        images.iter().map(|(_, i)| i.clone()).collect()
                    }
                    _ => Vec::new(),
                };
                // lvm2 grows the images in parallel, as the areas of one allocation
                // (`_lv_extend_layered_lv`): a slot per image, contiguous to each image's
                // last segment, clinging to each image's first segment, else the normal
                // policy; the images' existing PVs are no bar (the new LEs have no parallel
                // areas yet).
                let image_lvs: Vec<LogicalVolume> = images
                    .iter()
                    .map(|i| {
                        self.lv(i)
                            .cloned()
                            .ok_or_else(|| ModelError::NoSuchLv { name: i.clone() })
                    })
                    .collect::<Result<_, _>>()?;
                let prev: Option<Vec<(usize, u64)>> = image_lvs
                    .iter()
                    .map(|l| {
                        l.segments.last().and_then(|s| match &s.kind {
                            SegmentKind::Striped { areas, .. } if areas.len() == 1 => fm
                                .idx(&areas[0].pv)
                                .map(|i| (i, areas[0].start.0 + s.area_len().0)),
                            _ => None,
                        })
                    })
                    .collect();
                let first: Option<Vec<usize>> = image_lvs
                    .iter()
                    .map(|l| first_segment_pvs(&fm, l).and_then(|v| v.first().copied()))
                    .collect();
                fm.approx = approx;
                fm.cling_to = first;
                let usable = cands.iter().filter(|&&i| fm.pvs[i].free() > 0).count();
                if usable < images.len() && !approx {
                    return Err(ModelError::NotEnoughPvs {
                        needed: images.len(),
                        available: usable,
                        what: "mirror images",
                    });
                }
                let segs = fm.alloc_parallel(&cands, images.len(), by.0, prev.as_deref())?;
                let grown: u64 = segs.iter().map(|s| s.0).sum();
                // Approximate and nothing fits: lvm2 leaves the LV unchanged (exit 0).
                if grown == 0 && approx {
                    return Ok(());
                }
                if grown == 0 {
                    return Err(ModelError::NotEnoughSpace {
                        needed: Extents(by.0.saturating_mul(images.len() as u64)),
                        free: Extents(fm.total_free(&cands)),
                    });
                }
                for (slot, img) in images.iter().enumerate() {
                    let chunks: Vec<(usize, u64, u64)> = segs
                        .iter()
                        .map(|(len, areas)| (areas[slot].0, areas[slot].1, *len))
                        .collect();
                    let new = linear_segments(&self.name_chunks(&fm, &chunks), 0);
                    if let Some(l) = self.lv_mut(img) {
                        append_merging(l, new);
                    }
                }
                if let Some(top) = self.lv_mut(name) {
                    top.segments[0].extent_count.0 += grown;
                }
            }
            _ => {
                return Err(ModelError::Unsupported {
                    name: name.to_string(),
                    what: "extending this segment type",
                })
            }
        }
        Ok(())
    }

    /// Shrinks an LV by `by` extents from its end (striped segments shrink by whole stripe
    /// rows, so a little more may go); mirror/raid1 trim every image alike.
    pub fn reduce_lv(&mut self, name: &str, by: Extents) -> Result<(), ModelError> {
        let lv = self.top_level(name)?.clone();
        let size = lv.size().0;
        if by.0 == 0 || by.0 >= size {
            return Err(ModelError::InvalidSize {
                name: name.to_string(),
                problem: format!(
                    "cannot reduce {size} extents by {} (to remove an LV, remove it)",
                    by.0
                ),
            });
        }
        let striped_only = lv
            .segments
            .iter()
            .all(|s| matches!(s.kind, SegmentKind::Striped { .. }));
        if striped_only {
            if let Some(l) = self.lv_mut(name) {
                trim_end(l, by.0);
            }
            return Ok(());
        }
        match &lv.segments[..] {
            [seg]
                if matches!(
                    seg.kind,
                    SegmentKind::Mirror { .. } | SegmentKind::Raid1 { .. }
                ) =>
            {
                let images: Vec<String> = match &seg.kind {
                    SegmentKind::Mirror { legs, .. } => legs.iter().map(|l| l.lv.clone()).collect(),
                    SegmentKind::Raid1 { images, .. } => {
                        images.iter().map(|(_, i)| i.clone()).collect()
                    }
                    _ => Vec::new(),
                };
                for img in images {
                    if let Some(l) = self.lv_mut(&img) {
                        trim_end(l, by.0);
                    }
                }
                if let Some(top) = self.lv_mut(name) {
                    top.segments[0].extent_count.0 -= by.0;
                }
                Ok(())
            }
            _ => Err(ModelError::Unsupported {
                name: name.to_string(),
                what: "reducing this segment type",
            }),
        }
    }

    /// Removes an LV with its sub-LVs; returns the names removed.
    pub fn remove_lv(&mut self, name: &str) -> Result<Vec<String>, ModelError> {
        let lv = self.top_level(name)?;
        let mut doomed = vec![lv.name.clone()];
        let mut i = 0;
        while i < doomed.len() {
            if let Some(l) = self.lv(&doomed[i]) {
                for s in l.sub_lv_names() {
                    if !doomed.contains(&s) {
                        doomed.push(s);
                    }
                }
            }
            i += 1;
        }
        self.lvs.retain(|l| !doomed.contains(&l.name));
        Ok(doomed)
    }

    /// Renames an LV and its sub-LVs (`old_rimage_0` → `new_rimage_0`).
    pub fn rename_lv(&mut self, old: &str, new: &str) -> Result<(), ModelError> {
        self.top_level(old)?;
        self.check_new_name(new)?;
        let subs = self
            .lv(old)
            .map(LogicalVolume::sub_lv_names)
            .unwrap_or_default();
        let prefix = format!("{old}_");
        let mut map: Vec<(String, String)> = vec![(old.to_string(), new.to_string())];
        for s in subs {
            if let Some(suffix) = s.strip_prefix(&prefix) {
                let renamed = format!("{new}_{suffix}");
                if self.lv(&renamed).is_some() {
                    return Err(ModelError::NameClash { name: renamed });
                }
                map.push((s, renamed));
            }
        }
        let rename = |n: &mut String| {
            if let Some((_, to)) = map.iter().find(|(from, _)| from == n) {
                *n = to.clone();
            }
        };
        for lv in &mut self.lvs {
            rename(&mut lv.name);
            for seg in &mut lv.segments {
                match &mut seg.kind {
                    SegmentKind::Mirror { log, legs, .. } => {
                        legs.iter_mut().for_each(|l| rename(&mut l.lv));
                        if let Some(l) = log {
                            rename(l);
                        }
                    }
                    SegmentKind::Raid1 { images, .. } => {
                        for (m, i) in images {
                            rename(m);
                            rename(i);
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Free extents over all PVs.
    pub fn free_extents(&self) -> Extents {
        Extents(FreeMap::new(self).pvs.iter().map(|p| p.free()).sum())
    }

    /// Free extents per PV key, in VG order.
    pub fn pv_free_extents(&self) -> Vec<(String, Extents)> {
        FreeMap::new(self)
            .pvs
            .iter()
            .map(|p| (p.name.clone(), Extents(p.free())))
            .collect()
    }

    /// Free ranges `(start, len)` of one PV.
    pub fn pv_free_ranges(&self, pv: &str) -> Option<Vec<(Extents, Extents)>> {
        let fm = FreeMap::new(self);
        let p = fm.pvs.iter().find(|p| p.name == pv)?;
        Some(
            p.free_ranges()
                .into_iter()
                .map(|(s, l)| (Extents(s), Extents(l)))
                .collect(),
        )
    }
}

fn check_stripe_size(
    name: &str,
    stripe_size: Sectors,
    extent_size: Sectors,
) -> Result<(), ModelError> {
    let s = stripe_size.0;
    if s < 8 || !s.is_power_of_two() || s > extent_size.0 {
        return Err(ModelError::InvalidSize {
            name: name.to_string(),
            problem: format!(
                "stripe size {s} sectors must be a power of two from 8 sectors (4 KiB) to the extent size"
            ),
        });
    }
    Ok(())
}
