//! What a cluster.conf says, after parsing and validation. Every element keeps its line.

/// Name/value attributes in document order.
pub type Attrs = Vec<(String, String)>;

/// The value of attribute `name`, if present.
fn attr<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConf {
    pub name: String,
    pub config_version: u64,
    pub cman: Option<Cman>,
    pub nodes: Vec<ClusterNode>,
    pub fence_devices: Vec<FenceDevice>,
    pub domains: Vec<FailoverDomain>,
    /// Resources defined once under `<rm><resources>`, referenced with `ref=`.
    pub global_resources: Vec<Resource>,
    pub services: Vec<Service>,
    /// Elements and attributes the model does not carry; the translation reports them.
    pub unhandled: Vec<Unhandled>,
    /// What configures corosync and dlm_controld rather than Pacemaker (`to-corosync`).
    pub stack: Stack,
}

/// The cluster.conf elements that configure the cluster stack under Pacemaker, as written:
/// [`crate::to_corosync`] and [`crate::to_dlm_conf`] validate and translate them. The Pacemaker
/// translation still reports them as unhandled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stack {
    /// Every attribute of `<cman>` (two_node, expected_votes, port, transport ...).
    pub cman: Option<Element>,
    pub totem: Option<Element>,
    pub dlm: Option<Element>,
    pub logging: Option<Element>,
    /// `<fence_daemon>`: its post_join_delay is dlm_controld's now.
    pub fence_daemon: Option<Element>,
    /// `<altname name=...>` per node (node name, alternative address): a second link.
    pub altnames: Vec<(String, String)>,
}

/// An element's attributes in document order, and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub attrs: Attrs,
    pub line: u32,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        attr(&self.attrs, name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cman {
    pub two_node: bool,
    pub expected_votes: Option<u32>,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub name: String,
    pub nodeid: u32,
    pub votes: Option<u32>,
    /// Fence methods in the order fenced tries them.
    pub fence_methods: Vec<FenceMethod>,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceMethod {
    pub name: String,
    /// All devices of one method must succeed (e.g. two power switches).
    pub devices: Vec<FenceDeviceUse>,
    pub line: u32,
}

/// `<device name="..." port="..."/>` inside a node's method: the device plus per-node attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceDeviceUse {
    pub name: String,
    pub attrs: Attrs,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceDevice {
    pub name: String,
    pub agent: String,
    /// Every attribute except `name` and `agent`.
    pub attrs: Attrs,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverDomain {
    pub name: String,
    pub ordered: bool,
    pub restricted: bool,
    pub nofailback: bool,
    pub nodes: Vec<DomainNode>,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainNode {
    pub name: String,
    /// 1 (most preferred) to 100; `None` when absent.
    pub priority: Option<u32>,
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    Restart,
    Relocate,
    Disable,
    /// `restart-disable`: restart in place, disable instead of relocating.
    RestartDisable,
}

impl Recovery {
    pub fn as_str(self) -> &'static str {
        match self {
            Recovery::Restart => "restart",
            Recovery::Relocate => "relocate",
            Recovery::Disable => "disable",
            Recovery::RestartDisable => "restart-disable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub domain: Option<String>,
    pub autostart: bool,
    pub exclusive: bool,
    pub recovery: Recovery,
    pub max_restarts: Option<u32>,
    /// Seconds.
    pub restart_expire_time: Option<u64>,
    /// The resource tree, children in document order.
    pub resources: Vec<ResourceNode>,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNode {
    pub resource: Resource,
    pub children: Vec<ResourceNode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    Lvm {
        vg_name: String,
        lv_name: Option<String>,
    },
    Fs {
        device: String,
        mountpoint: String,
        fstype: Option<String>,
        options: Option<String>,
        force_unmount: bool,
        force_fsck: bool,
        self_fence: bool,
    },
    Ip {
        /// Without the `/prefix`.
        address: String,
        prefix: Option<u8>,
        monitor_link: Option<bool>,
    },
    Script {
        file: String,
    },
    /// Any other rgmanager agent (`nfsexport`, `apache`, `vm`, ...), kept by tag name.
    Other {
        tag: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: ResourceKind,
    /// The primary key: `address` for ip, `name` otherwise.
    pub name: String,
    /// All attributes as written (after `ref=` resolution: the global ones, overridden by local).
    pub attrs: Attrs,
    /// The line of the element in the service tree (the `ref=` element for references).
    pub line: u32,
    /// The global resource this came from, when it was a `ref=`.
    pub reference: Option<String>,
}

impl Resource {
    /// The rgmanager tag (`lvm`, `fs`, `ip`, `script`, or the other tag).
    pub fn tag(&self) -> &str {
        match &self.kind {
            ResourceKind::Lvm { .. } => "lvm",
            ResourceKind::Fs { .. } => "fs",
            ResourceKind::Ip { .. } => "ip",
            ResourceKind::Script { .. } => "script",
            ResourceKind::Other { tag } => tag,
        }
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        attr(&self.attrs, name)
    }
}

/// Something present in the file that the model does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unhandled {
    /// Element path, e.g. `cluster/logging` or `service[web]@depend`.
    pub what: String,
    pub line: u32,
}

/// rgmanager's start levels for typed children (service.sh): lower starts first; untyped
/// children start after all typed ones, in document order.
pub fn start_level(tag: &str) -> u32 {
    match tag {
        "lvm" => 1,
        "fs" => 2,
        "clusterfs" => 3,
        "netfs" => 4,
        "nfsexport" => 5,
        "nfsclient" => 6,
        "ip" => 7,
        "smb" => 8,
        "script" => 9,
        _ => 100,
    }
}

impl Service {
    /// The resources in start order: a parent before its children, siblings by
    /// [`start_level`] then document order.
    pub fn start_order(&self) -> Vec<&Resource> {
        fn walk<'a>(nodes: &'a [ResourceNode], out: &mut Vec<&'a Resource>) {
            let mut sorted: Vec<&ResourceNode> = nodes.iter().collect();
            sorted.sort_by_key(|n| start_level(n.resource.tag()));
            for n in sorted {
                out.push(&n.resource);
                walk(&n.children, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.resources, &mut out);
        out
    }
}

impl ClusterConf {
    pub fn node(&self, name: &str) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn domain(&self, name: &str) -> Option<&FailoverDomain> {
        self.domains.iter().find(|d| d.name == name)
    }

    pub fn fence_device(&self, name: &str) -> Option<&FenceDevice> {
        self.fence_devices.iter().find(|d| d.name == name)
    }
}
