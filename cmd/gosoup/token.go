package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gosoup/gosoup/auth"
)

// runToken is "gosoup token": it prints one join token for --room and
// --peer, signed with the key of --auth-secret or --auth-keys, which come
// from the flags, the environment or the configuration file as for the
// server.
func runToken(args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gosoup token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := registerServerFlags(fs)
	ld := newLoader(fs) // the token flags below are not configuration keys
	room := fs.String("room", "", "`room` the token lets its bearer join (required; '*': every room, admin tokens only)")
	peer := fs.String("peer", "", "peer `name` the token lets its bearer join as (required unless --admin)")
	spy := fs.Bool("spy", false, "the bearer joins as a spy (receives, sends nothing, is not seen)")
	admin := fs.Bool("admin", false, "the bearer may use the admin API of --room (of every room with --room '*')")
	publish := fs.String("publish", "audio,video", "`kinds` the bearer may produce (comma-separated: audio, video)")
	noPublish := fs.Bool("no-publish", false, "the bearer may not produce (same as --publish '')")
	noSubscribe := fs.Bool("no-subscribe", false, "the bearer may not receive media (no consumers, no WHEP)")
	ttl := fs.Duration("ttl", time.Hour, "`duration` the token is valid from now")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gosoup token --room ROOM --peer NAME [--spy] [--no-publish | --publish KINDS] [--no-subscribe] [--ttl 1h]\n"+
			"       gosoup token --admin --room ROOM|'*' [--ttl 1h]\n\n"+
			"Prints a join token on stdout. The key comes from --auth-secret or --auth-keys, set as for the\n"+
			"server: flag, GOSOUP_AUTH_SECRET / GOSOUP_AUTH_KEYS, or the --config file. Without grant flags\n"+
			"the token is a participant's: publish audio and video, subscribe, no admin API.\n\n")
		for _, name := range []string{"room", "peer", "spy", "publish", "no-publish", "no-subscribe", "admin", "ttl", "auth-secret", "auth-keys", configFlag} {
			f := fs.Lookup(name)
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(fs.Output(), "  %s\n    \t%s", strings.TrimSpace("--"+f.Name+" "+name), usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
			}
			fmt.Fprintln(fs.Output())
		}
	}
	if _, err := ld.load(args, environ); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	if err := c.validate(ld.sources); err != nil {
		return err
	}
	switch {
	case *room == "":
		return errors.New("token: --room is required")
	case *peer == "" && !*admin:
		return errors.New("token: --peer is required (unless --admin)")
	case *room == auth.AllRooms && !*admin:
		return errors.New("token: --room '*' needs --admin")
	case *ttl <= 0:
		return fmt.Errorf("token: --ttl %s: must be positive", *ttl)
	}
	keys, err := loadKeys(c, ld.sources)
	if err != nil {
		return err
	}
	if keys == nil {
		return errors.New("token: no key: set --auth-secret or --auth-keys (flag, GOSOUP_AUTH_SECRET/GOSOUP_AUTH_KEYS or config file)")
	}
	g := auth.Grants{Subscribe: !*noSubscribe, Admin: *admin}
	if !*noPublish {
		for k := range strings.SplitSeq(*publish, ",") {
			if k = strings.TrimSpace(k); k != "" {
				g.Publish = append(g.Publish, k)
			}
		}
	}
	claims := auth.Claims{Room: *room, Peer: *peer, Spy: *spy, ExpiresAt: time.Now().Add(*ttl)}
	if p := auth.Participant(); !slices.Equal(g.Publish, p.Publish) || g.Subscribe != p.Subscribe || g.Admin != p.Admin {
		claims.Grants = &g // a participant's token stays as it was before grants
	}
	tok, err := keys.Mint(claims)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// loadKeys returns the join-token keys of c: from auth-secret, from the
// auth-keys file, or nil when neither is set.
func loadKeys(c *config, src sources) (*auth.KeySet, error) {
	switch {
	case c.authSecret != "":
		keys, err := auth.NewKeySet(c.authSecret)
		if err != nil {
			return nil, fmt.Errorf("auth-secret (%s): %w", src.of("auth-secret"), err)
		}
		return keys, nil
	case c.authKeys != "":
		keys, err := auth.LoadKeyFile(c.authKeys)
		if err != nil {
			return nil, fmt.Errorf("auth-keys (%s): %w", src.of("auth-keys"), err)
		}
		return keys, nil
	}
	return nil, nil
}
