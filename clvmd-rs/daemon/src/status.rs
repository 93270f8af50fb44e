//! `clvmd-rs status`.

use std::fmt::Write;
use std::path::Path;

use clvmd_client::Client;
use clvmd_proto::{Holder, Mode, Status};

use crate::DaemonError;

pub fn run(socket: &Path, json: bool) -> Result<(), DaemonError> {
    let mut c = Client::connect(socket, "clvmd-rs status")?;
    let st = c.status()?;
    if json {
        println!("{}", serde_json_string(&st));
    } else {
        print!("{}", render(&st));
    }
    Ok(())
}

fn serde_json_string(st: &Status) -> String {
    // clvmd-proto's types are serde types; the wire encoding is JSON already.
    let f = clvmd_proto::encode_frame(st, clvmd_proto::MAX_RESPONSE).expect("status encodes");
    String::from_utf8(f[clvmd_proto::HEADER_LEN..].to_vec()).expect("JSON is UTF-8")
}

fn holder(h: &Holder) -> String {
    h.to_string()
}

/// The human-readable status.
pub fn render(st: &Status) -> String {
    let mut o = String::new();
    let members: Vec<String> = st
        .members
        .iter()
        .map(|m| match &m.name {
            Some(n) => format!("{n}({})", m.id),
            None => format!("node{}", m.id),
        })
        .collect();
    let _ = writeln!(
        o,
        "node {} (id {}), {}",
        st.node_name,
        st.node_id,
        if st.quorate { "quorate" } else { "NOT quorate" }
    );
    let _ = writeln!(
        o,
        "members: {}",
        if members.is_empty() {
            "(none)".into()
        } else {
            members.join(" ")
        }
    );
    for f in &st.frozen {
        let _ = write!(
            o,
            "I/O {} ({}) on shared VG {} for {} ms: quorum lost",
            f.state, f.how, f.vg, f.for_ms
        );
        if let Some(e) = &f.error {
            let _ = write!(o, "; last error: {e}");
        }
        o.push('\n');
    }
    for f in &st.failed_lvs {
        let what = if f.action == "stopped" {
            "I/O stopped on this node"
        } else {
            "reported"
        };
        let _ = write!(
            o,
            "LV {}/{} failed: mirror leg(s) {:?} dead for {} ms; {what}",
            f.vg, f.lv, f.dead_legs, f.for_ms
        );
        if let Some(e) = &f.error {
            let _ = write!(o, "; last error: {e}");
        }
        o.push('\n');
    }
    if st.lockspaces.is_empty() {
        let _ = writeln!(o, "no lockspaces");
    }
    for ls in &st.lockspaces {
        let _ = write!(o, "lockspace {} {}", ls.name, ls.state);
        if let Some(s) = ls.seqno {
            let _ = write!(o, " seqno {s}");
        }
        o.push('\n');
        for l in &ls.locks {
            let name = match &l.lv_name {
                Some(lv) => format!("{} ({lv})", l.resource),
                None => l.resource.clone(),
            };
            let here = if l.holders.is_empty() {
                String::new()
            } else {
                format!(" [{}]", l.holders.join(", "))
            };
            let _ = writeln!(o, "  {name:<48} here {}{here}", l.mode);
            for r in &l.remote {
                let n = r.name.clone().unwrap_or_else(|| format!("node{}", r.node));
                let _ = writeln!(o, "    held by {n} (id {}) {}", r.node, r.mode);
            }
            if let Some(h) = &l.last_busy {
                if l.mode == Mode::Nl || l.remote.is_empty() {
                    let _ = writeln!(o, "    last refused here: held by {}", holder(h));
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use clvmd_proto::*;

    #[test]
    fn render_names_holders() {
        let st = Status {
            node_id: 2,
            node_name: "node2".into(),
            cluster_name: Some("c".into()),
            quorate: true,
            members: vec![
                Member {
                    id: 1,
                    name: Some("node1".into()),
                },
                Member { id: 2, name: None },
            ],
            lockspaces: vec![LockspaceStatus {
                name: "lvm_vg".into(),
                state: "running".into(),
                seqno: Some(7),
                locks: vec![
                    LockStatus {
                        resource: "VGLK".into(),
                        lv_name: None,
                        mode: Mode::Nl,
                        holders: vec![],
                        remote: vec![],
                        last_busy: None,
                    },
                    LockStatus {
                        resource: "abcdef-0123-4567-89AB-CDEF-0123-456789".into(),
                        lv_name: Some("lv1".into()),
                        mode: Mode::Nl,
                        holders: vec![],
                        remote: vec![RemoteHold {
                            node: 1,
                            name: Some("node1".into()),
                            mode: Mode::Ex,
                        }],
                        last_busy: Some(Holder::OtherHost),
                    },
                ],
            }],
            frozen: vec![FrozenVg {
                vg: "vg".into(),
                state: "frozen".into(),
                how: "freeze".into(),
                for_ms: 1500,
                error: None,
            }],
            failed_lvs: vec![FailedLv {
                vg: "vg".into(),
                lv: "m".into(),
                uuid: "u".into(),
                dead_legs: vec![1],
                action: "stopped".into(),
                for_ms: 20,
                error: None,
            }],
        };
        let text = render(&st);
        assert_eq!(
            text,
            "node node2 (id 2), quorate\n\
             members: node1(1) node2\n\
             I/O frozen (freeze) on shared VG vg for 1500 ms: quorum lost\n\
             LV vg/m failed: mirror leg(s) [1] dead for 20 ms; I/O stopped on this node\n\
             lockspace lvm_vg running seqno 7\n  \
             VGLK                                             here NL\n  \
             abcdef-0123-4567-89AB-CDEF-0123-456789 (lv1)     here NL\n    \
             held by node1 (id 1) EX\n    \
             last refused here: held by another host (not running clvmd-rs)\n"
        );
    }
}
