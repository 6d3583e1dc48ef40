// Command gosoup runs the gosoup SFU: the protoo WebSocket signaling and
// the demo page on one HTTP address, media on one UDP port.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gosoup:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gosoup", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:3443", "HTTP address for the signaling WebSocket and the demo page")
	webDir := fs.String("web", "web/dist", "directory of the built demo page (empty: no page)")
	rtcIP := fs.String("rtc-listen-ip", "0.0.0.0", "IP the media UDP socket binds to")
	rtcPort := fs.Int("rtc-port", 40000, "UDP port shared by all transports (0: any free port)")
	announced := fs.String("announced-ip", "127.0.0.1", "IP announced in ICE candidates (a LAN address to reach other machines)")
	announcedPort := fs.Int("announced-port", 0, "UDP port announced in ICE candidates (default: the bound one; for a relay or NAT)")
	announced6 := fs.String("announced-ipv6", "", "IPv6 address announced in ICE candidates too (needs --rtc-listen-ip ::)")
	noTCP := fs.Bool("no-tcp", false, "disable passive ICE-TCP on the RTC port")
	fullExt := fs.Bool("full-header-extensions", false, "advertise mediasoup 2.6.19's full header-extension list (breaks video-first sending in current Chrome)")
	tcc := fs.Bool("transport-cc", false, "offer transport-wide-cc so senders get transport-cc feedback (breaks video-first sending in current Chrome with mediasoup-client 2.4.12)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	noRetransmit := fs.Bool("no-retransmission", false, "do not answer NACKs nor send them (to measure what retransmission brings)")
	videoCodecs := fs.String("video-codecs", "vp8,h264", "room video codecs in order of preference: vp8, vp9, h264")
	maxIn := fs.Int("max-incoming-bitrate", 0, "cap, in bits per second, of what a client sends on a send transport (REMB); 0: none")
	maxPeers := fs.Int("max-peers-per-room", 1000, "peers per room before join is refused")
	pprofOn := fs.Bool("pprof", false, "serve Go profiles at /debug/pprof/ on the HTTP address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		level slog.Level
		err   error
	)
	if err = level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	cfg := sfu.Config{
		RTC:                transport.Config{ListenIP: *rtcIP, Port: *rtcPort, AnnouncedIP: *announced, AnnouncedIPv6: *announced6, AnnouncedPort: *announcedPort, NoTCP: *noTCP},
		Logger:             log,
		Limits:             sfu.Limits{PeersPerRoom: *maxPeers},
		NoRetransmission:   *noRetransmit,
		MaxIncomingBitrate: uint32(max(*maxIn, 0)),
	}
	if cfg.MediaCodecs, err = rtpparams.MediaCodecsFor(*videoCodecs); err != nil {
		return err
	}
	if *fullExt {
		cfg.HeaderExtensions = rtpparams.FullHeaderExtensions()
	}
	if *tcc {
		if cfg.HeaderExtensions == nil {
			cfg.HeaderExtensions = rtpparams.DefaultHeaderExtensions()
		}
		cfg.HeaderExtensions = append(cfg.HeaderExtensions, rtpparams.TransportCCHeaderExtensions()...)
	}
	srv, err := sfu.NewServer(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	sig := signaling.NewServer(srv, log)
	defer sig.Close()

	mux := http.NewServeMux()
	registerMetrics(srv)
	mux.Handle("/metrics", promhttp.Handler())
	if *pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	var files http.Handler = http.NotFoundHandler()
	if *webDir != "" {
		if _, err := os.Stat(*webDir); err != nil {
			log.Warn("demo page directory missing; build it with scripts/run.sh", "dir", *webDir)
		}
		files = http.FileServer(http.Dir(*webDir))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if signaling.IsUpgrade(r) {
			sig.ServeHTTP(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
	hs := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("gosoup listening", "http", "http://"+*listen+"/", "rtcPort", srv.RTCPort(), "announcedIP", *announced)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdownCtx)
	return nil
}
