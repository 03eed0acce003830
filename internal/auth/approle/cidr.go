package approle

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
)

// parseCIDR reads a CIDR block or a single address (a /32 or /128).
func parseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR block", s)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR block", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseCIDRList validates a list of CIDR blocks and returns it trimmed,
// without empty entries.
func parseCIDRList(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, err := parseCIDR(s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// addrIn reports whether ip lies in one of the blocks.
func addrIn(ip netip.Addr, cidrs []string) bool {
	for _, c := range cidrs {
		if p, err := parseCIDR(c); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// subsetOf reports whether every block of inner lies inside some block of
// outer. An empty outer list allows anything.
func subsetOf(outer, inner []string) bool {
	if len(outer) == 0 {
		return true
	}
	for _, in := range inner {
		ip, err := parseCIDR(in)
		if err != nil {
			return false
		}
		ok := false
		for _, out := range outer {
			op, err := parseCIDR(out)
			if err == nil && op.Bits() <= ip.Bits() && op.Contains(ip.Addr()) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// remoteIP returns the client's address from the request's connection
// ("ip:port" or a bare ip).
func remoteIP(req *logical.Request) (netip.Addr, bool) {
	if req.Connection == nil || req.Connection.RemoteAddr == "" {
		return netip.Addr{}, false
	}
	host, _, err := net.SplitHostPort(req.Connection.RemoteAddr)
	if err != nil {
		host = req.Connection.RemoteAddr
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
