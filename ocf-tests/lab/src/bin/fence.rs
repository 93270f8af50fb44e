//! fence_halvm_lab: fence agent for the VM lab (see `halvm_lab::fence`).
use std::io::Read;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = if argv.is_empty() {
        let mut text = String::new();
        let _ = std::io::stdin().read_to_string(&mut text);
        halvm_lab::fence::FenceArgs::parse_stdin(&text)
    } else {
        halvm_lab::fence::FenceArgs::parse_argv(&argv)
    };
    let code = halvm_lab::fence::run(&args, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
