//! The man page clvmd-rs(8), pinned like every other page.

use halvm_testkit::assert_golden;

#[test]
fn man_page_is_current() {
    let page = halvm_man::render(
        &clvmd_rs::cli(),
        "8",
        &[
            halvm_man::Section {
                title: "Locks",
                body: "clvmd-rs takes exactly the DLM locks lvmlockd takes, so a node running clvmd-rs and a node running stock lvm2 with lvmlockd -g dlm exclude each other. Lockspace lvm_<vg> for each shared VG (lock_type \"dlm\", lock_args \"1.0.0:<cluster>\", where the cluster must be the one in /sys/kernel/config/dlm/cluster/cluster_name) and lvm_global. Resources: GLLK in lvm_global (PV and VG name space), VGLK in lvm_<vg> (the VG's metadata; PR to read, EX to change), and each LV's UUID with dashes (its activation lock: EX for lvchange -aey, PR for -asy). A resource is first taken NL and then converted with NOQUEUE and PERSISTENT; GLLK and VGLK stay NL while their lockspace is started.

The lock value block of VGLK carries the VG seqno of the last commit (u16 version 0x0101, u16 flags, u32 r_version, little-endian), so a node knows its cached metadata is stale; GLLK's carries a counter bumped on every exclusive release.

Activation locks belong to the daemon, not to the command that asked for them: they stay after lvmeta exits, until the LV is deactivated. They are PERSISTENT DLM locks: if the daemon dies they stay in the kernel as orphans (the LV stays protected). A daemon that starts joins again, by itself, every lockspace lvm_* this node's DLM still has (listed in /sys/kernel/dlm), so without a lockstart the next deactivation (lvchange -an, LVM-activate's stop) or activation of such an LV adopts its orphan. As with lvm2, deactivation goes on without releasing a lock when no daemon runs or the VG's lockspace is not started here.

When the DLM refuses a lock, the daemon retries with backoff and tells the other daemons it waits (CPG); a node holding that lock lets the waiter through before admitting more of its own clients, so passing the lock between clients on one node cannot starve another node.",
            },
            halvm_man::Section {
                title: "Cluster",
                body: "Daemons join the corosync CPG group clvmd-rs and tell each other, in agreed order, which locks they hold, but only when another needs to know, so that an uncontended lvchange -aey, -asy or -an (and a command's VG or global lock) costs no multicast: a lock is told when another node waits for it, when a node refused it asks (a barrier every daemon answers after telling its untold locks), when a command's VG or global lock is held for over a second, after a membership change, and at once while a daemon from before this (CPG version below 2) is in the group. When a lock is refused, the answer names the node that holds it; a lock that no clvmd-rs node claims is reported as held by another host (not running clvmd-rs), i.e. a node with stock lvmlockd. clvmd-rs status and lvmeta lvs -o lv_active_nodes ask every daemon first, so they show the LV locks held on every node, contended or not.

Without quorum (corosync's), no lock for a change (VGLK or GLLK exclusive) and no new activation lock is granted.

A commit is announced when its VG lock is released: every node with LVs of the VG active reloads them from the new metadata. A commit that only adds LVs of their own (a new linear, striped, mirror or raid1 LV; not a snapshot or thin LV) changes no node's tables and is not announced: the other nodes learn its seqno from the lock value block with their next VG lock. A node that committed and died (or a command killed) before that release announces nothing, so: when a node leaves the group, every other node with LVs of a started shared VG active takes the VG lock shared (the DLM grants it once it recovered the dead node's locks), compares the seqno in its lock value block (or, when the DLM marked the block invalid because an exclusive holder died, the seqno on disk, read under the lock) with the one its tables come from, and reloads only if the disk is newer, and only tables that change. LVs whose I/O this node stopped after a leg failure (policy.detach = local) keep their error table, a VG frozen on quorum loss is checked after the thaw, and a VG this node left (policy.dg_failure = leave) is not checked. clvmd-rs status lists each such reload: refreshed VG/LV from seqno N after NODE left. When a command goes away holding a VG lock for a change, its daemon keeps the lock, reads the seqno on disk and releases the lock with it if it is newer, which announces the commit.",
            },
            halvm_man::Section {
                title: "Quorum loss",
                body: "A node that loses corosync quorum stops I/O to every active LV of each shared VG started here at once: policy.quorum_loss = \"freeze\" suspends the top-level devices (I/O queues in the kernel), \"fail-io\" swaps their tables for an error target. What was done is recorded in /run/clvmd-rs/fence/<vg>.json before the devices are touched. Local VGs are untouched.

The VG is thawed only when quorum returns and this node's membership was continuous while it was frozen. If a node left corosync's view and came back meanwhile (a partition merge: the majority recovered this node's DLM locks, and dlm_controld expels a node that merges back with lockspace state), if the connection to corosync is lost (the daemon then stays up and freezes every shared VG), or if the daemon is restarted while a VG is frozen, the VG is stranded: frozen for good, shown as stranded by clvmd-rs status with the reason, and LVM-activate's monitor fails for its LVs. Reboot the node; never resume such devices by hand. Nothing resumes a frozen device when the daemon exits.",
            },
            halvm_man::Section {
                title: "Metadata loss",
                body: "When a command committing a change to a shared VG (lvmeta, or this daemon's own leg detach) cannot write any metadata copy from this node (every metadata area's write or sync fails), the commit fails with exit 5 and \"no metadata copy could be written from this host\"; the VG is unchanged on disk (every committed copy is the old one, the precommitted copies are withdrawn). Still holding the VG lock, the command tells this daemon, which applies the metadata-loss policy: the VG's tag halvm_dgfail_dgdisable or halvm_dgfail_leave (lvmeta vgchange --dgfailpolicy), else halvm.toml's policy.dg_failure (default dgdisable). A commit whose second step (the metadata area headers that make the new copy the committed one) fails with an I/O error on every area wrote no copy either, and is reported the same way. A single failing copy among several is an ordinary write error: the policy is not applied. A node that cannot read any metadata copy of a shared VG while LVs of it are active here (every device behind the VG's metadata fails I/O) falls under the same policy the next time this daemon needs the metadata (a reload after a commit elsewhere, the check after a node left, a leg detach); the VG's own tag cannot be read then, so halvm.toml's policy.dg_failure applies. The daemon's own commit (a leg detach, policy.detach = global) is first carried by another node: the lowest other member of the daemons' group commits the same detach from its view of the disks and every node reloads the LV; only if that fails too (or no answer comes within 20 s) does the policy apply, and the LV's I/O stops on this node. A command's commit is carried too: the command, still holding the VG lock exclusively, hands its new metadata text (at most 256 KiB), the seqno it read and the VG UUID to this daemon, and the same node writes exactly that text as the next commit from its view of the disks, without taking the VG lock (the command holds it for it, so no other writer can come between), and only if the VG on its disks has that UUID and that seqno; otherwise it refuses. Written: the command succeeds, warning that node X carried the commit because this node could write no metadata copy, and its lock release announces the new seqno as after any commit. Refused, failed, no other node, or no answer within 20 s: the policy applies and the command fails as above. Only the metadata areas are written by the other node: a change that also rewrites PV labels (vgextend, vgreduce) still writes them from this node after the carried commit.

dgdisable: the daemon multicasts it over CPG and every daemon records the VG disabled (a daemon started later learns it from the others). From then on every node refuses the VG lock for a change (exit 5) with the VG's name, the node that lost the metadata, the error and the way back. Reads, activation and deactivation go on; active volumes keep serving I/O. clvmd-rs status lists the VG as DISABLED (JSON: disabled_vgs).

leave: only this node leaves the VG; the others keep it. Leaving its lockspace at once would drop the activation locks of LVs still active here while this node may still write to them, so instead the daemon refuses changes, new activations and a lockstart of that VG here, and reports every LV of the VG as failed to LVM-activate's monitor (the same report as a stopped mirror LV), so Pacemaker stops the resources here (deactivation is allowed) and starts them on another node. Once nothing of the VG is held here the daemon stops its lockspace by itself. clvmd-rs status shows the VG as LEFT by this node and whether its lockspace is still joined.

Recovery: fix the storage, then run clvmd-rs enable VG: for dgdisable on any node that reads the VG (it lifts the disable on every node), for leave on the node that left, followed by lvmeta vgchange --lockstart VG there. enable is refused while this node cannot read the VG's metadata. If the storage still fails writes, the next change fails again and the policy applies again.",
            },
            halvm_man::Section {
                title: "Socket",
                body: "The daemon binds its socket before it daemonizes, so once clvmd-rs has returned, clients can connect. The socket (mode 0600) serves root only: the peer credentials of each client are checked. Messages are length-prefixed frames (4-byte little-endian length, at most 64 KiB for a request) holding one JSON request or answer; the first request must be a hello with the protocol version. Anything else closes the connection.",
            },
            halvm_man::Section {
                title: "Signals",
                body: "SIGTERM, SIGINT and SIGHUP end the daemon. It leaves lvm_global first (waiting at most 10 s); VG lockspaces stay joined and activation locks stay as orphans for the next daemon to adopt; vgchange --lockstop leaves a VG lockspace.",
            },
            halvm_man::Section {
                title: "Exit status",
                body: "0 on success (for the daemon: started, or stopped by a signal); 1 when the daemon could not start (socket in use, no corosync, ...) or status could not reach it; 2 for a bad command line.",
            },
            halvm_man::Section {
                title: "Environment",
                body: "CLVMD_RS_SOCKET: the socket path, for the daemon and for its clients (lvmeta, the agents, clvmd-rs status).",
            },
            halvm_man::Section {
                title: "Files",
                body: "/run/clvmd-rs/clvmd-rs.sock, /run/clvmd-rs/clvmd-rs.pid, /run/clvmd-rs/fence/<vg>.json (the quorum fence's records), /sys/kernel/config/dlm/cluster/cluster_name.",
            },
            halvm_man::Section {
                title: "See also",
                body: "lvmeta(8), LVM-activate(7), lvmlockd(8), dlm_controld(8), corosync(8)",
            },
        ],
    );
    assert_golden(halvm_man::page_path("clvmd-rs", "8"), &page);
}
