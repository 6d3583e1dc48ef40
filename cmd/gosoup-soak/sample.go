package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sample is one row of the CSV.
type sample struct {
	T          time.Time
	Phase      string
	RSSMiB     float64 // VmRSS
	HeapMiB    float64 // go_memstats_heap_inuse_bytes
	Goroutines float64
	FDs        float64
	Rooms      float64
	Peers      float64
	Transports float64
	Producers  float64
	Consumers  float64
}

var csvHeader = []string{"time", "elapsed_s", "phase", "rss_mib", "heap_inuse_mib", "goroutines", "fds",
	"rooms", "peers", "transports", "producers", "consumers"}

// sampler reads the server's figures.
type sampler struct {
	pid        int
	metricsURL string
	phaseFile  string
	client     http.Client
}

// run writes a row now and every interval until ctx ends or the server
// process is gone.
func (s *sampler) run(ctx context.Context, out io.Writer, interval time.Duration) error {
	s.client.Timeout = 5 * time.Second
	w := csv.NewWriter(out)
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	start := time.Now()
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		row, err := s.take()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gosoup-soak: sample:", err)
			if _, serr := os.Stat(fmt.Sprintf("/proc/%d", s.pid)); serr != nil {
				return nil // the server exited
			}
		} else {
			w.Write(formatRow(row, start))
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
		}
	}
}

func formatRow(r sample, start time.Time) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return []string{r.T.UTC().Format(time.RFC3339), strconv.FormatFloat(r.T.Sub(start).Seconds(), 'f', 0, 64), r.Phase,
		strconv.FormatFloat(r.RSSMiB, 'f', 1, 64), strconv.FormatFloat(r.HeapMiB, 'f', 1, 64),
		f(r.Goroutines), f(r.FDs), f(r.Rooms), f(r.Peers), f(r.Transports), f(r.Producers), f(r.Consumers)}
}

// take reads one sample.
func (s *sampler) take() (sample, error) {
	r := sample{T: time.Now(), Phase: "-"}
	if s.phaseFile != "" {
		if b, err := os.ReadFile(s.phaseFile); err == nil {
			r.Phase = strings.TrimSpace(string(b))
		}
	}
	rss, err := vmRSS(s.pid)
	if err != nil {
		return r, err
	}
	r.RSSMiB = rss / 1024
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	if err != nil {
		return r, err
	}
	r.FDs = float64(len(fds))
	resp, err := s.client.Get(s.metricsURL)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	m, err := parseMetrics(resp.Body)
	if err != nil {
		return r, err
	}
	need := map[string]*float64{"go_goroutines": &r.Goroutines, "gosoup_rooms": &r.Rooms, "gosoup_peers": &r.Peers,
		"gosoup_transports": &r.Transports, "gosoup_producers": &r.Producers, "gosoup_consumers": &r.Consumers}
	for name, dst := range need {
		v, ok := m[name]
		if !ok {
			return r, fmt.Errorf("%s has no %s", s.metricsURL, name)
		}
		*dst = v
	}
	r.HeapMiB = m["go_memstats_heap_inuse_bytes"] / (1 << 20)
	return r, nil
}

// vmRSS returns VmRSS of pid in KiB.
func vmRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// parseMetrics reads the unlabelled samples of a Prometheus text exposition.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.ContainsRune(name, '{') {
			continue
		}
		if v, err := strconv.ParseFloat(strings.Fields(val)[0], 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// readCSV reads the rows gosoup-soak sample wrote.
func readCSV(r io.Reader) ([]sample, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
		return nil, fmt.Errorf("not a gosoup-soak CSV (header %v)", recs[:min(1, len(recs))])
	}
	var rows []sample
	for i, rec := range recs[1:] {
		t, err := time.Parse(time.RFC3339, rec[0])
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i+2, err)
		}
		v := make([]float64, len(rec))
		for j := 3; j < len(rec); j++ {
			if v[j], err = strconv.ParseFloat(rec[j], 64); err != nil {
				return nil, fmt.Errorf("row %d column %s: %w", i+2, csvHeader[j], err)
			}
		}
		rows = append(rows, sample{T: t, Phase: rec[2], RSSMiB: v[3], HeapMiB: v[4], Goroutines: v[5], FDs: v[6],
			Rooms: v[7], Peers: v[8], Transports: v[9], Producers: v[10], Consumers: v[11]})
	}
	return rows, nil
}
