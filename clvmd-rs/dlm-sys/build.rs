//! Finds libdlm_lt with pkg-config.
//!
//! We bind the non-threaded `libdlm_lt`: its completions are delivered by `dlm_dispatch` on the
//! lockspace fd in the caller's thread, so the daemon owns every thread that touches a
//! lockspace (the threaded libdlm starts its own dispatch thread per lockspace). Debian's
//! `libdlm_lt.pc` is a copy of `libdlm.pc` and names `-ldlm`, so pkg-config is used to check
//! the library is installed and where it lives, and the link line names `dlm_lt` itself.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let lib = pkg_config::Config::new()
        .cargo_metadata(false)
        .probe("libdlm_lt")
        .unwrap_or_else(|e| {
            panic!("libdlm_lt not found by pkg-config (install Debian's libdlm-dev): {e}")
        });
    for dir in &lib.link_paths {
        if dir.exists() {
            println!("cargo:rustc-link-search=native={}", dir.display());
        }
    }
    println!("cargo:rustc-link-lib=dylib=dlm_lt");
}
