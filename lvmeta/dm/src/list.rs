//! Every device-mapper device with its uuid, in one `DM_LIST_DEVICES` call with
//! `DM_UUID_FLAG` (`lvmeta_dm_sys`), as lvm2's device cache lists them: a scan asks the dm uuid
//! of every holder of every PV (its multipath check: a PV holds each LV active on it), and
//! one call for all replaces an open and a read in sysfs per holder.
//!
//! The answer, as the kernel writes it (`drivers/md/dm-ioctl.c`, `list_devices`):
//!
//! ```text
//!  buffer:  struct dm_ioctl (312 bytes)          data_start -> first record
//!           ...                                  data_size  = data_start + bytes used
//!  record at r (8-byte aligned, from data_start):
//!    r+0   u64  dev (huge_encode_dev; 0 in a lone first record: no device)
//!    r+8   u32  next: offset of the next record from r; 0 on the last
//!    r+12  name, NUL-terminated (at most 128 bytes with the NUL)
//!    e = align8(end of name)
//!    e+0   u32  event_nr
//!    e+4   u32  flags: HAS_UUID (1) or DOESNT_HAVE_UUID (2); neither: a kernel that does
//!               not list uuids (before 4.46), whose word here is unused
//!    e+8   uuid, NUL-terminated (at most 129 bytes with the NUL), if HAS_UUID
//! ```

use crate::{DmError, Result};
use lvmeta_activate::DevNum;
use lvmeta_dm_sys as sys;
use std::os::fd::AsRawFd;

/// One device as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// Empty when the device has none (as sysfs's `dm/uuid` reads then).
    pub uuid: String,
    pub dev: DevNum,
}

/// Header fields, by offset into `struct dm_ioctl` (layouts checked in `lvmeta_dm_sys`).
const OFF_VERSION: usize = 0;
const OFF_DATA_SIZE: usize = 12;
const OFF_DATA_START: usize = 16;
const OFF_FLAGS: usize = 28;
/// Record fields, by offset from the record's start.
const REC_DEV: usize = 0;
const REC_NEXT: usize = 8;
const REC_NAME: usize = 12;
const NAME_MAX: usize = 128;
const UUID_MAX: usize = 129;

/// The first buffer (as libdm's), and the largest the answer may ask for: at 8 bytes of
/// alignment, a name and a uuid per device, 4 MiB is over 10,000 devices.
const FIRST_BUFFER: usize = 16 * 1024;
const MAX_BUFFER: usize = 4 * 1024 * 1024;

/// Why an answer was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("record at {at}: {what}")]
    Record { at: usize, what: &'static str },
    #[error("header: {0}")]
    Header(&'static str),
}

fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A NUL-terminated string at `at`, at most `max` bytes with its NUL.
fn cstr_at(b: &[u8], at: usize, max: usize) -> Option<(&str, usize)> {
    let window = b.get(at..)?;
    let window = &window[..window.len().min(max)];
    let len = window.iter().position(|&c| c == 0)?;
    Some((std::str::from_utf8(&window[..len]).ok()?, len))
}

/// `huge_encode_dev`'s major and minor (`new_decode_dev`).
fn decode_dev(dev: u64) -> DevNum {
    let d = dev as u32;
    DevNum {
        major: (d & 0xfff00) >> 8,
        minor: (d & 0xff) | ((d >> 12) & 0xfff00),
    }
}

/// Reads the records of `data` (the answer from its `data_start` to its `data_size`). None:
/// the kernel did not list uuids (a record without either flag).
pub fn read_records(data: &[u8]) -> Result<Option<Vec<Listed>>, ListError> {
    let mut out = Vec::new();
    if data.is_empty() || u64_at(data, REC_DEV) == Some(0) {
        return Ok(Some(out));
    }
    let mut at = 0usize;
    loop {
        let here = at;
        let bad = move |what| ListError::Record { at: here, what };
        let dev = u64_at(data, at + REC_DEV).ok_or(bad("truncated"))?;
        let next = u32_at(data, at + REC_NEXT).ok_or(bad("truncated"))? as usize;
        let (name, len) = cstr_at(data, at + REC_NAME, NAME_MAX).ok_or(bad("bad name"))?;
        let e = align8(at + REC_NAME + len + 1);
        let flags = u32_at(data, e + 4).ok_or(bad("truncated after the name"))?;
        let has = flags & sys::DM_NAME_LIST_FLAG_HAS_UUID != 0;
        let hasnt = flags & sys::DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID != 0;
        let uuid = match (has, hasnt) {
            (false, false) => return Ok(None),
            (true, true) => return Err(bad("both uuid flags set")),
            (true, false) => cstr_at(data, e + 8, UUID_MAX).ok_or(bad("bad uuid"))?.0,
            (false, true) => "",
        };
        out.push(Listed {
            name: name.to_string(),
            uuid: uuid.to_string(),
            dev: decode_dev(dev),
        });
        if next == 0 {
            return Ok(Some(out));
        }
        // Records only go forward, each past the last one's flags: no loop, no overlap.
        if next % 8 != 0 || at + next < e + 8 {
            return Err(bad("next record goes back or overlaps"));
        }
        at = match at.checked_add(next) {
            Some(n) if n < data.len() => n,
            _ => return Err(bad("next record out of range")),
        };
    }
}

/// The request header: interface 4.0.0 (the kernel answers with its own), the buffer's
/// size, the answer after the header, `DM_UUID_FLAG`.
fn request(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    b[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&sys::DM_VERSION_MAJOR.to_le_bytes());
    b[OFF_DATA_SIZE..OFF_DATA_SIZE + 4].copy_from_slice(&(len as u32).to_le_bytes());
    b[OFF_DATA_START..OFF_DATA_START + 4]
        .copy_from_slice(&(sys::DM_IOCTL_SIZE as u32).to_le_bytes());
    b[OFF_FLAGS..OFF_FLAGS + 4].copy_from_slice(&sys::DM_UUID_FLAG.to_le_bytes());
    b
}

/// The answer's records, from a whole answer buffer (header included).
fn answer(b: &[u8]) -> Result<Option<Vec<Listed>>, ListError> {
    let start = u32_at(b, OFF_DATA_START).ok_or(ListError::Header("truncated"))? as usize;
    let size = u32_at(b, OFF_DATA_SIZE).ok_or(ListError::Header("truncated"))? as usize;
    if start < sys::DM_IOCTL_SIZE || size < start || size > b.len() {
        return Err(ListError::Header("data_start/data_size outside the buffer"));
    }
    read_records(&b[start..size])
}

/// Lists every device with its uuid on the control node `control`. None: this kernel does
/// not list uuids (ask per device).
pub fn list(control: &impl AsRawFd) -> Result<Option<Vec<Listed>>> {
    let mut len = FIRST_BUFFER;
    loop {
        let mut b = request(len);
        // SAFETY: `control` is device-mapper's control node (the caller's `DM`), and `b` is
        // `len` bytes long, the `data_size` its header gives the kernel.
        unsafe { sys::dm_list_devices(control.as_raw_fd(), b.as_mut_ptr()) }.map_err(|e| {
            DmError::Kernel {
                op: "list",
                device: "all".into(),
                message: e.desc().to_string(),
            }
        })?;
        let flags = u32_at(&b, OFF_FLAGS).unwrap_or(0);
        if flags & sys::DM_BUFFER_FULL_FLAG == 0 {
            return answer(&b).map_err(|e| DmError::Kernel {
                op: "list",
                device: "all".into(),
                message: format!("answer not understood: {e}"),
            });
        }
        if len >= MAX_BUFFER {
            return Err(DmError::Kernel {
                op: "list",
                device: "all".into(),
                message: format!("the device list needs more than {MAX_BUFFER} bytes"),
            });
        }
        len *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A record chain laid out as the kernel's `list_devices` lays it (`uuids`: whether the
    /// kernel lists uuids at all).
    fn encode(devs: &[(String, Option<String>, DevNum)], uuids: bool) -> Vec<u8> {
        let mut b = Vec::new();
        if devs.is_empty() {
            return vec![0u8; 16];
        }
        let mut last = None;
        for (name, uuid, dev) in devs {
            let at = b.len();
            if let Some(l) = last {
                let next = (at - l) as u32;
                b[l + REC_NEXT..l + REC_NEXT + 4].copy_from_slice(&next.to_le_bytes());
            }
            last = Some(at);
            let enc = (dev.minor & 0xff) | (dev.major << 8) | ((dev.minor & !0xff) << 12);
            b.extend_from_slice(&u64::from(enc).to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.push(0);
            b.resize(align8(b.len()), 0xee);
            b.extend_from_slice(&7u32.to_le_bytes());
            let flags = match (uuids, uuid) {
                (false, _) => 0u32,
                (true, Some(_)) => 1,
                (true, None) => 2,
            };
            b.extend_from_slice(&flags.to_le_bytes());
            if let (true, Some(u)) = (uuids, uuid) {
                b.extend_from_slice(u.as_bytes());
                b.push(0);
                b.resize(align8(b.len()), 0xee);
            }
        }
        b
    }

    fn listed(devs: &[(String, Option<String>, DevNum)]) -> Vec<Listed> {
        devs.iter()
            .map(|(n, u, d)| Listed {
                name: n.clone(),
                uuid: u.clone().unwrap_or_default(),
                dev: *d,
            })
            .collect()
    }

    fn dev(major: u32, minor: u32) -> DevNum {
        DevNum { major, minor }
    }

    #[test]
    fn reads_the_kernels_layout() {
        let devs = vec![
            (
                "vg-lv".to_string(),
                Some("LVM-abc".to_string()),
                dev(253, 0),
            ),
            ("mp".to_string(), Some("mpath-x".to_string()), dev(253, 1)),
            ("bare".to_string(), None, dev(253, 300)),
        ];
        assert_eq!(read_records(&encode(&devs, true)), Ok(Some(listed(&devs))));
        assert_eq!(read_records(&encode(&devs, false)), Ok(None));
        assert_eq!(read_records(&encode(&[], true)), Ok(Some(vec![])));
        assert_eq!(read_records(&[]), Ok(Some(vec![])));
    }

    #[test]
    fn bad_answers_are_errors() {
        let devs = vec![
            ("a".to_string(), Some("LVM-1".to_string()), dev(253, 0)),
            ("b".to_string(), Some("LVM-2".to_string()), dev(253, 1)),
        ];
        let good = encode(&devs, true);
        // A next landing inside its own record: refused, not a loop.
        let mut looped = good.clone();
        looped[REC_NEXT..REC_NEXT + 4].copy_from_slice(&8u32.to_le_bytes());
        assert!(read_records(&looped).is_err());
        // Past the end.
        let mut far = good.clone();
        far[REC_NEXT..REC_NEXT + 4].copy_from_slice(&4096u32.to_le_bytes());
        assert!(read_records(&far).is_err());
        // A name without its NUL.
        let mut open = good.clone();
        open.truncate(REC_NAME + 1);
        assert!(read_records(&open).is_err());
        // Both flags.
        let mut both = good.clone();
        let e = align8(REC_NAME + 2);
        both[e + 4..e + 8].copy_from_slice(&3u32.to_le_bytes());
        assert!(read_records(&both).is_err());
        // A header whose data runs past the buffer.
        let mut b = request(FIRST_BUFFER);
        b[OFF_DATA_SIZE..OFF_DATA_SIZE + 4]
            .copy_from_slice(&(FIRST_BUFFER as u32 + 1).to_le_bytes());
        assert!(answer(&b).is_err());
    }

    #[test]
    fn an_answer_is_read_from_data_start_to_data_size() {
        let devs = vec![(
            "vg-lv".to_string(),
            Some("LVM-abc".to_string()),
            dev(254, 5),
        )];
        let recs = encode(&devs, true);
        let mut b = request(FIRST_BUFFER);
        let start = sys::DM_IOCTL_SIZE;
        b[start..start + recs.len()].copy_from_slice(&recs);
        b[OFF_DATA_SIZE..OFF_DATA_SIZE + 4]
            .copy_from_slice(&((start + recs.len()) as u32).to_le_bytes());
        assert_eq!(answer(&b), Ok(Some(listed(&devs))));
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9+_.-]{1,127}"
    }

    proptest! {
        /// Whatever the kernel lists comes back as listed: names and uuids of any length
        /// it allows, any major and minor.
        #[test]
        fn round_trip(devs in prop::collection::vec(
            (name(), prop::option::of("[A-Za-z0-9-]{1,128}"), 0u32..4096, 0u32..(1 << 20)),
            0..40,
        ), uuids: bool) {
            let devs: Vec<_> = devs.into_iter().map(|(n, u, ma, mi)| (n, u, dev(ma, mi))).collect();
            let want = if uuids { Some(listed(&devs)) } else if devs.is_empty() { Some(vec![]) } else { None };
            prop_assert_eq!(read_records(&encode(&devs, uuids)), Ok(want));
        }

        /// Any bytes: an answer or an error, never a panic or a loop.
        #[test]
        fn garbage_never_panics(b in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = read_records(&b);
            let _ = answer(&b);
        }
    }
}
