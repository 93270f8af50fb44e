//! Test mode (`-t`, lvm2's "volumes will not be (de)activated"): a device-mapper and node
//! maker that answer every question from the real ones and change nothing.

use crate::{DevInfo, DmBackend, Nodes, RawLine, Result};
use lvmeta_activate::DevNum;

/// Queries go to the inner backend; creates, loads, suspends, resumes, removes and renames
/// are logged and skipped.
pub struct DryRun<T>(pub T);

fn skipped(what: &str, uuid: &str) -> Result<()> {
    log::info!("Test mode: skipping {what} of {uuid}.");
    Ok(())
}

impl<B: DmBackend + ?Sized> DmBackend for DryRun<Box<B>> {
    fn create(&self, name: &str, uuid: &str) -> Result<DevNum> {
        skipped("create", uuid)?;
        // Never a real device: nothing is made under this number.
        let _ = name;
        Ok(DevNum { major: 0, minor: 0 })
    }
    fn load(&self, uuid: &str, _table: &[RawLine]) -> Result<()> {
        skipped("table load", uuid)
    }
    fn load_read_only(&self, uuid: &str, _table: &[RawLine]) -> Result<()> {
        skipped("table load", uuid)
    }
    fn clear(&self, uuid: &str) -> Result<()> {
        skipped("table clear", uuid)
    }
    fn suspend(&self, uuid: &str) -> Result<()> {
        skipped("suspend", uuid)
    }
    fn suspend_noflush(&self, uuid: &str) -> Result<()> {
        skipped("suspend", uuid)
    }
    fn resume(&self, uuid: &str) -> Result<()> {
        skipped("resume", uuid)
    }
    fn remove(&self, uuid: &str) -> Result<()> {
        skipped("removal", uuid)
    }
    fn rename(&self, uuid: &str, _new_name: &str) -> Result<()> {
        skipped("rename", uuid)
    }
    fn info(&self, uuid: &str) -> Result<Option<DevInfo>> {
        self.0.info(uuid)
    }
    fn info_by_name(&self, name: &str) -> Result<Option<DevInfo>> {
        self.0.info_by_name(name)
    }
    fn table(&self, uuid: &str) -> Result<Vec<RawLine>> {
        self.0.table(uuid)
    }
    fn read_only(&self, uuid: &str) -> Result<bool> {
        self.0.read_only(uuid)
    }
    fn status(&self, uuid: &str) -> Result<Vec<RawLine>> {
        self.0.status(uuid)
    }
    fn list(&self) -> Result<Vec<DevInfo>> {
        self.0.list()
    }
    fn names(&self) -> Result<Vec<String>> {
        self.0.names()
    }
    fn listed(&self) -> Result<Option<Vec<crate::Listed>>> {
        self.0.listed()
    }
}

impl<N: Nodes + ?Sized> Nodes for DryRun<Box<N>> {
    fn add_node(&self, name: &str, _dev: DevNum) -> Result<()> {
        skipped("node", name)
    }
    fn remove_node(&self, name: &str) -> Result<()> {
        skipped("node removal", name)
    }
    fn add_link(&self, vg: &str, lv: &str, _dm_name: &str) -> Result<()> {
        skipped("link", &format!("{vg}/{lv}"))
    }
    fn remove_link(&self, vg: &str, lv: &str) -> Result<()> {
        skipped("link removal", &format!("{vg}/{lv}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::MemDm;

    #[test]
    fn a_dry_run_answers_from_the_kernel_and_changes_nothing() {
        let mem = MemDm::default();
        mem.create("vg-a", "LVM-a").unwrap();
        let before = mem.list().unwrap();
        let dry = DryRun(Box::new(mem) as Box<dyn DmBackend>);
        dry.create("vg-b", "LVM-b").unwrap();
        dry.remove("LVM-a").unwrap();
        dry.rename("LVM-a", "vg-c").unwrap();
        assert_eq!(dry.list().unwrap(), before);
        assert!(dry.info("LVM-a").unwrap().is_some());
        assert!(dry.info("LVM-b").unwrap().is_none());
    }
}
