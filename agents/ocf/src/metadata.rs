//! Meta-data XML from an agent definition.
//!
//! The output must validate against three schemas at once: ra-api-1.dtd (what ocf-tester
//! uses), resource-agents' metadata.rng and pcs' ocf-1.1.rng. Their intersection decides
//! the shape: element order version, longdesc, shortdesc, parameters, actions; both
//! descriptions on every parameter with a `lang`; content types only `string`, `integer`,
//! `boolean` (no `select`, `time` or `second`); no `unique-group`, `reloadable` or
//! `<deprecated>` (the DTD lacks them), so those facts go into the descriptions;
//! no `reload-agent` action; roles spelled `Promoted`/`Unpromoted`.

use crate::definition::{AgentDefinition, ParamDef, ParamType, Role};
use halvm_xml::escape as esc;

/// The OCF version the agents implement (the `<version>` element).
pub const OCF_VERSION: &str = "1.1";

/// Renders the meta-data document.
pub fn render(def: &AgentDefinition) -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\"?>\n");
    x.push_str("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
    x.push_str(&format!(
        "<resource-agent name=\"{}\" version=\"{}\">\n",
        esc(def.name),
        esc(def.version)
    ));
    x.push_str(&format!("<version>{OCF_VERSION}</version>\n"));
    x.push_str(&format!(
        "<longdesc lang=\"en\">\n{}\n</longdesc>\n",
        esc(def.longdesc.trim())
    ));
    x.push_str(&format!(
        "<shortdesc lang=\"en\">{}</shortdesc>\n",
        esc(def.shortdesc.trim())
    ));
    x.push_str("<parameters>\n");
    for p in def.params {
        render_param(&mut x, p);
    }
    x.push_str("</parameters>\n");
    x.push_str("<actions>\n");
    for a in def.actions {
        x.push_str(&format!(
            "<action name=\"{}\" timeout=\"{}s\"",
            a.name.as_str(),
            a.timeout_s
        ));
        if let Some(i) = a.interval_s {
            x.push_str(&format!(" interval=\"{i}s\""));
        }
        if let Some(d) = a.depth {
            x.push_str(&format!(" depth=\"{d}\""));
        }
        if let Some(r) = a.role {
            x.push_str(match r {
                Role::Promoted => " role=\"Promoted\"",
                Role::Unpromoted => " role=\"Unpromoted\"",
            });
        }
        x.push_str(" />\n");
    }
    x.push_str("</actions>\n");
    x.push_str("</resource-agent>\n");
    x
}

/// The full parameter description: the definition's text plus the facts the schemas cannot
/// carry as markup. Shared with the man page.
pub fn param_longdesc(p: &ParamDef) -> String {
    let mut text = p.longdesc.trim().to_string();
    if let Some(allowed) = p.allowed {
        text.push_str(&format!("\n\nAllowed values: {}.", allowed.join(", ")));
    }
    if p.kind == ParamType::Time {
        text.push_str(
            "\n\nA time: a number with an optional unit (ms, s, min, h); seconds if none.",
        );
    }
    if let Some(g) = p.unique_group {
        text.push_str(&format!(
            "\n\nUnique group {g}: no two resources may use the same combination of the parameters in this group."
        ));
    }
    if let Some(d) = p.deprecated {
        text.push_str("\n\nDeprecated");
        if let Some(r) = d.replaced_with {
            text.push_str(&format!(", replaced by {r}"));
        }
        text.push_str(&format!(": {}", d.desc.trim()));
    }
    text
}

/// The short description, flagged when deprecated.
pub fn param_shortdesc(p: &ParamDef) -> String {
    match p.deprecated {
        Some(_) => format!("{} (deprecated)", p.shortdesc.trim()),
        None => p.shortdesc.trim().to_string(),
    }
}

fn render_param(x: &mut String, p: &ParamDef) {
    x.push_str(&format!(
        "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">\n",
        esc(p.name),
        u8::from(p.unique_group.is_some()),
        u8::from(p.required)
    ));
    x.push_str(&format!(
        "<longdesc lang=\"en\">\n{}\n</longdesc>\n",
        esc(&param_longdesc(p))
    ));
    x.push_str(&format!(
        "<shortdesc lang=\"en\">{}</shortdesc>\n",
        esc(&param_shortdesc(p))
    ));
    match p.default {
        Some(d) => x.push_str(&format!(
            "<content type=\"{}\" default=\"{}\" />\n",
            p.kind.xml_type(),
            esc(d)
        )),
        None => x.push_str(&format!("<content type=\"{}\" />\n", p.kind.xml_type())),
    }
    x.push_str("</parameter>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{ActionDef, ActionName, Deprecation};

    const PARAMS: &[ParamDef] = &[
        ParamDef {
            required: true,
            longdesc: "The <name> & more",
            unique_group: Some("ident"),
            ..ParamDef::new("name", ParamType::String, "Name")
        },
        ParamDef {
            allowed: Some(&["a", "b"]),
            default: Some("a"),
            longdesc: "Mode",
            ..ParamDef::new("mode", ParamType::String, "Mode")
        },
        ParamDef {
            default: Some("10s"),
            longdesc: "Wait",
            deprecated: Some(Deprecation {
                replaced_with: Some("mode"),
                desc: "gone",
            }),
            ..ParamDef::new("wait", ParamType::Time, "Wait")
        },
    ];
    const DEF: AgentDefinition = AgentDefinition {
        name: "demo",
        version: "0.1",
        shortdesc: "Demo",
        longdesc: "Demo agent",
        params: PARAMS,
        actions: &[
            ActionDef::new(ActionName::Start, 20),
            ActionDef::new(ActionName::Stop, 20),
            ActionDef {
                interval_s: Some(10),
                depth: Some(0),
                ..ActionDef::new(ActionName::Monitor, 20)
            },
            ActionDef {
                interval_s: Some(11),
                role: Some(Role::Promoted),
                ..ActionDef::new(ActionName::Monitor, 20)
            },
            ActionDef::new(ActionName::MetaData, 5),
            ActionDef::new(ActionName::ValidateAll, 5),
        ],
        check_levels: &[0],
    };

    #[test]
    fn structure_follows_the_schema_intersection() {
        let xml = render(&DEF);
        let doc = roxmltree::Document::parse_with_options(
            &xml,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            },
        )
        .unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "resource-agent");
        let children: Vec<_> = root
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        assert_eq!(
            children,
            ["version", "longdesc", "shortdesc", "parameters", "actions"]
        );
        let name = root
            .descendants()
            .find(|n| n.attribute("name") == Some("name"))
            .unwrap();
        assert_eq!(name.attribute("unique"), Some("1"));
        assert_eq!(name.attribute("required"), Some("1"));
        let long = name
            .children()
            .find(|n| n.has_tag_name("longdesc"))
            .unwrap()
            .text()
            .unwrap();
        assert!(long.contains("The <name> & more"), "{long}");
        assert!(long.contains("Unique group ident"), "{long}");
        let types: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("content"))
            .map(|n| n.attribute("type").unwrap())
            .collect();
        assert_eq!(types, ["string", "string", "string"]);
        let wait = root
            .descendants()
            .find(|n| n.attribute("name") == Some("wait"))
            .unwrap();
        let short = wait
            .children()
            .find(|n| n.has_tag_name("shortdesc"))
            .unwrap()
            .text()
            .unwrap();
        assert_eq!(short, "Wait (deprecated)");
        assert!(
            xml.contains(
                "<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\" />"
            ),
            "{xml}"
        );
        assert!(xml.contains("role=\"Promoted\""), "{xml}");
        assert!(xml.contains("Allowed values: a, b."), "{xml}");
    }
}
