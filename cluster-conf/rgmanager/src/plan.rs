//! The Pacemaker side: what a translation produces, independent of the output syntax.

use std::fmt;

use crate::model::Attrs;

/// A Pacemaker score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Score {
    MinusInfinity,
    Value(i64),
    Infinity,
}

impl Score {
    /// Pacemaker's INFINITY is 1,000,000; larger values are capped to it.
    pub const INFINITY_VALUE: i64 = 1_000_000;

    pub fn from_value(v: i64) -> Score {
        if v >= Self::INFINITY_VALUE {
            Score::Infinity
        } else if v <= -Self::INFINITY_VALUE {
            Score::MinusInfinity
        } else {
            Score::Value(v)
        }
    }

    /// As the CIB and pcs write it.
    pub fn cib(self) -> String {
        match self {
            Score::Infinity => "INFINITY".into(),
            Score::MinusInfinity => "-INFINITY".into(),
            Score::Value(v) => v.to_string(),
        }
    }

    /// As crm configure writes it (without the colon).
    pub fn crm(self) -> String {
        match self {
            Score::Infinity => "inf".into(),
            Score::MinusInfinity => "-inf".into(),
            Score::Value(v) => v.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "note",
            Severity::Warning => "warning",
        })
    }
}

/// One entry of the translation report: something without an exact equivalent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub severity: Severity,
    /// The cluster.conf line it is about.
    pub line: Option<u32>,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}: line {l}: {}", self.severity, self.message),
            None => write!(f, "{}: {}", self.severity, self.message),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub name: String,
    pub interval: String,
    pub timeout: Option<String>,
    pub on_fail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primitive {
    pub id: String,
    /// `ocf`, `lsb`, `systemd`, `stonith`.
    pub class: String,
    pub provider: Option<String>,
    pub agent: String,
    pub params: Attrs,
    pub meta: Attrs,
    pub ops: Vec<Op>,
}

impl Primitive {
    /// `class[:provider]:agent`.
    pub fn spec(&self) -> String {
        match &self.provider {
            Some(p) => format!("{}:{}:{}", self.class, p, self.agent),
            None => format!("{}:{}", self.class, self.agent),
        }
    }
}

/// One rgmanager service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    /// The service name it comes from.
    pub service: String,
    /// In start order.
    pub members: Vec<Primitive>,
    pub meta: Attrs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationKind {
    /// `rsc` prefers (or avoids) one node.
    Node { node: String, score: Score },
    /// `rsc` gets `score` on every node whose name is none of `not_on`; an empty list means
    /// every node.
    NotOn { score: Score, not_on: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub id: String,
    pub rsc: String,
    pub kind: LocationKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colocation {
    pub id: String,
    /// Placed relative to `with_rsc`.
    pub rsc: String,
    pub with_rsc: String,
    pub score: Score,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencingLevel {
    pub id: String,
    pub index: u32,
    pub target: String,
    /// All must succeed for the level to succeed.
    pub devices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanNode {
    pub id: u32,
    pub name: String,
}

/// Everything the translation produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub cluster_name: String,
    pub config_version: u64,
    pub nodes: Vec<PlanNode>,
    /// `crm_config` cluster properties.
    pub properties: Attrs,
    pub rsc_defaults: Attrs,
    pub stonith: Vec<Primitive>,
    pub groups: Vec<Group>,
    pub locations: Vec<Location>,
    pub colocations: Vec<Colocation>,
    pub fencing_levels: Vec<FencingLevel>,
    /// The report, in cluster.conf line order.
    pub notes: Vec<Note>,
}

impl Plan {
    pub fn warnings(&self) -> impl Iterator<Item = &Note> {
        self.notes
            .iter()
            .filter(|n| n.severity == Severity::Warning)
    }
}
