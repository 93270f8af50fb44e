//! pvcreate-level layout: [`format_pv`] lays out label, pv_header and one metadata area the
//! way `pvcreate` 2.03 does by default, and [`wipe`] removes a PV label like `pvremove`.
//!
//! Layout rules (LVM2 `_text_pv_add_metadata_area`, `_text_pv_initialise`):
//! - bytes 0..2048 (the four label sectors) are zeroed, the label goes to sector 1;
//! - the metadata area starts at 4096 (2048 rounded up to the 4 KiB page) when the device
//!   leaves at least `MDA_SIZE_MIN` (32 KiB) after 2048;
//! - its size is the requested size (default 1 MiB - 4096) grown so that the area ends on
//!   a data-alignment boundary (default 1 MiB), plus the alignment offset, when that still
//!   fits the device; the first 4 KiB of the area are zeroed and an empty header written;
//! - pe_start (the one data area's offset; its size is 0 = "to the end") is the area end;
//! - `pv_header.device_size` is the device size; the extension is version 2 with flags 0
//!   (an orphan PV; vgcreate/vgextend set `PV_EXT_USED` by rewriting the label).

use crate::dev::BlockDev;
use crate::error::OnDiskError;
use crate::label::{
    is_uuid_char, wipe_label, write_label, DiskLocn, PvHeaderExt, PvLabel, ID_LEN,
    LABEL_SCAN_SECTORS, PV_HEADER_EXTENSION_VSN,
};
use crate::mda::{format_mda_with, MDA_SIZE_MIN};
use crate::units::{Bytes, SECTOR_SIZE};

/// Where LVM2 starts scanning-free space: after the four label sectors.
const LABEL_SCAN_SIZE: u64 = LABEL_SCAN_SECTORS * SECTOR_SIZE;
const PAGE_SIZE: u64 = 4096;
/// LVM2's default data alignment (`default_data_alignment = 1` MiB).
pub const DEFAULT_DATA_ALIGNMENT: Bytes = Bytes(1 << 20);
/// LVM2's default metadata area size with 4 KiB pages: pe_start lands at 1 MiB.
pub const DEFAULT_METADATA_SIZE: Bytes = Bytes((1 << 20) - PAGE_SIZE);

/// `pvcreate` options that shape the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// `--metadatasize`; `None` is LVM2's default. Rounded up to whole sectors.
    pub metadata_size: Option<Bytes>,
    /// `--dataalignment`; a multiple of 512 (0 disables alignment).
    pub data_alignment: Bytes,
    /// `--dataalignmentoffset`; a multiple of 512.
    pub data_alignment_offset: Bytes,
    /// `--metadataignore y`.
    pub metadata_ignore: bool,
    /// Extension flags to record (0 for a fresh orphan PV; `PV_EXT_USED` once in a VG).
    pub ext_flags: u32,
    /// A data offset fixed in advance (`pvcreate --restorefile`: the PV's `pe_start` in the
    /// backup): no alignment; the metadata area fills the room before it, or, with a
    /// `metadata_size`, is cut down to end there (lvm2's `pe_start_locked`).
    pub pe_start: Option<Bytes>,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            metadata_size: None,
            data_alignment: DEFAULT_DATA_ALIGNMENT,
            data_alignment_offset: Bytes(0),
            metadata_ignore: false,
            ext_flags: 0,
            pe_start: None,
        }
    }
}

/// What [`format_pv`] laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLayout {
    pub label: PvLabel,
    /// The metadata area (header at its offset).
    pub mda: DiskLocn,
    /// First byte of the data area (`pe_start` in the VG text is this in sectors).
    pub pe_start: Bytes,
}

/// Computes the layout `pvcreate` would choose for a device of `device_size` bytes.
pub fn plan_layout(device_size: Bytes, opts: &FormatOptions) -> Result<(DiskLocn, Bytes), String> {
    let disk = device_size.0;
    let alignment = opts.data_alignment.0;
    let offset = opts.data_alignment_offset.0;
    if alignment % SECTOR_SIZE != 0 || offset % SECTOR_SIZE != 0 {
        return Err(format!(
            "data alignment {alignment} and offset {offset} must be multiples of 512"
        ));
    }
    if alignment != 0 && alignment < offset {
        return Err(format!(
            "data alignment {alignment} is less than its offset {offset}"
        ));
    }
    if disk < alignment + offset {
        return Err(format!("data alignment exceeds the device size {disk}"));
    }
    let mut mda_size = opts
        .metadata_size
        .unwrap_or(DEFAULT_METADATA_SIZE)
        .to_sectors_ceil()
        .to_bytes()
        .0;
    let limit = disk;
    let mut mda_start = LABEL_SCAN_SIZE;
    if limit.saturating_sub(mda_start) >= MDA_SIZE_MIN {
        mda_start = mda_start.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    }
    if let Some(Bytes(pe)) = opts.pe_start {
        if pe >= disk || pe < mda_start + MDA_SIZE_MIN {
            return Err(format!(
                "pe_start {pe} leaves no room for a metadata area on a device of {disk} bytes"
            ));
        }
        // Without --metadatasize the area fills the room before the data, as lvm2's does.
        mda_size = match opts.metadata_size {
            Some(_) => mda_size.min(pe - mda_start),
            None => pe - mda_start,
        };
        return Ok((DiskLocn::new(mda_start, mda_size), Bytes(pe)));
    }
    if alignment != 0 {
        let adj = (mda_start + mda_size) % alignment;
        if adj != 0 && mda_start + mda_size + alignment - adj <= limit {
            mda_size += alignment - adj;
        }
        if offset != 0
            && (mda_start + mda_size) % alignment == 0
            && mda_start + mda_size + offset <= limit
        {
            mda_size += offset;
        }
    }
    if mda_start + mda_size > limit {
        if alignment != 0 && limit - mda_start > alignment * 2 {
            mda_size = limit - mda_start - alignment * 2;
            let adj = (mda_start + mda_size) % alignment;
            if adj != 0 {
                mda_size += alignment - adj;
            }
            if mda_start + mda_size > limit {
                return Err(format!(
                    "no room for a metadata area on a device of {disk} bytes"
                ));
            }
        } else {
            mda_size = limit - mda_start;
        }
    }
    if mda_size < MDA_SIZE_MIN {
        return Err(format!(
            "metadata area size {mda_size} is below the minimum {MDA_SIZE_MIN}"
        ));
    }
    let pe_start = mda_start + mda_size;
    if pe_start >= disk {
        return Err(format!(
            "no room for data after the metadata area ({disk} bytes)"
        ));
    }
    Ok((DiskLocn::new(mda_start, mda_size), Bytes(pe_start)))
}

/// Lays out a new PV on `dev` with uuid `pv_uuid` (32 chars; dashes are removed), like
/// `pvcreate`: zeroes the label sectors, formats the metadata area and writes the label.
pub fn format_pv(
    dev: &dyn BlockDev,
    pv_uuid: &str,
    opts: &FormatOptions,
) -> Result<PvLayout, OnDiskError> {
    let invalid = |what: String| OnDiskError::Invalid {
        path: dev.path().to_path_buf(),
        what,
    };
    let uuid: String = pv_uuid.chars().filter(|&c| c != '-').collect();
    if uuid.len() != ID_LEN || !uuid.bytes().all(is_uuid_char) {
        return Err(invalid(format!("bad PV uuid {pv_uuid:?}")));
    }
    let size = dev
        .size()
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))?;
    let (mda, pe_start) = plan_layout(size, opts).map_err(invalid)?;
    dev.write_at(Bytes(0), &[0u8; LABEL_SCAN_SIZE as usize])
        .map_err(|e| OnDiskError::io(dev.path(), Bytes(0), e))?;
    format_mda_with(dev, mda, opts.metadata_ignore)?;
    let label = PvLabel {
        pv_uuid: uuid,
        device_size: size,
        data_areas: vec![DiskLocn::new(pe_start.0, 0)],
        metadata_areas: vec![mda],
        extension: Some(PvHeaderExt {
            version: PV_HEADER_EXTENSION_VSN,
            flags: opts.ext_flags,
            bootloader_areas: vec![],
        }),
    };
    write_label(dev, &label)?;
    Ok(PvLayout {
        label,
        mda,
        pe_start,
    })
}

/// Removes the PV label like `pvremove` (metadata areas are left for recovery tools).
/// Returns whether there was a label.
pub fn wipe(dev: &dyn BlockDev) -> Result<bool, OnDiskError> {
    wipe_label(dev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::MemDev;
    use crate::label::read_label;
    use crate::mda::read_mda;

    const UUID: &str = "QUD0Pn-sSdj-zo9B-pYIO-c9fM-Uxgy-hCK9LH";

    #[test]
    fn default_layout_matches_pvcreate() {
        assert_eq!(
            plan_layout(Bytes(64 << 20), &FormatOptions::default()).unwrap(),
            (DiskLocn::new(4096, 1_044_480), Bytes(1 << 20))
        );
        // --metadatasize 4m: the area grows to end on the next MiB.
        let o = FormatOptions {
            metadata_size: Some(Bytes(4 << 20)),
            ..FormatOptions::default()
        };
        assert_eq!(
            plan_layout(Bytes(64 << 20), &o).unwrap(),
            (DiskLocn::new(4096, (5 << 20) - 4096), Bytes(5 << 20))
        );
        assert!(plan_layout(Bytes(16 * 1024), &FormatOptions::default()).is_err());
    }

    #[test]
    fn format_then_read_back_and_wipe() {
        let d = MemDev::new("/mem/pv", Bytes(64 << 20));
        d.poke(Bytes(0), &[0xaa; 8192]);
        let l = format_pv(&d, UUID, &FormatOptions::default()).unwrap();
        assert_eq!(read_label(&d).unwrap(), Some(l.label.clone()));
        assert_eq!(l.label.pv_uuid, "QUD0PnsSdjzo9BpYIOc9fMUxgyhCK9LH");
        let snap = d.snapshot();
        assert!(snap[..512].iter().all(|&b| b == 0));
        assert!(snap[1024..2048].iter().all(|&b| b == 0));
        // Like pvcreate, the gap between the label sectors and the area is left alone.
        assert!(snap[2048..4096].iter().all(|&b| b == 0xaa));
        assert!(snap[4608..8192].iter().all(|&b| b == 0));
        let c = read_mda(&d, l.mda).unwrap();
        assert!(c.committed.is_none());
        assert!(wipe(&d).unwrap());
        assert_eq!(read_label(&d).unwrap(), None);
    }

    #[test]
    fn rejects_bad_uuid() {
        let d = MemDev::new("/mem/pv", Bytes(64 << 20));
        assert!(matches!(
            format_pv(&d, "nope", &FormatOptions::default()),
            Err(OnDiskError::Invalid { .. })
        ));
    }
}
