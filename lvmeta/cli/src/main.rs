fn main() {
    let m = lvmeta_cli::cli().get_matches();
    println!("{:?}", m.subcommand_name());
}
