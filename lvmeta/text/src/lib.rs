//! The LVM2 text metadata grammar: a lossless config tree parser and writer.
