//! `clvmd-rs status`.

use std::fmt::Write;
use std::path::Path;

use clvmd_client::Client;
use clvmd_proto::{Holder, Mode, Status};

use crate::DaemonError;

pub fn run(socket: &Path, json: bool) -> Result<(), DaemonError> {
    // Other nodes' LV locks are told only when asked: ask first, so that the view shows
    // every one (a few CPG messages, and up to BARRIER_ACK_MS if a member does not answer).
    let c = Client::connect(socket, "clvmd-rs status")?;
    let (_, st) = c.cluster_status(|| Client::connect(socket, "clvmd-rs status"))?;
    if json {
        println!("{}", serde_json_string(&st));
    } else {
        print!("{}", render(&st));
    }
    Ok(())
}

/// `clvmd-rs enable VG`: refused while this node cannot read the VG's metadata.
pub fn enable(socket: &Path, vg: &str) -> Result<(), DaemonError> {
    let env = crate::dm::daemon_env(std::sync::Arc::new(lvmeta::lock::MemLocking::new())).map_err(
        |e| DaemonError::Enable {
            vg: vg.into(),
            why: e.to_string(),
        },
    )?;
    // Only whether the metadata is readable from here: no lock (the daemon serves locks,
    // and a VG disabled here has none to give).
    lvmeta::ops::Ctx { env: &env }
        .peek_vg(vg)
        .map_err(|e| DaemonError::Enable {
            vg: vg.into(),
            why: format!("this node cannot read its metadata: {e}"),
        })?;
    let mut c = Client::connect(socket, "clvmd-rs enable")?;
    c.vg_enable(vg)?;
    println!("VG {vg} enabled");
    Ok(())
}

fn serde_json_string(st: &Status) -> String {
    // clvmd-proto's types are serde types; the wire encoding is JSON already.
    let f = clvmd_proto::encode_frame(st, clvmd_proto::MAX_RESPONSE).expect("status encodes");
    String::from_utf8(f[clvmd_proto::HEADER_LEN..].to_vec()).expect("JSON is UTF-8")
}

/// A holding as an admin reads it: the VxVM name for the activation-mode resource, lvm's
/// ex/sh for LV locks (with the DLM mode when it is another).
fn mode_word(resource: &str, m: Mode) -> String {
    if resource == clvmd_core::modes::MODE_RESOURCE {
        let short = match m {
            Mode::Pw => "ew",
            Mode::Pr => "ro",
            Mode::Cr => "sr",
            Mode::Cw => "sw",
            _ => clvmd_core::modes::vx_name(m),
        };
        return format!("{short} ({m})");
    }
    match m {
        Mode::Ex => "exclusive (EX)".into(),
        Mode::Pr => "shared (PR)".into(),
        m => format!("({m})"),
    }
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
    if let Some(s) = &st.cluster_stack {
        let _ = writeln!(o, "cluster stack: {s}");
    }
    for f in &st.frozen {
        let why = match &f.stranded {
            Some(w) => format!(", never thawed: {w}"),
            None => ": quorum lost".into(),
        };
        let _ = write!(
            o,
            "I/O {} ({}) on shared VG {} for {} ms{why}",
            f.state, f.how, f.vg, f.for_ms
        );
        if let Some(e) = &f.error {
            let _ = write!(o, "; last error: {e}");
        }
        o.push('\n');
    }
    for f in &st.failed_lvs {
        let what = match f.action.as_str() {
            "stopped" => "I/O stopped on this node",
            "detaching" => "detaching the leg(s) cluster-wide",
            "reloading" => "leg(s) detached cluster-wide, reloading here",
            "detached" => "leg(s) detached cluster-wide, I/O goes on",
            _ => "reported",
        };
        let _ = write!(
            o,
            "LV {}/{} failed: mirror {} dead for {} ms; {what}",
            f.vg,
            f.lv,
            f.what_failed(),
            f.for_ms
        );
        if let Some(e) = &f.error {
            let _ = write!(o, "; last error: {e}");
        }
        o.push('\n');
    }
    for d in &st.disabled_vgs {
        let how = match d.policy {
            clvmd_proto::DgFailure::Dgdisable => "DISABLED cluster-wide (dgdisable)".to_string(),
            clvmd_proto::DgFailure::Leave => format!(
                "LEFT by this node (leave), lockspace {}",
                if d.lockspace_joined {
                    "still joined: LVs active here are reported failed"
                } else {
                    "stopped"
                }
            ),
        };
        let _ = writeln!(
            o,
            "VG {} {how} for {} ms: a commit from node {} ({}) failed: {}",
            d.vg, d.for_ms, d.node_name, d.node_id, d.error
        );
        let _ = writeln!(
            o,
            "  after fixing the storage: clvmd-rs enable {}{}",
            d.vg,
            if d.policy == clvmd_proto::DgFailure::Leave {
                format!(" (here), then lvmeta vgchange --lockstart {}", d.vg)
            } else {
                String::new()
            }
        );
    }
    for r in &st.peer_refreshes {
        let _ = writeln!(
            o,
            "refreshed {}/{} from seqno {} after {} left ({} ms ago; tables were from seqno {}; reloaded {})",
            r.vg,
            r.lv,
            r.seqno,
            r.nodes.join(", "),
            r.ago_ms,
            r.from_seqno
                .map_or_else(|| "unknown".to_string(), |s| s.to_string()),
            r.reloaded.join(", ")
        );
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
        // One view of the cluster: where each LV is active and the VG's activation modes,
        // from this node's locks and what the other daemons announced.
        for l in &ls.locks {
            let mut on: Vec<String> = Vec::new();
            if l.mode != Mode::Nl && !l.holders.is_empty() {
                on.push(format!(
                    "{} {}",
                    st.node_name,
                    mode_word(&l.resource, l.mode)
                ));
            }
            for r in &l.remote {
                let n = r.name.clone().unwrap_or_else(|| format!("node{}", r.node));
                on.push(format!("{n} {}", mode_word(&l.resource, r.mode)));
            }
            if on.is_empty() {
                continue;
            }
            if l.resource == clvmd_core::modes::MODE_RESOURCE {
                let _ = writeln!(o, "  activation modes: {}", on.join(", "));
            } else if l.is_lv() {
                // An LV active on other nodes only has no name here: its UUID says which.
                let lv = l.lv_name.as_ref().unwrap_or(&l.resource);
                let _ = writeln!(o, "  LV {lv} active on: {}", on.join(", "));
            }
        }
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
            cluster_stack: Some("dlm_controld is not running (for 700 ms)".into()),
            frozen: vec![
                FrozenVg {
                    vg: "vg".into(),
                    state: "frozen".into(),
                    how: "freeze".into(),
                    for_ms: 1500,
                    error: None,
                    stranded: None,
                },
                FrozenVg {
                    vg: "vg2".into(),
                    state: "stranded".into(),
                    how: "freeze".into(),
                    for_ms: 900,
                    error: None,
                    stranded: Some("a merge; reboot".into()),
                },
            ],
            disabled_vgs: vec![],
            peer_refreshes: vec![],
            failed_lvs: vec![FailedLv {
                vg: "vg".into(),
                lv: "m".into(),
                uuid: "u".into(),
                dead_legs: vec![1],
                dead_log: false,
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
             cluster stack: dlm_controld is not running (for 700 ms)\n\
             I/O frozen (freeze) on shared VG vg for 1500 ms: quorum lost\n\
             I/O stranded (freeze) on shared VG vg2 for 900 ms, never thawed: a merge; reboot\n\
             LV vg/m failed: mirror leg(s) [1] dead for 20 ms; I/O stopped on this node\n\
             lockspace lvm_vg running seqno 7\n  \
             LV lv1 active on: node1 exclusive (EX)\n  \
             VGLK                                             here NL\n  \
             abcdef-0123-4567-89AB-CDEF-0123-456789 (lv1)     here NL\n    \
             held by node1 (id 1) EX\n    \
             last refused here: held by another host (not running clvmd-rs)\n"
        );
    }

    #[test]
    fn render_says_which_vg_is_disabled_why_and_the_way_back() {
        let d = |vg: &str, policy, joined| clvmd_proto::DisabledVg {
            vg: vg.into(),
            policy,
            node_id: 1,
            node_name: "node1".into(),
            error: "no metadata copy could be written".into(),
            for_ms: 30,
            lockspace_joined: joined,
        };
        let st = Status {
            node_id: 1,
            node_name: "node1".into(),
            cluster_name: None,
            quorate: true,
            members: vec![],
            lockspaces: vec![],
            frozen: vec![],
            cluster_stack: None,
            disabled_vgs: vec![
                d("vg", clvmd_proto::DgFailure::Dgdisable, true),
                d("vg2", clvmd_proto::DgFailure::Leave, false),
            ],
            peer_refreshes: vec![clvmd_proto::PeerRefresh {
                vg: "vg".into(),
                lv: "m".into(),
                seqno: 9,
                from_seqno: Some(8),
                nodes: vec!["node3".into()],
                reloaded: vec!["vg-m".into(), "removed vg-m_mimage_1".into()],
                ago_ms: 40,
            }],
            failed_lvs: vec![],
        };
        assert_eq!(
            render(&st),
            "node node1 (id 1), quorate\n\
             members: (none)\n\
             VG vg DISABLED cluster-wide (dgdisable) for 30 ms: a commit from node node1 (1) failed: no metadata copy could be written\n  \
             after fixing the storage: clvmd-rs enable vg\n\
             VG vg2 LEFT by this node (leave), lockspace stopped for 30 ms: a commit from node node1 (1) failed: no metadata copy could be written\n  \
             after fixing the storage: clvmd-rs enable vg2 (here), then lvmeta vgchange --lockstart vg2\n\
             refreshed vg/m from seqno 9 after node3 left (40 ms ago; tables were from seqno 8; reloaded vg-m, removed vg-m_mimage_1)\n\
             no lockspaces\n"
        );
    }

    #[test]
    fn render_gives_one_view_of_modes_and_active_lvs() {
        let lock = |resource: &str, lv: &str, mode: Mode, remote: Vec<RemoteHold>| LockStatus {
            resource: resource.into(),
            lv_name: Some(lv.into()),
            mode,
            holders: if mode == Mode::Nl {
                vec![]
            } else {
                vec![format!("persistent {mode}")]
            },
            remote,
            last_busy: None,
        };
        let node1 = |mode| RemoteHold {
            node: 1,
            name: Some("node1".into()),
            mode,
        };
        let st = Status {
            node_id: 2,
            node_name: "node2".into(),
            cluster_name: None,
            quorate: true,
            members: vec![],
            lockspaces: vec![LockspaceStatus {
                name: "lvm_vg".into(),
                state: "running".into(),
                seqno: None,
                locks: vec![
                    lock(
                        clvmd_core::modes::MODE_RESOURCE,
                        "activation mode of VG vg",
                        Mode::Cr,
                        vec![node1(Mode::Pw)],
                    ),
                    lock(
                        "abcdef-0123-4567-89AB-CDEF-0123-456789",
                        "lv1",
                        Mode::Cr,
                        vec![node1(Mode::Pw)],
                    ),
                    // Active on node1 only: its name is not known here.
                    LockStatus {
                        lv_name: None,
                        ..lock(
                            "abcdef-0123-4567-89AB-CDEF-0123-456790",
                            "",
                            Mode::Nl,
                            vec![node1(Mode::Ex)],
                        )
                    },
                    LockStatus {
                        lv_name: None,
                        ..lock("VGLK", "", Mode::Nl, vec![node1(Mode::Ex)])
                    },
                ],
            }],
            frozen: vec![],
            cluster_stack: None,
            disabled_vgs: vec![],
            peer_refreshes: vec![],
            failed_lvs: vec![],
        };
        let text = render(&st);
        assert!(
            text.contains("  activation modes: node2 sr (CR), node1 ew (PW)\n"),
            "{text}"
        );
        assert!(
            text.contains("  LV lv1 active on: node2 (CR), node1 (PW)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  LV abcdef-0123-4567-89AB-CDEF-0123-456790 active on: node1 exclusive (EX)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("LV VGLK"), "{text}");
    }
}
