//! Little-endian fields at byte offsets of an on-disk structure's buffer (each structure is
//! decoded from, and encoded into, a buffer of its full size: [`whole`]).

use crate::error::{Corruption, DecodeError};

/// The first `size` bytes of `buf`, which must hold `structure` whole.
pub(crate) fn whole<'a>(
    buf: &'a [u8],
    size: usize,
    structure: &'static str,
) -> Result<&'a [u8], DecodeError> {
    buf.get(..size).ok_or_else(|| {
        let got = buf.len() as u64;
        let needed = size as u64;
        DecodeError::new(
            0,
            Corruption::Truncated {
                structure,
                needed,
                got,
            },
        )
    })
}

pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
