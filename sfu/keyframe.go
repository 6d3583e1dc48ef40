package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

const (
	// keyFrameRetryAfter is how long a key-frame request upstream stays
	// outstanding: the requests of every consumer of the stream meanwhile
	// are answered by the key frame it asked for. Past it, the request is
	// sent again.
	keyFrameRetryAfter = 500 * time.Millisecond
	// keyFrameRetries bounds how often one request is sent again while
	// the stream's packets keep coming without a key frame, when nobody
	// asks again.
	keyFrameRetries = 3
)

// keyFrameRequests is one producer stream's key-frame requests to its
// sender: the PLIs and FIRs of its consumers and the server's own wishes
// (a consumer starts or switches streams) coalesce into one request
// upstream until a key frame arrives or keyFrameRetryAfter passes; an
// unanswered request is sent again, at most keyFrameRetries times, on the
// stream's next packet after the timeout. Times are unix nanoseconds,
// passed in. Safe for concurrent use; the media plane's per-packet check
// is one atomic load while nothing is outstanding.
type keyFrameRequests struct {
	outstanding atomic.Bool // a request went out and no key frame came since
	mu          sync.Mutex
	sentAt      int64 // guarded by mu
	retries     int   // guarded by mu
}

// request records that a key frame is wanted at now and reports whether a
// request must go upstream now (false: one is outstanding).
func (k *keyFrameRequests) request(now int64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.outstanding.Load() && now-k.sentAt < int64(keyFrameRetryAfter) {
		return false
	}
	k.sentAt, k.retries = now, 0
	k.outstanding.Store(true)
	return true
}

// onPacket is the stream's share of one media packet at now, key telling
// whether it carries a key frame; it reports whether to send the
// outstanding request again now.
func (k *keyFrameRequests) onPacket(key bool, now int64) bool {
	if !k.outstanding.Load() {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case key:
		k.outstanding.Store(false)
	case now-k.sentAt < int64(keyFrameRetryAfter):
	case k.retries >= keyFrameRetries:
		k.outstanding.Store(false) // given up; the next request starts afresh
	default:
		k.retries++
		k.sentAt = now
		return true
	}
	return false
}

// RequestKeyFrame asks the sender for a key frame (PLI) on every stream;
// a request already outstanding for a stream is not repeated.
func (p *Producer) RequestKeyFrame() { p.requestKeyFrame() }

// requestKeyFrame asks for a key frame on every stream of the producer.
func (p *Producer) requestKeyFrame() {
	for _, st := range p.streams {
		p.requestStreamKeyFrame(st)
	}
}

// requestStreamKeyFrame asks for a key frame on one stream: a PLI goes
// upstream unless a request is outstanding (keyFrameRequests).
func (p *Producer) requestStreamKeyFrame(st *producerStream) {
	if !p.canRequestKeyFrame(st) || !st.keyFrames.request(time.Now().UnixNano()) {
		return
	}
	p.sendPLI(st)
}

// canRequestKeyFrame: video, on a transport, and for a stream whose SSRC
// is known (a RID stream not seen yet cannot be asked for).
func (p *Producer) canRequestKeyFrame(st *producerStream) bool {
	return p.kind == rtpparams.KindVideo && st != nil && p.transport != nil && st.ssrc.Load() != 0
}

// sendPLI sends one PLI for stream st to the sender and counts it.
func (p *Producer) sendPLI(st *producerStream) {
	st.pliCount.Add(1)
	p.peer.counters().keyFrameRequests.Add(1)
	var pli [12]byte
	pli[0], pli[1], pli[3] = 0x81, 206, 2
	rtpwire.PutUint32(pli[4:], 1)
	rtpwire.PutUint32(pli[8:], st.ssrc.Load())
	_ = p.transport.writeRTCP(pli[:])
}
