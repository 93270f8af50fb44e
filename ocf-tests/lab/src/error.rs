//! The lab's error type: one enum with structured fields, mapped to exit codes by the binary.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("prerequisite missing: {what} ({hint})")]
    Prerequisite { what: String, hint: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("command `{command}` failed with status {status}: {stderr}")]
    HostCommand {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("no node named {name}")]
    UnknownNode { name: String },
    #[error("node {node} is powered off")]
    NodeDown { node: String },
    #[error("control channel to {node}: {reason}")]
    Channel { node: String, reason: String },
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout { what: String, secs: u64 },
    #[error("command {argv:?} on {node} exited with {code}: {stderr}")]
    GuestCommand {
        node: String,
        argv: Vec<String>,
        code: i32,
        stderr: String,
    },
    #[error("bad configuration: {reason}")]
    Config { reason: String },
    #[error("no lab is running in {run_dir} ({reason})")]
    NotRunning { run_dir: PathBuf, reason: String },
    #[error("a lab is already running in {run_dir}")]
    AlreadyRunning { run_dir: PathBuf },
    #[error("QEMU monitor {socket}: {command}: {reason}")]
    Qmp {
        socket: PathBuf,
        command: String,
        reason: String,
    },
    #[error("no shared disk {disk} (shared<K> or shared<K>-p<J> of this lab)")]
    UnknownDisk { disk: String },
    #[error("shared disk {disk} is already {state} on {node}")]
    DiskState {
        node: String,
        disk: String,
        state: &'static str,
    },
    #[error("supervisor request failed: {reason}")]
    Supervisor { reason: String },
}

impl LabError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.into();
        move |source| LabError::Io { op, path, source }
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;
