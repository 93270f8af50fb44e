#!/usr/bin/env bash
# Captures real `crm_node -l/-p/-n` output from a live Corosync+Pacemaker, for the
# Membership parser tests. Runs a 2-node-config cluster with only node1 up (node2 stays
# "lost"), isolated in private mount, network and PID namespaces (everything it starts
# dies with the namespace), and writes the outputs beside this script.
#   sudo agents/lvm-activate/tests/captured/capture-crm-node.sh
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "needs root (namespaces)" >&2; exit 1; }
exec unshare --mount --net --pid --fork --mount-proc bash -euo pipefail -c '
out="$1"
ip link set lo up
# node1 on the loopback of this private namespace; the address of node2 exists nowhere.
ip addr add 10.99.0.1/32 dev lo
for d in /etc/corosync /var/lib/corosync /run /dev/shm /var/lib/pacemaker /var/log/pacemaker /var/log/cluster; do
  mkdir -p "$d"; mount -t tmpfs tmpfs "$d"
done
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores /run/crm /run/pacemaker
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker /run/crm /run/pacemaker
cat > /etc/corosync/corosync.conf <<CONF
totem {
  version: 2
  cluster_name: halvmcap
  transport: knet
  crypto_cipher: none
  crypto_hash: none
}
nodelist {
  node {
    ring0_addr: 10.99.0.1
    name: node1
    nodeid: 1
  }
  node {
    ring0_addr: 10.99.0.2
    name: node2
    nodeid: 2
  }
}
quorum {
  provider: corosync_votequorum
}
logging {
  to_stderr: no
  to_syslog: no
  to_logfile: yes
  logfile: /var/log/cluster/corosync.log
}
CONF
corosync -f >/dev/null 2>&1 &
sleep 3
PCMK_logfile=/var/log/pacemaker/pacemaker.log pacemakerd -f >/dev/null 2>&1 &
for i in $(seq 1 60); do
  if crm_node -l >/dev/null 2>&1 && [ -n "$(crm_node -l)" ]; then break; fi
  sleep 1
done
sleep 5
crm_node -l > "$out/crm_node-l.txt" || true
crm_node -p > "$out/crm_node-p.txt" || true
crm_node -n > "$out/crm_node-n.txt" || true
crm_node --version | head -1 > "$out/crm_node-version.txt"
' capture "$out"
