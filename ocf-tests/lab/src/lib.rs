//! The VM lab: multi-node QEMU clusters on a real kernel, for tests and demos.
//!
//! ```no_run
//! use halvm_lab::{Lab, LabConfig};
//! let lab = Lab::start(LabConfig { nodes: 2, ..LabConfig::default() }).expect("lab");
//! let out = lab.node("node1").run(&["dlm_tool", "status"]).expect("run");
//! assert!(out.success());
//! lab.kill("node1").expect("kill");
//! // dropping `lab` kills the VMs and removes the namespace and images
//! ```

pub mod agent;
pub mod cli;
pub mod client;
pub mod error;
pub mod fence;
pub mod guest;
pub mod host;
pub mod kernel;
pub mod lab;
pub mod proto;

pub use cli::cli;
pub use client::{Output, RunOpts};
pub use error::{LabError, Result};
pub use lab::{Lab, LabConfig, Node, PowerEvent, Timings};
