#!/usr/bin/env bash
# Builds the demo page and runs gosoup serving it from web/dist (so page
# edits show without rebuilding the binary): open http://127.0.0.1:3443/
# (LISTEN=host:port to change the address; extra flags go to the server,
# e.g. scripts/run.sh --config gosoup.yaml, or for phones on the LAN:
# LISTEN=0.0.0.0:3443 scripts/run.sh --tls-self-signed, then open
# https://<this machine's LAN IP>:3443/ and compare the logged fingerprint).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d web/node_modules ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd web && npm run build --silent)
args=(--web web/dist)
# Without LISTEN the address comes from --config / GOSOUP_LISTEN / the default.
if [ -n "${LISTEN:-}" ]; then args+=(--listen "$LISTEN"); fi
exec go run ./cmd/gosoup "${args[@]}" "$@"
