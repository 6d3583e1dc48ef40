// Command gosoup-load is a load generator for mediasoup v2 servers (gosoup,
// or mediasoup 2.6.19 behind a protoo WebSocket): rooms of publishers and
// subscribers built on package client, with realistic opus and VP8 RTP.
// It prints a progress line every second and, at the end, a table and a
// JSON summary; given the server's pid it reports the server's CPU time
// and memory, hence forwarded packets per CPU-second and RSS per consumer.
//
// With --churn it instead keeps --peers peers connected for --duration
// while they come and go (random rooms, stays, pauses, preferred
// profiles; some through a client-side loss relay), for soak runs
// (scripts/soak.sh, docs/soak.md).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/client"
)

type config struct {
	url          string
	rooms        int
	publishers   int
	subscribers  int
	audio, video bool
	bitrate      int
	duration     time.Duration
	rampUp       time.Duration
	pid          int
	jsonOut      string
	churn        *churnConfig // --churn: peers come and go (churn.go)
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "ws://127.0.0.1:3443", "server WebSocket URL (protoo); several, comma-separated, spread each room's peers over the nodes of a cluster (peer i on URL i mod n, the first publisher on the first)")
	flag.IntVar(&c.rooms, "rooms", 1, "rooms")
	flag.IntVar(&c.publishers, "publishers", 1, "publishers per room (each also receives the others)")
	flag.IntVar(&c.subscribers, "subscribers", 10, "receive-only subscribers per room")
	flag.BoolVar(&c.audio, "audio", true, "publishers send opus audio")
	flag.BoolVar(&c.video, "video", true, "publishers send VP8 video")
	flag.IntVar(&c.bitrate, "bitrate", 500_000, "video bitrate, bits per second")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "measured duration after ramp-up")
	flag.DurationVar(&c.rampUp, "ramp-up", 5*time.Second, "time over which peers join")
	flag.IntVar(&c.pid, "server-pid", 0, "server pid, to read its CPU time and memory from /proc")
	flag.StringVar(&c.jsonOut, "json", "", "write the JSON summary to this file (default: stdout after the table)")
	churn, cc := churnFlags()
	meeting := meetingFlags()
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if meeting.enabled {
		if err := runMeeting(ctx, c, meeting, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "gosoup-load:", err)
			os.Exit(1)
		}
		return
	}
	if *churn {
		c.churn = cc
		sum, err := runChurn(ctx, c, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gosoup-load:", err)
			os.Exit(1)
		}
		printChurn(os.Stdout, sum)
		writeJSON(c.jsonOut, sum)
		return
	}
	sum, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosoup-load:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, sum)
	writeJSON(c.jsonOut, sum)
}

// writeJSON writes v to file, or to stdout when file is "".
func writeJSON(file string, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	if file == "" {
		fmt.Println(string(b))
		return
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gosoup-load:", err)
		os.Exit(1)
	}
}

// stream counts what one consumer received.
type stream struct {
	received    atomic.Uint64
	firstSeq    uint32
	maxExt      uint32
	started     bool
	jitter      float64
	lastTransit float64
	clock       float64
}

func (s *stream) add(seq uint16, ts uint32, arrival time.Time) {
	s.received.Add(1)
	ext := uint32(seq)
	if !s.started {
		s.started, s.firstSeq, s.maxExt = true, ext, ext
	} else {
		cycles := s.maxExt &^ 0xffff
		cand := cycles | ext
		if int32(cand-s.maxExt) < -0x8000 {
			cand += 1 << 16
		} else if int32(cand-s.maxExt) > 0x8000 {
			cand -= 1 << 16
		}
		if cand > s.maxExt {
			s.maxExt = cand
		}
	}
	transit := float64(arrival.UnixNano())/1e9*s.clock - float64(ts)
	if s.lastTransit != 0 {
		d := transit - s.lastTransit
		if d < 0 {
			d = -d
		}
		s.jitter += (d - s.jitter) / 16
	}
	s.lastTransit = transit
}

type peerStats struct {
	joinLatency time.Duration
	streams     []*stream
}

func run(ctx context.Context, c config) (*summary, error) {
	peersPerRoom := c.publishers + c.subscribers
	total := c.rooms * peersPerRoom
	step := time.Duration(0)
	if total > 1 {
		step = c.rampUp / time.Duration(total)
	}
	base := serverSample(c.pid)
	var (
		mu     sync.Mutex
		stats  []*peerStats
		errs   []error
		wg     sync.WaitGroup
		joined atomic.Int64
		rcv    received
		sent   atomic.Uint64
	)
	stopMedia := make(chan struct{})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for r := 0; r < c.rooms; r++ {
		room := fmt.Sprintf("load-%d-%d", start.Unix(), r)
		for i := 0; i < peersPerRoom; i++ {
			publisher := i < c.publishers
			name := fmt.Sprintf("sub%d", i)
			if publisher {
				name = fmt.Sprintf("pub%d", i)
			}
			wg.Add(1)
			url := c.nodeURL(i)
			go func() {
				defer wg.Done()
				ps, err := runPeer(runCtx, c, url, room, name, publisher, stopMedia, &rcv, &sent, &joined)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s/%s: %w", room, name, err))
					return
				}
				stats = append(stats, ps)
			}()
			select {
			case <-time.After(step):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	// Let the last joiners connect, then measure.
	time.Sleep(2 * time.Second)
	m0 := serverSample(c.pid)
	r0, b0 := rcv.packets.Load(), rcv.bytes.Load()
	t0 := time.Now()
	tk := time.NewTicker(time.Second)
	last := r0
	for time.Since(t0) < c.duration {
		select {
		case <-ctx.Done():
			close(stopMedia)
			return nil, ctx.Err()
		case <-tk.C:
			now := rcv.packets.Load()
			fmt.Fprintf(os.Stderr, "%5.0fs  peers %d/%d  received %d pkt/s  errors %d\n",
				time.Since(t0).Seconds(), joined.Load(), total, now-last, len(errs))
			last = now
		}
	}
	tk.Stop()
	m1 := serverSample(c.pid)
	r1, b1 := rcv.packets.Load(), rcv.bytes.Load()
	elapsed := time.Since(t0)
	fmt.Fprintln(os.Stderr)
	close(stopMedia)
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	return summarize(c, stats, errs, base, m0, m1, r1-r0, b1-b0, elapsed, sent.Load()), nil
}

// nodeURL is the server URL of a room's i-th peer: with several URLs (the
// nodes of a cluster), peer i goes to URL i mod n.
func (c config) nodeURL(i int) string {
	urls := strings.Split(c.url, ",")
	return strings.TrimSpace(urls[i%len(urls)])
}

func runPeer(ctx context.Context, c config, url, room, name string, publisher bool, stop <-chan struct{}, rcv *received, sent *atomic.Uint64, joined *atomic.Int64) (*peerStats, error) {
	t0 := time.Now()
	p, err := client.Connect(ctx, url, room, name)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		return nil, err
	}
	ps := &peerStats{joinLatency: time.Since(t0)}
	joined.Add(1)
	recv, err := p.CreateTransport(ctx, "recv")
	if err != nil {
		return nil, err
	}
	if publisher {
		send, err := p.CreateTransport(ctx, "send")
		if err != nil {
			return nil, err
		}
		for _, kind := range []string{"audio", "video"} {
			if (kind == "audio" && !c.audio) || (kind == "video" && !c.video) {
				continue
			}
			prod, err := send.Produce(ctx, kind, 0, false, map[string]any{"source": kind})
			if err != nil {
				return nil, err
			}
			src := client.NewSource(kind, c.bitrate)
			go func() {
				counting := make(chan struct{})
				go func() {
					tk := time.NewTicker(src.Interval())
					defer tk.Stop()
					for {
						select {
						case <-stop:
							close(counting)
							return
						case now := <-tk.C:
							for _, pkt := range src.NextFrame(now) {
								if prod.WriteRTP(pkt) == nil {
									sent.Add(1)
								}
							}
						}
					}
				}()
				<-counting
			}()
		}
	}
	receiveAll(ctx, p, recv, rcv, stop, func(st *stream) { ps.streams = append(ps.streams, st) })
	return ps, nil
}

// receiveAll consumes every consumer p is offered on recv, those of its
// join response and each newConsumer after it, counting the packets and
// bytes of each in rcv; onStream (called on this goroutine) gets each
// consumer's stream. It returns when stop closes or the peer's
// notifications end.
func receiveAll(ctx context.Context, p *client.Peer, recv *client.Transport, rcv *received, stop <-chan struct{}, onStream func(*stream)) {
	consume := func(cd client.ConsumerData) {
		cons, err := recv.Consume(ctx, cd)
		if err != nil {
			return
		}
		st := &stream{clock: float64(cd.RTPParameters.Codecs[0].ClockRate)}
		onStream(st)
		go func() {
			buf := make([]byte, 1500)
			for {
				n, seq, ts, err := cons.ReadRaw(buf, time.Now().Add(2*time.Second))
				select {
				case <-stop:
					return
				default:
				}
				if err != nil {
					continue
				}
				st.add(seq, ts, time.Now())
				rcv.packets.Add(1)
				rcv.bytes.Add(uint64(n))
			}
		}()
	}
	for _, other := range p.JoinPeers {
		for _, cd := range other.Consumers {
			consume(cd)
		}
	}
	from := 0
	for {
		n, next, err := p.WaitNotification(ctx, from, "newConsumer", nil)
		if err != nil {
			<-stop
			return
		}
		from = next
		var cd client.ConsumerData
		if json.Unmarshal(n.Data, &cd) == nil {
			consume(cd)
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}

type summary struct {
	Rooms, PublishersPerRoom, SubscribersPerRoom int
	Audio, Video                                 bool
	VideoBitrate                                 int
	DurationSeconds                              float64
	Peers, Errors                                int
	FirstErrors                                  []string `json:",omitempty"`
	Consumers                                    int
	JoinLatencyMs                                map[string]float64
	PacketsSent                                  uint64
	PacketsReceived                              uint64 // during the measured window
	PacketsLost                                  uint64
	LossPercent                                  float64
	JitterMsP50                                  float64
	ReceivedPerSecond                            float64
	ReceivedBitsPerSecond                        float64 // RTP packets' bytes (headers and payload), in bits
	// Per peer that received anything (every subscriber; publishers
	// receive the other publishers).
	ReceivingPeers              int
	PerReceiverPacketsPerSecond float64
	PerReceiverBitsPerSecond    float64
	Server                      *serverSummary `json:",omitempty"`
}

type serverSummary struct {
	CPUSeconds                float64
	ForwardedPacketsPerCPUSec float64
	RSSBeforeMiB, RSSMiB      float64
	PeakRSSMiB                float64
	RSSPerConsumerKiB         float64
}

// received counts what every consumer of the run received.
type received struct {
	packets atomic.Uint64
	bytes   atomic.Uint64
}

func summarize(c config, stats []*peerStats, errs []error, base, m0, m1 procSample, rcvd, rcvdBytes uint64, elapsed time.Duration, sent uint64) *summary {
	s := &summary{Rooms: c.rooms, PublishersPerRoom: c.publishers, SubscribersPerRoom: c.subscribers, Audio: c.audio, Video: c.video,
		VideoBitrate: c.bitrate, DurationSeconds: elapsed.Seconds(), Peers: len(stats), Errors: len(errs), PacketsSent: sent, PacketsReceived: rcvd,
		ReceivedPerSecond: float64(rcvd) / elapsed.Seconds(), ReceivedBitsPerSecond: 8 * float64(rcvdBytes) / elapsed.Seconds(),
		JoinLatencyMs: map[string]float64{}}
	for i, e := range errs {
		if i == 5 {
			break
		}
		s.FirstErrors = append(s.FirstErrors, e.Error())
	}
	var lat, jit []float64
	var lost, got uint64
	for _, p := range stats {
		lat = append(lat, float64(p.joinLatency.Microseconds())/1000)
		if len(p.streams) > 0 {
			s.ReceivingPeers++
		}
		for _, st := range p.streams {
			s.Consumers++
			if st.started {
				exp := uint64(st.maxExt-st.firstSeq) + 1
				r := st.received.Load()
				got += r
				if exp > r {
					lost += exp - r
				}
				jit = append(jit, st.jitter/st.clock*1000)
			}
		}
	}
	s.PacketsLost = lost
	if got+lost > 0 {
		s.LossPercent = 100 * float64(lost) / float64(got+lost)
	}
	s.JoinLatencyMs["p50"], s.JoinLatencyMs["p99"] = pct(lat, 50), pct(lat, 99)
	s.JitterMsP50 = pct(jit, 50)
	if s.ReceivingPeers > 0 {
		s.PerReceiverPacketsPerSecond = s.ReceivedPerSecond / float64(s.ReceivingPeers)
		s.PerReceiverBitsPerSecond = s.ReceivedBitsPerSecond / float64(s.ReceivingPeers)
	}
	if c.pid > 0 && m1.ok {
		cpu := m1.cpu - m0.cpu
		ss := &serverSummary{CPUSeconds: cpu, RSSBeforeMiB: base.rss / (1 << 20), RSSMiB: m1.rss / (1 << 20), PeakRSSMiB: m1.hwm / (1 << 20)}
		if cpu > 0 {
			ss.ForwardedPacketsPerCPUSec = float64(rcvd) / cpu
		}
		if s.Consumers > 0 {
			ss.RSSPerConsumerKiB = (m1.rss - base.rss) / 1024 / float64(s.Consumers)
		}
		s.Server = ss
	}
	return s
}

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[min(len(v)-1, int(float64(len(v))*p/100))]
}
