#!/usr/bin/env bash
# lvmeta and stock lvm2 side by side on the same loop devices (needs root).
# Prints a markdown table of median wall times per command (lvm2's runs split around
# lvmeta's) and the lvm2/lvmeta ratio, for VGs holding 0, 100, 1,000 and 5,000 LVs, plus
# 1,000 lvcreates one after another.
#   bench/lvmeta-vs-lvm2.sh [LVMETA_BINARY]    (default: builds the release binary)
# Env: RUNS (repetitions per measured command, default 11), SIZES (default "0 100 1000 5000"),
#      SERIAL (number of back-to-back lvcreates, default 1000; 0: none),
#      MEASURE=callgrind: instructions executed in user space (valgrind's callgrind) instead of
#      wall time, which the machine's load does not move (it leaves out the kernel: I/O, sync).
# The load average (uptime) before and after the run is printed with the table.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/host-common.sh
[ "$(id -u)" -eq 0 ] || { echo "needs root (loop devices)" >&2; exit 1; }
command -v lvm >/dev/null || { echo "needs lvm2 (apt-get install lvm2)" >&2; exit 1; }
lvmeta="${1:-}"
if [ -z "$lvmeta" ]; then
  scripts/build-lvmeta >&2  # as packaged
  lvmeta="${CARGO_TARGET_DIR:-target}/release/lvmeta"
fi
lvmeta="$(realpath "$lvmeta")"
RUNS="${RUNS:-11}"
MEASURE="${MEASURE:-wall}"
case $MEASURE in
  wall) unit="ms" ;;
  callgrind) unit="M instr."; command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; } ;;
  *) echo "MEASURE is wall or callgrind" >&2; exit 2 ;;
esac
load0=$(uptime | sed 's/.*load average: //')
SIZES="${SIZES:-0 100 1000 5000}"
SERIAL="${SERIAL:-1000}"

# Two 8 GiB sparse loop devices; 1 MiB extents leave room for 5,000+ LVs of one extent.
host_disks 8G
cat > "$work/etc/lvm.conf" <<CONF
devices { filter = ["a|^$D0\$|", "a|^$D1\$|", "r|.*|"] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
global { activation = 0 locking_dir = "$work/lvmlock" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }
log { level = 0 verbose = 0 }
CONF
export LVM_SYSTEM_DIR="$work/etc" LVM_SUPPRESS_FD_WARNINGS=1
echo "" > "$work/halvm.toml"
export HALVM_CONFIG="$work/halvm.toml"
me() { "$lvmeta" "$1" --devices "$D0,$D1" --lock-dir "$work/locks" "${@:2}"; }
lv() { lvm "$@" 2>/dev/null; }

# sample_us CMD...: one run of CMD, its wall time in microseconds, from bash's own clock
# (forking `date` around each command would add a few ms to every sample, which hides the
# difference between fast commands).
# With MEASURE=callgrind: the instructions callgrind counted, in thousands.
sample_us() {
  local s e
  if [ "$MEASURE" = callgrind ]; then
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" >/dev/null 2>"$work/vg" \
      || { echo "failed: $*" >&2; cat "$work/vg" >&2; exit 1; }
    awk '/Collected :/ {printf "%d\n", $NF / 1000}' "$work/vg"
    return
  fi
  s=${EPOCHREALTIME/[.,]/}
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  e=${EPOCHREALTIME/[.,]/}
  echo $((e - s))
}
median_of() {
  printf '%s\n' "$@" | sort -n | awk -v d=1000 \
    '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/d}'
}
# pair_ms A... -- B...: runs A $RUNS times and B $RUNS times in blocks A B A (half of A's runs
# before B, half after; the placeholder @N@ becomes the run number) and prints both medians in
# ms. Blocks keep one tool from running in the other's wake (caches, freed memory); splitting
# A around B evens out drift in the machine's load. The disks are synced before each block:
# lvm2 writes with O_DIRECT and never flushes, so on loop devices its writes wait in the
# backing files' page cache, and lvmeta's fdatasync between commit phases would write them.
pair_ms() {
  local a=() b=() ta=() tb=() i half=$((RUNS / 2))
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  sync
  for ((i = 0; i < half; i++)); do ta+=("$(sample_us "${a[@]//@N@/$i}")") || exit 1; done
  sync
  for ((i = 0; i < RUNS; i++)); do tb+=("$(sample_us "${b[@]//@N@/$i}")") || exit 1; done
  sync
  for ((i = half; i < RUNS; i++)); do ta+=("$(sample_us "${a[@]//@N@/$i}")") || exit 1; done
  echo "$(median_of "${ta[@]}") $(median_of "${tb[@]}")"
}

fresh_vg() {
  # Same on-disk start for both tools: PVs with an 8 MiB metadata area (5,000 LVs need more
  # than lvm2's default 1 MiB), made by lvm2 itself.
  lv vgremove -ff vgb >/dev/null 2>&1 || true
  lv pvremove -ff -y "$D0" "$D1" >/dev/null 2>&1 || true
  lv pvcreate -y --metadatasize 8m "$D0" "$D1" >/dev/null
  lv vgcreate -s 1m vgb "$D0" "$D1" >/dev/null
}

populate() { # N LVs, written by lvmeta (fast); both tools then read and extend that VG
  local n=$1 i
  for ((i = 0; i < n; i++)); do me lvcreate -n "pre$i" -l 1 vgb >/dev/null; done
}

rows=()
for n in $SIZES; do
  fresh_vg
  populate "$n"
  lv vgck vgb || { echo "lvm2 vgck failed on the populated VG" >&2; exit 1; }
  for cmd in lvcreate lvs vgs; do
    case $cmd in
      lvcreate)
        pair_ms lvm lvcreate -an -Zn -n "l2_$n"_@N@ -l 1 vgb -- \
          "$lvmeta" lvcreate --devices "$D0,$D1" --lock-dir "$work/locks" -n "me_$n"_@N@ -l 1 vgb > "$work/pair" ;;
      lvs)
        pair_ms lvm lvs -a vgb -- \
          "$lvmeta" lvs --devices "$D0,$D1" --lock-dir "$work/locks" -a vgb > "$work/pair" ;;
      vgs)
        pair_ms lvm vgs vgb -- \
          "$lvmeta" vgs --devices "$D0,$D1" --lock-dir "$work/locks" vgb > "$work/pair" ;;
    esac
    read -r a b < "$work/pair"
    rows+=("| $cmd | $n | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1fx", a/b}') |")
  done
  # Both tools must still agree on the VG they both edited.
  cmp <(lv lvs --noheadings -o lv_name,lv_size,devices vgb | sort) \
      <(me lvs --noheadings -o lv_name,lv_size,devices vgb | sort) >/dev/null \
    || { echo "lvm2 and lvmeta disagree on vgb after the $n-LV round" >&2; exit 1; }
done

serial() { # seconds for $SERIAL lvcreates one after another on a fresh VG
  fresh_vg
  sync
  local s e i
  s=${EPOCHREALTIME/[.,]/}
  for ((i = 0; i < SERIAL; i++)); do "$@" -n "s$i" -l 1 vgb >/dev/null 2>&1 || { echo "serial $i failed" >&2; exit 1; }; done
  e=${EPOCHREALTIME/[.,]/}
  awk -v us=$((e - s)) 'BEGIN {printf "%.2f", us/1e6}'
}
if [ "$SERIAL" -gt 0 ] && [ "$MEASURE" = wall ]; then
  sa=$(serial lvm lvcreate -an -Zn)
  sb=$(serial "$lvmeta" lvcreate --devices "$D0,$D1" --lock-dir "$work/locks")
  rows+=("| $SERIAL x lvcreate (s, total) | 0 → $SERIAL | $sa | $sb | $(awk -v a="$sa" -v b="$sb" 'BEGIN {printf "%.1fx", a/b}') |")
fi

echo "lvmeta vs lvm2 $(lvm version | awk '/LVM version/ {print $3}'), 2 loop devices, 1 MiB extents, 8 MiB metadata areas, medians of $RUNS runs ($MEASURE)"
echo "load average before: $load0; after: $(uptime | sed 's/.*load average: //')"
echo
echo "| command | LVs in VG | lvm2 ($unit) | lvmeta ($unit) | lvm2 / lvmeta |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
