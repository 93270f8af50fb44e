//! The translation checked with Pacemaker's own tools, no mocks:
//! - the CIB passes `crm_verify -x` (as generated, and with every node up);
//! - the pcs script run with `pcs -f` on an empty CIB, and the crm text loaded with
//!   `crm configure load update` into an empty CIB, give the same configuration as our CIB
//!   (compared semantically: IDs aside);
//! - `crm_simulate` places every service on its highest-priority node, never outside a
//!   restricted domain, moves it to the next priority when that node goes down, and fails
//!   back or not according to `nofailback`.
//!
//! Needs pacemaker-cli-utils (crm_verify, crm_simulate, crm_mon, cibadmin), pcs and crmsh
//! (scripts/install-deps).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use halvm_rgmanager::*;
use halvm_testkit::require_tool;
use roxmltree::{Document, Node};

const SAMPLES: [&str; 4] = ["seed003", "four_node", "global_refs", "fencing"];

fn conf(sample: &str) -> ClusterConf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{sample}.conf"));
    parse(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// An empty CIB holding the cluster's nodes, like `pcs cluster cib` on a new cluster.
fn empty_cib_with_nodes(dir: &Path, name: &str, plan: &Plan) -> PathBuf {
    let cibadmin = require_tool("cibadmin", "pacemaker-cli-utils");
    let out = run_ok(Command::new(&cibadmin).arg("--empty"));
    let path = write(dir, name, &String::from_utf8(out.stdout).unwrap());
    for n in &plan.nodes {
        run_ok(
            Command::new(&cibadmin)
                .env("CIB_file", &path)
                .args(["-C", "-o", "nodes", "-X"])
                .arg(format!("<node id=\"{}\" uname=\"{}\"/>", n.id, n.name)),
        );
    }
    path
}

// ---------------------------------------------------------------- semantic comparison

#[derive(Debug, PartialEq, Eq, Default)]
struct Prim {
    spec: String,
    group: Option<String>,
    params: BTreeMap<String, String>,
    meta: BTreeMap<String, String>,
    ops: BTreeSet<(String, String, String, String)>,
}

#[derive(Debug, PartialEq, Eq, Default)]
struct Norm {
    properties: BTreeMap<String, String>,
    nodes: BTreeSet<(String, String)>,
    primitives: BTreeMap<String, Prim>,
    groups: BTreeMap<String, (Vec<String>, BTreeMap<String, String>)>,
    locations: BTreeSet<String>,
    colocations: BTreeSet<(String, String, String)>,
    levels: BTreeSet<(String, String, String)>,
    rsc_defaults: BTreeMap<String, String>,
}

fn score(s: &str) -> String {
    match s {
        "INFINITY" | "+INFINITY" | "inf" | "+inf" => "INFINITY".into(),
        "-inf" => "-INFINITY".into(),
        other => other.into(),
    }
}

fn elems<'a, 'i>(n: Node<'a, 'i>, tag: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| c.has_tag_name(tag))
}

fn pairs(n: Node<'_, '_>, set: &str) -> BTreeMap<String, String> {
    elems(n, set)
        .flat_map(|s| elems(s, "nvpair"))
        .map(|p| {
            (
                p.attribute("name").unwrap().to_string(),
                p.attribute("value").unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn prim(p: Node<'_, '_>, group: Option<&str>) -> Prim {
    let spec = match p.attribute("provider") {
        Some(pr) => format!(
            "{}:{}:{}",
            p.attribute("class").unwrap(),
            pr,
            p.attribute("type").unwrap()
        ),
        None => format!(
            "{}:{}",
            p.attribute("class").unwrap(),
            p.attribute("type").unwrap()
        ),
    };
    let ops = elems(p, "operations")
        .flat_map(|o| elems(o, "op"))
        .map(|o| {
            let a = |k| o.attribute(k).unwrap_or("").to_string();
            (a("name"), a("interval"), a("timeout"), a("on-fail"))
        })
        .collect();
    Prim {
        spec,
        group: group.map(str::to_string),
        params: pairs(p, "instance_attributes"),
        meta: pairs(p, "meta_attributes"),
        ops,
    }
}

fn normalize(xml: &str) -> Norm {
    let doc = Document::parse(xml).unwrap();
    let conf = doc
        .descendants()
        .find(|n| n.has_tag_name("configuration"))
        .unwrap();
    let mut n = Norm::default();
    for c in conf.children().filter(|c| c.is_element()) {
        match c.tag_name().name() {
            "crm_config" => n.properties = pairs(c, "cluster_property_set"),
            "nodes" => {
                n.nodes = elems(c, "node")
                    .map(|x| {
                        (
                            x.attribute("id").unwrap().into(),
                            x.attribute("uname").unwrap().into(),
                        )
                    })
                    .collect()
            }
            "resources" => {
                for r in c.children().filter(|r| r.is_element()) {
                    let id = r.attribute("id").unwrap().to_string();
                    match r.tag_name().name() {
                        "primitive" => {
                            n.primitives.insert(id, prim(r, None));
                        }
                        "group" => {
                            let mut members = Vec::new();
                            for p in elems(r, "primitive") {
                                let pid = p.attribute("id").unwrap().to_string();
                                members.push(pid.clone());
                                n.primitives.insert(pid, prim(p, Some(&id)));
                            }
                            n.groups.insert(id, (members, pairs(r, "meta_attributes")));
                        }
                        other => panic!("unexpected resource element {other}"),
                    }
                }
            }
            "constraints" => {
                for k in c.children().filter(|k| k.is_element()) {
                    match k.tag_name().name() {
                        "rsc_location" => {
                            let rsc = k.attribute("rsc").unwrap();
                            if let Some(node) = k.attribute("node") {
                                n.locations.insert(format!(
                                    "{rsc} {node} {}",
                                    score(k.attribute("score").unwrap())
                                ));
                            }
                            for rule in elems(k, "rule") {
                                let mut exprs: Vec<String> = elems(rule, "expression")
                                    .map(|e| {
                                        format!(
                                            "{} {} {}",
                                            e.attribute("attribute").unwrap(),
                                            e.attribute("operation").unwrap(),
                                            e.attribute("value").unwrap_or("")
                                        )
                                    })
                                    .collect();
                                exprs.sort();
                                n.locations.insert(format!(
                                    "{rsc} rule {} {} [{}]",
                                    score(rule.attribute("score").unwrap()),
                                    rule.attribute("boolean-op").unwrap_or("and"),
                                    exprs.join("; ")
                                ));
                            }
                        }
                        "rsc_colocation" => {
                            n.colocations.insert((
                                k.attribute("rsc").unwrap().into(),
                                k.attribute("with-rsc").unwrap().into(),
                                score(k.attribute("score").unwrap()),
                            ));
                        }
                        other => panic!("unexpected constraint {other}"),
                    }
                }
            }
            "fencing-topology" => {
                n.levels = elems(c, "fencing-level")
                    .map(|l| {
                        (
                            l.attribute("target").unwrap().into(),
                            l.attribute("index").unwrap().into(),
                            l.attribute("devices").unwrap().into(),
                        )
                    })
                    .collect()
            }
            "rsc_defaults" => n.rsc_defaults = pairs(c, "meta_attributes"),
            "op_defaults" => {}
            other => panic!("unexpected configuration section {other}"),
        }
    }
    n
}

#[test]
fn generated_cib_passes_crm_verify() {
    let crm_verify = require_tool("crm_verify", "pacemaker-cli-utils");
    let crm_simulate = require_tool("crm_simulate", "pacemaker-cli-utils");
    let dir = tempfile::tempdir().unwrap();
    for s in SAMPLES {
        let plan = translate(&conf(s));
        let cib = write(dir.path(), &format!("{s}.xml"), &render_cib(&plan));
        if plan.stonith.is_empty() {
            // As generated: schema and configuration checks pass with no warning at all.
            run_ok(Command::new(&crm_verify).arg("-x").arg(&cib));
        } else {
            // With stonith enabled and no status yet, crm_verify warns that never-seen nodes
            // would be fenced; the configuration itself must still be valid (exit 0 or 78,
            // "warnings", with only those status warnings).
            let out = Command::new(&crm_verify)
                .arg("-V")
                .arg("-x")
                .arg(&cib)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            for line in err.lines() {
                assert!(
                    line.contains("lack of quorum")
                        || line.contains("unclean but cannot be fenced")
                        || line.contains("Warnings found during check"),
                    "{s}: unexpected crm_verify output: {line}"
                );
            }
            assert!(
                matches!(out.status.code(), Some(0) | Some(78)),
                "{s}: {}",
                out.status
            );
        }
        // With every node up and quorum, the configuration verifies cleanly.
        let up = dir.path().join(format!("{s}-up.xml"));
        let mut cmd = Command::new(&crm_simulate);
        cmd.arg("-x")
            .arg(&cib)
            .args(["-q", "1", "-S", "-O"])
            .arg(&up);
        for n in &plan.nodes {
            cmd.arg("-u").arg(&n.name);
        }
        run_ok(&mut cmd);
        let out = run_ok(Command::new(&crm_verify).arg("-V").arg("-x").arg(&up));
        assert!(
            out.stderr.is_empty(),
            "{s}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn crm_verify_rejects_a_broken_cib() {
    // The check above can fail: a location on a resource that does not exist is refused.
    let crm_verify = require_tool("crm_verify", "pacemaker-cli-utils");
    let dir = tempfile::tempdir().unwrap();
    let mut plan = translate(&conf("seed003"));
    plan.groups[0].members[0].class = "nonsense".into();
    let cib = write(dir.path(), "bad.xml", &render_cib(&plan));
    let out = Command::new(&crm_verify)
        .arg("-x")
        .arg(&cib)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "crm_verify accepted an invalid class"
    );
}

#[test]
fn pcs_script_builds_the_same_cib() {
    require_tool("pcs", "pcs");
    let bash = require_tool("bash", "bash");
    let dir = tempfile::tempdir().unwrap();
    for s in SAMPLES {
        let plan = translate(&conf(s));
        let cib = empty_cib_with_nodes(dir.path(), &format!("{s}-pcs.xml"), &plan);
        let script = write(dir.path(), &format!("{s}.sh"), &render_pcs(&plan));
        run_ok(
            Command::new(&bash)
                .arg(&script)
                .env("CIB", &cib)
                // The halvm and fence agents are not installed on a build machine.
                .env("PCS_CREATE_FLAGS", "--force"),
        );
        let theirs = normalize(&std::fs::read_to_string(&cib).unwrap());
        let ours = normalize(&render_cib(&plan));
        assert_eq!(ours, theirs, "{s}: pcs -f result differs from to-cib");
        assert!(!ours.groups.is_empty(), "{s}: nothing compared");
    }
}

#[test]
fn crm_text_loads_to_the_same_cib() {
    let crm = require_tool("crm", "crmsh");
    let dir = tempfile::tempdir().unwrap();
    for s in SAMPLES {
        let plan = translate(&conf(s));
        let cib = empty_cib_with_nodes(dir.path(), &format!("{s}-crm.xml"), &plan);
        let text = write(dir.path(), &format!("{s}.crm"), &render_crm(&plan));
        // -F: the halvm and fence agents are not installed here, so crm cannot check them.
        run_ok(
            Command::new(&crm)
                .env("CIB_file", &cib)
                .args(["-F", "configure", "load", "update"])
                .arg(&text),
        );
        let theirs = normalize(&std::fs::read_to_string(&cib).unwrap());
        let ours = normalize(&render_cib(&plan));
        assert_eq!(ours, theirs, "{s}: crm load result differs from to-cib");
    }
}

// ---------------------------------------------------------------- placement with crm_simulate

struct Sim {
    dir: tempfile::TempDir,
    step: u32,
    plan: Plan,
}

impl Sim {
    fn new(sample: &str) -> Sim {
        let plan = translate(&conf(sample));
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0.xml", &render_cib(&plan));
        Sim { dir, step: 0, plan }
    }

    fn current(&self) -> PathBuf {
        self.dir.path().join(format!("{}.xml", self.step))
    }

    /// Brings nodes up or down (with quorum kept, as corosync two_node or a majority does)
    /// and lets the cluster settle.
    fn change(&mut self, up: &[&str], down: &[&str]) {
        let crm_simulate = require_tool("crm_simulate", "pacemaker-cli-utils");
        let input = self.current();
        self.step += 1;
        let mut cmd = Command::new(&crm_simulate);
        cmd.arg("-x")
            .arg(&input)
            .args(["-q", "1", "-S", "-O"])
            .arg(self.current());
        for n in up {
            cmd.arg("-u").arg(n);
        }
        for n in down {
            cmd.arg("-d").arg(n);
        }
        run_ok(&mut cmd);
        // A second pass lets anything scheduled after fencing settle.
        let input = self.current();
        self.step += 1;
        run_ok(
            Command::new(&crm_simulate)
                .arg("-x")
                .arg(&input)
                .args(["-q", "1", "-S", "-O"])
                .arg(self.current()),
        );
    }

    /// Service name → the node its group runs on (None: stopped).
    fn placement(&self) -> BTreeMap<String, Option<String>> {
        let crm_mon = require_tool("crm_mon", "pacemaker-cli-utils");
        let out = run_ok(
            Command::new(&crm_mon)
                .env("CIB_file", self.current())
                .args(["-1", "--output-as=xml"]),
        );
        let xml = String::from_utf8(out.stdout).unwrap();
        let doc = Document::parse(&xml).unwrap();
        let mut map = BTreeMap::new();
        for g in doc.descendants().filter(|n| n.has_tag_name("group")) {
            let gid = g.attribute("id").unwrap();
            let Some(group) = self.plan.groups.iter().find(|x| x.id == gid) else {
                continue;
            };
            let nodes: BTreeSet<Option<String>> = g
                .children()
                .filter(|r| r.has_tag_name("resource"))
                .map(|r| {
                    r.children()
                        .find(|n| n.has_tag_name("node"))
                        .and_then(|n| n.attribute("name"))
                        .map(str::to_string)
                })
                .collect();
            assert_eq!(nodes.len(), 1, "group {gid} split across {nodes:?}");
            map.insert(group.service.clone(), nodes.into_iter().next().unwrap());
        }
        map
    }
}

/// rgmanager's choice for a service: the online domain node with the best priority (ordered),
/// any online domain node (unordered), none when a restricted domain has no node online.
fn preferred<'a>(dom: &'a FailoverDomain, online: &BTreeSet<String>) -> Vec<&'a str> {
    let live: Vec<&DomainNode> = dom
        .nodes
        .iter()
        .filter(|n| online.contains(&n.name))
        .collect();
    if !dom.ordered {
        return live.iter().map(|n| n.name.as_str()).collect();
    }
    let best = live.iter().map(|n| n.priority.unwrap_or(u32::MAX)).min();
    live.iter()
        .filter(|n| Some(n.priority.unwrap_or(u32::MAX)) == best)
        .map(|n| n.name.as_str())
        .collect()
}

fn check_placement(
    c: &ClusterConf,
    placed: &BTreeMap<String, Option<String>>,
    online: &BTreeSet<String>,
    what: &str,
) {
    for svc in &c.services {
        let Some(at) = placed.get(&svc.name) else {
            panic!(
                "{what}: service {} missing from the cluster status",
                svc.name
            )
        };
        if !svc.autostart {
            assert_eq!(at, &None, "{what}: {} has autostart=0 but runs", svc.name);
            continue;
        }
        if let Some(node) = at {
            assert!(
                online.contains(node),
                "{what}: {} on offline node {node}",
                svc.name
            );
        }
        if svc.exclusive {
            if let Some(node) = at {
                for (other, o_at) in placed {
                    assert!(
                        other == &svc.name || o_at.as_ref() != Some(node),
                        "{what}: exclusive {} shares {node} with {other}",
                        svc.name
                    );
                }
            }
        }
        let Some(dom) = svc.domain.as_deref().and_then(|d| c.domain(d)) else {
            continue;
        };
        let want = preferred(dom, online);
        match (at, want.is_empty()) {
            (Some(node), false) => assert!(
                want.contains(&node.as_str()),
                "{what}: {} runs on {node}, expected one of {want:?}",
                svc.name
            ),
            (Some(node), true) => assert!(
                !dom.restricted,
                "{what}: {} runs on {node} outside its restricted domain {}",
                svc.name, dom.name
            ),
            (None, false) => panic!("{what}: {} stopped though {want:?} are online", svc.name),
            (None, true) => {}
        }
    }
}

fn all_nodes(c: &ClusterConf) -> BTreeSet<String> {
    c.nodes.iter().map(|n| n.name.clone()).collect()
}

#[test]
fn simulated_placement_and_failover() {
    for s in SAMPLES {
        let c = conf(s);
        let names: Vec<String> = c.nodes.iter().map(|n| n.name.clone()).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut sim = Sim::new(s);
        sim.change(&refs, &[]);
        let online = all_nodes(&c);
        let start = sim.placement();
        check_placement(&c, &start, &online, &format!("{s}, all up"));

        // Take each service's node down in turn: it moves to the next priority, and comes
        // back (or not, with nofailback) when the node returns.
        for svc in c
            .services
            .iter()
            .filter(|s| s.autostart && s.domain.is_some())
        {
            let dom = c.domain(svc.domain.as_deref().unwrap()).unwrap();
            let Some(node) = start[&svc.name].clone() else {
                panic!("{s}: {} not running with all nodes up", svc.name)
            };
            let mut failed = Sim::new(s);
            failed.change(&refs, &[]);
            failed.change(&[], &[&node]);
            let mut online = all_nodes(&c);
            online.remove(&node);
            let after = failed.placement();
            let what = format!("{s}, {node} down");
            check_placement(&c, &after, &online, &what);
            let moved_to = after[&svc.name].clone();
            assert_ne!(
                moved_to.as_deref(),
                Some(node.as_str()),
                "{what}: {} did not move",
                svc.name
            );

            failed.change(&[&node], &[]);
            let back = failed.placement();
            let what = format!("{s}, {node} back");
            if dom.nofailback {
                assert_eq!(
                    back[&svc.name], moved_to,
                    "{what}: {} failed back despite nofailback",
                    svc.name
                );
            } else if dom.ordered {
                assert_eq!(
                    back[&svc.name].as_deref(),
                    Some(node.as_str()),
                    "{what}: {} did not fail back",
                    svc.name
                );
            }
        }

        // A whole domain down: a restricted domain's service stops rather than run elsewhere;
        // an unrestricted one's runs on some other node.
        for svc in c.services.iter().filter(|s| s.autostart) {
            let Some(dom) = svc.domain.as_deref().and_then(|d| c.domain(d)) else {
                continue;
            };
            let down: Vec<&str> = dom.nodes.iter().map(|n| n.name.as_str()).collect();
            if down.len() == c.nodes.len() {
                continue; // no node outside the domain to tell the difference
            }
            let mut sim = Sim::new(s);
            sim.change(&refs, &[]);
            sim.change(&[], &down);
            let mut online = all_nodes(&c);
            for d in &down {
                online.remove(*d);
            }
            let placed = sim.placement();
            if dom.restricted {
                assert_eq!(
                    placed[&svc.name], None,
                    "{s}: {} runs outside restricted {}",
                    svc.name, dom.name
                );
            } else {
                // Unrestricted: with the whole domain down it runs on any other node.
                let at = placed[&svc.name].as_ref();
                assert!(
                    at.is_some_and(|n| online.contains(n)),
                    "{s}: {} should run outside unrestricted {} when it is all down: {at:?}",
                    svc.name,
                    dom.name
                );
            }
            check_placement(
                &c,
                &placed,
                &online,
                &format!("{s}, domain {} down", dom.name),
            );
        }
    }
}

#[test]
fn placement_check_can_fail() {
    // The oracle is not vacuous: reversing the priorities of the seed example must be caught.
    let mut c = conf("seed003");
    let d = &mut c.domains[0];
    d.nodes[0].priority = Some(2);
    d.nodes[1].priority = Some(1);
    let plan = translate(&conf("seed003"));
    let dir = tempfile::tempdir().unwrap();
    let cib = write(dir.path(), "0.xml", &render_cib(&plan));
    let crm_simulate = require_tool("crm_simulate", "pacemaker-cli-utils");
    let up = dir.path().join("1.xml");
    run_ok(
        Command::new(&crm_simulate)
            .arg("-x")
            .arg(&cib)
            .args(["-q", "1", "-u", "serv-0001", "-u", "serv-0002", "-S", "-O"])
            .arg(&up),
    );
    let sim = Sim { dir, step: 1, plan };
    let placed = sim.placement();
    let online = all_nodes(&c);
    let r = std::panic::catch_unwind(|| check_placement(&c, &placed, &online, "reversed"));
    assert!(
        r.is_err(),
        "a service on the wrong node was not detected: {placed:?}"
    );
}

// ---------------------------------------------------------------- random clusters

#[derive(Debug, Clone)]
struct RandDomain {
    nodes: Vec<(usize, u32)>,
    ordered: bool,
    restricted: bool,
    nofailback: bool,
}

fn rand_cluster(
) -> impl proptest::strategy::Strategy<Value = (usize, Vec<RandDomain>, Vec<Option<usize>>)> {
    use proptest::prelude::*;
    (2usize..=5).prop_flat_map(|n| {
        let domain = (
            proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 1..=n).prop_shuffle(),
            proptest::collection::vec(1u32..=100, n),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(nodes, prios, ordered, restricted, nofailback)| RandDomain {
                    nodes: nodes.iter().map(|&i| (i, prios[i])).collect(),
                    ordered,
                    restricted,
                    nofailback,
                },
            );
        (
            Just(n),
            proptest::collection::vec(domain, 1..=3),
            proptest::collection::vec(proptest::option::weighted(0.8, 0usize..3), 1..=4),
        )
    })
}

fn rand_xml(n: usize, domains: &[RandDomain], services: &[Option<usize>]) -> String {
    let mut x = String::from("<cluster name=\"r\" config_version=\"1\">\n<clusternodes>\n");
    for i in 0..n {
        x.push_str(&format!(
            "<clusternode name=\"n{i}\" nodeid=\"{}\"/>\n",
            i + 1
        ));
    }
    x.push_str("</clusternodes>\n<rm>\n<failoverdomains>\n");
    for (d, dom) in domains.iter().enumerate() {
        x.push_str(&format!(
            "<failoverdomain name=\"d{d}\" ordered=\"{}\" restricted=\"{}\" nofailback=\"{}\">\n",
            u8::from(dom.ordered),
            u8::from(dom.restricted),
            u8::from(dom.nofailback)
        ));
        for (node, prio) in &dom.nodes {
            x.push_str(&format!(
                "<failoverdomainnode name=\"n{node}\" priority=\"{prio}\"/>\n"
            ));
        }
        x.push_str("</failoverdomain>\n");
    }
    x.push_str("</failoverdomains>\n");
    for (s, dom) in services.iter().enumerate() {
        let dom = dom
            .filter(|&d| d < domains.len())
            .map(|d| format!(" domain=\"d{d}\""))
            .unwrap_or_default();
        x.push_str(&format!(
            "<service name=\"s{s}\"{dom}><ip address=\"10.0.{s}.1/24\"/></service>\n"
        ));
    }
    x.push_str("</rm>\n</cluster>\n");
    x
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]

    /// Random clusters: every service on its best online domain node with all nodes up, and
    /// again after the node of each service goes down.
    #[test]
    fn random_clusters_place_and_fail_over((n, domains, services) in rand_cluster()) {
        require_tool("crm_simulate", "pacemaker-cli-utils");
        let xml = rand_xml(n, &domains, &services);
        let c = parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let plan = translate(&c);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0.xml", &render_cib(&plan));
        let mut sim = Sim { dir, step: 0, plan };
        let names: Vec<String> = c.nodes.iter().map(|x| x.name.clone()).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        sim.change(&refs, &[]);
        let placed = sim.placement();
        check_placement(&c, &placed, &all_nodes(&c), &format!("all up\n{xml}"));
        let victims: BTreeSet<String> = placed.values().flatten().cloned().collect();
        let base = sim.step;
        for v in victims {
            let mut online = all_nodes(&c);
            online.remove(&v);
            sim.step = base;
            sim.change(&[], &[&v]);
            let during = sim.placement();
            check_placement(&c, &during, &online, &format!("{v} down\n{xml}"));
            // The node returns: running nofailback services stay; the others (and stopped
            // ones) go to their best node.
            sim.change(&[&v], &[]);
            let after = sim.placement();
            let sticky: Vec<&Service> = c
                .services
                .iter()
                .filter(|s| s.domain.as_deref().and_then(|d| c.domain(d)).is_some_and(|d| d.nofailback))
                .filter(|s| during[&s.name].is_some())
                .collect();
            for s in &sticky {
                proptest::prop_assert_eq!(&after[&s.name], &during[&s.name], "{} failed back\n{}", s.name, xml);
            }
            let mut rest = c.clone();
            rest.services.retain(|s| !sticky.iter().any(|t| t.name == s.name));
            check_placement(&rest, &after, &all_nodes(&c), &format!("{v} back\n{xml}"));
        }
    }
}
