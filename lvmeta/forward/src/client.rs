//! The client side: [`forward`] a command to the server and wait for its exit code, passing
//! on the signals that would have interrupted a local lvmeta; and the worker's half of the
//! handshake ([`recv_request`], [`send_frame`]), kept here beside the framing it relies on.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::codec::{self, DecodeError, EncodeError, Frame, ReadError, Request, REQUEST_FDS};

/// Where lvmeta-server listens unless `LVMETA_SERVER` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/lvmeta/server.sock";
/// The socket path to forward to, or `0` for never forwarding.
pub const SOCKET_ENV: &str = "LVMETA_SERVER";

/// Where commands go: `LVMETA_SERVER` (a path, or `0`: forwarding off), else the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Off,
    Socket(PathBuf),
}

pub fn socket_path() -> Target {
    target_from(std::env::var_os(SOCKET_ENV).as_deref())
}

pub fn target_from(v: Option<&std::ffi::OsStr>) -> Target {
    match v {
        Some(v) if v.as_bytes() == b"0" => Target::Off,
        Some(v) if !v.is_empty() => Target::Socket(PathBuf::from(v)),
        _ => Target::Socket(PathBuf::from(DEFAULT_SOCKET)),
    }
}

/// The signals a client passes on to the worker (and a worker accepts): those that end a
/// local lvmeta from its terminal or from `kill`.
pub const FORWARDED_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// How a forwarded command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded {
    /// The worker ran it: exit with this code.
    Exit(i32),
    /// The server does not serve this client (reason): run the command locally.
    Refused(String),
    /// The client passed this signal on and the worker then ended without an exit status,
    /// as a local lvmeta killed by it: the client ends by the same signal.
    Signaled(i32),
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No server listens there (ENOENT, ECONNREFUSED, ENOTDIR): run locally.
    #[error("no lvmeta-server at {path}: {source}")]
    NoServer { path: PathBuf, source: io::Error },
    #[error("cannot connect to lvmeta-server at {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    /// Something of this process that the request carries is missing (a closed fd 0-2, an
    /// unreadable cwd) or signals could not be set up: run locally.
    #[error("cannot forward ({what}): {errno}")]
    Local { what: &'static str, errno: Errno },
    #[error("cannot forward this command: {0}")]
    Encode(#[from] EncodeError),
    /// The connection ended or broke before the worker accepted the command, so it did not
    /// run: run locally.
    #[error("lvmeta-server at {path} did not take the command: {detail}")]
    NotAccepted { path: PathBuf, detail: String },
    /// The worker accepted the command and ended without an exit status: the command may
    /// have run, in part. Never run it again by itself.
    #[error("the lvmeta-server worker running the command ended without an exit status ({detail}); it may have been carried out in part: check the state (e.g. with lvs) before running it again")]
    Died { detail: String },
}

impl ForwardError {
    /// True when the command certainly did not run: running it locally is then safe.
    pub fn ran_nothing(&self) -> bool {
        !matches!(self, ForwardError::Died { .. })
    }
}

/// Forwards `argv` (lvmeta's, argv[0] included) with this process's environment, umask,
/// fds 0, 1, 2 and cwd to the server at `socket`, and waits for the outcome. SIGINT, SIGTERM
/// and SIGHUP received meanwhile are passed on to the worker (and raised again here if the
/// command is not taken).
pub fn forward(socket: &Path, argv: &[String]) -> Result<Forwarded, ForwardError> {
    let env: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            e
        })
        // An entry std can list but set_var could not set is left out rather than refused.
        .filter(|e| codec::check_env(e, 0).is_ok())
        .collect();
    let req = Request {
        argv: argv.to_vec(),
        env,
        umask: current_umask(),
    };
    let stdin = io::stdin();
    let stdout = io::stdout();
    let stderr = io::stderr();
    let stdio = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
    for fd in stdio {
        nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).map_err(|errno| {
            ForwardError::Local {
                what: "fd 0, 1 or 2 is closed",
                errno,
            }
        })?;
    }
    let cwd = nix::fcntl::open(
        ".",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|errno| ForwardError::Local {
        what: "the current directory",
        errno,
    })?;
    // SAFETY: `open` just returned this fd and nothing else owns it.
    let cwd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(cwd) };
    forward_request(socket, &req, [stdio[0], stdio[1], stdio[2], cwd.as_fd()])
}

fn current_umask() -> u32 {
    use nix::sys::stat::{umask, Mode};
    // Reading the umask means setting it; this process is single-threaded here (lvmc, or
    // lvmeta before it runs anything), so nobody sees the moment it is 0.
    let m = umask(Mode::empty());
    umask(m);
    m.bits()
}

/// [`forward`] with the request and the four fds (stdin, stdout, stderr, cwd) given.
pub fn forward_request(
    socket: &Path,
    req: &Request,
    fds: [BorrowedFd<'_>; REQUEST_FDS],
) -> Result<Forwarded, ForwardError> {
    let bytes = codec::encode(&Frame::Request(req.clone()))?;
    let mut stream = UnixStream::connect(socket).map_err(|source| {
        let path = socket.to_path_buf();
        match source.raw_os_error().map(Errno::from_raw) {
            Some(Errno::ENOENT | Errno::ECONNREFUSED | Errno::ENOTDIR) => {
                ForwardError::NoServer { path, source }
            }
            _ => ForwardError::Connect { path, source },
        }
    })?;
    let mut signals = Signals::block()?;
    let not_accepted = |detail: String| ForwardError::NotAccepted {
        path: socket.to_path_buf(),
        detail,
    };
    let outcome = match send_request(&stream, &bytes, &fds) {
        // The worker may have refused before reading: its answer may be there to read.
        Err(e) => match codec::read_frame(&mut stream) {
            Ok(Some(Frame::Refused(r))) => Ok(Forwarded::Refused(r)),
            _ => Err(not_accepted(format!("sending the request: {e}"))),
        },
        Ok(()) => wait(&mut stream, &mut signals, not_accepted),
    };
    // Signals taken before the command was accepted, or while refused, are this process's
    // again: raised once they are unblocked, they act as on a local lvmeta.
    signals.restore(!matches!(outcome, Ok(Forwarded::Exit(_))));
    outcome
}

fn send_request(stream: &UnixStream, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let mut sent = loop {
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[io::IoSlice::new(bytes)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // The fds went with the first bytes; the rest is plain data.
    while sent < bytes.len() {
        match nix::sys::socket::send(stream.as_raw_fd(), &bytes[sent..], MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn wait(
    stream: &mut UnixStream,
    signals: &mut Signals,
    not_accepted: impl Fn(String) -> ForwardError,
) -> Result<Forwarded, ForwardError> {
    let mut accepted = false;
    let mut forwarded: Option<i32> = None;
    let mut pending: Vec<i32> = Vec::new();
    loop {
        let (sock_ready, sig_ready) = {
            let mut fds = [
                PollFd::new(stream.as_fd(), PollFlags::POLLIN),
                PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(errno) => {
                    let detail = format!("poll: {errno}");
                    return Err(if accepted {
                        ForwardError::Died { detail }
                    } else {
                        not_accepted(detail)
                    });
                }
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        if sig_ready {
            if let Ok(Some(info)) = signals.fd.read_signal() {
                let n = info.ssi_signo as i32;
                if accepted {
                    // A failed send shows as the worker's end below.
                    let _ = send_frame(&*stream, &Frame::Signal(n));
                    forwarded = Some(n);
                } else {
                    pending.push(n);
                }
            }
        }
        if !sock_ready {
            continue;
        }
        match codec::read_frame(stream) {
            Ok(Some(Frame::Accepted)) if !accepted => {
                accepted = true;
                for n in pending.drain(..) {
                    let _ = send_frame(&*stream, &Frame::Signal(n));
                    forwarded = Some(n);
                }
            }
            Ok(Some(Frame::Refused(r))) if !accepted => {
                signals.keep(pending);
                return Ok(Forwarded::Refused(r));
            }
            Ok(Some(Frame::Exit(c))) if accepted => return Ok(Forwarded::Exit(c)),
            other => {
                // A worker that died leaves EOF, or ECONNRESET if a frame of ours was unread.
                let closed = match &other {
                    Ok(None) => true,
                    Err(ReadError::Io(e)) => e.kind() == io::ErrorKind::ConnectionReset,
                    _ => false,
                };
                let detail = match other {
                    Ok(None) => "connection closed".to_string(),
                    Ok(Some(f)) => format!("unexpected {f:?}"),
                    Err(e) => e.to_string(),
                };
                if !accepted {
                    signals.keep(pending);
                    return Err(not_accepted(detail));
                }
                if let Some(n) = forwarded.filter(|_| closed) {
                    return Ok(Forwarded::Signaled(n));
                }
                return Err(ForwardError::Died { detail });
            }
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP blocked and read from a signalfd while a command is
/// forwarded; the previous mask comes back with [`Signals::restore`].
struct Signals {
    fd: SignalFd,
    old: SigSet,
    /// Taken from the signalfd but not passed on: raised again on restore.
    kept: Vec<i32>,
}

impl Signals {
    fn block() -> Result<Signals, ForwardError> {
        let mut set = SigSet::empty();
        for s in FORWARDED_SIGNALS {
            set.add(s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).map_err(
            |errno| ForwardError::Local {
                what: "blocking signals",
                errno,
            },
        )?;
        match SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC) {
            Ok(fd) => Ok(Signals {
                fd,
                old,
                kept: Vec::new(),
            }),
            Err(errno) => {
                let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
                Err(ForwardError::Local {
                    what: "signalfd",
                    errno,
                })
            }
        }
    }

    fn keep(&mut self, signals: Vec<i32>) {
        self.kept.extend(signals);
    }

    /// Back to the old mask; with `reraise`, the signals kept are raised again first so
    /// that they act once unblocked.
    fn restore(self, reraise: bool) {
        if reraise {
            for n in &self.kept {
                if let Ok(s) = Signal::try_from(*n) {
                    let _ = nix::sys::signal::raise(s);
                }
            }
        }
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Writes one frame (the worker's answers, the client's signals).
pub fn send_frame(mut w: impl Write, f: &Frame) -> io::Result<()> {
    let bytes = codec::encode(f).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    w.write_all(&bytes)
}

/// Why the worker could not read a request.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    #[error("the client closed the connection before sending a request")]
    Closed,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("bad request: {0}")]
    Decode(#[from] DecodeError),
    #[error("a {kind} frame where a request was expected")]
    NotARequest { kind: &'static str },
    #[error("the request carried {count} fds, not {REQUEST_FDS}")]
    Fds { count: usize },
}

/// The request of a connection and its fds (stdin, stdout, stderr, cwd), for the worker.
pub fn recv_request(stream: &mut UnixStream) -> Result<(Request, Vec<OwnedFd>), RecvError> {
    let mut header = [0u8; codec::HEADER_LEN];
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut truncated = false;
    let mut got = 0;
    // The fds come with the first bytes; a client's first sendmsg holds the whole header
    // unless the socket is nearly full, so the header is read with recvmsg until complete.
    while got < header.len() {
        let mut cmsg = nix::cmsg_space!([RawFd; REQUEST_FDS]);
        let mut iov = [io::IoSliceMut::new(&mut header[got..])];
        let msg = match recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            // A client gone before its first byte (one probing whether a server runs).
            Err(Errno::ECONNRESET) if got == 0 => return Err(RecvError::Closed),
            Err(e) => return Err(io::Error::from(e).into()),
        };
        truncated |= msg.flags.contains(MsgFlags::MSG_CTRUNC);
        let n = msg.bytes;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    for fd in raw {
                        // SAFETY: the kernel just installed this fd in this process for
                        // this message; nothing else owns it.
                        fds.push(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
                    }
                }
            }
        }
        if n == 0 {
            return Err(if got == 0 {
                RecvError::Closed
            } else {
                DecodeError::Truncated {
                    have: got,
                    need: codec::HEADER_LEN,
                }
                .into()
            });
        }
        got += n;
    }
    let h = codec::parse_header(&header)?;
    let frame = codec::read_body(stream, h).map_err(|e| match e {
        ReadError::Decode(d) => RecvError::Decode(d),
        ReadError::Io(e) => RecvError::Io(e),
    })?;
    let req = match frame {
        Frame::Request(r) => r,
        other => {
            return Err(RecvError::NotARequest {
                kind: frame_kind(&other),
            })
        }
    };
    if truncated || fds.len() != REQUEST_FDS {
        return Err(RecvError::Fds {
            count: fds.len() + usize::from(truncated),
        });
    }
    Ok((req, fds))
}

fn frame_kind(f: &Frame) -> &'static str {
    match f {
        Frame::Request(_) => "request",
        Frame::Signal(_) => "signal",
        Frame::Accepted => "accepted",
        Frame::Exit(_) => "exit",
        Frame::Refused(_) => "refused",
    }
}

/// Reads what a client sends after its request: `Ok(Some(n))` a signal, `Ok(None)` the end
/// of the connection (the client is gone), `Err` anything else.
pub fn read_signal(r: &mut impl Read) -> Result<Option<i32>, RecvError> {
    match codec::read_frame(r) {
        Ok(None) => Ok(None),
        Ok(Some(Frame::Signal(n))) => Ok(Some(n)),
        Ok(Some(other)) => Err(RecvError::NotARequest {
            kind: frame_kind(&other),
        }),
        Err(ReadError::Decode(d)) => Err(d.into()),
        Err(ReadError::Io(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn target_comes_from_the_environment_value() {
        assert_eq!(
            target_from(None),
            Target::Socket(PathBuf::from(DEFAULT_SOCKET))
        );
        assert_eq!(target_from(Some(OsStr::new("0"))), Target::Off);
        assert_eq!(
            target_from(Some(OsStr::new(""))),
            Target::Socket(PathBuf::from(DEFAULT_SOCKET))
        );
        assert_eq!(
            target_from(Some(OsStr::new("/tmp/s"))),
            Target::Socket(PathBuf::from("/tmp/s"))
        );
    }

    #[test]
    fn only_a_died_worker_forbids_running_locally() {
        let e = io::Error::from(io::ErrorKind::NotFound);
        assert!(ForwardError::NoServer {
            path: "/x".into(),
            source: e
        }
        .ran_nothing());
        assert!(ForwardError::NotAccepted {
            path: "/x".into(),
            detail: String::new()
        }
        .ran_nothing());
        assert!(!ForwardError::Died {
            detail: String::new()
        }
        .ran_nothing());
    }
}
