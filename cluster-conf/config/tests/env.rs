//! `Config::load` and `$HALVM_CONFIG`. One test in its own process, so setting the
//! environment cannot race with other tests.

use halvm_config::{Config, ConfigError, DetachPolicy, LockManager, ENV_VAR};

#[test]
fn env_var_then_flag_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let from_env = dir.path().join("env.toml");
    std::fs::write(&from_env, "[locking]\nlock_manager = \"dlm\"\n").unwrap();
    let from_flag = dir.path().join("flag.toml");
    std::fs::write(&from_flag, "[policy]\ndetach = \"local\"\n").unwrap();

    std::env::set_var(ENV_VAR, &from_env);
    let c = Config::load(None).unwrap();
    assert_eq!(c.locking.lock_manager, LockManager::Dlm);
    assert_eq!(c.source, Some(from_env.clone()));

    // The flag wins over the environment.
    let c = Config::load(Some(&from_flag)).unwrap();
    assert_eq!(c.policy.detach, DetachPolicy::Local);
    assert_eq!(c.locking.lock_manager, LockManager::Local);

    // A missing file named by the environment is an error, not defaults.
    let missing = dir.path().join("missing.toml");
    std::env::set_var(ENV_VAR, &missing);
    match Config::load(None) {
        Err(ConfigError::Read { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }

    // An error in the file names the file, the key and the line.
    std::fs::write(&from_env, "\n[activation]\ndefault_mode = \"exclusive\"\n").unwrap();
    std::env::set_var(ENV_VAR, &from_env);
    let e = Config::load(None).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3: key `activation.default_mode`: invalid value \"exclusive\": expected one of \"exclusive-write\", \"read-only\", \"shared-read\", \"shared-write\", \"off\"",
            from_env.display()
        )
    );
    std::env::remove_var(ENV_VAR);
}
