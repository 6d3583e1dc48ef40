package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// lossRelay is the network path of relayed peers, all on the client side,
// so that neither the server nor package client needs to know about it:
//
//   - a protoo WebSocket proxy that the relayed peers connect to instead of
//     the server; it passes every message through unchanged except the
//     server's ICE candidates in transport answers, which it replaces by
//     one candidate: the relay's UDP address;
//   - a UDP relay at that address that forwards each client's datagrams to
//     the server's candidate from a socket of its own (so the server sees
//     one remote address per client transport, as through a NAT) and the
//     answers back, dropping a share of the RTP and RTCP datagrams (SRTP,
//     SRTCP) each way; STUN and DTLS pass untouched.
type lossRelay struct {
	server *url.URL
	hs     *http.Server
	wsAddr string
	udp    *net.UDPConn
	loss   float64

	target             atomic.Pointer[net.UDPAddr] // the server's candidate, from the first answer
	forwarded, dropped atomic.Uint64

	mu      sync.Mutex
	rng     *rand.Rand
	clients map[string]*relayClient
}

type relayClient struct {
	up   *net.UDPConn
	last atomic.Int64 // unix nanoseconds of the last datagram from the client
}

// relayIdle is how long a client's upstream socket lives without traffic.
const relayIdle = 30 * time.Second

// startLossRelay starts the proxy and the relay on 127.0.0.1 in front of
// the server at serverURL (ws://host:port).
func startLossRelay(serverURL string, loss float64, seed uint64) (*lossRelay, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	r := &lossRelay{server: u, loss: loss, rng: rand.New(rand.NewPCG(seed, 0x5eed)), clients: map[string]*relayClient{}}
	if r.udp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		r.udp.Close()
		return nil, err
	}
	r.wsAddr = ln.Addr().String()
	r.hs = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.hs.Serve(ln)
	go r.readFront()
	return r, nil
}

// signalingURL is the WebSocket URL relayed peers use.
func (r *lossRelay) signalingURL() string { return "ws://" + r.wsAddr }

func (r *lossRelay) close() {
	r.hs.Close()
	r.udp.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.clients {
		c.up.Close()
		delete(r.clients, k)
	}
}

// drop decides whether to drop datagram b.
func (r *lossRelay) drop(b []byte) bool {
	if len(b) < 12 || b[0] < 128 || b[0] > 191 { // not RTP/RTCP (RFC 7983)
		return false
	}
	r.mu.Lock()
	d := r.rng.Float64() < r.loss
	r.mu.Unlock()
	if d {
		r.dropped.Add(1)
	} else {
		r.forwarded.Add(1)
	}
	return d
}

func (r *lossRelay) readFront() {
	buf := make([]byte, 1500)
	for {
		n, from, err := r.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		target := r.target.Load()
		if target == nil || r.drop(buf[:n]) {
			continue
		}
		key := from.String()
		r.mu.Lock()
		c := r.clients[key]
		if c == nil {
			up, err := net.DialUDP("udp4", nil, target)
			if err != nil {
				r.mu.Unlock()
				continue
			}
			c = &relayClient{up: up}
			r.clients[key] = c
			go r.readBack(key, c, from)
		}
		r.mu.Unlock()
		c.last.Store(time.Now().UnixNano())
		_, _ = c.up.Write(buf[:n])
	}
}

// readBack forwards the server's datagrams to the client until the client
// has been quiet for relayIdle.
func (r *lossRelay) readBack(key string, c *relayClient, to *net.UDPAddr) {
	buf := make([]byte, 1500)
	defer func() {
		r.mu.Lock()
		if r.clients[key] == c {
			delete(r.clients, key)
		}
		r.mu.Unlock()
		c.up.Close()
	}()
	for {
		_ = c.up.SetReadDeadline(time.Now().Add(relayIdle))
		n, err := c.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, c.last.Load())) < relayIdle {
				continue
			}
			return
		}
		if !r.drop(buf[:n]) {
			_, _ = r.udp.WriteToUDP(buf[:n], to)
		}
	}
}

// ServeHTTP proxies one protoo WebSocket to the server.
func (r *lossRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	up := *r.server
	up.RawQuery = req.URL.RawQuery
	d := websocket.Dialer{Subprotocols: []string{"protoo"}, HandshakeTimeout: 10 * time.Second}
	sc, resp, err := d.Dial(up.String(), nil)
	if err != nil {
		code := http.StatusBadGateway
		if resp != nil {
			code = resp.StatusCode
		}
		http.Error(w, err.Error(), code)
		return
	}
	upg := websocket.Upgrader{Subprotocols: []string{"protoo"}, CheckOrigin: func(*http.Request) bool { return true }}
	cc, err := upg.Upgrade(w, req, nil)
	if err != nil {
		sc.Close()
		return
	}
	done := make(chan struct{}, 2)
	pump := func(from, to *websocket.Conn, rewrite bool) {
		defer func() { done <- struct{}{} }()
		for {
			t, b, err := from.ReadMessage()
			if err != nil {
				return
			}
			if rewrite && bytes.Contains(b, []byte(`"iceCandidates"`)) {
				b = r.rewrite(b)
			}
			if to.WriteMessage(t, b) != nil {
				return
			}
		}
	}
	go pump(sc, cc, true)
	go pump(cc, sc, false)
	<-done
	sc.Close()
	cc.Close()
	<-done
}

// rewrite replaces the ICE candidates of a protoo response by the relay's.
func (r *lossRelay) rewrite(b []byte) []byte {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return b
	}
	data, _ := m["data"].(map[string]any)
	cands, _ := data["iceCandidates"].([]any)
	var pick map[string]any
	for _, c := range cands {
		cm, _ := c.(map[string]any)
		if cm == nil || cm["protocol"] != "udp" {
			continue
		}
		if pick == nil || cm["ip"] == r.server.Hostname() {
			pick = cm
		}
	}
	if pick == nil {
		return b
	}
	num, _ := pick["port"].(json.Number)
	port, _ := num.Int64()
	if r.target.Load() == nil {
		if ip := net.ParseIP(fmt.Sprint(pick["ip"])); ip != nil {
			r.target.CompareAndSwap(nil, &net.UDPAddr{IP: ip, Port: int(port)})
		}
	}
	relay := r.udp.LocalAddr().(*net.UDPAddr)
	pick["ip"], pick["port"] = relay.IP.String(), relay.Port
	data["iceCandidates"] = []any{pick}
	out, err := json.Marshal(m)
	if err != nil {
		return b
	}
	return out
}
