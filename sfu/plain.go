package sfu

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/transport"
)

// PlainRtpOptions create a PlainRtpTransport (docs/protocol.md,
// "PlainRtpTransport"): unencrypted RTP and RTCP over UDP to and from one
// remote address, for tools (FFmpeg, GStreamer) and recorders.
type PlainRtpOptions struct {
	// ID is the transport id; 0 picks one.
	ID uint32
	// Direction is "send" (the remote sends media: producers) or "recv"
	// (the remote receives: consumers).
	Direction string
	// RemoteIP and RemotePort are where media goes; empty/0 when Comedia
	// learns them or updateTransport gives them later. Until then a send
	// transport takes media from the first source that sends (as with
	// Comedia) and a recv transport sends nothing.
	RemoteIP   string
	RemotePort int
	// RemoteRTCPPort is the remote's RTCP port when RTCP is not muxed
	// (default RemotePort + 1).
	RemoteRTCPPort int
	// LocalIP is the address to bind (default: the rtc listen address).
	LocalIP string
	// Comedia learns the remote address from the first packet received.
	Comedia bool
	// NoRTCPMux uses a second local port for RTCP.
	NoRTCPMux bool
	// AppData is the application's data for the transport.
	AppData json.RawMessage
}

// PlainRtpLocal is the answer to createTransport with plainRtpParameters:
// where the remote sends (mediasoup v2 answers ip and port; gosoup adds
// rtcpPort when RTCP has its own port).
type PlainRtpLocal struct {
	IP       string `json:"ip"`
	Port     int    `json:"port"`
	RTCPPort int    `json:"rtcpPort,omitempty"`
}

// plainTransportResponse is the createTransport answer for a plain
// transport.
type plainTransportResponse struct {
	PlainRtpParameters PlainRtpLocal `json:"plainRtpParameters"`
}

// CreatePlainRtpTransport creates a PlainRtpTransport owned by the peer.
// Its producers and consumers are announced like any other; it counts
// against the peer's transport limit.
func (p *Peer) CreatePlainRtpTransport(opts PlainRtpOptions) (*Transport, error) {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	if p.closed {
		return nil, protocol.NewInvalidStateError("Peer closed")
	}
	if opts.ID == 0 {
		opts.ID = p.room.freeTransportIDLocked()
	}
	return p.createPlainTransportLocked(opts)
}

// PlainLocal returns the local address a plain transport receives on
// (ok false for a WebRTC transport).
func (t *Transport) PlainLocal() (PlainRtpLocal, bool) {
	pl := t.plainLink()
	if pl == nil {
		return PlainRtpLocal{}, false
	}
	l := PlainRtpLocal{IP: pl.ip, Port: pl.LocalPort()}
	if !pl.RTCPMux() {
		l.RTCPPort = pl.LocalRTCPPort()
	}
	return l, true
}

// createPlainTransportFromRequest handles createTransport with
// plainRtpParameters, as mediasoup v2's Peer does for custom clients.
func (p *Peer) createPlainTransportFromRequest(req *protocol.CreateTransportRequest) (any, error) {
	pr := req.PlainRtpParameters
	opts := PlainRtpOptions{ID: req.ID, Direction: req.Direction, RemoteIP: pr.IP, RemotePort: pr.Port,
		RemoteRTCPPort: pr.RTCPPort, LocalIP: pr.LocalIP, Comedia: pr.Comedia, AppData: req.AppData}
	if pr.RTCPMux != nil && !*pr.RTCPMux {
		opts.NoRTCPMux = true
	}
	t, err := p.createPlainTransportLocked(opts)
	if err != nil {
		return nil, err
	}
	l, _ := t.PlainLocal()
	return plainTransportResponse{PlainRtpParameters: l}, nil
}

func (p *Peer) createPlainTransportLocked(opts PlainRtpOptions) (*Transport, error) {
	r := p.room
	dir, err := p.checkNewTransportLocked(opts.ID, opts.Direction)
	if err != nil {
		return nil, err
	}
	popts := transport.PlainOptions{Comedia: opts.Comedia, NoRTCPMux: opts.NoRTCPMux, Logger: p.logger()}
	if dir == dirSend {
		popts.Batch = r.server.net.NewBatch()
	}
	if opts.RemoteIP != "" || opts.RemotePort != 0 {
		remote, err := remoteAddr(opts.RemoteIP, opts.RemotePort, "plainRtpParameters")
		if err != nil {
			return nil, err
		}
		popts.Remote = remote
		if opts.RemoteRTCPPort != 0 {
			if opts.RemoteRTCPPort < 1 || opts.RemoteRTCPPort > 65535 {
				return nil, protocol.NewTypeError("plainRtpParameters.rtcpPort: %d is not a port", opts.RemoteRTCPPort)
			}
			popts.RemoteRTCP = netip.AddrPortFrom(remote.Addr(), uint16(opts.RemoteRTCPPort))
		}
	} else if dir == dirSend {
		// No remote yet (mediasoup 2.6.19 allows it; updateTransport gives
		// it later): the first source that sends is latched meanwhile.
		popts.Comedia = true
	}
	if dir == dirRecv && opts.Comedia && !popts.Remote.IsValid() {
		return nil, protocol.NewTypeError("plainRtpParameters.comedia: a recv transport cannot learn its remote (the remote only receives); give ip and port, now or with updateTransport")
	}
	if opts.LocalIP != "" {
		ip, err := netip.ParseAddr(opts.LocalIP)
		if err != nil {
			return nil, protocol.NewTypeError("plainRtpParameters.localIP: %q is not an IP address", opts.LocalIP)
		}
		popts.ListenIP = ip
	} else if ip, err := netip.ParseAddr(r.server.cfg.RTC.ListenIP); err == nil {
		popts.ListenIP = ip
	}
	t := newTransport(p, opts.ID, dir, opts.AppData)
	l := &plainLink{t: t, ip: r.server.plainAnnouncedIP(popts.ListenIP, popts.Remote)}
	if dir == dirSend {
		l.diag = &plainDiag{} // before the first packet can arrive
	}
	pt, err := transport.NewPlainTransport(popts, l)
	if err != nil {
		return nil, protocol.NewError("could not open any IP:port: %s", err.Error())
	}
	l.PlainTransport, t.link = pt, l
	if dir == dirSend {
		t.watchSilence(l)
	}
	r.transports[t.id] = t
	p.transports[t.id] = t
	r.server.clock.add(t)
	r.events.emit(func(o *Observer) {
		if o.NewTransport != nil {
			o.NewTransport(t)
		}
	})
	p.logger().Info("plain transport created", "transport", t.id, "direction", dir,
		"local", fmt.Sprintf("%s:%d", l.ip, pt.LocalPort()), "comedia", popts.Comedia, "remote", popts.Remote)
	return t, nil
}

// freeTransportIDLocked picks an unused transport id.
func (r *Room) freeTransportIDLocked() uint32 {
	id := rtpparams.RandomID()
	for r.transports[id] != nil {
		id = rtpparams.RandomID()
	}
	return id
}

// remoteAddr parses a remote IP and port given by a client.
func remoteAddr(ip string, port int, field string) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.AddrPort{}, protocol.NewTypeError("%s.ip: %q is not an IP address", field, ip)
	}
	if port < 1 || port > 65535 {
		return netip.AddrPort{}, protocol.NewTypeError("%s.port: %d is not a port", field, port)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

// plainAnnouncedIP is the address a plain transport tells its remote to
// send to: the bound address, or the announced address of the remote's
// family when bound to any.
func (s *Server) plainAnnouncedIP(listen netip.Addr, remote netip.AddrPort) string {
	if listen.IsValid() && !listen.IsUnspecified() {
		return listen.String()
	}
	if remote.Addr().IsLoopback() {
		return remote.Addr().String()
	}
	return s.announcedIP()
}

// updatePlainLocked handles updateTransport with plainRtpParameters: the
// remote address is set (or replaced), and key frames are asked for the
// consumers so the remote can decode at once.
func (t *Transport) updatePlainLocked(l *plainLink, pr *protocol.PlainRtpParameters) error {
	if pr.IP == "" && pr.Port == 0 {
		return protocol.NewTypeError("plainRtpParameters: ip and port are required")
	}
	remote, err := remoteAddr(pr.IP, pr.Port, "plainRtpParameters")
	if err != nil {
		return err
	}
	var rtcp netip.AddrPort
	if pr.RTCPPort != 0 {
		rtcp = netip.AddrPortFrom(remote.Addr(), uint16(pr.RTCPPort))
	}
	l.SetRemote(remote, rtcp)
	t.OnConnected(nil)
	return nil
}
