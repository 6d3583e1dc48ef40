package signaling

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// wsPair returns the server and client ends of a loopback WebSocket.
func wsPair(t *testing.T) (server, client *websocket.Conn) {
	t.Helper()
	conns := make(chan *websocket.Conn, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- c
	}))
	t.Cleanup(hs.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws://"+strings.TrimPrefix(hs.URL, "http://"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case server = <-conns:
	case <-time.After(5 * time.Second):
		t.Fatal("no server connection")
	}
	return server, client
}

// bareSession is a session on conn with no room, for the writer's tests.
func bareSession(conn *websocket.Conn) *session {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &session{
		srv:     &Server{log: log},
		conn:    conn,
		out:     newOutQueue(),
		done:    make(chan struct{}),
		limiter: rate.NewLimiter(requestsPerSecond, requestBurst),
	}
}

func TestShutdownFlushesQueueBeforeClosing(t *testing.T) {
	server, client := wsPair(t)
	sess := bareSession(server)
	const n = 200
	for i := range n {
		sess.send([]byte(strconv.Itoa(i)))
	}
	sess.shutdown(time.Now().Add(closeFlushTimeout))
	sess.send([]byte("after shutdown")) // dropped: nothing is queued once closing
	ended := make(chan struct{})
	go func() {
		sess.run()
		close(ended)
	}()

	for i := 0; ; i++ {
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := client.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != closeByServer {
				t.Fatalf("after %d messages: %v, want close %d", i, err, closeByServer)
			}
			if i != n {
				t.Fatalf("got %d messages before the close frame, want %d", i, n)
			}
			break
		}
		if string(b) != strconv.Itoa(i) {
			t.Fatalf("message %d = %q", i, b)
		}
	}
	select {
	case <-ended:
	case <-time.After(3 * time.Second):
		t.Fatal("session did not end")
	}
}

func TestShutdownIsBoundedWithStuckClient(t *testing.T) {
	server, _ := wsPair(t) // the client never reads
	sess := bareSession(server)
	big := make([]byte, 1<<20)
	for range 128 { // far more than the socket buffers hold
		sess.send(big)
	}
	start := time.Now()
	sess.shutdown(start.Add(closeFlushTimeout))
	ended := make(chan struct{})
	go func() {
		sess.run()
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if d := time.Since(start); d > closeFlushTimeout+goodbyeGrace+time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

func TestRequestToken(t *testing.T) {
	cases := []struct {
		url, auth, want string
	}{
		{"/?token=abc", "", "abc"},
		{"/?token=abc", "Bearer def", "abc"},
		{"/", "Bearer def", "def"},
		{"/", "bearer  def ", "def"},
		{"/", "Basic def", ""},
		{"/", "Bearer", ""},
		{"/", "", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, c.url, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := requestToken(r); got != c.want {
			t.Errorf("url %s, Authorization %q: token %q, want %q", c.url, c.auth, got, c.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate = %q", got)
	}
	got := truncate(strings.Repeat("é", 100), 10)
	if len(got) > 10 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(got, "ééé") {
		t.Errorf("truncate = %q", got)
	}
}
