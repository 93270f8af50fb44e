//! OCF conformance runs: schema checks, `crm_resource --validate`, running as `nobody`.
//!
//! Helpers for the tests in `tests/`: running an agent binary with a clean OCF environment,
//! validating meta-data with xmllint, and installing an agent into the OCF tree for the
//! duration of a test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run of an agent produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The text of the `ocf-exit-reason:` line, if any.
    pub fn exit_reason(&self) -> Option<&str> {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
    }
}

/// Runs `agent action` with only the given variables (plus PATH), never through a shell.
pub fn run_agent(agent: &Path, action: &str, vars: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(agent);
    cmd.arg(action)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    // Keep the test's log lines out of the host's syslog.
    cmd.env("HA_LOGFACILITY", "none")
        .env("HA_LOGFILE", "/dev/null");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    outcome(&mut cmd, None)
}

/// Runs a command, feeding `stdin`, and collects its result.
pub fn outcome(cmd: &mut Command, stdin: Option<&str>) -> Outcome {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for child");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The directory holding ra-api-1.dtd and metadata.rng (resource-agents).
pub const RA_DIR: &str = "/usr/share/resource-agents";
/// pcs' relaxed OCF 1.1 schema.
pub const PCS_RNG: &str = "/usr/share/pcs/data/ocf-1.1.rng";

/// Validates meta-data against ra-api-1.dtd the way ocf-tester does (from the directory
/// holding the DTD, reading standard input).
pub fn xmllint_dtd(xml: &str) -> Outcome {
    let xmllint = halvm_testkit::require_tool("xmllint", "libxml2-utils");
    require_file(&format!("{RA_DIR}/ra-api-1.dtd"), "resource-agents");
    outcome(
        Command::new(xmllint)
            .current_dir(RA_DIR)
            .args(["--noout", "--valid", "-"]),
        Some(xml),
    )
}

/// Validates meta-data against a RelaxNG schema.
pub fn xmllint_rng(xml: &str, rng: &str, package: &str) -> Outcome {
    let xmllint = halvm_testkit::require_tool("xmllint", "libxml2-utils");
    require_file(rng, package);
    // The DOCTYPE names the DTD relative to the document: run where it resolves.
    outcome(
        Command::new(xmllint)
            .current_dir(RA_DIR)
            .args(["--noout", "--relaxng", rng, "-"]),
        Some(xml),
    )
}

pub fn require_file(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "prerequisite missing: {path} (Debian package `{package}`); run scripts/install-deps"
    );
}

/// An agent installed into the OCF tree for the duration of a test; the previous file (if
/// any) is restored and directories it created are removed on drop.
pub struct InstalledAgent {
    pub path: PathBuf,
    backup: Option<PathBuf>,
    created_dir: Option<PathBuf>,
}

impl InstalledAgent {
    /// Installs `binary` as `<ocf_root>/resource.d/<provider>/<name>` with
    /// `scripts/install-agents` (so the script is exercised too).
    pub fn install(binary: &Path, ocf_root: &Path, name: &str) -> InstalledAgent {
        let dir = ocf_root.join("resource.d/halvm");
        let path = dir.join(name);
        let created_dir = (!dir.exists()).then(|| dir.clone());
        let backup = path.exists().then(|| {
            let b = dir.join(format!(".{name}.before-test.{}", std::process::id()));
            std::fs::rename(&path, &b).expect("move the installed agent aside");
            b
        });
        let staging = tempfile::tempdir().expect("tempdir");
        std::fs::copy(binary, staging.path().join(name)).expect("stage the agent binary");
        let out = outcome(
            Command::new(repo_root().join("scripts/install-agents"))
                .args(["--bin-dir"])
                .arg(staging.path())
                .args(["--agent", name])
                .env("OCF_ROOT", ocf_root)
                .env_remove("DESTDIR"),
            None,
        );
        let guard = InstalledAgent {
            path,
            backup,
            created_dir,
        };
        assert_eq!(out.code, 0, "install-agents failed: {out:?}");
        guard
    }
}

impl Drop for InstalledAgent {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(b) = &self.backup {
            let _ = std::fs::rename(b, &self.path);
        }
        if let Some(d) = &self.created_dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crate sits two levels below the root")
        .to_path_buf()
}
