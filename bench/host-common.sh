# What the host benches (lvmeta-vs-lvm2.sh, lvmeta-tcg.sh) share; sourced, not run.

# host_lvmeta [BINARY]: checks for root and lvm2, then sets $lvmeta to BINARY's absolute path,
# by default the release binary it builds.
host_lvmeta() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root (loop devices)" >&2; exit 1; }
  command -v lvm >/dev/null || { echo "needs lvm2 (apt-get install lvm2)" >&2; exit 1; }
  lvmeta="${1:-}"
  if [ -z "$lvmeta" ]; then
    scripts/build-lvmeta >&2  # as packaged (a static PIE)
    lvmeta="${CARGO_TARGET_DIR:-target}/release/lvmeta"
  fi
  lvmeta="$(realpath "$lvmeta")"
}

# host_disks SIZE: a scratch directory $work with two sparse loop devices of SIZE ($D0, $D1)
# and the etc/, lvmlock/ and locks/ directories both tools are pointed at; the loops are
# detached and $work removed on exit.
host_disks() {
  work="$(mktemp -d)"
  loops=()
  trap host_cleanup EXIT
  for i in 0 1; do
    truncate -s "$1" "$work/disk$i"
    loops+=("$(losetup --find --show "$work/disk$i")")
  done
  D0="${loops[0]}"; D1="${loops[1]}"
  mkdir -p "$work/etc" "$work/lvmlock" "$work/locks"
}

# host_conf FILE [FILTER]: the bench's lvm settings written to FILE (under $work/etc, which both
# tools read as LVM_SYSTEM_DIR): devices/FILTER (default: only $D0 and $D1; "" for none), no
# activation, udev, backups or logging, $work's lock directory; and an empty halvm.toml.
host_conf() {
  local filter="filter = [\"a|^$D0\$|\", \"a|^$D1\$|\", \"r|.*|\"]"
  [ $# -gt 1 ] && filter="$2"
  cat > "$1" <<CONF
devices { $filter use_devicesfile = 0 obtain_device_list_from_udev = 0 }
global { activation = 0 locking_dir = "$work/lvmlock" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }
log { level = 0 verbose = 0 }
CONF
  export LVM_SYSTEM_DIR="$work/etc" LVM_SUPPRESS_FD_WARNINGS=1
  echo "" > "$work/halvm.toml"
  export HALVM_CONFIG="$work/halvm.toml"
}

host_cleanup() {
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
