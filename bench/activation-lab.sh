#!/usr/bin/env bash
# Activation speed in the VM lab: activate and deactivate a VG of N linear LVs (default 100)
# with lvmeta (vgchange -ay/-an through the devicemapper ioctls) and with stock lvm2
# (DM_DISABLE_UDEV=1 lvm vgchange -ay/-an), RUNS times each, in one VM on a real kernel.
# Prints a markdown table of median wall times.
#   bench/activation-lab.sh [LVMETA_BINARY] [HALVM_LAB_BINARY]
# Env: LVS (default 100), RUNS (default 5). Needs root (the lab); under TCG the absolute
# figures are slow, the ratio is what carries over.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab-common.sh
LVS="${LVS:-100}"
RUNS="${RUNS:-5}"
target="${CARGO_TARGET_DIR:-target}"
lvmeta="${1:-}"
lab="${2:-}"
if [ -z "$lvmeta" ]; then
  scripts/build-lvmeta >&2  # as packaged
  lvmeta="$target/release/lvmeta"
fi
if [ -z "$lab" ]; then
  cargo build --release -p halvm-lab >&2
  lab="$target/release/halvm-lab"
fi
lab_bin_dir activation "$(dirname "$lab")"
cp "$lvmeta" "$bin/lvmeta"

"$lab" up --nodes 1 --no-cluster --shared-disks 2 --shared-disk-mib 1024 >&2
g() { "$lab" run node1 -- sh -c "$1"; }

lab_lvm_conf 'use_lvmlockd = 0' >"$bin/lvm.conf"
pre="export DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR=$bin; mkdir -p /run/lvm /tmp/lk; \
d0=\$(readlink -f /dev/disk/by-id/virtio-shared0); d1=\$(readlink -f /dev/disk/by-id/virtio-shared1); \
M() { c=\$1; shift; $bin/lvmeta \"\$c\" --lock-dir /tmp/lk --devices \$d0,\$d1 \"\$@\"; };"

g "$pre lvm pvcreate -q \$d0 \$d1 && lvm vgcreate -q -s 1m vbench \$d0 \$d1 >/dev/null"
g "$pre for i in \$(seq 1 $LVS); do echo \"lvcreate -q -an -Zn -y -l 2 -n lv\$i vbench\"; done | lvm >/dev/null"

# timed BEFORE CMD AFTER: the median of RUNS timings (ms, measured inside the guest) of guest
# command CMD, each run between BEFORE and AFTER (not timed).
timed() {
  local times=() t
  for _ in $(seq 1 "$RUNS"); do
    t=$(g "$pre $1 >/dev/null 2>&1; s=\$(date +%s%N); $2 >/dev/null 2>&1 || exit 1; e=\$(date +%s%N); $3 >/dev/null 2>&1; echo \$(( (e - s) / 1000000 ))")
    times+=("$t")
  done
  printf '%s\n' "${times[@]}" | median
}
count() { g "$pre dmsetup ls | grep -c '^vbench-' || true"; }

m_up=$(timed true "M vgchange -ay vbench" "M vgchange -an vbench")
g "$pre M vgchange -ay vbench >/dev/null"; n_m=$(count); g "$pre M vgchange -an vbench >/dev/null"
l_up=$(timed true "lvm vgchange -q -ay vbench" "lvm vgchange -q -an vbench")
g "$pre lvm vgchange -q -ay vbench >/dev/null"; n_l=$(count); g "$pre lvm vgchange -q -an vbench >/dev/null"
# Deactivation: activate first (outside the timing), then time -an.
m_down=$(timed "M vgchange -ay vbench" "M vgchange -an vbench" true)
l_down=$(timed "lvm vgchange -q -ay vbench" "lvm vgchange -q -an vbench" true)

echo "| VG of $LVS LVs, 1 VM (TCG), median of $RUNS | lvmeta | lvm2 | lvm2/lvmeta |"
echo "|---|---|---|---|"
printf '| vgchange -ay (devices made: %s / %s) | %s ms | %s ms | %s |\n' "$n_m" "$n_l" "$m_up" "$l_up" "$(awk "BEGIN{printf \"%.2f\", $l_up/$m_up}")"
printf '| vgchange -an | %s ms | %s ms | %s |\n' "$m_down" "$l_down" "$(awk "BEGIN{printf \"%.2f\", $l_down/$m_down}")"
