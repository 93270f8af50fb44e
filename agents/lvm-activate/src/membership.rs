//! Cluster membership from Pacemaker's `crm_node`, run directly (never through a shell).

use std::process::Command;

use crate::model::ClusterNode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("cannot run {command}: {detail}")]
    Spawn { command: String, detail: String },
    #[error("{command} exited with {status}: {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("unexpected {command} output at line {line}: {text:?}")]
    Parse {
        command: String,
        line: usize,
        text: String,
    },
}

/// Who is in the cluster.
pub trait Membership {
    /// This node's cluster name.
    fn local_node_name(&mut self) -> Result<String, MembershipError>;
    /// Every node the cluster knows, with whether it is a member now.
    fn nodes(&mut self) -> Result<Vec<ClusterNode>, MembershipError>;
}

/// Parses `crm_node -l`: one `ID NAME STATE` line per node (`member`, `lost`, ...). A node
/// from the Corosync node list that was never seen has an empty state (`2 node2 `).
pub fn parse_node_list(text: &str) -> Result<Vec<ClusterNode>, MembershipError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || MembershipError::Parse {
            command: "crm_node -l".into(),
            line: i + 1,
            text: line.to_string(),
        };
        match fields.as_slice() {
            [] => continue,
            [id, name, state @ ..] if state.len() <= 1 => out.push(ClusterNode {
                id: Some(id.parse().map_err(|_| bad())?),
                name: name.to_string(),
                member: state.first() == Some(&"member"),
            }),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

/// Parses `crm_node -p`: the names of the partition's members on one line.
pub fn parse_partition(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// Parses `crm_node -n`: one name.
pub fn parse_local_name(text: &str) -> Result<String, MembershipError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields.as_slice() {
        [name] => Ok(name.to_string()),
        _ => Err(MembershipError::Parse {
            command: "crm_node -n".into(),
            line: 1,
            text: text.trim_end().to_string(),
        }),
    }
}

/// Runs Pacemaker's `crm_node`.
pub struct CrmNode {
    pub program: String,
}

impl Default for CrmNode {
    fn default() -> CrmNode {
        CrmNode {
            program: "crm_node".to_string(),
        }
    }
}

impl CrmNode {
    fn run(&self, flag: &str) -> Result<String, MembershipError> {
        let command = format!("{} {flag}", self.program);
        let out = Command::new(&self.program)
            .arg(flag)
            .output()
            .map_err(|e| MembershipError::Spawn {
                command: command.clone(),
                detail: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(MembershipError::Failed {
                command,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Membership for CrmNode {
    fn local_node_name(&mut self) -> Result<String, MembershipError> {
        parse_local_name(&self.run("-n")?)
    }
    fn nodes(&mut self) -> Result<Vec<ClusterNode>, MembershipError> {
        parse_node_list(&self.run("-l")?)
    }
}

/// A fixed membership (tests).
#[derive(Debug, Clone, Default)]
pub struct StaticMembership {
    pub local: Option<String>,
    pub nodes: Option<Vec<ClusterNode>>,
}

impl Membership for StaticMembership {
    fn local_node_name(&mut self) -> Result<String, MembershipError> {
        self.local.clone().ok_or_else(|| MembershipError::Failed {
            command: "static".into(),
            status: "1".into(),
            stderr: "no local name".into(),
        })
    }
    fn nodes(&mut self) -> Result<Vec<ClusterNode>, MembershipError> {
        self.nodes.clone().ok_or_else(|| MembershipError::Failed {
            command: "static".into(),
            status: "1".into(),
            stderr: "no membership".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn node_list_lines() {
        let nodes = parse_node_list("1 node1 member\n2 node2 lost\n\n3 node3 member\n").unwrap();
        assert_eq!(nodes.len(), 3);
        assert_eq!(
            nodes[1],
            ClusterNode {
                id: Some(2),
                name: "node2".into(),
                member: false
            }
        );
        assert!(nodes[2].member);
        assert!(parse_node_list("x node1 member").is_err());
        assert!(parse_node_list("1 node1 member extra").is_err());
        assert!(parse_node_list("node1").is_err());
        assert_eq!(parse_partition("node1 node3\n"), vec!["node1", "node3"]);
        assert_eq!(parse_local_name("node1\n").unwrap(), "node1");
        assert!(parse_local_name("").is_err());
    }

    /// Real output of Pacemaker 2.1.5 (tests/captured/capture-crm-node.sh): node1 up,
    /// node2 in the Corosync node list but never seen.
    #[test]
    fn captured_crm_node_output() {
        let nodes = parse_node_list(include_str!("../tests/captured/crm_node-l.txt")).unwrap();
        assert_eq!(
            nodes,
            vec![
                ClusterNode {
                    id: Some(1),
                    name: "node1".into(),
                    member: true
                },
                ClusterNode {
                    id: Some(2),
                    name: "node2".into(),
                    member: false
                },
            ]
        );
        assert_eq!(
            parse_partition(include_str!("../tests/captured/crm_node-p.txt")),
            vec!["node1"]
        );
        assert_eq!(
            parse_local_name(include_str!("../tests/captured/crm_node-n.txt")).unwrap(),
            "node1"
        );
        assert!(
            include_str!("../tests/captured/crm_node-version.txt").starts_with("Pacemaker 2.1.5")
        );
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let mut m = CrmNode {
            program: "/nonexistent/crm_node".into(),
        };
        let e = m.nodes().unwrap_err();
        assert!(matches!(e, MembershipError::Spawn { .. }), "{e:?}");
    }

    proptest! {
        #[test]
        fn node_lists_round_trip(nodes in proptest::collection::vec((any::<u32>(), "[a-z][a-z0-9.-]{0,12}", any::<bool>()), 0..6)) {
            let text: String = nodes.iter().map(|(id, n, m)| format!("{id} {n} {}\n", if *m { "member" } else { "lost" })).collect();
            let parsed = parse_node_list(&text).unwrap();
            prop_assert_eq!(parsed.len(), nodes.len());
            for (p, (id, n, m)) in parsed.iter().zip(&nodes) {
                prop_assert_eq!(p.id, Some(*id));
                prop_assert_eq!(&p.name, n);
                prop_assert_eq!(p.member, *m);
            }
        }

        #[test]
        fn node_list_parse_never_panics(text in "\\PC{0,60}") {
            let _ = parse_node_list(&text);
            let _ = parse_local_name(&text);
        }
    }
}
