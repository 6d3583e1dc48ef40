package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosoup/gosoup/cluster"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

func TestClusterFlags(t *testing.T) {
	c, ld, err := load(t, []string{"--redis", "redis://user:hunter2@127.0.0.1:6379/0", "--node-id", "web1"},
		[]string{"GOSOUP_ADVERTISE_URL=wss://web1.example:3443/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cluster.redis != "redis://user:hunter2@127.0.0.1:6379/0" || c.cluster.nodeID != "web1" ||
		c.cluster.advertiseURL != "wss://web1.example:3443/" || c.cluster.redisPrefix != cluster.DefaultPrefix {
		t.Fatalf("cluster config: %+v", c.cluster)
	}
	var out bytes.Buffer
	ld.logEffective(slog.New(slog.NewTextHandler(&out, nil)))
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "127.0.0.1:6379") {
		t.Errorf("effective configuration shows the Redis password or no address: %s", out.String())
	}
	for _, bad := range [][]string{{"--redis", "http://x"}, {"--advertise-url", "http://x"}, {"--redis-prefix", ""}} {
		if _, _, err := load(t, bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// testRedis starts a redis-server on a free loopback port for the test
// (skipped without redis-server, failed under CI).
func testRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (scripts/test.sh installs it)")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Close()
			return "redis://" + l.Addr().String()
		}
	}
	t.Fatal("redis-server did not start")
	return ""
}

// TestClusterStatusCommand: "gosoup cluster status" lists a running
// member and the room its peer is in.
func TestClusterStatusCommand(t *testing.T) {
	url := testRedis(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := sfu.NewServer(sfu.Config{RTC: transport.Config{ListenIP: "127.0.0.1", AnnouncedIP: "127.0.0.1"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m, err := cluster.Start(context.Background(), srv, cluster.Config{RedisURL: url, NodeID: "web1",
		SignalingURL: "ws://127.0.0.1:3443/", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	room, err := srv.Room("standup")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BeforeJoin(context.Background(), room, "alice", false); err != nil {
		t.Fatal(err)
	}
	if _, err := room.JoinRemotePeer("alice", nil); err != nil { // stands for a local peer here
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"cluster", "status"}, []string{"GOSOUP_REDIS=" + url}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{"web1", "ws://127.0.0.1:3443/", "standup"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q", want)
		}
	}
	out.Reset()
	if err := run([]string{"cluster", "status", "--redis", url, "--json"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"id": "web1"`) {
		t.Errorf("JSON status: %s", out.String())
	}
	if err := run([]string{"cluster", "status"}, nil, &out, io.Discard); err == nil {
		t.Error("status without --redis: no error")
	}
	if err := run([]string{"cluster", "nodes"}, nil, &out, io.Discard); err == nil {
		t.Error("unknown subcommand: no error")
	}
}
