package resolve

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// glibc defaults and limits (resolv.h).
const (
	defaultNdots    = 1
	defaultTimeout  = 5 * time.Second
	defaultAttempts = 2
	maxNameservers  = 3  // MAXNS
	maxNdots        = 15 // RES_MAXNDOTS
	maxTimeout      = 30 // RES_MAXRETRANS, seconds
	maxAttempts     = 5  // RES_MAXRETRY
)

// config is the parsed resolver configuration.
type config struct {
	servers  []string // "ip:port"
	search   []string // lower case, no trailing dot
	ndots    int
	timeout  time.Duration
	attempts int
	rotate   bool
}

// parseResolvConf parses resolv.conf contents. Unknown lines and options are
// ignored; nil data (missing file) gives the defaults.
func parseResolvConf(data []byte) *config {
	c := &config{ndots: defaultNdots, timeout: defaultTimeout, attempts: defaultAttempts}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 && len(c.servers) < maxNameservers {
				if a, err := netip.ParseAddr(f[1]); err == nil {
					c.servers = append(c.servers, net.JoinHostPort(a.String(), "53"))
				}
			}
		case "domain":
			if len(f) > 1 {
				c.search = normalizeSearch(f[1:2])
			}
		case "search":
			c.search = normalizeSearch(f[1:])
		case "options":
			for _, o := range f[1:] {
				key, val, _ := strings.Cut(o, ":")
				switch key {
				case "ndots":
					c.ndots = optInt(val, c.ndots, 0, maxNdots)
				case "timeout":
					c.timeout = time.Duration(optInt(val, int(c.timeout/time.Second), 1, maxTimeout)) * time.Second
				case "attempts":
					c.attempts = optInt(val, c.attempts, 1, maxAttempts)
				case "rotate":
					c.rotate = true
				}
			}
		}
	}
	if len(c.servers) == 0 {
		c.servers = []string{"127.0.0.1:53", "[::1]:53"}
	}
	return c
}

// optInt parses an option value, clamping it to [lo, hi]; a malformed value
// keeps def.
func optInt(s string, def, lo, hi int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return min(max(n, lo), hi)
}

func normalizeSearch(domains []string) []string {
	var out []string
	for _, d := range domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d != "" && validName(d) {
			out = append(out, d)
		}
	}
	return out
}

// normalizeServer turns "ip", "ip:port" or "[ip]:port" into "ip:port" form
// with port 53 by default. Anything else is returned unchanged for the dialer.
func normalizeServer(s string) string {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return net.JoinHostPort(a.String(), "53")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String()
	}
	return s
}

// effective applies the Resolver's overrides to the file configuration.
func (r *Resolver) effective(file *config) *config {
	c := *file
	if len(r.Nameservers) > 0 {
		c.servers = make([]string, len(r.Nameservers))
		for i, s := range r.Nameservers {
			c.servers[i] = normalizeServer(s)
		}
	}
	if r.Timeout > 0 {
		c.timeout = r.Timeout
	}
	if r.Attempts > 0 {
		c.attempts = r.Attempts
	}
	return &c
}

// nameList returns the fully qualified names (with the final dot) to try for
// name, which is lower case and valid, in order: names ending in "." are
// tried alone; names with at least ndots dots are tried as is before the
// search list, other names after it.
func (c *config) nameList(name string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	asIs := strings.Count(name, ".") >= c.ndots
	names := make([]string, 0, len(c.search)+1)
	if asIs {
		names = append(names, name+".")
	}
	for _, s := range c.search {
		if fqdn := name + "." + s + "."; len(fqdn) <= 254 {
			names = append(names, fqdn)
		}
	}
	if !asIs {
		names = append(names, name+".")
	}
	return names
}

// fileCache holds the parsed contents of a file and re-reads it when its
// modification time or size changes, checking at most every
// fileCheckInterval.
type fileCache[T any] struct {
	parse func([]byte) T

	mu      sync.Mutex
	loaded  bool
	path    string
	val     T
	mtime   time.Time
	size    int64
	exists  bool
	checked time.Time
}

func (f *fileCache[T]) get(path string, now time.Time) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loaded && f.path == path {
		if since := now.Sub(f.checked); since >= 0 && since < fileCheckInterval {
			return f.val
		}
	}
	f.checked = now
	fi, err := os.Stat(path)
	exists := err == nil
	if f.loaded && f.path == path && exists == f.exists &&
		(!exists || fi.ModTime().Equal(f.mtime) && fi.Size() == f.size) {
		return f.val
	}
	var data []byte
	if exists {
		data, _ = os.ReadFile(path)
		f.mtime, f.size = fi.ModTime(), fi.Size()
	}
	f.val = f.parse(data)
	f.loaded, f.path, f.exists = true, path, exists
	return f.val
}
