//! The LVM-activate agent, built inside this package so the conformance tests run a fresh
//! binary (same entry point as the agent's own `main`).

fn main() {
    std::process::exit(i32::from(halvm_lvm_activate::main_exit().code()));
}
