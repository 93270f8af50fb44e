//! Reads a metadata text file and writes it back (`--backup` for the backup-file layout);
//! handy for comparing with lvm2's own output.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: roundtrip FILE [--backup]");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(path).expect("read input");
    let doc = match lvmeta_text::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let style = if args.iter().any(|a| a == "--backup") {
        lvmeta_text::Style::Backup
    } else {
        lvmeta_text::Style::Metadata
    };
    print!("{}", lvmeta_text::write_with(&doc, style));
}
