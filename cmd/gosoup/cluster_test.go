package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/gosoup/gosoup/cluster"
	"github.com/gosoup/gosoup/internal/redistest"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

func TestClusterFlags(t *testing.T) {
	c, ld, err := load(t, []string{"--redis", "redis://user:hunter2@127.0.0.1:6379/0", "--node-id", "web1"},
		[]string{"GOSOUP_ADVERTISE_URL=wss://web1.example:3443/", "GOSOUP_CLUSTER_SECRET=" + testClusterSecret})
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
	if strings.Contains(out.String(), testClusterSecret) || !strings.Contains(out.String(), "cluster-secret=REDACTED") {
		t.Errorf("effective configuration shows the cluster secret, or not that it is set: %s", out.String())
	}
	if err := c.validate(ld.sources); err != nil || c.cluster.loaded != testClusterSecret {
		t.Errorf("validate: %v, secret loaded: %t", err, c.cluster.loaded == testClusterSecret)
	}
	for _, bad := range [][]string{{"--redis", "http://x"}, {"--advertise-url", "http://x"}, {"--redis-prefix", ""}} {
		if _, _, err := load(t, bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// testRedis starts a redis-server on a free loopback port for the test
// (internal/redistest) and returns its URL.
func testRedis(t *testing.T) string { return redistest.Start(t).URL() }

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
	m, err := cluster.Start(context.Background(), srv, cluster.Config{RedisURL: url, NodeID: "web1", Secret: testClusterSecret,
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
	env := []string{"GOSOUP_REDIS=" + url, "GOSOUP_CLUSTER_SECRET=" + testClusterSecret}
	if err := run([]string{"cluster", "status"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{"web1", "ws://127.0.0.1:3443/", "standup"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q", want)
		}
	}
	out.Reset()
	if err := run([]string{"cluster", "status", "--redis", url, "--cluster-secret", testClusterSecret, "--json"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"id": "web1"`) {
		t.Errorf("JSON status: %s", out.String())
	}
	if err := run([]string{"cluster", "status"}, nil, &out, io.Discard); err == nil {
		t.Error("status without --redis: no error")
	}
	if err := run([]string{"cluster", "status", "--redis", url}, nil, &out, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Errorf("status without a cluster secret: %v", err)
	}
	// With another secret nothing of the cluster verifies: nothing shown,
	// the refused entries counted.
	out.Reset()
	if err := run([]string{"cluster", "status", "--redis", url, "--cluster-secret", "another-secret-of-32-bytes-000000"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "web1") || strings.Contains(out.String(), "standup") ||
		!strings.Contains(out.String(), "fail verification with this cluster secret") {
		t.Errorf("status with another secret:\n%s", out.String())
	}
	if err := run([]string{"cluster", "nodes"}, nil, &out, io.Discard); err == nil {
		t.Error("unknown subcommand: no error")
	}
}

// testClusterSecret is the cluster secret of the tests.
const testClusterSecret = "cmd-test-cluster-secret-0123456789abcdef"

// TestClusterSecretRequired: --redis without a cluster secret, or with a
// short one, or with both a value and a file, fails to start and says
// why and how to make one; a secret file is read (trimmed) and its
// content never shown.
func TestClusterSecretRequired(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--redis", "redis://127.0.0.1:6379"}, nil, "needs a cluster secret"},
		{nil, []string{"GOSOUP_REDIS=redis://127.0.0.1:6379"}, "openssl rand -hex 32"},
		{[]string{"--redis", "redis://127.0.0.1:6379", "--cluster-secret", "short-secret"}, nil, "12 bytes, want at least 16"},
		{[]string{"--redis", "redis://127.0.0.1:6379", "--cluster-secret", testClusterSecret, "--cluster-secret-file", "/x"}, nil, "use one of them"},
		{[]string{"--redis", "redis://127.0.0.1:6379", "--cluster-secret-file", "/nonexistent/secret"}, nil, "cluster-secret-file (flag --cluster-secret-file): open /nonexistent/secret"},
	} {
		err := runServer(tc.args, tc.env, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want an error with %q", tc.args, tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "short-secret") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	file := t.TempDir() + "/secret"
	if err := os.WriteFile(file, []byte(testClusterSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, ld, err := load(t, []string{"--redis", "redis://127.0.0.1:6379", "--cluster-secret-file", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validate(ld.sources); err != nil || c.cluster.loaded != testClusterSecret {
		t.Errorf("secret file: %v, loaded: %t", err, c.cluster.loaded == testClusterSecret)
	}
	if err := os.WriteFile(file, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.validate(ld.sources); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Errorf("short secret file: %v", err)
	}
}
