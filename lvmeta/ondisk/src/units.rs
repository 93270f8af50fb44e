//! Unit newtypes so byte offsets, sector counts and extent counts cannot be mixed up.

use std::fmt;

/// LVM2's sector: 512 bytes, whatever the device's logical block size.
pub const SECTOR_SIZE: u64 = 512;

/// A size or offset in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

/// A size or offset in 512-byte sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sectors(pub u64);

/// A count of physical or logical extents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Extents(pub u64);

impl Sectors {
    /// Bytes in this many sectors. Saturates instead of wrapping for absurd inputs.
    pub fn to_bytes(self) -> Bytes {
        Bytes(self.0.saturating_mul(SECTOR_SIZE))
    }
}

impl Bytes {
    /// Whole sectors contained in this many bytes (rounded down).
    pub fn to_sectors_floor(self) -> Sectors {
        Sectors(self.0 / SECTOR_SIZE)
    }

    /// Sectors needed to hold this many bytes (rounded up).
    pub fn to_sectors_ceil(self) -> Sectors {
        Sectors(self.0.div_ceil(SECTOR_SIZE))
    }

    /// True when this is a multiple of the 512-byte sector size.
    pub fn is_sector_aligned(self) -> bool {
        self.0 % SECTOR_SIZE == 0
    }

    pub fn checked_add(self, other: Bytes) -> Option<Bytes> {
        self.0.checked_add(other.0).map(Bytes)
    }
}

impl Extents {
    /// Size of this many extents of `extent_size` sectors.
    pub fn to_sectors(self, extent_size: Sectors) -> Sectors {
        Sectors(self.0.saturating_mul(extent_size.0))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B", self.0)
    }
}

impl fmt::Display for Sectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} sectors", self.0)
    }
}

impl fmt::Display for Extents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} extents", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Sectors(3).to_bytes(), Bytes(1536));
        assert_eq!(Bytes(1537).to_sectors_floor(), Sectors(3));
        assert_eq!(Bytes(1537).to_sectors_ceil(), Sectors(4));
        assert_eq!(Bytes(1536).to_sectors_ceil(), Sectors(3));
        assert!(Bytes(4096).is_sector_aligned());
        assert!(!Bytes(4097).is_sector_aligned());
        assert_eq!(Extents(15).to_sectors(Sectors(8192)), Sectors(122880));
        assert_eq!(Sectors(u64::MAX).to_bytes(), Bytes(u64::MAX));
        assert_eq!(Bytes(7).to_string(), "7 B");
        assert_eq!(Sectors(2).to_string(), "2 sectors");
        assert_eq!(Extents(1).to_string(), "1 extents");
    }
}
