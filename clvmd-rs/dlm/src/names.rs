//! Validated lockspace and resource names, with lvmlockd's spellings.

use dlm_sys::{DLM_LOCKSPACE_LEN, DLM_RESNAME_MAXLEN};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("lockspace name {name:?} is {len} bytes; the DLM allows 1 to {max}")]
    LockspaceLength {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("lockspace name {name:?} has a character the DLM's configfs path cannot hold")]
    LockspaceChars { name: String },
    #[error("resource name {name:?} is {len} bytes; the DLM allows 1 to {max}")]
    ResourceLength {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("resource name {name:?} contains a NUL byte")]
    ResourceNul { name: String },
    #[error("{uuid:?} is not an LVM UUID (32 characters, or 38 with dashes 6-4-4-4-4-4-6)")]
    LvUuid { uuid: String },
}

/// A lockspace name: 1 to 63 bytes (the kernel's 64 include the NUL), printable ASCII without
/// `/` (it becomes a configfs directory).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockspaceName(String);

impl LockspaceName {
    pub const MAX: usize = DLM_LOCKSPACE_LEN - 1;

    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() || name.len() > Self::MAX {
            return Err(NameError::LockspaceLength {
                name: name.into(),
                len: name.len(),
                max: Self::MAX,
            });
        }
        if !name.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            return Err(NameError::LockspaceChars { name: name.into() });
        }
        Ok(LockspaceName(name.into()))
    }

    /// lvmlockd's lockspace for a shared VG: `lvm_<vg>`.
    pub fn for_vg(vg: &str) -> Result<Self, NameError> {
        Self::new(&format!("lvm_{vg}"))
    }

    /// lvmlockd's global lockspace `lvm_global` (holds GLLK).
    pub fn global() -> Self {
        LockspaceName("lvm_global".into())
    }

    /// The VG name when this is `lvm_<vg>` (and not `lvm_global`).
    pub fn vg(&self) -> Option<&str> {
        if self.0 == "lvm_global" {
            return None;
        }
        self.0.strip_prefix("lvm_")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LockspaceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resource name: 1 to 64 bytes, no NUL (lvmlockd passes `strlen` of a C string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceName(String);

impl ResourceName {
    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() || name.len() > DLM_RESNAME_MAXLEN {
            return Err(NameError::ResourceLength {
                name: name.into(),
                len: name.len(),
                max: DLM_RESNAME_MAXLEN,
            });
        }
        if name.contains('\0') {
            return Err(NameError::ResourceNul { name: name.into() });
        }
        Ok(ResourceName(name.into()))
    }

    /// The global lock, in `lvm_global`.
    pub fn gllk() -> Self {
        ResourceName("GLLK".into())
    }

    /// A VG's metadata lock, in `lvm_<vg>`.
    pub fn vglk() -> Self {
        ResourceName("VGLK".into())
    }

    /// An LV's activation lock: the LV UUID with dashes (6-4-4-4-4-4-6), as lvmlockd names it.
    /// Accepts the UUID with or without dashes.
    pub fn lv(uuid: &str) -> Result<Self, NameError> {
        let bare: String = uuid.chars().filter(|c| *c != '-').collect();
        let ok_chars = bare.chars().all(|c| c.is_ascii_alphanumeric());
        let dashed_ok = uuid.len() == 32 || (uuid.len() == 38 && dashed(&bare) == uuid);
        if bare.len() != 32 || !ok_chars || !dashed_ok {
            return Err(NameError::LvUuid { uuid: uuid.into() });
        }
        Ok(ResourceName(dashed(&bare)))
    }

    pub fn is_lv(&self) -> bool {
        self.0.len() == 38
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn dashed(bare: &str) -> String {
    let mut out = String::with_capacity(38);
    let mut at = 0;
    for (i, n) in [6, 4, 4, 4, 4, 4, 6].iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&bare[at..at + n]);
        at += n;
    }
    out
}

impl std::fmt::Display for ResourceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lvmlockd_spellings() {
        assert_eq!(LockspaceName::for_vg("vg0").unwrap().as_str(), "lvm_vg0");
        assert_eq!(LockspaceName::for_vg("vg0").unwrap().vg(), Some("vg0"));
        assert_eq!(LockspaceName::global().vg(), None);
        assert_eq!(ResourceName::vglk().as_str(), "VGLK");
        assert_eq!(ResourceName::gllk().as_str(), "GLLK");
        let lv = ResourceName::lv("abcdef0123456789ABCDEF0123456789").unwrap();
        assert_eq!(lv.as_str(), "abcdef-0123-4567-89AB-CDEF-0123-456789");
        assert!(lv.is_lv());
        assert_eq!(ResourceName::lv(lv.as_str()).unwrap(), lv);
    }

    #[test]
    fn lockspace_length_limit() {
        let vg59 = "v".repeat(59);
        assert_eq!(LockspaceName::for_vg(&vg59).unwrap().as_str().len(), 63);
        assert!(matches!(
            LockspaceName::for_vg(&"v".repeat(60)),
            Err(NameError::LockspaceLength { len: 64, .. })
        ));
        assert!(LockspaceName::new("").is_err());
        assert!(LockspaceName::new("a/b").is_err());
        assert!(LockspaceName::new("a b").is_err());
    }

    #[test]
    fn resource_limits() {
        assert!(ResourceName::new(&"r".repeat(64)).is_ok());
        assert!(ResourceName::new(&"r".repeat(65)).is_err());
        assert!(ResourceName::new("a\0b").is_err());
        assert!(ResourceName::lv("short").is_err());
        assert!(ResourceName::lv("abcdef-0123-4567-89AB-CDEF-01234-56789").is_err());
        assert!(ResourceName::lv("abcdef0123456789ABCDEF012345678!").is_err());
    }

    proptest! {
        #[test]
        fn lockspace_names_accepted_iff_valid(s in "\\PC{0,70}") {
            let ok = LockspaceName::new(&s).is_ok();
            let valid = !s.is_empty() && s.len() <= 63
                && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
            prop_assert_eq!(ok, valid);
        }

        #[test]
        fn lv_uuid_roundtrip(bare in "[A-Za-z0-9]{32}") {
            let r = ResourceName::lv(&bare).unwrap();
            prop_assert_eq!(r.as_str().len(), 38);
            prop_assert_eq!(r.as_str().replace('-', ""), bare);
            prop_assert_eq!(ResourceName::lv(r.as_str()).unwrap(), r);
        }
    }
}
