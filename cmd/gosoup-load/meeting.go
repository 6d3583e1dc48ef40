package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
)

// meetingConfig is --meeting: one room of publish-only peers, each with a
// microphone sending opus-sized packets every 20 ms with a real
// ssrc-audio-level extension (silent, -127 dBov, until told to speak),
// every one of the first --meeting-video also with VP8 video. Commands on
// standard input drive it ("speak NAME", "quiet NAME"); it prints one
// JSON line per event on standard output ("ready" once every peer
// produces, with the join latencies; "sample" prints the server's CPU
// time since the previous sample, given --server-pid). For browser tests with big rooms
// (e2e/tests/bigroom.test.mjs) and the big-room measurements.
type meetingConfig struct {
	enabled     bool
	room        string
	peers       int
	video       int
	concurrency int
	listen      bool
}

func meetingFlags() *meetingConfig {
	m := &meetingConfig{}
	flag.BoolVar(&m.enabled, "meeting", false, "one room of publish-only peers with mostly silent microphones (real audio levels) driven from standard input: speak NAME, quiet NAME, sample (server CPU since the last sample, with --server-pid)")
	flag.StringVar(&m.room, "meeting-room", "meeting", "--meeting: the room id")
	flag.IntVar(&m.peers, "meeting-peers", 300, "--meeting: peers (named pion-000, pion-001, ...)")
	flag.IntVar(&m.video, "meeting-video", 6, "--meeting: how many of the first peers also send video")
	flag.IntVar(&m.concurrency, "meeting-concurrency", 16, "--meeting: peers joining at once")
	flag.BoolVar(&m.listen, "meeting-listen", false, "--meeting: every peer also receives every consumer it is offered, as mediasoup-client does (with --audio-slots/--last-n on the server: the slots and the last-N videos); samples then report what each received")
	return m
}

// meetingPeer is one peer of the meeting.
type meetingPeer struct {
	name string
	loud atomic.Bool
}

// meetingEvent is a line of the meeting's output.
type meetingEvent struct {
	Event     string  `json:"event"`
	Peer      string  `json:"peer,omitempty"`
	Joined    int     `json:"joined,omitempty"`
	Failed    int     `json:"failed,omitempty"`
	JoinP50Ms float64 `json:"joinP50Ms,omitempty"`
	JoinP95Ms float64 `json:"joinP95Ms,omitempty"`
	ElapsedMs float64 `json:"elapsedMs,omitempty"`
	At        int64   `json:"at,omitempty"` // unix ms
	// With --server-pid: the server's CPU seconds since the previous
	// event that has them (ready: since the start), and its RSS.
	ServerCPUs   float64 `json:"serverCpuS,omitempty"`
	ServerRSSMiB float64 `json:"serverRssMiB,omitempty"`
	// With --meeting-listen: the consumers the peers receive, and per
	// listening peer the packets and bits per second received since the
	// previous event that has them.
	Consumers          int64   `json:"consumers,omitempty"`
	PerPeerPacketsPerS float64 `json:"perPeerPacketsPerS,omitempty"`
	PerPeerBitsPerS    float64 `json:"perPeerBitsPerS,omitempty"`
	Error              string  `json:"error,omitempty"`
}

// runMeeting runs the meeting until ctx ends or the input closes.
func runMeeting(ctx context.Context, c config, m *meetingConfig, in io.Reader, out io.Writer) error {
	if m.peers < 1 || m.video < 0 || m.concurrency < 1 {
		return fmt.Errorf("meeting: want --meeting-peers ≥ 1, --meeting-video ≥ 0, --meeting-concurrency ≥ 1")
	}
	var outMu sync.Mutex
	emit := func(e meetingEvent) {
		e.At = time.Now().UnixMilli()
		b, _ := json.Marshal(e)
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintln(out, string(b))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	peers := make(map[string]*meetingPeer, m.peers)
	var (
		rcv       received
		consumers atomic.Int64
		mu        sync.Mutex
		joins     []float64
		failed    int
		conns     []*client.Peer
	)
	defer func() {
		for _, p := range conns {
			_ = p.Close()
		}
	}()
	start := time.Now()
	base := serverSample(c.pid)
	sem := make(chan struct{}, m.concurrency)
	var joinWG sync.WaitGroup
	for i := range m.peers {
		mp := &meetingPeer{name: fmt.Sprintf("pion-%03d", i)}
		peers[mp.name] = mp
		sem <- struct{}{}
		joinWG.Add(1)
		go func() {
			defer joinWG.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			var listen *meetingListen
			if m.listen {
				listen = &meetingListen{rcv: &rcv, consumers: &consumers}
			}
			p, err := joinMeetingPeer(ctx, c.nodeURL(i), m.room, mp, i < m.video, c.bitrate, listen, stop, &wg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				emit(meetingEvent{Event: "error", Peer: mp.name, Error: err.Error()})
				return
			}
			conns = append(conns, p)
			joins = append(joins, float64(time.Since(t0).Milliseconds()))
		}()
	}
	joinWG.Wait()
	last, lastAt := base, start
	var lastPkts, lastBytes uint64
	server := func(e meetingEvent) meetingEvent {
		if c.pid > 0 {
			now := serverSample(c.pid)
			e.ServerCPUs, e.ServerRSSMiB = now.cpu-last.cpu, now.rss/(1<<20)
			last = now
		}
		el := time.Since(lastAt)
		e.ElapsedMs = float64(el.Milliseconds())
		lastAt = time.Now()
		if m.listen {
			pk, by := rcv.packets.Load(), rcv.bytes.Load()
			if n := len(joins); n > 0 && el > 0 {
				e.PerPeerPacketsPerS = float64(pk-lastPkts) / el.Seconds() / float64(n)
				e.PerPeerBitsPerS = 8 * float64(by-lastBytes) / el.Seconds() / float64(n)
			}
			e.Consumers = consumers.Load()
			lastPkts, lastBytes = pk, by
		}
		return e
	}
	emit(server(meetingEvent{Event: "ready", Joined: len(joins), Failed: failed, JoinP50Ms: pct(joins, 50), JoinP95Ms: pct(joins, 95)}))
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			cmd, name, _ := strings.Cut(strings.TrimSpace(line), " ")
			if cmd == "sample" {
				emit(server(meetingEvent{Event: "sample"}))
				continue
			}
			mp := peers[name]
			if mp == nil || (cmd != "speak" && cmd != "quiet") {
				emit(meetingEvent{Event: "error", Error: fmt.Sprintf("unknown command %q", line)})
				continue
			}
			mp.loud.Store(cmd == "speak")
			emit(meetingEvent{Event: cmd, Peer: name})
		}
	}
}

// meetingListen is where listening meeting peers count what they receive.
type meetingListen struct {
	rcv       *received
	consumers *atomic.Int64
}

// joinMeetingPeer joins one peer and starts its media, which runs until
// stop closes; with listen, the peer also receives every consumer it is
// offered.
func joinMeetingPeer(ctx context.Context, url, room string, mp *meetingPeer, video bool, bitrate int, listen *meetingListen, stop <-chan struct{}, wg *sync.WaitGroup) (*client.Peer, error) {
	jctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	p, err := client.Connect(jctx, url, room, mp.name)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	fail := func(what string, err error) (*client.Peer, error) {
		_ = p.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := p.Join(jctx, map[string]any{"displayName": mp.name}, false); err != nil {
		return fail("join", err)
	}
	if listen != nil {
		recv, err := p.CreateTransport(jctx, "recv")
		if err != nil {
			return fail("recv transport", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			receiveAll(ctx, p, recv, listen.rcv, stop, func(*stream) { listen.consumers.Add(1) })
		}()
	}
	send, err := p.CreateTransport(jctx, "send")
	if err != nil {
		return fail("send transport", err)
	}
	mic, err := send.Produce(jctx, "audio", 0, false, map[string]any{"source": "mic"})
	if err != nil {
		return fail("audio producer", err)
	}
	var levelID uint8
	for _, e := range p.RoomCapabilities.HeaderExtensions {
		if e.Kind == "audio" && e.URI == "urn:ietf:params:rtp-hdrext:ssrc-audio-level" {
			levelID = uint8(e.PreferredID)
		}
	}
	if levelID == 0 {
		return fail("audio producer", fmt.Errorf("the room has no ssrc-audio-level"))
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendLevels(mic, levelID, mp, stop)
	}()
	if video {
		cam, err := send.Produce(jctx, "video", 0, false, map[string]any{"source": "webcam"})
		if err != nil {
			return fail("video producer", err)
		}
		src := client.NewSource("video", bitrate)
		wg.Add(1)
		go func() {
			defer wg.Done()
			src.Run(cam, stop)
		}()
	}
	return p, nil
}

// sendLevels sends an opus-sized packet every 20 ms whose audio level is
// -127 dBov (silence) or, while the peer speaks, -20 dBov with the voice
// bit.
func sendLevels(mic *client.Producer, levelID uint8, mp *meetingPeer, stop <-chan struct{}) {
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(time.Now().UnixNano())}, Payload: make([]byte, 40)}
	pkt.Payload[0] = 0xf8 // opus TOC: CELT FB 20 ms
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
		}
		level := byte(127)
		if mp.loud.Load() {
			level = 0x80 | 20
		}
		_ = pkt.Header.SetExtension(levelID, []byte{level})
		_ = mic.WriteRTP(pkt)
		pkt.SequenceNumber++
		pkt.Timestamp += 960
	}
}
