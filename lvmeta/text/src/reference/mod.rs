//! Test-only reference implementations, in one place: the simpler earlier parser and writer
//! that the fast ones are property-tested against (same trees, errors and bytes). Kept because
//! they are simpler than what they check; never compiled outside tests. What a number token
//! means (`parse::number_value`) is shared: the reference checks how tokens are found.

pub mod parse;
pub mod write;
