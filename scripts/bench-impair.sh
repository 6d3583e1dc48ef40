#!/usr/bin/env bash
# Quality under impairment, gosoup vs mediasoup 2.6.19 (docs/benchmarks.md, "Quality under impairment").
# Run by hand as root, never in CI (bench/README.md has the reference server's setup):
#
#   scripts/bench-impair.sh [run.mjs options: --cells loss10,cap1m --modes simulcast,single --runs 3 --seconds 30]
#
# Builds gosoup (default flags), makes /tmp/refserver/server-impair.js from the reference server's
# server.js (its loopback address and media address taken from REF_HOST / REF_ANNOUNCED_IP, so that
# browsers in network namespaces reach it), and runs bench/impair/run.mjs. Results in $OUT
# (default /tmp/impair/results.jsonl) and a Markdown table on stdout.
set -eu
cd "$(dirname "$0")/.."
REF=${REFSERVER:-/tmp/refserver}
[ "$(id -u)" = 0 ] || { echo "bench-impair: needs root (network namespaces, iptables, tc)" >&2; exit 2; }
[ -f "$REF/node_modules/mediasoup/worker/out/Release/mediasoup-worker" ] ||
  { echo "bench-impair: no mediasoup 2.6.19 worker in $REF (see bench/README.md)" >&2; exit 2; }
sed -e "s|^const HOST = '127.0.0.1';.*|const HOST = process.env.REF_HOST \|\| '127.0.0.1';|" \
  -e "s|rtcIPv4    : HOST,|rtcIPv4    : HOST, rtcAnnouncedIPv4 : process.env.REF_ANNOUNCED_IP,|" \
  "$REF/server.js" > "$REF/server-impair.js"
grep -q REF_ANNOUNCED_IP "$REF/server-impair.js" || { echo "bench-impair: could not adapt $REF/server.js" >&2; exit 2; }
go build -o /tmp/gosoup-impair ./cmd/gosoup
exec node bench/impair/run.mjs --gosoup-bin /tmp/gosoup-impair --refserver "$REF/server-impair.js" "$@"
