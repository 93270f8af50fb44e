//! halvm-dlm-probe: takes one DLM lock through libdlm, for the lab's lock tests.
//!
//!   halvm-dlm-probe LOCKSPACE RESOURCE ex|pr [--noqueue] [--hold] [--timeout SECS]
//!
//! Exit: 0 granted (and released unless --hold; with --hold it prints `granted` and waits to be
//! killed, which releases the lock), 2 not granted under --noqueue (EAGAIN), 3 timed out while
//! queued, 1 error. Debian's dlm tools have no lock command, hence this helper.

use std::io::Write;
use std::time::{Duration, Instant};

use halvm_dlm::{DlmLockspace, Flags, Lockspace, LockspaceName, Mode, Outcome, ResourceName};

fn fail(msg: String) -> ! {
    eprintln!("halvm-dlm-probe: {msg}");
    std::process::exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let timeout = args
        .iter()
        .position(|a| a == "--timeout")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<u64>().ok());
    let timeout_value = timeout.map(|t| t.to_string());
    let pos: Vec<&String> = pos
        .into_iter()
        .filter(|p| Some(*p) != timeout_value.as_ref())
        .collect();
    if pos.len() != 3 {
        eprintln!(
            "usage: halvm-dlm-probe LOCKSPACE RESOURCE ex|pr [--noqueue] [--hold] [--timeout SECS]"
        );
        std::process::exit(2);
    }
    let mode = match pos[2].as_str() {
        "ex" => Mode::Ex,
        "pr" => Mode::Pr,
        m => fail(format!("unknown mode {m}")),
    };
    let flags = Flags {
        noqueue: flag("--noqueue"),
        ..Flags::default()
    };
    if let Some(secs) = timeout {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            eprintln!("halvm-dlm-probe: not granted within {secs} s");
            std::process::exit(3);
        });
    }
    let ls_name = LockspaceName::new(pos[0]).unwrap_or_else(|e| fail(e.to_string()));
    let resource = ResourceName::new(pos[1]).unwrap_or_else(|e| fail(e.to_string()));
    let started = Instant::now();
    // Creates the lockspace, or opens it when another probe on this node has it.
    let (mut ls, _) = Lockspace::join(&ls_name).unwrap_or_else(|e| fail(e.to_string()));
    let granted = match ls.lock(&resource, mode, flags) {
        Ok(Outcome::Granted(g)) => g,
        Ok(_) => {
            println!("busy {} {}", pos[1], pos[2]);
            std::process::exit(2);
        }
        Err(e) => fail(e.to_string()),
    };
    println!(
        "granted {} {} after {} ms",
        pos[1],
        pos[2],
        started.elapsed().as_millis()
    );
    let _ = std::io::stdout().flush();
    if flag("--hold") {
        loop {
            std::thread::park();
        }
    }
    if let Err(e) = ls.unlock(&resource, granted.lkid) {
        fail(e.to_string());
    }
}
