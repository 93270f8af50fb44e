//! Renders man pages from a binary's `cli()` definition plus hand-written prose sections.
//!
//! Each binary crate keeps its page current with a test that renders the page and compares it
//! with the committed file under `man/` (`halvm_testkit::assert_golden`), so the synopsis and
//! options can never drift from the code.

use std::path::PathBuf;

/// A prose section appended after the generated ones, e.g. `("EXIT STATUS", "...")`.
/// Paragraphs are separated by blank lines; lines starting with `.` are passed through as roff.
pub struct Section<'a> {
    pub title: &'a str,
    pub body: &'a str,
}

/// Renders `cmd` (and each of its subcommands, as subsections) to roff.
pub fn render(cmd: &clap::Command, section: &str, extra: &[Section<'_>]) -> String {
    let cmd = cmd.clone().disable_help_subcommand(true);
    let man = clap_mangen::Man::new(cmd.clone()).section(section);
    let mut out = Vec::new();
    man.render_title(&mut out).expect("render to memory");
    man.render_name_section(&mut out).expect("render to memory");
    man.render_synopsis_section(&mut out)
        .expect("render to memory");
    man.render_description_section(&mut out)
        .expect("render to memory");
    man.render_options_section(&mut out)
        .expect("render to memory");
    let mut text = String::from_utf8(out).expect("clap_mangen writes UTF-8");

    let mut built = cmd.clone();
    built.build();
    let subcommands: Vec<_> = built
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .collect();
    if !subcommands.is_empty() {
        text.push_str(".SH COMMANDS\n");
        for sub in subcommands {
            let sub_built = sub.clone();
            let mut usage = sub_built.clone().render_usage().to_string();
            usage = usage.trim_start_matches("Usage: ").to_string();
            text.push_str(&format!(".SS {}\n", escape(sub.get_name())));
            text.push_str(&format!(".B {}\n.br\n", escape(&usage)));
            if let Some(about) = sub.get_long_about().or(sub.get_about()) {
                text.push_str(&format!("{}\n", escape(&about.to_string())));
            }
            for arg in sub_built.get_arguments().filter(|a| !a.is_hide_set()) {
                let mut names = Vec::new();
                if let Some(s) = arg.get_short() {
                    names.push(format!("-{s}"));
                }
                if let Some(l) = arg.get_long() {
                    names.push(format!("--{l}"));
                }
                if names.is_empty() {
                    names.push(arg.get_id().to_string().to_uppercase());
                }
                text.push_str(&format!(".TP\n\\fB{}\\fR\n", escape(&names.join(", "))));
                if let Some(help) = arg.get_long_help().or(arg.get_help()) {
                    text.push_str(&format!("{}\n", escape(&help.to_string())));
                }
            }
        }
    }

    for s in extra {
        text.push_str(&format!(".SH {}\n", escape(&s.title.to_uppercase())));
        for para in s.body.trim().split("\n\n") {
            text.push_str(".PP\n");
            for line in para.lines() {
                if line.starts_with('.') {
                    text.push_str(line);
                } else {
                    text.push_str(&escape(line));
                }
                text.push('\n');
            }
        }
    }
    text
}

/// Where a page lives in the repository: `man/<name>.<section>`.
pub fn page_path(name: &str, section: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.{section}"))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.replace('\\', "\\e").replace('-', "\\-");
        // A leading dot or quote would be read as a roff request.
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_subcommands_and_prose() {
        let cmd = clap::Command::new("demo").about("A demo tool").subcommand(
            clap::Command::new("go").about("Goes").arg(
                clap::Arg::new("fast")
                    .long("fast")
                    .help("Go fast")
                    .num_args(0),
            ),
        );
        let page = render(
            &cmd,
            "8",
            &[Section {
                title: "Exit status",
                body: "0 on success.\n\n.B 5\nnot installed",
            }],
        );
        assert!(page.contains(".TH demo 8"), "{page}");
        assert!(page.contains(".SS go"), "{page}");
        assert!(page.contains("\\-\\-fast"), "{page}");
        assert!(
            page.contains(".SH EXIT STATUS\n.PP\n0 on success."),
            "{page}"
        );
        assert!(page.contains(".B 5\n"), "{page}");
    }

    #[test]
    fn escapes_leading_dots_and_dashes() {
        assert_eq!(escape(".x -y"), "\\&.x \\-y");
    }
}
