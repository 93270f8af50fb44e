//! The framework's error type and its one mapping to OCF exit codes.

use crate::definition::ParamType;
use crate::exit::OcfExit;

/// Why an action failed. `exit()` is the only place that turns a failure into an exit code;
/// `Display` is the text of the `ocf-exit-reason:` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcfError {
    /// A parameter marked required is unset or empty.
    #[error("required parameter {name} is not set")]
    MissingParameter { name: String },
    /// A value that does not parse as the parameter's type.
    #[error("parameter {name}={value:?} is not a valid {kind}")]
    InvalidType {
        name: String,
        value: String,
        kind: ParamType,
    },
    /// A value outside the parameter's allowed values.
    #[error("parameter {name}={value:?} is not one of: {}", allowed.join(", "))]
    InvalidValue {
        name: String,
        value: String,
        allowed: Vec<String>,
    },
    /// A value rejected by the parameter's own syntax rule (e.g. an LVM name).
    #[error("parameter {name}={value:?} is invalid: {why}")]
    Malformed {
        name: String,
        value: String,
        why: String,
    },
    /// Two parameters that cannot be combined.
    #[error("parameter {name}={value:?} cannot be used with {other}: {why}")]
    Conflict {
        name: String,
        value: String,
        other: String,
        why: String,
    },
    /// A supported-in-principle setting that this build cannot serve yet.
    #[error("parameter {name}={value:?} is not supported: {why}")]
    Unsupported {
        name: String,
        value: String,
        why: String,
    },
    /// The resource's configuration is wrong for what exists (cluster-wide). `why` is the
    /// complete reason; `resource` is kept for logs and callers.
    #[error("{why}")]
    Misconfigured { resource: String, why: String },
    /// This node's own setup does not allow the resource to run here.
    #[error("{what} (on this node)")]
    LocalSetup { what: String },
    /// An OCF environment variable with a malformed value.
    #[error("environment variable {name}={value:?} is invalid: {why}")]
    BadEnvironment {
        name: String,
        value: String,
        why: String,
    },
    /// The action was called with the wrong arguments.
    #[error("usage: {usage}")]
    Usage { usage: String },
    /// An action the agent does not implement.
    #[error("action {action:?} is not implemented")]
    Unimplemented { action: String },
    /// A tool, library or facility the agent needs is absent.
    #[error("{what} is not installed or not available")]
    NotInstalled { what: String },
    /// Insufficient privileges.
    #[error("insufficient privileges: {what}")]
    Permission { what: String },
    /// The resource failed (possibly transiently). `why` is the complete reason.
    #[error("{why}")]
    Failed { resource: String, why: String },
}

impl OcfError {
    /// Parameter `name`'s `value` is none of `allowed`.
    pub fn invalid_value(name: &str, value: &str, allowed: &[&str]) -> OcfError {
        OcfError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The one mapping from failures to exit codes.
    pub fn exit(&self) -> OcfExit {
        match self {
            OcfError::MissingParameter { .. }
            | OcfError::InvalidType { .. }
            | OcfError::InvalidValue { .. }
            | OcfError::Malformed { .. }
            | OcfError::Conflict { .. }
            | OcfError::Unsupported { .. }
            | OcfError::Misconfigured { .. } => OcfExit::ErrConfigured,
            OcfError::LocalSetup { .. }
            | OcfError::BadEnvironment { .. }
            | OcfError::Usage { .. } => OcfExit::ErrArgs,
            OcfError::Unimplemented { .. } => OcfExit::ErrUnimplemented,
            OcfError::NotInstalled { .. } => OcfExit::ErrInstalled,
            OcfError::Permission { .. } => OcfExit::ErrPerm,
            OcfError::Failed { .. } => OcfExit::ErrGeneric,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_and_reasons() {
        let e = OcfError::InvalidValue {
            name: "mode".into(),
            value: "x".into(),
            allowed: vec!["a".into(), "b".into()],
        };
        assert_eq!(e.exit(), OcfExit::ErrConfigured);
        assert_eq!(e.to_string(), "parameter mode=\"x\" is not one of: a, b");
        let e = OcfError::LocalSetup {
            what: "no system ID".into(),
        };
        assert_eq!(e.exit(), OcfExit::ErrArgs);
        assert_eq!(
            OcfError::Failed {
                resource: "vg".into(),
                why: "gone".into()
            }
            .exit(),
            OcfExit::ErrGeneric
        );
        assert_eq!(
            OcfError::Unimplemented {
                action: "promote".into()
            }
            .exit()
            .code(),
            3
        );
        assert_eq!(OcfError::NotInstalled { what: "x".into() }.exit().code(), 5);
        assert_eq!(OcfError::Permission { what: "x".into() }.exit().code(), 4);
    }
}
