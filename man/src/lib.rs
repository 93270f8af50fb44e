//! Generates the man pages in man/ from the binaries' clap definitions.
