//! The suite's TOML configuration (`/etc/halvm/halvm.toml`).
//!
//! [`Config::load`] finds the file (explicit path from a command-line flag, else
//! `$HALVM_CONFIG`, else [`DEFAULT_PATH`]), parses it with spans kept, and validates every key
//! against [`KEYS`], the one table that also generates `halvm.toml(5)` ([`man_page`]). Errors
//! name the dotted key and the 1-based line.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml_edit::{ImDocument, Item, TableLike, Value};

mod doc;
pub mod filter;

pub use doc::{man_page, KeyDoc, EXAMPLE, KEYS};
pub use filter::{FilterAction, FilterError, FilterRule};

/// Where the configuration lives when neither the flag nor `$HALVM_CONFIG` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/halvm/halvm.toml";
/// The environment variable that overrides [`DEFAULT_PATH`].
pub const ENV_VAR: &str = "HALVM_CONFIG";
/// Default `[locking] lock_dir` when neither halvm.toml nor lvm.conf (`global/locking_dir`)
/// says otherwise: lvm2's, so lvm2 and halvm on one host take the same file locks.
pub const DEFAULT_LOCK_DIR: &str = "/run/lock/lvm";

/// Everything that can go wrong loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: TOML syntax error: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: unknown key `{key}`", path.display())]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
    },
    #[error("{}:{line}: key `{key}`: expected {expected}, found {found}", path.display())]
    WrongType {
        path: PathBuf,
        line: usize,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{}:{line}: key `{key}`: invalid value {value:?}: {reason}", path.display())]
    BadValue {
        path: PathBuf,
        line: usize,
        key: String,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    /// The 1-based line the error points at, if it comes from the file's content.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { line, .. }
            | ConfigError::UnknownKey { line, .. }
            | ConfigError::WrongType { line, .. }
            | ConfigError::BadValue { line, .. } => Some(*line),
        }
    }

    /// The dotted key the error is about (`devices.filter[1]`), if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::BadValue { key, .. } => Some(key),
            _ => None,
        }
    }
}

macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in the configuration file.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "expected one of {}",
                        [$(concat!("\"", $text, "\"")),+].join(", ")
                    )),
                }
            }
        }
    };
}

keyword_enum!(
    /// Which locking the metadata commands use.
    LockManager {
        /// `flock` on files in `lock_dir`; no daemon; for VGs only this node uses.
        Local = "local",
        /// DLM locks held by `clvmd-rs` (lvmlockd-compatible), for shared VGs.
        Dlm = "dlm",
    }
);

keyword_enum!(
    /// VxVM shared disk group activation modes (seed 001).
    ActivationMode {
        ExclusiveWrite = "exclusive-write",
        ReadOnly = "read-only",
        SharedRead = "shared-read",
        SharedWrite = "shared-write",
        Off = "off",
    }
);

keyword_enum!(
    /// What happens cluster-wide on an I/O error to one mirror leg.
    DetachPolicy {
        /// The leg is detached on every node (VxVM default).
        Global = "global",
        /// Only the node that saw the error stops I/O; the leg stays attached elsewhere.
        Local = "local",
    }
);

keyword_enum!(
    /// What happens when the node committing metadata loses every metadata copy.
    DgFailurePolicy {
        /// The volume group is disabled (VxVM default).
        Dgdisable = "dgdisable",
        /// The committing node leaves the cluster; the others keep the VG.
        Leave = "leave",
    }
);

keyword_enum!(
    /// What a node does with shared volumes when it loses quorum. Metadata is never changed
    /// without quorum, whatever the policy.
    QuorumLossPolicy {
        /// Suspend I/O to shared volumes; resume when quorum returns (EVMS behaviour).
        Freeze = "freeze",
        /// Fail I/O to shared volumes (error table) until quorum returns, then restore them.
        FailIo = "fail-io",
    }
);

/// The VG tag prefix that records a VG's own detach policy (`vxdg set diskdetpolicy`):
/// `halvm_detach_global` or `halvm_detach_local`. A tag lives in the VG's metadata on the
/// shared disks, so every node reads the same policy (halvm.toml is per node and could
/// disagree), and stock lvm2 keeps tags through every command (it can also set them:
/// `vgchange --addtag halvm_detach_local`).
pub const DETACH_TAG_PREFIX: &str = "halvm_detach_";

/// A policy a VG tag `<prefix><name>` sets for one VG: [`DetachPolicy`], [`DgFailurePolicy`].
macro_rules! vg_tag_policy {
    ($name:ident, $prefix:ident) => {
        impl $name {
            /// The VG tag that sets this policy for one VG.
            pub fn vg_tag(self) -> String {
                format!("{}{}", $prefix, self.as_str())
            }

            /// The policy a VG's tags set, if any (the first such tag in lvm2's sorted order).
            pub fn from_vg_tags<S: AsRef<str>>(tags: &[S]) -> Option<$name> {
                tags.iter().find_map(|t| {
                    $name::ALL
                        .iter()
                        .copied()
                        .find(|p| t.as_ref() == p.vg_tag())
                })
            }
        }
    };
}

vg_tag_policy!(DetachPolicy, DETACH_TAG_PREFIX);

/// The VG tag prefix that records a VG's own metadata-loss policy (`vxdg set
/// dgfailpolicy`): `halvm_dgfail_dgdisable` or `halvm_dgfail_leave`, read like
/// [`DETACH_TAG_PREFIX`].
pub const DGFAIL_TAG_PREFIX: &str = "halvm_dgfail_";

vg_tag_policy!(DgFailurePolicy, DGFAIL_TAG_PREFIX);

impl ActivationMode {
    /// Whether activating in `asked` on this node must fail because another node `held` holds
    /// the VG (called as `ActivationMode::conflicts_with(held, asked)`). The matrix is VxVM's
    /// (seed 001, DESIGN.md); `off` holds nothing and asks for nothing, so it never conflicts.
    pub const fn conflicts_with(self, asked: ActivationMode) -> bool {
        use ActivationMode::*;
        let held = self;
        match (held, asked) {
            (Off, _) | (_, Off) => false,
            (SharedRead, _) | (_, SharedRead) => false,
            (ExclusiveWrite, _) => true,
            (ReadOnly, ReadOnly) => false,
            (ReadOnly, _) => true,
            (SharedWrite, SharedWrite) => false,
            (SharedWrite, _) => true,
        }
    }

    /// The short form VxVM prints (`ew`, `ro`, `sr`, `sw`, `off`).
    pub const fn abbreviation(self) -> &'static str {
        match self {
            ActivationMode::ExclusiveWrite => "ew",
            ActivationMode::ReadOnly => "ro",
            ActivationMode::SharedRead => "sr",
            ActivationMode::SharedWrite => "sw",
            ActivationMode::Off => "off",
        }
    }

    /// Whether this mode allows writes from the node that holds it.
    pub const fn writes(self) -> bool {
        matches!(
            self,
            ActivationMode::ExclusiveWrite | ActivationMode::SharedWrite
        )
    }
}

/// `[devices]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devices {
    /// LVM `devices/filter` entries (`"a|regex|"`, `"r|regex|"`), validated at load.
    pub filter: Vec<String>,
    /// Paths or globs to scan for PVs.
    pub scan: Vec<PathBuf>,
}

impl Default for Devices {
    fn default() -> Self {
        Devices {
            filter: Vec::new(),
            scan: vec![PathBuf::from("/dev")],
        }
    }
}

impl Devices {
    /// The filter entries parsed into rules. Entries were validated at load; this only fails
    /// for a `Devices` built by hand with a bad entry.
    pub fn filter_rules(&self) -> Result<Vec<FilterRule>, filter::FilterError> {
        self.filter.iter().map(|e| e.parse()).collect()
    }

    /// LVM semantics: the first rule whose regex matches `device` decides; a device no rule
    /// matches is accepted.
    pub fn accepts(&self, device: &Path) -> Result<bool, filter::FilterError> {
        Ok(filter::accepts(&self.filter_rules()?, device))
    }
}

/// `[locking]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locking {
    pub lock_dir: PathBuf,
    pub lock_manager: LockManager,
}

impl Default for Locking {
    fn default() -> Self {
        Locking {
            lock_dir: PathBuf::from(DEFAULT_LOCK_DIR),
            lock_manager: LockManager::Local,
        }
    }
}

/// `[activation]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub default_mode: ActivationMode,
    /// lvm's activation/volume_list; None: no filter.
    pub volume_list: Option<Vec<String>>,
}

impl Default for Activation {
    fn default() -> Self {
        // VxVM's default for shared disk groups is off (inactive).
        Activation {
            default_mode: ActivationMode::Off,
            volume_list: None,
        }
    }
}

/// `[policy]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub detach: DetachPolicy,
    pub dg_failure: DgFailurePolicy,
    pub quorum_loss: QuorumLossPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            detach: DetachPolicy::Global,
            dg_failure: DgFailurePolicy::Dgdisable,
            quorum_loss: QuorumLossPolicy::Freeze,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub devices: Devices,
    pub locking: Locking,
    pub activation: Activation,
    pub policy: Policy,
    /// The file it was read from; `None` when only defaults apply (no file).
    pub source: Option<PathBuf>,
    /// The dotted keys the file sets (`devices.filter`): where they are absent, lvm.conf's
    /// value applies to the keys both files have.
    pub set_keys: Vec<String>,
}

/// Where the configuration is read from and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigPath {
    /// Given on the command line: must exist.
    Explicit(PathBuf),
    /// From `$HALVM_CONFIG`: must exist.
    Env(PathBuf),
    /// [`DEFAULT_PATH`]: may be absent (defaults apply).
    Default(PathBuf),
}

impl ConfigPath {
    /// Resolves the path from the flag, then `env` (the value of `$HALVM_CONFIG`), then the
    /// default. An empty environment value counts as unset.
    pub fn resolve(explicit: Option<&Path>, env: Option<OsString>) -> ConfigPath {
        if let Some(p) = explicit {
            return ConfigPath::Explicit(p.to_path_buf());
        }
        match env {
            Some(v) if !v.is_empty() => ConfigPath::Env(PathBuf::from(v)),
            _ => ConfigPath::Default(PathBuf::from(DEFAULT_PATH)),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            ConfigPath::Explicit(p) | ConfigPath::Env(p) | ConfigPath::Default(p) => p,
        }
    }
}

impl Config {
    /// Loads the configuration: `explicit` (the caller's flag), else `$HALVM_CONFIG`, else
    /// `/etc/halvm/halvm.toml`. A missing default file means defaults; a missing explicit or
    /// `$HALVM_CONFIG` file is an error.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_from(&ConfigPath::resolve(explicit, std::env::var_os(ENV_VAR)))
    }

    /// Loads from an already resolved path.
    pub fn load_from(at: &ConfigPath) -> Result<Config, ConfigError> {
        match Config::read(at)? {
            Some(text) => Config::parse(&text, at.path()),
            None => Ok(Config::default()),
        }
    }

    /// The text at `at`; None where a missing file means defaults (the default path).
    pub fn read(at: &ConfigPath) -> Result<Option<String>, ConfigError> {
        let path = at.path();
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match at {
                ConfigPath::Default(_) => Ok(None),
                _ => Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source: e,
                }),
            },
            Err(e) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// Whether the file sets `dotted` (`"locking.lock_dir"`); a key left out keeps its
    /// default, or lvm.conf's value for the keys halvm.toml shares with lvm.conf.
    pub fn is_set(&self, dotted: &str) -> bool {
        self.set_keys.iter().any(|k| k == dotted)
    }

    /// Parses and validates `text`; `origin` names the file in errors and in `source`.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let mut p = Parser { text, origin };
        let mut config = p.parse()?;
        config.source = Some(origin.to_path_buf());
        Ok(config)
    }
}

struct Parser<'a> {
    text: &'a str,
    origin: &'a Path,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "an inline table",
        },
    }
}

impl Parser<'_> {
    fn line_of(&self, span: Option<std::ops::Range<usize>>) -> usize {
        span.map_or(1, |s| line_col(self.text, s.start).0)
    }

    fn parse(&mut self) -> Result<Config, ConfigError> {
        let doc = ImDocument::parse(self.text).map_err(|e| {
            let (line, column) = line_col(self.text, e.span().map_or(0, |s| s.start));
            ConfigError::Syntax {
                path: self.origin.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let mut config = Config::default();
        let root = doc.as_table();
        for (name, item) in root.iter() {
            let key_span = root.key(name).and_then(|k| k.span());
            let section = match item.as_table_like() {
                Some(t) if KEYS.iter().any(|k| k.section == name) => t,
                Some(_) => {
                    return Err(ConfigError::UnknownKey {
                        path: self.origin.to_path_buf(),
                        line: self.line_of(key_span.or_else(|| item.span())),
                        key: name.to_string(),
                    })
                }
                None if KEYS.iter().any(|k| k.section == name) => {
                    return Err(ConfigError::WrongType {
                        path: self.origin.to_path_buf(),
                        line: self.line_of(key_span.or_else(|| item.span())),
                        key: name.to_string(),
                        expected: "a table",
                        found: type_name(item),
                    })
                }
                None => {
                    return Err(ConfigError::UnknownKey {
                        path: self.origin.to_path_buf(),
                        line: self.line_of(key_span.or_else(|| item.span())),
                        key: name.to_string(),
                    })
                }
            };
            self.section(name, section, &mut config)?;
        }
        Ok(config)
    }

    fn section(
        &self,
        section: &str,
        table: &dyn TableLike,
        config: &mut Config,
    ) -> Result<(), ConfigError> {
        for (key, item) in table.iter() {
            let dotted = format!("{section}.{key}");
            let key_span = table.key(key).and_then(|k| k.span());
            let line = self.line_of(key_span.clone().or_else(|| item.span()));
            if !KEYS.iter().any(|k| k.section == section && k.key == key) {
                return Err(ConfigError::UnknownKey {
                    path: self.origin.to_path_buf(),
                    line,
                    key: dotted,
                });
            }
            config.set_keys.push(dotted.clone());
            match (section, key) {
                ("devices", "filter") => {
                    config.devices.filter = self.string_array(&dotted, item, line, |s| {
                        s.parse::<FilterRule>()
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })?;
                }
                ("devices", "scan") => {
                    config.devices.scan = self
                        .string_array(&dotted, item, line, |s| {
                            if s.is_empty() {
                                Err("empty path".to_string())
                            } else if !s.starts_with('/') {
                                Err("must be an absolute path or glob".to_string())
                            } else {
                                Ok(())
                            }
                        })?
                        .into_iter()
                        .map(PathBuf::from)
                        .collect();
                }
                ("locking", "lock_dir") => {
                    let s = self.string(&dotted, item, line)?;
                    if !s.starts_with('/') {
                        return Err(self.bad(&dotted, item, line, &s, "must be an absolute path"));
                    }
                    config.locking.lock_dir = PathBuf::from(s);
                }
                ("locking", "lock_manager") => {
                    config.locking.lock_manager = self.keyword(&dotted, item, line)?;
                }
                ("activation", "volume_list") => {
                    config.activation.volume_list =
                        Some(self.string_array(&dotted, item, line, |s| {
                            let ok = match s.strip_prefix('@') {
                                Some(tag) => !tag.is_empty(),
                                None => {
                                    !s.is_empty()
                                        && s.split('/').count() <= 2
                                        && s.split('/').all(|p| !p.is_empty())
                                }
                            };
                            if ok {
                                Ok(())
                            } else {
                                Err("expected vg, vg/lv or @tag".to_string())
                            }
                        })?);
                }
                ("activation", "default_mode") => {
                    config.activation.default_mode = self.keyword(&dotted, item, line)?;
                }
                ("policy", "detach") => config.policy.detach = self.keyword(&dotted, item, line)?,
                ("policy", "dg_failure") => {
                    config.policy.dg_failure = self.keyword(&dotted, item, line)?;
                }
                ("policy", "quorum_loss") => {
                    config.policy.quorum_loss = self.keyword(&dotted, item, line)?;
                }
                _ => unreachable!("KEYS lists {dotted} but the parser does not handle it"),
            }
        }
        Ok(())
    }

    fn value_line(&self, item: &Item, fallback: usize) -> usize {
        item.span()
            .map_or(fallback, |s| line_col(self.text, s.start).0)
    }

    fn bad(&self, key: &str, item: &Item, line: usize, value: &str, reason: &str) -> ConfigError {
        ConfigError::BadValue {
            path: self.origin.to_path_buf(),
            line: self.value_line(item, line),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    fn string(&self, key: &str, item: &Item, line: usize) -> Result<String, ConfigError> {
        match item.as_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(ConfigError::WrongType {
                path: self.origin.to_path_buf(),
                line: self.value_line(item, line),
                key: key.to_string(),
                expected: "a string",
                found: type_name(item),
            }),
        }
    }

    fn keyword<T: FromStr<Err = String>>(
        &self,
        key: &str,
        item: &Item,
        line: usize,
    ) -> Result<T, ConfigError> {
        let s = self.string(key, item, line)?;
        s.parse::<T>()
            .map_err(|reason| self.bad(key, item, line, &s, &reason))
    }

    fn string_array(
        &self,
        key: &str,
        item: &Item,
        line: usize,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<Vec<String>, ConfigError> {
        let Some(array) = item.as_array() else {
            return Err(ConfigError::WrongType {
                path: self.origin.to_path_buf(),
                line: self.value_line(item, line),
                key: key.to_string(),
                expected: "an array of strings",
                found: type_name(item),
            });
        };
        let mut out = Vec::with_capacity(array.len());
        for (i, v) in array.iter().enumerate() {
            let vline = v.span().map_or(line, |s| line_col(self.text, s.start).0);
            let entry_key = format!("{key}[{i}]");
            let Some(s) = v.as_str() else {
                return Err(ConfigError::WrongType {
                    path: self.origin.to_path_buf(),
                    line: vline,
                    key: entry_key,
                    expected: "a string",
                    found: type_name(&Item::Value(v.clone())),
                });
            };
            check(s).map_err(|reason| ConfigError::BadValue {
                path: self.origin.to_path_buf(),
                line: vline,
                key: entry_key,
                value: s.to_string(),
                reason,
            })?;
            out.push(s.to_string());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
