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
        // The fine size sampler (see `halvm_lab::sampler`).
        Some("sample-dm") if args.len() == 6 => match args[5].parse::<u64>() {
            Ok(secs) => halvm_lab::sampler::sample_dm(
                args[1].as_ref(),
                &args[2],
                args[3].as_ref(),
                args[4].as_ref(),
                std::time::Duration::from_secs(secs),
            ),
            Err(_) => {
                eprintln!("halvm-lab-agent sample-dm: MAX_SECS is not a number");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!(
                "usage: halvm-lab-agent init|serve [--port N]\n       \
                 halvm-lab-agent sample-dm CLOCK_DEV DM_NAME OUT STOP_FILE MAX_SECS"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("halvm-lab-agent: {e}");
        std::process::exit(1);
    }
}
