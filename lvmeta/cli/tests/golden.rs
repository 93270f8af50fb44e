//! Golden files for `lvmeta --help`, every subcommand's --help, and the man pages.

use halvm_testkit::assert_golden;
use std::path::PathBuf;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn help_of(args: &[&str]) -> String {
    let err = lvmeta_cli::cli()
        .term_width(100)
        .try_get_matches_from(args)
        .expect_err("--help stops parsing");
    assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
    err.render().to_string()
}

#[test]
fn top_level_help() {
    assert_golden(golden("help/lvmeta.txt"), &help_of(&["lvmeta", "--help"]));
}

#[test]
fn every_subcommand_help() {
    let cli = lvmeta_cli::cli();
    let names: Vec<String> = cli
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    assert_eq!(names.len(), 23, "{names:?}");
    for n in names {
        assert_golden(
            golden(&format!("help/{n}.txt")),
            &help_of(&["lvmeta", &n, "--help"]),
        );
    }
}

const EXIT: &str = "0 on success; 3 when the command line is invalid (lvm's EINVALID_CMD_LINE); 5 when the command failed (lvm's ECMD_FAILED), including vgck and pvck finding damaged or stale metadata.";

const ENVIRONMENT: &str = "HALVM_CONFIG: the configuration file (devices.filter, devices.scan, locking.lock_dir, locking.lock_manager); its keys win over lvm.conf's, see halvm.toml(5).

LVM_SYSTEM_DIR: where lvm2's lvm.conf and lvmlocal.conf are (default /etc/lvm): devices/filter, devices/global_filter, devices/scan, global/locking_dir, global/system_id_source with local/system_id and global/system_id_file, activation/volume_list, read as lvm2 reads them.

HALVM_SYSTEM_ID: overrides this host's system ID (otherwise lvm.conf's system_id_source gives it, as for lvm2). A VG whose system ID differs is foreign: lvmeta refuses to change it, except vgchange --systemid, the explicit take-over.

LVMETA_SERVER: the socket of lvmeta-server(8) (default /run/lvmeta/server.sock), or 0. When a server answers there, lvmeta has one of its workers run the command (same arguments, environment, umask, directory, standard input, output and error; same output and exit code) and exits with its exit code; otherwise, or with 0, it runs the command itself. lvmc(8) does the same without lvmeta's own start.";

#[test]
fn man_pages_are_current() {
    let overview = lvmeta_cli::cli();
    let page = halvm_man::render(
        &overview,
        "8",
        &[
            halvm_man::Section {
                title: "Description",
                body: "lvmeta reads and writes LVM2 volume group metadata byte for byte as lvm2 does: the LABELONE label in sector 1, the metadata area header, the circular text buffer with its committed and precommitted slots, and the LVM2 text grammar. Stock lvm2 reads and repairs what lvmeta writes and the other way round.

Devices: --devices DEV,... restricts every command to those devices or files; otherwise lvmeta scans the usual block devices (/proc/partitions) plus devices.scan from the configuration, filtered by lvm.conf's devices/global_filter and by devices.filter (halvm.toml's, else lvm.conf's) with lvm's a|regex| and r|regex| rules (the first match decides).

Commits: a change is written as text plus precommitted slot into every metadata area of the VG, then committed everywhere; a reader takes the copy with the highest seqno and reports the others as stale. vgck --updatemetadata rewrites stale or damaged copies.

Locking: lvm2's file locks, so lvm2 and lvmeta on one host exclude each other: flock on <lock_dir>/V_<vg> (shared for reads, exclusive for writes) and <lock_dir>/P_global for PV and VG name space changes, in lvm2's lock directory (lvm.conf global/locking_dir, default /run/lock/lvm) with lvm2's protocol (a lock file is unlinked on unlock; after locking, the locked file is checked to still be the one at the path).

The command groups are described in lvmeta-pv(8), lvmeta-vg(8) and lvmeta-lv(8).",
            },
            halvm_man::Section { title: "Exit status", body: EXIT },
            halvm_man::Section { title: "Environment", body: ENVIRONMENT },
            halvm_man::Section { title: "See also", body: "lvmeta-pv(8), lvmeta-vg(8), lvmeta-lv(8); one page per command, lvmeta-<command>(8), e.g. lvmeta-lvcreate(8); halvm.toml(5), lvmeta-server(8), lvmc(8), lvm(8)" },
        ],
    );
    assert_golden(halvm_man::page_path("lvmeta", "8"), &page);
    for (name, _, _) in lvmeta_cli::MAN_GROUPS {
        let cmd = lvmeta_cli::group_cli(name).expect("group exists");
        let page = halvm_man::render(
            &cmd,
            "8",
            &[
                halvm_man::Section {
                    title: "Common options",
                    body: "Every command takes --devices DEV,... (only these devices or files), --config FILE and --lock-dir DIR; see lvmeta(8).",
                },
                halvm_man::Section { title: "Exit status", body: EXIT },
                halvm_man::Section { title: "See also", body: "lvmeta(8), lvm(8)" },
            ],
        );
        assert_golden(halvm_man::page_path(name, "8"), &page);
    }
}
