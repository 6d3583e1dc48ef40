package main

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/relay"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// turnConfig is the built-in TURN server and the /ice-servers answer.
type turnConfig struct {
	enabled bool
	port    int
	secret  string
	urls    []string
	ttl     time.Duration
}

func (t *turnConfig) register(fs *flag.FlagSet) {
	fs.BoolVar(&t.enabled, "turn", false,
		"serve TURN: over UDP on --turn-port, over TCP and TLS on the --listen port (for networks that let only that port through)")
	fs.Var(intRange(&t.port, 3478, 1, 65535), "turn-port", "UDP `port` of the built-in TURN server (same host as --listen)")
	fs.StringVar(&t.secret, "turn-secret", "",
		"shared `secret` of the TURN REST credentials (coturn's static-auth-secret with use-auth-secret); default with --turn: a random one")
	fs.Var(list(&t.urls, checkTURNURL), "turn-url",
		"TURN `url` given to clients by /ice-servers instead of the built-in server's (an external coturn sharing --turn-secret); repeat for several")
	fs.Var(durationMin(&t.ttl, 12*time.Hour, time.Minute), "turn-ttl", "how `long` the TURN credentials /ice-servers hands out stay valid")
}

func checkTURNURL(s string) error {
	if !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") && !strings.HasPrefix(s, "stun:") {
		return errors.New("want turn:HOST[:PORT][?transport=udp|tcp], turns:… or stun:…")
	}
	return nil
}

// validate checks the TURN keys' combinations.
func (t *turnConfig) validate(src sources) error {
	if len(t.urls) > 0 && t.secret == "" {
		return fmt.Errorf("turn-url (%s) needs turn-secret, the secret the external TURN server checks", src.of("turn-url"))
	}
	if t.secret != "" && len(t.secret) < auth.MinSecretLen {
		return fmt.Errorf("turn-secret (%s): %d bytes, want at least %d", src.of("turn-secret"), len(t.secret), auth.MinSecretLen)
	}
	return nil
}

// metricsTURN is the TURN server whose counts /metrics shows.
var (
	metricsTURN     atomic.Pointer[relay.Server]
	metricsTURNOnce sync.Once
)

// turnRefused is the count of gosoup_limit_refused_total{limit="turn_allocations"}.
func turnRefused() uint64 {
	if s := metricsTURN.Load(); s != nil {
		return s.Counters().RefusedAllocations.Load()
	}
	return 0
}

func registerTURNMetrics() {
	counter := func(name, help string, labels prometheus.Labels, f func(*relay.Counters) uint64) {
		prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 {
				if s := metricsTURN.Load(); s != nil {
					return float64(f(s.Counters()))
				}
				return 0
			}))
	}
	prometheus.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gosoup_turn_allocations", Help: "Open TURN allocations."},
		func() float64 {
			if s := metricsTURN.Load(); s != nil {
				return float64(s.Counters().Allocations.Load())
			}
			return 0
		}))
	counter("gosoup_turn_allocations_total", "TURN allocations made.", nil,
		func(c *relay.Counters) uint64 { return c.AllocationsTotal.Load() })
	bytesHelp := "Bytes relayed by the TURN server, from clients to the SFU (to_peer) and back (to_client)."
	counter("gosoup_turn_relayed_bytes_total", bytesHelp, prometheus.Labels{"direction": "to_peer"},
		func(c *relay.Counters) uint64 { return c.BytesToPeer.Load() })
	counter("gosoup_turn_relayed_bytes_total", bytesHelp, prometheus.Labels{"direction": "to_client"},
		func(c *relay.Counters) uint64 { return c.BytesToClient.Load() })
	counter("gosoup_turn_relayed_tcp_bytes_total", "The part of gosoup_turn_relayed_bytes_total whose client reached the TURN server over TCP or TLS.", nil,
		func(c *relay.Counters) uint64 { return c.BytesOverTCP.Load() })
	inHelp := "Packets the TURN server relayed inside the process, handed to the SFU's media port (to_peer) and back (to_client), no socket crossed."
	counter("gosoup_turn_inprocess_packets_total", inHelp, prometheus.Labels{"direction": "to_peer"},
		func(c *relay.Counters) uint64 { return c.InProcessToPeer.Load() })
	counter("gosoup_turn_inprocess_packets_total", inHelp, prometheus.Labels{"direction": "to_client"},
		func(c *relay.Counters) uint64 { return c.InProcessToClient.Load() })
	sockHelp := "Packets the TURN server relayed through its allocations' sockets (to_peer: sent, to_client: received)."
	counter("gosoup_turn_socket_packets_total", sockHelp, prometheus.Labels{"direction": "to_peer"},
		func(c *relay.Counters) uint64 { return c.SocketToPeer.Load() })
	counter("gosoup_turn_socket_packets_total", sockHelp, prometheus.Labels{"direction": "to_client"},
		func(c *relay.Counters) uint64 { return c.SocketToClient.Load() })
	counter("gosoup_turn_inprocess_dropped_packets_total", "Packets of the SFU to a TURN client dropped because the allocation's queue was full.", nil,
		func(c *relay.Counters) uint64 { return c.InProcessDropped.Load() })
	counter("gosoup_turn_auth_failures_total", "TURN requests with unknown, expired or wrongly signed credentials.", nil,
		func(c *relay.Counters) uint64 { return c.AuthFailures.Load() })
	counter("gosoup_turn_dropped_packets_total", "Packets a TURN client sent to an address other than the SFU's media port (dropped).", nil,
		func(c *relay.Counters) uint64 { return c.DroppedToPeer.Load() })
}

// startTURN returns the listener the HTTP server serves: ln (with TLS when
// tlsConfig is set) without --turn; with it, the HTTP side of a
// relay.Mux whose TURN side, and a UDP socket on --turn-port, a TURN
// server relaying to srv's media port serves. stop closes what it
// started.
func (c *config) startTURN(ln net.Listener, tlsConfig *tls.Config, srv *sfu.Server, log *slog.Logger) (httpLn net.Listener, stop func(), err error) {
	if !c.turn.enabled {
		if tlsConfig != nil {
			return tls.NewListener(ln, tlsConfig), func() {}, nil
		}
		return ln, func() {}, nil
	}
	if c.turn.secret == "" {
		b := make([]byte, 32)
		rand.Read(b)
		c.turn.secret = base64.RawStdEncoding.EncodeToString(b)
	}
	host, _, _ := net.SplitHostPort(c.listen)
	udp, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(c.turn.port)))
	if err != nil {
		return nil, nil, fmt.Errorf("turn-port (UDP %d): %w", c.turn.port, err)
	}
	mux := relay.NewMux(ln, tlsConfig, httpHeaderTimeout)
	policy := newPeerPolicy(c, srv)
	cfg := relay.Config{
		Secret: c.turn.secret, UDP: udp, Listener: mux.TURN(),
		PeerIP: policy.peerIP, Route: policy.route, Local: relay.MediaNetwork(srv.MediaNetwork()), Logger: log,
		AllocationsPerSource: unlimited(c.limits.turnAllocationsPerSource), Trusted: c.limits.trusted(),
	}
	if ips := srv.AnnouncedIPs(); len(ips) > 0 {
		cfg.RelayIP, _ = netip.ParseAddr(ips[0])
	}
	ts, err := relay.NewServer(cfg)
	if err != nil {
		udp.Close()
		mux.Close()
		return nil, nil, err
	}
	metricsTURN.Store(ts)
	metricsTURNOnce.Do(registerTURNMetrics)
	log.Info("TURN server", "udp", udp.LocalAddr().String(), "tcp", ln.Addr().String(), "tls", tlsConfig != nil,
		"relaysTo", fmt.Sprintf("media port %d, in process", srv.RTCPort()))
	return mux.HTTP(), func() {
		ts.Close()
		mux.Close()
	}, nil
}

// peerPolicy is where the built-in TURN server relays: the SFU's media
// port on this host's addresses or the announced ones, nothing else (no
// open relay into the operator's network). An announced address that is
// not local (behind a NAT) is reached on a local one.
type peerPolicy struct {
	local     map[netip.Addr]bool
	announced map[netip.Addr]bool
	ports     []uint16
	port      uint16
	bound     netip.Addr // the media socket's own address, when not any
}

func newPeerPolicy(c *config, srv *sfu.Server) *peerPolicy {
	p := &peerPolicy{local: map[netip.Addr]bool{}, announced: map[netip.Addr]bool{}, port: uint16(srv.RTCPort())}
	p.ports = []uint16{p.port}
	if c.announcedPort != 0 {
		p.ports = append(p.ports, uint16(c.announcedPort))
	}
	for _, a := range transport.HostAddrs() {
		p.local[a.Unmap()] = true
	}
	for _, s := range srv.AnnouncedIPs() {
		if a, err := netip.ParseAddr(s); err == nil {
			p.announced[a.Unmap()] = true
		}
	}
	if a, err := netip.ParseAddr(c.rtcListenIP); err == nil && !a.IsUnspecified() {
		p.bound = a.Unmap()
		p.local[p.bound] = true
	}
	return p
}

func (p *peerPolicy) peerIP(a netip.Addr) bool { return p.local[a] || p.announced[a] }

func (p *peerPolicy) route(ap netip.AddrPort) (netip.AddrPort, bool) {
	a := ap.Addr()
	if !slices.Contains(p.ports, ap.Port()) || !p.peerIP(a) {
		return netip.AddrPort{}, false
	}
	switch {
	case p.bound.IsValid():
		a = p.bound
	case !p.local[a]:
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.AddrPortFrom(a, p.port), true
}

// iceServer is one RTCIceServer of the /ice-servers answer.
type iceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// iceServersHandler answers GET /ice-servers with {"iceServers": [...],
// "ttl": seconds}: TURN URLs and fresh REST credentials for the peer name
// of the request's join token (servers with keys need one) or its
// ?peerName=. When neither --turn nor --turn-url is set the list is empty
// (the demo page asks every server).
func (c *config) iceServersHandler() http.Handler {
	tlsOn := c.tlsCert != "" || c.tlsSelfSigned
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		if !c.turn.enabled && len(c.turn.urls) == 0 {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"iceServers":[],"ttl":0}`+"\n")
			return
		}
		peer := r.URL.Query().Get("peerName")
		if c.keys != nil {
			claims, err := c.keys.Verify(signaling.RequestToken(r), time.Now())
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gosoup"`)
				http.Error(w, "join token needed: "+err.Error(), http.StatusUnauthorized)
				return
			}
			peer = claims.Peer
		}
		if peer == "" || len(peer) > 128 {
			peer = "anonymous"
		}
		urls := c.turn.urls
		if len(urls) == 0 {
			urls = builtinTURNURLs(r.Host, c.turn.port, tlsOn)
		}
		user, pass := relay.Credentials(c.turn.secret, peer, c.turn.ttl, time.Now())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(struct {
			ICEServers []iceServer `json:"iceServers"`
			TTL        int         `json:"ttl"`
		}{[]iceServer{{URLs: urls, Username: user, Credential: pass}}, int(c.turn.ttl / time.Second)})
	})
}

// builtinTURNURLs are the built-in server's URLs for a client that
// reached the HTTP server at host (the request's Host header).
func builtinTURNURLs(host string, udpPort int, tlsOn bool) []string {
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, "80"
		if tlsOn {
			port = "443"
		}
	}
	if strings.Contains(name, ":") {
		name = "[" + strings.Trim(name, "[]") + "]"
	}
	urls := []string{
		fmt.Sprintf("turn:%s:%d?transport=udp", name, udpPort),
		fmt.Sprintf("turn:%s:%s?transport=tcp", name, port),
	}
	if tlsOn {
		urls = append(urls, fmt.Sprintf("turns:%s:%s?transport=tcp", name, port))
	}
	return urls
}
