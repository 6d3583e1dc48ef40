package transport

import (
	"fmt"
	"time"
)

// sweepConsent closes, every consent/4 (at most a second), the transports
// whose client sent no valid ICE check for the consent timeout (the
// browser vanished): one goroutine for the whole network rather than a
// goroutine and a ticker per transport.
func (n *Network) sweepConsent() {
	defer n.wg.Done()
	tk := time.NewTicker(min(time.Second, n.consent/4))
	defer tk.Stop()
	var expired []*WebRTCTransport
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
				}
			}
			n.mu.RUnlock()
			for _, t := range expired {
				t.closeWith(fmt.Errorf("ICE consent expired: no check for %v", n.consent))
			}
			clear(expired)
		}
	}
}
