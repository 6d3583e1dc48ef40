package transport

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/dtls/v3"
)

// A connected transport keeps no goroutine and no DTLS state of its own
// once the client has shown it has the keys: pion's DTLS conn runs three
// goroutines and holds an 8 KiB read buffer for its whole life, which for
// a listener with one audio consumer was most of what it cost. After the
// handshake the conn is needed only to answer a retransmitted final
// flight (the client did not get ours) and to see the client close DTLS.
//
//   - As the DTLS client, our flight was answered by the server's last
//     one before the handshake completed: the conn is released at once.
//   - As the DTLS server, the first SRTP or SRTCP packet that
//     authenticates proves the client completed the handshake, and so does
//     dtlsQuiet without a DTLS record from it (a client that missed our
//     last flight sends its own again within seconds, and pion answers): the conn is released then. Until then a record that is not
//     a handshake flight (an alert, application data) starts watchDTLS.
//
// Released, the conn is closed without a close_notify (the client's DTLS
// stays up) and DTLS records are no longer decrypted: an alert record from
// the client's address (its close_notify) closes the transport if nothing
// authenticated (SRTP, SRTCP, an ICE check) comes after it for
// dtlsAlertGrace; a record forged from the client's address therefore does
// not close a live transport. The consent sweeper checks.

// DTLS record content types (RFC 6347) that are neither handshake nor
// ChangeCipherSpec.
const (
	dtlsAlert           = 21
	dtlsApplicationData = 23
)

// dtlsAlertGrace is how long a released transport waits after an alert
// record for authenticated traffic before it takes the alert as the
// client's close.
const dtlsAlertGrace = 2 * time.Second

// dtlsQuiet is how long a DTLS server's conn is kept after the handshake
// (or the client's last DTLS record) when no SRTP or SRTCP came: longer
// than the gaps between a client's first retransmissions of its last
// flight (1, 2, 4, 8 s), so that losing ours four times in a row is needed
// to strand a client.
const dtlsQuiet = 10 * time.Second

// afterHandshake runs on the handshake's goroutine once the transport is
// connected, which then ends.
func (t *WebRTCTransport) afterHandshake(conn *dtls.Conn, isClient bool) {
	if isClient || t.authed.Load() > 0 {
		t.releaseDTLS()
		return
	}
	t.dtlsLast.Store(time.Now().UnixNano())
	t.watchDTLS(conn) // records that came before dtlsUp was set
}

// dtlsQuietPassed reports whether a connected DTLS server's conn has had
// no record from the client for dtlsQuiet; consent sweeper, which then
// releases it.
func (t *WebRTCTransport) dtlsQuietPassed(now time.Time) bool {
	last := t.dtlsLast.Load()
	return last != 0 && !t.dtlsEnded.Load() && now.Sub(time.Unix(0, last)) > dtlsQuiet
}

// authenticated counts an SRTP or SRTCP packet that authenticated; the
// first one releases the DTLS conn. Network read goroutine.
func (t *WebRTCTransport) authenticated() {
	if t.authed.Add(1) == 1 && t.dtlsUp.Load() {
		t.releaseDTLS()
	}
}

// releaseDTLS closes the DTLS conn without telling the client: our side of
// the packet conn closes first, so pion's close_notify is not sent.
func (t *WebRTCTransport) releaseDTLS() {
	if !t.dtlsEnded.CompareAndSwap(false, true) {
		return
	}
	t.mu.Lock()
	conn := t.dtls
	t.dtls = nil
	t.mu.Unlock()
	t.dropPacketConn()
	if conn != nil {
		go conn.Close() // returns once pion's goroutines have ended
	}
}

// dropPacketConn closes the DTLS packet conn and lets it go: no record
// goes to pion's conn any more.
func (t *WebRTCTransport) dropPacketConn() {
	if pc := t.pconn.Swap(nil); pc != nil {
		pc.Close()
	}
}

// postHandshakeRecord handles a DTLS record that came after the
// handshake; it reports whether the record was consumed (the conn is
// released), else it goes to pion's conn as before.
func (t *WebRTCTransport) postHandshakeRecord(pkt []byte) bool {
	if t.dtlsEnded.Load() {
		if pkt[0] == dtlsAlert && t.alertAt.Load() == 0 {
			t.alertAuthed.Store(t.authed.Load())
			t.alertCheck.Store(t.lastCheck.Load())
			t.alertAt.Store(time.Now().UnixNano())
		}
		return true
	}
	t.dtlsLast.Store(time.Now().UnixNano())
	if pkt[0] == dtlsAlert || pkt[0] == dtlsApplicationData {
		t.mu.Lock()
		conn := t.dtls
		t.mu.Unlock()
		if pc := t.pconn.Load(); conn != nil && pc != nil {
			pc.push(pkt)
			t.watchDTLS(conn)
			return true
		}
	}
	return false
}

// alertClosed reports whether an alert record received after the release
// has been followed by nothing authenticated for dtlsAlertGrace: the client
// closed. An alert followed by authenticated traffic is forgotten. Consent
// sweeper.
func (t *WebRTCTransport) alertClosed(now time.Time) bool {
	at := t.alertAt.Load()
	if at == 0 || now.Sub(time.Unix(0, at)) < dtlsAlertGrace {
		return false
	}
	if t.authed.Load() != t.alertAuthed.Load() || t.lastCheck.Load() != t.alertCheck.Load() {
		t.alertAt.Store(0) // the client is alive: not its close
		return false
	}
	return true
}

// dtlsWatchTime is how long watchDTLS reads the DTLS conn after the last
// alert or application data record arrived.
const dtlsWatchTime = time.Second

// watchDTLS reads the connected DTLS conn for dtlsWatchTime (longer if
// more records come): a close_notify or fatal alert from the client ends
// the conn, and the transport closes as when the client closes DTLS;
// application data (DataChannels are not supported) is read and dropped.
// At most one watch runs per transport.
func (t *WebRTCTransport) watchDTLS(conn *dtls.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(dtlsWatchTime))
	if !t.watching.CompareAndSwap(false, true) {
		return // the running watch reads on, to the new deadline
	}
	go func() {
		defer t.watching.Store(false)
		buf := make([]byte, 1500)
		for {
			_, err := conn.Read(buf)
			if err == nil {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || t.dtlsEnded.Load() {
				return // the watch is over, or releaseDTLS closed the conn
			}
			if !t.isClosed() {
				t.closeWith(fmt.Errorf("dtls closed by remote: %w", err))
			}
			return
		}
	}()
}
