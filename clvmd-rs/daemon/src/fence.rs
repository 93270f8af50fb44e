//! Carries out the state machine's quorum fence ([`FenceAction`]) on the kernel's
//! device-mapper, on a thread of its own (a flushing suspend waits for I/O in flight).
//!
//! A VG's devices are those whose dm name lvm2-splits to that VG and whose UUID starts with
//! `LVM-`; only top-level ones (no other device of the VG maps onto them) are touched, which
//! stops every path from applications to the disks without the suspend-order deadlocks of
//! stacked devices. Before touching anything the driver writes what it is about to do to
//! `<dir>/<vg>.json` (with each device's table when failing I/O), so a thaw, even by a
//! restarted daemon, undoes exactly that; devices already suspended by someone else (a
//! resize in progress) are left alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clvmd_core::{FenceAction, Input, LvRef, LvStatus, QuorumLoss, WatchAction};
use lvmeta_dm::{DmBackend, RawLine};
use serde::{Deserialize, Serialize};

/// Work for the fence thread: quorum fence actions and mirror-health watching, in one
/// order, so stopping an LV's I/O never races a freeze of its VG.
pub enum Job {
    /// A fence action and when the poll loop ordered it (its wait in the queue is logged).
    Fence(u64, FenceAction, std::time::Instant),
    Watch(u64, WatchAction),
}

impl Job {
    /// The completion when device-mapper cannot be opened.
    pub fn unavailable(self) -> Input {
        let e = "device-mapper is not available".to_string();
        match self {
            Job::Fence(tag, _, _) => Input::FenceDone {
                tag,
                result: Err(e),
            },
            Job::Watch(tag, _) => Input::WatchDone {
                tag,
                result: Err(e),
            },
        }
    }
}

/// The dm UUID of an LV's top device: `LVM-` + VG UUID + LV UUID (no dashes, no layer).
pub(crate) fn top_uuid(dm: &dyn DmBackend, lv: &LvRef) -> Result<Option<String>, String> {
    let uuids: Vec<String> = dm
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| d.uuid)
        .collect();
    Ok(top_uuid_in(&uuids, lv))
}

/// [`top_uuid`] among the dm UUIDs read once (a health poll reads them once for all its LVs:
/// each read is an ioctl per device, and a freeze waits for the poll to end).
fn top_uuid_in(uuids: &[String], lv: &LvRef) -> Option<String> {
    let id = lv.uuid.replace('-', "");
    uuids
        .iter()
        .find(|u| {
            lvmeta_model::ids::split_dm_uuid(u).is_some_and(|u| u.lv_id == id && u.layer.is_none())
        })
        .cloned()
}

/// Carries out a [`WatchAction`]: reads the LVs' top-device status, or stops an LV's I/O
/// (a non-flushing suspend, because a mirror with handle_errors holds writes after a leg
/// fails and a flushing suspend would wait for them for ever; then an error table).
pub fn watch(dm: &dyn DmBackend, action: &WatchAction) -> Result<Vec<LvStatus>, String> {
    match action {
        WatchAction::Health { lvs } => {
            let mut out = Vec::new();
            let uuids: Vec<String> = dm
                .list()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|d| d.uuid)
                .collect();
            for lv in lvs {
                let Some(uuid) = top_uuid_in(&uuids, lv) else {
                    continue;
                };
                if let Ok(lines) = dm.status(&uuid) {
                    if let Some(l) = lines.into_iter().next() {
                        // Named only where a leg is dead: that is when a detach needs them.
                        let dead = clvmd_core::detach::dead_legs(&l.2, &l.3);
                        let legs = match dead {
                            Some(d) if !d.is_empty() => crate::detach::leg_images(dm, lv, &uuid)
                                .unwrap_or_else(|e| {
                                    log::error!("{lv}: cannot name the legs: {e}");
                                    Vec::new()
                                }),
                            _ => Vec::new(),
                        };
                        let log = if clvmd_core::detach::failed_log(&l.2, &l.3) {
                            crate::detach::log_lv_id(dm, lv, &uuid).unwrap_or_else(|e| {
                                log::error!("{lv}: cannot name the log: {e}");
                                None
                            })
                        } else {
                            None
                        };
                        out.push(LvStatus {
                            uuid: lv.uuid.clone(),
                            target: l.2,
                            params: l.3,
                            legs,
                            log,
                        });
                    }
                }
            }
            Ok(out)
        }
        WatchAction::FailLv { lv } => {
            let uuid = top_uuid(dm, lv)?.ok_or_else(|| format!("{lv} is not active"))?;
            let len: u64 = dm
                .table(&uuid)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|l| l.0 + l.1)
                .max()
                .unwrap_or(0);
            let error = vec![(0, len, "error".to_string(), String::new())];
            dm.suspend_noflush(&uuid)
                .and_then(|()| dm.load(&uuid, &error))
                .and_then(|()| dm.resume(&uuid))
                .map_err(|e| e.to_string())?;
            Ok(Vec::new())
        }
        WatchAction::Detach { lv, .. } | WatchAction::ReadPolicy { lv } => Err(format!(
            "{lv}: a detach is the detach thread's work, not the fence thread's"
        )),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    how: QuorumLoss,
    devices: Vec<Fenced>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Fenced {
    uuid: String,
    name: String,
    /// The live table before it was swapped for an error target (fail-io).
    table: Option<Vec<RawLine>>,
}

/// The VGs this node's quorum fence holds, shared by the fence thread and the
/// device-mapper thread, each holding it while it changes devices: a reload or resume the
/// machine ordered just before a freeze (a commit propagated, a member leaving) must neither
/// race with the freeze nor resume a device it has just suspended. (The machine holds such
/// outputs back once it knows of the freeze; this closes the window before it knows.)
#[derive(Clone, Default)]
pub struct FenceGuard(Arc<Mutex<BTreeSet<String>>>);

impl FenceGuard {
    pub fn lock(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct Fencer {
    dir: PathBuf,
    guard: FenceGuard,
}

impl Fencer {
    pub fn new(dir: PathBuf) -> Fencer {
        Fencer {
            dir,
            guard: FenceGuard::default(),
        }
    }

    /// The guard the device-mapper thread shares.
    pub fn guard(&self) -> FenceGuard {
        self.guard.clone()
    }

    fn record_path(&self, vg: &str) -> PathBuf {
        self.dir.join(format!("{vg}.json"))
    }

    /// VGs a previous daemon left fenced (its records).
    pub fn found(&self) -> Vec<(String, QuorumLoss)> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let p = e.path();
            let Some(vg) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            match read_record(&p) {
                Ok(r) => {
                    self.guard.lock().insert(vg.to_string());
                    out.push((vg.to_string(), r.how))
                }
                Err(e) => log::error!("ignoring {}: {e}", p.display()),
            }
        }
        out
    }

    /// Runs the code a freeze runs, short of writing and suspending, once at start: a freeze
    /// must not wait for its code to be paged in (the daemon's text is locked in memory, see
    /// [`crate::server::lock_code`], but the heap and the kernel's paths warm up here too).
    pub fn warm(&self, dm: &dyn DmBackend) {
        let t = std::time::Instant::now();
        let rec = Record {
            how: QuorumLoss::Freeze,
            devices: Vec::new(),
        };
        let _ = serde_json::to_string(&rec);
        let _ = read_record(&self.record_path("\u{0}"));
        match top_level(dm, "\u{0}") {
            Ok(_) => log::debug!("fence path warmed in {} ms", t.elapsed().as_millis()),
            Err(e) => log::warn!("device-mapper: {e}"),
        }
    }

    /// `ordered`: when the poll loop ordered the action (the wait for this thread is logged).
    pub fn run(
        &self,
        dm: &dyn DmBackend,
        action: &FenceAction,
        ordered: std::time::Instant,
    ) -> Result<(), String> {
        let mut fenced = self.guard.lock();
        match action {
            FenceAction::Freeze { vg, how } => {
                // Before the first suspend: from here the device-mapper thread resumes nothing.
                fenced.insert(vg.clone());
                self.freeze(dm, vg, *how, ordered)
            }
            FenceAction::Thaw { vg } => {
                let r = self.thaw(dm, vg);
                if r.is_ok() {
                    fenced.remove(vg);
                }
                r
            }
        }
    }

    fn freeze(
        &self,
        dm: &dyn DmBackend,
        vg: &str,
        how: QuorumLoss,
        ordered: std::time::Instant,
    ) -> Result<(), String> {
        // Where the reaction time goes: the queue (a health poll or a device-mapper action
        // holding the guard), finding the devices, the record, the suspends.
        let started = std::time::Instant::now();
        let path = self.record_path(vg);
        let mut rec = match read_record(&path) {
            Ok(r) => r,
            Err(_) => Record {
                how,
                devices: Vec::new(),
            },
        };
        let known: BTreeSet<String> = rec.devices.iter().map(|d| d.uuid.clone()).collect();
        let mut todo = Vec::new();
        for d in top_level(dm, vg)? {
            if known.contains(&d.uuid) {
                continue; // fenced already (a record left by a previous daemon)
            }
            if d.suspended {
                log::warn!("{}: suspended by someone else; left alone", d.name);
                continue;
            }
            let table = match rec.how {
                QuorumLoss::Freeze => None,
                QuorumLoss::FailIo => Some(dm.table(&d.uuid).map_err(|e| e.to_string())?),
            };
            rec.devices.push(Fenced {
                uuid: d.uuid.clone(),
                name: d.name.clone(),
                table,
            });
            todo.push(rec.devices.len() - 1);
        }
        let scanned = std::time::Instant::now();
        write_record(&self.dir, &path, &rec)?;
        let recorded = std::time::Instant::now();
        let mut errors = Vec::new();
        let mut kernel = std::time::Duration::ZERO;
        for i in todo {
            let d = &rec.devices[i];
            // How long the kernel took (a flushing suspend waits for the I/O in flight): the
            // part of the reaction time that is not the daemon's.
            let asked = std::time::Instant::now();
            let r = match &d.table {
                None => dm.suspend(&d.uuid),
                Some(t) => {
                    let len = t.iter().map(|l| l.0 + l.1).max().unwrap_or(0);
                    let error = vec![(0, len, "error".to_string(), String::new())];
                    dm.suspend(&d.uuid)
                        .and_then(|()| dm.load(&d.uuid, &error))
                        .and_then(|()| dm.resume(&d.uuid))
                }
            };
            kernel += asked.elapsed();
            match r {
                Ok(()) => log::warn!(
                    "{}: I/O stopped ({}) in {} ms, {} ms of them in the kernel",
                    d.name,
                    rec.how.as_str(),
                    started.elapsed().as_millis(),
                    asked.elapsed().as_millis()
                ),
                Err(e) => errors.push(format!("{}: {e}", d.name)),
            }
        }
        let us = |a: std::time::Instant, b: std::time::Instant| b.duration_since(a).as_micros();
        log::warn!(
            "{vg}: freeze timings (us): queued {}, devices found {}, recorded {}, suspended {} \
             (kernel {}), {} device(s)",
            us(ordered, started),
            us(started, scanned),
            us(scanned, recorded),
            recorded.elapsed().as_micros(),
            kernel.as_micros(),
            rec.devices.len()
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn thaw(&self, dm: &dyn DmBackend, vg: &str) -> Result<(), String> {
        let path = self.record_path(vg);
        let rec = match read_record(&path) {
            Ok(r) => r,
            Err(e) if e.contains("No such file") => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut errors = Vec::new();
        for d in &rec.devices {
            let info = match dm.info(&d.uuid) {
                Ok(Some(i)) => i,
                Ok(None) => continue, // deactivated meanwhile
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            let r = match &d.table {
                None if info.suspended => dm.resume(&d.uuid),
                None => Ok(()),
                Some(t) => {
                    let s = if info.suspended {
                        Ok(())
                    } else {
                        dm.suspend(&d.uuid)
                    };
                    s.and_then(|()| dm.load(&d.uuid, t))
                        .and_then(|()| dm.resume(&d.uuid))
                }
            };
            match r {
                Ok(()) => log::info!("{}: I/O resumed", d.name),
                Err(e) => errors.push(format!("{}: {e}", d.name)),
            }
        }
        if errors.is_empty() {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// The VG's active top-level LVM devices. Only the VG's devices (by their dm names, one
/// ioctl for all) are queried further: this runs inside the freeze's reaction time.
fn top_level(dm: &dyn DmBackend, vg: &str) -> Result<Vec<lvmeta_dm::DevInfo>, String> {
    let mut mine = Vec::new();
    for name in dm.names().map_err(|e| e.to_string())? {
        if lvmeta_model::ids::split_dm_name(&name).is_none_or(|(v, _, _)| v != vg) {
            continue;
        }
        match dm.info_by_name(&name).map_err(|e| e.to_string())? {
            Some(d) if lvmeta_model::ids::is_lvm_uuid(&d.uuid) => mine.push(d),
            _ => {} // removed meanwhile, or not lvm's
        }
    }
    let mut used = BTreeSet::new();
    for d in &mine {
        for l in dm.table(&d.uuid).map_err(|e| e.to_string())? {
            used.extend(l.3.split_whitespace().map(str::to_string));
        }
    }
    Ok(mine
        .into_iter()
        .filter(|d| !used.contains(&d.dev.to_string()))
        .collect())
}

fn read_record(path: &Path) -> Result<Record, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_record(dir: &Path, path: &Path, rec: &Record) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string(rec).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvmeta_activate::DevNum;
    use lvmeta_dm::mem::MemDm;

    fn dev(dm: &MemDm, name: &str, uuid: &str, table: Vec<RawLine>) -> DevNum {
        let n = dm.create(name, uuid).unwrap();
        dm.load(uuid, &table).unwrap();
        dm.resume(uuid).unwrap();
        n
    }

    /// A mirror in shared VG `vg` (two images under a top device), a linear LV in `vg`, and
    /// a linear LV in local VG `loc`.
    fn setup() -> MemDm {
        let dm = MemDm::new([DevNum { major: 8, minor: 0 }]);
        let lin = |n: u64| vec![(0u64, 100u64, "linear".to_string(), format!("8:0 {n}"))];
        let a = dev(
            &dm,
            "vg-m_mimage_0",
            "LVM-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
            lin(0),
        );
        let b = dev(
            &dm,
            "vg-m_mimage_1",
            "LVM-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2",
            lin(100),
        );
        dev(
            &dm,
            "vg-m",
            "LVM-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3",
            vec![(
                0,
                100,
                "mirror".into(),
                format!("core 1 1024 2 {a} 0 {b} 0"),
            )],
        );
        dev(
            &dm,
            "vg-l",
            "LVM-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4",
            lin(200),
        );
        dev(
            &dm,
            "loc-l",
            "LVM-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb5",
            lin(300),
        );
        dm
    }

    fn suspended(dm: &MemDm) -> Vec<String> {
        let mut v: Vec<String> = dm
            .list()
            .unwrap()
            .into_iter()
            .filter(|d| d.suspended)
            .map(|d| d.name)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn freeze_suspends_top_level_devices_of_that_vg_only_and_thaw_resumes_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = Fencer::new(dir.path().to_path_buf());
        let dm = setup();
        f.run(
            &dm,
            &FenceAction::Freeze {
                vg: "vg".into(),
                how: QuorumLoss::Freeze,
            },
            std::time::Instant::now(),
        )
        .unwrap();
        assert_eq!(suspended(&dm), ["vg-l", "vg-m"]);
        // The device-mapper thread's guard knows, here and in a restarted daemon.
        assert!(f.guard().lock().contains("vg"));
        let f2 = Fencer::new(dir.path().to_path_buf());
        assert_eq!(f2.found(), [("vg".to_string(), QuorumLoss::Freeze)]);
        assert!(f2.guard().lock().contains("vg"));
        f2.run(
            &dm,
            &FenceAction::Thaw { vg: "vg".into() },
            std::time::Instant::now(),
        )
        .unwrap();
        assert!(suspended(&dm).is_empty());
        assert!(f2.found().is_empty());
        assert!(!f2.guard().lock().contains("vg"));
    }

    #[test]
    fn fail_io_swaps_in_an_error_table_and_thaw_restores_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let f = Fencer::new(dir.path().to_path_buf());
        let dm = setup();
        let before = dm.table_text("vg-m").unwrap();
        f.run(
            &dm,
            &FenceAction::Freeze {
                vg: "vg".into(),
                how: QuorumLoss::FailIo,
            },
            std::time::Instant::now(),
        )
        .unwrap();
        assert!(suspended(&dm).is_empty(), "fail-io leaves devices running");
        assert!(dm.table_text("vg-m").unwrap().contains("error"));
        assert!(dm.table_text("vg-l").unwrap().contains("error"));
        assert!(dm.table_text("loc-l").unwrap().contains("linear"));
        // A second freeze (a restarted daemon) must not save the error table as original.
        f.run(
            &dm,
            &FenceAction::Freeze {
                vg: "vg".into(),
                how: QuorumLoss::FailIo,
            },
            std::time::Instant::now(),
        )
        .unwrap();
        f.run(
            &dm,
            &FenceAction::Thaw { vg: "vg".into() },
            std::time::Instant::now(),
        )
        .unwrap();
        assert_eq!(dm.table_text("vg-m").unwrap(), before);
        assert!(dm.table_text("vg-l").unwrap().contains("linear"));
        assert!(suspended(&dm).is_empty());
    }

    #[test]
    fn a_device_suspended_by_someone_else_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let f = Fencer::new(dir.path().to_path_buf());
        let dm = setup();
        dm.suspend("LVM-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4").unwrap();
        f.run(
            &dm,
            &FenceAction::Freeze {
                vg: "vg".into(),
                how: QuorumLoss::Freeze,
            },
            std::time::Instant::now(),
        )
        .unwrap();
        f.run(
            &dm,
            &FenceAction::Thaw { vg: "vg".into() },
            std::time::Instant::now(),
        )
        .unwrap();
        assert_eq!(suspended(&dm), ["vg-l"]);
    }

    #[test]
    fn watch_reads_the_top_device_status_and_fail_lv_swaps_in_an_error_table() {
        let dm = MemDm::new([DevNum { major: 8, minor: 0 }]);
        let lin = |n: u64| vec![(0u64, 100u64, "linear".to_string(), format!("8:0 {n}"))];
        let vgid = "V".repeat(32);
        let a = dev(
            &dm,
            "vg-m_mimage_0",
            &format!("LVM-{vgid}{}", "1".repeat(32)),
            lin(0),
        );
        let b = dev(
            &dm,
            "vg-m_mimage_1",
            &format!("LVM-{vgid}{}", "2".repeat(32)),
            lin(100),
        );
        let lv = LvRef {
            vg: "vg".into(),
            uuid: "abcdef-0123-4567-89AB-CDEF-0123-456789".into(),
            name: "m".into(),
        };
        let top = format!("LVM-{vgid}abcdef0123456789ABCDEF0123456789");
        dev(
            &dm,
            "vg-m",
            &top,
            vec![(
                0,
                100,
                "mirror".into(),
                format!("core 1 1024 2 {a} 0 {b} 0 1 handle_errors"),
            )],
        );
        let gone = LvRef {
            uuid: "zzzzzz-0123-4567-89AB-CDEF-0123-456789".into(),
            ..lv.clone()
        };
        let st = watch(
            &dm,
            &WatchAction::Health {
                lvs: vec![lv.clone(), gone],
            },
        )
        .unwrap();
        assert_eq!(st.len(), 1, "{st:?}");
        assert_eq!(
            (st[0].uuid.as_str(), st[0].target.as_str()),
            (lv.uuid.as_str(), "mirror")
        );
        assert_eq!(
            clvmd_core::detach::dead_legs(&st[0].target, &st[0].params),
            Some(vec![])
        );
        watch(&dm, &WatchAction::FailLv { lv: lv.clone() }).unwrap();
        assert_eq!(dm.table_text("vg-m").unwrap(), "0 100 error");
        assert!(suspended(&dm).is_empty());
        assert!(
            dm.ops()
                .iter()
                .any(|o| o.starts_with("suspend_noflush") || o.contains("noflush")),
            "{:?}",
            dm.ops()
        );
    }
}
