#!/usr/bin/env bash
# clvmd-rs + lvmeta against lvm2 + lvmlockd in the VM lab (issue 13 item 8), on two nodes with
# corosync and dlm_controld, each stack on a shared VG of its own made the same way (LVS LVs,
# default 100, each VG on its own shared disk): per-command wall time, measured inside the
# guest, of lvcreate, lvchange -aey and lvchange -an, and the time from killing the node that
# holds an LV's exclusive lock to the survivor's successful -aey (fencing included), measured
# on the host.
#
# Our stack is measured two ways: `lvmeta` exec'd for each command (LVMETA_SERVER=0), and
# `lvmc`, the small client that hands the command line to the resident `lvmeta-server`
# (docs/admin-guide.md), which runs it in a pre-forked worker. Both talk to the same clvmd-rs.
#
# Fairness: under TCG on a shared host a command's time follows the host's load, which moves
# from minute to minute. So both stacks run side by side on the same nodes (clvmd-rs and
# lvmlockd both on node1 and node2; they share the lvm_global lockspace as lvmlockd-compatible
# daemons on different nodes do) and are measured interleaved: per iteration one empty process
# (/bin/true, the floor), one lvmeta command, one lvmc command and one lvm2 command, in an order
# that rotates through eight permutations. Each is timed with bash's $EPOCHREALTIME around the
# command alone (before 2026-12-07 two `date` processes framed it, which added ~43 ms to every
# figure, the floor included). Contention: both nodes at once run CONTEND lvcreates each, one
# after another, through one stack, then through the next (lvmeta, lvmc, lvm2; twice each): the
# wall time until both nodes are done, measured on the host, and whether every LV is there,
# seen alike by both nodes (lvm2 gives up on a VG lock held elsewhere after a few retries, so
# every command of either stack is tried again until it succeeds, as a user's script would,
# and the retries are counted). The hand-over kills node1 while it holds an LV of each stack,
# and node2 polls both stacks at once (two pollers from the host); that is done ROUNDS times.
#   bench/clvmd-lab.sh [BIN_DIR]   (lvmeta, lvmc, lvmeta-server, clvmd-rs, halvm-lab and the
#                                   lab's helpers from BIN_DIR; without it, a release build of
#                                   this checkout, lvmeta and lvmc built as packaged)
# Env: LVS (default 100), ACT (LVs activated and deactivated one by one, default 20),
# CONTEND (lvcreates per node and round in the contention part, default 30; 0: none),
# BATCH (lvcreates in a row per stack and round in the batch part, default 20; 0: none),
# SETTLE (seconds between two timed commands, default 0.1: what a command leaves to do after it
# returned, lvmeta-server forking a replacement child or lvmlockd's own work, is done before the
# next command's timing starts, rather than charged to it),
# ROUNDS (hand-overs, default 2; 0: none), CLVMD_RS_TIMING=1 (the daemons log their timing,
# and the medians of node1's are printed after the table), OUT=DIR (keeps the raw times there).
# Needs root (the lab). Under TCG absolute times are slow; the ratios are what carry over.
# The table gives medians and first quartiles (the quartile is what a command costs when the
# host lets the VM run), the ratios of the medians and of the medians above the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab-common.sh
LVS="${LVS:-100}"
ACT="${ACT:-20}"
ROUNDS="${ROUNDS:-2}"
CONTEND="${CONTEND:-30}"
BATCH="${BATCH:-20}"
SETTLE="${SETTLE:-0.1}"
rel="${1:-}"
if [ -z "$rel" ]; then
  cargo build --release -p clvmd-rs -p halvm-lab -p lvmeta-server --bins >&2
  scripts/build-lvmeta >&2  # as packaged
  scripts/build-lvmc >&2
  rel="${CARGO_TARGET_DIR:-target}/release"
fi
lab_bin_dir clvmd "$rel" lvmeta lvmc lvmeta-server clvmd-rs
mkdir -p "$bin/ours" "$bin/lvm2"
lab_lvm_conf 'use_lvmlockd = 0' >"$bin/ours/lvm.conf"
lab_lvm_conf 'use_lvmlockd = 1' >"$bin/lvm2/lvm.conf"
printf '[locking]\nlock_manager = "dlm"\nlock_dir = "/tmp/halvm-lock"\n' >"$bin/halvm.toml"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
srv=/run/lvmeta/server.sock  # lvmeta-server's default socket
g() { local n=$1; shift; "$lab" run "$n" -- bash -c "$pre $*"; }
# O, C and L run one command of each stack, with its own lvm.conf (lvm2's says use_lvmlockd):
# O the lvmeta binary itself (never through the server), C lvmc through lvmeta-server. The
# configuration files are copied onto the guest's own filesystem (tmpfs), as /etc/lvm is on a
# host's local disk: read from the lab's 9p share, the three small files every command of
# either stack reads (lvm.conf, lvmlocal.conf, halvm.toml) cost ~3 ms a command in a guest
# (0.4 ms from tmpfs), a fixed cost of the lab, not of either stack. The binaries stay where the
# lab has them (lvm2's too come through the share, from the overlay's lower layer).
cfg=/run/halvm-bench
pre="export DM_DISABLE_UDEV=1 HALVM_CONFIG=$cfg/halvm.toml; mkdir -p /run/lvm /tmp/halvm-lock; \
[ -d $cfg ] || { mkdir -p $cfg.new && cp -r $bin/ours $bin/lvm2 $bin/halvm.toml $cfg.new/ && mv $cfg.new $cfg; }; \
d0=\$(readlink -f /dev/disk/by-id/virtio-shared0); d1=\$(readlink -f /dev/disk/by-id/virtio-shared1); \
O() { c=\$1; shift; LVMETA_SERVER=0 LVM_SYSTEM_DIR=$cfg/ours $bin/lvmeta \"\$c\" --devices \$d0,\$d1 \"\$@\"; }; \
C() { c=\$1; shift; LVMETA_SERVER=$srv LVM_SYSTEM_DIR=$cfg/ours $bin/lvmc \"\$c\" --devices \$d0,\$d1 \"\$@\"; }; \
L() { LVM_SYSTEM_DIR=$cfg/lvm2 lvm \"\$@\"; };"
q1() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+3)/4)]}'; }
# Times COUNT iterations on node1, each running the floor and the command of lvmeta, of lvmc
# and of lvm2 (with $i) in a rotating order, SETTLE seconds apart; prints "t|o|c|l ms" lines
# (0.1 ms).
interleaved() {  # count, lvmeta command, lvmc command, lvm2 command
  g node1 "t() { /bin/true; }; o() { $2; }; c() { $3; }; l() { $4; }; \
    for i in \$(seq 1 $1); do \
      case \$((i % 8)) in 0) ord='t o c l';; 1) ord='o c l t';; 2) ord='c l t o';; 3) ord='l t o c';; \
        4) ord='l c o t';; 5) ord='t l c o';; 6) ord='o t l c';; *) ord='c o t l';; esac; \
      for k in \$ord; do s=\$EPOCHREALTIME; \$k >/dev/null 2>&1 || { echo FAIL \$k \$i >&2; exit 1; }; \
        e=\$EPOCHREALTIME; u=\$(( \${e/./} - \${s/./} )); \
        echo \"\$k \$((u / 1000)).\$(( (u % 1000) / 100 ))\"; sleep $SETTLE; done; done"
}
pick() { awk -v k="$1" '$1==k {print $2}'; }

# Daemons: clvmd-rs first, which joins no lockspace until its first lockstart, then lvmlockd,
# which creates lvm_global exclusively (DLM_LSFL_NEWEXCL, as clvmd-rs does); lvm2's VG is
# started before lvmeta's on every node, so clvmd-rs finds lvm_global made and opens it.
start_daemons() {  # node
  g "$1" "CLVMD_RS_TIMING=${CLVMD_RS_TIMING:-} $bin/clvmd-rs --node-name $1 --log-file /tmp/clvmd.log \
    && lvmlockd -g dlm && mkdir -p -m 0700 /run/lvmeta \
    && { setsid $bin/lvmeta-server --socket $srv </dev/null >/tmp/lvmeta-server.log 2>&1 & } \
    && for i in \$(seq 100); do [ -S $srv ] && exit 0; sleep 0.1; done; \
    echo 'lvmeta-server not ready:' >&2; cat /tmp/lvmeta-server.log >&2; exit 1" >&2
}
wait_clvmd() {  # node
  g "$1" "for i in \$(seq 120); do s=\$($bin/clvmd-rs status --json 2>/dev/null); \
    [ \$(echo \"\$s\" | grep -o '\"id\":' | wc -l) -ge 2 ] && echo \"\$s\" | grep -q '\"quorate\":true' && exit 0; \
    sleep 0.5; done; echo 'clvmd-rs not ready:' >&2; cat /tmp/clvmd.log >&2; exit 1"
}
lockstart() {  # node
  g "$1" "L vgchange -q --lockstart vlvm2 && O vgchange --lockstart vours" >&2
}
# Node1 takes lv1 of each VG exclusively; node2 must be refused by both stacks.
hold_on_node1() {
  g node1 "O lvchange -aey vours/lv1 && L lvchange -q -aey vlvm2/lv1" >&2
  g node2 "O lvchange -aey vours/lv1" >/dev/null 2>&1 && { echo "node2 was not refused (ours)" >&2; exit 1; }
  g node2 "L lvchange -q -aey vlvm2/lv1" >/dev/null 2>&1 && { echo "node2 was not refused (lvm2)" >&2; exit 1; }
  return 0
}
# Polls node2's -aey until it succeeds; prints the time since $t0 (ms).
poll() {  # command
  local n=0
  until g node2 "$1" >/dev/null 2>&1; do
    n=$((n + 1))
    [ "$n" -lt 600 ] || { echo "no hand-over: $1" >&2; echo 0; return; }
    sleep 0.2
  done
  echo $(( $(ms) - t0 ))
}

load0=$(uptime | sed 's/.*load average: //')
# 2 GiB disks: vours holds lvmeta's and lvmc's LVs, the batch's and the contention's.
"$lab" up --nodes 2 --shared-disks 2 --shared-disk-mib 2048 >&2
for n in node1 node2; do start_daemons $n; done
for n in node1 node2; do wait_clvmd $n; done
g node1 "L pvcreate -q \$d1 && L vgcreate -q --shared -s 1m vlvm2 \$d1 && \
  O pvcreate \$d0 && O vgcreate --shared -s 1m vours \$d0" >&2
lockstart node2

# Both stacks create without activating or zeroing (lvm2 activates on a shared VG by default).
# lvmeta and lvmc create lv$i and lc$i in the same VG, so it grows alike for both; it ends with
# twice as many LVs as lvm2's (a bias against ours: every command reads and writes it all).
interleaved "$LVS" "O lvcreate -an -Zn -n lv\$i -l 2 vours" "C lvcreate -an -Zn -n lc\$i -l 2 vours" \
  "L lvcreate -q -an -Zn -y -l 2 -n lv\$i vlvm2" >"$bin/create"
interleaved "$ACT" "O lvchange -aey vours/lv\$i" "C lvchange -aey vours/lc\$i" \
  "L lvchange -q -aey vlvm2/lv\$i" >"$bin/aey"
interleaved "$ACT" "O lvchange -an vours/lv\$i" "C lvchange -an vours/lc\$i" \
  "L lvchange -q -an vlvm2/lv\$i" >"$bin/an"
# Batches: BATCH lvcreates in a row through each stack, timed as a whole, twice in opposite
# orders: lvmeta and lvmc in a shell loop, and lvm2's own shell (one `lvm` process reading
# the commands from stdin: lvm2's way of sparing a process start per command, as lvmdbusd
# uses it). Prints "o|c|l ms" per batch.
batch() {  # round
  local ord='o c l'
  [ "$1" = 2 ] && ord='l c o'
  g node1 "el() { e=\$EPOCHREALTIME; echo \"\$1 \$(( (\${e/./} - \${s/./}) / 1000 ))\"; }; \
    for k in $ord; do s=\$EPOCHREALTIME; case \$k in \
      o) for i in \$(seq 1 $BATCH); do O lvcreate -an -Zn -n bo$1_\$i -l 2 vours >/dev/null 2>&1 || exit 1; done ;; \
      c) for i in \$(seq 1 $BATCH); do C lvcreate -an -Zn -n bc$1_\$i -l 2 vours >/dev/null 2>&1 || exit 1; done ;; \
      l) for i in \$(seq 1 $BATCH); do echo \"lvcreate -q -an -Zn -y -l 2 -n bl$1_\$i vlvm2\"; done \
           | L >/dev/null 2>&1 || exit 1 ;; \
      esac; el \$k; done"
}
if [ "$BATCH" -gt 0 ]; then
  { batch 1; batch 2; } >"$bin/batch"
  for p in bo bc; do
    [ "$(g node1 "O lvs --noheadings -o lv_name vours | grep -c ' ${p}[12]_'")" -eq $((2 * BATCH)) ] ||
      { echo "batch: LVs missing ($p)" >&2; exit 1; }
  done
  [ "$(g node1 "L lvs --noheadings -o lv_name vlvm2 | grep -c ' bl[12]_'")" -eq $((2 * BATCH)) ] ||
    { echo "batch: LVs missing (lvm2's shell)" >&2; exit 1; }
fi
load1=$(uptime | sed 's/.*load average: //')
[ -z "${CLVMD_RS_TIMING:-}" ] || g node1 "grep 'timing: ' /tmp/clvmd.log" >"$bin/timing"

# Both nodes at once, CONTEND lvcreates each through one stack (O or L); prints the wall time
# (ms) and the retries. Names cR_NODE_I.
contend() {  # stack, round
  local cmd n t0 t1 pids=()
  case $1 in
    O) cmd="O lvcreate -an -Zn -n c$2_\${n}_\$i -l 2 vours" ;;
    C) cmd="C lvcreate -an -Zn -n s$2_\${n}_\$i -l 2 vours" ;;
    *) cmd="L lvcreate -q -an -Zn -y -l 2 -n c$2_\${n}_\$i vlvm2" ;;
  esac
  t0=$(ms)
  for n in node1 node2; do
    g $n "n=$n; r=0; for i in \$(seq 1 $CONTEND); do k=0; \
      until $cmd >/dev/null 2>&1; do k=\$((k + 1)); [ \$k -lt 100 ] || { echo FAIL \$i >&2; exit 1; }; \
        sleep 0.2; done; r=\$((r + k)); done; echo \$r" >"$bin/retries_$n" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || { echo "a contention loop failed" >&2; exit 1; }; done
  t1=$(ms)
  echo "$((t1 - t0)) $(cat "$bin/retries_node1") $(cat "$bin/retries_node2")"
}
cont_o=()
cont_c=()
cont_l=()
if [ "$CONTEND" -gt 0 ]; then
  for r in 1 2; do
    cont_o+=("$(contend O $r)")
    cont_c+=("$(contend C $r)")
    cont_l+=("$(contend L $r)")
    echo "contention round $r: lvmeta ${cont_o[-1]}, lvmc ${cont_c[-1]}, lvm2 ${cont_l[-1]} (ms, retries on node1 node2)" >&2
  done
  # Nothing lost: every LV there, both nodes see the same, the checks pass.
  want=$((2 * 2 * CONTEND))
  for n in node1 node2; do
    g $n "O lvs --noheadings -o lv_name vours | grep -c ' c[12]_'" >"$bin/n_o_$n"
    g $n "O lvs --noheadings -o lv_name vours | grep -c ' s[12]_'" >"$bin/n_c_$n"
    g $n "L lvs --noheadings -o lv_name vlvm2 | grep -c ' c[12]_'" >"$bin/n_l_$n"
    g $n "O vgck vours && L vgck vlvm2" >&2
  done
  g node1 "O lvs --noheadings -o lv_name vours | sort" >"$bin/names1"
  g node2 "O lvs --noheadings -o lv_name vours | sort" >"$bin/names2"
  cmp -s "$bin/names1" "$bin/names2" || { echo "ours: the nodes see different LVs" >&2; exit 1; }
  g node1 "L lvs --noheadings -o lv_name vlvm2 | sort" >"$bin/names1"
  g node2 "L lvs --noheadings -o lv_name vlvm2 | sort" >"$bin/names2"
  cmp -s "$bin/names1" "$bin/names2" || { echo "lvm2: the nodes see different LVs" >&2; exit 1; }
  for f in n_o_node1 n_o_node2 n_c_node1 n_c_node2 n_l_node1 n_l_node2; do
    [ "$(cat "$bin/$f")" -eq "$want" ] || { echo "lost LVs: $f $(cat "$bin/$f") of $want" >&2; exit 1; }
  done
fi

hand_o=()
hand_l=()
for r in $(seq 1 "$ROUNDS"); do
  hold_on_node1
  t0=$(ms)
  "$lab" kill node1 >&2
  poll "O lvchange -aey vours/lv1" >"$bin/h_o" &
  poll "L lvchange -q -aey vlvm2/lv1" >"$bin/h_l" &
  wait
  hand_o+=("$(cat "$bin/h_o")")
  hand_l+=("$(cat "$bin/h_l")")
  echo "hand-over $r: ours ${hand_o[-1]} ms, lvm2 ${hand_l[-1]} ms" >&2
  [ "${hand_o[-1]}" -gt 0 ] && [ "${hand_l[-1]}" -gt 0 ] || exit 1
  if [ "$r" -lt "$ROUNDS" ]; then
    "$lab" restart node1 >&2
    start_daemons node1
    wait_clvmd node1
    lockstart node1
    g node2 "O lvchange -an vours/lv1 && L lvchange -q -an vlvm2/lv1" >&2
  fi
done

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  cp "$bin/create" "$bin/aey" "$bin/an" "$OUT/"
  [ "$BATCH" -eq 0 ] || cp "$bin/batch" "$OUT/"
  [ -z "${CLVMD_RS_TIMING:-}" ] || cp "$bin/timing" "$OUT/"
fi
ratio() { awk "BEGIN{printf \"%.1f\", $1/$2}"; }
above() { awk "BEGIN{d=$2-$4; printf \"%.1f\", (d > 0 ? ($1-$3)/d : 0)}"; }  # (l-lt)/(m-mt)
echo "load before: $load0; after the per-command part: $load1; at the end: $(uptime | sed 's/.*load average: //')"
echo "| shared VG of $LVS LVs, 2 VMs (TCG), interleaved; median (first quartile) per command | lvmeta (exec'd) | lvmc + lvmeta-server | lvm2 + lvmlockd | lvm2/lvmeta | lvm2/lvmc (medians; quartiles) | lvm2/lvmc above /bin/true |"
echo "|---|---|---|---|---|---|---|"
row() {  # label, file
  local mt m c l mq cq lq
  mt=$(pick t <"$2" | median)
  m=$(pick o <"$2" | median); c=$(pick c <"$2" | median); l=$(pick l <"$2" | median)
  mq=$(pick o <"$2" | q1); cq=$(pick c <"$2" | q1); lq=$(pick l <"$2" | q1)
  printf '| %s | %s ms (%s) | %s ms (%s) | %s ms (%s) | %s | %s; %s | %s |\n' "$1" "$m" "$mq" \
    "$c" "$cq" "$l" "$lq" "$(ratio "$l" "$m")" "$(ratio "$l" "$c")" "$(ratio "$lq" "$cq")" \
    "$(above "$l" "$c" "$mt" "$mt")"
}
for f in create aey an; do
  printf '| /bin/true during the %s rows | %s ms (%s) | | | | | |\n' "$f" \
    "$(pick t <"$bin/$f" | median)" "$(pick t <"$bin/$f" | q1)"
done
row "lvcreate -an -Zn ($LVS, one by one)" "$bin/create"
row "lvchange -aey ($ACT LVs)" "$bin/aey"
row "lvchange -an ($ACT LVs)" "$bin/an"
if [ "$BATCH" -gt 0 ]; then
  per() { awk -v k="$1" -v n="$BATCH" '$1==k {s += $2; c++} END {printf "%.1f", s / c / n}' "$bin/batch"; }
  printf '| %s lvcreates in a row, 2 rounds: per command (lvm2: its shell, one process) | %s ms | %s ms | %s ms | %s | %s | |\n' \
    "$BATCH" "$(per o)" "$(per c)" "$(per l)" "$(ratio "$(per l)" "$(per o)")" "$(ratio "$(per l)" "$(per c)")"
fi
# "ms r1 r2" entries -> "21.3 / 20.1 s (0 retries)"; and the sum of their times.
walls() { printf '%s\n' "$@" | awk '{printf "%s%.1f", (NR > 1 ? " / " : ""), $1 / 1000; r += $2 + $3} END {printf " s (%d retries)", r}'; }
wsum() { printf '%s\n' "$@" | awk '{s += $1} END {print s}'; }
[ "$CONTEND" -eq 0 ] ||
printf '| %s lvcreates at once (%s from each node), 2 rounds: wall time to all done | %s | %s | %s | %s | %s | |\n' \
  "$((2 * CONTEND))" "$CONTEND" "$(walls "${cont_o[@]}")" "$(walls "${cont_c[@]}")" \
  "$(walls "${cont_l[@]}")" "$(ratio "$(wsum "${cont_l[@]}")" "$(wsum "${cont_o[@]}")")" \
  "$(ratio "$(wsum "${cont_l[@]}")" "$(wsum "${cont_c[@]}")")"
[ "$ROUNDS" -eq 0 ] ||
printf '| holder killed -> survivor -aey (fencing included), %s rounds | %s ms | | %s ms | %s | | |\n' \
  "$ROUNDS" "$(IFS=/; echo "${hand_o[*]}")" "$(IFS=/; echo "${hand_l[*]}")" \
  "$(ratio "$(printf '%s\n' "${hand_l[@]}" | awk '{s+=$1} END {print s}')" \
           "$(printf '%s\n' "${hand_o[@]}" | awk '{s+=$1} END {print s}')")"
if [ -n "${CLVMD_RS_TIMING:-}" ]; then
  # "lvm_vg: Convert { ..: A us to this thread, B us in the DLM" and "client N: LvLock { ..
  # answered after C us": medians by DLM call and by request.
  echo "clvmd-rs on node1, medians (us): DLM call: to its thread / in the DLM; request: to its answer; CPG: the multicast"
  sed -n 's/.*timing: lvm_[^:]*: \([A-Za-z]*\).*: \([0-9]*\) us to this thread, \([0-9]*\) us in the DLM/\1 \2 \3/p' \
    "$bin/timing" >"$bin/calls"
  for k in $(awk '{print $1}' "$bin/calls" | sort -u); do
    echo "call $k: $(awk -v k="$k" '$1==k {print $2}' "$bin/calls" | median) / \
$(awk -v k="$k" '$1==k {print $3}' "$bin/calls" | median) ($(grep -c "^$k " "$bin/calls") calls)"
  done
  sed -n 's/.*timing: client [0-9]*: \([A-Za-z]*\).* answered after \([0-9]*\) us/\1 \2/p' \
    "$bin/timing" >"$bin/reqs"
  sed -n 's/.*timing: CPG \([A-Za-z]*\).* took \([0-9]*\) us/\1 \2/p' "$bin/timing" >>"$bin/reqs"
  for k in $(awk '{print $1}' "$bin/reqs" | sort -u); do
    echo "request or CPG $k: $(awk -v k="$k" '$1==k {print $2}' "$bin/reqs" | median) ($(grep -c "^$k " "$bin/reqs") requests)"
  done
fi
