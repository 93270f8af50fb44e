//! The daemon binary on the development host: no DLM, and corosync is not running, so it
//! runs with --no-corosync (a CPG group of one, never quorate). What is checked here is what
//! needs no cluster: the socket, its framing and bounds, peer credentials, the handshake,
//! clear errors, daemonizing and status. Everything that needs the DLM is in the lab tests.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clvmd_client::{Client, ClientError};
use clvmd_proto::*;

const BIN: &str = env!("CARGO_BIN_EXE_clvmd-rs");

struct Daemon {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(BIN)
            .args(["-f", "--no-corosync", "--node-name", "testnode", "-s"])
            .arg(dir.path().join("s.sock"))
            .arg("-p")
            .arg(dir.path().join("pid"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Daemon {
            child: Some(child),
            dir,
        };
        d.wait_for_socket();
        d
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("s.sock")
    }

    fn wait_for_socket(&self) {
        let t = Instant::now();
        while UnixStream::connect(self.socket()).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.socket(), "test").unwrap()
    }

    fn alive(&mut self) {
        let st = self.client().status().unwrap();
        assert_eq!(st.node_name, "testnode");
        if let Some(c) = self.child.as_mut() {
            assert!(c.try_wait().unwrap().is_none(), "daemon exited");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn raw(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads the daemon's answer and then expects the connection to be closed.
fn refused_then_closed(mut s: UnixStream) -> String {
    let resp: Response = read_frame(&mut s, MAX_RESPONSE).unwrap();
    let msg = match resp {
        Response::Failed {
            kind: ErrorKind::Protocol,
            message,
        } => message,
        r => panic!("expected a protocol refusal, got {r:?}"),
    };
    let mut rest = Vec::new();
    let n = s.read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "connection should be closed");
    msg
}

#[test]
fn status_through_the_client_library() {
    let mut d = Daemon::start();
    let mut c = d.client();
    assert_eq!(c.node().1, "testnode");
    // Out of any CPG group: nothing to learn from other daemons, answered at once (the
    // status command syncs first, below too).
    c.sync().unwrap();
    let st = c.status().unwrap();
    assert!(!st.quorate);
    assert!(st.lockspaces.is_empty());
    let out = Command::new(BIN)
        .arg("status")
        .arg("-s")
        .arg(d.socket())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("node testnode (id 0), NOT quorate\n"),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["status", "--json"])
        .env("CLVMD_RS_SOCKET", d.socket())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["node_name"], "testnode");
    d.alive();
}

#[test]
fn garbage_truncated_and_oversized_frames_are_rejected_without_a_crash() {
    let mut d = Daemon::start();
    // Garbage JSON in a well-formed frame.
    let mut s = raw(&d.socket());
    s.write_all(&[5, 0, 0, 0, b'{', b'x', 0xff, b'}', b']'])
        .unwrap();
    assert!(refused_then_closed(s).contains("bad frame"));
    // A length beyond the maximum: refused as soon as the header is in.
    let mut s = raw(&d.socket());
    s.write_all(&u32::MAX.to_le_bytes()).unwrap();
    assert!(refused_then_closed(s).contains("exceeds the maximum"));
    // A zero-length frame.
    let mut s = raw(&d.socket());
    s.write_all(&[0, 0, 0, 0]).unwrap();
    assert!(refused_then_closed(s).contains("empty frame"));
    // Truncated: a header promising more than is sent, then the client goes away.
    let mut s = raw(&d.socket());
    s.write_all(&[100, 0, 0, 0, b'{']).unwrap();
    drop(s);
    // Random bytes.
    let mut s = raw(&d.socket());
    let junk: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = s.write_all(&junk);
    drop(s);
    d.alive();
}

#[test]
fn handshake_is_required_and_versioned() {
    let mut d = Daemon::start();
    let mut s = raw(&d.socket());
    write_frame(&mut s, &Request::Status, MAX_REQUEST).unwrap();
    assert!(refused_then_closed(s).contains("hello"));
    let mut s = raw(&d.socket());
    write_frame(
        &mut s,
        &Request::Hello {
            version: PROTOCOL_VERSION + 1,
            client: "future".into(),
        },
        MAX_REQUEST,
    )
    .unwrap();
    assert!(refused_then_closed(s).contains("not supported"));
    d.alive();
}

#[test]
fn lockstart_without_dlm_controld_is_a_clear_error() {
    assert!(
        !Path::new(clvmd_rs::CLUSTER_NAME_FILE).exists(),
        "this test expects a host without dlm_controld"
    );
    let d = Daemon::start();
    let e = d.client().lock_start("vg0", "1.0.0:halvmlab").unwrap_err();
    match e {
        ClientError::Failed {
            kind: ErrorKind::NoDlm,
            message,
        } => assert!(message.contains("dlm_controld"), "{message}"),
        e => panic!("{e}"),
    }
    // Locks in a lockspace that is not started are refused with the command to run.
    let e = d
        .client()
        .lv_lock("vg0", "abcdef0123456789ABCDEF0123456789", "lv", Mode::Ex)
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Failed {
                kind: ErrorKind::NoQuorum | ErrorKind::NotStarted,
                ..
            }
        ),
        "{e}"
    );
    let e = d
        .client()
        .lock(Scope::Vg("vg0".into()), Mode::Pr, Duration::ZERO)
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Failed { kind: ErrorKind::NotStarted, message } if message.contains("--lockstart")),
        "{e}"
    );
    // No quorum, no change.
    let e = d
        .client()
        .lock(Scope::Global, Mode::Ex, Duration::ZERO)
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Failed {
                kind: ErrorKind::NoQuorum,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    let d = Daemon::start();
    let out = Command::new(BIN)
        .args(["-f", "--no-corosync", "-s"])
        .arg(d.socket())
        .arg("-p")
        .arg(d.dir.path().join("pid2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
}

#[test]
fn daemonizes_after_binding_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let pidfile = dir.path().join("pid");
    let log = dir.path().join("log");
    let t = Instant::now();
    let st = Command::new(BIN)
        .args(["--no-corosync", "--node-name", "bg", "-s"])
        .arg(&sock)
        .arg("-p")
        .arg(&pidfile)
        .arg("--log-file")
        .arg(&log)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(t.elapsed() < Duration::from_secs(5));
    // The parent returned after binding: a client can connect at once.
    let st = Client::connect(&sock, "t").unwrap().status().unwrap();
    assert_eq!(st.node_name, "bg");
    let t = Instant::now();
    let pid: i32 = loop {
        if let Ok(s) = std::fs::read_to_string(&pidfile) {
            if let Ok(p) = s.trim().parse() {
                break p;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let t = Instant::now();
    while sock.exists() || pidfile.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "daemon did not clean up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("started: node bg"), "{text}");
}

#[test]
fn root_non_root_client_is_refused_by_peer_credentials() {
    halvm_testkit::require_root();
    let mut d = Daemon::start();
    // Open the socket's mode so the daemon's own check is what refuses.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(BIN)
        .arg("status")
        .arg("-s")
        .arg(d.socket())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("root only"), "{err}");
    d.alive();
}

/// Daemonizing to log to syslog on a host without it (the lab's guests) fails before the fork,
/// where the caller sees the error, instead of a child that exits silently.
#[test]
fn daemon_without_syslog_fails_in_the_foreground() {
    assert!(
        !std::path::Path::new("/dev/log").exists(),
        "this test expects a host without a syslog socket (/dev/log)"
    );
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let out = Command::new(BIN)
        .args(["--no-corosync", "--node-name", "bg", "-s"])
        .arg(&sock)
        .arg("-p")
        .arg(dir.path().join("pid"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log-file"), "{err}");
    assert!(!sock.exists());
}
