package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gosoup/gosoup/forwarded"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
	webdist "github.com/gosoup/gosoup/web"
	"github.com/gosoup/gosoup/whip"
)

// httpHeaderTimeout bounds the reading of a request's headers (and the
// TLS handshake before them): a slow WebSocket upgrade is cut there. A
// variable for tests.
var httpHeaderTimeout = 10 * time.Second

// httpIdleTimeout closes a keep-alive connection that sends no new
// request for that long (upgraded WebSockets are not concerned).
const httpIdleTimeout = 2 * time.Minute

// loadServerConfig reads the server configuration from args, environ and
// the configuration file, validated.
func loadServerConfig(args, environ []string, stderr io.Writer) (*config, *loader, error) {
	fs := flag.NewFlagSet("gosoup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := registerServerFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gosoup [flags]   (or: gosoup token --help)\n\n"+
			"Every flag can also be a key of the --config YAML file or a GOSOUP_* environment variable\n"+
			"(--rtc-port: GOSOUP_RTC_PORT); precedence: flag > environment > file > default.\n\n")
		fs.PrintDefaults()
	}
	ld := newLoader(fs)
	if _, err := ld.load(args, environ); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if err := c.validate(ld.sources); err != nil {
		return nil, nil, err
	}
	return c, ld, nil
}

// runServer runs the server until a signal on signals stops it.
func runServer(args, environ []string, stderr io.Writer, signals <-chan os.Signal) error {
	c, ld, err := loadServerConfig(args, environ, stderr)
	if err != nil {
		return err
	}
	applyGCPercent(environ)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.logLevel}))
	slog.SetDefault(log)
	ld.logEffective(log)

	tlsConfig, err := serverTLS(c, log)
	if err != nil {
		return err
	}
	keys, err := loadKeys(c, ld.sources)
	if err != nil {
		return err
	}
	c.keys = keys
	sfuConfig, err := c.sfuConfig(log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen (%s): %w", ld.sources.of("listen"), err)
	}
	srv, err := sfu.NewServer(sfuConfig)
	if err != nil {
		ln.Close()
		return fmt.Errorf("media: %w", err)
	}
	httpLn, stopTURN, err := c.startTURN(ln, tlsConfig, srv, log) // the listen port shared with TURN (turn.go)
	if err != nil {
		ln.Close()
		srv.Close()
		return err
	}
	defer stopTURN()
	opts := signaling.Options{AllowedOrigins: c.allowedOrigins}
	c.limits.signaling(&opts)
	member, err := c.startCluster(srv, ln.Addr(), tlsConfig != nil, log)
	if err != nil {
		ln.Close()
		srv.Close()
		return err
	}
	if member != nil {
		opts.BeforeJoin = member.BeforeJoin
	}
	if keys != nil {
		opts.Authorize = signaling.TokenAuthorizer(keys)
		log.Info("join tokens required", "keyIDs", keys.KeyIDs())
	} else {
		level := slog.LevelWarn
		if host, _, _ := net.SplitHostPort(ln.Addr().String()); net.ParseIP(host).IsLoopback() {
			level = slog.LevelInfo // only this machine can reach it
		}
		log.Log(context.Background(), level, "no auth-secret nor auth-keys: anyone reaching the server can join any room")
	}
	sig := signaling.NewServerWithOptions(srv, log, opts)
	// WHIP ingest and WHEP playback (/whip/, /whep/): same rooms, tokens and drain as the WebSockets.
	wopts := whip.Options{Rooms: sig, Keys: keys, Logger: log, AllowedOrigins: c.allowedOrigins}
	c.limits.whip(&wopts)
	wh := whip.NewHandler(srv, wopts)
	defer wh.Close()
	registerLimitMetrics(sfuConfig.RTC.Limits.Counters, sig, wh)
	adm := c.adminHandler(srv, sig, member, ln.Addr(), log) // ingest, recordings, operator; closed before the SFU

	h := &health{}
	hs := &http.Server{
		// Behind --trusted-proxy, the forwarded client address is every
		// handler's RemoteAddr.
		Handler:           forwarded.New(c.limits.proxies()).Handler(wh.Wrap(c.handler(srv, sig, adm, h, log))),
		ReadHeaderTimeout: httpHeaderTimeout,
		IdleTimeout:       httpIdleTimeout,
		// TLS handshake failures of scanners and the like: debug only.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(httpLn) }()
	log.Info("gosoup listening", "url", scheme+"://"+ln.Addr().String()+"/", "rtcPort", srv.RTCPort(), "announcedIPs", srv.AnnouncedIPs())

	closeSFU := func() {
		adm.Close() // recordings finalized, ingest peers gone
		if err := srv.Close(); err != nil {
			log.Warn("closing the SFU", "err", err)
		}
	}
	sd := &shutdown{log: log, health: h, sig: clusterDrain{sig, member}, http: hs, closeSFU: withCluster(member, closeSFU), drainTimeout: c.drainTimeout}
	err = sd.wait(signals, serveErr)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// sfuConfig is the SFU configuration of c.
func (c *config) sfuConfig(log *slog.Logger) (sfu.Config, error) {
	cfg := sfu.Config{
		RTC: transport.Config{
			ListenIP: c.rtcListenIP, Port: c.rtcPort, AnnouncedIPs: c.announcedIPs,
			AnnouncedIPv6: c.announcedIPv6, AnnouncedPort: c.announcedPort, NoTCP: c.noTCP,
			Limits: c.limits.media(new(transport.LimitCounters)), TCPBindTimeout: c.limits.tcpIdleTimeout,
		},
		Logger:             log,
		Limits:             sfu.Limits{PeersPerRoom: c.maxPeersPerRoom},
		NoRetransmission:   c.noRetransmission,
		AudioSlots:         c.audioSlots,
		LastN:              c.lastN,
		MaxIncomingBitrate: uint32(c.maxIncomingBitrate),
	}
	var err error
	if cfg.MediaCodecs, err = rtpparams.MediaCodecsFor(c.videoCodecs); err != nil {
		return cfg, fmt.Errorf("video-codecs: %w", err)
	}
	if c.fullHeaderExt {
		cfg.HeaderExtensions = rtpparams.FullHeaderExtensions()
	}
	if c.transportCC {
		if cfg.HeaderExtensions == nil {
			cfg.HeaderExtensions = rtpparams.DefaultHeaderExtensions()
		}
		cfg.HeaderExtensions = append(cfg.HeaderExtensions, rtpparams.TransportCCHeaderExtensions()...)
	}
	return cfg, nil
}

// handler routes the HTTP address: WebSocket upgrades to the signaling,
// /metrics, the health checks, optionally /debug/pprof/, and the demo page.
func (c *config) handler(srv *sfu.Server, sig, adm http.Handler, h *health, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	registerMetrics(srv)
	mux.Handle("/metrics", promhttp.Handler())
	h.register(mux)
	mux.Handle("/admin/", adm)
	mux.Handle("/ice-servers", c.iceServersHandler())
	if c.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	files := http.FileServerFS(webdist.FS())
	if c.web != "" {
		if _, err := os.Stat(c.web); err != nil {
			log.Warn("demo page directory missing; build it with scripts/run.sh", "dir", c.web)
		}
		files = http.FileServer(http.Dir(c.web))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if signaling.IsUpgrade(r) {
			sig.ServeHTTP(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
	return mux
}
