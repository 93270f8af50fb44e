//! The I/O of the agent behind a small trait: the real daemon (spawned, asked over its
//! socket, signalled), and an in-memory one for tests.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clvmd_client::{Client, ClientError};
use clvmd_proto::Mode;

use crate::plan::{Config, DaemonStatus, Lockspace, Observed};

/// How the agent reaches the daemon.
pub trait DaemonControl {
    /// The daemon's pid (from its pid file, if alive) and its status (if it answers).
    fn observe(&mut self, cfg: &Config) -> Observed;
    /// The binary exists and is executable.
    fn check_binary(&mut self, path: &Path) -> Result<(), String>;
    /// The DLM cluster this node is in (dlm_controld publishes its name).
    fn dlm_cluster(&mut self) -> Result<String, String>;
    /// Runs the daemon; returns once it has bound its socket and gone to the background.
    fn spawn(&mut self, cfg: &Config) -> Result<(), String>;
    /// Stops one VG's lockspace.
    fn lock_stop(&mut self, cfg: &Config, vg: &str) -> Result<(), String>;
    /// Asks the daemon to exit (SIGTERM).
    fn terminate(&mut self, pid: u32) -> Result<(), String>;
    /// The process lives (the daemon removes its pid file before it has quite exited).
    fn is_alive(&mut self, pid: u32) -> bool;
    /// Waits a little between two observations.
    fn pause(&mut self);
}

/// Where dlm_controld writes the cluster name (configfs).
pub const CLUSTER_NAME_FILE: &str = "/sys/kernel/config/dlm/cluster/cluster_name";

/// Error text from a child is cut here (the reason line must stay short).
const MAX_STDERR: usize = 2000;

/// The real daemon.
#[derive(Debug, Clone)]
pub struct SystemControl {
    pub cluster_name_file: PathBuf,
    pub poll: Duration,
}

impl Default for SystemControl {
    fn default() -> Self {
        SystemControl {
            cluster_name_file: PathBuf::from(CLUSTER_NAME_FILE),
            poll: Duration::from_millis(200),
        }
    }
}

fn client(cfg: &Config) -> Result<Client, ClientError> {
    Client::connect(
        &cfg.socket,
        &format!("ocf:halvm:clvmd pid {}", std::process::id()),
    )
}

/// The daemon's status in the agent's terms: LV locks held here in any mode but NL are active LVs.
pub fn status_of(s: &clvmd_proto::Status) -> DaemonStatus {
    DaemonStatus {
        node: s.node_name.clone(),
        quorate: s.quorate,
        cluster_name: s.cluster_name.clone(),
        lockspaces: s
            .lockspaces
            .iter()
            .map(|l| Lockspace {
                name: l.name.clone(),
                active_lvs: l
                    .locks
                    .iter()
                    .filter(|k| {
                        k.resource != "GLLK"
                            && k.resource != "VGLK"
                            // Any held mode keeps the LV active (VxVM's ew is PW, sr CR);
                            // only NL merely keeps a place, and lockstop refuses the rest.
                            && k.mode != Mode::Nl
                    })
                    .map(|k| k.lv_name.clone().unwrap_or_else(|| k.resource.clone()))
                    .collect(),
            })
            .collect(),
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    // A pid file is one short line; anything longer is not ours.
    let text = std::fs::read(path).ok()?;
    if text.len() > 32 {
        return None;
    }
    String::from_utf8(text).ok()?.trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    // Signal 0 checks existence; EPERM would still mean it exists (we run as root anyway).
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// The process `pid` runs `daemon`. A pid file outlives a daemon killed with SIGKILL (the OOM
/// killer) and, when configured outside /run, a reboot; its pid may name another process by
/// then, which monitor would call a hung daemon (an error where it is stopped, and a probe's
/// error on a node that never ran it) and stop would SIGTERM.
fn runs(pid: u32, daemon: &Path) -> bool {
    match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) => {
            // A daemon whose binary was replaced (a package update) still runs the old one.
            let exe = exe.to_string_lossy();
            let exe = Path::new(exe.strip_suffix(" (deleted)").unwrap_or(&exe));
            exe == daemon || std::fs::canonicalize(daemon).is_ok_and(|d| d == exe)
        }
        // Unreadable though alive: no way to tell, so it counts as the daemon, as before.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => alive(pid),
        // Gone, a zombie, or a kernel thread.
        Err(_) => false,
    }
}

impl DaemonControl for SystemControl {
    fn observe(&mut self, cfg: &Config) -> Observed {
        let pid = read_pid(&cfg.pidfile).filter(|p| alive(*p) && runs(*p, &cfg.daemon));
        match client(cfg).and_then(|mut c| c.status()) {
            Ok(s) => Observed {
                status: Some(status_of(&s)),
                no_answer: None,
                pid,
            },
            Err(e) => Observed {
                status: None,
                no_answer: Some(e.to_string()),
                pid,
            },
        }
    }

    fn check_binary(&mut self, path: &Path) -> Result<(), String> {
        let m = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !m.is_file() || m.permissions().mode() & 0o111 == 0 {
            return Err("not an executable file".into());
        }
        Ok(())
    }

    fn dlm_cluster(&mut self) -> Result<String, String> {
        let f = &self.cluster_name_file;
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let name = text.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(format!("{}: no cluster name", f.display()));
        }
        Ok(name.to_string())
    }

    fn spawn(&mut self, cfg: &Config) -> Result<(), String> {
        // No shell: the daemon's own argument parser gets the values as they are.
        let out = Command::new(&cfg.daemon)
            .args(cfg.daemon_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("{}: {e}", cfg.daemon.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let mut err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if err.len() > MAX_STDERR {
            let mut cut = MAX_STDERR;
            while !err.is_char_boundary(cut) {
                cut -= 1;
            }
            err.truncate(cut);
        }
        Err(format!(
            "{} exited with {}: {err}",
            cfg.daemon.display(),
            out.status
        ))
    }

    fn lock_stop(&mut self, cfg: &Config, vg: &str) -> Result<(), String> {
        client(cfg)
            .and_then(|mut c| c.lock_stop(vg, false))
            .map_err(|e| e.to_string())
    }

    fn terminate(&mut self, pid: u32) -> Result<(), String> {
        let raw = i32::try_from(pid).map_err(|e| e.to_string())?;
        match nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(raw),
            nix::sys::signal::Signal::SIGTERM,
        ) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(format!("SIGTERM to pid {pid}: {e}")),
        }
    }

    fn is_alive(&mut self, pid: u32) -> bool {
        alive(pid)
    }

    fn pause(&mut self) {
        std::thread::sleep(self.poll);
    }
}

/// An in-memory daemon: what the tests set is what the agent sees.
#[derive(Debug, Clone, Default)]
pub struct MemControl {
    /// The daemon runs (answers), with this pid.
    pub running: Option<u32>,
    /// A live process that does not answer.
    pub hung: bool,
    pub binary_ok: bool,
    pub dlm: Option<String>,
    /// Lockspaces and the LVs active under each.
    pub lockspaces: BTreeMap<String, Vec<String>>,
    /// The daemon's start fails with this text.
    pub spawn_error: Option<String>,
    /// The daemon needs this many pauses to answer after a start / to exit after SIGTERM.
    pub start_delay: u32,
    pub ignores_sigterm: bool,
    pub journal: Vec<String>,
    /// A start (true) or exit (false) under way, and the pauses it still needs.
    pub pending: Option<(bool, u32)>,
}

impl MemControl {
    /// A node with the DLM running and the binary installed, the daemon stopped.
    pub fn ready() -> MemControl {
        MemControl {
            binary_ok: true,
            dlm: Some("halvmlab".into()),
            ..MemControl::default()
        }
    }
}

impl DaemonControl for MemControl {
    fn observe(&mut self, _cfg: &Config) -> Observed {
        match (self.running, self.hung) {
            (Some(pid), false) => Observed {
                status: Some(DaemonStatus {
                    node: "n1".into(),
                    quorate: true,
                    cluster_name: self.dlm.clone(),
                    lockspaces: self
                        .lockspaces
                        .iter()
                        .map(|(n, lvs)| Lockspace {
                            name: n.clone(),
                            active_lvs: lvs.clone(),
                        })
                        .collect(),
                }),
                no_answer: None,
                pid: Some(pid),
            },
            (pid, _) => Observed {
                status: None,
                no_answer: Some("Connection refused".into()),
                pid,
            },
        }
    }
    fn check_binary(&mut self, path: &Path) -> Result<(), String> {
        if self.binary_ok {
            Ok(())
        } else {
            Err(format!("{}: No such file or directory", path.display()))
        }
    }
    fn dlm_cluster(&mut self) -> Result<String, String> {
        self.dlm
            .clone()
            .ok_or_else(|| format!("{CLUSTER_NAME_FILE}: No such file or directory"))
    }
    fn spawn(&mut self, cfg: &Config) -> Result<(), String> {
        self.journal.push(format!(
            "spawn {} {}",
            cfg.daemon.display(),
            cfg.daemon_args().join(" ")
        ));
        if let Some(e) = &self.spawn_error {
            return Err(e.clone());
        }
        self.pending = Some((true, self.start_delay));
        self.settle();
        Ok(())
    }
    fn lock_stop(&mut self, _cfg: &Config, vg: &str) -> Result<(), String> {
        self.journal.push(format!("lock_stop {vg}"));
        self.lockspaces.remove(&format!("lvm_{vg}"));
        Ok(())
    }
    fn terminate(&mut self, pid: u32) -> Result<(), String> {
        self.journal.push(format!("terminate {pid}"));
        if !self.ignores_sigterm {
            self.pending = Some((false, self.start_delay));
            self.settle();
        }
        Ok(())
    }
    fn is_alive(&mut self, pid: u32) -> bool {
        self.running == Some(pid)
    }
    fn pause(&mut self) {
        if let Some((_, n)) = &mut self.pending {
            *n = n.saturating_sub(1);
        }
        self.settle();
    }
}

impl MemControl {
    fn settle(&mut self) {
        if let Some((up, 0)) = self.pending {
            self.pending = None;
            if up {
                self.running = Some(4242);
            } else {
                self.running = None;
                self.hung = false;
                self.lockspaces.remove("lvm_global");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clvmd_proto::{LockStatus, LockspaceStatus, Status};

    fn lock(resource: &str, lv: Option<&str>, mode: Mode) -> LockStatus {
        LockStatus {
            resource: resource.into(),
            lv_name: lv.map(str::to_string),
            mode,
            holders: vec!["persistent".into()],
            remote: vec![],
            last_busy: None,
        }
    }

    #[test]
    fn active_lvs_are_the_lv_locks_held_in_any_mode_but_nl() {
        let s = Status {
            node_id: 1,
            node_name: "n1".into(),
            cluster_name: Some("c".into()),
            quorate: true,
            members: vec![],
            lockspaces: vec![
                LockspaceStatus {
                    name: "lvm_global".into(),
                    state: "running".into(),
                    seqno: None,
                    locks: vec![lock("GLLK", None, Mode::Nl)],
                },
                LockspaceStatus {
                    name: "lvm_vg1".into(),
                    state: "running".into(),
                    seqno: Some(3),
                    locks: vec![
                        lock("VGLK", None, Mode::Ex),
                        lock("u1", Some("a"), Mode::Ex),
                        lock("u2", Some("b"), Mode::Pr),
                        lock("u3", Some("c"), Mode::Nl),
                        lock("u4", None, Mode::Ex),
                        // VxVM's ew (PW) and sr (CR), and CW, hold the LV active too:
                        // lockstop would refuse them with the daemon's message.
                        lock("u5", Some("e"), Mode::Pw),
                        lock("u6", Some("f"), Mode::Cr),
                        lock("u7", Some("g"), Mode::Cw),
                    ],
                },
            ],
            frozen: vec![],
            cluster_stack: None,
            disabled_vgs: vec![],
            peer_refreshes: vec![],
            failed_lvs: vec![],
        };
        let d = status_of(&s);
        assert_eq!(d.lockspaces[0].active_lvs, Vec::<String>::new());
        assert_eq!(d.lockspaces[0].vg(), None);
        assert_eq!(d.lockspaces[1].vg(), Some("vg1"));
        assert_eq!(d.lockspaces[1].active_lvs, ["a", "b", "u4", "e", "f", "g"]);
    }

    #[test]
    fn pid_files_are_read_bounded() {
        let dir = std::env::temp_dir().join(format!("clvmd-agent-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("p");
        std::fs::write(&f, "123\n").unwrap();
        assert_eq!(read_pid(&f), Some(123));
        std::fs::write(&f, "1".repeat(40)).unwrap();
        assert_eq!(read_pid(&f), None);
        std::fs::write(&f, "x").unwrap();
        assert_eq!(read_pid(&f), None);
        assert!(alive(std::process::id()));
        assert!(!alive(0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn cfg_in(dir: &Path, daemon: &Path) -> Config {
        Config {
            daemon: daemon.to_path_buf(),
            pidfile: dir.join("clvmd-rs.pid"),
            socket: dir.join("clvmd-rs.sock"),
            log_file: None,
            debug: false,
        }
    }

    /// A stale pid file naming a live process that is not the daemon (the pid reused after
    /// the daemon was SIGKILLed, or after a reboot): the daemon is stopped, not hung, and
    /// stop has nothing to signal.
    #[test]
    fn a_pid_file_naming_another_process_is_a_stopped_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = cfg_in(dir.path(), Path::new(crate::definition::DEFAULT_DAEMON));
        std::fs::write(&cfg.pidfile, format!("{}\n", std::process::id())).unwrap();
        let o = SystemControl::default().observe(&cfg);
        assert_eq!(o.status, None);
        assert_eq!(o.pid, None, "this test process is no clvmd-rs");
        assert_eq!(crate::plan::assess(&o), Ok(false));
        assert_eq!(crate::plan::plan_stop(&o).unwrap().terminate, None);
    }

    /// The daemon's own process still counts, also through a symlinked path.
    #[test]
    fn a_pid_file_naming_the_daemon_is_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let sleep = std::fs::canonicalize("/bin/sleep").expect("/bin/sleep");
        let link = dir.path().join("daemon");
        std::os::unix::fs::symlink(&sleep, &link).unwrap();
        let mut child = Command::new(&link).arg("30").spawn().unwrap();
        for daemon in [&sleep, &link] {
            let cfg = cfg_in(dir.path(), daemon);
            std::fs::write(&cfg.pidfile, child.id().to_string()).unwrap();
            let o = SystemControl::default().observe(&cfg);
            assert_eq!(o.pid, Some(child.id()), "{}", daemon.display());
            assert!(
                crate::plan::assess(&o).is_err(),
                "alive, not answering: hung"
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!runs(child.id(), &sleep), "reaped");
    }
}
