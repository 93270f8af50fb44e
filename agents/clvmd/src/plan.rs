//! The agent's configuration, what it observes of the daemon, and its decisions: pure
//! functions, no I/O.

use std::path::{Path, PathBuf};

use halvm_ocf::{OcfError, Params};

use crate::definition::{DEFAULT_DAEMON, DEFAULT_PIDFILE, DEFAULT_SOCKET};

/// The resource's parameters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub daemon: PathBuf,
    pub pidfile: PathBuf,
    pub socket: PathBuf,
    pub log_file: Option<PathBuf>,
    pub debug: bool,
}

fn absolute(p: &Params, name: &str, default: &str) -> Result<PathBuf, OcfError> {
    let v = p.str(name).unwrap_or(default);
    if !Path::new(v).is_absolute() {
        return Err(OcfError::Malformed {
            name: name.into(),
            value: v.into(),
            why: "must be an absolute path".into(),
        });
    }
    Ok(PathBuf::from(v))
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Config, OcfError> {
        Ok(Config {
            daemon: absolute(p, "daemon", DEFAULT_DAEMON)?,
            pidfile: absolute(p, "pidfile", DEFAULT_PIDFILE)?,
            socket: absolute(p, "socket_path", DEFAULT_SOCKET)?,
            log_file: match p.str("log_file") {
                Some(_) => Some(absolute(p, "log_file", "")?),
                None => None,
            },
            debug: p.bool("debug").unwrap_or(false),
        })
    }

    /// The daemon's arguments (it daemonizes itself once its socket is bound).
    pub fn daemon_args(&self) -> Vec<String> {
        let mut a = vec![
            "--socket".to_string(),
            self.socket.display().to_string(),
            "--pidfile".to_string(),
            self.pidfile.display().to_string(),
        ];
        if let Some(f) = &self.log_file {
            a.push("--log-file".into());
            a.push(f.display().to_string());
        }
        if self.debug {
            a.push("--debug".into());
        }
        a
    }
}

/// A lockspace of the daemon on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockspace {
    /// `lvm_<vg>` or `lvm_global`.
    pub name: String,
    /// LVs active here under its locks (LV locks held in any mode but NL).
    pub active_lvs: Vec<String>,
}

impl Lockspace {
    /// The VG of an `lvm_<vg>` lockspace; `None` for `lvm_global`.
    pub fn vg(&self) -> Option<&str> {
        self.name
            .strip_prefix("lvm_")
            .filter(|_| self.name != "lvm_global")
    }
}

/// The daemon's answer to a status request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonStatus {
    pub node: String,
    pub quorate: bool,
    pub cluster_name: Option<String>,
    pub lockspaces: Vec<Lockspace>,
}

/// What the agent sees of the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// The status, when the socket answered.
    pub status: Option<DaemonStatus>,
    /// Why it did not answer.
    pub no_answer: Option<String>,
    /// The pid file's process, when it is alive.
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClvmdError {
    #[error("clvmd-rs (pid {pid}) is alive but does not answer on its socket: {detail}")]
    NotAnswering { pid: u32, detail: String },
    #[error("the DLM is not running on this node ({detail}); start dlm_controld (the ocf:pacemaker:controld clone) first")]
    NoDlm { detail: String },
    #[error("logical volumes are active under clvmd-rs's locks: {}; stop the resources that activated them first", lvs.join(", "))]
    ActiveLvs { lvs: Vec<String> },
    #[error("{path}: {detail}")]
    NotInstalled { path: String, detail: String },
    #[error("starting clvmd-rs failed: {detail}")]
    StartFailed { detail: String },
    #[error("stopping clvmd-rs failed: {detail}")]
    StopFailed { detail: String },
}

impl From<ClvmdError> for OcfError {
    fn from(e: ClvmdError) -> OcfError {
        let why = e.to_string();
        match e {
            ClvmdError::NotInstalled { .. } => OcfError::NotInstalled { what: why },
            // Not 6 (heartbeat's lvmlockd agent exits OCF_ERR_CONFIGURED without dlm_controld,
            // which bans the clone from every node): a DLM missing here is this node's state,
            // and Pacemaker's order after the controld clone normally rules it out.
            ClvmdError::NotAnswering { .. }
            | ClvmdError::NoDlm { .. }
            | ClvmdError::ActiveLvs { .. }
            | ClvmdError::StartFailed { .. }
            | ClvmdError::StopFailed { .. } => OcfError::Failed {
                resource: "clvmd-rs".into(),
                why,
            },
        }
    }
}

/// Monitor: running while the socket answers; stopped when nothing answers and no daemon
/// process lives; an error when the process lives but does not answer (hung).
pub fn assess(o: &Observed) -> Result<bool, ClvmdError> {
    match (&o.status, o.pid) {
        (Some(_), _) => Ok(true),
        (None, None) => Ok(false),
        (None, Some(pid)) => Err(ClvmdError::NotAnswering {
            pid,
            detail: o.no_answer.clone().unwrap_or_default(),
        }),
    }
}

/// What stop does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopPlan {
    /// VGs whose lockspace is stopped first.
    pub lockstop: Vec<String>,
    /// The daemon's pid to signal (`None`: nothing runs).
    pub terminate: Option<u32>,
}

/// Stop: refused while LVs are active under the daemon's locks (as `lvmlockctl
/// --stop-lockspaces` fails in heartbeat's agent); otherwise lockspaces, then the daemon.
/// A daemon that does not answer is terminated all the same: the locks it may hold stay as
/// DLM orphans (the LVs stay exclusive), adopted by the next daemon.
pub fn plan_stop(o: &Observed) -> Result<StopPlan, ClvmdError> {
    let Some(status) = &o.status else {
        return Ok(StopPlan {
            lockstop: vec![],
            terminate: o.pid,
        });
    };
    let lvs: Vec<String> = status
        .lockspaces
        .iter()
        .flat_map(|l| {
            l.active_lvs
                .iter()
                .map(move |lv| format!("{}/{lv}", l.vg().unwrap_or(&l.name)))
        })
        .collect();
    if !lvs.is_empty() {
        return Err(ClvmdError::ActiveLvs { lvs });
    }
    let lockstop = status
        .lockspaces
        .iter()
        .filter_map(|l| l.vg().map(str::to_string))
        .collect();
    Ok(StopPlan {
        lockstop,
        // Without a pid file the daemon still answered: start said where it would be; a
        // daemon started by hand elsewhere is not ours to kill.
        terminate: o.pid,
    })
}
