//! Debian packaging of halvm (`scripts/package`): the assets generated from the binaries'
//! `cli()` definitions, and the tests of the set-up scripts.
