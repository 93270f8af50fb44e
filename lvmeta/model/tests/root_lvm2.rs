//! lvm2 as the oracle, on loop devices (root): metadata lvm2 writes goes through the text
//! parser and the model and comes back byte for byte; what the allocator makes (raid1, mirror
//! included) is restored with `vgcfgrestore` and lvm2 writes it back unchanged; and the
//! allocator picks the same extents lvm2 picks for the same commands.

use halvm_testkit::{require_root, require_tool, LoopDevice};
use lvmeta_model::{Layout, LvRequest, MirrorLog, SegmentKind, Trailer, VolumeGroup};
use lvmeta_ondisk::units::{Extents, Sectors};
use lvmeta_text::{parse, write, write_with, Style};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private lvm2 setup over `n` loop devices; everything goes away on drop.
struct Lvm2Lab {
    // Loop devices are detached before the directory holding their files is removed.
    loops: Vec<LoopDevice>,
    dir: tempfile::TempDir,
    lvm: PathBuf,
}

impl Lvm2Lab {
    fn new(n: usize, mib: u64) -> Lvm2Lab {
        require_root();
        let lvm = require_tool("lvm", "lvm2");
        let dir = tempfile::Builder::new()
            .prefix("lvmeta-model-root")
            .tempdir()
            .expect("temp dir");
        let loops: Vec<LoopDevice> = (0..n)
            .map(|i| LoopDevice::new(dir.path(), &format!("disk{i}.img"), mib))
            .collect();
        let filter: Vec<String> = loops
            .iter()
            .map(|l| format!("\"a|^{}$|\"", l.path().display()))
            .chain(std::iter::once("\"r|.*|\"".to_string()))
            .collect();
        let d = dir.path().display();
        for sub in ["etc", "lock", "backup", "archive"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let conf = format!(
            "devices {{ filter = [{}] use_devicesfile = 0 obtain_device_list_from_udev = 0 }}\n\
             global {{ activation = 0 locking_dir = \"{d}/lock\" system_id_source = \"uname\" }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 monitoring = 0 }}\n\
             backup {{ backup_dir = \"{d}/backup\" archive_dir = \"{d}/archive\" }}\n",
            filter.join(", ")
        );
        std::fs::write(dir.path().join("etc/lvm.conf"), conf).unwrap();
        Lvm2Lab { loops, dir, lvm }
    }

    fn dev(&self, i: usize) -> String {
        self.loops[i].path().display().to_string()
    }

    fn lvm(&self, args: &[&str]) -> String {
        let out = Command::new(&self.lvm)
            .args(args)
            .env("LVM_SYSTEM_DIR", self.dir.path().join("etc"))
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .output()
            .expect("run lvm");
        assert!(
            out.status.success(),
            "lvm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn backup(&self, vg: &str) -> String {
        let f = self.file(&format!("{vg}.backup"));
        self.lvm(&["vgcfgbackup", "-q", "-f", f.to_str().unwrap(), vg]);
        std::fs::read_to_string(f).unwrap()
    }

    /// The committed metadata text of the first metadata area of a PV (read directly).
    fn mda_text(&self, i: usize) -> String {
        read_mda_text(self.loops[i].path())
    }
}

/// Reads the mda header at 4 KiB and the text its first raw_locn points to (no crate of ours:
/// this is the oracle side).
fn read_mda_text(dev: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(dev).unwrap();
    let mut h = [0u8; 512];
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.read_exact(&mut h).unwrap();
    assert_eq!(&h[4..20], b" LVM2 x[5A%r0N*>", "mda magic");
    let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
    let (start, size) = (u64_at(24), u64_at(32));
    let (off, len) = (u64_at(40), u64_at(48));
    let mut text = vec![0u8; len as usize];
    let first = len.min(size - off) as usize;
    f.seek(SeekFrom::Start(start + off)).unwrap();
    f.read_exact(&mut text[..first]).unwrap();
    if first < len as usize {
        // wrapped around the circular buffer, past the 512-byte header
        f.seek(SeekFrom::Start(start + 512)).unwrap();
        f.read_exact(&mut text[first..]).unwrap();
    }
    while text.last() == Some(&0) {
        text.pop();
    }
    String::from_utf8(text).unwrap()
}

/// Text → tree → model → tree → text.
fn through_model(text: &str, style: Style) -> String {
    let doc = parse(text).unwrap();
    let vg = VolumeGroup::from_metadata(&doc).unwrap();
    let trailer = Trailer::from_metadata(&doc).unwrap();
    let out = match style {
        Style::Metadata => vg.to_metadata(&trailer),
        Style::Backup => vg.to_backup(&trailer),
    };
    let via_tree = write_with(&out, style);
    // The direct writers (used for commits and backups) write the same bytes.
    let mut direct = String::new();
    match style {
        Style::Metadata => vg.write_metadata(&trailer, &mut direct),
        Style::Backup => vg.write_backup(&trailer, &mut direct),
    }
    assert_eq!(direct, via_tree, "direct writer ({style:?})");
    via_tree
}

/// The VG section of a metadata-area text (everything before lvm2's trailer comment).
fn vg_part(mda: &str) -> &str {
    &mda[..mda.find("\n# Generated by").expect("trailer comment") + 1]
}

#[test]
fn root_lvm2_linear_striped_metadata_round_trips_byte_for_byte() {
    let lab = Lvm2Lab::new(3, 64);
    let (d0, d1, d2) = (lab.dev(0), lab.dev(1), lab.dev(2));
    lab.lvm(&["pvcreate", "-q", &d0, &d1, &d2]);
    lab.lvm(&["vgcreate", "-q", "--addtag", "vgtag", "vgr", &d0, &d1, &d2]);
    lab.lvm(&[
        "lvcreate", "-q", "-an", "-Zn", "-n", "lin", "-L", "8M", "--addtag", "t1", "--addtag",
        "t2", "vgr",
    ]);
    lab.lvm(&[
        "lvcreate", "-q", "-an", "-Zn", "-n", "s2", "-i2", "-L", "8M", "vgr",
    ]);
    lab.lvm(&[
        "lvcreate", "-q", "-an", "-Zn", "-n", "s3", "-i3", "-I64k", "-L", "12M", "vgr",
    ]);
    lab.lvm(&[
        "lvcreate", "-q", "-an", "-Zn", "-n", "lin2", "-L", "4M", "vgr",
    ]);
    lab.lvm(&["lvextend", "-q", "-L", "+8M", "vgr/lin"]);
    lab.lvm(&["lvextend", "-q", "-L", "+4M", "vgr/lin2"]);
    lab.lvm(&["lvextend", "-q", "-L", "+16M", "vgr/s2"]);
    for i in 0..3 {
        let mda = lab.mda_text(i);
        assert_eq!(through_model(&mda, Style::Metadata), mda, "PV {i}");
        assert_eq!(write(&parse(&mda).unwrap()), mda);
    }
    let mda = lab.mda_text(0);
    let vg = VolumeGroup::from_metadata(&parse(&mda).unwrap()).unwrap();
    assert_eq!(vg.system_id.as_deref(), Some(hostname().as_str()));
    assert_eq!(vg.tags, ["vgtag"]);
    assert!(
        vg.lv("lin").unwrap().segments.len() >= 2,
        "lvextend made several segments"
    );
    let backup = lab.backup("vgr");
    assert_eq!(through_model(&backup, Style::Backup), backup);
    // The lvs view lvm2 gives matches the report helpers.
    compare_lvs(&lab, &vg);
}

/// lvm2's NOAUTOACTIVATE (`--setautoactivation n`, on the VG and an LV) is a flag the table
/// knows, and the metadata lvm2 writes with it comes back byte for byte. (CACHE_VOL,
/// CACHE_USES_CACHEVOL and CROP_METADATA need device-mapper to be written by lvm2: a cachevol
/// must be wiped, a thin pool's metadata zeroed; the table's unit tests cover them.)
#[test]
fn root_lvm2_noautoactivate_is_known_and_round_trips() {
    use lvmeta_model::flags::{Flag, FlagWord};
    let lab = Lvm2Lab::new(1, 32);
    let d0 = lab.dev(0);
    lab.lvm(&["pvcreate", "-q", &d0]);
    lab.lvm(&["vgcreate", "-q", "--setautoactivation", "n", "vgn", &d0]);
    lab.lvm(&[
        "lvcreate",
        "-q",
        "-an",
        "-Zn",
        "--setautoactivation",
        "n",
        "-n",
        "quiet",
        "-L",
        "4M",
        "vgn",
    ]);
    lab.lvm(&[
        "lvcreate", "-q", "-an", "-Zn", "-n", "plain", "-L", "4M", "vgn",
    ]);
    let mda = lab.mda_text(0);
    assert!(mda.contains("\"NOAUTOACTIVATE\"]"), "{mda}");
    let vg = VolumeGroup::from_metadata(&parse(&mda).unwrap()).unwrap();
    assert_eq!(vg.flags.words(), [FlagWord::Known(Flag::NoAutoActivate)]);
    assert!(vg.lv("quiet").unwrap().flags.contains(Flag::NoAutoActivate));
    assert!(!vg.lv("plain").unwrap().flags.contains(Flag::NoAutoActivate));
    for obj in [&vg.flags, &vg.status, &vg.lv("quiet").unwrap().flags] {
        assert_eq!(obj.unknown().count(), 0, "{obj:?}");
    }
    assert_eq!(through_model(&mda, Style::Metadata), mda);
    let backup = lab.backup("vgn");
    assert_eq!(through_model(&backup, Style::Backup), backup);
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// `lvs -a` from lvm2 against the model's attributes, sizes and devices.
fn compare_lvs(lab: &Lvm2Lab, vg: &VolumeGroup) {
    let out = lab.lvm(&[
        "lvs",
        "-a",
        "--reportformat",
        "json",
        "--units",
        "s",
        "--nosuffix",
        "-o",
        "lv_name,lv_attr,lv_size,devices",
        &vg.name,
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = json["report"][0]["lv"].as_array().unwrap();
    // `devices` is a segment field: lvs prints one row per segment.
    let mut seen: Vec<(String, String, u64, Vec<String>)> = Vec::new();
    for row in rows {
        let shown = row["lv_name"].as_str().unwrap().to_string();
        let dev = row["devices"].as_str().unwrap().to_string();
        match seen.iter_mut().find(|r| r.0 == shown) {
            Some(r) => r.3.push(dev),
            None => seen.push((
                shown,
                row["lv_attr"].as_str().unwrap().to_string(),
                row["lv_size"].as_str().unwrap().parse().unwrap(),
                vec![dev],
            )),
        }
    }
    assert_eq!(seen.len(), vg.lvs.len());
    for (shown, attr, size, devices) in seen {
        let name = shown.trim_start_matches('[').trim_end_matches(']');
        assert_eq!(vg.lv_display_name(name).unwrap(), shown);
        // Without device-mapper lvm2 prints X where it could not ask the kernel; the metadata
        // says `-`. Inactive images are `I` (sync unknown) for both.
        let theirs: String = attr
            .chars()
            .enumerate()
            .map(|(i, c)| match (i, c) {
                (_, 'X') => '-',
                _ => c,
            })
            .collect();
        assert_eq!(vg.lv_attr(name, false).unwrap(), theirs, "{name}");
        assert_eq!(
            vg.lv_size(name).unwrap().0 * vg.extent_size.0,
            size,
            "{name}"
        );
        assert_eq!(vg.lv_devices(name).unwrap(), devices.join(","), "{name}");
        assert_eq!(vg.lv_segments(name).unwrap().len(), devices.len(), "{name}");
    }
}

/// Areas (pv, start, len) of every LV.
/// (pv, start, len) areas of one LV.
type Areas = Vec<(String, u64, u64)>;

fn layout_of(vg: &VolumeGroup) -> Vec<(String, Areas)> {
    vg.lvs
        .iter()
        .map(|lv| {
            let mut v = Vec::new();
            for seg in &lv.segments {
                if let SegmentKind::Striped { areas, .. } = &seg.kind {
                    for a in areas {
                        v.push((a.pv.clone(), a.start.0, seg.area_len().0));
                    }
                }
            }
            (lv.name.clone(), v)
        })
        .collect()
}

#[test]
fn root_allocator_picks_the_extents_lvm2_picks() {
    let lab = Lvm2Lab::new(3, 64);
    let (d0, d1, d2) = (lab.dev(0), lab.dev(1), lab.dev(2));
    lab.lvm(&["pvcreate", "-q", &d0, &d1, &d2]);
    lab.lvm(&["vgcreate", "-q", "vga", &d0, &d1, &d2]);
    let mut ours = VolumeGroup::from_metadata(&parse(&lab.mda_text(0)).unwrap()).unwrap();
    let mb = |m: u64| Extents(m / 4);
    let d2_ = d2.clone();
    let d2c = d2.clone();
    type Step<'a> = (Vec<&'a str>, Box<dyn Fn(&mut VolumeGroup)>);
    let steps: Vec<Step> = vec![
        (
            vec!["lvcreate", "-q", "-an", "-Zn", "-n", "a", "-L", "8M", "vga"],
            Box::new(move |vg| {
                vg.create_lv(LvRequest::new("a", mb(8), Layout::Linear))
                    .unwrap();
            }),
        ),
        (
            vec![
                "lvcreate", "-q", "-an", "-Zn", "-n", "s", "-i2", "-L", "8M", "vga",
            ],
            Box::new(move |vg| {
                vg.create_lv(LvRequest::new(
                    "s",
                    mb(8),
                    Layout::Striped {
                        stripes: 2,
                        stripe_size: Sectors(128),
                    },
                ))
                .unwrap();
            }),
        ),
        (
            vec![
                "lvcreate", "-q", "-an", "-Zn", "-n", "t", "-i3", "-I64k", "-L", "12M", "vga",
            ],
            Box::new(move |vg| {
                vg.create_lv(LvRequest::new(
                    "t",
                    mb(12),
                    Layout::Striped {
                        stripes: 3,
                        stripe_size: Sectors(128),
                    },
                ))
                .unwrap();
            }),
        ),
        (
            vec!["lvcreate", "-q", "-an", "-Zn", "-n", "b", "-L", "4M", "vga"],
            Box::new(move |vg| {
                vg.create_lv(LvRequest::new("b", mb(4), Layout::Linear))
                    .unwrap();
            }),
        ),
        (
            vec!["lvextend", "-q", "-L", "+4M", "vga/a"],
            Box::new(move |vg| vg.extend_lv("a", mb(4), None).unwrap()),
        ),
        (
            vec!["lvextend", "-q", "-L", "+4M", "vga/b"],
            Box::new(move |vg| vg.extend_lv("b", mb(4), None).unwrap()),
        ),
        (
            vec!["lvreduce", "-q", "-f", "-L", "-4M", "vga/a"],
            Box::new(move |vg| vg.reduce_lv("a", mb(4)).unwrap()),
        ),
        (
            vec!["lvremove", "-q", "-f", "vga/s"],
            Box::new(move |vg| {
                vg.remove_lv("s").unwrap();
            }),
        ),
        (
            vec![
                "lvcreate", "-q", "-an", "-Zn", "-n", "c", "-L", "20M", "vga",
            ],
            Box::new(move |vg| {
                vg.create_lv(LvRequest::new("c", mb(20), Layout::Linear))
                    .unwrap();
            }),
        ),
        (
            vec!["lvrename", "-q", "vga", "c", "d"],
            Box::new(move |vg| vg.rename_lv("c", "d").unwrap()),
        ),
        (
            vec!["lvextend", "-q", "-L", "+12M", "vga/t"],
            Box::new(move |vg| vg.extend_lv("t", mb(12), None).unwrap()),
        ),
        (
            vec!["lvextend", "-q", "-L", "+60M", "vga/d"],
            Box::new(move |vg| vg.extend_lv("d", mb(60), None).unwrap()),
        ),
        (
            vec![
                "lvcreate", "-q", "-an", "-Zn", "-n", "e", "-i2", "-L", "16M", "vga",
            ],
            Box::new(move |vg| {
                vg.create_lv(LvRequest::new(
                    "e",
                    mb(16),
                    Layout::Striped {
                        stripes: 2,
                        stripe_size: Sectors(128),
                    },
                ))
                .unwrap();
            }),
        ),
        (
            vec![
                "lvcreate", "-q", "-an", "-Zn", "-n", "f", "-L", "8M", "vga", &d2_,
            ],
            Box::new(move |vg| {
                let mut r = LvRequest::new("f", mb(8), Layout::Linear);
                r.alloc.pvs = Some(vec![d2c.clone()]);
                vg.create_lv(r).unwrap();
            }),
        ),
    ];
    // Fragment the free space, then fill holes: lvm2's area choice and splitting.
    type OwnedStep = (Vec<String>, Box<dyn Fn(&mut VolumeGroup)>);
    let mut steps: Vec<OwnedStep> = steps
        .into_iter()
        .map(|(c, f)| (c.into_iter().map(String::from).collect(), f))
        .collect();
    let create = |name: &'static str, mib: u64| -> OwnedStep {
        let cmd = format!("lvcreate -q -an -Zn -n {name} -L {mib}M vga");
        (
            cmd.split(' ').map(String::from).collect(),
            Box::new(move |vg: &mut VolumeGroup| {
                vg.create_lv(LvRequest::new(name, mb(mib), Layout::Linear))
                    .unwrap();
            }),
        )
    };
    for (name, mib) in [("g", 4), ("h", 8), ("i", 4), ("j", 12), ("k", 8)] {
        steps.push(create(name, mib));
    }
    for name in ["h", "j"] {
        let cmd = format!("lvremove -q -f vga/{name}");
        steps.push((
            cmd.split(' ').map(String::from).collect(),
            Box::new(move |vg: &mut VolumeGroup| {
                vg.remove_lv(name).unwrap();
            }),
        ));
    }
    steps.push(create("m", 4));
    steps.push(create("n", 12));
    for (cmd, ours_step) in steps {
        lab.lvm(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
        ours_step(&mut ours);
        let theirs = VolumeGroup::from_metadata(&parse(&lab.mda_text(0)).unwrap()).unwrap();
        assert_eq!(layout_of(&ours), layout_of(&theirs), "after {cmd:?}");
    }
}

#[test]
fn root_lvm2_restores_and_rewrites_our_raid1_and_mirror_unchanged() {
    let lab = Lvm2Lab::new(3, 64);
    let (d0, d1, d2) = (lab.dev(0), lab.dev(1), lab.dev(2));
    lab.lvm(&["pvcreate", "-q", &d0, &d1, &d2]);
    lab.lvm(&["vgcreate", "-q", "vgm", &d0, &d1, &d2]);
    lab.lvm(&[
        "lvcreate", "-q", "-an", "-Zn", "-n", "lin", "-L", "4M", "vgm",
    ]);
    let backup = lab.backup("vgm");
    let doc = parse(&backup).unwrap();
    let mut vg = VolumeGroup::from_metadata(&doc).unwrap();
    let host = hostname();
    let req = |name: &str, size, layout| {
        let mut r = LvRequest::new(name, Extents(size), layout);
        r.alloc.creation_time = Some(1_795_306_593);
        r.alloc.creation_host = Some(host.clone());
        r
    };
    vg.create_lv(req("r1", 3, Layout::Raid1 { mirrors: 1 }))
        .unwrap();
    vg.create_lv(req("r2", 2, Layout::Raid1 { mirrors: 2 }))
        .unwrap();
    vg.create_lv(req(
        "mc",
        2,
        Layout::Mirror {
            mirrors: 1,
            log: MirrorLog::Core,
        },
    ))
    .unwrap();
    vg.create_lv(req(
        "md",
        2,
        Layout::Mirror {
            mirrors: 1,
            log: MirrorLog::Disk,
        },
    ))
    .unwrap();
    vg.create_lv(req(
        "s3",
        3,
        Layout::Striped {
            stripes: 3,
            stripe_size: Sectors(128),
        },
    ))
    .unwrap();
    vg.extend_lv("lin", Extents(2), None).unwrap();
    vg.extend_lv("r1", Extents(1), None).unwrap();
    vg.rename_lv("r2", "r3").unwrap();
    vg.seqno += 1;
    let trailer = Trailer::new("halvm test", &host, 1_795_306_593, None);
    let ours = write_with(&vg.to_backup(&trailer), Style::Backup);
    let f = lab.file("ours.vg");
    std::fs::write(&f, &ours).unwrap();
    lab.lvm(&["vgcfgrestore", "-q", "-f", f.to_str().unwrap(), "vgm"]);
    lab.lvm(&["vgck", "vgm"]);
    // lvm2 wrote the VG to every PV; its VG section is exactly ours (seqno bumped by restore
    // is not: vgcfgrestore keeps the file's seqno + 1).
    let mda = lab.mda_text(1);
    let theirs = VolumeGroup::from_metadata(&parse(&mda).unwrap()).unwrap();
    let mut expect = vg.clone();
    expect.seqno = theirs.seqno;
    assert_eq!(theirs, expect);
    let ours_text = write(&expect.to_metadata(&trailer));
    assert_eq!(vg_part(&mda), vg_part(&ours_text));
    // and lvm2's own text of it goes through the model byte for byte, on every PV
    for i in 0..3 {
        let mda = lab.mda_text(i);
        assert_eq!(through_model(&mda, Style::Metadata), mda, "PV {i}");
    }
    let backup = lab.backup("vgm");
    assert_eq!(through_model(&backup, Style::Backup), backup);
    compare_lvs(&lab, &theirs);
}
