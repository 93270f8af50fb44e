//! Parser and validator: the model read from the sample files, every error kind with its
//! line, and property tests (no panics on random or mutated input).

use halvm_rgmanager::*;
use proptest::prelude::*;

fn data(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const SAMPLES: [&str; 4] = [
    "seed003.conf",
    "four_node.conf",
    "global_refs.conf",
    "fencing.conf",
];

#[test]
fn seed_example_model() {
    let c = parse(&data("seed003.conf")).unwrap();
    assert_eq!(c.name, "lvm-cluster");
    assert_eq!(c.config_version, 1);
    let cman = c.cman.as_ref().unwrap();
    assert!(cman.two_node);
    assert_eq!(cman.expected_votes, Some(1));
    assert_eq!(
        c.nodes
            .iter()
            .map(|n| (n.name.as_str(), n.nodeid))
            .collect::<Vec<_>>(),
        [("serv-0001", 1), ("serv-0002", 2)]
    );
    let d = c.domain("FD").unwrap();
    assert!(d.ordered && !d.restricted && !d.nofailback);
    assert_eq!(d.nodes[0].priority, Some(1));
    assert_eq!(d.nodes[1].name, "serv-0002");
    let s = &c.services[0];
    assert_eq!(s.name, "serv");
    assert_eq!(s.domain.as_deref(), Some("FD"));
    assert!(s.autostart && !s.exclusive);
    assert_eq!(s.recovery, Recovery::Relocate);
    let order = s.start_order();
    assert_eq!(order.len(), 2);
    assert_eq!(
        order[0].kind,
        ResourceKind::Lvm {
            vg_name: "shared_vg".into(),
            lv_name: Some("ha-lv".into())
        }
    );
    assert_eq!(order[0].reference.as_deref(), Some("lvm"));
    match &order[1].kind {
        ResourceKind::Fs {
            device,
            mountpoint,
            fstype,
            options,
            force_unmount,
            force_fsck,
            ..
        } => {
            assert_eq!(device, "/dev/shared_vg/ha-lv");
            assert_eq!(mountpoint, "/mnt");
            assert_eq!(fstype.as_deref(), Some("ext4"));
            assert_eq!(options, &None, "options=\"\" means none");
            assert!(force_unmount);
            assert!(!force_fsck);
        }
        k => panic!("{k:?}"),
    }
    // <logging> and <dlm> are kept as unhandled, with lines.
    let what: Vec<_> = c
        .unhandled
        .iter()
        .map(|u| (u.what.as_str(), u.line))
        .collect();
    assert_eq!(what, [("cluster/logging", 9), ("cluster/dlm", 10)]);
}

#[test]
fn start_order_follows_rgmanager_levels_and_nesting() {
    let c = parse(&data("four_node.conf")).unwrap();
    let web = c.services.iter().find(|s| s.name == "web").unwrap();
    // Written ip, lvm, fs: started lvm, fs, ip.
    let tags: Vec<_> = web
        .start_order()
        .iter()
        .map(|r| r.tag().to_string())
        .collect();
    assert_eq!(tags, ["lvm", "fs", "ip"]);
    let db = c.services.iter().find(|s| s.name == "db").unwrap();
    let names: Vec<_> = db.start_order().iter().map(|r| r.name.clone()).collect();
    assert_eq!(
        names,
        ["db-lv", "db-fs", "192.168.50.10/24"],
        "the fs nested in the lvm follows it"
    );
    assert_eq!(db.max_restarts, Some(3));
    assert_eq!(db.restart_expire_time, Some(600));
    assert!(!web.autostart);
    let batch = c.services.iter().find(|s| s.name == "batch").unwrap();
    assert!(batch.exclusive);
    assert_eq!(batch.domain, None);
}

#[test]
fn refs_merge_local_overrides() {
    let c = parse(&data("global_refs.conf")).unwrap();
    let app = &c.services[0];
    let order = app.start_order();
    let tags: Vec<_> = order.iter().map(|r| r.tag().to_string()).collect();
    assert_eq!(tags, ["lvm", "fs", "nfsexport", "ip", "script"]);
    let fs = order[1];
    assert_eq!(fs.reference.as_deref(), Some("app-data"));
    match &fs.kind {
        ResourceKind::Fs { options, .. } => {
            assert_eq!(options.as_deref(), Some("rw,noatime,nodev"))
        }
        k => panic!("{k:?}"),
    }
    match &order[3].kind {
        ResourceKind::Ip {
            address,
            prefix,
            monitor_link,
        } => {
            assert_eq!(address, "10.1.1.100");
            assert_eq!(*prefix, Some(16));
            assert_eq!(*monitor_link, Some(true));
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(c.services[1].restart_expire_time, Some(120));
    assert_eq!(app.restart_expire_time, Some(300), "5m");
}

#[test]
fn fencing_model() {
    let c = parse(&data("fencing.conf")).unwrap();
    assert_eq!(c.fence_devices.len(), 5);
    let apc = c.fence_device("apc").unwrap();
    assert_eq!(apc.agent, "fence_apc");
    assert_eq!(apc.attrs[0], ("ipaddr".into(), "10.0.0.200".into()));
    let n1 = c.node("n1").unwrap();
    assert_eq!(n1.fence_methods.len(), 2);
    assert_eq!(n1.fence_methods[1].name, "power");
    assert_eq!(
        n1.fence_methods[1].devices[0].attrs,
        [("port".to_string(), "1".to_string())]
    );
    let n3 = c.node("n3").unwrap();
    assert_eq!(n3.fence_methods[0].devices.len(), 2);
}

fn errors(xml: &str) -> Vec<ConfError> {
    parse(xml).expect_err("must be rejected").errors
}

fn wrap(rm: &str) -> String {
    format!(
        "<cluster name=\"c\" config_version=\"1\">\n<clusternodes>\n<clusternode name=\"a\" nodeid=\"1\"/>\n<clusternode name=\"b\" nodeid=\"2\"/>\n</clusternodes>\n<rm>\n{rm}\n</rm>\n</cluster>\n"
    )
}

#[test]
fn malformed_xml_has_position() {
    let e = errors("<cluster name=\"c\" config_version=\"1\">\n  <clusternodes>\n</cluster>\n");
    assert!(matches!(e[0], ConfError::Xml { line: 3, .. }), "{e:?}");
    assert!(e[0].to_string().starts_with("line 3, column"), "{}", e[0]);
    assert!(matches!(errors("")[0], ConfError::Xml { .. }));
}

#[test]
fn wrong_root() {
    let e = errors("<?xml version=\"1.0\"?>\n<clusters/>");
    assert_eq!(
        e,
        [ConfError::NotCluster {
            found: "clusters".into(),
            line: 2
        }]
    );
}

#[test]
fn missing_required_attributes() {
    let e = errors("<cluster config_version=\"1\"/>");
    assert_eq!(
        e,
        [ConfError::MissingAttribute {
            element: "cluster".into(),
            attribute: "name",
            line: 1
        }]
    );
    let e = errors(&wrap("<service name=\"s\">\n<lvm name=\"x\"/>\n</service>"));
    assert_eq!(
        e,
        [ConfError::MissingAttribute {
            element: "lvm".into(),
            attribute: "vg_name",
            line: 8
        }]
    );
    assert_eq!(
        e[0].to_string(),
        "line 8: <lvm> is missing required attribute `vg_name`"
    );
    let e = errors(&wrap(
        "<service name=\"s\">\n<fs name=\"x\" device=\"/dev/x\"/>\n</service>",
    ));
    assert!(
        matches!(
            &e[0],
            ConfError::MissingAttribute {
                attribute: "mountpoint",
                line: 8,
                ..
            }
        ),
        "{e:?}"
    );
    let e = errors("<cluster name=\"c\" config_version=\"1\"><clusternodes><clusternode name=\"a\"/></clusternodes></cluster>");
    assert!(
        matches!(
            &e[0],
            ConfError::MissingAttribute {
                attribute: "nodeid",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn duplicate_nodes() {
    let xml = "<cluster name=\"c\" config_version=\"1\">\n<clusternodes>\n<clusternode name=\"a\" nodeid=\"1\"/>\n<clusternode name=\"a\" nodeid=\"2\"/>\n<clusternode name=\"b\" nodeid=\"1\"/>\n</clusternodes>\n</cluster>";
    let e = errors(xml);
    assert_eq!(
        e,
        [
            ConfError::Duplicate {
                element: "clusternode".into(),
                what: "node name",
                value: "a".into(),
                line: 4,
                first_line: 3
            },
            ConfError::Duplicate {
                element: "clusternode".into(),
                what: "nodeid",
                value: "1".into(),
                line: 5,
                first_line: 3
            }
        ]
    );
}

#[test]
fn unknown_domain_and_domain_node() {
    let e = errors(&wrap(
        "<failoverdomains>\n<failoverdomain name=\"d\">\n<failoverdomainnode name=\"zz\"/>\n</failoverdomain>\n</failoverdomains>\n<service name=\"s\" domain=\"nope\"/>",
    ));
    assert_eq!(
        e,
        [
            ConfError::UnknownDomainNode {
                domain: "d".into(),
                node: "zz".into(),
                line: 9
            },
            ConfError::UnknownDomain {
                service: "s".into(),
                domain: "nope".into(),
                line: 12
            }
        ]
    );
    assert_eq!(
        e[1].to_string(),
        "line 12: <service name=\"s\"> names unknown failover domain \"nope\""
    );
}

#[test]
fn unknown_ref_and_type_mismatch() {
    let e = errors(&wrap(
        "<resources>\n<lvm name=\"v\" vg_name=\"vg\"/>\n</resources>\n<service name=\"s\">\n<fs ref=\"v\"/>\n<lvm ref=\"w\"/>\n</service>",
    ));
    assert_eq!(
        e,
        [
            ConfError::UnknownRef {
                element: "fs".into(),
                reference: "v".into(),
                line: 11
            },
            ConfError::UnknownRef {
                element: "lvm".into(),
                reference: "w".into(),
                line: 12
            }
        ]
    );
}

#[test]
fn unknown_fence_device_and_bad_values() {
    let xml = "<cluster name=\"c\" config_version=\"x\">\n<clusternodes>\n<clusternode name=\"a\" nodeid=\"1\"><fence><method name=\"1\"><device name=\"ghost\"/></method></fence></clusternode>\n</clusternodes>\n<rm><failoverdomains><failoverdomain name=\"d\" ordered=\"perhaps\"><failoverdomainnode name=\"a\" priority=\"0\"/></failoverdomain></failoverdomains>\n<service name=\"s\" recovery=\"pray\"><ip address=\"300.1.1.1\"/></service></rm>\n</cluster>";
    let e = errors(xml);
    let kinds: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert!(
        kinds[0].starts_with("line 1: <cluster> attribute `config_version`=\"x\""),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|k| k == "line 3: <device name=\"ghost\"> of node \"a\" names no <fencedevice>"),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.contains("`ordered`=\"perhaps\"")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.contains("`priority`=\"0\"")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.contains("`recovery`=\"pray\"")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.contains("`address`=\"300.1.1.1\"")),
        "{kinds:?}"
    );
}

#[test]
fn duplicate_services_domains_and_domain_nodes() {
    let e = errors(&wrap(
        "<failoverdomains>\n<failoverdomain name=\"d\"><failoverdomainnode name=\"a\"/></failoverdomain>\n<failoverdomain name=\"d\">\n<failoverdomainnode name=\"a\"/>\n<failoverdomainnode name=\"a\"/>\n</failoverdomain>\n</failoverdomains>\n<service name=\"s\"/>\n<service name=\"s\"/>",
    ));
    let lines: Vec<(u32, String)> = e.iter().map(|e| (e.line(), e.to_string())).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 9 && m.contains("duplicate name \"d\"")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 11 && m.contains("duplicate node \"a\"")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == 15 && m.contains("duplicate name \"s\"")),
        "{lines:?}"
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let mut inner = String::new();
    for i in 0..(MAX_DEPTH + 5) {
        inner.push_str(&format!("<script name=\"s{i}\" file=\"/etc/init.d/x\">"));
    }
    for _ in 0..(MAX_DEPTH + 5) {
        inner.push_str("</script>");
    }
    let e = errors(&wrap(&format!("<service name=\"s\">{inner}</service>")));
    assert!(matches!(e[0], ConfError::TooDeep { .. }), "{e:?}");
}

#[test]
fn every_sample_parses() {
    for s in SAMPLES {
        parse(&data(s)).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

fn xml_fragment() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("<lvm name=\"l\" vg_name=\"vg\"/>".to_string()),
        Just("<fs name=\"f\" device=\"/d\" mountpoint=\"/m\" fstype=\"ext4\"/>".to_string()),
        Just("<ip address=\"10.0.0.1/24\"/>".to_string()),
        Just("<ip address=\"::1\" prefix=\"200\"/>".to_string()),
        Just("<script name=\"s\" file=\"/etc/init.d/s\"/>".to_string()),
        Just("<lvm ref=\"l\"/>".to_string()),
        Just("<nfsexport name=\"e\"/>".to_string()),
        "[a-z<>/=\" &;]{0,12}",
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        (
            prop_oneof![
                Just("service"),
                Just("lvm"),
                Just("fs"),
                Just("rm"),
                Just("failoverdomain")
            ],
            prop::collection::vec(inner, 0..4),
            "[a-z =\"0-9]{0,16}",
        )
            .prop_map(|(t, kids, attrs)| format!("<{t} name=\"x\" {attrs}>{}</{t}>", kids.concat()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,300}") {
        let _ = parse(&s);
    }

    #[test]
    fn generated_trees_never_panic(rm in xml_fragment()) {
        let xml = wrap(&rm);
        if let Ok(c) = parse(&xml) {
            // Whatever parses also translates and renders.
            let plan = translate(&c);
            let _ = render_cib(&plan);
            let _ = render_pcs(&plan);
            let _ = render_crm(&plan);
        }
    }

    #[test]
    fn mutated_samples_never_panic(which in 0usize..4, edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = data(SAMPLES[which]).into_bytes();
        for (pos, byte, kind) in edits {
            if bytes.is_empty() { break; }
            let pos = pos % bytes.len();
            match kind {
                0 => bytes[pos] = byte,
                1 => { bytes.remove(pos); }
                _ => bytes.insert(pos, byte),
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match parse(&text) {
            Ok(c) => {
                let plan = translate(&c);
                // The CIB is well-formed XML whatever the input.
                let cib = render_cib(&plan);
                prop_assert!(roxmltree::Document::parse(&cib).is_ok(), "{}", cib);
            }
            Err(e) => {
                let lines = text.lines().count() as u32 + 1;
                for err in &e.errors {
                    prop_assert!(err.line() >= 1 && err.line() <= lines, "{err}");
                }
            }
        }
    }
}
