//! The metadata area: a 512-byte `mda_header` followed by a circular buffer of text
//! metadata copies.
//!
//! Header layout (little-endian):
//! ```text
//! 0   checksum_xl u32 (LVM2 CRC of bytes 4..512)   4   magic " LVM2 x[5A%r0N*>"
//! 20  version u32 (=1)   24  start u64 (absolute byte offset of this header)
//! 32  size u64 (bytes of the whole area, header included)
//! 40  raw_locn[0] committed, 64 raw_locn[1] precommitted: {offset u64 (from the area
//!     start), size u64, checksum u32, flags u32}; unused slots are zero.
//! ```
//!
//! Text placement, as LVM2 2.03 does it (`_vg_write_raw`, `_next_rlocn_offset`):
//! - A copy's `size` counts the text plus one trailing NUL; its `checksum` is the LVM2 CRC
//!   of exactly those `size` bytes (for a wrapped copy: the tail part, then the head part).
//! - The first copy goes at offset 512, right after the header. A new copy starts at the
//!   first 512-byte boundary after the last byte of the committed copy; when that is within
//!   512 bytes of the area end (or past it) it starts again at 512.
//! - A copy that runs past the area end wraps: the rest continues at offset 512.
//! - The write is padded with zeros up to the next 512-byte boundary (the wrapped part's
//!   when it wraps), so the gap before the next copy is zeroed.
//! - A copy may be at most `(area_size - 512) / 2 - 512` bytes, so it can never overlap
//!   the committed copy; bigger text is `MetadataTooLarge`.

use crate::crc::{self, lvm_crc, INITIAL_CRC};
use crate::dev::BlockDev;
use crate::error::{Corruption, DecodeError, OnDiskError};
use crate::label::DiskLocn;
use crate::le::{le_u32, le_u64, put_u32, put_u64, whole};
use crate::units::{Bytes, SECTOR_SIZE};

pub const MDA_HEADER_SIZE: usize = 512;
pub const FMTT_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
pub const FMTT_VERSION: u32 = 1;
/// `raw_locn.flags`: this metadata area is not used for the VG's metadata.
pub const RAW_LOCN_IGNORED: u32 = 0x1;
/// New copies start on this boundary (`MDA_ORIGINAL_ALIGNMENT`).
pub const TEXT_ALIGNMENT: u64 = 512;
/// How much of a new area `pvcreate` zeroes before writing the header.
pub const MDA_WIPE_SIZE: u64 = 4096;
/// Smallest metadata area LVM2 creates (8 pages of 4 KiB).
pub const MDA_SIZE_MIN: u64 = 8 * 4096;

const OFF_CHECKSUM: usize = 0;
const OFF_MAGIC: usize = 4;
const OFF_VERSION: usize = 20;
const OFF_START: usize = 24;
const OFF_SIZE: usize = 32;
const OFF_LOCNS: usize = 40;
const RAW_LOCN_SIZE: usize = 24;

/// Pointer to one text copy in the circular buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RawLocn {
    /// From the start of the metadata area (the header is at 0, text starts at 512).
    pub offset: Bytes,
    /// Text bytes including the trailing NUL.
    pub size: Bytes,
    pub checksum: u32,
    pub flags: u32,
}

impl RawLocn {
    /// No copy recorded (LVM2's test: offset and size both zero).
    pub fn is_empty(&self) -> bool {
        self.offset.0 == 0 && self.size.0 == 0
    }

    pub fn is_ignored(&self) -> bool {
        self.flags & RAW_LOCN_IGNORED != 0
    }

    /// Bytes of the copy that continue at offset 512 after running past the area end.
    pub fn wrap(&self, area_size: Bytes) -> u64 {
        (self.offset.0 + self.size.0).saturating_sub(area_size.0)
    }
}

/// The decoded `mda_header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdaHeader {
    /// Absolute byte offset of this header on the device.
    pub start: Bytes,
    /// Size of the whole metadata area, header included.
    pub size: Bytes,
    /// Slot 0 is the committed copy, slot 1 the precommitted one.
    pub raw_locns: [RawLocn; 2],
}

impl MdaHeader {
    /// An empty header for the area `area` (what pvcreate writes).
    pub fn empty(area: DiskLocn, ignored: bool) -> MdaHeader {
        let mut h = MdaHeader {
            start: area.offset,
            size: area.size,
            raw_locns: [RawLocn::default(); 2],
        };
        if ignored {
            h.raw_locns[0].flags = RAW_LOCN_IGNORED;
        }
        h
    }

    pub fn committed(&self) -> &RawLocn {
        &self.raw_locns[0]
    }

    pub fn precommitted(&self) -> &RawLocn {
        &self.raw_locns[1]
    }

    /// Largest text copy (NUL included) the area accepts.
    pub fn max_text_size(&self) -> Bytes {
        Bytes(max_text_size(self.size.0))
    }

    /// Encodes the 512-byte header, computing its checksum.
    pub fn encode(&self) -> [u8; MDA_HEADER_SIZE] {
        let mut b = [0u8; MDA_HEADER_SIZE];
        b[OFF_MAGIC..OFF_MAGIC + 16].copy_from_slice(FMTT_MAGIC);
        put_u32(&mut b, OFF_VERSION, FMTT_VERSION);
        put_u64(&mut b, OFF_START, self.start.0);
        put_u64(&mut b, OFF_SIZE, self.size.0);
        for (i, l) in self.raw_locns.iter().enumerate() {
            let at = OFF_LOCNS + i * RAW_LOCN_SIZE;
            put_u64(&mut b, at, l.offset.0);
            put_u64(&mut b, at + 8, l.size.0);
            put_u32(&mut b, at + 16, l.checksum);
            put_u32(&mut b, at + 20, l.flags);
        }
        let crc = lvm_crc(INITIAL_CRC, &b[OFF_MAGIC..]);
        put_u32(&mut b, OFF_CHECKSUM, crc);
        b
    }

    /// Decodes and validates a header: checksum, magic, version, and every recorded copy
    /// lying inside the area's text buffer. Never panics.
    pub fn decode(buf: &[u8]) -> Result<MdaHeader, DecodeError> {
        let b = whole(buf, MDA_HEADER_SIZE, "mda_header")?;
        crc::verify("mda_header", le_u32(b, OFF_CHECKSUM), &b[OFF_MAGIC..])
            .map_err(|what| DecodeError::new(OFF_CHECKSUM as u64, what))?;
        if &b[OFF_MAGIC..OFF_MAGIC + 16] != FMTT_MAGIC {
            return Err(DecodeError::new(
                OFF_MAGIC as u64,
                Corruption::BadMagic {
                    structure: "mda_header",
                    found: b[OFF_MAGIC..OFF_MAGIC + 16].to_vec(),
                },
            ));
        }
        let version = le_u32(b, OFF_VERSION);
        if version != FMTT_VERSION {
            return Err(DecodeError::new(
                OFF_VERSION as u64,
                Corruption::BadVersion {
                    structure: "mda_header",
                    found: version,
                },
            ));
        }
        let start = le_u64(b, OFF_START);
        let size = le_u64(b, OFF_SIZE);
        // At least one sector of text after the header.
        let min = (MDA_HEADER_SIZE as u64) + SECTOR_SIZE;
        if size < min {
            return Err(DecodeError::new(
                OFF_SIZE as u64,
                Corruption::OutOfBounds {
                    field: "mda_header size",
                    value: size,
                    limit: min,
                },
            ));
        }
        if start.checked_add(size).is_none() {
            return Err(DecodeError::new(
                OFF_START as u64,
                Corruption::OutOfBounds {
                    field: "mda_header start + size",
                    value: start,
                    limit: u64::MAX - size,
                },
            ));
        }
        let mut raw_locns = [RawLocn::default(); 2];
        for (i, slot) in raw_locns.iter_mut().enumerate() {
            let at = OFF_LOCNS + i * RAW_LOCN_SIZE;
            let l = RawLocn {
                offset: Bytes(le_u64(b, at)),
                size: Bytes(le_u64(b, at + 8)),
                checksum: le_u32(b, at + 16),
                flags: le_u32(b, at + 20),
            };
            if !l.is_empty() {
                check_locn(&l, size).map_err(|what| DecodeError::new(at as u64, what))?;
            }
            *slot = l;
        }
        Ok(MdaHeader {
            start: Bytes(start),
            size: Bytes(size),
            raw_locns,
        })
    }
}

/// `(area_size - 512) / 2 - 512`: two copies plus alignment slack always fit.
pub fn max_text_size(area_size: u64) -> u64 {
    (area_size.saturating_sub(MDA_HEADER_SIZE as u64) / 2).saturating_sub(TEXT_ALIGNMENT)
}

fn check_locn(l: &RawLocn, area_size: u64) -> Result<(), Corruption> {
    let header = MDA_HEADER_SIZE as u64;
    if l.offset.0 < header || l.offset.0 >= area_size {
        return Err(Corruption::OutOfBounds {
            field: "raw_locn offset",
            value: l.offset.0,
            limit: area_size,
        });
    }
    // A copy cannot be empty (it holds at least the NUL) nor larger than the text buffer.
    let buffer = area_size - header;
    if l.size.0 == 0 || l.size.0 > buffer {
        return Err(Corruption::OutOfBounds {
            field: "raw_locn size",
            value: l.size.0,
            limit: buffer,
        });
    }
    Ok(())
}

/// Where and how a new copy is written; all offsets relative to the area start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPlacement {
    /// The new copy's `raw_locn.offset`.
    pub offset: u64,
    /// The new copy's `raw_locn.size` (text + NUL).
    pub size: u64,
    /// Bytes continuing at offset 512 (0 when the copy does not wrap).
    pub wrap: u64,
    /// Zero bytes written after the text (after the wrapped part when wrapping).
    pub pad: u64,
}

/// The committed copy as inclusive first/last offsets plus its wrap, like LVM2 keeps them.
fn old_extent(h: &MdaHeader) -> Option<(u64, u64, u64)> {
    let c = h.committed();
    if c.is_ignored() || c.is_empty() {
        return None;
    }
    let start = c.offset.0;
    let wrap = c.wrap(h.size);
    let last = if wrap > 0 {
        wrap + MDA_HEADER_SIZE as u64 - 1
    } else {
        start + c.size.0 - 1
    };
    Some((start, last, wrap))
}

/// Computes where a copy of `size` bytes (text + NUL) goes in the area `mda_start`/`h`,
/// exactly as LVM2 2.03 does; `Err((needed, available))` when it does not fit.
pub fn place_text(mda_start: u64, h: &MdaHeader, size: u64) -> Result<TextPlacement, (u64, u64)> {
    let area = h.size.0;
    let header = MDA_HEADER_SIZE as u64;
    let max = max_text_size(area);
    if size == 0 || size > max {
        return Err((size, max));
    }
    let old = old_extent(h);
    let new_start = match old {
        None => header,
        Some((_, old_last, _)) => {
            if area - old_last < TEXT_ALIGNMENT {
                header
            } else {
                let next = old_last + 1;
                let aligned = next.div_ceil(TEXT_ALIGNMENT) * TEXT_ALIGNMENT;
                if aligned > area - TEXT_ALIGNMENT {
                    header
                } else {
                    aligned
                }
            }
        }
    };
    let (new_wrap, new_last) = if new_start + size > area {
        let w = new_start + size - area;
        (w, w + header - 1)
    } else {
        (0, new_start + size - 1)
    };
    // LVM2's overlap test; with the size limit above it can only trip on an inconsistent
    // header, and then refusing is right. Where lvm2 compares a copy's first and last byte
    // with `<` this uses `<=`: the same for every copy lvm2 writes (at least 2 bytes), and
    // a 1-byte copy (empty text plus its NUL) is not taken for an overlap.
    let overlap = match old {
        None => new_wrap > 0 && new_last >= new_start,
        Some((old_start, old_last, old_wrap)) => {
            if new_wrap > 0 && old_wrap > 0 {
                true
            } else if new_wrap == 0 && old_wrap == 0 {
                !((new_start > old_last && new_last >= new_start)
                    || (new_start < old_start && new_last < old_start))
            } else if old_wrap > 0 {
                !(old_last < new_start && new_start <= new_last && new_last < old_start)
            } else {
                !(new_last < old_start && old_start <= old_last && old_last < new_start)
            }
        }
    };
    if overlap {
        let used = old.map(|_| h.committed().size.0).unwrap_or(0);
        return Err((size, (area - header).saturating_sub(used)));
    }
    // Pad to the next 512-byte boundary of the device, never past the area end nor into
    // the committed copy.
    let end_abs = mda_start + new_last + 1;
    let mut pad = (TEXT_ALIGNMENT - end_abs % TEXT_ALIGNMENT) % TEXT_ALIGNMENT;
    pad = pad.min(area - (new_last + 1));
    if let Some((old_start, _, _)) = old {
        if old_start > new_last {
            pad = pad.min(old_start - new_last - 1);
        }
    }
    Ok(TextPlacement {
        offset: new_start,
        size,
        wrap: new_wrap,
        pad,
    })
}

/// A text copy read from an area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdaText {
    /// The text without its trailing NUL.
    pub text: String,
    pub locn: RawLocn,
}

/// Everything readable in one metadata area.
#[derive(Debug)]
pub struct MdaContents {
    pub header: MdaHeader,
    /// `None` when no copy is committed or the area is marked ignored.
    pub committed: Option<MdaText>,
    /// A precommitted copy that differs from the committed one (LVM2's rule).
    pub precommitted: Option<MdaText>,
    /// Why the precommitted copy could not be read, when slot 1 points at a damaged copy.
    pub precommitted_damage: Option<OnDiskError>,
}

/// Decodes text bytes read from a copy: drops the one trailing NUL; the rest must be UTF-8
/// without NUL bytes.
pub fn decode_text(bytes: &[u8]) -> Result<String, Corruption> {
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if has_nul(body) {
        return Err(Corruption::BadText);
    }
    String::from_utf8(body.to_vec()).map_err(|_| Corruption::BadText)
}

/// Whether `bytes` holds a NUL. A branch-free pass the compiler vectorizes: metadata text
/// has none, so an early exit gains nothing, and `contains` (memchr) costs about an
/// instruction a byte where this costs a quarter.
fn has_nul(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |nul, &b| nul | (b == 0))
}

/// [`decode_text`] on a buffer it may keep: the text of a big VG is not copied again.
fn decode_text_owned(mut bytes: Vec<u8>) -> Result<String, Corruption> {
    if bytes.last() == Some(&0) {
        bytes.pop();
    }
    if has_nul(&bytes) {
        return Err(Corruption::BadText);
    }
    String::from_utf8(bytes).map_err(|_| Corruption::BadText)
}

fn dev_size(dev: &dyn BlockDev) -> Result<Bytes, OnDiskError> {
    dev.size()
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))
}

fn check_area_on_dev(dev: &dyn BlockDev, area: DiskLocn) -> Result<(), OnDiskError> {
    let size = dev_size(dev)?;
    let fits = area
        .offset
        .0
        .checked_add(area.size.0)
        .is_some_and(|end| end <= size.0);
    if !fits || area.size.0 < (MDA_HEADER_SIZE as u64) + SECTOR_SIZE {
        return Err(OnDiskError::Invalid {
            path: dev.path().to_path_buf(),
            what: format!(
                "metadata area at {} of {} does not fit a device of {}",
                area.offset, area.size, size
            ),
        });
    }
    Ok(())
}

/// Writes an empty header for `area` after zeroing its first 4 KiB, like pvcreate, and syncs.
pub fn format_mda(dev: &dyn BlockDev, area: DiskLocn) -> Result<(), OnDiskError> {
    format_mda_with(dev, area, false)
}

/// [`format_mda`] with the ignored flag (`pvcreate --metadataignore y`).
pub fn format_mda_with(
    dev: &dyn BlockDev,
    area: DiskLocn,
    ignored: bool,
) -> Result<(), OnDiskError> {
    check_area_on_dev(dev, area)?;
    let zero = vec![0u8; area.size.0.min(MDA_WIPE_SIZE) as usize];
    dev.write_at(area.offset, &zero)
        .map_err(|e| OnDiskError::io(dev.path(), area.offset, e))?;
    write_mda_header(dev, &MdaHeader::empty(area, ignored))
}

/// Reads and validates the header of `area`: besides [`MdaHeader::decode`], its start must
/// be the area's offset and its size must not exceed the area the label gives.
pub fn read_mda_header(dev: &dyn BlockDev, area: DiskLocn) -> Result<MdaHeader, OnDiskError> {
    check_area_on_dev(dev, area)?;
    let mut buf = [0u8; MDA_HEADER_SIZE];
    dev.read_at(area.offset, &mut buf)
        .map_err(|e| OnDiskError::io(dev.path(), area.offset, e))?;
    let h = MdaHeader::decode(&buf)
        .map_err(|e| OnDiskError::from_decode(dev.path(), area.offset, e))?;
    let corrupt = |at: usize, what| OnDiskError::Corrupt {
        path: dev.path().to_path_buf(),
        offset: Bytes(area.offset.0 + at as u64),
        what,
    };
    if h.start != area.offset {
        return Err(corrupt(
            OFF_START,
            Corruption::WrongStart {
                recorded: h.start.0,
                expected: area.offset.0,
            },
        ));
    }
    if h.size > area.size {
        return Err(corrupt(
            OFF_SIZE,
            Corruption::AreaMismatch {
                recorded: h.size.0,
                area: area.size.0,
            },
        ));
    }
    Ok(h)
}

/// Encodes and writes `h` at `h.start`, then syncs. One 512-byte write, which is what
/// makes a slot update atomic on disks with atomic sector writes.
pub fn write_mda_header(dev: &dyn BlockDev, h: &MdaHeader) -> Result<(), OnDiskError> {
    write_mda_header_unsynced(dev, h)?;
    dev.sync()
        .map_err(|e| OnDiskError::io(dev.path(), h.start, e))
}

/// [`write_mda_header`] without the sync, for callers that sync once after several writes
/// to the same device (the commit protocol in [`crate::store`]).
pub fn write_mda_header_unsynced(dev: &dyn BlockDev, h: &MdaHeader) -> Result<(), OnDiskError> {
    let b = h.encode();
    dev.write_at(h.start, &b)
        .map_err(|e| OnDiskError::io(dev.path(), h.start, e))
}

/// Reads the copy `locn` points at in the area described by `h` and checks its checksum.
pub fn read_text(
    dev: &dyn BlockDev,
    h: &MdaHeader,
    locn: &RawLocn,
) -> Result<MdaText, OnDiskError> {
    if let Err(what) = check_locn(locn, h.size.0) {
        return Err(OnDiskError::Corrupt {
            path: dev.path().to_path_buf(),
            offset: h.start,
            what,
        });
    }
    let wrap = locn.wrap(h.size);
    let first = locn.size.0 - wrap;
    let mut buf = vec![0u8; locn.size.0 as usize];
    let off1 = Bytes(h.start.0 + locn.offset.0);
    dev.read_at(off1, &mut buf[..first as usize])
        .map_err(|e| OnDiskError::io(dev.path(), off1, e))?;
    if wrap > 0 {
        let off2 = Bytes(h.start.0 + MDA_HEADER_SIZE as u64);
        dev.read_at(off2, &mut buf[first as usize..])
            .map_err(|e| OnDiskError::io(dev.path(), off2, e))?;
    }
    crc::verify("metadata text", locn.checksum, &buf).map_err(|what| OnDiskError::Corrupt {
        path: dev.path().to_path_buf(),
        offset: off1,
        what,
    })?;
    let text = decode_text_owned(buf).map_err(|what| OnDiskError::Corrupt {
        path: dev.path().to_path_buf(),
        offset: off1,
        what,
    })?;
    Ok(MdaText { text, locn: *locn })
}

/// Reads the header and the committed and precommitted copies of `area`. A damaged header
/// or committed copy is an error; a damaged precommitted copy is reported beside.
pub fn read_mda(dev: &dyn BlockDev, area: DiskLocn) -> Result<MdaContents, OnDiskError> {
    read_texts(dev, read_mda_header(dev, area)?)
}

/// Starts reading the committed and precommitted copies `header` records
/// ([`BlockDev::prefetch`]), for [`read_texts`] later: a scan has every device's texts on
/// their way before it waits for the first.
pub fn prefetch_texts(dev: &dyn BlockDev, header: &MdaHeader) {
    for l in &header.raw_locns {
        if l.is_empty() || check_locn(l, header.size.0).is_err() {
            continue;
        }
        let wrap = l.wrap(header.size);
        dev.prefetch(Bytes(header.start.0 + l.offset.0), l.size.0 - wrap);
        if wrap > 0 {
            dev.prefetch(Bytes(header.start.0 + MDA_HEADER_SIZE as u64), wrap);
        }
    }
}

/// [`read_mda`] once its header is read.
pub fn read_texts(dev: &dyn BlockDev, header: MdaHeader) -> Result<MdaContents, OnDiskError> {
    let c = *header.committed();
    let committed = if c.is_ignored() || c.is_empty() {
        None
    } else {
        Some(read_text(dev, &header, &c)?)
    };
    let p = *header.precommitted();
    let (precommitted, precommitted_damage) = if p.size.0 != 0 && p.offset != c.offset {
        match read_text(dev, &header, &p) {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    Ok(MdaContents {
        header,
        committed,
        precommitted,
        precommitted_damage,
    })
}

/// Writes `text` (plus its NUL) into the circular buffer of the area `h` describes, after
/// the committed copy, and syncs. No slot is changed: the returned location still has to
/// be recorded with [`write_mda_header`]. Refuses text that does not fit.
pub fn write_text(dev: &dyn BlockDev, h: &MdaHeader, text: &str) -> Result<RawLocn, OnDiskError> {
    let l = write_text_unsynced(dev, h, text)?;
    dev.sync()
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(h.start.0 + l.offset.0), e))?;
    Ok(l)
}

/// A metadata text as it goes into any area: the text, its NUL, then zeros for the
/// largest padding an area can need, with the checksum of text and NUL. Made once per
/// update and written to every area, so neither the copy nor the checksum is repeated
/// per area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextImage {
    /// Text, NUL, then `TEXT_ALIGNMENT - 1` zeros.
    data: Vec<u8>,
    checksum: u32,
}

impl TextImage {
    /// Takes `text` over without copying it when it has room for the NUL and padding
    /// (`TEXT_ALIGNMENT` bytes of spare capacity). Refuses text holding a NUL.
    pub fn new(text: String) -> Result<TextImage, OnDiskError> {
        nul_free(&text)?;
        let mut data = text.into_bytes();
        data.reserve_exact(TEXT_ALIGNMENT as usize);
        data.push(0);
        let checksum = lvm_crc(INITIAL_CRC, &data);
        // Padding never exceeds one alignment unit less a byte.
        data.resize(data.len() + TEXT_ALIGNMENT as usize - 1, 0);
        Ok(TextImage { data, checksum })
    }

    /// A copy of `text`.
    pub fn from_text(text: &str) -> Result<TextImage, OnDiskError> {
        let mut s = String::with_capacity(text.len() + TEXT_ALIGNMENT as usize);
        s.push_str(text);
        TextImage::new(s)
    }

    /// `raw_locn.size` of a copy: text plus NUL.
    pub fn size(&self) -> u64 {
        (self.data.len() + 1 - TEXT_ALIGNMENT as usize) as u64
    }

    /// The LVM2 CRC of text plus NUL.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// The bytes of a copy: text plus NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data[..self.size() as usize]
    }
}

fn nul_free(text: &str) -> Result<(), OnDiskError> {
    match text.find('\0') {
        Some(position) => Err(OnDiskError::NulInText { position }),
        None => Ok(()),
    }
}

/// [`write_text`] without the sync: the caller must sync the device before any header write
/// that makes this copy the committed one.
pub fn write_text_unsynced(
    dev: &dyn BlockDev,
    h: &MdaHeader,
    text: &str,
) -> Result<RawLocn, OnDiskError> {
    write_image_unsynced(dev, h, &TextImage::from_text(text)?)
}

/// [`write_text_unsynced`] of a prepared text.
pub fn write_image_unsynced(
    dev: &dyn BlockDev,
    h: &MdaHeader,
    image: &TextImage,
) -> Result<RawLocn, OnDiskError> {
    let size = image.size();
    let p = place_text(h.start.0, h, size).map_err(|(needed, available)| {
        OnDiskError::MetadataTooLarge {
            needed: Bytes(needed),
            available: Bytes(available),
        }
    })?;
    let data = &image.data[..(size + p.pad) as usize];
    let first = (p.size - p.wrap) as usize;
    let off1 = Bytes(h.start.0 + p.offset);
    let (part1, part2) = if p.wrap > 0 {
        data.split_at(first)
    } else {
        (data, &[][..])
    };
    dev.write_at(off1, part1)
        .map_err(|e| OnDiskError::io(dev.path(), off1, e))?;
    if !part2.is_empty() {
        let off2 = Bytes(h.start.0 + MDA_HEADER_SIZE as u64);
        dev.write_at(off2, part2)
            .map_err(|e| OnDiskError::io(dev.path(), off2, e))?;
    }
    Ok(RawLocn {
        offset: Bytes(p.offset),
        size: Bytes(p.size),
        checksum: image.checksum,
        flags: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::MemDev;
    use proptest::prelude::*;

    const AREA: DiskLocn = DiskLocn {
        offset: Bytes(4096),
        size: Bytes(1_044_480),
    };

    fn dev() -> MemDev {
        MemDev::new("/mem/pv", Bytes(2 << 20))
    }

    /// Writes `text` and commits it (slot 0), like one full LVM2 update on a single area.
    fn commit(d: &MemDev, text: &str) -> RawLocn {
        let mut h = read_mda_header(d, AREA).unwrap();
        let l = write_text(d, &h, text).unwrap();
        h.raw_locns = [l, RawLocn::default()];
        write_mda_header(d, &h).unwrap();
        l
    }

    #[test]
    fn empty_header_round_trip_and_read() {
        let d = dev();
        format_mda(&d, AREA).unwrap();
        let c = read_mda(&d, AREA).unwrap();
        assert_eq!(c.header, MdaHeader::empty(AREA, false));
        assert!(c.committed.is_none() && c.precommitted.is_none());
        assert_eq!(c.header.max_text_size(), Bytes(521_472));
    }

    #[test]
    fn first_copy_at_512_then_aligned_after_previous() {
        let d = dev();
        format_mda(&d, AREA).unwrap();
        let a = commit(&d, &"a".repeat(698));
        assert_eq!((a.offset, a.size), (Bytes(512), Bytes(699)));
        let b = commit(&d, &"b".repeat(1009));
        // 512 + 699 = 1211 -> next boundary 1536, as lvm2 placed the second copy.
        assert_eq!((b.offset, b.size), (Bytes(1536), Bytes(1010)));
        let c = commit(&d, "c");
        assert_eq!(c.offset, Bytes(2560));
        assert_eq!(read_mda(&d, AREA).unwrap().committed.unwrap().text, "c");
        // Padding zeroed the rest of the sector after the NUL.
        let snap = d.snapshot();
        let end = (4096 + 2560 + 2) as usize;
        assert!(snap[end..4096 + 3072].iter().all(|&x| x == 0));
    }

    /// A device that notes the ranges it is asked to read ahead.
    struct Prefetches(MemDev, std::sync::Mutex<Vec<(u64, u64)>>);

    impl BlockDev for Prefetches {
        fn read_at(&self, off: Bytes, buf: &mut [u8]) -> std::io::Result<()> {
            self.0.read_at(off, buf)
        }
        fn write_at(&self, off: Bytes, data: &[u8]) -> std::io::Result<()> {
            self.0.write_at(off, data)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.0.sync()
        }
        fn size(&self) -> std::io::Result<Bytes> {
            self.0.size()
        }
        fn path(&self) -> &std::path::Path {
            self.0.path()
        }
        fn prefetch(&self, off: Bytes, len: u64) {
            self.1.lock().unwrap().push((off.0, len));
        }
    }

    #[test]
    fn prefetch_asks_for_exactly_the_bytes_the_texts_are_read_from() {
        let d = Prefetches(MemDev::new("/mem/p", Bytes(64 * 1024)), Default::default());
        let area = DiskLocn::new(4096, 32768);
        format_mda(&d, area).unwrap();
        let mut h = read_mda_header(&d, area).unwrap();
        prefetch_texts(&d, &h);
        assert!(
            d.1.lock().unwrap().is_empty(),
            "an empty area: nothing to read"
        );
        // Texts until one wraps around the end of the area.
        let max = max_text_size(32768) as usize;
        for i in 0..20 {
            let text = "x".repeat(max - 1 - (i * 37) % 900);
            let l = write_text(&d, &h, &text).unwrap();
            h.raw_locns[0] = l;
            write_mda_header(&d, &h).unwrap();
            d.1.lock().unwrap().clear();
            prefetch_texts(&d, &h);
            let asked = d.1.lock().unwrap().clone();
            let wrap = l.wrap(h.size);
            let first = (h.start.0 + l.offset.0, l.size.0 - wrap);
            if wrap == 0 {
                assert_eq!(asked, vec![first]);
            } else {
                let second = (h.start.0 + MDA_HEADER_SIZE as u64, wrap);
                assert_eq!(asked, vec![first, second]);
                return;
            }
        }
        panic!("no text wrapped");
    }

    #[test]
    fn wraps_around_the_end_and_reads_back() {
        let d = MemDev::new("/mem/small", Bytes(64 * 1024));
        let area = DiskLocn::new(4096, 32768);
        format_mda(&d, area).unwrap();
        let max = max_text_size(32768) as usize; // 15616
        let mut h = read_mda_header(&d, area).unwrap();
        let mut seen_wrap = false;
        for i in 0..20 {
            let text: String =
                std::iter::repeat_n((b'a' + (i % 26) as u8) as char, max - 1 - (i * 37) % 900)
                    .collect();
            let l = write_text(&d, &h, &text).unwrap();
            seen_wrap |= l.wrap(h.size) > 0;
            // The committed copy is untouched by writing the new one.
            if let Some(old) = read_mda(&d, area).unwrap().committed {
                assert_eq!(read_text(&d, &h, &old.locn).unwrap(), old);
            }
            h.raw_locns = [l, RawLocn::default()];
            write_mda_header(&d, &h).unwrap();
            assert_eq!(read_mda(&d, area).unwrap().committed.unwrap().text, text);
        }
        assert!(seen_wrap);
    }

    /// `write_text_unsynced` as it was: a fresh buffer per area.
    fn write_text_copying(d: &MemDev, h: &MdaHeader, text: &str) -> RawLocn {
        let mut data = text.as_bytes().to_vec();
        data.push(0);
        let p = place_text(h.start.0, h, data.len() as u64).unwrap();
        let checksum = lvm_crc(INITIAL_CRC, &data);
        data.resize(data.len() + p.pad as usize, 0);
        let (part1, part2) = if p.wrap > 0 {
            data.split_at((p.size - p.wrap) as usize)
        } else {
            (&data[..], &[][..])
        };
        d.write_at(Bytes(h.start.0 + p.offset), part1).unwrap();
        if !part2.is_empty() {
            d.write_at(Bytes(h.start.0 + MDA_HEADER_SIZE as u64), part2)
                .unwrap();
        }
        RawLocn {
            offset: Bytes(p.offset),
            size: Bytes(p.size),
            checksum,
            flags: 0,
        }
    }

    #[test]
    fn text_image_takes_an_owned_text_over() {
        let mut text = String::with_capacity(4096 + TEXT_ALIGNMENT as usize);
        text.push_str(&"v".repeat(4096));
        let at = text.as_ptr();
        let image = TextImage::new(text).unwrap();
        assert_eq!(image.data.as_ptr(), at);
        assert_eq!(image.size(), 4097);
        assert!(matches!(
            TextImage::new("ab\0".into()),
            Err(OnDiskError::NulInText { position: 2 })
        ));
    }

    #[test]
    fn empty_text_copies_follow_each_other() {
        // A copy of just the NUL after another one: placed, not refused as an overlap.
        let d = dev();
        format_mda(&d, AREA).unwrap();
        let a = commit(&d, "");
        let b = commit(&d, "");
        assert_eq!(
            (a.offset, a.size, b.offset),
            (Bytes(512), Bytes(1), Bytes(1024))
        );
        assert_eq!(read_mda(&d, AREA).unwrap().committed.unwrap().text, "");
    }

    #[test]
    fn too_large_is_refused_with_sizes() {
        let d = dev();
        format_mda(&d, AREA).unwrap();
        let h = read_mda_header(&d, AREA).unwrap();
        assert!(write_text(&d, &h, &"x".repeat(521_471)).is_ok());
        match write_text(&d, &h, &"x".repeat(521_472)) {
            Err(OnDiskError::MetadataTooLarge { needed, available }) => {
                assert_eq!((needed, available), (Bytes(521_473), Bytes(521_472)))
            }
            other => panic!("expected MetadataTooLarge, got {other:?}"),
        }
        assert!(matches!(
            write_text(&d, &h, "a\0b"),
            Err(OnDiskError::NulInText { position: 1 })
        ));
    }

    #[test]
    fn header_damage_is_detected() {
        let d = dev();
        format_mda(&d, AREA).unwrap();
        commit(&d, "vg { }");
        // Wrong start: a header copied from elsewhere.
        let mut h = read_mda_header(&d, AREA).unwrap();
        h.start = Bytes(8192);
        d.poke(AREA.offset, &h.encode());
        assert!(matches!(
            read_mda(&d, AREA),
            Err(OnDiskError::Corrupt {
                what: Corruption::WrongStart { .. },
                ..
            })
        ));
        // Bad checksum.
        let mut b = MdaHeader::empty(AREA, false).encode();
        b[30] ^= 0x40;
        d.poke(AREA.offset, &b);
        assert!(matches!(
            read_mda(&d, AREA),
            Err(OnDiskError::Corrupt {
                what: Corruption::BadChecksum { .. },
                ..
            })
        ));
        // Size larger than the label's area.
        let mut big = MdaHeader::empty(AREA, false);
        big.size = Bytes(AREA.size.0 + 512);
        d.poke(AREA.offset, &big.encode());
        assert!(matches!(
            read_mda(&d, AREA),
            Err(OnDiskError::Corrupt {
                what: Corruption::AreaMismatch { .. },
                ..
            })
        ));
    }

    #[test]
    fn text_damage_is_detected() {
        let d = dev();
        format_mda(&d, AREA).unwrap();
        let l = commit(&d, "vg { seqno = 1 }");
        d.poke(Bytes(AREA.offset.0 + l.offset.0 + 3), b"X");
        match read_mda(&d, AREA) {
            Err(OnDiskError::Corrupt {
                offset,
                what: Corruption::BadChecksum { structure, .. },
                ..
            }) => {
                assert_eq!(structure, "metadata text");
                assert_eq!(offset, Bytes(4096 + 512));
            }
            other => panic!("expected text checksum error, got {other:?}"),
        }
    }

    #[test]
    fn ignored_area_has_no_committed_copy() {
        let d = dev();
        format_mda_with(&d, AREA, true).unwrap();
        let c = read_mda(&d, AREA).unwrap();
        assert!(c.header.committed().is_ignored());
        assert!(c.committed.is_none());
    }

    fn arb_locn(size: u64) -> impl Strategy<Value = RawLocn> {
        prop_oneof![
            Just(RawLocn::default()),
            (512..size, 1..=(size - 512), any::<u32>(), any::<u32>()).prop_map(|(o, s, c, f)| {
                RawLocn {
                    offset: Bytes(o),
                    size: Bytes(s),
                    checksum: c,
                    flags: f,
                }
            }),
        ]
    }

    fn arb_header() -> impl Strategy<Value = MdaHeader> {
        (0u64..1 << 40, 1024u64..1 << 30).prop_flat_map(|(start, size)| {
            (arb_locn(size), arb_locn(size)).prop_map(move |(a, b)| MdaHeader {
                start: Bytes(start),
                size: Bytes(size),
                raw_locns: [a, b],
            })
        })
    }

    proptest! {
        /// One image written to areas in any state writes, byte for byte, what a fresh
        /// copy of the text per area wrote (placement, wrap, padding, checksum).
        #[test]
        fn prop_image_writes_what_a_copy_wrote(
            lens in proptest::collection::vec(0usize..15_000, 1..12),
            fill in any::<u8>(),
        ) {
            let area = DiskLocn::new(4096, 32768);
            let a = MemDev::new("/mem/a", Bytes(64 * 1024));
            format_mda(&a, area).unwrap();
            // Leftovers of earlier copies show whether padding is written.
            a.write_at(Bytes(4096 + 512), &vec![fill; 32768 - 512]).unwrap();
            let b = MemDev::new("/mem/b", Bytes(64 * 1024));
            b.restore(&a.snapshot());
            let mut h = read_mda_header(&a, area).unwrap();
            for (i, len) in lens.into_iter().enumerate() {
                let text: String = (0..len).map(|j| (b'a' + ((i + j) % 26) as u8) as char).collect();
                let image = TextImage::from_text(&text).unwrap();
                let la = write_image_unsynced(&a, &h, &image).unwrap();
                let lb = write_text_copying(&b, &h, &text);
                prop_assert_eq!(la, lb);
                prop_assert!(a.snapshot() == b.snapshot());
                h.raw_locns = [la, RawLocn::default()];
            }
        }

        #[test]
        fn prop_header_round_trip(h in arb_header()) {
            prop_assert_eq!(MdaHeader::decode(&h.encode()).unwrap(), h);
        }

        #[test]
        fn prop_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = MdaHeader::decode(&bytes);
        }

        #[test]
        fn prop_decode_mutated_resigned(h in arb_header(), idx in 4usize..512, val in any::<u8>()) {
            let mut b = h.encode();
            b[idx] = val;
            let crc = lvm_crc(INITIAL_CRC, &b[4..]);
            b[..4].copy_from_slice(&crc.to_le_bytes());
            if let Ok(d) = MdaHeader::decode(&b) {
                // Whatever decodes must satisfy the bounds the readers rely on.
                for l in d.raw_locns.iter().filter(|l| !l.is_empty()) {
                    prop_assert!(l.offset.0 >= 512 && l.offset.0 < d.size.0);
                    prop_assert!(l.size.0 >= 1 && l.size.0 <= d.size.0 - 512);
                }
            }
        }

        #[test]
        fn prop_has_nul_is_contains(bytes in proptest::collection::vec(prop_oneof![8 => 1u8..=255, 1 => Just(0u8)], 0..200)) {
            prop_assert_eq!(has_nul(&bytes), bytes.contains(&0));
        }

        #[test]
        fn prop_decode_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode_text(&bytes);
        }

        /// The owning decoder (used when reading copies) agrees with `decode_text`, on bytes
        /// biased towards NULs, ASCII and broken UTF-8.
        #[test]
        fn prop_decode_text_owned_equals_decode_text(
            bytes in proptest::collection::vec(prop_oneof![Just(0u8), 0x20u8..0x7f, any::<u8>()], 0..100),
            text in "[a-zé]{0,20}", nul in any::<bool>()) {
            prop_assert_eq!(decode_text_owned(bytes.clone()), decode_text(&bytes));
            let mut t = text.into_bytes();
            if nul { t.push(0); }
            prop_assert_eq!(decode_text_owned(t.clone()), decode_text(&t));
        }

        /// Placement rules for any committed copy and any new size: aligned to 512 after the
        /// old copy (or back at 512), inside the buffer, and never overlapping the old copy.
        #[test]
        fn prop_placement(area in 2048u64..200_000, old_off in 512u64..200_000, old_size in 1u64..100_000, new_size in 1u64..100_000) {
            let area = area - area % 512;
            prop_assume!(old_off < area && old_size <= max_text_size(area));
            let mut h = MdaHeader::empty(DiskLocn::new(4096, area), false);
            h.raw_locns[0] = RawLocn { offset: Bytes(old_off), size: Bytes(old_size), checksum: 0, flags: 0 };
            match place_text(4096, &h, new_size) {
                Err((needed, avail)) => prop_assert!(needed > avail || new_size > max_text_size(area)),
                Ok(p) => {
                    prop_assert!(new_size <= max_text_size(area));
                    prop_assert_eq!(p.offset % 512, 0);
                    prop_assert!(p.offset >= 512 && p.offset < area);
                    // Byte sets (relative offsets) of old and new copies incl. padding.
                    let bytes_of = |off: u64, size: u64| -> Vec<(u64, u64)> {
                        if off + size > area { vec![(off, area), (512, 512 + off + size - area)] } else { vec![(off, off + size)] }
                    };
                    let old = bytes_of(old_off, old_size);
                    let new = bytes_of(p.offset, p.size + p.pad);
                    for (a0, a1) in &old { for (b0, b1) in &new {
                        prop_assert!(a1 <= b0 || b1 <= a0, "old {:?} new {:?}", old, new);
                    }}
                    let old_last = if old_off + old_size > area { old_off + old_size - area + 511 } else { old_off + old_size - 1 };
                    let next = (old_last + 1).div_ceil(512) * 512;
                    if area - old_last >= 512 && next <= area - 512 {
                        prop_assert_eq!(p.offset, next);
                    } else {
                        prop_assert_eq!(p.offset, 512);
                    }
                }
            }
        }
    }
}
