//! Volume-group operations: device scanning, commit protocol, locking, reports.

pub mod activation;
pub mod env;
pub mod filter;
pub mod localtime;
pub mod lock;
pub mod memo;
pub mod mirror_log;
pub mod ops;
pub mod report;
pub mod select;
pub mod sysfs;
pub mod timespec;
pub mod txn;
pub mod units;
