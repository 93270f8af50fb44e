//! One thread per DLM lockspace: libdlm_lt allows one caller per lockspace at a time and its
//! calls block (a join waits for dlm_controld, a call during recovery waits for it to end),
//! so the poll loop hands calls over and learns of completions through a channel plus a
//! wake-up socket it polls.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use clvmd_core::{DlmOp, Input};
use halvm_dlm::{Dlm, DlmLockspace, LockspaceName};

pub enum Work {
    Join,
    Leave,
    /// A DLM call and when it was handed over (for the timing log).
    Call(u64, DlmOp, Instant),
}

/// The environment variable that turns on the timing log (any non-empty value): per DLM call
/// the wait for its lockspace thread and the call itself, per request the time to its answer,
/// at info level. Off by default; when on it costs one log line per call and per request.
pub const TIMING_ENV: &str = "CLVMD_RS_TIMING";

/// Whether the timing log is on (read once per daemon).
pub fn timing_on() -> bool {
    std::env::var_os(TIMING_ENV).is_some_and(|v| !v.is_empty())
}

pub struct Workers {
    dlm: Arc<dyn Dlm>,
    threads: BTreeMap<LockspaceName, Sender<Work>>,
    done_tx: Sender<Input>,
    wake_tx: UnixStream,
    timing: bool,
}

impl Workers {
    /// Returns the workers, the completions' receiver and the socket to poll for them.
    pub fn new(dlm: Arc<dyn Dlm>) -> std::io::Result<(Self, Receiver<Input>, UnixStream)> {
        let (done_tx, done_rx) = channel();
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_rx.set_nonblocking(true)?;
        wake_tx.set_nonblocking(true)?;
        Ok((
            Workers {
                dlm,
                threads: BTreeMap::new(),
                done_tx,
                wake_tx,
                timing: timing_on(),
            },
            done_rx,
            wake_rx,
        ))
    }

    /// Starts the thread that carries out quorum fence actions; returns its queue.
    pub fn spawn_fence(&self, fencer: crate::fence::Fencer) -> Sender<crate::fence::Job> {
        let (tx, rx) = channel::<crate::fence::Job>();
        let done = self.done_tx.clone();
        let mut wake = self.wake_tx.try_clone().expect("clone wake socket");
        std::thread::Builder::new()
            .name("fence".into())
            .spawn(move || {
                // Opened and warmed before the first job: a freeze must not wait for the
                // control device or for its code's first run. A daemon on a host without
                // device-mapper still serves locks, and says why it cannot fence when it has to.
                let mut dm = match lvmeta_dm::ioctl::DmIoctl::open() {
                    Ok(d) => {
                        fencer.warm(&d);
                        Some(d)
                    }
                    Err(e) => {
                        log::error!("device-mapper: {e}");
                        None
                    }
                };
                for job in rx {
                    if dm.is_none() {
                        match lvmeta_dm::ioctl::DmIoctl::open() {
                            Ok(d) => dm = Some(d),
                            Err(e) => log::error!("device-mapper: {e}"),
                        }
                    }
                    let input = match (&dm, job) {
                        (Some(d), crate::fence::Job::Fence(tag, action, ordered)) => {
                            Input::FenceDone {
                                tag,
                                result: fencer.run(d, &action, ordered),
                            }
                        }
                        (Some(d), crate::fence::Job::Watch(tag, action)) => Input::WatchDone {
                            tag,
                            result: crate::fence::watch(d, &action),
                        },
                        (None, job) => job.unavailable(),
                    };
                    if done.send(input).is_err() {
                        return;
                    }
                    let _ = wake.write(&[1]);
                }
            })
            .expect("spawn fence thread");
        tx
    }

    /// Where other worker threads (device-mapper) send their completions, and the wake-up.
    pub fn completions(&self) -> std::io::Result<(Sender<Input>, UnixStream)> {
        Ok((self.done_tx.clone(), self.wake_tx.try_clone()?))
    }

    pub fn submit(&mut self, ls: LockspaceName, work: Work) {
        let tx = self.threads.entry(ls.clone()).or_insert_with(|| {
            let (tx, rx) = channel();
            let dlm = self.dlm.clone();
            let done = self.done_tx.clone();
            let wake = self.wake_tx.try_clone().expect("clone wake socket");
            let timing = self.timing;
            std::thread::Builder::new()
                .name(format!("ls-{ls}"))
                .spawn(move || worker(ls, dlm, rx, done, wake, timing))
                .expect("spawn lockspace thread");
            tx
        });
        tx.send(work)
            .expect("lockspace threads live as long as the daemon");
    }
}

fn worker(
    name: LockspaceName,
    dlm: Arc<dyn Dlm>,
    rx: Receiver<Work>,
    done: Sender<Input>,
    mut wake: UnixStream,
    timing: bool,
) {
    let mut space: Option<Box<dyn DlmLockspace>> = None;
    for work in rx {
        let input = match work {
            Work::Join => {
                log::info!("joining lockspace {name}");
                let result = dlm.join(&name).map(|j| {
                    space = Some(j.ls);
                    j.existed
                });
                Input::Joined {
                    ls: name.clone(),
                    result: result.map_err(|e| e.to_string()),
                }
            }
            Work::Leave => {
                log::info!("leaving lockspace {name}");
                let result = match space.take() {
                    Some(s) => s.release().map_err(|e| e.to_string()),
                    None => Ok(()),
                };
                Input::Left {
                    ls: name.clone(),
                    result,
                }
            }
            Work::Call(tag, op, handed) => {
                log::debug!("{name}: {op:?}");
                let started = Instant::now();
                let result = match space.as_mut() {
                    Some(s) => clvmd_core::execute(s.as_mut(), &op),
                    None => Err(format!("lockspace {name} is not joined")),
                };
                if timing {
                    log::info!(
                        "timing: {name}: {op:?}: {} us to this thread, {} us in the DLM",
                        started.duration_since(handed).as_micros(),
                        started.elapsed().as_micros()
                    );
                }
                Input::DlmDone { tag, result }
            }
        };
        if done.send(input).is_err() {
            return;
        }
        // A full socket already holds a wake-up; the loop drains every completion at once.
        let _ = wake.write(&[1]);
    }
}
