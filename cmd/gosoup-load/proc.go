package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// procSample is a server's CPU time and memory read from /proc.
type procSample struct {
	ok       bool
	cpu      float64 // user+system seconds of the process and its children
	rss, hwm float64 // bytes
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// serverSample reads /proc/<pid>; for a process tree (mediasoup's Node
// process and its worker) the children's times and memory are added.
func serverSample(pid int) procSample {
	if pid <= 0 {
		return procSample{}
	}
	s := sampleOne(pid)
	for _, child := range children(pid) {
		cs := sampleOne(child)
		s.cpu += cs.cpu
		s.rss += cs.rss
		s.hwm += cs.hwm
	}
	return s
}

func sampleOne(pid int) procSample {
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 15 {
		return s
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	s.cpu = (ut + st) / clockTicks
	s.ok = true
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s
	}
	defer fh.Close()
	sc := bufio.NewScanner(io.Reader(fh))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			s.rss = kb * 1024
		case "VmHWM":
			s.hwm = kb * 1024
		}
	}
	return s
}

func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, c)
			out = append(out, children(c)...)
		}
	}
	return out
}

func printTable(w io.Writer, s *summary) {
	fmt.Fprintf(w, "rooms %d × (%d publishers + %d subscribers), audio %v, video %v at %d b/s, %.0f s measured\n",
		s.Rooms, s.PublishersPerRoom, s.SubscribersPerRoom, s.Audio, s.Video, s.VideoBitrate, s.DurationSeconds)
	fmt.Fprintf(w, "%-32s %v\n", "peers joined / errors", fmt.Sprintf("%d / %d", s.Peers, s.Errors))
	fmt.Fprintf(w, "%-32s %d\n", "consumers", s.Consumers)
	fmt.Fprintf(w, "%-32s p50 %.1f  p99 %.1f\n", "join latency (ms)", s.JoinLatencyMs["p50"], s.JoinLatencyMs["p99"])
	fmt.Fprintf(w, "%-32s %.0f\n", "received packets/s", s.ReceivedPerSecond)
	fmt.Fprintf(w, "%-32s %d (%.3f %%)\n", "lost packets", s.PacketsLost, s.LossPercent)
	fmt.Fprintf(w, "%-32s %.2f\n", "jitter p50 (ms)", s.JitterMsP50)
	if v := s.Server; v != nil {
		fmt.Fprintf(w, "%-32s %.2f\n", "server CPU seconds", v.CPUSeconds)
		fmt.Fprintf(w, "%-32s %.0f\n", "forwarded packets per CPU-second", v.ForwardedPacketsPerCPUSec)
		fmt.Fprintf(w, "%-32s %.1f → %.1f (peak %.1f)\n", "server RSS (MiB)", v.RSSBeforeMiB, v.RSSMiB, v.PeakRSSMiB)
		fmt.Fprintf(w, "%-32s %.1f\n", "RSS per consumer (KiB)", v.RSSPerConsumerKiB)
	}
}
