//! halvm-lab: thin entry point; errors become exit codes in `halvm_lab::cli::exit_code`.

fn main() {
    let code = match halvm_lab::cli::main_with_args(std::env::args()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("halvm-lab: {e}");
            halvm_lab::cli::exit_code(&e)
        }
    };
    std::process::exit(code);
}
