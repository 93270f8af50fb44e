//! The `halvm-lab` command line. `up` starts a supervisor process that owns the lab (VMs,
//! namespace, power service) and answers the other commands on a unix socket in the run dir.

use crate::client::{AgentAddr, RunOpts};
use crate::error::{LabError, Result};
use crate::lab::{Lab, LabConfig};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "halvm-lab",
    version,
    about = "Boot and drive a multi-node QEMU cluster lab (corosync, DLM, Pacemaker) on a real kernel",
    long_about = "halvm-lab boots 1 to 8 QEMU virtual machines that run the host's own userspace \
(root shared read-only over 9p, tmpfs overlays), share raw disk images, and talk over tap devices \
on bridges inside a private network namespace. Corosync, dlm_controld and optionally Pacemaker run \
inside them, with fencing through fence_halvm_lab. Needs root."
)]
pub struct Cli {
    /// Directory holding the running lab's state and control socket.
    #[arg(
        long,
        global = true,
        env = "HALVM_LAB_RUN_DIR",
        default_value = "/run/halvm-lab"
    )]
    pub run_dir: PathBuf,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Boot the nodes and form the cluster; returns when it is ready.
    Up(LabSpec),
    /// Run a command in a node; prints its output and exits with its exit code.
    Run {
        /// Node name (node1, node2, ...).
        node: String,
        /// Seconds before the command is killed.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Power a node off (kill its QEMU process).
    Kill { node: String },
    /// Power-cycle a node and wait until it has rejoined the cluster.
    Restart { node: String },
    /// Cut a node off the cluster network (the control network stays up).
    Partition { node: String },
    /// Reconnect a partitioned node.
    Heal { node: String },
    /// Hot-unplug a shared disk from one node (QEMU device_del; the guest kernel removes the
    /// device even while it is open). DISK is its serial: sharedK or sharedK-pJ. The disk
    /// stays detached from that node across restarts until `plug`.
    Unplug { node: String, disk: String },
    /// Hot-plug a shared disk back into one node (QEMU blockdev-add and device_add, same
    /// serial, so /dev/disk/by-id/virtio-DISK names it again); also attaches a disk left out
    /// at boot with --unplugged.
    Plug { node: String, disk: String },
    /// Show the nodes, their addresses and power state.
    Status,
    /// Tear the lab down.
    Down,
    /// Internal: the process that owns the lab (started by `up`, with `up`'s arguments).
    #[command(hide = true)]
    Supervise(LabSpec),
}

// What `up` boots. `up` hands it to the supervisor process as the same arguments
// (`LabSpec::args`), so both parse it with one definition. (A `//` comment: clap would take a
// doc comment as `up`'s about text.)
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct LabSpec {
    /// Number of nodes (node1..nodeN).
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Also run Pacemaker, with stonith through fence_halvm_lab.
    #[arg(long)]
    pub pacemaker: bool,
    /// Bare VMs: no corosync or dlm_controld.
    #[arg(long)]
    pub no_cluster: bool,
    /// Number of shared disks (/dev/disk/by-id/virtio-sharedK in every node).
    #[arg(long, default_value_t = 1)]
    pub shared_disks: usize,
    /// Size of each shared disk in MiB.
    #[arg(long, default_value_t = 256)]
    pub shared_disk_mib: u64,
    /// Memory per VM in MiB.
    #[arg(long, default_value_t = 768)]
    pub memory: u32,
    /// Use this corosync.conf in every node instead of the lab's (e.g. from `cluster-conf
    /// to-corosync`, with the nodes' cluster addresses 10.77.0.11, .12 ...); a key for its
    /// crypto is made for the lab.
    #[arg(long, value_name = "FILE")]
    pub corosync_conf: Option<PathBuf>,
    /// Leave shared disk DISK (sharedK, or sharedK-pJ for a further path) out of NODE at
    /// boot, as a LUN not zoned to that host; `plug` attaches it later. Repeatable.
    #[arg(long, value_name = "NODE:DISK", value_parser = parse_node_disk)]
    pub unplugged: Vec<(String, String)>,
}

impl LabSpec {
    /// The arguments that parse back into this spec.
    pub fn args(&self) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = vec![
            "--nodes".into(),
            self.nodes.to_string().into(),
            "--shared-disks".into(),
            self.shared_disks.to_string().into(),
            "--shared-disk-mib".into(),
            self.shared_disk_mib.to_string().into(),
            "--memory".into(),
            self.memory.to_string().into(),
        ];
        if self.pacemaker {
            a.push("--pacemaker".into());
        }
        if self.no_cluster {
            a.push("--no-cluster".into());
        }
        if let Some(f) = &self.corosync_conf {
            a.push("--corosync-conf".into());
            a.push(f.into());
        }
        for (n, d) in &self.unplugged {
            a.push("--unplugged".into());
            a.push(format!("{n}:{d}").into());
        }
        a
    }
}

/// `NODE:DISK`, e.g. `node2:shared1`.
fn parse_node_disk(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once(':') {
        Some((n, d)) if !n.is_empty() && !d.is_empty() && !d.contains(':') => {
            Ok((n.to_string(), d.to_string()))
        }
        _ => Err(format!("`{s}` is not NODE:DISK (e.g. node2:shared0)")),
    }
}

/// The clap definition (man page, tests).
pub fn cli() -> clap::Command {
    Cli::command()
}

fn sock(run_dir: &Path) -> PathBuf {
    run_dir.join("ctl.sock")
}

fn request(run_dir: &Path, line: &str) -> Result<String> {
    let mut s = UnixStream::connect(sock(run_dir)).map_err(|e| LabError::NotRunning {
        run_dir: run_dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    s.write_all(format!("{line}\n").as_bytes())
        .map_err(LabError::io("write", sock(run_dir)))?;
    let mut reply = String::new();
    BufReader::new(s)
        .read_to_string_lossy(&mut reply)
        .map_err(LabError::io("read", sock(run_dir)))?;
    match reply.split_once(' ') {
        Some(("ok", rest)) => Ok(rest.trim_end().to_string()),
        Some(("err", rest)) => Err(LabError::Supervisor {
            reason: rest.trim().to_string(),
        }),
        _ => Err(LabError::Supervisor {
            reason: format!("bad reply `{}`", reply.trim()),
        }),
    }
}

trait ReadAll {
    fn read_to_string_lossy(self, out: &mut String) -> std::io::Result<()>;
}
impl<R: std::io::Read> ReadAll for BufReader<R> {
    fn read_to_string_lossy(mut self, out: &mut String) -> std::io::Result<()> {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut self, &mut buf)?;
        out.push_str(&String::from_utf8_lossy(&buf));
        Ok(())
    }
}

/// Parses `args` and runs the command; returns the process exit code.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> Result<i32> {
    let matches = cli().try_get_matches_from(args).map_err(|e| {
        let _ = e.print();
        LabError::Config {
            reason: "invalid arguments".into(),
        }
    });
    let matches = match matches {
        Ok(m) => m,
        Err(_) => return Ok(2),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| LabError::Config {
        reason: e.to_string(),
    })?;
    run(cli)
}

pub fn run(cli: Cli) -> Result<i32> {
    let rd = cli.run_dir.clone();
    match cli.command {
        Cmd::Up(spec) => {
            if UnixStream::connect(sock(&rd)).is_ok() {
                return Err(LabError::AlreadyRunning { run_dir: rd });
            }
            std::fs::create_dir_all(&rd).map_err(LabError::io("create", &rd))?;
            for f in ["state", "failed", "ctl.sock"] {
                let _ = std::fs::remove_file(rd.join(f));
            }
            let log = rd.join("supervisor.log");
            let out = std::fs::File::create(&log).map_err(LabError::io("create", &log))?;
            let err = out.try_clone().map_err(LabError::io("dup", &log))?;
            let exe = std::env::current_exe().map_err(LabError::io("locate", "current exe"))?;
            let started = Instant::now();
            let mut child = std::process::Command::new(exe)
                .arg("--run-dir")
                .arg(&rd)
                .arg("supervise")
                .args(spec.args())
                .stdin(std::process::Stdio::null())
                .stdout(out)
                .stderr(err)
                .process_group(0)
                .spawn()
                .map_err(LabError::io("spawn", "halvm-lab supervise"))?;
            loop {
                if let Ok(state) = std::fs::read_to_string(rd.join("state")) {
                    print!("{state}");
                    println!("ready after {:.1} s", started.elapsed().as_secs_f64());
                    return Ok(0);
                }
                if let Ok(Some(st)) = child.try_wait() {
                    let reason = std::fs::read_to_string(rd.join("failed")).unwrap_or_else(|_| {
                        format!("supervisor exited ({st}); see {}", log.display())
                    });
                    return Err(LabError::Supervisor { reason });
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Cmd::Supervise(LabSpec {
            nodes,
            pacemaker,
            no_cluster,
            shared_disks,
            shared_disk_mib,
            memory,
            corosync_conf,
            unplugged,
        }) => {
            let corosync_conf = match corosync_conf {
                Some(f) => Some(std::fs::read_to_string(&f).map_err(LabError::io("read", &f))?),
                None => None,
            };
            supervise(
                &rd,
                LabConfig {
                    corosync_conf,
                    nodes,
                    pacemaker,
                    cluster: !no_cluster,
                    shared_disks,
                    shared_disk_mib,
                    memory_mib: memory,
                    unplugged,
                    ..LabConfig::default()
                },
            )
        }
        Cmd::Run {
            node,
            timeout,
            command,
        } => {
            let state =
                std::fs::read_to_string(rd.join("state")).map_err(|e| LabError::NotRunning {
                    run_dir: rd.clone(),
                    reason: e.to_string(),
                })?;
            let agent =
                parse_state(&state, &node).ok_or(LabError::UnknownNode { name: node.clone() })?;
            let argv: Vec<&str> = command.iter().map(String::as_str).collect();
            let out = agent.run(
                &argv,
                &RunOpts {
                    timeout: Duration::from_secs(timeout),
                    ..RunOpts::default()
                },
            )?;
            std::io::stdout()
                .write_all(&out.stdout)
                .map_err(LabError::io("write", "stdout"))?;
            std::io::stderr()
                .write_all(&out.stderr)
                .map_err(LabError::io("write", "stderr"))?;
            Ok(out.code)
        }
        Cmd::Kill { node } => print_reply(request(&rd, &format!("kill {node}"))?),
        Cmd::Restart { node } => print_reply(request(&rd, &format!("restart {node}"))?),
        Cmd::Partition { node } => print_reply(request(&rd, &format!("partition {node}"))?),
        Cmd::Heal { node } => print_reply(request(&rd, &format!("heal {node}"))?),
        Cmd::Unplug { node, disk } => print_reply(request(&rd, &format!("unplug {node} {disk}"))?),
        Cmd::Plug { node, disk } => print_reply(request(&rd, &format!("plug {node} {disk}"))?),
        Cmd::Status => print_reply(request(&rd, "nodes")?),
        Cmd::Down => match request(&rd, "down") {
            Ok(r) => print_reply(r),
            // Still booting (no socket yet): SIGTERM makes the supervisor tear down when its
            // start returns.
            Err(LabError::NotRunning { .. }) if supervisor_alive(&rd).is_some() => {
                let pid = supervisor_alive(&rd).expect("checked");
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
                let deadline = Instant::now() + Duration::from_secs(600);
                while supervisor_alive(&rd).is_some() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(200));
                }
                print_reply("lab torn down".into())
            }
            Err(e) => Err(e),
        },
    }
}

/// PID of the supervisor recorded in the run dir, if that process is still a halvm-lab.
fn supervisor_alive(rd: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(rd.join("supervisor.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    comm.starts_with("halvm-lab").then_some(pid)
}

fn print_reply(s: String) -> Result<i32> {
    println!("{s}");
    Ok(0)
}

/// `state` lines: `netns NAME`, `dir PATH`, `node NAME IP`, `timing KEY SECS`.
fn parse_state(state: &str, node: &str) -> Option<AgentAddr> {
    let netns = state
        .lines()
        .find_map(|l| l.strip_prefix("netns "))?
        .trim()
        .to_string();
    state.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["node", n, ip] if *n == node => Some(AgentAddr {
                node: n.to_string(),
                netns: netns.clone(),
                ip: ip.parse().ok()?,
            }),
            _ => None,
        }
    })
}

fn supervise(rd: &Path, cfg: LabConfig) -> Result<i32> {
    // SIGTERM/SIGINT become an orderly `down` (a thread waits for them; nothing is async).
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGTERM);
    set.add(nix::sys::signal::Signal::SIGINT);
    set.add(nix::sys::signal::Signal::SIGHUP);
    set.thread_block().map_err(|e| LabError::Supervisor {
        reason: format!("block signals: {e}"),
    })?;
    let pidfile = rd.join("supervisor.pid");
    std::fs::write(&pidfile, std::process::id().to_string())
        .map_err(LabError::io("write", &pidfile))?;
    let sock_path = sock(rd);
    let term = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let term2 = std::sync::Arc::clone(&term);
    std::thread::spawn(move || {
        if set.wait().is_ok() {
            // Before the socket exists (still booting), the main thread checks the flag.
            term2.store(true, std::sync::atomic::Ordering::SeqCst);
            if let Ok(mut s) = UnixStream::connect(&sock_path) {
                let _ = s.write_all(b"down\n");
            }
        }
    });
    let lab = match Lab::start(cfg) {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::write(rd.join("failed"), e.to_string());
            return Err(e);
        }
    };
    if term.load(std::sync::atomic::Ordering::SeqCst) {
        let _ = std::fs::write(rd.join("failed"), "terminated by a signal while starting");
        return Ok(1);
    }
    let listener = UnixListener::bind(sock(rd)).map_err(LabError::io("bind", sock(rd)))?;
    let mut state = format!("netns {}\ndir {}\n", lab.netns(), lab.dir().display());
    for n in lab.nodes() {
        let a = lab.agent(&n)?;
        state.push_str(&format!("node {n} {}\n", a.ip));
    }
    let t = lab.timings();
    for (k, v) in [
        ("agents_up", t.agents_up),
        ("quorate", t.quorate),
        ("dlm_ready", t.dlm_ready),
        ("pacemaker_ready", t.pacemaker_ready),
    ] {
        if let Some(v) = v {
            state.push_str(&format!("timing {k} {:.1}\n", v.as_secs_f64()));
        }
    }
    let tmp = rd.join("state.tmp");
    std::fs::write(&tmp, &state).map_err(LabError::io("write", &tmp))?;
    std::fs::rename(&tmp, rd.join("state")).map_err(LabError::io("rename", &tmp))?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let mut w = match conn.try_clone() {
            Ok(w) => w,
            Err(_) => continue,
        };
        let mut line = String::new();
        if BufReader::new(conn).read_line(&mut line).is_err() {
            continue;
        }
        if line.trim() == "down" {
            drop(lab);
            let _ = std::fs::remove_file(rd.join("state"));
            let _ = std::fs::remove_file(sock(rd));
            let _ = std::fs::remove_file(rd.join("supervisor.pid"));
            let _ = w.write_all(b"ok lab torn down\n");
            return Ok(0);
        }
        let reply = match lab.handle_command(line.trim()) {
            Ok(s) => format!("ok {s}\n"),
            Err(e) => format!("err {e}\n"),
        };
        let _ = w.write_all(reply.as_bytes());
    }
    Ok(0)
}

/// Exit code for an error (the binary maps errors here, in one place).
pub fn exit_code(e: &LabError) -> i32 {
    match e {
        LabError::Config { .. } => 2,
        LabError::Prerequisite { .. } => 3,
        LabError::NotRunning { .. } | LabError::AlreadyRunning { .. } => 4,
        LabError::Timeout { .. } => 5,
        LabError::UnknownNode { .. }
        | LabError::NodeDown { .. }
        | LabError::UnknownDisk { .. }
        | LabError::DiskState { .. } => 6,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&std::ffi::OsStr]) -> Cmd {
        Cli::try_parse_from(argv).unwrap().command
    }

    /// `up` starts the supervisor with its own spec, unchanged.
    #[test]
    fn up_hands_its_spec_to_the_supervisor() {
        for argv in [
            &["halvm-lab", "up"][..],
            &[
                "halvm-lab",
                "up",
                "--nodes",
                "3",
                "--pacemaker",
                "--no-cluster",
                "--shared-disks",
                "2",
                "--shared-disk-mib",
                "64",
                "--memory",
                "1024",
                "--corosync-conf",
                "/tmp/c.conf",
                "--unplugged",
                "node2:shared1",
                "--unplugged",
                "node3:shared0-p1",
            ],
        ] {
            let argv: Vec<&std::ffi::OsStr> = argv.iter().map(std::ffi::OsStr::new).collect();
            let Cmd::Up(spec) = parse(&argv) else {
                panic!("not up")
            };
            let args = spec.args();
            let mut sup: Vec<&std::ffi::OsStr> = vec!["halvm-lab".as_ref(), "supervise".as_ref()];
            sup.extend(args.iter().map(|a| a.as_os_str()));
            let Cmd::Supervise(got) = parse(&sup) else {
                panic!("not supervise")
            };
            assert_eq!(got, spec);
        }
    }
}
