package cluster

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gosoup/gosoup/internal/redistest"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// redisServer is a redis-server process of a test (internal/redistest).
type redisServer struct{ *redistest.Server }

// startRedis starts a redis-server on a free port and stops it when the
// test ends. Without redis-server the test is skipped (fails under CI).
func startRedis(t *testing.T) *redisServer { return &redisServer{redistest.Start(t)} }

// start restarts the server on its port (empty) and waits until it answers.
func (r *redisServer) start() { r.Restart() }

// stop kills the server (its data is lost) and waits for it.
func (r *redisServer) stop() { r.Stop() }

// node is one in-process gosoup node: sfu server, signaling, cluster
// member.
type node struct {
	id     string
	srv    *sfu.Server
	sig    *signaling.Server
	hs     *httptest.Server
	member *Member
	URL    string
	killed bool
}

func testLogger(t *testing.T, id string) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name(), "n", id)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a member configuration with short timings for tests.
func testConfig(r *redisServer, id, prefix string) Config {
	return Config{RedisURL: r.URL(), NodeID: id, Prefix: prefix, TTL: DefaultTTL, Interval: DefaultInterval, Secret: testSecret}
}

// startNode starts a node of the cluster prefix on r.
func startNode(t *testing.T, r *redisServer, id, prefix string) *node {
	t.Helper()
	return startNodeWith(t, testConfig(r, id, prefix))
}

// startNodeWith starts a node with cfg (Logger: testLogger when nil;
// SignalingURL set here).
func startNodeWith(t *testing.T, cfg Config) *node {
	t.Helper()
	id := cfg.NodeID
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t, id)
	}
	log := cfg.Logger
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", Port: 0, AnnouncedIP: "127.0.0.1"},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	cfg.SignalingURL = "ws://" + hs.Listener.Addr().String()
	m, err := Start(context.Background(), srv, cfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	sig := signaling.NewServerWithOptions(srv, log, signaling.Options{BeforeJoin: m.BeforeJoin})
	hs.Config.Handler = sig
	hs.Start()
	n := &node{id: id, srv: srv, sig: sig, hs: hs, member: m, URL: cfg.SignalingURL}
	t.Cleanup(n.close)
	return n
}

// close stops the node as a drain does: the member deregisters.
func (n *node) close() {
	if n.killed {
		return
	}
	n.killed = true
	n.hs.CloseClientConnections()
	n.hs.Close()
	n.sig.Close()
	n.member.Close()
	n.srv.Close()
}

// kill stops the node as SIGKILL would: nothing more reaches Redis, the
// sockets close.
func (n *node) kill() {
	if n.killed {
		return
	}
	n.killed = true
	n.member.stop()
	n.hs.CloseClientConnections()
	n.hs.Close()
	n.sig.Close()
	n.srv.Close()
}

// waitFor polls cond every 50 ms until it is true or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
