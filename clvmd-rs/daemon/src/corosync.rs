//! Corosync: the CPG group `clvmd-rs` (membership, agreed-order messages) and quorum.
//!
//! rust-corosync's callbacks are plain `fn`s; they run inside `dispatch` on the poll loop's
//! thread and queue what they saw in a thread-local for the loop to feed to the core.

use std::cell::RefCell;
use std::collections::VecDeque;

use clvmd_core::{CpgMsg, Input};
use rust_corosync::{cpg, quorum, CsError, DispatchFlags, NodeId, TrackFlags};

use crate::DaemonError;

thread_local! {
    static EVENTS: RefCell<Vec<Input>> = const { RefCell::new(Vec::new()) };
}

fn push(i: Input) {
    EVENTS.with(|e| e.borrow_mut().push(i));
}

fn deliver(_h: &cpg::Handle, _group: String, nodeid: NodeId, _pid: u32, msg: &[u8], _len: usize) {
    match CpgMsg::decode(msg) {
        Some(m) => push(Input::Cpg {
            from: u32::from(nodeid),
            msg: m,
        }),
        None => log::warn!("ignoring an undecodable CPG message from node {nodeid}"),
    }
}

fn confchg(
    _h: &cpg::Handle,
    _group: &str,
    members: Vec<cpg::Address>,
    left: Vec<cpg::Address>,
    joined: Vec<cpg::Address>,
) {
    log::info!("CPG membership: {members:?} (left {left:?}, joined {joined:?})");
    push(Input::Membership {
        members: members.iter().map(|a| u32::from(a.nodeid)).collect(),
    });
}

fn quorum_changed(_h: &quorum::Handle, quorate: bool, _ring: quorum::RingId, m: Vec<NodeId>) {
    let members: Vec<u32> = m.into_iter().map(u32::from).collect();
    log::info!(
        "quorum: {} (members {members:?})",
        if quorate { "quorate" } else { "NOT quorate" }
    );
    // The member list lets the core tell a partition merge from a continuous membership.
    push(Input::QuorumView { quorate, members });
}

fn cs(what: &'static str) -> impl Fn(CsError) -> DaemonError {
    move |e| DaemonError::Corosync {
        what,
        error: e.to_string(),
    }
}

pub struct Corosync {
    cpg: cpg::Handle,
    quorum: quorum::Handle,
    pub node_id: u32,
    /// Messages corosync asked us to send again later (flow control).
    backlog: VecDeque<Vec<u8>>,
}

impl Corosync {
    pub fn connect() -> Result<Self, DaemonError> {
        let model = cpg::ModelData::ModelV1(cpg::Model1Data {
            flags: cpg::Model1Flags::None,
            deliver_fn: Some(deliver),
            confchg_fn: Some(confchg),
            totem_confchg_fn: None,
        });
        let c = cpg::initialize(&model, 0).map_err(cs("cpg initialize"))?;
        cpg::join(&c, clvmd_core::cpg::GROUP).map_err(cs("cpg join"))?;
        let node_id = u32::from(cpg::local_get(&c).map_err(cs("cpg local nodeid"))?);
        // quorum::initialize accepts only ModelV1.
        let qmodel = quorum::ModelData::ModelV1(quorum::Model1Data {
            flags: quorum::Model1Flags::None,
            quorum_notification_fn: Some(quorum_changed),
            nodelist_notification_fn: None,
        });
        let (q, _) = quorum::initialize(&qmodel, 0).map_err(cs("quorum initialize"))?;
        quorum::trackstart(&q, TrackFlags::Changes).map_err(cs("quorum trackstart"))?;
        let quorate = quorum::getquorate(&q).map_err(cs("quorum getquorate"))?;
        push(Input::Quorum { quorate });
        Ok(Corosync {
            cpg: c,
            quorum: q,
            node_id,
            backlog: VecDeque::new(),
        })
    }

    pub fn cpg_fd(&self) -> Result<i32, DaemonError> {
        cpg::fd_get(&self.cpg).map_err(cs("cpg fd"))
    }

    pub fn quorum_fd(&self) -> Result<i32, DaemonError> {
        quorum::fd_get(&self.quorum).map_err(cs("quorum fd"))
    }

    pub fn dispatch_cpg(&self) -> Result<(), DaemonError> {
        cpg::dispatch(&self.cpg, DispatchFlags::All).map_err(cs("cpg dispatch"))
    }

    pub fn dispatch_quorum(&self) -> Result<(), DaemonError> {
        quorum::dispatch(&self.quorum, DispatchFlags::All).map_err(cs("quorum dispatch"))
    }

    /// Multicasts in agreed order; kept for later while corosync applies flow control.
    pub fn send(&mut self, msg: &CpgMsg) -> Result<(), DaemonError> {
        self.backlog.push_back(msg.encode());
        self.flush()
    }

    /// Sends what is queued; true when something is still waiting.
    pub fn flush(&mut self) -> Result<(), DaemonError> {
        while let Some(m) = self.backlog.front() {
            match cpg::mcast_joined(&self.cpg, cpg::Guarantee::TypeAgreed, m) {
                Ok(()) => {
                    self.backlog.pop_front();
                }
                Err(CsError::CsErrTryAgain) => return Ok(()),
                Err(e) => return Err(cs("cpg mcast")(e)),
            }
        }
        Ok(())
    }

    /// Whether corosync still answers (one IPC round trip): dlm_controld exits when corosync
    /// goes, and the cause is then corosync's loss, not dlm_controld's.
    pub fn check(&self) -> Result<(), DaemonError> {
        quorum::getquorate(&self.quorum)
            .map(|_| ())
            .map_err(cs("quorum getquorate"))
    }

    pub fn backlog(&self) -> bool {
        !self.backlog.is_empty()
    }
}

/// Takes what the callbacks queued.
pub fn take_events() -> Vec<Input> {
    EVENTS.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

impl Drop for Corosync {
    fn drop(&mut self) {
        let _ = cpg::leave(&self.cpg, clvmd_core::cpg::GROUP);
        let _ = cpg::finalize(&self.cpg);
        let _ = quorum::finalize(&self.quorum);
    }
}
