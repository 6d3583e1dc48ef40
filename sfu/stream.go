package sfu

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu/internal/rtpbuf"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// streamInactiveAfter is how long a producer stream may stay silent before
// consumers stop counting on it (a sender drops simulcast layers it has no
// bandwidth for).
const streamInactiveAfter = 1500 * time.Millisecond

// producerStream is one encoding of a producer: the only one without
// simulcast, or the low, medium or high layer with it. Its fields are
// fixed at creation except the counters and key-frame requests.
type producerStream struct {
	index   int
	profile string // "default" without simulcast
	rank    int
	rid     string        // the encodingId a RID-only stream is matched by
	ssrc    atomic.Uint32 // fixed, or learned from the RID (0 until then)
	rtxSSRC atomic.Uint32 // the sender's RTX stream, decoded on arrival

	recv         receiveStats      // media plane writes
	rtx          *rtpbuf.Buffer    // video with NACK only
	nacks        *rtpbuf.Generator // video with NACK only; media plane
	lastPacketAt atomic.Int64      // unix ns of the last media packet
	desc         codec.Descriptor  // the codec's payload descriptor; nil: audio or unknown
	keyFrames    keyFrameRequests  // requests to the sender
	pliCount     atomic.Uint64
	statsID      string
	rtxScratch   [1600]byte   // media plane: the last decoded retransmission
	newestStored uint16       // media plane: the newest sequence number in rtx
	storedAny    bool         // media plane: rtx holds a packet
	rate         bitrateMeter // stats reports
	bitrate      bitrateMeter // layer choice (windows of at least 1 s)
	layers       layerRates   // layer choice: bitrate per spatial and temporal layer
}

// active reports whether the stream carried media recently.
func (s *producerStream) active(now time.Time) bool {
	at := s.lastPacketAt.Load()
	return at != 0 && now.UnixNano()-at < int64(streamInactiveAfter)
}

// currentBitrate is the stream's measured bitrate in bits per second.
func (s *producerStream) currentBitrate(now time.Time) uint64 {
	return s.bitrate.read(s.recv.bytes.Load(), now)
}

// newStreams builds the producer's streams from its encodings (SSRCs
// checked by the caller): one "default" stream, or one per simulcast
// profile.
func newStreams(encs []rtpparams.EncodingParameters, withRetransmission bool) []*producerStream {
	out := make([]*producerStream, 0, len(encs))
	for i, e := range encs {
		profile := e.Profile
		if profile == "" || len(encs) == 1 {
			profile = profileDefault
		}
		s := &producerStream{index: i, profile: profile, rank: profileRank(profile), statsID: statsID(), bitrate: bitrateMeter{window: time.Second}}
		s.layers.init()
		s.ssrc.Store(e.SSRC)
		s.rtxSSRC.Store(rtxSSRC(e))
		if e.SSRC == 0 {
			s.rid = e.EncodingID
		}
		if withRetransmission {
			s.rtx = rtpbuf.NewBuffer(profileBufferSlots(profile))
			s.nacks = &rtpbuf.Generator{}
		}
		out = append(out, s)
	}
	return out
}

// streamFor returns the stream an SSRC belongs to and whether it is that
// stream's RTX SSRC.
func (p *Producer) streamFor(ssrc uint32) (*producerStream, bool) {
	for _, s := range p.streams {
		if s.ssrc.Load() == ssrc {
			return s, false
		}
		if s.rtxSSRC.Load() == ssrc && ssrc != 0 {
			return s, true
		}
	}
	return nil, false
}

// simulcast reports whether the producer sends several encodings.
func (p *Producer) simulcast() bool { return len(p.streams) > 1 }

// onPacket is the stream's share of a received packet: RTX decoding, receive
// statistics, liveness and the NACK generator. It returns the media packet
// (pkt itself, or the decoded retransmission in the stream's scratch
// buffer; nil for padding-only or malformed RTX) and the sequence numbers
// to ask the sender for now. Media plane only; no allocation.
func (st *producerStream) onPacket(pkt []byte, isRTX bool, mediaPT uint8, now time.Time) ([]byte, []rtcp.NackPair) {
	if isRTX {
		if pkt = rtpwire.DecodeRTX(st.rtxScratch[:], pkt, mediaPT, st.ssrc.Load()); pkt == nil {
			return nil, nil // padding-only probe or malformed
		}
	} else {
		st.recv.update(rtpwire.Uint16(pkt[2:]), len(pkt))
		// Only new media keeps the stream active: a sender that stopped a
		// simulcast layer still answers NACKs for it over RTX for a while,
		// and consumers must move off it without waiting for that to end.
		st.lastPacketAt.Store(now.UnixNano())
	}
	var nacks []rtcp.NackPair
	if st.nacks != nil {
		nacks = st.nacks.OnPacket(rtpwire.Uint16(pkt[2:]), now.UnixNano())
	}
	return pkt, nacks
}

// receiveStats are a producer stream's counters. Written by the media
// plane, read by reports and stats.
type receiveStats struct {
	packets    atomic.Uint64
	bytes      atomic.Uint64
	baseSeq    atomic.Uint32
	cycles     uint32 // media plane only
	maxSeq     atomic.Uint32
	started    bool // media plane only
	lastSRNTP  atomic.Uint32
	lastSRTime atomic.Int64
	// expected/received at the previous receiver report (report goroutine)
	priorExpected uint32
	priorReceived uint64
}

func (s *receiveStats) update(seq uint16, size int) {
	s.packets.Add(1)
	s.bytes.Add(uint64(size))
	if !s.started {
		s.started = true
		s.baseSeq.Store(uint32(seq))
		s.maxSeq.Store(uint32(seq))
		return
	}
	maxSeq := s.maxSeq.Load()
	if d := seq - uint16(maxSeq); d != 0 && d < 0x8000 {
		if seq < uint16(maxSeq) {
			s.cycles += 1 << 16
		}
		s.maxSeq.Store(s.cycles | uint32(seq))
	}
}
