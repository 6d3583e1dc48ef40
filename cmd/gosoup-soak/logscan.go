package main

import (
	"bufio"
	"io"
	"regexp"
	"sort"
	"strings"
)

// logEntry is one kind of log line: lines equal once their numbers,
// addresses and ids are masked.
type logEntry struct {
	Level   string
	Key     string
	Example string // the first line of the kind, without its time
	Count   int
}

// logScan is what scanLog found.
type logScan struct {
	Lines   int
	Count   map[string]int // by level: WARN, ERROR, OTHER (a line that is not slog's)
	Entries []logEntry     // by count, most frequent first
}

var (
	timeAttr = regexp.MustCompile(`^time=\S+ `)
	levelRe  = regexp.MustCompile(`\blevel=(\S+)`)
	maskRe   = regexp.MustCompile(`[0-9a-fA-F]{8,}|[0-9]+`)
)

// maxExample bounds the length of a listed line.
const maxExample = 400

// scanLog collects the WARN and ERROR lines of a server log written by
// slog's text handler, and every line that is not slog's (a panic, a
// runtime error), deduplicated.
func scanLog(r io.Reader) (*logScan, error) {
	s := &logScan{Count: map[string]int{}}
	byKey := map[string]*logEntry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		s.Lines++
		if strings.TrimSpace(line) == "" {
			continue
		}
		level := "OTHER"
		if strings.HasPrefix(line, "time=") {
			m := levelRe.FindStringSubmatch(line)
			if m == nil || (m[1] != "WARN" && m[1] != "ERROR") {
				continue
			}
			level = m[1]
			line = timeAttr.ReplaceAllString(line, "")
		}
		s.Count[level]++
		key := maskRe.ReplaceAllString(line, "N")
		e := byKey[key]
		if e == nil {
			ex := line
			if len(ex) > maxExample {
				ex = ex[:maxExample] + "…"
			}
			e = &logEntry{Level: level, Key: key, Example: ex}
			byKey[key] = e
		}
		e.Count++
	}
	for _, e := range byKey {
		s.Entries = append(s.Entries, *e)
	}
	sort.Slice(s.Entries, func(i, j int) bool {
		if s.Entries[i].Count != s.Entries[j].Count {
			return s.Entries[i].Count > s.Entries[j].Count
		}
		return s.Entries[i].Key < s.Entries[j].Key
	})
	return s, sc.Err()
}
