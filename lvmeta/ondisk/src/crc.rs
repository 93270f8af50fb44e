//! LVM2's checksum: reflected CRC-32 (polynomial 0xEDB88320) seeded with 0xf597a6cf and
//! without the usual final inversion. Used for the label, the mda header and metadata text.

/// The seed LVM2 passes for every checksum it computes.
pub const INITIAL_CRC: u32 = 0xf597_a6cf;

const POLY: u32 = 0xedb8_8320;

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

/// `TABLES[0]` is the classic byte table; `TABLES[k][i]` is the CRC of byte `i` followed by
/// `k` zero bytes, which lets [`lvm_crc`] fold 8 input bytes per step (slicing-by-8).
static TABLES: [[u32; 256]; 8] = make_tables();
static TABLE: &[u32; 256] = &TABLES[0];

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    t[0] = make_table();
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// Continues a CRC over `data` starting from `seed`; chaining calls over consecutive pieces
/// gives the CRC of their concatenation (how LVM2 checksums text that wraps around).
///
/// Slicing-by-8: checksumming the metadata text dominated reading big VGs with the
/// byte-at-a-time loop; eight table lookups per 8 bytes break its serial dependency chain.
pub fn lvm_crc(seed: u32, data: &[u8]) -> u32 {
    let mut crc = seed;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = TABLES[7][(lo & 0xff) as usize]
            ^ TABLES[6][((lo >> 8) & 0xff) as usize]
            ^ TABLES[5][((lo >> 16) & 0xff) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][(hi & 0xff) as usize]
            ^ TABLES[2][((hi >> 8) & 0xff) as usize]
            ^ TABLES[1][((hi >> 16) & 0xff) as usize]
            ^ TABLES[0][(hi >> 24) as usize];
    }
    crc_bytewise(crc, chunks.remainder())
}

/// The byte-at-a-time table loop (the tail of [`lvm_crc`], and its reference in tests).
fn crc_bytewise(seed: u32, data: &[u8]) -> u32 {
    data.iter().fold(seed, |crc, &b| {
        TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn sliced_tables_match_known_entries() {
        // TABLES[k][i] is byte i followed by k zero bytes.
        for (k, table) in TABLES.iter().enumerate() {
            for i in [0usize, 1, 0x80, 255] {
                let mut data = vec![0u8; k + 1];
                data[0] = i as u8;
                assert_eq!(table[i], slow(0, &data), "k={k} i={i}");
            }
        }
        // A known-answer check through the sliced path (length >= 8).
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

        /// Slicing-by-8 against the bitwise and the bytewise loops, at every alignment and
        /// length (multiples of 8 and ragged tails), on inputs up to a few KiB.
        #[test]
        fn sliced_equals_bitwise_and_bytewise(seed in any::<u32>(), skip in 0usize..8,
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
