//! The suite's TOML configuration (/etc/halvm/halvm.toml).
