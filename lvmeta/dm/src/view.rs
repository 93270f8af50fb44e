//! The kernel's device-mapper devices as one report sees them (`lvs`'s `lv_attr` and
//! `Cpy%Sync`): listed once per report, not queried LV by LV.

use crate::DmBackend;
use lvmeta_activate::dm_uuid;
use lvmeta_model::{lv_attr_of, LogicalVolume, SubRole, VolumeGroup};
use std::collections::HashMap;

/// The sync % of a mirror or raid1 device, from its status line.
pub fn sync_of(dm: &dyn DmBackend, uuid: &str) -> Option<f64> {
    let st = dm.status(uuid).ok()?;
    let l = st.first()?;
    crate::sync_percent(&l.2, &l.3).map(|s| s.percent())
}

/// The kernel's device-mapper devices as one report sees them. They are listed once, so a
/// report over thousands of LVs asks the kernel about the devices that exist (on a cluster
/// node, often few of a VG's LVs are active there) instead of about every LV.
pub struct KernelView<'d> {
    dm: Option<&'d dyn DmBackend>,
    /// Devices by DM UUID, listed when a cell first needs the kernel (reports without
    /// `lv_attr` or `copy_percent` never do); None when listing failed (then each LV is
    /// asked for).
    by_uuid: std::cell::OnceCell<Option<HashMap<String, crate::DevInfo>>>,
}

impl<'d> KernelView<'d> {
    /// A view of `dm` (the environment's device-mapper); None: no device-mapper here.
    pub fn of(dm: Option<&'d dyn DmBackend>) -> KernelView<'d> {
        KernelView {
            dm,
            by_uuid: std::cell::OnceCell::new(),
        }
    }

    fn listed(&self, dm: &dyn DmBackend) -> Option<&HashMap<String, crate::DevInfo>> {
        self.by_uuid
            .get_or_init(|| {
                let devs = dm.list().ok()?;
                Some(devs.into_iter().map(|d| (d.uuid.clone(), d)).collect())
            })
            .as_ref()
    }

    /// The LV's top-level device, if it is active.
    fn info(&self, vg: &VolumeGroup, lv: &LogicalVolume) -> Option<crate::DevInfo> {
        let dm = self.dm?;
        let uuid = dm_uuid(&vg.id, &lv.id, None);
        match self.listed(dm) {
            Some(devs) => devs.get(&uuid).cloned(),
            None => dm.info(&uuid).ok().flatten(),
        }
    }

    /// lvs's `lv_attr` with the kernel's state: 5th character `a` when active (`s`
    /// suspended), 6th `o` when open; an active image whose mirror or raid1 is still syncing
    /// stays `I`.
    /// Without device-mapper the state is unknown: `X` for active and open, as lvm2 with
    /// activation disabled shows it (`-wi-XX----`).
    pub fn lv_attr(&self, vg: &VolumeGroup, lv: &LogicalVolume, role: Option<SubRole>) -> String {
        if self.dm.is_none() {
            let mut attr: Vec<char> = lv_attr_of(lv, role, false).chars().collect();
            attr[4] = 'X';
            attr[5] = 'X';
            return attr.into_iter().collect();
        }
        let info = self.info(vg, lv);
        let attr = lv_attr_of(lv, role, info.is_some());
        let Some(info) = info else {
            return attr;
        };
        let mut attr: Vec<char> = attr.chars().collect();
        if info.suspended {
            attr[4] = 's';
        }
        if info.open_count > 0 {
            attr[5] = 'o';
        }
        let image = matches!(role, Some(SubRole::MirrorImage | SubRole::RaidImage));
        let syncing = || {
            vg.parent_of(&lv.name)
                .and_then(|p| self.copy_percent(vg, p))
                .is_some_and(|pct| pct < 100.0)
        };
        if image && syncing() {
            attr[0] = 'I';
        }
        attr.into_iter().collect()
    }

    /// lvs's `copy_percent` (Cpy%Sync) of an active mirror or raid1 LV.
    pub fn copy_percent(&self, vg: &VolumeGroup, lv: &LogicalVolume) -> Option<f64> {
        let dm = self.dm?;
        let uuid = dm_uuid(&vg.id, &lv.id, None);
        if self
            .listed(dm)
            .is_some_and(|devs| !devs.contains_key(&uuid))
        {
            return None;
        }
        sync_of(dm, &uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvmeta_model::{Layout, LvRequest, PhysicalVolume};
    use lvmeta_ondisk::units::{Extents, Sectors};

    fn vg() -> VolumeGroup {
        let mut vg = VolumeGroup::new("vg1", Sectors(8192)).unwrap();
        vg.tags = vec!["site-a".into()];
        for i in 0..2 {
            let pv = PhysicalVolume::new(
                &lvmeta_model::lvm_uuid::generate(),
                Some(&format!("/dev/vd{}", ["b", "c"][i])),
                Sectors(262144),
                Sectors(2048),
                Extents(31),
            )
            .unwrap();
            vg.add_pv(pv).unwrap();
        }
        vg.create_lv(LvRequest::new("data", Extents(2), Layout::Linear))
            .unwrap();
        vg.create_lv(LvRequest::new(
            "r",
            Extents(2),
            Layout::Raid1 { mirrors: 1 },
        ))
        .unwrap();
        vg.lv_mut("data").unwrap().tags = vec!["keep".into()];
        vg
    }

    /// `lvs`'s attributes from one listing of the kernel's devices equal those from asking
    /// the kernel LV by LV.
    #[test]
    fn kernel_view_from_one_listing_matches_per_lv_queries() {
        let vg = vg();
        let mem = crate::mem::MemDm::new([]);
        let data = vg.lv("data").unwrap();
        let uuid = dm_uuid(&vg.id, &data.id, None);
        mem.create(&vg.dm_name("data"), &uuid).unwrap();
        mem.load(&uuid, &[(0, 16384, "error".into(), String::new())])
            .unwrap();
        mem.resume(&uuid).unwrap();
        mem.set_open_count(&vg.dm_name("data"), 1);
        let listed = KernelView::of(Some(&mem));
        assert!(listed.listed(&mem).is_some(), "MemDm lists its devices");
        // A view whose listing failed asks the kernel LV by LV.
        let per_lv = KernelView::of(Some(&mem));
        per_lv.by_uuid.set(None).unwrap();
        for lv in &vg.lvs {
            let role = vg.sub_roles().get(lv.name.as_str()).copied();
            assert_eq!(
                listed.lv_attr(&vg, lv, role),
                per_lv.lv_attr(&vg, lv, role),
                "{}",
                lv.name
            );
            assert_eq!(listed.copy_percent(&vg, lv), per_lv.copy_percent(&vg, lv));
        }
        assert_eq!(&listed.lv_attr(&vg, data, None)[4..6], "ao");
        let r = vg.lv("r").unwrap();
        assert_eq!(&listed.lv_attr(&vg, r, None)[4..6], "--");
        // Issue 12: without device-mapper the state is unknown, as lvm2 shows it.
        let none = KernelView::of(None);
        assert_eq!(none.lv_attr(&vg, data, None), "-wi-XX----");
    }
}
