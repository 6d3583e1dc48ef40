#!/usr/bin/env bash
# Reproduces docs/benchmarks.md. Run by hand, never in CI (see bench/README.md for the setup).
#
#   scripts/bench-compare.sh legacy      # the 2026-11-24 table: gosoup vs mediasoup 2.6.19, no pinning
#   scripts/bench-compare.sh pinned      # issue 11 (a)+(b): 1 -> 100 VP8 1.5 Mb/s + opus, 10-peer meeting;
#                                        #   gosoup, mediasoup 2.6.19, LiveKit v1.9.11; server on core 0, load on core 1
#   scripts/bench-compare.sh audio       # issue 11 (c): audio only 1 -> 100 and 1 -> 500, same pinning
#   scripts/bench-compare.sh capacity    # issue 11 (d): 4 rooms x (1 publisher + N/4 subscribers), N rising, no pinning;
#                                        #   gosoup (one read loop per core) vs mediasoup 2.6.19 --num-workers 2
#   scripts/bench-compare.sh all         # pinned, audio, capacity
#   scripts/bench-compare.sh smoke       # 1 -> 3 for a few seconds on each server: checks the setup
#   scripts/bench-compare.sh one NAME SERVER PIN NICE load-args...   # one run (see run below)
#
# Needs (bench/README.md): /tmp/gosoup and /tmp/gosoup-load built from this repository; the reference server
# (mediasoup 2.6.19) in /tmp/refserver with the --num-workers change; for LiveKit /tmp/livekit-server
# (v1.9.11) and /tmp/livekit-load (bench/livekit-load), run in the network namespace "lkbench" made below.
# SERVERS="gosoup mediasoup livekit" chooses the servers of pinned/audio; CAPACITY_STEPS the subscriber counts.
# BENCH_GOSOUP and BENCH_GOSOUP_LOAD replace /tmp/gosoup and /tmp/gosoup-load; the server "gosoup-base" is gosoup
# from BENCH_GOSOUP_BASE (a build of another commit, for a before/after in one run); BENCH_GOSOUP_ENV (e.g. GOGC=25)
# is the environment of both gosoup servers.
# Results: /tmp/bench/<scenario>-<server>.json (the load tool's summary), .txt (its output) and .samples
# (once a second: time, server CPU ticks, load tool CPU ticks, /proc/stat cpu line), and a summary line per
# run in /tmp/bench/summary.tsv.
set -u
cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT=${OUT:-/tmp/bench}
mkdir -p "$OUT"
LKCONF=$REPO/bench/livekit-load/livekit.yaml
NS=lkbench
NSIP=10.201.0.1

# setup_netns makes the network namespace LiveKit and its load tool run in: pion (LiveKit's Go SDK)
# gathers no loopback candidates, so they talk over a veth pair kept inside the namespace (all traffic
# stays inside it; the kernel delivers it through the namespace's loopback).
setup_netns() {
  ip netns list | grep -qw $NS && return 0
  ip netns add $NS && ip -n $NS link set lo up &&
    ip -n $NS link add vb0 type veth peer name vb1 && ip -n $NS addr add $NSIP/24 dev vb0 &&
    ip -n $NS link set vb0 up && ip -n $NS link set vb1 up
}

ticks() { # utime+stime of a process and its descendants, in clock ticks
  local p=$1 t=0 c
  [ -r /proc/$p/stat ] || { echo 0; return; }
  t=$(sed 's/.*) //' /proc/$p/stat | awk '{print $12+$13}')
  for c in $(cat /proc/$p/task/*/children 2>/dev/null); do t=$((t + $(ticks $c))); done
  echo $t
}

sampler() { # server-pid load-pid txt file: one line a second while the load tool runs (the last field: how
  # many progress lines the tool has printed, one per second of its measured window); file.ustime gets the
  # server's user and system ticks apart (its main process: the threads of gosoup and of mediasoup's
  # worker are counted by their own process)
  while kill -0 $2 2>/dev/null; do
    echo "$(date +%s.%N) $(ticks $1) $(ticks $2) $(head -1 /proc/stat) $(grep -c 'pkt/s' $3)" >> $4
    echo "$(date +%s.%N) $(ustime $1)" >> $4.ustime
    sleep 1
  done
}

ustime() { # user and system clock ticks of a process and its descendants
  local p=$1 u=0 s=0 c cu
  [ -r /proc/$p/stat ] || { echo "0 0"; return; }
  read -r u s < <(sed 's/.*) //' /proc/$p/stat | awk '{print $12, $13}')
  for c in $(cat /proc/$p/task/*/children 2>/dev/null); do
    read -r cu cs < <(ustime $c)
    u=$((u + cu)) s=$((s + cs))
  done
  echo "$u $s"
}

# start_server NAME PIN: NAME is gosoup, mediasoup, mediasoup2 (--num-workers 2) or livekit; PIN=1 runs it
# on core 0. Sets url, spid, pat.
start_server() {
  local name=$1 pin=$2 ts=""
  [ "$pin" = 1 ] && ts="taskset -c 0"
  case $name in
  gosoup | gosoup-base)
    local bin=${BENCH_GOSOUP:-/tmp/gosoup}; [ $name = gosoup-base ] && bin=$BENCH_GOSOUP_BASE
    env ${BENCH_GOSOUP_ENV:-} $ts $bin --listen 127.0.0.1:3601 --max-peers-per-room 1000 --web "" --rtc-listen-ip 127.0.0.1 \
      --rtc-port 0 --log-level warn > "$OUT/server.log" 2>&1 &
    url=ws://127.0.0.1:3601 pat="[-]-listen 127.0.0.1:3601 --max-peers-per-room" ;;
  mediasoup | mediasoup2)
    local nw=1; [ $name = mediasoup2 ] && nw=2
    (cd /tmp/refserver && exec $ts node server.js --port 3602 --num-workers $nw --rtc-min-port 50000 \
      --rtc-max-port 59999 > "$OUT/server.log" 2>&1) &
    url=ws://127.0.0.1:3602 pat="node server.js --port 3602" ;;
  livekit)
    setup_netns
    ip netns exec $NS $ts /tmp/livekit-server --config "$LKCONF" > "$OUT/server.log" 2>&1 &
    url=ws://$NSIP:7880 pat="livekit-server --config" ;;
  esac
  sleep 4
  spid=$(pgrep -f "$pat" | head -1)
}

stop_server() {
  [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
  sleep 3
  [ -n "${spid:-}" ] && kill -9 "$spid" 2>/dev/null
  spid=""
}

# run NAME SERVER PIN NICE load-args...: a fresh server, the load tool (gosoup-load, or livekit-load for
# livekit) on core 1 when PIN=1, at nice NICE, and a summary line.
run() {
  local name=$1 srv=$2 pin=$3 nice=$4; shift 4
  local tag=$name-$srv ts="" tool=${BENCH_GOSOUP_LOAD:-/tmp/gosoup-load} ns=""
  [ "$pin" = 1 ] && ts="taskset -c 1"
  [ $srv = livekit ] && tool=/tmp/livekit-load ns="ip netns exec $NS"
  start_server $srv $pin
  if [ -z "$spid" ]; then echo "$tag: server did not start" >&2; cat "$OUT/server.log" >&2; return; fi
  rm -f "$OUT/$tag.samples" "$OUT/$tag.samples.ustime" "$OUT/$tag.json"
  local load0; load0=$(cut -d' ' -f1 /proc/loadavg)
  $ns $ts nice -n $nice $tool --url $url --server-pid $spid --json "$OUT/$tag.json" "$@" > "$OUT/$tag.txt" 2>&1 &
  local lp=$! i
  for i in $(seq 50); do # until taskset, nice and ip netns exec have exec'ed the tool
    [ "$(cat /proc/$lp/comm 2>/dev/null)" = "$(basename $tool)" ] && break
    sleep 0.1
  done
  sampler $spid $lp "$OUT/$tag.txt" "$OUT/$tag.samples" &
  wait $lp
  stop_server
  summarize "$tag" "$load0" "$@"
}

# summarize TAG LOADAVG args: one line of summary.tsv from the JSON and the samples: the server's and the
# load tool's CPU, the machine's idle time and what other processes used over the measured window, each
# in % of one core (200 % = both cores of a 2-core machine).
summarize() {
  local tag=$1 load0=$2; shift 2
  local dur=20
  while [ $# -gt 0 ]; do [ "$1" = --duration ] && dur=${2%s}; shift; done
  [ -s "$OUT/$tag.json" ] || { echo -e "$tag\tFAILED" | tee -a "$OUT/summary.tsv"; return; }
  python3 - "$OUT/$tag.json" "$OUT/$tag.samples" "$dur" "$tag" "$load0" <<'EOF' | tee -a "$OUT/summary.tsv"
import json, sys
j = json.load(open(sys.argv[1])); dur = float(sys.argv[3]); tag = sys.argv[4]
rows = []
for line in open(sys.argv[2]):
    f = line.split()
    cpu = [int(x) for x in f[4:-1]]
    rows.append((float(f[0]), int(f[1]), int(f[2]), sum(cpu), cpu[3] + cpu[4], int(f[-1])))
# the measured window: from the first sample after the tool's first progress line to the first one at its
# last progress line (whole seconds of samples, so within a second of the tool's own window)
win = [r for r in rows if 1 <= r[5] <= dur]
a, b = win[0], win[-1]
dt = b[0] - a[0]
srv = (b[1] - a[1]) / 100 / dt * 100
load = (b[2] - a[2]) / 100 / dt * 100
idle = (b[4] - a[4]) / 100 / dt * 100
other = (b[3] - a[3]) / 100 / dt * 100 - idle - srv - load  # other processes, the kernel's own threads
# the server's time in the kernel (system calls: sends, receives), as a share of its CPU over the window
sysshare = ""
try:
    us = [[float(x) for x in l.split()] for l in open(sys.argv[2] + ".ustime")]
    ua = min(us, key=lambda r: abs(r[0] - a[0])); ub = min(us, key=lambda r: abs(r[0] - b[0]))
    if ub[1] + ub[2] > ua[1] + ua[2]:
        sysshare = "sys%%=%.0f" % (100 * (ub[2] - ua[2]) / (ub[1] + ub[2] - ua[1] - ua[2]))
except OSError:
    pass
s = j.get("Server") or {}
print("\t".join(str(x) for x in [tag, j["Consumers"], j["Peers"], j["Errors"], round(j["ReceivedPerSecond"]),
      "%.3f" % j["LossPercent"], "%.2f" % s.get("CPUSeconds", 0), round(s.get("ForwardedPacketsPerCPUSec", 0)),
      round(s.get("RSSPerConsumerKiB", 0)), "%.1f" % s.get("RSSMiB", 0), "srv%%=%.0f" % srv, "load%%=%.0f" % load,
      "idle%%=%.0f" % idle, "other%%=%.0f" % other, "p50join=%.0f" % j["JoinLatencyMs"]["p50"], "loadavg=" + sys.argv[5], sysshare]))
EOF
}

header() {
  echo -e "# $(date -Is) $(nproc) cores, $(uptime | sed 's/.*load/load/')" >> "$OUT/summary.tsv"
  echo -e "tag\tconsumers\tpeers\terrors\trcv_pkt/s\tloss%\tsrvCPU_s\tfwd/CPU-s\tRSS/cons_KiB\tRSS_MiB\tsrv%\tload%\tidle%\tother%\tjoin\tloadavg" >> "$OUT/summary.tsv"
}

SERVERS=${SERVERS:-gosoup mediasoup livekit}

pinned() {
  for srv in $SERVERS; do
    run 1to100v15 $srv 1 0 --publishers 1 --subscribers 100 --bitrate 1500000 --duration 20s --ramp-up 20s
  done
  for srv in $SERVERS; do
    run meeting10 $srv 1 0 --publishers 10 --subscribers 0 --duration 20s --ramp-up 5s
  done
}

audio() {
  for srv in $SERVERS; do
    run audio100 $srv 1 0 --publishers 1 --subscribers 100 --video=false --duration 20s --ramp-up 20s
  done
  for srv in $SERVERS; do
    run audio500 $srv 1 0 --publishers 1 --subscribers 500 --video=false --duration 20s --ramp-up 60s
  done
}

# capacity: no pinning (both servers may use both cores); the load tool runs at nice 19 so that it never
# takes CPU from the server (when the two compete, the load tool starves first and its loss shows it).
capacity() {
  for n in ${CAPACITY_STEPS:-100 200 400 600 800}; do
    for srv in gosoup mediasoup2; do
      run cap$n $srv 0 19 --rooms 4 --publishers 1 --subscribers $((n / 4)) --duration 20s --ramp-up $((n / 10 + 10))s
    done
  done
}

smoke() { # a few seconds per server, to check the setup
  for srv in $SERVERS mediasoup2; do
    run smoke $srv 1 0 --publishers 1 --subscribers 3 --duration 5s --ramp-up 2s
  done
}

legacy() {
  for s in gosoup mediasoup; do run 1to10 $s 0 0 --publishers 1 --subscribers 10 --duration 20s --ramp-up 3s; done
  for s in gosoup mediasoup; do run 1to100 $s 0 0 --publishers 1 --subscribers 100 --duration 20s --ramp-up 15s; done
  for s in gosoup mediasoup; do run meeting10 $s 0 0 --publishers 10 --subscribers 0 --duration 20s --ramp-up 5s; done
  for s in gosoup mediasoup; do run audio100 $s 0 0 --publishers 1 --subscribers 100 --video=false --duration 20s --ramp-up 15s; done
  for s in gosoup mediasoup; do run 1to500 $s 0 0 --publishers 1 --subscribers 500 --video=false --duration 20s --ramp-up 60s; done
}

header
case ${1:-all} in
one) shift; run "$@" ;;
smoke) smoke ;;
legacy) legacy ;;
pinned) pinned ;;
audio) audio ;;
capacity) capacity ;;
all) pinned; audio; capacity ;;
*) echo "usage: $0 [smoke|legacy|pinned|audio|capacity|all|one ...]" >&2; exit 2 ;;
esac
echo ALLDONE
