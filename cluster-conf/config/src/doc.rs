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
        values: &[],
        description: "Which block devices may hold physical volumes, in lvm.conf devices/filter syntax. Each entry is \"a\" (accept) or \"r\" (reject), a separator character, a regular expression and the same separator again (\"(\", \"[\" and \"{\" close with \")\", \"]\" and \"}\"), for example \"a|^/dev/sd[b-d]$|\" or \"r|.*|\". The regex is everything between the first separator and the last character. The first entry whose regex matches the device path decides; a device no entry matches is accepted, so the empty default accepts every device. Each entry is checked when the file is loaded: a bad action letter, a missing closing separator or an invalid regex is an error naming the entry as devices.filter[N].",
    },
    KeyDoc {
        section: "devices",
        key: "scan",
        kind: "array of strings",
        default: "[\"/dev\"]",
        values: &[],
        description: "Absolute paths or shell globs (for example \"/dev/disk/by-id/wwn-*\") searched for physical volume labels. Relative paths are rejected.",
    },
    KeyDoc {
        section: "locking",
        key: "lock_dir",
        kind: "string",
        default: "\"/run/lock/halvm\"",
        values: &[],
        description: "Absolute path of the directory holding the flock(2) lock files used by local locking.",
    },
    KeyDoc {
        section: "locking",
        key: "lock_manager",
        kind: "string",
        default: "\"local\"",
        values: &[
            ("local", "flock(2) on files in lock_dir; needs no daemon; for volume groups used by one node at a time"),
            ("dlm", "DLM locks held by clvmd-rs, compatible with lvmlockd; required for shared volume groups"),
        ],
        description: "Which lock manager protects volume group metadata updates and activation.",
    },
    KeyDoc {
        section: "activation",
        key: "default_mode",
        kind: "string",
        default: "\"off\"",
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
        values: &[],
        description: "Which logical volumes lvmeta activates, as lvm.conf activation/volume_list: each entry is a VG name (\"vg\"), an LV (\"vg/lv\"), \"@tag\" (an LV or VG tag) or \"@*\"; an LV matching no entry is not activated (lvchange -ay fails saying so). When set, an empty list activates nothing. The lvmeta flag --volume-list overrides it.",
    },
    KeyDoc {
        section: "policy",
        key: "detach",
        kind: "string",
        default: "\"global\"",
        values: &[
            ("global", "an I/O error to one mirror leg detaches that leg on every node"),
            ("local", "only the node that saw the error stops I/O to the volume; the leg stays attached where it still works"),
        ],
        description: "Disk detach policy for mirrored volumes in shared volume groups.",
    },
    KeyDoc {
        section: "policy",
        key: "dg_failure",
        kind: "string",
        default: "\"dgdisable\"",
        values: &[
            ("dgdisable", "the volume group is disabled cluster-wide"),
            ("leave", "the committing node leaves the cluster and the others keep the volume group"),
        ],
        description: "Volume group failure policy: what happens when the node that commits metadata loses access to every metadata copy.",
    },
    KeyDoc {
        section: "policy",
        key: "quorum_loss",
        kind: "string",
        default: "\"freeze\"",
        values: &[
            ("freeze", "suspend I/O to shared volumes and resume it when quorum returns"),
            ("stop", "deactivate shared volumes; I/O in flight fails"),
            ("suicide", "reboot the node at once (self-fencing)"),
        ],
        description: "What a node does with shared volumes when it loses quorum. Whatever the policy, metadata is never changed without quorum. The names follow Pacemaker's no-quorum-policy; \"ignore\" is deliberately not offered because it lets a partitioned node write to shared storage.",
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
    t.push_str(&roff_escape("Every section and key is optional. An unknown section or key, a value of the wrong type or a keyword not listed below is an error that names the dotted key (for example policy.detach) and the line of the file."));
    t.push('\n');
    let mut section = "";
    for k in KEYS {
        if k.section != section {
            section = k.section;
            t.push_str(&format!(".SH SECTION [{}]\n", roff_escape(section)));
        }
        t.push_str(&format!(
            ".TP\n\\fB{}\\fR = \\fI{}\\fR (default: {})\n{}\n",
            roff_escape(k.key),
            roff_escape(k.kind),
            roff_escape(k.default),
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
lock_dir = "/run/lock/halvm"
lock_manager = "dlm"

[activation]
default_mode = "exclusive-write"
volume_list = ["vg_ha", "@site_a"]

[policy]
detach = "global"
dg_failure = "dgdisable"
quorum_loss = "freeze"
"#;
