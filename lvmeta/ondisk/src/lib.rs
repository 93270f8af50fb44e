//! LVM2 on-disk structures, byte for byte: label, PV header, metadata area header, the
//! circular text buffer, LVM2's CRC, and the multi-PV commit protocol.

pub mod crc;
pub mod dev;
pub mod error;
pub mod label;
mod le;
pub mod mda;
pub mod pv;
pub mod store;
pub mod units;

pub use error::{Corruption, DecodeError, OnDiskError};
pub use units::{Bytes, Extents, Sectors};
