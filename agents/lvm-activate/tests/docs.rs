//! The man page and the definition's consistency.

use halvm_lvm_activate::definition::DEFINITION;

/// The whole page, generated from the definition.
fn page() -> String {
    let sections = halvm_ocf::man::sections(&DEFINITION);
    let extra: Vec<halvm_man::Section<'_>> = sections
        .iter()
        .map(|(title, body)| halvm_man::Section { title, body })
        .chain([halvm_man::Section {
            title: "See also",
            body: "ocf-tester(8), crm_resource(8), pcs(8), lvmsystemid(7), lvm.conf(5)",
        }])
        .collect();
    // Named as resource-agents names its pages (ocf_heartbeat_LVM-activate(7)): man
    // ocf_halvm_LVM-activate; the synopsis keeps the agent's file name.
    let cli = halvm_lvm_activate::cli().display_name("ocf_halvm_LVM-activate");
    halvm_man::render(&cli, "7", &extra)
}

#[test]
fn man_page_is_current() {
    halvm_testkit::assert_golden(halvm_man::page_path("ocf_halvm_LVM-activate", "7"), &page());
}

#[test]
fn man_page_documents_every_parameter_and_exit_code() {
    let page = page();
    for p in DEFINITION.params {
        assert!(page.contains(&format!(".B {}\n", p.name)), "{}", p.name);
    }
    for code in ["0", "1", "2", "5", "6", "7", "190", "191"] {
        assert!(page.contains(&format!(".B {code}\n")), "{code}");
    }
    assert!(
        page.contains(".TH ocf_halvm_LVM-activate 7")
            && page.contains(".SH NAME\nocf_halvm_LVM\\-activate \\- "),
        "{}",
        &page[..200]
    );
}

#[test]
fn definition_is_consistent_and_matches_the_anchor_names() {
    assert_eq!(DEFINITION.problems(), Vec::<String>::new());
    let names: Vec<&str> = DEFINITION.params.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "vgname",
            "lvname",
            "vg_access_mode",
            "activation_mode",
            "tag",
            "partial_activation",
            "degraded_activation",
            "majority_pvs"
        ]
    );
}
