//! Activation executor on the kernel device-mapper: carries out an `lvmeta_activate::Plan`
//! (create, load, resume; suspend/load/resume for reloads; remove), keeps `/dev/mapper/<name>`
//! nodes and `/dev/<vg>/<lv>` links, and reads status back (open count, mirror/raid sync).
//!
//! The kernel sits behind [`DmBackend`]: [`ioctl::DmIoctl`] uses the `devicemapper` crate's
//! ioctls, [`mem::MemDm`] is an in-memory device-mapper for unit tests (with fault injection).
//! Device nodes sit behind [`Nodes`] for the same reason. Nothing is left half done: a failed
//! activation removes the devices it created, a failed reload drops the tables it loaded.

pub mod dry_run;
pub mod ioctl;
pub mod list;
pub mod mem;
pub mod nodes;
pub mod status;
pub mod view;

use lvmeta_activate::{DevNum, DevRef, DmDevice, Plan, TableLine};
use std::collections::HashMap;

pub use list::Listed;
pub use nodes::{DevFs, Nodes};
pub use status::{sync_percent, SyncStatus};

/// One line of a table as the kernel takes it: start, length, target, parameters.
pub type RawLine = (u64, u64, String, String);

/// What the kernel says about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevInfo {
    pub name: String,
    pub uuid: String,
    pub dev: DevNum,
    pub open_count: i32,
    pub suspended: bool,
    /// A table is loaded in the live slot.
    pub live_table: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DmError {
    #[error("device-mapper {op} of {device} failed: {message}")]
    Kernel {
        op: &'static str,
        device: String,
        message: String,
    },
    #[error("{name} is open ({open_count} users): not deactivated")]
    Open { name: String, open_count: i32 },
    #[error("a device named {name} already exists with uuid {existing:?} (wanted {wanted})")]
    NameTaken {
        name: String,
        existing: String,
        wanted: String,
    },
    #[error("device {uuid} is not active")]
    NotActive { uuid: String },
    #[error("{what} {path}: {source}")]
    Node {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{failed}; undoing it also failed: {undo}")]
    Undo { failed: Box<DmError>, undo: String },
}

pub type Result<T, E = DmError> = std::result::Result<T, E>;

/// The kernel's device-mapper, by dm UUID (every device lvm2 makes has one).
pub trait DmBackend {
    fn create(&self, name: &str, uuid: &str) -> Result<DevNum>;
    /// Loads `table` into the inactive slot.
    fn load(&self, uuid: &str, table: &[RawLine]) -> Result<()>;
    /// Loads `table` read-only: once live, the kernel refuses writes to the device (VxVM's
    /// read-only and shared-read activation modes, lvm's `lvchange -pr`).
    fn load_read_only(&self, uuid: &str, table: &[RawLine]) -> Result<()>;
    /// Drops the inactive table.
    fn clear(&self, uuid: &str) -> Result<()>;
    fn suspend(&self, uuid: &str) -> Result<()>;
    /// Suspends without flushing: in-flight and new I/O is queued in the kernel until resume
    /// (`dmsetup suspend --noflush`), for freezing a device or swapping out a failed leg.
    fn suspend_noflush(&self, uuid: &str) -> Result<()>;
    /// Resumes, making a loaded inactive table live.
    fn resume(&self, uuid: &str) -> Result<()>;
    fn remove(&self, uuid: &str) -> Result<()>;
    /// Renames a device (an LV or VG rename); open devices may be renamed.
    fn rename(&self, uuid: &str, new_name: &str) -> Result<()>;
    fn info(&self, uuid: &str) -> Result<Option<DevInfo>>;
    fn info_by_name(&self, name: &str) -> Result<Option<DevInfo>>;
    /// The live table.
    fn table(&self, uuid: &str) -> Result<Vec<RawLine>>;
    /// Whether the live table is read-only.
    fn read_only(&self, uuid: &str) -> Result<bool>;
    /// The live status lines.
    fn status(&self, uuid: &str) -> Result<Vec<RawLine>>;
    /// Every device: (name, uuid, devnum).
    fn list(&self) -> Result<Vec<DevInfo>>;
    /// Every device's name, uuid and devnum in one call; None: this kernel does not list
    /// uuids (before dm ioctl 4.46), ask per device.
    fn listed(&self) -> Result<Option<Vec<Listed>>> {
        Ok(None)
    }
    /// Every device's name (one ioctl, no per-device query).
    fn names(&self) -> Result<Vec<String>> {
        Ok(self.list()?.into_iter().map(|i| i.name).collect())
    }
    /// The targets the kernel has loaded, with their versions (`dmsetup targets`); none
    /// known by default.
    fn target_versions(&self) -> Result<Vec<(String, u32, u32, u32)>> {
        Ok(Vec::new())
    }
}

/// Whether the kernel's raid target can shrink an LV: dm-raid 1.9.0 or later, lvm2's
/// RAID_FEATURE_SHRINK (lib/raid/raid.c); without the target lvm2 refuses `lvreduce`.
pub fn raid_can_shrink(dm: &dyn DmBackend) -> bool {
    dm.target_versions()
        .unwrap_or_default()
        .iter()
        .any(|(name, maj, min, _)| name == "raid" && (*maj, *min) >= (1, 9))
}

/// What an activation did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Devices created, in order.
    pub created: Vec<String>,
    /// Devices whose live table changed.
    pub reloaded: Vec<String>,
    /// Devices removed.
    pub removed: Vec<String>,
    /// Devices renamed, by their new names.
    pub renamed: Vec<String>,
}

/// Renders a plan's table with the device numbers of devices that exist now.
fn raw_table(
    dm: &dyn DmBackend,
    dev: &DmDevice,
    known: &HashMap<String, DevNum>,
) -> Result<Vec<RawLine>> {
    dev.table.iter().map(|l| raw_line(dm, l, known)).collect()
}

fn raw_line(dm: &dyn DmBackend, l: &TableLine, known: &HashMap<String, DevNum>) -> Result<RawLine> {
    let mut missing = None;
    let params = l.params_with(|r| match r {
        DevRef::Block(n) => n.to_string(),
        DevRef::Dm(u) => match known.get(u) {
            Some(n) => n.to_string(),
            None => match dm.info(u) {
                Ok(Some(i)) => i.dev.to_string(),
                _ => {
                    missing = Some(u.clone());
                    String::new()
                }
            },
        },
        DevRef::Absent => "-".into(),
    });
    if let Some(uuid) = missing {
        return Err(DmError::NotActive { uuid });
    }
    Ok((l.start, l.len, l.target.clone(), params))
}

fn same_table(a: &[RawLine], b: &[RawLine]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1 == y.1 && x.2 == y.2 && x.3.trim() == y.3.trim())
}

/// Activates a planned LV: creates its devices in order (those already active are kept),
/// loads and resumes each, then makes the nodes and the `/dev/<vg>/<lv>` link. On any failure the
/// devices created here are removed again.
pub fn activate(dm: &dyn DmBackend, nodes: &dyn Nodes, plan: &Plan) -> Result<Outcome> {
    activate_with(dm, nodes, plan, false)
}

/// [`activate`]; `read_only`: the LV's top device is loaded read-only.
pub fn activate_with(
    dm: &dyn DmBackend,
    nodes: &dyn Nodes,
    plan: &Plan,
    read_only: bool,
) -> Result<Outcome> {
    let top_uuid = plan.top().uuid.clone();
    let load = |uuid: &str, table: &[RawLine]| {
        if read_only && uuid == top_uuid {
            dm.load_read_only(uuid, table)
        } else {
            dm.load(uuid, table)
        }
    };
    let mut out = Outcome::default();
    let mut known: HashMap<String, DevNum> = HashMap::new();
    let mut created: Vec<(String, String)> = Vec::new();
    // The link names the device the LV has: an active one may still carry an older name
    // (a rename whose device-mapper step failed after its commit), and the planned name may
    // then belong to another device.
    let mut top_name = plan.top().name.clone();
    let res = (|| -> Result<()> {
        for d in &plan.devices {
            if let Some(i) = dm.info(&d.uuid)? {
                known.insert(d.uuid.clone(), i.dev);
                if d.uuid == top_uuid {
                    top_name = i.name;
                }
                continue;
            }
            if let Some(other) = dm.info_by_name(&d.name)? {
                return Err(DmError::NameTaken {
                    name: d.name.clone(),
                    existing: other.uuid,
                    wanted: d.uuid.clone(),
                });
            }
            let table = raw_table(dm, d, &known)?;
            let num = dm.create(&d.name, &d.uuid)?;
            created.push((d.name.clone(), d.uuid.clone()));
            known.insert(d.uuid.clone(), num);
            load(&d.uuid, &table)?;
            dm.resume(&d.uuid)?;
            nodes.add_node(&d.name, num)?;
        }
        nodes.add_link(&plan.vg, &plan.lv, &top_name)?;
        Ok(())
    })();
    match res {
        Ok(()) => {
            out.created = created.into_iter().map(|c| c.0).collect();
            Ok(out)
        }
        Err(e) => {
            let mut undo = Vec::new();
            for (name, uuid) in created.iter().rev() {
                if let Err(u) = dm.remove(uuid) {
                    undo.push(format!("remove {name}: {u}"));
                }
                if let Err(u) = nodes.remove_node(name) {
                    undo.push(u.to_string());
                }
            }
            if !created.is_empty() {
                let _ = nodes.remove_link(&plan.vg, &plan.lv);
            }
            if undo.is_empty() {
                Err(e)
            } else {
                Err(DmError::Undo {
                    failed: Box::new(e),
                    undo: undo.join("; "),
                })
            }
        }
    }
}

/// Deactivates a planned LV: refuses while its device is open, then removes the devices top
/// After a rename of LVs or of their VG: the active devices of `old` (the plan under the old
/// names) take the names of the devices with the same UUIDs in `new`, and `/dev` follows.
/// Open devices are renamed too (as lvm2 does); inactive ones are left alone.
pub fn rename(dm: &dyn DmBackend, nodes: &dyn Nodes, old: &Plan, new: &Plan) -> Result<Outcome> {
    let mut out = Outcome::default();
    let mut top_active = None;
    for d in &old.devices {
        let Some(info) = dm.info(&d.uuid)? else {
            continue;
        };
        let Some(to) = new.device(&d.uuid) else {
            continue;
        };
        if d.uuid == old.top().uuid {
            top_active = Some(to.name.clone());
        }
        if info.name == to.name {
            continue;
        }
        dm.rename(&d.uuid, &to.name)?;
        nodes.remove_node(&info.name)?;
        nodes.add_node(&to.name, info.dev)?;
        out.renamed.push(to.name.clone());
    }
    if let Some(top) = top_active {
        nodes.remove_link(&old.vg, &old.lv)?;
        nodes.add_link(&new.vg, &new.lv, &top)?;
    }
    Ok(out)
}

/// first (also layered devices of its sub-LVs that the plan no longer names, e.g. `-missing_`).
pub fn deactivate(dm: &dyn DmBackend, nodes: &dyn Nodes, plan: &Plan) -> Result<Outcome> {
    let mut out = Outcome::default();
    let top = plan.top();
    // The `/dev/<vg>/<lv>` link of a top device left under an older name (a rename whose
    // device-mapper step failed after its commit): removed with the device, not left dangling.
    let mut stale_link = None;
    let mut top_info = dm.info(&top.uuid)?;
    if let Some(i) = &top_info {
        if i.open_count > 0 {
            return Err(DmError::Open {
                name: i.name.clone(),
                open_count: i.open_count,
            });
        }
        if i.name != top.name {
            if let Some((vg, lv, None)) = lvmeta_model::ids::split_dm_name(&i.name) {
                stale_link = Some((vg, lv));
            }
        }
    }
    // Every active device belonging to the plan's LVs, layers included.
    let prefixes: Vec<&str> = plan
        .devices
        .iter()
        .filter(|d| d.layer.is_none())
        .map(|d| d.uuid.as_str())
        .collect();
    let mut doomed: Vec<DevInfo> = Vec::new();
    for d in plan.remove_order() {
        // The top device was just asked: not again.
        let info = if d.uuid == top.uuid {
            top_info.take()
        } else {
            dm.info(&d.uuid)?
        };
        if let Some(i) = info {
            doomed.push(i);
        }
    }
    // Layered devices are named `<lv's dm name>-<layer>`: query only names like that.
    let tops: Vec<String> = plan
        .devices
        .iter()
        .filter(|d| d.layer.is_none())
        .map(|d| format!("{}-", d.name))
        .collect();
    for name in dm.names()? {
        if doomed.iter().any(|d| d.name == name) || !tops.iter().any(|t| name.starts_with(t)) {
            continue;
        }
        if let Some(i) = dm.info_by_name(&name)? {
            if prefixes
                .iter()
                .any(|p| i.uuid.starts_with(&format!("{p}-")))
            {
                doomed.push(i);
            }
        }
    }
    nodes.remove_link(&plan.vg, &plan.lv)?;
    if let Some((vg, lv)) = stale_link {
        nodes.remove_link(&vg, &lv)?;
    }
    for i in doomed {
        dm.remove(&i.uuid)?;
        nodes.remove_node(&i.name)?;
        out.removed.push(i.name);
    }
    Ok(out)
}

/// Brings active devices to a new plan of the same LV (resize, split, repair): creates the new
/// devices, loads the changed tables, suspends the changed devices top first, resumes them in
/// create order, then removes devices of `old` the new plan no longer has. A load that fails
/// drops the tables loaded so far and removes the devices created, leaving the old mapping live.
pub fn reload(dm: &dyn DmBackend, nodes: &dyn Nodes, old: &Plan, new: &Plan) -> Result<Outcome> {
    reload_with(dm, nodes, old, new, false)
}

/// [`reload`]; `read_only`: the LV's top device is loaded read-only (and reloaded when only
/// that changes).
pub fn reload_with(
    dm: &dyn DmBackend,
    nodes: &dyn Nodes,
    old: &Plan,
    new: &Plan,
    read_only: bool,
) -> Result<Outcome> {
    reload_opts(dm, nodes, old, new, read_only, false)
}

/// [`reload_with`]; `noflush`: the changed devices are suspended without flushing, as lvm2
/// suspends a mirror it repairs: dm-mirror with `handle_errors` holds the writes that hit a
/// failed leg, fails them on a flushing suspend, and hands them back to be queued on a
/// non-flushing one, so they go to the new table after the resume.
pub fn reload_opts(
    dm: &dyn DmBackend,
    nodes: &dyn Nodes,
    old: &Plan,
    new: &Plan,
    read_only: bool,
    noflush: bool,
) -> Result<Outcome> {
    let top_uuid = new.top().uuid.clone();
    let mut out = Outcome::default();
    let mut known: HashMap<String, DevNum> = HashMap::new();
    let mut created: Vec<(String, String)> = Vec::new();
    // (device, resumed at once: a grown sub-device, see below)
    let mut loaded: Vec<(&DmDevice, bool)> = Vec::new();
    // A live device holding a name the new plan gives another device (a mirror repair's new
    // image takes the failed image's name, a surviving image may be renumbered) steps aside
    // under a temporary name; after the resume it takes its new name or goes.
    let mut aside: Vec<(String, String, DevNum)> = Vec::new();
    let res = (|| -> Result<()> {
        for o in &old.devices {
            let Some(i) = dm.info(&o.uuid)? else {
                continue;
            };
            // Also a device the new plan renames (a raid1 image renumbered after an image
            // before it was removed): it takes its new name after the resume.
            let renamed = new.device(&o.uuid).is_some_and(|d| d.name != i.name);
            if !renamed
                && !new
                    .devices
                    .iter()
                    .any(|d| d.name == i.name && d.uuid != o.uuid)
            {
                continue;
            }
            let tmp = format!("{}_halvm_old", i.name);
            dm.rename(&o.uuid, &tmp)?;
            aside.push((o.uuid.clone(), i.name.clone(), i.dev));
            nodes.remove_node(&i.name)?;
            nodes.add_node(&tmp, i.dev)?;
        }
        // A live device neither plan knows may hold a name the new plan gives a new device:
        // clvmd-rs plans old and new alike from the committed metadata, and a replaced mirror
        // log keeps its LV name under a new UUID.
        let listed = dm.list()?;
        for d in &new.devices {
            let Some(i) = listed.iter().find(|i| i.name == d.name && i.uuid != d.uuid) else {
                continue;
            };
            if aside.iter().any(|a| a.0 == i.uuid) {
                continue;
            }
            let tmp = format!("{}_halvm_old", i.name);
            dm.rename(&i.uuid, &tmp)?;
            aside.push((i.uuid.clone(), i.name.clone(), i.dev));
            nodes.remove_node(&i.name)?;
            nodes.add_node(&tmp, i.dev)?;
        }
        for d in &new.devices {
            match dm.info(&d.uuid)? {
                Some(i) => {
                    known.insert(d.uuid.clone(), i.dev);
                    let want = raw_table(dm, d, &known)?;
                    let live = dm.table(&d.uuid)?;
                    let ro_change = d.uuid == top_uuid && read_only != dm.read_only(&d.uuid)?;
                    if !same_table(&want, &live) || ro_change {
                        if read_only && d.uuid == top_uuid {
                            dm.load_read_only(&d.uuid, &want)?;
                        } else {
                            dm.load(&d.uuid, &want)?;
                        }
                        // A sub-device that grows goes live at once, as libdm's preload
                        // resumes a child whose size changed before its parents load:
                        // dm-raid checks its images' sizes when its table loads
                        // ("Component device(s) too small"). The extra space is unused
                        // until the parent's new table is live.
                        let len = |t: &[RawLine]| t.iter().map(|l| l.1).sum::<u64>();
                        let grown = d.uuid != top_uuid && len(&want) > len(&live);
                        if grown {
                            dm.suspend(&d.uuid)?;
                            dm.resume(&d.uuid)?;
                        }
                        loaded.push((d, grown));
                    }
                }
                None => {
                    let table = raw_table(dm, d, &known)?;
                    let num = dm.create(&d.name, &d.uuid)?;
                    created.push((d.name.clone(), d.uuid.clone()));
                    known.insert(d.uuid.clone(), num);
                    if read_only && d.uuid == top_uuid {
                        dm.load_read_only(&d.uuid, &table)?;
                    } else {
                        dm.load(&d.uuid, &table)?;
                    }
                    dm.resume(&d.uuid)?;
                    nodes.add_node(&d.name, num)?;
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        for (d, live) in &loaded {
            if !live {
                let _ = dm.clear(&d.uuid);
            }
        }
        for (name, uuid) in created.iter().rev() {
            let _ = dm.remove(uuid);
            let _ = nodes.remove_node(name);
        }
        for (uuid, name, dev) in &aside {
            if dm.rename(uuid, name).is_ok() {
                let _ = nodes.remove_node(&format!("{name}_halvm_old"));
                let _ = nodes.add_node(name, *dev);
            }
        }
        return Err(e);
    }
    // Suspend top first so I/O drains from the top, resume bottom first.
    for (d, _) in loaded.iter().rev().filter(|l| !l.1) {
        if noflush {
            dm.suspend_noflush(&d.uuid)?;
        } else {
            dm.suspend(&d.uuid)?;
        }
    }
    for (d, live) in &loaded {
        if !live {
            dm.resume(&d.uuid)?;
        }
        out.reloaded.push(d.name.clone());
    }
    out.created = created.into_iter().map(|c| c.0).collect();
    for (uuid, name, dev) in &aside {
        if let Some(d) = new.device(uuid) {
            dm.rename(uuid, &d.name)?;
            nodes.remove_node(&format!("{name}_halvm_old"))?;
            nodes.add_node(&d.name, *dev)?;
            out.renamed.push(d.name.clone());
        }
    }
    for d in old.remove_order() {
        if new.device(&d.uuid).is_none() {
            if let Some(i) = dm.info(&d.uuid)? {
                dm.remove(&d.uuid)?;
                nodes.remove_node(&i.name)?;
                out.removed.push(i.name);
            }
        }
    }
    nodes.add_link(&new.vg, &new.lv, &new.top().name)?;
    Ok(out)
}

/// Active state of an LV's top device: None when not active.
pub fn lv_info(dm: &dyn DmBackend, plan: &Plan) -> Result<Option<DevInfo>> {
    dm.info(&plan.top().uuid)
}
