#!/usr/bin/env bash
# lvmeta and stock lvm2 under QEMU's user-mode emulator (qemu-x86_64: TCG, the translator the
# lab's guests run on this host, which has no virtualisation), on two loop devices (needs root).
# TCG translates each piece of code the first time it runs, so a short command costs about
# its distinct instructions; the host kernel does the syscalls and page faults natively, so
# this measures the user-space part of what a command costs in a TCG guest.
# Prints per command: the distinct guest instructions translated (`-d in_asm`; the load does
# not move it) and the median and minimum wall time of RUNS runs, for lvmeta and lvm2, on
# a VG of 100 LVs, with the floor (`/bin/true` under the same emulator).
#   bench/lvmeta-tcg.sh [LVMETA_BINARY]    (default: builds the release binary)
# Env: RUNS (default 11); LVM_CONF=debian: Debian's /etc/lvm/lvm.conf (110 KB of comments,
#      no filter) with --devices, instead of a short lvm.conf with a filter.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/host-common.sh
[ "$(id -u)" -eq 0 ] || { echo "needs root (loop devices)" >&2; exit 1; }
command -v lvm >/dev/null || { echo "needs lvm2 (apt-get install lvm2)" >&2; exit 1; }
command -v qemu-x86_64 >/dev/null || { echo "needs qemu-x86_64 (apt-get install qemu-user)" >&2; exit 1; }
lvmeta="${1:-}"
if [ -z "$lvmeta" ]; then
  scripts/build-lvmeta >&2  # as packaged
  lvmeta="${CARGO_TARGET_DIR:-target}/release/lvmeta"
fi
lvmeta="$(realpath "$lvmeta")"
RUNS="${RUNS:-11}"
load0=$(uptime | sed 's/.*load average: //')

host_disks 2G
filter="filter = [\"a|^$D0\$|\", \"a|^$D1\$|\", \"r|.*|\"]"
conf="$work/etc/lvm.conf"
# Debian's file, and the bench's settings in lvmlocal.conf (which both tools read over it).
[ "${LVM_CONF:-}" = debian ] && { cp /etc/lvm/lvm.conf "$conf"; filter=""; conf="$work/etc/lvmlocal.conf"; }
cat > "$conf" <<CONF
devices { $filter use_devicesfile = 0 obtain_device_list_from_udev = 0 }
global { activation = 0 locking_dir = "$work/lvmlock" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }
log { level = 0 verbose = 0 }
CONF
export LVM_SYSTEM_DIR="$work/etc" LVM_SUPPRESS_FD_WARNINGS=1
echo "" > "$work/halvm.toml"
export HALVM_CONFIG="$work/halvm.toml"
lvm_bin=$(command -v lvm)
# Without a filter, lvm2 is held to the two devices as lvmeta is.
lvm_dev=()
[ -z "$filter" ] && lvm_dev=(--devices "$D0,$D1")
me=("$lvmeta" --devices "$D0,$D1" --lock-dir "$work/locks")
lvm pvcreate "${lvm_dev[@]}" -y --metadatasize 8m "$D0" "$D1" >/dev/null 2>&1
lvm vgcreate "${lvm_dev[@]}" -s 1m vgt "$D0" "$D1" >/dev/null 2>&1
for ((i = 0; i < 100; i++)); do "$lvmeta" lvcreate --devices "$D0,$D1" --lock-dir "$work/locks" -n "pre$i" -l 1 vgt >/dev/null 2>&1; done

# translated CMD...: distinct instructions QEMU translated for one run.
translated() {
  # The log goes to stderr: lvm2 closes the descriptors it inherits, a -D file's too.
  qemu-x86_64 -d in_asm "$@" >/dev/null 2>"$work/qlog" || { echo "failed: $*" >&2; exit 1; }
  grep '^0x' "$work/qlog" | cut -d: -f1 | sort -u | wc -l
}
# times CMD...: median and minimum wall ms of RUNS runs (@N@ becomes the run number).
times() {
  local t=() i s e
  for ((i = 0; i < RUNS; i++)); do
    s=${EPOCHREALTIME/[.,]/}
    qemu-x86_64 "${@//@N@/$i}" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    e=${EPOCHREALTIME/[.,]/}
    t+=($((e - s)))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f / %.1f", a[int((NR+1)/2)]/1000, a[1]/1000}'
}
row() { # NAME LVM2_CMD... -- LVMETA_CMD...
  local name=$1 a=() b=()
  shift
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  local ta tb
  ta=$(times "${a[@]}"); tb=$(times "${b[@]}")
  echo "| $name | $(translated "${a[@]//@N@/x}") | $(translated "${b[@]//@N@/x}") | $ta | $tb |"
}
rows=()
rows+=("$(row "/bin/true (the floor)" /bin/true -- /bin/true)")
rows+=("$(row "lvs -a" "$lvm_bin" lvs "${lvm_dev[@]}" -a vgt -- "${me[@]:0:1}" lvs "${me[@]:1}" -a vgt)")
rows+=("$(row "vgs" "$lvm_bin" vgs "${lvm_dev[@]}" vgt -- "${me[@]:0:1}" vgs "${me[@]:1}" vgt)")
rows+=("$(row "lvcreate -an -Zn" "$lvm_bin" lvcreate "${lvm_dev[@]}" -an -Zn -n "l2_@N@" -l 1 vgt -- "${me[@]:0:1}" lvcreate "${me[@]:1}" -n "me_@N@" -l 1 vgt)")
echo "lvmeta and lvm2 $(lvm version | awk '/LVM version/ {print $3}') under qemu-x86_64 (user-mode TCG), VG of 100 LVs on 2 loop devices, lvm.conf: ${LVM_CONF:-short, with a filter}; median / min of $RUNS runs"
echo "load average before: $load0; after: $(uptime | sed 's/.*load average: //')"
echo
echo "| command | lvm2 translated | lvmeta translated | lvm2 ms (median / min) | lvmeta ms (median / min) |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
