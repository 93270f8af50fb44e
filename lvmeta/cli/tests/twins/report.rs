//! The report comparison of the differential tests: lvs/vgs/pvs JSON reports as rows, device
//! paths written `{N}`, UUIDs and times left out of the fields. Shared by the root tier's
//! twins (lvmeta/cli/tests) and the lab's lvm2 comparison (lvmeta/dm/tests/lab_activation.rs,
//! which includes this file by path).

#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stderr without lvm2's notes that activation is off (the host has no device-mapper).
    pub fn errors(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter(|l| {
                !l.contains("Activation disabled")
                    && !l.contains("not zeroed")
                    && !l.contains("NOT backed up")
                    && !l.trim().is_empty()
            })
            .map(|l| l.trim().to_string())
            .collect()
    }
}

pub const LV_FIELDS: &str = "lv_name,lv_size,segtype,stripes,stripe_size,seg_start_pe,seg_size_pe,seg_pe_ranges,devices,lv_tags,mirror_log,region_size";
pub const VG_FIELDS: &str = "vg_name,pv_count,lv_count,vg_size,vg_free,vg_tags,vg_extent_size,vg_extent_count,vg_free_count,vg_attr";
pub const PV_FIELDS: &str =
    "pv_name,vg_name,pv_size,pv_free,pe_start,pv_pe_count,pv_pe_alloc_count,pv_attr,pv_mda_size";

pub type Rows = Vec<BTreeMap<String, String>>;

#[derive(Debug, PartialEq, Eq)]
pub struct View {
    pub lvs: Rows,
    pub vgs: Rows,
    pub pvs: Rows,
}

/// Rows of a JSON report, device paths replaced by `{N}`; an error output becomes one row
/// holding the exit code.
pub fn rows_of(out: &Out, key: &str, devs: &[String]) -> Rows {
    if out.code != 0 {
        let mut r = BTreeMap::new();
        r.insert("exit".to_string(), out.code.to_string());
        return vec![r];
    }
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("bad json {e}: {}", out.stdout));
    let mut rows: Rows = v["report"][0][key]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let mut s = v.as_str().unwrap_or_default().to_string();
                    // Longest paths first: /dev/loop1 is a prefix of /dev/loop10.
                    let mut order: Vec<usize> = (0..devs.len()).collect();
                    order.sort_by_key(|&i| std::cmp::Reverse(devs[i].len()));
                    for i in order {
                        s = s.replace(&devs[i], &format!("{{{i}}}"));
                    }
                    (k.clone(), s)
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}
