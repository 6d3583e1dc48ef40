//go:build !linux

package transport

import "net"

type batchSys struct{}

func (b *Batch) init(n *Network, _ *net.UDPConn, _ bool) { b.n = n }

func (b *Batch) send() { b.sendEach() }
