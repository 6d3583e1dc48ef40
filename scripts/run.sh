#!/usr/bin/env bash
# Builds the demo page and runs gosoup: open http://127.0.0.1:3443/
# (LISTEN=host:port to change the address; extra flags go to the server).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d web/node_modules ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd web && npm run build --silent)
exec go run ./cmd/gosoup --listen "${LISTEN:-127.0.0.1:3443}" --web web/dist "$@"
