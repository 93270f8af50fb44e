//! The real device-mapper, through the `devicemapper` crate's ioctls on `/dev/mapper/control`.
//!
//! Runs like libdm with `DM_DISABLE_UDEV=1`: the udev rule flags ask udev (if one runs) to leave
//! the device alone, and the nodes are made by [`crate::Nodes`]. The crate only waits on a udev
//! cookie when a udev daemon is running; in the VM lab there is none, so no cookies are used.

use crate::{DevInfo, DmBackend, DmError, RawLine, Result};
use devicemapper::{DevId, DmFlags, DmName, DmOptions, DmUdevFlags, DmUuid, DM};
use lvmeta_activate::DevNum;

pub struct DmIoctl {
    dm: DM,
}

fn opts() -> DmOptions {
    DmOptions::default().set_udev_flags(
        DmUdevFlags::DM_UDEV_DISABLE_DM_RULES_FLAG
            | DmUdevFlags::DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG
            | DmUdevFlags::DM_UDEV_DISABLE_DISK_RULES_FLAG
            | DmUdevFlags::DM_UDEV_DISABLE_OTHER_RULES_FLAG
            | DmUdevFlags::DM_UDEV_DISABLE_LIBRARY_FALLBACK,
    )
}

fn kerr(op: &'static str, device: &str, e: devicemapper::DmError) -> DmError {
    DmError::Kernel {
        op,
        device: device.to_string(),
        message: kernel_message(&e),
    }
}

/// The kernel's answer to a failed ioctl as lvm2 prints it ("Device or resource busy"), not
/// the crate's text, which spells out both ioctl headers.
fn kernel_message(e: &devicemapper::DmError) -> String {
    match e {
        devicemapper::DmError::Core(devicemapper::errors::Error::Ioctl(_, _, _, errno)) => {
            errno.desc().to_string()
        }
        e => e.to_string(),
    }
}

fn is_enxio(e: &devicemapper::DmError) -> bool {
    let s = format!("{e:?}");
    s.contains("ENXIO")
}

impl DmIoctl {
    /// Opens `/dev/mapper/control`.
    pub fn open() -> Result<DmIoctl> {
        let dm = DM::new().map_err(|e| kerr("open", "/dev/mapper/control", e))?;
        Ok(DmIoctl { dm })
    }

    /// One ioctl on device `uuid`, its error named `op`.
    fn on<T>(
        &self,
        uuid: &str,
        op: &'static str,
        call: impl FnOnce(&DM, &DevId) -> devicemapper::DmResult<T>,
    ) -> Result<T> {
        let id = DevId::Uuid(Self::uuid(uuid)?);
        call(&self.dm, &id).map_err(|e| kerr(op, uuid, e))
    }

    fn uuid(uuid: &str) -> Result<&DmUuid> {
        DmUuid::new(uuid).map_err(|e| kerr("uuid", uuid, e))
    }

    fn to_info(i: &devicemapper::DeviceInfo) -> DevInfo {
        let d = i.device();
        DevInfo {
            name: i.name().map(|n| n.to_string()).unwrap_or_default(),
            uuid: i.uuid().map(|u| u.to_string()).unwrap_or_default(),
            dev: DevNum {
                major: d.major,
                minor: d.minor,
            },
            open_count: i.open_count(),
            suspended: i.flags().contains(DmFlags::DM_SUSPEND),
            live_table: i.flags().contains(DmFlags::DM_ACTIVE_PRESENT),
        }
    }

    fn lines(v: Vec<(u64, u64, String, String)>) -> Vec<RawLine> {
        v
    }
}

impl DmBackend for DmIoctl {
    fn target_versions(&self) -> Result<Vec<(String, u32, u32, u32)>> {
        self.dm
            .list_versions()
            .map_err(|e| kerr("list versions", "/dev/mapper/control", e))
    }

    fn create(&self, name: &str, uuid: &str) -> Result<DevNum> {
        let n = DmName::new(name).map_err(|e| kerr("create", name, e))?;
        let i = self
            .dm
            .device_create(n, Some(Self::uuid(uuid)?), opts())
            .map_err(|e| kerr("create", name, e))?;
        Ok(Self::to_info(&i).dev)
    }

    fn load(&self, uuid: &str, table: &[RawLine]) -> Result<()> {
        self.on(uuid, "load", |dm, id| dm.table_load(id, table, opts()))
            .map(drop)
    }

    fn load_read_only(&self, uuid: &str, table: &[RawLine]) -> Result<()> {
        let ro = opts().set_flags(DmFlags::DM_READONLY);
        self.on(uuid, "load", |dm, id| dm.table_load(id, table, ro))
            .map(drop)
    }

    fn read_only(&self, uuid: &str) -> Result<bool> {
        let i = self.on(uuid, "info", |dm, id| dm.device_info(id))?;
        Ok(i.flags().contains(DmFlags::DM_READONLY))
    }

    fn clear(&self, uuid: &str) -> Result<()> {
        self.on(uuid, "clear", |dm, id| dm.table_clear(id))
            .map(drop)
    }

    fn suspend(&self, uuid: &str) -> Result<()> {
        let flags = opts().set_flags(DmFlags::DM_SUSPEND);
        self.on(uuid, "suspend", |dm, id| dm.device_suspend(id, flags))
            .map(drop)
    }

    fn suspend_noflush(&self, uuid: &str) -> Result<()> {
        let flags = opts().set_flags(DmFlags::DM_SUSPEND | DmFlags::DM_NOFLUSH);
        self.on(uuid, "suspend --noflush", |dm, id| {
            dm.device_suspend(id, flags)
        })
        .map(drop)
    }

    fn resume(&self, uuid: &str) -> Result<()> {
        self.on(uuid, "resume", |dm, id| dm.device_suspend(id, opts()))
            .map(drop)
    }

    fn remove(&self, uuid: &str) -> Result<()> {
        self.on(uuid, "remove", |dm, id| dm.device_remove(id, opts()))
            .map(drop)
    }

    fn rename(&self, uuid: &str, new_name: &str) -> Result<()> {
        let old = self
            .info(uuid)?
            .ok_or_else(|| DmError::Kernel {
                op: "rename",
                device: uuid.to_string(),
                message: "no such device".into(),
            })?
            .name;
        let old = DmName::new(&old).map_err(|e| kerr("rename", uuid, e))?;
        let new = DmName::new(new_name).map_err(|e| kerr("rename", new_name, e))?;
        // Named as lvm2 names it: the device's name and the one it was to take.
        self.dm
            .device_rename(old, &DevId::Name(new))
            .map_err(|e| kerr("rename", &format!("{old} to {new_name}"), e))?;
        Ok(())
    }

    fn info(&self, uuid: &str) -> Result<Option<DevInfo>> {
        let id = DevId::Uuid(Self::uuid(uuid)?);
        match self.dm.device_info(&id) {
            Ok(i) => Ok(Some(Self::to_info(&i))),
            Err(e) if is_enxio(&e) => Ok(None),
            Err(e) => Err(kerr("info", uuid, e)),
        }
    }

    fn info_by_name(&self, name: &str) -> Result<Option<DevInfo>> {
        let n = DmName::new(name).map_err(|e| kerr("info", name, e))?;
        match self.dm.device_info(&DevId::Name(n)) {
            Ok(i) => Ok(Some(Self::to_info(&i))),
            Err(e) if is_enxio(&e) => Ok(None),
            Err(e) => Err(kerr("info", name, e)),
        }
    }

    fn table(&self, uuid: &str) -> Result<Vec<RawLine>> {
        let table = DmOptions::default().set_flags(DmFlags::DM_STATUS_TABLE);
        let (_, t) = self.on(uuid, "table", |dm, id| dm.table_status(id, table))?;
        Ok(Self::lines(t))
    }

    fn status(&self, uuid: &str) -> Result<Vec<RawLine>> {
        let status = DmOptions::default();
        let (_, t) = self.on(uuid, "status", |dm, id| dm.table_status(id, status))?;
        Ok(Self::lines(t))
    }

    fn listed(&self) -> Result<Option<Vec<crate::Listed>>> {
        crate::list::list(self.dm.file())
    }

    fn names(&self) -> Result<Vec<String>> {
        let devs = self.dm.list_devices().map_err(|e| kerr("list", "all", e))?;
        Ok(devs.into_iter().map(|(n, _, _)| n.to_string()).collect())
    }

    fn list(&self) -> Result<Vec<DevInfo>> {
        let devs = self.dm.list_devices().map_err(|e| kerr("list", "all", e))?;
        let mut out = Vec::new();
        for (name, _, _) in devs {
            match self.dm.device_info(&DevId::Name(&name)) {
                Ok(i) => out.push(Self::to_info(&i)),
                Err(e) if is_enxio(&e) => {}
                Err(e) => return Err(kerr("info", &name.to_string(), e)),
            }
        }
        Ok(out)
    }
}
