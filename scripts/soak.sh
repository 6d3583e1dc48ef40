#!/usr/bin/env bash
# Soak run, by hand (not in CI; docs/soak.md): the gosoup server with its
# default flags (127.0.0.1:3443, media on UDP/TCP 40000), under
#   - 4 Chromium peers (e2e/soak.mjs) in one room: join, produce (half with
#     simulcast), pause/resume, preferred profiles, ICE restarts, leave or
#     drop the page and rejoin, in seeded random order;
#   - 50 pion peers churning in 5 rooms (gosoup-load --churn), a fifth of
#     them through a client-side relay that drops 1 % of RTP/RTCP each way;
# for DURATION, while gosoup-soak samples the server every 10 s. Then every
# peer leaves, the server settles, and gosoup-soak prints the start-vs-end
# table (PASS/FAIL per metric, exit 1 on FAIL) and the server's WARN/ERROR
# lines, and draws the plot.
#
#   DURATION=30m scripts/soak.sh        (default 30m; DURATION=3m for a try)
#   SEED=1 OUT=/tmp/soak PPROF=1 DOCS=1 scripts/soak.sh
# PPROF=1 adds --pprof (goroutine dumps at /debug/pprof/ while it runs);
# SETTLE (seconds, default 150) is the wait after every peer left before
# the end samples: longer than the 2 minutes after which Go forces a
# garbage collection, so the end shows the heap after a collection.
# DOCS=1 copies soak.csv and soak.png into docs/. Needs Go, Node.js with
# e2e/node_modules (npm ci in e2e/) and /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30m}
SEED=${SEED:-1}
SETTLE=${SETTLE:-150}
OUT=${OUT:-$(mktemp -d /tmp/gosoup-soak.XXXXXX)}
mkdir -p "$OUT/bin"
HTTP=http://127.0.0.1:3443

for port in 3443 40000; do
  if ss -Hltnu "sport = :$port" | grep -q .; then
    echo "soak: port $port is in use; the soak runs the server with its default flags" >&2
    exit 1
  fi
done
if [ ! -d e2e/node_modules/playwright-core ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "soak: building into $OUT/bin"
go build -o "$OUT/bin/gosoup" ./cmd/gosoup
go build -o "$OUT/bin/gosoup-load" ./cmd/gosoup-load
go build -o "$OUT/bin/gosoup-soak" ./cmd/gosoup-soak

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# Default flags, as README's run command; a clean environment, since the
# server refuses unknown GOSOUP_* variables.
extra=(--log-level info)
if [ -n "${PPROF:-}" ]; then extra+=(--pprof); fi
env -i PATH="$PATH" HOME="$HOME" "$OUT/bin/gosoup" "${extra[@]}" >"$OUT/server.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 100); do
  curl -fsS "$HTTP/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$HTTP/healthz" >/dev/null || { echo "soak: the server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }
echo "soak: server pid $server, log $OUT/server.log"

echo idle >"$OUT/phase"
"$OUT/bin/gosoup-soak" sample --pid "$server" --metrics "$HTTP/metrics" --phase-file "$OUT/phase" \
  --out "$OUT/soak.csv" --interval 10s 2>"$OUT/sampler.log" &
sampler=$!
pids+=("$sampler")
sleep 35

echo load >"$OUT/phase"
echo "soak: load for $DURATION (seed $SEED); progress in $OUT/load.log and $OUT/browsers.log"
"$OUT/bin/gosoup-load" --churn --url ws://127.0.0.1:3443 --duration "$DURATION" --peers 50 --rooms 5 \
  --bitrate 150000 --relay-share 0.2 --relay-loss 0.01 --seed "$SEED" --json "$OUT/load.json" \
  >"$OUT/load.txt" 2>"$OUT/load.log" &
load=$!
pids+=("$load")
node e2e/soak.mjs --url "$HTTP" --duration "$DURATION" --peers 4 --seed "$SEED" >"$OUT/browsers.log" 2>&1 &
browsers=$!
pids+=("$browsers")
load_rc=0 browsers_rc=0
wait "$load" || load_rc=$?
wait "$browsers" || browsers_rc=$?

echo settle >"$OUT/phase"
echo "soak: every peer has left; settling ${SETTLE}s"
sleep "$SETTLE"
echo end >"$OUT/phase"
sleep 35
kill -TERM "$sampler" && wait "$sampler" || true
kill -TERM "$server" && wait "$server" || true

echo
echo "== pion churn (gosoup-load exit $load_rc)"
cat "$OUT/load.txt"
echo
echo "== Chromium peers (e2e/soak.mjs exit $browsers_rc)"
tail -n 20 "$OUT/browsers.log" | sed -n '/^browsers:/,$p'
echo
echo "== server"
rc=0
"$OUT/bin/gosoup-soak" report --csv "$OUT/soak.csv" --log "$OUT/server.log" --png "$OUT/soak.png" --warmup 1m \
  | tee "$OUT/report.txt" || rc=$?
if [ -n "${DOCS:-}" ]; then cp "$OUT/soak.csv" "$OUT/soak.png" docs/; fi
echo "soak: files in $OUT (soak.csv, soak.png, report.txt, server.log, load.json)"
if [ "$load_rc" != 0 ] || [ "$browsers_rc" != 0 ]; then rc=1; fi
exit "$rc"
