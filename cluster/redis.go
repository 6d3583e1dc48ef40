package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// newRedisClient returns a client of url whose every operation fails
// fast while Redis is away (the member's control path must never hang).
// tlsConfig, when not nil, replaces the TLS configuration of a rediss://
// URL.
func newRedisClient(url string, tlsConfig *tls.Config, log *slog.Logger) (*redis.Client, error) {
	opt, err := redisOptions(url, tlsConfig)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = redisTimeout, redisTimeout, redisTimeout, redisTimeout
	opt.MaxRetries, opt.DialerRetries = -1, 1
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	setRedisLogger(log)
	return redis.NewClient(opt), nil
}

// redisOptions parses url; tlsConfig replaces the TLS configuration of a
// rediss:// URL (the URL's host name is kept when it names none).
func redisOptions(url string, tlsConfig *tls.Config) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis URL: %w", err)
	}
	if tlsConfig != nil {
		if opt.TLSConfig == nil {
			return nil, errors.New("cluster: a TLS configuration needs a rediss:// URL")
		}
		c := tlsConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = opt.TLSConfig.ServerName
		}
		opt.TLSConfig = c
	}
	return opt, nil
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
