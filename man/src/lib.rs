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
        push_section(&mut text, s);
    }
    text
}

/// One page for one subcommand of `bin`, as lvm2 has lvcreate(8) beside lvm(8): the page is
/// `<bin>-<sub>`; its synopsis names every option with its value name (`-L|--size SIZE`),
/// required ones bare and optional ones in brackets, then the positionals; OPTIONS gives each
/// option's long help, possible values and default.
pub fn render_subcommand(
    bin: &str,
    sub: &clap::Command,
    version: &str,
    section: &str,
    extra: &[Section<'_>],
) -> String {
    let mut cmd = sub.clone().disable_help_subcommand(true);
    cmd.build();
    let page = format!("{bin}-{}", cmd.get_name());
    let mut text = String::new();
    text.push_str(&format!(
        ".TH {} {section} \"\" \"{bin} {version}\" \"System Manager's Manual\"\n",
        escape(&page)
    ));
    text.push_str(".SH NAME\n");
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    text.push_str(&format!("{} \\- {}\n", escape(&page), escape(&about)));

    let args: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
    text.push_str(".SH SYNOPSIS\n.nh\n.ad l\n");
    text.push_str(&format!(".B {} {}\n", escape(bin), escape(cmd.get_name())));
    // A required group (one of -L/-l) reads `(A | B)`, as lvm2's synopses put alternatives.
    let mut grouped = Vec::new();
    for g in cmd.get_groups().filter(|g| g.is_required_set()) {
        let members: Vec<String> = g
            .get_args()
            .filter_map(|id| args.iter().find(|a| a.get_id() == id && !a.is_positional()))
            .map(|a| synopsis_item(a))
            .collect();
        if members.len() > 1 {
            grouped.extend(g.get_args().cloned());
            text.push_str(&format!("({})\n", members.join(" | ")));
        }
    }
    for a in args
        .iter()
        .filter(|a| !a.is_positional() && !grouped.contains(a.get_id()))
    {
        let item = synopsis_item(a);
        if a.is_required_set() {
            text.push_str(&format!("{item}\n"));
        } else {
            text.push_str(&format!("[{item}]\n"));
        }
    }
    for a in args.iter().filter(|a| a.is_positional()) {
        let v = value_text(a).unwrap_or_else(|| format!("\\fI{}\\fR", a.get_id()));
        if a.is_required_set() {
            text.push_str(&format!("{v}\n"));
        } else {
            text.push_str(&format!("[{v}]\n"));
        }
    }
    text.push_str(".ad\n.hy\n");

    text.push_str(".SH DESCRIPTION\n");
    let description = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    for para in description.split("\n\n") {
        text.push_str(&format!(".PP\n{}\n", escape(para)));
    }

    text.push_str(".SH OPTIONS\n");
    for a in args.iter().filter(|a| !a.is_positional()) {
        let mut head = option_names(a, ", ");
        if let Some(v) = value_text(a) {
            head.push(' ');
            head.push_str(&v);
        }
        text.push_str(&format!(".TP\n{head}\n"));
        text.push_str(&arg_help(a));
    }
    for a in args.iter().filter(|a| a.is_positional()) {
        let v = value_text(a).unwrap_or_default();
        text.push_str(&format!(".TP\n{v}\n"));
        text.push_str(&arg_help(a));
    }
    for s in extra {
        push_section(&mut text, s);
    }
    text
}

/// `-L|--size SIZE` in roff.
fn synopsis_item(a: &clap::Arg) -> String {
    let mut item = option_names(a, "|");
    if let Some(v) = value_text(a) {
        // An unpaddable space: an option and its value never part at a line end.
        item.push_str("\\ ");
        item.push_str(&v);
    }
    item
}

/// `\fB-L\fR|\fB--size\fR` (joined by `sep`).
fn option_names(a: &clap::Arg, sep: &str) -> String {
    let mut names = Vec::new();
    if let Some(s) = a.get_short() {
        names.push(format!("\\fB\\-{}\\fR", escape(&s.to_string())));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("\\fB\\-\\-{}\\fR", escape(l)));
    }
    names.join(sep)
}

/// The value an argument takes, italic, with `...` when it repeats; `None` for flags.
fn value_text(a: &clap::Arg) -> Option<String> {
    if !a.get_action().takes_values() {
        return None;
    }
    let names: Vec<String> = match a.get_value_names() {
        Some(v) => v.iter().map(|n| n.to_string()).collect(),
        None => vec![a.get_id().as_str().to_uppercase()],
    };
    let repeats = matches!(a.get_action(), clap::ArgAction::Append)
        || a.get_num_args().is_some_and(|r| r.max_values() > 1);
    let mut v = names
        .iter()
        .map(|n| format!("\\fI{}\\fR", escape(n)))
        .collect::<Vec<_>>()
        .join(" ");
    if repeats && !v.ends_with("...\\fR") {
        v.push_str("...");
    }
    Some(v)
}

fn arg_help(a: &clap::Arg) -> String {
    let mut out = a
        .get_long_help()
        .or(a.get_help())
        .map(|h| escape(&h.to_string()))
        .unwrap_or_default();
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !values.is_empty() && a.get_action().takes_values() {
        out.push_str(&format!(
            " [possible values: {}]",
            escape(&values.join(", "))
        ));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && a.get_action().takes_values() {
        out.push_str(&format!(" [default: {}]", escape(&defaults.join(","))));
    }
    out.push('\n');
    out
}

fn push_section(text: &mut String, s: &Section<'_>) {
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
    fn subcommand_page_synopsis_has_value_names() {
        let sub = clap::Command::new("lvcreate")
            .about("Create a logical volume")
            .arg(
                clap::Arg::new("size")
                    .short('L')
                    .long("size")
                    .value_name("SIZE")
                    .help("Size"),
            )
            .arg(clap::Arg::new("extents").short('l').value_name("N"))
            .group(
                clap::ArgGroup::new("amount")
                    .args(["size", "extents"])
                    .required(true),
            )
            .arg(
                clap::Arg::new("type")
                    .long("type")
                    .value_parser(["linear", "striped"])
                    .default_value("linear"),
            )
            .arg(
                clap::Arg::new("zero")
                    .short('Z')
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(clap::Arg::new("vg").value_name("VG").required(true))
            .arg(clap::Arg::new("pv").value_name("PV").num_args(0..));
        let page = render_subcommand("lvmeta", &sub, "1.0", "8", &[]);
        assert!(page.starts_with(".TH lvmeta\\-lvcreate 8 "), "{page}");
        assert!(
            page.contains(".SH NAME\nlvmeta\\-lvcreate \\- Create a logical volume\n"),
            "{page}"
        );
        assert!(
            page.contains(".B lvmeta lvcreate\n(\\fB\\-L\\fR|\\fB\\-\\-size\\fR\\ \\fISIZE\\fR | \\fB\\-l\\fR\\ \\fIN\\fR)\n"),
            "{page}"
        );
        assert!(
            page.contains("[\\fB\\-\\-type\\fR\\ \\fITYPE\\fR]\n"),
            "{page}"
        );
        assert!(page.contains("[\\fB\\-Z\\fR]\n"), "{page}");
        assert!(page.contains("\\fIVG\\fR\n[\\fIPV\\fR...]\n"), "{page}");
        assert!(
            page.contains("[possible values: linear, striped] [default: linear]"),
            "{page}"
        );
    }

    #[test]
    fn escapes_leading_dots_and_dashes() {
        assert_eq!(escape(".x -y"), "\\&.x \\-y");
    }
}
