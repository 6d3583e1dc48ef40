package main

import (
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/gosoup/gosoup/sfu"
)

// TestBigRoomSettings: --audio-slots and --last-n are off by default and
// come from their YAML key, GOSOUP_* variable or flag into the SFU
// configuration; a value outside their range is refused.
func TestBigRoomSettings(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, s := range []struct {
		key, env string
		max      int
		get      func(sfu.Config) int
	}{
		{"audio-slots", "GOSOUP_AUDIO_SLOTS", 16, func(c sfu.Config) int { return c.AudioSlots }},
		{"last-n", "GOSOUP_LAST_N", 64, func(c sfu.Config) int { return c.LastN }},
	} {
		for _, tc := range []struct {
			name        string
			args, env   []string
			want        int
			wantRefused bool
		}{
			{name: "default", want: 0},
			{name: "file", env: []string{"GOSOUP_CONFIG=" + writeFile(t, "g.yaml", s.key+": 3\n")}, want: 3},
			{name: "environment", env: []string{s.env + "=4"}, want: 4},
			{name: "flag", args: []string{"--" + s.key, "2"}, env: []string{s.env + "=4"}, want: 2},
			{name: "too many", args: []string{"--" + s.key, strconv.Itoa(s.max + 1)}, wantRefused: true},
			{name: "negative", env: []string{s.env + "=-1"}, wantRefused: true},
		} {
			c, _, err := load(t, tc.args, tc.env)
			if tc.wantRefused {
				if err == nil {
					t.Errorf("%s %s: accepted", s.key, tc.name)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s %s: %v", s.key, tc.name, err)
			}
			cfg, err := c.sfuConfig(quiet)
			if err != nil {
				t.Fatalf("%s %s: %v", s.key, tc.name, err)
			}
			if got := s.get(cfg); got != tc.want {
				t.Errorf("%s %s: %d, want %d", s.key, tc.name, got, tc.want)
			}
		}
	}
}
