package resolve

import (
	"bufio"
	"bytes"
	"net/netip"
	"slices"
	"strings"
)

// hostsTable maps a lower-case name without final dot to its addresses, in
// file order.
type hostsTable map[string][]netip.Addr

// parseHosts parses hosts file contents: "address name [alias...]" lines,
// with "#" starting a comment. Malformed lines are skipped.
func parseHosts(data []byte) hostsTable {
	t := hostsTable{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		for _, name := range f[1:] {
			name = strings.ToLower(strings.TrimSuffix(name, "."))
			if name == "" || slices.Contains(t[name], a) {
				continue
			}
			t[name] = append(t[name], a)
		}
	}
	return t
}

// lookup returns a fresh slice of the addresses of name (lower case, no final
// dot), IPv6 first, or nil.
func (t hostsTable) lookup(name string) []netip.Addr {
	addrs := t[name]
	if len(addrs) == 0 {
		return nil
	}
	return v6First(addrs)
}
