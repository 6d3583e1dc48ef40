package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// TestChurnRun: a short churn run against a real gosoup in this process:
// peers come and go, half of them through the loss relay, without errors,
// media flows, and the server is empty afterwards.
func TestChurnRun(t *testing.T) {
	srv, url := startTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := runChurn(ctx, config{
		url: url, rooms: 2, bitrate: 200_000, duration: 8 * time.Second,
		churn: &churnConfig{peers: 6, minStay: time.Second, maxStay: 3 * time.Second, publishShare: 0.5,
			relayShare: 0.5, relayLoss: 0.05, abruptShare: 0.3, seed: 7},
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	printChurn(io.Discard, sum)
	if sum.Errors != 0 || sum.Sessions <= 6 || sum.Left+sum.Abrupt != sum.Sessions {
		t.Fatalf("summary %+v", sum)
	}
	if sum.PacketsReceived == 0 || sum.RelayedSessions == 0 || sum.RelayForwarded == 0 || sum.RelayDropped == 0 {
		t.Fatalf("no media or nothing relayed: %+v", sum)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c := srv.Counts(); (c.Peers != 0 || c.Rooms != 0) && time.Now().Before(deadline); c = srv.Counts() {
		time.Sleep(50 * time.Millisecond)
	}
	if c := srv.Counts(); c.Peers != 0 || c.Rooms != 0 {
		t.Fatalf("server not empty after the run: %+v", c)
	}
}

// TestRelayRewrite: a transport answer's candidates become the relay's one
// UDP candidate, and the server's candidate on the URL's host becomes the
// relay's target.
func TestRelayRewrite(t *testing.T) {
	r, err := startLossRelay("ws://127.0.0.1:3443", 0.01, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	in := `{"response":true,"id":5,"ok":true,"data":{"id":12345678,"iceCandidates":[` +
		`{"foundation":"udpcandidate","ip":"192.0.2.1","port":40000,"priority":1078862079,"protocol":"udp","type":"host"},` +
		`{"foundation":"tcpcandidate","ip":"127.0.0.1","port":40000,"priority":1078862078,"protocol":"tcp","type":"host","tcpType":"passive"},` +
		`{"foundation":"udpcandidate2","ip":"127.0.0.1","port":40000,"priority":1078862077,"protocol":"udp","type":"host"}]}}`
	var out struct {
		Data struct {
			ID         uint32 `json:"id"`
			Candidates []struct {
				IP       string `json:"ip"`
				Port     int    `json:"port"`
				Protocol string `json:"protocol"`
				Priority uint32 `json:"priority"`
			} `json:"iceCandidates"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.rewrite([]byte(in)), &out); err != nil {
		t.Fatal(err)
	}
	relay := r.udp.LocalAddr().String()
	if c := out.Data.Candidates; out.Data.ID != 12345678 || len(c) != 1 || c[0].IP != "127.0.0.1" ||
		c[0].Protocol != "udp" || c[0].Priority != 1078862077 || relay != "127.0.0.1:"+itoa(c[0].Port) {
		t.Fatalf("rewritten %+v (relay %s)", out.Data, relay)
	}
	if tg := r.target.Load(); tg == nil || tg.String() != "127.0.0.1:40000" {
		t.Fatalf("target %v", tg)
	}
	if got := string(r.rewrite([]byte(`{"response":true,"data":{"iceCandidates":[]}}`))); !strings.Contains(got, "[]") {
		t.Fatalf("no candidates: %s", got)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
