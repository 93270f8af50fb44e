//! The guest control agent. `init` runs as PID 1 after the per-node init script: it reaps
//! every orphan (daemons double-fork) and keeps `serve` alive. `serve` answers one request per
//! TCP connection on the control network: run a command, spawn a daemon, write or read a file.
//! Nothing here polls: threads block on accept, reads and `wait`.

use crate::proto::{read_frame, write_frame};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// PID-1 mode: start `serve` as a child and reap everything that dies.
pub fn init(port: u16) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    loop {
        let child = Command::new(&exe)
            .args(["serve", "--port", &port.to_string()])
            .spawn()?;
        let server = nix::unistd::Pid::from_raw(child.id() as i32);
        loop {
            // Blocks until any child (ours or an adopted orphan) exits.
            match nix::sys::wait::waitpid(None, None) {
                Ok(status) if status.pid() == Some(server) => break,
                Ok(_) => continue,
                Err(nix::errno::Errno::ECHILD) => break,
                Err(_) => continue,
            }
        }
        eprintln!("halvm-lab-agent: server exited, restarting");
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Serves requests forever.
pub fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        std::thread::spawn(move || {
            let _ = handle(conn);
        });
    }
    Ok(())
}

fn text(f: &[u8]) -> String {
    String::from_utf8_lossy(f).to_string()
}

fn exit_code(st: ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

fn apply_env(cmd: &mut Command, env: &[u8]) {
    for kv in env.split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let kv = text(kv);
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
}

fn handle(mut conn: TcpStream) -> std::io::Result<()> {
    let req = read_frame(&mut conn)?;
    let reply = match dispatch(&req) {
        Ok(fields) => fields,
        Err(msg) => vec![b"err".to_vec(), msg.into_bytes()],
    };
    let refs: Vec<&[u8]> = reply.iter().map(Vec::as_slice).collect();
    write_frame(&mut conn, &refs)
}

fn dispatch(req: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let op = req.first().map(|f| text(f)).unwrap_or_default();
    match (op.as_str(), req.len()) {
        ("ping", _) => Ok(vec![b"ok".to_vec()]),
        ("run", n) if n >= 5 => run(req),
        ("spawn", n) if n >= 4 => spawn(req),
        ("write", 4) => {
            let path = text(&req[1]);
            let mode = u32::from_str_radix(&text(&req[2]), 8).map_err(|e| e.to_string())?;
            if let Some(parent) = std::path::Path::new(&path).parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {parent:?}: {e}"))?;
            }
            std::fs::write(&path, &req[3]).map_err(|e| format!("write {path}: {e}"))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("chmod {path}: {e}"))?;
            Ok(vec![b"ok".to_vec()])
        }
        ("read", 2) => {
            let path = text(&req[1]);
            let data = std::fs::read(&path).map_err(|e| format!("read {path}: {e}"))?;
            Ok(vec![b"ok".to_vec(), data])
        }
        _ => Err(format!("bad request `{op}` with {} fields", req.len())),
    }
}

fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// `run timeout_ms stdin env argv...`: runs to completion (or kills at the timeout).
fn run(req: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let timeout_ms: u64 = text(&req[1]).parse().map_err(|e| format!("timeout: {e}"))?;
    let argv: Vec<String> = req[4..].iter().map(|a| text(a)).collect();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    apply_env(&mut cmd, &req[3]);
    let mut child: Child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code: i32 = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Ok(vec![
                b"ok".to_vec(),
                code.to_string().into_bytes(),
                vec![],
                format!("{}: {e}\n", argv[0]).into_bytes(),
            ]);
        }
    };
    let input = req[2].clone();
    let mut stdin = child.stdin.take();
    std::thread::spawn(move || {
        if let Some(w) = stdin.as_mut() {
            let _ = w.write_all(&input);
        }
    });
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let (code, timed_out) = match rx.recv_timeout(Duration::from_millis(timeout_ms)) {
        Ok(Ok(st)) => (exit_code(st), false),
        Ok(Err(e)) => return Err(format!("wait: {e}")),
        Err(_) => {
            // Kill the whole process group the command leads.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let st = rx
                .recv()
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            (exit_code(st), true)
        }
    };
    let stdout = out.join().unwrap_or_default();
    let mut stderr = err.join().unwrap_or_default();
    if timed_out {
        stderr.extend_from_slice(
            format!("halvm-lab-agent: killed after {timeout_ms} ms\n").as_bytes(),
        );
    }
    Ok(vec![
        b"ok".to_vec(),
        code.to_string().into_bytes(),
        stdout,
        stderr,
    ])
}

/// `spawn log env argv...`: starts a detached daemon with output appended to `log`.
fn spawn(req: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let log = text(&req[1]);
    let argv: Vec<String> = req[3..].iter().map(|a| text(a)).collect();
    if let Some(parent) = std::path::Path::new(&log).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("open {log}: {e}"))?;
    let file2 = file.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(file2)
        .process_group(0);
    apply_env(&mut cmd, &req[2]);
    let mut child = cmd.spawn().map_err(|e| format!("spawn {}: {e}", argv[0]))?;
    let pid = child.id();
    // A waiting thread reaps it when it ends, so no zombie stays behind.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(vec![b"ok".to_vec(), pid.to_string().into_bytes()])
}
