#!/usr/bin/env bash
# Cluster benchmark (docs/benchmarks.md, "One room on three nodes"): one
# publisher -> SUBS subscribers (default 300) in one room, on one gosoup
# and on three gosoup nodes sharing a local redis-server (subscribers spread
# evenly, the publisher on node 1). Prints, per node, the CPU seconds used
# over a steady 20 s window and the packets its subscribers received then.
# Needs redis-server, and builds gosoup and gosoup-load into a temp dir.
# SUBS=3000 RAMP=120 VIDEO_BPS=300000 is the 1 -> 3,000 webinar of
# docs/benchmarks.md ("Big rooms").
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${SUBS:-300}
RAMP=${RAMP:-30}   # seconds over which the subscribers join
VIDEO_BPS=${VIDEO_BPS:-500000}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 1; rm -rf "$dir"' EXIT
go build -o "$dir/gosoup" ./cmd/gosoup
go build -o "$dir/gosoup-load" ./cmd/gosoup-load
tick=$(getconf CLK_TCK)

cpu() { # pid -> CPU seconds (user+system) so far
  awk -v t="$tick" '{print ($14+$15)/t}' "/proc/$1/stat"
}

node() { # id http-port rtc-port [extra args...]
  local id=$1 http=$2 rtc=$3; shift 3
  env -i PATH="$PATH" HOME="$HOME" GOSOUP_CLUSTER_SECRET="${GOSOUP_CLUSTER_SECRET:-}" "$dir/gosoup" --listen "127.0.0.1:$http" --web "" \
    --rtc-listen-ip 127.0.0.1 --rtc-port "$rtc" --max-peers-per-room 5000 --log-level warn "$@" \
    >"$dir/$id.log" 2>&1 &
  echo $!
}

measure() { # label urls pids...
  local label=$1 urls=$2; shift 2
  local pids=("$@")
  "$dir/gosoup-load" --url "$urls" --publishers 1 --subscribers "$SUBS" --ramp-up "${RAMP}s" --duration 30s \
    --bitrate "$VIDEO_BPS" --json "$dir/$label.json" >"$dir/$label.txt" 2>&1 &
  local load=$!
  sleep $((RAMP + 7)) # ramp-up, the load tool's settle, and a little more
  local before=() after=()
  for p in "${pids[@]}"; do before+=("$(cpu "$p")"); done
  sleep 20
  for p in "${pids[@]}"; do after+=("$(cpu "$p")"); done
  wait "$load" || true
  local rate
  rate=$(python3 -c "import json;d=json.load(open('$dir/$label.json'));print(round(d['ReceivedPerSecond']))")
  echo "== $label: subscribers receive $rate packets/s in total (loss $(python3 -c "import json;print(json.load(open('$dir/$label.json'))['LossPercent'])") %)"
  python3 -c "import json;d=json.load(open('$dir/$label.json'));print('  per subscriber: %.1f packets/s, %.0f kb/s; %d of %d peers joined; join p50 %.0f ms, p99 %.0f ms' % (d['PerReceiverPacketsPerSecond'], d['PerReceiverBitsPerSecond']/1000, d['Peers'], $SUBS + 1, d['JoinLatencyMs']['p50'], d['JoinLatencyMs']['p99']))"
  for i in "${!pids[@]}"; do
    python3 -c "print('  node %d: %.2f CPU-s in 20 s, RSS %d MiB' % ($((i + 1)), ${after[$i]} - ${before[$i]}, $(awk '/^VmRSS/{print $2}' /proc/${pids[$i]}/status) / 1024))"
  done
}

one=$(node one 3801 41801)
sleep 2
measure one-node ws://127.0.0.1:3801 "$one"
kill "$one"; sleep 2

# The nodes share a cluster secret (required with --redis).
export GOSOUP_CLUSTER_SECRET=$(python3 -c 'import secrets;print(secrets.token_hex(24))')
rport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >"$dir/redis.log" 2>&1 &
sleep 1
n1=$(node n1 3811 41811 --redis "redis://127.0.0.1:$rport" --node-id n1 --advertise-url ws://127.0.0.1:3811)
n2=$(node n2 3812 41812 --redis "redis://127.0.0.1:$rport" --node-id n2 --advertise-url ws://127.0.0.1:3812)
n3=$(node n3 3813 41813 --redis "redis://127.0.0.1:$rport" --node-id n3 --advertise-url ws://127.0.0.1:3813)
sleep 3
measure three-nodes ws://127.0.0.1:3811,ws://127.0.0.1:3812,ws://127.0.0.1:3813 "$n1" "$n2" "$n3"
