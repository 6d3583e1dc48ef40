// Command gosoup-soak samples a running gosoup server during a soak run
// and judges the run (scripts/soak.sh, docs/soak.md).
//
//	gosoup-soak sample --pid PID --metrics URL --phase-file F --out soak.csv
//
// records every --interval the server's RSS (/proc/PID/status), open file
// descriptors (/proc/PID/fd), goroutines, heap in use, rooms, peers,
// transports, producers and consumers (its /metrics) and the phase the
// soak script wrote into F (idle, load, settle, end), until SIGINT/SIGTERM
// or the server exits.
//
//	gosoup-soak report --csv soak.csv --log server.log --png soak.png
//
// prints the start-versus-end table (Markdown), a PASS/FAIL per metric
// and the server's WARN/ERROR lines (counted, deduplicated), draws the
// plot, and exits 1 when a metric failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "sample":
		err = sampleCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosoup-soak:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gosoup-soak sample|report [flags] (-h for the flags)")
	os.Exit(2)
}

func sampleCmd(args []string) error {
	fs := flag.NewFlagSet("sample", flag.ExitOnError)
	pid := fs.Int("pid", 0, "server pid")
	metrics := fs.String("metrics", "http://127.0.0.1:3443/metrics", "server /metrics URL")
	phaseFile := fs.String("phase-file", "", "file holding the current phase (idle, load, settle, end)")
	out := fs.String("out", "soak.csv", "CSV file to write")
	interval := fs.Duration("interval", 10*time.Second, "time between samples")
	_ = fs.Parse(args)
	if *pid <= 0 {
		return fmt.Errorf("--pid is required")
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &sampler{pid: *pid, metricsURL: *metrics, phaseFile: *phaseFile}
	return s.run(ctx, f, *interval)
}

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	csvFile := fs.String("csv", "soak.csv", "samples written by gosoup-soak sample")
	logFile := fs.String("log", "", "server log to scan for WARN and ERROR lines")
	png := fs.String("png", "", "draw the plot into this PNG file")
	warmup := fs.Duration("warmup", time.Minute, "load time before the start window")
	tol := fs.Float64("tolerance", 0.10, "allowed growth of a metric from its reference")
	_ = fs.Parse(args)
	f, err := os.Open(*csvFile)
	if err != nil {
		return err
	}
	rows, err := readCSV(f)
	f.Close()
	if err != nil {
		return err
	}
	sum, err := summarize(rows, *warmup, *tol)
	if err != nil {
		return err
	}
	var logs *logScan
	if *logFile != "" {
		lf, err := os.Open(*logFile)
		if err != nil {
			return err
		}
		logs, err = scanLog(lf)
		lf.Close()
		if err != nil {
			return err
		}
	}
	printReport(os.Stdout, sum, logs)
	if *png != "" {
		if err := drawPlot(*png, rows, sum); err != nil {
			return err
		}
	}
	if !sum.Pass {
		os.Exit(1)
	}
	return nil
}
