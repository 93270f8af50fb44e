//! The driver's side of `policy.detach = global` ([`clvmd_core::WatchAction::Detach`]): on a
//! thread of its own (it takes the VG lock and writes metadata, which may wait), the failed
//! legs of an LV (named by their image LVs when the failure was read) are removed from the
//! metadata through lvmeta's transaction path, as a client of this daemon's own socket: the
//! VG lock is taken EX like any command's, and its release with the new seqno is what tells
//! the other nodes to reload (coord.rs's propagation). The same thread reads a VG's own
//! detach policy (its `halvm_detach_*` tag) when a leg fails, before the machine decides,
//! and writes another node's commit that node could not write ([`Job::WriteCommit`]).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::time::Duration;

use clvmd_core::{CarriedCommit, Detach, Input, LvRef};
use lvmeta::ops::Ctx;
use lvmeta_dm::DmBackend;

/// How long the detach waits for the VG lock (another command may hold it).
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Work for the detach thread.
pub enum Job {
    /// Detach the LV's dead legs, named by their image LVs, cluster-wide.
    Detach(u64, LvRef, Vec<String>),
    /// Read the LV's VG's own detach policy.
    Policy(u64, LvRef),
    /// Write another node's commit (its command holds the VG lock EX; dgfail.rs).
    WriteCommit(u64, CarriedCommit),
}

/// Starts the detach thread; completions go to `done` and a byte to `wake`.
pub fn spawn(socket: PathBuf, done: Sender<Input>, wake: UnixStream) -> Sender<Job> {
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name("detach".into())
        .spawn(move || {
            let mut wake = wake;
            for job in rx {
                let input = match job {
                    Job::Detach(tag, lv, images) => match detach(&socket, &lv, &images) {
                        Err(e) if matches!(*e, Detached::NoMetadata { .. }) => {
                            Input::DetachNoMetadata {
                                tag,
                                error: e.to_string(),
                                policy: vg_dgfail_policy(&lv.vg),
                            }
                        }
                        r => Input::WatchDone {
                            tag,
                            result: r.map(|()| Vec::new()).map_err(|e| {
                                log::debug!("{lv}: detach failed: {e:?}");
                                e.to_string()
                            }),
                        },
                    },
                    Job::Policy(tag, lv) => Input::PolicyRead {
                        tag,
                        result: vg_policy(&lv.vg),
                    },
                    Job::WriteCommit(tag, c) => Input::CommitWritten {
                        tag,
                        result: write_commit(&c),
                    },
                };
                if done.send(input).is_err() {
                    return;
                }
                let _ = wake.write(&[1]);
            }
        })
        .expect("spawn detach thread");
    tx
}

/// The detach policy VG `vg`'s tags set, read without a lock (lvm2's commit is one atomic
/// sector write, so the read sees the old metadata or the new). A peek: the daemon's own
/// lock requests would go through its own loop, and the tags are a hint the detach
/// commit, made under the VG lock, reads again.
fn vg_policy(vg: &str) -> Result<Option<Detach>, String> {
    let env = crate::dm::daemon_env(Arc::new(lvmeta::lock::MemLocking::new()))
        .map_err(|e| e.to_string())?;
    let (_, r) = Ctx { env: &env }.peek_vg(vg).map_err(|e| e.to_string())?;
    Ok(halvm_config::DetachPolicy::from_vg_tags(&r.vg.tags).map(crate::core_detach))
}

/// Writes another node's commit from this node's view of the disks, without the VG lock
/// (that node's command holds it EX for it), if the VG on disk is the one it names.
fn write_commit(c: &CarriedCommit) -> Result<(), String> {
    let env = crate::dm::daemon_env(Arc::new(lvmeta::lock::MemLocking::new()))
        .map_err(|e| e.to_string())?;
    Ctx { env: &env }
        .write_carried(&c.vg, &c.vg_uuid, u64::from(c.disk_seqno), &c.metadata)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Why a detach of LV `lv`'s legs `images` failed. The machine's log line and `status` put
/// it after the LV and its legs, so the text says the step and the cause.
#[derive(Debug, thiserror::Error)]
enum Detached {
    /// No metadata copy written, or none readable from here: a peer may carry the commit,
    /// then the metadata-loss policy applies. The text is lvmeta's, which the carry request
    /// and the policy's messages quote.
    #[error("{source}")]
    NoMetadata {
        lv: LvRef,
        source: lvmeta::ops::OpError,
    },
    /// lvmeta's environment (lvm.conf, halvm.toml) could not be built: nothing was read.
    #[error("reading the configuration: {source}")]
    Env {
        lv: LvRef,
        source: lvmeta::env::EnvError,
    },
    /// The commit removing the legs from VG `lv.vg`'s metadata failed (the VG lock, the
    /// read, the checks or the write).
    #[error("removing {} from the metadata of VG {}: {source}", images.join(", "), lv.vg)]
    Commit {
        lv: LvRef,
        images: Vec<String>,
        source: lvmeta::ops::OpError,
    },
}

/// The outcome of `remove_failed_images`' error: no metadata written (a copy not written, or
/// `unreadable`: the VG, known to exist, read behind devices failing I/O) or a failed commit.
fn classify(
    lv: &LvRef,
    images: &[String],
    e: lvmeta::ops::OpError,
    unreadable: impl FnOnce() -> Option<lvmeta::ops::OpError>,
) -> Detached {
    use lvmeta::ops::OpError;
    // The VG exists (its LV is active here): not found behind devices failing I/O is no
    // metadata readable from here, which no copy written follows.
    let unreadable = match e {
        OpError::VgNotFound { .. } | OpError::NoValidCopy { .. } => unreadable(),
        _ => None,
    };
    match (e, unreadable) {
        (source @ OpError::NoMetadataCopy { .. }, _) | (_, Some(source)) => Detached::NoMetadata {
            lv: lv.clone(),
            source,
        },
        (source, None) => Detached::Commit {
            lv: lv.clone(),
            images: images.to_vec(),
            source,
        },
    }
}

/// The metadata-loss policy VG `vg`'s tags set (read without a lock, as [`vg_policy`]).
fn vg_dgfail_policy(vg: &str) -> Option<clvmd_proto::DgFailure> {
    let env = crate::dm::daemon_env(Arc::new(lvmeta::lock::MemLocking::new())).ok()?;
    let (_, r) = Ctx { env: &env }.peek_vg(vg).ok()?;
    halvm_config::DgFailurePolicy::from_vg_tags(&r.vg.tags).map(|p| match p {
        halvm_config::DgFailurePolicy::Dgdisable => clvmd_proto::DgFailure::Dgdisable,
        halvm_config::DgFailurePolicy::Leave => clvmd_proto::DgFailure::Leave,
    })
}

/// Boxed: lvmeta's errors are large, and this is the slow path.
fn detach(socket: &std::path::Path, lv: &LvRef, images: &[String]) -> Result<(), Box<Detached>> {
    // A commit that writes no copy is not reported by the lock: the machine first lets a
    // peer carry it (Input::DetachNoMetadata), then applies the policy.
    let locks = clvmd_client::DlmLocking::new(socket, LOCK_WAIT).without_metadata_loss_report();
    let env = crate::dm::daemon_env(Arc::new(locks)).map_err(|source| {
        Box::new(Detached::Env {
            lv: lv.clone(),
            source,
        })
    })?;
    let ctx = Ctx { env: &env };
    let out = ctx
        .remove_failed_images(&lv.vg, &lv.uuid, images)
        .map_err(|e| {
            // Why the locked read failed, asked without a lock: only which error to report
            // depends on it.
            Box::new(classify(lv, images, e, || {
                match ctx.peek_known_vg(&lv.vg) {
                    Err(u @ lvmeta::ops::OpError::NoMetadataReadable { .. }) => Some(u),
                    _ => None,
                }
            }))
        })?;
    match &out.log {
        Some(lvmeta::ops::LogReplaced::Disk(new)) => {
            log::warn!("{lv}: failed mirror log replaced by {new} in the metadata (full resync)")
        }
        Some(lvmeta::ops::LogReplaced::Core(why)) => log::warn!(
            "{lv}: failed mirror log removed; no room for a new one ({why}): core log (full resync)"
        ),
        None => {}
    }
    if out.images.is_empty() && out.log.is_none() {
        log::info!("{lv}: {images:?} already detached (by another node)");
    } else if !out.images.is_empty() {
        log::warn!(
            "{lv}: detached {:?} in the metadata{}{}",
            out.images,
            if out.now_linear { "; now linear" } else { "" },
            if out.missing.is_empty() {
                String::new()
            } else {
                format!("; PV(s) {} marked MISSING", out.missing.join(", "))
            }
        );
    }
    Ok(())
}

/// The image LV behind each leg of a mirror or raid1 top device, in the order of its live
/// table: dm-mirror lists `<#mirrors> <dev> <offset>...` after its log arguments, dm-raid's
/// raid1 `<#devs> <meta> <data>...` after its raid parameters; each device is an image's dm
/// device (`<vg>-<lv>_mimage_N`), whose lvm2 name gives the image LV. Read right after the
/// status, so a failed leg is named before any reload can renumber the legs.
pub fn leg_images(dm: &dyn DmBackend, lv: &LvRef, top: &str) -> Result<Vec<String>, String> {
    let table = dm.table(top).map_err(|e| e.to_string())?;
    let [(_, _, target, params)] = table.as_slice() else {
        return Err(format!("{lv}: {} table lines, not one mirror", table.len()));
    };
    let f: Vec<&str> = params.split_whitespace().collect();
    let num = |i: usize| -> Result<usize, String> {
        f.get(i)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{lv}: cannot read the {target} table {params:?}"))
    };
    let devs: Vec<&str> = match target.as_str() {
        "mirror" => {
            let at = 2 + num(1)?;
            let n = num(at)?;
            (0..n)
                .filter_map(|i| f.get(at + 1 + 2 * i).copied())
                .collect()
        }
        "raid" if f.first() == Some(&"raid1") => {
            let at = 2 + num(1)?;
            let n = num(at)?;
            (0..n)
                .filter_map(|i| f.get(at + 2 + 2 * i).copied())
                .collect()
        }
        t => return Err(format!("{lv} is a {t} device, not a mirror or raid1")),
    };
    let listed = dm.list().map_err(|e| e.to_string())?;
    devs.iter()
        .enumerate()
        .map(|(i, dev)| sub_lv(&listed, lv, &format!("leg {i}"), dev))
        .collect()
}

/// The LV id (no dashes) of a mirror top device's disk log, from its live table (`mirror disk
/// <#args> <dev> ...`) and the log device's dm UUID (`LVM-<vg id><lv id>`); None for a core
/// log. An id, not a name: a replacement log has the same name.
pub fn log_lv_id(dm: &dyn DmBackend, lv: &LvRef, top: &str) -> Result<Option<String>, String> {
    let table = dm.table(top).map_err(|e| e.to_string())?;
    let [(_, _, target, params)] = table.as_slice() else {
        return Err(format!("{lv}: {} table lines, not one mirror", table.len()));
    };
    let f: Vec<&str> = params.split_whitespace().collect();
    match (target.as_str(), f.first(), f.get(2)) {
        ("mirror", Some(&"disk"), Some(dev)) => {
            let listed = dm.list().map_err(|e| e.to_string())?;
            let info = listed
                .iter()
                .find(|d| d.dev.to_string() == *dev)
                .ok_or_else(|| format!("{lv}: the log ({dev}) is not a device-mapper device"))?;
            lvmeta_model::ids::split_dm_uuid(&info.uuid)
                .map(|u| Some(u.lv_id.to_string()))
                .ok_or_else(|| format!("{lv}: the log is {}, not an LVM sub-LV", info.uuid))
        }
        ("mirror", _, _) => Ok(None),
        (t, _, _) => Err(format!("{lv} is a {t} device, not a mirror")),
    }
}

/// The LV behind device `dev` (`major:minor`) among `listed`, by its lvm2 dm name.
fn sub_lv(
    listed: &[lvmeta_dm::DevInfo],
    lv: &LvRef,
    what: &str,
    dev: &str,
) -> Result<String, String> {
    let info = listed
        .iter()
        .find(|d| d.dev.to_string() == *dev)
        .ok_or_else(|| format!("{lv}: {what} ({dev}) is not a device-mapper device"))?;
    lvmeta_model::ids::split_dm_name(&info.name)
        .map(|(_, image, _)| image)
        .ok_or_else(|| format!("{lv}: {what} is {}, not an LVM sub-LV", info.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvmeta_dm::mem::MemDm;

    /// Each failure of the detach commit keeps what failed (the LV, its legs, the step) and
    /// lvmeta's typed error; no metadata written or readable goes to the carry path with
    /// lvmeta's own words; the rest names the legs and the VG before the cause.
    #[test]
    fn detach_failures_are_mapped_with_what_failed() {
        use lvmeta::ops::OpError;
        let lv = LvRef {
            vg: "vg".into(),
            uuid: "llllll-llll-llll-llll-llll-llll-llllll".into(),
            name: "m".into(),
        };
        let images = vec!["m_mimage_1".to_string(), "m_mlog".to_string()];
        let unreadable = || OpError::NoMetadataReadable {
            vg: "vg".into(),
            failed: vec!["/dev/sdb".into()],
            first: "Input/output error".into(),
        };

        let no_copy = OpError::NoMetadataCopy {
            vg: "vg".into(),
            areas: 2,
            failed: vec!["/dev/sdb".into()],
            first: "Input/output error".into(),
        };
        let words = no_copy.to_string();
        let e = classify(&lv, &images, no_copy, || panic!("not asked"));
        assert!(
            matches!(&e, Detached::NoMetadata { lv: l, source: OpError::NoMetadataCopy { .. } } if *l == lv),
            "{e:?}"
        );
        assert_eq!(e.to_string(), words, "lvmeta's words for the carry request");

        // Not found while devices fail I/O: no metadata readable, the unlocked read's error.
        let e = classify(
            &lv,
            &images,
            OpError::VgNotFound { vg: "vg".into() },
            || Some(unreadable()),
        );
        assert!(
            matches!(
                &e,
                Detached::NoMetadata {
                    source: OpError::NoMetadataReadable { .. },
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.to_string(), unreadable().to_string());

        // Not found, and nothing fails I/O: a failed commit, the VG's own error kept.
        let e = classify(
            &lv,
            &images,
            OpError::VgNotFound { vg: "vg".into() },
            || None,
        );
        match &e {
            Detached::Commit {
                lv: l,
                images: i,
                source: OpError::VgNotFound { vg },
            } => {
                assert_eq!((l, i, vg.as_str()), (&lv, &images, "vg"))
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(
            e.to_string(),
            format!(
                "removing m_mimage_1, m_mlog from the metadata of VG vg: {}",
                OpError::VgNotFound { vg: "vg".into() }
            )
        );

        // Anything else: the commit failed, its error typed and quoted.
        let e = classify(
            &lv,
            &images,
            OpError::InUse {
                vg: "vg".into(),
                lv: "m".into(),
            },
            || panic!("not asked"),
        );
        assert!(
            matches!(
                &e,
                Detached::Commit {
                    source: OpError::InUse { .. },
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("removing m_mimage_1, m_mlog from the metadata of VG vg: "),
            "{e}"
        );

        // The environment: the step named, the configuration's error kept.
        let env_error = lvmeta::env::EnvError::Config(halvm_config::ConfigError::Read {
            path: "/etc/halvm/halvm.toml".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        let e = Detached::Env {
            lv: lv.clone(),
            source: env_error,
        };
        assert_eq!(
            e.to_string(),
            "reading the configuration: /etc/halvm/halvm.toml: cannot read configuration: \
             permission denied"
        );
    }

    #[test]
    fn legs_are_named_from_the_live_table() {
        let dm = MemDm::new([]);
        let vgid = "v".repeat(32);
        let lvid = "l".repeat(32);
        let mut nums = Vec::new();
        for (name, uuid) in [
            (
                "vg-m_mimage_0",
                format!("LVM-{vgid}{}-mimage_0", "i".repeat(32)),
            ),
            (
                "vg-m_mimage_2",
                format!("LVM-{vgid}{}-mimage_2", "j".repeat(32)),
            ),
        ] {
            nums.push(dm.create(name, &uuid).unwrap());
        }
        let top = format!("LVM-{vgid}{lvid}");
        dm.create("vg-m", &top).unwrap();
        let params = format!("core 1 1024 2 {} 0 {} 0 1 handle_errors", nums[0], nums[1]);
        dm.load(&top, &[(0, 16384, "mirror".into(), params)])
            .unwrap();
        dm.resume(&top).unwrap();
        let lv0 = LvRef {
            vg: "vg".into(),
            uuid: "llllll-llll-llll-llll-llll-llll-llllll".into(),
            name: "m".into(),
        };
        assert_eq!(log_lv_id(&dm, &lv0, &top).unwrap(), None, "core log");
        let log = dm
            .create("vg-m_mlog", &format!("LVM-{vgid}{}", "k".repeat(32)))
            .unwrap();
        let params = format!(
            "disk 2 {log} 1024 2 {} 0 {} 0 1 handle_errors",
            nums[0], nums[1]
        );
        dm.suspend(&top).unwrap();
        dm.load(&top, &[(0, 16384, "mirror".into(), params)])
            .unwrap();
        dm.resume(&top).unwrap();
        assert_eq!(log_lv_id(&dm, &lv0, &top).unwrap(), Some("k".repeat(32)));
        assert_eq!(
            leg_images(&dm, &lv0, &top).unwrap(),
            ["m_mimage_0", "m_mimage_2"],
            "legs after a disk log's arguments"
        );
        let lv = LvRef {
            vg: "vg".into(),
            uuid: "llllll-llll-llll-llll-llll-llll-llllll".into(),
            name: "m".into(),
        };
        assert_eq!(
            leg_images(&dm, &lv, &top).unwrap(),
            ["m_mimage_0", "m_mimage_2"]
        );
        let params = format!("raid1 3 0 region_size 1024 2 - {} - {}", nums[0], nums[1]);
        dm.suspend(&top).unwrap();
        dm.load(&top, &[(0, 16384, "raid".into(), params)]).unwrap();
        dm.resume(&top).unwrap();
        assert_eq!(
            leg_images(&dm, &lv, &top).unwrap(),
            ["m_mimage_0", "m_mimage_2"]
        );
        dm.suspend(&top).unwrap();
        let leg0 = format!("{} 0", nums[0]);
        dm.load(&top, &[(0, 16384, "linear".into(), leg0)]).unwrap();
        dm.resume(&top).unwrap();
        assert!(leg_images(&dm, &lv, &top).is_err());
    }
}
