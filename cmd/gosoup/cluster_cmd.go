package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gosoup/gosoup/cluster"
)

// statusTimeout bounds "gosoup cluster status".
const statusTimeout = 10 * time.Second

// runCluster is "gosoup cluster status": it prints the nodes and rooms of
// the cluster on --redis (with --redis-prefix), which come from the flags,
// the environment or the configuration file as for the server.
func runCluster(args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprintln(stderr, "Usage: gosoup cluster status --redis URL --cluster-secret S [--redis-prefix P] [--json]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return flag.ErrHelp
		}
		return errors.New("cluster: want the subcommand status")
	}
	fs := flag.NewFlagSet("gosoup cluster status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := registerServerFlags(fs)
	ld := newLoader(fs) // --json is not a configuration key
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gosoup cluster status --redis URL --cluster-secret S [--redis-prefix P] [--json]\n\n"+
			"Lists the live nodes of the cluster (id, signaling URL, media address, load) and its rooms\n"+
			"(home node, nodes and their peers), as Redis holds them, verified with the cluster secret\n"+
			"(entries that fail are counted, not shown). Each flag can also come from GOSOUP_* or the\n"+
			"--config file.\n\n")
		for _, name := range []string{"redis", "cluster-secret", "cluster-secret-file", "redis-prefix", "json", configFlag} {
			f := fs.Lookup(name)
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(fs.Output(), "  %s\n    \t%s", strings.TrimSpace("--"+f.Name+" "+name), usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
			}
			fmt.Fprintln(fs.Output())
		}
	}
	if _, err := ld.load(args[1:], environ); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cluster status: unexpected argument %q", fs.Arg(0))
	}
	if c.cluster.redis == "" {
		return errors.New("cluster status: no Redis: set --redis (flag, GOSOUP_REDIS or config file)")
	}
	if err := c.cluster.validate(ld.sources); err != nil { // the entries are verified with the cluster secret
		return fmt.Errorf("cluster status: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st, err := cluster.ReadStatus(ctx, c.cluster.redis, c.cluster.redisPrefix, c.cluster.loaded)
	if err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return st.WriteText(stdout)
}
