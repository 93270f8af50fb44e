//! The agent's log lines against resource-agents' own ocf-shellfuncs: the same messages
//! through `ocf_log` in a shell and through [`Logger`] must give byte-identical HA_LOGFILE and
//! HA_DEBUGLOG files (with a fixed HA_DATEFMT and HA_LOGTAG, so the clock and pid match).
//! Needs resource-agents (scripts/install-deps).

use std::path::Path;
use std::process::{Command, Stdio};

use halvm_ocf::{Logger, OcfEnv};

#[test]
fn log_files_match_ocf_shellfuncs() {
    let funcs = Path::new("/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs");
    assert!(
        funcs.exists(),
        "prerequisite missing: {} (Debian package resource-agents); run scripts/install-deps",
        funcs.display()
    );
    let dir = std::env::temp_dir().join(format!("halvm-ocf-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let messages = [
        ("info", "vg1: activated"),
        ("debug", "probe rc 7"),
        ("warn", "PV /dev/sdb missing"),
        ("err", "vg1 gone"),
    ];
    for debug in ["1", "0"] {
        for same_file in [false, true] {
            let (theirs_log, theirs_dbg) = (dir.join("theirs.log"), dir.join("theirs.dbg"));
            let (ours_log, ours_dbg) = (dir.join("ours.log"), dir.join("ours.dbg"));
            let theirs_dbg = if same_file {
                theirs_log.clone()
            } else {
                theirs_dbg
            };
            let ours_dbg = if same_file {
                ours_log.clone()
            } else {
                ours_dbg
            };
            for f in [&theirs_log, &theirs_dbg, &ours_log, &ours_dbg] {
                let _ = std::fs::remove_file(f);
            }
            let vars = |log: &Path, dbg: &Path| {
                vec![
                    ("OCF_ROOT", "/usr/lib/ocf".to_string()),
                    ("OCF_RESOURCE_INSTANCE", "vg1".to_string()),
                    ("HA_LOGFACILITY", "none".to_string()),
                    ("HA_LOGFILE", log.display().to_string()),
                    ("HA_DEBUGLOG", dbg.display().to_string()),
                    ("HA_DATEFMT", "%%D ".to_string()),
                    ("HA_LOGTAG", "LVM-activate(vg1)[42]".to_string()),
                    ("HA_debug", debug.to_string()),
                ]
            };
            let script: String = std::iter::once(format!(". {}\n", funcs.display()))
                .chain(
                    messages
                        .iter()
                        .map(|(level, msg)| format!("ocf_log {level} '{msg}'\n")),
                )
                .collect();
            let out = Command::new("sh")
                .arg("-c")
                .arg(&script)
                .envs(vars(&theirs_log, &theirs_dbg))
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");

            let env = OcfEnv::from_vars(
                vars(&ours_log, &ours_dbg)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
            )
            .unwrap();
            let log = Logger::new("LVM-activate", &env).with_terminal(false);
            for (level, msg) in messages {
                match level {
                    "info" => log.info(msg),
                    "debug" => log.debug(msg),
                    "warn" => log.warn(msg),
                    _ => log.err(msg),
                }
            }
            let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
            assert_eq!(
                read(&ours_log),
                read(&theirs_log),
                "HA_LOGFILE, HA_debug={debug}, same file {same_file}"
            );
            assert_eq!(
                read(&ours_dbg),
                read(&theirs_dbg),
                "HA_DEBUGLOG, HA_debug={debug}, same file {same_file}"
            );
            assert!(!read(&ours_log).is_empty());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The date in the lines is `date "+$HA_DATEFMT"`'s (local time), default "%b %d %T ".
#[test]
fn date_matches_date_1() {
    let date = |fmt: &str| {
        let out = Command::new("date")
            .arg(format!("+{fmt}"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end_matches('\n')
            .to_string()
    };
    for fmt in [
        halvm_ocf::log::DEFAULT_DATEFMT,
        "%Y-%m-%d %H:%M:%S %z|%a %e %j %p %%",
    ] {
        // Read the clock on both sides of ours: a second boundary may fall in between.
        let before = date(fmt);
        let ours = halvm_ocf::log::format_local_time(fmt);
        let after = date(fmt);
        assert!(
            ours == before || ours == after,
            "{fmt:?}: ours {ours:?}, date {before:?}/{after:?}"
        );
    }
}
