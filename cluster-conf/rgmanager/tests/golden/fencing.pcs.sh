#!/bin/bash
# Pacemaker configuration translated by cluster-conf from cluster.conf of cluster fenced (config_version 3).
# Usage: CIB=cib.xml bash THIS   edits the CIB file offline (pcs -f); then: pcs cluster cib-push cib.xml --config
#        bash THIS               applies the commands to the running cluster
# PCS_CREATE_FLAGS=--force       if the resource or fence agents are not installed where this runs
# note: line 39: fence device pdu-a has per-node attributes: one stonith resource per node
# note: line 40: fence device pdu-b has per-node attributes: one stonith resource per node
# warning: line 42: cluster/fence_daemon: fence delays map to pcmk_delay_base/pcmk_delay_max on stonith resources
# note: line 52: service nfs: <lvm name="nfs-lv"> uses vg_access_mode=system_id: give VG vg_nfs a system ID (lvm.conf system_id_source; a clvmd VG needs vgchange -cn first)
set -euo pipefail
PCS=(pcs)
if [ -n "${CIB:-}" ]; then PCS=(pcs -f "$CIB"); fi
read -r -a CREATE_FLAGS <<< "${PCS_CREATE_FLAGS:-}"
"${PCS[@]}" stonith create ipmi-n1 fence_ipmilan ip=10.0.0.101 username=admin password=secret lanplus=1 pcmk_host_list=n1 op monitor interval=60s timeout=20s "${CREATE_FLAGS[@]}"
"${PCS[@]}" stonith create ipmi-n2 fence_ipmilan ip=10.0.0.102 username=admin password=secret lanplus=1 pcmk_host_list=n2 op monitor interval=60s timeout=20s "${CREATE_FLAGS[@]}"
"${PCS[@]}" stonith create apc fence_apc ip=10.0.0.200 username=apc password=apc 'pcmk_host_list=n1 n2' 'pcmk_host_map=n1:1;n2:2' op monitor interval=60s timeout=20s "${CREATE_FLAGS[@]}"
"${PCS[@]}" stonith create pdu-a-n3 fence_apc_snmp ip=10.0.0.210 plug=7 pcmk_reboot_action=off pcmk_host_list=n3 op monitor interval=60s timeout=20s "${CREATE_FLAGS[@]}"
"${PCS[@]}" stonith create pdu-b-n3 fence_apc_snmp ip=10.0.0.211 plug=7 pcmk_reboot_action=off pcmk_host_list=n3 op monitor interval=60s timeout=20s "${CREATE_FLAGS[@]}"
"${PCS[@]}" stonith level add 1 n1 ipmi-n1
"${PCS[@]}" stonith level add 2 n1 apc
"${PCS[@]}" stonith level add 1 n2 ipmi-n2
"${PCS[@]}" stonith level add 2 n2 apc
"${PCS[@]}" stonith level add 1 n3 pdu-a-n3 pdu-b-n3
# service nfs
"${PCS[@]}" resource create nfs-nfs-lv ocf:halvm:LVM-activate vgname=vg_nfs lvname=export vg_access_mode=system_id activation_mode=exclusive op monitor interval=30s timeout=90s --group nfs --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create nfs-nfs-fs ocf:heartbeat:Filesystem device=/dev/vg_nfs/export directory=/export fstype=xfs force_unmount=false op monitor interval=20s timeout=40s --group nfs --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" resource create nfs-10.0.0.50_24 ocf:heartbeat:IPaddr2 ip=10.0.0.50 cidr_netmask=24 op monitor interval=10s timeout=20s --group nfs --no-default-ops "${CREATE_FLAGS[@]}"
"${PCS[@]}" constraint location nfs prefers n1=INFINITY
"${PCS[@]}" constraint location nfs prefers n2=990000
"${PCS[@]}" constraint location nfs prefers n3=980000
