package transport

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestReadLoopsShareThePort: a network asked for four read loops binds
// four sockets on one port, and datagrams from many client ports spread
// over them (the kernel hashes the 4-tuple), each counted once.
func TestReadLoopsShareThePort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_REUSEPORT read loops are Linux only")
	}
	n, err := NewNetwork(Config{ListenIP: "127.0.0.1", NoTCP: true, ReadLoops: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.ReadLoops() != 4 {
		t.Fatalf("%d read loops", n.ReadLoops())
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: n.Port()}
	const clients, each = 64, 5
	for i := 0; i < clients; i++ {
		c, err := net.DialUDP("udp", nil, dst)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < each; j++ {
			_, _ = c.Write([]byte{0x80, 96, 0, byte(j), 0, 0, 0, 0, 0, 0, 0, 1}) // RTP of no transport: dropped
		}
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.PacketsReceived() < clients*each && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := n.PacketsReceived(); got != clients*each {
		t.Fatalf("received %d of %d", got, clients*each)
	}
	busy := 0
	for _, c := range n.PacketsPerLoop() {
		if c > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Fatalf("datagrams of %d clients all reached one loop: %v", clients, n.PacketsPerLoop())
	}
	t.Logf("per loop: %v", n.PacketsPerLoop())
}

// TestOneReadLoop: ReadLoops 1 binds one socket without SO_REUSEPORT, so
// no other socket can join the port.
func TestOneReadLoop(t *testing.T) {
	n, err := NewNetwork(Config{ListenIP: "127.0.0.1", NoTCP: true, ReadLoops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.ReadLoops() != 1 {
		t.Fatalf("%d read loops", n.ReadLoops())
	}
	if c, err := listenUDPReusePort(n.conn.LocalAddr().(*net.UDPAddr).AddrPort()); err == nil {
		c.Close()
		t.Fatal("another socket could bind the port of a single-loop network")
	}
}
