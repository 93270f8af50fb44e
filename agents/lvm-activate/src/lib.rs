//! LVM-activate: drop-in for resource-agents' LVM-activate.
//!
//! [`definition::DEFINITION`] is the declarative agent (parameters, actions) from which
//! meta-data, parameter checks and the man page come; [`plan`] is the I/O-free decision
//! logic; [`agent::LvmActivate`] runs it over a [`backend::VolumeBackend`], a
//! [`membership::Membership`] and a [`marker::StartMarker`].

pub mod agent;
pub mod backend;
pub mod config;
pub mod definition;
pub mod error;
pub mod marker;
pub mod membership;
pub mod model;
pub mod plan;

use halvm_ocf::OcfExit;

/// The agent's invocation, for the man page (`LVM-activate ACTION`).
pub fn cli() -> clap::Command {
    halvm_ocf::man::cli(&definition::DEFINITION)
}

/// The production agent: real membership, start marker and volume backend (lvmeta and
/// device-mapper, see [`backend::SystemBackend`]).
pub fn system_agent(
) -> agent::LvmActivate<backend::SystemBackend, membership::CrmNode, marker::FileMarker> {
    agent::LvmActivate::new(
        backend::SystemBackend::default(),
        membership::CrmNode::default(),
        marker::FileMarker,
    )
}

/// Runs the action named on the command line.
pub fn main_exit() -> OcfExit {
    halvm_ocf::run_process(&mut system_agent())
}
