//! The clvmd-rs daemon, built inside this package so the lab tests run a fresh binary in the
//! guests (Cargo exposes only a package's own binaries to its tests).

fn main() -> std::process::ExitCode {
    clvmd_rs::main_from_args(std::env::args_os())
}
