//! lvmlockd's lock value block: `{u16 version = 0x0101; u16 flags; u32 r_version}`,
//! little-endian, in the first 8 of the DLM's 32 bytes.

use halvm_dlm::Lvb;

pub const LVB_VERSION: u16 = 0x0101;
/// Set by vgremove: the VG is gone.
pub const VBF_REMOVED: u16 = 0x0001;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValBlk {
    pub version: u16,
    pub flags: u16,
    /// The VG seqno (VGLK) or a counter bumped on every EX release (GLLK).
    pub r_version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lock value block version {version:#06x} is newer than this daemon understands (major 1)")]
pub struct LvbVersionError {
    pub version: u16,
}

impl ValBlk {
    pub fn new(r_version: u32, removed: bool) -> Self {
        ValBlk {
            version: LVB_VERSION,
            flags: if removed { VBF_REMOVED } else { 0 },
            r_version,
        }
    }

    pub fn removed(&self) -> bool {
        self.flags & VBF_REMOVED != 0
    }

    pub fn encode(&self) -> Lvb {
        let mut b = [0u8; 32];
        b[0..2].copy_from_slice(&self.version.to_le_bytes());
        b[2..4].copy_from_slice(&self.flags.to_le_bytes());
        b[4..8].copy_from_slice(&self.r_version.to_le_bytes());
        b
    }

    /// `None` when never written (version 0), as lvmlockd treats it.
    pub fn decode(b: &Lvb) -> Result<Option<Self>, LvbVersionError> {
        let version = u16::from_le_bytes([b[0], b[1]]);
        if version == 0 {
            return Ok(None);
        }
        if version >> 8 > 1 {
            return Err(LvbVersionError { version });
        }
        Ok(Some(ValBlk {
            version,
            flags: u16::from_le_bytes([b[2], b[3]]),
            r_version: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bytes_are_lvmlockds() {
        let b = ValBlk::new(0x0102_0304, true).encode();
        assert_eq!(&b[..8], &[0x01, 0x01, 0x01, 0x00, 0x04, 0x03, 0x02, 0x01]);
        assert!(b[8..].iter().all(|x| *x == 0));
        assert_eq!(ValBlk::decode(&[0; 32]), Ok(None));
        let mut newer = b;
        newer[1] = 2;
        assert!(ValBlk::decode(&newer).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(r in any::<u32>(), removed in any::<bool>(), minor in 0u8..=255) {
            let mut v = ValBlk::new(r, removed);
            v.version = 0x0100 | u16::from(minor);
            prop_assert_eq!(ValBlk::decode(&v.encode()), Ok(Some(v)));
        }
    }
}
