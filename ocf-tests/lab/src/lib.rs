//! The VM lab: multi-node QEMU clusters on a real kernel, for tests and demos.
