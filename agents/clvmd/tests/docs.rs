//! The man page and the definition's consistency.

use halvm_clvmd_agent::definition::DEFINITION;

/// The whole page, generated from the definition.
fn page() -> String {
    let sections = halvm_ocf::man::sections(&DEFINITION);
    let extra: Vec<halvm_man::Section<'_>> = sections
        .iter()
        .map(|(title, body)| halvm_man::Section { title, body })
        .chain([halvm_man::Section {
            title: "See also",
            body: "clvmd-rs(8), ocf_halvm_LVM-activate(7), lvmeta(8), halvm.toml(5), ocf-tester(8), crm_resource(8), pcs(8)",
        }])
        .collect();
    // Named as resource-agents names its pages (ocf_heartbeat_lvmlockd(7)).
    let cli = halvm_clvmd_agent::cli().display_name("ocf_halvm_clvmd");
    halvm_man::render(&cli, "7", &extra)
}

#[test]
fn man_page_is_current() {
    halvm_testkit::assert_golden(halvm_man::page_path("ocf_halvm_clvmd", "7"), &page());
}

#[test]
fn man_page_documents_every_parameter_and_exit_code() {
    let page = page();
    for p in DEFINITION.params {
        assert!(page.contains(&format!(".B {}\n", p.name)), "{}", p.name);
    }
    for code in ["0", "1", "5", "6", "7"] {
        assert!(page.contains(&format!(".B {code}\n")), "{code}");
    }
    assert!(
        page.contains(".TH ocf_halvm_clvmd 7") && page.contains(".SH NAME\nocf_halvm_clvmd \\- "),
        "{}",
        &page[..200]
    );
}

#[test]
fn definition_is_consistent() {
    assert_eq!(DEFINITION.problems(), Vec::<String>::new());
    let names: Vec<&str> = DEFINITION.params.iter().map(|p| p.name).collect();
    // heartbeat lvmlockd's pidfile and socket_path keep their names.
    assert_eq!(
        names,
        ["daemon", "pidfile", "socket_path", "log_file", "debug"]
    );
}
