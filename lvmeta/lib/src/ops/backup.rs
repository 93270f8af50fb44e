//! vgcfgbackup and vgcfgrestore.

use std::path::{Path, PathBuf};

use super::*;
use crate::txn::PostCommit;
use lvmeta_model::{self as model, VolumeGroup};

/// `vgcfgbackup`'s and `vgcfgrestore`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgcfgOptions {
    pub vg: String,
    /// The text file written or read.
    pub file: PathBuf,
}

impl Ctx<'_> {
    pub fn vgcfgbackup(&self, o: &VgcfgOptions) -> Result<()> {
        let (name, file) = (o.vg.as_str(), o.file.as_path());
        let text = self.read_vg(name, true, |sc, r| -> Result<_> {
            let mut vg = r.vg;
            for p in vg.pvs.iter_mut() {
                if let Some(i) = sc.device_index(p) {
                    p.device = Some(sc.pvs[i].path.to_string_lossy().into_owned());
                }
            }
            Ok(backup_text(
                &vg,
                &format!("Created *after* executing 'lvmeta vgcfgbackup {name}'"),
                &self.env.host,
            ))
        })?;
        if self.env.test_mode {
            // As lvm2's backup_to_file.
            log::info!("Test mode: Skipping backup of volume group.");
            return Ok(());
        }
        std::fs::write(file, text).map_err(|source| OpError::File {
            path: file.into(),
            source,
        })?;
        Ok(())
    }

    pub fn vgcfgrestore(&self, o: &VgcfgOptions) -> Result<()> {
        let (name, file) = (o.vg.as_str(), o.file.as_path());
        let mut vg = read_vg_file(file, name)?;
        if vg.name != name {
            return Err(OpError::InvalidArg(format!(
                "{} holds VG {}, not {name}",
                file.display(),
                vg.name
            )));
        }
        self.put_vg(name, |sc, current| {
            let mut post = Vec::new();
            for p in &vg.pvs {
                let i = sc.device_index(p).ok_or_else(|| OpError::MissingPv {
                    vg: name.into(),
                    uuid: p.id.clone(),
                    device: last_seen(p),
                })?;
                if let Some(other) = pv_vg_name(sc, &sc.pvs[i]).filter(|o| o != name) {
                    return Err(OpError::PvInVg {
                        path: sc.pvs[i].path.clone(),
                        vg: other,
                    });
                }
                post.push(PostCommit::SetUsed(i, true));
            }
            vg.seqno = current
                .as_ref()
                .map(|c| c.vg.seqno + 1)
                .unwrap_or(vg.seqno)
                .max(vg.seqno);
            Ok((vg, post))
        })?;
        Ok(())
    }
}

/// The VG in a metadata text file (a backup or archive, ours or lvm2's); `name` (may be
/// empty) names the VG in errors.
pub(super) fn read_vg_file(file: &Path, name: &str) -> Result<VolumeGroup> {
    let text = std::fs::read_to_string(file).map_err(|source| OpError::File {
        path: file.into(),
        source,
    })?;
    let doc = lvmeta_text::parse(&text).map_err(|err| OpError::Parse {
        what: file.display().to_string(),
        err,
    })?;
    Ok(
        VolumeGroup::from_metadata(&doc).map_err(|e| VgError::Malformed {
            vg: name.into(),
            what: format!("{}: {e}", file.display()),
        })?,
    )
}

/// A VG's metadata in the `vgcfgbackup` / `/etc/lvm/backup` layout (lvm2's backup files),
/// with `description` as lvm2 writes it (`Created *after* executing '...'`).
pub fn backup_text(vg: &VolumeGroup, description: &str, host: &str) -> String {
    let trailer = model::Trailer::new(description, host, now(), uname().as_deref());
    let mut out = String::with_capacity(4096 + 512 * vg.lvs.len());
    vg.write_backup(&trailer, &mut out);
    out
}

/// lvm2's metadata backups and archives as commit hooks (`backup {}` in lvm.conf): after
/// every commit the VG's metadata goes to `<backup_dir>/<vg>` ("Created *after* executing
/// ..."), and before it the metadata being replaced goes to
/// `<archive_dir>/<vg>_<NNNNN>-<random>.vg` ("Created *before* executing ..."), the files
/// `vgcfgrestore -f` reads. Archives beyond `retain_min` older than `retain_days` are pruned.
#[derive(Debug, Clone)]
pub struct LvmBackups {
    /// None: no backups (`backup = 0`).
    pub backup_dir: Option<PathBuf>,
    /// None: no archives (`archive = 0`).
    pub archive_dir: Option<PathBuf>,
    pub retain_min: usize,
    pub retain_days: u64,
    pub host: String,
    /// The command line named in the descriptions (lvm2's `cmd_line`): the one source of
    /// it, set once per process when the environment is built.
    pub command_line: String,
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let file_err = |source| OpError::File {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(file_err)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("vg"),
        std::process::id()
    ));
    std::fs::write(&tmp, text).map_err(file_err)?;
    std::fs::rename(&tmp, path).map_err(file_err)
}

impl LvmBackups {
    /// Archive files of `vg`: (index, path), oldest first. As lvm2's `_split_vg`: a name
    /// `<vg>_<index>...vg`, the VG name before the last `_`, the index its leading digits.
    fn archives(&self, dir: &Path, vg: &str) -> Vec<(u32, PathBuf)> {
        let mut out: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (found, rest) = name.strip_suffix(".vg")?.rsplit_once('_')?;
                (found == vg).then_some(())?;
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                Some((digits.parse().ok()?, e.path()))
            })
            .collect();
        out.sort();
        out
    }

    /// lvm2's `_remove_expired`: `older` are the archives that were there before the one just
    /// written (oldest first), which is never removed; nothing goes while `retain_min` or
    /// fewer archives remain, and removal stops at the first archive younger than
    /// `retain_days`.
    fn prune(&self, older: Vec<(u32, PathBuf)>) {
        let mut count = older.len() + 1;
        if count <= self.retain_min {
            return;
        }
        let Some(cutoff) = std::time::SystemTime::now()
            .checked_sub(std::time::Duration::from_secs(self.retain_days * 86400))
        else {
            return;
        };
        for (_, path) in older {
            let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) else {
                continue;
            };
            // lvm2 compares whole seconds: an archive of this very second counts as expired
            // with retain_days = 0.
            let secs = |t: std::time::SystemTime| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            };
            if secs(modified) > secs(cutoff) {
                return;
            }
            log::debug!("Expiring archive {}", path.display());
            if let Err(e) = std::fs::remove_file(&path) {
                log::warn!("unlink {}: {e}", path.display());
            }
            count -= 1;
            if count <= self.retain_min {
                return;
            }
        }
    }
}

impl crate::txn::CommitHooks for LvmBackups {
    fn before_commit(&self, old: &VolumeGroup) -> Result<()> {
        let Some(dir) = &self.archive_dir else {
            return Ok(());
        };
        let older = self.archives(dir, &old.name);
        let next = older.last().map_or(0, |(i, _)| i + 1);
        let path = dir.join(format!(
            "{}_{next:05}-{}.vg",
            old.name,
            rand::random::<u32>() >> 1
        ));
        let text = backup_text(
            old,
            &format!("Created *before* executing '{}'", self.command_line),
            &self.host,
        );
        write_atomically(&path, &text)?;
        self.prune(older);
        Ok(())
    }

    fn after_commit(&self, name: &str, new: Option<&VolumeGroup>) -> Result<()> {
        let Some(dir) = &self.backup_dir else {
            return Ok(());
        };
        let path = dir.join(name);
        match new {
            Some(vg) => write_atomically(
                &path,
                &backup_text(
                    vg,
                    &format!("Created *after* executing '{}'", self.command_line),
                    &self.host,
                ),
            ),
            // As lvm2's vgremove: the VG's backup goes (its archives stay).
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(OpError::File { path, source: e })
                }
                _ => Ok(()),
            },
        }
    }
}

/// One file `vgcfgrestore --list` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    pub path: PathBuf,
    pub vg: String,
    pub description: String,
    pub creation_time: i64,
}

impl LvmBackups {
    /// The archives of `vg`, oldest first, then its backup (lvm2's `vgcfgrestore --list`).
    /// Files that do not parse are left out.
    pub fn list(&self, vg: &str) -> Vec<BackupFile> {
        let mut paths: Vec<PathBuf> = match &self.archive_dir {
            Some(dir) => self.archives(dir, vg).into_iter().map(|(_, p)| p).collect(),
            None => Vec::new(),
        };
        if let Some(dir) = &self.backup_dir {
            paths.push(dir.join(vg));
        }
        paths
            .into_iter()
            .filter_map(|path| {
                let text = std::fs::read_to_string(&path).ok()?;
                let doc = lvmeta_text::parse(&text).ok()?;
                let t = model::Trailer::from_metadata(&doc).ok()?;
                Some(BackupFile {
                    path,
                    vg: vg.to_string(),
                    description: t.description,
                    creation_time: t.creation_time,
                })
            })
            .collect()
    }

    /// The backup `vgcfgrestore VG` restores without `-f`.
    pub fn backup_of(&self, vg: &str) -> Option<PathBuf> {
        self.backup_dir.as_ref().map(|d| d.join(vg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn backups(dir: &Path, retain_min: usize, retain_days: u64) -> LvmBackups {
        LvmBackups {
            backup_dir: None,
            archive_dir: Some(dir.to_path_buf()),
            retain_min,
            retain_days,
            host: "h".into(),
            command_line: "test".into(),
        }
    }

    /// Archives `vg_00000` .. of the given ages in days, oldest first.
    fn archives(dir: &Path, ages: &[u64]) -> Vec<(u32, PathBuf)> {
        ages.iter()
            .enumerate()
            .map(|(i, age)| {
                let p = dir.join(format!("vg_{i:05}-123.vg"));
                let f = std::fs::File::create(&p).unwrap();
                f.set_modified(SystemTime::now() - Duration::from_secs(age * 86400 + 60))
                    .unwrap();
                (i as u32, p)
            })
            .collect()
    }

    fn left(dir: &Path) -> Vec<u32> {
        let b = backups(dir, 0, 0);
        b.archives(dir, "vg").into_iter().map(|(i, _)| i).collect()
    }

    #[test]
    fn archive_names_parse_as_lvm2s() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "vg_00003-1.vg",
            "vg_123456-9.vg",
            "my_vg_00001-5.vg",
            "vg_x.vg",
            "vg_00002-1.vg.tmp",
            "vg2_00000-1.vg",
        ] {
            std::fs::write(d.path().join(n), "").unwrap();
        }
        assert_eq!(left(d.path()), vec![3, 123456]);
        let b = backups(d.path(), 0, 0);
        let mine: Vec<u32> = b.archives(d.path(), "my_vg").iter().map(|a| a.0).collect();
        assert_eq!(mine, vec![1]);
    }

    #[test]
    fn prune_keeps_retain_min_and_young_archives() {
        // 12 archives + the new one, 40 days old down to 0: retain_days 30 expires the
        // ten older than 30 days, but retain_min 10 stops it after three.
        let d = tempfile::tempdir().unwrap();
        let older = archives(d.path(), &[40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 1, 0]);
        backups(d.path(), 10, 30).prune(older);
        assert_eq!(left(d.path()), (3..12).collect::<Vec<_>>());

        // retain_min 2: every archive older than 30 days goes, the young ones stay, and
        // removal stops at the first young one even if an older one follows it.
        let d = tempfile::tempdir().unwrap();
        let older = archives(d.path(), &[40, 39, 5, 38, 0]);
        backups(d.path(), 2, 30).prune(older);
        assert_eq!(left(d.path()), vec![2, 3, 4]);

        // At or under retain_min (counting the new archive) nothing goes.
        let d = tempfile::tempdir().unwrap();
        let older = archives(d.path(), &[40, 40]);
        backups(d.path(), 3, 0).prune(older);
        assert_eq!(left(d.path()), vec![0, 1]);
    }

    #[test]
    fn the_new_archive_survives_retain_days_zero() {
        let d = tempfile::tempdir().unwrap();
        let b = backups(d.path(), 1, 0);
        let vg = VolumeGroup::from_metadata(
            &lvmeta_text::parse(
                "vg {\nid = \"6naUIA-xFW2-copw-uE5N-WA6g-oOw0-ePRagi\"\nseqno = 1\nformat = \"lvm2\"\n\
                 status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nflags = []\nextent_size = 8192\n\
                 max_lv = 0\nmax_pv = 0\nmetadata_copies = 0\nphysical_volumes {\n}\n}\n",
            )
            .unwrap(),
        )
        .unwrap();
        use crate::txn::CommitHooks;
        for _ in 0..3 {
            b.before_commit(&vg).unwrap();
        }
        // Each commit expires every older archive (retain_days 0) down to retain_min 1:
        // only the newest stays.
        assert_eq!(left(d.path()), vec![2]);
    }
}
