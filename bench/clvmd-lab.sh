#!/usr/bin/env bash
# clvmd-rs + lvmeta against lvm2 + lvmlockd in the VM lab (issue 13 item 8), on two nodes with
# corosync and dlm_controld, each stack on a shared VG of its own made the same way (LVS LVs,
# default 100): per-command wall time (median, measured inside the guest) of lvcreate,
# lvchange -aey and lvchange -an, and the time from killing the node that holds an LV's
# exclusive lock to the survivor's successful -aey (fencing included), measured on the host.
# The stacks run one after the other (both would join lvm_global on one node).
#   bench/clvmd-lab.sh [BIN_DIR]   (lvmeta, clvmd-rs, halvm-lab and the lab's helpers from
#                                   BIN_DIR; without it, a release build of this checkout)
# Env: LVS (default 100), ACT (LVs activated and deactivated one by one, default 20).
# Needs root (the lab). Under TCG absolute times are slow; the ratios are what carry over.
# Every process start costs a lot under TCG on a busy host: each stack's phase also times an
# empty process (/bin/true) the same way, and the table gives the ratio of the times above
# that floor beside the ratio of the raw medians.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab-common.sh
[ "$(id -u)" -eq 0 ] || { echo "needs root (VM lab)" >&2; exit 1; }
LVS="${LVS:-100}"
ACT="${ACT:-20}"
rel="${1:-}"
if [ -z "$rel" ]; then
  cargo build --release -p lvmeta-cli -p clvmd-rs -p halvm-lab --bins >&2
  rel="${CARGO_TARGET_DIR:-target}/release"
fi
lab_bin_dir clvmd "$rel" lvmeta clvmd-rs
mkdir -p "$bin/ours" "$bin/lvm2"
lab_lvm_conf 'use_lvmlockd = 0' >"$bin/ours/lvm.conf"
lab_lvm_conf 'use_lvmlockd = 1' >"$bin/lvm2/lvm.conf"
printf '[locking]\nlock_manager = "dlm"\nlock_dir = "/tmp/halvm-lock"\n' >"$bin/halvm.toml"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
g() { local n=$1; shift; "$lab" run "$n" -- sh -c "$pre $*"; }
pre="export DM_DISABLE_UDEV=1 HALVM_CONFIG=$bin/halvm.toml; mkdir -p /run/lvm /tmp/halvm-lock; \
d0=\$(readlink -f /dev/disk/by-id/virtio-shared0); d1=\$(readlink -f /dev/disk/by-id/virtio-shared1); \
M() { c=\$1; shift; $bin/lvmeta \"\$c\" --devices \$d0,\$d1 \"\$@\"; };"
# Times each line of the loop body inside the guest: prints one ms figure per command.
timed() {  # node, count, command with $i
  g "$1" "for i in \$(seq 1 $2); do s=\$(date +%s%N); $3 >/dev/null 2>&1 || { echo FAIL \$i >&2; exit 1; }; \
    e=\$(date +%s%N); echo \$(( (e - s) / 1000000 )); done"
}
# Kills node1 (holding vg/lv1 EX) and times node2's first successful -aey (its command: $2).
handover() {  # label, node2's -aey command
  local t0 n=0
  t0=$(ms)
  "$lab" kill node1 >&2
  until g node2 "$2" >/dev/null 2>&1; do
    n=$((n + 1))
    [ "$n" -lt 600 ] || { echo "$1: no hand-over" >&2; exit 1; }
    sleep 0.2
  done
  echo $(( $(ms) - t0 ))
}

load0=$(uptime | sed 's/.*load average: //')
"$lab" up --nodes 2 --shared-disks 2 --shared-disk-mib 1024 >&2

echo "== clvmd-rs + lvmeta" >&2
for n in node1 node2; do
  # The guests have no syslog: the daemon logs to a file.
  g $n "ln -sfn $bin/ours /tmp/lvmsys; $bin/clvmd-rs --node-name $n --log-file /tmp/clvmd.log"
done
for n in node1 node2; do
  g $n "for i in \$(seq 120); do s=\$($bin/clvmd-rs status --json 2>/dev/null); \
    [ \$(echo \"\$s\" | grep -o '\"id\":' | wc -l) -ge 2 ] && echo \"\$s\" | grep -q '\"quorate\":true' && exit 0; \
    sleep 0.5; done; echo 'clvmd-rs not ready:' >&2; cat /tmp/clvmd.log >&2; exit 1"
done
P="export LVM_SYSTEM_DIR=/tmp/lvmsys;"
g node1 "$P M pvcreate \$d0 && M vgcreate --shared -s 1m vours \$d0" >&2
g node2 "$P M vgchange --lockstart vours" >&2
# Both stacks create without activating or zeroing (lvm2 activates on a shared VG by default).
m_true=$(timed node1 "$ACT" "/bin/true" | median)
m_create=$(timed node1 "$LVS" "$P M lvcreate -an -Zn -n lv\$i -l 2 vours" | median)
m_aey=$(timed node1 "$ACT" "$P M lvchange -aey vours/lv\$i" | median)
m_an=$(timed node1 "$ACT" "$P M lvchange -an vours/lv\$i" | median)
g node1 "$P M lvchange -aey vours/lv1" >&2
g node2 "$P M lvchange -aey vours/lv1" >/dev/null 2>&1 && { echo "node2 was not refused" >&2; exit 1; }
m_hand=$(handover ours "$P M lvchange -aey vours/lv1")
"$lab" restart node1 >&2
g node2 "$P M lvchange -an vours/lv1 && M vgchange --lockstop vours && kill \$(cat /run/clvmd-rs/clvmd-rs.pid)" >&2
sleep 2

echo "== lvm2 + lvmlockd" >&2
for n in node1 node2; do
  g $n "ln -sfn $bin/lvm2 /tmp/lvmsys; lvmlockd -g dlm" >&2
done
g node1 "$P lvm pvcreate -q \$d1 && lvm vgcreate -q --shared -s 1m vlvm2 \$d1" >&2
g node2 "$P lvm vgchange -q --lockstart vlvm2" >&2
l_true=$(timed node1 "$ACT" "/bin/true" | median)
l_create=$(timed node1 "$LVS" "$P lvm lvcreate -q -an -Zn -y -l 2 -n lv\$i vlvm2" | median)
l_aey=$(timed node1 "$ACT" "$P lvm lvchange -q -aey vlvm2/lv\$i" | median)
l_an=$(timed node1 "$ACT" "$P lvm lvchange -q -an vlvm2/lv\$i" | median)
g node1 "$P lvm lvchange -q -aey vlvm2/lv1" >&2
g node2 "$P lvm lvchange -q -aey vlvm2/lv1" >/dev/null 2>&1 && { echo "node2 was not refused" >&2; exit 1; }
l_hand=$(handover lvm2 "$P lvm lvchange -q -aey vlvm2/lv1")

ratio() { awk "BEGIN{printf \"%.1f\", $1/$2}"; }
above() { awk "BEGIN{d=$2-$4; printf \"%.1f\", (d > 0 ? ($1-$3)/d : 0)}"; }  # (l-lt)/(m-mt)
echo "load before: $load0; after: $(uptime | sed 's/.*load average: //')"
echo "| shared VG of $LVS LVs, 2 VMs (TCG), median per command | clvmd-rs + lvmeta | lvm2 + lvmlockd | lvm2/ours | lvm2/ours above /bin/true |"
echo "|---|---|---|---|---|"
printf '| /bin/true (the floor) | %s ms | %s ms | | |\n' "$m_true" "$l_true"
row() { printf '| %s | %s ms | %s ms | %s | %s |\n' "$1" "$2" "$3" "$(ratio "$3" "$2")" "$(above "$3" "$2" "$l_true" "$m_true")"; }
row "lvcreate -an -Zn ($LVS, one by one)" "$m_create" "$l_create"
row "lvchange -aey ($ACT LVs)" "$m_aey" "$l_aey"
row "lvchange -an ($ACT LVs)" "$m_an" "$l_an"
printf '| holder killed -> survivor -aey (fencing included) | %s ms | %s ms | %s | |\n' "$m_hand" "$l_hand" "$(ratio "$l_hand" "$m_hand")"
