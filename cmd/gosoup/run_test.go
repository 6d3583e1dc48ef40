package main

import (
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// runForTest runs the whole server (runServer) with args and environ on
// loopback ports until the test ends, and returns its HTTP(S) address
// (host:port) and its logs. The test fails if the server does not stop on
// SIGTERM.
func runForTest(t *testing.T, environ []string, args ...string) (base string, logs *syncBuffer) {
	t.Helper()
	logs = &syncBuffer{}
	signals := make(chan os.Signal, 2)
	done := make(chan error, 1)
	all := append([]string{"--listen", "127.0.0.1:0", "--rtc-listen-ip", "127.0.0.1", "--announced-ip", "127.0.0.1", "--rtc-port", "0"}, args...)
	go func() { done <- runServer(all, environ, logs, signals) }()
	t.Cleanup(func() {
		signals <- syscall.SIGTERM
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	re := regexp.MustCompile(`url=https?://(127\.0\.0\.1:\d+)/`)
	for end := time.Now().Add(10 * time.Second); ; {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1], logs
		}
		if time.Now().After(end) {
			t.Fatalf("server not listening:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
