//! What sysfs says about a block device, for the devices lvm2's scan leaves out on a SAN
//! (lib/device/dev-mpath.c, dev-md.c, filter-mpath.c, and `devices/scan_lvs = 0`): a path
//! held by a dm-multipath map (the map is the device to use), a member of an md array, and
//! an LV itself. Also what lvm2's duplicate-PV choice asks (lib/cache/lvmcache.c): is a
//! device in the dm subsystem, in another subsystem (md), or used by an LV.
//! The root is a parameter so tests run on a fake sysfs tree.

use lvmeta_dm::DmBackend;
use lvmeta_model::ids;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a device is not scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A path of dm-multipath map `map` (its holder's dm uuid starts with `mpath-`).
    MultipathComponent { map: String },
    /// A member of md array `array`.
    MdComponent { array: String },
    /// An LV (dm uuid `LVM-...`): lvm2's `scan_lvs = 0`.
    LogicalVolume,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::MultipathComponent { map } => {
                write!(f, "device is a multipath component (of {map})")
            }
            Skip::MdComponent { array } => write!(f, "device is an md component (of {array})"),
            Skip::LogicalVolume => write!(f, "device is an LV (scan_lvs is 0)"),
        }
    }
}

/// A sysfs attribute's text: sysfs hands an attribute (at most a page) over in one read, so
/// one read of a page it is: open, read, close, where `read_to_string` also asks the size
/// and reads again for the end (a scan reads one per holder of each device, and a PV holds
/// every active LV on it).
fn read_attr(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    String::from_utf8(buf[..n].to_vec()).ok()
}

/// Every dm device's name and uuid by minor (its kernel name is `dm-<minor>`).
type DmListing = HashMap<u32, (String, String)>;

/// A sysfs tree (`/sys`, or a fake one in tests), and device-mapper for the dm devices'
/// names and uuids when it lists them (see [`SysBlock::with_dm`]).
#[derive(Clone)]
pub struct SysBlock<'a> {
    root: PathBuf,
    dm: Option<&'a dyn DmBackend>,
    /// What `dm` listed, once, on the first dm attribute asked; None in it: `dm` lists no
    /// uuids (or failed to list), sysfs is read.
    listed: OnceCell<Option<DmListing>>,
}

impl Default for SysBlock<'_> {
    fn default() -> Self {
        SysBlock::new("/sys")
    }
}

impl std::fmt::Debug for SysBlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysBlock")
            .field("root", &self.root)
            .field("dm", &self.dm.is_some())
            .finish()
    }
}

impl<'a> SysBlock<'a> {
    pub fn new(root: impl Into<PathBuf>) -> SysBlock<'a> {
        SysBlock {
            root: root.into(),
            dm: None,
            listed: OnceCell::new(),
        }
    }

    /// Takes the dm devices' names and uuids from one device-mapper listing of them all
    /// (made when first needed), as lvm2's device cache does: a scan asks them for every
    /// holder of every PV, and a PV holds each LV active on it, where sysfs costs an open
    /// and a read for each. A device made since the listing, or a kernel that does not list
    /// uuids, is read in sysfs.
    pub fn with_dm(self, dm: &'a dyn DmBackend) -> SysBlock<'a> {
        SysBlock {
            dm: Some(dm),
            listed: OnceCell::new(),
            ..self
        }
    }

    /// `attr` (`uuid` or `name`) of dm device `name` (`dm-N`) from the listing, as sysfs
    /// spells it (a device without a uuid reads empty).
    fn listed_attr(&self, name: &str, attr: &str) -> Option<String> {
        let listing = self
            .listed
            .get_or_init(|| match self.dm?.listed() {
                Ok(Some(devs)) => {
                    log::debug!(
                        "device-mapper listed {} devices with their uuids",
                        devs.len()
                    );
                    Some(
                        devs.into_iter()
                            .map(|d| (d.dev.minor, (d.name, d.uuid)))
                            .collect(),
                    )
                }
                Ok(None) => {
                    log::debug!("device-mapper lists no uuids here: reading them in sysfs");
                    None
                }
                Err(e) => {
                    log::debug!("{e}: reading dm uuids in sysfs");
                    None
                }
            })
            .as_ref()?;
        let minor: u32 = name.strip_prefix("dm-")?.parse().ok()?;
        let (dm_name, uuid) = listing.get(&minor)?;
        match attr {
            "uuid" => Some(uuid.clone()),
            "name" => Some(dm_name.clone()),
            _ => None,
        }
    }

    fn block(&self, name: &str) -> PathBuf {
        self.root.join("class/block").join(name)
    }

    /// The kernel name (`vdb`, `dm-0`, `vdb1`) of the device `major:minor`.
    pub fn name_of(&self, major: u32, minor: u32) -> Option<String> {
        let link = std::fs::read_link(self.root.join(format!("dev/block/{major}:{minor}"))).ok()?;
        Some(link.file_name()?.to_str()?.to_string())
    }

    /// The kernel name of the block device node at `path`; None for files and non-devices.
    pub fn name_of_path(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let m = std::fs::metadata(path).ok()?;
        if !m.file_type().is_block_device() {
            return None;
        }
        let rdev = m.rdev();
        self.name_of(
            nix::sys::stat::major(rdev) as u32,
            nix::sys::stat::minor(rdev) as u32,
        )
    }

    /// A dm device's uuid (`mpath-...`, `LVM-...`); None for other devices.
    pub fn dm_uuid(&self, name: &str) -> Option<String> {
        let s = self.dm_attr(name, "uuid")?;
        Some(s.trim().to_string())
    }

    /// A dm device's name (`/dev/mapper/<name>`).
    pub fn dm_name(&self, name: &str) -> Option<String> {
        let s = self.dm_attr(name, "name")?;
        Some(s.trim().to_string()).filter(|s| !s.is_empty())
    }

    /// `dm/<attr>` of device `name`: device-mapper's listing says it when there is one
    /// ([`SysBlock::with_dm`]). Else a dm device (`dm-N`) lives under
    /// `devices/virtual/block`: read there, the kernel resolves no `class/block` symlink
    /// (kernfs builds a link's target text on every lookup). A scan reads one per holder of
    /// each PV, and a PV holds every LV active on it.
    fn dm_attr(&self, name: &str, attr: &str) -> Option<String> {
        if name.starts_with("dm-") && !name.contains('/') {
            if let Some(s) = self.listed_attr(name, attr) {
                return Some(s);
            }
            let direct = self
                .root
                .join("devices/virtual/block")
                .join(name)
                .join("dm")
                .join(attr);
            if let Some(s) = read_attr(&direct) {
                return Some(s);
            }
        }
        read_attr(&self.block(name).join("dm").join(attr))
    }

    /// The devices stacked on `name` (`holders/`), sorted.
    pub fn holders(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.block(name).join("holders"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        v.sort();
        v
    }

    /// The whole disk of a partition (`vdb` for `vdb1`); None for a whole disk.
    pub fn parent(&self, name: &str) -> Option<String> {
        let dir = self.block(name);
        if !dir.join("partition").exists() {
            return None;
        }
        let real = std::fs::canonicalize(&dir).ok()?;
        Some(real.parent()?.file_name()?.to_str()?.to_string())
    }

    /// Why lvm2 would not scan device `name`; None: scan it.
    pub fn skip(&self, name: &str) -> Option<Skip> {
        if self.dm_uuid(name).is_some_and(|u| ids::is_lvm_uuid(&u)) {
            return Some(Skip::LogicalVolume);
        }
        // A partition of a multipath path or md member is one too (dev-mpath.c looks at the
        // whole disk).
        let mut names = vec![name.to_string()];
        names.extend(self.parent(name));
        for n in &names {
            for h in self.holders(n) {
                if self.dm_uuid(&h).is_some_and(|u| u.starts_with("mpath-")) {
                    let map = self.dm_name(&h).unwrap_or(h);
                    return Some(Skip::MultipathComponent { map });
                }
                if h.starts_with("md") {
                    return Some(Skip::MdComponent { array: h });
                }
            }
        }
        None
    }

    /// A device of the dm subsystem (`dm-N`).
    pub fn is_dm(&self, name: &str) -> bool {
        self.block(name).join("dm").is_dir()
    }

    /// A device of another subsystem lvm2 prefers (md arrays).
    pub fn in_subsystem(&self, name: &str) -> bool {
        self.block(name).join("md").is_dir()
    }

    /// An LV is stacked on the device (a holder whose dm uuid starts `LVM-`).
    pub fn used_by_lv(&self, name: &str) -> bool {
        self.holders(name)
            .iter()
            .any(|h| self.dm_uuid(h).is_some_and(|u| ids::is_lvm_uuid(&u)))
    }
}

/// One device that carries a PV's label, as lvm2's duplicate choice sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DupCandidate {
    pub used_by_lv: bool,
    pub is_dm: bool,
    pub in_subsystem: bool,
}

/// lvm2's `_choose_duplicates` for two devices with one PV UUID, `a` seen first: whether
/// `b` is preferred, and lvm2's reason (the rules this host can answer, in lvm2's order).
pub fn prefer_second(a: &DupCandidate, b: &DupCandidate) -> (bool, &'static str) {
    let rules: [(bool, bool, &'static str); 3] = [
        (a.used_by_lv, b.used_by_lv, "device is used by LV"),
        (a.is_dm, b.is_dm, "device is in dm subsystem"),
        (a.in_subsystem, b.in_subsystem, "device is in subsystem"),
    ];
    for (x, y, reason) in rules {
        if x != y {
            return (y, reason);
        }
    }
    (false, "device was seen first")
}

/// Of the devices of one PV (in scan order), the index lvm2 uses and why.
pub fn choose(cands: &[DupCandidate]) -> (usize, &'static str) {
    let mut best = 0;
    let mut why = "device was seen first";
    for i in 1..cands.len() {
        let (change, reason) = prefer_second(&cands[best], &cands[i]);
        if change {
            best = i;
        }
        why = reason;
    }
    (best, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysfs: `class/block/<name>` directories, dm uuids, holders, partitions.
    struct Fake {
        dir: tempfile::TempDir,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn sys(&self) -> SysBlock<'_> {
            SysBlock::new(self.dir.path())
        }
        fn disk(&self, name: &str) -> PathBuf {
            let real = self.dir.path().join("devices/virtual/block").join(name);
            std::fs::create_dir_all(real.join("holders")).unwrap();
            let class = self.dir.path().join("class/block");
            std::fs::create_dir_all(&class).unwrap();
            let _ = std::os::unix::fs::symlink(&real, class.join(name));
            real
        }
        fn partition(&self, disk: &str, name: &str) {
            let real = self.disk(disk).join(name);
            std::fs::create_dir_all(real.join("holders")).unwrap();
            std::fs::write(real.join("partition"), "1\n").unwrap();
            let class = self.dir.path().join("class/block").join(name);
            std::os::unix::fs::symlink(&real, class).unwrap();
        }
        fn dm(&self, name: &str, dm_name: &str, uuid: &str) {
            let real = self.disk(name);
            std::fs::create_dir_all(real.join("dm")).unwrap();
            std::fs::write(real.join("dm/uuid"), format!("{uuid}\n")).unwrap();
            std::fs::write(real.join("dm/name"), format!("{dm_name}\n")).unwrap();
        }
        fn md(&self, name: &str) {
            let real = self.disk(name);
            std::fs::create_dir_all(real.join("md")).unwrap();
        }
        fn hold(&self, lower: &str, upper: &str) {
            let dir = std::fs::canonicalize(self.dir.path().join("class/block").join(lower))
                .unwrap()
                .join("holders");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(upper), "").unwrap();
        }
    }

    #[test]
    fn multipath_paths_md_members_and_lvs_are_skipped() {
        let f = Fake::new();
        for d in ["vdb", "vdc", "vdd", "vde", "vdf"] {
            f.disk(d);
        }
        f.dm("dm-0", "mp", "mpath-36001405abcdef");
        f.hold("vdb", "dm-0");
        f.hold("vdc", "dm-0");
        f.partition("vdf", "vdf1");
        f.dm("dm-3", "mp2", "mpath-36001405012345");
        f.hold("vdf", "dm-3");
        f.md("md0");
        f.hold("vdd", "md0");
        f.dm(
            "dm-1",
            "vg-lv",
            "LVM-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV",
        );
        f.hold("dm-0", "dm-1");
        f.dm("dm-2", "crypt", "CRYPT-LUKS2-0123");
        let s = f.sys();
        let mp = Skip::MultipathComponent { map: "mp".into() };
        assert_eq!(s.skip("vdb"), Some(mp.clone()));
        assert_eq!(s.skip("vdc"), Some(mp));
        assert_eq!(
            s.skip("vdf1"),
            Some(Skip::MultipathComponent { map: "mp2".into() }),
            "a partition of a path"
        );
        assert_eq!(
            s.skip("vdd"),
            Some(Skip::MdComponent {
                array: "md0".into()
            })
        );
        assert_eq!(s.skip("dm-1"), Some(Skip::LogicalVolume));
        // The map itself (an LV on it or not), other dm devices, md arrays, plain disks: scanned.
        for name in ["dm-0", "dm-2", "md0", "vde"] {
            assert_eq!(s.skip(name), None, "{name}");
        }
        assert_eq!(s.parent("vdf1").as_deref(), Some("vdf"));
        assert_eq!(s.parent("vdf"), None);
        assert!(s.is_dm("dm-0") && !s.is_dm("vdb"));
        assert!(s.in_subsystem("md0") && !s.in_subsystem("vde"));
        assert!(s.used_by_lv("dm-0") && !s.used_by_lv("vdb"));
        assert_eq!(s.dm_name("dm-0").as_deref(), Some("mp"));
        // Nothing there: nothing skipped.
        assert_eq!(SysBlock::new("/nonexistent").skip("vdb"), None);
    }

    /// Device-mapper's listing answers what sysfs would, one listing for all; a device it
    /// does not list (made since) is read in sysfs.
    #[test]
    fn a_dm_listing_answers_as_sysfs_and_sysfs_fills_in() {
        let f = Fake::new();
        for d in ["vdb", "vdc", "vdd"] {
            f.disk(d);
        }
        let lvm = "LVM-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV";
        // dm-0..dm-2, as the in-memory device-mapper numbers them.
        let devs = [
            ("mp", "mpath-3600a"),
            ("vg-lv", lvm),
            ("crypt", "CRYPT-LUKS2-1"),
        ];
        let mem = lvmeta_dm::mem::MemDm::new([]);
        for (i, (name, uuid)) in devs.iter().enumerate() {
            f.dm(&format!("dm-{i}"), name, uuid);
            assert_eq!(mem.create(name, uuid).unwrap().minor, i as u32);
        }
        f.hold("vdb", "dm-0");
        f.hold("vdc", "dm-1");
        f.hold("vdc", "dm-2");
        // Made after the listing: sysfs only.
        f.dm("dm-7", "late", "mpath-late");
        f.hold("vdd", "dm-7");
        let plain = f.sys();
        let listed = f.sys().with_dm(&mem);
        for name in ["vdb", "vdc", "vdd", "dm-0", "dm-1", "dm-2", "dm-7"] {
            assert_eq!(listed.skip(name), plain.skip(name), "{name}");
            assert_eq!(listed.used_by_lv(name), plain.used_by_lv(name), "{name}");
            assert_eq!(listed.dm_name(name), plain.dm_name(name), "{name}");
        }
        assert_eq!(
            listed.skip("vdd"),
            Some(Skip::MultipathComponent { map: "late".into() })
        );
        // The listing is what is read: sysfs saying otherwise does not count.
        std::fs::write(
            f.dir.path().join("devices/virtual/block/dm-2/dm/uuid"),
            "mpath-changed\n",
        )
        .unwrap();
        assert_eq!(
            plain.skip("vdc"),
            Some(Skip::MultipathComponent {
                map: "crypt".into()
            })
        );
        assert_eq!(f.sys().with_dm(&mem).skip("vdc"), None);
    }

    #[test]
    fn duplicates_prefer_as_lvm2() {
        let plain = DupCandidate::default();
        let dm = DupCandidate {
            is_dm: true,
            ..Default::default()
        };
        let md = DupCandidate {
            in_subsystem: true,
            ..Default::default()
        };
        let lv = DupCandidate {
            used_by_lv: true,
            ..Default::default()
        };
        assert_eq!(
            choose(&[plain.clone(), dm.clone()]),
            (1, "device is in dm subsystem")
        );
        assert_eq!(
            choose(&[dm.clone(), plain.clone()]),
            (0, "device is in dm subsystem")
        );
        assert_eq!(
            choose(&[plain.clone(), md.clone()]),
            (1, "device is in subsystem")
        );
        assert_eq!(
            choose(&[dm.clone(), lv.clone()]),
            (1, "device is used by LV")
        );
        assert_eq!(
            choose(&[plain.clone(), plain.clone()]),
            (0, "device was seen first")
        );
        assert_eq!(
            choose(&[plain.clone(), plain, dm]),
            (2, "device is in dm subsystem")
        );
    }
}
