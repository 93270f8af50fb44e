//! Corosync: the CPG group `clvmd-rs` (membership, agreed-order messages) and quorum.
//!
//! rust-corosync's callbacks are plain `fn`s; they run inside `dispatch` and queue what they
//! saw in a thread-local: the quorum handle's on the poll loop's thread (the loop feeds it to
//! the core), the CPG handle's on the CPG thread (which hands it to the loop).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

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

/// Maps a corosync (or the CPG thread's set-up) error to the daemon's, naming the step.
fn cs<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> DaemonError {
    move |e| DaemonError::Corosync {
        what,
        error: e.to_string(),
    }
}

/// The CPG handle's thread: it owns the handle (libcpg's calls on one handle are not made
/// from two threads), multicasts what the poll loop queues and dispatches deliveries, which
/// it hands to the loop as [`Input`]s. A multicast is an IPC round trip to corosync (2-3 ms,
/// up to 68 ms under load in the lab), which must not stop the loop from answering clients.
struct CpgThread {
    /// Encoded messages, with their label for the timing log.
    tx: Sender<(Vec<u8>, Option<String>)>,
    /// Wakes the thread's poll when something is queued (closing it stops the thread).
    wake: UnixStream,
    /// Says when the thread has left the group (on the way out).
    finished: Receiver<()>,
}

pub struct Corosync {
    /// `None` once dropped (the thread then leaves the group).
    cpg: Option<CpgThread>,
    quorum: quorum::Handle,
    pub node_id: u32,
}

/// How long the daemon waits on its way out for the CPG thread to send what is queued and
/// leave the group (corosync itself may be gone).
const CPG_STOP_MS: u64 = 2_000;

impl Corosync {
    /// Connects to corosync; CPG deliveries and membership changes, and a failure of the CPG
    /// connection ([`Input::ClusterLost`]), come through `done` with a byte on `wake`.
    pub fn connect(
        done: Sender<Input>,
        wake: UnixStream,
        timing: bool,
    ) -> Result<Self, DaemonError> {
        let model = cpg::ModelData::ModelV1(cpg::Model1Data {
            flags: cpg::Model1Flags::None,
            deliver_fn: Some(deliver),
            confchg_fn: Some(confchg),
            totem_confchg_fn: None,
        });
        let c = cpg::initialize(&model, 0).map_err(cs("cpg initialize"))?;
        cpg::join(&c, clvmd_core::cpg::GROUP).map_err(cs("cpg join"))?;
        let node_id = u32::from(cpg::local_get(&c).map_err(cs("cpg local nodeid"))?);
        let fd = cpg::fd_get(&c).map_err(cs("cpg fd"))?;
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
        let (tx, rx) = channel();
        let (wake_tx, wake_rx) = UnixStream::pair().map_err(cs("cpg thread"))?;
        // Both ends non-blocking: the loop never waits to wake the thread, and the thread
        // drains its wake-ups without blocking.
        for end in [&wake_tx, &wake_rx] {
            end.set_nonblocking(true).map_err(cs("cpg thread"))?;
        }
        let (fin_tx, finished) = channel();
        let t = CpgLoop {
            handle: c,
            fd,
            rx,
            wake: wake_rx,
            done,
            loop_wake: wake,
            timing,
            backlog: VecDeque::new(),
        };
        std::thread::Builder::new()
            .name("cpg".into())
            .spawn(move || {
                t.run();
                let _ = fin_tx.send(());
            })
            .map_err(cs("cpg thread"))?;
        Ok(Corosync {
            cpg: Some(CpgThread {
                tx,
                wake: wake_tx,
                finished,
            }),
            quorum: q,
            node_id,
        })
    }

    pub fn quorum_fd(&self) -> Result<i32, DaemonError> {
        quorum::fd_get(&self.quorum).map_err(cs("quorum fd"))
    }

    pub fn dispatch_quorum(&self) -> Result<(), DaemonError> {
        quorum::dispatch(&self.quorum, DispatchFlags::All).map_err(cs("quorum dispatch"))
    }

    /// Queues a multicast in agreed order for the CPG thread; never blocks.
    pub fn send(&mut self, msg: &CpgMsg, timing: bool) {
        let Some(t) = self.cpg.as_mut() else {
            return;
        };
        let label = timing.then(|| format!("{msg:?}").chars().take(60).collect::<String>());
        // A thread gone has reported why (ClusterLost) or is on its way to.
        if t.tx.send((msg.encode(), label)).is_ok() {
            let _ = t.wake.write(&[1]);
        }
    }

    /// Lets go of a failed connection without waiting for the CPG thread (which ends on its
    /// own): the loop must go on to freeze at once.
    pub fn abandon(mut self) {
        drop(self.cpg.take());
    }

    /// Whether corosync still answers (one IPC round trip): dlm_controld exits when corosync
    /// goes, and the cause is then corosync's loss, not dlm_controld's.
    pub fn check(&self) -> Result<(), DaemonError> {
        quorum::getquorate(&self.quorum)
            .map(|_| ())
            .map_err(cs("quorum getquorate"))
    }
}

/// The CPG thread's state.
struct CpgLoop {
    handle: cpg::Handle,
    fd: i32,
    rx: Receiver<(Vec<u8>, Option<String>)>,
    wake: UnixStream,
    done: Sender<Input>,
    loop_wake: UnixStream,
    timing: bool,
    /// Messages corosync asked us to send again later (flow control), in order.
    backlog: VecDeque<(Vec<u8>, Option<String>)>,
}

impl CpgLoop {
    fn run(mut self) {
        let why = match self.serve() {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        };
        let _ = cpg::leave(&self.handle, clvmd_core::cpg::GROUP);
        let _ = cpg::finalize(&self.handle);
        if let Some(why) = why {
            self.hand(vec![Input::ClusterLost { why }]);
        }
    }

    /// Hands inputs to the poll loop.
    fn hand(&mut self, inputs: Vec<Input>) {
        if inputs.is_empty() {
            return;
        }
        for i in inputs {
            if self.done.send(i).is_err() {
                return;
            }
        }
        let _ = self.loop_wake.write(&[1]);
    }

    /// Until the daemon drops its end (Ok) or corosync fails (Err).
    fn serve(&mut self) -> Result<(), DaemonError> {
        loop {
            let stopping = loop {
                match self.rx.try_recv() {
                    Ok(m) => self.backlog.push_back(m),
                    Err(TryRecvError::Empty) => break false,
                    Err(TryRecvError::Disconnected) => break true,
                }
            };
            self.flush()?;
            if stopping {
                // What the daemon sent last goes out first (its stop), boundedly.
                let until = Instant::now() + Duration::from_millis(CPG_STOP_MS / 2);
                while !self.backlog.is_empty() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                    self.flush()?;
                }
                return Ok(());
            }
            let timeout = if self.backlog.is_empty() {
                PollTimeout::NONE
            } else {
                PollTimeout::from(10u8)
            };
            let (cpg_ready, woken) = {
                // SAFETY: the fd belongs to `self.handle`, which this thread owns and
                // finalizes only after its last poll.
                let cfd = unsafe { BorrowedFd::borrow_raw(self.fd) };
                let mut fds = [
                    PollFd::new(cfd, PollFlags::POLLIN),
                    PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(DaemonError::Poll(e)),
                }
                let r = |i: usize| fds[i].revents().is_some_and(|e| !e.is_empty());
                (r(0), r(1))
            };
            if woken {
                let mut sink = [0u8; 256];
                while matches!(self.wake.read(&mut sink), Ok(n) if n > 0) {}
            }
            if cpg_ready {
                cpg::dispatch(&self.handle, DispatchFlags::All).map_err(cs("cpg dispatch"))?;
                let events = take_events();
                self.hand(events);
            }
        }
    }

    /// Sends what is queued until corosync asks to wait (flow control).
    fn flush(&mut self) -> Result<(), DaemonError> {
        while let Some((m, label)) = self.backlog.front() {
            let t = self.timing.then(Instant::now);
            match cpg::mcast_joined(&self.handle, cpg::Guarantee::TypeAgreed, m) {
                Ok(()) => {
                    if let (Some(t), Some(label)) = (t, label) {
                        // Off the poll loop now: what corosync costs per multicast.
                        log::info!("timing: CPG {label} took {} us", t.elapsed().as_micros());
                    }
                    self.backlog.pop_front();
                }
                Err(CsError::CsErrTryAgain) => return Ok(()),
                Err(e) => return Err(cs("cpg mcast")(e)),
            }
        }
        Ok(())
    }
}

/// Takes what the callbacks queued.
pub fn take_events() -> Vec<Input> {
    EVENTS.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

impl Drop for Corosync {
    fn drop(&mut self) {
        // Closing the queue stops the thread, which sends what is queued and leaves (on the
        // way out: a failed connection is abandoned instead).
        if let Some(t) = self.cpg.take() {
            let CpgThread { tx, wake, finished } = t;
            drop(tx);
            drop(wake);
            let _ = finished.recv_timeout(Duration::from_millis(CPG_STOP_MS));
        }
        let _ = quorum::finalize(&self.quorum);
    }
}
