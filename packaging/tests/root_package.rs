//! Root tier: `scripts/package` builds the .deb; its contents are checked unpacked
//! (`dpkg-deb -x` into an empty root: files, modes, the man page renders, bash completion
//! works); then it is installed for real with `dpkg -i` (pcs reads agents only from
//! /usr/lib/ocf/resource.d), `pcs resource describe ocf:halvm:LVM-activate` must show the
//! agent's full documentation and `man ocf_halvm_LVM-activate` must find the page; the package
//! is purged afterwards, also when a check fails.
//!
//! The test refuses to run when a `halvm` package or an unpackaged
//! /usr/lib/ocf/resource.d/halvm is already on the machine (it would replace and then remove
//! them). Needs dpkg, man-db, bash-completion, pcs (scripts/install-deps).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Purges the package when dropped: the machine is left as it was, also after a failed check.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let out = Command::new("dpkg").args(["--purge", "halvm"]).output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            eprintln!("dpkg --purge halvm failed: {out:?}");
        }
    }
}

fn build_package() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let out = run(Command::new(repo().join("scripts/package")).env("CARGO_TARGET_DIR", &target));
    let debs: Vec<PathBuf> = std::fs::read_dir(target.join("debian"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("halvm_{}-", env!("CARGO_PKG_VERSION")))
        })
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}\n{}", text(&out));
    debs.into_iter().next().unwrap()
}

#[test]
fn root_package_builds_installs_and_documents_the_agent() {
    halvm_testkit::require_root();
    for (tool, pkg) in [
        ("dpkg-deb", "dpkg"),
        ("man", "man-db"),
        ("pcs", "pcs"),
        ("bash", "bash"),
    ] {
        halvm_testkit::require_tool(tool, pkg);
    }
    assert!(
        Path::new("/usr/share/bash-completion/bash_completion").exists(),
        "prerequisite missing: bash-completion (Debian package bash-completion); run scripts/install-deps"
    );
    let deb = build_package();

    // Unpacked into an empty root.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(r));
    for (path, mode) in [
        ("usr/sbin/lvmeta", 0o755),
        ("usr/sbin/cluster-conf", 0o755),
        ("usr/sbin/clvmd-rs", 0o755),
        ("lib/systemd/system/clvmd-rs.service", 0o644),
        ("usr/share/man/man8/clvmd-rs.8.gz", 0o644),
        ("usr/sbin/lvmeta-server", 0o755),
        ("usr/sbin/lvmc", 0o755),
        ("lib/systemd/system/lvmeta-server.service", 0o644),
        ("usr/share/man/man8/lvmeta-server.8.gz", 0o644),
        ("usr/share/man/man8/lvmc.8.gz", 0o644),
        ("usr/lib/ocf/resource.d/halvm/LVM-activate", 0o755),
        ("usr/share/man/man7/ocf_halvm_LVM-activate.7.gz", 0o644),
        ("usr/lib/ocf/resource.d/halvm/clvmd", 0o755),
        ("usr/share/man/man7/ocf_halvm_clvmd.7.gz", 0o644),
        ("usr/share/man/man8/lvmeta.8.gz", 0o644),
        ("usr/share/man/man8/lvmeta-lvcreate.8.gz", 0o644),
        ("usr/share/man/man8/cluster-conf.8.gz", 0o644),
        ("usr/share/man/man5/halvm.toml.5.gz", 0o644),
        ("usr/share/bash-completion/completions/lvmeta", 0o644),
        ("usr/share/bash-completion/completions/cluster-conf", 0o644),
        ("usr/share/doc/halvm/examples/halvm.toml", 0o644),
    ] {
        let meta = std::fs::metadata(r.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{path}");
    }
    let version = text(&run(
        Command::new(r.join("usr/sbin/lvmeta")).arg("--version")
    ));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    // lvmc with no server (LVMETA_SERVER=0) runs the lvmeta beside it, whatever is on PATH.
    let version = text(&run(Command::new(r.join("usr/sbin/lvmc"))
        .arg("--version")
        .env("LVMETA_SERVER", "0")
        .env("PATH", "/nonexistent")));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    let page = text(&run(Command::new("man")
        .arg("-l")
        .arg(r.join("usr/share/man/man7/ocf_halvm_LVM-activate.7.gz"))
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")));
    assert!(page.contains("ocf_halvm_LVM-activate - "), "{page}");
    assert!(page.contains("vg_access_mode"), "{page}");
    // bash completion: the script registers _lvmeta, which completes subcommands and options.
    let completion = r.join("usr/share/bash-completion/completions/lvmeta");
    let out = text(&run(Command::new("bash").arg("-c").arg(format!(
        "source '{}'; complete -p lvmeta
         COMP_WORDS=(lvmeta lvcr); COMP_CWORD=1; _lvmeta lvmeta lvcr lvmeta; echo \"words: ${{COMPREPLY[*]}}\"
         COMP_WORDS=(lvmeta lvcreate --si); COMP_CWORD=2; _lvmeta lvmeta --si lvcreate; echo \"opts: ${{COMPREPLY[*]}}\"",
        completion.display()
    ))));
    assert!(out.contains(" -F _lvmeta lvmeta\n"), "{out}");
    assert!(out.contains("words: lvcreate\n"), "{out}");
    assert!(out.contains("opts: --size\n"), "{out}");

    // Installed for real, then purged.
    let status = Command::new("dpkg").args(["-s", "halvm"]).output().unwrap();
    assert!(
        !status.status.success(),
        "a halvm package is already installed; remove it before running this test"
    );
    assert!(
        !Path::new("/usr/lib/ocf/resource.d/halvm").exists(),
        "/usr/lib/ocf/resource.d/halvm exists outside the package (scripts/install-agents?); remove it before running this test"
    );
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let installed = Installed;
    // The daemons' units as installed, with the packaged binaries in their ExecStart.
    for unit in ["clvmd-rs.service", "lvmeta-server.service"] {
        let verify = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(format!("/lib/systemd/system/{unit}"))
            .output()
            .unwrap();
        assert!(
            verify.status.success() && verify.stderr.is_empty(),
            "systemd-analyze verify {unit}: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    let where_ = text(&run(Command::new("man").args(["-w", "lvmc"])));
    assert_eq!(where_.trim(), "/usr/share/man/man8/lvmc.8.gz");
    let help = text(&run(Command::new("/usr/sbin/clvmd-rs").arg("--help")));
    assert!(help.contains("lvm_<vg>"), "{help}");
    let where_ = text(&run(Command::new("man").args(["-w", "clvmd-rs"])));
    assert_eq!(where_.trim(), "/usr/share/man/man8/clvmd-rs.8.gz");
    let describe = text(&run(Command::new("pcs").args([
        "resource",
        "describe",
        "ocf:halvm:LVM-activate",
    ])));
    let meta = text(&run(Command::new(
        "/usr/lib/ocf/resource.d/halvm/LVM-activate",
    )
    .arg("meta-data")));
    // The full docs: the long description's paragraphs and every parameter with its text.
    for needle in [
        "ocf:halvm:LVM-activate - This agent activates/deactivates logical volumes.",
        "drop-in replacement for resource-agents' LVM-activate",
        "majority_pvs",
        "OCF_CHECK_LEVEL",
    ] {
        assert!(describe.contains(needle), "`{needle}` not in:\n{describe}");
    }
    for p in [
        "vgname",
        "lvname",
        "vg_access_mode",
        "activation_mode",
        "tag",
        "partial_activation",
        "degraded_activation",
        "majority_pvs",
    ] {
        assert!(
            describe.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with(&format!("{p}:")) || l.starts_with(&format!("{p} ("))
            }),
            "parameter {p} not described:\n{describe}"
        );
    }
    assert!(meta.contains("<longdesc"), "{meta}");
    let where_ = text(&run(
        Command::new("man").args(["-w", "ocf_halvm_LVM-activate"])
    ));
    assert_eq!(
        where_.trim(),
        "/usr/share/man/man7/ocf_halvm_LVM-activate.7.gz"
    );
    let where_ = text(&run(Command::new("man").args(["-w", "lvmeta-lvcreate"])));
    assert_eq!(where_.trim(), "/usr/share/man/man8/lvmeta-lvcreate.8.gz");
    let bash = text(&run(Command::new("bash").arg("-c").arg(
        "source /usr/share/bash-completion/bash_completion; _completion_loader lvmeta; complete -p lvmeta",
    )));
    assert!(bash.contains("_lvmeta"), "{bash}");
    drop(installed);
    assert!(
        !Path::new("/usr/sbin/lvmeta").exists()
            && !Path::new("/usr/lib/ocf/resource.d/halvm/LVM-activate").exists(),
        "dpkg --purge left files behind"
    );
}
