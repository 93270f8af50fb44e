//! Host-side helpers: running host tools with checked status, and the lab's network namespace.

use crate::error::{LabError, Result};
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().to_string();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd`, returns stdout; a non-zero exit is an error carrying stderr.
pub fn cmd_output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| LabError::HostCommand {
        command: describe(cmd),
        status: "not started".into(),
        stderr: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(LabError::HostCommand {
            command: describe(cmd),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

pub fn cmd_ok(cmd: &mut Command) -> Result<()> {
    cmd_output(cmd).map(|_| ())
}

/// Cluster (corosync/DLM) network: partitions cut it.
pub const CLUSTER_NET: &str = "10.77.0";
/// Control network (agent, fencing): never cut, so a partitioned node stays controllable.
pub const CONTROL_NET: &str = "10.78.0";
pub const CLUSTER_BRIDGE: &str = "brk";
pub const CONTROL_BRIDGE: &str = "brc";

pub fn cluster_tap(index: usize) -> String {
    format!("tapk{index}")
}
pub fn control_tap(index: usize) -> String {
    format!("tapc{index}")
}

/// A network namespace with two bridges and persistent taps, one pair per node.
/// Deleting the namespace deletes the bridges and taps with it.
#[derive(Debug)]
pub struct NetNs {
    pub name: String,
    owned: bool,
}

impl NetNs {
    pub fn create(name: &str, nodes: usize) -> Result<NetNs> {
        cmd_ok(Command::new("ip").args(["netns", "add", name]))?;
        let ns = NetNs {
            name: name.to_string(),
            owned: true,
        };
        let mut batch = String::new();
        batch.push_str("link set lo up\n");
        for br in [CLUSTER_BRIDGE, CONTROL_BRIDGE] {
            batch.push_str(&format!("link add {br} type bridge\nlink set {br} up\n"));
        }
        batch.push_str(&format!(
            "addr add {CONTROL_NET}.1/24 dev {CONTROL_BRIDGE}\n"
        ));
        batch.push_str(&format!(
            "addr add {CLUSTER_NET}.1/24 dev {CLUSTER_BRIDGE}\n"
        ));
        for i in 1..=nodes {
            for (tap, br) in [
                (cluster_tap(i), CLUSTER_BRIDGE),
                (control_tap(i), CONTROL_BRIDGE),
            ] {
                batch.push_str(&format!(
                    "tuntap add {tap} mode tap\nlink set {tap} master {br} up\n"
                ));
            }
        }
        ns.ip_batch(&batch)?;
        Ok(ns)
    }

    /// Handle on an existing namespace that this process does not own (CLI clients).
    pub fn existing(name: &str) -> NetNs {
        NetNs {
            name: name.to_string(),
            owned: false,
        }
    }

    pub fn ip_batch(&self, batch: &str) -> Result<()> {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["-n", &self.name, "-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| LabError::HostCommand {
                command: "ip -batch".into(),
                status: "not started".into(),
                stderr: e.to_string(),
            })?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(batch.as_bytes())
            .map_err(LabError::io("write", "ip -batch stdin"))?;
        let out = child
            .wait_with_output()
            .map_err(LabError::io("wait", "ip -batch"))?;
        if !out.status.success() {
            return Err(LabError::HostCommand {
                command: format!("ip -n {} -batch: {}", self.name, batch.replace('\n', "; ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }

    /// Runs `f` on a fresh thread that has entered the namespace: sockets made there live in
    /// the namespace, while the rest of the process stays where it is.
    fn in_ns<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = File::open(&path)?;
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")))
    }

    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
        self.in_ns(move || TcpStream::connect_timeout(&addr, timeout))
    }

    pub fn bind(&self, addr: SocketAddr) -> std::io::Result<TcpListener> {
        self.in_ns(move || TcpListener::bind(addr))
    }

    pub fn delete(&mut self) {
        if self.owned {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
            self.owned = false;
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        self.delete();
    }
}
