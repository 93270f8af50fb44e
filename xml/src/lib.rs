//! XML escaping, in one place for every crate that writes XML by hand (the OCF agents'
//! meta-data, cluster-conf's CIB). No dependencies, no I/O.

/// Escapes text and attribute values (all five predefined entities, so the result is valid
/// in either quoting style).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_special_character_is_replaced() {
        assert_eq!(escape(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    }

    proptest! {
        #[test]
        fn escaped_text_survives_parsing(s in "\\PC{0,40}") {
            let xml = format!("<a x=\"{}\" y='{}'>{}</a>", escape(&s), escape(&s), escape(&s));
            let doc = roxmltree::Document::parse(&xml).unwrap();
            prop_assert_eq!(doc.root_element().attribute("x"), Some(s.as_str()));
            prop_assert_eq!(doc.root_element().attribute("y"), Some(s.as_str()));
            prop_assert_eq!(doc.root_element().text().unwrap_or(""), s.as_str());
        }
    }
}
