//! Watches dlm_controld by holding a connection to its control socket (the abstract unix
//! socket `dlmc_sock` that libdlmcontrol's commands use). dlm_controld serves it from its poll
//! loop and keeps a silent client; when the process dies the kernel closes its end and the
//! connection reads end-of-file at once, so a death is seen without polling (corosync may stay
//! up: the quorum service then says nothing). While it is gone a connect is tried again on
//! every pass of the poll loop, at most once a second. (The query socket is not used: its
//! thread serves one client at a time and would wait on a silent one.)

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::time::{Duration, Instant};

/// dlm_controld's control socket (DLMC_SOCK_PATH in dlm_controld/dlm_controld.h).
pub const DLMC_SOCK: &[u8] = b"dlmc_sock";

const RETRY: Duration = Duration::from_secs(1);

pub struct DlmControldWatch {
    name: Vec<u8>,
    conn: Option<UnixStream>,
    next_try: Instant,
}

impl DlmControldWatch {
    /// Watches the abstract socket `name` ([`DLMC_SOCK`] but in tests).
    pub fn new(name: &[u8]) -> DlmControldWatch {
        DlmControldWatch {
            name: name.to_vec(),
            conn: None,
            next_try: Instant::now(),
        }
    }

    /// Connects if not connected and a try is due; true when it just connected.
    pub fn reconnect(&mut self) -> bool {
        if self.conn.is_some() || Instant::now() < self.next_try {
            return false;
        }
        self.next_try = Instant::now() + RETRY;
        let c = SocketAddr::from_abstract_name(&self.name)
            .and_then(|a| UnixStream::connect_addr(&a))
            .and_then(|c| c.set_nonblocking(true).map(|()| c));
        match c {
            Ok(c) => {
                self.conn = Some(c);
                true
            }
            Err(e) => {
                log::debug!("dlm_controld: {e}");
                false
            }
        }
    }

    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The connection to poll for readability.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.conn.as_ref().map(|c| c.as_fd())
    }

    /// The connection polled readable: false when dlm_controld is gone (end of file or an
    /// error). It never sends anything unasked; whatever it does send is read and dropped.
    pub fn still_there(&mut self) -> bool {
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        let mut buf = [0u8; 256];
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("dlm_controld connection: {e}");
                    break;
                }
            }
        }
        self.conn = None;
        self.next_try = Instant::now() + RETRY;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn listener(name: &[u8]) -> UnixListener {
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(name).unwrap()).unwrap()
    }

    fn readable(w: &DlmControldWatch) -> bool {
        let fd = w.fd().expect("connected");
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(2000u16)).unwrap() > 0
    }

    #[test]
    fn a_dead_dlm_controld_is_seen_at_once_and_a_new_one_is_connected_to() {
        let name = format!("halvm-test-dlmc-{}", std::process::id());
        let mut w = DlmControldWatch::new(name.as_bytes());
        // Not running: no connection.
        assert!(!w.reconnect());
        assert!(!w.connected());
        let l = listener(name.as_bytes());
        // A try is due only a second after the last one.
        assert!(!w.reconnect());
        w.next_try = Instant::now();
        assert!(w.reconnect());
        let (peer, _) = l.accept().unwrap();
        // Something sent is dropped; the watch stays connected.
        (&peer).write_all(b"x").unwrap();
        assert!(readable(&w));
        assert!(w.still_there());
        // The process dies: its sockets close.
        drop(peer);
        drop(l);
        assert!(readable(&w), "end of file polls readable");
        assert!(!w.still_there());
        assert!(!w.connected());
        let l = listener(name.as_bytes());
        w.next_try = Instant::now();
        assert!(w.reconnect());
        drop(l);
    }

    use std::io::Write;
}
