//! The key table: the parser's list of known keys and the source of `halvm.toml(5)`.

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub section: &'static str,
    pub key: &'static str,
    /// The TOML type, as the man page shows it.
    pub kind: &'static str,
    /// The default, as it would be written in the file.
    pub default: &'static str,
    /// The lvm.conf key (`devices/filter`) whose value applies when this key is absent.
    pub lvm_key: Option<&'static str>,
    /// Allowed keywords with a one-line meaning (empty for free-form values).
    pub values: &'static [(&'static str, &'static str)],
    pub description: &'static str,
}

/// Every key the configuration knows, in file order.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        section: "devices",
        key: "filter",
        kind: "array of strings",
        default: "[]",
        lvm_key: Some("devices/filter"),
        values: &[],
        description: "Which block devices may hold physical volumes, in lvm.conf devices/filter syntax. Each entry is \"a\" (accept) or \"r\" (reject), a separator character, a regular expression and the same separator again (\"(\", \"[\" and \"{\" close with \")\", \"]\" and \"}\"), for example \"a|^/dev/sd[b-d]$|\" or \"r|.*|\". The regex is everything between the first separator and the last character. The first entry whose regex matches the device path decides; a device no entry matches is accepted, so an empty list accepts every device. When this key is absent, lvm.conf's devices/filter applies (and lvm.conf's devices/global_filter always applies first, as in lvm2); when it is set, it replaces lvm.conf's devices/filter. Each entry is checked when the file is loaded: a bad action letter, a missing closing separator or an invalid regex is an error naming the entry as devices.filter[N].",
    },
    KeyDoc {
        section: "devices",
        key: "scan",
        kind: "array of strings",
        default: "[\"/dev\"]",
        lvm_key: Some("devices/scan"),
        values: &[],
        description: "Absolute paths or shell globs (for example \"/dev/disk/by-id/wwn-*\") searched for physical volume labels, besides the block devices the kernel lists in /proc/partitions (\"/dev\" itself adds nothing to those). Relative paths are rejected. When set, it replaces lvm.conf's devices/scan.",
    },
    KeyDoc {
        section: "locking",
        key: "lock_dir",
        kind: "string",
        default: "\"/run/lock/lvm\"",
        lvm_key: Some("global/locking_dir"),
        values: &[],
        description: "Absolute path of the directory holding the flock(2) lock files used by local locking. The files are lvm2's (V_<vg> per volume group, P_global for the PV and VG name space) with lvm2's protocol, so by default lvm2 and halvm tools on one host exclude each other; set this only to separate them on purpose. When set, it replaces lvm.conf's global/locking_dir; the lvmeta flag --lock-dir overrides both.",
    },
    KeyDoc {
        section: "locking",
        key: "lock_manager",
        kind: "string",
        default: "\"local\"",
        lvm_key: None,
        values: &[
            ("local", "flock(2) on files in lock_dir; needs no daemon; for volume groups used by one node at a time"),
            ("dlm", "DLM locks held by clvmd-rs, compatible with lvmlockd; required for shared volume groups. The tools take these locks through the clvmd-rs daemon (never falling back to flock): without a running daemon a command fails at its first cluster lock, naming clvmd-rs"),
        ],
        description: "Which lock manager protects volume group metadata updates and activation.",
    },
    KeyDoc {
        section: "activation",
        key: "default_mode",
        kind: "string",
        default: "\"off\"",
        lvm_key: None,
        values: &[
            ("exclusive-write", "(ew) this node writes; no other node may activate for writing or read-only"),
            ("read-only", "(ro) this node reads and no node may activate for writing"),
            ("shared-read", "(sr) this node reads; other nodes may write"),
            ("shared-write", "(sw) this node writes; other nodes may also write or share-read"),
            ("off", "not activated; queries only"),
        ],
        description: "Activation mode for shared volume groups when they are imported or a node joins, as VxVM's /etc/default/vxdg default_activation_mode. Activation fails when another node holds a conflicting mode: with the mode held elsewhere first and the mode asked for second, ew conflicts with ew, ro and sw; ro conflicts with ew and sw; sw conflicts with ew and ro; sr conflicts with nothing, and off never conflicts. Keep the value identical on every node.",
    },
    KeyDoc {
        section: "activation",
        key: "volume_list",
        kind: "array of strings",
        default: "unset (every LV may be activated)",
        lvm_key: Some("activation/volume_list"),
        values: &[],
        description: "Which logical volumes lvmeta activates, as lvm.conf activation/volume_list: each entry is a VG name (\"vg\"), an LV (\"vg/lv\"), \"@tag\" (an LV or VG tag) or \"@*\"; an LV matching no entry is not activated (lvchange -ay fails saying so). When set, an empty list activates nothing. When set, it replaces lvm.conf's activation/volume_list; the lvmeta flag --volume-list overrides both.",
    },
    KeyDoc {
        section: "policy",
        key: "detach",
        kind: "string",
        default: "\"global\"",
        lvm_key: None,
        values: &[
            ("global", "the leg is detached on every node: the daemon of the node that saw the failure commits what lvm2's lvconvert --repair leaves with mirror_image_fault_policy = \"remove\" (the failed images removed, a mirror left with one image linear, the PVs that node cannot see flagged MISSING) under the VG lock, every node with the LV active reloads it without the leg, and the writes the mirror held go on to the remaining legs (clvmd-rs status: failed_lvs, action \"detached\"). If that commit fails (no quorum, the VG lock held too long), the node stops I/O as with local. The PV stays MISSING until vgextend --restoremissing (or vgreduce --removemissing)"),
            ("local", "the node that saw the failure stops I/O to the volume: clvmd-rs suspends it without flushing, loads an error target of the same size and resumes it, so held and new I/O fails with EIO, and lists it in clvmd-rs status (failed_lvs, action \"stopped\") for the resource agent's monitor; the other nodes keep both legs. Deactivating the LV on that node clears the report"),
        ],
        description: "Disk detach policy for mirror and raid1 volumes in shared volume groups (VxVM's diskdetpolicy), the default for every VG that does not set its own: a VG tag halvm_detach_global or halvm_detach_local (lvmeta vgchange --detachpolicy global|local VG) wins, so all nodes apply the VG's policy whatever their halvm.toml says. clvmd-rs plays dmeventd's part: it reads the device-mapper status of every LV active on this node once a second and acts on a leg whose health is not A (mirror) or is D (raid1).",
    },
    KeyDoc {
        section: "policy",
        key: "dg_failure",
        kind: "string",
        default: "\"dgdisable\"",
        lvm_key: None,
        values: &[
            ("dgdisable", "the volume group is disabled cluster-wide: the committing node's clvmd-rs multicasts it, and from then on every node refuses the VG lock for a change (exit 5, naming the VG, the node that lost the metadata and the recovery: clvmd-rs enable VG once the storage is back); reads, activation and deactivation go on, active volumes keep serving I/O, clvmd-rs status lists the VG under disabled_vgs"),
            ("leave", "only the committing node leaves the volume group: its clvmd-rs refuses changes and new activations there, reports every LV of the VG active there as failed to the resource agents' monitor (so Pacemaker stops them there and starts them on other nodes) and stops the VG's lockspace once no LV of it is active there; the other nodes keep the volume group. clvmd-rs enable VG and a lockstart bring the node back"),
        ],
        description: "Volume group failure policy (VxVM's dgfailpolicy): what happens when the node that commits a change to a shared VG cannot write any metadata copy (every metadata area's write or sync fails from that node). The commit fails first, with nothing half-written. The default for every VG that does not set its own: a VG tag halvm_dgfail_dgdisable or halvm_dgfail_leave (lvmeta vgchange --dgfailpolicy dgdisable|leave VG) wins.",
    },
    KeyDoc {
        section: "policy",
        key: "quorum_loss",
        kind: "string",
        default: "\"freeze\"",
        lvm_key: None,
        values: &[
            ("freeze", "clvmd-rs suspends every active LV of every shared VG on this node (a flushing device-mapper suspend of each top-level device: I/O already sent completes, new I/O queues in the kernel and nothing reaches the disks); when quorum returns it resumes them and the queued I/O proceeds. What it froze is recorded in /run/clvmd-rs/fence/<vg>.json; a device some other operation had suspended already is left alone"),
            ("fail-io", "clvmd-rs replaces the table of every active LV of every shared VG on this node by an error target of the same size (suspend, load, resume: I/O already sent completes, every later request fails with EIO, so applications fail at once instead of hanging); the original tables are kept in /run/clvmd-rs/fence/<vg>.json and loaded back (suspend, load, resume) when quorum returns"),
        ],
        description: "What a node does with shared volumes when it loses corosync quorum (EVMS): the daemon acts as soon as corosync reports the loss, whether or not Pacemaker fences the node, and undoes it when quorum returns. Local (non-shared) VGs are never touched. Whatever the policy, metadata is never changed without quorum and no LV is activated. A daemon restarted while volumes are frozen resumes them only once quorum holds. Pacemaker's no-quorum-policy=ignore has no counterpart: it would let a partitioned node write to shared storage.",
    },
];

fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// The `halvm.toml(5)` page, generated from [`KEYS`].
pub fn man_page() -> String {
    let mut t = String::new();
    t.push_str(".TH halvm.toml 5 \"\" \"halvm\" \"File Formats\"\n");
    t.push_str(
        ".SH NAME\nhalvm.toml \\- configuration of the halvm shared-storage volume manager\n",
    );
    t.push_str(".SH SYNOPSIS\n.B /etc/halvm/halvm.toml\n");
    t.push_str(".SH DESCRIPTION\n");
    t.push_str(&roff_escape("The halvm tools (lvmeta, clvmd-rs, the OCF agents, cluster-conf) read one TOML file. Its path is, in order: the command's configuration flag, the environment variable HALVM_CONFIG, then /etc/halvm/halvm.toml. A missing /etc/halvm/halvm.toml means every key has its default; a missing file named by the flag or by HALVM_CONFIG is an error."));
    t.push_str("\n.PP\n");
    t.push_str(&roff_escape("halvm also reads lvm2's own configuration, lvm.conf and lvmlocal.conf in $LVM_SYSTEM_DIR (default /etc/lvm), for the keys an HA-LVM node already has: devices/filter, devices/global_filter, devices/scan, global/locking_dir, global/prioritise_write_locks, global/system_id_source (none, uname, lvmlocal with local/system_id, machineid, file with global/system_id_file) and activation/volume_list. A key of this file that is set wins over the lvm.conf key it names below; a key left out here takes lvm.conf's value, so a node migrated from lvm2 needs no halvm.toml at all. The system ID comes from lvm.conf only (the environment variable HALVM_SYSTEM_ID overrides it); lvmeta, the agents and clvmd-rs build their environment the same way and so agree on it."));
    t.push_str("\n.PP\n");
    t.push_str(&roff_escape("Every section and key is optional. An unknown section or key, a value of the wrong type or a keyword not listed below is an error that names the dotted key (for example policy.detach) and the line of the file."));
    t.push('\n');
    let mut section = "";
    for k in KEYS {
        if k.section != section {
            section = k.section;
            t.push_str(&format!(".SH SECTION [{}]\n", roff_escape(section)));
        }
        let default = match k.lvm_key {
            Some(lvm) => format!("lvm.conf {lvm}, else {}", k.default),
            None => k.default.to_string(),
        };
        t.push_str(&format!(
            ".TP\n\\fB{}\\fR = \\fI{}\\fR (default: {})\n{}\n",
            roff_escape(k.key),
            roff_escape(k.kind),
            roff_escape(&default),
            roff_escape(k.description)
        ));
        for (v, meaning) in k.values {
            t.push_str(&format!(
                ".RS\n.TP\n\\fB\"{}\"\\fR\n{}\n.RE\n",
                roff_escape(v),
                roff_escape(meaning)
            ));
        }
    }
    t.push_str(".SH EXAMPLE\n.nf\n");
    for line in EXAMPLE.lines() {
        t.push_str(&roff_escape(line));
        t.push('\n');
    }
    t.push_str(".fi\n");
    t.push_str(".SH SEE ALSO\n.BR lvmeta (8),\n.BR cluster\\-conf (8),\n.BR lvm.conf (5)\n");
    t
}

/// A complete example (also parsed by a test, so it stays valid).
pub const EXAMPLE: &str = r#"[devices]
filter = ["a|^/dev/mapper/mpath[a-z]+$|", "r|.*|"]
scan = ["/dev/mapper"]

[locking]
lock_dir = "/run/lock/lvm"
lock_manager = "dlm"

[activation]
default_mode = "exclusive-write"
volume_list = ["vg_ha", "@site_a"]

[policy]
detach = "global"
dg_failure = "dgdisable"
quorum_loss = "freeze"
"#;
