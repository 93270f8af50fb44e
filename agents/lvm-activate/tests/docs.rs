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
    halvm_man::render(&halvm_lvm_activate::cli(), "7", &extra)
}

#[test]
fn man_page_is_current() {
    halvm_testkit::assert_golden(halvm_man::page_path("LVM-activate", "7"), &page());
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
        page.contains(".TH LVM\\-activate 7") || page.contains(".TH LVM-activate 7"),
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
