//! The `clvmd` OCF agent binary (ocf:halvm:clvmd).

fn main() {
    std::process::exit(i32::from(halvm_clvmd_agent::main_exit().code()));
}
