// Package tracetest holds the reference traces recorded from mediasoup
// 2.6.19 talking to mediasoup-client 2.4.12 in Chromium (every message of a
// two-peer session, in order, in traces/) and loads them for tests: the
// ground truth for message shapes.
package tracetest

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
)

//go:embed traces/*.jsonl
var traces embed.FS

// Entry is one message of a trace.
type Entry struct {
	Page   string          `json:"page"`
	Dir    string          `json:"dir"` // "out": client to server
	Type   string          `json:"type"`
	Method string          `json:"method"`
	OK     *bool           `json:"ok"`
	Data   json.RawMessage `json:"data"`
}

// Load reads one trace by name, e.g. "trace-ref-vp8.jsonl".
func Load(name string) ([]Entry, error) {
	f, err := traces.Open("traces/" + name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Names are the trace files.
var Names = []string{"trace-ref-vp8.jsonl", "trace-ref-h264.jsonl"}

// Find returns the entries of a trace matching page, dir, type and method
// ("" matches any).
func Find(es []Entry, page, dir, typ, method string) []Entry {
	var out []Entry
	for _, e := range es {
		if (page == "" || e.Page == page) && (dir == "" || e.Dir == dir) && (typ == "" || e.Type == typ) && (method == "" || e.Method == method) {
			out = append(out, e)
		}
	}
	return out
}
