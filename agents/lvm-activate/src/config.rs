//! The validated configuration of one LVM-activate instance.

use halvm_config::ActivationMode as VxMode;
use halvm_ocf::{OcfError, Params};

use crate::definition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    Lvmlockd,
    Clvmd,
    SystemId,
    Tagging,
}

impl AccessMode {
    pub fn parse(s: &str) -> Option<AccessMode> {
        Some(match s {
            "lvmlockd" => AccessMode::Lvmlockd,
            "clvmd" => AccessMode::Clvmd,
            "system_id" => AccessMode::SystemId,
            "tagging" => AccessMode::Tagging,
            _ => return None,
        })
    }
    /// Locked through the cluster lock daemon (a shared VG, `lock_type = "dlm"`): lvmlockd, and
    /// clvmd, which on this stack is the same daemon (lvm 2.02's clvmd VGs are converted).
    pub fn is_cluster(self) -> bool {
        matches!(self, AccessMode::Lvmlockd | AccessMode::Clvmd)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::Lvmlockd => "lvmlockd",
            AccessMode::Clvmd => "clvmd",
            AccessMode::SystemId => "system_id",
            AccessMode::Tagging => "tagging",
        }
    }
}

/// The `activation_mode` parameter: how nodes share the LV, resource-agents' two modes plus
/// VxVM's four (halvm; shared VGs only). Not lvm's activation mode (complete, degraded or
/// partial: [`crate::plan::ActivationMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// lvm's -aey: LV lock EX.
    Exclusive,
    /// lvm's -asy: LV lock PR.
    Shared,
    /// VxVM's modes: the VG's mode lock, then LV locks by mode (ew PW, ro and sw PR, sr CR);
    /// ro and sr load read-only tables.
    Vx(VxMode),
}

impl Sharing {
    /// The parameter's values: `exclusive`, `shared`, `ew`, `ro`, `sr`, `sw`.
    pub fn parse(s: &str) -> Option<Sharing> {
        Some(match s {
            "exclusive" => Sharing::Exclusive,
            "shared" => Sharing::Shared,
            "ew" => Sharing::Vx(VxMode::ExclusiveWrite),
            "ro" => Sharing::Vx(VxMode::ReadOnly),
            "sr" => Sharing::Vx(VxMode::SharedRead),
            "sw" => Sharing::Vx(VxMode::SharedWrite),
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Exclusive => "exclusive",
            Sharing::Shared => "shared",
            Sharing::Vx(m) => m.abbreviation(),
        }
    }

    /// Whether the LV lock this mode takes is exclusive (EX for -aey, PW for ew).
    pub fn exclusive_lock(self) -> bool {
        matches!(
            self,
            Sharing::Exclusive | Sharing::Vx(VxMode::ExclusiveWrite)
        )
    }

    /// The VxVM mode, if this is one.
    pub fn vx(self) -> Option<VxMode> {
        match self {
            Sharing::Vx(m) => Some(m),
            _ => None,
        }
    }

    /// Whether LV locks taken on two nodes in these modes are granted together: the DLM's
    /// compatibility of the modes they take (EX, PR, PW for ew, PR for ro and sw, CR for sr).
    pub fn lv_locks_compatible(self, other: Sharing) -> bool {
        #[derive(PartialEq, Clone, Copy)]
        enum Dlm {
            Cr,
            Pr,
            Pw,
            Ex,
        }
        let dlm = |m: Sharing| match m {
            Sharing::Exclusive => Dlm::Ex,
            Sharing::Shared
            | Sharing::Vx(VxMode::ReadOnly)
            | Sharing::Vx(VxMode::SharedWrite)
            | Sharing::Vx(VxMode::Off) => Dlm::Pr,
            Sharing::Vx(VxMode::ExclusiveWrite) => Dlm::Pw,
            Sharing::Vx(VxMode::SharedRead) => Dlm::Cr,
        };
        match (dlm(self), dlm(other)) {
            (Dlm::Ex, _) | (_, Dlm::Ex) => false,
            (Dlm::Cr, _) | (_, Dlm::Cr) => true,
            (Dlm::Pr, Dlm::Pr) => true,
            _ => false,
        }
    }
}

/// A configuration that passed every check validate-all makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub vg: String,
    pub lv: Option<String>,
    pub access: AccessMode,
    pub sharing: Sharing,
    pub tag: String,
    pub partial: bool,
    pub degraded: bool,
    pub majority_pvs: bool,
}

/// What stop needs: only the names (stop must work with a configuration gone bad).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopConfig {
    pub vg: Option<String>,
    pub lv: Option<String>,
    pub access: Option<AccessMode>,
    pub tag: String,
    pub majority_pvs: bool,
}

impl Config {
    /// Checks values and their combinations (no device is touched). Returns the config and
    /// warnings worth logging.
    pub fn from_params(p: &Params) -> Result<(Config, Vec<String>), OcfError> {
        let mut warnings = Vec::new();
        let vg = p.str("vgname").ok_or_else(|| OcfError::MissingParameter {
            name: "vgname".into(),
        })?;
        check_vg_name("vgname", vg)?;
        let lv = p.str("lvname");
        if let Some(lv) = lv {
            check_lv_name("lvname", lv)?;
        }
        let access_raw = p
            .str("vg_access_mode")
            .ok_or_else(|| OcfError::MissingParameter {
                name: "vg_access_mode".into(),
            })?;
        let access = AccessMode::parse(access_raw).ok_or_else(|| {
            OcfError::invalid_value("vg_access_mode", access_raw, definition::ACCESS_MODES)
        })?;
        let sharing = match p.str("activation_mode") {
            None => Sharing::Exclusive,
            Some(v) => Sharing::parse(v).ok_or_else(|| {
                OcfError::invalid_value("activation_mode", v, definition::ACTIVATION_MODES)
            })?,
        };
        let tag = p.str("tag").unwrap_or("pacemaker").to_string();
        check_tag("tag", &tag)?;
        let partial = p.bool("partial_activation").unwrap_or(false);
        let degraded = p.bool("degraded_activation").unwrap_or(false);
        let majority_pvs = p.bool("majority_pvs").unwrap_or(false);

        if sharing != Sharing::Exclusive && !access.is_cluster() {
            return Err(OcfError::Conflict {
                name: "activation_mode".into(),
                value: p.str("activation_mode").unwrap_or("shared").into(),
                other: format!("vg_access_mode={}", access.as_str()),
                why: "needs lvmlockd or clvmd".into(),
            });
        }
        if p.is_set("tag") && access != AccessMode::Tagging {
            return Err(OcfError::Conflict {
                name: "tag".into(),
                value: tag,
                other: format!("vg_access_mode={}", access.as_str()),
                why: "only tagging uses a tag".into(),
            });
        }
        if majority_pvs && access != AccessMode::SystemId {
            return Err(OcfError::Conflict {
                name: "majority_pvs".into(),
                value: "true".into(),
                other: format!("vg_access_mode={}", access.as_str()),
                why: "the majority rule applies to system ID changes only".into(),
            });
        }
        if degraded && partial {
            warnings.push("degraded_activation and partial_activation are both set: RAID LVs use degraded activation, other LVs partial".to_string());
        }
        if degraded && access == AccessMode::SystemId && !majority_pvs {
            warnings.push("degraded_activation without majority_pvs: failover with missing PVs cannot move the system ID".to_string());
        }
        Ok((
            Config {
                vg: vg.to_string(),
                lv: lv.map(str::to_string),
                access,
                sharing,
                tag,
                partial,
                degraded,
                majority_pvs,
            },
            warnings,
        ))
    }
}

impl StopConfig {
    /// From leniently parsed parameters: bad names are dropped, not fatal.
    pub fn from_params(p: &Params) -> StopConfig {
        StopConfig {
            vg: p
                .str("vgname")
                .filter(|v| check_vg_name("vgname", v).is_ok())
                .map(str::to_string),
            lv: p
                .str("lvname")
                .filter(|v| check_lv_name("lvname", v).is_ok())
                .map(str::to_string),
            access: p.str("vg_access_mode").and_then(AccessMode::parse),
            tag: p
                .str("tag")
                .filter(|t| check_tag("tag", t).is_ok())
                .unwrap_or("pacemaker")
                .to_string(),
            majority_pvs: p.bool("majority_pvs").unwrap_or(false),
        }
    }
}

impl From<&Config> for StopConfig {
    fn from(c: &Config) -> StopConfig {
        StopConfig {
            vg: Some(c.vg.clone()),
            lv: c.lv.clone(),
            access: Some(c.access),
            tag: c.tag.clone(),
            majority_pvs: c.majority_pvs,
        }
    }
}

fn malformed(name: &str, value: &str, why: &str) -> OcfError {
    OcfError::Malformed {
        name: name.into(),
        value: value.into(),
        why: why.into(),
    }
}

/// LVM's rules for VG and LV names: `[A-Za-z0-9+_.-]`, no leading `-`, not `.`/`..`,
/// at most 127 characters.
pub fn check_vg_name(param: &str, v: &str) -> Result<(), OcfError> {
    if v.len() > 127 {
        return Err(malformed(param, v, "longer than 127 characters"));
    }
    if v == "." || v == ".." {
        return Err(malformed(param, v, "reserved name"));
    }
    check_chars(param, v, "+_.-", " (only A-Z a-z 0-9 + _ . -)")?;
    if v.is_empty() {
        return Err(malformed(param, v, "empty"));
    }
    Ok(())
}

/// LV names: VG name rules plus LVM's reserved prefixes and internal suffixes.
pub fn check_lv_name(param: &str, v: &str) -> Result<(), OcfError> {
    check_vg_name(param, v)?;
    for prefix in ["snapshot", "pvmove"] {
        if v.starts_with(prefix) {
            return Err(malformed(
                param,
                v,
                &format!("names starting with {prefix:?} are reserved by LVM"),
            ));
        }
    }
    // lvm2's list, from the one place lvmeta keeps it.
    for part in lvmeta_model::names::RESERVED_PARTS {
        if v.contains(part) {
            return Err(malformed(
                param,
                v,
                &format!("{part:?} marks LVM-internal volumes"),
            ));
        }
    }
    Ok(())
}

/// LVM tag rules: `[A-Za-z0-9_+.-/=!:&#]`, no leading `-`, at most 1024 characters.
pub fn check_tag(param: &str, v: &str) -> Result<(), OcfError> {
    if v.is_empty() || v.len() > 1024 {
        return Err(malformed(param, v, "must be 1 to 1024 characters"));
    }
    check_chars(param, v, "_+.-/=!:&#", " in an LVM tag")
}

/// LVM's rules shared by names and tags: no leading `-`, only ASCII letters, digits and
/// `punct` (`where_` ends the message naming a character that is not allowed).
fn check_chars(param: &str, v: &str, punct: &str, where_: &str) -> Result<(), OcfError> {
    if v.starts_with('-') {
        return Err(malformed(param, v, "starts with '-'"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || punct.contains(*c)))
    {
        return Err(malformed(
            param,
            v,
            &format!("character {c:?} is not allowed{where_}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::DEFINITION;
    use halvm_ocf::Strictness;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn parse(kv: &[(&str, &str)]) -> Result<(Config, Vec<String>), OcfError> {
        let keys: BTreeMap<String, String> = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (p, _) = Params::parse(&DEFINITION, &keys, Strictness::Strict)?;
        Config::from_params(&p)
    }

    fn code(kv: &[(&str, &str)]) -> u8 {
        match parse(kv) {
            Ok(_) => 0,
            Err(e) => e.exit().code(),
        }
    }

    #[test]
    fn good_configurations() {
        let (c, w) = parse(&[("vgname", "vg1"), ("vg_access_mode", "system_id")]).unwrap();
        assert_eq!(c.vg, "vg1");
        assert_eq!(c.lv, None);
        assert_eq!(c.access, AccessMode::SystemId);
        assert_eq!(c.sharing, Sharing::Exclusive);
        assert_eq!(c.tag, "pacemaker");
        assert!(w.is_empty());
        let (c, _) = parse(&[
            ("vgname", "vg1"),
            ("lvname", "data-1"),
            ("vg_access_mode", "tagging"),
            ("tag", "ha:cluster1"),
            ("partial_activation", "yes"),
        ])
        .unwrap();
        assert_eq!(
            (c.lv.as_deref(), c.tag.as_str(), c.partial),
            (Some("data-1"), "ha:cluster1", true)
        );
        assert_eq!(
            code(&[
                ("vgname", "v"),
                ("vg_access_mode", "system_id"),
                ("majority_pvs", "1"),
                ("degraded_activation", "1")
            ]),
            0
        );
        assert_eq!(
            code(&[
                ("vgname", "v"),
                ("vg_access_mode", "system_id"),
                ("activation_mode", "exclusive")
            ]),
            0
        );
        let (_, w) = parse(&[
            ("vgname", "v"),
            ("vg_access_mode", "system_id"),
            ("partial_activation", "1"),
            ("degraded_activation", "1"),
        ])
        .unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn bad_values_and_combinations_exit_6() {
        for (case, kv) in [
            ("no vgname", vec![("vg_access_mode", "system_id")]),
            ("no access mode", vec![("vgname", "vg1")]),
            (
                "unknown access mode",
                vec![("vgname", "vg1"), ("vg_access_mode", "nfs")],
            ),
            (
                "unknown activation mode",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "system_id"),
                    ("activation_mode", "both"),
                ],
            ),
            (
                "shared with system_id",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "system_id"),
                    ("activation_mode", "shared"),
                ],
            ),
            (
                "shared with tagging",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "tagging"),
                    ("activation_mode", "shared"),
                ],
            ),
            (
                "tag without tagging",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "system_id"),
                    ("tag", "x"),
                ],
            ),
            (
                "majority without system_id",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "tagging"),
                    ("majority_pvs", "true"),
                ],
            ),
            (
                "tag with lvmlockd",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "lvmlockd"),
                    ("tag", "x"),
                ],
            ),
            (
                "majority with clvmd",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "clvmd"),
                    ("majority_pvs", "1"),
                ],
            ),
            (
                "bad boolean",
                vec![
                    ("vgname", "vg1"),
                    ("vg_access_mode", "system_id"),
                    ("partial_activation", "maybe"),
                ],
            ),
            (
                "bad vg name",
                vec![("vgname", "vg 1"), ("vg_access_mode", "system_id")],
            ),
            (
                "dash vg name",
                vec![("vgname", "-vg"), ("vg_access_mode", "system_id")],
            ),
            (
                "reserved lv name",
                vec![
                    ("vgname", "vg"),
                    ("lvname", "lv_rimage_0"),
                    ("vg_access_mode", "system_id"),
                ],
            ),
            (
                "bad tag",
                vec![
                    ("vgname", "vg"),
                    ("vg_access_mode", "tagging"),
                    ("tag", "a b"),
                ],
            ),
        ] {
            assert_eq!(code(&kv), 6, "{case}");
        }
        let e = parse(&[
            ("vgname", "vg1"),
            ("vg_access_mode", "system_id"),
            ("tag", "x"),
        ])
        .unwrap_err();
        assert_eq!(e.to_string(), "parameter tag=\"x\" cannot be used with vg_access_mode=system_id: only tagging uses a tag");
    }

    #[test]
    fn activation_modes_parse_and_round_trip() {
        for v in crate::definition::ACTIVATION_MODES {
            let m = Sharing::parse(v).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(Sharing::parse(m.as_str()), Some(m), "{v}");
        }
        assert_eq!(Sharing::parse("EW"), None);
        assert_eq!(Sharing::parse("sr"), Some(Sharing::Vx(VxMode::SharedRead)));
        assert!(Sharing::Vx(VxMode::ExclusiveWrite).exclusive_lock());
        assert!(!Sharing::Vx(VxMode::SharedWrite).exclusive_lock());
        // The DLM's grants between the LV locks the modes take.
        let ew = Sharing::Vx(VxMode::ExclusiveWrite);
        let sr = Sharing::Vx(VxMode::SharedRead);
        assert!(ew.lv_locks_compatible(sr) && sr.lv_locks_compatible(ew));
        assert!(!ew.lv_locks_compatible(Sharing::Shared));
        assert!(!Sharing::Exclusive.lv_locks_compatible(sr));
        assert!(Sharing::Shared.lv_locks_compatible(Sharing::Vx(VxMode::ReadOnly)));
    }

    #[test]
    fn cluster_modes_take_both_activation_modes() {
        for access in ["lvmlockd", "clvmd"] {
            let (c, _) = parse(&[("vgname", "vg1"), ("vg_access_mode", access)]).unwrap();
            assert!(c.access.is_cluster());
            assert_eq!(c.sharing, Sharing::Exclusive);
            let (c, _) = parse(&[
                ("vgname", "vg1"),
                ("vg_access_mode", access),
                ("activation_mode", "shared"),
                ("partial_activation", "true"),
            ])
            .unwrap();
            assert_eq!((c.sharing, c.partial), (Sharing::Shared, true));
        }
        assert!(!AccessMode::SystemId.is_cluster() && !AccessMode::Tagging.is_cluster());
    }

    #[test]
    fn stop_config_keeps_what_it_can() {
        let keys: BTreeMap<String, String> = [
            ("vgname", "vg1"),
            ("vg_access_mode", "bogus"),
            ("lvname", "bad name"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (p, _) = Params::parse(&DEFINITION, &keys, Strictness::Lenient).unwrap();
        let s = StopConfig::from_params(&p);
        assert_eq!(s.vg.as_deref(), Some("vg1"));
        assert_eq!(s.lv, None);
        assert_eq!(s.access, None);
    }

    proptest! {
        #[test]
        fn vg_names_follow_lvm_rules(name in "[ -~]{0,12}") {
            let ok = check_vg_name("vgname", &name).is_ok();
            let expected = !name.is_empty() && !name.starts_with('-') && name != "." && name != ".."
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c));
            prop_assert_eq!(ok, expected);
        }

        #[test]
        fn config_parse_never_panics(vals in proptest::collection::btree_map(
            prop::sample::select(vec!["vgname", "lvname", "vg_access_mode", "activation_mode", "tag", "partial_activation", "degraded_activation", "majority_pvs"]),
            prop::sample::select(vec!["", "vg1", "system_id", "tagging", "lvmlockd", "shared", "exclusive", "true", "false", "x y", "-a"]),
            0..8)) {
            let kv: Vec<(&str, &str)> = vals.iter().map(|(k, v)| (*k, *v)).collect();
            let c = code(&kv);
            prop_assert!(c == 0 || c == 6, "exit {}", c);
        }
    }
}
