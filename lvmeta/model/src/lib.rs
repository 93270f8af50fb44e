//! Volume-group model (PVs, LVs, segments) and the extent allocator, free of I/O.
//!
//! [`VolumeGroup::from_metadata`] reads the tree `lvmeta_text::parse` makes of a metadata area
//! (or a backup file); [`VolumeGroup::to_metadata`] gives back a tree with exactly the keys and
//! order lvm2 writes, so `lvmeta_text::write` of it equals what lvm2 itself would put on disk.
//! Keys the model does not know are kept in each struct's [`Extra`] and written back in place;
//! segment types other than striped, mirror and raid1 are kept verbatim.
//! [`VolumeGroup::write_metadata`] writes that same text without the tree.

pub mod alloc;
mod backup_comments;
mod error;
pub mod flags;
pub mod ids;
/// The former name of [`ids`].
pub use ids as lvm_uuid;
pub mod names;
#[cfg(test)]
mod reference;
pub mod report;
pub mod sizing;
pub mod time;
mod vg;
mod vg_write;

pub use alloc::{
    Allocation, ImagesRequest, Layout, LvRequest, MirrorLog, DEFAULT_REGION_SIZE,
    DEFAULT_STRIPE_SIZE,
};
pub use error::ModelError;
pub use flags::{Flag, FlagList, FlagWord};
pub use report::{lv_attr_of, SegmentReport, SubRole};
pub use vg::{
    Extra, ExtraEntry, LogicalVolume, LvArea, PhysicalVolume, Segment, SegmentKind, StripeArea,
    Trailer, VolumeGroup,
};
