//! The lvmeta CLI, built inside this package so the lab tests can copy a fresh binary into
//! the guests (Cargo exposes only a package's own binaries to its tests). Same entry point
//! and exit codes as lvmeta-cli's own `main`.

use std::io::Write;

fn main() {
    let matches = match lvmeta_cli::cli().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 3,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match lvmeta_cli::run(&matches) {
        Ok(o) => {
            let _ = std::io::stdout().write_all(o.stdout.as_bytes());
            let _ = std::io::stderr().write_all(o.stderr.as_bytes());
            i32::from(o.failed) * 5
        }
        Err(e) => {
            eprintln!("  {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
