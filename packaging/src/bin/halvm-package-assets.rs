//! Writes the generated package assets under a staging root (`halvm-package-assets ROOT`):
//! shell completions for lvmeta and cluster-conf, and the example halvm.toml. Man pages are
//! committed under man/ (pinned by golden tests) and copied by scripts/package.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: halvm-package-assets STAGING_ROOT");
        return ExitCode::from(2);
    };
    match halvm_packaging::write_completions(&root)
        .and_then(|()| halvm_packaging::write_example(&root))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("halvm-package-assets: {}: {e}", root.display());
            ExitCode::from(1)
        }
    }
}
