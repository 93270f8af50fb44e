//! [`ClusterConf`] → [`Plan`]. Every rgmanager feature without an exact Pacemaker equivalent
//! becomes a [`Note`]; nothing is dropped silently.
//!
//! The rules:
//! - a service is a group whose members are its resources in rgmanager start order;
//! - `lvm` → `ocf:halvm:LVM-activate` (`vg_access_mode=system_id`, `activation_mode=exclusive`),
//!   `fs` → `ocf:heartbeat:Filesystem`, `ip` → `ocf:heartbeat:IPaddr2`, `script` → `lsb:`;
//! - failover domain nodes → location scores: ordered `(101 - priority) * 10000` (priority 1
//!   gives 1,000,000 = INFINITY; no priority gives 500,000, as rgmanager's cluster2cib and
//!   clufter do), unordered INFINITY; `restricted` adds a `-INFINITY` rule for every node not
//!   in the domain (a per-resource rule rather than `symmetric-cluster=false`, which would also
//!   confine resources that have no domain, stonith devices included); `nofailback` →
//!   `resource-stickiness=INFINITY`;
//! - `recovery=relocate` → `migration-threshold=1`; `restart` with `max_restarts=N` →
//!   `migration-threshold=N+1` (rgmanager restarts N times and relocates on the next failure,
//!   Pacemaker moves away on the threshold-th failure); `restart_expire_time` →
//!   `failure-timeout`; `disable` → `on-fail=stop` on the monitors;
//! - `autostart=0` → `target-role=Stopped`; `exclusive=1` → `-INFINITY` colocations with every
//!   other service;
//! - fence devices → `stonith:` resources (`pcmk_host_list`, and `pcmk_host_map` from per-node
//!   `port`/`plug`); several methods or several devices in one method → fencing levels.

use std::collections::{BTreeMap, HashSet};

use crate::model::*;
use crate::plan::*;

/// Translates a validated cluster.conf.
pub fn translate(conf: &ClusterConf) -> Plan {
    let mut t = Translator {
        conf,
        ids: HashSet::new(),
        notes: Vec::new(),
    };
    t.run()
}

struct Translator<'a> {
    conf: &'a ClusterConf,
    ids: HashSet<String>,
    notes: Vec<Note>,
}

/// An XML ID (NCName) from any text: other characters become `_`; a leading non-letter gets
/// a `_` prefix.
pub fn xml_id(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

fn op(interval: &str, timeout: &str) -> Op {
    Op {
        name: "monitor".into(),
        interval: interval.into(),
        timeout: Some(timeout.into()),
        on_fail: None,
    }
}

/// The fence agent parameter names Pacemaker's fence agents use for cman's old ones.
fn fence_param(name: &str) -> &str {
    match name {
        "ipaddr" => "ip",
        "login" => "username",
        "passwd" => "password",
        "passwd_script" => "password_script",
        "port" => "plug",
        "action" => "pcmk_reboot_action",
        other => other,
    }
}

impl Translator<'_> {
    fn note(&mut self, severity: Severity, line: Option<u32>, message: impl Into<String>) {
        self.notes.push(Note {
            severity,
            line,
            message: message.into(),
        });
    }

    /// A fresh ID from `base` (suffixes `-2`, `-3`, ... on clashes).
    fn id(&mut self, base: &str) -> String {
        let base = xml_id(base);
        let mut candidate = base.clone();
        let mut n = 2;
        while self.ids.contains(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        self.ids.insert(candidate.clone());
        candidate
    }

    fn run(&mut self) -> Plan {
        let conf = self.conf;
        let nodes = conf
            .nodes
            .iter()
            .map(|n| PlanNode {
                id: n.nodeid,
                name: n.name.clone(),
            })
            .collect();
        let mut properties = Vec::new();

        if let Some(cman) = &conf.cman {
            if cman.two_node {
                self.note(
                    Severity::Info,
                    Some(cman.line),
                    "cman two_node=\"1\": set `quorum { two_node: 1 }` in corosync.conf (pcs cluster setup does this for two nodes); Pacemaker keeps running resources when one of the two nodes is lost",
                );
            }
            if let Some(v) = cman.expected_votes.filter(|&v| !(cman.two_node && v == 1)) {
                self.note(
                    Severity::Info,
                    Some(cman.line),
                    format!("cman expected_votes=\"{v}\": set `quorum {{ expected_votes: {v} }}` in corosync.conf if the votes differ from one per node"),
                );
            }
        }
        for n in &conf.nodes {
            if let Some(v) = n.votes.filter(|&v| v != 1) {
                self.note(
                    Severity::Info,
                    Some(n.line),
                    format!("node {} votes=\"{v}\": set `quorum_votes: {v}` for it in corosync.conf's nodelist", n.name),
                );
            }
        }

        // Groups are named first so that service names keep their own IDs.
        let group_ids: Vec<String> = conf.services.iter().map(|s| self.id(&s.name)).collect();
        let mut groups = Vec::new();
        let mut locations = Vec::new();
        for (svc, gid) in conf.services.iter().zip(&group_ids) {
            if let Some(g) = self.service(svc, gid) {
                if let Some(dom) = svc.domain.as_deref().and_then(|d| conf.domain(d)) {
                    locations.extend(self.domain_locations(dom, &g.id));
                }
                groups.push(g);
            }
        }
        self.shared_globals();

        let colocations = self.exclusive(&groups);
        let (stonith, fencing_levels) = self.fencing();
        if stonith.is_empty() {
            properties.push(kv("stonith-enabled", "false"));
            self.note(
                Severity::Warning,
                None,
                "no fence devices: stonith-enabled=false is set so that resources can start; a cluster with shared storage needs fencing before production use",
            );
        }

        for u in &conf.unhandled {
            let advice = match u.what.as_str() {
                "cluster/logging" => "configure logging in corosync.conf (logging {}) and /etc/sysconfig|default/pacemaker",
                "cluster/dlm" => "configure DLM in /etc/dlm/dlm.conf (e.g. protocol=tcp)",
                "cluster/totem" => "configure totem timing in corosync.conf",
                "cluster/quorumd" => "use corosync-qdevice (pcs quorum device add)",
                "cluster/fence_daemon" => "fence delays map to pcmk_delay_base/pcmk_delay_max on stonith resources",
                _ => "not translated",
            };
            self.note(
                Severity::Warning,
                Some(u.line),
                format!("{}: {advice}", u.what),
            );
        }

        let mut notes = std::mem::take(&mut self.notes);
        notes.sort_by_key(|n| n.line.unwrap_or(0));
        Plan {
            cluster_name: conf.name.clone(),
            config_version: conf.config_version,
            nodes,
            properties,
            rsc_defaults: Vec::new(),
            stonith,
            groups,
            locations,
            colocations,
            fencing_levels,
            notes,
        }
    }

    fn service(&mut self, svc: &Service, gid: &str) -> Option<Group> {
        let mut members = Vec::new();
        for r in svc.start_order() {
            if let Some(p) = self.resource(svc, r) {
                members.push(p);
            }
        }
        if members.is_empty() {
            self.note(
                Severity::Warning,
                Some(svc.line),
                format!(
                    "service {}: no translatable resources, no group created",
                    svc.name
                ),
            );
            return None;
        }
        let mut meta = Vec::new();
        if !svc.autostart {
            meta.push(kv("target-role", "Stopped"));
            self.note(
                Severity::Info,
                Some(svc.line),
                format!("service {}: autostart=\"0\" becomes target-role=Stopped (start it with pcs resource enable {gid})", svc.name),
            );
        }
        let expire = svc.restart_expire_time.map(|s| format!("{s}s"));
        match svc.recovery {
            Recovery::Restart | Recovery::RestartDisable => {
                match svc.max_restarts.filter(|&m| m > 0) {
                    Some(m) => {
                        meta.push(kv("migration-threshold", (u64::from(m) + 1).to_string()));
                        if let Some(e) = &expire {
                            meta.push(kv("failure-timeout", e.clone()));
                        }
                    }
                    None => {
                        if svc.restart_expire_time.is_some() {
                            self.note(
                                Severity::Info,
                                Some(svc.line),
                                format!("service {}: restart_expire_time without max_restarts has no effect; not translated", svc.name),
                            );
                        }
                    }
                }
                if svc.recovery == Recovery::RestartDisable {
                    self.note(
                        Severity::Warning,
                        Some(svc.line),
                        format!("service {}: recovery=\"restart-disable\": Pacemaker relocates after migration-threshold failures instead of disabling", svc.name),
                    );
                }
            }
            Recovery::Relocate => {
                meta.push(kv("migration-threshold", "1"));
                if let Some(e) = &expire {
                    meta.push(kv("failure-timeout", e.clone()));
                }
                if svc.max_restarts.is_some() {
                    self.note(
                        Severity::Info,
                        Some(svc.line),
                        format!(
                            "service {}: max_restarts is ignored with recovery=\"relocate\"",
                            svc.name
                        ),
                    );
                }
            }
            Recovery::Disable => {
                for m in &mut members {
                    for o in &mut m.ops {
                        if o.name == "monitor" {
                            o.on_fail = Some("stop".into());
                        }
                    }
                }
                self.note(
                    Severity::Info,
                    Some(svc.line),
                    format!("service {}: recovery=\"disable\" becomes on-fail=stop on the monitors (stopped, not restarted or moved)", svc.name),
                );
            }
        }
        if let Some(dom) = svc.domain.as_deref().and_then(|d| self.conf.domain(d)) {
            if dom.nofailback {
                meta.push(kv("resource-stickiness", "INFINITY"));
            }
        }
        Some(Group {
            id: gid.to_string(),
            service: svc.name.clone(),
            members,
            meta,
        })
    }

    /// Attributes of `r` outside `handled` go to the report.
    fn leftover(&mut self, svc: &Service, r: &Resource, handled: &[&str]) {
        for (k, v) in &r.attrs {
            if !handled.contains(&k.as_str()) {
                self.note(
                    Severity::Warning,
                    Some(r.line),
                    format!(
                        "service {}: <{} name=\"{}\"> attribute {k}=\"{v}\" not translated",
                        svc.name,
                        r.tag(),
                        r.name
                    ),
                );
            }
        }
    }

    fn resource(&mut self, svc: &Service, r: &Resource) -> Option<Primitive> {
        let (class, provider, agent, params, ops): (&str, Option<&str>, String, Attrs, Vec<Op>) =
            match &r.kind {
                ResourceKind::Lvm { vg_name, lv_name } => {
                    self.leftover(svc, r, &["name", "vg_name", "lv_name", "ref"]);
                    let mut p = vec![kv("vgname", vg_name.clone())];
                    if let Some(lv) = lv_name {
                        p.push(kv("lvname", lv.clone()));
                    }
                    p.push(kv("vg_access_mode", "system_id"));
                    p.push(kv("activation_mode", "exclusive"));
                    self.note(
                        Severity::Info,
                        Some(r.line),
                        format!("service {}: <lvm name=\"{}\"> uses vg_access_mode=system_id: give VG {vg_name} a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)", svc.name, r.name),
                    );
                    (
                        "ocf",
                        Some("halvm"),
                        "LVM-activate".into(),
                        p,
                        vec![op("30s", "90s")],
                    )
                }
                ResourceKind::Fs {
                    device,
                    mountpoint,
                    fstype,
                    options,
                    force_unmount,
                    force_fsck,
                    self_fence,
                } => {
                    self.leftover(
                        svc,
                        r,
                        &[
                            "name",
                            "device",
                            "mountpoint",
                            "fstype",
                            "options",
                            "force_unmount",
                            "force_fsck",
                            "self_fence",
                            "ref",
                        ],
                    );
                    let mut p = vec![
                        kv("device", device.clone()),
                        kv("directory", mountpoint.clone()),
                    ];
                    match fstype {
                        Some(f) => p.push(kv("fstype", f.clone())),
                        None => self.note(
                            Severity::Warning,
                            Some(r.line),
                            format!("service {}: <fs name=\"{}\"> has no fstype; Filesystem requires one", svc.name, r.name),
                        ),
                    }
                    if let Some(o) = options {
                        p.push(kv("options", o.clone()));
                    }
                    p.push(kv(
                        "force_unmount",
                        if *force_unmount { "true" } else { "false" },
                    ));
                    if *force_fsck {
                        p.push(kv("run_fsck", "force"));
                    }
                    if *self_fence {
                        self.note(
                            Severity::Info,
                            Some(r.line),
                            format!("service {}: <fs name=\"{}\"> self_fence=\"1\": Pacemaker fences a node whose stop fails (on-fail=fence, the default with stonith enabled)", svc.name, r.name),
                        );
                    }
                    (
                        "ocf",
                        Some("heartbeat"),
                        "Filesystem".into(),
                        p,
                        vec![op("20s", "40s")],
                    )
                }
                ResourceKind::Ip {
                    address,
                    prefix,
                    monitor_link,
                } => {
                    self.leftover(svc, r, &["address", "prefix", "monitor_link", "ref"]);
                    let mut p = vec![kv("ip", address.clone())];
                    if let Some(pl) = prefix {
                        p.push(kv("cidr_netmask", pl.to_string()));
                    }
                    if *monitor_link == Some(true) {
                        self.note(
                            Severity::Warning,
                            Some(r.line),
                            format!("service {}: <ip address=\"{}\"> monitor_link=\"1\": IPaddr2 does not watch the link; add ocf:heartbeat:ethmonitor and a location rule on its attribute if needed", svc.name, r.name),
                        );
                    }
                    (
                        "ocf",
                        Some("heartbeat"),
                        "IPaddr2".into(),
                        p,
                        vec![op("10s", "20s")],
                    )
                }
                ResourceKind::Script { file } => {
                    self.leftover(svc, r, &["name", "file", "ref"]);
                    let base = file.rsplit('/').next().unwrap_or(file).to_string();
                    let in_initd =
                        file.starts_with("/etc/init.d/") || file.starts_with("/etc/rc.d/init.d/");
                    let msg = if in_initd {
                        format!("service {}: <script file=\"{file}\"> becomes lsb:{base}; if the service now has a systemd unit use systemd:{base} instead", svc.name)
                    } else {
                        format!("service {}: <script file=\"{file}\"> becomes lsb:{base}: install the script as /etc/init.d/{base} on every node (or use a systemd unit)", svc.name)
                    };
                    self.note(Severity::Warning, Some(r.line), msg);
                    ("lsb", None, base, Vec::new(), vec![op("15s", "15s")])
                }
                ResourceKind::Other { tag } => {
                    self.note(
                        Severity::Warning,
                        Some(r.line),
                        format!("service {}: <{tag} name=\"{}\"> has no translation; left out of the group", svc.name, r.name),
                    );
                    return None;
                }
            };
        let base = format!("{}-{}", svc.name, r.name);
        let id = if self.ids.contains(&xml_id(&base)) {
            self.id(&format!("{}-{}-{}", svc.name, r.tag(), r.name))
        } else {
            self.id(&base)
        };
        Some(Primitive {
            id,
            class: class.into(),
            provider: provider.map(str::to_string),
            agent,
            params,
            meta: Vec::new(),
            ops,
        })
    }

    fn domain_locations(&mut self, dom: &FailoverDomain, rsc: &str) -> Vec<Location> {
        let mut out = Vec::new();
        for n in &dom.nodes {
            let score = if dom.ordered {
                match n.priority {
                    Some(p) => Score::from_value((101 - i64::from(p)) * 10_000),
                    None => Score::Value(500_000),
                }
            } else {
                Score::Infinity
            };
            let id = self.id(&format!("loc-{rsc}-{}", n.name));
            out.push(Location {
                id,
                rsc: rsc.to_string(),
                kind: LocationKind::Node {
                    node: n.name.clone(),
                    score,
                },
            });
        }
        if dom.ordered && dom.nodes.iter().any(|n| n.priority.is_none()) {
            self.note(
                Severity::Info,
                Some(dom.line),
                format!(
                    "failover domain {}: ordered nodes without priority get score 500000",
                    dom.name
                ),
            );
        }
        if dom.restricted {
            if dom.nodes.is_empty() {
                self.note(
                    Severity::Warning,
                    Some(dom.line),
                    format!("failover domain {}: restricted with no nodes; its services can run nowhere", dom.name),
                );
            }
            let id = self.id(&format!("loc-{rsc}-restricted"));
            out.push(Location {
                id,
                rsc: rsc.to_string(),
                kind: LocationKind::NotOn {
                    score: Score::MinusInfinity,
                    not_on: dom.nodes.iter().map(|n| n.name.clone()).collect(),
                },
            });
        }
        out
    }

    /// Warns when one global resource ends up in several services (several copies).
    fn shared_globals(&mut self) {
        let mut users: BTreeMap<(String, String), Vec<(String, u32)>> = BTreeMap::new();
        for s in &self.conf.services {
            for r in s.start_order() {
                if let Some(g) = &r.reference {
                    users
                        .entry((r.tag().to_string(), g.clone()))
                        .or_default()
                        .push((s.name.clone(), r.line));
                }
            }
        }
        for ((tag, name), list) in users {
            if list.len() > 1 {
                let names: Vec<&str> = list.iter().map(|(s, _)| s.as_str()).collect();
                self.note(
                    Severity::Warning,
                    Some(list[1].1),
                    format!("global <{tag} name=\"{name}\"> is used by services {}: each group gets its own copy, which can run on different nodes at once", names.join(", ")),
                );
            }
        }
    }

    fn exclusive(&mut self, groups: &[Group]) -> Vec<Colocation> {
        let mut out = Vec::new();
        let exclusive: Vec<&Service> = self.conf.services.iter().filter(|s| s.exclusive).collect();
        let mut done: HashSet<(String, String)> = HashSet::new();
        for svc in exclusive {
            let Some(g) = groups.iter().find(|g| g.service == svc.name) else {
                continue;
            };
            self.note(
                Severity::Info,
                Some(svc.line),
                format!("service {}: exclusive=\"1\" becomes -INFINITY colocations with every other service", svc.name),
            );
            for other in groups.iter().filter(|o| o.id != g.id) {
                let key = if other.id < g.id {
                    (other.id.clone(), g.id.clone())
                } else {
                    (g.id.clone(), other.id.clone())
                };
                if !done.insert(key) {
                    continue;
                }
                // The exclusive service is the dependent one: the others keep their preferred
                // nodes and it takes an empty node, or stays stopped as rgmanager would.
                let id = self.id(&format!("excl-{}-{}", g.id, other.id));
                out.push(Colocation {
                    id,
                    rsc: g.id.clone(),
                    with_rsc: other.id.clone(),
                    score: Score::MinusInfinity,
                });
            }
        }
        out
    }

    fn fencing(&mut self) -> (Vec<Primitive>, Vec<FencingLevel>) {
        let conf = self.conf;
        // (node, level index, device use) per device, in node order.
        let mut uses: BTreeMap<&str, Vec<(&ClusterNode, usize, &FenceDeviceUse)>> = BTreeMap::new();
        for n in &conf.nodes {
            for (i, m) in n.fence_methods.iter().enumerate() {
                for d in &m.devices {
                    uses.entry(d.name.as_str()).or_default().push((n, i, d));
                }
            }
        }
        let mut stonith = Vec::new();
        // (node, method index, device) → the stonith resource that fences it.
        let mut rsc_for: BTreeMap<(String, usize, String), String> = BTreeMap::new();
        for dev in &conf.fence_devices {
            let list = uses.get(dev.name.as_str()).cloned().unwrap_or_default();
            let base_params: Attrs = dev
                .attrs
                .iter()
                .map(|(k, v)| (fence_param(k).to_string(), v.clone()))
                .collect();
            if list.is_empty() {
                self.note(
                    Severity::Warning,
                    Some(dev.line),
                    format!(
                        "fence device {} is used by no node; created without a host list",
                        dev.name
                    ),
                );
            }
            let per_node_only_port = list
                .iter()
                .all(|(_, _, u)| u.attrs.iter().all(|(k, _)| k == "port" || k == "plug"));
            if per_node_only_port {
                let id = self.id(&dev.name);
                let mut params = base_params.clone();
                let mut hosts: Vec<&str> = Vec::new();
                let mut map: Vec<String> = Vec::new();
                for (n, i, u) in &list {
                    if !hosts.contains(&n.name.as_str()) {
                        hosts.push(&n.name);
                    }
                    if let Some((_, port)) = u.attrs.first() {
                        let entry = format!("{}:{port}", n.name);
                        if !map.contains(&entry) {
                            map.push(entry);
                        }
                    }
                    rsc_for.insert((n.name.clone(), *i, dev.name.clone()), id.clone());
                }
                if !hosts.is_empty() {
                    params.push(kv("pcmk_host_list", hosts.join(" ")));
                }
                if !map.is_empty() {
                    params.push(kv("pcmk_host_map", map.join(";")));
                }
                stonith.push(self.stonith_primitive(id, &dev.agent, params));
            } else {
                self.note(
                    Severity::Info,
                    Some(dev.line),
                    format!(
                        "fence device {} has per-node attributes: one stonith resource per node",
                        dev.name
                    ),
                );
                let mut made: BTreeMap<String, String> = BTreeMap::new();
                for (n, i, u) in &list {
                    let id = match made.get(&n.name) {
                        Some(id) => id.clone(),
                        None => {
                            let id = self.id(&format!("{}-{}", dev.name, n.name));
                            let mut params = base_params.clone();
                            for (k, v) in &u.attrs {
                                let k = fence_param(k);
                                match params.iter_mut().find(|(pk, _)| pk == k) {
                                    Some(slot) => slot.1 = v.clone(),
                                    None => params.push(kv(k, v.clone())),
                                }
                            }
                            params.push(kv("pcmk_host_list", n.name.clone()));
                            stonith.push(self.stonith_primitive(id.clone(), &dev.agent, params));
                            made.insert(n.name.clone(), id.clone());
                            id
                        }
                    };
                    rsc_for.insert((n.name.clone(), *i, dev.name.clone()), id);
                }
            }
        }
        for n in &conf.nodes {
            if n.fence_methods.iter().all(|m| m.devices.is_empty())
                && !conf.fence_devices.is_empty()
            {
                self.note(
                    Severity::Warning,
                    Some(n.line),
                    format!(
                        "node {} has no fence method; no device will be able to fence it",
                        n.name
                    ),
                );
            }
        }
        let needs_levels = conf.nodes.iter().any(|n| {
            n.fence_methods
                .iter()
                .filter(|m| !m.devices.is_empty())
                .count()
                > 1
                || n.fence_methods.iter().any(|m| m.devices.len() > 1)
        });
        let mut levels = Vec::new();
        if needs_levels {
            for n in &conf.nodes {
                let mut index = 0;
                for (i, m) in n.fence_methods.iter().enumerate() {
                    let mut devices: Vec<String> = Vec::new();
                    for d in &m.devices {
                        if let Some(r) = rsc_for.get(&(n.name.clone(), i, d.name.clone())) {
                            if !devices.contains(r) {
                                devices.push(r.clone());
                            }
                        }
                    }
                    if devices.is_empty() {
                        continue;
                    }
                    index += 1;
                    let id = self.id(&format!("fl-{}-{index}", n.name));
                    levels.push(FencingLevel {
                        id,
                        index,
                        target: n.name.clone(),
                        devices,
                    });
                }
            }
        }
        (stonith, levels)
    }

    fn stonith_primitive(&mut self, id: String, agent: &str, params: Attrs) -> Primitive {
        Primitive {
            id,
            class: "stonith".into(),
            provider: None,
            agent: agent.to_string(),
            params,
            meta: Vec::new(),
            ops: vec![op("60s", "20s")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_ncnames() {
        assert_eq!(xml_id("serv"), "serv");
        assert_eq!(xml_id("10.0.0.1/24"), "_10.0.0.1_24");
        assert_eq!(xml_id("a b:c"), "a_b_c");
        assert_eq!(xml_id(""), "_");
    }

    #[test]
    fn score_rule() {
        let s = |p: i64| Score::from_value((101 - p) * 10_000);
        assert_eq!(s(1), Score::Infinity);
        assert_eq!(s(2), Score::Value(990_000));
        assert_eq!(s(100), Score::Value(10_000));
    }
}
