//! The client against a stand-in worker (a thread here): what the request carries (argv,
//! environment, umask, and stdin, stdout, stderr and cwd as fds that work on the other
//! side), and how each way a connection can end is classified.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use lvmeta_forward::client::{forward_request, recv_request, send_frame};
use lvmeta_forward::{ForwardError, Forwarded, Frame, Request};

fn request() -> Request {
    Request {
        argv: vec!["lvmeta".into(), "lvs".into()],
        env: vec![b"LVM_SYSTEM_DIR=/x".to_vec(), b"EMPTY=".to_vec()],
        umask: 0o027,
    }
}

/// Runs `worker` on the first connection to a socket in `dir`, and forwards `request()`
/// with a pipe as stdin (holding `stdin`), a pipe as stdout, /dev/null as stderr and `dir`
/// as cwd; returns the outcome and what the worker wrote to stdout.
fn exchange(
    dir: &Path,
    stdin: &[u8],
    worker: impl FnOnce(std::os::unix::net::UnixStream) + Send + 'static,
) -> (Result<Forwarded, ForwardError>, String) {
    let socket = dir.join("s.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let t = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        worker(s);
    });
    let (in_r, in_w) = nix::unistd::pipe().unwrap();
    std::fs::File::from(in_w).write_all(stdin).unwrap();
    let (out_r, out_w) = nix::unistd::pipe().unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let cwd = std::fs::File::open(dir).unwrap();
    let r = forward_request(
        &socket,
        &request(),
        [in_r.as_fd(), out_w.as_fd(), null.as_fd(), cwd.as_fd()],
    );
    t.join().unwrap();
    drop(out_w);
    let mut out = String::new();
    std::fs::File::from(out_r).read_to_string(&mut out).unwrap();
    (r, out)
}

#[test]
fn the_worker_gets_the_command_and_working_fds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("marker"), "here").unwrap();
    let (r, out) = exchange(dir.path(), b"y\n", |mut s| {
        send_frame(&s, &Frame::Accepted).unwrap();
        let (req, fds) = recv_request(&mut s).unwrap();
        assert_eq!(req, request());
        let [stdin, stdout, _stderr, cwd]: [OwnedFd; 4] = fds.try_into().unwrap();
        let mut answer = String::new();
        std::fs::File::from(stdin)
            .read_to_string(&mut answer)
            .unwrap();
        // The cwd fd is an O_PATH directory: files resolve relative to it.
        let marker = std::fs::read_to_string(format!(
            "/proc/self/fd/{}/marker",
            std::os::fd::AsRawFd::as_raw_fd(&cwd)
        ))
        .unwrap();
        write!(
            std::fs::File::from(stdout),
            "answer {answer:?} marker {marker}"
        )
        .unwrap();
        send_frame(&s, &Frame::Exit(7)).unwrap();
    });
    assert_eq!(r.unwrap(), Forwarded::Exit(7));
    assert_eq!(out, "answer \"y\\n\" marker here");
}

#[test]
fn a_refusal_is_returned_for_the_client_to_run_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = exchange(dir.path(), b"", |s| {
        send_frame(&s, &Frame::Refused("root only".into())).unwrap();
    });
    assert_eq!(r.unwrap(), Forwarded::Refused("root only".into()));
}

#[test]
fn an_end_before_accepted_ran_nothing_and_after_it_is_a_dead_worker() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = exchange(dir.path(), b"", drop);
    let e = r.unwrap_err();
    assert!(matches!(e, ForwardError::NotAccepted { .. }), "{e}");
    assert!(e.ran_nothing());

    let dir = tempfile::tempdir().unwrap();
    let (r, _) = exchange(dir.path(), b"", |mut s| {
        send_frame(&s, &Frame::Accepted).unwrap();
        let _ = recv_request(&mut s).unwrap();
    });
    let e = r.unwrap_err();
    assert!(matches!(e, ForwardError::Died { .. }), "{e}");
    assert!(!e.ran_nothing());
    assert!(e.to_string().contains("check the state"), "{e}");

    // An exit code before Accepted is not a valid answer: nothing ran.
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = exchange(dir.path(), b"", |s| {
        send_frame(&s, &Frame::Exit(0)).unwrap();
    });
    assert!(r.unwrap_err().ran_nothing());
}

#[test]
fn no_socket_or_no_listener_is_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let fds = [null.as_fd(), null.as_fd(), null.as_fd(), null.as_fd()];
    for path in [
        dir.path().join("absent.sock"),
        dir.path().join("no/dir/s.sock"),
    ] {
        let e = forward_request(&path, &request(), fds).unwrap_err();
        assert!(matches!(e, ForwardError::NoServer { .. }), "{e}");
    }
    // A socket file nobody listens on any more.
    let path = dir.path().join("stale.sock");
    drop(UnixListener::bind(&path).unwrap());
    let e = forward_request(&path, &request(), fds).unwrap_err();
    assert!(matches!(e, ForwardError::NoServer { .. }), "{e}");
}
