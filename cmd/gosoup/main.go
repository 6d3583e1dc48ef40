// Command gosoup runs the gosoup SFU: the protoo WebSocket signaling, the
// demo page, /metrics and the health checks on one HTTP(S) address, media
// on one UDP port.
//
// Every flag can also be set in a YAML file (--config, keys are the flag
// names) or by a GOSOUP_* environment variable; "gosoup token" mints a
// join token, "gosoup cluster status" lists a cluster's nodes and rooms.
// See gosoup.example.yaml.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	err := run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errInterrupted):
		os.Exit(1) // already logged
	default:
		fmt.Fprintln(os.Stderr, "gosoup:", err)
		os.Exit(1)
	}
}

// run dispatches to the token or cluster subcommand or runs the server until it is
// stopped by SIGINT or SIGTERM.
func run(args, environ []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], environ, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "cluster" {
		return runCluster(args[1:], environ, stdout, stderr)
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	return runServer(args, environ, stderr, signals)
}
