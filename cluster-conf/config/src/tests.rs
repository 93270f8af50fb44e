use super::*;
use proptest::prelude::*;
use ActivationMode::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

#[test]
fn empty_file_gives_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.devices.filter, Vec::<String>::new());
    assert_eq!(c.devices.scan, vec![PathBuf::from("/dev")]);
    assert_eq!(c.locking.lock_dir, PathBuf::from("/run/lock/lvm"));
    assert_eq!(c.locking.lock_manager, LockManager::Local);
    assert_eq!(c.activation.default_mode, Off);
    assert_eq!(c.policy.detach, DetachPolicy::Global);
    assert_eq!(c.policy.dg_failure, DgFailurePolicy::Dgdisable);
    assert_eq!(c.policy.quorum_loss, QuorumLossPolicy::Freeze);
    assert_eq!(c.source, Some(PathBuf::from("test.toml")));
}

#[test]
fn example_parses_fully() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(
        c.devices.filter,
        vec!["a|^/dev/mapper/mpath[a-z]+$|", "r|.*|"]
    );
    assert_eq!(c.devices.scan, vec![PathBuf::from("/dev/mapper")]);
    assert_eq!(c.locking.lock_manager, LockManager::Dlm);
    assert_eq!(c.activation.default_mode, ExclusiveWrite);
    assert_eq!(
        c.activation.volume_list,
        Some(vec!["vg_ha".to_string(), "@site_a".to_string()])
    );
    assert!(parse("[activation]\nvolume_list = [\"a/b/c\"]\n").is_err());
    assert!(parse("[activation]\nvolume_list = [\"@\"]\n").is_err());
    assert_eq!(
        parse("[activation]\nvolume_list = []\n")
            .unwrap()
            .activation
            .volume_list,
        Some(vec![])
    );
    assert!(c.devices.accepts(Path::new("/dev/mapper/mpatha")).unwrap());
    assert!(!c.devices.accepts(Path::new("/dev/sda")).unwrap());
}

#[test]
fn every_keyword_value_parses() {
    for m in ActivationMode::ALL {
        let c = parse(&format!("[activation]\ndefault_mode = \"{m}\"\n")).unwrap();
        assert_eq!(c.activation.default_mode, *m);
    }
    for v in QuorumLossPolicy::ALL {
        let c = parse(&format!("[policy]\nquorum_loss = \"{v}\"\n")).unwrap();
        assert_eq!(c.policy.quorum_loss, *v);
    }
    for v in DetachPolicy::ALL {
        assert_eq!(
            parse(&format!("policy.detach = \"{v}\""))
                .unwrap()
                .policy
                .detach,
            *v
        );
    }
    for v in DgFailurePolicy::ALL {
        let c = parse(&format!("policy = {{ dg_failure = \"{v}\" }}")).unwrap();
        assert_eq!(c.policy.dg_failure, *v);
    }
    for v in LockManager::ALL {
        let c = parse(&format!("[locking]\nlock_manager = \"{v}\"")).unwrap();
        assert_eq!(c.locking.lock_manager, *v);
    }
}

#[test]
fn keys_table_lists_exactly_the_enum_values() {
    let table = |s: &str, k: &str| -> Vec<&str> {
        KEYS.iter()
            .find(|d| d.section == s && d.key == k)
            .unwrap()
            .values
            .iter()
            .map(|v| v.0)
            .collect()
    };
    let names = |v: Vec<&'static str>| v;
    assert_eq!(
        table("activation", "default_mode"),
        names(ActivationMode::ALL.iter().map(|m| m.as_str()).collect())
    );
    assert_eq!(
        table("locking", "lock_manager"),
        names(LockManager::ALL.iter().map(|m| m.as_str()).collect())
    );
    assert_eq!(
        table("policy", "detach"),
        names(DetachPolicy::ALL.iter().map(|m| m.as_str()).collect())
    );
    assert_eq!(
        table("policy", "dg_failure"),
        names(DgFailurePolicy::ALL.iter().map(|m| m.as_str()).collect())
    );
    assert_eq!(
        table("policy", "quorum_loss"),
        names(QuorumLossPolicy::ALL.iter().map(|m| m.as_str()).collect())
    );
}

#[test]
fn defaults_in_keys_table_match_default_config() {
    // Writing every documented default explicitly must give Config::default().
    let mut text = String::new();
    let mut section = "";
    for k in KEYS {
        // A key unset by default has no TOML spelling of its default.
        if k.default.starts_with("unset") {
            continue;
        }
        if k.section != section {
            section = k.section;
            text.push_str(&format!("[{section}]\n"));
        }
        text.push_str(&format!("{} = {}\n", k.key, k.default));
    }
    let mut c = parse(&text).unwrap();
    c.source = None;
    assert_eq!(
        c.set_keys.len(),
        text.lines().filter(|l| l.contains(" = ")).count()
    );
    c.set_keys.clear();
    assert_eq!(c, Config::default());
}

#[test]
fn unknown_key_names_key_and_line() {
    let e = parse("[devices]\nscan = [\"/dev\"]\nfliter = []\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownKey { key, line: 3, .. } if key == "devices.fliter"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "test.toml:3: unknown key `devices.fliter`");
    let e = parse("\n\n[polcy]\ndetach = \"local\"\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownKey { key, line: 3, .. } if key == "polcy"),
        "{e:?}"
    );
    let e = parse("top = 1\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::UnknownKey { key, line: 1, .. } if key == "top"),
        "{e:?}"
    );
}

#[test]
fn bad_value_names_key_line_and_choices() {
    let e = parse("[policy]\ndetach = \"global\"\n\nquorum_loss = \"ignore\"\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::BadValue { key, line: 4, value, .. } if key == "policy.quorum_loss" && value == "ignore"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "test.toml:4: key `policy.quorum_loss`: invalid value \"ignore\": expected one of \"freeze\", \"fail-io\""
    );
    let e = parse("[activation]\ndefault_mode = \"ew\"\n").unwrap_err();
    assert_eq!(e.key(), Some("activation.default_mode"));
    assert_eq!(e.line(), Some(2));
}

#[test]
fn wrong_types_are_reported() {
    let e = parse("[locking]\nlock_manager = 3\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::WrongType { key, line: 2, expected: "a string", found: "an integer", .. } if key == "locking.lock_manager"),
        "{e:?}"
    );
    let e = parse("[devices]\nfilter = \"a|.*|\"\n").unwrap_err();
    assert!(
        matches!(
            &e,
            ConfigError::WrongType {
                expected: "an array of strings",
                ..
            }
        ),
        "{e:?}"
    );
    let e = parse("devices = 1\n").unwrap_err();
    assert!(
        matches!(
            &e,
            ConfigError::WrongType {
                expected: "a table",
                ..
            }
        ),
        "{e:?}"
    );
    let e = parse("[devices]\nscan = [\"/dev\", 5]\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::WrongType { key, .. } if key == "devices.scan[1]"),
        "{e:?}"
    );
}

#[test]
fn bad_filter_entry_names_index_and_line() {
    let text = "[devices]\nfilter = [\n  \"a|^/dev/sda$|\",\n  \"a|sd[|\",\n]\n";
    let e = parse(text).unwrap_err();
    assert!(
        matches!(&e, ConfigError::BadValue { key, line: 4, .. } if key == "devices.filter[1]"),
        "{e:?}"
    );
    assert!(e.to_string().contains("invalid regex"), "{e}");
    let e = parse("[devices]\nfilter = [\"x|a|\"]\n").unwrap_err();
    assert!(e.to_string().contains("must begin with 'a'"), "{e}");
    let e = parse("[devices]\nfilter = [\"a|foo\"]\n").unwrap_err();
    assert!(
        e.to_string().contains("must end with the separator '|'"),
        "{e}"
    );
}

#[test]
fn relative_paths_rejected() {
    let e = parse("[locking]\nlock_dir = \"run/lock\"\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::BadValue { key, .. } if key == "locking.lock_dir"),
        "{e:?}"
    );
    let e = parse("[devices]\nscan = [\"dev/sd*\"]\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::BadValue { key, .. } if key == "devices.scan[0]"),
        "{e:?}"
    );
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = parse("[devices]\nscan = [\"/dev\"\n[policy]\n").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { line: 3, .. }), "{e:?}");
    let e = parse("[policy]\ndetach = \"global\"\ndetach = \"local\"\n").unwrap_err();
    assert!(
        matches!(e, ConfigError::Syntax { .. }),
        "duplicate key: {e:?}"
    );
}

#[test]
fn path_resolution_order() {
    let flag = Path::new("/tmp/flag.toml");
    assert_eq!(
        ConfigPath::resolve(Some(flag), Some("/tmp/env.toml".into())),
        ConfigPath::Explicit(flag.into())
    );
    assert_eq!(
        ConfigPath::resolve(None, Some("/tmp/env.toml".into())),
        ConfigPath::Env("/tmp/env.toml".into())
    );
    assert_eq!(
        ConfigPath::resolve(None, Some("".into())),
        ConfigPath::Default(DEFAULT_PATH.into())
    );
    assert_eq!(
        ConfigPath::resolve(None, None),
        ConfigPath::Default(DEFAULT_PATH.into())
    );
}

#[test]
fn missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.toml");
    // Missing default: defaults.
    let c = Config::load_from(&ConfigPath::Default(absent.clone())).unwrap();
    assert_eq!(c, Config::default());
    // Missing explicit or env file: error naming the path.
    for at in [
        ConfigPath::Explicit(absent.clone()),
        ConfigPath::Env(absent.clone()),
    ] {
        let e = Config::load_from(&at).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Read { path, .. } if *path == absent),
            "{e:?}"
        );
    }
    let present = dir.path().join("halvm.toml");
    std::fs::write(&present, "[policy]\ndetach = \"local\"\n").unwrap();
    let c = Config::load(Some(&present)).unwrap();
    assert_eq!(c.policy.detach, DetachPolicy::Local);
    assert_eq!(c.source.as_deref(), Some(present.as_path()));
}

/// The DESIGN.md table, rows = held elsewhere, columns = asked (ew, ro, sr, sw); true = fails.
const DESIGN_TABLE: [(ActivationMode, [bool; 4]); 4] = [
    (ExclusiveWrite, [true, true, false, true]),
    (ReadOnly, [true, false, false, true]),
    (SharedRead, [false, false, false, false]),
    (SharedWrite, [true, true, false, false]),
];
const COLUMNS: [ActivationMode; 4] = [ExclusiveWrite, ReadOnly, SharedRead, SharedWrite];

#[test]
fn conflict_matrix_matches_design_table() {
    for (held, row) in DESIGN_TABLE {
        for (asked, fails) in COLUMNS.iter().zip(row) {
            assert_eq!(
                ActivationMode::conflicts_with(held, *asked),
                fails,
                "held {held} asked {asked}"
            );
        }
    }
}

#[test]
fn off_never_conflicts() {
    for m in ActivationMode::ALL {
        assert!(
            !ActivationMode::conflicts_with(Off, *m),
            "held off, asked {m}"
        );
        assert!(
            !ActivationMode::conflicts_with(*m, Off),
            "held {m}, asked off"
        );
    }
}

#[test]
fn conflict_spot_checks_and_abbreviations() {
    assert!(ExclusiveWrite.conflicts_with(ExclusiveWrite));
    assert!(!SharedWrite.conflicts_with(SharedWrite));
    assert!(ReadOnly.conflicts_with(SharedWrite));
    assert!(!ReadOnly.conflicts_with(ReadOnly));
    assert!(!ExclusiveWrite.conflicts_with(SharedRead));
    let abbr: Vec<_> = ActivationMode::ALL
        .iter()
        .map(|m| m.abbreviation())
        .collect();
    assert_eq!(abbr, ["ew", "ro", "sr", "sw", "off"]);
    assert!(ExclusiveWrite.writes() && SharedWrite.writes());
    assert!(!ReadOnly.writes() && !SharedRead.writes() && !Off.writes());
}

#[test]
fn man_page_is_current() {
    halvm_testkit::assert_golden(halvm_man::page_path("halvm.toml", "5"), &man_page());
}

#[test]
fn man_page_documents_every_key() {
    let page = man_page();
    for k in KEYS {
        assert!(
            page.contains(&format!("\\fB{}\\fR", k.key.replace('-', "\\-"))),
            "{}",
            k.key
        );
        for (v, _) in k.values {
            assert!(page.contains(&v.replace('-', "\\-")), "{v}");
        }
    }
}

proptest! {
    #[test]
    fn parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn mutated_example_never_panics(pos in 0usize..400, byte in any::<u8>(), delete in any::<bool>()) {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        let pos = pos % bytes.len();
        if delete { bytes.remove(pos); } else { bytes[pos] = byte; }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse(&text) {
            // Every content error points inside the file.
            if let Some(line) = e.line() {
                prop_assert!(line >= 1 && line <= text.lines().count() + 1);
            }
        }
    }

    #[test]
    fn keyword_lines_are_exact(blank in 0usize..20, value in "[a-z-]{1,12}") {
        let text = format!("{}[policy]\ndetach = \"{value}\"\n", "\n".repeat(blank));
        match parse(&text) {
            Ok(c) => prop_assert!(DetachPolicy::ALL.contains(&c.policy.detach)),
            Err(e) => {
                prop_assert_eq!(e.line(), Some(blank + 2));
                prop_assert_eq!(e.key(), Some("policy.detach"));
            }
        }
    }
}

#[test]
fn detach_policy_vg_tags() {
    assert_eq!(DetachPolicy::Local.vg_tag(), "halvm_detach_local");
    assert_eq!(DetachPolicy::Global.vg_tag(), "halvm_detach_global");
    assert_eq!(
        DetachPolicy::from_vg_tags(&["a", "halvm_detach_local", "z"]),
        Some(DetachPolicy::Local)
    );
    assert_eq!(DetachPolicy::from_vg_tags(&["halvm_detach_x"]), None);
    assert_eq!(DetachPolicy::from_vg_tags::<&str>(&[]), None);
}

#[test]
fn dg_failure_vg_tags() {
    assert_eq!(DgFailurePolicy::Leave.vg_tag(), "halvm_dgfail_leave");
    assert_eq!(
        DgFailurePolicy::Dgdisable.vg_tag(),
        "halvm_dgfail_dgdisable"
    );
    assert_eq!(
        DgFailurePolicy::from_vg_tags(&["a", "halvm_dgfail_leave", "halvm_detach_local"]),
        Some(DgFailurePolicy::Leave)
    );
    assert_eq!(DgFailurePolicy::from_vg_tags(&["halvm_dgfail_x"]), None);
}
