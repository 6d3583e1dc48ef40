package integration

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/relay"
)

// startTURN starts the built-in TURN server beside g's SFU as cmd/gosoup
// does: UDP and TCP on 127.0.0.1, relaying only to the SFU's media port,
// in process. It returns the server and, for peerName, its ICE server
// over UDP and over TCP.
func startTURN(t *testing.T, g *gosoup, peerName string) (s *relay.Server, overUDP, overTCP webrtc.ICEServer) {
	t.Helper()
	const secret = "integration-turn-secret"
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		udp.Close()
		t.Fatal(err)
	}
	media := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(g.SFU.RTCPort()))
	s, err = relay.NewServer(relay.Config{
		Secret: secret, UDP: udp, Listener: tcp, RelayIP: media.Addr(),
		PeerIP: func(a netip.Addr) bool { return a == media.Addr() },
		Route:  func(a netip.AddrPort) (netip.AddrPort, bool) { return a, a == media },
		Local:  relay.MediaNetwork(g.SFU.MediaNetwork()),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	user, pass := relay.Credentials(secret, peerName, time.Hour, time.Now())
	overUDP = webrtc.ICEServer{URLs: []string{"turn:" + udp.LocalAddr().String() + "?transport=udp"}, Username: user, Credential: pass}
	overTCP = overUDP
	overTCP.URLs = []string{"turn:127.0.0.1:" + strconv.Itoa(tcp.Addr().(*net.TCPAddr).Port) + "?transport=tcp"}
	return s, overUDP, overTCP
}

// TestRelayedMediaInProcess: alice sends video and bob receives it, both
// forced to relay through the built-in TURN server (pion's ICE with
// ICETransportPolicyRelay, as a browser told iceTransportPolicy "relay").
// Every packet between the TURN server and the SFU takes the in-process
// path, both ways: the SFU's UDP socket reads nothing, the allocations'
// sockets carry nothing, and the SFU's transports have in-process tuples.
func TestRelayedMediaInProcess(t *testing.T) {
	g := startGosoup(t)
	for _, via := range []string{"udp", "tcp"} {
		t.Run(via, func(t *testing.T) { relayedCall(t, g, via) })
	}
	if n := g.SFU.MediaNetwork().PacketsReceived(); n != 0 {
		t.Errorf("the SFU's UDP socket read %d packets", n)
	}
}

// relayedCall is TestRelayedMediaInProcess's call, with the clients
// reaching the TURN server over via ("udp" or "tcp").
func relayedCall(t *testing.T, g *gosoup, via string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts, overUDP, overTCP := startTURN(t, g, "alice")
	servers := []webrtc.ICEServer{overUDP}
	if via == "tcp" {
		servers = []webrtc.ICEServer{overTCP}
	}
	room := "turn-" + via

	alice := join(ctx, t, g, room, "alice")
	alice.ICEServers, alice.ICETransportPolicy = servers, webrtc.ICETransportPolicyRelay
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := startVP8(prod, 10*time.Millisecond, 10)
	defer src.Stop()

	bob := join(ctx, t, g, room, "bob")
	bob.ICEServers, bob.ICETransportPolicy = servers, webrtc.ICETransportPolicyRelay
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := recv.Consume(ctx, bob.JoinPeers[0].Consumers[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []interface{ WaitConnected(context.Context) error }{send, recv} {
		if err := tr.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const want = 100
	for got := 0; got < want; got++ {
		if _, err := cons.ReadRTP(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatalf("bob got %d of %d packets through the relay: %v", got, want, err)
		}
	}

	c := ts.Counters()
	if in, out := c.InProcessToPeer.Load(), c.InProcessToClient.Load(); in < want || out < want {
		t.Errorf("in process: %d packets to the SFU, %d back; want at least %d each", in, out, want)
	}
	if in, out := c.SocketToPeer.Load(), c.SocketToClient.Load(); in != 0 || out != 0 {
		t.Errorf("the allocations' sockets carried %d packets to the SFU and %d from it", in, out)
	}
	if tcp := c.BytesOverTCP.Load(); (via == "tcp") != (tcp > 0) {
		t.Errorf("over %s: %d bytes relayed for TCP clients", via, tcp)
	}
	r, err := g.SFU.Room(room)
	if err != nil {
		t.Fatal(err)
	}
	var tuples int
	for _, p := range r.Peers() {
		for _, tr := range p.Transports() {
			if wt := tr.WebRTC(); wt != nil {
				tp, ok := wt.SelectedTuple()
				if !ok || !tp.InProcess() {
					t.Errorf("%s's transport: tuple %+v (%v), not in process", p.Name(), tp, ok)
				}
				tuples++
			}
		}
	}
	if tuples != 2 {
		t.Fatalf("%d transports in the room, want 2", tuples)
	}
}
