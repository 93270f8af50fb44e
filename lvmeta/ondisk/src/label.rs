//! The PV label: `label_header` + `pv_header` (+ `pv_header_extension`) in one 512-byte
//! sector among the first four of the device (LVM2 writes sector 1).
//!
//! Sector layout (all integers little-endian):
//! ```text
//! 0   id "LABELONE"          8   sector_xl u64        16  crc_xl u32 (bytes 20..512)
//! 20  offset_xl u32 (=32)    24  type "LVM2 001"
//! 32  pv_header: uuid[32], device_size u64, data areas {offset u64, size u64}* {0,0},
//!     metadata areas {offset, size}* {0,0},
//!     pv_header_extension: version u32, flags u32, bootloader areas {offset, size}* {0,0}
//! ```
//! A list ends at the first entry whose offset is 0, as in LVM2.

use crate::crc::{self, lvm_crc, INITIAL_CRC};
use crate::dev::BlockDev;
use crate::error::{Corruption, DecodeError, OnDiskError};
use crate::le::{le_u32, le_u64, put_u32, put_u64, whole};
use crate::units::{Bytes, SECTOR_SIZE};

pub const LABEL_ID: &[u8; 8] = b"LABELONE";
pub const LVM2_LABEL_TYPE: &[u8; 8] = b"LVM2 001";
/// The label occupies exactly one sector.
pub const LABEL_SIZE: usize = 512;
/// LVM2 looks for a label in sectors 0..4.
pub const LABEL_SCAN_SECTORS: u64 = 4;
/// The sector LVM2 (and we) write the label to.
pub const LABEL_SECTOR: u64 = 1;

const OFF_ID: usize = 0;
const OFF_SECTOR: usize = 8;
const OFF_CRC: usize = 16;
/// The label CRC covers from here to the end of the sector.
const OFF_OFFSET: usize = 20;
const OFF_TYPE: usize = 24;
/// Size of `label_header`; LVM2 always puts the pv_header right after it.
pub const LABEL_HEADER_SIZE: usize = 32;
/// Size of the fixed part of `pv_header` (uuid + device_size).
const PV_HEADER_FIXED: usize = 32 + 8;
const DISK_LOCN_SIZE: usize = 16;
const PV_EXT_FIXED: usize = 8;

/// Current `pv_header_extension` version (2: `PV_EXT_USED` flag support).
pub const PV_HEADER_EXTENSION_VSN: u32 = 2;
/// Extension flag: the PV belongs to a VG (set by vgcreate/vgextend).
pub const PV_EXT_USED: u32 = 0x1;
/// Length of an LVM uuid without dashes.
pub const ID_LEN: usize = 32;

/// One `disk_locn`: a byte range on the device. A data area's size 0 means "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DiskLocn {
    pub offset: Bytes,
    pub size: Bytes,
}

impl DiskLocn {
    pub fn new(offset: u64, size: u64) -> DiskLocn {
        DiskLocn {
            offset: Bytes(offset),
            size: Bytes(size),
        }
    }
}

/// `pv_header_extension`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PvHeaderExt {
    pub version: u32,
    pub flags: u32,
    pub bootloader_areas: Vec<DiskLocn>,
}

/// A decoded PV label (label_header + pv_header + extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLabel {
    /// 32 characters, no dashes.
    pub pv_uuid: String,
    pub device_size: Bytes,
    pub data_areas: Vec<DiskLocn>,
    pub metadata_areas: Vec<DiskLocn>,
    /// `None` for labels written before the extension existed (its version field is 0).
    pub extension: Option<PvHeaderExt>,
}

/// The characters LVM2 uses in uuids.
pub fn is_uuid_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'!' || b == b'#'
}

/// Why a label cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("pv uuid must be {ID_LEN} LVM uuid characters without dashes, got {uuid:?}")]
    BadUuid { uuid: String },
    #[error("{list} entry {index} has offset 0, which would end the list early")]
    ZeroOffset { list: &'static str, index: usize },
    #[error("label needs {needed} bytes, a sector holds {LABEL_SIZE}")]
    TooManyAreas { needed: usize },
    #[error("label sector {sector} is outside the first {LABEL_SCAN_SECTORS} sectors")]
    BadSector { sector: u64 },
    #[error("pv_header_extension version 0 reads back as no extension; use None")]
    ExtensionVersionZero,
}

/// Reads a zero-terminated `disk_locn` list starting at `at`; returns it and the offset
/// just after its terminator.
fn read_locn_list(
    b: &[u8],
    mut at: usize,
    list: &'static str,
) -> Result<(Vec<DiskLocn>, usize), DecodeError> {
    let mut out = Vec::new();
    loop {
        if at + DISK_LOCN_SIZE > b.len() {
            return Err(DecodeError::new(
                at as u64,
                Corruption::Unterminated { list },
            ));
        }
        let offset = le_u64(b, at);
        let size = le_u64(b, at + 8);
        at += DISK_LOCN_SIZE;
        if offset == 0 {
            return Ok((out, at));
        }
        out.push(DiskLocn::new(offset, size));
    }
}

fn check_area(
    at: usize,
    field: &'static str,
    a: &DiskLocn,
    limit: u64,
    zero_size_is_rest: bool,
) -> Result<(), DecodeError> {
    let oob = |value| {
        DecodeError::new(
            at as u64,
            Corruption::OutOfBounds {
                field,
                value,
                limit,
            },
        )
    };
    if a.offset.0 >= limit {
        return Err(oob(a.offset.0));
    }
    if a.size.0 == 0 && !zero_size_is_rest {
        return Err(oob(0));
    }
    match a.offset.0.checked_add(a.size.0) {
        Some(end) if end <= limit => Ok(()),
        Some(end) => Err(oob(end)),
        None => Err(oob(u64::MAX)),
    }
}

/// Checks every area of `label` against a device of `limit` bytes.
pub fn check_areas_within(label: &PvLabel, limit: Bytes) -> Result<(), DecodeError> {
    for a in &label.data_areas {
        check_area(LABEL_HEADER_SIZE, "data area end", a, limit.0, true)?;
    }
    for a in &label.metadata_areas {
        check_area(LABEL_HEADER_SIZE, "metadata area end", a, limit.0, false)?;
    }
    if let Some(ext) = &label.extension {
        for a in &ext.bootloader_areas {
            check_area(LABEL_HEADER_SIZE, "bootloader area end", a, limit.0, false)?;
        }
    }
    Ok(())
}

/// Decodes one 512-byte sector found at sector number `sector` (0..4). `Ok(None)`: the sector
/// does not start with `LABELONE`. `Err`: it does, but the label is damaged. Never panics.
pub fn decode_label_sector(buf: &[u8], sector: u64) -> Result<Option<PvLabel>, DecodeError> {
    if buf.len() < OFF_ID + LABEL_ID.len() || &buf[OFF_ID..OFF_ID + 8] != LABEL_ID {
        return Ok(None);
    }
    let b = whole(buf, LABEL_SIZE, "label")?;
    let recorded = le_u64(b, OFF_SECTOR);
    if recorded != sector {
        return Err(DecodeError::new(
            OFF_SECTOR as u64,
            Corruption::WrongSector {
                recorded,
                actual: sector,
            },
        ));
    }
    crc::verify("label", le_u32(b, OFF_CRC), &b[OFF_OFFSET..])
        .map_err(|what| DecodeError::new(OFF_CRC as u64, what))?;
    if &b[OFF_TYPE..OFF_TYPE + 8] != LVM2_LABEL_TYPE {
        return Err(DecodeError::new(
            OFF_TYPE as u64,
            Corruption::UnknownLabelType {
                found: b[OFF_TYPE..OFF_TYPE + 8].to_vec(),
            },
        ));
    }
    let pvh = le_u32(b, OFF_OFFSET) as usize;
    // The pv_header must sit after the label_header with room for its fixed part and both
    // list terminators.
    let max_pvh = LABEL_SIZE - PV_HEADER_FIXED - 2 * DISK_LOCN_SIZE;
    if pvh < LABEL_HEADER_SIZE || pvh > max_pvh {
        return Err(DecodeError::new(
            OFF_OFFSET as u64,
            Corruption::OutOfBounds {
                field: "label offset_xl",
                value: pvh as u64,
                limit: max_pvh as u64,
            },
        ));
    }
    let uuid_bytes = &b[pvh..pvh + ID_LEN];
    if !uuid_bytes.iter().all(|&c| is_uuid_char(c)) {
        return Err(DecodeError::new(pvh as u64, Corruption::BadUuid));
    }
    let pv_uuid = String::from_utf8(uuid_bytes.to_vec()).expect("ASCII checked above");
    let device_size = Bytes(le_u64(b, pvh + ID_LEN));
    let (data_areas, next) = read_locn_list(b, pvh + PV_HEADER_FIXED, "pv_header data areas")?;
    let (metadata_areas, next) = read_locn_list(b, next, "pv_header metadata areas")?;
    let extension = if next + PV_EXT_FIXED <= LABEL_SIZE && le_u32(b, next) != 0 {
        let version = le_u32(b, next);
        let flags = le_u32(b, next + 4);
        let (bootloader_areas, _) = read_locn_list(
            b,
            next + PV_EXT_FIXED,
            "pv_header_extension bootloader areas",
        )?;
        Some(PvHeaderExt {
            version,
            flags,
            bootloader_areas,
        })
    } else {
        None
    };
    let label = PvLabel {
        pv_uuid,
        device_size,
        data_areas,
        metadata_areas,
        extension,
    };
    // A device_size of 0 would make every area out of bounds; LVM2 never writes it, so it is
    // damage like any other bad field.
    check_areas_within(&label, device_size)?;
    Ok(Some(label))
}

/// Scans a buffer holding the start of a device (up to the first four sectors) the way
/// [`find_label`] does, without bounding areas by a real device size: the first valid label
/// and its sector, else the first damage found, else `Ok(None)`. Never panics.
pub fn decode_label_area(buf: &[u8]) -> Result<Option<(u64, PvLabel)>, DecodeError> {
    let mut damage = None;
    let len = buf.len().min((LABEL_SCAN_SECTORS * SECTOR_SIZE) as usize);
    for (sector, chunk) in buf[..len].chunks(LABEL_SIZE).enumerate() {
        let sector = sector as u64;
        match decode_label_sector(chunk, sector) {
            Ok(None) => {}
            Ok(Some(l)) => return Ok(Some((sector, l))),
            Err(mut e) => {
                e.offset += sector * SECTOR_SIZE;
                damage.get_or_insert(e);
            }
        }
    }
    match damage {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Encodes `label` into a 512-byte sector to be written at sector `sector`.
pub fn encode_label_sector(label: &PvLabel, sector: u64) -> Result<[u8; LABEL_SIZE], EncodeError> {
    if sector >= LABEL_SCAN_SECTORS {
        return Err(EncodeError::BadSector { sector });
    }
    if label.pv_uuid.len() != ID_LEN || !label.pv_uuid.bytes().all(is_uuid_char) {
        return Err(EncodeError::BadUuid {
            uuid: label.pv_uuid.clone(),
        });
    }
    let lists: [(&'static str, &[DiskLocn]); 3] = [
        ("data areas", &label.data_areas),
        ("metadata areas", &label.metadata_areas),
        (
            "bootloader areas",
            label
                .extension
                .as_ref()
                .map(|e| e.bootloader_areas.as_slice())
                .unwrap_or(&[]),
        ),
    ];
    for (list, areas) in lists {
        if let Some(index) = areas.iter().position(|a| a.offset.0 == 0) {
            return Err(EncodeError::ZeroOffset { list, index });
        }
    }
    let ext_len = label
        .extension
        .as_ref()
        .map(|e| PV_EXT_FIXED + (e.bootloader_areas.len() + 1) * DISK_LOCN_SIZE)
        .unwrap_or(0);
    let needed = LABEL_HEADER_SIZE
        + PV_HEADER_FIXED
        + (label.data_areas.len() + label.metadata_areas.len() + 2) * DISK_LOCN_SIZE
        + ext_len;
    if needed > LABEL_SIZE {
        return Err(EncodeError::TooManyAreas { needed });
    }
    if let Some(e) = &label.extension {
        if e.version == 0 {
            // Version 0 reads back as "no extension"; refuse instead of silently losing it.
            return Err(EncodeError::ExtensionVersionZero);
        }
    }

    let mut b = [0u8; LABEL_SIZE];
    b[OFF_ID..OFF_ID + 8].copy_from_slice(LABEL_ID);
    put_u64(&mut b, OFF_SECTOR, sector);
    put_u32(&mut b, OFF_OFFSET, LABEL_HEADER_SIZE as u32);
    b[OFF_TYPE..OFF_TYPE + 8].copy_from_slice(LVM2_LABEL_TYPE);
    let mut at = LABEL_HEADER_SIZE;
    b[at..at + ID_LEN].copy_from_slice(label.pv_uuid.as_bytes());
    put_u64(&mut b, at + ID_LEN, label.device_size.0);
    at += PV_HEADER_FIXED;
    let put_list = |b: &mut [u8; LABEL_SIZE], at: &mut usize, areas: &[DiskLocn]| {
        for a in areas {
            put_u64(b, *at, a.offset.0);
            put_u64(b, *at + 8, a.size.0);
            *at += DISK_LOCN_SIZE;
        }
        *at += DISK_LOCN_SIZE; // zero terminator, already zero
    };
    put_list(&mut b, &mut at, &label.data_areas);
    put_list(&mut b, &mut at, &label.metadata_areas);
    if let Some(e) = &label.extension {
        put_u32(&mut b, at, e.version);
        put_u32(&mut b, at + 4, e.flags);
        at += PV_EXT_FIXED;
        put_list(&mut b, &mut at, &e.bootloader_areas);
    }
    let crc = lvm_crc(INITIAL_CRC, &b[OFF_OFFSET..]);
    put_u32(&mut b, OFF_CRC, crc);
    Ok(b)
}

/// Reads the first `LABEL_SCAN_SECTORS` sectors (fewer on a tiny device).
fn read_scan_area(dev: &dyn BlockDev) -> Result<Vec<u8>, OnDiskError> {
    let size = dev
        .size()
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))?;
    let len = (LABEL_SCAN_SECTORS * SECTOR_SIZE).min(size.0 - size.0 % SECTOR_SIZE);
    let mut buf = vec![0u8; len as usize];
    dev.read_at(Bytes(0), &mut buf)
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))?;
    Ok(buf)
}

/// Finds the label and the sector holding it. A valid label in any of the first four
/// sectors wins; otherwise a damaged one is reported; `Ok(None)` when there is none.
pub fn find_label(dev: &dyn BlockDev) -> Result<Option<(u64, PvLabel)>, OnDiskError> {
    let buf = read_scan_area(dev)?;
    let dev_size = dev
        .size()
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))?;
    let mut damage = None;
    for (sector, chunk) in buf.chunks_exact(LABEL_SIZE).enumerate() {
        let sector = sector as u64;
        let base = Bytes(sector * SECTOR_SIZE);
        match decode_label_sector(chunk, sector) {
            Ok(None) => {}
            Ok(Some(label)) => {
                if let Err(e) = check_areas_within(&label, dev_size) {
                    damage.get_or_insert(OnDiskError::from_decode(dev.path(), base, e));
                    continue;
                }
                return Ok(Some((sector, label)));
            }
            Err(e) => {
                damage.get_or_insert(OnDiskError::from_decode(dev.path(), base, e));
            }
        }
    }
    match damage {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Reads the PV label. `Ok(None)`: no label at all; `Err`: a label that is damaged.
pub fn read_label(dev: &dyn BlockDev) -> Result<Option<PvLabel>, OnDiskError> {
    Ok(find_label(dev)?.map(|(_, l)| l))
}

/// Writes `label` to sector 1 and clears any other label sector among the first four, then
/// syncs.
pub fn write_label(dev: &dyn BlockDev, label: &PvLabel) -> Result<(), OnDiskError> {
    let size = dev
        .size()
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))?;
    check_areas_within(label, size)
        .map_err(|e| invalid(dev, format!("label does not fit the device: {e}")))?;
    let sector =
        encode_label_sector(label, LABEL_SECTOR).map_err(|e| invalid(dev, e.to_string()))?;
    clear_labels(dev, Some(LABEL_SECTOR))?;
    let off = Bytes(LABEL_SECTOR * SECTOR_SIZE);
    dev.write_at(off, &sector)
        .map_err(|e| OnDiskError::io(dev.path(), off, e))?;
    dev.sync().map_err(|e| OnDiskError::io(dev.path(), off, e))
}

fn invalid(dev: &dyn BlockDev, what: String) -> OnDiskError {
    OnDiskError::Invalid {
        path: dev.path().to_path_buf(),
        what,
    }
}

/// Zeroes every sector among the first four that starts with `LABELONE`, except `keep`.
/// Returns how many were cleared.
fn clear_labels(dev: &dyn BlockDev, keep: Option<u64>) -> Result<usize, OnDiskError> {
    let buf = read_scan_area(dev)?;
    let mut cleared = 0;
    for (sector, chunk) in buf.chunks_exact(LABEL_SIZE).enumerate() {
        let sector = sector as u64;
        if Some(sector) != keep && &chunk[..8] == LABEL_ID {
            let off = Bytes(sector * SECTOR_SIZE);
            dev.write_at(off, &[0u8; LABEL_SIZE])
                .map_err(|e| OnDiskError::io(dev.path(), off, e))?;
            cleared += 1;
        }
    }
    Ok(cleared)
}

/// Removes the label like `pvremove`: zeroes every label sector among the first four and
/// syncs. Metadata areas are left alone. Returns whether a label was there.
pub fn wipe_label(dev: &dyn BlockDev) -> Result<bool, OnDiskError> {
    let n = clear_labels(dev, None)?;
    dev.sync()
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::MemDev;
    use proptest::prelude::*;

    pub(crate) fn sample() -> PvLabel {
        PvLabel {
            pv_uuid: "QUD0PnsSdjzo9BpYIOc9fMUxgyhCK9LH".into(),
            device_size: Bytes(64 << 20),
            data_areas: vec![DiskLocn::new(1 << 20, 0)],
            metadata_areas: vec![DiskLocn::new(4096, 1_044_480)],
            extension: Some(PvHeaderExt {
                version: 2,
                flags: PV_EXT_USED,
                bootloader_areas: vec![],
            }),
        }
    }

    #[test]
    fn round_trip_sample() {
        let l = sample();
        let s = encode_label_sector(&l, 1).unwrap();
        assert_eq!(decode_label_sector(&s, 1).unwrap(), Some(l));
    }

    #[test]
    fn detects_wrong_sector_crc_and_type() {
        let s = encode_label_sector(&sample(), 1).unwrap();
        assert!(matches!(
            decode_label_sector(&s, 2).unwrap_err().what,
            Corruption::WrongSector {
                recorded: 1,
                actual: 2
            }
        ));
        let mut bad = s;
        bad[100] ^= 1;
        assert!(matches!(
            decode_label_sector(&bad, 1).unwrap_err().what,
            Corruption::BadChecksum { .. }
        ));
        assert_eq!(decode_label_sector(&[0u8; 512], 1).unwrap(), None);
        assert!(matches!(
            decode_label_sector(&s[..100], 1).unwrap_err().what,
            Corruption::Truncated { .. }
        ));
    }

    #[test]
    fn area_beyond_device_size_is_damage() {
        let mut l = sample();
        l.metadata_areas = vec![DiskLocn::new(4096, 128 << 20)];
        let s = encode_label_sector(&l, 1).unwrap();
        assert!(matches!(
            decode_label_sector(&s, 1).unwrap_err().what,
            Corruption::OutOfBounds { .. }
        ));
    }

    #[test]
    fn label_without_extension() {
        let mut l = sample();
        l.extension = None;
        let s = encode_label_sector(&l, 1).unwrap();
        assert_eq!(decode_label_sector(&s, 1).unwrap().unwrap().extension, None);
    }

    #[test]
    fn encode_rejects_bad_input() {
        let mut l = sample();
        l.pv_uuid = "short".into();
        assert!(matches!(
            encode_label_sector(&l, 1),
            Err(EncodeError::BadUuid { .. })
        ));
        let mut l = sample();
        l.data_areas = vec![DiskLocn::new(0, 5)];
        assert!(matches!(
            encode_label_sector(&l, 1),
            Err(EncodeError::ZeroOffset { .. })
        ));
        let mut l = sample();
        l.data_areas = (1..40).map(|i| DiskLocn::new(i << 20, 4096)).collect();
        assert!(matches!(
            encode_label_sector(&l, 1),
            Err(EncodeError::TooManyAreas { .. })
        ));
        assert!(matches!(
            encode_label_sector(&sample(), 4),
            Err(EncodeError::BadSector { sector: 4 })
        ));
    }

    #[test]
    fn device_level_read_write_wipe() {
        let d = MemDev::new("/mem/pv", Bytes(64 << 20));
        assert_eq!(read_label(&d).unwrap(), None);
        // A stale label in sector 0 must be cleared by write_label.
        let stale = encode_label_sector(&sample(), 0).unwrap();
        d.poke(Bytes(0), &stale);
        write_label(&d, &sample()).unwrap();
        assert_eq!(find_label(&d).unwrap(), Some((1, sample())));
        assert_eq!(&d.snapshot()[..8], &[0u8; 8]);
        // Damage: a LABELONE with a bad CRC and no other label is an error naming the offset.
        d.poke(Bytes(512 + 200), &[0xff]);
        match read_label(&d) {
            Err(OnDiskError::Corrupt {
                offset,
                what: Corruption::BadChecksum { .. },
                ..
            }) => {
                assert_eq!(offset, Bytes(512 + 16))
            }
            other => panic!("expected checksum error, got {other:?}"),
        }
        assert!(wipe_label(&d).unwrap());
        assert_eq!(read_label(&d).unwrap(), None);
        assert!(!wipe_label(&d).unwrap());
    }

    #[test]
    fn label_larger_than_real_device_is_damage() {
        let d = MemDev::new("/mem/small", Bytes(1 << 20));
        let s = encode_label_sector(&sample(), 1).unwrap();
        d.poke(Bytes(512), &s);
        assert!(matches!(
            read_label(&d),
            Err(OnDiskError::Corrupt {
                what: Corruption::OutOfBounds { .. },
                ..
            })
        ));
        assert!(write_label(&d, &sample()).is_err());
    }

    fn arb_locn(max: u64) -> impl Strategy<Value = DiskLocn> {
        (1..max, 1..max).prop_map(move |(o, s)| DiskLocn::new(o, s.min(max - o).max(1)))
    }

    prop_compose! {
        fn arb_label()(uuid in "[A-Za-z0-9!#]{32}",
                       das in proptest::collection::vec(arb_locn(1 << 30), 0..4),
                       mdas in proptest::collection::vec(arb_locn(1 << 30), 0..3),
                       ext in proptest::option::of((1u32..5, any::<u32>(), proptest::collection::vec(arb_locn(1 << 30), 0..3))))
                       -> PvLabel {
            PvLabel {
                pv_uuid: uuid,
                device_size: Bytes(1 << 30),
                data_areas: das,
                metadata_areas: mdas,
                extension: ext.map(|(version, flags, bootloader_areas)| PvHeaderExt { version, flags, bootloader_areas }),
            }
        }
    }

    proptest! {
        #[test]
        fn prop_round_trip(l in arb_label(), sector in 0u64..4) {
            let s = encode_label_sector(&l, sector).unwrap();
            prop_assert_eq!(decode_label_sector(&s, sector).unwrap(), Some(l));
        }

        #[test]
        fn prop_decode_area_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2100)) {
            let _ = decode_label_area(&bytes);
        }

        #[test]
        fn prop_area_finds_label_in_any_sector(l in arb_label(), sector in 0u64..4) {
            let mut buf = vec![0u8; 2048];
            let at = (sector * 512) as usize;
            buf[at..at + 512].copy_from_slice(&encode_label_sector(&l, sector).unwrap());
            prop_assert_eq!(decode_label_area(&buf).unwrap(), Some((sector, l)));
        }

        #[test]
        fn prop_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), sector in 0u64..6) {
            let _ = decode_label_sector(&bytes, sector);
        }

        #[test]
        fn prop_decode_mutated_never_panics(l in arb_label(), idx in 0usize..512, val in any::<u8>(), len in 0usize..=512) {
            let mut s = encode_label_sector(&l, 1).unwrap();
            s[idx] = val;
            // Re-sign so the mutation reaches the field checks instead of stopping at the CRC.
            let crc = lvm_crc(INITIAL_CRC, &s[OFF_OFFSET..]);
            if idx >= OFF_OFFSET { s[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_le_bytes()); }
            let _ = decode_label_sector(&s[..len], 1);
            let _ = decode_label_sector(&s, 1);
        }
    }
}
