//! Files the guests read at boot: the per-node init script, corosync.conf, dlm.conf, hosts.

use crate::host::{CLUSTER_NET, CONTROL_NET};
use crate::proto::AGENT_PORT;
use std::path::Path;

pub fn node_name(i: usize) -> String {
    format!("node{i}")
}
pub fn cluster_ip(i: usize) -> String {
    format!("{CLUSTER_NET}.{}", 10 + i)
}
pub fn control_ip(i: usize) -> String {
    format!("{CONTROL_NET}.{}", 10 + i)
}
pub fn cluster_mac(i: usize) -> String {
    format!("52:54:00:77:00:{i:02x}")
}
pub fn control_mac(i: usize) -> String {
    format!("52:54:00:78:00:{i:02x}")
}

pub fn corosync_conf(nodes: usize) -> String {
    let mut s = String::from(
        "totem {\n    version: 2\n    cluster_name: halvmlab\n    transport: knet\n    \
         crypto_cipher: none\n    crypto_hash: none\n    token: 5000\n}\n\nnodelist {\n",
    );
    for i in 1..=nodes {
        s.push_str(&format!(
            "    node {{\n        ring0_addr: {}\n        name: {}\n        nodeid: {i}\n    }}\n",
            cluster_ip(i),
            node_name(i)
        ));
    }
    s.push_str("}\n\nquorum {\n    provider: corosync_votequorum\n");
    if nodes == 2 {
        s.push_str("    two_node: 1\n");
    }
    s.push_str(
        "}\n\nlogging {\n    to_logfile: yes\n    logfile: /var/log/corosync/corosync.log\n    \
         to_syslog: no\n    to_stderr: no\n    timestamp: on\n}\n",
    );
    s
}

/// dlm.conf: TCP lowcomms; fencing through the lab's power service unless disabled.
pub fn dlm_conf(nodes: usize, fencing: bool) -> String {
    // post_join_delay: dlm_controld defers fencing until this long after a join (default 30 s);
    // lab scenarios kill nodes right after the cluster forms.
    let mut s = String::from("protocol=tcp\nenable_startup_fencing=0\npost_join_delay=5\n");
    if fencing {
        s.push_str("enable_fencing=1\n\n# action=off: a fenced node stays down until the lab restarts it.\ndevice lab /usr/sbin/fence_halvm_lab action=off\n");
        for i in 1..=nodes {
            s.push_str(&format!("connect lab node={i} port={}\n", node_name(i)));
        }
    } else {
        s.push_str("enable_fencing=0\n");
    }
    s
}

pub fn hosts(nodes: usize) -> String {
    let mut s = String::from("127.0.0.1 localhost\n");
    for i in 1..=nodes {
        s.push_str(&format!("{} {}\n", cluster_ip(i), node_name(i)));
    }
    s
}

/// The per-node init (run by /bin/sh as PID 1 after switch_root).
/// Which daemons a node starts at boot, like a real machine's init would, so a node that is
/// restarted (by the lab or by a fence `reboot`/`on`) rejoins the cluster by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stack {
    pub cluster: bool,
    pub pacemaker: bool,
}

impl Stack {
    fn script(self) -> String {
        if !self.cluster {
            return "# no cluster stack\n".into();
        }
        // corosync's parent returns before its IPC serves, and dlm_controld exits when it cannot
        // connect: wait (bounded, boot only) until corosync-cfgtool gets an answer.
        let mut s = String::from(
            "# Cluster stack in the background, so the agent answers at once.\n\
             ( corosync || echo \"halvm-lab: corosync failed\"\n\
             \x20 n=0; until corosync-cfgtool -s >/dev/null 2>&1 || [ $n -ge 300 ]; do n=$((n+1)); sleep 0.2; done\n\
             \x20 dlm_controld || echo \"halvm-lab: dlm_controld failed\"\n",
        );
        if self.pacemaker {
            s.push_str("  exec pacemakerd\n");
        }
        s.push_str(") </dev/null >>/var/log/halvm-lab/stack.log 2>&1 &\n");
        s
    }
}

pub fn node_init(
    i: usize,
    lab_dir: &Path,
    kernel_root: &Path,
    kernel_version: &str,
    stack: Stack,
) -> String {
    let lab = lab_dir.display();
    let kroot = kernel_root.display();
    let name = node_name(i);
    format!(
        r#"#!/bin/sh
# halvm lab: per-node init for {name} (generated)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DM_DISABLE_UDEV=1
export HOME=/root
LAB={lab}
echo "halvm-lab: {name} init"
# Fresh private state, never the host's.
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/shm /dev/pts /run/lock /run/lvm /run/dlm /run/corosync /run/crm /run/pacemaker
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts
for d in /var/lib/corosync /var/lib/pacemaker /var/log /var/lib/dlm /var/lib/pcsd /var/cache/lvm /etc/lvm/archive /etc/lvm/backup; do
    mkdir -p $d && mount -t tmpfs -o mode=0755 tmpfs $d
done
mkdir -p /var/log/corosync /var/log/pacemaker /var/log/halvm-lab /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker 2>/dev/null
# libdlm and dlm_controld open /dev/misc/<name>; devtmpfs makes /dev/<name>.
ln -s /dev /dev/misc
# The guest kernel's modules, from the host's cache.
mkdir -p /lib/modules && rm -rf /lib/modules/{kernel_version}
ln -s {kroot}/lib/modules/{kernel_version} /lib/modules/{kernel_version}
modprobe -a virtio_blk virtio_net dm-mod dm-mirror dm-raid dlm || echo "halvm-lab: modprobe failed"
mount -t configfs none /sys/kernel/config
hostname {name}
echo {name} > /etc/hostname
cp $LAB/etc/hosts /etc/hosts
mkdir -p /etc/corosync /etc/dlm
cp $LAB/etc/corosync.conf /etc/corosync/corosync.conf
cp $LAB/etc/dlm.conf /etc/dlm/dlm.conf
# A key only when the lab was given a corosync.conf (its crypto may need one).
if [ -f $LAB/etc/authkey ]; then install -m 0400 $LAB/etc/authkey /etc/corosync/authkey; else rm -f /etc/corosync/authkey; fi
ln -sf $LAB/bin/fence_halvm_lab /usr/sbin/fence_halvm_lab
ln -sf $LAB/bin/halvm-dlm-probe /usr/local/bin/halvm-dlm-probe
ln -sf $LAB/bin/halvm-lab-agent /usr/local/bin/halvm-lab-agent
# Disks: no udev, so make the by-id links ourselves (virtio-<serial>).
mkdir -p /dev/disk/by-id
for b in /sys/block/vd*; do
    s=$(cat $b/serial 2>/dev/null)
    [ -n "$s" ] && ln -sf ../../${{b##*/}} /dev/disk/by-id/virtio-$s
done
# Network: find interfaces by MAC (no udev naming).
ip link set lo up
for n in /sys/class/net/*; do
    case "$(cat $n/address)" in
    {cmac}) ip addr add {cip}/24 dev ${{n##*/}}; ip link set ${{n##*/}} up ;;
    {kmac}) ip addr add {kip}/24 dev ${{n##*/}}; ip link set ${{n##*/}} up ;;
    esac
done
{stack}echo "halvm-lab: {name} up, starting agent"
exec $LAB/bin/halvm-lab-agent init --port {AGENT_PORT}
"#,
        cmac = control_mac(i),
        cip = control_ip(i),
        kmac = cluster_mac(i),
        kip = cluster_ip(i),
        stack = stack.script(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corosync_two_node_only_for_two() {
        assert!(corosync_conf(2).contains("two_node: 1"));
        assert!(!corosync_conf(3).contains("two_node"));
        assert!(corosync_conf(3).contains("ring0_addr: 10.77.0.13"));
        assert!(corosync_conf(3).contains("token: 5000"));
    }

    #[test]
    fn init_starts_the_configured_stack() {
        let dir = Path::new("/var/tmp/halvm-lab/x");
        let bare = node_init(
            1,
            dir,
            dir,
            "6.1",
            Stack {
                cluster: false,
                pacemaker: false,
            },
        );
        assert!(!bare.contains("corosync ||"));
        let full = node_init(
            2,
            dir,
            dir,
            "6.1",
            Stack {
                cluster: true,
                pacemaker: true,
            },
        );
        let (c, d, p) = (
            full.find("corosync ||").unwrap(),
            full.find("dlm_controld ||").unwrap(),
            full.find("exec pacemakerd").unwrap(),
        );
        assert!(
            c < d && d < p,
            "corosync, then dlm_controld, then pacemakerd"
        );
        assert!(full.contains("hostname node2"));
        assert!(full.contains("ip addr add 10.78.0.12/24"));
    }

    #[test]
    fn dlm_conf_fencing_devices() {
        let c = dlm_conf(2, true);
        assert!(c.contains("connect lab node=2 port=node2"));
        assert!(c.contains("protocol=tcp"));
        assert!(dlm_conf(2, false).contains("enable_fencing=0"));
    }
}
