#!/usr/bin/env bash
# Reproduces docs/benchmarks.md: each scenario against a fresh gosoup and a fresh
# mediasoup 2.6.19 (the reference server of docs/benchmarks.md, "Method", which is not part of this repository, installed in /tmp/refserver).
# Needs /tmp/gosoup and /tmp/gosoup-load built from this repository (see docs/benchmarks.md).
# Runs each scenario against a fresh gosoup and a fresh mediasoup 2.6.19.
set -u
mkdir -p /tmp/bench && cd /tmp/bench
scen() { # name args...
  local name=$1; shift
  for srv in gosoup mediasoup; do
    if [ $srv = gosoup ]; then
      /tmp/gosoup --listen 127.0.0.1:3601 --max-peers-per-room 1000 --web "" --rtc-listen-ip 127.0.0.1 --rtc-port 0 --log-level warn > /dev/null 2>&1 &
      url=ws://127.0.0.1:3601; pat="gosoup --listen 127.0.0.1:3601"
    else
      (cd /tmp/refserver && exec node server.js --port 3602 > /dev/null 2>&1) &
      url=ws://127.0.0.1:3602; pat="node server.js --port 3602"
    fi
    sleep 3
    pid=$(pgrep -f "$pat" | head -1)
    timeout 600 /tmp/gosoup-load --url $url --server-pid $pid --json $name-$srv.json "$@" > $name-$srv.txt 2>&1
    pkill -f "$pat"; sleep 2
  done
}
scen 1to10 --publishers 1 --subscribers 10 --duration 20s --ramp-up 3s
scen 1to100 --publishers 1 --subscribers 100 --duration 20s --ramp-up 15s
scen meeting10 --publishers 10 --subscribers 0 --duration 20s --ramp-up 5s
scen audio100 --publishers 1 --subscribers 100 --video=false --duration 20s --ramp-up 15s
scen 1to500 --publishers 1 --subscribers 500 --video=false --duration 20s --ramp-up 60s
echo ALLDONE
