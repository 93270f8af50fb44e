//! OCF 1.1 resource-agent framework: declarative agent definitions, environment, exit codes.
//!
//! One [`AgentDefinition`] per agent yields the meta-data XML ([`metadata::render`]), the
//! typed parameter parser ([`Params`]) and the man page ([`man`]); [`run`] dispatches an
//! action to an [`Agent`] and turns its result into an exit code and an `ocf-exit-reason:`.

pub mod definition;
pub mod dispatch;
pub mod env;
pub mod error;
pub mod exit;
pub mod log;
pub mod man;
pub mod metadata;
pub mod params;

pub use definition::{
    ActionDef, ActionName, AgentDefinition, Deprecation, ParamDef, ParamType, Role,
    STANDARD_ACTIONS,
};
pub use dispatch::{run, run_process, usage, Agent, Ctx, Env, Status};
pub use env::OcfEnv;
pub use error::OcfError;
pub use exit::OcfExit;
pub use log::{Level, Logger};
pub use params::{ParamValue, ParamWarning, Params, Strictness};
