package sfu

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu/internal/bwe"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
	"github.com/gosoup/gosoup/transport"
)

// benchFanout builds a producer with n consumers, each on its own
// transport whose packets go (SRTP-encrypted, AES-GCM) to a UDP sink on
// loopback. The media socket binds listenIP; bound to any address (as by
// default), every datagram carries its source address as a control message.
func benchFanout(tb testing.TB, n int, listenIP string) (*Producer, []byte, *transport.Batch, func()) {
	srv, err := NewServer(Config{
		RTC:    transport.Config{ListenIP: listenIP, Port: 0, NoTCP: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	sinkAddr := netip.MustParseAddrPort(sink.LocalAddr().String())
	owner := &Peer{name: "alice", notify: func(any) {}, room: &Room{server: srv}}
	p := &Producer{peer: owner, kind: "video", clockRate: 90000}
	p.streams = newStreams([]rtpparams.EncodingParameters{{SSRC: 1111}}, true) // as a real VP8 producer with nack
	p.streams[0].desc = codec.VP8{}
	// abs-send-time (id 2) feeds the REMB estimator and is restamped (room id 3).
	p.estimator, p.srcAbsSendTimeID, p.absSendTimeID = bwe.New(), 2, 3
	for i := range p.ptMap {
		p.ptMap[i] = -1
	}
	p.ptMap[96] = 101
	p.extMap[2] = 3
	p.consumers.Store(&[]*Consumer{})
	receiver := &Peer{name: "bob", notify: func(any) {}}
	profile := "default"
	var wts []*transport.WebRTCTransport
	for i := 0; i < n; i++ {
		t := &Transport{peer: receiver}
		wt, err := srv.net.NewConnectedForTest(t, sinkAddr)
		if err != nil {
			tb.Fatal(err)
		}
		t.link = wt
		wts = append(wts, wt)
		c := &Consumer{peer: receiver, producer: p, kind: "video"}
		c.ssrc, c.payloadType, c.counters = uint32(5000+i), 101, receiver.counters()
		c.send.clockRate = 90000
		c.effective.Store(&profile)
		c.current.Store(-1) // switches to stream 0 on the first key frame
		c.transport.Store(t)
		c.active.Store(true)
		p.addConsumer(c)
	}
	// A 1200-byte VP8 packet with abs-send-time (one-byte extension id 2).
	pkt := make([]byte, 1200)
	pkt[0], pkt[1] = 0x90, 96
	rtpwire.PutUint32(pkt[8:], 1111)
	rtpwire.PutUint16(pkt[12:], 0xBEDE)
	rtpwire.PutUint16(pkt[14:], 1)
	pkt[16] = 2<<4 | 2
	pkt[20], pkt[21] = 0x10, 0x00 // VP8 key frame
	return p, pkt, srv.net.NewBatch(), func() {
		for _, wt := range wts {
			wt.Close()
		}
		sink.Close()
		srv.Close()
	}
}

// BenchmarkForward measures the whole per-packet path: rewrite, per
// consumer header patch, SRTP encrypt and UDP send. ns/op is per incoming
// packet; ns/pkt per forwarded packet.
func BenchmarkForward(b *testing.B) { benchForward(b, "127.0.0.1") }

// BenchmarkForwardAnyAddr is BenchmarkForward with the socket bound to
// 0.0.0.0, as the server runs by default: sends carry IP_PKTINFO.
func BenchmarkForwardAnyAddr(b *testing.B) { benchForward(b, "0.0.0.0") }

func benchForward(b *testing.B, listenIP string) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("consumers=%d", n), func(b *testing.B) {
			p, pkt, batch, done := benchFanout(b, n, listenIP)
			defer done()
			b.SetBytes(int64(len(pkt) * n))
			forwardLoop(b, p, pkt, batch)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pkt")
		})
	}
}

// BenchmarkRewrite measures the payload-type and extension rewrite alone.
func BenchmarkRewrite(b *testing.B) {
	p, pkt, _, done := benchFanout(b, 0, "127.0.0.1")
	defer done()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rtpwire.RewriteRTP(p.scratch[:], pkt, &p.ptMap, &p.extMap)
	}
}

// TestForwardAllocatesNothing: the forwarding path (receive, rewrite,
// fan out to 10 consumers, encrypt into the batch, sendmmsg) allocates
// nothing per packet, with the socket on one address and on 0.0.0.0
// (IP_PKTINFO on every send). The gate in CI behind the benchmarks.
func TestForwardAllocatesNothing(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "0.0.0.0"} {
		p, pkt, batch, done := benchFanout(t, 10, ip)
		i := 0
		allocs := testing.AllocsPerRun(500, func() {
			i++
			rtpwire.PutUint16(pkt[2:], uint16(i))
			rtpwire.PutUint32(pkt[4:], uint32(i)*3000)
			p.receiveRTP(pkt, 1111, batch)
			batch.Flush()
		})
		done()
		if allocs != 0 {
			t.Errorf("socket on %s: %.2f allocations per forwarded packet", ip, allocs)
		}
	}
}

// forwardLoop is the timed part of the forwarding benchmarks: b.N packets
// of stream 1111 through p, each with the next sequence number and
// timestamp, the batch flushed after each.
func forwardLoop(b *testing.B, p *Producer, pkt []byte, batch *transport.Batch) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rtpwire.PutUint16(pkt[2:], uint16(i))
		rtpwire.PutUint32(pkt[4:], uint32(i)*3000)
		p.receiveRTP(pkt, 1111, batch)
		batch.Flush()
	}
}
