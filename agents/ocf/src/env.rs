//! The OCF environment of one invocation: instance parameters, meta attributes, check level.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::OcfError;

/// ocf-directories' default `HA_DATEFMT`.
pub const DEFAULT_DATEFMT: &str = "%b %d %T ";

const RESKEY: &str = "OCF_RESKEY_";
const META: &str = "CRM_meta_";
/// `OCF_RESKEY_` names Pacemaker sets itself, no instance parameters: the monitor depth as an
/// op attribute, and the controller's CIB feature set, which it adds to every action (as an
/// unknown parameter it made every monitor log a warning).
const PACEMAKER_RESKEYS: [&str; 2] = ["OCF_CHECK_LEVEL", "crm_feature_set"];

/// Everything an action reads from its environment, parsed once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OcfEnv {
    /// `OCF_RESKEY_<name>` values by name (meta attributes excluded).
    pub reskeys: BTreeMap<String, String>,
    /// `CRM_meta_<name>` (or `OCF_RESKEY_CRM_meta_<name>`) by name.
    pub meta: BTreeMap<String, String>,
    pub resource_instance: Option<String>,
    /// `OCF_CHECK_LEVEL`, or `OCF_RESKEY_OCF_CHECK_LEVEL` as Pacemaker passes an op attribute.
    pub check_level: u32,
    /// `CRM_meta_interval` in milliseconds; absent means 0 only for probes that say so.
    pub interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub ocf_root: PathBuf,
    pub log: LogEnv,
}

/// The logging knobs ocf-shellfuncs honours.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogEnv {
    pub logfile: Option<PathBuf>,
    /// `HA_DEBUGLOG`: every message, debug ones included, in ha_debug's format.
    pub debuglog: Option<PathBuf>,
    /// `HA_DATEFMT`, the strftime format of the date in log lines.
    pub datefmt: String,
    pub debug: bool,
    /// `None` when `HA_LOGFACILITY=none`.
    pub facility: Option<String>,
    pub logtag: Option<String>,
    /// Neither `HA_LOGFACILITY` (other than `none`) nor `HA_LOGFILE` is set: a run by hand,
    /// so messages also go to standard error.
    pub stderr: bool,
    /// `HA_RSCTMP` (runtime state, cleared at boot), default `/run/resource-agents`.
    pub rsctmp: PathBuf,
}

impl OcfEnv {
    /// Reads the process environment.
    pub fn from_process() -> Result<OcfEnv, OcfError> {
        OcfEnv::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Parses an explicit list of variables (tests, and `from_process`).
    pub fn from_vars<I, K, V>(vars: I) -> Result<OcfEnv, OcfError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut all: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in vars {
            all.insert(k.into(), v.into());
        }
        let mut env = OcfEnv {
            ocf_root: PathBuf::from("/usr/lib/ocf"),
            ..OcfEnv::default()
        };
        let mut meta_prefixed = BTreeMap::new();
        for (k, v) in &all {
            if let Some(name) = k.strip_prefix(RESKEY) {
                if let Some(m) = name.strip_prefix(META) {
                    meta_prefixed.insert(m.to_string(), v.clone());
                } else if !PACEMAKER_RESKEYS.contains(&name) && !name.is_empty() {
                    env.reskeys.insert(name.to_string(), v.clone());
                }
            } else if let Some(m) = k.strip_prefix(META) {
                env.meta.insert(m.to_string(), v.clone());
            }
        }
        // Pacemaker exports both spellings; the OCF_RESKEY_ one is what ocf-shellfuncs reads.
        env.meta.extend(meta_prefixed);
        env.resource_instance = all
            .get("OCF_RESOURCE_INSTANCE")
            .filter(|s| !s.is_empty())
            .cloned();
        if let Some(root) = all.get("OCF_ROOT").filter(|s| !s.is_empty()) {
            env.ocf_root = PathBuf::from(root);
        }
        let level = all
            .get("OCF_CHECK_LEVEL")
            .filter(|s| !s.is_empty())
            .map(|v| ("OCF_CHECK_LEVEL", v))
            .or_else(|| {
                all.get("OCF_RESKEY_OCF_CHECK_LEVEL")
                    .filter(|s| !s.is_empty())
                    .map(|v| ("OCF_RESKEY_OCF_CHECK_LEVEL", v))
            });
        if let Some((name, v)) = level {
            env.check_level = v.trim().parse().map_err(|_| OcfError::BadEnvironment {
                name: name.to_string(),
                value: v.clone(),
                why: "not a non-negative decimal number".to_string(),
            })?;
        }
        env.interval_ms = meta_ms(&env.meta, "interval")?;
        env.timeout_ms = meta_ms(&env.meta, "timeout")?;
        env.log = LogEnv {
            logfile: all
                .get("HA_LOGFILE")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            debuglog: all
                .get("HA_DEBUGLOG")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            datefmt: all
                .get("HA_DATEFMT")
                .cloned()
                .unwrap_or_else(|| DEFAULT_DATEFMT.to_string()),
            debug: all
                .get("HA_debug")
                .is_some_and(|v| !v.is_empty() && v != "0"),
            facility: match all.get("HA_LOGFACILITY").map(String::as_str) {
                Some("none") => None,
                Some(f) if !f.is_empty() => Some(f.to_string()),
                _ => Some("daemon".to_string()),
            },
            logtag: all.get("HA_LOGTAG").filter(|s| !s.is_empty()).cloned(),
            stderr: all.get("HA_LOGFILE").is_none_or(|s| s.is_empty())
                && all
                    .get("HA_LOGFACILITY")
                    .is_none_or(|s| s.is_empty() || s == "none"),
            rsctmp: all
                .get("HA_RSCTMP")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/run/resource-agents")),
        };
        Ok(env)
    }

    /// The action comes from Pacemaker's controller, which names the node it runs on
    /// (`CRM_meta_on_node`) in every action; an agent run by hand or by ocf-tester has none.
    pub fn from_pacemaker(&self) -> bool {
        self.meta.get("on_node").is_some_and(|n| !n.is_empty())
    }

    /// A probe is a monitor with interval 0 or none: Pacemaker's probes may carry no
    /// `CRM_meta_interval` at all (seen with Pacemaker 2.1 in the lab; resource-agents'
    /// `ocf.py` counts an unset interval as a probe for the same reason), while its recurring
    /// monitors always carry theirs.
    pub fn is_probe(&self, action: &str) -> bool {
        action == "monitor" && matches!(self.interval_ms, None | Some(0))
    }

    /// The highest supported level not above the requested one (ocf-shellfuncs'
    /// `ocf_check_level`).
    pub fn effective_check_level(&self, supported: &[u32]) -> u32 {
        supported
            .iter()
            .copied()
            .filter(|l| *l <= self.check_level)
            .max()
            .unwrap_or(0)
    }
}

fn meta_ms(meta: &BTreeMap<String, String>, name: &str) -> Result<Option<u64>, OcfError> {
    match meta.get(name).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| OcfError::BadEnvironment {
                name: format!("CRM_meta_{name}"),
                value: v.clone(),
                why: "not a number of milliseconds".to_string(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_reskeys_meta_and_knobs() {
        let env = OcfEnv::from_vars([
            ("OCF_RESKEY_vgname", "vg1"),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
            ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("CRM_meta_on_node", "n1"),
            ("OCF_RESOURCE_INSTANCE", "vg1-rsc"),
            ("OCF_RESKEY_OCF_CHECK_LEVEL", "10"),
            // Pacemaker 2.1 passes it to every action.
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
            ("OCF_ROOT", "/opt/ocf"),
            ("HA_LOGFILE", "/tmp/x.log"),
            ("HA_debug", "1"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!(env.reskeys.keys().collect::<Vec<_>>(), vec!["vgname"]);
        assert_eq!(env.meta.get("on_node").map(String::as_str), Some("n1"));
        assert_eq!(env.interval_ms, Some(0));
        assert_eq!(env.timeout_ms, Some(20000));
        assert_eq!(env.check_level, 10);
        assert!(env.is_probe("monitor"));
        assert!(!env.is_probe("start"));
        assert!(env.from_pacemaker());
        assert_eq!(env.resource_instance.as_deref(), Some("vg1-rsc"));
        assert_eq!(env.ocf_root, PathBuf::from("/opt/ocf"));
        assert!(env.log.debug);
        assert_eq!(env.log.logfile, Some(PathBuf::from("/tmp/x.log")));
        assert_eq!(env.log.facility.as_deref(), Some("daemon"));
    }

    #[test]
    fn defaults_and_errors() {
        let env = OcfEnv::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(env.check_level, 0);
        assert_eq!(env.interval_ms, None);
        assert!(!env.from_pacemaker(), "by hand");
        assert!(
            env.is_probe("monitor"),
            "a monitor without an interval is a probe"
        );
        assert_eq!(env.ocf_root, PathBuf::from("/usr/lib/ocf"));
        assert_eq!(env.log.rsctmp, PathBuf::from("/run/resource-agents"));
        assert!(!env.log.debug);
        assert!(env.log.stderr, "by hand: log to stderr too");
        assert_eq!(env.log.facility.as_deref(), Some("daemon"), "and to syslog");
        assert!(
            !OcfEnv::from_vars([("HA_LOGFACILITY", "local3")])
                .unwrap()
                .log
                .stderr
        );
        assert!(
            !OcfEnv::from_vars([("HA_LOGFILE", "/tmp/l")])
                .unwrap()
                .log
                .stderr
        );
        let env = OcfEnv::from_vars([("HA_debug", "0"), ("HA_LOGFACILITY", "none")]).unwrap();
        assert!(env.log.stderr);
        assert!(!env.log.debug);
        assert_eq!(env.log.facility, None);
        let e = OcfEnv::from_vars([("OCF_CHECK_LEVEL", "deep")]).unwrap_err();
        assert_eq!(e.exit().code(), 2);
        let e = OcfEnv::from_vars([("CRM_meta_interval", "30s")]).unwrap_err();
        assert!(e.to_string().contains("CRM_meta_interval"), "{e}");
        // The explicit variable wins over the op attribute.
        let env = OcfEnv::from_vars([
            ("OCF_CHECK_LEVEL", "20"),
            ("OCF_RESKEY_OCF_CHECK_LEVEL", "10"),
        ])
        .unwrap();
        assert_eq!(env.check_level, 20);
    }

    #[test]
    fn check_level_rounds_down_to_a_supported_one() {
        let mut env = OcfEnv::default();
        for (asked, got) in [(0, 0), (5, 0), (10, 10), (15, 10), (20, 20), (99, 20)] {
            env.check_level = asked;
            assert_eq!(env.effective_check_level(&[0, 10, 20]), got, "{asked}");
        }
    }

    proptest! {
        #[test]
        fn any_environment_parses_or_fails_cleanly(
            vars in proptest::collection::btree_map(
                prop::sample::select(vec![
                    "OCF_RESKEY_a".to_string(), "OCF_RESKEY_CRM_meta_interval".to_string(),
                    "CRM_meta_timeout".to_string(), "OCF_CHECK_LEVEL".to_string(),
                    "OCF_RESOURCE_INSTANCE".to_string(), "HA_debug".to_string(), "OCF_RESKEY_".to_string(),
                ]),
                "[0-9a-z]{0,6}", 0..7)
        ) {
            match OcfEnv::from_vars(vars.clone()) {
                Ok(env) => {
                    if let Some(v) = vars.get("OCF_RESKEY_a") { prop_assert_eq!(env.reskeys.get("a"), Some(v)); }
                    prop_assert!(!env.reskeys.contains_key(""));
                    prop_assert!(!env.reskeys.keys().any(|k| k.starts_with("CRM_meta_")));
                }
                Err(e) => prop_assert_eq!(e.exit().code(), 2),
            }
        }

        #[test]
        fn interval_round_trips(ms in any::<u64>()) {
            let env = OcfEnv::from_vars([("OCF_RESKEY_CRM_meta_interval", ms.to_string())]).unwrap();
            prop_assert_eq!(env.interval_ms, Some(ms));
            prop_assert_eq!(env.is_probe("monitor"), ms == 0);
        }
    }
}
