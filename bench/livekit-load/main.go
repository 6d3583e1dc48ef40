// Command livekit-load is the LiveKit counterpart of gosoup's load
// generator (cmd/gosoup-load): rooms of publishers and receive-only
// subscribers built on LiveKit's Go SDK (pion), publishers sending the
// same synthetic opus and VP8 RTP, subscribers counting what they receive
// (packets, sequence gaps, jitter). Given the server's pid it reads the
// server's CPU time and memory from /proc and prints the same summary
// fields as gosoup-load (ForwardedPacketsPerCPUSec, RSSPerConsumerKiB,
// LossPercent, ...), plus its own CPU time.
//
// It is a separate Go module (bench/livekit-load/go.mod) so that gosoup's
// own module does not depend on LiveKit; see bench/README.md.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"
)

type config struct {
	url, apiKey, apiSecret string
	rooms                  int
	publishers             int
	subscribers            int
	audio, video           bool
	bitrate                int
	duration, rampUp       time.Duration
	pid                    int
	jsonOut                string
	nack                   bool
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "ws://127.0.0.1:7880", "LiveKit server URL")
	flag.StringVar(&c.apiKey, "api-key", "benchkey", "API key (the server's keys)")
	flag.StringVar(&c.apiSecret, "api-secret", "benchsecret-benchsecret-benchsecret", "API secret")
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
	flag.BoolVar(&c.nack, "nack", false, "subscribers send NACKs and publishers answer them (gosoup-load does neither)")
	logLevel := flag.String("log-level", "error", "SDK log level")
	flag.Parse()
	logger.InitFromConfig(&logger.Config{Level: *logLevel}, "livekit-load")
	lksdk.SetLogger(logger.GetLogger())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "livekit-load:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, sum)
	b, _ := json.MarshalIndent(sum, "", "  ")
	if c.jsonOut == "" {
		fmt.Println(string(b))
	} else if err := os.WriteFile(c.jsonOut, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "livekit-load:", err)
		os.Exit(1)
	}
}

// stream counts what a subscriber receives on one track. add runs on the
// track's read goroutine only; received is read by the summary.
type stream struct {
	received     atomic.Uint64
	padding      atomic.Uint64
	started      bool
	first, high  uint64 // extended sequence numbers
	clock        float64
	jitter, prev float64 // RFC 3550 interarrival jitter, in clock units
}

func (s *stream) add(seq uint16, ts uint32, arrival time.Time) {
	s.received.Add(1)
	if !s.started {
		s.started, s.first, s.high = true, uint64(seq)+1<<16, uint64(seq)+1<<16
	} else {
		// the extended number nearest to the highest seen
		d := int16(seq - uint16(s.high))
		if ext := uint64(int64(s.high) + int64(d)); ext > s.high {
			s.high = ext
		}
	}
	transit := float64(arrival.UnixNano())/1e9*s.clock - float64(ts)
	if s.prev != 0 {
		d := transit - s.prev
		if d < 0 {
			d = -d
		}
		s.jitter += (d - s.jitter) / 16
	}
	s.prev = transit
}

type peerStats struct {
	mu          sync.Mutex
	joinLatency time.Duration
	streams     []*stream
}

type counters struct {
	received, sent, padding atomic.Uint64
	joined                  atomic.Int64
}

func run(ctx context.Context, c config) (*summary, error) {
	perRoom := c.publishers + c.subscribers
	total := c.rooms * perRoom
	step := time.Duration(0)
	if total > 1 {
		step = c.rampUp / time.Duration(total)
	}
	base := sampleProc(c.pid)
	self0 := sampleProc(os.Getpid())
	var (
		mu    sync.Mutex
		stats []*peerStats
		errs  []error
		wg    sync.WaitGroup
		cnt   counters
	)
	stopMedia := make(chan struct{})
	start := time.Now()
	for r := 0; r < c.rooms; r++ {
		room := fmt.Sprintf("load-%d-%d", start.Unix(), r)
		for i := 0; i < perRoom; i++ {
			publisher := i < c.publishers
			name := fmt.Sprintf("sub%d", i)
			if publisher {
				name = fmt.Sprintf("pub%d", i)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ps, err := runPeer(c, room, name, publisher, stopMedia, &cnt)
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
				close(stopMedia)
				return nil, ctx.Err()
			}
		}
	}
	time.Sleep(2 * time.Second) // let the last joiners connect
	m0, s0, r0 := sampleProc(c.pid), sampleProc(os.Getpid()), cnt.received.Load()
	t0 := time.Now()
	tk := time.NewTicker(time.Second)
	last := r0
	for time.Since(t0) < c.duration {
		select {
		case <-ctx.Done():
			close(stopMedia)
			return nil, ctx.Err()
		case <-tk.C:
			now := cnt.received.Load()
			mu.Lock()
			ne := len(errs)
			mu.Unlock()
			fmt.Fprintf(os.Stderr, "%5.0fs  peers %d/%d  received %d pkt/s  errors %d\n",
				time.Since(t0).Seconds(), cnt.joined.Load(), total, now-last, ne)
			last = now
		}
	}
	tk.Stop()
	m1, s1, r1 := sampleProc(c.pid), sampleProc(os.Getpid()), cnt.received.Load()
	elapsed := time.Since(t0)
	close(stopMedia)
	wg.Wait()
	sum := summarize(c, stats, errs, base, m0, m1, r1-r0, elapsed, cnt.sent.Load())
	sum.PaddingPacketsReceived = cnt.padding.Load()
	sum.Load = &loadSummary{CPUSeconds: s1.cpu - s0.cpu, CPUSecondsTotal: s1.cpu - self0.cpu, RSSMiB: s1.rss / (1 << 20)}
	sum.Load.CPUPercent = 100 * sum.Load.CPUSeconds / elapsed.Seconds()
	return sum, nil
}

// interceptors are what gosoup-load's peers run: sender and receiver
// reports only (plus NACK with --nack).
func interceptors(withNack bool) ([]interceptor.Factory, error) {
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, err
	}
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, err
	}
	out := []interceptor.Factory{rr, sr}
	if withNack {
		g, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return nil, err
		}
		r, err := nack.NewResponderInterceptor()
		if err != nil {
			return nil, err
		}
		out = append(out, g, r)
	}
	return out, nil
}

func runPeer(c config, room, name string, publisher bool, stop <-chan struct{}, cnt *counters) (*peerStats, error) {
	ps := &peerStats{}
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		st := &stream{clock: float64(track.Codec().ClockRate)}
		ps.mu.Lock()
		ps.streams = append(ps.streams, st)
		ps.mu.Unlock()
		go readTrack(track, st, stop, cnt)
	}
	ics, err := interceptors(c.nack)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	r, err := lksdk.ConnectToRoom(c.url, lksdk.ConnectInfo{
		APIKey: c.apiKey, APISecret: c.apiSecret, RoomName: room, ParticipantIdentity: name, ParticipantName: name,
	}, cb, lksdk.WithAutoSubscribe(true), lksdk.WithInterceptors(ics), lksdk.WithIncludeDefaultInterceptors(false),
		lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(60*time.Second))
	if err != nil {
		return nil, err
	}
	defer r.Disconnect()
	ps.joinLatency = time.Since(t0)
	cnt.joined.Add(1)
	if publisher {
		for _, kind := range []string{"audio", "video"} {
			if (kind == "audio" && !c.audio) || (kind == "video" && !c.video) {
				continue
			}
			t := newRawTrack(kind)
			opts := &lksdk.TrackPublicationOptions{Name: kind}
			if kind == "video" {
				opts.VideoWidth, opts.VideoHeight = 640, 360
			}
			if _, err := r.LocalParticipant.PublishTrack(t, opts); err != nil {
				return nil, fmt.Errorf("publish %s: %w", kind, err)
			}
			go func() {
				select {
				case <-t.bound:
				case <-stop:
					return
				}
				src := newSource(kind, c.bitrate)
				buf := make([]byte, 1500)
				tk := time.NewTicker(src.interval())
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case now := <-tk.C:
						cnt.sent.Add(uint64(src.send(t, now, buf)))
					}
				}
			}()
		}
	}
	<-stop
	return ps, nil
}

func readTrack(track *webrtc.TrackRemote, st *stream, stop <-chan struct{}, cnt *counters) {
	buf := make([]byte, 1500)
	for {
		_ = track.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := track.Read(buf)
		select {
		case <-stop:
			return
		default:
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			continue
		}
		if n < 12 {
			continue
		}
		if payloadLen(buf[:n]) == 0 { // padding-only probe: keeps its sequence number, carries no media
			cnt.padding.Add(1)
			st.padding.Add(1)
		}
		st.add(binary.BigEndian.Uint16(buf[2:]), binary.BigEndian.Uint32(buf[4:]), time.Now())
		cnt.received.Add(1)
	}
}

// payloadLen is an RTP packet's payload length without padding.
func payloadLen(b []byte) int {
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 && len(b) >= off+4 {
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	n := len(b) - off
	if b[0]&0x20 != 0 && n > 0 {
		n -= int(b[len(b)-1])
	}
	return max(n, 0)
}

type summary struct {
	Server                                       *serverSummary `json:",omitempty"`
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
	PaddingPacketsReceived                       uint64 // whole run; included in PacketsReceived
	PacketsLost                                  uint64
	LossPercent                                  float64
	JitterMsP50                                  float64
	ReceivedPerSecond                            float64
	Load                                         *loadSummary
}

type serverSummary struct {
	CPUSeconds                float64
	ForwardedPacketsPerCPUSec float64
	RSSBeforeMiB, RSSMiB      float64
	PeakRSSMiB                float64
	RSSPerConsumerKiB         float64
}

// loadSummary is this process's own use: CPUSeconds and CPUPercent in the
// measured window, CPUSecondsTotal since start.
type loadSummary struct {
	CPUSeconds, CPUPercent, CPUSecondsTotal, RSSMiB float64
}

func summarize(c config, stats []*peerStats, errs []error, base, m0, m1 procSample, rcvd uint64, elapsed time.Duration, sent uint64) *summary {
	s := &summary{Rooms: c.rooms, PublishersPerRoom: c.publishers, SubscribersPerRoom: c.subscribers, Audio: c.audio, Video: c.video,
		VideoBitrate: c.bitrate, DurationSeconds: elapsed.Seconds(), Peers: len(stats), Errors: len(errs), PacketsSent: sent,
		PacketsReceived: rcvd, ReceivedPerSecond: float64(rcvd) / elapsed.Seconds(), JoinLatencyMs: map[string]float64{}}
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
		p.mu.Lock()
		for _, st := range p.streams {
			s.Consumers++
			if !st.started {
				continue
			}
			exp := st.high - st.first + 1
			r := st.received.Load()
			got += r
			if exp > r {
				lost += exp - r
			}
			jit = append(jit, st.jitter/st.clock*1000)
		}
		p.mu.Unlock()
	}
	s.PacketsLost = lost
	if got+lost > 0 {
		s.LossPercent = 100 * float64(lost) / float64(got+lost)
	}
	s.JoinLatencyMs["p50"], s.JoinLatencyMs["p99"] = percentile(lat, 50), percentile(lat, 99)
	s.JitterMsP50 = percentile(jit, 50)
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

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[min(len(v)-1, int(float64(len(v))*p/100))]
}

func printTable(w io.Writer, s *summary) {
	fmt.Fprintf(w, "rooms %d × (%d publishers + %d subscribers), audio %v, video %v at %d b/s, %.0f s measured\n",
		s.Rooms, s.PublishersPerRoom, s.SubscribersPerRoom, s.Audio, s.Video, s.VideoBitrate, s.DurationSeconds)
	row := func(k string, v any) { fmt.Fprintf(w, "%-32s %v\n", k, v) }
	row("peers joined / errors", fmt.Sprintf("%d / %d", s.Peers, s.Errors))
	row("consumers", s.Consumers)
	row("join latency (ms)", fmt.Sprintf("p50 %.1f  p99 %.1f", s.JoinLatencyMs["p50"], s.JoinLatencyMs["p99"]))
	row("received packets/s", fmt.Sprintf("%.0f (padding %d)", s.ReceivedPerSecond, s.PaddingPacketsReceived))
	row("lost packets", fmt.Sprintf("%d (%.3f %%)", s.PacketsLost, s.LossPercent))
	row("jitter p50 (ms)", fmt.Sprintf("%.2f", s.JitterMsP50))
	if v := s.Server; v != nil {
		row("server CPU seconds", fmt.Sprintf("%.2f", v.CPUSeconds))
		row("forwarded packets per CPU-second", fmt.Sprintf("%.0f", v.ForwardedPacketsPerCPUSec))
		row("server RSS (MiB)", fmt.Sprintf("%.1f → %.1f (peak %.1f)", v.RSSBeforeMiB, v.RSSMiB, v.PeakRSSMiB))
		row("RSS per consumer (KiB)", fmt.Sprintf("%.1f", v.RSSPerConsumerKiB))
	}
	if l := s.Load; l != nil {
		row("load generator CPU (s, %)", fmt.Sprintf("%.2f, %.0f %%", l.CPUSeconds, l.CPUPercent))
	}
}
