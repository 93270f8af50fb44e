//! A running lvmeta-server on its own socket, and runs of lvmeta and lvmc against it.

#![allow(dead_code)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const SERVER: &str = env!("CARGO_BIN_EXE_lvmeta-server");
pub const LVMETA: &str = env!("CARGO_BIN_EXE_lvmeta-under-test");
pub const LVMC: &str = env!("CARGO_BIN_EXE_lvmc-under-test");

pub struct Server {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Started with `--test-allow-own-uid` (the tests may run unprivileged) and `extra`;
    /// returns once the socket answers. Its stderr (warnings) goes to `log()`.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_exe(Path::new(SERVER), extra)
    }

    /// [`Server::start`] of another copy of the server binary.
    pub fn start_exe(exe: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(exe)
            .arg("--socket")
            .arg(dir.path().join("run/server.sock"))
            .arg("--test-allow-own-uid")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Server {
            child: Some(child),
            dir,
        };
        let t = Instant::now();
        while UnixStream::connect(s.socket()).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "lvmeta-server did not start: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        s
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/server.sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// SIGTERM, then waits (at most `limit`) for the exit.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let mut c = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let t = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            if t.elapsed() > limit {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "lvmeta-server did not stop within {limit:?}: {}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Still running (not exited).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// The server's children (workers, idle or busy), from /proc.
    pub fn children(&self) -> Vec<i32> {
        children_of(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let kids = children_of(c.id() as i32);
            let _ = c.kill();
            let _ = c.wait();
            // Idle children end with the parent (PDEATHSIG); a busy one is ended here.
            for k in kids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(k),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: i32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == pid {
            out.push(p);
        }
    }
    out
}

/// A directory with file-backed disks, where commands run with relative paths.
pub struct Side {
    pub dir: PathBuf,
}

pub const DISKS: usize = 4;

impl Side {
    pub fn new(dir: &Path) -> Side {
        std::fs::create_dir_all(dir.join("lvm")).unwrap();
        std::fs::write(dir.join("none.toml"), "").unwrap();
        for i in 0..DISKS {
            std::fs::File::create(dir.join(format!("d{i}")))
                .unwrap()
                .set_len(64 << 20)
                .unwrap();
        }
        Side {
            dir: dir.to_path_buf(),
        }
    }

    /// `lvmeta CMD --devices d0,... --lock-dir locks ARGS`, in this directory, by `bin`
    /// (`LVMETA_SERVER` is `server`), with `env` added.
    pub fn command(&self, bin: &str, server: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(bin);
        c.current_dir(&self.dir);
        if let Some((cmd, rest)) = args.split_first() {
            c.arg(cmd);
            if !cmd.starts_with('-') {
                let devs: Vec<String> = (0..DISKS).map(|i| format!("d{i}")).collect();
                c.args(["--devices", &devs.join(","), "--lock-dir", "locks"]);
            }
            c.args(rest);
        }
        c.env("HALVM_CONFIG", "none.toml")
            .env("LVM_SYSTEM_DIR", "lvm")
            .env("CLVMD_RS_SOCKET", self.dir.join("clvmd-rs.sock"))
            .env("LVMETA_SERVER", server)
            // lvmc finds lvmeta beside itself, never on PATH: see `lone_lvmc`.
            .env("PATH", "/nonexistent")
            .env_remove("HALVM_SYSTEM_ID");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, bin: &str, server: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(bin, server, args, env)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// UUIDs (lvm2's 6-4-4-4-4-4-6 form) replaced by U1, U2... in order of first appearance,
/// and the creation stamps of a metadata text masked: the only parts of two identical
/// command sequences' metadata that differ.
pub fn normalize_metadata(text: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if i + 38 <= bytes.len() && is_uuid(&text[i..i + 38]) {
            let u = text[i..i + 38].to_string();
            let n = seen.iter().position(|s| *s == u).unwrap_or_else(|| {
                seen.push(u);
                seen.len() - 1
            });
            out.push_str(&format!("U{}", n + 1));
            i += 38;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("creation_time") || t.starts_with("# Generated by") {
                "<time>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 7
        && groups
            .iter()
            .zip([6, 4, 4, 4, 4, 4, 6])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Waits for a command paused by HALVM_TEST_PAUSE=<phase>:<file> and returns its pid.
pub fn paused_pid(file: &Path) -> i32 {
    let t = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(file) {
            if let Some(pid) = s.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                return pid;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no command paused at {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(1)?.parse().ok()
}

/// A copy of lvmc with no lvmeta beside it (and none on the PATH the tests give): it cannot
/// run a command locally, so whatever it prints came from a worker.
pub fn lone_lvmc(dir: &Path) -> PathBuf {
    let p = dir.join("lvmc-alone");
    copy_exe(Path::new(LVMC), &p);
    p
}

/// Copies an executable with `cp`: a copy written by this process could be inherited,
/// open for writing, by another test's fork at that moment, and its exec fail with ETXTBSY.
pub fn copy_exe(from: &Path, to: &Path) {
    let st = Command::new("cp").arg(from).arg(to).status().unwrap();
    assert!(st.success(), "cp {} {}", from.display(), to.display());
}
