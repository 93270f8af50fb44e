//! The `lvmeta` binary; `lvmeta_cli::main_exit` maps errors to lvm's exit codes.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(lvmeta_cli::main_exit());
}
