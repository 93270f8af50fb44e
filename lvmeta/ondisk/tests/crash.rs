//! Crash consistency of the commit protocol on in-memory devices with fault injection:
//! an update cut off after any number of writes (and with the last one torn) leaves the old
//! or the new text readable, never an error, and the next update succeeds.

use lvmeta_ondisk::dev::{BlockDev, Fault, FaultInjector, MemDev, WriteRecord};
use lvmeta_ondisk::mda::MDA_HEADER_SIZE;
use lvmeta_ondisk::pv::{format_pv, FormatOptions};
use lvmeta_ondisk::store::{read_copies, read_newest, text_seqno, Area, CopyStatus, MetadataStore};
use lvmeta_ondisk::{Bytes, OnDiskError};
use std::sync::Arc;

const UUIDS: [&str; 3] = [
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA0",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2",
];

/// A VG text of roughly `len` bytes with the given seqno.
fn vg_text(seqno: u64, len: usize) -> String {
    let mut t = format!(
        "crashvg {{\nid = \"a1b2c3-d4e5-f6g7-h8i9-j0k1-l2m3-n4o5p6\"\nseqno = {seqno}\nformat = \"lvm2\"\n"
    );
    let mut i = 0;
    while t.len() < len {
        t.push_str(&format!("tag{i} = \"{}\"\n", "x".repeat(40)));
        i += 1;
    }
    t.push_str("}\n");
    t
}

struct Rig {
    devs: Vec<MemDev>,
    areas: Vec<Area>,
    injector: FaultInjector,
}

impl Rig {
    /// `n` PVs with small (32 KiB) metadata areas so a few updates wrap around.
    fn new(n: usize) -> Rig {
        let injector = FaultInjector::new();
        let opts = FormatOptions {
            metadata_size: Some(Bytes(32 * 1024)),
            data_alignment: Bytes(0),
            ..FormatOptions::default()
        };
        let mut devs = Vec::new();
        let mut areas = Vec::new();
        for uuid in UUIDS.iter().take(n) {
            let d = MemDev::with_injector(format!("/mem/{uuid}"), Bytes(1 << 20), injector.clone());
            let layout = format_pv(&d, uuid, &opts).unwrap();
            areas.push((Arc::new(d.clone()) as Arc<dyn BlockDev>, layout.mda));
            devs.push(d);
        }
        Rig {
            devs,
            areas,
            injector,
        }
    }

    fn update(&self, text: &str) -> Result<(), OnDiskError> {
        MetadataStore::prepare(self.areas.clone(), text)?.commit()
    }

    fn snapshot(&self) -> Vec<Vec<u8>> {
        self.devs.iter().map(MemDev::snapshot).collect()
    }

    fn restore(&self, s: &[Vec<u8>]) {
        for (d, b) in self.devs.iter().zip(s) {
            d.restore(b);
        }
    }

    fn is_header_write(&self, w: &WriteRecord) -> bool {
        w.len == MDA_HEADER_SIZE && self.areas.iter().any(|(_, a)| a.offset == w.offset)
    }
}

/// Runs the old->new update cut after every write, with every tear variant, and checks what
/// reads back. `sector_atomic`: tears of header writes land whole sectors only (the model
/// LVM2 relies on); otherwise header tears may split a sector.
fn crash_matrix(
    n: usize,
    history: &[usize],
    (old_len, old_wraps): (usize, bool),
    (new_len, new_wraps): (usize, bool),
    sector_atomic: bool,
) {
    let rig = Rig::new(n);
    let mut seq = 1;
    for &len in history {
        rig.update(&vg_text(seq, len)).unwrap();
        seq += 1;
    }
    let old = vg_text(seq, old_len);
    let new = vg_text(seq + 1, new_len);
    let after = vg_text(seq + 2, old_len);
    rig.update(&old).unwrap();
    let wraps = |rig: &Rig| -> Vec<bool> {
        read_copies(&rig.areas)
            .iter()
            .map(|r| r.result.as_ref().unwrap().locn.wrap(r.area.size) > 0)
            .collect()
    };
    assert_eq!(wraps(&rig), vec![old_wraps; n], "old copy wrap");
    let base = rig.snapshot();

    rig.injector.set(Fault::None);
    rig.update(&new).unwrap();
    assert_eq!(wraps(&rig), vec![new_wraps; n], "new copy wrap");
    let log = rig.injector.log();
    let total = log.len() as u64;
    // The text writes, then one precommit and one commit header write per area.
    assert!(total >= 3 * n as u64);
    let first_commit = total - n as u64;
    assert!(log[first_commit as usize..]
        .iter()
        .all(|w| rig.is_header_write(w)));

    let mut cases = 0;
    for k in 0..=total {
        let mut variants = vec![Fault::FailAfter { ok: k }];
        if k < total {
            let w = &log[k as usize];
            let prefixes: Vec<usize> = if rig.is_header_write(w) {
                if sector_atomic {
                    vec![0, 512]
                } else {
                    vec![0, 1, 20, 100, 300, 511, 512]
                }
            } else {
                vec![0, 1, 100, 511, 512, 513, w.len / 2, w.len.saturating_sub(1)]
            };
            variants.extend(
                prefixes
                    .into_iter()
                    .map(|prefix| Fault::TearAfter { ok: k, prefix }),
            );
        }
        for fault in variants {
            cases += 1;
            rig.restore(&base);
            rig.injector.set(fault);
            let outcome = rig.update(&new);
            rig.injector.set(Fault::None);
            if k < total {
                assert!(
                    outcome.is_err(),
                    "{fault:?}: a cut update must report failure"
                );
            }
            let got =
                read_newest(&rig.areas).unwrap_or_else(|e| panic!("{fault:?}: read failed: {e}"));
            // The first commit header decides: landed (whole) -> new, otherwise old.
            let commit_landed = match fault {
                Fault::FailAfter { ok } => ok > first_commit,
                Fault::TearAfter { ok, prefix } => {
                    ok > first_commit || (ok == first_commit && prefix >= 512)
                }
                Fault::None => true,
            };
            if commit_landed || !sector_atomic && got.text == new {
                assert_eq!(got.text, new, "{fault:?}");
            } else {
                assert_eq!(got.text, old, "{fault:?}");
            }
            if sector_atomic {
                for r in read_copies(&rig.areas) {
                    let t = r
                        .result
                        .unwrap_or_else(|e| panic!("{fault:?}: copy damaged: {e}"));
                    assert!(t.text == old || t.text == new, "{fault:?}");
                }
            }
            // Recovery: the next update works from whatever state the crash left.
            if sector_atomic {
                rig.update(&after)
                    .unwrap_or_else(|e| panic!("{fault:?}: next update failed: {e}"));
                for r in read_copies(&rig.areas) {
                    assert_eq!(r.result.unwrap().text, after, "{fault:?}");
                }
            }
        }
    }
    assert!(cases > 10);
}

#[test]
fn crash_single_pv_every_write() {
    crash_matrix(1, &[], (3000, false), (3500, false), true);
}

#[test]
fn crash_single_pv_new_copy_wraps() {
    // 32 KiB area: max copy 15,616 bytes. Old copy near the end so the new one wraps.
    crash_matrix(1, &[9000, 9000], (9000, false), (12000, true), true);
}

#[test]
fn crash_single_pv_old_copy_wrapped() {
    crash_matrix(1, &[9000, 9000, 9000], (12000, true), (5000, false), true);
}

#[test]
fn crash_three_pvs_every_write() {
    crash_matrix(3, &[2000], (6000, false), (7000, false), true);
}

#[test]
fn crash_three_pvs_wrapping() {
    crash_matrix(3, &[9000, 9000], (9000, false), (12000, true), true);
}

#[test]
fn crash_three_pvs_with_sub_sector_header_tears_still_reads() {
    // Even when a header sector itself is torn (one copy damaged), the others carry on.
    crash_matrix(3, &[4000], (5000, false), (6000, false), false);
}

#[test]
fn crash_during_revert_keeps_old() {
    let rig = Rig::new(2);
    let old = vg_text(1, 4000);
    rig.update(&old).unwrap();
    let base = rig.snapshot();
    rig.injector.set(Fault::None);
    MetadataStore::prepare(rig.areas.clone(), &vg_text(2, 4000))
        .unwrap()
        .revert()
        .unwrap();
    let total = rig.injector.writes();
    for k in 0..=total {
        for fault in [
            Fault::FailAfter { ok: k },
            Fault::TearAfter { ok: k, prefix: 512 },
        ] {
            rig.restore(&base);
            rig.injector.set(fault);
            if let Ok(p) = MetadataStore::prepare(rig.areas.clone(), &vg_text(2, 4000)) {
                let _ = p.revert();
            }
            rig.injector.set(Fault::None);
            for r in read_copies(&rig.areas) {
                assert_eq!(r.result.unwrap().text, old, "{fault:?}");
            }
        }
    }
}

/// Every kind of damage to one copy of a three-PV set: the newest intact copy is read.
#[test]
fn damaging_any_one_copy_reads_newest_intact() {
    type Damage = fn(&MemDev, u64, u64);
    let damages: [(&str, Damage); 5] = [
        ("header checksum byte", |d, mda, _| {
            d.poke(Bytes(mda + 2), &[0x55])
        }),
        ("header zeroed", |d, mda, _| d.poke(Bytes(mda), &[0u8; 512])),
        ("header slot offset", |d, mda, _| {
            let mut b = [0u8; 512];
            d.read_at(Bytes(mda), &mut b).unwrap();
            b[40] ^= 0x08; // raw_locn[0].offset changed, checksum now stale
            d.poke(Bytes(mda), &b);
        }),
        ("text byte", |d, mda, text_off| {
            d.poke(Bytes(mda + text_off + 10), b"#")
        }),
        ("text zeroed", |d, mda, text_off| {
            d.poke(Bytes(mda + text_off), &[0u8; 64])
        }),
    ];
    for (name, damage) in damages {
        for victim in 0..3 {
            let rig = Rig::new(3);
            rig.update(&vg_text(1, 3000)).unwrap();
            let v2 = vg_text(2, 3500);
            rig.update(&v2).unwrap();
            let reports = read_copies(&rig.areas);
            let text_off = reports[victim].result.as_ref().unwrap().locn.offset.0;
            damage(&rig.devs[victim], rig.areas[victim].1.offset.0, text_off);
            let reports = read_copies(&rig.areas);
            let st: Vec<_> = reports.iter().map(|r| r.status()).collect();
            assert_eq!(
                st.iter().filter(|s| **s == CopyStatus::Damaged).count(),
                1,
                "{name}: {st:?}"
            );
            assert_eq!(st[victim], CopyStatus::Damaged, "{name}");
            assert!(reports[victim].result.as_ref().unwrap_err().is_damage());
            assert_eq!(
                read_newest(&rig.areas).unwrap().text,
                v2,
                "{name} on pv{victim}"
            );
        }
    }
}

/// A crash left one PV with the new copy committed and the others with the old; damaging
/// the new one falls back to the newest intact (old) copy, and seqno picks the new one when
/// it is intact.
#[test]
fn mixed_commit_state_picks_highest_seqno() {
    let rig = Rig::new(3);
    let old = vg_text(5, 2000);
    let new = vg_text(6, 2500);
    rig.update(&old).unwrap();
    rig.injector.set(Fault::None);
    rig.update(&new).unwrap();
    let total = rig.injector.writes();
    // Redo with a cut right after the first commit header write.
    let rig = Rig::new(3);
    rig.update(&old).unwrap();
    rig.injector.set(Fault::FailAfter { ok: total - 2 });
    assert!(rig.update(&new).is_err());
    rig.injector.set(Fault::None);
    let texts: Vec<_> = read_copies(&rig.areas)
        .into_iter()
        .map(|r| r.result.unwrap().text)
        .collect();
    assert_eq!(texts, vec![new.clone(), old.clone(), old.clone()]);
    assert_eq!(text_seqno(&read_newest(&rig.areas).unwrap().text), Some(6));
    rig.devs[0].poke(Bytes(rig.areas[0].1.offset.0 + 8), &[0xee]);
    assert_eq!(read_newest(&rig.areas).unwrap().text, old);
}

#[test]
fn every_copy_damaged_is_an_error() {
    let rig = Rig::new(2);
    rig.update(&vg_text(1, 1000)).unwrap();
    for (d, (_, a)) in rig.devs.iter().zip(&rig.areas) {
        d.poke(Bytes(a.offset.0 + 1), &[0x99]);
    }
    assert!(read_newest(&rig.areas).unwrap_err().is_damage());
}
