//! The `lvmeta` binary: parses the command line, runs it, and maps errors to lvm's exit
//! codes (0 ok, 3 invalid command line, 5 command failed) in this one place.

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
            if o.failed {
                5
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("  {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
