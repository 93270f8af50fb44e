//! A copy of the `lvmc` binary for this crate's tests; without a server it execs
//! `lvmeta-under-test` beside it, as lvmc execs `lvmeta`.

fn main() {
    lvmeta_forward::lvmc::main("lvmeta-under-test")
}
