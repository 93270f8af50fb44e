//! Volume-group operations: device scanning, commit protocol, locking, reports.
