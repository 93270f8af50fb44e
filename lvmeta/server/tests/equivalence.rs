//! The same lvmeta command sequence on two identical sets of file-backed disks, once by the
//! plain lvmeta binary and once through lvmc and a running lvmeta-server: the same stdout,
//! stderr and exit codes, command by command, and the same disks (the metadata text up to
//! its UUIDs and creation stamps, which no two runs share; every byte past the metadata
//! area). Runs unprivileged: the server is started with --test-allow-own-uid.

mod common;

use common::{normalize_metadata, Server, Side, DISKS, LVMC, LVMETA};

struct Step {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// The exit code both must give.
    code: i32,
}

const fn step(args: &'static [&'static str], code: i32) -> Step {
    Step {
        args,
        env: &[],
        code,
    }
}

const STEPS: &[Step] = &[
    step(&["pvcreate", "d0", "d1", "d2", "d3"], 0),
    step(&["vgcreate", "vg", "d0", "d1", "d2"], 0),
    step(
        &["lvcreate", "-an", "-Zn", "-n", "lin", "-L", "8m", "vg"],
        0,
    ),
    step(
        &[
            "lvcreate", "-an", "-Zn", "-n", "str", "-i", "2", "-I", "64k", "-L", "16m", "vg",
        ],
        0,
    ),
    step(&["lvs", "vg"], 0),
    step(&["vgs"], 0),
    step(&["pvs"], 0),
    step(&["lvs", "--reportformat", "json", "-a", "vg"], 0),
    step(
        &["vgs", "--reportformat", "json", "-o", "+vg_extent_count"],
        0,
    ),
    step(&["lvextend", "-L", "+4m", "vg/lin"], 0),
    step(&["lvrename", "vg", "lin", "lin2"], 0),
    step(&["lvremove", "-y", "vg/str"], 0),
    // Fails (exit 5): the name exists.
    step(
        &["lvcreate", "-an", "-Zn", "-n", "lin2", "-L", "4m", "vg"],
        5,
    ),
    // Invalid command line (exit 3).
    step(&["lvs", "--bogus"], 3),
    step(&["--version"], 0),
    // A relative path resolved in the cwd: the backup file is written there.
    step(&["vgcfgbackup", "-f", "backup.vg", "vg"], 0),
    step(&["pvs", "d1"], 0),
    // The environment: the VG belongs to system ID alpha; without HALVM_SYSTEM_ID it is
    // foreign (exit 5), with it, it is ours.
    step(&["vgcreate", "--systemid", "alpha", "vg2", "d3"], 0),
    step(&["lvs", "vg2"], 5),
    Step {
        args: &["lvcreate", "-an", "-Zn", "-n", "mine", "-L", "4m", "vg2"],
        env: &[("HALVM_SYSTEM_ID", "alpha")],
        code: 0,
    },
    Step {
        args: &["lvs", "vg2"],
        env: &[("HALVM_SYSTEM_ID", "alpha")],
        code: 0,
    },
    step(&["lvs", "-a", "-o", "lv_name,lv_size,seg_count,devices"], 0),
];

#[test]
fn lvmc_through_the_server_matches_plain_lvmeta() {
    let top = tempfile::tempdir().unwrap();
    let plain = Side::new(&top.path().join("plain"));
    let served = Side::new(&top.path().join("served"));
    let mut server = Server::start(&[]);
    let socket = server.socket();
    let socket = socket.to_str().unwrap();
    // Every command runs in a worker: this lvmc could not run one locally.
    let lvmc = common::lone_lvmc(top.path());
    let lvmc = lvmc.to_str().unwrap();
    for s in STEPS {
        let a = plain.run(LVMETA, "0", s.args, s.env);
        let b = served.run(lvmc, socket, s.args, s.env);
        let text = |o: &std::process::Output| {
            format!(
                "exit {:?}\n--- stdout\n{}--- stderr\n{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        assert_eq!(
            text(&b),
            text(&a),
            "lvmeta {:?}: through the server (left) and plain (right) differ",
            s.args
        );
        assert_eq!(
            a.status.code(),
            Some(s.code),
            "lvmeta {:?}: {}",
            s.args,
            text(&a)
        );
    }
    assert!(server.alive(), "{}", server.log());
    // And that lvmc really cannot run one locally.
    let o = served.run(lvmc, "0", &["vgs"], &[]);
    assert_eq!(
        o.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let backup = |side: &Side| {
        normalize_metadata(&std::fs::read_to_string(side.dir.join("backup.vg")).unwrap())
    };
    assert_eq!(backup(&served), backup(&plain));
    for vg in ["vg", "vg2"] {
        let dump = |side: &Side| {
            let f = format!("final-{vg}.vg");
            let o = side.run(
                LVMETA,
                "0",
                &["vgcfgbackup", "-f", &f, vg],
                &[("HALVM_SYSTEM_ID", "alpha")],
            );
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            normalize_metadata(&std::fs::read_to_string(side.dir.join(f)).unwrap())
        };
        let (a, b) = (dump(&plain), dump(&served));
        assert!(a.contains("seqno"), "{a}");
        assert_eq!(b, a, "VG {vg}'s metadata differs");
    }
    // lvm2's backups and archives of every commit ($LVM_SYSTEM_DIR/backup, archive), which
    // name the command that was run: the same files, the same texts.
    assert_eq!(lvm_files(&served), lvm_files(&plain));
    let files = lvm_files(&plain);
    assert!(
        files
            .values()
            .any(|t| t.contains("executing 'lvrename --devices")),
        "{files:?}"
    );
    for i in 0..DISKS {
        let read = |side: &Side| std::fs::read(side.dir.join(format!("d{i}"))).unwrap();
        let (a, b) = (read(&plain), read(&served));
        assert_eq!(a.len(), b.len());
        // pe_start is 1 MiB: past it, the data areas (no LV zeroed: -Zn) are byte-identical.
        assert!(a[1 << 20..] == b[1 << 20..], "d{i}'s data area differs");
    }
    assert!(server
        .terminate(std::time::Duration::from_secs(20))
        .success());
}

/// `lvmeta` itself forwards when a server answers: the command runs in a worker (a child of
/// the server; HALVM_TEST_PAUSE makes the commit write the pid that runs it); with no server
/// or LVMETA_SERVER=0, lvmc and lvmeta run it locally.
#[test]
fn lvmeta_forwards_and_runs_locally_without_a_server() {
    let top = tempfile::tempdir().unwrap();
    let side = Side::new(top.path());
    let server = Server::start(&[]);
    let socket = server.socket();
    let socket = socket.to_str().unwrap();
    for args in [&["pvcreate", "d0"][..], &["vgcreate", "vg", "d0"]] {
        let o = side.run(LVMETA, socket, args, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let pause = top.path().join("pause");
    let env = format!("before-commit:{}", pause.display());
    let mut client = side
        .command(
            LVMETA,
            socket,
            &["lvcreate", "-an", "-Zn", "-n", "a", "-L", "4m", "vg"],
            &[("HALVM_TEST_PAUSE", &env)],
        )
        .spawn()
        .unwrap();
    let runner = common::paused_pid(&pause);
    assert_ne!(runner, client.id() as i32);
    assert_eq!(
        common::parent_of(runner),
        Some(server.pid()),
        "run by a worker"
    );
    std::fs::remove_file(&pause).unwrap();
    assert!(client.wait().unwrap().success());
    let missing = top.path().join("nowhere/server.sock");
    for (bin, target) in [
        (LVMC, missing.to_str().unwrap()),
        (LVMC, "0"),
        (LVMETA, missing.to_str().unwrap()),
        (LVMETA, "0"),
    ] {
        let mut client = side
            .command(
                bin,
                target,
                &["lvcreate", "-an", "-Zn", "-L", "4m", "vg"],
                &[("HALVM_TEST_PAUSE", &env)],
            )
            .spawn()
            .unwrap();
        let runner = common::paused_pid(&pause);
        // lvmc execs lvmeta in its own process: the same pid runs the command.
        assert_eq!(runner, client.id() as i32, "{bin} {target}: run locally");
        std::fs::remove_file(&pause).unwrap();
        assert!(client.wait().unwrap().success());
    }
    let o = side.run(
        LVMETA,
        "0",
        &["lvs", "--noheadings", "-o", "lv_name", "vg"],
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 5);
}

/// The backup and archive files under a side's $LVM_SYSTEM_DIR, by name (an archive's random
/// suffix dropped), normalized.
fn lvm_files(side: &Side) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for sub in ["backup", "archive"] {
        for e in std::fs::read_dir(side.dir.join("lvm").join(sub)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let key = match name.split_once('-') {
                Some((stem, _)) => format!("{sub}/{stem}"),
                None => format!("{sub}/{name}"),
            };
            let text = std::fs::read_to_string(e.path()).unwrap();
            out.insert(key, normalize_metadata(&text));
        }
    }
    out
}
