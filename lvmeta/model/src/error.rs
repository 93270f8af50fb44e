//! Errors of the model and the allocator.

use lvmeta_ondisk::units::Extents;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("metadata has no volume group section")]
    NoVolumeGroup,
    #[error("{path}: missing key `{key}`")]
    Missing { path: String, key: &'static str },
    #[error("{path}: `{key}` should be {expected}")]
    WrongType {
        path: String,
        key: String,
        expected: &'static str,
    },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("invalid uuid {uuid:?}: {reason}")]
    InvalidUuid { uuid: String, reason: &'static str },
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("a logical volume named {name:?} already exists")]
    NameClash { name: String },
    #[error("no logical volume named {name:?}")]
    NoSuchLv { name: String },
    #[error("no physical volume {name:?} in the volume group")]
    NoSuchPv { name: String },
    #[error("{name:?} is a hidden sub-volume of {parent:?}; act on {parent:?} instead")]
    SubVolume { name: String, parent: String },
    #[error("not enough free extents: {needed} needed, {free} free")]
    NotEnoughSpace { needed: Extents, free: Extents },
    /// A new mirror's images fit, its disk log does not (lvm2 allocates the log after them).
    #[error("no room for the mirror log: {needed} extents needed, {free} free")]
    NoMirrorLogSpace { needed: Extents, free: Extents },
    #[error("not enough physical volumes: {needed} needed for {what}, {available} usable")]
    NotEnoughPvs {
        needed: usize,
        available: usize,
        what: &'static str,
    },
    #[error("physical volume {pv:?} is still used by {lvs:?}")]
    PvInUse { pv: String, lvs: Vec<String> },
    #[error("invalid size for {name:?}: {problem}")]
    InvalidSize { name: String, problem: String },
    #[error("{name:?}: {what} is not supported for this layout")]
    Unsupported { name: String, what: &'static str },
}
