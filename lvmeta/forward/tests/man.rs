//! lvmc(8) is written by hand (lvmc has no clap definition to render): it must name the
//! version, the default socket and the variable the code uses.

#[test]
fn hand_written_page_matches_the_code() {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../man/lvmc.8"),
    )
    .unwrap();
    assert!(
        page.contains(&format!(
            ".TH lvmc 8  \"lvmc {}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "version in .TH"
    );
    assert!(page.contains(lvmeta_forward::client::DEFAULT_SOCKET));
    assert!(page.contains(lvmeta_forward::client::SOCKET_ENV));
    assert!(page.contains("5 also when the worker running the command died"));
    assert_eq!(lvmeta_forward::DIED_EXIT, 5);
}
