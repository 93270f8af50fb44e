//! The clvmd agent (ocf:halvm:clvmd), built inside this package so the conformance and lab
//! tests run a fresh binary (same entry point as the agent's own `main`).

fn main() {
    std::process::exit(i32::from(halvm_clvmd_agent::main_exit().code()));
}
