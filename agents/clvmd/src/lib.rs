//! ocf:halvm:clvmd: runs the clvmd-rs cluster lock daemon on each node, as a Pacemaker clone
//! (the counterpart of resource-agents' `lvmlockd` agent).
//!
//! [`definition::DEFINITION`] is the declarative agent; [`plan`] holds the I/O-free
//! decisions; [`agent::Clvmd`] runs them over a [`control::DaemonControl`] (the real one
//! spawns the daemon, asks its socket and signals it; an in-memory one serves the tests).

pub mod agent;
pub mod control;
pub mod definition;
pub mod plan;

use halvm_ocf::OcfExit;

/// The agent's invocation, for the man page (`clvmd ACTION`).
pub fn cli() -> clap::Command {
    halvm_ocf::man::cli(&definition::DEFINITION)
}

/// Runs the action named on the command line with the real daemon control.
pub fn main_exit() -> OcfExit {
    halvm_ocf::run_process(&mut agent::Clvmd::new(control::SystemControl::default()))
}
