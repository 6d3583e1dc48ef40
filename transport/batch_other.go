//go:build !linux

package transport

type batchSys struct{}

func (b *Batch) init(n *Network, _ bool) { b.n = n }

func (b *Batch) send() { b.sendEach() }
