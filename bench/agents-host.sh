#!/usr/bin/env bash
# Latency of meta-data and validate-all: halvm's LVM-activate against resource-agents'
# (the anchor), on this host. Not a test: prints medians and the ratio.
#
#   bench/agents-host.sh [RUNS]        (default 200 runs per command)
#
# AGENT=/path/to/LVM-activate uses a given binary instead of building the release one.
# Uses hyperfine (Debian package `hyperfine`) without a shell in the measured command;
# falls back to a date +%s%N loop when hyperfine is absent.
#
# Note: the anchor's validate-all scans devices (pvscan --cache, vgs) and, with no such VG
# on this host, stops with exit 1 after that scan; ours checks parameters and their
# combinations only (by design: pcs runs validate-all on nodes that need not see the VG).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200}"

heartbeat=/usr/lib/ocf/resource.d/heartbeat/LVM-activate
[ -x "$heartbeat" ] || { echo "missing $heartbeat (Debian package resource-agents)" >&2; exit 1; }
if [ -z "${AGENT:-}" ]; then
  cargo build -q --release -p halvm-lvm-activate
  AGENT="${CARGO_TARGET_DIR:-target}/release/LVM-activate"
fi
[ -x "$AGENT" ] || { echo "missing agent binary $AGENT" >&2; exit 1; }

env_common=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin OCF_ROOT=/usr/lib/ocf HA_LOGFACILITY=none HA_LOGFILE=/dev/null
  OCF_RESOURCE_INSTANCE=bench-vg OCF_RESKEY_vgname=halvm_bench_vg OCF_RESKEY_vg_access_mode=system_id)

declare -A median_ms
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

measure() { # name, command...
  local name="$1"; shift
  if command -v hyperfine >/dev/null; then
    hyperfine -N -i --warmup 5 --runs "$runs" --export-json "$tmp/$name.json" "$(printf '%q ' "$@")" >/dev/null 2>&1
    median_ms[$name]=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f" % (r["median"]*1000))' "$tmp/$name.json")
  else
    local t0 t1 i
    for ((i = 0; i < 5; i++)); do "$@" >/dev/null 2>&1 || true; done
    : > "$tmp/$name.times"
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
      echo $(( t1 - t0 )) >> "$tmp/$name.times"
    done
    median_ms[$name]=$(sort -n "$tmp/$name.times" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1e6}')
  fi
}

measure ours_meta "${env_common[@]}" "$AGENT" meta-data
measure anchor_meta "${env_common[@]}" "$heartbeat" meta-data
measure ours_validate "${env_common[@]}" "$AGENT" validate-all
measure anchor_validate "${env_common[@]}" "$heartbeat" validate-all

rc_ours=0; "${env_common[@]}" "$AGENT" validate-all >/dev/null 2>&1 || rc_ours=$?
rc_anchor=0; "${env_common[@]}" "$heartbeat" validate-all >/dev/null 2>&1 || rc_anchor=$?

ratio() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
tool=$(command -v hyperfine >/dev/null && hyperfine --version || echo "date loop")
echo "agents-host: $runs runs each, median, measured with $tool on $(nproc) cores"
printf '%-14s %12s %12s %10s\n' action "halvm (ms)" "anchor (ms)" "anchor/halvm"
printf '%-14s %12s %12s %10s\n' meta-data "${median_ms[ours_meta]}" "${median_ms[anchor_meta]}" "$(ratio "${median_ms[anchor_meta]}" "${median_ms[ours_meta]}")x"
printf '%-14s %12s %12s %10s\n' validate-all "${median_ms[ours_validate]}" "${median_ms[anchor_validate]}" "$(ratio "${median_ms[anchor_validate]}" "${median_ms[ours_validate]}")x"
echo "validate-all exit codes: halvm $rc_ours, anchor $rc_anchor (no VG halvm_bench_vg on this host)"
