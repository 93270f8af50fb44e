//! Host-tier OCF conformance of LVM-activate: meta-data against the golden file and the
//! three schemas, running as `nobody`, validate-all exit codes and reasons, Pacemaker's
//! `crm_resource`, the install script, and parameter compatibility with the anchor.
//! (ocf-tester itself needs device-mapper: it runs in the VM lab.)

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use halvm_ocf_tests::*;

fn agent() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_halvm-ocf-tests-LVM-activate"))
}

fn meta_data() -> String {
    let out = run_agent(&agent(), "meta-data", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr, "", "meta-data writes nothing on stderr");
    out.stdout
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[test]
fn meta_data_matches_golden() {
    halvm_testkit::assert_golden(golden("LVM-activate.meta-data.xml"), &meta_data());
}

#[test]
fn meta_data_is_valid_against_ra_api_dtd() {
    let out = xmllint_dtd(&meta_data());
    assert_eq!(out.code, 0, "ra-api-1.dtd: {}", out.stderr);
    assert_eq!(out.stderr, "");
}

#[test]
fn meta_data_is_valid_against_both_relaxng_schemas() {
    let md = meta_data();
    let out = xmllint_rng(&md, &format!("{RA_DIR}/metadata.rng"), "resource-agents");
    assert_eq!(out.code, 0, "metadata.rng: {}", out.stderr);
    assert!(out.stderr.contains("- validates"), "{}", out.stderr);
    let out = xmllint_rng(&md, PCS_RNG, "pcs");
    assert_eq!(out.code, 0, "ocf-1.1.rng: {}", out.stderr);
    assert!(out.stderr.contains("- validates"), "{}", out.stderr);
}

/// The validators do reject what the schemas forbid: the checks above can fail.
#[test]
fn validators_reject_the_forbidden_shapes() {
    let md = meta_data();
    let reload_agent = md.replace(
        "<actions>\n",
        "<actions>\n<action name=\"reload-agent\" timeout=\"10s\" />\n",
    );
    assert_ne!(
        xmllint_dtd(&reload_agent).code,
        0,
        "DTD must refuse reload-agent"
    );
    let time_type = md.replacen("type=\"boolean\"", "type=\"time\"", 1);
    assert_ne!(
        xmllint_rng(
            &time_type,
            &format!("{RA_DIR}/metadata.rng"),
            "resource-agents"
        )
        .code,
        0,
        "metadata.rng must refuse type=time"
    );
    let select = md.replacen(
        "<content type=\"string\" default=\"exclusive\" />",
        "<content type=\"select\" default=\"exclusive\"><option value=\"exclusive\" /></content>",
        1,
    );
    assert_ne!(select, md);
    assert_ne!(xmllint_dtd(&select).code, 0, "DTD must refuse select");
    let unique_group = md.replacen(
        "<parameter name=\"vgname\"",
        "<parameter unique-group=\"g\" name=\"vgname\"",
        1,
    );
    assert_ne!(
        xmllint_dtd(&unique_group).code,
        0,
        "DTD must refuse unique-group"
    );
    let no_shortdesc = md.replacen(
        "<shortdesc lang=\"en\">The volume group name</shortdesc>\n",
        "",
        1,
    );
    assert_ne!(no_shortdesc, md);
    assert_ne!(
        xmllint_rng(
            &no_shortdesc,
            &format!("{RA_DIR}/metadata.rng"),
            "resource-agents"
        )
        .code,
        0
    );
}

#[test]
fn meta_data_and_usage_need_no_environment() {
    let out = run_agent(
        &agent(),
        "meta-data",
        &[("OCF_CHECK_LEVEL", "bogus"), ("CRM_meta_interval", "x")],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let out = run_agent(&agent(), "usage", &[]);
    assert_eq!(
        (out.code, out.stdout.trim()),
        (
            0,
            "usage: LVM-activate {start|stop|monitor|meta-data|validate-all|usage}"
        )
    );
}

#[test]
fn root_meta_data_runs_as_nobody() {
    halvm_testkit::require_root();
    let setpriv = halvm_testkit::require_tool("setpriv", "util-linux");
    // A copy nobody can reach and execute, whatever the build directory's permissions.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("LVM-activate");
    std::fs::copy(agent(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = outcome(
        Command::new(setpriv)
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&bin)
            .arg("meta-data")
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/bin:/bin"),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, meta_data());
    // And it really ran as nobody: nobody cannot write where root can.
    let probe = outcome(
        Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "touch",
            ])
            .arg(dir.path().join("written-by-nobody")),
        None,
    );
    assert_ne!(probe.code, 0, "setpriv did not drop privileges");
}

const GOOD: &[(&str, &str)] = &[
    ("OCF_RESKEY_vgname", "vg1"),
    ("OCF_RESKEY_vg_access_mode", "system_id"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<(&str, &str)> = GOOD.to_vec();
    for (k, val) in extra {
        v.retain(|(kk, _)| kk != k);
        v.push((k, val));
    }
    v
}

/// validate-all's table: exit code and the start of the exit reason.
/// (case, extra variables, exit code, start of the reason).
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    i32,
    &'static str,
);

const VALIDATE_CASES: &[Case] = &[
    ("system_id", &[], 0, ""),
    (
        "tagging with a tag",
        &[
            ("OCF_RESKEY_vg_access_mode", "tagging"),
            ("OCF_RESKEY_tag", "ha-cluster"),
        ],
        0,
        "",
    ),
    (
        "one LV, majority",
        &[
            ("OCF_RESKEY_lvname", "data"),
            ("OCF_RESKEY_majority_pvs", "true"),
            ("OCF_RESKEY_degraded_activation", "yes"),
        ],
        0,
        "",
    ),
    (
        "unknown parameter is ignored",
        &[("OCF_RESKEY_volgrpname", "old")],
        0,
        "",
    ),
    (
        "no vgname",
        &[("OCF_RESKEY_vgname", "")],
        6,
        "required parameter vgname is not set",
    ),
    (
        "bad access mode",
        &[("OCF_RESKEY_vg_access_mode", "nfs")],
        6,
        "parameter vg_access_mode=\"nfs\" is not one of: lvmlockd, clvmd, system_id, tagging",
    ),
    (
        "lvmlockd exclusive",
        &[("OCF_RESKEY_vg_access_mode", "lvmlockd")],
        0,
        "",
    ),
    (
        "lvmlockd shared, one LV",
        &[
            ("OCF_RESKEY_vg_access_mode", "lvmlockd"),
            ("OCF_RESKEY_activation_mode", "shared"),
            ("OCF_RESKEY_lvname", "data"),
        ],
        0,
        "",
    ),
    (
        "clvmd shared",
        &[
            ("OCF_RESKEY_vg_access_mode", "clvmd"),
            ("OCF_RESKEY_activation_mode", "shared"),
        ],
        0,
        "",
    ),
    (
        "tag with lvmlockd",
        &[
            ("OCF_RESKEY_vg_access_mode", "lvmlockd"),
            ("OCF_RESKEY_tag", "x"),
        ],
        6,
        "parameter tag=\"x\" cannot be used with vg_access_mode=lvmlockd",
    ),
    (
        "shared with system_id",
        &[("OCF_RESKEY_activation_mode", "shared")],
        6,
        "parameter activation_mode=\"shared\" cannot be used with vg_access_mode=system_id",
    ),
    (
        "tag with system_id",
        &[("OCF_RESKEY_tag", "x")],
        6,
        "parameter tag=\"x\" cannot be used with vg_access_mode=system_id",
    ),
    (
        "majority with tagging",
        &[
            ("OCF_RESKEY_vg_access_mode", "tagging"),
            ("OCF_RESKEY_majority_pvs", "1"),
        ],
        6,
        "parameter majority_pvs=\"true\" cannot be used",
    ),
    (
        "bad boolean",
        &[("OCF_RESKEY_partial_activation", "perhaps")],
        6,
        "parameter partial_activation=\"perhaps\" is not a valid boolean",
    ),
    (
        "bad VG name",
        &[("OCF_RESKEY_vgname", "vg/1")],
        6,
        "parameter vgname=\"vg/1\" is invalid: character '/' is not allowed",
    ),
    (
        "bad activation mode",
        &[("OCF_RESKEY_activation_mode", "both")],
        6,
        "parameter activation_mode=\"both\" is not one of: exclusive, shared",
    ),
    (
        "bad check level",
        &[("OCF_CHECK_LEVEL", "deep")],
        2,
        "environment variable OCF_CHECK_LEVEL=\"deep\" is invalid",
    ),
];

#[test]
fn validate_all_exit_codes_and_reasons() {
    for (case, extra, code, reason) in VALIDATE_CASES {
        let out = run_agent(&agent(), "validate-all", &with(extra));
        assert_eq!(out.code, *code, "{case}: {out:?}");
        match code {
            0 => assert_eq!(out.exit_reason(), None, "{case}"),
            _ => {
                let r = out
                    .exit_reason()
                    .unwrap_or_else(|| panic!("{case}: no ocf-exit-reason in {:?}", out.stderr));
                assert!(r.starts_with(reason), "{case}: {r:?}");
                // Pacemaker keeps the first 128 characters of a reason.
                assert!(
                    r.len() <= 128,
                    "{case}: reason too long for Pacemaker ({}): {r}",
                    r.len()
                );
            }
        }
    }
}

#[test]
fn bad_invocations() {
    let out = run_agent(&agent(), "frobnicate", GOOD);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(
        out.exit_reason(),
        Some("action \"frobnicate\" is not implemented")
    );
    let out = run_agent(&agent(), "reload-agent", GOOD);
    assert_eq!(out.code, 3, "not advertised, not implemented");
    let out = outcome(Command::new(agent()).env_clear(), None);
    assert_eq!(out.code, 2, "no action: {out:?}");
    let out = run_agent(
        &agent(),
        "monitor",
        &with(&[("OCF_RESKEY_CRM_meta_interval", "often")]),
    );
    assert_eq!(out.code, 2, "{out:?}");
}

/// The agent binary over the lvmeta backend on a host without device-mapper: it reads the VG
/// through the configured device filter (probe 7), commits system ID changes that another
/// reader sees, says that device-mapper is missing (exit 5) instead of pretending,
/// and stop releases the VG.
#[test]
fn volume_actions_use_lvmeta_and_report_missing_device_mapper() {
    assert!(
        !std::fs::read_to_string("/proc/devices")
            .unwrap()
            .contains("device-mapper"),
        "this host test expects a kernel without device-mapper (the lab tests cover one with it)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let disks: Vec<PathBuf> = (0..2)
        .map(|i| {
            let p = dir.path().join(format!("disks/pv{i}"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::File::create(&p)
                .and_then(|f| f.set_len(32 << 20))
                .unwrap();
            p
        })
        .collect();
    let disk_dir = dir.path().join("disks");
    let cfg = dir.path().join("halvm.toml");
    std::fs::write(
        &cfg,
        format!(
            "[devices]\nfilter = [\"a|^{d}/|\", \"r|.*|\"]\nscan = [\"{d}\"]\n[locking]\nlock_dir = \"{l}\"\n",
            d = disk_dir.display(),
            l = dir.path().join("locks").display()
        ),
    )
    .unwrap();
    let env = lvmeta::ops::Env {
        devices: Some(disks.clone()),
        filter: lvmeta::filter::DeviceFilter::default(),
        scan: vec![],
        locks: std::sync::Arc::new(lvmeta::lock::MemLocking::new()),
        cluster: None,
        volume_list: None,
        hooks: None,
        test_mode: false,
        kernel: None,
        system_id: None,
        host: "test".into(),
        open: Box::new(lvmeta::ops::Env::file_open),
    };
    let ctx = lvmeta::ops::Ctx { env: &env };
    ctx.pvcreate(&lvmeta::ops::PvcreateOptions {
        pvs: disks.to_vec(),
        ..Default::default()
    })
    .unwrap();
    ctx.vgcreate(&lvmeta::ops::VgcreateOptions {
        system_id: None,
        tags: Vec::new(),
        ..lvmeta::ops::VgcreateOptions::new("vgt", disks.to_vec())
    })
    .unwrap();
    ctx.lvcreate(&lvmeta::ops::LvcreateOptions {
        vg: "vgt".into(),
        ..lvmeta::ops::LvcreateOptions {
            vg: String::new(),
            name: "data".into(),
            size: lvmeta::ops::SizeArg::Sectors(lvmeta::units::Sign::Absolute, 8 * 2048),
            layout: lvmeta::ops::Layout::Linear,
            pvs: vec![],
        }
    })
    .unwrap();
    let read = || lvmeta::ops::Ctx { env: &env }.peek_vg("vgt").unwrap().1.vg;
    let cfg_s = cfg.to_str().unwrap();
    let rsctmp = dir.path().join("rsctmp");
    std::fs::create_dir_all(&rsctmp).unwrap();
    // lvm2's configuration of this test: its backups and archives stay out of the host's
    // /etc/lvm (the agent writes them as lvm2 does on every commit).
    let lvm_dir = dir.path().join("lvm");
    std::fs::create_dir_all(&lvm_dir).unwrap();
    let lvm_dir_s = lvm_dir.to_str().unwrap();
    let vars = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = vec![
            ("OCF_RESKEY_vgname", "vgt"),
            ("OCF_RESKEY_vg_access_mode", "system_id"),
            ("OCF_RESOURCE_INSTANCE", "vgt-res"),
            ("HALVM_CONFIG", cfg_s),
            ("HALVM_SYSTEM_ID", "host-a"),
            ("HA_RSCTMP", rsctmp.to_str().unwrap()),
            ("LVM_SYSTEM_DIR", lvm_dir_s),
        ];
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            v.push((k, val));
        }
        v
    };
    let probe = run_agent(
        &agent(),
        "monitor",
        &vars(&[("OCF_RESKEY_CRM_meta_interval", "0")]),
    );
    assert_eq!(probe.code, 7, "{probe:?}");
    let out = run_agent(&agent(), "start", &vars(&[]));
    assert_eq!(out.code, 5, "{out:?}");
    assert!(
        out.exit_reason().unwrap().contains("device-mapper"),
        "{out:?}"
    );
    assert_eq!(
        read().system_id.as_deref(),
        Some("host-a"),
        "start claimed the VG"
    );
    let out = run_agent(&agent(), "stop", &vars(&[]));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        read().system_id.as_deref(),
        Some(halvm_lvm_activate::plan::RELEASED_SYSTEM_ID),
        "stop released the VG"
    );
    assert!(
        lvm_dir.join("archive").read_dir().unwrap().count() > 0,
        "the agent archived the metadata it replaced in $LVM_SYSTEM_DIR/archive"
    );
    // A VG the filter hides is not there.
    let hidden = run_agent(
        &agent(),
        "monitor",
        &vars(&[
            ("OCF_RESKEY_vgname", "vgnone"),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
        ]),
    );
    assert!([5, 7].contains(&hidden.code), "{hidden:?}");
}

fn params_of(xml: &str) -> Vec<(String, String, String, Option<String>)> {
    let doc = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("meta-data parses");
    doc.descendants()
        .filter(|n| n.has_tag_name("parameter"))
        .map(|p| {
            let content = p
                .children()
                .find(|c| c.has_tag_name("content"))
                .expect("content");
            (
                p.attribute("name").unwrap().to_string(),
                p.attribute("required").unwrap_or("0").to_string(),
                content.attribute("type").unwrap().to_string(),
                content
                    .attribute("default")
                    .filter(|d| !d.is_empty())
                    .map(str::to_string),
            )
        })
        .collect()
}

/// Drop-in: every parameter of the installed heartbeat agent exists here, with the same
/// required flag and default. Newer resource-agents add degraded_activation and
/// majority_pvs, which the installed one may lack.
#[test]
fn parameters_match_the_heartbeat_agent() {
    let heartbeat = "/usr/lib/ocf/resource.d/heartbeat/LVM-activate";
    require_file(heartbeat, "resource-agents");
    let out = outcome(
        Command::new(heartbeat)
            .arg("meta-data")
            .env_clear()
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let theirs = params_of(&out.stdout);
    let ours = params_of(&meta_data());
    for (name, required, kind, default) in &theirs {
        let mine = ours
            .iter()
            .find(|p| &p.0 == name)
            .unwrap_or_else(|| panic!("parameter {name} missing"));
        assert_eq!(&mine.1, required, "{name}: required");
        assert_eq!(&mine.3, default, "{name}: default");
        // Their booleans are declared as strings; ours are typed.
        assert!(
            &mine.2 == kind || (kind == "string" && mine.2 == "boolean"),
            "{name}: {kind} vs {}",
            mine.2
        );
    }
    let extra: Vec<&str> = ours
        .iter()
        .map(|p| p.0.as_str())
        .filter(|n| !theirs.iter().any(|t| t.0 == *n))
        .collect();
    assert!(
        extra
            .iter()
            .all(|n| ["degraded_activation", "majority_pvs"].contains(n)),
        "parameters the anchor does not have: {extra:?}"
    );
}

#[test]
fn install_agents_honours_destdir() {
    let staging = tempfile::tempdir().unwrap();
    std::fs::copy(agent(), staging.path().join("LVM-activate")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_halvm-ocf-tests-clvmd"),
        staging.path().join("clvmd"),
    )
    .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = outcome(
        Command::new(repo_root().join("scripts/install-agents"))
            .arg("--bin-dir")
            .arg(staging.path())
            .env("DESTDIR", dest.path())
            .env_remove("OCF_ROOT"),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let installed = dest
        .path()
        .join("usr/lib/ocf/resource.d/halvm/LVM-activate");
    let mode = std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    assert_eq!(run_agent(&installed, "meta-data", &[]).stdout, meta_data());
    // Nothing else lands in the staging root (no temporary files left behind).
    let left: Vec<_> = std::fs::read_dir(installed.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(
        left,
        vec![
            std::ffi::OsString::from("LVM-activate"),
            std::ffi::OsString::from("clvmd")
        ]
    );
    let clvmd = installed.with_file_name("clvmd");
    assert_eq!(run_agent(&clvmd, "meta-data", &[]).code, 0);
    // One agent on its own; an unknown name is refused.
    let one = tempfile::tempdir().unwrap();
    let out = outcome(
        Command::new(repo_root().join("scripts/install-agents"))
            .arg("--bin-dir")
            .arg(staging.path())
            .args(["--agent", "clvmd"])
            .env("DESTDIR", one.path())
            .env_remove("OCF_ROOT"),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let dir = one.path().join("usr/lib/ocf/resource.d/halvm");
    assert!(dir.join("clvmd").exists() && !dir.join("LVM-activate").exists());
    let out = outcome(
        Command::new(repo_root().join("scripts/install-agents"))
            .arg("--bin-dir")
            .arg(staging.path())
            .args(["--agent", "lvmlockd"])
            .env("DESTDIR", one.path()),
        None,
    );
    assert_eq!(out.code, 2, "{out:?}");

    let empty = tempfile::tempdir().unwrap();
    let out = outcome(
        Command::new(repo_root().join("scripts/install-agents"))
            .arg("--bin-dir")
            .arg(empty.path())
            .env("DESTDIR", dest.path()),
        None,
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("is missing; build it with"),
        "{}",
        out.stderr
    );
}

/// pcs reads the meta-data (ocf-1.1.rng) to check option names and required options, and
/// runs validate-all with --agent-validation. Works on a CIB file, no cluster needed.
#[test]
fn root_pcs_accepts_the_agent() {
    halvm_testkit::require_root();
    let pcs = halvm_testkit::require_tool("pcs", "pcs");
    let cibadmin = halvm_testkit::require_tool("cibadmin", "pacemaker-cli-utils");
    let _installed = InstalledAgent::install(&agent(), Path::new("/usr/lib/ocf"), "LVM-activate");
    let dir = tempfile::tempdir().unwrap();
    let cib = dir.path().join("cib.xml");
    let out = outcome(Command::new(cibadmin).arg("--empty"), None);
    assert_eq!(out.code, 0, "{out:?}");
    std::fs::write(&cib, &out.stdout).unwrap();
    let create = |name: &str, opts: &[&str]| {
        let mut cmd = Command::new(&pcs);
        cmd.arg("-f")
            .arg(&cib)
            .args(["resource", "create", name, "ocf:halvm:LVM-activate"])
            .args(opts);
        outcome(&mut cmd, None)
    };
    let out = create("vg1", &["vgname=vg1", "vg_access_mode=system_id"]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = std::fs::read_to_string(&cib).unwrap();
    assert!(
        text.contains("provider=\"halvm\"") && text.contains("type=\"LVM-activate\""),
        "{text}"
    );
    let out = create("vg2", &["vgnam=vg1", "vg_access_mode=system_id"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("invalid resource option 'vgnam'"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("required resource option 'vgname' is missing"),
        "{}",
        out.stderr
    );
    let out = create(
        "vg3",
        &[
            "vgname=vg1",
            "vg_access_mode=lvmlockd",
            "tag=x",
            "--agent-validation",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "ocf-exit-reason:parameter tag=\"x\" cannot be used with vg_access_mode=lvmlockd"
        ),
        "{}",
        out.stderr
    );
    let out = create(
        "vg4",
        &[
            "vgname=vg1",
            "vg_access_mode=lvmlockd",
            "activation_mode=shared",
            "--agent-validation",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
}

/// Pacemaker's own view, through the real OCF tree: crm_resource needs no cluster for
/// meta-data and validation. Writes to /usr/lib/ocf (root tier); restores what was there.
#[test]
fn root_crm_resource_validate_and_metadata() {
    halvm_testkit::require_root();
    let crm_resource = halvm_testkit::require_tool("crm_resource", "pacemaker-cli-utils");
    let _installed = InstalledAgent::install(&agent(), Path::new("/usr/lib/ocf"), "LVM-activate");

    let out = outcome(
        Command::new(&crm_resource).args(["--show-metadata", "ocf:halvm:LVM-activate"]),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim_end(), meta_data().trim_end());
    let out = outcome(
        Command::new(&crm_resource).args(["--list-ocf-alternatives", "LVM-activate"]),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let providers: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert!(
        providers.contains(&"halvm") && providers.contains(&"heartbeat"),
        "{}",
        out.stdout
    );

    for (case, extra, code, reason) in VALIDATE_CASES
        .iter()
        .filter(|c| !c.1.iter().any(|(k, _)| !k.starts_with("OCF_RESKEY_")))
    {
        let mut cmd = Command::new(&crm_resource);
        cmd.args([
            "--validate",
            "--class",
            "ocf",
            "--provider",
            "halvm",
            "--agent",
            "LVM-activate",
        ]);
        for (k, v) in with(extra) {
            let name = k.strip_prefix("OCF_RESKEY_").unwrap();
            if !v.is_empty() {
                cmd.arg("--option").arg(format!("{name}={v}"));
            }
        }
        let out = outcome(&mut cmd, None);
        assert_eq!(out.code, *code, "{case}: {out:?}");
        let all = format!("{}{}", out.stdout, out.stderr);
        if *code == 0 {
            assert!(all.contains("returned 0 (ok)"), "{case}: {all}");
        } else {
            assert!(
                all.contains(&format!("returned 6 (not configured: {reason}")),
                "{case}: {all}"
            );
            assert!(
                all.contains(&format!("ocf-exit-reason:{reason}")),
                "{case}: {all}"
            );
        }
    }
}
