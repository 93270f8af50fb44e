//! cluster.conf → [`ClusterConf`], collecting every error with its element and line.

use std::collections::HashMap;
use std::net::IpAddr;

use roxmltree::{Document, Node};

use crate::error::{ConfError, ConfErrors};
use crate::model::*;

/// Deepest resource nesting accepted (rgmanager trees are a few levels deep).
pub const MAX_DEPTH: usize = 32;

/// Parses and validates a cluster.conf document.
pub fn parse(text: &str) -> Result<ClusterConf, ConfErrors> {
    let doc = Document::parse(text).map_err(|e| {
        let pos = e.pos();
        ConfErrors {
            errors: vec![ConfError::Xml {
                line: pos.row,
                column: pos.col,
                message: e.to_string(),
            }],
        }
    })?;
    let mut p = Parser {
        doc: &doc,
        errors: Vec::new(),
        unhandled: Vec::new(),
        altnames: Vec::new(),
    };
    let conf = p.cluster(doc.root_element());
    if p.errors.is_empty() {
        let mut conf = conf.expect("no errors means a cluster was built");
        conf.unhandled = p.unhandled;
        conf.stack.altnames = p.altnames;
        Ok(conf)
    } else {
        p.errors.sort_by_key(|e| e.line());
        Err(ConfErrors { errors: p.errors })
    }
}

struct Parser<'d, 'i> {
    doc: &'d Document<'i>,
    errors: Vec<ConfError>,
    unhandled: Vec<Unhandled>,
    altnames: Vec<(String, String)>,
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

fn tag<'a>(n: Node<'a, '_>) -> &'a str {
    n.tag_name().name()
}

fn attrs(n: Node<'_, '_>) -> Attrs {
    n.attributes()
        .map(|a| (a.name().to_string(), a.value().to_string()))
        .collect()
}

/// rgmanager booleans: `1`/`0` mostly, `yes`/`no` in places.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// A time in seconds with an optional s/m/h/d suffix, as rgmanager's expand_time reads it.
fn parse_seconds(v: &str) -> Option<u64> {
    let v = v.trim();
    let (digits, mult) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1),
        (i, 'm') => (&v[..i], 60),
        (i, 'h') => (&v[..i], 3600),
        (i, 'd') => (&v[..i], 86400),
        _ => (v, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

impl<'d, 'i> Parser<'d, 'i> {
    fn line(&self, n: Node<'_, '_>) -> u32 {
        self.doc.text_pos_at(n.range().start).row
    }

    /// The `item` children of list element `list` (`<clusternodes>`, ...), each read by
    /// `read`; any other child is unhandled.
    fn list_of<'x, 'y, T>(
        &mut self,
        list: Node<'x, 'y>,
        item: &str,
        mut read: impl FnMut(&mut Self, Node<'x, 'y>) -> Option<T>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for c in elements(list) {
            if tag(c) == item {
                out.extend(read(self, c));
            } else {
                self.unhandled(format!("{}/{}", tag(list), tag(c)), c);
            }
        }
        out
    }

    fn unhandled(&mut self, what: String, n: Node<'_, '_>) {
        let line = self.line(n);
        self.unhandled.push(Unhandled { what, line });
    }

    fn required(&mut self, n: Node<'_, '_>, attribute: &'static str) -> Option<String> {
        match n.attribute(attribute) {
            Some(v) if !v.trim().is_empty() => Some(v.to_string()),
            _ => {
                let line = self.line(n);
                self.errors.push(ConfError::MissingAttribute {
                    element: tag(n).to_string(),
                    attribute,
                    line,
                });
                None
            }
        }
    }

    fn bad(&mut self, n: Node<'_, '_>, attribute: &str, value: &str, expected: &'static str) {
        let line = self.line(n);
        self.errors.push(ConfError::BadAttribute {
            element: tag(n).to_string(),
            attribute: attribute.to_string(),
            value: value.to_string(),
            expected,
            line,
        });
    }

    fn bool_attr(&mut self, n: Node<'_, '_>, attribute: &str, default: bool) -> bool {
        match n.attribute(attribute) {
            None => default,
            Some(v) => parse_bool(v).unwrap_or_else(|| {
                self.bad(n, attribute, v, "a boolean (0/1, yes/no)");
                default
            }),
        }
    }

    fn u32_attr(&mut self, n: Node<'_, '_>, attribute: &str, range: (u32, u32)) -> Option<u32> {
        let v = n.attribute(attribute)?;
        match v.trim().parse::<u32>() {
            Ok(x) if x >= range.0 && x <= range.1 => Some(x),
            _ => {
                self.bad(n, attribute, v, "an integer in range");
                None
            }
        }
    }

    /// Records elements or attributes nobody consumed.
    fn check_attrs(&mut self, n: Node<'_, '_>, path: &str, known: &[&str]) {
        for a in n.attributes() {
            if !known.contains(&a.name()) {
                self.unhandled(format!("{path}@{}", a.name()), n);
            }
        }
    }

    fn cluster(&mut self, root: Node<'_, '_>) -> Option<ClusterConf> {
        if tag(root) != "cluster" {
            let line = self.line(root);
            self.errors.push(ConfError::NotCluster {
                found: tag(root).to_string(),
                line,
            });
            return None;
        }
        let name = self.required(root, "name").unwrap_or_default();
        let config_version = match self.required(root, "config_version") {
            Some(v) => v.trim().parse::<u64>().unwrap_or_else(|_| {
                self.bad(root, "config_version", &v, "a non-negative integer");
                0
            }),
            None => 0,
        };
        self.check_attrs(root, "cluster", &["name", "config_version"]);
        let mut conf = ClusterConf {
            name,
            config_version,
            cman: None,
            nodes: Vec::new(),
            fence_devices: Vec::new(),
            domains: Vec::new(),
            global_resources: Vec::new(),
            services: Vec::new(),
            unhandled: Vec::new(),
            stack: Stack::default(),
        };
        let mut rm = None;
        for child in elements(root) {
            let stack_slot = match tag(child) {
                "cman" => Some(&mut conf.stack.cman),
                "totem" => Some(&mut conf.stack.totem),
                "dlm" => Some(&mut conf.stack.dlm),
                "logging" => Some(&mut conf.stack.logging),
                "fence_daemon" => Some(&mut conf.stack.fence_daemon),
                _ => None,
            };
            if let Some(slot) = stack_slot {
                *slot = Some(Element {
                    attrs: attrs(child),
                    line: self.line(child),
                });
            }
            match tag(child) {
                "cman" => {
                    conf.cman = Some(Cman {
                        two_node: self.bool_attr(child, "two_node", false),
                        expected_votes: self.u32_attr(child, "expected_votes", (1, u32::MAX)),
                        line: self.line(child),
                    });
                    self.check_attrs(child, "cman", &["two_node", "expected_votes"]);
                    for c in elements(child) {
                        self.unhandled(format!("cman/{}", tag(c)), c);
                    }
                }
                "clusternodes" => {
                    let nodes = self.list_of(child, "clusternode", Self::clusternode);
                    conf.nodes.extend(nodes);
                }
                "fencedevices" => {
                    let devs = self.list_of(child, "fencedevice", Self::fencedevice);
                    conf.fence_devices.extend(devs);
                }
                "rm" => rm = Some(child),
                other => self.unhandled(format!("cluster/{other}"), child),
            }
        }
        self.unique(
            conf.nodes.iter().map(|n| (n.name.clone(), n.line)),
            "clusternode",
            "node name",
        );
        self.unique(
            conf.nodes.iter().map(|n| (n.nodeid.to_string(), n.line)),
            "clusternode",
            "nodeid",
        );
        self.unique(
            conf.fence_devices.iter().map(|d| (d.name.clone(), d.line)),
            "fencedevice",
            "name",
        );
        // Per-node fence devices must exist.
        for node in &conf.nodes {
            for m in &node.fence_methods {
                for d in &m.devices {
                    if conf.fence_device(&d.name).is_none() {
                        self.errors.push(ConfError::UnknownFenceDevice {
                            node: node.name.clone(),
                            device: d.name.clone(),
                            line: d.line,
                        });
                    }
                }
            }
        }
        if let Some(rm) = rm {
            self.rm(rm, &mut conf);
        }
        Some(conf)
    }

    fn unique(
        &mut self,
        items: impl Iterator<Item = (String, u32)>,
        element: &str,
        what: &'static str,
    ) {
        let mut seen: HashMap<String, u32> = HashMap::new();
        for (value, line) in items {
            if let Some(&first_line) = seen.get(&value) {
                self.errors.push(ConfError::Duplicate {
                    element: element.to_string(),
                    what,
                    value,
                    line,
                    first_line,
                });
            } else {
                seen.insert(value, line);
            }
        }
    }

    fn clusternode(&mut self, n: Node<'_, '_>) -> Option<ClusterNode> {
        let name = self.required(n, "name");
        let nodeid = match self.required(n, "nodeid") {
            Some(_) => self.u32_attr(n, "nodeid", (1, u32::MAX)),
            None => None,
        };
        let votes = self.u32_attr(n, "votes", (0, u32::MAX));
        let path = format!("clusternode[{}]", name.as_deref().unwrap_or("?"));
        self.check_attrs(n, &path, &["name", "nodeid", "votes"]);
        let mut fence_methods = Vec::new();
        for c in elements(n) {
            if let (Some(node), "altname", Some(alt)) = (&name, tag(c), c.attribute("name")) {
                self.altnames.push((node.clone(), alt.to_string()));
            }
            if tag(c) != "fence" {
                self.unhandled(format!("{path}/{}", tag(c)), c);
                continue;
            }
            for m in elements(c) {
                if tag(m) != "method" {
                    self.unhandled(format!("{path}/fence/{}", tag(m)), m);
                    continue;
                }
                let mname = m
                    .attribute("name")
                    .map(str::to_string)
                    .unwrap_or_else(|| (fence_methods.len() + 1).to_string());
                let mut devices = Vec::new();
                for d in elements(m) {
                    if tag(d) != "device" {
                        self.unhandled(format!("{path}/fence/method/{}", tag(d)), d);
                        continue;
                    }
                    if let Some(dname) = self.required(d, "name") {
                        devices.push(FenceDeviceUse {
                            name: dname,
                            attrs: attrs(d).into_iter().filter(|(k, _)| k != "name").collect(),
                            line: self.line(d),
                        });
                    }
                }
                fence_methods.push(FenceMethod {
                    name: mname,
                    devices,
                    line: self.line(m),
                });
            }
        }
        Some(ClusterNode {
            name: name?,
            nodeid: nodeid?,
            votes,
            fence_methods,
            line: self.line(n),
        })
    }

    fn fencedevice(&mut self, d: Node<'_, '_>) -> Option<FenceDevice> {
        let name = self.required(d, "name");
        let agent = self.required(d, "agent");
        for c in elements(d) {
            self.unhandled(format!("fencedevice/{}", tag(c)), c);
        }
        Some(FenceDevice {
            name: name?,
            agent: agent?,
            attrs: attrs(d)
                .into_iter()
                .filter(|(k, _)| k != "name" && k != "agent")
                .collect(),
            line: self.line(d),
        })
    }

    fn rm(&mut self, rm: Node<'_, '_>, conf: &mut ClusterConf) {
        self.check_attrs(rm, "rm", &[]);
        // Definitions first, wherever they appear: services may precede them in the file.
        for child in elements(rm) {
            match tag(child) {
                "failoverdomains" => {
                    let doms = self.list_of(child, "failoverdomain", |p, d| p.domain(d, conf));
                    conf.domains.extend(doms);
                }
                "resources" => {
                    for r in elements(child) {
                        if let Some(res) = self.resource(r, None, 0) {
                            conf.global_resources.push(res.resource);
                        }
                    }
                }
                _ => {}
            }
        }
        self.unique(
            conf.domains.iter().map(|d| (d.name.clone(), d.line)),
            "failoverdomain",
            "name",
        );
        self.unique(
            conf.global_resources
                .iter()
                .map(|r| (format!("{} {}", r.tag(), r.name), r.line)),
            "resources",
            "resource",
        );
        let globals = conf.global_resources.clone();
        for child in elements(rm) {
            match tag(child) {
                "failoverdomains" | "resources" => {}
                "service" => {
                    if let Some(s) = self.service(child, conf, &globals) {
                        conf.services.push(s);
                    }
                }
                other => self.unhandled(format!("rm/{other}"), child),
            }
        }
        self.unique(
            conf.services.iter().map(|s| (s.name.clone(), s.line)),
            "service",
            "name",
        );
    }

    fn domain(&mut self, d: Node<'_, '_>, conf: &ClusterConf) -> Option<FailoverDomain> {
        let name = self.required(d, "name")?;
        let ordered = self.bool_attr(d, "ordered", false);
        let restricted = self.bool_attr(d, "restricted", false);
        let nofailback = self.bool_attr(d, "nofailback", false);
        self.check_attrs(
            d,
            &format!("failoverdomain[{name}]"),
            &["name", "ordered", "restricted", "nofailback"],
        );
        let mut nodes: Vec<DomainNode> = Vec::new();
        for n in elements(d) {
            if tag(n) != "failoverdomainnode" {
                self.unhandled(format!("failoverdomain[{name}]/{}", tag(n)), n);
                continue;
            }
            let Some(node) = self.required(n, "name") else {
                continue;
            };
            let line = self.line(n);
            let priority = self.u32_attr(n, "priority", (1, 100));
            if conf.node(&node).is_none() {
                self.errors.push(ConfError::UnknownDomainNode {
                    domain: name.clone(),
                    node: node.clone(),
                    line,
                });
            }
            if let Some(first) = nodes.iter().find(|x| x.name == node) {
                self.errors.push(ConfError::Duplicate {
                    element: "failoverdomainnode".into(),
                    what: "node",
                    value: node.clone(),
                    line,
                    first_line: first.line,
                });
                continue;
            }
            nodes.push(DomainNode {
                name: node,
                priority,
                line,
            });
        }
        Some(FailoverDomain {
            name,
            ordered,
            restricted,
            nofailback,
            nodes,
            line: self.line(d),
        })
    }

    fn service(
        &mut self,
        s: Node<'_, '_>,
        conf: &ClusterConf,
        globals: &[Resource],
    ) -> Option<Service> {
        let name = self.required(s, "name")?;
        let line = self.line(s);
        let domain = s
            .attribute("domain")
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        if let Some(d) = &domain {
            if conf.domain(d).is_none() {
                self.errors.push(ConfError::UnknownDomain {
                    service: name.clone(),
                    domain: d.clone(),
                    line,
                });
            }
        }
        let autostart = self.bool_attr(s, "autostart", true);
        let exclusive = self.bool_attr(s, "exclusive", false);
        let recovery = match s.attribute("recovery") {
            None | Some("restart") => Recovery::Restart,
            Some("relocate") => Recovery::Relocate,
            Some("disable") => Recovery::Disable,
            Some("restart-disable") => Recovery::RestartDisable,
            Some(v) => {
                self.bad(
                    s,
                    "recovery",
                    v,
                    "restart, relocate, disable or restart-disable",
                );
                Recovery::Restart
            }
        };
        let max_restarts = self.u32_attr(s, "max_restarts", (0, u32::MAX));
        let restart_expire_time = match s.attribute("restart_expire_time") {
            None => None,
            Some(v) => {
                let t = parse_seconds(v);
                if t.is_none() {
                    self.bad(
                        s,
                        "restart_expire_time",
                        v,
                        "seconds, optionally with s/m/h/d",
                    );
                }
                t
            }
        };
        let path = format!("service[{name}]");
        self.check_attrs(
            s,
            &path,
            &[
                "name",
                "domain",
                "autostart",
                "exclusive",
                "recovery",
                "max_restarts",
                "restart_expire_time",
            ],
        );
        let mut resources = Vec::new();
        for c in elements(s) {
            if let Some(r) = self.resource(c, Some(globals), 1) {
                resources.push(r);
            }
        }
        Some(Service {
            name,
            domain,
            autostart,
            exclusive,
            recovery,
            max_restarts,
            restart_expire_time,
            resources,
            line,
        })
    }

    /// A resource element; `globals` is `Some` inside services (refs allowed, children kept).
    fn resource(
        &mut self,
        e: Node<'_, '_>,
        globals: Option<&[Resource]>,
        depth: usize,
    ) -> Option<ResourceNode> {
        let line = self.line(e);
        let t = tag(e).to_string();
        if depth > MAX_DEPTH {
            self.errors.push(ConfError::TooDeep {
                element: t,
                limit: MAX_DEPTH,
                line,
            });
            return None;
        }
        let resource = match (e.attribute("ref"), globals) {
            (Some(r), Some(globals)) => {
                let Some(g) = globals.iter().find(|g| g.tag() == t && g.name == r) else {
                    self.errors.push(ConfError::UnknownRef {
                        element: t,
                        reference: r.to_string(),
                        line,
                    });
                    return None;
                };
                // Local attributes override the global definition's.
                let mut merged = g.attrs.clone();
                for (k, v) in attrs(e).into_iter().filter(|(k, _)| k != "ref") {
                    match merged.iter_mut().find(|(mk, _)| *mk == k) {
                        Some(slot) => slot.1 = v,
                        None => merged.push((k, v)),
                    }
                }
                let mut res = self.build(e, &t, merged)?;
                res.reference = Some(r.to_string());
                res
            }
            (Some(_), None) => {
                self.bad(
                    e,
                    "ref",
                    e.attribute("ref").unwrap_or(""),
                    "no ref= inside <resources>",
                );
                return None;
            }
            (None, _) => self.build(e, &t, attrs(e))?,
        };
        let mut children = Vec::new();
        for c in elements(e) {
            if globals.is_none() {
                self.unhandled(format!("resources/{t}[{}]/{}", resource.name, tag(c)), c);
                continue;
            }
            if tag(c) == "action" {
                self.unhandled(format!("{t}[{}]/action", resource.name), c);
                continue;
            }
            if let Some(r) = self.resource(c, globals, depth + 1) {
                children.push(r);
            }
        }
        Some(ResourceNode { resource, children })
    }

    /// Builds a resource of tag `t` from (possibly merged) attributes; `e` locates errors.
    fn build(&mut self, e: Node<'_, '_>, t: &str, attrs: Attrs) -> Option<Resource> {
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.trim().is_empty())
        };
        let line = self.line(e);
        let missing = |p: &mut Self, attribute: &'static str| {
            p.errors.push(ConfError::MissingAttribute {
                element: t.to_string(),
                attribute,
                line,
            });
        };
        // A required attribute: its absence is an error (each one reported).
        let required = |p: &mut Self, k: &'static str| {
            let v = get(k);
            if v.is_none() {
                missing(p, k);
            }
            v
        };
        let bool_of = |p: &mut Self, k: &str| -> Option<bool> {
            let v = get(k)?;
            let b = parse_bool(&v);
            if b.is_none() {
                p.bad(e, k, &v, "a boolean (0/1, yes/no)");
            }
            b
        };
        let (kind, name) = match t {
            "lvm" => {
                let name = required(self, "name");
                let vg = required(self, "vg_name");
                (
                    ResourceKind::Lvm {
                        vg_name: vg?,
                        lv_name: get("lv_name"),
                    },
                    name?,
                )
            }
            "fs" => {
                let name = required(self, "name");
                let device = required(self, "device");
                let mountpoint = required(self, "mountpoint");
                let force_unmount = bool_of(self, "force_unmount").unwrap_or(false);
                let force_fsck = bool_of(self, "force_fsck").unwrap_or(false);
                let self_fence = bool_of(self, "self_fence").unwrap_or(false);
                (
                    ResourceKind::Fs {
                        device: device?,
                        mountpoint: mountpoint?,
                        fstype: get("fstype"),
                        options: get("options"),
                        force_unmount,
                        force_fsck,
                        self_fence,
                    },
                    name?,
                )
            }
            "ip" => {
                let raw = required(self, "address")?;
                let (addr, mut prefix) = match raw.split_once('/') {
                    Some((a, p)) => (a.to_string(), Some(p.to_string())),
                    None => (raw.clone(), None),
                };
                if let Some(p) = get("prefix") {
                    prefix = Some(p);
                }
                let ip: Option<IpAddr> = addr.parse().ok();
                if ip.is_none() {
                    self.bad(
                        e,
                        "address",
                        &raw,
                        "an IPv4 or IPv6 address, optionally /prefix",
                    );
                }
                let max = if matches!(ip, Some(IpAddr::V6(_))) {
                    128
                } else {
                    32
                };
                let prefix = match prefix {
                    None => None,
                    Some(p) => match p.parse::<u8>() {
                        Ok(x) if x <= max => Some(x),
                        _ => {
                            self.bad(e, "prefix", &p, "a prefix length");
                            None
                        }
                    },
                };
                let monitor_link = bool_of(self, "monitor_link");
                ip?;
                (
                    ResourceKind::Ip {
                        address: addr,
                        prefix,
                        monitor_link,
                    },
                    raw,
                )
            }
            "script" => {
                let name = required(self, "name");
                let file = required(self, "file");
                (ResourceKind::Script { file: file? }, name?)
            }
            other => {
                let name = get("name").unwrap_or_else(|| other.to_string());
                (
                    ResourceKind::Other {
                        tag: other.to_string(),
                    },
                    name,
                )
            }
        };
        Some(Resource {
            kind,
            name,
            attrs,
            line,
            reference: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("300"), Some(300));
        assert_eq!(parse_seconds("5m"), Some(300));
        assert_eq!(parse_seconds("2h"), Some(7200));
        assert_eq!(parse_seconds("1d"), Some(86400));
        assert_eq!(parse_seconds("x"), None);
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds("99999999999999999999d"), None);
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
