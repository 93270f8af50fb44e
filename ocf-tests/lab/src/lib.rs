//! The VM lab: multi-node QEMU clusters on a real kernel, for tests and demos.
//!
//! [`Lab::start`] boots `nodes` VMs (Debian's stock kernel, the host's userspace over 9p),
//! each with private disks (`/dev/disk/by-id/virtio-nodeN-dK`) and the shared images
//! (`/dev/disk/by-id/virtio-sharedK`), forms corosync + dlm_controld (and Pacemaker with
//! stonith through `fence_halvm_lab` when asked) and returns when the cluster is ready.
//! [`Node::run`] runs a command in a node (exit code, stdout, stderr); [`Lab::kill`],
//! [`Lab::restart`], [`Lab::partition`], [`Lab::heal`], [`Lab::unplug`] and [`Lab::plug`]
//! (a shared disk taken from / given back to one node; [`LabConfig::unplugged`] at boot) inject
//! faults; [`Lab::wait_quorate`],
//! [`Lab::wait_dlm_ready`], [`Lab::wait_members`], [`Lab::wait_pacemaker_online`] and
//! [`Lab::wait_for`] wait; [`Lab::power_events`] lists the fence requests the lab host served.
//! Dropping the lab kills the VMs by PID and deletes the namespace, taps and images. Test
//! binaries find the helper binaries next to themselves (`cargo build -p halvm-lab --bins`),
//! or in `$HALVM_LAB_BIN_DIR`. In the guests `halvm-dlm-probe LS RES ex|pr [--noqueue]
//! [--hold] [--timeout S]` takes a DLM lock through libdlm.
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
pub mod qmp;
pub mod sampler;

pub use cli::cli;
pub use client::{Output, RunOpts};
pub use error::{LabError, Result};
pub use lab::{Lab, LabConfig, Node, PowerEvent, Timings};
