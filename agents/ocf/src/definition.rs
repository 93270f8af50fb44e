//! The declarative agent definition: one value per agent from which the meta-data XML,
//! the parameter parser and the man page are all derived.

use std::fmt;

/// Parameter content types. Meta-data can only carry `string|integer|boolean` (the only
/// types ra-api-1.dtd, metadata.rng and pcs' ocf-1.1.rng all accept), so `Time` is written
/// as `string` there and its syntax is given in the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Boolean,
    /// A duration: an integer with an optional unit (ms, s, m/min, h); seconds by default.
    Time,
}

impl ParamType {
    /// The `content type` written in meta-data.
    pub fn xml_type(self) -> &'static str {
        match self {
            ParamType::String | ParamType::Time => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
            ParamType::Time => "time",
        })
    }
}

/// A parameter that should no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deprecation {
    pub replaced_with: Option<&'static str>,
    pub desc: &'static str,
}

/// One instance parameter (`OCF_RESKEY_<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamType,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub default: Option<&'static str>,
    pub required: bool,
    /// Parameters in the same group must be unique as a combination across resources.
    pub unique_group: Option<&'static str>,
    pub deprecated: Option<Deprecation>,
    /// For enumerations: the only accepted values (`kind` must be `String`).
    pub allowed: Option<&'static [&'static str]>,
}

impl ParamDef {
    /// A plain optional string parameter; adjust with struct update syntax.
    pub const fn new(name: &'static str, kind: ParamType, shortdesc: &'static str) -> ParamDef {
        ParamDef {
            name,
            kind,
            shortdesc,
            longdesc: "",
            default: None,
            required: false,
            unique_group: None,
            deprecated: None,
            allowed: None,
        }
    }
}

/// The actions ra-api-1.dtd knows; `reload-agent` (OCF 1.1) is not among them, so an agent
/// that must validate against the DTD cannot advertise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionName {
    Start,
    Stop,
    Monitor,
    MetaData,
    ValidateAll,
    Reload,
    Promote,
    Demote,
    Notify,
    MigrateTo,
    MigrateFrom,
}

impl ActionName {
    pub const ALL: [ActionName; 11] = [
        ActionName::Start,
        ActionName::Stop,
        ActionName::Monitor,
        ActionName::MetaData,
        ActionName::ValidateAll,
        ActionName::Reload,
        ActionName::Promote,
        ActionName::Demote,
        ActionName::Notify,
        ActionName::MigrateTo,
        ActionName::MigrateFrom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionName::Start => "start",
            ActionName::Stop => "stop",
            ActionName::Monitor => "monitor",
            ActionName::MetaData => "meta-data",
            ActionName::ValidateAll => "validate-all",
            ActionName::Reload => "reload",
            ActionName::Promote => "promote",
            ActionName::Demote => "demote",
            ActionName::Notify => "notify",
            ActionName::MigrateTo => "migrate_to",
            ActionName::MigrateFrom => "migrate_from",
        }
    }

    pub fn parse(s: &str) -> Option<ActionName> {
        ActionName::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Roles for promotable clones (OCF 1.1 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Promoted,
    Unpromoted,
}

/// One advertised action with its default timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionDef {
    pub name: ActionName,
    pub timeout_s: u32,
    pub interval_s: Option<u32>,
    pub depth: Option<u32>,
    pub role: Option<Role>,
}

impl ActionDef {
    pub const fn new(name: ActionName, timeout_s: u32) -> ActionDef {
        ActionDef {
            name,
            timeout_s,
            interval_s: None,
            depth: None,
            role: None,
        }
    }
}

/// The actions of a primitive agent with heartbeat's usual timings: start and stop 90 s,
/// monitor every 30 s (depth 0) within 90 s, meta-data 10 s, validate-all 20 s.
pub const STANDARD_ACTIONS: &[ActionDef] = &[
    ActionDef::new(ActionName::Start, 90),
    ActionDef::new(ActionName::Stop, 90),
    ActionDef {
        interval_s: Some(30),
        depth: Some(0),
        ..ActionDef::new(ActionName::Monitor, 90)
    },
    ActionDef::new(ActionName::MetaData, 10),
    ActionDef::new(ActionName::ValidateAll, 20),
];

/// A whole agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentDefinition {
    pub name: &'static str,
    pub version: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub params: &'static [ParamDef],
    pub actions: &'static [ActionDef],
    /// `OCF_CHECK_LEVEL` values monitor understands, ascending (0 first).
    pub check_levels: &'static [u32],
}

impl AgentDefinition {
    pub fn param(&self, name: &str) -> Option<&'static ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn has_action(&self, name: ActionName) -> bool {
        self.actions.iter().any(|a| a.name == name)
    }

    /// Internal consistency of the definition; an empty list means consistent.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let valid_name =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if self.name.is_empty() || self.name.contains('/') {
            out.push(format!("agent name {:?} is not a file name", self.name));
        }
        for (i, p) in self.params.iter().enumerate() {
            if !valid_name(p.name) {
                out.push(format!("parameter name {:?} is not [A-Za-z0-9_]+", p.name));
            }
            if self.params[..i].iter().any(|q| q.name == p.name) {
                out.push(format!("parameter {} defined twice", p.name));
            }
            if p.shortdesc.is_empty() || p.longdesc.is_empty() {
                out.push(format!("parameter {} lacks a description", p.name));
            }
            if p.allowed.is_some() && p.kind != ParamType::String {
                out.push(format!(
                    "parameter {}: allowed values need type string",
                    p.name
                ));
            }
            if p.allowed.is_some_and(|a| a.is_empty()) {
                out.push(format!(
                    "parameter {}: empty list of allowed values",
                    p.name
                ));
            }
            if p.required && p.default.is_some() {
                out.push(format!(
                    "parameter {} is required and has a default",
                    p.name
                ));
            }
            if let Some(d) = p.default {
                if let Err(e) = crate::params::parse_value(p, d) {
                    out.push(format!("parameter {}: default does not parse: {e}", p.name));
                }
            }
            if let Some(g) = p.unique_group {
                if !valid_name(g) {
                    out.push(format!("parameter {}: bad unique-group {g:?}", p.name));
                }
            }
        }
        for required in [
            ActionName::Start,
            ActionName::Stop,
            ActionName::Monitor,
            ActionName::MetaData,
            ActionName::ValidateAll,
        ] {
            if !self.has_action(required) {
                out.push(format!("action {} is not advertised", required.as_str()));
            }
        }
        for a in self.actions {
            if a.timeout_s == 0 {
                out.push(format!("action {} has no timeout", a.name.as_str()));
            }
            if let Some(d) = a.depth {
                if !self.check_levels.contains(&d) {
                    out.push(format!(
                        "action {} depth {d} is not a check level",
                        a.name.as_str()
                    ));
                }
            }
        }
        if self.check_levels.first() != Some(&0)
            || !self.check_levels.windows(2).all(|w| w[0] < w[1])
        {
            out.push("check levels must start at 0 and ascend".to_string());
        }
        out
    }
}
