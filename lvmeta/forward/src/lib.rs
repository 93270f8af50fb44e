//! Forwarding an lvmeta command to `lvmeta-server`: the wire protocol ([`codec`]) and the
//! client side ([`client::forward`]), shared by the tiny `lvmc` client, `lvmeta` itself and
//! the server's workers.
//!
//! A connection carries one command. The client sends a [`Frame::Request`] (argv, the whole
//! environment, the umask) with its fds 0, 1, 2 and an `O_PATH` fd of its cwd attached by
//! `SCM_RIGHTS`; the worker answers [`Frame::Accepted`] (from then on the command is the
//! server's: the client never runs it itself) and finally [`Frame::Exit`], or
//! [`Frame::Refused`] instead of `Accepted` (the client then runs the command itself). While
//! it waits, the client may send [`Frame::Signal`]s (SIGINT, SIGTERM, SIGHUP it received).

pub mod client;
pub mod codec;
pub mod lvmc;

pub use client::{forward, socket_path, ForwardError, Forwarded, Target};
pub use codec::{DecodeError, EncodeError, Frame, Request};

/// What to do with the outcome of [`forward`]: `None` run the command locally (there was no
/// server, it refused, or it certainly did not run the command), `Some(code)` exit with
/// `code`. A worker that died after accepting the command is reported on stderr (exit 5:
/// lvm's ECMD_FAILED), never run again; a command ended by a signal passed on ends this
/// process by the same signal, as it would have ended a local lvmeta.
pub fn outcome(r: Result<Forwarded, ForwardError>, program: &str) -> Option<i32> {
    match r {
        Ok(Forwarded::Exit(code)) => Some(code),
        Ok(Forwarded::Refused(_)) => None,
        Ok(Forwarded::Signaled(n)) => {
            if let Ok(s) = nix::sys::signal::Signal::try_from(n) {
                let _ = nix::sys::signal::raise(s);
            }
            // Still here: the signal is ignored or handled in this process.
            Some(128 + n)
        }
        Err(e) if e.ran_nothing() => None,
        Err(e) => {
            eprintln!("  {program}: {e}");
            Some(DIED_EXIT)
        }
    }
}

/// The exit code when the worker died: lvm's ECMD_FAILED.
pub const DIED_EXIT: i32 = 5;

/// `argv` as lvmeta's argv if every argument is UTF-8 (as the server takes them).
pub fn utf8_argv(args: impl IntoIterator<Item = std::ffi::OsString>) -> Option<Vec<String>> {
    args.into_iter().map(|a| a.into_string().ok()).collect()
}
