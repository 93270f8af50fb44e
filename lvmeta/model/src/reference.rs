//! Test-only reference implementations, in one place: the simpler earlier versions that the
//! fast ones are property-tested against. Never compiled outside tests.

use crate::vg::{Extra, ExtraEntry, VolumeGroup};
use crate::ModelError;
use lvmeta_text::{Node, Section};

/// The two-pass `Extra::collect` the one-pass reader replaced: known keys' first
/// occurrences anchor the unknown entries that follow; repeats of known keys are dropped.
pub fn extra_ref(sec: &Section, known: impl Fn(&str) -> bool, sections: bool) -> Extra {
    let mut seen: Vec<&str> = Vec::new();
    let mut after: Option<&str> = None;
    let mut entries = Vec::new();
    for (k, n) in &sec.entries {
        if known(k) {
            if !seen.contains(&&**k) {
                seen.push(k);
                after = Some(k);
            }
        } else {
            entries.push(ExtraEntry {
                after: after.map(str::to_string),
                key: k.to_string(),
                node: n.clone().into_owned(),
            });
        }
    }
    if !sections {
        entries.retain(|e| matches!(e.node, Node::Value(_)));
    }
    Extra { entries }
}

/// `VolumeGroup::check_references` with the linear lookups it replaced.
pub fn check_references_ref(vg: &VolumeGroup) -> Result<(), ModelError> {
    let mut parent_of: Vec<(&str, &str)> = Vec::new();
    vg.check_references_with(
        |sub, parent| {
            let other = parent_of.iter().any(|&(s, p)| s == sub && p != parent);
            parent_of.push((sub, parent));
            other
        },
        |name| vg.pv(name),
        |name| vg.lv(name).is_some(),
    )
}
