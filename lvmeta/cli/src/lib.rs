//! The lvmeta command line (clap definitions), shared by the binary, man pages and tests.
