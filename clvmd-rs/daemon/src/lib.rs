//! clvmd-rs: the cluster lock daemon (and its `status` client command).
//!
//! The daemon binds its socket, daemonizes (unless `-f`), connects to corosync (CPG group
//! `clvmd-rs`, quorum) and runs [`server::Server`]: a poll loop that feeds
//! [`clvmd_core::Node`] and carries out what it asks, with one thread per DLM lockspace.

pub mod corosync;
pub mod detach;
pub mod dlmc;
pub mod dm;
pub mod fence;
pub mod server;
pub mod status;
pub mod workers;

pub use clvmd_core::{Detach, QuorumLoss};

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};

/// Where dlm_controld publishes the DLM cluster name.
pub const CLUSTER_NAME_FILE: &str = "/sys/kernel/config/dlm/cluster/cluster_name";

pub use clvmd_proto::FENCE_DIR;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot create {path}: {source}")]
    SocketDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("clvmd-rs is already running (it answers on {path})")]
    AlreadyRunning { path: PathBuf },
    #[error("cannot listen on {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot daemonize: {0}")]
    Daemonize(nix::Error),
    #[error("cannot write pid file {path}: {source}")]
    PidFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corosync: {what}: {error} (is corosync running?)")]
    Corosync { what: &'static str, error: String },
    #[error("poll loop: {0}")]
    Poll(nix::Error),
    #[error("signals: {0}")]
    Signals(nix::Error),
    #[error(transparent)]
    Client(#[from] clvmd_client::ClientError),
    #[error("cannot set up logging: {0}")]
    Logging(String),
    #[error(transparent)]
    Config(#[from] halvm_config::ConfigError),
    #[error("cannot enable VG {vg}: {why}")]
    Enable { vg: String, why: String },
}

pub fn cli() -> Command {
    Command::new("clvmd-rs")
        .about("Cluster lock daemon for shared LVM volume groups (lvmlockd-compatible, on the DLM)")
        .long_about(
            "clvmd-rs joins a DLM lockspace lvm_<vg> for each shared VG it is asked to start \
             (plus lvm_global), takes VGLK/GLLK for lvmeta's metadata reads and commits and \
             holds LV activation locks on behalf of lvmeta and the agents, exactly as lvmlockd \
             names and takes them, so nodes running stock lvm2 with lvmlockd exclude each \
             other correctly. Daemons talk over the corosync CPG group clvmd-rs, so a refused \
             lock names the node that holds it. A node that loses corosync quorum stops I/O \
             to every active LV of its started shared VGs at once (halvm.toml \
             policy.quorum_loss: freeze or fail-io) and restores it when quorum returns with \
             its membership unbroken. After a partition merge (dlm_controld expels the merged \
             node: the majority recovered its locks), a lost corosync connection, \
             dlm_controld dying while corosync runs on (the daemon holds a connection to its \
             control socket; the other nodes recover this node's locks) or a daemon restart \
             the VG stays frozen for good (stranded) and the node must be rebooted; \
             the daemon stays up to say so and nothing resumes the devices on exit. The daemon reads the device-mapper status of the LVs \
             active here every second in place of dmeventd and applies the detach policy \
             (the VG's halvm_detach_* tag, else policy.detach) to a failed mirror or raid1 \
             leg: local stops I/O to the LV on this node, global removes the failed image from \
             the metadata under the VG lock (as lvm2's lvconvert --repair does) so every node \
             reloads the LV without it and the held writes go on. When a command committing \
             a change to a shared VG cannot write any metadata copy from this node, another \
             node that still reaches the metadata writes that commit for it (the command still \
             holding the VG lock); if none can, the commit fails with the VG unchanged and the \
             metadata-loss policy applies (the VG's \
             halvm_dgfail_* tag, else policy.dg_failure): dgdisable disables the VG on every \
             node (changes refused naming the node and the way back, volumes keep serving \
             I/O), leave makes this node leave the VG (changes and activations refused here, \
             its LVs reported failed to the resource agents' monitor so Pacemaker moves them, \
             the lockspace stopped once nothing of it is held here). clvmd-rs enable VG lifts \
             either once the storage is fixed. clvmd-rs status shows all of these.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            Arg::new("foreground")
                .short('f')
                .long("foreground")
                .action(ArgAction::SetTrue)
                .help("Stay in the foreground and log to stderr"),
        )
        .arg(
            Arg::new("socket")
                .short('s')
                .long("socket")
                .value_name("PATH")
                .env(clvmd_client::SOCKET_ENV)
                .default_value(clvmd_proto::DEFAULT_SOCKET)
                .global(true)
                .help("Unix socket the daemon serves (root only)"),
        )
        .arg(
            Arg::new("pidfile")
                .short('p')
                .long("pidfile")
                .value_name("PATH")
                .default_value("/run/clvmd-rs/clvmd-rs.pid")
                .help("Where the daemon writes its pid"),
        )
        .arg(
            Arg::new("node_name")
                .long("node-name")
                .value_name("NAME")
                .help("This node's name in messages (default: the host name)"),
        )
        .arg(
            Arg::new("no_corosync")
                .long("no-corosync")
                .action(ArgAction::SetTrue)
                .help(
                    "Run without corosync: a CPG group of one and never quorate (no lock for a \
                     change is granted); for testing the socket",
                ),
        )
        .arg(
            Arg::new("config")
                .short('c')
                .long("config")
                .value_name("PATH")
                .help(
                    "halvm.toml to read policy.quorum_loss, policy.detach and policy.dg_failure from (default: $HALVM_CONFIG, then \
                     /etc/halvm/halvm.toml)",
                ),
        )
        .arg(
            Arg::new("log_file")
                .long("log-file")
                .value_name("PATH")
                .help("Append log lines to this file instead of syslog (ignored with -f)"),
        )
        .arg(
            Arg::new("debug")
                .short('d')
                .long("debug")
                .action(ArgAction::SetTrue)
                .help("Log debug messages"),
        )
        .subcommand(
            Command::new("status")
                .about("Show this node's lockspaces, the locks held here, and the LV locks held on every node (the other daemons are asked first)")
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print the status as JSON"),
                ),
        )
        .subcommand(
            Command::new("enable")
                .about("Lift a VG's metadata-loss disable (policy.dg_failure) once its storage is fixed")
                .long_about(
                    "Lifts VG's dgdisable on every node, or this node's leave (then start the \
                     VG's lockspace again: lvmeta vgchange --lockstart VG). Refused unless this \
                     node reads the VG's metadata (lvmeta's scan finds it in a valid copy); a \
                     storage that still fails writes fails the next change again, which \
                     applies the policy again.",
                )
                .arg(Arg::new("vg").required(true).value_name("VG").help("The volume group")),
        )
}

/// Runs the command line; the binary's `main` is only this.
pub fn main_from_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let m = match cli().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let socket = PathBuf::from(m.get_one::<String>("socket").expect("default"));
    let result = match m.subcommand() {
        Some(("status", sm)) => status::run(&socket, sm.get_flag("json")),
        Some(("enable", sm)) => {
            status::enable(&socket, sm.get_one::<String>("vg").expect("required"))
        }
        _ => match halvm_config::Config::load(
            m.get_one::<String>("config").map(std::path::Path::new),
        ) {
            Err(e) => Err(e.into()),
            Ok(config) => server::run(server::Options {
                socket,
                pidfile: PathBuf::from(m.get_one::<String>("pidfile").expect("default")),
                foreground: m.get_flag("foreground"),
                node_name: m.get_one::<String>("node_name").cloned(),
                corosync: !m.get_flag("no_corosync"),
                debug: m.get_flag("debug"),
                log_file: m.get_one::<String>("log_file").map(PathBuf::from),
                cluster_name_file: PathBuf::from(CLUSTER_NAME_FILE),
                quorum_loss: match config.policy.quorum_loss {
                    halvm_config::QuorumLossPolicy::Freeze => clvmd_core::QuorumLoss::Freeze,
                    halvm_config::QuorumLossPolicy::FailIo => clvmd_core::QuorumLoss::FailIo,
                },
                fence_dir: PathBuf::from(FENCE_DIR),
                detach: core_detach(config.policy.detach),
                dg_failure: match config.policy.dg_failure {
                    halvm_config::DgFailurePolicy::Dgdisable => clvmd_proto::DgFailure::Dgdisable,
                    halvm_config::DgFailurePolicy::Leave => clvmd_proto::DgFailure::Leave,
                },
            }),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("clvmd-rs: {e}");
            ExitCode::from(1)
        }
    }
}

/// halvm.toml's (or a VG tag's) detach policy as the core state machine names it.
pub(crate) fn core_detach(p: halvm_config::DetachPolicy) -> clvmd_core::Detach {
    match p {
        halvm_config::DetachPolicy::Global => clvmd_core::Detach::Global,
        halvm_config::DetachPolicy::Local => clvmd_core::Detach::Local,
    }
}
