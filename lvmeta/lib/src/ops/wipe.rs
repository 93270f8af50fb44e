//! What lvm2's `wipe_lv` does to a new LV (lvcreate -Z, -W): signatures of old filesystems,
//! RAID members and PV labels found on the device are wiped (their magic bytes zeroed, as
//! blkid's wiper does), then the first 4 KiB are zeroed, so a stale signature on the reused
//! extents never reappears on the new LV.

use lvmeta_ondisk::dev::BlockDev;
use lvmeta_ondisk::Bytes;

/// lvm2 zeroes this much at the start of a new LV (`wipe_lv`'s default `zero_sectors`).
pub const ZERO_BYTES: u64 = 4096;

/// A signature blkid would report: its name, where its magic is, the magic.
struct Signature {
    name: &'static str,
    /// Byte offset from the start; negative: from the end (rounded down as noted).
    offset: Where,
    magic: &'static [u8],
}

enum Where {
    Start(u64),
    /// md 0.90: the last 64 KiB-aligned 64 KiB block.
    Md090,
    /// md 1.0: 8 KiB before the end, 4 KiB aligned.
    Md10,
    /// The last sector (GPT's backup header).
    LastSector,
}

// Magic bytes as blkid's probes look for them (superblocks/*.c).
const SIGNATURES: &[Signature] = &[
    Signature {
        name: "xfs",
        offset: Where::Start(0),
        magic: b"XFSB",
    },
    Signature {
        name: "LVM2_member",
        offset: Where::Start(512 + 24),
        magic: b"LVM2 001",
    },
    Signature {
        name: "ext4",
        offset: Where::Start(1080),
        magic: &[0x53, 0xef],
    },
    Signature {
        name: "swap",
        offset: Where::Start(4096 - 10),
        magic: b"SWAPSPACE2",
    },
    Signature {
        name: "linux_raid_member",
        offset: Where::Start(4096),
        magic: &[0xfc, 0x4e, 0x2b, 0xa9],
    },
    Signature {
        name: "linux_raid_member",
        offset: Where::Start(0),
        magic: &[0xfc, 0x4e, 0x2b, 0xa9],
    },
    Signature {
        name: "btrfs",
        offset: Where::Start(65536 + 64),
        magic: b"_BHRfS_M",
    },
    Signature {
        name: "linux_raid_member",
        offset: Where::Md090,
        magic: &[0xfc, 0x4e, 0x2b, 0xa9],
    },
    Signature {
        name: "linux_raid_member",
        offset: Where::Md10,
        magic: &[0xfc, 0x4e, 0x2b, 0xa9],
    },
    Signature {
        name: "gpt",
        offset: Where::LastSector,
        magic: b"EFI PART",
    },
];

fn offset_of(w: &Where, size: u64) -> Option<u64> {
    match *w {
        Where::Start(o) => Some(o),
        Where::Md090 => (size >= 128 << 10).then(|| (size & !(64 * 1024 - 1)) - 64 * 1024),
        Where::Md10 => (size >= 12 << 10).then(|| (size - 8 * 1024) & !(4 * 1024 - 1)),
        Where::LastSector => size.checked_sub(512),
    }
}

/// What was done to a new LV.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wiped {
    /// Signature names wiped, in the order found ("ext4").
    pub signatures: Vec<&'static str>,
    /// Bytes zeroed at the start.
    pub zeroed: u64,
}

/// lvm2's `wipe_lv` on the new LV's device: with `wipe_signatures`, every signature found
/// loses its magic; with `zero`, the first 4 KiB (or the whole LV if smaller) become zero.
pub fn wipe_new_lv(
    dev: &dyn BlockDev,
    zero: bool,
    wipe_signatures: bool,
) -> std::io::Result<Wiped> {
    let size = dev.size()?.0;
    let mut done = Wiped::default();
    if wipe_signatures {
        for s in SIGNATURES {
            let Some(off) = offset_of(&s.offset, size) else {
                continue;
            };
            let len = s.magic.len() as u64;
            if off + len > size {
                continue;
            }
            let mut buf = vec![0u8; s.magic.len()];
            dev.read_at(Bytes(off), &mut buf)?;
            if buf == s.magic {
                dev.write_at(Bytes(off), &vec![0u8; s.magic.len()])?;
                done.signatures.push(s.name);
            }
        }
    }
    if zero {
        let n = ZERO_BYTES.min(size);
        dev.write_at(Bytes(0), &vec![0u8; n as usize])?;
        done.zeroed = n;
    }
    if wipe_signatures || zero {
        dev.sync()?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvmeta_ondisk::dev::MemDev;

    fn dev_with(mib: u64, at: &[(u64, &[u8])]) -> MemDev {
        let d = MemDev::new("/mem/lv", Bytes(mib << 20));
        for (off, b) in at {
            d.write_at(Bytes(*off), b).unwrap();
        }
        d
    }

    fn read(d: &MemDev, off: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        d.read_at(Bytes(off), &mut b).unwrap();
        b
    }

    #[test]
    fn stale_ext4_and_btrfs_and_md_signatures_are_wiped_and_the_start_zeroed() {
        let size = 8u64 << 20;
        let d = dev_with(
            8,
            &[
                (0, b"junk at the start"),
                (1080, &[0x53, 0xef]),
                (65536 + 64, b"_BHRfS_M"),
                (size - 8192, &[0xfc, 0x4e, 0x2b, 0xa9]),
                (8192, b"data after 4k"),
            ],
        );
        let w = wipe_new_lv(&d, true, true).unwrap();
        assert_eq!(w.signatures, vec!["ext4", "btrfs", "linux_raid_member"]);
        assert_eq!(w.zeroed, 4096);
        assert!(read(&d, 0, 4096).iter().all(|&b| b == 0));
        assert_eq!(read(&d, 65536 + 64, 8), vec![0; 8]);
        assert_eq!(read(&d, size - 8192, 4), vec![0; 4]);
        // Data that is no signature stays.
        assert_eq!(read(&d, 8192, 13), b"data after 4k");
    }

    #[test]
    fn zero_without_wipe_and_wipe_without_zero() {
        // -Zy -Wn: only the first 4 KiB; a btrfs magic further in stays.
        let d = dev_with(1, &[(1080, &[0x53, 0xef]), (65536 + 64, b"_BHRfS_M")]);
        let w = wipe_new_lv(&d, true, false).unwrap();
        assert!(w.signatures.is_empty());
        assert_eq!(read(&d, 1080, 2), vec![0, 0]);
        assert_eq!(read(&d, 65536 + 64, 8), b"_BHRfS_M");
        // -Zn -Wy: the magics go, other bytes of the first 4 KiB stay.
        let d = dev_with(1, &[(0, b"XFSBxx"), (1080, &[0x53, 0xef])]);
        let w = wipe_new_lv(&d, false, true).unwrap();
        assert_eq!(w.signatures, vec!["xfs", "ext4"]);
        assert_eq!(w.zeroed, 0);
        assert_eq!(read(&d, 0, 6), b"\0\0\0\0xx");
        // -Zn -Wn: nothing.
        let d = dev_with(1, &[(1080, &[0x53, 0xef])]);
        assert_eq!(wipe_new_lv(&d, false, false).unwrap(), Wiped::default());
        assert_eq!(read(&d, 1080, 2), vec![0x53, 0xef]);
    }

    #[test]
    fn a_tiny_lv_is_zeroed_whole_without_reading_past_its_end() {
        let d = MemDev::new("/mem/tiny", Bytes(2048));
        d.write_at(Bytes(0), b"XFSB").unwrap();
        let w = wipe_new_lv(&d, true, true).unwrap();
        assert_eq!(w.zeroed, 2048);
        assert_eq!(w.signatures, vec!["xfs"]);
    }
}
