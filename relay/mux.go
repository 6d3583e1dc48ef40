// Package relay is gosoup's built-in TURN server (RFC 8656, with pion/turn)
// and the listener demultiplexer that lets TURN over TCP and over TLS
// share the HTTPS port with the demo page and the signaling WebSocket.
package relay

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"time"
)

// stunMagicCookie is the fixed value at bytes 4..7 of every STUN message
// (RFC 5389), TURN's included.
const stunMagicCookie = 0x2112A442

// alpnTURN is the ALPN protocol id of TURN over TLS (RFC 7443).
const alpnTURN = "stun.turn"

// maxPending bounds the connections whose first bytes (or TLS handshake)
// the Mux is still waiting for; more are closed at once.
const maxPending = 1024

// IsSTUN reports whether b, the first bytes of a stream, start a STUN
// message: a message type whose first byte is 0x00 or 0x01 (methods below
// 0x100, TURN's included) and the magic cookie at bytes 4..7. It needs 8
// bytes.
func IsSTUN(b []byte) bool {
	return len(b) >= 8 && b[0] <= 0x01 && binary.BigEndian.Uint32(b[4:8]) == stunMagicCookie
}

// isTLS reports whether b starts a TLS handshake record.
func isTLS(b []byte) bool { return len(b) > 0 && b[0] == 0x16 }

// Mux splits the connections of one TCP listener between HTTP (the
// demo page, the signaling WebSocket, the APIs) and TURN. A plain
// connection is told apart by its first bytes: a STUN message goes to
// TURN, anything else to HTTP. With a TLS configuration, every other
// connection is TLS: after the handshake, the ALPN protocol decides
// (http/1.1 → HTTP, stun.turn → TURN), else the first decrypted bytes do.
// HTTP connections over TLS whose client negotiated ALPN are handed on as
// *tls.Conn, so HTTP handlers see Request.TLS.
type Mux struct {
	ln      net.Listener
	tls     *tls.Config
	timeout time.Duration
	http    *subListener
	turn    *subListener
	pending chan struct{} // semaphore of connections being classified
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// NewMux starts demultiplexing ln. tlsConfig, when not nil, is the
// server's TLS configuration (the Mux adds the stun.turn ALPN id to a
// copy); timeout bounds the TLS handshake and the wait for the first
// bytes of a connection (default 10 s). Close the Mux to close ln.
func NewMux(ln net.Listener, tlsConfig *tls.Config, timeout time.Duration) *Mux {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	m := &Mux{ln: ln, timeout: timeout, pending: make(chan struct{}, maxPending), done: make(chan struct{})}
	if tlsConfig != nil {
		m.tls = tlsConfig.Clone()
		if len(m.tls.NextProtos) > 0 && !slices.Contains(m.tls.NextProtos, alpnTURN) {
			m.tls.NextProtos = append(m.tls.NextProtos, alpnTURN)
		}
	}
	m.http = &subListener{m: m, conns: make(chan net.Conn), closed: make(chan struct{})}
	m.turn = &subListener{m: m, conns: make(chan net.Conn), closed: make(chan struct{})}
	m.wg.Add(1)
	go m.accept()
	return m
}

// HTTP returns the listener of the HTTP connections.
func (m *Mux) HTTP() net.Listener { return m.http }

// TURN returns the listener of the TURN connections (over TCP or TLS).
func (m *Mux) TURN() net.Listener { return m.turn }

// Close closes the underlying listener and both sub-listeners, and waits
// for the connections being classified to be handed on or closed.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
		m.wg.Wait()
	})
	return err
}

func (m *Mux) accept() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return
		}
		select {
		case m.pending <- struct{}{}:
		default:
			c.Close() // too many connections that said nothing yet
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer func() { <-m.pending }()
			m.route(c)
		}()
	}
}

// route classifies c and hands it to its sub-listener, or closes it.
func (m *Mux) route(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(m.timeout))
	br := bufio.NewReaderSize(c, 512)
	head, err := br.Peek(8)
	if err != nil && len(head) == 0 {
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, r: br}
	if IsSTUN(head) {
		_ = c.SetDeadline(time.Time{})
		m.turn.deliver(pc)
		return
	}
	if m.tls == nil {
		_ = c.SetDeadline(time.Time{})
		m.http.deliver(pc)
		return
	}
	// Anything else on a TLS port is TLS (a failed handshake closes it).
	tc := tls.Server(pc, m.tls)
	if err := tc.Handshake(); err != nil {
		tc.Close()
		return
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case alpnTURN:
		_ = c.SetDeadline(time.Time{})
		m.turn.deliver(tc)
		return
	case "":
	default:
		_ = c.SetDeadline(time.Time{})
		m.http.deliver(tc)
		return
	}
	tbr := bufio.NewReaderSize(tc, 512)
	head, err = tbr.Peek(8)
	if err != nil && len(head) == 0 {
		tc.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	if IsSTUN(head) {
		m.turn.deliver(&peekedConn{Conn: tc, r: tbr})
		return
	}
	m.http.deliver(&peekedConn{Conn: tc, r: tbr})
}

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// subListener is the net.Listener of one kind of connection.
type subListener struct {
	m      *Mux
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// deliver hands c to the listener's Accept, or closes it when the
// listener or the Mux is closed.
func (l *subListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	case <-l.m.done:
		c.Close()
	}
}

// Accept returns the next connection of this kind.
func (l *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

// Close stops this listener's Accept; the Mux and the other listener go on.
func (l *subListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the address of the underlying listener.
func (l *subListener) Addr() net.Addr { return l.m.ln.Addr() }
