package transport

import "net/netip"

// maxBatch is how many datagrams one sendmmsg carries at most.
const maxBatch = 64

// Batch collects encrypted UDP datagrams produced while handling one
// incoming packet (one per consumer of a producer) so that the network
// sends them with one system call (sendmmsg on Linux). The network's read
// goroutine owns one Batch and flushes it after each packet; nothing in it
// allocates.
type Batch struct {
	n     *Network
	count int
	bufs  [maxBatch][1600]byte
	lens  [maxBatch]int
	addrs [maxBatch]netip.AddrPort
	local [maxBatch]netip.Addr // source address, when the network sets it
	sys   batchSys             // platform state (message headers)
}

// slot returns the buffer for the next datagram, flushing first when full.
func (b *Batch) slot() []byte {
	if b.count == maxBatch {
		b.Flush()
	}
	return b.bufs[b.count][:0]
}

// commit queues the datagram just written into slot().
func (b *Batch) commit(n int, to Tuple) {
	b.lens[b.count] = n
	b.addrs[b.count] = to.Remote
	b.local[b.count] = to.Local
	b.count++
}

// Flush sends what is queued.
func (b *Batch) Flush() {
	if b.count == 0 {
		return
	}
	b.send()
	b.count = 0
}

// sendEach is the portable fallback: one send per datagram.
func (b *Batch) sendEach() {
	for i := 0; i < b.count; i++ {
		_ = b.n.write(Tuple{Remote: b.addrs[i], Local: b.local[i]}, b.bufs[i][:b.lens[i]])
	}
}

// WriteRTPBatch encrypts a plain RTP packet for this transport into the
// batch (UDP tuples) or sends it at once (TCP tuples, in-process links,
// or b == nil).
func (t *WebRTCTransport) WriteRTPBatch(pkt []byte, b *Batch) error {
	if b == nil {
		return t.WriteRTP(pkt)
	}
	tp, ok := t.selectedTuple()
	if !ok || tp.tcp != nil || tp.link != nil || t.isClosed() {
		return t.WriteRTP(pkt)
	}
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	if t.sendCtx == nil {
		return ErrNotConnected
	}
	dst := b.slot()
	out, err := t.sendCtx.EncryptRTP(dst, pkt, &t.sendHdr)
	if err != nil {
		return err
	}
	if &out[0] != &b.bufs[b.count][0] { // did not fit: send it alone
		return t.send(out)
	}
	b.commit(len(out), tp)
	t.bytesSent.Add(uint64(len(out)))
	return nil
}
