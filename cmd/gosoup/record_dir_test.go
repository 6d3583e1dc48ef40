package main

import (
	"strings"
	"testing"
)

// TestRecordDir: --record-dir (or GOSOUP_RECORD_DIR) must name an
// existing directory; the admin API then writes recordings there.
func TestRecordDir(t *testing.T) {
	dir := t.TempDir()
	c, _, err := load(t, nil, []string{"GOSOUP_RECORD_DIR=" + dir})
	if err != nil || c.recordDir != dir {
		t.Fatalf("from the environment: %q, %v", c.recordDir, err)
	}
	if _, _, err := load(t, []string{"--record-dir", dir + "/missing"}, nil); err == nil || !strings.Contains(err.Error(), "record-dir") {
		t.Fatalf("a missing directory: %v", err)
	}
	c, _, err = load(t, nil, nil)
	if err != nil || c.recordDir != "" {
		t.Fatalf("default: %q, %v", c.recordDir, err)
	}
}
