//! A child of the server: waits for a connection while idle, then serves exactly one
//! command as a worker and exits.
//!
//! The worker checks its client (root only, as clvmd-rs: peer credentials; same mount
//! namespace and root directory as the server, so paths mean the same), answers `Accepted`,
//! reads the request, takes on the client's fds 0-2, cwd, umask and environment (this
//! process has one thread until then) and runs `lvmeta_cli::main_with(argv)`. A thread
//! watches the connection: a `Signal` from the client is raised here, as if the user had hit
//! Ctrl-C on a local lvmeta; the client's end (it died) raises SIGHUP, as a local lvmeta
//! loses its terminal.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::time::{Duration, Instant};

use lvmeta_forward::client::{read_signal, recv_request, send_frame, RecvError, FORWARDED_SIGNALS};
use lvmeta_forward::{Frame, Request};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use crate::prefault;
use crate::server::ChildFds;

/// How long a client may take to send its request once accepted.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Set once the command finished: the client's end of the connection then means nothing.
static DONE: AtomicBool = AtomicBool::new(false);

/// The child's whole life; never returns.
pub(crate) fn child(fds: &ChildFds<'_>) -> ! {
    // The parent's signal mask (blocked for its signalfd) is not the worker's.
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for fd in fds.parents {
        if fd >= 0 {
            let _ = nix::unistd::close(fd);
        }
    }
    // Its own session, with no controlling terminal: a Ctrl-C meant for a server run from a
    // terminal does not reach the commands it runs, and a client's terminal passed as fd 0-2
    // never brings job control (SIGTTIN, SIGTTOU) on the worker.
    let _ = nix::unistd::setsid();
    let parent = nix::unistd::getppid();
    // An idle child ends with its parent (else it would keep the socket answering).
    let _ = nix::sys::prctl::set_pdeathsig(Some(Signal::SIGTERM));
    if nix::unistd::getppid() != parent {
        exit(0);
    }
    // Started while idle: a command would otherwise start it first.
    let watcher = spawn_watcher();
    let stream = match wait_for_client(fds) {
        Some(s) => s,
        None => exit(0),
    };
    // Busy: the command finishes even if the server goes away.
    let _ = nix::sys::prctl::set_pdeathsig(None);
    let me = std::process::id() as i32;
    let _ = nix::unistd::write(fds.status.as_fd(), &me.to_le_bytes());
    let _ = nix::unistd::close(fds.listener.as_raw_fd());
    let _ = nix::unistd::close(fds.stop.as_raw_fd());
    let _ = nix::unistd::close(fds.status.as_raw_fd());
    serve(stream, fds.allow_uid, watcher);
    send_reports(fds.memo);
    exit(0)
}

/// What this command read without finding it parsed (metadata texts, configuration files),
/// or committed: the next command will read them (lvmeta::memo's reports).
static REPORTS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Hands the reports to the parent, which parses them while idle for the children it forks
/// next; after the client has its answer. Best effort: a full or closed socket loses them.
fn send_reports(memo: &OwnedFd) {
    let reports = std::mem::take(&mut *REPORTS.lock().unwrap_or_else(|p| p.into_inner()));
    for t in reports {
        if let Err(e) = nix::sys::socket::send(
            memo.as_raw_fd(),
            &t,
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        ) {
            log::debug!("report not handed to the server: {e}");
        }
    }
}

/// Waits for a connection, or for the stop pipe's end (None); meanwhile copies the memory
/// shared with the server once the server has been quiet ([`prefault::Ahead`]).
fn wait_for_client(fds: &ChildFds<'_>) -> Option<UnixStream> {
    let mut ahead = prefault::Ahead::new(Instant::now());
    loop {
        let (conn, stop) = {
            let mut p = [
                PollFd::new(fds.listener.as_fd(), PollFlags::POLLIN),
                PollFd::new(fds.stop.as_fd(), PollFlags::POLLIN),
            ];
            let wait = ahead
                .timeout(Instant::now())
                .and_then(|d| PollTimeout::try_from(d).ok())
                .unwrap_or(PollTimeout::NONE);
            if let Err(e) = poll(&mut p, wait) {
                if e == nix::errno::Errno::EINTR {
                    continue;
                }
                log::error!("poll: {e}");
                return None;
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&p[0]), ready(&p[1]))
        };
        if stop {
            return None;
        }
        if !conn {
            ahead.step(Instant::now());
            continue;
        }
        ahead.client_seen(Instant::now());
        // Every idle child woke up; one gets the connection, the others go back to wait.
        match fds.listener.accept() {
            Ok((s, _)) => return Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::error!("accept: {e}");
                return None;
            }
        }
    }
}

/// Whether the worker serves this peer: the reason for a refusal.
fn check_peer(stream: &UnixStream, allow_uid: Option<u32>) -> Result<(), String> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let cred = getsockopt(stream, PeerCredentials).map_err(|e| {
        log::warn!("peer credentials: {e}");
        format!("peer credentials: {e}")
    })?;
    if cred.uid() != 0 && Some(cred.uid()) != allow_uid {
        log::warn!(
            "refused a client with uid {} (pid {}): root only",
            cred.uid(),
            cred.pid()
        );
        return Err(format!(
            "permission denied: lvmeta-server serves root only (you are uid {})",
            cred.uid()
        ));
    }
    same_namespace(cred.pid()).map_err(|why| {
        log::warn!("refused pid {}: {why}", cred.pid());
        why
    })
}

/// The client must see the same files as the server: same mount namespace, same root.
fn same_namespace(pid: i32) -> Result<(), String> {
    if pid <= 0 {
        return Err("the client's pid is not visible here".into());
    }
    let ns = |p: String| std::fs::read_link(format!("/proc/{p}/ns/mnt"));
    let root = |p: String| std::fs::metadata(format!("/proc/{p}/root"));
    let (Ok(theirs), Ok(mine)) = (ns(pid.to_string()), ns("self".into())) else {
        return Err(format!("cannot read the mount namespace of pid {pid}"));
    };
    if theirs != mine {
        return Err("the client is in another mount namespace".into());
    }
    let (Ok(theirs), Ok(mine)) = (root(pid.to_string()), root("self".into())) else {
        return Err(format!("cannot read the root directory of pid {pid}"));
    };
    if (theirs.dev(), theirs.ino()) != (mine.dev(), mine.ino()) {
        return Err("the client has another root directory".into());
    }
    Ok(())
}

/// A server whose binary was replaced on disk (a package upgrade) still runs the old lvmeta:
/// it refuses, so the client runs the new one itself, until the service is restarted.
fn check_current() -> Result<(), String> {
    match std::fs::read_link("/proc/self/exe") {
        Ok(exe) if exe.to_string_lossy().ends_with(" (deleted)") => {
            log::warn!(
                "{} was replaced on disk: refusing commands until lvmeta-server is restarted \
                 (clients run lvmeta themselves)",
                exe.display()
            );
            Err("lvmeta-server runs a binary replaced on disk; restart it".into())
        }
        _ => Ok(()),
    }
}

fn serve(mut stream: UnixStream, allow_uid: Option<u32>, watcher: Option<Sender<UnixStream>>) {
    if let Err(why) = check_current().and_then(|()| check_peer(&stream, allow_uid)) {
        let _ = send_frame(&stream, &Frame::Refused(why));
        return;
    }
    if send_frame(&stream, &Frame::Accepted).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let (req, fds) = match recv_request(&mut stream) {
        Ok(r) => r,
        Err(e @ RecvError::Closed) => {
            // Not an error: a client checking whether a server runs, or one that died.
            log::info!("{e}");
            return;
        }
        Err(e) => {
            log::warn!("{e}; connection closed");
            return;
        }
    };
    let _ = stream.set_read_timeout(None);
    // From here fd 2 is the client's: this worker's own records go to syslog only.
    halvm_syslog::Syslog::new("lvmeta-server", log::LevelFilter::Info)
        .with_facility(3)
        .install();
    if let Err(e) = apply(&req, fds) {
        // The client's fds may be half in place: say it on both ends.
        log::error!("cannot take on the client's {e}");
        eprintln!("  lvmeta-server: cannot take on the client's {e}");
        let _ = send_frame(&stream, &Frame::Exit(lvmeta_forward::DIED_EXIT));
        return;
    }
    match stream.try_clone() {
        Ok(watch) => match watcher {
            Some(w) => {
                if let Err(back) = w.send(watch) {
                    std::thread::spawn(move || watch_client(back.0));
                }
            }
            None => {
                std::thread::spawn(move || watch_client(watch));
            }
        },
        Err(e) => log::warn!("cannot watch the client: {e}"),
    }
    lvmeta::memo::set_sink(|t| {
        REPORTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(t.to_vec())
    });
    let code = match std::panic::catch_unwind(|| lvmeta_cli::main_with(&req.argv)) {
        Ok(c) => c,
        Err(_) => {
            eprintln!("  lvmeta-server: the command panicked (a bug; the message is above)");
            lvmeta_forward::DIED_EXIT
        }
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    DONE.store(true, Ordering::SeqCst);
    let _ = send_frame(&stream, &Frame::Exit(code.clamp(0, 255)));
}

/// The client's fds onto 0, 1, 2, its cwd, umask and environment. Safe to change the
/// environment here: the only other thread, the watcher, waits for its connection and reads
/// nothing until it gets it, after this.
fn apply(req: &Request, fds: Vec<OwnedFd>) -> Result<(), String> {
    for (target, fd) in fds.iter().take(3).enumerate() {
        nix::unistd::dup2(fd.as_raw_fd(), target as i32)
            .map_err(|e| format!("fd {target}: {e}"))?;
    }
    nix::unistd::fchdir(fds[3].as_raw_fd()).map_err(|e| format!("directory: {e}"))?;
    drop(fds);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(req.umask));
    for (k, _) in std::env::vars_os() {
        std::env::remove_var(k);
    }
    use std::os::unix::ffi::OsStrExt;
    for e in &req.env {
        // Checked by the codec: NAME non-empty, no NUL.
        let eq = e
            .iter()
            .position(|&b| b == b'=')
            .expect("checked NAME=VALUE");
        std::env::set_var(
            std::ffi::OsStr::from_bytes(&e[..eq]),
            std::ffi::OsStr::from_bytes(&e[eq + 1..]),
        );
    }
    Ok(())
}

/// Starts the watcher thread of the command this child will run, before its client comes:
/// starting a thread is a good part of a millisecond under an emulator, and nothing of it
/// depends on the client. It waits for the connection (`None`: no thread, one is started
/// with the command).
fn spawn_watcher() -> Option<Sender<UnixStream>> {
    let (tx, rx) = channel::<UnixStream>();
    let started = std::thread::Builder::new()
        .name("watch".into())
        .spawn(move || {
            // The sender is dropped unused when this child ends idle.
            if let Ok(s) = rx.recv() {
                watch_client(s);
            }
        });
    started.ok().map(|_| tx)
}

/// The watcher thread: a client's signal is raised in this process; the client's end
/// raises SIGHUP, unless the command is done.
fn watch_client(mut s: UnixStream) {
    loop {
        match read_signal(&mut s) {
            Ok(Some(n)) => {
                let Some(sig) = FORWARDED_SIGNALS.into_iter().find(|s| *s as i32 == n) else {
                    log::warn!("ignored signal {n} from the client");
                    continue;
                };
                if !DONE.load(Ordering::SeqCst) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), sig);
                }
            }
            // The end, or a reset: a client that died before it read all the worker sent
            // (its `Accepted`) resets the connection instead of closing it.
            Ok(None) | Err(RecvError::Io(_)) => {
                if !DONE.load(Ordering::SeqCst) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGHUP);
                }
                return;
            }
            Err(e) => {
                if !DONE.load(Ordering::SeqCst) {
                    log::warn!("client connection: {e}; no longer watched");
                }
                return;
            }
        }
    }
}

fn exit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    // SAFETY: _exit ends the process at once; nothing of this fork's copy of the parent
    // (atexit handlers, buffers of the parent's) must run.
    unsafe { nix::libc::_exit(code) }
}
