//! Debian packaging of halvm (`scripts/package`): the assets generated from the binaries'
//! `cli()` definitions (one man page per lvmeta command, shell completions), and the tests of
//! the set-up scripts and of the packages.

use std::io;
use std::path::Path;

use clap_complete::Shell;

/// The binaries that get shell completions, with their clap definitions.
pub fn completion_commands() -> Vec<(&'static str, clap::Command)> {
    vec![
        ("lvmeta", lvmeta_cli::cli()),
        ("cluster-conf", cluster_conf_cli::cli()),
    ]
}

/// Where each shell looks for completions in a Debian system, and the file name for `bin`.
pub fn completion_path(shell: Shell, bin: &str) -> String {
    match shell {
        Shell::Bash => format!("usr/share/bash-completion/completions/{bin}"),
        Shell::Zsh => format!("usr/share/zsh/vendor-completions/_{bin}"),
        Shell::Fish => format!("usr/share/fish/vendor_completions.d/{bin}.fish"),
        other => format!("usr/share/{other}/{bin}"),
    }
}

/// The shells whose completions the package ships.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Writes the completion scripts under `root` (a staging root: `root/usr/share/...`).
pub fn write_completions(root: &Path) -> io::Result<()> {
    for (bin, cmd) in completion_commands() {
        for shell in SHELLS {
            let path = root.join(completion_path(shell, bin));
            std::fs::create_dir_all(path.parent().expect("nested path"))?;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), bin, &mut out);
            std::fs::write(&path, out)?;
        }
    }
    Ok(())
}

/// Where the example configuration goes, under a staging root.
pub const EXAMPLE_PATH: &str = "usr/share/doc/halvm/examples/halvm.toml";

/// Writes the example halvm.toml (the one halvm.toml(5) shows, checked by the config's tests).
pub fn write_example(root: &Path) -> io::Result<()> {
    let path = root.join(EXAMPLE_PATH);
    std::fs::create_dir_all(path.parent().expect("nested path"))?;
    let text = format!(
        "# Example /etc/halvm/halvm.toml; every key is described in halvm.toml(5).\n{}",
        halvm_config::EXAMPLE
    );
    std::fs::write(path, text)
}

const EXIT: &str = "0 on success; 3 when the command line is invalid (lvm's EINVALID_CMD_LINE); 5 when the command failed (lvm's ECMD_FAILED), including vgck and pvck finding damaged or stale metadata.";

/// One page per lvmeta command, as lvm2 has lvcreate(8): (`lvmeta-<command>`, roff).
pub fn lvmeta_command_pages() -> Vec<(String, String)> {
    let top = lvmeta_cli::cli();
    let version = env!("CARGO_PKG_VERSION");
    top.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|sub| {
            let name = sub.get_name();
            let group = lvmeta_cli::MAN_GROUPS
                .iter()
                .find(|g| g.2.contains(&name))
                .map(|g| format!("{}(8), ", g.0))
                .unwrap_or_default();
            let see_also = format!("lvmeta(8), {group}{name}(8), halvm.toml(5)");
            let sections = [
                halvm_man::Section {
                    title: "Exit status",
                    body: EXIT,
                },
                halvm_man::Section {
                    title: "Environment",
                    body: "HALVM_CONFIG: the configuration file (default /etc/halvm/halvm.toml). HALVM_SYSTEM_ID: this host's system ID.",
                },
                halvm_man::Section {
                    title: "See also",
                    body: &see_also,
                },
            ];
            (
                format!("lvmeta-{name}"),
                halvm_man::render_subcommand("lvmeta", sub, version, "8", &sections),
            )
        })
        .collect()
}
