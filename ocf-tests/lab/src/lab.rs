//! The lab: boots the nodes, forms the cluster, injects faults, and tears everything down on
//! drop (qemu processes by PID, the network namespace with its bridges and taps, the lab dir).

use crate::client::{AgentAddr, Output, RunOpts};
use crate::error::{LabError, Result};
use crate::guest;
use crate::host::{cluster_tap, control_tap, NetNs, CLUSTER_BRIDGE, CONTROL_NET};
use crate::kernel::{build_initramfs, default_cache_dir, ensure_kernel, Kernel};
use crate::proto::POWER_PORT;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to build. `Default` is two nodes with corosync and DLM, no Pacemaker, one shared disk.
#[derive(Debug, Clone)]
pub struct LabConfig {
    pub nodes: usize,
    /// Start corosync and dlm_controld (off: bare VMs).
    pub cluster: bool,
    /// Also start Pacemaker and configure stonith through `fence_halvm_lab`.
    pub pacemaker: bool,
    /// Wire dlm_controld's fencing to `fence_halvm_lab` (otherwise `enable_fencing=0`).
    pub dlm_fencing: bool,
    /// Shared raw images, seen by every node as `/dev/disk/by-id/virtio-shared<k>`.
    pub shared_disks: usize,
    pub shared_disk_mib: u64,
    /// Paths to each shared disk per node (default 1): more attach the same image again, as
    /// a SAN LUN seen through several paths (`virtio-shared<k>-p<j>` for path j > 0), for
    /// dm-multipath tests.
    pub shared_disk_paths: usize,
    /// Private disks per node, `/dev/disk/by-id/virtio-<node>-d<k>`.
    pub private_disks: usize,
    pub private_disk_mib: u64,
    pub memory_mib: u32,
    /// Kernel cache (default `/var/cache/halvm-lab`, or `$HALVM_LAB_CACHE`).
    pub cache_dir: PathBuf,
    /// Parent of the per-lab directory (images, console logs, helper binaries).
    pub work_root: PathBuf,
    pub boot_timeout: Duration,
    pub cluster_timeout: Duration,
    /// A corosync.conf for every node instead of [`guest::corosync_conf`]; the lab also gives
    /// the nodes one fresh `/etc/corosync/authkey` for its crypto.
    pub corosync_conf: Option<String>,
    /// `(node, disk)` pairs: shared disk `disk` (`shared<k>` or `shared<k>-p<j>`, the serial)
    /// is not attached to `node` at boot, as a LUN not zoned to that host; [`Lab::plug`]
    /// attaches it later.
    pub unplugged: Vec<(String, String)>,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            nodes: 2,
            cluster: true,
            pacemaker: false,
            dlm_fencing: true,
            shared_disks: 1,
            shared_disk_mib: 256,
            shared_disk_paths: 1,
            private_disks: 1,
            private_disk_mib: 128,
            memory_mib: 768,
            cache_dir: default_cache_dir(),
            work_root: PathBuf::from("/var/tmp/halvm-lab"),
            boot_timeout: Duration::from_secs(120),
            cluster_timeout: Duration::from_secs(180),
            corosync_conf: None,
            unplugged: Vec::new(),
        }
    }
}

/// Milestones measured from the start of `Lab::start`.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub agents_up: Option<Duration>,
    pub quorate: Option<Duration>,
    pub dlm_ready: Option<Duration>,
    pub pacemaker_ready: Option<Duration>,
}

/// One request the power service received (from a fence agent or the CLI).
#[derive(Debug, Clone)]
pub struct PowerEvent {
    pub action: String,
    pub node: String,
    pub at: Instant,
}

struct NodeSlot {
    name: String,
    index: usize,
    child: Mutex<Option<Child>>,
    partitioned: AtomicBool,
    /// Lost power while a cluster member and not yet fenced: the survivors will fence it, so a
    /// restart must wait for that or the fence would hit the freshly booted node.
    unfenced: AtomicBool,
    /// Shared disks (by serial) not attached to this node: left out at boot, hot-unplugged.
    detached: Mutex<std::collections::BTreeSet<String>>,
    /// Shared disks hot-plugged into the running QEMU, with their block node's name (removed
    /// with `blockdev-del` after an unplug; a boot-time `-drive` goes away with its device).
    hotplugged: Mutex<std::collections::BTreeMap<String, String>>,
}

struct Inner {
    cfg: LabConfig,
    name: String,
    dir: PathBuf,
    kernel: Kernel,
    netns: Mutex<NetNs>,
    nodes: Vec<NodeSlot>,
    events: Mutex<Vec<PowerEvent>>,
    stop: AtomicBool,
    /// Makes every hot-plugged block node's name unique in its QEMU.
    plugs: AtomicUsize,
}

/// A running lab. Dropping it tears everything down.
pub struct Lab {
    inner: Arc<Inner>,
    server: Option<std::thread::JoinHandle<()>>,
    started: Instant,
    timings: Timings,
}

/// A node of the lab, for running commands in it.
pub struct Node<'a> {
    lab: &'a Lab,
    name: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn require_tool(name: &str, package: &str) -> Result<()> {
    let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(name).exists());
    if found {
        Ok(())
    } else {
        Err(LabError::Prerequisite {
            what: format!("`{name}`"),
            hint: format!("Debian package {package}; run scripts/install-deps"),
        })
    }
}

/// The host tools every lab runs, and those of a cluster and of Pacemaker: (tool, package).
const HOST_TOOLS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("busybox", "busybox-static"),
    ("ip", "iproute2"),
    ("modprobe", "kmod"),
    ("depmod", "kmod"),
    ("dpkg-deb", "dpkg"),
    ("apt-get", "apt"),
];
const CLUSTER_TOOLS: &[(&str, &str)] = &[
    ("corosync", "corosync"),
    ("corosync-quorumtool", "corosync"),
    ("dlm_controld", "dlm-controld"),
    ("dlm_tool", "dlm-controld"),
];
const PACEMAKER_TOOLS: &[(&str, &str)] = &[
    ("pacemakerd", "pacemaker"),
    ("cibadmin", "pacemaker-cli-utils"),
    ("crm_mon", "pacemaker-cli-utils"),
];

fn check_prerequisites(cfg: &LabConfig) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::Prerequisite {
            what: "root".into(),
            hint: "the lab needs root for network namespaces and taps".into(),
        });
    }
    let when =
        |on: bool, tools: &'static [(&'static str, &'static str)]| if on { tools } else { &[] };
    for &(tool, pkg) in HOST_TOOLS
        .iter()
        .chain(when(cfg.cluster, CLUSTER_TOOLS))
        .chain(when(cfg.pacemaker, PACEMAKER_TOOLS))
    {
        require_tool(tool, pkg)?;
    }
    Ok(())
}

/// Where the helper binaries (agent, fence agent, DLM probe) were built.
pub fn helper_dir() -> Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("HALVM_LAB_BIN_DIR") {
        candidates.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(d) = exe.parent() {
            candidates.push(d.to_path_buf());
            if let Some(p) = d.parent() {
                candidates.push(p.to_path_buf());
            }
        }
    }
    candidates
        .into_iter()
        .find(|d| HELPERS.iter().all(|h| d.join(h).exists()))
        .ok_or_else(|| LabError::Prerequisite {
            what: format!("helper binaries {HELPERS:?}"),
            hint: "run `cargo build -p halvm-lab --bins` or set HALVM_LAB_BIN_DIR".into(),
        })
}

const HELPERS: &[&str] = &["halvm-lab-agent", "fence_halvm_lab", "halvm-dlm-probe"];

/// True when `pid` exists and is not a zombie (a killed owner may linger unreaped).
fn process_alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesised command name.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Removes labs left by processes that died without tearing down (SIGKILL): their qemu
/// processes (by recorded PID), namespaces and directories.
pub fn sweep_stale(work_root: &Path) {
    let Ok(rd) = fs::read_dir(work_root) else {
        return;
    };
    for e in rd.flatten() {
        let dir = e.path();
        let owner = fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let alive = owner.is_some_and(process_alive);
        if alive {
            continue;
        }
        if let Ok(files) = fs::read_dir(&dir) {
            for f in files.flatten() {
                let n = f.file_name().to_string_lossy().to_string();
                if n.ends_with(".qemu.pid") {
                    if let Some(pid) = fs::read_to_string(f.path())
                        .ok()
                        .and_then(|s| s.trim().parse::<i32>().ok())
                    {
                        let is_qemu = fs::read_to_string(format!("/proc/{pid}/comm"))
                            .is_ok_and(|c| c.starts_with("qemu"));
                        if is_qemu {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid),
                                nix::sys::signal::Signal::SIGKILL,
                            );
                        }
                    }
                }
            }
        }
        if let Ok(ns) = fs::read_to_string(dir.join("netns")) {
            let _ = Command::new("ip")
                .args(["netns", "del", ns.trim()])
                .output();
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

impl Lab {
    /// Boots the nodes and, as configured, forms the corosync/DLM (and Pacemaker) cluster.
    pub fn start(cfg: LabConfig) -> Result<Lab> {
        let started = Instant::now();
        if cfg.nodes == 0 || cfg.nodes > 8 {
            return Err(LabError::Config {
                reason: format!("{} nodes (1 to 8 supported)", cfg.nodes),
            });
        }
        for (n, d) in &cfg.unplugged {
            let known = (1..=cfg.nodes).any(|i| guest::node_name(i) == *n);
            if !known {
                return Err(LabError::UnknownNode { name: n.clone() });
            }
            shared_disk_index(&cfg, d)?;
        }
        check_prerequisites(&cfg)?;
        let helpers = helper_dir()?;
        sweep_stale(&cfg.work_root);
        let kernel = ensure_kernel(&cfg.cache_dir)?;

        let name = format!(
            "hl{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let dir = cfg.work_root.join(&name);
        fs::create_dir_all(dir.join("bin")).map_err(LabError::io("create", &dir))?;
        fs::create_dir_all(dir.join("etc")).map_err(LabError::io("create", &dir))?;
        let w = |p: PathBuf, s: &[u8]| fs::write(&p, s).map_err(LabError::io("write", &p));
        w(
            dir.join("owner.pid"),
            std::process::id().to_string().as_bytes(),
        )?;
        w(dir.join("netns"), name.as_bytes())?;
        let netns = NetNs::create(&name, cfg.nodes);
        let nodes = (1..=cfg.nodes)
            .map(|i| NodeSlot {
                name: guest::node_name(i),
                index: i,
                child: Mutex::new(None),
                partitioned: AtomicBool::new(false),
                unfenced: AtomicBool::new(false),
                detached: Mutex::new(
                    cfg.unplugged
                        .iter()
                        .filter(|(n, _)| *n == guest::node_name(i))
                        .map(|(_, d)| d.clone())
                        .collect(),
                ),
                hotplugged: Mutex::new(Default::default()),
            })
            .collect();
        // From here on, `Lab`'s Drop cleans up whatever was made.
        let mut lab = Lab {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                name: name.clone(),
                dir: dir.clone(),
                kernel: kernel.clone(),
                netns: Mutex::new(NetNs::existing(&name)),
                nodes,
                events: Mutex::new(Vec::new()),
                stop: AtomicBool::new(false),
                plugs: AtomicUsize::new(0),
            }),
            server: None,
            started,
            timings: Timings::default(),
        };
        *lab.inner.netns.lock().expect("netns lock") = netns?;

        // Helpers are copied to a fresh path: rebuilding them later cannot hit running guests.
        for h in HELPERS {
            let (src, dst) = (helpers.join(h), dir.join("bin").join(h));
            fs::copy(&src, &dst).map_err(LabError::io("copy", &src))?;
        }
        let busybox = ["/usr/bin/busybox", "/bin/busybox"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or_else(|| LabError::Prerequisite {
                what: "busybox".into(),
                hint: "busybox-static".into(),
            })?;
        build_initramfs(&kernel, &busybox, &dir.join("initramfs.cpio"))?;
        match &cfg.corosync_conf {
            Some(text) => {
                w(dir.join("etc/corosync.conf"), text.as_bytes())?;
                let mut key = [0u8; 256];
                let urandom = Path::new("/dev/urandom");
                fs::File::open(urandom)
                    .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key))
                    .map_err(LabError::io("read", urandom))?;
                let keyfile = dir.join("etc/authkey");
                w(keyfile.clone(), &key)?;
                fs::set_permissions(
                    &keyfile,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .map_err(LabError::io("chmod", &keyfile))?;
            }
            None => w(
                dir.join("etc/corosync.conf"),
                guest::corosync_conf(cfg.nodes).as_bytes(),
            )?,
        }
        w(
            dir.join("etc/dlm.conf"),
            guest::dlm_conf(cfg.nodes, cfg.dlm_fencing).as_bytes(),
        )?;
        w(dir.join("etc/hosts"), guest::hosts(cfg.nodes).as_bytes())?;
        for i in 1..=cfg.nodes {
            w(
                dir.join(format!("node{i}.init.sh")),
                guest::node_init(
                    i,
                    &dir,
                    &kernel.root,
                    &kernel.version,
                    guest::Stack {
                        cluster: cfg.cluster,
                        pacemaker: cfg.pacemaker,
                    },
                )
                .as_bytes(),
            )?;
            for d in 0..cfg.private_disks {
                sparse(&dir.join(format!("node{i}-d{d}.img")), cfg.private_disk_mib)?;
            }
        }
        for k in 0..cfg.shared_disks {
            sparse(&dir.join(format!("shared{k}.img")), cfg.shared_disk_mib)?;
        }
        lab.server = Some(lab.start_power_service()?);

        for n in &lab.inner.nodes {
            lab.inner.boot(n)?;
        }
        let names = lab.nodes();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        lab.wait_agents(&refs, cfg.boot_timeout)?;
        lab.timings.agents_up = Some(started.elapsed());
        if cfg.cluster {
            lab.timings.quorate = Some(lab.start_stack(&refs)?);
            lab.timings.dlm_ready = Some(started.elapsed());
            if cfg.pacemaker {
                lab.start_pacemaker(&refs)?;
                lab.timings.pacemaker_ready = Some(started.elapsed());
            }
        }
        Ok(lab)
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    pub fn netns(&self) -> String {
        self.inner.name.clone()
    }
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
    pub fn nodes(&self) -> Vec<String> {
        self.inner.nodes.iter().map(|n| n.name.clone()).collect()
    }
    pub fn node(&self, name: &str) -> Node<'_> {
        Node {
            lab: self,
            name: name.to_string(),
        }
    }
    /// Console log of a node (the serial port), appended across restarts.
    pub fn console_log(&self, name: &str) -> PathBuf {
        self.inner.dir.join(format!("{name}.console"))
    }
    /// Stable device path of shared disk `k` inside every node.
    pub fn shared_disk(&self, k: usize) -> String {
        format!("/dev/disk/by-id/virtio-shared{k}")
    }
    /// The host's image file of shared disk `k` (e.g. for a [`crate::sampler::SharedClock`]).
    pub fn shared_image(&self, k: usize) -> PathBuf {
        self.inner.dir.join(format!("shared{k}.img"))
    }
    /// Path `j` (0: [`Lab::shared_disk`]) to shared disk `k` inside every node, with
    /// [`LabConfig::shared_disk_paths`] above `j`.
    pub fn shared_disk_path(&self, k: usize, j: usize) -> String {
        match j {
            0 => self.shared_disk(k),
            _ => format!("/dev/disk/by-id/virtio-shared{k}-p{j}"),
        }
    }
    /// Stable device path of private disk `k` of `node`.
    pub fn private_disk(&self, node: &str, k: usize) -> String {
        format!("/dev/disk/by-id/virtio-{node}-d{k}")
    }
    /// Requests the power service has handled, oldest first.
    pub fn power_events(&self) -> Vec<PowerEvent> {
        self.inner.events.lock().expect("events lock").clone()
    }
    pub fn is_running(&self, name: &str) -> Result<bool> {
        self.inner.slot(name).map(|s| self.inner.running(s))
    }
    pub fn agent(&self, name: &str) -> Result<AgentAddr> {
        let s = self.inner.slot(name)?;
        Ok(self.inner.agent(s))
    }

    /// Resident memory of a node's qemu process in KiB (None when powered off).
    pub fn qemu_rss_kib(&self, name: &str) -> Result<Option<u64>> {
        let slot = self.inner.slot(name)?;
        let pid = slot
            .child
            .lock()
            .expect("child lock")
            .as_ref()
            .map(Child::id);
        Ok(pid.and_then(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        }))
    }

    /// Power off: the qemu process is killed, as if the plug were pulled.
    pub fn kill(&self, name: &str) -> Result<()> {
        self.inner.power_off(self.inner.slot(name)?);
        Ok(())
    }

    /// Power-cycles a node: pulls the plug, waits for the survivors to fence it (when the lab has
    /// fencing), boots it, and for cluster labs waits until it has rejoined (quorate, DLM ready,
    /// Pacemaker online).
    pub fn restart(&self, name: &str) -> Result<()> {
        let slot = self.inner.slot(name)?;
        self.inner.power_off(slot);
        self.wait_fenced(name)?;
        self.inner.boot(slot)?;
        self.wait_agents(&[name], self.inner.cfg.boot_timeout)?;
        if self.inner.cfg.cluster {
            // The node's init starts its stack; wait until it has rejoined.
            let t = self.inner.cfg.cluster_timeout;
            self.wait_quorate(&[name], t)?;
            self.wait_dlm_ready(&[name], t)?;
            if self.inner.cfg.pacemaker {
                self.wait_pacemaker_online(name, &[name], t)?;
            }
        }
        Ok(())
    }

    /// After an unclean power loss, waits until the survivors have fenced `name` (when the lab
    /// has fencing) so that booting it again does not race the fence. Without survivors, or
    /// once fenced, returns at once.
    pub fn wait_fenced(&self, name: &str) -> Result<()> {
        let slot = self.inner.slot(name)?;
        let t = self.inner.cfg.cluster_timeout;
        let deadline = Instant::now() + t;
        while slot.unfenced.load(Ordering::SeqCst) {
            let survivors = self
                .inner
                .nodes
                .iter()
                .any(|n| n.name != name && self.inner.running(n));
            if !survivors {
                break;
            }
            if Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!("fencing of {name}"),
                    secs: t.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }

    /// Cuts the node off the cluster network (the control network stays up).
    pub fn partition(&self, name: &str) -> Result<()> {
        self.inner.partition(self.inner.slot(name)?)
    }

    pub fn heal(&self, name: &str) -> Result<()> {
        self.inner.heal(self.inner.slot(name)?)
    }

    /// Hot-unplugs shared disk `disk` (its serial, `shared<k>` or `shared<k>-p<j>`) from a
    /// node, as a LUN taken away from one host: QEMU's `device_del` makes the guest's ACPI
    /// hotplug driver remove the PCI device (forcibly, even while it is open: device-mapper
    /// tables on it then get I/O errors). Returns once QEMU has deleted the device and the
    /// guest kernel no longer lists it. The disk stays detached across restarts until
    /// [`Lab::plug`]. On a powered-off node it only takes effect at its next boot.
    pub fn unplug(&self, name: &str, disk: &str) -> Result<String> {
        let slot = self.inner.slot(name)?;
        shared_disk_index(&self.inner.cfg, disk)?;
        if !slot
            .detached
            .lock()
            .expect("detached lock")
            .insert(disk.to_string())
        {
            return Err(LabError::DiskState {
                node: name.into(),
                disk: disk.into(),
                state: "unplugged",
            });
        }
        if !self.inner.running(slot) {
            return Ok(format!("{disk} detached from {name} (powered off)"));
        }
        let old = self.guest_disk_name(name, disk);
        let mut q = crate::qmp::Qmp::connect(&self.inner.qmp_socket(slot))?;
        q.execute(&format!(
            r#"{{"execute": "device_del", "arguments": {{"id": {}}}}}"#,
            crate::qmp::json_str(disk)
        ))?;
        q.wait_event(
            &["DEVICE_DELETED", &format!("\"/machine/peripheral/{disk}\"")],
            Duration::from_secs(30),
        )?;
        let node = slot
            .hotplugged
            .lock()
            .expect("hotplugged lock")
            .remove(disk);
        if let Some(node) = node {
            q.blockdev_del(&node)?;
        }
        self.node(name)
            .run_ok(&["sh", "-c", GUEST_DISK_WAIT, "sh", "gone", disk])?;
        Ok(format!(
            "{disk} unplugged from {name}{}",
            old.map(|d| format!(" (was {d})")).unwrap_or_default()
        ))
    }

    /// Hot-plugs a shared disk back into a node (QMP `blockdev-add` + `device_add`, same
    /// serial, so `/dev/disk/by-id/virtio-<disk>` names it again; the kernel name may differ).
    /// Returns once the guest kernel has the disk and its by-id link is made. Also attaches a
    /// disk left out at boot ([`LabConfig::unplugged`]).
    pub fn plug(&self, name: &str, disk: &str) -> Result<String> {
        let slot = self.inner.slot(name)?;
        let k = shared_disk_index(&self.inner.cfg, disk)?;
        let mut detached = slot.detached.lock().expect("detached lock");
        if !detached.contains(disk) {
            return Err(LabError::DiskState {
                node: name.into(),
                disk: disk.into(),
                state: "plugged",
            });
        }
        if !self.inner.running(slot) {
            detached.remove(disk);
            return Ok(format!("{disk} attached to {name} (powered off)"));
        }
        let img = self.shared_image(k);
        let node = format!(
            "hp-{disk}-{}",
            self.inner.plugs.fetch_add(1, Ordering::SeqCst)
        );
        let mut q = crate::qmp::Qmp::connect(&self.inner.qmp_socket(slot))?;
        // cache.direct on the file node is the boot-time `cache=none`; the device's write
        // cache defaults to on, as with `-drive`.
        q.execute(&format!(
            r#"{{"execute": "blockdev-add", "arguments": {{"driver": "raw", "node-name": {}, "file": {{"driver": "file", "filename": {}, "cache": {{"direct": true}}}}}}}}"#,
            crate::qmp::json_str(&node),
            crate::qmp::json_str(&img.to_string_lossy())
        ))?;
        if let Err(e) = q.execute(&format!(
            r#"{{"execute": "device_add", "arguments": {{"driver": "virtio-blk-pci", "id": {d}, "drive": {}, "serial": {d}, "share-rw": true}}}}"#,
            crate::qmp::json_str(&node),
            d = crate::qmp::json_str(disk)
        )) {
            let _ = q.blockdev_del(&node);
            return Err(e);
        }
        detached.remove(disk);
        slot.hotplugged
            .lock()
            .expect("hotplugged lock")
            .insert(disk.to_string(), node);
        drop(detached);
        let dev = self
            .node(name)
            .run_ok(&["sh", "-c", GUEST_DISK_WAIT, "sh", "present", disk])?;
        Ok(format!("{disk} plugged into {name} as {}", dev.trim()))
    }

    /// The guest kernel's name (`vdb`) of the shared disk with this serial, if attached.
    fn guest_disk_name(&self, name: &str, disk: &str) -> Option<String> {
        let link = self
            .node(name)
            .run_ok(&["readlink", &format!("/dev/disk/by-id/virtio-{disk}")])
            .ok()?;
        link.trim().rsplit('/').next().map(str::to_string)
    }

    /// Shared disks (serials) currently detached from a node.
    pub fn unplugged(&self, name: &str) -> Result<Vec<String>> {
        let slot = self.inner.slot(name)?;
        let d = slot.detached.lock().expect("detached lock");
        Ok(d.iter().cloned().collect())
    }

    pub fn copy_to(&self, name: &str, host: &Path, guest: &str) -> Result<()> {
        self.node(name).copy_to(host, guest)
    }

    pub fn copy_from(&self, name: &str, guest: &str, host: &Path) -> Result<()> {
        let data = self.node(name).read_file(guest)?;
        fs::write(host, data).map_err(LabError::io("write", host))
    }

    fn wait_agents(&self, names: &[&str], timeout: Duration) -> Result<()> {
        std::thread::scope(|s| {
            let hs: Vec<_> = names
                .iter()
                .map(|n| s.spawn(move || self.wait_agent(n, timeout)))
                .collect();
            hs.into_iter()
                .try_for_each(|h| h.join().expect("wait thread"))
        })
    }

    fn wait_agent(&self, name: &str, timeout: Duration) -> Result<()> {
        let slot = self.inner.slot(name)?;
        let agent = self.inner.agent(slot);
        let deadline = Instant::now() + timeout;
        loop {
            if agent.ping(Duration::from_secs(5)).is_ok() {
                return Ok(());
            }
            if !self.inner.running(slot) {
                return Err(LabError::NodeDown {
                    node: format!(
                        "{name} (qemu exited during boot; see {})",
                        self.console_log(name).display()
                    ),
                });
            }
            if Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!("agent of {name}"),
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls `argv` on `node` until `ok(output)` holds.
    pub fn wait_for(
        &self,
        node: &str,
        argv: &[&str],
        what: &str,
        timeout: Duration,
        ok: impl Fn(&Output) -> bool,
    ) -> Result<Output> {
        let deadline = Instant::now() + timeout;
        loop {
            let opts = RunOpts {
                timeout: Duration::from_secs(30),
                ..RunOpts::default()
            };
            if let Ok(out) = self.node(node).run_with(argv, &opts) {
                if ok(&out) {
                    return Ok(out);
                }
            }
            if Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!("{what} on {node}"),
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Waits until corosync on every named node reports quorum.
    pub fn wait_quorate(&self, names: &[&str], timeout: Duration) -> Result<()> {
        self.each(names, |n| {
            self.wait_for(n, &["corosync-quorumtool", "-s"], "quorum", timeout, |o| {
                o.stdout_str()
                    .lines()
                    .any(|l| l.starts_with("Quorate:") && l.contains("Yes"))
            })
            .map(|_| ())
        })
    }

    /// Waits until corosync on `observer` sees exactly `members` nodes.
    pub fn wait_members(&self, observer: &str, members: usize, timeout: Duration) -> Result<()> {
        self.wait_for(
            observer,
            &["corosync-quorumtool", "-s", "-p"],
            &format!("{members} members"),
            timeout,
            |o| {
                o.stdout_str().lines().any(|l| {
                    l.split_once(':').is_some_and(|(k, v)| {
                        k.trim() == "Nodes" && v.trim() == members.to_string()
                    })
                })
            },
        )
        .map(|_| ())
    }

    /// Waits until dlm_controld on every named node is up and quorate (`dlm_tool status`).
    pub fn wait_dlm_ready(&self, names: &[&str], timeout: Duration) -> Result<()> {
        self.each(names, |n| {
            self.wait_for(
                n,
                &["dlm_tool", "status"],
                "dlm_controld ready",
                timeout,
                |o| o.success() && o.stdout_str().contains("quorate 1"),
            )
            .map(|_| ())
        })
    }

    /// Waits until Pacemaker on `observer` shows every named node online.
    pub fn wait_pacemaker_online(
        &self,
        observer: &str,
        names: &[&str],
        timeout: Duration,
    ) -> Result<()> {
        self.wait_for(
            observer,
            &["crm_mon", "-1", "--output-as=xml"],
            "pacemaker nodes online",
            timeout,
            |o| {
                let x = o.stdout_str();
                o.success()
                    && x.contains("<current_dc present=\"true\"")
                    && names.iter().all(|n| {
                        x.lines().any(|l| {
                            l.contains(&format!("<node name=\"{n}\""))
                                && l.contains("online=\"true\"")
                        })
                    })
            },
        )
        .map(|_| ())
    }

    fn each(&self, names: &[&str], f: impl Fn(&str) -> Result<()> + Sync) -> Result<()> {
        std::thread::scope(|s| {
            let hs: Vec<_> = names
                .iter()
                .map(|n| {
                    let f = &f;
                    s.spawn(move || f(n))
                })
                .collect();
            hs.into_iter()
                .try_for_each(|h| h.join().expect("worker thread"))
        })
    }

    /// Waits for the stack the nodes' init started: quorum, then dlm_controld ready.
    /// Returns when quorum was reached, measured from `Lab::start`.
    fn start_stack(&self, names: &[&str]) -> Result<Duration> {
        let t = self.inner.cfg.cluster_timeout;
        self.wait_quorate(names, t)?;
        let quorate = self.started.elapsed();
        self.wait_dlm_ready(names, t)?;
        Ok(quorate)
    }

    fn start_pacemaker(&self, names: &[&str]) -> Result<()> {
        let t = self.inner.cfg.cluster_timeout;
        self.wait_pacemaker_online(names[0], names, t)?;
        let hosts = self.nodes().join(" ");
        let first = self.node(names[0]);
        first.run_ok(&[
            "crm_attribute",
            "--type",
            "crm_config",
            "--name",
            "stonith-enabled",
            "--update",
            "true",
        ])?;
        first.run_ok(&[
            "crm_attribute",
            "--type",
            "crm_config",
            "--name",
            "stonith-timeout",
            "--update",
            "60s",
        ])?;
        first.run_ok(&[
            "cibadmin", "--create", "--scope", "resources", "--xml-text",
            &format!(
                "<primitive id=\"fence-lab\" class=\"stonith\" type=\"fence_halvm_lab\">\
                 <instance_attributes id=\"fence-lab-ia\">\
                 <nvpair id=\"fence-lab-hosts\" name=\"pcmk_host_list\" value=\"{hosts}\"/>\
                 <nvpair id=\"fence-lab-action\" name=\"pcmk_reboot_action\" value=\"off\"/>\
                 </instance_attributes>\
                 <operations><op id=\"fence-lab-monitor\" name=\"monitor\" interval=\"60s\"/></operations>\
                 </primitive>"
            ),
        ])?;
        Ok(())
    }

    fn start_power_service(&self) -> Result<std::thread::JoinHandle<()>> {
        let addr = SocketAddr::from((control_host_ip(), POWER_PORT));
        let listener = self
            .inner
            .netns
            .lock()
            .expect("netns lock")
            .bind(addr)
            .map_err(LabError::io("bind", format!("{addr}")))?;
        let inner = Arc::clone(&self.inner);
        Ok(std::thread::spawn(move || {
            for conn in listener.incoming() {
                if inner.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let inner = Arc::clone(&inner);
                std::thread::spawn(move || serve_power(&inner, conn, true));
            }
        }))
    }

    /// Handles one text command of the power/control protocol (also used by the CLI's
    /// supervisor): `list`, `status N`, `on N`, `off N`, `reboot N`, `kill N`, `restart N`,
    /// `partition N`, `heal N`, `nodes`.
    pub fn handle_command(&self, line: &str) -> std::result::Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["kill", n] => self.kill(n).map(|_| "ok".into()).map_err(|e| e.to_string()),
            ["restart", n] => self
                .restart(n)
                .map(|_| "ok".into())
                .map_err(|e| e.to_string()),
            ["unplug", n, d] => self.unplug(n, d).map_err(|e| e.to_string()),
            ["plug", n, d] => self.plug(n, d).map_err(|e| e.to_string()),
            _ => self.inner.power_command(line, false),
        }
    }
}

/// Serials of the shared disks' paths with the image index: `shared<k>`, `shared<k>-p<j>`.
fn shared_serials(cfg: &LabConfig) -> Vec<(String, usize)> {
    (0..cfg.shared_disks)
        .flat_map(|k| {
            (0..cfg.shared_disk_paths.max(1)).map(move |j| match j {
                0 => (format!("shared{k}"), k),
                _ => (format!("shared{k}-p{j}"), k),
            })
        })
        .collect()
}

fn shared_disk_index(cfg: &LabConfig, disk: &str) -> Result<usize> {
    shared_serials(cfg)
        .into_iter()
        .find(|(s, _)| s == disk)
        .map(|(_, k)| k)
        .ok_or_else(|| LabError::UnknownDisk { disk: disk.into() })
}

/// Guest script: waits until a virtio disk with serial `$1` is there (`present`) or gone,
/// then makes or removes its by-id link (no udev in the guests); prints the kernel name.
const GUEST_DISK_WAIT: &str = r#"want=$1; serial=$2
i=0
while [ $i -lt 300 ]; do
    dev=
    for b in /sys/block/vd*; do
        [ "$(cat $b/serial 2>/dev/null)" = "$serial" ] && dev=${b##*/}
    done
    if [ "$want" = present ] && [ -n "$dev" ] && [ -b /dev/$dev ]; then
        ln -sf ../../$dev /dev/disk/by-id/virtio-$serial; echo $dev; exit 0
    fi
    if [ "$want" = gone ] && [ -z "$dev" ]; then
        rm -f /dev/disk/by-id/virtio-$serial; exit 0
    fi
    i=$((i+1)); sleep 0.1
done
echo "virtio disk $serial still not $want after 30 s" >&2; exit 1
"#;

fn control_host_ip() -> Ipv4Addr {
    format!("{CONTROL_NET}.1")
        .parse()
        .expect("valid control address")
}

fn serve_power(inner: &Inner, conn: TcpStream, fence_only: bool) {
    let mut w = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut line = String::new();
    if BufReader::new(conn).read_line(&mut line).is_err() {
        return;
    }
    let reply = match inner.power_command(line.trim(), fence_only) {
        Ok(s) => format!("ok {s}\n"),
        Err(e) => format!("err {e}\n"),
    };
    let _ = w.write_all(reply.as_bytes());
}

fn sparse(path: &Path, mib: u64) -> Result<()> {
    let f = fs::File::create(path).map_err(LabError::io("create", path))?;
    f.set_len(mib << 20).map_err(LabError::io("truncate", path))
}

impl Inner {
    fn slot(&self, name: &str) -> Result<&NodeSlot> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| LabError::UnknownNode { name: name.into() })
    }

    fn agent(&self, slot: &NodeSlot) -> AgentAddr {
        AgentAddr {
            node: slot.name.clone(),
            netns: self.name.clone(),
            ip: guest::control_ip(slot.index)
                .parse()
                .expect("valid control address"),
        }
    }

    fn running(&self, slot: &NodeSlot) -> bool {
        let mut c = slot.child.lock().expect("child lock");
        match c.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn qemu_command(&self, slot: &NodeSlot) -> Command {
        let i = slot.index;
        let d = &self.dir;
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, "qemu-system-x86_64"]);
        c.args([
            "-name",
            &slot.name,
            "-accel",
            "tcg,tb-size=256",
            "-cpu",
            "max",
            "-smp",
            "1",
        ]);
        c.args(["-m", &self.cfg.memory_mib.to_string()]);
        c.args([
            "-nodefaults",
            "-no-reboot",
            "-display",
            "none",
            "-no-user-config",
        ]);
        c.arg("-kernel").arg(self.kernel.vmlinuz());
        c.arg("-initrd").arg(d.join("initramfs.cpio"));
        c.arg("-append").arg(format!(
            "console=ttyS0 panic=-1 mitigations=off quiet loglevel=4 halvm.init={}",
            d.join(format!("node{i}.init.sh")).display()
        ));
        c.arg("-chardev").arg(format!(
            "file,id=con,path={},append=on",
            d.join(format!("{}.console", slot.name)).display()
        ));
        c.args(["-serial", "chardev:con"]);
        c.arg("-pidfile")
            .arg(d.join(format!("{}.qemu.pid", slot.name)));
        c.args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ]);
        for k in 0..self.cfg.private_disks {
            let img = d.join(format!("node{i}-d{k}.img"));
            c.arg("-drive").arg(format!(
                "file={},if=none,id=p{k},format=raw,cache=none",
                img.display()
            ));
            c.arg("-device").arg(format!(
                "virtio-blk-pci,drive=p{k},serial={}-d{k}",
                slot.name
            ));
        }
        let detached = slot.detached.lock().expect("detached lock").clone();
        for (serial, k) in shared_serials(&self.cfg) {
            if detached.contains(&serial) {
                continue;
            }
            let img = d.join(format!("shared{k}.img"));
            // The device's id is its serial, so `device_del` can name it.
            c.arg("-drive").arg(format!(
                "file={},if=none,id=drv-{serial},format=raw,cache=none",
                img.display()
            ));
            c.arg("-device").arg(format!(
                "virtio-blk-pci,drive=drv-{serial},serial={serial},id={serial},share-rw=on"
            ));
        }
        c.arg("-qmp").arg(format!(
            "unix:{},server=on,wait=off",
            self.qmp_socket(slot).display()
        ));
        // The cluster network's NIC, then the control network's.
        for (id, tap, mac) in [
            ("nk", cluster_tap(i), guest::cluster_mac(i)),
            ("nc", control_tap(i), guest::control_mac(i)),
        ] {
            c.arg("-netdev")
                .arg(format!("tap,id={id},ifname={tap},script=no,downscript=no"));
            c.arg("-device")
                .arg(format!("virtio-net-pci,netdev={id},mac={mac}"));
        }
        c
    }

    fn boot(&self, slot: &NodeSlot) -> Result<()> {
        let mut guard = slot.child.lock().expect("child lock");
        if let Some(c) = guard.as_mut() {
            if matches!(c.try_wait(), Ok(None)) {
                return Ok(());
            }
        }
        let log = self.dir.join(format!("{}.qemu.log", slot.name));
        let f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(LabError::io("open", &log))?;
        let f2 = f.try_clone().map_err(LabError::io("dup", &log))?;
        let child = self
            .qemu_command(slot)
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(f2)
            .spawn()
            .map_err(|e| LabError::HostCommand {
                command: "qemu-system-x86_64".into(),
                status: "not started".into(),
                stderr: e.to_string(),
            })?;
        *guard = Some(child);
        Ok(())
    }

    fn qmp_socket(&self, slot: &NodeSlot) -> PathBuf {
        self.dir.join(format!("{}.qmp", slot.name))
    }

    /// Pulls the plug. Returns whether the node was running.
    fn power_off(&self, slot: &NodeSlot) -> bool {
        let mut guard = slot.child.lock().expect("child lock");
        let was_running = match guard.take() {
            Some(mut c) => {
                let running = matches!(c.try_wait(), Ok(None));
                let _ = c.kill();
                let _ = c.wait();
                running
            }
            None => false,
        };
        if was_running && self.cfg.cluster && (self.cfg.dlm_fencing || self.cfg.pacemaker) {
            slot.unfenced.store(true, Ordering::SeqCst);
        }
        let _ = fs::remove_file(self.dir.join(format!("{}.qemu.pid", slot.name)));
        // A new QEMU attaches what is not detached from its command line.
        slot.hotplugged.lock().expect("hotplugged lock").clear();
        was_running
    }

    fn partition(&self, slot: &NodeSlot) -> Result<()> {
        self.netns
            .lock()
            .expect("netns lock")
            .ip_batch(&format!("link set {} nomaster\n", cluster_tap(slot.index)))?;
        slot.partitioned.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn heal(&self, slot: &NodeSlot) -> Result<()> {
        self.netns.lock().expect("netns lock").ip_batch(&format!(
            "link set {} master {CLUSTER_BRIDGE}\n",
            cluster_tap(slot.index)
        ))?;
        slot.partitioned.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn record(&self, action: &str, node: &str) {
        let at = Instant::now();
        if let Ok(mut f) = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("power.log"))
        {
            let _ = writeln!(f, "{:?} {action} {node}", std::time::SystemTime::now());
        }
        self.events.lock().expect("events lock").push(PowerEvent {
            action: action.into(),
            node: node.into(),
            at,
        });
    }

    /// The power service: what a fence agent can ask (`fence_only`), plus faults for the CLI.
    fn power_command(&self, line: &str, fence_only: bool) -> std::result::Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let slot = |n: &str| self.slot(n).map_err(|e| e.to_string());
        match words.as_slice() {
            ["list"] => Ok(self
                .nodes
                .iter()
                .map(|n| n.name.clone())
                .collect::<Vec<_>>()
                .join(",")),
            ["status", n] => Ok(if self.running(slot(n)?) {
                "on".into()
            } else {
                "off".into()
            }),
            ["off", n] => {
                let s = slot(n)?;
                self.record("off", n);
                self.power_off(s);
                s.unfenced.store(false, Ordering::SeqCst);
                Ok("off".into())
            }
            ["on", n] | ["reboot", n] => {
                let s = slot(n)?;
                self.record(words[0], n);
                if words[0] == "reboot" {
                    self.power_off(s);
                }
                s.unfenced.store(false, Ordering::SeqCst);
                // The node boots and its init starts the cluster stack: it rejoins by itself.
                self.boot(s).map_err(|e| e.to_string())?;
                Ok("on".into())
            }
            ["partition", n] if !fence_only => self
                .partition(slot(n)?)
                .map(|_| "partitioned".into())
                .map_err(|e| e.to_string()),
            ["heal", n] if !fence_only => self
                .heal(slot(n)?)
                .map(|_| "healed".into())
                .map_err(|e| e.to_string()),
            ["nodes"] if !fence_only => Ok(self
                .nodes
                .iter()
                .map(|n| {
                    let detached = n.detached.lock().expect("detached lock");
                    format!(
                        "{} {} {}{}{}",
                        n.name,
                        guest::control_ip(n.index),
                        if self.running(n) { "on" } else { "off" },
                        if n.partitioned.load(Ordering::SeqCst) {
                            " partitioned"
                        } else {
                            ""
                        },
                        if detached.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " unplugged={}",
                                detached.iter().cloned().collect::<Vec<_>>().join(",")
                            )
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")),
            _ => Err(format!("unknown request `{line}`")),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let inner = &self.inner;
        inner.stop.store(true, Ordering::SeqCst);
        for n in &inner.nodes {
            let _ = inner.power_off(n);
        }
        if std::thread::panicking() {
            for n in &inner.nodes {
                let log = fs::read_to_string(inner.dir.join(format!("{}.console", n.name)))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("---- {} console (last {} lines) ----", n.name, tail.len());
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        // Wake the accept loop so the power thread ends, then drop the namespace.
        let addr = SocketAddr::from((control_host_ip(), POWER_PORT));
        let _ = inner
            .netns
            .lock()
            .expect("netns lock")
            .connect(addr, Duration::from_millis(200));
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
        inner.netns.lock().expect("netns lock").delete();
        if std::env::var_os("HALVM_LAB_KEEP").is_none() {
            let _ = fs::remove_dir_all(&inner.dir);
        }
    }
}

impl Node<'_> {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn agent(&self) -> Result<AgentAddr> {
        let slot = self.lab.inner.slot(&self.name)?;
        if !self.lab.inner.running(slot) {
            return Err(LabError::NodeDown {
                node: self.name.clone(),
            });
        }
        Ok(self.lab.inner.agent(slot))
    }

    /// Runs a command (no shell) and returns its exit code and output.
    pub fn run(&self, argv: &[&str]) -> Result<Output> {
        self.run_with(argv, &RunOpts::default())
    }

    pub fn run_with(&self, argv: &[&str], opts: &RunOpts) -> Result<Output> {
        self.agent()?.run(argv, opts)
    }

    /// Runs a command and fails unless it exits 0; returns stdout.
    pub fn run_ok(&self, argv: &[&str]) -> Result<String> {
        let out = self.run(argv)?;
        if !out.success() {
            return Err(LabError::GuestCommand {
                node: self.name.clone(),
                argv: argv.iter().map(|s| s.to_string()).collect(),
                code: out.code,
                stderr: out.stderr_str(),
            });
        }
        Ok(out.stdout_str())
    }

    /// `sh -c script`.
    pub fn sh(&self, script: &str) -> Result<Output> {
        self.run(&["sh", "-c", script])
    }

    /// Starts a detached process (own process group, output appended to `log`); returns its PID.
    pub fn spawn(&self, argv: &[&str], log: &str) -> Result<u32> {
        self.agent()?.spawn(argv, log)
    }

    pub fn write_file(&self, path: &str, data: &[u8], mode: u32) -> Result<()> {
        self.agent()?.write_file(path, data, mode)
    }

    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        self.agent()?.read_file(path)
    }

    pub fn copy_to(&self, host: &Path, guest: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let data = fs::read(host).map_err(LabError::io("read", host))?;
        let mode = fs::metadata(host)
            .map_err(LabError::io("stat", host))?
            .permissions()
            .mode()
            & 0o7777;
        self.write_file(guest, &data, mode)
    }
}
