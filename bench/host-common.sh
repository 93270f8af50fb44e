# What the host benches (lvmeta-vs-lvm2.sh, lvmeta-tcg.sh) share; sourced, not run.
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

host_cleanup() {
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
