//! The units under packaging/debian are valid systemd units (`systemd-analyze verify`).
//! Here ExecStart is pointed at /bin/true (the daemons are not installed on the test host);
//! the installed units, with the packaged daemons, are verified by root_package.

use std::path::Path;
use std::process::Command;

/// The unit's text, after checking that `systemd-analyze verify` accepts it with its
/// binary `bin` replaced by /bin/true.
fn verified(name: &str, bin: &str) -> String {
    let analyze = halvm_testkit::require_tool("systemd-analyze", "systemd");
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("debian/{name}")),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, unit.replace(bin, "/bin/true")).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    unit
}

#[test]
fn clvmd_rs_unit_verifies() {
    let unit = verified("clvmd-rs.service", "/usr/sbin/clvmd-rs");
    assert!(
        unit.contains("\nExecStart=/usr/sbin/clvmd-rs -f\n"),
        "{unit}"
    );
    assert!(
        unit.contains("\nSendSIGKILL=no\n"),
        "a lock daemon is never SIGKILLed"
    );
}

#[test]
fn lvmeta_server_unit_verifies() {
    let unit = verified("lvmeta-server.service", "/usr/sbin/lvmeta-server");
    for line in [
        "Type=simple",
        "ExecStart=/usr/sbin/lvmeta-server",
        "RuntimeDirectory=lvmeta",
        "RuntimeDirectoryMode=0700",
        // SIGTERM to the server alone, which waits for its workers; none is ever killed
        // mid-commit by systemd.
        "KillMode=mixed",
        "SendSIGKILL=no",
    ] {
        assert!(
            unit.contains(&format!("\n{line}\n")),
            "{line} not in {unit}"
        );
    }
    assert!(
        lvmeta_forward::client::DEFAULT_SOCKET.starts_with("/run/lvmeta/"),
        "the socket is in the unit's RuntimeDirectory"
    );
}
