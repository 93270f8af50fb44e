//! Typed instance parameters from `OCF_RESKEY_*`, checked against the agent definition.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::definition::{AgentDefinition, ParamDef, ParamType};
use crate::error::OcfError;

/// A parsed parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Time(Duration),
}

/// Where a value came from: the resource configuration or the definition's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Set,
    Default,
}

/// Something worth logging that does not fail the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamWarning {
    /// An `OCF_RESKEY_` the agent does not define (ignored).
    Unknown { name: String },
    /// A deprecated parameter was set.
    Deprecated {
        name: String,
        replaced_with: Option<String>,
    },
    /// Lenient parsing dropped a bad value (stop must still work with a broken config).
    Dropped { error: OcfError },
}

impl std::fmt::Display for ParamWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamWarning::Unknown { name } => write!(f, "ignoring unknown parameter {name}"),
            ParamWarning::Deprecated {
                name,
                replaced_with: Some(r),
            } => write!(f, "parameter {name} is deprecated, use {r}"),
            ParamWarning::Deprecated { name, .. } => write!(f, "parameter {name} is deprecated"),
            ParamWarning::Dropped { error } => write!(f, "ignoring invalid setting: {error}"),
        }
    }
}

/// Strict parsing fails on the first bad value; lenient parsing (for `stop`) drops bad values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    Strict,
    Lenient,
}

/// The parameters of one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    values: BTreeMap<&'static str, (ParamValue, Origin)>,
}

impl Params {
    /// Checks `reskeys` (names without the `OCF_RESKEY_` prefix) against `def`.
    /// An empty value counts as unset, as it does for the shell agents.
    pub fn parse(
        def: &AgentDefinition,
        reskeys: &BTreeMap<String, String>,
        strictness: Strictness,
    ) -> Result<(Params, Vec<ParamWarning>), OcfError> {
        let mut warnings = Vec::new();
        let mut values = BTreeMap::new();
        for name in reskeys.keys() {
            if def.param(name).is_none() {
                warnings.push(ParamWarning::Unknown { name: name.clone() });
            }
        }
        for p in def.params {
            let raw = reskeys.get(p.name).filter(|v| !v.is_empty());
            let parsed = match raw {
                Some(raw) => match parse_value(p, raw) {
                    Ok(v) => {
                        if let Some(d) = p.deprecated {
                            warnings.push(ParamWarning::Deprecated {
                                name: p.name.to_string(),
                                replaced_with: d.replaced_with.map(str::to_string),
                            });
                        }
                        Some((v, Origin::Set))
                    }
                    Err(e) if strictness == Strictness::Lenient => {
                        warnings.push(ParamWarning::Dropped { error: e });
                        None
                    }
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let parsed = match parsed {
                Some(v) => Some(v),
                None => match p.default {
                    Some(d) => Some((parse_value(p, d)?, Origin::Default)),
                    None => None,
                },
            };
            match parsed {
                Some(v) => {
                    values.insert(p.name, v);
                }
                None if p.required && strictness == Strictness::Strict => {
                    return Err(OcfError::MissingParameter {
                        name: p.name.to_string(),
                    })
                }
                None if p.required => warnings.push(ParamWarning::Dropped {
                    error: OcfError::MissingParameter {
                        name: p.name.to_string(),
                    },
                }),
                None => {}
            }
        }
        Ok((Params { values }, warnings))
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// Whether the resource configuration set the parameter (as opposed to a default).
    pub fn is_set(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some((_, Origin::Set)))
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(ParamValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Some(ParamValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Some(ParamValue::Int(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn time(&self, name: &str) -> Option<Duration> {
        match self.get(name) {
            Some(ParamValue::Time(t)) => Some(*t),
            _ => None,
        }
    }
}

/// Parses one raw value as `p` says.
pub fn parse_value(p: &ParamDef, raw: &str) -> Result<ParamValue, OcfError> {
    let bad_type = || OcfError::InvalidType {
        name: p.name.to_string(),
        value: raw.to_string(),
        kind: p.kind,
    };
    match p.kind {
        ParamType::String => {
            if let Some(allowed) = p.allowed {
                if !allowed.contains(&raw) {
                    return Err(OcfError::invalid_value(p.name, raw, allowed));
                }
            }
            Ok(ParamValue::Str(raw.to_string()))
        }
        ParamType::Integer => parse_integer(raw).map(ParamValue::Int).ok_or_else(bad_type),
        ParamType::Boolean => parse_bool(raw).map(ParamValue::Bool).ok_or_else(bad_type),
        ParamType::Time => parse_time(raw).map(ParamValue::Time).ok_or_else(bad_type),
    }
}

/// The spellings ocf-shellfuncs' `ocf_is_true` accepts, plus their negations; anything else
/// is an error rather than a silent `false`.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "on" | "ja" => Some(true),
        "0" | "no" | "n" | "false" | "off" | "nein" => Some(false),
        _ => None,
    }
}

/// A decimal integer with an optional sign.
pub fn parse_integer(raw: &str) -> Option<i64> {
    let t = raw.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// Pacemaker's interval syntax: digits with an optional unit (`ms`, `msec`, `s`, `sec`, `m`,
/// `min`, `h`, `hr`); seconds when no unit is given.
pub fn parse_time(raw: &str) -> Option<Duration> {
    let t = raw.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let ms_per = match unit.trim() {
        "" | "s" | "sec" => 1_000,
        "ms" | "msec" => 1,
        "m" | "min" => 60_000,
        "h" | "hr" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(ms_per).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{ActionDef, ActionName, Deprecation};
    use proptest::prelude::*;

    const PARAMS: &[ParamDef] = &[
        ParamDef {
            required: true,
            longdesc: "l",
            ..ParamDef::new("name", ParamType::String, "s")
        },
        ParamDef {
            allowed: Some(&["a", "b"]),
            default: Some("a"),
            longdesc: "l",
            ..ParamDef::new("mode", ParamType::String, "s")
        },
        ParamDef {
            default: Some("false"),
            longdesc: "l",
            ..ParamDef::new("flag", ParamType::Boolean, "s")
        },
        ParamDef {
            longdesc: "l",
            ..ParamDef::new("count", ParamType::Integer, "s")
        },
        ParamDef {
            default: Some("30s"),
            longdesc: "l",
            ..ParamDef::new("wait", ParamType::Time, "s")
        },
        ParamDef {
            longdesc: "l",
            deprecated: Some(Deprecation {
                replaced_with: Some("name"),
                desc: "old",
            }),
            ..ParamDef::new("oldname", ParamType::String, "s")
        },
    ];
    const DEF: AgentDefinition = AgentDefinition {
        name: "t",
        version: "1",
        shortdesc: "s",
        longdesc: "l",
        params: PARAMS,
        actions: &[
            ActionDef::new(ActionName::Start, 1),
            ActionDef::new(ActionName::Stop, 1),
            ActionDef::new(ActionName::Monitor, 1),
            ActionDef::new(ActionName::MetaData, 1),
            ActionDef::new(ActionName::ValidateAll, 1),
        ],
        check_levels: &[0],
    };

    fn keys(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn test_definition_is_consistent() {
        assert_eq!(DEF.problems(), Vec::<String>::new());
    }

    #[test]
    fn typed_values_defaults_and_origins() {
        let (p, w) = Params::parse(
            &DEF,
            &keys(&[
                ("name", "x"),
                ("flag", "yes"),
                ("count", "-3"),
                ("extra", "1"),
            ]),
            Strictness::Strict,
        )
        .unwrap();
        assert_eq!(p.str("name"), Some("x"));
        assert_eq!(p.str("mode"), Some("a"));
        assert!(!p.is_set("mode"));
        assert!(p.is_set("flag"));
        assert_eq!(p.bool("flag"), Some(true));
        assert_eq!(p.int("count"), Some(-3));
        assert_eq!(p.time("wait"), Some(Duration::from_secs(30)));
        assert_eq!(p.get("oldname"), None);
        assert_eq!(
            w,
            vec![ParamWarning::Unknown {
                name: "extra".into()
            }]
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        let e = Params::parse(&DEF, &keys(&[]), Strictness::Strict).unwrap_err();
        assert_eq!(
            e,
            OcfError::MissingParameter {
                name: "name".into()
            }
        );
        let e = Params::parse(&DEF, &keys(&[("name", "")]), Strictness::Strict).unwrap_err();
        assert_eq!(
            e,
            OcfError::MissingParameter {
                name: "name".into()
            }
        );
        let e = Params::parse(
            &DEF,
            &keys(&[("name", "x"), ("mode", "c")]),
            Strictness::Strict,
        )
        .unwrap_err();
        assert!(
            matches!(e, OcfError::InvalidValue { ref name, .. } if name == "mode"),
            "{e:?}"
        );
        let e = Params::parse(
            &DEF,
            &keys(&[("name", "x"), ("flag", "maybe")]),
            Strictness::Strict,
        )
        .unwrap_err();
        assert!(
            matches!(e, OcfError::InvalidType { ref name, kind: ParamType::Boolean, .. } if name == "flag"),
            "{e:?}"
        );
        let e = Params::parse(
            &DEF,
            &keys(&[("name", "x"), ("count", "1e3")]),
            Strictness::Strict,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                OcfError::InvalidType {
                    kind: ParamType::Integer,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn lenient_drops_bad_values_and_keeps_good_ones() {
        let (p, w) = Params::parse(
            &DEF,
            &keys(&[("mode", "zz"), ("count", "7")]),
            Strictness::Lenient,
        )
        .unwrap();
        assert_eq!(p.str("mode"), Some("a"), "falls back to the default");
        assert_eq!(p.int("count"), Some(7));
        assert_eq!(p.str("name"), None);
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn deprecated_parameters_warn() {
        let (_, w) = Params::parse(
            &DEF,
            &keys(&[("name", "x"), ("oldname", "y")]),
            Strictness::Strict,
        )
        .unwrap();
        assert_eq!(
            w,
            vec![ParamWarning::Deprecated {
                name: "oldname".into(),
                replaced_with: Some("name".into())
            }]
        );
        assert_eq!(
            w[0].to_string(),
            "parameter oldname is deprecated, use name"
        );
    }

    #[test]
    fn time_and_bool_spellings() {
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_time("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_time("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("s"), None);
        assert_eq!(parse_time("5x"), None);
        assert_eq!(parse_time("-5"), None);
        for t in ["1", "yes", "TRUE", "True", "on", "ON", "ja", "y"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "no", "False", "off", "n", "nein"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("2"), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(entries in proptest::collection::btree_map("[a-z_]{1,8}", ".{0,12}", 0..8)) {
            let _ = Params::parse(&DEF, &entries, Strictness::Strict);
            let lenient = Params::parse(&DEF, &entries, Strictness::Lenient);
            prop_assert!(lenient.is_ok());
        }

        #[test]
        fn integers_round_trip(n in any::<i64>()) {
            prop_assert_eq!(parse_integer(&n.to_string()), Some(n));
        }

        #[test]
        fn times_round_trip(n in 0u64..1_000_000, unit in prop::sample::select(vec![("ms", 1u64), ("s", 1000), ("min", 60_000), ("h", 3_600_000)])) {
            prop_assert_eq!(parse_time(&format!("{n}{}", unit.0)), Some(Duration::from_millis(n * unit.1)));
        }

        #[test]
        fn enum_accepts_exactly_allowed(v in "[a-c]{0,2}") {
            let r = parse_value(&PARAMS[1], &v);
            prop_assert_eq!(r.is_ok(), v == "a" || v == "b");
        }

        #[test]
        fn set_values_are_reported_as_set(count in any::<i32>()) {
            let (p, _) = Params::parse(&DEF, &keys(&[("name", "x"), ("count", &count.to_string())]), Strictness::Strict).unwrap();
            prop_assert_eq!(p.int("count"), Some(count as i64));
            prop_assert!(p.is_set("count"));
        }
    }
}
