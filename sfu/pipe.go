package sfu

import (
	"encoding/json"
	"net/netip"
	"slices"
	"sync"

	"github.com/pion/rtcp"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
	"github.com/gosoup/gosoup/transport"
)

// A pipe carries one producer's media from the node where it is produced
// (the origin) to another node whose peers consume it: every stream of
// the producer (all simulcast layers; retransmissions arrive repaired, as
// media) over SRTP-protected plain RTP, in room terms (the room's payload
// types and header-extension ids, which every node of a cluster shares),
// each stream under a pipe SSRC of its own. On the receiving node the
// pipe feeds a producer of a remote peer, whose consumers are like any
// others; its NACKs and PLIs go back over the pipe and are answered from
// the origin producer's retransmission buffer and by a key-frame request
// to the sender.

// PipeKeys are a pipe's SRTP master keys: Media protects what the origin
// sends, Feedback what the receiving node sends back.
type PipeKeys struct {
	Media, Feedback []byte
}

// NewPipeKeys returns fresh random keys.
func NewPipeKeys() PipeKeys {
	return PipeKeys{Media: transport.NewPlainSRTPKey(), Feedback: transport.NewPlainSRTPKey()}
}

// PipeParameters are the RTP parameters a pipe's receiving node creates
// its producer with: the producer's consumable parameters (room terms)
// and, per stream, its pipe SSRC and profile.
func (p *Producer) PipeParameters() rtpparams.Parameters {
	out := p.consumable
	out.Codecs = append([]rtpparams.CodecParameters(nil), p.consumable.Codecs...)
	out.HeaderExtensions = append([]rtpparams.HeaderExtensionParameters(nil), p.consumable.HeaderExtensions...)
	out.Encodings = make([]rtpparams.EncodingParameters, len(p.streams))
	for i, st := range p.streams {
		out.Encodings[i] = rtpparams.EncodingParameters{SSRC: p.pipeSSRC + uint32(i)}
		if len(p.streams) > 1 {
			out.Encodings[i].Profile = st.profile
		}
	}
	return out
}

// PipeOut is the origin end of a pipe.
type PipeOut struct {
	prod      *Producer
	pt        *transport.PlainTransport
	closeOnce sync.Once
	done      chan struct{}
	rtxBuf    [1600]byte // retransmissions (RTCP goroutine)
}

// PipeTo starts sending every stream of the producer to remote, protected
// with keys, until the pipe or the producer closes.
func (p *Producer) PipeTo(remote netip.AddrPort, keys PipeKeys) (*PipeOut, error) {
	r := p.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.closed {
		return nil, protocol.NewInvalidStateError("Producer closed")
	}
	o := &PipeOut{prod: p, done: make(chan struct{})}
	opts := transport.PlainOptions{Remote: remote, Logger: p.peer.logger(),
		SRTP: &transport.PlainSRTP{SendKey: keys.Media, RecvKey: keys.Feedback}}
	if ip, err := netip.ParseAddr(r.server.cfg.RTC.ListenIP); err == nil && !ip.IsUnspecified() {
		opts.ListenIP = ip
	}
	pt, err := transport.NewPlainTransport(opts, o)
	if err != nil {
		return nil, protocol.NewError("pipe: %s", err.Error())
	}
	o.pt = pt
	p.setPipes(func(ps []*PipeOut) []*PipeOut { return append(ps, o) })
	r.server.counters.pipes.Add(1)
	p.requestKeyFrame() // the receiving node's consumers start on one
	return o, nil
}

// Done is closed when the pipe is closed (by Close, or with its producer).
func (o *PipeOut) Done() <-chan struct{} { return o.done }

// Close stops the pipe. Safe to call twice.
func (o *PipeOut) Close() {
	o.closeOnce.Do(func() {
		o.prod.setPipes(func(ps []*PipeOut) []*PipeOut {
			out := make([]*PipeOut, 0, len(ps))
			for _, x := range ps {
				if x != o {
					out = append(out, x)
				}
			}
			return out
		})
		o.pt.Close()
		o.prod.peer.room.server.counters.pipes.Add(^uint64(0))
		close(o.done)
	})
}

// setPipes replaces the producer's pipe list (copy on write).
func (p *Producer) setPipes(f func([]*PipeOut) []*PipeOut) {
	p.pipesMu.Lock()
	defer p.pipesMu.Unlock()
	var cur []*PipeOut
	if ps := p.pipes.Load(); ps != nil {
		cur = *ps
	}
	next := f(cur)
	p.pipes.Store(&next)
}

// closePipes closes the producer's pipes (the producer closed).
func (p *Producer) closePipes() {
	if ps := p.pipes.Load(); ps != nil {
		for _, o := range *ps {
			go o.Close() // not under the room lock: Close takes pipesMu only, but stays off the caller's path
		}
	}
}

// writePipes sends a rewritten packet of stream st (room terms, the
// sender's numbering) to every pipe, under the stream's pipe SSRC. Media
// plane, before the consumers rewrite buf for themselves.
func (p *Producer) writePipes(buf []byte, st *producerStream) {
	ps := p.pipes.Load()
	if ps == nil || len(*ps) == 0 {
		return
	}
	rtpwire.PutUint32(buf[8:], p.pipeSSRC+uint32(st.index))
	for _, o := range *ps {
		_ = o.pt.WriteRTP(buf)
	}
}

// OnPlainRTP ignores RTP coming back on a pipe (transport.PlainHandler).
func (o *PipeOut) OnPlainRTP([]byte, *transport.Batch) {}

// OnPlainRTCP answers the receiving node's feedback: NACKs from the
// stream's retransmission buffer, PLI and FIR with a key-frame request
// (transport.PlainHandler).
func (o *PipeOut) OnPlainRTCP(pkt []byte) {
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		return
	}
	p := o.prod
	for _, x := range pkts {
		switch f := x.(type) {
		case *rtcp.TransportLayerNack:
			st := o.stream(f.MediaSSRC)
			if st == nil || st.rtx == nil {
				continue
			}
			for _, pair := range f.Nacks {
				pair.Range(func(seq uint16) bool {
					o.retransmit(st, seq)
					return true
				})
			}
		case *rtcp.PictureLossIndication:
			p.requestStreamKeyFrame(o.stream(f.MediaSSRC))
		case *rtcp.FullIntraRequest:
			p.requestStreamKeyFrame(o.stream(f.MediaSSRC))
		}
	}
}

// stream returns the producer stream of a pipe SSRC.
func (o *PipeOut) stream(ssrc uint32) *producerStream {
	i := int(ssrc - o.prod.pipeSSRC)
	if i < 0 || i >= len(o.prod.streams) {
		return nil
	}
	return o.prod.streams[i]
}

// retransmit resends a stored packet of st (room terms) on the pipe.
func (o *PipeOut) retransmit(st *producerStream, seq uint16) {
	n, _, ok := st.rtx.Get(seq, o.rtxBuf[:])
	if !ok {
		return
	}
	rtpwire.PutUint32(o.rtxBuf[8:], o.prod.pipeSSRC+uint32(st.index))
	_ = o.pt.WriteRTP(o.rtxBuf[:n])
}

// JoinRemotePeer adds a peer that lives on another node: it has no client,
// the local peers get "newPeer" for it (and "peerClosed" when it is
// closed), and no consumers are made for it here (its node consumes).
func (r *Room) JoinRemotePeer(name string, appData json.RawMessage) (*Peer, error) {
	_, p, err := r.joinPeer(&protocol.JoinRequest{PeerName: name, RTPCapabilities: r.caps, AppData: appData}, nil, true)
	return p, err
}

// PipeProducerOptions create the receiving end of a pipe.
type PipeProducerOptions struct {
	ID            uint32
	Kind          string
	RTPParameters rtpparams.Parameters // the origin's PipeParameters
	Paused        bool
	AppData       json.RawMessage
	Keys          PipeKeys
}

// CreatePipeProducer creates a producer of a remote peer fed by a pipe,
// and returns the address the origin sends to (its PipeTo remote).
func (p *Peer) CreatePipeProducer(o PipeProducerOptions) (*Producer, netip.AddrPort, error) {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.closed {
		return nil, netip.AddrPort{}, protocol.NewInvalidStateError("Peer closed")
	}
	t := newTransport(p, r.freeTransportIDLocked(), dirSend, nil)
	opts := transport.PlainOptions{Comedia: true, Logger: p.logger(), Batch: r.server.net.NewBatch(),
		SRTP: &transport.PlainSRTP{SendKey: o.Keys.Feedback, RecvKey: o.Keys.Media}}
	if ip, err := netip.ParseAddr(r.server.cfg.RTC.ListenIP); err == nil {
		opts.ListenIP = ip
	}
	l := &plainLink{t: t, ip: r.server.announcedIP()}
	if ip, err := netip.ParseAddr(r.server.cfg.RTC.ListenIP); err == nil && !ip.IsUnspecified() {
		l.ip = ip.String()
	}
	pt, err := transport.NewPlainTransport(opts, l)
	if err != nil {
		return nil, netip.AddrPort{}, protocol.NewError("pipe: %s", err.Error())
	}
	l.PlainTransport, t.link = pt, l
	r.transports[t.id] = t
	p.transports[t.id] = t
	r.server.clock.add(t)
	params := o.RTPParameters
	// The origin room's extensions: keep those this room has (its
	// configuration may differ); createProducer refuses the others.
	params.HeaderExtensions = []rtpparams.HeaderExtensionParameters{}
	for _, e := range o.RTPParameters.HeaderExtensions {
		if slices.ContainsFunc(r.caps.HeaderExtensions, func(c rtpparams.HeaderExtensionCapability) bool { return c.URI == e.URI }) {
			params.HeaderExtensions = append(params.HeaderExtensions, e)
		}
	}
	req := &protocol.CreateProducerRequest{ID: o.ID, Kind: o.Kind, TransportID: t.id, Paused: o.Paused,
		AppData: o.AppData, RTPParameters: params}
	if err := p.createProducerLocked(req); err != nil {
		t.closeLocked(false)
		return nil, netip.AddrPort{}, err
	}
	addr := netip.AddrPortFrom(netip.MustParseAddr(l.ip), uint16(pt.LocalPort()))
	return r.producers[o.ID], addr, nil
}
