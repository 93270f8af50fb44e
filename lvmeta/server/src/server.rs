//! The parent: binds the socket, forks and reaps children as [`Pool`] decides, stops on
//! SIGTERM/SIGINT once the busy children are done. Single-threaded for its whole life, so
//! every fork is of a process with one thread.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::pool::{Ahead, Event, Limits, Pool, Was};

#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    pub limits: Limits,
    /// Besides root, the uid whose clients are served (tests only: the server's own euid).
    pub allow_uid: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create {path}: {source}")]
    SocketDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lvmeta-server is already running (it answers on {path})")]
    AlreadyRunning { path: PathBuf },
    #[error("cannot listen on {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signals: {0}")]
    Signals(Errno),
    #[error("cannot fork a worker: {0}")]
    Fork(Errno),
    #[error("{what}: {errno}")]
    Sys { what: &'static str, errno: Errno },
}

/// What a child needs from the parent: the listener, the stop pipe (its EOF ends idle
/// children: at SIGTERM, or when they are retired), the status pipe (a child writes its pid
/// there once it accepted) and the memo socket (a worker sends what is worth parsing ahead
/// there, metadata texts and configuration files, one datagram each ([`lvmeta::memo::Report`]),
/// once its command is done).
pub(crate) struct ChildFds<'a> {
    pub listener: &'a UnixListener,
    pub stop: &'a OwnedFd,
    pub status: &'a OwnedFd,
    pub memo: &'a OwnedFd,
    pub allow_uid: Option<u32>,
    /// Closed in the child: the parent's ends.
    pub parents: [i32; 4],
}

/// The memo socket's two ends (parent's, children's): datagrams, each a whole report up to
/// [`lvmeta::memo::MAX_TEXT`] (root may raise the buffers that far; others keep the
/// system's, and larger texts are not sent).
fn memo_socket() -> Result<(OwnedFd, OwnedFd), ServerError> {
    use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};
    let (parent, child) = socketpair(
        AddressFamily::Unix,
        SockType::Datagram,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(|errno| ServerError::Sys {
        what: "socketpair",
        errno,
    })?;
    let want = lvmeta::memo::MAX_TEXT + (64 << 10);
    if setsockopt(&parent, sockopt::RcvBufForce, &(2 * want)).is_err() {
        let _ = setsockopt(&parent, sockopt::RcvBuf, &(2 * want));
    }
    if setsockopt(&child, sockopt::SndBufForce, &want).is_err() {
        let _ = setsockopt(&child, sockopt::SndBuf, &want);
    }
    Ok((parent, child))
}

/// How long no command must have run before the server parses the reports its workers sent
/// ([`Ahead`]).
const QUIET: std::time::Duration = std::time::Duration::from_millis(100);

/// Reports the workers sent, newest last, until the parent has a quiet moment to parse them.
#[derive(Default)]
struct Pending {
    texts: Vec<Vec<u8>>,
}

impl Pending {
    /// Reads every datagram waiting on `sock`, each into a buffer of its own size; one too
    /// long is dropped (a worker sends what lvmeta read or wrote, nothing else reaches the
    /// socket; [`lvmeta::memo::learn`] leaves out what does not decode).
    fn read(&mut self, sock: &OwnedFd) {
        use nix::sys::socket::{recv, MsgFlags};
        let fd = sock.as_raw_fd();
        loop {
            // The next datagram's length, left queued.
            let len = match recv(fd, &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            };
            let mut buf = vec![0u8; len.min(lvmeta::memo::MAX_TEXT)];
            match recv(fd, &mut buf, MsgFlags::MSG_TRUNC) {
                Ok(n) if n == buf.len() && n == len => {
                    self.texts.push(buf);
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        // Bounded: only the newest matter.
        let over = self
            .texts
            .len()
            .saturating_sub(4 * (lvmeta::memo::MAX_ENTRIES + 2 * lvmeta::memo::MAX_CONFIGS));
        self.texts.drain(..over);
    }
}

/// Serves until SIGTERM or SIGINT, then waits for the running commands and removes the
/// socket.
pub fn run(opts: &Options) -> Result<(), ServerError> {
    // Inherited by every child: the workers run lvmeta's commands (see there why).
    lvmeta::env::without_huge_pages();
    lvmeta_cli::prepare();
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        set.add(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(ServerError::Signals)?;
    let sigfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(ServerError::Signals)?;
    let listener = bind(&opts.socket)?;
    let ours = std::fs::metadata(&opts.socket).map(|m| m.ino()).ok();
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::Bind {
            path: opts.socket.clone(),
            source: e,
        })?;
    let sys = |what| move |errno| ServerError::Sys { what, errno };
    let (status_r, status_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    nix::fcntl::fcntl(
        status_r.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(sys("pipe"))?;
    let (mut stop_r, stop_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let mut stop_w = Some(stop_w);
    let (memo_r, memo_w) = memo_socket()?;
    let mut pending = Pending::default();
    let mut ahead = Ahead::new(QUIET);
    log::info!(
        "serving lvmeta commands on {} (idle {}, max {})",
        opts.socket.display(),
        opts.limits.idle,
        opts.limits.max
    );
    let mut pool = Pool::new(opts.limits);
    let mut status_buf: Vec<u8> = Vec::new();
    loop {
        for _ in 0..pool.forks_wanted() {
            let fds = ChildFds {
                listener: &listener,
                stop: &stop_r,
                status: &status_w,
                memo: &memo_w,
                allow_uid: opts.allow_uid,
                parents: [
                    sigfd.as_fd().as_raw_fd(),
                    status_r.as_raw_fd(),
                    stop_w.as_ref().map_or(-1, |f| f.as_raw_fd()),
                    memo_r.as_raw_fd(),
                ],
            };
            // SAFETY: this process has a single thread (the parent never starts one), so
            // the child may run any code; it never returns from `child`.
            match unsafe { fork() }.map_err(ServerError::Fork)? {
                ForkResult::Child => crate::worker::child(&fds),
                ForkResult::Parent { child } => {
                    pool.on(Event::Forked(child.as_raw()));
                }
            }
        }
        if pool.done() {
            break;
        }
        {
            let mut fds = [
                PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
                PollFd::new(status_r.as_fd(), PollFlags::POLLIN),
                PollFd::new(memo_r.as_fd(), PollFlags::POLLIN),
            ];
            let wait = ahead
                .wait(std::time::Instant::now())
                .and_then(|d| PollTimeout::try_from(d).ok())
                .unwrap_or(PollTimeout::NONE);
            match poll(&mut fds, wait) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => {
                    return Err(ServerError::Sys {
                        what: "poll",
                        errno,
                    })
                }
            }
        }
        // Accepted reports first: a child that accepted and already exited is reaped below.
        read_status(&status_r, &mut status_buf, &mut pool);
        let mut idle_died = false;
        while let Ok(Some(info)) = sigfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => idle_died |= reap(&mut pool),
                Ok(s @ (Signal::SIGTERM | Signal::SIGINT)) if !pool.stopping() => {
                    log::info!(
                        "{s:?}: stopping; waiting for {} running command(s)",
                        pool.busy()
                    );
                    pool.on(Event::Stop);
                    // New clients find no socket (they run lvmeta themselves); idle children
                    // see the stop pipe's end and exit; busy ones finish their command.
                    remove_socket(&opts.socket, ours);
                    drop(stop_w.take());
                }
                _ => {}
            }
        }
        // A child reaped while idle and not stopping died by itself: do not fork in a loop.
        if idle_died && !pool.stopping() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // Texts a worker read or committed are parsed here once no command has run for
        // QUIET (not to take the CPU from one, nor from a script's next command), and the
        // idle children, forked before, are replaced by children that start with them
        // parsed.
        pending.read(&memo_r);
        let running = pool.busy() > 0 || pool.stopping();
        let now = std::time::Instant::now();
        if ahead.due(now, !pending.texts.is_empty(), running)
            && lvmeta::memo::learn(std::mem::take(&mut pending.texts))
        {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
            // The old pipe's end tells the idle children to exit.
            stop_r = r;
            stop_w = Some(w);
            pool.on(Event::Retire);
        }
    }
    drop(listener);
    remove_socket(&opts.socket, ours);
    log::info!("stopped");
    Ok(())
}

fn read_status(r: &OwnedFd, buf: &mut Vec<u8>, pool: &mut Pool) {
    let mut chunk = [0u8; 512];
    // Non-blocking: reads what the children wrote so far.
    while let Ok(n @ 1..) = nix::unistd::read(r.as_raw_fd(), &mut chunk) {
        buf.extend_from_slice(&chunk[..n]);
    }
    let whole = buf.len() / 4 * 4;
    for rec in buf[..whole].chunks_exact(4) {
        let pid = i32::from_le_bytes(rec.try_into().expect("4 bytes"));
        pool.on(Event::Accepted(pid));
    }
    buf.drain(..whole);
}

/// Reaps every exited child; true if one of them was idle (it died by itself).
fn reap(pool: &mut Pool) -> bool {
    let mut idle_died = false;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                let was = pool.on(Event::Exited(pid.as_raw()));
                idle_died |= was == Was::Idle && !pool.stopping();
                if code != 0 {
                    log::warn!("worker {pid} ({}) exited with status {code}", what(was));
                }
            }
            Ok(WaitStatus::Signaled(pid, sig, core)) => {
                let was = pool.on(Event::Exited(pid.as_raw()));
                idle_died |= was == Was::Idle && !pool.stopping();
                log::warn!(
                    "worker {pid} ({}) was killed by {sig:?}{}",
                    what(was),
                    if core { " (core dumped)" } else { "" }
                );
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return idle_died,
            Ok(_) => {}
        }
    }
}

fn what(was: Was) -> &'static str {
    match was {
        Was::Idle => "idle",
        Was::Busy => "running a command",
        Was::Retired => "retired",
        Was::Unknown => "unknown",
    }
}

/// Binds `path`: directory created mode 0700 if absent, socket mode 0600. The socket is
/// bound under a temporary name and renamed into place once it listens, so a client that
/// finds the path can connect.
fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(dir) {
        Ok(m) if m.mode() & 0o077 != 0 => log::warn!(
            "{} is open to other users (mode {:o}); the socket itself is mode 0600",
            dir.display(),
            m.mode() & 0o7777
        ),
        Ok(_) => {}
        Err(_) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| ServerError::SocketDir {
                path: dir.to_path_buf(),
                source,
            })?,
    }
    if UnixStream::connect(path).is_ok() {
        return Err(ServerError::AlreadyRunning {
            path: path.to_path_buf(),
        });
    }
    let name = path.file_name().map_or_else(
        || "server.sock".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let err = |source| ServerError::Bind {
        path: path.to_path_buf(),
        source,
    };
    // Mode 0600 from the start: no moment where another user could connect.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(&tmp);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(err)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(listener)
}

/// Removes the socket if it is still the one this server bound (`ino`).
fn remove_socket(path: &Path, ino: Option<u64>) {
    if std::fs::metadata(path).ok().map(|m| m.ino()) == ino && ino.is_some() {
        let _ = std::fs::remove_file(path);
    }
}
