//! [`Plan`] → CIB XML, a `pcs` script, `crm configure` text. Each output carries the
//! translation report as comments.

use crate::plan::*;
use halvm_xml::escape as xml_escape;

/// The CIB schema the XML declares (Pacemaker 2.0 and later accept it).
pub const CIB_SCHEMA: &str = "pacemaker-3.0";

/// XML comments may not contain `--` nor end with `-`.
fn xml_comment(s: &str) -> String {
    let mut t = s.replace("--", "- -");
    if t.ends_with('-') {
        t.push(' ');
    }
    format!("<!-- {} -->", xml_escape_comment(&t))
}

fn xml_escape_comment(s: &str) -> String {
    // Comments are not entity-decoded; only keep them well-formed.
    s.replace("--", "- -")
}

fn nvpairs(
    out: &mut String,
    indent: &str,
    set_tag: &str,
    set_id: &str,
    pairs: &[(String, String)],
) {
    if pairs.is_empty() {
        return;
    }
    out.push_str(&format!(
        "{indent}<{set_tag} id=\"{}\">\n",
        xml_escape(set_id)
    ));
    for (k, v) in pairs {
        out.push_str(&format!(
            "{indent}  <nvpair id=\"{}\" name=\"{}\" value=\"{}\"/>\n",
            xml_escape(&format!("{set_id}-{k}")),
            xml_escape(k),
            xml_escape(v)
        ));
    }
    out.push_str(&format!("{indent}</{set_tag}>\n"));
}

fn primitive_xml(out: &mut String, indent: &str, p: &Primitive) {
    let provider = p
        .provider
        .as_deref()
        .map(|pr| format!(" provider=\"{}\"", xml_escape(pr)))
        .unwrap_or_default();
    out.push_str(&format!(
        "{indent}<primitive id=\"{}\" class=\"{}\"{provider} type=\"{}\">\n",
        xml_escape(&p.id),
        xml_escape(&p.class),
        xml_escape(&p.agent)
    ));
    let inner = format!("{indent}  ");
    nvpairs(
        out,
        &inner,
        "instance_attributes",
        &format!("{}-instance_attributes", p.id),
        &p.params,
    );
    nvpairs(
        out,
        &inner,
        "meta_attributes",
        &format!("{}-meta_attributes", p.id),
        &p.meta,
    );
    if !p.ops.is_empty() {
        out.push_str(&format!("{inner}<operations>\n"));
        for o in &p.ops {
            let mut attrs = format!(
                "id=\"{}\" name=\"{}\" interval=\"{}\"",
                xml_escape(&format!("{}-{}-interval-{}", p.id, o.name, o.interval)),
                xml_escape(&o.name),
                xml_escape(&o.interval)
            );
            if let Some(t) = &o.timeout {
                attrs.push_str(&format!(" timeout=\"{}\"", xml_escape(t)));
            }
            if let Some(f) = &o.on_fail {
                attrs.push_str(&format!(" on-fail=\"{}\"", xml_escape(f)));
            }
            out.push_str(&format!("{inner}  <op {attrs}/>\n"));
        }
        out.push_str(&format!("{inner}</operations>\n"));
    }
    out.push_str(&format!("{indent}</primitive>\n"));
}

/// The full CIB: configuration (properties, nodes, resources, constraints, fencing topology,
/// rsc_defaults) and an empty status section.
pub fn render_cib(plan: &Plan) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "<cib validate-with=\"{CIB_SCHEMA}\" epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\">\n"
    ));
    o.push_str(&format!(
        "  {}\n",
        xml_comment(&format!(
            "translated by cluster-conf from cluster.conf of cluster {} (config_version {})",
            plan.cluster_name, plan.config_version
        ))
    ));
    for n in &plan.notes {
        o.push_str(&format!("  {}\n", xml_comment(&n.to_string())));
    }
    o.push_str("  <configuration>\n    <crm_config>\n");
    nvpairs(
        &mut o,
        "      ",
        "cluster_property_set",
        "cib-bootstrap-options",
        &plan.properties,
    );
    o.push_str("    </crm_config>\n    <nodes>\n");
    for n in &plan.nodes {
        o.push_str(&format!(
            "      <node id=\"{}\" uname=\"{}\"/>\n",
            n.id,
            xml_escape(&n.name)
        ));
    }
    o.push_str("    </nodes>\n    <resources>\n");
    for s in &plan.stonith {
        primitive_xml(&mut o, "      ", s);
    }
    for g in &plan.groups {
        o.push_str(&format!(
            "      {}\n      <group id=\"{}\">\n",
            xml_comment(&format!("service {}", g.service)),
            xml_escape(&g.id)
        ));
        nvpairs(
            &mut o,
            "        ",
            "meta_attributes",
            &format!("{}-meta_attributes", g.id),
            &g.meta,
        );
        for p in &g.members {
            primitive_xml(&mut o, "        ", p);
        }
        o.push_str("      </group>\n");
    }
    o.push_str("    </resources>\n    <constraints>\n");
    for l in &plan.locations {
        match &l.kind {
            LocationKind::Node { node, score } => o.push_str(&format!(
                "      <rsc_location id=\"{}\" rsc=\"{}\" node=\"{}\" score=\"{}\"/>\n",
                xml_escape(&l.id),
                xml_escape(&l.rsc),
                xml_escape(node),
                score.cib()
            )),
            LocationKind::NotOn { score, not_on } => {
                o.push_str(&format!(
                    "      <rsc_location id=\"{}\" rsc=\"{}\">\n        <rule id=\"{}-rule\" score=\"{}\" boolean-op=\"and\">\n",
                    xml_escape(&l.id),
                    xml_escape(&l.rsc),
                    xml_escape(&l.id),
                    score.cib()
                ));
                if not_on.is_empty() {
                    o.push_str(&format!(
                        "          <expression id=\"{}-rule-expr\" attribute=\"#uname\" operation=\"defined\"/>\n",
                        xml_escape(&l.id)
                    ));
                }
                for (i, n) in not_on.iter().enumerate() {
                    let suffix = if i == 0 {
                        String::new()
                    } else {
                        format!("-{i}")
                    };
                    o.push_str(&format!(
                        "          <expression id=\"{}-rule-expr{suffix}\" attribute=\"#uname\" operation=\"ne\" value=\"{}\"/>\n",
                        xml_escape(&l.id),
                        xml_escape(n)
                    ));
                }
                o.push_str("        </rule>\n      </rsc_location>\n");
            }
        }
    }
    for c in &plan.colocations {
        o.push_str(&format!(
            "      <rsc_colocation id=\"{}\" rsc=\"{}\" with-rsc=\"{}\" score=\"{}\"/>\n",
            xml_escape(&c.id),
            xml_escape(&c.rsc),
            xml_escape(&c.with_rsc),
            c.score.cib()
        ));
    }
    o.push_str("    </constraints>\n");
    if !plan.fencing_levels.is_empty() {
        o.push_str("    <fencing-topology>\n");
        for l in &plan.fencing_levels {
            o.push_str(&format!(
                "      <fencing-level id=\"{}\" index=\"{}\" target=\"{}\" devices=\"{}\"/>\n",
                xml_escape(&l.id),
                l.index,
                xml_escape(&l.target),
                xml_escape(&l.devices.join(","))
            ));
        }
        o.push_str("    </fencing-topology>\n");
    }
    if !plan.rsc_defaults.is_empty() {
        o.push_str("    <rsc_defaults>\n");
        nvpairs(
            &mut o,
            "      ",
            "meta_attributes",
            "rsc-options",
            &plan.rsc_defaults,
        );
        o.push_str("    </rsc_defaults>\n");
    }
    o.push_str("  </configuration>\n  <status/>\n</cib>\n");
    o
}

/// Quotes a word for bash when it needs it.
pub fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@,+-%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn sh_kv(k: &str, v: &str) -> String {
    sh_quote(&format!("{k}={v}"))
}

/// ` 'k=v' 'k=v'...`: a command's parameters, each quoted.
fn sh_kvs(kvs: &[(String, String)]) -> String {
    kvs.iter()
        .map(|(k, v)| format!(" {}", sh_kv(k, v)))
        .collect()
}

fn pcs_ops(p: &Primitive) -> String {
    let mut s = String::new();
    for o in &p.ops {
        s.push_str(&format!(
            " op {} {}",
            sh_quote(&o.name),
            sh_kv("interval", &o.interval)
        ));
        if let Some(t) = &o.timeout {
            s.push_str(&format!(" {}", sh_kv("timeout", t)));
        }
        if let Some(f) = &o.on_fail {
            s.push_str(&format!(" {}", sh_kv("on-fail", f)));
        }
    }
    s
}

fn comment_lines(prefix: &str, text: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

/// A bash script of `pcs` commands. With `CIB=file` set, every command edits that CIB file
/// offline (`pcs -f`); without it, the running cluster. `PCS_CREATE_FLAGS` is appended to each
/// `resource create`/`stonith create` (e.g. `--force` where the agents are not installed).
pub fn render_pcs(plan: &Plan) -> String {
    let mut o = String::new();
    o.push_str("#!/bin/bash\n");
    o.push_str(&format!(
        "# Pacemaker configuration translated by cluster-conf from cluster.conf of cluster {} (config_version {}).\n",
        plan.cluster_name, plan.config_version
    ));
    o.push_str("# Usage: CIB=cib.xml bash THIS   edits the CIB file offline (pcs -f); then: pcs cluster cib-push cib.xml --config\n");
    o.push_str("#        bash THIS               applies the commands to the running cluster\n");
    o.push_str("# PCS_CREATE_FLAGS=--force       if the resource or fence agents are not installed where this runs\n");
    for n in &plan.notes {
        o.push_str(&comment_lines("# ", &n.to_string()));
    }
    o.push_str("set -euo pipefail\n");
    o.push_str("PCS=(pcs)\nif [ -n \"${CIB:-}\" ]; then PCS=(pcs -f \"$CIB\"); fi\n");
    o.push_str("read -r -a CREATE_FLAGS <<< \"${PCS_CREATE_FLAGS:-}\"\n");
    for (k, v) in &plan.properties {
        o.push_str(&format!("\"${{PCS[@]}}\" property set {}\n", sh_kv(k, v)));
    }
    for (k, v) in &plan.rsc_defaults {
        o.push_str(&format!(
            "\"${{PCS[@]}}\" resource defaults update {}\n",
            sh_kv(k, v)
        ));
    }
    for s in &plan.stonith {
        let params = sh_kvs(&s.params);
        o.push_str(&format!(
            "\"${{PCS[@]}}\" stonith create {} {}{params}{} \"${{CREATE_FLAGS[@]}}\"\n",
            sh_quote(&s.id),
            sh_quote(&s.agent),
            pcs_ops(s)
        ));
    }
    for l in &plan.fencing_levels {
        let devs: String = l
            .devices
            .iter()
            .map(|d| format!(" {}", sh_quote(d)))
            .collect();
        o.push_str(&format!(
            "\"${{PCS[@]}}\" stonith level add {} {}{devs}\n",
            l.index,
            sh_quote(&l.target)
        ));
    }
    for g in &plan.groups {
        o.push_str(&format!("# service {}\n", g.service));
        for p in &g.members {
            let params = sh_kvs(&p.params);
            o.push_str(&format!(
                "\"${{PCS[@]}}\" resource create {} {}{params}{} --group {} --no-default-ops \"${{CREATE_FLAGS[@]}}\"\n",
                sh_quote(&p.id),
                sh_quote(&p.spec()),
                pcs_ops(p),
                sh_quote(&g.id)
            ));
        }
        if !g.meta.is_empty() {
            let meta = sh_kvs(&g.meta);
            o.push_str(&format!(
                "\"${{PCS[@]}}\" resource meta {}{meta}\n",
                sh_quote(&g.id)
            ));
        }
    }
    for l in &plan.locations {
        match &l.kind {
            LocationKind::Node { node, score } => o.push_str(&format!(
                "\"${{PCS[@]}}\" constraint location {} prefers {}\n",
                sh_quote(&l.rsc),
                sh_kv(node, &score.cib())
            )),
            LocationKind::NotOn { score, not_on } => {
                let expr = if not_on.is_empty() {
                    "defined '#uname'".to_string()
                } else {
                    not_on
                        .iter()
                        .map(|n| format!("'#uname' ne {}", sh_quote(n)))
                        .collect::<Vec<_>>()
                        .join(" and ")
                };
                o.push_str(&format!(
                    "\"${{PCS[@]}}\" constraint location {} rule {} {} {expr}\n",
                    sh_quote(&l.rsc),
                    sh_kv("id", &l.id),
                    sh_kv("score", &score.cib())
                ));
            }
        }
    }
    for c in &plan.colocations {
        o.push_str(&format!(
            "\"${{PCS[@]}}\" constraint colocation add {} with {} -- {}\n",
            sh_quote(&c.rsc),
            sh_quote(&c.with_rsc),
            c.score.cib()
        ));
    }
    o
}

/// crm's value quoting: double quotes when needed.
fn crm_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@,+-%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn crm_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!(" {k}={}", crm_quote(v)))
        .collect()
}

fn crm_primitive(o: &mut String, p: &Primitive) {
    o.push_str(&format!("primitive {} {}", p.id, p.spec()));
    if !p.params.is_empty() {
        o.push_str(&format!(" \\\n\tparams{}", crm_pairs(&p.params)));
    }
    if !p.meta.is_empty() {
        o.push_str(&format!(" \\\n\tmeta{}", crm_pairs(&p.meta)));
    }
    for op in &p.ops {
        o.push_str(&format!(
            " \\\n\top {} interval={}",
            op.name,
            crm_quote(&op.interval)
        ));
        if let Some(t) = &op.timeout {
            o.push_str(&format!(" timeout={}", crm_quote(t)));
        }
        if let Some(f) = &op.on_fail {
            o.push_str(&format!(" on-fail={}", crm_quote(f)));
        }
    }
    o.push('\n');
}

/// `crm configure` text (load it with `crm configure load update FILE`).
pub fn render_crm(plan: &Plan) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "# Pacemaker configuration translated by cluster-conf from cluster.conf of cluster {} (config_version {}).\n# Load with: crm configure load update THIS\n",
        plan.cluster_name, plan.config_version
    ));
    for n in &plan.notes {
        o.push_str(&comment_lines("# ", &n.to_string()));
    }
    for n in &plan.nodes {
        o.push_str(&format!("node {}: {}\n", n.id, n.name));
    }
    for s in &plan.stonith {
        crm_primitive(&mut o, s);
    }
    for g in &plan.groups {
        o.push_str(&format!("# service {}\n", g.service));
        for p in &g.members {
            crm_primitive(&mut o, p);
        }
        let members: String = g.members.iter().map(|p| format!(" {}", p.id)).collect();
        o.push_str(&format!("group {}{members}", g.id));
        if !g.meta.is_empty() {
            o.push_str(&format!(" \\\n\tmeta{}", crm_pairs(&g.meta)));
        }
        o.push('\n');
    }
    for l in &plan.locations {
        match &l.kind {
            LocationKind::Node { node, score } => o.push_str(&format!(
                "location {} {} {}: {}\n",
                l.id,
                l.rsc,
                score.crm(),
                node
            )),
            LocationKind::NotOn { score, not_on } => {
                let expr = if not_on.is_empty() {
                    "defined #uname".to_string()
                } else {
                    not_on
                        .iter()
                        .map(|n| format!("#uname ne {n}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                };
                o.push_str(&format!(
                    "location {} {} \\\n\trule {}: {expr}\n",
                    l.id,
                    l.rsc,
                    score.crm()
                ));
            }
        }
    }
    for c in &plan.colocations {
        o.push_str(&format!(
            "colocation {} {}: {} {}\n",
            c.id,
            c.score.crm(),
            c.rsc,
            c.with_rsc
        ));
    }
    if !plan.fencing_levels.is_empty() {
        o.push_str("fencing_topology");
        let mut target = "";
        for l in &plan.fencing_levels {
            if l.target != target {
                target = &l.target;
                o.push_str(&format!(" \\\n\t{}:", l.target));
            }
            o.push_str(&format!(" {}", l.devices.join(",")));
        }
        o.push('\n');
    }
    if !plan.properties.is_empty() {
        o.push_str(&format!(
            "property cib-bootstrap-options:{}\n",
            crm_pairs(&plan.properties)
        ));
    }
    if !plan.rsc_defaults.is_empty() {
        o.push_str(&format!(
            "rsc_defaults rsc-options:{}\n",
            crm_pairs(&plan.rsc_defaults)
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("abc"), "abc");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(crm_quote("a b"), "\"a b\"");
        assert_eq!(crm_quote("x\"y"), "\"x\\\"y\"");
        assert_eq!(xml_escape("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
        assert_eq!(xml_comment("a--b-"), "<!-- a- -b-  -->");
    }
}
