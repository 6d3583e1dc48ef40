package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// redisServer is a redis-server process of a test, on a loopback port,
// without persistence.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

// startRedis starts a redis-server on a free port and stops it when the
// test ends. Without redis-server the test is skipped (fails under CI).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (scripts/test.sh installs it: apt-get install redis-server)")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// URL is the server's redis:// URL.
func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d", r.port) }

// start (re)starts the server on its port and waits until it answers.
func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning")
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, io.Discard
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), 200*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			b := make([]byte, 16)
			n, _ := c.Read(b)
			c.Close()
			if strings.HasPrefix(string(b[:n]), "+PONG") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatal("redis-server did not answer")
}

// stop kills the server (its data is lost) and waits for it.
func (r *redisServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

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
	return Config{RedisURL: r.URL(), NodeID: id, Prefix: prefix, TTL: DefaultTTL, Interval: DefaultInterval}
}

// startNode starts a node of the cluster prefix on r.
func startNode(t *testing.T, r *redisServer, id, prefix string) *node {
	t.Helper()
	log := testLogger(t, id)
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", Port: 0, AnnouncedIP: "127.0.0.1"},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	cfg := testConfig(r, id, prefix)
	cfg.Logger = log
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
