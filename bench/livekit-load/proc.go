package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procSample is what /proc says of a process and its descendants: CPU
// seconds (user + system) and resident memory (current and peak), summed.
type procSample struct {
	ok       bool
	cpu      float64
	rss, hwm float64 // bytes
}

const userHZ = 100 // clock ticks per second of /proc/<pid>/stat on Linux

func sampleProc(pid int) procSample {
	var s procSample
	if pid <= 0 {
		return s
	}
	for _, p := range append([]int{pid}, descendants(pid)...) {
		cpu, ok := cpuSeconds(p)
		if !ok {
			continue
		}
		s.ok = true
		s.cpu += cpu
		rss, hwm := memory(p)
		s.rss += rss
		s.hwm += hwm
	}
	return s
}

// cpuSeconds reads utime and stime (fields 14 and 15) of /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')') // the command name may hold spaces
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	k, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(u+k) / userHZ, true
}

// memory reads VmRSS and VmHWM of /proc/<pid>/status, in bytes.
func memory(pid int) (rss, hwm float64) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(val), "kB")), 64)
		if name == "VmRSS" {
			rss = kb * 1024
		} else {
			hwm = kb * 1024
		}
	}
	return rss, hwm
}

// descendants lists the children of pid's threads, recursively.
func descendants(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
				out = append(out, descendants(c)...)
			}
		}
	}
	return out
}
