//! A copy of the `lvmeta` binary for this crate's tests (cargo builds only a package's own
//! binaries for its tests), as ocf-tests has: the same `main_exit`, the same allocator.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(lvmeta_cli::main_exit());
}
