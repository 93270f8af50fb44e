//! Every sample × every output format, against the files in tests/golden/
//! (UPDATE_GOLDEN=1 refreshes them).

use std::path::{Path, PathBuf};

use halvm_rgmanager::*;

const SAMPLES: [&str; 4] = ["seed003", "four_node", "global_refs", "fencing"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn plan(sample: &str) -> Plan {
    let text = std::fs::read_to_string(dir().join("data").join(format!("{sample}.conf"))).unwrap();
    translate(&parse(&text).unwrap_or_else(|e| panic!("{sample}: {e}")))
}

fn check(format: Format, ext: &str) {
    for s in SAMPLES {
        halvm_testkit::assert_golden(
            dir().join("golden").join(format!("{s}.{ext}")),
            &format.render(&plan(s)),
        );
    }
}

#[test]
fn golden_cib() {
    check(Format::Cib, "cib.xml");
}

#[test]
fn golden_pcs() {
    check(Format::Pcs, "pcs.sh");
}

#[test]
fn golden_crm() {
    check(Format::Crm, "crm");
}

#[test]
fn golden_report() {
    for s in SAMPLES {
        let report: String = plan(s).notes.iter().map(|n| format!("{n}\n")).collect();
        halvm_testkit::assert_golden(dir().join("golden").join(format!("{s}.report")), &report);
    }
}

/// Spot checks of the translation rules, so that a golden refresh cannot hide a regression.
#[test]
fn rules() {
    let p = plan("four_node");
    let loc = |rsc: &str, node: &str| {
        p.locations
            .iter()
            .find_map(|l| match &l.kind {
                LocationKind::Node { node: n, score } if l.rsc == rsc && n == node => Some(*score),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no location {rsc} {node}"))
    };
    // Ordered: (101 - priority) * 10000, priority 1 = INFINITY.
    assert_eq!(loc("db", "node-b"), Score::Infinity);
    assert_eq!(loc("db", "node-a"), Score::Value(990_000));
    assert_eq!(loc("db", "node-c"), Score::Value(980_000));
    assert_eq!(loc("mail", "node-c"), Score::Value(960_000));
    // Unordered: INFINITY everywhere in the domain.
    assert_eq!(loc("web", "node-c"), Score::Infinity);
    assert_eq!(loc("web", "node-d"), Score::Infinity);
    // Restricted: -INFINITY for everyone else.
    let r = p
        .locations
        .iter()
        .find(|l| l.rsc == "db" && matches!(l.kind, LocationKind::NotOn { .. }))
        .unwrap();
    assert_eq!(
        r.kind,
        LocationKind::NotOn {
            score: Score::MinusInfinity,
            not_on: vec!["node-b".into(), "node-a".into(), "node-c".into()]
        }
    );
    assert!(!p
        .locations
        .iter()
        .any(|l| l.rsc == "web" && matches!(l.kind, LocationKind::NotOn { .. })));
    let meta = |g: &str| p.groups.iter().find(|x| x.id == g).unwrap().meta.clone();
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        meta("db"),
        [
            kv("migration-threshold", "4"),
            kv("failure-timeout", "600s")
        ]
    );
    assert_eq!(meta("web"), [kv("target-role", "Stopped")]);
    assert_eq!(meta("mail"), [kv("resource-stickiness", "INFINITY")]);
    let mail = p.groups.iter().find(|x| x.id == "mail").unwrap();
    assert!(mail
        .members
        .iter()
        .all(|m| m.ops.iter().all(|o| o.on_fail.as_deref() == Some("stop"))));
    // exclusive: batch avoids every other service.
    let mut with: Vec<_> = p
        .colocations
        .iter()
        .map(|c| (c.rsc.as_str(), c.with_rsc.as_str(), c.score))
        .collect();
    with.sort();
    assert_eq!(
        with,
        [
            ("batch", "db", Score::MinusInfinity),
            ("batch", "mail", Score::MinusInfinity),
            ("batch", "web", Score::MinusInfinity)
        ]
    );
    // lvm → LVM-activate with system_id / exclusive.
    let lv = &p.groups[0].members[0];
    assert_eq!(lv.spec(), "ocf:halvm:LVM-activate");
    assert!(lv.params.contains(&kv("vg_access_mode", "system_id")));
    assert!(lv.params.contains(&kv("activation_mode", "exclusive")));
    assert_eq!(p.properties, [kv("stonith-enabled", "false")]);

    let s = plan("seed003");
    assert_eq!(
        s.groups[0].meta,
        [kv("migration-threshold", "1")],
        "recovery=relocate"
    );

    let f = plan("fencing");
    assert!(
        f.properties.is_empty(),
        "fencing configured: stonith stays enabled"
    );
    let apc = f.stonith.iter().find(|x| x.id == "apc").unwrap();
    assert!(apc.params.contains(&kv("pcmk_host_map", "n1:1;n2:2")));
    assert!(apc.params.contains(&kv("pcmk_host_list", "n1 n2")));
    assert!(apc.params.contains(&kv("ip", "10.0.0.200")));
    assert_eq!(
        f.fencing_levels
            .iter()
            .map(|l| (l.target.as_str(), l.index, l.devices.join(",")))
            .collect::<Vec<_>>(),
        [
            ("n1", 1, "ipmi-n1".to_string()),
            ("n1", 2, "apc".to_string()),
            ("n2", 1, "ipmi-n2".to_string()),
            ("n2", 2, "apc".to_string()),
            ("n3", 1, "pdu-a-n3,pdu-b-n3".to_string())
        ]
    );

    let g = plan("global_refs");
    // The untranslatable nfsexport and the monitor_link are in the report.
    let report: Vec<String> = g.notes.iter().map(|n| n.to_string()).collect();
    assert!(
        report
            .iter()
            .any(|n| n.contains("<nfsexport name=\"app-export\"> has no translation")),
        "{report:?}"
    );
    assert!(
        report.iter().any(|n| n.contains("monitor_link")),
        "{report:?}"
    );
    assert!(
        report.iter().any(|n| n.contains("lsb:report.sh")),
        "{report:?}"
    );
    let app = &g.groups[0];
    let specs: Vec<_> = app.members.iter().map(|m| m.spec()).collect();
    assert_eq!(
        specs,
        [
            "ocf:halvm:LVM-activate",
            "ocf:heartbeat:Filesystem",
            "ocf:heartbeat:IPaddr2",
            "lsb:appd"
        ]
    );
    assert_eq!(
        app.meta,
        [
            kv("migration-threshold", "3"),
            kv("failure-timeout", "300s")
        ]
    );
}
