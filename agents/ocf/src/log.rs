//! Logging as ocf-shellfuncs does it (ha_log, ha_debug, ocf_log), line for line:
//! - syslog (`HA_LOGFACILITY`, not `none`) with `agent(instance)[pid]` as the tag;
//! - `HA_LOGFILE` gets `<date> <tag>:    <LEVEL>: <msg>` for every level but debug;
//! - `HA_DEBUGLOG` gets `<tag>:\t<date><LEVEL>: <msg>` for every level (unless it is the same
//!   file as `HA_LOGFILE`);
//! - debug messages only with `HA_debug` set and not 0, and never in `HA_LOGFILE`;
//! - standard error when nothing else would get the message (`<date><LEVEL>: <msg>`; debug:
//!   `<tag>:\t<date>DEBUG: <msg>:\t<facility>`), or `<tag>: <LEVEL>: <msg>` when run from a
//!   terminal;
//! - `<date>` is `date "+$HA_DATEFMT"`, default `%b %d %T ` (its trailing space included).
//!
//! [`Logger`] also serves the `log` facade ([`LogBridge`]), so library crates' `log::warn!`
//! lines reach the same places when an agent runs them.

use std::io::{IsTerminal, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::env::OcfEnv;
pub use crate::env::DEFAULT_DATEFMT;

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

    pub fn label(self) -> &'static str {
        match self {
            Level::Err => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

pub use halvm_syslog::facility_code;

/// Formats one syslog datagram (RFC 3164 without a timestamp, which syslog daemons fill in).
pub fn syslog_line(facility: u8, level: Level, tag: &str, msg: &str) -> String {
    halvm_syslog::syslog_line(facility, level.severity(), tag, msg)
}

/// The logger of one invocation.
pub struct Logger {
    tag: String,
    facility: Option<u8>,
    /// The facility's name as given, for ha_debug's stderr line.
    facility_name: String,
    syslog_socket: PathBuf,
    logfile: Option<PathBuf>,
    debuglog: Option<PathBuf>,
    datefmt: String,
    debug: bool,
    to_stderr: bool,
    /// Standard input is a terminal (shellfuncs' `tty` test): short lines on stderr only.
    terminal: bool,
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
            facility_name: env.log.facility.clone().unwrap_or_default(),
            syslog_socket: PathBuf::from("/dev/log"),
            logfile: env.log.logfile.clone(),
            debuglog: env.log.debuglog.clone(),
            datefmt: env.log.datefmt.clone(),
            debug: env.log.debug,
            to_stderr: env.log.stderr,
            terminal: std::io::stdin().is_terminal(),
            captured: Mutex::new(Vec::new()),
        }
    }

    /// A logger that only records (unit tests of agents).
    pub fn capture_only(agent: &str) -> Logger {
        Logger {
            tag: agent.to_string(),
            facility: None,
            facility_name: String::new(),
            syslog_socket: PathBuf::new(),
            logfile: None,
            debuglog: None,
            datefmt: DEFAULT_DATEFMT.to_string(),
            debug: true,
            to_stderr: false,
            terminal: false,
            captured: Mutex::new(Vec::new()),
        }
    }

    /// Sends syslog lines to another socket (tests).
    pub fn with_syslog_socket(mut self, path: &Path) -> Logger {
        self.syslog_socket = path.to_path_buf();
        self
    }

    /// Behaves as when run from a terminal or not (tests).
    pub fn with_terminal(mut self, terminal: bool) -> Logger {
        self.terminal = terminal;
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
        let text = format!("{}: {msg}", level.label());
        // Logging must never fail an action, so write errors are ignored.
        if self.terminal {
            eprintln!("{}: {text}", self.tag);
            return;
        }
        if let Some(f) = self.facility {
            if let Ok(sock) = UnixDatagram::unbound() {
                let _ = sock.send_to(
                    syslog_line(f, level, &self.tag, &text).as_bytes(),
                    &self.syslog_socket,
                );
            }
        }
        // The time only for the destinations that print it (syslog alone, Pacemaker's usual
        // setup, needs none), and once, so every destination shows the same.
        let stamp = std::cell::OnceCell::new();
        let date = || {
            stamp
                .get_or_init(|| format_local_time(&self.datefmt))
                .as_str()
        };
        if level == Level::Debug {
            // ha_debug: syslog, HA_DEBUGLOG, else stderr; never HA_LOGFILE.
            if let Some(path) = &self.debuglog {
                append(path, &format!("{}:\t{}{text}\n", self.tag, date()));
            } else if self.facility.is_none() {
                eprintln!("{}:\t{}{text}:\t{}", self.tag, date(), self.facility_name);
            }
            return;
        }
        if let Some(path) = &self.logfile {
            append(path, &format!("{} {}:    {text}\n", date(), self.tag));
        }
        if self.to_stderr {
            eprintln!("{}{text}", date());
        }
        if let Some(path) = &self.debuglog {
            if self.logfile.as_ref() != Some(path) {
                append(path, &format!("{}:\t{}{text}\n", self.tag, date()));
            }
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

fn append(path: &Path, line: &str) {
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// `date "+FMT"`: the local time in a strftime(3) format (chrono's, which writes `%Z` as the
/// UTC offset, not the zone's abbreviation). A format with a specifier chrono does not know
/// gives an empty date rather than a failed action.
pub fn format_local_time(fmt: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match write!(out, "{}", chrono::Local::now().format(fmt)) {
        Ok(()) => out,
        Err(_) => String::new(),
    }
}

/// The `log` facade's records, sent to an agent's [`Logger`]: what library crates log while
/// an action runs lands where ocf-shellfuncs would put it.
pub struct LogBridge(pub Arc<Logger>);

impl log::Log for LogBridge {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info || self.0.debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => Level::Err,
            log::Level::Warn => Level::Warn,
            log::Level::Info => Level::Info,
            log::Level::Debug | log::Level::Trace => Level::Debug,
        };
        self.0.log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}

/// The logger of the action running now, for the process-wide `log` facade target.
static CURRENT: Mutex<Option<Arc<Logger>>> = Mutex::new(None);

struct Current;

impl log::Log for Current {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        current().is_some_and(|l| LogBridge(l).enabled(m))
    }

    fn log(&self, record: &log::Record<'_>) {
        if let Some(l) = current() {
            LogBridge(l).log(record);
        }
    }

    fn flush(&self) {}
}

fn current() -> Option<Arc<Logger>> {
    CURRENT.lock().ok().and_then(|c| c.clone())
}

/// Makes `logger` the target of the `log` facade for this process (the latest call wins).
pub fn install_bridge(logger: Arc<Logger>) {
    let max = if logger.debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    if let Ok(mut c) = CURRENT.lock() {
        *c = Some(logger);
    }
    // Only the first call registers; later ones just switch CURRENT.
    let _ = log::set_logger(&Current);
    log::set_max_level(max);
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
        let log = Logger::new("LVM-activate", &env)
            .with_syslog_socket(&sock_path)
            .with_terminal(false);
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
        assert!(line.ends_with(": WARNING: shown"), "{line}");
        let text = std::fs::read_to_string(&logfile).unwrap();
        assert!(text.contains("WARNING: shown"), "{text}");
        assert!(!text.contains("hidden"), "{text}");
        assert_eq!(log.lines().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The exact lines of ocf-shellfuncs, with a fixed HA_DATEFMT (no date in the format).
    #[test]
    fn logfile_and_debuglog_lines_as_ocf_shellfuncs_writes_them() {
        let dir = tempfile_dir("fmt");
        let logfile = dir.join("ha.log");
        let debuglog = dir.join("ha-debug.log");
        let env = OcfEnv::from_vars([
            ("OCF_RESOURCE_INSTANCE", "vg1"),
            ("HA_LOGFACILITY", "none"),
            ("HA_LOGFILE", logfile.to_str().unwrap()),
            ("HA_DEBUGLOG", debuglog.to_str().unwrap()),
            ("HA_DATEFMT", "D "),
            ("HA_debug", "1"),
            ("HA_LOGTAG", "LVM-activate(vg1)[42]"),
        ])
        .unwrap();
        let log = Logger::new("LVM-activate", &env).with_terminal(false);
        log.info("vg1: activated");
        log.debug("probe 7");
        log.err("gone");
        assert_eq!(
            std::fs::read_to_string(&logfile).unwrap(),
            "D  LVM-activate(vg1)[42]:    INFO: vg1: activated\nD  LVM-activate(vg1)[42]:    ERROR: gone\n"
        );
        assert_eq!(
            std::fs::read_to_string(&debuglog).unwrap(),
            "LVM-activate(vg1)[42]:\tD INFO: vg1: activated\nLVM-activate(vg1)[42]:\tD DEBUG: probe 7\nLVM-activate(vg1)[42]:\tD ERROR: gone\n"
        );
        // The same file as HA_LOGFILE: written once, and debug never goes there.
        let env = OcfEnv::from_vars([
            ("HA_LOGFACILITY", "none"),
            ("HA_LOGFILE", logfile.to_str().unwrap()),
            ("HA_DEBUGLOG", logfile.to_str().unwrap()),
            ("HA_DATEFMT", "D "),
            ("HA_LOGTAG", "t"),
        ])
        .unwrap();
        std::fs::remove_file(&logfile).unwrap();
        let log = Logger::new("LVM-activate", &env).with_terminal(false);
        log.warn("w");
        log.debug("not without HA_debug");
        assert_eq!(
            std::fs::read_to_string(&logfile).unwrap(),
            "D  t:    WARNING: w\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn default_date_format_is_month_day_time_and_a_space() {
        let d = format_local_time(DEFAULT_DATEFMT);
        // e.g. "Dec 06 13:10:42 "
        assert_eq!(d.len(), 16, "{d:?}");
        assert!(
            d.ends_with(' ') && d.as_bytes()[9] == b':' && d.as_bytes()[12] == b':',
            "{d:?}"
        );
    }

    #[test]
    fn log_facade_records_reach_the_logger() {
        let logger = Arc::new(Logger::capture_only("a"));
        let bridge = LogBridge(logger.clone());
        log::Log::log(
            &bridge,
            &log::Record::builder()
                .level(log::Level::Warn)
                .args(format_args!("from a library"))
                .build(),
        );
        assert_eq!(
            logger.lines(),
            [(Level::Warn, "from a library".to_string())]
        );
    }

    fn tempfile_dir(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("halvm-ocf-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
