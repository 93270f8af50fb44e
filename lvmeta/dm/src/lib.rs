//! Activation executor on the kernel device-mapper (devicemapper crate): create, load, suspend, resume, remove, status.
