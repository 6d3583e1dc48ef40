package transport

import (
	"fmt"
	"io"
	"time"
)

// sweepConsent closes, every consent/4 (at most a second), the transports
// whose client sent no valid ICE check for the consent timeout (the
// browser vanished) or closed DTLS (alertClosed), and releases the DTLS
// conn of those whose client has been quiet since the handshake
// (dtlsQuietPassed): one goroutine for the whole network rather than a
// goroutine and a ticker per transport.
func (n *Network) sweepConsent() {
	defer n.wg.Done()
	tk := time.NewTicker(min(time.Second, n.consent/4))
	defer tk.Stop()
	var expired, closedByClient, quiet []*WebRTCTransport
	for {
		select {
		case <-n.done:
			return
		case now := <-tk.C:
			expired = expired[:0]
			n.mu.RLock()
			for _, t := range n.byUfrag {
				if last := t.lastCheck.Load(); last != 0 && now.Sub(time.Unix(0, last)) > n.consent {
					expired = append(expired, t)
				} else if t.alertClosed(now) {
					closedByClient = append(closedByClient, t)
				} else if t.dtlsQuietPassed(now) {
					quiet = append(quiet, t)
				}
			}
			n.mu.RUnlock()
			for _, t := range expired {
				t.closeWith(fmt.Errorf("ICE consent expired: no check for %v", n.consent))
			}
			for _, t := range closedByClient {
				// As a close_notify read from the conn: the client ended DTLS.
				t.closeWith(fmt.Errorf("dtls closed by remote (an alert, then nothing authenticated): %w", io.EOF))
			}
			for _, t := range quiet {
				t.releaseDTLS()
			}
			clear(expired)
			clear(closedByClient)
			clear(quiet)
			closedByClient, quiet = closedByClient[:0], quiet[:0]
		}
	}
}
