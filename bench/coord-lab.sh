#!/usr/bin/env bash
# Cluster-wide coordination in the VM lab (issue 14 item 6), three nodes running clvmd-rs:
#  - lvextend of an LV active on 1 node, and on 3 nodes (the atomic resize: suspend
#    everywhere, commit, reload and resume everywhere); wall time inside node1, median of RUNS;
#  - commit -> visible on node3: from the commit on node1 to the first moment node3's device
#    serves the new size (not suspended), median of RUNS. node1 runs lvextend with the
#    after-commit test hook (HALVM_TEST_PAUSE), which writes a file right after the commit; a
#    busy loop there stamps that instant and releases the command at once. On node3 a bash loop
#    (no fork per sample) reads the device's sysfs size and suspended flag and stamps the first
#    new-size sample. The two guests' clocks are related to the host's through the control
#    channel (NTP-style, the round trip with the least delay of 7); the figure's uncertainty,
#    the sum of both half round trips, is printed beside it.
#   bench/coord-lab.sh [BIN_DIR]   (lvmeta, clvmd-rs, halvm-lab and the lab's helpers from
#                                   BIN_DIR; without it, a debug build of this checkout)
# Env: RUNS (default 5). Needs root (the lab). Under TCG absolute times are slow; the poller
# on node3 runs at nice 19 so that it does not take node3's one vCPU from its daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab-common.sh
RUNS="${RUNS:-5}"
src="${1:-}"
if [ -z "$src" ]; then
  cargo build -p lvmeta-cli -p clvmd-rs -p halvm-lab --bins >&2
  src="${CARGO_TARGET_DIR:-target}/debug"
fi
profile="debug"
case "$src" in *release*) profile="release" ;; esac
lab_bin_dir coord "$src" lvmeta clvmd-rs
mkdir -p "$bin/sys"
lab_lvm_conf 'use_lvmlockd = 0' >"$bin/sys/lvm.conf"
printf '[locking]\nlock_manager = "dlm"\nlock_dir = "/tmp/halvm-lock"\n' >"$bin/halvm.toml"

g() { local n=$1; shift; "$lab" run "$n" -- sh -c "$pre $*"; }
pre="export DM_DISABLE_UDEV=1 HALVM_CONFIG=$bin/halvm.toml LVM_SYSTEM_DIR=$bin/sys; \
mkdir -p /run/lvm /tmp/halvm-lock; d0=\$(readlink -f /dev/disk/by-id/virtio-shared0); \
M() { c=\$1; shift; $bin/lvmeta \"\$c\" --devices \$d0 \"\$@\"; };"
nodes="node1 node2 node3"

"$lab" up --nodes 3 --shared-disks 1 --shared-disk-mib 512 --memory 768 >&2
for n in $nodes; do
  g $n "$bin/clvmd-rs --node-name $n --log-file /tmp/clvmd.log" >&2
done
for n in $nodes; do
  g $n "for i in \$(seq 120); do s=\$($bin/clvmd-rs status --json 2>/dev/null); \
    [ \$(echo \"\$s\" | grep -o '\"id\":' | wc -l) -ge 3 ] && echo \"\$s\" | grep -q '\"quorate\":true' && exit 0; \
    sleep 0.5; done; echo 'clvmd-rs not ready:' >&2; cat /tmp/clvmd.log >&2; exit 1"
done
g node1 "M pvcreate \$d0 && M vgcreate --shared vg \$d0 && M lvcreate -n one -L 8m vg && M lvcreate -n all -L 8m vg" >&2
g node2 "M vgchange --lockstart vg" >&2
g node3 "M vgchange --lockstart vg" >&2
# `one` active on node1 only (exclusive, as lvcreate leaves it); `all` shared on every node.
g node1 "M lvchange -an vg/all" >&2
for n in $nodes; do g $n "M lvchange -asy vg/all" >&2; done

# Wall time of lvextend inside node1, one run per line (ms).
extend_times() {  # lv
  g node1 "for i in \$(seq 1 $RUNS); do s=\$(date +%s%N); M lvextend -L +4m vg/$1 >/dev/null || exit 1; \
    e=\$(date +%s%N); echo \$(( (e - s) / 1000000 )); done"
}
one=$(extend_times one | median)
all=$(extend_times all | median)
echo "lvextend: $one ms on 1 node, $all ms on 3 nodes" >&2

# Offset of a guest's clock to the host's (ns) and half the round trip (ns), from the probe
# with the least round trip.
offset() {  # node -> "offset halfrtt"
  local best="" i a gt b
  for i in 1 2 3 4 5 6 7; do
    a=$(date +%s%N)
    gt=$("$lab" run "$1" -- date +%s%N)
    b=$(date +%s%N)
    best+="$(( b - a )) $(( gt - (a + b) / 2 ))"$'\n'
  done
  echo "$best" | sort -n | awk 'NF {print $2, int($1 / 2); exit}'
}
read -r off1 half1 < <(offset node1)
read -r off3 half3 < <(offset node3)

# /dev/mapper holds nodes, not links (no udev): find the dm-N of vg-all through sysfs.
dm3=$(g node3 "for d in /sys/block/dm-*; do [ \"\$(cat \$d/dm/name)\" = vg-all ] && basename \$d; done; true")
[ -n "$dm3" ] || { echo "vg-all not found on node3" >&2; exit 1; }
lat=""
for r in $(seq 1 "$RUNS"); do
  old=$(g node3 "cat /sys/block/$dm3/size")
  # node3: wait for a size other than $old while not suspended; stamp it (bash: no fork).
  # nice 19: the poller shares node3's one vCPU and must not slow its daemon.
  g node3 "rm -f /tmp/seen; setsid nice -n 19 bash -c 'f=/sys/block/$dm3; while :; do read s < \$f/size; \
    read z < \$f/dm/suspended; [ \"\$s\" != $old ] && [ \"\$z\" = 0 ] && break; done; \
    echo \$EPOCHREALTIME > /tmp/seen' </dev/null >/dev/null 2>&1 &"
  # node1: stamp the after-commit pause and release it at once.
  c1=$(g node1 "rm -f /tmp/pause /tmp/ext.rc; (HALVM_TEST_PAUSE=after-commit:/tmp/pause M lvextend -L +4m vg/all >/tmp/ext.log 2>&1; \
    echo \$? > /tmp/ext.rc) & while [ ! -e /tmp/pause ] && [ ! -e /tmp/ext.rc ]; do :; done; date +%s%N; rm -f /tmp/pause; wait; \
    [ \"\$(cat /tmp/ext.rc)\" = 0 ] || { cat /tmp/ext.log >&2; exit 1; }")
  seen=""
  for _ in $(seq 100); do
    seen=$(g node3 "cat /tmp/seen 2>/dev/null" || true)
    [ -n "$seen" ] && break
    sleep 0.1
  done
  [ -n "$seen" ] || { echo "node3 never served the new size" >&2; exit 1; }
  s3=$(( ${seen%.*} * 1000000000 + 10#${seen#*.} * 1000 ))
  lat+="$(( ((s3 - off3) - (c1 - off1)) / 1000000 ))"$'\n'
done
commit_visible=$(echo "$lat" | awk NF | median)
err=$(( (half1 + half3) / 1000000 ))

echo "| issue 14, 3 VMs (TCG), $profile build, median of $RUNS | time |"
echo "|---|---|"
printf '| lvextend, LV active on 1 node | %s ms |\n' "$one"
printf '| lvextend, LV active on 3 nodes (atomic resize) | %s ms |\n' "$all"
printf '| commit on node1 -> new size served on node3 | %s ms (+-%s ms clock uncertainty) |\n' "$commit_visible" "$err"
