package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/gosoup/gosoup/auth"
)

// TestTURNOnTheListenPort runs the server with --turn over https with join
// tokens: /ice-servers needs a token and answers the built-in server's
// URLs with REST credentials, which allocate over TLS on the listen port
// (shared with HTTPS) and over UDP on --turn-port; packets go only to the
// SFU's media port.
func TestTURNOnTheListenPort(t *testing.T) {
	const secret = "turn-test-auth-secret-0123456789"
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	turnPort := udp.LocalAddr().(*net.UDPAddr).Port
	udp.Close()
	base, logs := runForTest(t, []string{"GOSOUP_AUTH_SECRET=" + secret}, "--tls-self-signed", "--turn",
		"--turn-port", strconv.Itoa(turnPort), "--turn-secret", "turn-test-turn-secret-0123", "--log-level", "debug")
	if strings.Contains(logs.String(), "turn-test-turn-secret") {
		t.Fatal("TURN secret logged")
	}
	insecure := &tls.Config{InsecureSkipVerify: true} // the generated certificate; loopback only
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: insecure}}
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "https://"+base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := get("/ice-servers", ""); code != http.StatusUnauthorized {
		t.Fatalf("/ice-servers without a token: %d %s", code, body)
	}
	keys, _ := auth.NewKeySet(secret)
	tok, err := keys.Mint(auth.Claims{Room: "r", Peer: "alice", ExpiresAt: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get("/ice-servers", tok)
	if code != http.StatusOK {
		t.Fatalf("/ice-servers: %d %s", code, body)
	}
	var ice struct {
		ICEServers []struct {
			URLs       []string `json:"urls"`
			Username   string   `json:"username"`
			Credential string   `json:"credential"`
		} `json:"iceServers"`
		TTL int `json:"ttl"`
	}
	if err := json.Unmarshal([]byte(body), &ice); err != nil || len(ice.ICEServers) != 1 {
		t.Fatalf("/ice-servers: %s (%v)", body, err)
	}
	s := ice.ICEServers[0]
	_, port, _ := net.SplitHostPort(base)
	want := []string{"turn:127.0.0.1:" + strconv.Itoa(turnPort) + "?transport=udp", "turn:127.0.0.1:" + port + "?transport=tcp",
		"turns:127.0.0.1:" + port + "?transport=tcp"}
	if strings.Join(s.URLs, " ") != strings.Join(want, " ") || !strings.HasSuffix(s.Username, ":alice") || ice.TTL != 12*3600 {
		t.Fatalf("/ice-servers: %s", body)
	}

	m := regexp.MustCompile(`relaysTo="media port (\d+), in process"`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no TURN server log line:\n%s", logs.String())
	}
	mediaPort, _ := strconv.Atoi(m[1])

	// TURN over TLS on the listen port, then over UDP on the TURN port.
	tc, err := tls.Dial("tcp", base, insecure)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, via := range []struct {
		name, server string
		conn         net.PacketConn
	}{{"tls", base, turn.NewSTUNConn(tc)}, {"udp", "127.0.0.1:" + strconv.Itoa(turnPort), uc}} {
		cl, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: via.server, STUNServerAddr: via.server, Conn: via.conn,
			Username: s.Username, Password: s.Credential})
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Listen(); err != nil {
			t.Fatal(err)
		}
		relayed, err := cl.Allocate()
		if err != nil {
			t.Fatalf("allocation over %s: %v", via.name, err)
		}
		// Elsewhere than the SFU's media port: no permission.
		if err := cl.CreatePermission(&net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}); err == nil {
			t.Errorf("over %s: permission for 192.0.2.1 granted", via.name)
		}
		// To the media port: handed to the SFU in process (an RTP packet
		// of no transport, which it drops).
		if _, err := relayed.WriteTo([]byte{0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: mediaPort}); err != nil {
			t.Errorf("over %s: send to the media port: %v", via.name, err)
		}
		relayed.Close()
		cl.Close()
		via.conn.Close()
	}
	wantMetrics := []string{"gosoup_turn_allocations_total 2", `gosoup_limit_refused_total{limit="turn_allocations"} 0`,
		"gosoup_turn_auth_failures_total", `gosoup_turn_inprocess_packets_total{direction="to_peer"} 2`,
		`gosoup_turn_socket_packets_total{direction="to_peer"} 0`, `gosoup_turn_socket_packets_total{direction="to_client"} 0`}
	var metrics string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		// The relayed packets reach the server after WriteTo returns.
		if _, metrics = get("/metrics", ""); strings.Contains(metrics, wantMetrics[3]) {
			break
		}
	}
	for _, w := range wantMetrics {
		if !strings.Contains(metrics, w) {
			t.Errorf("metrics lack %q", w)
		}
	}
}
