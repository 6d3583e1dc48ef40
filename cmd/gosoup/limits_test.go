package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

func TestLimitFlags(t *testing.T) {
	c, _, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := c.limits
	if l.stunRatePerSource != 200 || l.dtlsHandshakesPerSource != 32 || l.tcpConnsPerSource != 256 ||
		l.tcpIdleTimeout != 10*time.Second || l.wsPerSource != 256 || l.trustedCIDRs != nil {
		t.Fatalf("defaults: %+v", l)
	}
	m := l.media(nil)
	if m.STUNRate != 200 || m.DTLSHandshakes != 32 || m.TCPConns != 256 || m.Trusted != nil {
		t.Fatalf("media limits: %+v", m)
	}

	file := writeFile(t, "gosoup.yaml", "trusted-cidr: [10.0.0.0/8, 192.0.2.7]\nws-per-source: 0\ntcp-idle-timeout: 3s\n")
	c, _, err = load(t, []string{"--config", file, "--stun-rate-per-source", "0", "--trusted-cidr", "2001:db8::/32"},
		[]string{"GOSOUP_TCP_CONNS_PER_SOURCE=5", "GOSOUP_DTLS_HANDSHAKES_PER_SOURCE=0"})
	if err != nil {
		t.Fatal(err)
	}
	m = c.limits.media(new(transport.LimitCounters))
	want := []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}
	if m.STUNRate >= 0 || m.DTLSHandshakes >= 0 || m.TCPConns != 5 || !slices.Equal(m.Trusted, want) || m.Counters == nil {
		t.Fatalf("media limits: %+v", m)
	}
	if c.limits.tcpIdleTimeout != 3*time.Second {
		t.Fatalf("tcp-idle-timeout %v", c.limits.tcpIdleTimeout)
	}
	var opts signaling.Options
	c.limits.signaling(&opts)
	if opts.SocketsPerSource >= 0 || !slices.Equal(opts.TrustedSources, want) {
		t.Fatalf("signaling limits: %+v", opts)
	}

	c, _, err = load(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	if got := c.limits.trusted(); !slices.Equal(got, want) {
		t.Fatalf("trusted from the file: %v", got)
	}

	for _, bad := range [][]string{
		{"--trusted-cidr", "10.0.0.0/33"}, {"--trusted-cidr", "nope"}, {"--trusted-cidr", "fe80::1%eth0"},
		{"--tcp-idle-timeout", "500ms"}, {"--ws-per-source", "-1"}, {"--stun-rate-per-source", "fast"},
	} {
		if _, _, err := load(t, bad, nil); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "--")) {
			t.Errorf("%v: error %v", bad, err)
		}
	}
}

// TestLimitsServed runs the server with a short ICE-TCP idle timeout and
// header timeout: /metrics shows gosoup_limit_refused_total for every
// limit, tcp_idle counting a silent ICE-TCP connection, and a WebSocket
// upgrade whose headers never end is cut.
func TestLimitsServed(t *testing.T) {
	saved := httpHeaderTimeout
	httpHeaderTimeout = 500 * time.Millisecond
	t.Cleanup(func() { httpHeaderTimeout = saved })
	base, logs := runForTest(t, nil, "--tcp-idle-timeout", "1s")
	m := regexp.MustCompile(`rtcPort=(\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no rtcPort in the logs:\n%s", logs.String())
	}
	rtcPort := m[1]
	for _, want := range []string{"stun-rate-per-source=200", "ws-per-source=256", "tcp-idle-timeout=1s", "trusted-cidr=\"\""} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("configuration log lacks %s", want)
		}
	}

	// A silent ICE-TCP connection is closed after 1 s and counted.
	idle, err := net.DialTimeout("tcp4", "127.0.0.1:"+rtcPort, 5*time.Second)
	if err != nil {
		t.Fatalf("ICE-TCP: %v", err)
	}
	defer idle.Close()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, idle); err != nil {
		t.Fatalf("silent ICE-TCP connection not closed: %v", err)
	}

	// A WebSocket upgrade whose headers never end is cut.
	slow, err := net.Dial("tcp4", base)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	start := time.Now()
	fmt.Fprintf(slow, "GET /?roomId=r&peerName=p HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", base)
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, slow); err != nil {
		t.Fatalf("slow upgrade not cut: %v", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("slow upgrade cut after %v, before the header timeout", d)
	}

	resp, err := http.Get("http://" + base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), " "); ok && strings.HasPrefix(name, "gosoup_limit_refused_total{") {
			got[name] = value
		}
	}
	for _, limit := range []string{"stun_rate", "dtls_handshakes", "tcp_conns", "tcp_idle", "ws_sockets"} {
		name := `gosoup_limit_refused_total{limit="` + limit + `"}`
		want := "0"
		if limit == "tcp_idle" {
			want = "1"
		}
		if got[name] != want {
			t.Errorf("%s = %q, want %s", name, got[name], want)
		}
	}
}
