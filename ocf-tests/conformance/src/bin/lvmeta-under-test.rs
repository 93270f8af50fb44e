//! The lvmeta CLI, built inside this package so the lab tests can copy a fresh binary into
//! the guests (Cargo exposes only a package's own binaries to its tests). Same entry point
//! and exit codes as lvmeta-cli's own `main`.

fn main() {
    std::process::exit(lvmeta_cli::main_exit());
}
