// Package forwarded finds the client address of an HTTP request that came
// through reverse proxies. Only proxies the operator trusts are believed:
// a request from a trusted proxy has its RemoteAddr replaced by the client
// address its Forwarded (RFC 7239) or X-Forwarded-For header names, so
// that everything after it (per-source limits, logs, the admin API's
// loopback rule) sees the client; anyone else's forwarding headers are
// left as they are, for handlers that must refuse them (Carries).
package forwarded

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// maxHops bounds how many addresses of a forwarding header are read.
const maxHops = 32

// Proxies is the set of trusted proxy ranges. The zero value trusts
// nobody.
type Proxies struct {
	trusted []netip.Prefix
}

// New returns the Proxies of these ranges.
func New(trusted []netip.Prefix) *Proxies {
	return &Proxies{trusted: append([]netip.Prefix(nil), trusted...)}
}

// Trusts reports whether a is in a trusted range.
func (p *Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, pr := range p.trusted {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// Carries reports whether r carries a forwarding header (Forwarded or
// X-Forwarded-For) that no trusted proxy vouched for: after Handler, a
// trusted proxy's headers are gone, so what is left came from the client.
func Carries(r *http.Request) bool {
	return r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != ""
}

// Handler returns next behind the proxy rule: a request whose connection
// comes from a trusted proxy gets RemoteAddr "client:0" (the right-most
// address of its forwarding header that is not itself a trusted proxy)
// and loses its Forwarded and X-Forwarded-For headers; a trusted proxy's
// request whose header names no valid client address is answered 400.
// Requests from anyone else pass unchanged.
func (p *Proxies) Handler(next http.Handler) http.Handler {
	if len(p.trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, ok := addrOf(r.RemoteAddr)
		if !ok || !p.Trusts(peer) || !Carries(r) {
			next.ServeHTTP(w, r)
			return
		}
		client, err := p.Client(r)
		if err != nil {
			http.Error(w, "bad forwarding header from a trusted proxy: "+err.Error(), http.StatusBadRequest)
			return
		}
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
		r2.Header.Del("Forwarded")
		r2.Header.Del("X-Forwarded-For")
		next.ServeHTTP(w, r2)
	})
}

// Client returns the client address of a request from a trusted proxy:
// walking its Forwarded header (X-Forwarded-For when there is none) from
// the right, the first address that is not a trusted proxy, or the
// left-most when all are.
func (p *Proxies) Client(r *http.Request) (netip.Addr, error) {
	hops, err := chain(r.Header)
	if err != nil {
		return netip.Addr{}, err
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if !p.Trusts(hops[i]) || i == 0 {
			return hops[i], nil
		}
	}
	return netip.Addr{}, errors.New("no address")
}

// chain returns the addresses of the forwarding header, client first.
// Every element must be an IP address (with or without port); "unknown"
// and obfuscated identifiers are errors, since no limit could apply to
// them.
func chain(h http.Header) ([]netip.Addr, error) {
	var raw []string
	if fw := h.Values("Forwarded"); len(fw) > 0 {
		for _, v := range fw {
			for _, elem := range strings.Split(v, ",") {
				f, err := forParam(elem)
				if err != nil {
					return nil, err
				}
				raw = append(raw, f)
			}
		}
	} else {
		for _, v := range h.Values("X-Forwarded-For") {
			for _, a := range strings.Split(v, ",") {
				raw = append(raw, strings.TrimSpace(a))
			}
		}
	}
	if len(raw) == 0 {
		return nil, errors.New("no address")
	}
	if len(raw) > maxHops {
		raw = raw[len(raw)-maxHops:]
	}
	out := make([]netip.Addr, 0, len(raw))
	for _, s := range raw {
		a, ok := parseNode(s)
		if !ok {
			return nil, fmt.Errorf("%.64q is not an IP address", s)
		}
		out = append(out, a)
	}
	return out, nil
}

// forParam returns the for= value of one Forwarded element, unquoted.
func forParam(elem string) (string, error) {
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				return "", fmt.Errorf("bad quoted for= value %.64q", v)
			}
			v = u
		}
		return v, nil
	}
	return "", fmt.Errorf("element %.64q has no for= parameter", strings.TrimSpace(elem))
}

// parseNode reads "1.2.3.4", "1.2.3.4:5", "2001:db8::1", "[2001:db8::1]"
// or "[2001:db8::1]:5".
func parseNode(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

// addrOf parses a RemoteAddr ("ip:port").
func addrOf(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
