//! packaging/debian/clvmd-rs.service is a valid systemd unit (`systemd-analyze verify`).
//! Here ExecStart is pointed at /bin/true (the daemon is not installed on the test host); the
//! installed unit, with the packaged daemon, is verified by root_package.

use std::path::Path;
use std::process::Command;

#[test]
fn clvmd_rs_unit_verifies() {
    let analyze = halvm_testkit::require_tool("systemd-analyze", "systemd");
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/clvmd-rs.service"),
    )
    .unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/sbin/clvmd-rs -f\n"),
        "{unit}"
    );
    assert!(
        unit.contains("\nSendSIGKILL=no\n"),
        "a lock daemon is never SIGKILLed"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clvmd-rs.service");
    std::fs::write(&path, unit.replace("/usr/sbin/clvmd-rs", "/bin/true")).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
