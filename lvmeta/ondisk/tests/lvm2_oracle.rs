//! Both directions against stock lvm2 on loop devices (root tier): lvm2 writes, we read;
//! we write, lvm2 reads; and our `format_pv` bytes equal `pvcreate`'s.
//! Recipe from DESIGN.md: a private LVM_SYSTEM_DIR whose lvm.conf accepts only the test's
//! loop devices, activation off, udev off.

use halvm_testkit::{require_root, require_tool, LoopDevice};
use lvmeta_ondisk::dev::{BlockDev, FileDev};
use lvmeta_ondisk::label::{find_label, read_label, write_label, DiskLocn, PV_EXT_USED};
use lvmeta_ondisk::mda::{read_mda, read_mda_header};
use lvmeta_ondisk::pv::{format_pv, FormatOptions};
use lvmeta_ondisk::store::{read_copies, read_newest, text_seqno, Area, MetadataStore};
use lvmeta_ondisk::Bytes;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private lvm2 environment over fresh loop devices; everything is removed on drop.
struct Lvm {
    dir: PathBuf,
    loops: Vec<LoopDevice>,
}

impl Lvm {
    fn new(devices: usize, mib: u64) -> Lvm {
        require_root();
        require_tool("lvm", "lvm2");
        require_tool("losetup", "mount");
        let dir = std::env::temp_dir().join(format!(
            "ondisk-lvm2-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create test dir");
        let mut lvm = Lvm {
            dir,
            loops: Vec::new(),
        };
        for i in 0..devices {
            lvm.loops
                .push(LoopDevice::new(&lvm.dir, &format!("disk{i}.img"), mib));
        }
        let sys = lvm.dir.join("etc");
        for sub in ["backup", "archive", "lock", "run"] {
            std::fs::create_dir_all(sys.join(sub)).expect("create lvm dirs");
        }
        let accept: Vec<String> = lvm
            .loops
            .iter()
            .map(|l| format!("\"a|^{}$|\"", l.path().display()))
            .collect();
        let conf = format!(
            "devices {{\n filter = [{}, \"r|.*|\"]\n global_filter = [{}, \"r|.*|\"]\n use_devicesfile = 0\n obtain_device_list_from_udev = 0\n}}\n\
             global {{\n activation = 0\n locking_dir = \"{lock}\"\n use_lvmlockd = 0\n}}\n\
             activation {{\n udev_sync = 0\n udev_rules = 0\n monitoring = 0\n}}\n\
             backup {{\n backup = 0\n archive = 0\n backup_dir = \"{b}\"\n archive_dir = \"{a}\"\n}}\n",
            accept.join(", "),
            accept.join(", "),
            lock = sys.join("lock").display(),
            b = sys.join("backup").display(),
            a = sys.join("archive").display(),
        );
        std::fs::write(sys.join("lvm.conf"), conf).expect("write lvm.conf");
        lvm
    }

    fn dev(&self, i: usize) -> &Path {
        self.loops[i].path()
    }

    /// Runs an lvm2 command; returns stdout; panics with stderr on failure.
    fn run(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.try_run(args);
        assert!(ok, "lvm {args:?} failed:\n{err}");
        out
    }

    fn try_run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("lvm")
            .args(args)
            .env("LVM_SYSTEM_DIR", self.dir.join("etc"))
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .env("DM_DISABLE_UDEV", "1")
            .output()
            .expect("run lvm");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `pvck --dump metadata -f FILE`: lvm2's own reading of the committed text.
    fn pvck_dump_metadata(&self, i: usize) -> String {
        let file = self.dir.join(format!("dump{i}.txt"));
        let _ = std::fs::remove_file(&file);
        let dev = self.dev(i).to_str().unwrap().to_owned();
        self.run(&[
            "pvck",
            "--dump",
            "metadata",
            "-f",
            file.to_str().unwrap(),
            &dev,
        ]);
        std::fs::read_to_string(&file).expect("read pvck dump")
    }

    /// `pvck --dump headers` as key -> value.
    fn pvck_headers(&self, i: usize) -> Vec<(String, String)> {
        let dev = self.dev(i).to_str().unwrap().to_owned();
        self.run(&["pvck", "--dump", "headers", &dev])
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let k = it.next()?;
                let v = it.next()?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
    }

    /// A report (`pvs`, `vgs`, `lvs`) as JSON rows of its first table.
    fn report(&self, cmd: &str, fields: &str) -> Vec<serde_json::Value> {
        let (ok, out, err) = self.try_run(&[
            cmd,
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            fields,
        ]);
        assert!(ok, "lvm {cmd} failed:\n{err}");
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("lvm {cmd} json ({e}):\n{out}\n{err}"));
        let report = &v["report"][0];
        let key = report
            .as_object()
            .expect("report object")
            .keys()
            .next()
            .expect("one table")
            .clone();
        report[key].as_array().expect("rows").clone()
    }

    fn filedev(&self, i: usize) -> Arc<dyn BlockDev> {
        Arc::new(FileDev::open(self.dev(i)).expect("open loop device"))
    }
}

impl Drop for Lvm {
    fn drop(&mut self) {
        self.loops.clear(); // detaches the loop devices
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn header_value<'a>(h: &'a [(String, String)], key: &str) -> &'a str {
    h.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("pvck headers lack {key}: {h:?}"))
}

fn hex(v: &str) -> u32 {
    u32::from_str_radix(v.trim_start_matches("0x"), 16).expect("hex")
}

/// Our reading of everything lvm2 wrote equals lvm2's own reading.
fn assert_we_read_what_lvm2_reads(lvm: &Lvm, i: usize) -> Area {
    let d = lvm.filedev(i);
    let label = read_label(d.as_ref())
        .unwrap()
        .expect("label written by pvcreate");
    let h = lvm.pvck_headers(i);
    assert_eq!(label.pv_uuid, header_value(&h, "pv_header.pv_uuid"));
    assert_eq!(
        label.device_size.0.to_string(),
        header_value(&h, "pv_header.device_size")
    );
    let area = label.metadata_areas[0];
    let sector = {
        let mut b = [0u8; 512];
        d.read_at(Bytes(512), &mut b).unwrap();
        b
    };
    assert_eq!(
        u32::from_le_bytes(sector[16..20].try_into().unwrap()),
        hex(header_value(&h, "label_header.crc"))
    );
    let c = read_mda(d.as_ref(), area).unwrap();
    assert_eq!(
        c.header.size.0.to_string(),
        header_value(&h, "mda_header_1.size")
    );
    let committed = c.committed.expect("committed text");
    assert_eq!(
        committed.locn.offset.0.to_string(),
        header_value(&h, "mda_header_1.raw_locn[0].offset")
    );
    assert_eq!(
        committed.locn.size.0.to_string(),
        header_value(&h, "mda_header_1.raw_locn[0].size")
    );
    assert_eq!(
        committed.locn.checksum,
        hex(header_value(&h, "mda_header_1.raw_locn[0].checksum"))
    );
    assert_eq!(committed.text, lvm.pvck_dump_metadata(i));
    (d, area)
}

#[test]
fn root_lvm2_written_vg_reads_identically() {
    let lvm = Lvm::new(2, 64);
    let (a, b) = (
        lvm.dev(0).to_str().unwrap().to_owned(),
        lvm.dev(1).to_str().unwrap().to_owned(),
    );
    lvm.run(&["pvcreate", &a]);
    // The second PV carries two metadata areas (the second at the end of the device).
    lvm.run(&["pvcreate", "--pvmetadatacopies", "2", &b]);
    lvm.run(&["vgcreate", "vgread", &a, &b]);
    lvm.run(&["lvcreate", "-an", "-Zn", "-L", "8m", "-n", "lin", "vgread"]);
    lvm.run(&[
        "lvcreate", "-an", "-Zn", "-i2", "-L", "8m", "-n", "str", "vgread",
    ]);
    let areas = vec![
        assert_we_read_what_lvm2_reads(&lvm, 0),
        assert_we_read_what_lvm2_reads(&lvm, 1),
    ];
    let seqno = lvm.report("vgs", "vg_name,seqno")[0]["vg_seqno"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let mut areas = areas;
    let second = read_label(areas[1].0.as_ref())
        .unwrap()
        .unwrap()
        .metadata_areas;
    assert_eq!(second.len(), 2, "pvmetadatacopies 2 gives two areas");
    assert_eq!(second[1].offset.0 + second[1].size.0, 64 << 20);
    areas.push((Arc::clone(&areas[1].0), second[1]));
    let newest = read_newest(&areas).unwrap();
    assert_eq!(text_seqno(&newest.text), Some(seqno));
    let copies = read_copies(&areas);
    assert_eq!(copies.len(), 3);
    for r in copies {
        assert_eq!(r.result.unwrap().text, newest.text);
    }
    // The label extension says "used" once the PV is in a VG.
    let l = read_label(areas[0].0.as_ref()).unwrap().unwrap();
    assert_eq!(l.extension.unwrap().flags & PV_EXT_USED, PV_EXT_USED);
}

#[test]
fn root_lvm2_wrapped_buffer_reads_identically() {
    let lvm = Lvm::new(1, 64);
    let a = lvm.dev(0).to_str().unwrap().to_owned();
    // A small area (64 KiB alignment -> 124 KiB area) so the circular buffer wraps quickly.
    lvm.run(&[
        "pvcreate",
        "--metadatasize",
        "64k",
        "--dataalignment",
        "64k",
        &a,
    ]);
    lvm.run(&["vgcreate", "-s", "64k", "vgwrap", &a]);
    let d = lvm.filedev(0);
    let area = read_label(d.as_ref()).unwrap().unwrap().metadata_areas[0];
    assert_eq!(area, DiskLocn::new(4096, 131_072 - 4096));
    let mut wrapped = false;
    let mut offsets = Vec::new();
    for i in 0..200 {
        let name = format!("lv{i}");
        lvm.run(&["lvcreate", "-an", "-Zn", "-l", "1", "-n", &name, "vgwrap"]);
        let h = read_mda_header(d.as_ref(), area).unwrap();
        let l = *h.committed();
        offsets.push(l.offset.0);
        // Every copy starts on a 512-byte boundary inside the buffer.
        assert_eq!(l.offset.0 % 512, 0);
        if l.wrap(h.size) > 0 {
            wrapped = true;
            break;
        }
    }
    assert!(
        wrapped,
        "lvm2 never wrapped the buffer: offsets {offsets:?}"
    );
    assert_we_read_what_lvm2_reads(&lvm, 0);
    // One more update after the wrap: placement restarts right after the wrapped tail.
    lvm.run(&["lvcreate", "-an", "-Zn", "-l", "1", "-n", "after", "vgwrap"]);
    assert_we_read_what_lvm2_reads(&lvm, 0);
}

fn dashed(u: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}-{}-{}",
        &u[0..6],
        &u[6..10],
        &u[10..14],
        &u[14..18],
        &u[18..22],
        &u[22..26],
        &u[26..32]
    )
}

/// A minimal valid VG with one PV and one linear LV, as lvm2 itself lays the text out.
fn hand_vg(
    name: &str,
    seqno: u64,
    pv_uuid: &str,
    dev: &Path,
    dev_sectors: u64,
    lvs: &[&str],
) -> String {
    hand_vg_extent(name, seqno, pv_uuid, dev, dev_sectors, lvs, 8192) // 4 MiB extents
}

fn hand_vg_extent(
    name: &str,
    seqno: u64,
    pv_uuid: &str,
    dev: &Path,
    dev_sectors: u64,
    lvs: &[&str],
    extent: u64,
) -> String {
    let pe_start = 2048u64;
    let pe_count = (dev_sectors - pe_start) / extent;
    let mut lv_text = String::new();
    for (i, lv) in lvs.iter().enumerate() {
        lv_text.push_str(&format!(
            "\n{lv} {{\nid = \"{}\"\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\nflags = []\n\
             creation_time = 1795306631\ncreation_host = \"halvm\"\nsegment_count = 1\n\n\
             segment1 {{\nstart_extent = 0\nextent_count = 1\n\ntype = \"striped\"\nstripe_count = 1\n\n\
             stripes = [\n\"pv0\", {i}\n]\n}}\n}}\n",
            dashed(&format!("LVLVLVLVLVLVLVLVLVLVLVLVLV{i:06}"))
        ));
    }
    let lv_section = if lvs.is_empty() {
        String::new()
    } else {
        format!("\nlogical_volumes {{\n{lv_text}}}\n")
    };
    format!(
        "{name} {{\nid = \"{vgid}\"\nseqno = {seqno}\nformat = \"lvm2\"\n\
         status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nflags = []\nextent_size = {extent}\n\
         max_lv = 0\nmax_pv = 0\nmetadata_copies = 0\n\nphysical_volumes {{\n\npv0 {{\n\
         id = \"{pvid}\"\ndevice = \"{dev}\"\n\nstatus = [\"ALLOCATABLE\"]\nflags = []\n\
         dev_size = {dev_sectors}\npe_start = {pe_start}\npe_count = {pe_count}\n}}\n}}\n{lv_section}\n}}\n\
         # Generated by lvmeta-ondisk tests\n\ncontents = \"Text Format Volume Group\"\nversion = 1\n\n\
         description = \"hand-written VG\"\n\ncreation_host = \"halvm\"\ncreation_time = 1795306631\n\n",
        vgid = dashed("VGVGVGVGVGVGVGVGVGVGVGVGVGVGVG01"),
        pvid = dashed(pv_uuid),
        dev = dev.display(),
    )
}

#[test]
fn root_our_pv_and_vg_are_accepted_by_lvm2() {
    let lvm = Lvm::new(1, 64);
    let d = lvm.filedev(0);
    let uuid = "HALVMhalvmHALVMhalvmHALVMhalvm01";
    let opts = FormatOptions {
        ext_flags: PV_EXT_USED,
        ..FormatOptions::default()
    };
    let layout = format_pv(d.as_ref(), uuid, &opts).unwrap();
    assert_eq!(layout.pe_start, Bytes(1 << 20));
    let sectors = d.size().unwrap().0 / 512;
    let text = hand_vg("vghand", 1, uuid, lvm.dev(0), sectors, &["lv0", "lv1"]);
    let areas: Vec<Area> = vec![(Arc::clone(&d), layout.mda)];
    MetadataStore::prepare(areas.clone(), &text)
        .unwrap()
        .commit()
        .unwrap();

    let pvs = lvm.report("pvs", "pv_name,vg_name,pv_uuid,pe_start,pv_mda_count");
    assert_eq!(pvs.len(), 1, "{pvs:?}");
    assert_eq!(pvs[0]["vg_name"], "vghand");
    assert_eq!(pvs[0]["pv_uuid"], dashed(uuid));
    assert_eq!(pvs[0]["pv_mda_count"], "1");
    let vgs = lvm.report("vgs", "vg_name,seqno,lv_count,pv_count");
    assert_eq!(vgs[0]["vg_name"], "vghand");
    assert_eq!(vgs[0]["vg_seqno"], "1");
    assert_eq!(vgs[0]["lv_count"], "2");
    let lvs = lvm.report("lvs", "lv_name,seg_pe_ranges");
    assert_eq!(lvs.len(), 2, "{lvs:?}");
    let dev = lvm.dev(0).to_str().unwrap().to_owned();
    let (ok, out, err) = lvm.try_run(&["pvck", &dev]);
    assert!(ok, "pvck rejected our PV:\n{out}\n{err}");
    assert!(
        !err.contains("WARNING") || err.lines().all(|l| l.contains("Activation disabled")),
        "pvck warned:\n{err}"
    );
    lvm.run(&["vgck", "vghand"]);
    assert_eq!(lvm.pvck_dump_metadata(0), text);

    // lvm2 updates our VG; we read its update ...
    lvm.run(&["lvcreate", "-an", "-Zn", "-l", "1", "-n", "bylvm", "vghand"]);
    let (_, area) = assert_we_read_what_lvm2_reads(&lvm, 0);
    assert_eq!(area, layout.mda);
    let now = read_newest(&areas).unwrap();
    assert_eq!(text_seqno(&now.text), Some(2));
    assert!(now.text.contains("bylvm {"));
    // ... and lvm2 reads ours written after its copy (placement continues after it).
    let text3 = hand_vg("vghand", 3, uuid, lvm.dev(0), sectors, &["lv0"]);
    let p = MetadataStore::prepare(areas.clone(), &text3).unwrap();
    let new_locn = p.locations()[0].2;
    let end = now.locn.offset.0 + now.locn.size.0;
    assert_eq!(new_locn.offset.0, end.div_ceil(512) * 512);
    p.commit().unwrap();
    let vgs = lvm.report("vgs", "vg_name,seqno,lv_count");
    assert_eq!(vgs[0]["vg_seqno"], "3");
    assert_eq!(vgs[0]["lv_count"], "1");
    assert_eq!(lvm.pvck_dump_metadata(0), text3);
    lvm.run(&["vgck", "vghand"]);
}

#[test]
fn root_precommitted_copy_is_invisible_to_lvm2_until_commit() {
    let lvm = Lvm::new(1, 64);
    let d = lvm.filedev(0);
    let uuid = "HALVMhalvmHALVMhalvmHALVMhalvm02";
    let opts = FormatOptions {
        ext_flags: PV_EXT_USED,
        ..FormatOptions::default()
    };
    let layout = format_pv(d.as_ref(), uuid, &opts).unwrap();
    let sectors = d.size().unwrap().0 / 512;
    let areas: Vec<Area> = vec![(Arc::clone(&d), layout.mda)];
    let v1 = hand_vg("vgpre", 1, uuid, lvm.dev(0), sectors, &[]);
    MetadataStore::prepare(areas.clone(), &v1)
        .unwrap()
        .commit()
        .unwrap();
    let v2 = hand_vg("vgpre", 2, uuid, lvm.dev(0), sectors, &["lvx"]);
    let p = MetadataStore::prepare(areas.clone(), &v2).unwrap();
    assert_eq!(lvm.report("vgs", "vg_name,seqno")[0]["vg_seqno"], "1");
    p.revert().unwrap();
    assert_eq!(lvm.report("vgs", "vg_name,seqno")[0]["vg_seqno"], "1");
    MetadataStore::prepare(areas, &v2)
        .unwrap()
        .commit()
        .unwrap();
    assert_eq!(lvm.report("vgs", "vg_name,seqno")[0]["vg_seqno"], "2");
}

/// `format_pv` writes the same bytes as `pvcreate` with the same uuid, for the default
/// layout and for `--metadatasize`/`--dataalignment`/`--metadataignore` variants.
#[test]
fn root_format_pv_bytes_equal_pvcreate() {
    let uuid = "Cmp0PnsSdjzo9BpYIOc9fMUxgyhCK9LH";
    let cases: Vec<(Vec<&str>, FormatOptions)> = vec![
        (vec![], FormatOptions::default()),
        (
            vec!["--metadatasize", "4m"],
            FormatOptions {
                metadata_size: Some(Bytes(4 << 20)),
                ..FormatOptions::default()
            },
        ),
        (
            vec!["--metadatasize", "100k", "--dataalignment", "64k"],
            FormatOptions {
                metadata_size: Some(Bytes(100 << 10)),
                data_alignment: Bytes(64 << 10),
                ..FormatOptions::default()
            },
        ),
        (
            vec!["--metadataignore", "y"],
            FormatOptions {
                metadata_ignore: true,
                ..FormatOptions::default()
            },
        ),
    ];
    for (args, opts) in cases {
        let lvm = Lvm::new(2, 64);
        let theirs = lvm.dev(0).to_str().unwrap().to_owned();
        let mut cmd = vec!["pvcreate", "-u", uuid, "--norestorefile"];
        cmd.extend(args.iter().copied());
        cmd.push(&theirs);
        lvm.run(&cmd);
        let theirs_report = lvm.report("pvs", "pv_name,pe_start,pv_mda_size");
        let ours = lvm.filedev(1);
        let layout = format_pv(ours.as_ref(), uuid, &opts).unwrap();
        let theirs_dev = lvm.filedev(0);
        let (sector, label) = find_label(theirs_dev.as_ref()).unwrap().unwrap();
        assert_eq!(sector, 1);
        assert_eq!(label, layout.label, "pvcreate {args:?}");
        // Byte for byte over label sectors and the whole metadata area.
        let len = (layout.mda.offset.0 + layout.mda.size.0) as usize;
        let mut a = vec![0u8; len];
        let mut b = vec![0u8; len];
        theirs_dev.read_at(Bytes(0), &mut a).unwrap();
        ours.read_at(Bytes(0), &mut b).unwrap();
        if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
            panic!(
                "pvcreate {args:?}: first differing byte at {i}: lvm2 {:#x}, ours {:#x}",
                a[i], b[i]
            );
        }
        // Both carry the same uuid; drop lvm2's label (our wipe, as pvremove does) so lvm2
        // sees only ours, and it must report the same layout it reported for its own PV.
        assert!(lvmeta_ondisk::pv::wipe(theirs_dev.as_ref()).unwrap());
        assert_eq!(read_label(theirs_dev.as_ref()).unwrap(), None);
        let ours_report = lvm.report("pvs", "pv_name,pe_start,pv_mda_size");
        assert_eq!(ours_report.len(), 1);
        assert_eq!(ours_report[0]["pv_name"], lvm.dev(1).to_str().unwrap());
        assert_eq!(
            ours_report[0]["pe_start"], theirs_report[0]["pe_start"],
            "pvcreate {args:?}"
        );
        assert_eq!(
            ours_report[0]["pv_mda_size"], theirs_report[0]["pv_mda_size"],
            "pvcreate {args:?}"
        );
        // lvm2 accepts our PV: pvck is clean and vgcreate works on it.
        let ours_path = lvm.dev(1).to_str().unwrap().to_owned();
        lvm.run(&["pvck", &ours_path]);
        if !opts.metadata_ignore {
            lvm.run(&["vgcreate", "vgcmp", &ours_path]);
            let l = read_label(ours.as_ref()).unwrap().unwrap();
            assert_eq!(l.extension.unwrap().flags, PV_EXT_USED);
            assert_we_read_what_lvm2_reads(&lvm, 1);
        }
    }
}

/// Our label writer keeps what lvm2 wrote (round trip through our codec is lossless).
#[test]
fn root_rewriting_lvm2_label_is_lossless() {
    let lvm = Lvm::new(1, 64);
    let a = lvm.dev(0).to_str().unwrap().to_owned();
    lvm.run(&["pvcreate", &a]);
    lvm.run(&["vgcreate", "vgrw", &a]);
    let d = lvm.filedev(0);
    let mut before = vec![0u8; 2048];
    d.read_at(Bytes(0), &mut before).unwrap();
    let l = read_label(d.as_ref()).unwrap().unwrap();
    write_label(d.as_ref(), &l).unwrap();
    let mut after = vec![0u8; 2048];
    d.read_at(Bytes(0), &mut after).unwrap();
    assert!(
        before == after,
        "label bytes changed by a decode/encode round trip"
    );
    lvm.run(&["vgck", "vgrw"]);
}

/// The size limit is lvm2's: lvm2 refuses a too-large VG with the same maximum we compute,
/// and we refuse the same text with `MetadataTooLarge`.
#[test]
fn root_metadata_size_limit_matches_lvm2() {
    let lvm = Lvm::new(1, 64);
    let dev = lvm.dev(0).to_str().unwrap().to_owned();
    let uuid = "HALVMhalvmHALVMhalvmHALVMhalvm03";
    lvm.run(&["pvcreate", "-u", &dashed(uuid), "--norestorefile", &dev]);
    let d = lvm.filedev(0);
    let sectors = d.size().unwrap().0 / 512;
    let area = read_label(d.as_ref()).unwrap().unwrap().metadata_areas[0];
    let names: Vec<String> = (0..2500).map(|i| format!("lv{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // 8 KiB extents: enough extents for one per LV.
    let text = hand_vg_extent("vgbig", 1, uuid, lvm.dev(0), sectors, &refs, 16);
    let file = lvm.dir.join("big.vg");
    std::fs::write(&file, &text).unwrap();
    let (ok, _, err) = lvm.try_run(&["vgcfgrestore", "-f", file.to_str().unwrap(), "vgbig"]);
    assert!(!ok, "lvm2 accepted a VG that should not fit");
    let max: u64 = err
        .split("exceeds maximum metadata size (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size limit in lvm2's error:\n{err}"));
    assert_eq!(max, lvmeta_ondisk::mda::max_text_size(area.size.0));
    assert_eq!(max, 521_472);
    match MetadataStore::prepare(vec![(Arc::clone(&d), area)], &text) {
        Err(lvmeta_ondisk::OnDiskError::MetadataTooLarge { needed, available }) => {
            assert_eq!(available, Bytes(max));
            assert_eq!(needed, Bytes(text.len() as u64 + 1));
        }
        Err(e) => panic!("expected MetadataTooLarge, got {e}"),
        Ok(_) => panic!("expected MetadataTooLarge, prepare succeeded"),
    }
    // A VG well under the limit restores fine through lvm2 and reads back through us.
    let small = hand_vg_extent("vgbig", 1, uuid, lvm.dev(0), sectors, &refs[..100], 16);
    std::fs::write(&file, &small).unwrap();
    lvm.run(&["vgcfgrestore", "-f", file.to_str().unwrap(), "vgbig"]);
    let got = read_newest(&[(Arc::clone(&d), area)]).unwrap();
    let vgs = lvm.report("vgs", "vg_name,lv_count,vg_seqno");
    assert_eq!(vgs[0]["lv_count"], "100");
    // vgcfgrestore bumps the seqno of what it restores.
    assert_eq!(
        text_seqno(&got.text).map(|n| n.to_string()).as_deref(),
        vgs[0]["vg_seqno"].as_str()
    );
    assert_eq!(got.text, lvm.pvck_dump_metadata(0));
}
