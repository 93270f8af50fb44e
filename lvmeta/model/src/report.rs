//! What `lvs`/`pvs`/`vgs` reports need from the model: sizes, segments with their devices,
//! the `lv_attr` string.

use crate::vg::{LogicalVolume, SegmentKind, VolumeGroup};
use crate::Flag;
use lvmeta_ondisk::units::{Extents, Sectors};
use std::collections::HashMap;

/// One segment as `lvs --segments` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    pub start: Extents,
    pub count: Extents,
    /// `linear`, `striped`, `mirror`, `raid1` or the type lvm2 wrote.
    pub segtype: String,
    pub stripes: usize,
    pub stripe_size: Sectors,
    pub region_size: Option<Sectors>,
    /// `/dev/loop0(0),/dev/loop1(0)` for PV areas, `lv_mimage_0(0),...` for sub-LVs.
    pub devices: String,
}

/// The role of an LV inside another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubRole {
    MirrorImage,
    MirrorLog,
    RaidImage,
    RaidMeta,
}

impl VolumeGroup {
    /// The role of every sub-LV, in one pass (reports on VGs with thousands of LVs ask for
    /// all of them).
    pub fn sub_roles(&self) -> HashMap<&str, SubRole> {
        let mut roles = HashMap::new();
        for lv in &self.lvs {
            for seg in &lv.segments {
                match &seg.kind {
                    SegmentKind::Mirror { log, legs, .. } => {
                        for l in legs {
                            roles.entry(l.lv.as_str()).or_insert(SubRole::MirrorImage);
                        }
                        if let Some(l) = log {
                            roles.entry(l.as_str()).or_insert(SubRole::MirrorLog);
                        }
                    }
                    SegmentKind::Raid1 { images, .. } => {
                        for (m, i) in images {
                            roles.entry(m.as_str()).or_insert(SubRole::RaidMeta);
                            roles.entry(i.as_str()).or_insert(SubRole::RaidImage);
                        }
                    }
                    _ => {}
                }
            }
        }
        roles
    }

    fn sub_role(&self, name: &str) -> Option<SubRole> {
        self.sub_roles().get(name).copied()
    }

    pub fn lv_size(&self, name: &str) -> Option<Extents> {
        self.lv(name).map(LogicalVolume::size)
    }

    /// `name`, or `[name]` for hidden LVs (as `lvs -a` shows them).
    pub fn lv_display_name(&self, name: &str) -> Option<String> {
        let lv = self.lv(name)?;
        Some(if lv.is_visible() {
            lv.name.clone()
        } else {
            format!("[{}]", lv.name)
        })
    }

    pub fn lv_segments(&self, name: &str) -> Option<Vec<SegmentReport>> {
        let lv = self.lv(name)?;
        Some(
            lv.segments
                .iter()
                .map(|seg| {
                    let (stripes, stripe_size, region_size, devices) = match &seg.kind {
                        SegmentKind::Striped { stripe_size, areas } => (
                            areas.len(),
                            *stripe_size,
                            None,
                            areas
                                .iter()
                                .map(|a| {
                                    let dev =
                                        self.pv(&a.pv).map_or(a.pv.as_str(), |p| p.device_name());
                                    format!("{dev}({})", a.start.0)
                                })
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        SegmentKind::Mirror {
                            region_size, legs, ..
                        } => (
                            legs.len(),
                            Sectors(0),
                            *region_size,
                            legs.iter()
                                .map(|l| format!("{}({})", l.lv, l.start.0))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        SegmentKind::Raid1 {
                            region_size,
                            images,
                        } => (
                            images.len(),
                            Sectors(0),
                            *region_size,
                            images
                                .iter()
                                .map(|(_, i)| format!("{i}(0)"))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        SegmentKind::Other { .. } => {
                            let areas = crate::alloc::pv_areas(seg);
                            (
                                areas.len(),
                                Sectors(0),
                                None,
                                areas
                                    .iter()
                                    .map(|(pv, start, _)| {
                                        let dev =
                                            self.pv(pv).map_or(pv.as_str(), |p| p.device_name());
                                        format!("{dev}({start})")
                                    })
                                    .collect::<Vec<_>>()
                                    .join(","),
                            )
                        }
                    };
                    SegmentReport {
                        start: seg.start_extent,
                        count: seg.extent_count,
                        segtype: seg.kind.report_type().to_string(),
                        stripes,
                        stripe_size,
                        region_size,
                        devices,
                    }
                })
                .collect(),
        )
    }

    /// All devices of an LV, segments joined with `,` (the `devices` field of `lvs`).
    pub fn lv_devices(&self, name: &str) -> Option<String> {
        Some(
            self.lv_segments(name)?
                .into_iter()
                .map(|s| s.devices)
                .filter(|d| !d.is_empty())
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    /// lvs' `lv_attr` from the metadata alone: `active` fills the state column; open, health
    /// and the like are unknown without the kernel and shown as `-`.
    pub fn lv_attr(&self, name: &str, active: bool) -> Option<String> {
        let lv = self.lv(name)?;
        Some(lv_attr_of(lv, self.sub_role(name), active))
    }
}

/// [`VolumeGroup::lv_attr`] with the LV's role already known (see [`VolumeGroup::sub_roles`]).
/// An image shows `I` (not known to be in sync) unless active, as lvm2 shows inactive images.
pub fn lv_attr_of(lv: &LogicalVolume, role: Option<SubRole>, active: bool) -> String {
    {
        let has = |f: Flag| lv.status.contains(f);
        let first_kind = lv.segments.first().map(|s| &s.kind);
        let vol_type = match (role, first_kind) {
            (Some(SubRole::MirrorImage | SubRole::RaidImage), _) if active => 'i',
            (Some(SubRole::MirrorImage | SubRole::RaidImage), _) => 'I',
            (Some(SubRole::MirrorLog), _) => 'l',
            (Some(SubRole::RaidMeta), _) => 'e',
            _ if has(Flag::Pvmove) => 'p',
            (None, Some(SegmentKind::Mirror { .. })) => {
                if has(Flag::NotSynced) {
                    'M'
                } else {
                    'm'
                }
            }
            (None, Some(SegmentKind::Raid1 { .. })) => {
                if has(Flag::NotSynced) {
                    'R'
                } else {
                    'r'
                }
            }
            (None, Some(SegmentKind::Other { segtype, .. })) => match segtype.as_str() {
                "thin" => 'V',
                "thin-pool" => 't',
                "cache" | "cache-pool" => 'C',
                "snapshot" => 's',
                _ => '-',
            },
            _ => '-',
        };
        let perm = if has(Flag::Write) {
            'w'
        } else if has(Flag::Read) {
            'r'
        } else {
            '-'
        };
        let policy = match lv.extra.get("allocation_policy").and_then(|n| match n {
            lvmeta_text::Node::Value(v) => v.as_str(),
            _ => None,
        }) {
            Some("contiguous") => 'c',
            Some("cling") | Some("cling_by_tags") => 'l',
            Some("normal") => 'n',
            Some("anywhere") => 'a',
            _ => 'i',
        };
        let policy = if has(Flag::Locked) {
            policy.to_ascii_uppercase()
        } else {
            policy
        };
        let minor = if has(Flag::FixedMinor) { 'm' } else { '-' };
        let state = if active { 'a' } else { '-' };
        let target = match (role, first_kind) {
            (Some(SubRole::MirrorImage | SubRole::MirrorLog), _) => 'm',
            (Some(SubRole::RaidImage | SubRole::RaidMeta), _) => 'r',
            (None, Some(SegmentKind::Mirror { .. })) => 'm',
            (None, Some(SegmentKind::Raid1 { .. })) => 'r',
            (None, Some(SegmentKind::Other { segtype, .. })) if segtype.starts_with("thin") => 't',
            (None, Some(SegmentKind::Other { segtype, .. })) if segtype.starts_with("raid") => 'r',
            _ => '-',
        };
        let skip = if lv.flags.contains(Flag::ActivationSkip) {
            'k'
        } else {
            '-'
        };
        [
            vol_type, perm, policy, minor, state, '-', target, '-', '-', skip,
        ]
        .iter()
        .collect()
    }
}

impl VolumeGroup {
    /// vgs' `vg_attr`: permissions, resizeable, exported, partial, allocation policy,
    /// clustered/shared (e.g. `wz--n-`, `wz--ns` for a lockd VG).
    pub fn vg_attr(&self) -> String {
        let has = |f: Flag| self.status.contains(f);
        let policy = match self.extra.get("allocation_policy").and_then(|n| match n {
            lvmeta_text::Node::Value(v) => v.as_str(),
            _ => None,
        }) {
            Some("contiguous") => 'c',
            Some("cling") | Some("cling_by_tags") => 'l',
            Some("anywhere") => 'a',
            _ => 'n',
        };
        let shared = if has(Flag::Clustered) {
            'c'
        } else if self
            .lock_type
            .as_deref()
            .is_some_and(|l| !l.is_empty() && l != "none")
        {
            's'
        } else {
            '-'
        };
        [
            if has(Flag::Write) { 'w' } else { 'r' },
            if has(Flag::Resizeable) { 'z' } else { '-' },
            if has(Flag::Exported) { 'x' } else { '-' },
            '-',
            policy,
            shared,
        ]
        .iter()
        .collect()
    }

    /// Extents of all PVs.
    pub fn total_extents(&self) -> Extents {
        Extents(self.pvs.iter().map(|p| p.pe_count.0).sum())
    }

    /// Device-mapper name lvm2 gives an LV: `<vg>-<lv>` with `-` doubled inside the names.
    pub fn dm_name(&self, lv: &str) -> String {
        crate::ids::dm_name(&self.name, lv, None)
    }

    /// Device-mapper UUID lvm2 gives an LV: `LVM-` + VG id + LV id, dashes removed.
    pub fn dm_uuid(&self, lv: &str) -> Option<String> {
        let l = self.lv(lv)?;
        Some(crate::ids::dm_uuid(&self.id, &l.id, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Layout, LvRequest, PhysicalVolume};

    #[test]
    fn vg_attr_dm_names_and_pv_removal() {
        let mut vg = VolumeGroup::new("my-vg", Sectors(8192)).unwrap();
        for i in 0..2 {
            let pv = PhysicalVolume::new(
                &format!("{:c>32}", i),
                None,
                Sectors(1 << 20),
                Sectors(2048),
                Extents(10),
            )
            .unwrap();
            vg.add_pv(pv).unwrap();
        }
        assert_eq!(vg.vg_attr(), "wz--n-");
        vg.lock_type = Some("dlm".into());
        assert_eq!(vg.vg_attr(), "wz--ns");
        assert_eq!(vg.total_extents().0, 20);
        vg.create_lv(LvRequest::new("a-b", Extents(2), Layout::Linear))
            .unwrap();
        assert_eq!(vg.dm_name("a-b"), "my--vg-a--b");
        let uuid = vg.dm_uuid("a-b").unwrap();
        assert!(uuid.starts_with("LVM-") && uuid.len() == 4 + 64, "{uuid}");
        assert!(matches!(
            vg.remove_pv("pv0").unwrap_err(),
            crate::ModelError::PvInUse { .. }
        ));
        let removed = vg.remove_pv("pv1").unwrap();
        assert_eq!(removed.pe_count.0, 10);
        assert_eq!(vg.pvs.len(), 1);
    }
}
