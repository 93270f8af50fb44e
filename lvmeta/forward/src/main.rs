//! `lvmc ARGS...` = `lvmeta ARGS...`, run by a resident lvmeta-server's worker (no exec of
//! the full lvmeta, no start-up work of its own); without a server, or refused, it execs the
//! full `lvmeta` (beside lvmc, else on PATH) with the same arguments. lvmc(8).
//!
//! Kept tiny on purpose (no clap, no allocator crate): it is built static and non-PIE
//! (scripts/build-lvmc) so that it starts in a few ms in a TCG guest.

fn main() {
    lvmeta_forward::lvmc::main("lvmeta")
}
