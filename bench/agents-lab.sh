#!/usr/bin/env bash
# LVM-activate latency in the VM lab, on a real kernel with device-mapper: halvm's agent
# against resource-agents' (the anchor) on the same VG, vg_access_mode=system_id.
# Times start, stop, monitor (interval 10 s), validate-all on a VG of 3 LVs, and start/stop of
# a VG of $LVS LVs (default 100); RUNS (default 7) runs each, measured inside the guest
# (date +%s%N around the agent process). Prints medians and anchor/halvm ratios.
#   bench/agents-lab.sh [AGENT_BINARY] [LVMETA_BINARY] [HALVM_LAB_BINARY]
# Needs root (the lab). Under TCG the absolute figures are slow; the ratio is what carries over.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab-common.sh
LVS="${LVS:-100}"
RUNS="${RUNS:-7}"
target="${CARGO_TARGET_DIR:-target}"
agent="${1:-}"
lvmeta="${2:-}"
lab="${3:-}"
if [ -z "$agent" ] || [ -z "$lvmeta" ] || [ -z "$lab" ]; then
  cargo build --release -p halvm-lvm-activate -p lvmeta-cli -p halvm-lab --bins >&2
  agent="${agent:-$target/release/LVM-activate}"
  lvmeta="${lvmeta:-$target/release/lvmeta}"
  lab="${lab:-$target/release/halvm-lab}"
fi
heartbeat=/usr/lib/ocf/resource.d/heartbeat/LVM-activate
[ -x "$heartbeat" ] || { echo "missing $heartbeat (Debian package resource-agents)" >&2; exit 1; }
lab_bin_dir agents "$(dirname "$lab")"
cp "$agent" "$bin/LVM-activate"
cp "$lvmeta" "$bin/lvmeta"

"$lab" up --nodes 1 --no-cluster --shared-disks 2 --shared-disk-mib 1024 >&2
g() { "$lab" run node1 -- sh -c "$1"; }

lab_lvm_conf 'use_lvmlockd = 0 system_id_source = "uname"' >"$bin/lvm.conf"
ours=/usr/lib/ocf/resource.d/halvm/LVM-activate
# Both agents installed in the guest's own root; lvm2 and halvm configured for the lab disks.
g "set -e; mkdir -p /usr/lib/ocf/resource.d/halvm /etc/halvm /run/lvm; cp $bin/LVM-activate $ours; \
   cp $bin/lvmeta /usr/local/sbin/lvmeta; cp $bin/lvm.conf /etc/lvm/lvm.conf; \
   printf '[devices]\nfilter = [\"a|^/dev/vd|\", \"r|.*|\"]\nscan = []\n' > /etc/halvm/halvm.toml"
pre="export DM_DISABLE_UDEV=1 OCF_ROOT=/usr/lib/ocf HA_LOGFACILITY=none HA_LOGFILE=/dev/null \
OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_vg_access_mode=system_id; \
d0=\$(readlink -f /dev/disk/by-id/virtio-shared0); d1=\$(readlink -f /dev/disk/by-id/virtio-shared1);"
g "$pre set -e; lvmeta pvcreate \$d0 \$d1 >/dev/null; lvmeta vgcreate -s 4m vsmall \$d0 >/dev/null; \
   for i in 1 2 3; do lvmeta lvcreate -L 8m -n lv\$i vsmall >/dev/null; done; \
   lvmeta vgcreate -s 1m vbig \$d1 >/dev/null; \
   for i in \$(seq 1 $LVS); do lvmeta lvcreate -l 2 -n lv\$i vbig >/dev/null; done"

# Median (ms) of RUNS timings of `agent action` on VG vg, with `before` run untimed first.
measure() { # agent vg action before [env]
  local a="$1" vg="$2" action="$3" before="$4" extra="${5:-}" times=() t
  for _ in $(seq 1 "$RUNS"); do
    t=$(g "$pre export OCF_RESKEY_vgname=$vg $extra; $before >/dev/null 2>&1; \
          s=\$(date +%s%N); $a $action >/dev/null 2>&1; rc=\$?; e=\$(date +%s%N); \
          echo \$(( (e - s) / 1000000 )) \$rc")
    times+=("$t")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1; rc[$2]++} END {printf "%s", a[int((NR+1)/2)]; for (c in rc) printf " rc%s:%d", c, rc[c]}'
}
active() { g "$pre dmsetup ls | grep -c \"^$1-\" || true"; }

declare -A r
for who in ours heartbeat; do
  a=$ours; [ $who = heartbeat ] && a=$heartbeat
  r[$who.start]=$(measure $a vsmall start "$a stop")
  g "$pre export OCF_RESKEY_vgname=vsmall; $a start >/dev/null 2>&1"
  r[$who.started_devs]=$(active vsmall)
  r[$who.monitor]=$(measure $a vsmall monitor "true" "OCF_RESKEY_CRM_meta_interval=10000")
  r[$who.stop]=$(measure $a vsmall stop "$a start")
  r[$who.stopped_devs]=$(active vsmall)
  r[$who.validate]=$(measure $a vsmall validate-all "true")
  r[$who.big_start]=$(measure $a vbig start "$a stop")
  g "$pre export OCF_RESKEY_vgname=vbig; $a start >/dev/null 2>&1"
  r[$who.big_devs]=$(active vbig)
  r[$who.big_stop]=$(measure $a vbig stop "$a start")
  g "$pre export OCF_RESKEY_vgname=vbig; $a stop >/dev/null 2>&1"
done

ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.1fx" % (a/b) if b > 0 else "inf")' "$1" "$2"; }
ms() { echo "${1%% *}"; }
echo "agents-lab: $RUNS runs each, median wall time (ms) inside a TCG guest; rcN:k = exit code N k times"
printf '| %-22s | %-18s | %-18s | %-12s |\n' action halvm "resource-agents" "anchor/halvm"
printf '|%s|%s|%s|%s|\n' "------------------------" "--------------------" "--------------------" "--------------"
for k in start monitor stop validate big_start big_stop; do
  label=$k
  case $k in
    monitor) label="monitor (interval)";;
    big_start) label="start, $LVS LVs";;
    big_stop) label="stop, $LVS LVs";;
  esac
  printf '| %-22s | %-18s | %-18s | %-12s |\n' "$label" "${r[ours.$k]}" "${r[heartbeat.$k]}" \
    "$(ratio "$(ms "${r[heartbeat.$k]}")" "$(ms "${r[ours.$k]}")")"
done
echo "devices after start (vsmall, 3 LVs): halvm ${r[ours.started_devs]}, anchor ${r[heartbeat.started_devs]};" \
  "after stop: halvm ${r[ours.stopped_devs]}, anchor ${r[heartbeat.stopped_devs]};" \
  "after start ($LVS LVs): halvm ${r[ours.big_devs]}, anchor ${r[heartbeat.big_devs]}"
