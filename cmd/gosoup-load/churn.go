package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/client"
)

// churnConfig is what --churn adds to config.
type churnConfig struct {
	peers        int           // peers connected at any time
	minStay      time.Duration // shortest stay of a peer
	maxStay      time.Duration // longest stay of a peer
	publishShare float64       // share of peers that publish (audio + video)
	relayShare   float64       // share of peers whose media goes through the loss relay
	relayLoss    float64       // share of RTP/RTCP datagrams the relay drops, each way
	abruptShare  float64       // share of peers that close their socket without "leave"
	seed         uint64
}

var digits = regexp.MustCompile(`[0-9]+`)

// churner runs --churn: c.peers slots, each a loop of peers that join a
// random room, publish or only subscribe for a random stay, act (pause,
// resume, preferred profiles) and leave; a new peer follows at once.
type churner struct {
	c     config
	relay *lossRelay // nil without relayed peers
	start time.Time

	sessions, left, abrupt, relayed atomic.Int64
	gone                            atomic.Int64 // consumers closed before enableConsumer
	actions                         atomic.Int64 // pauses, resumes, preferred profiles sent
	sent, received                  atomic.Uint64
	mu                              sync.Mutex
	errs                            map[string]int
}

// runChurn runs the churn load until c.duration passes (or ctx ends), then
// lets every peer leave and returns the summary.
func runChurn(ctx context.Context, c config, progress io.Writer) (*churnSummary, error) {
	if strings.Contains(c.url, ",") {
		return nil, fmt.Errorf("--churn takes one --url")
	}
	ch := &churner{c: c, errs: map[string]int{}, start: time.Now()}
	if c.churn.relayShare > 0 {
		r, err := startLossRelay(c.url, c.churn.relayLoss, c.churn.seed)
		if err != nil {
			return nil, err
		}
		defer r.close()
		ch.relay = r
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for slot := range c.churn.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch.slot(slot, stop)
		}()
		time.Sleep(100 * time.Millisecond) // a gentle ramp
	}
	tk := time.NewTicker(10 * time.Second)
	defer tk.Stop()
	end := time.After(c.duration)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tk.C:
			fmt.Fprintf(progress, "%5.0fs  sessions %d  left %d  abrupt %d  received %d pkt  errors %d\n",
				time.Since(ch.start).Seconds(), ch.sessions.Load(), ch.left.Load(), ch.abrupt.Load(), ch.received.Load(), ch.errorCount())
		}
	}
	close(stop)
	wg.Wait()
	return ch.summary(), nil
}

func (ch *churner) errorCount() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	n := 0
	for _, v := range ch.errs {
		n += v
	}
	return n
}

func (ch *churner) fail(err error) {
	// Keep the kind, not the ids: peer names, ports and ids become N.
	msg := digits.ReplaceAllString(err.Error(), "N")
	ch.mu.Lock()
	ch.errs[msg]++
	ch.mu.Unlock()
}

// slot runs one peer after another until stop closes.
func (ch *churner) slot(slot int, stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(ch.c.churn.seed, uint64(slot)))
	for gen := 0; ; gen++ {
		select {
		case <-stop:
			return
		default:
		}
		if err := ch.session(slot, gen, r, stop); err != nil {
			ch.fail(err)
			select { // back off a little after a failure
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// session is one peer's life: join, publish/subscribe, act, leave.
func (ch *churner) session(slot, gen int, r *rand.Rand, stop <-chan struct{}) error {
	cc := ch.c.churn
	name := fmt.Sprintf("churn%d-%d", slot, gen)
	room := fmt.Sprintf("churn-%d", r.IntN(max(1, ch.c.rooms)))
	stay := cc.minStay + time.Duration(r.Int64N(int64(max(time.Millisecond, cc.maxStay-cc.minStay))))
	publisher := r.Float64() < cc.publishShare
	simulcast := publisher && r.IntN(3) == 0
	abrupt := r.Float64() < cc.abruptShare
	url := ch.c.url
	if ch.relay != nil && r.Float64() < cc.relayShare {
		url = ch.relay.signalingURL()
		ch.relayed.Add(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	p, err := client.Connect(rctx, url, room, name)
	if err != nil {
		return err
	}
	if err := p.Join(rctx, map[string]any{"displayName": name}, false); err != nil {
		p.Close()
		return err
	}
	ch.sessions.Add(1)
	done := make(chan struct{}) // closes when the peer goes
	var wg sync.WaitGroup
	defer func() {
		close(done)
		cancel()
		if abrupt {
			p.Close()
			ch.abrupt.Add(1)
		} else {
			p.Leave()
			ch.left.Add(1)
		}
		wg.Wait()
	}()
	recv, err := p.CreateTransport(rctx, "recv")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var video *client.Producer
	if publisher {
		send, err := p.CreateTransport(rctx, "send")
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		audio, err := send.Produce(rctx, "audio", 0, false, map[string]any{"source": "mic"})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if simulcast {
			video, err = send.ProduceSimulcast(rctx, false, map[string]any{"source": "webcam"})
		} else {
			video, err = send.Produce(rctx, "video", 0, false, map[string]any{"source": "webcam"})
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		layers := []int{ch.c.bitrate}
		if simulcast {
			layers = []int{ch.c.bitrate / 6, ch.c.bitrate / 3, ch.c.bitrate}
		}
		wg.Add(2)
		go func() { defer wg.Done(); ch.send(audio, []int{0}, done) }()
		go func() { defer wg.Done(); ch.send(video, layers, done) }()
	}
	// The video consumers to act on: enabled, and neither closed by the
	// server (consumerClosed) nor gone with their peer (peerClosed closes a
	// peer's producers and so their consumers, without consumerClosed).
	type liveConsumer struct {
		id   uint32
		peer string
	}
	var (
		cmu             sync.Mutex
		videoConsumers  []liveConsumer
		closedConsumers = map[uint32]bool{}
		closedPeers     = map[string]bool{}
	)
	consume := func(cd client.ConsumerData) {
		cons, err := recv.Consume(ctx, cd)
		var re *client.RequestError
		switch {
		case err == nil:
		case errors.As(err, &re) && strings.Contains(re.Reason, "not found"):
			ch.gone.Add(1) // its producer closed before enableConsumer: a race of churn
			return
		default:
			if ctx.Err() == nil {
				ch.fail(fmt.Errorf("consume: %w", err))
			}
			return
		}
		cmu.Lock()
		if cd.Kind == "video" && !closedConsumers[cd.ID] && !closedPeers[cd.PeerName] {
			videoConsumers = append(videoConsumers, liveConsumer{cd.ID, cd.PeerName})
		}
		cmu.Unlock()
		ch.drain(cons, done)
	}
	for _, other := range p.JoinPeers {
		for _, cd := range other.Consumers {
			wg.Add(1)
			go func() { defer wg.Done(); consume(cd) }()
		}
	}
	watch := func(method string, f func(json.RawMessage)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := 0; ; {
				n, next, err := p.WaitNotification(ctx, from, method, nil)
				if err != nil {
					return
				}
				from = next
				f(n.Data)
			}
		}()
	}
	watch("newConsumer", func(data json.RawMessage) {
		var cd client.ConsumerData
		if json.Unmarshal(data, &cd) == nil {
			wg.Add(1)
			go func() { defer wg.Done(); consume(cd) }()
		}
	})
	watch("consumerClosed", func(data json.RawMessage) {
		var c struct {
			ID uint32 `json:"id"`
		}
		if json.Unmarshal(data, &c) == nil {
			cmu.Lock()
			closedConsumers[c.ID] = true
			videoConsumers = slices.DeleteFunc(videoConsumers, func(l liveConsumer) bool { return l.id == c.ID })
			cmu.Unlock()
		}
	})
	watch("peerClosed", func(data json.RawMessage) {
		var c struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(data, &c) == nil {
			cmu.Lock()
			closedPeers[c.Name] = true
			videoConsumers = slices.DeleteFunc(videoConsumers, func(l liveConsumer) bool { return l.peer == c.Name })
			cmu.Unlock()
		}
	})
	// Act every few seconds until the stay ends.
	end := time.After(stay)
	paused := false
	for {
		select {
		case <-stop:
			return nil
		case <-end:
			return nil
		case <-time.After(time.Duration(2000+r.IntN(6000)) * time.Millisecond):
		}
		ch.actions.Add(1)
		switch {
		case video != nil && r.IntN(2) == 0:
			if paused {
				_ = video.Resume()
			} else {
				_ = video.Pause()
			}
			paused = !paused
		default:
			cmu.Lock()
			var id uint32
			if len(videoConsumers) > 0 {
				id = videoConsumers[r.IntN(len(videoConsumers))].id
			}
			cmu.Unlock()
			if id == 0 {
				ch.actions.Add(-1)
				continue
			}
			switch r.IntN(3) {
			case 0:
				_ = p.Notify("pauseConsumer", map[string]any{"id": id})
			case 1:
				_ = p.Notify("resumeConsumer", map[string]any{"id": id})
			default:
				profiles := []string{"low", "medium", "high", "default"}
				_ = p.Notify("setConsumerPreferredProfile", map[string]any{"id": id, "profile": profiles[r.IntN(4)]})
			}
		}
	}
}

// send writes synthetic media on each layer of pr (bitrates per layer;
// audio ignores them) until done closes.
func (ch *churner) send(pr *client.Producer, layers []int, done <-chan struct{}) {
	srcs := make([]*client.Source, len(layers))
	for i, b := range layers {
		srcs[i] = client.NewSource(pr.Kind, b)
	}
	tk := time.NewTicker(srcs[0].Interval())
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tk.C:
			for i, s := range srcs {
				for _, pkt := range s.NextFrame(now) {
					if pr.WriteLayerRTP(i, pkt) == nil {
						ch.sent.Add(1)
					}
				}
			}
		}
	}
}

// drain reads a consumer's packets until done closes or the receiver ends.
func (ch *churner) drain(cons *client.Consumer, done <-chan struct{}) {
	buf := make([]byte, 1500)
	for {
		_, _, _, err := cons.ReadRaw(buf, time.Now().Add(time.Second))
		select {
		case <-done:
			return
		default:
		}
		var te interface{ Timeout() bool }
		switch {
		case err == nil:
			ch.received.Add(1)
		case errors.As(err, &te) && te.Timeout():
		default:
			return // receiver stopped
		}
	}
}
