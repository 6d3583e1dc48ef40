package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// windowSize is how many samples a reference value is the median of.
const windowSize = 3

// metric is one judged column.
type metric struct {
	Name, Unit string
	get        func(sample) float64
	vsIdle     bool // also judged against the idle server before the load
}

var metrics = []metric{
	{"RSS", "MiB", func(s sample) float64 { return s.RSSMiB }, false},
	{"heap in use", "MiB", func(s sample) float64 { return s.HeapMiB }, false},
	{"goroutines", "", func(s sample) float64 { return s.Goroutines }, true},
	{"file descriptors", "", func(s sample) float64 { return s.FDs }, true},
	{"rooms", "", func(s sample) float64 { return s.Rooms }, true},
	{"peers", "", func(s sample) float64 { return s.Peers }, true},
	{"transports", "", func(s sample) float64 { return s.Transports }, true},
	{"producers", "", func(s sample) float64 { return s.Producers }, true},
	{"consumers", "", func(s sample) float64 { return s.Consumers }, true},
}

// result is one metric's verdict.
type result struct {
	Metric            metric
	Idle, Start, End  float64
	PassStart         bool
	PassIdle          bool // meaningful when Metric.vsIdle
	GrowthVsStart     float64
	GrowthVsIdle      float64
	PeakDuringTheLoad float64
}

// summary is the judged run.
type summary struct {
	Tolerance                    float64
	Idle, Start, End             []sample // the windows
	LoadStart, LoadEnd, Finished time.Time
	Results                      []result
	Pass                         bool
}

// median of v (v is reordered).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func windowMedian(rows []sample, get func(sample) float64) float64 {
	v := make([]float64, len(rows))
	for i, r := range rows {
		v[i] = get(r)
	}
	return median(v)
}

// within reports whether end grew by at most tol from ref (a reference of
// 0 allows no growth at all). Ending below the reference is not a leak.
func within(end, ref, tol float64) bool { return end <= ref*(1+tol)+1e-9 }

func growth(end, ref float64) float64 {
	if ref == 0 {
		if end == 0 {
			return 0
		}
		return 1
	}
	return end/ref - 1
}

// summarize picks the windows and judges every metric:
//   - idle: the last samples of phase "idle" (the server before any peer);
//   - start: the first samples of phase "load" taken at least warmup after
//     the load began (peers connected, the process at its working size);
//   - end: the last samples of phase "end" (every peer gone, after the
//     settle time).
//
// Every metric passes against start when end <= start*(1+tol); the counts
// (goroutines, descriptors, rooms, peers, transports, producers,
// consumers) must also end within tol of idle.
func summarize(rows []sample, warmup time.Duration, tol float64) (*summary, error) {
	s := &summary{Tolerance: tol, Pass: true}
	var load []sample
	for _, r := range rows {
		switch r.Phase {
		case "idle":
			s.Idle = append(s.Idle, r)
		case "load":
			load = append(load, r)
		case "end":
			s.End = append(s.End, r)
		}
	}
	if len(load) == 0 {
		return nil, fmt.Errorf("no samples of phase load")
	}
	s.LoadStart, s.LoadEnd, s.Finished = load[0].T, load[len(load)-1].T, rows[len(rows)-1].T
	for _, r := range load {
		if r.T.Sub(s.LoadStart) >= warmup && len(s.Start) < windowSize {
			s.Start = append(s.Start, r)
		}
	}
	if len(s.Start) == 0 {
		return nil, fmt.Errorf("no load samples after the %s warm-up: the load was too short", warmup)
	}
	if len(s.End) == 0 {
		return nil, fmt.Errorf("no samples of phase end (after the peers left and the settle time)")
	}
	s.End = s.End[max(0, len(s.End)-windowSize):]
	s.Idle = s.Idle[max(0, len(s.Idle)-windowSize):]
	for _, m := range metrics {
		res := result{Metric: m, Start: windowMedian(s.Start, m.get), End: windowMedian(s.End, m.get), PassIdle: true}
		for _, r := range load {
			res.PeakDuringTheLoad = max(res.PeakDuringTheLoad, m.get(r))
		}
		res.PassStart = within(res.End, res.Start, tol)
		res.GrowthVsStart = growth(res.End, res.Start)
		if len(s.Idle) > 0 {
			res.Idle = windowMedian(s.Idle, m.get)
			res.GrowthVsIdle = growth(res.End, res.Idle)
			if m.vsIdle {
				res.PassIdle = within(res.End, res.Idle, tol)
			}
		}
		if !res.PassStart || (m.vsIdle && !res.PassIdle) {
			s.Pass = false
		}
		s.Results = append(s.Results, res)
	}
	return s, nil
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// printReport prints the windows, the Markdown table and the log lines.
func printReport(w io.Writer, s *summary, logs *logScan) {
	span := func(rows []sample) string {
		return fmt.Sprintf("%d samples, %s", len(rows), rows[0].T.Sub(s.LoadStart).Round(time.Second))
	}
	fmt.Fprintf(w, "load ran %s; windows (median of each), times from the start of the load:\n", s.LoadEnd.Sub(s.LoadStart).Round(time.Second))
	if len(s.Idle) > 0 {
		fmt.Fprintf(w, "  idle:  %s (before any peer)\n", span(s.Idle))
	}
	fmt.Fprintf(w, "  start: %s (under load, after the warm-up)\n", span(s.Start))
	fmt.Fprintf(w, "  end:   %s (every peer gone, after the settle time)\n\n", span(s.End))
	fmt.Fprintf(w, "| metric | idle | start | peak | end | end vs start | end vs idle |\n|---|--:|--:|--:|--:|---|---|\n")
	for _, r := range s.Results {
		name := r.Metric.Name
		if r.Metric.Unit != "" {
			name += " (" + r.Metric.Unit + ")"
		}
		idle := "not judged"
		if r.Metric.vsIdle {
			idle = fmt.Sprintf("%+.0f %% %s", 100*r.GrowthVsIdle, verdict(r.PassIdle))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %+.0f %% %s | %s |\n", name, num(r.Idle), num(r.Start),
			num(r.PeakDuringTheLoad), num(r.End), 100*r.GrowthVsStart, verdict(r.PassStart), idle)
	}
	fmt.Fprintf(w, "\nresult: %s (a metric fails when it ends more than %.0f %% above its reference)\n", verdict(s.Pass), 100*s.Tolerance)
	if logs == nil {
		return
	}
	fmt.Fprintf(w, "\nserver log: %d lines, %d WARN, %d ERROR, %d other (not slog) lines\n", logs.Lines, logs.Count["WARN"], logs.Count["ERROR"], logs.Count["OTHER"])
	for _, e := range logs.Entries {
		fmt.Fprintf(w, "  %5d × %s\n", e.Count, strings.TrimSpace(e.Example))
	}
}
