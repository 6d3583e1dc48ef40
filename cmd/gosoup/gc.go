package main

import (
	"runtime/debug"
	"strings"
)

// defaultGCPercent is the garbage collector's target (GOGC) when the GOGC
// environment variable sets none. The forwarding path allocates nothing,
// so the heap grows with sessions and signaling only, and Go's default
// (let the heap double before collecting) mostly keeps garbage: at 50 an
// audio listener costs about a quarter less memory (1 -> 100: 82-92
// against 109-112 KiB of RSS per consumer; 1 -> 500: 46 against 59-65)
// for no CPU difference the measurements could tell from noise
// (docs/benchmarks.md, "Audio cost per peer").
const defaultGCPercent = 50

// applyGCPercent sets defaultGCPercent unless environ has GOGC, which the
// runtime has then applied already.
func applyGCPercent(environ []string) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOGC=") {
			return
		}
	}
	debug.SetGCPercent(defaultGCPercent)
}
