//! LVM2's checksum: reflected CRC-32 (polynomial 0xEDB88320) seeded with 0xf597a6cf and
//! without the usual final inversion. Used for the label, the mda header and metadata text.

use crate::error::Corruption;

/// The seed LVM2 passes for every checksum it computes.
pub const INITIAL_CRC: u32 = 0xf597_a6cf;

/// The reflected CRC-32 polynomial (the tests' reference loops use it).
#[cfg(test)]
const POLY: u32 = 0xedb8_8320;

#[cfg(test)]
const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// Continues a CRC over `data` starting from `seed`; chaining calls over consecutive pieces
/// gives the CRC of their concatenation (how LVM2 checksums text that wraps around).
///
/// LVM2's CRC is zlib's CRC-32 without the inversions on entry and exit, so crc32fast (which
/// folds with carry-less multiplication where the CPU has it) computes it: checksumming the
/// metadata text of VGs with thousands of LVs dominated reading them with table loops.
pub fn lvm_crc(seed: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(!seed);
    h.update(data);
    !h.finalize()
}

/// Checks the checksum `stored` for `structure` against `data`'s.
pub fn verify(structure: &'static str, stored: u32, data: &[u8]) -> Result<(), Corruption> {
    let computed = lvm_crc(INITIAL_CRC, data);
    if stored != computed {
        return Err(Corruption::BadChecksum {
            structure,
            stored,
            computed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    static TABLE: [u32; 256] = make_table();

    /// The byte-at-a-time table loop of LVM2's `calc_crc`.
    fn crc_bytewise(seed: u32, data: &[u8]) -> u32 {
        data.iter().fold(seed, |crc, &b| {
            TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
        })
    }

    /// Bit-at-a-time reference, independent of the table.
    fn slow(seed: u32, data: &[u8]) -> u32 {
        let mut crc = seed;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn table_matches_standard_crc32_entries() {
        // Well-known entries of the zlib/IEEE reflected table.
        assert_eq!(TABLE[1], 0x7707_3096);
        assert_eq!(TABLE[255], 0x2d02_ef8d);
    }

    #[test]
    fn standard_crc32_check_value() {
        // With seed !0 and a final inversion this is plain CRC-32: "123456789" -> 0xcbf43926.
        assert_eq!(!lvm_crc(!0, b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn known_answer_on_a_longer_input() {
        let long = b"The quick brown fox jumps over the lazy dog";
        assert_eq!(!lvm_crc(!0, long), 0x414f_a339);
    }

    #[test]
    fn empty_input_returns_seed() {
        assert_eq!(lvm_crc(INITIAL_CRC, &[]), INITIAL_CRC);
    }

    proptest! {
        #[test]
        fn table_equals_bitwise(seed in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(lvm_crc(seed, &data), slow(seed, &data));
        }

        /// Against the bitwise and the bytewise loops, at every alignment and length, on
        /// inputs up to a few KiB (the SIMD folding works in 16- and 64-byte blocks).
        #[test]
        fn fast_equals_bitwise_and_bytewise(seed in any::<u32>(), skip in 0usize..8,
                                              data in proptest::collection::vec(any::<u8>(), 0..4100)) {
            let d = &data[skip.min(data.len())..];
            let fast = lvm_crc(seed, d);
            prop_assert_eq!(fast, crc_bytewise(seed, d));
            prop_assert_eq!(fast, slow(seed, d));
        }

        #[test]
        fn chaining_equals_concatenation(a in proptest::collection::vec(any::<u8>(), 0..200),
                                         b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            prop_assert_eq!(lvm_crc(lvm_crc(INITIAL_CRC, &a), &b), lvm_crc(INITIAL_CRC, &whole));
        }
    }
}
