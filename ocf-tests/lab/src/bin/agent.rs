//! halvm-lab-agent: the guest control agent (see `halvm_lab::agent`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(halvm_lab::proto::AGENT_PORT);
    let result = match args.first().map(String::as_str) {
        Some("init") => halvm_lab::agent::init(port),
        Some("serve") => halvm_lab::agent::serve(port),
        _ => {
            eprintln!("usage: halvm-lab-agent init|serve [--port N]");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("halvm-lab-agent: {e}");
        std::process::exit(1);
    }
}
