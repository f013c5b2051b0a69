package fileserver

import (
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hop-http/hop/internal/selfsigned"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

type logRecord struct {
	Msg    string  `json:"msg"`
	Conn   uint64  `json:"conn"`
	Req    int     `json:"req"`
	Remote string  `json:"remote"`
	Method string  `json:"method"`
	Target string  `json:"target"`
	Status int     `json:"status"`
	Bytes  int64   `json:"bytes"`
	Enc    string  `json:"enc"`
	MS     float64 `json:"ms"`
	TLS    bool    `json:"tls"`
}

func parseLog(t *testing.T, s string) []logRecord {
	t.Helper()
	var out []logRecord
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestAccessLogConnections checks that server.AccessLog over the file server tells
// requests on one kept-alive connection apart from those on another, with the
// encoding and the bytes of ranges.
func TestAccessLogConnections(t *testing.T) {
	tr := makeTree(t)
	h, err := New(tr.root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var buf testnet.Buffer
	addr := startServer(t, server.AccessLog(h, slog.New(slog.NewJSONHandler(&buf, nil))), nil)
	rawRequests(t, addr, nil,
		buildRequest("GET", "/hello.txt"),
		buildRequest("GET", "/big.txt", "Accept-Encoding: gzip"),
		buildRequest("HEAD", "/missing"))
	rawRequests(t, addr, nil, buildRequest("GET", "/hello.txt", "Range: bytes=0-4"))

	recs := parseLog(t, buf.String())
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4:\n%s", len(recs), buf.String())
	}
	want := []struct {
		req    int
		target string
		status int
		bytes  int64
		enc    string
	}{
		{1, "/hello.txt", 200, 13, ""},
		{2, "/big.txt", 200, -1, "gzip"},
		{3, "/missing", 404, -1, ""},
		{1, "/hello.txt", 206, 5, ""},
	}
	for i, w := range want {
		r := recs[i]
		if r.Msg != "request" || r.Req != w.req || r.Target != w.target || r.Status != w.status ||
			r.Enc != w.enc || (w.bytes >= 0 && r.Bytes != w.bytes) || r.Remote == "" || r.Method == "" {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
	}
	if recs[0].Conn != recs[1].Conn || recs[1].Conn != recs[2].Conn {
		t.Errorf("one connection logged as %d, %d, %d", recs[0].Conn, recs[1].Conn, recs[2].Conn)
	}
	if recs[3].Conn == recs[0].Conn {
		t.Errorf("second connection logged with the first one's id %d", recs[3].Conn)
	}
}

// TestTLS serves over TLS, where ReadFrom cannot use sendfile and copies instead: whole
// files and ranges must come out exact, and the log must say tls.
func TestTLS(t *testing.T) {
	for _, m := range openModes {
		t.Run(m.name, func(t *testing.T) { testTLS(t, m.portable) })
	}
}

func testTLS(t *testing.T, portable bool) {
	tr := makeTree(t)
	h, err := New(tr.root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.portable = portable
	cert, err := selfsigned.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	var buf testnet.Buffer
	addr := startServer(t, server.AccessLog(h, slog.New(slog.NewJSONHandler(&buf, nil))),
		&tls.Config{Certificates: []tls.Certificate{cert}})
	rs := rawRequests(t, addr, &tls.Config{InsecureSkipVerify: true},
		buildRequest("GET", "/data.bin"),
		buildRequest("GET", "/data.bin", "Range: bytes=1000-"),
		buildRequest("GET", "/data.bin", "Range: bytes=100000-150000"),
		buildRequest("GET", "/data.bin", "Range: bytes=0-99,150000-"),
		buildRequest("GET", "/big.txt", "Accept-Encoding: zstd"),
		buildRequest("GET", "/hello.txt"),
	)
	bodyBytes(tr.data)(t, rs[0])
	bodyBytes(tr.data[1000:])(t, rs[1])
	bodyBytes(tr.data[100000:150001])(t, rs[2])
	status(206)(t, rs[3])
	multipartBody(tr.data, [2]int{0, 99}, [2]int{150000, len(tr.data) - 1})(t, rs[3])
	decoded("zstd", tr.big)(t, rs[4])
	body(helloBody)(t, rs[5])
	for _, r := range parseLog(t, buf.String()) {
		if !r.TLS {
			t.Errorf("record without tls: %+v", r)
		}
	}
}
