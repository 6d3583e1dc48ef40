package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// newRedisClient returns a client of url whose every operation fails
// fast while Redis is away (the member's control path must never hang).
func newRedisClient(url string, log *slog.Logger) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis URL: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = redisTimeout, redisTimeout, redisTimeout, redisTimeout
	opt.MaxRetries, opt.DialerRetries = -1, 1
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	setRedisLogger(log)
	return redis.NewClient(opt), nil
}

// The home claim (SET NX PX, refreshed by its holder) and its release.
const (
	claimHome = `local cur = redis.call('GET', KEYS[1])
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) return ARGV[1] end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return cur`
	releaseHome = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
	// forgetRoom: KEYS rooms, home, room nodes; ARGV room id.
	forgetRoom = `if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('SCARD', KEYS[3]) == 0 then
return redis.call('SREM', KEYS[1], ARGV[1]) end
return 0`
)

// redisLogger sends go-redis's own messages to slog at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

var redisLogOnce sync.Once

// setRedisLogger routes go-redis's process-wide logger to log (once).
func setRedisLogger(log *slog.Logger) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{log: log}) })
}
