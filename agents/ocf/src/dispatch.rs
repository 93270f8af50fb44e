//! Action dispatch: argv and environment in, exit code out.

use std::io::Write;

use crate::definition::{ActionName, AgentDefinition};
use crate::env::OcfEnv;
use crate::error::OcfError;
use crate::exit::OcfExit;
use crate::log::Logger;
use crate::metadata;
use crate::params::{Params, Strictness};

/// What monitor found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    NotRunning,
    /// Running, but not at full health (OCF_DEGRADED).
    Degraded,
    RunningPromoted,
    DegradedPromoted,
}

impl Status {
    pub fn exit(self) -> OcfExit {
        match self {
            Status::Running => OcfExit::Success,
            Status::NotRunning => OcfExit::NotRunning,
            Status::Degraded => OcfExit::Degraded,
            Status::RunningPromoted => OcfExit::RunningPromoted,
            Status::DegradedPromoted => OcfExit::DegradedPromoted,
        }
    }
}

/// Everything an action may look at.
pub struct Ctx<'a> {
    pub action: ActionName,
    pub env: &'a OcfEnv,
    pub params: Params,
    pub log: &'a Logger,
    pub def: &'static AgentDefinition,
}

impl Ctx<'_> {
    /// A monitor with interval 0 or none ([`crate::env::OcfEnv::is_probe`]).
    pub fn is_probe(&self) -> bool {
        self.env.is_probe(self.action.as_str())
    }

    /// The check level to run: the highest the agent supports not above `OCF_CHECK_LEVEL`.
    pub fn check_level(&self) -> u32 {
        self.env.effective_check_level(self.def.check_levels)
    }

    /// `OCF_RESOURCE_INSTANCE`, or the agent name when run by hand.
    pub fn instance(&self) -> &str {
        self.env
            .resource_instance
            .as_deref()
            .unwrap_or(self.def.name)
    }
}

/// An OCF resource agent. Meta-data and usage come from the definition; the rest is the
/// agent's. Actions a particular agent does not implement keep the defaults (exit 3).
pub trait Agent {
    fn definition(&self) -> &'static AgentDefinition;
    fn validate_all(&mut self, ctx: &Ctx) -> Result<(), OcfError>;
    fn start(&mut self, ctx: &Ctx) -> Result<(), OcfError>;
    fn stop(&mut self, ctx: &Ctx) -> Result<(), OcfError>;
    fn monitor(&mut self, ctx: &Ctx) -> Result<Status, OcfError>;
    /// The optional actions (reload, promote, demote, notify, migrate_to, migrate_from;
    /// `ctx.action` says which); by default none is implemented.
    fn optional(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented {
            action: ctx.action.as_str().to_string(),
        })
    }
}

/// The usage line.
pub fn usage(def: &AgentDefinition) -> String {
    let mut names: Vec<&str> = Vec::new();
    for a in def.actions {
        if !names.contains(&a.name.as_str()) {
            names.push(a.name.as_str());
        }
    }
    names.push("usage");
    format!("usage: {} {{{}}}", def.name, names.join("|"))
}

/// Writes the `ocf-exit-reason:` line (one line: embedded newlines would be cut by Pacemaker).
pub fn write_exit_reason(err: &mut dyn Write, e: &OcfError) {
    let reason = e.to_string().replace('\n', " ");
    let _ = writeln!(err, "ocf-exit-reason:{reason}");
}

/// Runs the process's action: argv and environment of this process, real stdout/stderr.
pub fn run_process(agent: &mut dyn Agent) -> OcfExit {
    let args: Vec<String> = std::env::args().collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run(
        agent,
        &args,
        Env::Process,
        &mut stdout.lock(),
        &mut stderr.lock(),
    )
}

/// Where the environment comes from.
pub enum Env {
    Process,
    Vars(Vec<(String, String)>),
}

/// Runs one action. `args[0]` is the program, `args[1]` the action.
pub fn run(
    agent: &mut dyn Agent,
    args: &[String],
    env: Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> OcfExit {
    let def = agent.definition();
    let action = match args {
        [_, action] => action.as_str(),
        _ => {
            let _ = writeln!(err, "{}", usage(def));
            return OcfExit::ErrArgs;
        }
    };
    // meta-data and usage touch nothing else: they run as any user, in any environment.
    match action {
        "meta-data" => {
            return match out.write_all(metadata::render(def).as_bytes()) {
                Ok(()) => OcfExit::Success,
                Err(_) => OcfExit::ErrGeneric,
            }
        }
        "usage" | "help" => {
            let _ = writeln!(out, "{}", usage(def));
            return OcfExit::Success;
        }
        _ => {}
    }
    let env = match env {
        Env::Process => OcfEnv::from_process(),
        Env::Vars(v) => OcfEnv::from_vars(v),
    };
    let env = match env {
        Ok(env) => env,
        Err(e) => {
            write_exit_reason(err, &e);
            return e.exit();
        }
    };
    let log = std::sync::Arc::new(Logger::new(def.name, &env));
    crate::log::install_bridge(log.clone());
    let name = match ActionName::parse(if action == "status" {
        "monitor"
    } else {
        action
    }) {
        Some(n) if def.has_action(n) || n == ActionName::MetaData => n,
        _ => {
            let _ = writeln!(err, "{}", usage(def));
            let e = OcfError::Unimplemented {
                action: action.to_string(),
            };
            write_exit_reason(err, &e);
            return e.exit();
        }
    };
    // A stop must work even when the configuration has gone bad since the start, or the
    // node gets fenced: it parses leniently and the agent does what it can.
    let strictness = if name == ActionName::Stop {
        Strictness::Lenient
    } else {
        Strictness::Strict
    };
    let params = match Params::parse(def, &env.reskeys, strictness) {
        Ok((params, warnings)) => {
            for w in warnings {
                log.warn(&w.to_string());
            }
            params
        }
        Err(e) => {
            log.err(&e.to_string());
            write_exit_reason(err, &e);
            return e.exit();
        }
    };
    let ctx = Ctx {
        action: name,
        env: &env,
        params,
        log: &log,
        def,
    };
    let result = match name {
        ActionName::Start => agent.start(&ctx).map(|()| OcfExit::Success),
        ActionName::Stop => agent.stop(&ctx).map(|()| OcfExit::Success),
        ActionName::Monitor => agent.monitor(&ctx).map(Status::exit),
        ActionName::ValidateAll => agent.validate_all(&ctx).map(|()| OcfExit::Success),
        ActionName::Reload
        | ActionName::Promote
        | ActionName::Demote
        | ActionName::Notify
        | ActionName::MigrateTo
        | ActionName::MigrateFrom => agent.optional(&ctx).map(|()| OcfExit::Success),
        ActionName::MetaData => Ok(OcfExit::Success),
    };
    let rc = match result {
        Ok(rc) => rc,
        Err(e) => {
            log.err(&e.to_string());
            write_exit_reason(err, &e);
            e.exit()
        }
    };
    log.debug(&format!("{} {}: {}", ctx.instance(), action, rc));
    rc
}
