package sfu

// Counts are the server's current object counts, for metrics.
type Counts struct {
	Rooms, Peers, Transports, Producers, Consumers int
	// PacketsReceived counts every datagram read from the media socket.
	PacketsReceived uint64
}

// Counts returns the current object counts.
func (s *Server) Counts() Counts {
	c := Counts{PacketsReceived: s.net.PacketsReceived()}
	for _, r := range s.Rooms() {
		r.mu.Lock()
		c.Rooms++
		c.Peers += len(r.peers)
		c.Transports += len(r.transports)
		c.Producers += len(r.producers)
		for _, p := range r.peers {
			c.Consumers += len(p.consumers)
		}
		r.mu.Unlock()
	}
	return c
}
