package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/stun/v4"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// The per-source limits of both ports over real loopback sockets.
// Loopback is exempt by default, so the limited servers here set
// LimitLoopback: 127.0.0.1 (the victims, pion clients) and 127.0.0.2 (the
// attacker) are then two sources.

// startLimitedGosoup starts a server with these media limits and
// signaling options, loopback limited.
func startLimitedGosoup(t *testing.T, lim transport.SourceLimits, bind time.Duration, opts signaling.Options) *gosoup {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lim.LimitLoopback, opts.LimitLoopback = true, true
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", Port: 0, AnnouncedIP: "127.0.0.1", Limits: lim, TCPBindTimeout: bind},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServerWithOptions(srv, log, opts)
	hs := httptest.NewServer(sig)
	t.Cleanup(func() {
		hs.Close()
		sig.Close()
		srv.Close()
	})
	return &gosoup{SFU: srv, URL: "ws://" + strings.TrimPrefix(hs.URL, "http://")}
}

// rawTransport creates a send transport for a new peer and returns its
// ICE credentials (the username fragment a flood names).
func rawTransport(ctx context.Context, t *testing.T, g *gosoup, room, peer string) (ufrag, pwd string) {
	t.Helper()
	p := join(ctx, t, g, room, peer)
	raw, err := p.Request(ctx, "createTransport", map[string]any{
		"id": 4343, "direction": "send", "options": map[string]any{"udp": true, "tcp": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		IceParameters struct {
			UsernameFragment string `json:"usernameFragment"`
			Password         string `json:"password"`
		} `json:"iceParameters"`
	}
	mustJSON(t, raw, &st)
	return st.IceParameters.UsernameFragment, st.IceParameters.Password
}

// flowing waits for n packets at v's consumer within d.
func flowing(t *testing.T, v *videoPair, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for got := 0; got < n; {
		if time.Now().After(deadline) {
			t.Fatalf("victim media: %d packets in %v, want %d", got, d, n)
		}
		if _, err := v.cons.ReadRTP(time.Now().Add(200 * time.Millisecond)); err == nil {
			got++
		}
	}
}

// stunFlood sends count Binding requests for ufrag with a wrong password
// (each due a 401 answer) from one socket on ip, paced over about d, and
// returns how many answers came back.
func stunFlood(t *testing.T, ip string, port int, ufrag string, count int, d time.Duration) int64 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var answers atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if stun.IsMessage(buf[:n]) {
				answers.Add(1)
			}
		}
	}()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	req := bindingRequest(t, ufrag+":atk", "wrong-password-wrong-password!!", true)
	pause := d / time.Duration(count/10)
	for i := range count {
		_, _ = c.WriteToUDP(req, to)
		if i%10 == 9 {
			time.Sleep(pause)
		}
	}
	<-done
	return answers.Load()
}

// TestMediaPortLimits: per-source limits of the media port hold an
// attacker at 127.0.0.2 while victims at 127.0.0.1 connect and send.
func TestMediaPortLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	counters := new(transport.LimitCounters)
	var g *gosoup
	for try := 0; ; try++ { // a server whose ICE-TCP listener is up (see TestMediaPortHostile)
		g = startLimitedGosoup(t, transport.SourceLimits{STUNRate: 20, STUNBurst: 40, TCPConns: 4, Counters: counters},
			time.Second, signaling.Options{})
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", g.SFU.RTCPort()), 5*time.Second)
		if err == nil {
			c.Close()
			break
		}
		if try == 4 {
			t.Fatalf("no server with ICE-TCP: %v", err)
		}
	}
	port := g.SFU.RTCPort()
	ufrag, _ := rawTransport(ctx, t, g, "lim-eve", "eve")

	t.Run("STUN flood capped while a victim connects", func(t *testing.T) {
		got := make(chan int64, 1)
		start := time.Now()
		go func() { got <- stunFlood(t, "127.0.0.2", port, ufrag, 3000, 1500*time.Millisecond) }()
		v := startVideoPair(ctx, t, g, "lim")
		flowing(t, v, 20, 10*time.Second)
		answers := <-got
		// 40 in the bucket, 20/s while the flood lasted.
		limit := 40 + int64(20*time.Since(start).Seconds()) + 5
		if answers > limit || answers < 20 {
			t.Fatalf("flood of 3000 got %d answers, want 20 to %d", answers, limit)
		}
		if n := counters.STUNRate.Load(); n < 2000 {
			t.Fatalf("%d refusals counted", n)
		}
		t.Logf("flood of 3000 checks: %d answered, %d refused", answers, counters.STUNRate.Load())
		flowing(t, v, 20, 5*time.Second)
	})

	t.Run("ICE-TCP over the per-source limit closed, idle ones at the timeout", func(t *testing.T) {
		dial := func(ip string) net.Conn {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		start := time.Now()
		var within []net.Conn
		for range 4 {
			within = append(within, dial("127.0.0.2"))
		}
		other := dial("127.0.0.1")
		refusedBefore := counters.TCPConns.Load()
		for i := range 3 {
			c := dial("127.0.0.2")
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatalf("connection %d of the source (limit 4) not closed at once: %v", 5+i, err)
			}
		}
		if n := counters.TCPConns.Load() - refusedBefore; n != 3 {
			t.Fatalf("%d refusals counted, want 3", n)
		}
		idleBefore := counters.TCPIdle.Load()
		for i, c := range append(within, other) {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("idle connection %d kept open", i)
			}
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("idle connections closed after %v, before the 1 s timeout", d)
		}
		for deadline := time.Now().Add(2 * time.Second); counters.TCPIdle.Load()-idleBefore < 5; {
			if time.Now().After(deadline) {
				t.Fatalf("%d idle closings counted, want 5", counters.TCPIdle.Load()-idleBefore)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestMediaPortLoopbackExempt: with the default limits a STUN flood from
// loopback (cmd/gosoup-load's hundreds of peers) is answered in full.
func TestMediaPortLoopbackExempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	ufrag, _ := rawTransport(ctx, t, g, "lim-eve", "eve")
	if got := stunFlood(t, "127.0.0.1", g.SFU.RTCPort(), ufrag, 2000, time.Second); got < 1900 {
		t.Fatalf("loopback flood of 2000 (default limit: burst 1000, 200/s): %d answers", got)
	}
}

// wsFrom opens a protoo WebSocket to g from the local address ip.
func wsFrom(g *gosoup, ip, room, peer string) (*websocket.Conn, *http.Response, error) {
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	d := websocket.Dialer{Subprotocols: []string{"protoo"}, HandshakeTimeout: 5 * time.Second, NetDialContext: nd.DialContext}
	return d.Dial(g.URL+"/?roomId="+room+"&peerName="+peer, nil)
}

// TestSignalingPortLimits: the 65th WebSocket of one address gets 429
// while another address connects; with the defaults loopback lets 200
// through.
func TestSignalingPortLimits(t *testing.T) {
	g := startLimitedGosoup(t, transport.SourceLimits{}, 0, signaling.Options{SocketsPerSource: 64})
	for i := range 64 {
		ws, resp, err := wsFrom(g, "127.0.0.2", "ws", fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatalf("socket %d: %v (%v)", i+1, err, resp)
		}
		t.Cleanup(func() { ws.Close() })
	}
	_, resp, err := wsFrom(g, "127.0.0.2", "ws", "p64")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("65th socket: %v (%v), want HTTP 429", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "too many WebSockets") {
		t.Fatalf("429 body %q", body)
	}
	if p, err := client.Connect(context.Background(), g.URL, "ws", "from-127.0.0.1"); err != nil {
		t.Fatalf("another address: %v", err)
	} else {
		p.Close()
	}

	open := startGosoup(t)
	for i := range 200 {
		ws, resp, err := wsFrom(open, "127.0.0.1", "ws", fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatalf("loopback socket %d with the defaults: %v (%v)", i+1, err, resp)
		}
		t.Cleanup(func() { ws.Close() })
	}
}
