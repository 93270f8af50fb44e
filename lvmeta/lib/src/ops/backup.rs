//! vgcfgbackup and vgcfgrestore.

use std::path::{Path, PathBuf};

use super::*;
use crate::txn::PostCommit;
use lvmeta_model::{self as model, VolumeGroup};

impl Ctx<'_> {
    pub fn vgcfgbackup(&self, name: &str, file: &Path) -> Result<()> {
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
        std::fs::write(file, text).map_err(|source| OpError::File {
            path: file.into(),
            source,
        })?;
        Ok(())
    }

    pub fn vgcfgrestore(&self, name: &str, file: &Path) -> Result<()> {
        let text = std::fs::read_to_string(file).map_err(|source| OpError::File {
            path: file.into(),
            source,
        })?;
        let doc = lvmeta_text::parse(&text).map_err(|err| OpError::Parse {
            what: file.display().to_string(),
            err,
        })?;
        let mut vg = VolumeGroup::from_metadata(&doc).map_err(|e| VgError::Malformed {
            vg: name.into(),
            what: format!("{}: {e}", file.display()),
        })?;
        if vg.name != name {
            return Err(OpError::InvalidArg(format!(
                "{} holds VG {}, not {name}",
                file.display(),
                vg.name
            )));
        }
        self.put_vg(name, "vgcfgrestore", |sc, current| {
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

/// A VG's metadata in the `vgcfgbackup` / `/etc/lvm/backup` layout (lvm2's backup files),
/// with `description` as lvm2 writes it (`Created *after* executing '...'`).
pub fn backup_text(vg: &VolumeGroup, description: &str, host: &str) -> String {
    let trailer = model::Trailer::new(description, host, now(), uname().as_deref());
    lvmeta_text::write_with(&vg.to_backup(&trailer), lvmeta_text::Style::Backup)
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
    /// The command line named in the descriptions.
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
    /// Archive files of `vg`: (index, path), oldest first.
    fn archives(&self, dir: &Path, vg: &str) -> Vec<(u32, PathBuf)> {
        let prefix = format!("{vg}_");
        let mut out: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let rest = name.strip_prefix(&prefix)?.strip_suffix(".vg")?;
                let (index, _) = rest.split_once('-')?;
                (index.len() == 5).then_some(())?;
                Some((index.parse().ok()?, e.path()))
            })
            .collect();
        out.sort();
        out
    }

    fn prune(&self, dir: &Path, vg: &str) {
        let all = self.archives(dir, vg);
        let excess = all.len().saturating_sub(self.retain_min);
        let cutoff = std::time::SystemTime::now()
            .checked_sub(std::time::Duration::from_secs(self.retain_days * 86400));
        for (_, path) in all.into_iter().take(excess) {
            let old = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .zip(cutoff)
                .is_some_and(|(m, c)| m < c);
            if old {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

impl crate::txn::CommitHooks for LvmBackups {
    fn before_commit(&self, old: &VolumeGroup, _command: &str) -> Result<()> {
        let Some(dir) = &self.archive_dir else {
            return Ok(());
        };
        let next = self
            .archives(dir, &old.name)
            .last()
            .map_or(0, |(i, _)| i + 1);
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
        self.prune(dir, &old.name);
        Ok(())
    }

    fn after_commit(&self, name: &str, new: Option<&VolumeGroup>, _command: &str) -> Result<()> {
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
