package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run builds samples every 10 s: idle, load, settle and end phases with
// goroutines given per phase, RSS rising under load.
func run(idle, load, settle, end int, endGoroutines float64) []sample {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []sample
	add := func(phase string, n int, g, peers, rss float64) {
		for range n {
			rows = append(rows, sample{T: t, Phase: phase, Goroutines: g, Peers: peers, Rooms: min(peers, 3), RSSMiB: rss, FDs: 10 + peers, HeapMiB: rss / 2})
			t = t.Add(10 * time.Second)
			rss++
		}
	}
	add("idle", idle, 20, 0, 15)
	add("load", load, 500, 50, 40)
	add("settle", settle, 30, 0, 70)
	add("end", end, endGoroutines, 0, 44)
	return rows
}

func find(s *summary, name string) result {
	for _, r := range s.Results {
		if r.Metric.Name == name {
			return r
		}
	}
	panic(name)
}

func TestSummarizeWindows(t *testing.T) {
	s, err := summarize(run(4, 20, 3, 5, 21), time.Minute, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	// Load starts at sample 4 (40 s); the start window is the 3 samples
	// from 60 s later: RSS 46, 47, 48. End: the last 3 of 5 (RSS 46..48).
	if len(s.Idle) != 3 || len(s.Start) != 3 || len(s.End) != 3 {
		t.Fatalf("windows %d %d %d", len(s.Idle), len(s.Start), len(s.End))
	}
	if got := s.Start[0].T.Sub(s.LoadStart); got != time.Minute {
		t.Fatalf("start window begins %s after the load", got)
	}
	rss := find(s, "RSS")
	if rss.Start != 47 || rss.End != 47 || rss.Idle != 17 || rss.PeakDuringTheLoad != 59 || !rss.PassStart {
		t.Fatalf("RSS %+v", rss)
	}
	g := find(s, "goroutines")
	if g.Idle != 20 || g.Start != 500 || g.End != 21 || !g.PassStart || !g.PassIdle || !s.Pass {
		t.Fatalf("goroutines %+v pass %v", g, s.Pass)
	}
	if p := find(s, "peers"); p.Idle != 0 || p.End != 0 || !p.PassIdle {
		t.Fatalf("peers %+v", p)
	}
}

func TestSummarizeFails(t *testing.T) {
	// 23 goroutines left of an idle 20: +15 % fails against idle while
	// still far below the loaded start.
	s, err := summarize(run(3, 20, 3, 3, 23), time.Minute, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	if g := find(s, "goroutines"); g.PassIdle || !g.PassStart || s.Pass {
		t.Fatalf("goroutines %+v pass %v", g, s.Pass)
	}
	// A reference of 0 allows nothing: one peer left fails.
	rows := run(3, 20, 3, 3, 20)
	rows[len(rows)-1].Peers, rows[len(rows)-2].Peers = 1, 1
	s, _ = summarize(rows, time.Minute, 0.10)
	if p := find(s, "peers"); p.PassIdle || p.End != 1 || s.Pass {
		t.Fatalf("peers %+v", p)
	}
	// Windows that cannot be taken are errors.
	if _, err := summarize(run(3, 5, 3, 3, 20), time.Minute, 0.10); err == nil {
		t.Fatal("load shorter than the warm-up accepted")
	}
	if _, err := summarize(run(3, 20, 3, 0, 20), time.Minute, 0.10); err == nil {
		t.Fatal("run without end samples accepted")
	}
	if median([]float64{3, 1, 2, 10}) != 2.5 || median([]float64{5, 1, 9}) != 5 {
		t.Fatal("median")
	}
}

func TestCSVRoundTripAndReport(t *testing.T) {
	rows := run(3, 20, 3, 3, 20)
	var b bytes.Buffer
	b.WriteString(strings.Join(csvHeader, ",") + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(formatRow(r, rows[0].T), ",") + "\n")
	}
	back, err := readCSV(&b)
	if err != nil || len(back) != len(rows) || back[5] != rows[5] {
		t.Fatalf("round trip: %v %+v %+v", err, back[5], rows[5])
	}
	s, err := summarize(back, time.Minute, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := scanLog(strings.NewReader(strings.Join([]string{
		`time=2026-01-01T00:00:00Z level=INFO msg="peer joined" room=a peer=b`,
		`time=2026-01-01T00:00:01Z level=WARN msg="dtls handshake failed" transport=12345 remote=127.0.0.1:5000`,
		`time=2026-01-01T00:00:02Z level=WARN msg="dtls handshake failed" transport=67890 remote=127.0.0.1:6001`,
		`time=2026-01-01T00:00:03Z level=ERROR msg="write failed" err="broken pipe"`,
		`panic: runtime error`,
	}, "\n")))
	if err != nil || logs.Count["WARN"] != 2 || logs.Count["ERROR"] != 1 || logs.Count["OTHER"] != 1 || len(logs.Entries) != 3 || logs.Entries[0].Count != 2 {
		t.Fatalf("log scan %v %+v", err, logs)
	}
	var out bytes.Buffer
	printReport(&out, s, logs)
	for _, want := range []string{"| goroutines | 20 | 500 | 500 | 20 | -96 % PASS | +0 % PASS |", "result: PASS", "2 × level=WARN msg=\"dtls handshake failed\" transport=12345"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
	png := filepath.Join(t.TempDir(), "soak.png")
	if err := drawPlot(png, back, s); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 10000 {
		t.Fatalf("plot %v %v", st, err)
	}
}
