//! The `lvmc` binary's run (src/main.rs only calls it; test copies reuse it).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use crate::{forward, outcome, socket_path, utf8_argv, Target};

/// lvmc's whole run: forward, else exec `local` (the full lvmeta's file name: `lvmeta`;
/// test copies name theirs) found beside this binary or on PATH.
pub fn main(local: &str) -> ! {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Target::Socket(path) = socket_path() {
        let argv = utf8_argv(std::iter::once(OsString::from("lvmeta")).chain(args.clone()));
        if let Some(argv) = argv {
            if let Some(code) = outcome(forward(&path, &argv), "lvmc") {
                std::process::exit(code);
            }
        }
    }
    // Not forwarded: the full lvmeta, as if it had been run instead of lvmc.
    let Some(lvmeta) = find_lvmeta(local) else {
        eprintln!("  lvmc: no {local} beside lvmc or on PATH");
        std::process::exit(127);
    };
    let e = std::process::Command::new(&lvmeta).args(&args).exec();
    eprintln!("  lvmc: cannot run {}: {e}", lvmeta.display());
    std::process::exit(127);
}

/// `local` in lvmc's own directory (as packaged, both in /usr/sbin), else on PATH.
fn find_lvmeta(local: &str) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(local)));
    let path = std::env::var_os("PATH").unwrap_or_default();
    beside
        .into_iter()
        .chain(std::env::split_paths(&path).map(|d| d.join(local)))
        .find(|p| is_executable(p))
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
