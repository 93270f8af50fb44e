//! Host side of the control channel: one request per TCP connection to the guest agent,
//! opened from inside the lab's network namespace.

use crate::error::{LabError, Result};
use crate::host::NetNs;
use crate::proto::{read_frame, write_frame, AGENT_PORT};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Result of a command run in a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).to_string()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).to_string()
    }
}

/// Options of one command run.
#[derive(Debug, Clone)]
pub struct RunOpts {
    pub timeout: Duration,
    pub stdin: Vec<u8>,
    pub env: Vec<(String, String)>,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            timeout: Duration::from_secs(120),
            stdin: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// Address and namespace of one node's agent.
#[derive(Debug, Clone)]
pub struct AgentAddr {
    pub node: String,
    pub netns: String,
    pub ip: Ipv4Addr,
}

impl AgentAddr {
    fn request(&self, fields: &[&[u8]], timeout: Duration) -> Result<Vec<Vec<u8>>> {
        self.request_with(fields, timeout, Duration::from_secs(2))
    }

    fn request_with(
        &self,
        fields: &[&[u8]],
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Vec<Vec<u8>>> {
        let chan = |reason: String| LabError::Channel {
            node: self.node.clone(),
            reason,
        };
        let ns = NetNs::existing(&self.netns);
        let addr = SocketAddr::from((self.ip, AGENT_PORT));
        let mut s = ns
            .connect(addr, connect_timeout)
            .map_err(|e| chan(format!("connect {addr}: {e}")))?;
        s.set_read_timeout(Some(timeout + Duration::from_secs(15)))
            .map_err(|e| chan(e.to_string()))?;
        write_frame(&mut s, fields).map_err(|e| chan(format!("send: {e}")))?;
        let reply = read_frame(&mut s).map_err(|e| chan(format!("reply: {e}")))?;
        match reply.first().map(Vec::as_slice) {
            Some(b"ok") => Ok(reply[1..].to_vec()),
            Some(b"err") => Err(chan(
                reply
                    .get(1)
                    .map(|m| String::from_utf8_lossy(m).to_string())
                    .unwrap_or_default(),
            )),
            _ => Err(chan("malformed reply".into())),
        }
    }

    /// Short connect timeout: while a node boots its address does not answer ARP, and the
    /// caller retries.
    pub fn ping(&self, timeout: Duration) -> Result<()> {
        self.request_with(&[b"ping"], timeout, Duration::from_millis(500))
            .map(|_| ())
    }

    pub fn run(&self, argv: &[&str], opts: &RunOpts) -> Result<Output> {
        if argv.is_empty() {
            return Err(LabError::Config {
                reason: "empty command".into(),
            });
        }
        let timeout = opts.timeout.as_millis().to_string();
        let env: Vec<u8> = opts
            .env
            .iter()
            .flat_map(|(k, v)| format!("{k}={v}\0").into_bytes())
            .collect();
        let mut fields: Vec<&[u8]> = vec![b"run", timeout.as_bytes(), &opts.stdin, &env];
        fields.extend(argv.iter().map(|a| a.as_bytes()));
        let r = self.request(&fields, opts.timeout)?;
        let [code, stdout, stderr] =
            <[Vec<u8>; 3]>::try_from(r).map_err(|_| LabError::Channel {
                node: self.node.clone(),
                reason: "run reply has wrong arity".into(),
            })?;
        Ok(Output {
            code: String::from_utf8_lossy(&code).parse().unwrap_or(-1),
            stdout,
            stderr,
        })
    }

    pub fn spawn(&self, argv: &[&str], log: &str) -> Result<u32> {
        let mut fields: Vec<&[u8]> = vec![b"spawn", log.as_bytes(), b""];
        fields.extend(argv.iter().map(|a| a.as_bytes()));
        let r = self.request(&fields, Duration::from_secs(30))?;
        Ok(r.first()
            .and_then(|p| String::from_utf8_lossy(p).parse().ok())
            .unwrap_or(0))
    }

    pub fn write_file(&self, path: &str, data: &[u8], mode: u32) -> Result<()> {
        let mode = format!("{mode:o}");
        self.request(
            &[b"write", path.as_bytes(), mode.as_bytes(), data],
            Duration::from_secs(60),
        )
        .map(|_| ())
    }

    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let mut r = self.request(&[b"read", path.as_bytes()], Duration::from_secs(60))?;
        Ok(r.pop().unwrap_or_default())
    }
}
