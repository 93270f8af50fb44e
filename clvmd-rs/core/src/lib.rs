//! clvmd-rs's logic as a state machine free of I/O, in the shape of raft-rs's `RawNode`:
//! [`Node::step`] takes one [`Input`] (a client request, a DLM completion, a CPG message or
//! membership change, a quorum change, the passing of time) and returns the [`Output`]s the
//! driver must carry out (DLM calls, CPG multicasts, replies). The daemon's poll loop and the
//! in-process multi-node simulator ([`sim`]) are two drivers of the same machine.
//!
//! Locks are lvmlockd's: `lvm_<vg>` with `VGLK` and LV UUIDs, `lvm_global` with `GLLK`, taken
//! NL first and then converted with NOQUEUE|PERSISTENT (+VALBLK for GLLK/VGLK); the VG seqno
//! travels in the LVB. Daemons also announce what they hold over CPG in agreed order, so a
//! refusal can name the holder; a holder no daemon claims is a host running stock lvmlockd.

pub mod cpg;
pub mod detach;
pub mod dm;
pub mod lvb;
mod machine;
pub mod quorum;
pub mod sim;

pub use cpg::CpgMsg;
pub use detach::{Detach, LvStatus, WatchAction};
pub use dm::{DmAction, DmReport, LvRef};
pub use machine::modes;
pub use machine::{
    CarriedCommit, ConnId, DlmOp, Input, Node, NodeConfig, Output, ANNOUNCE_AFTER_MS, CARRY_MS,
};
pub use quorum::{FenceAction, QuorumLoss};
/// Carries out one [`DlmOp`] on a lockspace (shared by the daemon and the simulator).
pub use sim::execute;
