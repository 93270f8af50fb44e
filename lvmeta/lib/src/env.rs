//! The one environment every tool works in (`lvmeta`, the `LVM-activate` agent, and the
//! cluster daemon): which devices to scan and how to filter them, how to lock, this host's
//! system ID, the activation `volume_list`. Built by [`build`] from lvm2's own configuration
//! (`lvm.conf` and `lvmlocal.conf` in `$LVM_SYSTEM_DIR`, default `/etc/lvm`, read with
//! lvmeta-text: it is lvm2's grammar) and `halvm.toml`, which may override lvm's keys.
//!
//! Precedence, per key: a command-line flag, then `halvm.toml` when the key is set there,
//! then `lvm.conf`/`lvmlocal.conf`, then lvm2's default. `$HALVM_SYSTEM_ID` overrides the
//! system ID lvm2's `system_id_source` gives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lvmeta_ondisk::dev::{BlockDev, FileDev};

use crate::filter::{DeviceFilter, FilterError};
use crate::lock::{FlockLocking, LockError, LockManager};

/// `$LVM_SYSTEM_DIR`'s default.
pub const DEFAULT_LVM_SYSTEM_DIR: &str = "/etc/lvm";
/// lvm2's default `global/locking_dir`.
pub const DEFAULT_LOCKING_DIR: &str = "/run/lock/lvm";
/// Overrides lvm.conf's system ID source (tests, hosts without lvm.conf).
pub const SYSTEM_ID_VAR: &str = "HALVM_SYSTEM_ID";

/// Opens a device by path.
pub type OpenFn = Box<dyn Fn(&Path) -> std::io::Result<Arc<dyn BlockDev>> + Send + Sync>;

/// Where devices come from and how to lock; built by [`build`] (tests fill it by hand).
pub struct Env {
    /// `--devices`: only these (still filtered, as lvm2 filters them), no scanning.
    pub devices: Option<Vec<PathBuf>>,
    pub filter: DeviceFilter,
    /// Extra places to scan (directories of block devices or image files, or files).
    pub scan: Vec<PathBuf>,
    /// Local locks (lvm2's file locks); every command takes them.
    pub locks: Arc<dyn LockManager>,
    /// The cluster lock manager (clvmd-rs) for VGs with a `lock_type`; None: not available.
    /// Commands on such VGs take its VG lock in addition to the local one, as lvm2 with
    /// lvmlockd keeps its file locks too.
    pub cluster: Option<Arc<dyn LockManager>>,
    /// This host's system ID; VGs with another one are foreign.
    pub system_id: Option<String>,
    pub host: String,
    /// lvm's `activation/volume_list`; None: every LV may be activated.
    pub volume_list: Option<Vec<String>>,
    /// Device-mapper, asked before an LV or VG in use is removed or renamed; None: no
    /// device-mapper on this host (nothing can be active).
    pub kernel: Option<crate::activation::Kernel>,
    /// Called around every commit (lvm2's metadata archives and backups); None: nothing.
    pub hooks: Option<Arc<dyn crate::txn::CommitHooks>>,
    /// lvm2's `--test`: every check runs, nothing is written (no commit, no hooks, no
    /// label changes).
    pub test_mode: bool,
    /// Opens a device (tests substitute in-memory devices).
    pub open: OpenFn,
}

impl Env {
    /// lvm2's `--test`: every check runs; metadata, labels, backups and device-mapper are
    /// left as they are (device-mapper is still asked, through a dry-run wrapper).
    pub fn enter_test_mode(&mut self) {
        self.test_mode = true;
        self.kernel = self.kernel.take().map(crate::activation::Kernel::dry_run);
    }

    /// The environment's device-mapper, or why there is none (its control node could not be
    /// opened; asked again only to say why).
    pub fn require_kernel(
        &self,
    ) -> Result<&crate::activation::Kernel, crate::activation::ActivationError> {
        match &self.kernel {
            Some(k) => Ok(k),
            None => Err(crate::activation::Kernel::real().err().unwrap_or_else(|| {
                crate::activation::ActivationError::NoDm {
                    reason: "not opened when the environment was built".into(),
                }
            })),
        }
    }

    /// An environment over exactly `devices` with the given locks and nothing configured:
    /// no filter, no system ID, no volume_list (tests and embedders).
    pub fn with_devices(devices: Vec<PathBuf>, locks: Arc<dyn LockManager>) -> Env {
        Env {
            devices: Some(devices),
            filter: DeviceFilter::default(),
            scan: Vec::new(),
            locks,
            cluster: None,
            system_id: None,
            host: hostname(),
            volume_list: None,
            hooks: None,
            kernel: None,
            test_mode: false,
            open: Box::new(Env::file_open),
        }
    }

    pub fn file_open(path: &Path) -> std::io::Result<Arc<dyn BlockDev>> {
        match FileDev::open(path) {
            Ok(d) => Ok(Arc::new(d)),
            Err(_) => Ok(Arc::new(FileDev::open_read_only(path)?)),
        }
    }

    /// The cluster lock manager a VG of `lock_type` needs besides the local locks: None for
    /// a local VG; an error when the VG needs one this host does not have (lvm2 without
    /// lvmlockd refuses such VGs too).
    pub fn cluster_locks_for(
        &self,
        vg: &str,
        lock_type: Option<&str>,
    ) -> Result<Option<&dyn LockManager>, LockError> {
        match lock_type.filter(|t| !t.is_empty() && *t != "none") {
            None => Ok(None),
            Some("dlm") => match &self.cluster {
                Some(c) => Ok(Some(c.as_ref())),
                None => Err(LockError::NeedsCluster {
                    vg: vg.to_string(),
                    lock_type: "dlm".into(),
                }),
            },
            Some(other) => Err(LockError::NeedsCluster {
                vg: vg.to_string(),
                lock_type: other.to_string(),
            }),
        }
    }
}

/// This host's name (`uname -n`), `localhost` if unreadable.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error(transparent)]
    Config(#[from] halvm_config::ConfigError),
    #[error("{}: cannot read lvm configuration: {source}", path.display())]
    LvmConfRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {err}", path.display())]
    LvmConfParse {
        path: PathBuf,
        err: lvmeta_text::ParseError,
    },
    #[error("{}: {key}: {problem}", path.display())]
    LvmConfValue {
        path: PathBuf,
        key: String,
        problem: String,
    },
    #[error("{origin}: invalid device filter: {err}")]
    Filter { origin: String, err: FilterError },
    /// A `--config` string lvm2's parser would refuse (the byte and line are 1-based, in
    /// the string).
    #[error("--config: parse error at byte {byte} (line {line}): {what}")]
    ConfigString {
        byte: usize,
        line: usize,
        what: &'static str,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// The keys of `lvm.conf` + `lvmlocal.conf` that matter to an HA-LVM node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvmConf {
    /// The directory the files were read from (`$LVM_SYSTEM_DIR`).
    pub dir: PathBuf,
    pub filter: Vec<String>,
    pub global_filter: Vec<String>,
    /// `devices/scan`; None: not set (lvm2's default is `/dev`).
    pub scan: Option<Vec<PathBuf>>,
    /// `global/system_id_source`: none, uname, lvmlocal, machineid, file.
    pub system_id_source: String,
    /// `local/system_id` (lvmlocal.conf).
    pub local_system_id: Option<String>,
    /// `global/system_id_file`.
    pub system_id_file: Option<PathBuf>,
    /// `global/etc`: where `machine-id` is (lvm2's default `/etc`).
    pub etc: PathBuf,
    pub locking_dir: PathBuf,
    /// `global/prioritise_write_locks` (lvm2's default on).
    pub prioritise_write_locks: bool,
    /// `global/use_lvmlockd`: shared VGs through the cluster lock daemon (ours: clvmd-rs),
    /// the alternative to halvm.toml's `locking.lock_manager = "dlm"`.
    pub use_lvmlockd: bool,
    /// `activation/volume_list`; None: not set.
    pub volume_list: Option<Vec<String>>,
    /// `backup { backup backup_dir archive archive_dir retain_min retain_days }`.
    pub backup: bool,
    pub backup_dir: Option<PathBuf>,
    pub archive: bool,
    pub archive_dir: Option<PathBuf>,
    pub retain_min: u64,
    pub retain_days: u64,
}

impl Default for LvmConf {
    fn default() -> Self {
        LvmConf {
            dir: PathBuf::from(DEFAULT_LVM_SYSTEM_DIR),
            filter: Vec::new(),
            global_filter: Vec::new(),
            scan: None,
            system_id_source: "none".into(),
            local_system_id: None,
            system_id_file: None,
            etc: PathBuf::from("/etc"),
            locking_dir: PathBuf::from(DEFAULT_LOCKING_DIR),
            prioritise_write_locks: true,
            use_lvmlockd: false,
            volume_list: None,
            backup: true,
            backup_dir: None,
            archive: true,
            archive_dir: None,
            retain_min: 10,
            retain_days: 30,
        }
    }
}

impl LvmConf {
    /// `$LVM_SYSTEM_DIR`, else `/etc/lvm`.
    pub fn system_dir() -> PathBuf {
        std::env::var_os("LVM_SYSTEM_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LVM_SYSTEM_DIR))
    }

    /// Reads `lvm.conf` and `lvmlocal.conf` from `dir`; a missing file counts as empty (as
    /// for lvm2, which then runs on its defaults). What they say comes from the memo when
    /// these very texts were parsed ahead (in lvmeta-server), else is reported for the next
    /// command.
    pub fn load(dir: &Path) -> Result<LvmConf, EnvError> {
        let (main, local) = LvmConf::read(dir)?;
        if let Some(conf) = crate::memo::take_lvm(dir, &main, &local) {
            log::debug!("lvm.conf in {}: as parsed before", dir.display());
            return Ok(conf);
        }
        let conf = LvmConf::from_texts(dir, &main, &local)?;
        crate::memo::report(crate::memo::Report::Lvm {
            dir,
            main: &main,
            local: &local,
        });
        Ok(conf)
    }

    /// The texts of `lvm.conf` and `lvmlocal.conf` in `dir`, empty where absent.
    fn read(dir: &Path) -> Result<(String, String), EnvError> {
        let read = |name: &str| -> Result<String, EnvError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(t) => Ok(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(source) => Err(EnvError::LvmConfRead { path, source }),
            }
        };
        Ok((read("lvm.conf")?, read("lvmlocal.conf")?))
    }

    /// What `lvm.conf`'s text `main` and `lvmlocal.conf`'s `local` in `dir` say.
    pub(crate) fn from_texts(dir: &Path, main: &str, local: &str) -> Result<LvmConf, EnvError> {
        let mut conf = LvmConf {
            dir: dir.to_path_buf(),
            ..LvmConf::default()
        };
        // lvm2 merges the two files into one tree, lvmlocal.conf's keys winning.
        conf.apply(&dir.join("lvm.conf"), main)?;
        conf.apply(&dir.join("lvmlocal.conf"), local)?;
        Ok(conf)
    }

    /// Applies lvm2's `--config` string over the files (it wins over both): the same grammar,
    /// where a key may also be a path (`devices/filter = [...]`).
    pub fn apply_config_string(&mut self, text: &str) -> Result<(), EnvError> {
        let nested = nest_config_paths(text)?;
        self.apply(Path::new("--config"), &nested)
    }

    /// Takes the known keys of one file's text (later files override earlier ones).
    pub fn apply(&mut self, path: &Path, text: &str) -> Result<(), EnvError> {
        let doc = lvmeta_text::parse_settings(text).map_err(|err| EnvError::LvmConfParse {
            path: path.to_path_buf(),
            err,
        })?;
        let bad = |key: &str, problem: &str| EnvError::LvmConfValue {
            path: path.to_path_buf(),
            key: key.to_string(),
            problem: problem.to_string(),
        };
        // lvm2 takes a single string where a list is expected.
        let strings = |sec: &lvmeta_text::Section, key: &str, full: &str| match sec.get_value(key) {
            None => Ok(None),
            Some(lvmeta_text::Value::Str(s)) => Ok(Some(vec![s.to_string()])),
            Some(v) => match v.as_array() {
                Some(a) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .map(Some)
                    .ok_or_else(|| bad(full, "expected a list of strings")),
                None => Err(bad(full, "expected a list of strings")),
            },
        };
        let string = |sec: &lvmeta_text::Section, key: &str, full: &str| match sec.get_value(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| bad(full, "expected a string")),
        };
        if let Some(d) = doc.get_section("devices") {
            if let Some(f) = strings(d, "filter", "devices/filter")? {
                self.filter = f;
            }
            if let Some(f) = strings(d, "global_filter", "devices/global_filter")? {
                self.global_filter = f;
            }
            if let Some(s) = strings(d, "scan", "devices/scan")? {
                self.scan = Some(s.into_iter().map(PathBuf::from).collect());
            }
        }
        if let Some(g) = doc.get_section("global") {
            if let Some(s) = string(g, "system_id_source", "global/system_id_source")? {
                self.system_id_source = s;
            }
            if let Some(s) = string(g, "system_id_file", "global/system_id_file")? {
                self.system_id_file = Some(PathBuf::from(s));
            }
            if let Some(s) = string(g, "etc", "global/etc")? {
                self.etc = PathBuf::from(s);
            }
            if let Some(s) = string(g, "locking_dir", "global/locking_dir")? {
                self.locking_dir = PathBuf::from(s);
            }
            if let Some(v) = g.get_value("prioritise_write_locks") {
                let n = v
                    .as_int()
                    .ok_or_else(|| bad("global/prioritise_write_locks", "expected 0 or 1"))?;
                self.prioritise_write_locks = n != 0;
            }
            if let Some(v) = g.get_value("use_lvmlockd") {
                let n = v
                    .as_int()
                    .ok_or_else(|| bad("global/use_lvmlockd", "expected 0 or 1"))?;
                self.use_lvmlockd = n != 0;
            }
        }
        if let Some(l) = doc.get_section("local") {
            if let Some(s) = string(l, "system_id", "local/system_id")? {
                self.local_system_id = Some(s);
            }
        }
        if let Some(b) = doc.get_section("backup") {
            let flag = |key: &str| -> Result<Option<u64>, EnvError> {
                match b.get_value(key) {
                    None => Ok(None),
                    Some(v) => v
                        .as_int()
                        .filter(|n| *n >= 0)
                        .map(|n| Some(n as u64))
                        .ok_or_else(|| bad(&format!("backup/{key}"), "expected a number")),
                }
            };
            if let Some(n) = flag("backup")? {
                self.backup = n != 0;
            }
            if let Some(n) = flag("archive")? {
                self.archive = n != 0;
            }
            if let Some(n) = flag("retain_min")? {
                self.retain_min = n;
            }
            if let Some(n) = flag("retain_days")? {
                self.retain_days = n;
            }
            if let Some(s) = string(b, "backup_dir", "backup/backup_dir")? {
                self.backup_dir = Some(PathBuf::from(s));
            }
            if let Some(s) = string(b, "archive_dir", "backup/archive_dir")? {
                self.archive_dir = Some(PathBuf::from(s));
            }
        }
        if let Some(a) = doc.get_section("activation") {
            if let Some(v) = strings(a, "volume_list", "activation/volume_list")? {
                self.volume_list = Some(v);
            }
        }
        Ok(())
    }

    /// lvm2's backups and archives as this configuration asks for them (directories default
    /// to `backup` and `archive` in `$LVM_SYSTEM_DIR`); None when both are off.
    pub fn backups(&self, host: &str) -> Option<crate::ops::LvmBackups> {
        if !self.backup && !self.archive {
            return None;
        }
        let dir =
            |set: &Option<PathBuf>, sub: &str| set.clone().unwrap_or_else(|| self.dir.join(sub));
        Some(crate::ops::LvmBackups {
            backup_dir: self.backup.then(|| dir(&self.backup_dir, "backup")),
            archive_dir: self.archive.then(|| dir(&self.archive_dir, "archive")),
            retain_min: self.retain_min as usize,
            retain_days: self.retain_days,
            host: host.to_string(),
            command_line: command_line(),
        })
    }

    /// This host's system ID as lvm2 derives it from `system_id_source`, with `hostname`
    /// as `uname -n`. None: no system ID (source `none`, or nothing usable).
    pub fn system_id(&self, hostname: &str) -> Option<String> {
        let raw = match self.system_id_source.to_ascii_lowercase().as_str() {
            "uname" => Some(hostname.to_string()),
            "lvmlocal" => self.local_system_id.clone(),
            "machineid" | "machine-id" => first_line(&self.etc.join("machine-id")),
            "file" => self.system_id_file.as_deref().and_then(first_line),
            // "none", and unknown sources (lvm2 warns and uses none).
            _ => None,
        }?;
        system_id_from_string(&raw)
    }
}

/// The first line of a file that is not blank or a `#` comment, trimmed (lvm2's
/// `_read_system_id_from_file`).
fn first_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

/// lvm2's `system_id_from_string`: leading non-alphanumerics dropped, then only
/// alphanumerics and `. _ - +` kept, at most 128 characters; a result that is empty or begins
/// with `localhost` is no system ID.
pub fn system_id_from_string(s: &str) -> Option<String> {
    let id: String = s
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-_+".contains(*c))
        .take(128)
        .collect();
    if id.is_empty() || id.starts_with("localhost") {
        None
    } else {
        Some(id)
    }
}

/// lvm2's `--config` string as a nested document: `a/b = v` becomes `a { b = v }`, and
/// entries naming one section are merged into it (lvm2 merges them into one tree).
pub fn nest_config_paths(text: &str) -> Result<String, EnvError> {
    let doc = lvmeta_text::parse(text).map_err(|e| {
        // lvm2 counts bytes from the start of the string, 1-based.
        let line_start: usize = text
            .split_inclusive('\n')
            .take(e.line.saturating_sub(1))
            .map(str::len)
            .sum();
        let col_bytes: usize = text[line_start..]
            .chars()
            .take(e.column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        let what = match &e.kind {
            lvmeta_text::ParseErrorKind::Unexpected { expected, .. }
                if expected.contains("value") =>
            {
                "expected a value"
            }
            _ => "unexpected token",
        };
        EnvError::ConfigString {
            byte: line_start + col_bytes + 1,
            line: e.line,
            what,
        }
    })?;
    use lvmeta_text::{Node, Section};
    fn insert(sec: &mut Section<'static>, path: &[String], node: Node<'static>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if !rest.is_empty() {
            if sec.get_section_mut(first).is_none() {
                sec.push(first.clone(), Section::new());
            }
            if let Some(inner) = sec.get_section_mut(first) {
                insert(inner, rest, node);
            }
            return;
        }
        match node {
            Node::Section(inner) => match sec.get_section_mut(first) {
                Some(existing) => {
                    for (k, n) in inner.entries {
                        insert(existing, &[k.into_owned()], n);
                    }
                }
                None => sec.push(first.clone(), Node::Section(inner)),
            },
            // A later setting of a key wins.
            value => sec.set(first.clone(), value),
        }
    }
    let mut out = Section::new();
    for (k, n) in doc.into_owned().entries {
        let parts: Vec<String> = k
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        insert(&mut out, &parts, n);
    }
    Ok(lvmeta_text::write(&out))
}

/// What a command line may say about the environment.
#[derive(Debug, Clone, Default)]
pub struct EnvOptions {
    /// `--config`: the halvm.toml to read (else `$HALVM_CONFIG`, else the default path).
    pub config: Option<PathBuf>,
    /// `--devices`: exactly these devices.
    pub devices: Option<Vec<PathBuf>>,
    /// `--lock-dir`: overrides every configured lock directory.
    pub lock_dir: Option<PathBuf>,
    /// Where lvm.conf is; None: `$LVM_SYSTEM_DIR`, else `/etc/lvm`.
    pub lvm_system_dir: Option<PathBuf>,
    /// lvm2's `--config STRING`: lvm.conf settings that override the files.
    pub lvm_config: Option<String>,
}

/// The environment and the configuration it came from.
pub struct Built {
    pub env: Env,
    pub config: halvm_config::Config,
    pub lvm: LvmConf,
}

/// The one way to build an [`Env`] from configuration (see the module's precedence rules).
/// `cluster` (clvmd-rs's client, which sits above this crate) becomes [`Env::cluster`] when
/// the configuration asks for it ([`wants_cluster`]); it reaches the daemon at each cluster
/// lock, so without a running daemon a command fails at its first one. None: shared VGs
/// are refused ([`LockError::NeedsCluster`]).
pub fn build_with_cluster(
    opts: &EnvOptions,
    cluster: Option<Arc<dyn LockManager>>,
) -> Result<Built, EnvError> {
    let config = load_halvm(opts.config.as_deref())?;
    let dir = opts
        .lvm_system_dir
        .clone()
        .unwrap_or_else(LvmConf::system_dir);
    let mut lvm = LvmConf::load(&dir)?;
    if let Some(text) = &opts.lvm_config {
        lvm.apply_config_string(text)?;
    }
    let mut env = from_configs(opts, &config, &lvm, std::env::var(SYSTEM_ID_VAR).ok())?;
    if wants_cluster(&config, &lvm) {
        env.cluster = cluster;
    }
    Ok(Built { env, config, lvm })
}

/// halvm.toml as [`halvm_config::Config::load`] reads it; its parse from the memo when this
/// very text was parsed ahead (in lvmeta-server), else reported for the next command.
fn load_halvm(explicit: Option<&Path>) -> Result<halvm_config::Config, EnvError> {
    let at = halvm_config::ConfigPath::resolve(explicit, std::env::var_os(halvm_config::ENV_VAR));
    let Some(text) = halvm_config::Config::read(&at)? else {
        return Ok(halvm_config::Config::default());
    };
    let path = at.path();
    if let Some(config) = crate::memo::take_halvm(path, &text) {
        log::debug!("{}: as parsed before", path.display());
        return Ok(config);
    }
    let config = halvm_config::Config::parse(&text, path)?;
    crate::memo::report(crate::memo::Report::Halvm { path, text: &text });
    Ok(config)
}

/// Whether shared VGs go through the cluster lock daemon: halvm.toml's
/// `locking.lock_manager` when set there, else lvm.conf's `global/use_lvmlockd` (an lvm2
/// node configured for lvmlockd uses clvmd-rs without a halvm.toml).
pub fn wants_cluster(config: &halvm_config::Config, lvm: &LvmConf) -> bool {
    if config.is_set("locking.lock_manager") {
        config.locking.lock_manager == halvm_config::LockManager::Dlm
    } else {
        lvm.use_lvmlockd
    }
}

/// [`build_with_cluster`] from configurations already read, without the cluster lock
/// manager; `sid_override` is `$HALVM_SYSTEM_ID`.
fn from_configs(
    opts: &EnvOptions,
    config: &halvm_config::Config,
    lvm: &LvmConf,
    sid_override: Option<String>,
) -> Result<Env, EnvError> {
    let set = |key: &str| config.is_set(key);
    let filter_entries = if set("devices.filter") {
        config.devices.filter.clone()
    } else {
        lvm.filter.clone()
    };
    let origin = if set("devices.filter") {
        "halvm.toml devices.filter"
    } else {
        "lvm.conf devices/filter or global_filter"
    };
    let filter = DeviceFilter::with_global(&lvm.global_filter, &filter_entries).map_err(|err| {
        EnvError::Filter {
            origin: origin.into(),
            err,
        }
    })?;
    let scan = if set("devices.scan") {
        config.devices.scan.clone()
    } else {
        lvm.scan
            .clone()
            .unwrap_or_else(|| vec![PathBuf::from("/dev")])
    };
    // Block devices are listed from /proc/partitions already; scanning all of `/dev` as
    // well would read each PV under several names (and LVs' own devices).
    let scan = scan
        .into_iter()
        .filter(|p| p.as_path() != Path::new("/dev"))
        .collect();
    let lock_dir = match &opts.lock_dir {
        Some(d) => d.clone(),
        None if set("locking.lock_dir") => config.locking.lock_dir.clone(),
        None => lvm.locking_dir.clone(),
    };
    let locks = FlockLocking::new(lock_dir)?.prioritise_writes(lvm.prioritise_write_locks);
    let host = hostname();
    let system_id = match sid_override.map(|s| s.trim().to_string()) {
        Some(s) if !s.is_empty() => Some(s),
        _ => lvm.system_id(&host),
    };
    let volume_list = if set("activation.volume_list") {
        config.activation.volume_list.clone()
    } else {
        lvm.volume_list.clone()
    };
    let hooks = lvm
        .backups(&host)
        .map(|b| Arc::new(b) as Arc<dyn crate::txn::CommitHooks>);
    Ok(Env {
        devices: opts.devices.clone(),
        filter,
        scan,
        locks: Arc::new(locks),
        cluster: None,
        system_id,
        host,
        volume_list,
        hooks,
        // Without a control node there is no device-mapper, so no LV can be active.
        kernel: if Path::new("/dev/mapper/control").exists() {
            crate::activation::Kernel::real().ok()
        } else {
            None
        },
        test_mode: false,
        open: Box::new(Env::file_open),
    })
}

/// Turns transparent huge pages off for this process and the processes it forks or execs.
/// A command lives for milliseconds and needs a few MiB: with THP "always" (Debian's and
/// RHEL's default) each fresh 2 MiB-aligned heap region the allocator touches is faulted in
/// as a huge page, whose 2 MiB are zeroed first. In the lab's guests that was 10-15 ms of a
/// 65 ms `lvchange -aey` (perf: `clear_huge_page` under mimalloc's first touch of a page).
/// Best effort: a kernel without the prctl only keeps that cost.
pub fn without_huge_pages() {
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        log::debug!("PR_SET_THP_DISABLE: {e}");
    }
}

/// The command line set by [`set_command_line`], if any.
static COMMAND_LINE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Names `args` (the command's arguments, argv[0] excluded) as the command line that
/// backups and archives describe ("Created *before* executing '...'"), instead of this
/// process's arguments: an lvmeta-server worker runs its client's command line, not its own.
pub fn set_command_line(args: &[String]) {
    *COMMAND_LINE.lock().unwrap_or_else(|e| e.into_inner()) = Some(args.join(" "));
}

/// The command line backups describe: the one set, else this process's arguments.
fn command_line() -> String {
    let set = COMMAND_LINE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    set.unwrap_or_else(|| std::env::args().skip(1).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(lvm: &str, local: &str) -> LvmConf {
        let mut c = LvmConf::default();
        c.apply(Path::new("lvm.conf"), lvm).unwrap();
        c.apply(Path::new("lvmlocal.conf"), local).unwrap();
        c
    }

    #[test]
    fn without_huge_pages_sets_the_inherited_process_flag() {
        without_huge_pages();
        assert!(nix::sys::prctl::get_thp_disable().unwrap());
    }

    #[test]
    fn reads_the_keys_an_ha_lvm_node_has() {
        let c = conf(
            r#"devices {
    filter = [ "a|^/dev/vd|", "r|.*|" ]
    global_filter = "r|^/dev/sda|"
    scan = [ "/dev/disk" ]
}
global {
    locking_dir = "/run/lock/other"
    system_id_source = "lvmlocal"
    prioritise_write_locks = 0
}
activation { volume_list = [ "vg0", "@keep" ] }
"#,
            "local { system_id = \"node-7\" }\n",
        );
        assert_eq!(c.filter, ["a|^/dev/vd|", "r|.*|"]);
        assert_eq!(c.global_filter, ["r|^/dev/sda|"]);
        assert_eq!(c.scan, Some(vec![PathBuf::from("/dev/disk")]));
        assert_eq!(c.locking_dir, Path::new("/run/lock/other"));
        assert!(!c.prioritise_write_locks);
        assert_eq!(c.volume_list, Some(vec!["vg0".into(), "@keep".into()]));
        assert_eq!(c.system_id("host").as_deref(), Some("node-7"));
    }

    #[test]
    fn defaults_are_lvm2s() {
        let c = conf("", "");
        assert_eq!(c.locking_dir, Path::new("/run/lock/lvm"));
        assert_eq!(c.system_id("host"), None);
        assert!(c.prioritise_write_locks);
        // Debian's lvm.conf: every key commented out, sections empty.
        let c = conf(
            "config {\n}\ndevices {\n}\n# filter = [ \"a|.*|\" ]\nglobal {\n}\n",
            "",
        );
        assert_eq!(c, LvmConf::default());
    }

    #[test]
    fn system_id_sources_as_lvm2() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = conf("global { system_id_source = \"uname\" }", "");
        assert_eq!(
            c.system_id("node1.example").as_deref(),
            Some("node1.example")
        );
        assert_eq!(c.system_id("localhost"), None, "lvm2 refuses localhost*");
        assert_eq!(c.system_id("-x y!z").as_deref(), Some("xyz"));
        std::fs::write(dir.path().join("machine-id"), "abc123\n").unwrap();
        c.system_id_source = "machineid".into();
        c.etc = dir.path().to_path_buf();
        assert_eq!(c.system_id("h").as_deref(), Some("abc123"));
        std::fs::write(dir.path().join("sid"), "# comment\n\n  from-file \n").unwrap();
        c.system_id_source = "file".into();
        c.system_id_file = Some(dir.path().join("sid"));
        assert_eq!(c.system_id("h").as_deref(), Some("from-file"));
        c.system_id_source = "none".into();
        assert_eq!(c.system_id("h"), None);
    }

    fn toml(text: &str) -> halvm_config::Config {
        halvm_config::Config::parse(text, Path::new("halvm.toml")).unwrap()
    }

    #[test]
    fn halvm_toml_overrides_lvm_conf_only_where_set() {
        let dir = tempfile::tempdir().unwrap();
        let lvm = LvmConf {
            filter: vec!["r|.*|".into()],
            locking_dir: dir.path().join("lvm-locks"),
            system_id_source: "uname".into(),
            volume_list: Some(vec!["vg0".into()]),
            ..LvmConf::default()
        };
        let opts = EnvOptions::default();
        let env = from_configs(&opts, &toml(""), &lvm, None).unwrap();
        assert!(!env.filter.accepts("/dev/loop0"), "lvm.conf's filter");
        assert!(
            dir.path().join("lvm-locks").is_dir(),
            "lvm.conf's locking_dir"
        );
        assert_eq!(env.system_id, system_id_from_string(&hostname()));
        assert_eq!(env.volume_list, Some(vec!["vg0".into()]));
        let lock_dir = dir.path().join("halvm-locks");
        let t = toml(&format!(
            "[devices]\nfilter = [\"a(loop)\", \"r|.*|\"]\n[locking]\nlock_dir = \"{}\"\n[activation]\nvolume_list = [\"vg1\"]\n",
            lock_dir.display()
        ));
        let env = from_configs(&opts, &t, &lvm, Some("sid-9".into())).unwrap();
        assert!(env.filter.accepts("/dev/loop0"), "halvm.toml's filter wins");
        assert!(!env.filter.accepts("/dev/sda"));
        assert!(lock_dir.is_dir(), "halvm.toml's lock_dir wins");
        assert_eq!(env.system_id.as_deref(), Some("sid-9"));
        assert_eq!(env.volume_list, Some(vec!["vg1".into()]));
    }

    #[test]
    fn config_string_overrides_the_files_with_paths_or_sections() {
        let mut c = LvmConf {
            filter: vec!["a|.*|".into()],
            locking_dir: PathBuf::from("/run/lock/lvm"),
            ..LvmConf::default()
        };
        c.apply_config_string(r#"devices{filter=["a|loop|","r|.*|"]}"#)
            .unwrap();
        assert_eq!(c.filter, ["a|loop|", "r|.*|"]);
        c.apply_config_string(r#"devices/filter=["r|.*|"] global/locking_dir="/tmp/x""#)
            .unwrap();
        assert_eq!(c.filter, ["r|.*|"]);
        assert_eq!(c.locking_dir, PathBuf::from("/tmp/x"));
        // One section from a path and a block, merged; the later setting wins.
        let t = nest_config_paths(r#"devices/scan="/a" devices { scan = "/b" filter = "r|x|" }"#)
            .unwrap();
        let d = lvmeta_text::parse(&t).unwrap();
        let dev = d.get_section("devices").unwrap();
        assert_eq!(dev.get_str("scan"), Some("/b"));
        assert_eq!(dev.get_str("filter"), Some("r|x|"));
    }

    /// Where lvm2 2.03.16 reports both errors (its words: `lvmeta_cli::wording`).
    #[test]
    fn config_string_errors_say_where() {
        let e = nest_config_paths("devices{filter=").unwrap_err();
        assert!(
            matches!(
                e,
                EnvError::ConfigString {
                    byte: 16,
                    line: 1,
                    what: "expected a value"
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "--config: parse error at byte 16 (line 1): expected a value"
        );
        let e = nest_config_paths(r#"devices{filter="r|.*|""#).unwrap_err();
        assert!(
            matches!(
                e,
                EnvError::ConfigString {
                    byte: 23,
                    line: 1,
                    what: "unexpected token"
                }
            ),
            "{e:?}"
        );
    }

    /// `lock_manager = "dlm"` installs the program's cluster lock manager (never flock for
    /// shared VGs); "local" does not, and shared VGs are refused.
    #[test]
    fn dlm_lock_manager_installs_the_cluster_lock_manager() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("halvm.toml");
        let opts = EnvOptions {
            config: Some(config.clone()),
            lvm_system_dir: Some(dir.path().join("lvm")),
            lock_dir: Some(dir.path().join("locks")),
            ..EnvOptions::default()
        };
        let cluster = || Some(Arc::new(crate::lock::MemLocking::new()) as Arc<dyn LockManager>);
        std::fs::write(&config, "[locking]\nlock_manager = \"dlm\"\n").unwrap();
        let built = build_with_cluster(&opts, cluster()).unwrap();
        assert!(built
            .env
            .cluster_locks_for("vg", Some("dlm"))
            .unwrap()
            .is_some());
        assert!(built.env.cluster_locks_for("vg", None).unwrap().is_none());
        std::fs::write(&config, "[locking]\nlock_manager = \"local\"\n").unwrap();
        let built = build_with_cluster(&opts, cluster()).unwrap();
        assert!(matches!(
            built.env.cluster_locks_for("vg", Some("dlm")),
            Err(LockError::NeedsCluster { .. })
        ));
    }

    #[test]
    fn use_lvmlockd_in_lvm_conf_asks_for_the_cluster_daemon_unless_halvm_toml_says() {
        let lvm = conf("global {\n    use_lvmlockd = 1\n}\n", "");
        assert!(lvm.use_lvmlockd);
        assert!(wants_cluster(&toml(""), &lvm));
        // A program without the daemon (the agent) still builds; shared VGs are refused.
        let env = from_configs(&EnvOptions::default(), &toml(""), &lvm, None).unwrap();
        assert!(env.cluster.is_none());
        let local = toml("[locking]\nlock_manager = \"local\"\n");
        assert!(!wants_cluster(&local, &lvm));
        assert!(from_configs(&EnvOptions::default(), &local, &lvm, None).is_ok());
        assert!(!wants_cluster(&toml(""), &LvmConf::default()));
    }

    #[test]
    fn shared_vgs_need_the_cluster_lock_manager() {
        let env = Env::with_devices(vec![], Arc::new(crate::lock::MemLocking::new()));
        assert!(env.cluster_locks_for("vg", None).unwrap().is_none());
        assert!(env.cluster_locks_for("vg", Some("none")).unwrap().is_none());
        assert!(matches!(
            env.cluster_locks_for("vg", Some("dlm")),
            Err(LockError::NeedsCluster { .. })
        ));
    }
}
