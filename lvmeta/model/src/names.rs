//! lvm2's naming rules (`lib/misc/lvm-string.c`: `validate_name`, `apply_lvname_restrictions`).

use crate::ModelError;

/// lvm2's `NAME_LEN` is 128 including the terminating NUL.
pub const MAX_NAME_LEN: usize = 127;

/// Suffixes lvm2 reserves for its sub-volumes.
pub const RESERVED_PARTS: [&str; 15] = [
    "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mlog", "_mimage", "_pmspare",
    "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin",
];

/// Checks a VG or LV name against lvm2's general rules.
pub fn validate_name(name: &str) -> Result<(), ModelError> {
    let bad = |reason| ModelError::InvalidName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad("longer than 127 characters"));
    }
    if name == "." || name == ".." {
        return Err(bad("`.` and `..` are reserved"));
    }
    if name.starts_with('-') {
        return Err(bad("starts with `-`"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'_' | b'.' | b'-'))
    {
        return Err(bad("only a-z A-Z 0-9 + _ . - are allowed"));
    }
    Ok(())
}

/// Checks a name a user gives to an LV: general rules plus lvm2's reserved prefixes and
/// sub-volume suffixes.
pub fn validate_lv_name(name: &str) -> Result<(), ModelError> {
    validate_name(name)?;
    let bad = |reason| ModelError::InvalidName {
        name: name.to_string(),
        reason,
    };
    if name.starts_with("snapshot") {
        return Err(bad("names starting with `snapshot` are reserved"));
    }
    if name.starts_with("pvmove") {
        return Err(bad("names starting with `pvmove` are reserved"));
    }
    if RESERVED_PARTS.iter().any(|p| name.contains(p)) {
        return Err(bad("contains a suffix lvm2 reserves for sub-volumes"));
    }
    Ok(())
}

/// Checks a VG name: general rules, and no clash with `/dev` entries lvm2 refuses.
pub fn validate_vg_name(name: &str) -> Result<(), ModelError> {
    validate_name(name)?;
    if name == "lvm" || name == "mapper" {
        return Err(ModelError::InvalidName {
            name: name.to_string(),
            reason: "clashes with a /dev directory",
        });
    }
    Ok(())
}

/// lvm2 refuses an LV whose full name `vg/lv` reaches its limit (`NAME_LEN` 128 counted with
/// the separators and the NUL: `vg` + `lv` + 3); past it every lvm2 command on the VG fails.
pub fn check_full_lv_name(vg: &str, lv: &str) -> Result<(), FullNameTooLong> {
    let len = vg.len() + lv.len() + 3;
    if len > MAX_NAME_LEN {
        return Err(FullNameTooLong {
            full: format!("{vg}/{lv}"),
            len,
        });
    }
    Ok(())
}

/// A `vg/lv` name too long for lvm2 (`len` counts the separators and the NUL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LV name {full} too long ({len} bytes, lvm2's limit 128)")]
pub struct FullNameTooLong {
    pub full: String,
    pub len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lvm_rules() {
        for ok in ["lv0", "a.b+c_d-e", "1abc", "x".repeat(127).as_str()] {
            assert!(validate_lv_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "-a",
            "a b",
            "a/b",
            "é",
            "snapshot1",
            "pvmove0",
            "x_rimage_0",
            "my_mlog",
            &"x".repeat(128),
        ] {
            assert!(validate_lv_name(bad).is_err(), "{bad}");
        }
        assert!(validate_vg_name("mapper").is_err());
        assert!(validate_vg_name("vg_rimage").is_ok());
        // lvm2 2.03.16: with VG "vg", 122 characters pass and 123 fail ("length 128").
        assert!(check_full_lv_name("vg", &"x".repeat(122)).is_ok());
        let e = check_full_lv_name("vg", &"x".repeat(123)).unwrap_err();
        assert_eq!(e.len, 128);
        assert_eq!(e.full, format!("vg/{}", "x".repeat(123)));
    }
}
