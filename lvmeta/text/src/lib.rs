//! The LVM2 text metadata grammar: a lossless config tree parser and writer.
//!
//! `parse` reads the text lvm2 writes into metadata areas and backup files into a [`Section`]
//! tree that keeps entry order, duplicate keys and `#` comments, and borrows its strings from
//! the text ([`Section::into_owned`] detaches it); [`write`] writes a tree back in
//! the exact layout lvm2 uses in a metadata area, [`write_with`]`(.., Style::Backup)` in the
//! layout of `vgcfgbackup` files. Blank lines are not stored: the writer derives them from the
//! keys as lvm2's exporter does, so text lvm2 made comes back byte for byte. [`Emitter`] writes
//! the same layout without a tree, from borrowed values, for writers of big documents.
//!
//! Not kept: comments inside arrays or between a key and its value, the quoting style of
//! single-quoted and bare-word strings (written double-quoted), leading zeros and `+` signs of
//! integers, and whitespace other than lvm2's own layout.

mod parse;
#[cfg(test)]
mod reference;
mod tree;
mod write;

pub use parse::{
    parse, parse_settings, parse_with_limits, ParseError, ParseErrorKind, ParseLimits,
};
pub use tree::{is_valid_key, Comment, CommentPlacement, Node, Section, Value};
pub use write::{write, write_into, write_with, Emitter, Lookahead, Style};
