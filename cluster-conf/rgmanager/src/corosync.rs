//! The rest of an rgmanager migration: the corosync.conf and dlm.conf a cluster.conf implies.
//!
//! The rules follow clufter's ccs2needlexml (cluster.conf to corosync 2 "needle") with
//! corosync 3's knet transport: cluster name; one nodelist entry per clusternode with its
//! nodeid, `name`, `ring0_addr` (the node name, or an address given by the caller) and
//! `ring1_addr` from `<altname>`; node votes become `quorum_votes`; cman `two_node` becomes
//! votequorum's, cman `expected_votes` is left out (votequorum derives it from the nodelist,
//! and cman's `expected_votes="1"` beside two_node would be wrong there); totem token defaults
//! to cman's 10000 ms and join to 60 ms; consensus for two nodes is token + 2000 as cman had.
//! clufter's consensus for more nodes (token / 5, at most 2000 ms) is below corosync's minimum
//! of 1.2 x token, so it is left to corosync's own default (1.2 x token).

use std::fmt::Write as _;

use crate::model::{ClusterConf, Element};

/// One problem that keeps a cluster.conf from becoming a corosync.conf or dlm.conf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    #[error("line {line}: <{element}> attribute `{attribute}`={value:?}: expected {expected}")]
    BadValue {
        element: &'static str,
        attribute: String,
        value: String,
        expected: &'static str,
        line: u32,
    },
    #[error("line {line}: <totem> consensus={consensus} is below 1.2 x token ({token}); corosync refuses it")]
    Consensus {
        consensus: u64,
        token: u64,
        line: u32,
    },
    #[error("an address was given for {node:?}, which is not a clusternode")]
    UnknownNode { node: String },
    #[error("addresses for {node:?}: {given:?}: expected ring0 and at most ring1, without spaces")]
    BadAddresses { node: String, given: String },
    #[error("the cluster.conf has no clusternode")]
    NoNodes,
}

/// A generated file and the notes about what did not carry over (also in the text, as
/// comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFile {
    pub text: String,
    pub notes: Vec<String>,
}

/// cman's token timeout when cluster.conf gives none (clufter: bz1078343).
pub const CMAN_TOKEN_MS: u64 = 10_000;
/// clufter's join timeout when cluster.conf gives none (bz214290).
pub const CMAN_JOIN_MS: u64 = 60;

/// Totem timing keys copied as integers (corosync.conf(5) names them as cman did).
const TOTEM_INTEGERS: &[&str] = &[
    "token",
    "join",
    "consensus",
    "token_retransmits_before_loss_const",
    "token_retransmit",
    "hold",
    "merge",
    "downcheck",
    "fail_recv_const",
    "seqno_unchanged_const",
    "send_join",
    "max_messages",
    "window_size",
    "miss_count_const",
    "max_network_delay",
];

/// Logging keys that mean the same in cluster.conf's `<logging>` and corosync.conf's `logging {}`.
const LOGGING_KEYS: &[&str] = &[
    "to_syslog",
    "to_logfile",
    "logfile",
    "syslog_facility",
    "syslog_priority",
    "logfile_priority",
    "debug",
    "timestamp",
    "fileline",
];

/// Writes the corosync.conf that `conf` implies. `addrs` gives, per node, the addresses of its
/// links (ring0, ring1) where the node name and `<altname>` are not the addresses to use
/// (cluster.conf names are usually host names).
pub fn to_corosync(
    conf: &ClusterConf,
    addrs: &[(String, Vec<String>)],
) -> Result<StackFile, Vec<StackError>> {
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    if conf.nodes.is_empty() {
        errors.push(StackError::NoNodes);
    }
    for (node, rings) in addrs {
        if conf.node(node).is_none() {
            errors.push(StackError::UnknownNode { node: node.clone() });
        }
        if rings.is_empty()
            || rings.len() > 2
            || rings
                .iter()
                .any(|a| a.is_empty() || a.contains(char::is_whitespace))
        {
            errors.push(StackError::BadAddresses {
                node: node.clone(),
                given: rings.join(","),
            });
        }
    }
    let empty = Element {
        attrs: Vec::new(),
        line: 0,
    };
    let cman = conf.stack.cman.as_ref().unwrap_or(&empty);
    let totem = conf.stack.totem.as_ref().unwrap_or(&empty);

    // totem
    let mut t = String::new();
    let _ = writeln!(
        t,
        "totem {{\n    version: 2\n    cluster_name: {}",
        conf.name
    );
    let _ = writeln!(t, "    transport: knet");
    if let Some(tr) = cman.attr("transport") {
        notes.push(format!(
            "cman transport={tr} replaced by knet, corosync 3's transport"
        ));
    }
    let int = |el: &Element, elname: &'static str, key: &str, errors: &mut Vec<StackError>| {
        let v = el.attr(key)?;
        match v.trim().parse::<u64>() {
            Ok(x) => Some(x),
            Err(_) => {
                errors.push(StackError::BadValue {
                    element: elname,
                    attribute: key.to_string(),
                    value: v.to_string(),
                    expected: "a non-negative integer (milliseconds or a count)",
                    line: el.line,
                });
                None
            }
        }
    };
    let token = int(totem, "totem", "token", &mut errors).unwrap_or(CMAN_TOKEN_MS);
    let join = int(totem, "totem", "join", &mut errors).unwrap_or(CMAN_JOIN_MS);
    let _ = writeln!(t, "    token: {token}");
    let _ = writeln!(t, "    join: {join}");
    match int(totem, "totem", "consensus", &mut errors) {
        Some(c) if (c as f64) < 1.2 * token as f64 => errors.push(StackError::Consensus {
            consensus: c,
            token,
            line: totem.line,
        }),
        Some(c) => {
            let _ = writeln!(t, "    consensus: {c}");
        }
        None if conf.nodes.len() <= 2 && (token + 2000) as f64 >= 1.2 * token as f64 => {
            let _ = writeln!(t, "    consensus: {}", token + 2000);
        }
        None => {}
    }
    for key in TOTEM_INTEGERS
        .iter()
        .filter(|k| !["token", "join", "consensus"].contains(k))
    {
        if let Some(v) = int(totem, "totem", key, &mut errors) {
            let _ = writeln!(t, "    {key}: {v}");
        }
    }
    match totem.attr("secauth") {
        Some("off") | Some("0") | Some("no") => {
            let _ = writeln!(t, "    crypto_cipher: none\n    crypto_hash: none");
        }
        _ => {
            // cman authenticated and encrypted by default; so does the translation.
            let _ = writeln!(t, "    crypto_cipher: aes256\n    crypto_hash: sha256");
            match totem.attr("keyfile").or(cman.attr("keyfile")) {
                Some(k) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                    let _ = writeln!(t, "    keyfile: {k}");
                    notes.push(format!(
                        "crypto on as cman had it, with cman's key {k}: corosync needs it on every node"
                    ));
                }
                _ => notes.push(
                    "crypto on as cman had it: put one key in /etc/corosync/authkey on every node (corosync-keygen on one node, then copy it)"
                        .into(),
                ),
            }
        }
    }
    if let Some(port) = cman.attr("port") {
        match port.trim().parse::<u16>() {
            Ok(p) => {
                let _ = writeln!(
                    t,
                    "    interface {{\n        linknumber: 0\n        mcastport: {p}\n    }}"
                );
            }
            Err(_) => errors.push(StackError::BadValue {
                element: "cman",
                attribute: "port".into(),
                value: port.into(),
                expected: "a UDP port",
                line: cman.line,
            }),
        }
    }
    for (k, _) in &totem.attrs {
        if !TOTEM_INTEGERS.contains(&k.as_str()) && k != "secauth" && k != "keyfile" {
            notes.push(format!(
                "totem {k} has no corosync 3 (knet) equivalent; left out"
            ));
        }
    }
    for (k, _) in &cman.attrs {
        if !["two_node", "expected_votes", "transport", "port", "keyfile"].contains(&k.as_str()) {
            notes.push(format!("cman {k} has no corosync 3 equivalent; left out"));
        }
    }
    t.push_str("}\n");

    // nodelist
    let mut n = String::from("\nnodelist {\n");
    for node in &conf.nodes {
        let given = addrs
            .iter()
            .find(|(name, _)| *name == node.name)
            .map(|(_, a)| a.as_slice())
            .unwrap_or(&[]);
        let ring0 = given.first().unwrap_or(&node.name);
        let altname = conf.stack.altnames.iter().find(|(nm, _)| *nm == node.name);
        let ring1 = given.get(1).or(altname.map(|(_, a)| a));
        let _ = writeln!(
            n,
            "    node {{\n        nodeid: {}\n        name: {}\n        ring0_addr: {ring0}",
            node.nodeid, node.name
        );
        if let Some(alt) = ring1 {
            let _ = writeln!(n, "        ring1_addr: {alt}");
        }
        if let Some(v) = node.votes {
            let _ = writeln!(n, "        quorum_votes: {v}");
        }
        n.push_str("    }\n");
    }
    n.push_str("}\n");

    // quorum
    let mut q = String::from("\nquorum {\n    provider: corosync_votequorum\n");
    let two_node = conf.cman.as_ref().is_some_and(|c| c.two_node);
    if two_node && conf.nodes.len() == 2 {
        q.push_str("    two_node: 1\n");
    } else if two_node {
        notes.push(format!(
            "cman two_node=1 with {} nodes: votequorum's two_node needs exactly two; left out",
            conf.nodes.len()
        ));
    }
    if let Some(ev) = conf.cman.as_ref().and_then(|c| c.expected_votes) {
        let sum: u32 = conf.nodes.iter().map(|n| n.votes.unwrap_or(1)).sum();
        notes.push(format!(
            "cman expected_votes={ev} left out: votequorum takes it from the nodelist ({sum} vote(s))"
        ));
    }
    q.push_str("}\n");

    // logging
    let mut l = String::from("\nlogging {\n");
    let logging = conf.stack.logging.as_ref().unwrap_or(&empty);
    let defaults = [
        ("to_syslog", "yes"),
        ("to_logfile", "yes"),
        ("logfile", "/var/log/corosync/corosync.log"),
        ("timestamp", "on"),
    ];
    for key in LOGGING_KEYS {
        let value = logging
            .attr(key)
            .or_else(|| defaults.iter().find(|(k, _)| k == key).map(|(_, v)| *v));
        if let Some(v) = value {
            if v.contains(char::is_whitespace) || v.is_empty() {
                errors.push(StackError::BadValue {
                    element: "logging",
                    attribute: key.to_string(),
                    value: v.to_string(),
                    expected: "a single word",
                    line: logging.line,
                });
                continue;
            }
            let _ = writeln!(l, "    {key}: {v}");
        }
    }
    for (k, _) in &logging.attrs {
        if !LOGGING_KEYS.contains(&k.as_str()) {
            notes.push(format!(
                "logging {k} left out (no corosync.conf equivalent)"
            ));
        }
    }
    l.push_str("}\n");

    if !errors.is_empty() {
        return Err(errors);
    }
    let mut text = generated_header("corosync.conf", "to-corosync", conf, &notes);
    text.push('\n');
    text.push_str(&t);
    text.push_str(&n);
    text.push_str(&q);
    text.push_str(&l);
    Ok(StackFile { text, notes })
}

/// dlm_controld settings (dlm.conf keys, as in dlm_controld 4.2) and which cluster.conf
/// element and attribute they come from.
const DLM_KEYS: &[(&str, &str, DlmValue)] = &[
    ("dlm", "protocol", DlmValue::Protocol),
    ("dlm", "port", DlmValue::Int),
    ("dlm", "log_debug", DlmValue::Bool),
    ("dlm", "enable_fencing", DlmValue::Bool),
    ("dlm", "enable_startup_fencing", DlmValue::Bool),
    ("dlm", "enable_quorum_fencing", DlmValue::Bool),
    ("dlm", "enable_quorum_lockspace", DlmValue::Bool),
    ("dlm", "enable_concurrent_fencing", DlmValue::Bool),
    ("dlm", "repeat_failed_fencing", DlmValue::Bool),
    ("dlm", "enable_plock", DlmValue::Bool),
    ("dlm", "plock_debug", DlmValue::Bool),
    ("dlm", "plock_rate_limit", DlmValue::Int),
    ("dlm", "plock_ownership", DlmValue::Bool),
    ("dlm", "drop_resources_time", DlmValue::Int),
    ("dlm", "drop_resources_count", DlmValue::Int),
    ("dlm", "drop_resources_age", DlmValue::Int),
    ("dlm", "post_join_delay", DlmValue::Int),
    ("fence_daemon", "post_join_delay", DlmValue::Int),
];

#[derive(Clone, Copy)]
enum DlmValue {
    Protocol,
    Int,
    Bool,
}

/// The comment lines a generated file starts with: what it is, where from, the notes.
fn generated_header(file: &str, command: &str, conf: &ClusterConf, notes: &[String]) -> String {
    let mut text = format!(
        "# {file} for cluster {} (cluster.conf config_version {}), by cluster-conf {command}\n",
        conf.name, conf.config_version
    );
    for note in notes {
        let _ = writeln!(text, "# note: {note}");
    }
    text
}

/// Writes the /etc/dlm/dlm.conf that `<dlm>` and `<fence_daemon post_join_delay>` imply.
pub fn to_dlm_conf(conf: &ClusterConf) -> Result<StackFile, Vec<StackError>> {
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    let mut lines = Vec::new();
    for (elname, el) in [
        ("dlm", conf.stack.dlm.as_ref()),
        ("fence_daemon", conf.stack.fence_daemon.as_ref()),
    ] {
        let Some(el) = el else { continue };
        for (k, v) in &el.attrs {
            let Some((_, _, kind)) = DLM_KEYS.iter().find(|(e, key, _)| *e == elname && key == k)
            else {
                let why = match (elname, k.as_str()) {
                    ("dlm", "timewarn") | ("dlm", "enable_deadlk") => {
                        "the kernel's DLM no longer has lock timeouts or deadlock detection"
                    }
                    ("fence_daemon", _) => "fencing is Pacemaker's now (stonith resources)",
                    _ => "no dlm_controld setting of that name",
                };
                notes.push(format!("{elname} {k}={v} left out: {why}"));
                continue;
            };
            let value = match kind {
                DlmValue::Protocol => ["tcp", "sctp", "detect"]
                    .contains(&v.as_str())
                    .then(|| v.clone()),
                DlmValue::Int => v.trim().parse::<u64>().ok().map(|x| x.to_string()),
                DlmValue::Bool => match v.as_str() {
                    "1" | "yes" | "on" | "true" => Some("1".into()),
                    "0" | "no" | "off" | "false" => Some("0".into()),
                    _ => None,
                },
            };
            match value {
                Some(value) => {
                    lines.retain(|(key, _): &(String, String)| key != k);
                    lines.push((k.clone(), value));
                }
                None => errors.push(StackError::BadValue {
                    element: elname,
                    attribute: k.clone(),
                    value: v.clone(),
                    expected: match kind {
                        DlmValue::Protocol => "tcp, sctp or detect",
                        DlmValue::Int => "a non-negative integer",
                        DlmValue::Bool => "0 or 1",
                    },
                    line: el.line,
                }),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut text = generated_header("/etc/dlm/dlm.conf", "to-dlm-conf", conf, &notes);
    for (k, v) in &lines {
        let _ = writeln!(text, "{k}={v}");
    }
    Ok(StackFile { text, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(xml: &str) -> ClusterConf {
        crate::parse(xml).unwrap()
    }

    const BASE: &str = r#"<cluster name="c" config_version="3">
        <cman two_node="1" expected_votes="1"/>
        <clusternodes><clusternode name="a" nodeid="1"><altname name="a-bk"/></clusternode>
        <clusternode name="b" nodeid="2" votes="1"/></clusternodes></cluster>"#;

    #[test]
    fn two_nodes_two_node_and_consensus_token_plus_2000() {
        let out = to_corosync(&conf(BASE), &[("b".into(), vec!["10.0.0.2".into()])]).unwrap();
        let t = &out.text;
        assert!(t.contains("    two_node: 1\n"), "{t}");
        assert!(!t.contains("expected_votes:"), "{t}");
        assert!(
            t.contains("    token: 10000\n    join: 60\n    consensus: 12000\n"),
            "{t}"
        );
        assert!(
            t.contains("name: a\n        ring0_addr: a\n        ring1_addr: a-bk\n"),
            "{t}"
        );
        assert!(
            t.contains("name: b\n        ring0_addr: 10.0.0.2\n        quorum_votes: 1\n"),
            "{t}"
        );
        assert!(t.contains("transport: knet"));
    }

    #[test]
    fn more_nodes_no_consensus_below_corosyncs_minimum() {
        let c = conf(
            r#"<cluster name="c" config_version="1"><totem token="20000" secauth="off"/><clusternodes>
            <clusternode name="a" nodeid="1"/><clusternode name="b" nodeid="2"/>
            <clusternode name="d" nodeid="3"/></clusternodes></cluster>"#,
        );
        let t = to_corosync(&c, &[]).unwrap().text;
        assert!(
            t.contains("token: 20000\n    join: 60\n    crypto_cipher: none"),
            "{t}"
        );
        assert!(!t.contains("consensus"), "{t}");
        assert!(!t.contains("two_node"), "{t}");
    }

    #[test]
    fn errors_name_the_element_and_line() {
        let c = conf(
            r#"<cluster name="c" config_version="1">
            <totem token="x" consensus="100"/><clusternodes>
            <clusternode name="a" nodeid="1"/></clusternodes></cluster>"#,
        );
        let e = to_corosync(&c, &[("zz".into(), vec!["1.2.3.4".into()])]).unwrap_err();
        let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            [
                "an address was given for \"zz\", which is not a clusternode",
                "line 2: <totem> attribute `token`=\"x\": expected a non-negative integer (milliseconds or a count)",
                "line 2: <totem> consensus=100 is below 1.2 x token (10000); corosync refuses it",
            ]
        );
    }

    #[test]
    fn dlm_conf_from_dlm_and_fence_daemon() {
        let c = conf(
            r#"<cluster name="c" config_version="1"><clusternodes>
            <clusternode name="a" nodeid="1"/></clusternodes>
            <fence_daemon post_join_delay="20" clean_start="0"/>
            <dlm protocol="sctp" timewarn="500" plock_ownership="1" enable_fencing="no"/></cluster>"#,
        );
        let out = to_dlm_conf(&c).unwrap();
        assert!(
            out.text.ends_with(
                "protocol=sctp\nplock_ownership=1\nenable_fencing=0\npost_join_delay=20\n"
            ),
            "{}",
            out.text
        );
        assert_eq!(out.notes.len(), 2, "{:?}", out.notes);
        let bad = conf(r#"<cluster name="c" config_version="1"><dlm protocol="udp"/></cluster>"#);
        assert!(to_dlm_conf(&bad).is_err());
    }
}
