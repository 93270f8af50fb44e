//! The `lvmeta` binary; `lvmeta_cli::main_exit` maps errors to lvm's exit codes.

fn main() {
    std::process::exit(lvmeta_cli::main_exit());
}
