#!/bin/bash
# Pacemaker configuration translated by cluster-conf from cluster.conf of cluster lvm-cluster (config_version 1).
# Usage: CIB=cib.xml bash THIS   edits the CIB file offline (pcs -f); then: pcs cluster cib-push cib.xml --config
#        bash THIS               applies the commands to the running cluster
# PCS_CREATE_FLAGS=--force       if the resource or fence agents are not installed where this runs
# warning: no fence devices: stonith-enabled=false is set so that resources can start; a cluster with shared storage needs fencing before production use
# note: line 4: cman two_node="1": set `quorum { two_node: 1 }` in corosync.conf (pcs cluster setup does this for two nodes); Pacemaker keeps running resources when one of the two nodes is lost
# warning: line 9: cluster/logging: configure logging in corosync.conf (logging {}) and /etc/sysconfig|default/pacemaker
# warning: line 10: cluster/dlm: configure DLM in /etc/dlm/dlm.conf (e.g. protocol=tcp)
# note: line 25: service serv: <lvm name="lvm"> uses vg_access_mode=system_id: give VG shared_vg a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)
# warning: line 26: service serv: <fs name="FS"> attribute fsid="64050" not translated
set -euo pipefail
PCS=(pcs)
if [ -n "${CIB:-}" ]; then PCS=(pcs -f "$CIB"); fi
read -r -a CREATE_FLAGS <<< "${PCS_CREATE_FLAGS:-}"
"${PCS[@]}" property set stonith-enabled=false
# service serv
"${PCS[@]}" resource create serv-lvm ocf:halvm:LVM-activate vgname=shared_vg lvname=ha-lv vg_access_mode=system_id activation_mode=exclusive op monitor interval=30s timeout=90s --group serv --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create serv-FS ocf:heartbeat:Filesystem device=/dev/shared_vg/ha-lv directory=/mnt fstype=ext4 force_unmount=true op monitor interval=20s timeout=40s --group serv --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource meta serv migration-threshold=1
"${PCS[@]}" constraint location serv prefers serv-0001=INFINITY
"${PCS[@]}" constraint location serv prefers serv-0002=990000
