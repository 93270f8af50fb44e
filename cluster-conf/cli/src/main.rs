use std::process::ExitCode;

use cluster_conf_cli::{
    run, CliError, RunError, EXIT_INVALID, EXIT_IO, EXIT_OK, EXIT_USAGE, EXIT_WARNINGS,
};

fn main() -> ExitCode {
    // What was translated and what failed also goes to syslog/journald (user facility).
    halvm_syslog::init("cluster-conf", log::LevelFilter::Info);
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    // The one place errors become exit codes.
    let code = match run(std::env::args_os(), &mut stdout, &mut stderr) {
        Ok(()) => EXIT_OK,
        Err(RunError::Usage(e)) => {
            let _ = e.print();
            if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            }
        }
        Err(RunError::Cli(e)) => {
            use std::io::Write;
            let _ = writeln!(stderr, "cluster-conf: {e}");
            log::error!("{e}");
            match e {
                CliError::Invalid { .. } | CliError::Stack { .. } => EXIT_INVALID,
                CliError::Addr { .. } => EXIT_USAGE,
                CliError::Read { .. } | CliError::Write { .. } => EXIT_IO,
                CliError::Strict { .. } => EXIT_WARNINGS,
            }
        }
    };
    ExitCode::from(code)
}
