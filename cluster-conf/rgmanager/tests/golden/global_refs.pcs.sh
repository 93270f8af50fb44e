#!/bin/bash
# Pacemaker configuration translated by cluster-conf from cluster.conf of cluster refs (config_version 7).
# Usage: CIB=cib.xml bash THIS   edits the CIB file offline (pcs -f); then: pcs cluster cib-push cib.xml --config
#        bash THIS               applies the commands to the running cluster
# PCS_CREATE_FLAGS=--force       if the resource or fence agents are not installed where this runs
# warning: no fence devices: stonith-enabled=false is set so that resources can start; a cluster with shared storage needs fencing before production use
# note: line 4: cman two_node="1": set `quorum { two_node: 1 }` in corosync.conf (pcs cluster setup does this for two nodes); Pacemaker keeps running resources when one of the two nodes is lost
# warning: line 24: service app: <script file="/etc/init.d/appd"> becomes lsb:appd; if the service now has a systemd unit use systemd:appd instead
# warning: line 25: service app: <ip address="10.1.1.100/16"> monitor_link="1": IPaddr2 does not watch the link; add ocf:heartbeat:ethmonitor and a location rule on its attribute if needed
# note: line 26: service app: <lvm name="app-vg"> uses vg_access_mode=system_id: give VG vg_app a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)
# warning: line 28: service app: <nfsexport name="app-export"> has no translation; left out of the group
# warning: line 33: service report: <script file="/usr/local/bin/report.sh"> becomes lsb:report.sh: install the script as /etc/init.d/report.sh on every node (or use a systemd unit)
set -euo pipefail
PCS=(pcs)
if [ -n "${CIB:-}" ]; then PCS=(pcs -f "$CIB"); fi
read -r -a CREATE_FLAGS <<< "${PCS_CREATE_FLAGS:-}"
"${PCS[@]}" property set stonith-enabled=false
# service app
"${PCS[@]}" resource create app-app-vg ocf:halvm:LVM-activate vgname=vg_app lvname=lv_app vg_access_mode=system_id activation_mode=exclusive op monitor interval=30s timeout=90s --group app --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create app-app-data ocf:heartbeat:Filesystem device=/dev/vg_app/lv_app directory=/srv/app fstype=ext4 options=rw,noatime,nodev force_unmount=false op monitor interval=20s timeout=40s --group app --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create app-10.1.1.100_16 ocf:heartbeat:IPaddr2 ip=10.1.1.100 cidr_netmask=16 op monitor interval=10s timeout=20s --group app --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create app-app-init lsb:appd op monitor interval=15s timeout=15s --group app --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource meta app migration-threshold=3 failure-timeout=300s
# service report
"${PCS[@]}" resource create report-report-job lsb:report.sh op monitor interval=15s timeout=15s --group report --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource meta report migration-threshold=1 failure-timeout=120s
"${PCS[@]}" constraint location app prefers alpha=INFINITY
"${PCS[@]}" constraint location app prefers beta=910000
"${PCS[@]}" constraint location app rule id=loc-app-restricted score=-INFINITY '#uname' ne alpha and '#uname' ne beta
"${PCS[@]}" constraint location report prefers alpha=INFINITY
"${PCS[@]}" constraint location report prefers beta=910000
"${PCS[@]}" constraint location report rule id=loc-report-restricted score=-INFINITY '#uname' ne alpha and '#uname' ne beta
