package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/internal/syncbuf"
)

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer = syncbuf.Buffer

// TestServerLifecycle runs the whole server (once per test binary: the
// metrics are registered globally) over https with join tokens, then
// drains it.
func TestServerLifecycle(t *testing.T) {
	const secret = "lifecycle-secret-0123456789"
	var logs syncBuffer
	signals := make(chan os.Signal, 2)
	done := make(chan error, 1)
	args := []string{"--listen", "127.0.0.1:0", "--rtc-listen-ip", "127.0.0.1", "--announced-ip", "127.0.0.1",
		"--rtc-port", "0", "--tls-self-signed", "--drain-timeout", "20s", "--log-level", "debug"}
	go func() { done <- runServer(args, []string{"GOSOUP_AUTH_SECRET=" + secret}, &logs, signals) }()

	var base string
	re := regexp.MustCompile(`url=https://(127\.0\.0\.1:\d+)/`)
	for end := time.Now().Add(10 * time.Second); base == ""; {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		} else if time.Now().After(end) {
			t.Fatalf("server not listening:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	if strings.Contains(logs.String(), secret) {
		t.Fatal("secret logged")
	}
	for _, want := range []string{"auth-secret=REDACTED", "sha256=", "join tokens required"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	insecure := &tls.Config{InsecureSkipVerify: true} // the generated certificate; loopback only
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: insecure}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("https://" + base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "<title>gosoup demo</title>") {
		t.Fatalf("embedded page: %d %.80q", code, body)
	}
	if code, _ := get("/harness.js"); code != 200 {
		t.Fatalf("harness.js: %d", code)
	}
	if code, body := get("/healthz/ready"); code != 200 || body != "ok\n" {
		t.Fatalf("ready: %d %q", code, body)
	}

	dialer := websocket.Dialer{TLSClientConfig: insecure, Subprotocols: []string{"protoo"}, HandshakeTimeout: 5 * time.Second}
	dial := func(token string) (*websocket.Conn, int) {
		q := url.Values{"roomId": {"r1"}, "peerName": {"alice"}}
		if token != "" {
			q.Set("token", token)
		}
		conn, resp, err := dialer.Dial("wss://"+base+"/?"+q.Encode(), nil)
		if err != nil {
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			return nil, resp.StatusCode
		}
		return conn, resp.StatusCode
	}
	if _, code := dial(""); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", code)
	}
	tok, err := mint(t, []string{"--room", "r1", "--peer", "alice"}, []string{"GOSOUP_AUTH_SECRET=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	conn, code := dial(strings.TrimSpace(tok))
	if conn == nil {
		t.Fatalf("with a token: %d", code)
	}
	// A response shows the session is running (and counted).
	if err := conn.WriteJSON(map[string]any{"request": true, "id": 1, "method": "mediasoup-request",
		"data": map[string]any{"method": "queryRoom", "target": "room"}}); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var resp map[string]any
	if err := conn.ReadJSON(&resp); err != nil || resp["response"] != true {
		t.Fatalf("protoo response %v: %v", resp, err)
	}

	signals <- syscall.SIGTERM
	for end := time.Now().Add(5 * time.Second); ; {
		if code, _ := get("/healthz/ready"); code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(end) {
			t.Fatal("ready still 200 after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get("/healthz/live"); code != 200 {
		t.Fatalf("live while draining: %d", code)
	}
	if _, code := dial(strings.TrimSpace(tok)); code != http.StatusServiceUnavailable {
		t.Fatalf("new WebSocket while draining: %d", code)
	}
	select {
	case err := <-done:
		t.Fatalf("stopped with a session open: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	conn.Close() // the last session ends: the drain completes
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after its last session ended")
	}
}
