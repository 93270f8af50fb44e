//! LVM identifiers: 32 characters of LVM's alphabet, written dashed 6-4-4-4-4-4-6.

use crate::ModelError;
use rand::Rng;

/// The characters lvm2 (`lib/uuid/uuid.c`) accepts in an id; it generates from the first 62.
pub const ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#";

/// Length of an id without dashes.
pub const ID_LEN: usize = 32;

/// Group sizes of the dashed form.
const GROUPS: [usize; 7] = [6, 4, 4, 4, 4, 4, 6];

/// A fresh random id, 32 characters, no dashes.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    (0..ID_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..62)] as char)
        .collect()
}

/// A fresh random id in the dashed form metadata uses.
pub fn generate_dashed() -> String {
    // The generated id is always valid.
    format_with_dashes(&generate()).unwrap_or_default()
}

/// `abcdef...` (32 chars) → `abcdef-ghij-...`; also accepts an already dashed id.
pub fn format_with_dashes(id: &str) -> Result<String, ModelError> {
    let raw = strip_dashes(id)?;
    let mut out = String::with_capacity(38);
    let mut pos = 0;
    for (i, g) in GROUPS.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&raw[pos..pos + g]);
        pos += g;
    }
    Ok(out)
}

/// The 32 id characters of a dashed or undashed id, validated.
pub fn strip_dashes(id: &str) -> Result<String, ModelError> {
    validate(id)?;
    Ok(id.chars().filter(|&c| c != '-').collect())
}

/// [`validate`]'s weights of bytes: 1 for [`ALPHABET`], `1 << 8` for a dash, `1 << 16` for
/// anything else; summed over an id of at most 64 bytes, the fields cannot overflow.
static ID_BYTE: [u32; 256] = {
    let mut t = [1 << 16; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        t[ALPHABET[i] as usize] = 1;
        i += 1;
    }
    t[b'-' as usize] = 1 << 8;
    t
};

/// Checks a dashed or undashed id without copying it (every LV and PV of a VG read has one).
pub fn validate(id: &str) -> Result<(), ModelError> {
    // One pass of table loads for the ids metadata holds: 32 alphabet bytes and dashes only.
    if id.len() <= 64 {
        let sum: u32 = id.bytes().map(|b| ID_BYTE[usize::from(b)]).sum();
        if sum >> 16 == 0 && (sum & 0xff) as usize == ID_LEN {
            return Ok(());
        }
    }
    validate_slow(id)
}

/// [`validate`] for any string: says what is wrong.
#[cold]
fn validate_slow(id: &str) -> Result<(), ModelError> {
    let bad = |reason| ModelError::InvalidUuid {
        uuid: id.to_string(),
        reason,
    };
    // Branch-free passes over the bytes (they vectorize): the alphabet is ASCII, so for a
    // valid id bytes are characters.
    let bytes = id.as_bytes();
    let dashes = bytes.iter().filter(|&&b| b == b'-').count();
    let in_alpha = bytes
        .iter()
        .fold(true, |ok, &b| ok & (b == b'-' || in_alphabet(b)));
    // The length the error names counts characters.
    let len = if id.is_ascii() {
        bytes.len() - dashes
    } else {
        id.chars().filter(|&c| c != '-').count()
    };
    if len != ID_LEN {
        return Err(bad("not 32 characters"));
    }
    if !in_alpha {
        return Err(bad("character outside LVM's alphabet"));
    }
    Ok(())
}

/// [`ALPHABET`] membership.
#[inline(always)]
fn in_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'!' || b == b'#'
}

/// True for a valid id, dashed or not.
pub fn is_valid(id: &str) -> bool {
    validate(id).is_ok()
}

// ---- device-mapper names and UUIDs of LVs (lvm2's) ----

/// `name` with each `-` doubled, as lvm2 mangles VG and LV names into dm names.
pub fn mangle(name: &str) -> String {
    name.replace('-', "--")
}

/// The dm name lvm2 gives an LV (`layer`: `missing_0_0`, `real`...).
pub fn dm_name(vg: &str, lv: &str, layer: Option<&str>) -> String {
    match layer {
        Some(l) => format!("{}-{}-{}", mangle(vg), mangle(lv), l),
        None => format!("{}-{}", mangle(vg), mangle(lv)),
    }
}

/// `LVM-` + VG uuid + LV uuid, dashes removed (`-<layer>` appended for layered devices).
pub fn dm_uuid(vg_id: &str, lv_id: &str, layer: Option<&str>) -> String {
    let base = format!(
        "{DM_UUID_PREFIX}{}{}",
        vg_id.replace('-', ""),
        lv_id.replace('-', "")
    );
    match layer {
        Some(l) => format!("{base}-{l}"),
        None => base,
    }
}

/// The prefix lvm2 gives its devices' dm UUIDs (`UUID_PREFIX` in lvm2's `lib/misc/lvm-string.h`).
pub const DM_UUID_PREFIX: &str = "LVM-";

/// A device lvm2 made, by its dm UUID: lvm2's own test (`dev_is_lv`) looks at the prefix only.
pub fn is_lvm_uuid(uuid: &str) -> bool {
    uuid.starts_with(DM_UUID_PREFIX)
}

/// The parts of a dm UUID made by [`dm_uuid`]: ids without dashes, the layer suffix if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmUuid<'a> {
    pub vg_id: &'a str,
    pub lv_id: &'a str,
    pub layer: Option<&'a str>,
}

/// Splits a dm UUID made by [`dm_uuid`] back into its VG id, LV id and layer; None for UUIDs
/// lvm2 does not make this way (another prefix, ids not 32 characters of LVM's alphabet each,
/// an empty layer).
pub fn split_dm_uuid(uuid: &str) -> Option<DmUuid<'_>> {
    let ids = uuid.strip_prefix(DM_UUID_PREFIX)?;
    let (vg_id, rest) = (ids.get(..ID_LEN)?, ids.get(ID_LEN..)?);
    let (lv_id, rest) = (rest.get(..ID_LEN)?, rest.get(ID_LEN..)?);
    if !vg_id.bytes().chain(lv_id.bytes()).all(in_alphabet) {
        return None;
    }
    let layer = match rest {
        "" => None,
        r => Some(r.strip_prefix('-').filter(|l| !l.is_empty())?),
    };
    Some(DmUuid {
        vg_id,
        lv_id,
        layer,
    })
}

/// Splits a dm name made by [`dm_name`] back into (vg, lv, layer); None for names lvm2
/// does not make (no dash, an empty VG or LV part, more than three parts).
pub fn split_dm_name(name: &str) -> Option<(String, String, Option<String>)> {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '-' {
            if chars.peek() == Some(&'-') {
                chars.next();
                parts.last_mut()?.push('-');
            } else {
                parts.push(String::new());
            }
        } else {
            parts.last_mut()?.push(c);
        }
    }
    if parts.len() < 2 || parts[0].is_empty() || parts[1].is_empty() {
        return None;
    }
    match parts.len() {
        2 => Some((parts[0].clone(), parts[1].clone(), None)),
        3 => Some((parts[0].clone(), parts[1].clone(), Some(parts[2].clone()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dm_names_double_dashes() {
        assert_eq!(dm_name("vg", "lv", None), "vg-lv");
        assert_eq!(dm_name("my-vg", "my-lv", None), "my--vg-my--lv");
        assert_eq!(
            split_dm_name("my--vg-my--lv"),
            Some(("my-vg".into(), "my-lv".into(), None))
        );
        assert_eq!(split_dm_name("novg"), None);
        assert_eq!(split_dm_name("-lv"), None);
    }

    proptest! {
        #[test]
        fn dm_name_round_trips(vg in "[a-z0-9][a-z0-9_.+-]{0,10}", lv in "[a-z0-9][a-z0-9_.+-]{0,10}") {
            prop_assert_eq!(split_dm_name(&dm_name(&vg, &lv, None)), Some((vg.clone(), lv.clone(), None)));
        }
    }

    #[test]
    fn dm_uuids_split() {
        let (v, l) = ("a".repeat(32), "b".repeat(32));
        assert!(is_lvm_uuid(&format!("LVM-{v}")));
        assert!(!is_lvm_uuid("mpath-3600"));
        assert_eq!(
            split_dm_uuid(&format!("LVM-{v}{l}-real")),
            Some(DmUuid {
                vg_id: &v,
                lv_id: &l,
                layer: Some("real")
            })
        );
        assert_eq!(split_dm_uuid(&format!("LVM-{v}{l}-")), None);
        assert_eq!(split_dm_uuid(&format!("LVM-{v}{l}x")), None);
        assert_eq!(split_dm_uuid(&format!("LVM-{v}")), None);
        assert_eq!(split_dm_uuid(&format!("CRYPT-{v}{l}")), None);
        assert_eq!(split_dm_uuid(&format!("LVM-{v}é{}", &l[..30])), None);
    }

    proptest! {
        #[test]
        fn split_dm_uuid_inverts_dm_uuid(
            vg in prop::collection::vec(0usize..64, 32),
            lv in prop::collection::vec(0usize..64, 32),
            dashed in any::<bool>(),
            layer in prop::option::of("[a-z][a-z0-9_]{0,11}"),
        ) {
            let raw = |ix: &[usize]| ix.iter().map(|&i| ALPHABET[i] as char).collect::<String>();
            let (vg, lv) = (raw(&vg), raw(&lv));
            let shown = |id: &str| if dashed { format_with_dashes(id).unwrap() } else { id.to_string() };
            let uuid = dm_uuid(&shown(&vg), &shown(&lv), layer.as_deref());
            prop_assert!(is_lvm_uuid(&uuid));
            prop_assert_eq!(
                split_dm_uuid(&uuid),
                Some(DmUuid { vg_id: &vg, lv_id: &lv, layer: layer.as_deref() })
            );
        }

        #[test]
        fn split_dm_uuid_never_panics(s in any::<String>()) {
            let _ = split_dm_uuid(&s);
        }
    }

    #[test]
    fn id_byte_weights_are_the_alphabet() {
        for b in 0..=255u8 {
            let want = match b {
                b'-' => 1 << 8,
                _ if in_alphabet(b) => 1,
                _ => 1 << 16,
            };
            assert_eq!(ID_BYTE[usize::from(b)], want, "{b:#x}");
        }
    }

    #[test]
    fn known_id_formats() {
        let d = format_with_dashes("mWlGeyyvd2z00JEEqhO5Y1pNcpTfExpr").unwrap();
        assert_eq!(d, "mWlGey-yvd2-z00J-EEqh-O5Y1-pNcp-TfExpr");
        assert_eq!(format_with_dashes(&d).unwrap(), d);
        assert!(strip_dashes("short").is_err());
        assert!(strip_dashes("mWlGey-yvd2-z00J-EEqh-O5Y1-pNcp-TfExp_").is_err());
    }

    #[test]
    fn generated_ids_are_valid_and_differ() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(is_valid(&a));
        assert_eq!(generate_dashed().len(), 38);
    }

    proptest! {
        #[test]
        fn dashes_round_trip(idx in prop::collection::vec(0usize..64, 32)) {
            let raw: String = idx.iter().map(|&i| ALPHABET[i] as char).collect();
            let d = format_with_dashes(&raw).unwrap();
            prop_assert_eq!(strip_dashes(&d).unwrap(), raw);
        }

        #[test]
        fn arbitrary_text_never_panics(s in any::<String>()) {
            let _ = format_with_dashes(&s);
        }

        /// The branch-free check gives the verdict of the filtering one it replaced.
        #[test]
        fn validate_as_filtering_check(s in "[a-zA-Z0-9!#_é€ -]{0,40}", t in any::<String>()) {
            let two_passes = |id: &str| {
                if id.chars().filter(|&c| c != '-').count() != ID_LEN {
                    return Err("not 32 characters");
                }
                if !id.bytes().filter(|&b| b != b'-').all(in_alphabet) {
                    return Err("character outside LVM's alphabet");
                }
                Ok(())
            };
            // Near-ids too: 32 characters with one of them replaced.
            let near: String = ALPHABET.iter().take(31).map(|&b| b as char).chain(s.chars().take(1)).collect();
            for id in [&s, &t, &near] {
                let got = validate(id).map_err(|e| match e {
                    ModelError::InvalidUuid { reason, .. } => reason,
                    _ => "other",
                });
                prop_assert_eq!(got, two_passes(id));
            }
        }
    }
}
