//! Logging as ocf-shellfuncs does it: syslog with `agent(instance)[pid]` as the tag,
//! `HA_LOGFILE` appended to, debug messages only with `HA_debug` set, and stderr when run
//! by hand (no facility configured and no log file).

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::env::OcfEnv;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Err,
}

impl Level {
    fn severity(self) -> u8 {
        match self {
            Level::Err => 3,
            Level::Warn => 4,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Err => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

/// Syslog facility numbers by name (RFC 5424).
pub fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

/// Formats one syslog datagram (RFC 3164 without a timestamp, which syslog daemons fill in).
pub fn syslog_line(facility: u8, level: Level, tag: &str, msg: &str) -> String {
    format!("<{}>{}: {}", facility * 8 + level.severity(), tag, msg)
}

/// The logger of one invocation.
pub struct Logger {
    tag: String,
    facility: Option<u8>,
    syslog_socket: PathBuf,
    logfile: Option<PathBuf>,
    debug: bool,
    to_stderr: bool,
    /// Every line written, for tests and for the exit reason's context.
    captured: Mutex<Vec<(Level, String)>>,
}

impl Logger {
    pub fn new(agent: &str, env: &OcfEnv) -> Logger {
        let tag = env
            .log
            .logtag
            .clone()
            .unwrap_or_else(|| match &env.resource_instance {
                Some(i) => format!("{agent}({i})[{}]", std::process::id()),
                None => format!("{agent}[{}]", std::process::id()),
            });
        let facility = env
            .log
            .facility
            .as_deref()
            .map(|f| facility_code(f).unwrap_or(3));
        Logger {
            tag,
            facility,
            syslog_socket: PathBuf::from("/dev/log"),
            logfile: env.log.logfile.clone(),
            debug: env.log.debug,
            to_stderr: env.log.stderr,
            captured: Mutex::new(Vec::new()),
        }
    }

    /// A logger that only records (unit tests of agents).
    pub fn capture_only(agent: &str) -> Logger {
        Logger {
            tag: agent.to_string(),
            facility: None,
            syslog_socket: PathBuf::new(),
            logfile: None,
            debug: true,
            to_stderr: false,
            captured: Mutex::new(Vec::new()),
        }
    }

    /// Sends syslog lines to another socket (tests).
    pub fn with_syslog_socket(mut self, path: &Path) -> Logger {
        self.syslog_socket = path.to_path_buf();
        self
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn log(&self, level: Level, msg: &str) {
        if level == Level::Debug && !self.debug {
            return;
        }
        if let Ok(mut c) = self.captured.lock() {
            c.push((level, msg.to_string()));
        }
        // Logging must never fail an action, so write errors are ignored.
        if let Some(f) = self.facility {
            if let Ok(sock) = UnixDatagram::unbound() {
                let _ = sock.send_to(
                    syslog_line(f, level, &self.tag, msg).as_bytes(),
                    &self.syslog_socket,
                );
            }
        }
        if let Some(path) = &self.logfile {
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(
                    file,
                    "{} {}: {}: {}",
                    unix_time(),
                    self.tag,
                    level.label(),
                    msg
                );
            }
        }
        if self.to_stderr {
            eprintln!("{}: {}: {}", self.tag, level.label(), msg);
        }
    }

    pub fn debug(&self, msg: &str) {
        self.log(Level::Debug, msg)
    }
    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg)
    }
    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg)
    }
    pub fn err(&self, msg: &str) {
        self.log(Level::Err, msg)
    }

    pub fn lines(&self) -> Vec<(Level, String)> {
        self.captured.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

fn unix_time() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_format_and_facilities() {
        assert_eq!(
            syslog_line(3, Level::Err, "LVM-activate(vg1)[7]", "x"),
            "<27>LVM-activate(vg1)[7]: x"
        );
        assert_eq!(facility_code("local7"), Some(23));
        assert_eq!(facility_code("bogus"), None);
    }

    #[test]
    fn tag_names_the_instance_and_debug_needs_ha_debug() {
        let dir = std::env::temp_dir().join(format!("halvm-ocf-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock_path = dir.join("log.sock");
        let _ = std::fs::remove_file(&sock_path);
        let server = UnixDatagram::bind(&sock_path).unwrap();
        let logfile = dir.join("ha.log");
        let _ = std::fs::remove_file(&logfile);
        let env = OcfEnv::from_vars([
            ("OCF_RESOURCE_INSTANCE", "my-vg"),
            ("HA_LOGFILE", logfile.to_str().unwrap()),
        ])
        .unwrap();
        let log = Logger::new("LVM-activate", &env).with_syslog_socket(&sock_path);
        assert!(
            log.tag().starts_with("LVM-activate(my-vg)["),
            "{}",
            log.tag()
        );
        log.debug("hidden");
        log.warn("shown");
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(line.starts_with("<28>LVM-activate(my-vg)["), "{line}");
        assert!(line.ends_with(": shown"), "{line}");
        let text = std::fs::read_to_string(&logfile).unwrap();
        assert!(text.contains("WARNING: shown"), "{text}");
        assert!(!text.contains("hidden"), "{text}");
        assert_eq!(log.lines().len(), 1);

        let env = OcfEnv::from_vars([("HA_debug", "1"), ("HA_LOGFILE", logfile.to_str().unwrap())])
            .unwrap();
        let log = Logger::new("LVM-activate", &env).with_syslog_socket(&sock_path);
        log.debug("now visible");
        assert!(std::fs::read_to_string(&logfile)
            .unwrap()
            .contains("DEBUG: now visible"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
