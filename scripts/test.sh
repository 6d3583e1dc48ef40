#!/usr/bin/env bash
# Runs every gosoup test: go vet, unit and integration tests with the race
# detector, and the browser end-to-end tests in Debian's Chromium and
# Firefox ESR. Installs what a fresh Debian machine lacks (chromium,
# firefox-esr, ffmpeg and redis-server via apt, npm packages; no browser is ever downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/bin/firefox-esr ] || missing="$missing firefox-esr"
[ -x /usr/bin/ffmpeg ] && [ -x /usr/bin/ffprobe ] || missing="$missing ffmpeg"
# redis-server for the cluster tests (each starts its own on a free loopback port).
[ -x /usr/bin/redis-server ] || missing="$missing redis-server"
# ip and tc for the tests in network namespaces (thin link, Firefox; as root).
command -v tc >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
if [ -n "$missing" ]; then
  echo "== installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

echo "== web: npm ci + build"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
# The binary embeds web/dist: the committed copy must be what web/src builds.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --quiet -- web/dist; then
  echo "web/dist differs from the build of web/src: commit the rebuilt web/dist"; git diff --stat -- web/dist; exit 1
fi
echo "== e2e: npm ci"
# puppeteer-core (Firefox over WebDriver BiDi) drives /usr/bin/firefox-esr.
(cd e2e && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

echo "== gofmt / go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './*/node_modules/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...

# Every fuzz target of the repository, briefly: go test -fuzz takes exactly
# one target per run. FUZZTIME is the time of each (default: 40s shared by
# all targets, at least 2s each, so that the step with its instrumented
# builds stays under two minutes; FUZZTIME=0 skips it). The seed corpora
# (testdata/fuzz/) already ran above as plain tests.
targets=$(grep -rn --include='*_test.go' --exclude-dir=node_modules --exclude-dir=testdata '^func Fuzz' . |
  sed -nE 's|^\./(.*/)?[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*|./\1 \2|p' | sort)
if [ -z "$targets" ]; then echo "no fuzz targets found"; exit 1; fi
FUZZTIME="${FUZZTIME:-$(( 40 / $(wc -l <<< "$targets") > 2 ? 40 / $(wc -l <<< "$targets") : 2 ))s}"
if [ "$FUZZTIME" != "0" ]; then
  echo "== fuzz: $(wc -l <<< "$targets") targets, $FUZZTIME each"
  while read -r dir name; do
    corpus="${dir}testdata/fuzz/$name"
    before=$(ls "$corpus" 2>/dev/null || true)
    if ! out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$dir" 2>&1); then
      # Go 1.26's coordinator may report its own -fuzztime deadline as a
      # failure (golang/go#75804, fixed in Go 1.27): no input was written
      # then, and nothing failed.
      if [ "$(ls "$corpus" 2>/dev/null || true)" = "$before" ] && grep -q '^    context deadline exceeded$' <<< "$out"; then
        echo "$name ($dir): ended by the fuzztime deadline race (golang/go#75804), no failing input"
        continue
      fi
      echo "$out"
      echo "fuzz target $name ($dir) failed: the failing input is under $corpus/"
      exit 1
    fi
    echo "$name ($dir): $(grep '^fuzz: elapsed' <<< "$out" | tail -n 1 | sed 's/^fuzz: //')"
  done <<< "$targets"
fi

echo "== browser end-to-end tests"
(cd e2e && PUPPETEER_SKIP_DOWNLOAD=1 npm test)
echo "== all tests passed"
