//! The `lvmeta-server` binary: errors become exit codes here (0 stopped by SIGTERM/SIGINT,
//! 1 could not serve, 2 invalid command line).

// The workers run lvmeta's commands: the allocator of the lvmeta binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

fn main() -> ExitCode {
    let m = match lvmeta_server::cli().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let opts = match lvmeta_server::options(&m) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lvmeta-server: {e}");
            return ExitCode::from(2);
        }
    };
    halvm_syslog::Syslog::new("lvmeta-server", log::LevelFilter::Info)
        .with_facility(3)
        .with_stderr(log::LevelFilter::Warn)
        .install();
    match lvmeta_server::run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}
