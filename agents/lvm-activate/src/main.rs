//! The `LVM-activate` OCF agent binary.

fn main() {
    std::process::exit(i32::from(halvm_lvm_activate::main_exit().code()));
}
