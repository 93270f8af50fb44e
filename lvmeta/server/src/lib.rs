//! lvmeta-server: a resident, pre-forking server that runs lvmeta commands for `lvmc` and
//! `lvmeta` (lvmeta_forward), so a command costs a fork of an already-running process
//! instead of the exec and first-run work of lvmeta (issue 13: in the lab's TCG guests most
//! of a command's time is spent there).
//!
//! The parent ([`server::run`]) is single-threaded for its whole life (it forks): it binds
//! the socket and keeps `--idle` children waiting for a connection, at most `--max` children
//! in all ([`pool::Pool`] decides). A child that accepts a connection tells the parent
//! (which forks a replacement at once) and becomes a worker ([`worker`]): it checks the
//! client (root, same mount namespace and root directory), takes the client's fds 0-2, cwd,
//! environment and umask and runs `lvmeta_cli::main_with(argv)`, then exits. Nothing of the
//! disks persists between commands: each worker starts from the idle parent's memory and
//! reads the metadata from disk. The parent keeps only what metadata texts and configuration
//! files say (`lvmeta::memo`): workers hand it the texts they committed or parsed, it parses
//! them while no command runs and retires its idle children for ones forked with them; a
//! command that reads the very same bytes takes that parse. It also builds lvmeta's command
//! tree once (`lvmeta_cli::prepare`), and an idle child copies the memory it shares with the
//! parent before a client comes (`prefault`).

pub mod pool;
mod prefault;
pub mod server;
pub mod worker;

use std::path::PathBuf;

use clap::{value_parser, Arg, ArgAction, Command};

pub use server::{run, Options, ServerError};

pub fn cli() -> Command {
    Command::new("lvmeta-server")
        .about("Resident lvmeta command server: lvmc and lvmeta forward commands to it")
        .long_about(
            "lvmeta-server runs lvmeta commands for lvmc and lvmeta, which forward their \
             command line, environment, umask, current directory and standard input, output \
             and error to it over a Unix socket and exit with the command's exit code. A \
             command then costs a fork of this already-running process instead of starting \
             lvmeta, which is most of a command's time where process start is slow (emulated \
             machines). The server pre-forks: a child always waits for a connection (--idle \
             of them while no command runs), at most --max run commands at once (further \
             clients wait). Each command runs in a fresh \
             child of the idle server, which reads the metadata from the disks: nothing of \
             the disks is kept between commands (no metadata cache), so nothing can go \
             stale. The server keeps only what metadata texts and configuration files \
             (halvm.toml, lvm.conf, lvmlocal.conf) say: the texts commands committed or \
             parsed are parsed again by the server while no command runs, and a command that \
             reads the very same bytes takes that parse; lvmeta's command line parser is built \
             once, by the server. An idle child that has seen no client for 100 ms copies the \
             memory it shares with the server (the pages its command would otherwise copy one \
             fault at a time), stopping as soon as a client comes. It runs in the foreground (systemd: Type=simple) and \
             logs to syslog; SIGTERM or SIGINT stops it once the commands running have \
             finished.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            Arg::new("socket")
                .long("socket")
                .value_name("PATH")
                .default_value(lvmeta_forward::client::DEFAULT_SOCKET)
                .value_parser(value_parser!(PathBuf))
                .help("Unix socket to serve (its directory is created mode 0700 if absent; the socket is mode 0600, root only)"),
        )
        .arg(
            Arg::new("idle")
                .long("idle")
                .value_name("N")
                .default_value("2")
                .value_parser(value_parser!(usize))
                .help("Children kept waiting for a connection while no command runs (one at least while commands run: a fork would slow them)"),
        )
        .arg(
            Arg::new("max")
                .long("max")
                .value_name("N")
                .default_value("32")
                .value_parser(value_parser!(usize))
                .help("Commands run at once at most; more clients wait in the socket's backlog"),
        )
        .arg(
            // Tests run the server unprivileged: clients of its own uid gain nothing by it.
            Arg::new("allow_own_uid")
                .long("test-allow-own-uid")
                .action(ArgAction::SetTrue)
                .hide(true)
                .help("Tests only: also serve clients of the server's own effective uid"),
        )
}

/// The options of a parsed command line, or why they are invalid.
pub fn options(m: &clap::ArgMatches) -> Result<Options, pool::LimitsError> {
    Ok(Options {
        socket: m.get_one::<PathBuf>("socket").expect("default").clone(),
        limits: pool::Limits::new(
            *m.get_one::<usize>("idle").expect("default"),
            *m.get_one::<usize>("max").expect("default"),
        )?,
        allow_uid: m
            .get_flag("allow_own_uid")
            .then(|| nix::unistd::geteuid().as_raw()),
    })
}
