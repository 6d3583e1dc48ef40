// Package tracetest loads the reference traces recorded from mediasoup
// 2.6.19 and mediasoup-client 2.4.12 (../shared/reference beside the
// repository) for tests.
package tracetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Entry is one message of a trace.
type Entry struct {
	Page   string          `json:"page"`
	Dir    string          `json:"dir"` // "out": client to server
	Type   string          `json:"type"`
	Method string          `json:"method"`
	OK     *bool           `json:"ok"`
	Data   json.RawMessage `json:"data"`
}

// Dir finds shared/reference by walking up from the working directory; ""
// when absent.
func Dir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{filepath.Join(d, "shared", "reference"), filepath.Join(d, "..", "shared", "reference")} {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// Load reads one trace file by name, e.g. "trace-ref-vp8.jsonl".
func Load(name string) ([]Entry, error) {
	dir := Dir()
	if dir == "" {
		return nil, os.ErrNotExist
	}
	f, err := os.Open(filepath.Join(dir, name))
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
