//! Error types. Pure decoders return [`DecodeError`] (offsets relative to the buffer they were
//! given); device-level functions return [`OnDiskError`] with the device path and the absolute
//! byte offset of the structure at fault.

use crate::units::Bytes;
use std::path::PathBuf;

/// What is wrong with a structure read from disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("{structure}: buffer holds {got} bytes, {needed} needed")]
    Truncated {
        structure: &'static str,
        needed: u64,
        got: u64,
    },
    #[error("{structure}: wrong magic {found:02x?}")]
    BadMagic {
        structure: &'static str,
        found: Vec<u8>,
    },
    #[error("{structure}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BadChecksum {
        structure: &'static str,
        stored: u32,
        computed: u32,
    },
    #[error("label: records sector {recorded} but was found in sector {actual}")]
    WrongSector { recorded: u64, actual: u64 },
    #[error("{structure}: unsupported version {found}")]
    BadVersion { structure: &'static str, found: u32 },
    #[error("label: type {found:02x?} is not \"LVM2 001\"")]
    UnknownLabelType { found: Vec<u8> },
    #[error("{field} = {value} is out of bounds (limit {limit})")]
    OutOfBounds {
        field: &'static str,
        value: u64,
        limit: u64,
    },
    #[error("{list}: no zero terminator before the end of the label sector")]
    Unterminated { list: &'static str },
    #[error("pv_header: uuid contains bytes that are not LVM uuid characters")]
    BadUuid,
    #[error("mda_header: start {recorded} does not match the area at {expected}")]
    WrongStart { recorded: u64, expected: u64 },
    #[error("mda_header: size {recorded} exceeds the area size {area} from the label")]
    AreaMismatch { recorded: u64, area: u64 },
    #[error("metadata text is not UTF-8 or holds a NUL byte before its end")]
    BadText,
}

/// A pure decoder's failure: what is wrong and where in the given buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at buffer offset {offset}: {what}")]
pub struct DecodeError {
    pub offset: u64,
    pub what: Corruption,
}

impl DecodeError {
    pub(crate) fn new(offset: u64, what: Corruption) -> DecodeError {
        DecodeError { offset, what }
    }
}

/// Errors from reading or writing structures on a device.
#[derive(Debug, thiserror::Error)]
pub enum OnDiskError {
    #[error("{}: I/O error at byte {offset}: {source}", path.display())]
    Io {
        path: PathBuf,
        offset: Bytes,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: damaged on-disk structure at byte {offset}: {what}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: Bytes,
        what: Corruption,
    },
    #[error("metadata text needs {needed} but a metadata area holds at most {available}")]
    MetadataTooLarge { needed: Bytes, available: Bytes },
    #[error("{}: metadata area at byte {offset} holds no committed metadata", path.display())]
    Empty { path: PathBuf, offset: Bytes },
    #[error("{}: metadata area at byte {offset} is marked ignored", path.display())]
    Ignored { path: PathBuf, offset: Bytes },
    #[error("{}: {what}", path.display())]
    Invalid { path: PathBuf, what: String },
    #[error("no usable (non-ignored, intact) metadata area among {areas} given")]
    NoUsableArea { areas: usize },
    /// Every metadata area's write failed: no copy of the new metadata reached any device
    /// (the VG's metadata is unreachable from this host; the committed copies are unchanged).
    #[error(
        "no metadata copy could be written: all {areas} metadata areas failed; first: {first}"
    )]
    NoCopyWritten {
        areas: usize,
        failed: Vec<PathBuf>,
        first: Box<OnDiskError>,
    },
    #[error("metadata text contains a NUL byte at {position}")]
    NulInText { position: usize },
}

impl OnDiskError {
    pub(crate) fn io(path: &std::path::Path, offset: Bytes, source: std::io::Error) -> Self {
        OnDiskError::Io {
            path: path.to_path_buf(),
            offset,
            source,
        }
    }

    /// Lifts a decoder error found in a buffer read from `base` on `path`.
    pub(crate) fn from_decode(path: &std::path::Path, base: Bytes, e: DecodeError) -> Self {
        OnDiskError::Corrupt {
            path: path.to_path_buf(),
            offset: Bytes(base.0.saturating_add(e.offset)),
            what: e.what,
        }
    }

    /// True when the error means the copy is damaged or unreadable, as opposed to a copy that
    /// is simply empty or ignored on purpose.
    pub fn is_damage(&self) -> bool {
        matches!(self, OnDiskError::Io { .. } | OnDiskError::Corrupt { .. })
    }
}
