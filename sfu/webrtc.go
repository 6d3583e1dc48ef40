package sfu

import (
	"context"
	"encoding/json"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu/internal/bwe"
	"github.com/gosoup/gosoup/transport"
)

// The WebRTC link: creating a WebRtcTransport for createTransport, and
// converting its ICE and DTLS parameters to and from the protocol's.

func iceParameters(p transport.ICEParameters) protocol.IceParameters {
	return protocol.IceParameters{UsernameFragment: p.UsernameFragment, Password: p.Password, IceLite: p.ICELite}
}

func dtlsParameters(p transport.DTLSParameters) protocol.DtlsParameters {
	out := protocol.DtlsParameters{Role: p.Role, Fingerprints: make([]protocol.DtlsFingerprint, 0, len(p.Fingerprints))}
	for _, f := range p.Fingerprints {
		out.Fingerprints = append(out.Fingerprints, protocol.DtlsFingerprint{Algorithm: f.Algorithm, Value: f.Value})
	}
	return out
}

func toTransportDTLS(p *protocol.DtlsParameters) transport.DTLSParameters {
	out := transport.DTLSParameters{Role: p.Role}
	for _, f := range p.Fingerprints {
		out.Fingerprints = append(out.Fingerprints, transport.Fingerprint{Algorithm: f.Algorithm, Value: f.Value})
	}
	return out
}

// newTransport builds the sfu side of a transport, before its link.
func newTransport(p *Peer, id uint32, dir direction, appData json.RawMessage) *Transport {
	t := &Transport{id: id, peer: p, direction: dir, appData: appData}
	t.producersBySSRC.Store(&map[uint32]*Producer{})
	t.consumersBySSRC.Store(&map[uint32]*Consumer{})
	if dir == dirSend {
		t.snd = &sendSide{estimator: bwe.New()}
		t.snd.maxBitrate.Store(p.room.server.cfg.MaxIncomingBitrate)
	} else {
		t.rcv = &recvSide{}
	}
	return t
}

// checkNewTransportLocked checks what every kind of transport must pass
// before it is created: a direction, a spy only receiving, a free id, the
// peer's limit (the room's hidden peer has none).
func (p *Peer) checkNewTransportLocked(id uint32, direction string) (direction, error) {
	r := p.room
	dir, ok := parseDirection(direction)
	if !ok {
		return dir, protocol.NewTypeError("invalid direction %q", direction)
	}
	if dir == dirSend && p.spy {
		return dir, protocol.NewError("spy peers cannot create send transports")
	}
	if r.transports[id] != nil {
		return dir, protocol.NewError("a Transport with same transportId already exists")
	}
	if max := r.server.cfg.Limits.TransportsPerPeer; !p.hidden && len(p.transports) >= max {
		return dir, protocol.NewError("too many transports (limit %d per peer)", max)
	}
	return dir, nil
}

func (p *Peer) createTransportLocked(req *protocol.CreateTransportRequest) (any, error) {
	r := p.room
	dir, err := p.checkNewTransportLocked(req.ID, req.Direction)
	if err != nil {
		return nil, err
	}
	if req.PlainRtpParameters != nil {
		return p.createPlainTransportFromRequest(req)
	}
	opts, err := transportOptions(req.Options)
	if err != nil {
		return nil, err
	}
	t := newTransport(p, req.ID, dir, req.AppData)
	wt, err := r.server.net.NewWebRTCTransport(context.Background(), t, opts)
	if err != nil {
		return nil, protocol.NewError("%s", err.Error())
	}
	t.link = wt
	if req.DtlsParameters != nil {
		if _, err := wt.SetRemoteDTLSParameters(toTransportDTLS(req.DtlsParameters)); err != nil {
			wt.Close()
			return nil, protocol.NewError("%s", err.Error())
		}
	}
	r.transports[t.id] = t
	p.transports[t.id] = t
	r.server.clock.add(t)
	r.events.emit(func(o *Observer) {
		if o.NewTransport != nil {
			o.NewTransport(t)
		}
	})
	cands := wt.ICECandidates()
	resp := protocol.CreateTransportResponse{
		IceParameters:  iceParameters(wt.ICEParameters()),
		IceCandidates:  make([]protocol.IceCandidate, 0, len(cands)),
		DtlsParameters: dtlsParameters(wt.LocalDTLSParameters()),
	}
	for _, c := range cands {
		resp.IceCandidates = append(resp.IceCandidates, protocol.IceCandidate{
			Family: c.Family, Foundation: c.Foundation, IP: c.IP, Port: c.Port,
			Priority: c.Priority, Protocol: c.Protocol, Type: c.Type, TCPType: c.TCPType,
		})
	}
	p.logger().Debug("transport created", "transport", t.id, "direction", t.direction)
	return resp, nil
}

// transportOptions reads createTransport options as mediasoup's worker:
// udp and tcp default to true, preferUdp/preferTcp raise a protocol's
// candidate priority, preferIPv4/preferIPv6 a family's.
func transportOptions(raw json.RawMessage) (transport.TransportOptions, error) {
	o := struct {
		UDP        *bool `json:"udp"`
		TCP        *bool `json:"tcp"`
		PreferUDP  bool  `json:"preferUdp"`
		PreferTCP  bool  `json:"preferTcp"`
		PreferIPv4 bool  `json:"preferIPv4"`
		PreferIPv6 bool  `json:"preferIPv6"`
	}{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &o); err != nil {
			return transport.TransportOptions{}, protocol.NewTypeError("invalid options")
		}
	}
	out := transport.TransportOptions{UDP: true, TCP: true, PreferUDP: o.PreferUDP, PreferTCP: o.PreferTCP, PreferIPv4: o.PreferIPv4, PreferIPv6: o.PreferIPv6}
	if o.UDP != nil {
		out.UDP = *o.UDP
	}
	if o.TCP != nil {
		out.TCP = *o.TCP
	}
	if !out.UDP && !out.TCP {
		return out, protocol.NewError("could not open any IP:port (udp and tcp both disabled)")
	}
	return out, nil
}
