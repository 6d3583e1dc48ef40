package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"time"
)

// churnFlags registers --churn and its flags.
func churnFlags() (*bool, *churnConfig) {
	var cc churnConfig
	churn := flag.Bool("churn", false, "churn mode: --peers peers at a time join random rooms of --rooms, publish or subscribe for a random stay, leave, and new ones come, for --duration")
	flag.IntVar(&cc.peers, "peers", 50, "churn: peers connected at a time")
	flag.DurationVar(&cc.minStay, "min-stay", 3*time.Second, "churn: shortest stay of a peer")
	flag.DurationVar(&cc.maxStay, "max-stay", time.Minute, "churn: longest stay of a peer")
	flag.Float64Var(&cc.publishShare, "publish-share", 0.4, "churn: share of peers that publish audio and video (a third of them simulcast)")
	flag.Float64Var(&cc.relayShare, "relay-share", 0.2, "churn: share of peers whose media goes through the client-side loss relay")
	flag.Float64Var(&cc.relayLoss, "relay-loss", 0.01, "churn: share of RTP/RTCP datagrams the relay drops, each way")
	flag.Float64Var(&cc.abruptShare, "abrupt-share", 0.2, "churn: share of peers that close their WebSocket without leave")
	flag.Uint64Var(&cc.seed, "seed", 1, "churn: seed of the peers' random choices")
	return churn, &cc
}

// churnSummary is the JSON result of a churn run.
type churnSummary struct {
	DurationSeconds  float64
	Peers, Rooms     int
	Sessions         int64 // peers that joined
	Left, Abrupt     int64 // left with "leave" / closed without it
	RelayedSessions  int64
	ConsumersGone    int64 // closed before enableConsumer (their producer left): not errors
	Actions          int64 // producer pauses/resumes, consumer pauses/resumes/preferred profiles
	PacketsSent      uint64
	PacketsReceived  uint64
	RelayForwarded   uint64
	RelayDropped     uint64
	RelayLossPercent float64
	Errors           int
	ErrorKinds       map[string]int `json:",omitempty"`
}

// summary collects the counters.
func (ch *churner) summary() *churnSummary {
	s := &churnSummary{
		DurationSeconds: time.Since(ch.start).Seconds(), Peers: ch.c.churn.peers, Rooms: ch.c.rooms,
		Sessions: ch.sessions.Load(), Left: ch.left.Load(), Abrupt: ch.abrupt.Load(), RelayedSessions: ch.relayed.Load(),
		ConsumersGone: ch.gone.Load(), Actions: ch.actions.Load(),
		PacketsSent: ch.sent.Load(), PacketsReceived: ch.received.Load(), Errors: ch.errorCount(), ErrorKinds: ch.errs,
	}
	if ch.relay != nil {
		s.RelayForwarded, s.RelayDropped = ch.relay.forwarded.Load(), ch.relay.dropped.Load()
		if n := s.RelayForwarded + s.RelayDropped; n > 0 {
			s.RelayLossPercent = 100 * float64(s.RelayDropped) / float64(n)
		}
	}
	return s
}

// printChurn prints the churn summary as a table.
func printChurn(w io.Writer, s *churnSummary) {
	fmt.Fprintf(w, "churn: %d peers at a time in %d rooms for %.0f s\n", s.Peers, s.Rooms, s.DurationSeconds)
	fmt.Fprintf(w, "%-32s %d (left %d, closed abruptly %d, relayed %d)\n", "sessions", s.Sessions, s.Left, s.Abrupt, s.RelayedSessions)
	fmt.Fprintf(w, "%-32s %d\n", "consumers gone before enabling", s.ConsumersGone)
	fmt.Fprintf(w, "%-32s %d\n", "pause/resume/profile actions", s.Actions)
	fmt.Fprintf(w, "%-32s %d / %d\n", "packets sent / received", s.PacketsSent, s.PacketsReceived)
	fmt.Fprintf(w, "%-32s %d forwarded, %d dropped (%.2f %%)\n", "loss relay", s.RelayForwarded, s.RelayDropped, s.RelayLossPercent)
	fmt.Fprintf(w, "%-32s %d\n", "errors", s.Errors)
	kinds := make([]string, 0, len(s.ErrorKinds))
	for k := range s.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %4d × %s\n", s.ErrorKinds[k], k)
	}
}
