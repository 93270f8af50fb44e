//! `cli_for` (only the invoked subcommand built) and `built(cli())` (the whole tree built
//! ahead, as lvmeta-server's workers inherit it) against `cli()` (the whole tree): the same
//! help, the same parse results, the same errors.

use lvmeta_cli::{built, clap_error_as_lvm, cli, cli_for, subcommand_names};

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// What a parse gives, in text: the subcommand's matches (ids, sources, raw values, indices;
/// the top level differs only in the subcommands it lists), or the error's kind, clap's
/// rendering and lvmeta's lvm-style message.
fn outcome(cmd: clap::Command, argv: &[String]) -> String {
    outcome_of(cmd.term_width(100).try_get_matches_from(argv), argv)
}

/// [`outcome`] with the tree built ahead, parsed without consuming it (as the workers do).
fn outcome_prepared(argv: &[String]) -> String {
    let mut tree = built(cli().term_width(100));
    outcome_of(tree.try_get_matches_from_mut(argv), argv)
}

fn outcome_of(parsed: Result<clap::ArgMatches, clap::Error>, argv: &[String]) -> String {
    match parsed {
        Ok(m) => format!("ok {:?} {:?}", m.ids().collect::<Vec<_>>(), m.subcommand()),
        Err(e) => format!(
            "err {:?}\n{}\n{}",
            e.kind(),
            e.render(),
            clap_error_as_lvm(&e, argv)
        ),
    }
}

fn assert_same(args: &[&str]) {
    let a = argv(args);
    let full = outcome(cli(), &a);
    let lazy = outcome(cli_for(&a), &a);
    assert_eq!(lazy, full, "lazy and full trees differ on {args:?}");
    let prepared = outcome_prepared(&a);
    assert_eq!(prepared, full, "the tree built ahead differs on {args:?}");
}

#[test]
fn a_subcommand_builds_only_itself() {
    for n in subcommand_names() {
        let c = cli_for(&argv(&["lvmeta", n, "--help"]));
        let subs: Vec<&str> = c.get_subcommands().map(|s| s.get_name()).collect();
        assert_eq!(subs, [n]);
    }
}

#[test]
fn anything_else_builds_the_whole_tree() {
    let whole: Vec<String> = cli()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    assert_eq!(whole, subcommand_names().collect::<Vec<_>>());
    for args in [
        &["lvmeta"][..],
        &["lvmeta", "--help"],
        &["lvmeta", "-V"],
        &["lvmeta", "help", "lvcreate"],
        &["lvmeta", "lvcreat"],
        &["lvmeta", "--devices", "x", "lvs"],
    ] {
        assert_eq!(
            cli_for(&argv(args)).get_subcommands().count(),
            subcommand_names().count()
        );
        assert_same(args);
    }
}

#[test]
fn every_subcommand_help_agrees() {
    for n in subcommand_names() {
        for h in ["--help", "-h"] {
            assert_same(&["lvmeta", n, h]);
        }
    }
}

#[test]
fn generic_command_lines_agree_for_every_subcommand() {
    for n in subcommand_names() {
        for tail in [
            &[][..],
            &["--bogus"],
            &["-X"],
            &["--version"],
            &["-V"],
            &["-v", "-v", "x"],
            &["-q", "--devices", "/dev/a,/dev/b", "x", "y"],
            &["--config", "devices { }", "--lock-dir", "/tmp/l", "vg/lv"],
            &["-t", "vg"],
            &["--", "-x"],
        ] {
            let mut args = vec!["lvmeta", n];
            args.extend_from_slice(tail);
            assert_same(&args);
        }
    }
}

#[test]
fn command_lines_and_errors_agree() {
    for args in [
        // Valid.
        &[
            "lvmeta", "lvcreate", "-an", "-Zn", "-n", "lv1", "-l", "2", "vg",
        ][..],
        &[
            "lvmeta", "lvcreate", "-L", "+10m", "--type", "raid1", "-m", "1", "vg", "/dev/a",
        ],
        &["lvmeta", "lvchange", "-aey", "vg/lv1"],
        &["lvmeta", "lvchange", "-an", "vg/lv1", "vg/lv2"],
        &["lvmeta", "vgchange", "--lockstart", "vg"],
        &["lvmeta", "vgchange", "-a", "ew", "vg"],
        &[
            "lvmeta",
            "lvs",
            "-a",
            "-o",
            "lv_name,lv_size",
            "--noheadings",
            "vg",
        ],
        &[
            "lvmeta",
            "vgs",
            "--reportformat",
            "json",
            "-S",
            "vg_name=vg",
        ],
        &["lvmeta", "pvremove", "-ff", "/dev/a"],
        &["lvmeta", "lvextend", "-l", "+100%FREE", "vg/lv"],
        &[
            "lvmeta",
            "lvconvert",
            "--splitmirrors",
            "1",
            "-n",
            "new",
            "vg/lv",
        ],
        // Errors: bad value, conflict, missing argument, unknown option, out of range.
        &["lvmeta", "lvchange", "-a", "maybe", "vg/lv1"],
        &["lvmeta", "lvcreate", "-L", "1g", "-l", "2", "vg"],
        &["lvmeta", "vgreduce", "vg"],
        &["lvmeta", "vgcreate", "vg"],
        &["lvmeta", "lvcreate", "--sise", "1g", "vg"],
        &["lvmeta", "lvcreate", "-i", "0", "-l", "1", "vg"],
        &["lvmeta", "vgchange", "--systemid", "a", "--majoritypvs"],
        &[
            "lvmeta",
            "vgcreate",
            "--shared",
            "--systemid",
            "x",
            "vg",
            "/dev/a",
        ],
        &[
            "lvmeta",
            "lvconvert",
            "--splitmirrors",
            "x",
            "-n",
            "n",
            "vg/lv",
        ],
        &["lvmeta", "vgreduce", "-f", "vg", "/dev/a"],
    ] {
        assert_same(args);
    }
}
