//! The LVM-activate definition: resource-agents' parameters, values and action timings.

use halvm_ocf::{AgentDefinition, ParamDef, ParamType, STANDARD_ACTIONS};

pub const ACCESS_MODES: &[&str] = &["lvmlockd", "clvmd", "system_id", "tagging"];
/// VxVM's modes by their short names only: a refusal listing the long ones too would pass
/// Pacemaker's 128-character exit reason.
pub const ACTIVATION_MODES: &[&str] = &["exclusive", "shared", "ew", "ro", "sr", "sw"];

/// Monitor depths: 0 device-mapper state, 10 one O_DIRECT block of each LV, 20 one block of
/// every segment of every LV.
pub const CHECK_LEVELS: &[u32] = &[0, 10, 20];

const LONGDESC: &str = "\
This agent activates and deactivates the logical volumes of a volume group on the node the \
cluster chooses, and guards the volume group against being used by two nodes at once. It is \
a drop-in replacement for resource-agents' LVM-activate: the parameters and their values are \
the same, so migrating is a change of provider (ocf:heartbeat:LVM-activate to \
ocf:halvm:LVM-activate).

The vg_access_mode parameter selects the protection:

* system_id: the volume group's LVM system ID names its owner. Start claims an unowned \
(or released) volume group, or takes it over from another cluster node: one that left the \
cluster (and was fenced), or a live member when Pacemaker runs the start, since Pacemaker \
starts the resource here only once every other node reported it stopped (the usual case: a \
volume group made on one node, then put under Pacemaker); run by hand, it refuses a live \
owner. It refuses an owner that is not a cluster node. Stop deactivates and marks the volume group \
released. System IDs must be the cluster node names: a host's system ID comes from lvm.conf's \
system_id_source as for lvm2 (\"uname\": the host name), or from $HALVM_SYSTEM_ID; lvmeta \
derives it the same way.

* tagging: the volume group carries the tag given by the tag parameter and a tag \
\"<tag>:<node>\" naming the owner, with the same takeover rules.

* lvmlockd: a shared volume group (lock_type dlm, made with lvmeta vgcreate --shared or \
lvm2's vgcreate --shared) under the cluster lock daemon clvmd-rs, which takes the same DLM \
locks as lvmlockd. Start lock-starts the volume group on this node (vgchange --lockstart) \
and activates each LV under its LV lock: exclusive (-aey) with activation_mode=exclusive, \
shared (-asy) with activation_mode=shared, or in one of VxVM's activation modes with \
activation_mode=ew|ro|sr|sw (VxVM's exclusive-write, read-only, shared-read and shared-write; halvm \
only, as lvmeta vgchange -a ew|ro|sr|sw): start first takes the volume group's mode on this \
node, which the cluster allows by VxVM's table (sr goes beside every mode, ew beside sr \
only, ro beside ro and sr, sw beside sw and sr), then activates each LV \
under the LV lock of that mode (ew PW, ro and sw PR, sr CR), ro and sr with read-only \
tables, so the kernel refuses writes. A lock another node holds refuses the start at once \
(exit 1), naming the node that holds it. Stop deactivates, which releases the LV \
locks, and lock-stops the volume group once none of its LVs is active here. The daemon must \
run on this node (the ocf:halvm:clvmd clone, ordered before this resource): without it start \
fails with exit 1, as resource-agents' agent does without lvmlockd, and probes report 7; \
halvm.toml must set lock_manager = \"dlm\" (else exit 2).

* clvmd: the same as lvmlockd on this stack (clvmd-rs replaces lvm 2.02's clvmd). A volume \
group still flagged CLUSTERED by lvm 2.02 is refused (exit 6) with the command that \
converts it: lvmeta vgchange --locktype dlm <vg>.

Volume groups are read and changed in-process (no lvm2 commands, no udev): metadata through \
lvmeta with the device filter, scan list, lock directory, system ID and activation \
volume_list of lvm.conf ($LVM_SYSTEM_DIR) and /etc/halvm/halvm.toml ($HALVM_CONFIG), built as \
lvmeta builds them; in tagging mode the tag passes volume_list (as resource-agents' agent \
passes it); devices through device-mapper ioctls.

Missing physical volumes: start refuses to change ownership unless majority_pvs is set \
(system_id) and more than half of the PVs are present; the new system ID is then written \
to the present PVs only (as vgchange --majoritypvs), and a PV that returns carries stale \
metadata until lvmeta vgck --updatemetadata rewrites it; a logical volume with data on a \
missing PV is activated only with degraded_activation (RAID/mirror legs lost, data \
complete) or partial_activation.

Monitor reports 0 when the volumes are active, 7 when they are cleanly stopped or were \
never started, and an error when they should be active and are not, or when the volume \
group has vanished; 190 (degraded) when an active volume lost redundancy. With \
vg_access_mode lvmlockd or clvmd, a suspended volume makes monitor ask clvmd-rs (at most \
5 s, before any read): an error when clvmd-rs stranded its volume group (I/O frozen for good \
after a partition merge or the loss of the cluster stack; the node must be rebooted), or \
left a quorum-fence record under /run/clvmd-rs/fence and no longer answers.

Option: OCF_CHECK_LEVEL

  0: device-mapper state of every managed LV
  10: also read one block of each managed LV with O_DIRECT
  20: also read one block of every segment of every managed LV";

pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        required: true,
        longdesc: "The volume group name.",
        ..ParamDef::new("vgname", ParamType::String, "The volume group name")
    },
    ParamDef {
        longdesc: "If set, only the specified LV will be activated; otherwise every LV of the volume group.",
        ..ParamDef::new("lvname", ParamType::String, "Only activate the given LV")
    },
    ParamDef {
        required: true,
        allowed: Some(ACCESS_MODES),
        longdesc: "This option decides which solution will be used to protect the volume group in cluster environment. Optional solutions are: lvmlockd, clvmd, system_id and tagging.",
        ..ParamDef::new("vg_access_mode", ParamType::String, "The VG access mode")
    },
    ParamDef {
        default: Some("exclusive"),
        allowed: Some(ACTIVATION_MODES),
        longdesc: "The activation mode decides the visibility of logical volumes in the cluster. There are two different modes: \"shared\" for cluster filesystem and \"exclusive\" for local filesystem. With \"shared\", an LV can be activated concurrently from multiple nodes. With \"exclusive\", an LV can be activated by one node at a time.\n\nhalvm adds VxVM's activation modes of the volume group (lvmeta vgchange -a): \"ew\" (exclusive-write: other nodes may hold only sr), \"ro\" (read-only, beside ro and sr), \"sr\" (shared-read, beside every mode), \"sw\" (shared-write, beside sw and sr). ro and sr activate read-only. All resources of one volume group on a node should use the same mode (the mode is the volume group's, per node).\n\nThis option only has effect on \"lvmlockd\"/\"clvmd\" vg_access_mode; every value but \"exclusive\" is refused with \"system_id\" and \"tagging\", which always mean exclusive activation.",
        ..ParamDef::new("activation_mode", ParamType::String, "Logical volume activation mode")
    },
    ParamDef {
        default: Some("pacemaker"),
        longdesc: "The tag used for tagging activation mode. Setting it with another vg_access_mode is refused.",
        ..ParamDef::new("tag", ParamType::String, "The tag used for tagging activation mode")
    },
    ParamDef {
        default: Some("false"),
        longdesc: "If set, the volume group will be activated partially even with some physical volumes missing. It helps to set to true when using mirrored logical volumes.",
        ..ParamDef::new("partial_activation", ParamType::Boolean, "Activate VG partially when missing PVs")
    },
    ParamDef {
        default: Some("false"),
        longdesc: "Activate RAID LVs using the \"degraded\" activation mode. This allows RAID LVs to be activated with missing PVs if all data can be provided with RAID redundancy. The RAID level determines the number of PVs that are required for degraded activation to succeed. If fewer PVs are available, then degraded activation will fail. Also enable majority_pvs.",
        ..ParamDef::new("degraded_activation", ParamType::Boolean, "Activate RAID LVs in degraded mode when missing PVs")
    },
    ParamDef {
        default: Some("false"),
        longdesc: "If set, the VG system ID can be reassigned to a new host if a majority of PVs in the VG are present. Otherwise, VG failover with system ID will fail when the VG is missing PVs. Also enable degraded_activation when RAID LVs are used. Only with vg_access_mode=system_id.",
        ..ParamDef::new("majority_pvs", ParamType::Boolean, "Allow changing the system ID of a VG with a majority of PVs")
    },
];

pub static DEFINITION: AgentDefinition = AgentDefinition {
    name: "LVM-activate",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "This agent activates/deactivates logical volumes.",
    longdesc: LONGDESC,
    params: PARAMS,
    actions: STANDARD_ACTIONS,
    check_levels: CHECK_LEVELS,
};
