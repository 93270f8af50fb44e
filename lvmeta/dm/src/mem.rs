//! An in-memory device-mapper for unit tests: devices with live and inactive tables, suspend
//! state, open counts, checks that a table only uses devices that exist, and fault injection.

use crate::{DevInfo, DmBackend, DmError, RawLine, Result};
use lvmeta_activate::DevNum;
use std::collections::BTreeSet;
use std::sync::Mutex;

#[derive(Debug, Clone)]
struct Dev {
    info: DevInfo,
    live: Option<Vec<RawLine>>,
    inactive: Option<Vec<RawLine>>,
    /// Read-only flags of the live and the inactive table.
    live_ro: bool,
    inactive_ro: bool,
}

#[derive(Debug, Default)]
struct State {
    devs: Vec<Dev>,
    next_minor: u32,
    /// Block devices tables may use (the PVs).
    disks: BTreeSet<DevNum>,
    /// Fail the Nth create from now (0 = the next one).
    fail_create: Option<usize>,
    fail_load_of: Option<String>,
    ops: Vec<String>,
}

#[derive(Debug, Default)]
pub struct MemDm {
    st: Mutex<State>,
}

fn err(op: &'static str, device: &str, message: &str) -> DmError {
    DmError::Kernel {
        op,
        device: device.into(),
        message: message.into(),
    }
}

impl MemDm {
    pub fn new(disks: impl IntoIterator<Item = DevNum>) -> MemDm {
        let m = MemDm::default();
        m.st.lock().unwrap().disks.extend(disks);
        m
    }
    /// The `n`th create from now fails (0: the next).
    pub fn fail_create_after(&self, n: usize) {
        self.st.lock().unwrap().fail_create = Some(n);
    }
    /// Loads into the device named `name` fail.
    pub fn fail_load_of(&self, name: &str) {
        self.st.lock().unwrap().fail_load_of = Some(name.into());
    }
    pub fn set_open_count(&self, name: &str, n: i32) {
        let mut st = self.st.lock().unwrap();
        if let Some(d) = st.devs.iter_mut().find(|d| d.info.name == name) {
            d.info.open_count = n;
        }
    }
    /// Every operation so far, `op name`.
    pub fn ops(&self) -> Vec<String> {
        self.st.lock().unwrap().ops.clone()
    }
    pub fn names(&self) -> Vec<String> {
        self.st
            .lock()
            .unwrap()
            .devs
            .iter()
            .map(|d| d.info.name.clone())
            .collect()
    }
    /// `dmsetup table` of a device by name.
    pub fn table_text(&self, name: &str) -> Option<String> {
        let st = self.st.lock().unwrap();
        let d = st.devs.iter().find(|d| d.info.name == name)?;
        Some(
            d.live
                .as_ref()?
                .iter()
                .map(|l| {
                    format!("{} {} {} {}", l.0, l.1, l.2, l.3)
                        .trim_end()
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

fn with<'a>(st: &'a mut State, uuid: &str, op: &'static str) -> Result<&'a mut Dev> {
    st.devs
        .iter_mut()
        .find(|d| d.info.uuid == uuid)
        .ok_or_else(|| err(op, uuid, "ENXIO: no such device"))
}

impl MemDm {
    /// The first device whose info `is` accepts.
    fn find_info(&self, is: impl Fn(&DevInfo) -> bool) -> Option<DevInfo> {
        let st = self.st.lock().unwrap();
        st.devs.iter().find(|d| is(&d.info)).map(|d| d.info.clone())
    }
}

/// Suspends `uuid`, logged as `how` and the device's name.
fn suspend_logged(st: &mut State, uuid: &str, how: &str) -> Result<()> {
    let d = with(st, uuid, "suspend")?;
    d.info.suspended = true;
    let n = d.info.name.clone();
    st.ops.push(format!("{how} {n}"));
    Ok(())
}

impl DmBackend for MemDm {
    fn rename(&self, uuid: &str, new_name: &str) -> Result<()> {
        let mut st = self.st.lock().unwrap();
        if st.devs.iter().any(|d| d.info.name == new_name) {
            return Err(err("rename", new_name, "EBUSY: name in use"));
        }
        let d = with(&mut st, uuid, "rename")?;
        let old = std::mem::replace(&mut d.info.name, new_name.to_string());
        st.ops.push(format!("rename {old} {new_name}"));
        Ok(())
    }

    fn create(&self, name: &str, uuid: &str) -> Result<DevNum> {
        let mut st = self.st.lock().unwrap();
        st.ops.push(format!("create {name}"));
        if let Some(n) = st.fail_create {
            if n == 0 {
                st.fail_create = None;
                return Err(err("create", name, "injected failure"));
            }
            st.fail_create = Some(n - 1);
        }
        if st
            .devs
            .iter()
            .any(|d| d.info.name == name || d.info.uuid == uuid)
        {
            return Err(err("create", name, "EBUSY: exists"));
        }
        let dev = DevNum {
            major: 253,
            minor: st.next_minor,
        };
        st.next_minor += 1;
        st.devs.push(Dev {
            info: DevInfo {
                name: name.into(),
                uuid: uuid.into(),
                dev,
                open_count: 0,
                suspended: false,
                live_table: false,
            },
            live: None,
            inactive: None,
            live_ro: false,
            inactive_ro: false,
        });
        Ok(dev)
    }

    fn load(&self, uuid: &str, table: &[RawLine]) -> Result<()> {
        let mut st = self.st.lock().unwrap();
        let name = with(&mut st, uuid, "load")?.info.name.clone();
        st.ops.push(format!("load {name}"));
        if st.fail_load_of.as_deref() == Some(name.as_str()) {
            return Err(err("load", &name, "injected failure"));
        }
        // Like the kernel: every device named must exist.
        for l in table {
            for w in l.3.split_whitespace() {
                if let Some((a, b)) = w.split_once(':') {
                    if let (Ok(major), Ok(minor)) = (a.parse(), b.parse()) {
                        let n = DevNum { major, minor };
                        if !st.disks.contains(&n) && !st.devs.iter().any(|d| d.info.dev == n) {
                            return Err(err(
                                "load",
                                &name,
                                &format!("ENXIO: device {n} not found"),
                            ));
                        }
                    }
                }
            }
        }
        let d = with(&mut st, uuid, "load")?;
        d.inactive = Some(table.to_vec());
        d.inactive_ro = false;
        Ok(())
    }

    fn load_read_only(&self, uuid: &str, table: &[RawLine]) -> Result<()> {
        self.load(uuid, table)?;
        let mut st = self.st.lock().unwrap();
        with(&mut st, uuid, "load")?.inactive_ro = true;
        let name = with(&mut st, uuid, "load")?.info.name.clone();
        st.ops.push(format!("read-only {name}"));
        Ok(())
    }

    fn read_only(&self, uuid: &str) -> Result<bool> {
        let mut st = self.st.lock().unwrap();
        Ok(with(&mut st, uuid, "info")?.live_ro)
    }

    fn clear(&self, uuid: &str) -> Result<()> {
        let mut st = self.st.lock().unwrap();
        with(&mut st, uuid, "clear")?.inactive = None;
        Ok(())
    }

    fn suspend(&self, uuid: &str) -> Result<()> {
        suspend_logged(&mut self.st.lock().unwrap(), uuid, "suspend")
    }

    fn suspend_noflush(&self, uuid: &str) -> Result<()> {
        suspend_logged(&mut self.st.lock().unwrap(), uuid, "suspend --noflush")
    }

    fn resume(&self, uuid: &str) -> Result<()> {
        let mut st = self.st.lock().unwrap();
        let d = with(&mut st, uuid, "resume")?;
        if let Some(t) = d.inactive.take() {
            d.live = Some(t);
            d.live_ro = d.inactive_ro;
            d.info.live_table = true;
        }
        d.info.suspended = false;
        let n = d.info.name.clone();
        st.ops.push(format!("resume {n}"));
        Ok(())
    }

    fn remove(&self, uuid: &str) -> Result<()> {
        let mut st = self.st.lock().unwrap();
        let d = with(&mut st, uuid, "remove")?;
        if d.info.open_count > 0 {
            return Err(err("remove", uuid, "EBUSY: open"));
        }
        let (n, num) = (d.info.name.clone(), d.info.dev);
        // Like the kernel: a device another table uses cannot go.
        let used = st.devs.iter().any(|o| {
            o.live
                .iter()
                .flatten()
                .any(|l| l.3.split_whitespace().any(|w| w == num.to_string()))
        });
        if used {
            return Err(err("remove", &n, "EBUSY: in use by another device"));
        }
        st.ops.push(format!("remove {n}"));
        st.devs.retain(|d| d.info.uuid != uuid);
        Ok(())
    }

    fn info(&self, uuid: &str) -> Result<Option<DevInfo>> {
        Ok(self.find_info(|i| i.uuid == uuid))
    }

    fn info_by_name(&self, name: &str) -> Result<Option<DevInfo>> {
        Ok(self.find_info(|i| i.name == name))
    }

    fn table(&self, uuid: &str) -> Result<Vec<RawLine>> {
        let mut st = self.st.lock().unwrap();
        Ok(with(&mut st, uuid, "table")?
            .live
            .clone()
            .unwrap_or_default())
    }

    fn status(&self, uuid: &str) -> Result<Vec<RawLine>> {
        let mut st = self.st.lock().unwrap();
        let d = with(&mut st, uuid, "status")?;
        // In memory every mirror is in sync at once.
        Ok(d.live
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(s, l, t, p)| {
                let f: Vec<&str> = p.split_whitespace().collect();
                let st = match t.as_str() {
                    "raid" => {
                        let n: usize = f
                            .iter()
                            .position(|w| *w == "region_size")
                            .and_then(|i| f.get(i + 2))
                            .and_then(|w| w.parse().ok())
                            .unwrap_or(0);
                        format!("raid1 {n} {} {l}/{l} idle 0 0 -", "A".repeat(n))
                    }
                    "mirror" => "2 0:0 0:0 1/1 1 AA 1 core".to_string(),
                    _ => String::new(),
                };
                (s, l, t, st)
            })
            .collect())
    }

    fn list(&self) -> Result<Vec<DevInfo>> {
        Ok(self
            .st
            .lock()
            .unwrap()
            .devs
            .iter()
            .map(|d| d.info.clone())
            .collect())
    }

    fn listed(&self) -> Result<Option<Vec<crate::Listed>>> {
        Ok(Some(
            self.list()?
                .into_iter()
                .map(|i| crate::Listed {
                    name: i.name,
                    uuid: i.uuid,
                    dev: i.dev,
                })
                .collect(),
        ))
    }
}
