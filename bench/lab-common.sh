# Shared setup of the benches that boot the VM lab; sourced from the checkout's root.

# Every lab needs root (network namespaces and taps).
[ "$(id -u)" -eq 0 ] || { echo "needs root (VM lab)" >&2; exit 1; }

# lab_bin_dir NAME DIR [BIN...]: copies halvm-lab, the lab's helpers and BIN from DIR into a
# fresh directory, $bin, that no rebuild can change under a running VM (the guests run the
# binaries over 9p); points the lab at it ($lab is the copied halvm-lab) and, on exit, tears
# the lab down and removes $bin.
lab_bin_dir() {
  local name=$1 dir=$2 b
  shift 2
  bin="$(mktemp -d "/var/tmp/halvm-$name-bench.XXXXXX")"
  for b in halvm-lab halvm-lab-agent fence_halvm_lab halvm-dlm-probe "$@"; do
    cp "$dir/$b" "$bin/$b"
  done
  chmod 755 "$bin"
  export HALVM_LAB_BIN_DIR="$bin"
  export HALVM_LAB_RUN_DIR="$bin/run"
  lab="$bin/halvm-lab"
  trap lab_cleanup EXIT
}

lab_cleanup() {
  "$lab" down >/dev/null 2>&1 || true
  rm -rf "$bin"
}

# lvm.conf for the lab's shared disks, without udev; $1: the keys of its global section.
lab_lvm_conf() {
  printf '%s\n' \
    'devices { filter = [ "a|^/dev/vd|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }' \
    'activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }' \
    "global { $1 }" \
    'backup { backup = 0 archive = 0 }'
}

# The median of the numbers on stdin, one a line.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
