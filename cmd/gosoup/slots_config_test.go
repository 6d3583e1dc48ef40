package main

import (
	"io"
	"log/slog"
	"testing"
)

// TestAudioSlotsSetting: --audio-slots is off by default and comes from
// the YAML key audio-slots, GOSOUP_AUDIO_SLOTS or the flag, into the SFU
// configuration; a value outside 0..16 is refused.
func TestAudioSlotsSetting(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name        string
		args, env   []string
		want        int
		wantRefused bool
	}{
		{name: "default", want: 0},
		{name: "file", env: []string{"GOSOUP_CONFIG=" + writeFile(t, "g.yaml", "audio-slots: 3\n")}, want: 3},
		{name: "environment", env: []string{"GOSOUP_AUDIO_SLOTS=4"}, want: 4},
		{name: "flag", args: []string{"--audio-slots", "2"}, env: []string{"GOSOUP_AUDIO_SLOTS=4"}, want: 2},
		{name: "too many", args: []string{"--audio-slots", "17"}, wantRefused: true},
		{name: "negative", env: []string{"GOSOUP_AUDIO_SLOTS=-1"}, wantRefused: true},
	} {
		c, _, err := load(t, tc.args, tc.env)
		if tc.wantRefused {
			if err == nil {
				t.Errorf("%s: accepted", tc.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cfg, err := c.sfuConfig(quiet)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cfg.AudioSlots != tc.want {
			t.Errorf("%s: AudioSlots %d, want %d", tc.name, cfg.AudioSlots, tc.want)
		}
	}
}

// TestLastNSetting: --last-n is off by default and comes from the YAML
// key last-n, GOSOUP_LAST_N or the flag, into the SFU configuration; a
// value outside 0..64 is refused.
func TestLastNSetting(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name        string
		args, env   []string
		want        int
		wantRefused bool
	}{
		{name: "default", want: 0},
		{name: "file", env: []string{"GOSOUP_CONFIG=" + writeFile(t, "g.yaml", "last-n: 5\n")}, want: 5},
		{name: "environment", env: []string{"GOSOUP_LAST_N=4"}, want: 4},
		{name: "flag", args: []string{"--last-n", "2"}, env: []string{"GOSOUP_LAST_N=4"}, want: 2},
		{name: "too many", args: []string{"--last-n", "65"}, wantRefused: true},
		{name: "negative", env: []string{"GOSOUP_LAST_N=-1"}, wantRefused: true},
	} {
		c, _, err := load(t, tc.args, tc.env)
		if tc.wantRefused {
			if err == nil {
				t.Errorf("%s: accepted", tc.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cfg, err := c.sfuConfig(quiet)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cfg.LastN != tc.want {
			t.Errorf("%s: LastN %d, want %d", tc.name, cfg.LastN, tc.want)
		}
	}
}
