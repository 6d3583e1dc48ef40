package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/gosoup/gosoup/client"
)

// The server of BenchmarkAudioListenerCost runs in a child process (this
// test binary, running TestAudioCostServer), so that its memory is not
// mixed with the pion clients': these variables start it and, if set,
// name the file the child writes its heap profile to after the listeners
// are measured.
const (
	audioCostServerEnv  = "GOSOUP_AUDIOCOST_SERVER"
	audioCostProfileEnv = "GOSOUP_AUDIOCOST_HEAPPROFILE"
)

// serverMem is what the server process reports after two forced
// collections.
type serverMem struct {
	HeapAlloc  uint64 // live heap
	StackInuse uint64 // goroutine stacks
	Goroutines int
	RSS        uint64 // resident set size (0 where /proc is missing)
}

// TestAudioCostServer is the server process of BenchmarkAudioListenerCost
// (skipped unless GOSOUP_AUDIOCOST_SERVER is set): it starts a server,
// prints its URL, then answers each "measure" line on stdin with a JSON
// serverMem line and each "profile FILE" line by writing a heap profile.
func TestAudioCostServer(t *testing.T) {
	if os.Getenv(audioCostServerEnv) == "" {
		t.Skip("the server process of BenchmarkAudioListenerCost")
	}
	g := startGosoup(t)
	fmt.Printf("url %s\n", g.URL)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd := strings.Fields(sc.Text())
		switch {
		case len(cmd) == 1 && cmd[0] == "measure":
			b, _ := json.Marshal(measureSelf())
			fmt.Printf("mem %s\n", b)
		case len(cmd) == 2 && cmd[0] == "profile":
			runtime.GC()
			f, err := os.Create(cmd[1])
			if err != nil {
				t.Fatal(err)
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			fmt.Println("profiled")
		}
	}
}

// measureSelf is this process's serverMem.
func measureSelf() serverMem {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := serverMem{HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				m.RSS = kb << 10
			}
		}
	}
	return m
}

// costServer is the child process running TestAudioCostServer.
type costServer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	URL string
}

func startCostServer(tb testing.TB) *costServer {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAudioCostServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), audioCostServerEnv+"=1")
	if os.Getenv(audioCostProfileEnv) != "" {
		cmd.Env = append(cmd.Env, "GODEBUG=memprofilerate=1") // every allocation
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &costServer{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	tb.Cleanup(func() {
		_ = in.Close() // the child's test returns at EOF
		_ = cmd.Wait()
	})
	s.URL = s.line(tb, "url ")
	return s
}

// line returns the rest of the child's next output line starting with prefix.
func (s *costServer) line(tb testing.TB, prefix string) string {
	tb.Helper()
	for s.out.Scan() {
		if rest, ok := strings.CutPrefix(s.out.Text(), prefix); ok {
			return rest
		}
	}
	tb.Fatalf("server process ended before %q: %v", prefix, s.out.Err())
	return ""
}

func (s *costServer) measure(tb testing.TB) serverMem {
	tb.Helper()
	fmt.Fprintln(s.in, "measure")
	var m serverMem
	if err := json.Unmarshal([]byte(s.line(tb, "mem ")), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// audioListener joins room, receives its one audio consumer and reads it
// until ctx ends; heard closes on the first packet.
func audioListener(ctx context.Context, url, room, name string, heard chan<- struct{}) (*client.Peer, error) {
	p, err := client.Connect(ctx, url, room, name)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*client.Peer, error) {
		_ = p.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.Join(ctx, nil, false); err != nil {
		return fail(err)
	}
	var mic *client.ConsumerData
	for _, jp := range p.JoinPeers {
		if jp.Name == "alice" && len(jp.Consumers) == 1 {
			mic = &jp.Consumers[0]
		}
	}
	if mic == nil {
		return fail(fmt.Errorf("no consumer of the publisher among %d peers", len(p.JoinPeers)))
	}
	tr, err := p.CreateTransport(ctx, "recv")
	if err != nil {
		return fail(err)
	}
	c, err := tr.Consume(ctx, *mic)
	if err != nil {
		return fail(err)
	}
	go func() {
		buf := make([]byte, 1500)
		once := false
		for ctx.Err() == nil {
			if _, _, _, err := c.ReadRaw(buf, time.Now().Add(time.Second)); err == nil && !once {
				// A receiver report, as a browser sends within a
				// second: SRTCP that authenticates lets the server
				// release the DTLS state (pion's ORTC API sends none).
				once = true
				_, _ = c.Receiver().Transport().WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1}})
				close(heard)
			}
		}
	}()
	return p, nil
}

// BenchmarkAudioListenerCost measures what one audio listener costs the
// server in a real session: a server in a child process, one pion
// publisher sending opus every 20 ms, and 100 pion listeners (WebSocket,
// receive transport over UDP with ICE, DTLS and SRTP on loopback, one
// consumer). Once every listener has received audio and a few receiver
// reports went by, it reports the server's live heap, goroutine stacks,
// goroutines and RSS added per listener. Set GOSOUP_AUDIOCOST_HEAPPROFILE
// to a file name to get the server's heap profile of that state
// (inuse_space, every allocation recorded), and of the state before the
// 100 listeners in that name with ".base" appended (for pprof -diff_base).
func BenchmarkAudioListenerCost(b *testing.B) {
	n := 100
	if testing.Short() {
		n = 20
	}
	for range b.N {
		base, after := audioListenerCost(b, n)
		per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
		b.ReportMetric(per(after.HeapAlloc, base.HeapAlloc), "heapB/listener")
		b.ReportMetric(per(after.StackInuse, base.StackInuse), "stackB/listener")
		b.ReportMetric(float64(after.Goroutines-base.Goroutines)/float64(n), "goroutines/listener")
		b.ReportMetric(per(after.RSS, base.RSS), "rssB/listener")
		b.Logf("server with publisher and 1 listener: %+v; with %d more listeners: %+v", base, n, after)
	}
}

// audioListenerCost returns the server's memory with the publisher and one
// warm-up listener, and with n more listeners.
func audioListenerCost(b *testing.B, n int) (base, after serverMem) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startCostServer(b)
	const room = "audiocost"
	alice, err := client.Connect(ctx, srv.URL, room, "alice")
	if err != nil {
		b.Fatal(err)
	}
	defer alice.Close()
	if err := alice.Join(ctx, nil, false); err != nil {
		b.Fatal(err)
	}
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		b.Fatal(err)
	}
	mic, err := send.Produce(ctx, "audio", 0, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go client.NewSource("audio", 0).Run(mic, stop)

	var (
		mu    sync.Mutex
		peers []*client.Peer
	)
	defer func() {
		var wg sync.WaitGroup
		for _, p := range peers {
			wg.Add(1)
			go func() { defer wg.Done(); _ = p.Close() }()
		}
		wg.Wait()
	}()
	// join adds listeners from..to-1, 8 at a time, and waits until each
	// has heard audio and the receiver reports have started.
	join := func(from, to int) {
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		errs := make(chan error, to-from)
		for i := from; i < to; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				heard := make(chan struct{})
				p, err := audioListener(ctx, srv.URL, room, fmt.Sprintf("listener-%03d", i), heard)
				if err == nil {
					mu.Lock()
					peers = append(peers, p)
					mu.Unlock()
					select {
					case <-heard:
					case <-ctx.Done():
						err = fmt.Errorf("listener %d heard nothing: %w", i, ctx.Err())
					}
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.Logf("%d listeners joined and heard audio after %v", to-from, time.Since(start))
		time.Sleep(time.Second) // steady state

	}
	prof := os.Getenv(audioCostProfileEnv)
	profile := func(f string) {
		if prof != "" {
			fmt.Fprintf(srv.in, "profile %s\n", f)
			srv.line(b, "profiled")
		}
	}
	join(0, 1)
	base = srv.measure(b)
	profile(prof + ".base")
	join(1, n+1)
	after = srv.measure(b)
	profile(prof)
	return base, after
}
