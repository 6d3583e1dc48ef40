package transport

import (
	"testing"
	"time"
)

// TestAlertAfterRelease: once the DTLS conn is released, an alert record
// from the client's address closes the transport only if nothing
// authenticated follows it for dtlsAlertGrace (the client closed); SRTP or
// an ICE check after it (a forged record, the client alive) keeps it open.
func TestAlertAfterRelease(t *testing.T) {
	tr := &WebRTCTransport{}
	tr.dtlsUp.Store(true)
	tr.dtlsEnded.Store(true)
	alert := []byte{dtlsAlert, 0xfe, 0xfd, 0, 1}
	start := time.Now()
	if !tr.postHandshakeRecord(alert) {
		t.Fatal("a released transport passed a DTLS record on")
	}
	if tr.alertClosed(start.Add(dtlsAlertGrace / 2)) {
		t.Fatal("closed before the grace passed")
	}
	if !tr.alertClosed(start.Add(dtlsAlertGrace + time.Second)) {
		t.Fatal("an alert followed by silence did not close")
	}

	for name, alive := range map[string]func(){
		"SRTP":      func() { tr.authenticated() },
		"ICE check": func() { tr.lastCheck.Store(time.Now().UnixNano()) },
	} {
		tr.alertAt.Store(0)
		start = time.Now()
		tr.postHandshakeRecord(alert)
		alive()
		if tr.alertClosed(start.Add(dtlsAlertGrace + time.Second)) {
			t.Fatalf("an alert followed by %s closed the transport", name)
		}
		if tr.alertAt.Load() != 0 {
			t.Fatalf("an alert followed by %s is still pending", name)
		}
	}

	// Before the release, handshake records go to pion's conn.
	tr2 := &WebRTCTransport{}
	tr2.dtlsUp.Store(true)
	if tr2.postHandshakeRecord([]byte{22, 0xfe, 0xfd}) {
		t.Fatal("a handshake record was not left to the DTLS conn")
	}
}
