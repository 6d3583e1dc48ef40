package sfu

import (
	"sync"
	"time"

	"github.com/gosoup/gosoup/rtpparams"
)

// SendGroup is one outgoing stream that several consumers of one receiver
// take turns on, such as a WHEP player following the room's active
// speaker: they send with the group's SSRCs (media and RTX), and the one
// that resumes continues the numbering (sequence number, timestamp,
// picture id, TL0PICIDX) where the last one sent stopped, so that the
// receiver sees one stream whose source changes, and its SSRCs can be
// named in an SDP answer (browsers take RTX only of a stream they were
// told about). At most one member should be active at a time; the
// transport routes the stream's RTCP (NACK, PLI, reports) to the member
// that resumed last. Consumers outside any group do not pay for it.
type SendGroup struct {
	ssrc, rtxSSRC uint32

	mu      sync.Mutex // guards the fields below (members' media planes)
	owner   *sendState // the member that sent last
	seq     uint16
	ts      uint32
	at      time.Time
	pid     uint32
	tl0     uint32
	hasPid  bool
	hasTl0  bool
	started bool
}

// NewSendGroup returns a group with new random SSRCs.
func NewSendGroup() *SendGroup {
	return &SendGroup{ssrc: rtpparams.RandomID(), rtxSSRC: rtpparams.RandomID()}
}

// SSRCs returns the group's media SSRC and RTX SSRC.
func (g *SendGroup) SSRCs() (media, rtx uint32) { return g.ssrc, g.rtxSSRC }

// JoinSendGroup makes the consumer send on g's stream: with g's SSRCs
// (its RTX too, when it has an RTX stream), continuing the numbering of
// the member that sent before it. It must be called before the consumer
// is enabled; its RTP parameters still list its own SSRCs.
func (c *Consumer) JoinSendGroup(g *SendGroup) error {
	r := c.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := c.configurableLocked(); err != nil {
		return err
	}
	c.ssrc = g.ssrc
	if c.rtxSSRC != 0 {
		c.rtxSSRC = g.rtxSSRC
	}
	c.send.group = g
	return nil
}

// routeLocked makes the transport route the group's SSRC to c, which
// resumed (room lock held).
func (g *SendGroup) routeLocked(c *Consumer) {
	if t := c.transport.Load(); t != nil {
		t.addConsumer(c)
	}
}

// keepsRoute reports whether old, routed for the group's SSRC, keeps the
// route when another member is enabled: while it is active.
func (g *SendGroup) keepsRoute(old *Consumer) bool {
	return old != nil && old.send.group == g && old.active.Load()
}

// seed makes s continue the numbering of the member that sent last,
// before s resynchronises (s's media plane).
func (g *SendGroup) seed(s *sendState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.started || g.owner == s {
		return
	}
	s.started = true
	s.seq.ContinueAfter(uint32(g.seq))
	if g.hasPid {
		s.pid.ContinueAfter(g.pid)
	}
	if g.hasTl0 {
		s.tl0.ContinueAfter(g.tl0)
	}
	s.lastTs, s.lastAt = g.ts, g.at
	g.owner = s
}

// note records the newest packet s sent (s's media plane).
func (g *SendGroup) note(s *sendState, out sentNumbers, now time.Time) {
	g.mu.Lock()
	g.owner, g.started = s, true
	g.seq, g.ts, g.at = out.seq, out.ts, now
	if s.pid.Started() {
		g.pid, g.hasPid = s.pid.Last(), true
	}
	if s.tl0.Started() {
		g.tl0, g.hasTl0 = s.tl0.Last(), true
	}
	g.mu.Unlock()
}
