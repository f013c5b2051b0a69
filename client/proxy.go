package client

import (
	"net/netip"
	"os"
	"strings"
	"sync"
)

// ProxyFromEnvironment returns the proxy for u from the HTTP_PROXY, HTTPS_PROXY and
// NO_PROXY environment variables (or their lower-case forms), read once on first
// use. See [ProxyConfig] for the rules.
func ProxyFromEnvironment(u *URL) (*URL, error) {
	envProxyOnce.Do(func() { envProxy, envProxyErr = ProxyConfigFromEnvironment().ProxyFunc() })
	if envProxyErr != nil {
		return nil, envProxyErr
	}
	return envProxy(u)
}

var (
	envProxyOnce sync.Once
	envProxy     func(*URL) (*URL, error)
	envProxyErr  error
)

// ProxyConfig holds proxy settings, as in the environment variables of the same
// names.
type ProxyConfig struct {
	// HTTPProxy is the proxy for http URLs ("host:port" or "http://[user:pass@]host:port").
	HTTPProxy string
	// HTTPSProxy is the proxy for https URLs, reached with CONNECT.
	HTTPSProxy string
	// NoProxy lists, separated by commas, what is reached directly: "*"; host names,
	// where "example.com" matches it and its subdomains and ".example.com" only its
	// subdomains; IP addresses; CIDR ranges; each optionally with ":port".
	NoProxy string
}

// ProxyConfigFromEnvironment reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY (upper case
// first, then lower case). HTTP_PROXY is ignored when REQUEST_METHOD is set, as in a
// CGI program, where it could come from a request's Proxy field.
func ProxyConfigFromEnvironment() *ProxyConfig {
	env := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	c := &ProxyConfig{
		HTTPProxy:  env("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: env("HTTPS_PROXY", "https_proxy"),
		NoProxy:    env("NO_PROXY", "no_proxy"),
	}
	if os.Getenv("REQUEST_METHOD") != "" {
		c.HTTPProxy = ""
	}
	return c
}

// ProxyFunc returns the proxy function for c. Requests to localhost and loopback
// addresses never use a proxy.
func (c *ProxyConfig) ProxyFunc() (func(*URL) (*URL, error), error) {
	var httpP, httpsP *URL
	var err error
	if c.HTTPProxy != "" {
		if httpP, err = proxyURL(c.HTTPProxy); err != nil {
			return nil, err
		}
	}
	if c.HTTPSProxy != "" {
		if httpsP, err = proxyURL(c.HTTPSProxy); err != nil {
			return nil, err
		}
	}
	np := parseNoProxy(c.NoProxy)
	return func(u *URL) (*URL, error) {
		p := httpP
		if u.Scheme == "https" {
			p = httpsP
		}
		if p == nil || !np.useProxy(u.Host, u.EffectivePort()) {
			return nil, nil
		}
		return p, nil
	}, nil
}

// FixedProxy returns a proxy function that sends every request through proxy
// ("host:port" or "http://[user:pass@]host:port").
func FixedProxy(proxy string) (func(*URL) (*URL, error), error) {
	pu, err := proxyURL(proxy)
	if err != nil {
		return nil, err
	}
	return func(*URL) (*URL, error) { return pu, nil }, nil
}

// proxyURL parses a proxy URL; only http proxies are supported (CONNECT tunnels carry
// https through them).
func proxyURL(s string) (*URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := ParseURL(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, &URLError{s, "unsupported proxy scheme " + quote(u.Scheme) + " (hop speaks to http:// proxies)"}
	}
	return &u, nil
}

type noProxyEntry struct {
	domain string // lower case, without leading dot
	sub    bool   // a leading dot: subdomains only
	prefix netip.Prefix
	port   string
}

type noProxy struct {
	all     bool
	entries []noProxyEntry
}

func parseNoProxy(s string) *noProxy {
	np := &noProxy{}
	for _, e := range strings.Split(s, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if e == "*" {
			np.all = true
			continue
		}
		var ent noProxyEntry
		if p, err := netip.ParsePrefix(e); err == nil {
			ent.prefix = p
			np.entries = append(np.entries, ent)
			continue
		}
		host := e
		if h, port, ok := splitHostPortLoose(e); ok {
			host, ent.port = h, port
		}
		if a, err := netip.ParseAddr(host); err == nil {
			ent.prefix = netip.PrefixFrom(a, a.BitLen())
			np.entries = append(np.entries, ent)
			continue
		}
		if strings.HasPrefix(host, "*.") {
			host = host[1:]
		}
		if strings.HasPrefix(host, ".") {
			ent.sub = true
			host = host[1:]
		}
		ent.domain = host
		np.entries = append(np.entries, ent)
	}
	return np
}

// splitHostPortLoose splits "host:port" and "[v6]:port"; ok is false without a port.
func splitHostPortLoose(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		rb := strings.IndexByte(s, ']')
		if rb < 0 {
			return "", "", false
		}
		if rb+1 < len(s) && s[rb+1] == ':' {
			return s[1:rb], s[rb+2:], true
		}
		return s[1:rb], "", true
	}
	if strings.Count(s, ":") != 1 {
		return "", "", false
	}
	i := strings.IndexByte(s, ':')
	return s[:i], s[i+1:], true
}

// useProxy reports whether a request to host:port goes through the proxy.
func (np *noProxy) useProxy(host, port string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip, ipErr := netip.ParseAddr(host)
	if ipErr == nil && ip.Unmap().IsLoopback() {
		return false
	}
	if np.all {
		return false
	}
	for _, e := range np.entries {
		if e.port != "" && e.port != port {
			continue
		}
		if e.prefix.IsValid() {
			if ipErr == nil && e.prefix.Contains(ip.Unmap().WithZone("")) {
				return false
			}
			continue
		}
		switch {
		case host == e.domain:
			if !e.sub {
				return false
			}
		case strings.HasSuffix(host, "."+e.domain):
			return false
		}
	}
	return true
}
