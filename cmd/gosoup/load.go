package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// envPrefix starts the environment variables that set flags.
const envPrefix = "GOSOUP_"

// sources records where each key's effective value came from: "default",
// "flag --name", "environment GOSOUP_NAME" or "file PATH line N".
type sources map[string]string

// of returns where key's value came from.
func (s sources) of(key string) string {
	if w, ok := s[key]; ok {
		return w
	}
	return "default"
}

// envName is the environment variable of a key: rtc-port → GOSOUP_RTC_PORT.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// loader fills a FlagSet from, in increasing precedence, a YAML file, the
// environment and the command line. Only the keys in keys can come from
// the file and the environment.
type loader struct {
	fs      *flag.FlagSet
	keys    map[string]bool
	sources sources
}

// newLoader returns a loader for fs whose file and environment keys are
// the flags registered on fs so far (all but configFlag).
func newLoader(fs *flag.FlagSet) *loader {
	l := &loader{fs: fs, keys: map[string]bool{}, sources: sources{}}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != configFlag {
			l.keys[f.Name] = true
		}
	})
	return l
}

// load parses args, then applies the configuration file (from --config or
// GOSOUP_CONFIG), the GOSOUP_* variables of environ and the command line
// again, so that each source overrides the previous one. Values of every
// source are validated, even those a higher source overrides. It returns
// the configuration file's path ("" without one).
func (l *loader) load(args, environ []string) (string, error) {
	if err := l.fs.Parse(args); err != nil {
		return "", err
	}
	env, err := l.environment(environ)
	if err != nil {
		return "", err
	}
	path := l.fs.Lookup(configFlag).Value.String()
	if path == "" {
		path = env[configFlag].value
	}
	if path != "" {
		if err := l.applyFile(path); err != nil {
			return "", err
		}
	}
	for _, key := range sortedKeys(env) {
		if key == configFlag {
			continue
		}
		if err := l.set(key, env[key].values, env[key].where); err != nil {
			return "", err
		}
	}
	l.fs.VisitAll(func(f *flag.Flag) {
		if lv, ok := f.Value.(*listValue); ok {
			lv.reset()
		}
	})
	if err := l.fs.Parse(args); err != nil {
		return "", err
	}
	l.fs.Visit(func(f *flag.Flag) { l.sources[f.Name] = "flag --" + f.Name })
	if path != "" && l.sources[configFlag] == "" {
		l.sources[configFlag] = env[configFlag].where
	}
	return path, nil
}

// envValue is one GOSOUP_* variable.
type envValue struct {
	value  string
	values []string // value split at commas for repeatable flags
	where  string
}

// environment collects the GOSOUP_* variables of environ by key; a
// variable naming no key is an error.
func (l *loader) environment(environ []string) (map[string]envValue, error) {
	out := map[string]envValue{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, envPrefix), "_", "-"))
		if key != configFlag && !l.keys[key] {
			return nil, fmt.Errorf("environment variable %s: unknown (gosoup has no flag --%s)", name, key)
		}
		out[key] = envValue{value: value, values: []string{value}, where: "environment " + name}
	}
	return out, nil
}

// applyFile sets the keys of the YAML file at path.
func (l *loader) applyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if (root.Kind == yaml.DocumentNode && len(root.Content) == 0) || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config file %s line %d: want a mapping of flag names to values", path, root.Line)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		where := fmt.Sprintf("file %s line %d", path, k.Line)
		key := k.Value
		if !l.keys[key] {
			return fmt.Errorf("%s: unknown key %q", where, key)
		}
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("%s: key %q repeated (first on line %d)", where, key, prev)
		}
		seen[key] = k.Line
		values, err := nodeValues(v)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", where, key, err)
		}
		if err := l.set(key, values, where); err != nil {
			return err
		}
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// nodeValues returns the text of a scalar (nothing for null) or of the
// scalars of a sequence.
func nodeValues(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return []string{""}, nil
		}
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: want a list of plain values", c.Line)
			}
			out = append(out, c.Value)
		}
		return out, nil
	default:
		return nil, errors.New("want a value or a list of values")
	}
}

// set gives key its values from where: a repeatable flag takes them all,
// any other flag exactly one.
func (l *loader) set(key string, values []string, where string) error {
	f := l.fs.Lookup(key)
	if lv, ok := f.Value.(*listValue); ok {
		if err := lv.replace(values); err != nil {
			return fmt.Errorf("%s: %s: %w", where, key, err)
		}
		l.sources[key] = where
		return nil
	}
	if len(values) != 1 {
		return fmt.Errorf("%s: %s: want one value, not a list", where, key)
	}
	if err := f.Value.Set(values[0]); err != nil {
		shown := fmt.Sprintf("%q", values[0])
		if secretKeys[key] {
			shown = "(secret)"
		}
		return fmt.Errorf("%s: %s: invalid value %s: %w", where, key, shown, err)
	}
	l.sources[key] = where
	return nil
}

// attrs returns the effective configuration as log attributes, one per
// key in name order, secrets replaced by "REDACTED".
func (l *loader) attrs() []any {
	var out []any
	l.fs.VisitAll(func(f *flag.Flag) {
		if f.Name != configFlag && !l.keys[f.Name] {
			return
		}
		v := f.Value.String()
		if secretKeys[f.Name] && v != "" {
			v = "REDACTED"
		}
		out = append(out, slog.String(f.Name, v))
	})
	return out
}

// logEffective logs the effective configuration (one line) and, at debug
// level, where each value came from.
func (l *loader) logEffective(log *slog.Logger) {
	log.Info("configuration", l.attrs()...)
	var src []any
	for _, key := range sortedKeys(l.sources) {
		src = append(src, slog.String(key, l.sources[key]))
	}
	log.Debug("configuration sources (others are defaults)", src...)
}
