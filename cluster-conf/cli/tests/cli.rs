//! The `cluster-conf` binary: exit codes, messages, outputs, --help and the man page.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cluster-conf"))
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rgmanager/tests/data")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run cluster-conf")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write_tmp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn help_is_current() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    halvm_testkit::assert_golden(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/help.txt"),
        &stdout(&o),
    );
}

#[test]
fn man_page_is_current() {
    let sections: Vec<halvm_man::Section> = cluster_conf_cli::MAN_SECTIONS
        .iter()
        .map(|(title, body)| halvm_man::Section { title, body })
        .collect();
    let page = halvm_man::render(&cluster_conf_cli::cli(), "8", &sections);
    halvm_testkit::assert_golden(halvm_man::page_path("cluster-conf", "8"), &page);
}

#[test]
fn validate_good_file() {
    let o = run(&["validate", sample("seed003.conf").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("valid: cluster lvm-cluster (config_version 1), 2 node(s)"),
        "{}",
        stdout(&o)
    );
    // The report goes to stderr.
    assert!(
        stderr(&o).contains("fsid=\"64050\" not translated"),
        "{}",
        stderr(&o)
    );
    let q = run(&["validate", "-q", sample("seed003.conf").to_str().unwrap()]);
    assert_eq!(q.status.code(), Some(0));
    assert!(q.stdout.is_empty() && q.stderr.is_empty());
}

#[test]
fn malformed_xml_exits_1_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_tmp(
        dir.path(),
        "bad.conf",
        "<cluster name=\"c\" config_version=\"1\">\n<clusternodes>\n</cluster>\n",
    );
    for cmd in ["validate", "to-pcs", "to-crm", "to-cib"] {
        let o = run(&[cmd, f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("invalid cluster.conf"),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("line 3, column"), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "{cmd}: no output for an invalid file");
    }
}

#[test]
fn semantic_errors_name_element_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_tmp(
        dir.path(),
        "bad.conf",
        r#"<cluster name="c" config_version="1">
  <clusternodes>
    <clusternode name="a" nodeid="1"/>
    <clusternode name="b" nodeid="1"/>
  </clusternodes>
  <rm>
    <failoverdomains>
      <failoverdomain name="d"><failoverdomainnode name="ghost"/></failoverdomain>
    </failoverdomains>
    <service name="s" domain="dd">
      <fs ref="missing"/>
      <lvm name="v"/>
    </service>
  </rm>
</cluster>
"#,
    );
    let o = run(&["to-cib", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    for want in [
        "line 4: <clusternode> duplicate nodeid \"1\" (first at line 3)",
        "line 8: <failoverdomainnode> in domain \"d\" names unknown cluster node \"ghost\"",
        "line 10: <service name=\"s\"> names unknown failover domain \"dd\"",
        "line 11: <fs ref=\"missing\"> refers to no <fs> under <resources>",
        "line 12: <lvm> is missing required attribute `vg_name`",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn io_and_usage_errors() {
    let o = run(&["validate", "/nonexistent/cluster.conf"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("cannot read /nonexistent/cluster.conf"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "to-cib",
        sample("seed003.conf").to_str().unwrap(),
        "-o",
        "/nonexistent/dir/cib.xml",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("cannot write /nonexistent/dir/cib.xml"),
        "{}",
        stderr(&o)
    );
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["to-pcs"]).status.code(), Some(2));
}

#[test]
fn outputs_match_the_library_and_carry_the_report() {
    let path = sample("four_node.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    let plan = halvm_rgmanager::translate(&halvm_rgmanager::parse(&text).unwrap());
    for (cmd, format) in [
        ("to-cib", halvm_rgmanager::Format::Cib),
        ("to-pcs", halvm_rgmanager::Format::Pcs),
        ("to-crm", halvm_rgmanager::Format::Crm),
    ] {
        let o = run(&[cmd, path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", stderr(&o));
        assert_eq!(stdout(&o), format.render(&plan), "{cmd}");
        // Every report entry is on stderr and in the output.
        for n in &plan.notes {
            assert!(
                stderr(&o).contains(&n.to_string()),
                "{cmd}: {n} not on stderr"
            );
            assert!(
                stdout(&o).contains(&n.message.replace("--", "- -")),
                "{cmd}: {n} not in output"
            );
        }
        let q = run(&[cmd, "-q", path.to_str().unwrap()]);
        assert!(q.stderr.is_empty(), "{cmd} -q printed {}", stderr(&q));
    }
}

#[test]
fn output_file_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cib.xml");
    let o = run(&[
        "to-cib",
        "-q",
        sample("fencing.conf").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("<fencing-topology>"), "{written}");

    let mut child = bin()
        .args(["to-crm", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(std::fs::read(sample("seed003.conf")).unwrap().as_slice())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("group serv serv-lvm serv-FS"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn strict_exits_4_but_writes_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.sh");
    let o = run(&[
        "to-pcs",
        "--strict",
        sample("global_refs.conf").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("--strict"), "{}", stderr(&o));
    assert!(out.exists());
    // A file whose translation has no warnings passes --strict.
    let clean = write_tmp(
        dir.path(),
        "clean.conf",
        r#"<cluster name="c" config_version="2">
  <clusternodes>
    <clusternode name="a" nodeid="1"><fence><method name="1"><device name="f" port="a"/></method></fence></clusternode>
    <clusternode name="b" nodeid="2"><fence><method name="1"><device name="f" port="b"/></method></fence></clusternode>
  </clusternodes>
  <fencedevices><fencedevice name="f" agent="fence_virsh" ipaddr="host"/></fencedevices>
  <rm>
    <service name="s"><ip address="10.9.9.9/24"/></service>
  </rm>
</cluster>
"#,
    );
    let o = run(&["to-cib", "--strict", clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["validate", "--strict", clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&[
        "validate",
        "--strict",
        sample("seed003.conf").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn to_corosync_and_dlm_conf_write_the_stack_files() {
    let seed = sample("seed003.conf");
    let o = run(&[
        "to-corosync",
        seed.to_str().unwrap(),
        "--addr",
        "serv-0001=10.0.0.1",
        "--addr",
        "serv-0002=10.0.0.2,10.1.0.2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("cluster_name: lvm-cluster\n"), "{text}");
    assert!(
        text.contains("name: serv-0001\n        ring0_addr: 10.0.0.1\n    }"),
        "{text}"
    );
    assert!(
        text.contains(
            "name: serv-0002\n        ring0_addr: 10.0.0.2\n        ring1_addr: 10.1.0.2\n"
        ),
        "{text}"
    );
    assert!(text.contains("two_node: 1\n"), "{text}");
    assert!(
        stderr(&o).contains("expected_votes=1 left out"),
        "{}",
        stderr(&o)
    );

    let o = run(&["to-dlm-conf", "-q", seed.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).ends_with("\nprotocol=tcp\n"), "{}", stdout(&o));
    assert_eq!(stderr(&o), "");
    let o = run(&["to-dlm-conf", "--strict", seed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "timewarn is reported");

    let o = run(&[
        "to-corosync",
        seed.to_str().unwrap(),
        "--addr",
        "nosuch=1.2.3.4",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("\"nosuch\", which is not a clusternode"),
        "{}",
        stderr(&o)
    );
    let o = run(&["to-corosync", seed.to_str().unwrap(), "--addr", "serv-0001"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
