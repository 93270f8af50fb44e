//! A minimal QMP client (QEMU's monitor protocol: one JSON object per line) for disk hot-plug.
//! The lab only sends a handful of fixed commands and looks for `return`, `error` and one event,
//! so it reads lines and matches text instead of pulling in a JSON library.

use crate::error::{LabError, Result};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest line accepted from QEMU: replies to the lab's commands are short.
const MAX_LINE: usize = 64 * 1024;

/// One QMP session in command mode.
pub struct Qmp {
    path: PathBuf,
    r: BufReader<UnixStream>,
    w: UnixStream,
    /// Events that arrived while waiting for a command's reply.
    events: Vec<String>,
}

impl Qmp {
    /// Connects, reads the greeting and leaves capabilities negotiation.
    pub fn connect(path: &Path) -> Result<Qmp> {
        let s = UnixStream::connect(path).map_err(LabError::io("connect", path))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(LabError::io("set timeout", path))?;
        let w = s.try_clone().map_err(LabError::io("dup", path))?;
        let mut q = Qmp {
            path: path.to_path_buf(),
            r: BufReader::new(s),
            w,
            events: Vec::new(),
        };
        let greeting = q.line()?;
        if !greeting.contains("\"QMP\"") {
            return Err(q.err("greeting", format!("unexpected greeting `{greeting}`")));
        }
        q.execute(r#"{"execute": "qmp_capabilities"}"#)?;
        Ok(q)
    }

    fn err(&self, command: &str, reason: String) -> LabError {
        LabError::Qmp {
            socket: self.path.clone(),
            command: command.into(),
            reason,
        }
    }

    fn line(&mut self) -> Result<String> {
        let mut buf = Vec::new();
        let n = std::io::Read::take(&mut self.r, MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .map_err(LabError::io("read", &self.path))?;
        if n == 0 {
            return Err(self.err("read", "QEMU closed the monitor".into()));
        }
        Ok(String::from_utf8_lossy(&buf).trim().to_string())
    }

    /// Sends one command and returns its `return` line; events read meanwhile are dropped.
    pub fn execute(&mut self, json: &str) -> Result<String> {
        self.w
            .write_all(format!("{json}\n").as_bytes())
            .map_err(LabError::io("write", &self.path))?;
        loop {
            let l = self.line()?;
            if l.starts_with("{\"return\"") {
                return Ok(l);
            }
            if l.starts_with("{\"error\"") {
                return Err(self.err(json, l));
            }
            if l.contains("\"event\"") {
                self.events.push(l);
            }
        }
    }

    /// Removes block node `node` (one added with `blockdev-add`).
    pub fn blockdev_del(&mut self, node: &str) -> Result<String> {
        self.execute(&format!(
            r#"{{"execute": "blockdev-del", "arguments": {{"node-name": {}}}}}"#,
            json_str(node)
        ))
    }

    /// Reads until an event line containing every string of `needles` arrives.
    pub fn wait_event(&mut self, needles: &[&str], timeout: Duration) -> Result<String> {
        let hit = |l: &str| l.contains("\"event\"") && needles.iter().all(|n| l.contains(n));
        if let Some(i) = self.events.iter().position(|l| hit(l)) {
            return Ok(self.events.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.line() {
                Ok(l) if hit(&l) => return Ok(l),
                Ok(_) => {}
                Err(LabError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::WouldBlock
                        || source.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e),
            }
            if Instant::now() > deadline {
                return Err(self.err(
                    "wait event",
                    format!("no event {needles:?} within {} s", timeout.as_secs()),
                ));
            }
        }
    }
}

/// Escapes a string for a JSON string literal (paths and ids the lab made itself).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
        assert_eq!(json_str("/var/tmp/x.img"), r#""/var/tmp/x.img""#);
    }

    /// A fake QEMU on a socketpair-backed listener: greeting, replies, an event.
    #[test]
    fn session_reads_returns_errors_and_events() {
        let dir = std::env::temp_dir().join(format!("halvm-qmp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("q.sock");
        let _ = std::fs::remove_file(&sock);
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let mut line = String::new();
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .unwrap();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("qmp_capabilities"));
            w.write_all(b"{\"return\": {}}\n").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("device_del"));
            w.write_all(b"{\"timestamp\": {}, \"event\": \"OTHER\"}\n{\"return\": {}}\n")
                .unwrap();
            w.write_all(b"{\"timestamp\": {}, \"event\": \"DEVICE_DELETED\", \"data\": {\"path\": \"/machine/peripheral/shared0\"}}\n").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            w.write_all(b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}\n")
                .unwrap();
        });
        let mut q = Qmp::connect(&sock).unwrap();
        q.execute(r#"{"execute": "device_del", "arguments": {"id": "shared0"}}"#)
            .unwrap();
        let ev = q
            .wait_event(
                &["DEVICE_DELETED", "/machine/peripheral/shared0\""],
                Duration::from_secs(5),
            )
            .unwrap();
        assert!(ev.contains("shared0"));
        let e = q.execute(r#"{"execute": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("GenericError"), "{e}");
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
