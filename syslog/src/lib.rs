//! Where halvm's binaries send the `log` facade's records: datagrams to `/dev/log`, which
//! rsyslog and systemd-journald (systemd-journald-dev-log.socket) both read. The format is
//! RFC 3164 without a timestamp (the receiver stamps it): `<PRI>tag[pid]: message`.
//! Logging never fails a command: a missing socket or a full queue drops the line.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

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

/// Syslog severities (RFC 5424) of the facade's levels.
pub fn severity(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// One datagram: `<facility * 8 + severity>tag: message`.
pub fn syslog_line(facility: u8, severity: u8, tag: &str, msg: &str) -> String {
    format!("<{}>{}: {}", facility * 8 + severity, tag, msg)
}

/// The facade's target for a binary.
pub struct Syslog {
    tag: String,
    facility: u8,
    socket: PathBuf,
    level: log::LevelFilter,
    /// Records this severe or more also go to stderr (a command's warnings and `-v`).
    stderr: log::LevelFilter,
}

impl Syslog {
    /// `program[pid]` on the `user` facility, to /dev/log.
    pub fn new(program: &str, level: log::LevelFilter) -> Syslog {
        Syslog {
            tag: format!("{program}[{}]", std::process::id()),
            facility: 1,
            socket: PathBuf::from("/dev/log"),
            level,
            stderr: log::LevelFilter::Off,
        }
    }

    pub fn with_facility(mut self, facility: u8) -> Syslog {
        self.facility = facility;
        self
    }

    /// Another socket than /dev/log (tests).
    pub fn with_socket(mut self, path: &Path) -> Syslog {
        self.socket = path.to_path_buf();
        self
    }

    /// Also writes records of `level` and above to stderr, indented by two spaces as lvm2
    /// writes its messages.
    pub fn with_stderr(mut self, level: log::LevelFilter) -> Syslog {
        self.stderr = level;
        self
    }

    /// Makes this the process's `log` target; a later call replaces it (lvmeta-server's
    /// worker, a fork of the server, then logs as the command it runs: `lvmeta[pid]`, with
    /// the command's `-v` on its stderr). Nothing changes if another logger was set first.
    pub fn install(self) {
        let level = self.level.max(self.stderr);
        let mut current = CURRENT.0.write().unwrap_or_else(|e| e.into_inner());
        // Ours if we set the facade's logger now, or did before (then it holds one).
        if log::set_logger(&CURRENT).is_ok() || current.is_some() {
            *current = Some(self);
            log::set_max_level(level);
        }
    }
}

/// The installed [`Syslog`], replaceable (the `log` facade's logger is set once per process).
struct Current(RwLock<Option<Syslog>>);

static CURRENT: Current = Current(RwLock::new(None));

impl log::Log for Current {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let s = self.0.read().unwrap_or_else(|e| e.into_inner());
        s.as_ref().is_some_and(|s| s.enabled(m))
    }

    fn log(&self, record: &log::Record<'_>) {
        let s = self.0.read().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = s.as_ref() {
            log::Log::log(s, record);
        }
    }

    fn flush(&self) {}
}

impl log::Log for Syslog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level || m.level() <= self.stderr
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.level() <= self.stderr {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "  {}", record.args());
        }
        if record.level() > self.level {
            return;
        }
        let line = syslog_line(
            self.facility,
            severity(record.level()),
            &self.tag,
            &record.args().to_string(),
        );
        if let Ok(sock) = UnixDatagram::unbound() {
            let _ = sock.send_to(line.as_bytes(), &self.socket);
        }
    }

    fn flush(&self) {}
}

/// `program`'s logging: `log` records of `level` and above to syslog/journald.
pub fn init(program: &str, level: log::LevelFilter) {
    Syslog::new(program, level).install();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_arrive_as_rfc3164_datagrams() {
        let dir = std::env::temp_dir().join(format!("halvm-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let s = Syslog::new("cluster-conf", log::LevelFilter::Info).with_socket(&path);
        let send = |level, text: &str| {
            log::Log::log(
                &s,
                &log::Record::builder()
                    .level(level)
                    .args(format_args!("{text}"))
                    .build(),
            )
        };
        send(log::Level::Debug, "filtered out");
        send(log::Level::Warn, "timewarn left out");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!(
                "<12>cluster-conf[{}]: timewarn left out",
                std::process::id()
            )
        );
        assert_eq!(facility_code("local7"), Some(23));
        assert_eq!(facility_code("bogus"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `-v` raises what a command prints on stderr, not what it sends to syslog.
    #[test]
    fn stderr_level_does_not_widen_syslog() {
        let dir = std::env::temp_dir().join(format!("halvm-syslog-e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_nonblocking(true).unwrap();
        let s = Syslog::new("lvmeta", log::LevelFilter::Warn)
            .with_stderr(log::LevelFilter::Debug)
            .with_socket(&path);
        let md = |level| log::Metadata::builder().level(level).build();
        assert!(log::Log::enabled(&s, &md(log::Level::Debug)));
        assert!(!log::Log::enabled(&s, &md(log::Level::Trace)));
        log::Log::log(
            &s,
            &log::Record::builder()
                .level(log::Level::Debug)
                .args(format_args!("stderr only"))
                .build(),
        );
        let mut buf = [0u8; 256];
        assert!(server.recv(&mut buf).is_err(), "nothing reached syslog");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// lvmeta-server's worker installs lvmeta's logger over the server's.
    #[test]
    fn a_second_install_replaces_the_first() {
        let dir = tempfile_dir("r");
        let (a, b) = (dir.join("a.sock"), dir.join("b.sock"));
        let (sa, sb) = (
            UnixDatagram::bind(&a).unwrap(),
            UnixDatagram::bind(&b).unwrap(),
        );
        sa.set_nonblocking(true).unwrap();
        Syslog::new("first", log::LevelFilter::Info)
            .with_socket(&a)
            .install();
        log::info!("one");
        Syslog::new("second", log::LevelFilter::Warn)
            .with_socket(&b)
            .install();
        log::info!("below the second's level");
        log::warn!("two");
        let mut buf = [0u8; 256];
        let n = sa.recv(&mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n]).unwrap().ends_with("]: one"));
        assert!(sa.recv(&mut buf).is_err(), "the first gets nothing more");
        let n = sb.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap().to_string();
        assert!(
            got.starts_with("<12>second[") && got.ends_with("]: two"),
            "{got}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("halvm-syslog-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
