//! `fence_halvm_lab`: a fence agent (fence-agents stdin/argv protocol) that asks the lab host's
//! power service to power a node off or on.

use crate::proto::POWER_PORT;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const METADATA: &str = r#"<?xml version="1.0" ?>
<resource-agent name="fence_halvm_lab" shortdesc="Fence agent for halvm VM lab nodes">
<longdesc>fence_halvm_lab powers halvm VM lab nodes off and on by asking the lab host's power service, which kills or starts the node's QEMU process.</longdesc>
<vendor-url>https://example.invalid/halvm</vendor-url>
<parameters>
	<parameter name="action" unique="0" required="1">
		<getopt mixed="-o, --action=[action]" />
		<content type="string" default="reboot"  />
		<shortdesc lang="en">Fencing action</shortdesc>
	</parameter>
	<parameter name="plug" unique="0" required="0" obsoletes="port">
		<getopt mixed="-n, --plug=[id]" />
		<content type="string"  />
		<shortdesc lang="en">Lab node name to act on (node1, node2, ...)</shortdesc>
	</parameter>
	<parameter name="port" unique="0" required="0" deprecated="1">
		<getopt mixed="-n, --plug=[id]" />
		<content type="string"  />
		<shortdesc lang="en">Lab node name to act on</shortdesc>
	</parameter>
	<parameter name="ip" unique="0" required="0" obsoletes="ipaddr">
		<getopt mixed="-a, --ip=[ip]" />
		<content type="string" default="10.78.0.1"  />
		<shortdesc lang="en">Address of the lab host's power service</shortdesc>
	</parameter>
	<parameter name="ipport" unique="0" required="0">
		<getopt mixed="-u, --ipport=[port]" />
		<content type="integer" default="7101"  />
		<shortdesc lang="en">TCP port of the lab host's power service</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="on" automatic="0"/>
	<action name="off" />
	<action name="reboot" />
	<action name="status" />
	<action name="list" />
	<action name="list-status" />
	<action name="monitor" />
	<action name="metadata" />
	<action name="validate-all" />
</actions>
</resource-agent>
"#;

/// Options, from argv or (when argv has none) from `key=value` lines on stdin.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FenceArgs {
    pub action: Option<String>,
    pub plug: Option<String>,
    pub ip: Option<String>,
    pub port: Option<u16>,
}

impl FenceArgs {
    fn set(&mut self, key: &str, value: &str) {
        let v = Some(value.trim().to_string());
        match key.trim() {
            "action" | "option" | "o" => self.action = v,
            // pacemaker sends both `plug` and `nodename`; the plug wins.
            "nodename" if self.plug.is_some() => {}
            "plug" | "port" | "nodename" | "n" => self.plug = v,
            "ip" | "ipaddr" | "a" => self.ip = v,
            "ipport" | "u" => self.port = value.trim().parse().ok(),
            _ => {}
        }
    }

    pub fn parse_argv(args: &[String]) -> FenceArgs {
        let mut a = FenceArgs::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if let Some(kv) = arg.strip_prefix("--") {
                match kv.split_once('=') {
                    Some((k, v)) => a.set(k, v),
                    None => {
                        if let Some(v) = it.next() {
                            a.set(kv, v)
                        }
                    }
                }
            } else if let Some(k) = arg.strip_prefix('-') {
                if let Some(v) = it.next() {
                    a.set(k, v)
                }
            }
        }
        a
    }

    pub fn parse_stdin(text: &str) -> FenceArgs {
        let mut a = FenceArgs::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                a.set(k, v);
            }
        }
        a
    }
}

fn request(args: &FenceArgs, line: &str) -> Result<String, String> {
    let ip = args.ip.clone().unwrap_or_else(|| "10.78.0.1".into());
    let addr: SocketAddr = format!("{ip}:{}", args.port.unwrap_or(POWER_PORT))
        .parse()
        .map_err(|e| format!("bad address {ip}: {e}"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{line}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(s)
        .read_line(&mut reply)
        .map_err(|e| e.to_string())?;
    match reply.trim().split_once(' ') {
        Some(("ok", rest)) => Ok(rest.to_string()),
        Some(("err", rest)) => Err(rest.to_string()),
        _ if reply.trim() == "ok" => Ok(String::new()),
        _ => Err(format!("bad reply `{}`", reply.trim())),
    }
}

/// Runs one action; returns the exit code (0 ok/on, 1 failure, 2 off for `status`).
pub fn run(args: &FenceArgs, out: &mut impl Write, err: &mut impl Write) -> i32 {
    let action = args.action.clone().unwrap_or_else(|| "reboot".into());
    let need_plug = || {
        args.plug
            .clone()
            .ok_or_else(|| "no plug (node name) given".to_string())
    };
    let result: Result<i32, String> = match action.as_str() {
        "metadata" => {
            let _ = out.write_all(METADATA.as_bytes());
            Ok(0)
        }
        "validate-all" => Ok(0),
        "monitor" => request(args, "list").map(|_| 0),
        "list" | "list-status" => request(args, "list").map(|names| {
            for n in names.split(',').filter(|n| !n.is_empty()) {
                let _ = writeln!(out, "{n},");
            }
            0
        }),
        "status" => need_plug()
            .and_then(|p| request(args, &format!("status {p}")))
            .map(|s| {
                let _ = writeln!(out, "Status: {}", s.to_uppercase());
                if s == "on" {
                    0
                } else {
                    2
                }
            }),
        "on" | "off" | "reboot" => need_plug()
            .and_then(|p| request(args, &format!("{action} {p}")))
            .map(|_| {
                let _ = writeln!(
                    out,
                    "Success: {action} {}",
                    args.plug.as_deref().unwrap_or("")
                );
                0
            }),
        other => Err(format!("unsupported action `{other}`")),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "fence_halvm_lab: {action}: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_protocol() {
        let a = FenceArgs::parse_stdin(
            "action=off\nnodename=node2\nplug=node2\n#x=y\nipaddr=10.78.0.1\n",
        );
        assert_eq!(a.action.as_deref(), Some("off"));
        assert_eq!(a.plug.as_deref(), Some("node2"));
        assert_eq!(a.ip.as_deref(), Some("10.78.0.1"));
    }

    #[test]
    fn argv_protocol() {
        let args: Vec<String> = ["-o", "status", "--plug=node3", "--ipport", "7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = FenceArgs::parse_argv(&args);
        assert_eq!(a.action.as_deref(), Some("status"));
        assert_eq!(a.plug.as_deref(), Some("node3"));
        assert_eq!(a.port, Some(7));
    }

    #[test]
    fn metadata_is_xml_and_lists_actions() {
        let mut out = Vec::new();
        let code = run(
            &FenceArgs {
                action: Some("metadata".into()),
                ..Default::default()
            },
            &mut out,
            &mut Vec::new(),
        );
        assert_eq!(code, 0);
        let text = String::from_utf8(out).unwrap();
        for a in [
            "on", "off", "reboot", "status", "list", "monitor", "metadata",
        ] {
            assert!(text.contains(&format!("<action name=\"{a}\"")), "{a}");
        }
    }

    #[test]
    fn off_without_plug_fails() {
        let mut err = Vec::new();
        let code = run(
            &FenceArgs {
                action: Some("off".into()),
                ..Default::default()
            },
            &mut Vec::new(),
            &mut err,
        );
        assert_eq!(code, 1);
        assert!(String::from_utf8(err).unwrap().contains("no plug"));
    }
}
