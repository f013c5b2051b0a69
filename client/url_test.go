package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/hop-http/hop/wire"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in                              string
		scheme, host, port, path, query string
		authority, hostport, requestURI string
		fragment                        string
		forceQuery                      bool
	}{
		{in: "http://example.com", scheme: "http", host: "example.com", path: "/",
			authority: "example.com", hostport: "example.com:80", requestURI: "/"},
		{in: "https://example.com/", scheme: "https", host: "example.com", path: "/",
			authority: "example.com", hostport: "example.com:443", requestURI: "/"},
		{in: "HTTP://EXAMPLE.com:8080/A/b?Q=1#Frag", scheme: "http", host: "example.com", port: "8080",
			path: "/A/b", query: "Q=1", fragment: "Frag", authority: "example.com:8080",
			hostport: "example.com:8080", requestURI: "/A/b?Q=1"},
		{in: "http://127.0.0.1:8080/x", scheme: "http", host: "127.0.0.1", port: "8080", path: "/x",
			authority: "127.0.0.1:8080", hostport: "127.0.0.1:8080", requestURI: "/x"},
		{in: "http://[::1]:8080/x", scheme: "http", host: "::1", port: "8080", path: "/x",
			authority: "[::1]:8080", hostport: "[::1]:8080", requestURI: "/x"},
		{in: "http://[2001:DB8::1]/", scheme: "http", host: "2001:db8::1", path: "/",
			authority: "[2001:db8::1]", hostport: "[2001:db8::1]:80", requestURI: "/"},
		{in: "http://[fe80::1%25eth0]:81/", scheme: "http", host: "fe80::1%eth0", port: "81", path: "/",
			authority: "[fe80::1]:81", hostport: "[fe80::1%eth0]:81", requestURI: "/"},
		{in: "http://user:pa%20ss@host/", scheme: "http", host: "host", path: "/",
			authority: "host", hostport: "host:80", requestURI: "/"},
		{in: "http://host:/p", scheme: "http", host: "host", path: "/p",
			authority: "host", hostport: "host:80", requestURI: "/p"},
		{in: "http://host/a b?c d", scheme: "http", host: "host", path: "/a%20b", query: "c%20d",
			authority: "host", hostport: "host:80", requestURI: "/a%20b?c%20d"},
		{in: "http://host/caf\u00e9", scheme: "http", host: "host", path: "/caf%C3%A9",
			authority: "host", hostport: "host:80", requestURI: "/caf%C3%A9"},
		{in: "http://host/%7e?a=%2F&b=/x?y", scheme: "http", host: "host", path: "/%7e", query: "a=%2F&b=/x?y",
			authority: "host", hostport: "host:80", requestURI: "/%7e?a=%2F&b=/x?y"},
		{in: "http://host/p?", scheme: "http", host: "host", path: "/p", forceQuery: true,
			authority: "host", hostport: "host:80", requestURI: "/p?"},
		{in: "  http://host/p  ", scheme: "http", host: "host", path: "/p",
			authority: "host", hostport: "host:80", requestURI: "/p"},
		{in: "http://host?q", scheme: "http", host: "host", path: "/", query: "q",
			authority: "host", hostport: "host:80", requestURI: "/?q"},
		{in: "http://host:65535", scheme: "http", host: "host", port: "65535", path: "/",
			authority: "host:65535", hostport: "host:65535", requestURI: "/"},
	}
	for _, tt := range tests {
		u, err := ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		got := []string{u.Scheme, u.Host, u.Port, u.Path, u.RawQuery, u.Authority(), u.HostPort(), u.RequestURI(), u.Fragment}
		want := []string{tt.scheme, tt.host, tt.port, tt.path, tt.query, tt.authority, tt.hostport, tt.requestURI, tt.fragment}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("ParseURL(%q): field %d = %q, want %q", tt.in, i, got[i], want[i])
			}
		}
		if u.ForceQuery != tt.forceQuery {
			t.Errorf("ParseURL(%q): ForceQuery = %v", tt.in, u.ForceQuery)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "not an absolute URL"},
		{"/relative", "not an absolute URL"},
		{"example.com/x", "not an absolute URL"},
		{"//example.com/x", "missing scheme"},
		{"ftp://example.com/", "unsupported scheme \"ftp\""},
		{"file:///etc/passwd", "unsupported scheme \"file\""},
		{"mailto:a@b", "unsupported scheme \"mailto\""},
		{"http:/x", "missing host"},
		{"http://", "missing host"},
		{"http:///path", "missing host"},
		{"http://:80/", "missing host"},
		{"http://user@/", "missing host"},
		{"http://host:0/", "port out of range"},
		{"http://host:65536/", "port out of range"},
		{"http://host:123456/", "invalid port"},
		{"http://host:8a/", "invalid port"},
		{"http://[::1/", "unterminated IPv6"},
		{"http://[::1]x/", "unexpected characters after IPv6"},
		{"http://[1.2.3.4]/", "invalid IPv6 address"},
		{"http://[v1.x]/", "IPvFuture"},
		{"http://[fe80::1%eth0]/", "invalid IPv6 address"},
		{"http://exa mple.com/", "invalid character \" \" in host"},
		{"http://ex%41mple.com/", "percent-encoded host"},
		{"http://host/%zz", "malformed percent-encoding \"%zz\" in path"},
		{"http://host/%4", "malformed percent-encoding"},
		{"http://host/?a=%", "malformed percent-encoding \"%\" in query"},
		{"http://us er@host/", "invalid character in userinfo"},
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.in)
		var ue *URLError
		if !errors.As(err, &ue) {
			t.Errorf("ParseURL(%q) = %v, want a *URLError", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURL(%q) error %q does not say %q", tt.in, err, tt.want)
		}
	}
}

// The examples of RFC 3986 §5.4.
func TestResolveReference(t *testing.T) {
	const base = "http://a/b/c/d;p?q"
	tests := []struct{ ref, want string }{
		// 5.4.1 normal examples
		{"g:h", "g:h"},
		{"g", "http://a/b/c/g"},
		{"./g", "http://a/b/c/g"},
		{"g/", "http://a/b/c/g/"},
		{"/g", "http://a/g"},
		{"//g", "http://g"},
		{"?y", "http://a/b/c/d;p?y"},
		{"g?y", "http://a/b/c/g?y"},
		{"#s", "http://a/b/c/d;p?q#s"},
		{"g#s", "http://a/b/c/g#s"},
		{"g?y#s", "http://a/b/c/g?y#s"},
		{";x", "http://a/b/c/;x"},
		{"g;x", "http://a/b/c/g;x"},
		{"g;x?y#s", "http://a/b/c/g;x?y#s"},
		{"", "http://a/b/c/d;p?q"},
		{".", "http://a/b/c/"},
		{"./", "http://a/b/c/"},
		{"..", "http://a/b/"},
		{"../", "http://a/b/"},
		{"../g", "http://a/b/g"},
		{"../..", "http://a/"},
		{"../../", "http://a/"},
		{"../../g", "http://a/g"},
		// 5.4.2 abnormal examples
		{"../../../g", "http://a/g"},
		{"../../../../g", "http://a/g"},
		{"/./g", "http://a/g"},
		{"/../g", "http://a/g"},
		{"g.", "http://a/b/c/g."},
		{".g", "http://a/b/c/.g"},
		{"g..", "http://a/b/c/g.."},
		{"..g", "http://a/b/c/..g"},
		{"./../g", "http://a/b/g"},
		{"./g/.", "http://a/b/c/g/"},
		{"g/./h", "http://a/b/c/g/h"},
		{"g/../h", "http://a/b/c/h"},
		{"g;x=1/./y", "http://a/b/c/g;x=1/y"},
		{"g;x=1/../y", "http://a/b/c/y"},
		{"g?y/./x", "http://a/b/c/g?y/./x"},
		{"g?y/../x", "http://a/b/c/g?y/../x"},
		{"g#s/./x", "http://a/b/c/g#s/./x"},
		{"g#s/../x", "http://a/b/c/g#s/../x"},
		{"http:g", "http:g"}, // strict parsers
	}
	for _, tt := range tests {
		if got := ResolveReference(base, tt.ref); got != tt.want {
			t.Errorf("ResolveReference(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func TestURLResolve(t *testing.T) {
	base, err := ParseURL("https://example.com:8443/a/b?x=1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ ref, want string }{
		{"/c", "https://example.com:8443/c"},
		{"c?y=2", "https://example.com:8443/a/c?y=2"},
		{"//other.example/p", "https://other.example/p"},
		{"http://[::1]:9/z", "http://[::1]:9/z"},
	}
	for _, tt := range tests {
		u, err := base.Resolve(tt.ref)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tt.ref, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("Resolve(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
	if _, err := base.Resolve("ftp://x/"); err == nil {
		t.Error("Resolve to ftp:// succeeded")
	}
}

func TestURLStringAndAbsolute(t *testing.T) {
	u, err := ParseURL("http://user:secret@Host:81/p?q#f")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "http://user:secret@host:81/p?q#f"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := u.Redacted(), "http://user:xxxxx@host:81/p?q#f"; got != want {
		t.Errorf("Redacted = %q, want %q", got, want)
	}
	if got, want := string(u.AppendAbsolute(nil)), "http://host:81/p?q"; got != want {
		t.Errorf("AppendAbsolute = %q, want %q", got, want)
	}
}

func TestParseURLDoesNotAllocate(t *testing.T) {
	const s = "http://127.0.0.1:8080/plaintext?x=1"
	var u URL
	allocs := testing.AllocsPerRun(100, func() {
		if err := u.Set(s); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("URL.Set allocates %.0f times per call, want 0", allocs)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"http://a/b?c#d", "https://[::1]:1/", "http://u@h:1/%41", "http://h/a b",
		"HTTP://EXAMPLE.com:8080/A/b?Q=1#Frag", "http://[fe80::1%25eth0]:81/", "http://host:/p",
		"http://host/caf\u00e9", "https://h:65535", "http://h:0", "http://[v1.x]/", "http://ex%41mple.com/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			return
		}
		// What parses must round-trip, and its request target must be sendable.
		v, err := ParseURL(u.String())
		if err != nil {
			t.Fatalf("ParseURL(%q) ok but its String %q does not parse: %v", s, u.String(), err)
		}
		if v.String() != u.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, u.String(), v.String())
		}
		for _, c := range []byte(u.RequestURI()) {
			if c <= ' ' || c >= 0x7f || c == '#' {
				t.Fatalf("request target %q contains %q", u.RequestURI(), c)
			}
		}
		// Its Host is one hop's own parser takes: one grammar for both sides.
		if a, err := wire.ParseAuthority(u.Authority()); err != nil || a.HasUserInfo || a.Host == "" {
			t.Fatalf("%q: Host %q: %+v %v", s, u.Authority(), a, err)
		}
	})
}
