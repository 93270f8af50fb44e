//! One man page per lvmeta command (man/lvmeta-<command>.8), generated from clap and pinned
//! here (UPDATE_GOLDEN=1 refreshes them), and checks that the synopses carry value names.

#[test]
fn lvmeta_command_pages_are_current() {
    let pages = halvm_packaging::lvmeta_command_pages();
    assert!(pages.len() >= 20, "{} pages", pages.len());
    for (name, page) in &pages {
        halvm_testkit::assert_golden(halvm_man::page_path(name, "8"), page);
    }
}

#[test]
fn lvcreate_page_synopsis_names_values_like_lvm2() {
    let pages = halvm_packaging::lvmeta_command_pages();
    let (_, page) = pages
        .iter()
        .find(|(n, _)| n == "lvmeta-lvcreate")
        .expect("lvmeta-lvcreate page");
    let synopsis = page
        .split(".SH SYNOPSIS\n")
        .nth(1)
        .and_then(|s| s.split(".SH DESCRIPTION").next())
        .unwrap();
    assert!(
        synopsis.starts_with(".nh\n.ad l\n.B lvmeta lvcreate\n"),
        "{synopsis}"
    );
    for want in [
        "[\\fB\\-L\\fR|\\fB\\-\\-size\\fR\\ \\fISIZE[UNIT]\\fR]",
        "\\fB\\-n\\fR|\\fB\\-\\-name\\fR\\ \\fILV\\fR",
    ] {
        assert!(synopsis.contains(want), "{want} not in\n{synopsis}");
    }
    assert!(page.contains("lvcreate(8)"), "see also lvm2's page");
}

#[test]
fn completions_are_generated_for_every_shell() {
    let dir = tempfile::tempdir().unwrap();
    halvm_packaging::write_completions(dir.path()).unwrap();
    let bash = std::fs::read_to_string(
        dir.path()
            .join("usr/share/bash-completion/completions/lvmeta"),
    )
    .unwrap();
    assert!(
        bash.contains("complete -F _lvmeta"),
        "{}",
        &bash[..200.min(bash.len())]
    );
    assert!(bash.contains("lvcreate"), "subcommands completed");
    for p in [
        "usr/share/zsh/vendor-completions/_cluster-conf",
        "usr/share/fish/vendor_completions.d/lvmeta.fish",
    ] {
        assert!(dir.path().join(p).is_file(), "{p}");
    }
}
