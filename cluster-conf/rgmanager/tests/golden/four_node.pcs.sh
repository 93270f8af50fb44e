#!/bin/bash
# Pacemaker configuration translated by cluster-conf from cluster.conf of cluster quad (config_version 42).
# Usage: CIB=cib.xml bash THIS   edits the CIB file offline (pcs -f); then: pcs cluster cib-push cib.xml --config
#        bash THIS               applies the commands to the running cluster
# PCS_CREATE_FLAGS=--force       if the resource or fence agents are not installed where this runs
# warning: no fence devices: stonith-enabled=false is set so that resources can start; a cluster with shared storage needs fencing before production use
# note: line 4: cman expected_votes="4": set `quorum { expected_votes: 4 }` in corosync.conf if the votes differ from one per node
# note: line 28: service db: <lvm name="db-lv"> uses vg_access_mode=system_id: give VG vg_db a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)
# note: line 33: service web: autostart="0" becomes target-role=Stopped (start it with pcs resource enable web)
# note: line 35: service web: <lvm name="web-vg"> uses vg_access_mode=system_id: give VG vg_web a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)
# note: line 38: service mail: recovery="disable" becomes on-fail=stop on the monitors (stopped, not restarted or moved)
# note: line 39: service mail: <lvm name="mail-lv"> uses vg_access_mode=system_id: give VG vg_mail a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)
# note: line 42: service batch: exclusive="1" becomes -INFINITY colocations with every other service
# note: line 43: service batch: <lvm name="batch-lv"> uses vg_access_mode=system_id: give VG vg_batch a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)
set -euo pipefail
PCS=(pcs)
if [ -n "${CIB:-}" ]; then PCS=(pcs -f "$CIB"); fi
read -r -a CREATE_FLAGS <<< "${PCS_CREATE_FLAGS:-}"
"${PCS[@]}" property set stonith-enabled=false
# service db
"${PCS[@]}" resource create db-db-lv ocf:halvm:LVM-activate vgname=vg_db lvname=data vg_access_mode=system_id activation_mode=exclusive op monitor interval=30s timeout=90s --group db --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create db-db-fs ocf:heartbeat:Filesystem device=/dev/vg_db/data directory=/var/lib/db fstype=xfs options=noatime force_unmount=true op monitor interval=20s timeout=40s --group db --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create db-192.168.50.10_24 ocf:heartbeat:IPaddr2 ip=192.168.50.10 cidr_netmask=24 op monitor interval=10s timeout=20s --group db --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource meta db migration-threshold=4 failure-timeout=600s
# service web
"${PCS[@]}" resource create web-web-vg ocf:halvm:LVM-activate vgname=vg_web vg_access_mode=system_id activation_mode=exclusive op monitor interval=30s timeout=90s --group web --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create web-web-fs ocf:heartbeat:Filesystem device=/dev/vg_web/www directory=/srv/www fstype=ext4 force_unmount=false op monitor interval=20s timeout=40s --group web --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create web-192.168.50.20 ocf:heartbeat:IPaddr2 ip=192.168.50.20 cidr_netmask=24 op monitor interval=10s timeout=20s --group web --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource meta web target-role=Stopped
# service mail
"${PCS[@]}" resource create mail-mail-lv ocf:halvm:LVM-activate vgname=vg_mail lvname=spool vg_access_mode=system_id activation_mode=exclusive op monitor interval=30s timeout=90s on-fail=stop --group mail --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create mail-mail-fs ocf:heartbeat:Filesystem device=/dev/vg_mail/spool directory=/var/spool/mail fstype=ext4 force_unmount=false run_fsck=force op monitor interval=20s timeout=40s on-fail=stop --group mail --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource meta mail resource-stickiness=INFINITY
# service batch
"${PCS[@]}" resource create batch-batch-lv ocf:halvm:LVM-activate vgname=vg_batch lvname=work vg_access_mode=system_id activation_mode=exclusive op monitor interval=30s timeout=90s --group batch --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" constraint location db prefers node-b=INFINITY
"${PCS[@]}" constraint location db prefers node-a=990000
"${PCS[@]}" constraint location db prefers node-c=980000
"${PCS[@]}" constraint location db rule id=loc-db-restricted score=-INFINITY '#uname' ne node-b and '#uname' ne node-a and '#uname' ne node-c
"${PCS[@]}" constraint location web prefers node-c=INFINITY
"${PCS[@]}" constraint location web prefers node-d=INFINITY
"${PCS[@]}" constraint location mail prefers node-d=INFINITY
"${PCS[@]}" constraint location mail prefers node-c=960000
"${PCS[@]}" constraint colocation add batch with db -- -INFINITY
"${PCS[@]}" constraint colocation add batch with web -- -INFINITY
"${PCS[@]}" constraint colocation add batch with mail -- -INFINITY
