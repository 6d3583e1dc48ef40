package signaling

import (
	"context"
	"time"

	"github.com/gosoup/gosoup/sfu"
)

// beforeJoinTimeout bounds Options.BeforeJoin.
const beforeJoinTimeout = 5 * time.Second

// JoinHook runs before a peer's mediasoup join reaches its room (see
// Options.BeforeJoin). An error refuses the join with its text.
type JoinHook func(ctx context.Context, room *sfu.Room, peerName string, spy bool) error

// beforeJoin runs Options.BeforeJoin, if any, with a bounded context that
// ends when the server closes.
func (s *session) beforeJoin(spy bool) error {
	hook := s.srv.opts.BeforeJoin
	if hook == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.srv.ctx, beforeJoinTimeout)
	defer cancel()
	return hook(ctx, s.room, s.peerName, spy)
}
