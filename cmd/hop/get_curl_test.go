package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

func TestExpandShort(t *testing.T) {
	fs := getFlagSet(&getOptions{})
	tests := []struct{ in, want string }{
		{"-sSfL URL", "-s -S -f -L URL"},
		{"-XPUT URL", "-X PUT URL"},
		{"-sLo out.txt URL", "-s -L -o out.txt URL"},
		{"-sLoout.txt URL", "-s -L -o out.txt URL"},
		{"-sSw %{http_code} URL", "-s -S -w %{http_code} URL"},
		{"-d -abc URL", "-d -abc URL"},             // a value is never expanded
		{"-H -sS URL", "-H -sS URL"},               // nor after a flag that takes one
		{"-json -timing URL", "-json -timing URL"}, // flags of their own
		{"--close -vi URL", "--close -v -i URL"},
		{"-sZ URL", "-sZ URL"}, // Z is no flag: left for the parser to refuse
		{"-- -sS", "-- -sS"},
		{"-o=f URL", "-o=f URL"},
		{"-O URL -O URL2", "-O URL -O URL2"},
	}
	for _, tt := range tests {
		if got := strings.Join(expandShort(fs, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("expandShort(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	o, err := getParseFlags(strings.Fields("-sSfLIk -XPUT -r0-9 -u a:b -o f1 -O http://h/x http://h/y"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.silent || !o.showError || !o.fail || !o.follow || !o.head || !o.insecure || o.method != "PUT" ||
		o.rangeSpec.v != "0-9" || o.user.v != "a:b" || len(o.outputs) != 2 || o.outputs[0].file != "f1" ||
		!o.outputs[1].remote || strings.Join(o.urls, " ") != "http://h/x http://h/y" {
		t.Errorf("parsed %+v", o)
	}
}

func TestGetFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args string
		msg  string
	}{
		{"-I -d x http://h/", "two methods"},
		{"-u nocolon http://h/", "want user:password"},
		{"-r abc http://h/", "byte ranges"},
		{"-sZ http://h/", "flag provided but not defined"},
	} {
		code, _, errOut := getRun(t, strings.Fields(tt.args)...)
		if code != 2 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("hop get %s: exit %d, stderr %q (want 2 and %q)", tt.args, code, errOut, tt.msg)
		}
	}
	// -r 100 means 100- (curl appends the dash).
	if o, err := getParseFlags([]string{"-r", "100", "http://h/"}, io.Discard); err != nil || o.rangeSpec.v != "100-" {
		t.Errorf("-r 100: %v %+v", err, o)
	}
}

func TestRemoteName(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"http://h/a/b.txt", "b.txt"},
		{"http://h/a/b.txt?x=1#f", "b.txt"},
		{"http://h/dir/", ""},
		{"http://h", ""},
		{"h:8080/x%20y.bin", "x%20y.bin"}, // as written, as curl
	} {
		if got, err := remoteName(tt.url); err != nil || got != tt.want {
			t.Errorf("remoteName(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestWriteOut(t *testing.T) {
	resp := &client.Response{Status: 404, Minor: 1}
	resp.Header.Add("Content-Type", "text/html")
	resp.Header.Add("X-Thing", "yes")
	resp.URL.Set("http://h:8/p")
	info := &transferInfo{start: time.Unix(100, 0), end: time.Unix(101, 500_000_000),
		namelookup: 1234 * time.Microsecond, connect: 2 * time.Millisecond, starttransfer: 1500001 * time.Microsecond,
		numConnects: 1, sizeHeader: 77, remote: netip.MustParseAddrPort("127.0.0.1:8"), scheme: "HTTP", method: "GET"}
	r := &getResult{n: 2, given: "h:8/p", url: "http://h:8/p", resp: resp, info: info, bytes: 3000, code: 22,
		err: &httpError{404}, dest: &output{name: "out.txt"}}
	var stdout, stderr bytes.Buffer
	writeOut([]byte(`%{http_code} %{HTTP_CODE} %{time_namelookup} %{time_connect} %{time_appconnect} `+
		`%{time_starttransfer} %{time_total} %{size_download} %{speed_download} %{num_connects} %{remote_ip}:%{remote_port} `+
		`%{url_effective} %{url} %{urlnum} %{content_type} %header{x-thing}|%header{absent}| %{exitcode} %{errormsg} `+
		`%{filename_effective} %{http_version} %{num_headers} %{scheme} %{method} 100%% %z \n\t\r\x %{nope}%{stderr}to stderr%{stdout}!`),
		r, &stdout, &stderr)
	want := "404 404 0.001234 0.002000 0.000000 1.500001 1.500000 3000 2000 1 127.0.0.1:8 http://h:8/p h:8/p 2 text/html yes|| " +
		"22 The requested URL returned error: 404 out.txt 1.1 2 HTTP GET 100% %z \n\t\r\\x !"
	if stdout.String() != want {
		t.Errorf("stdout:\n%q\nwant\n%q", stdout.String(), want)
	}
	if stderr.String() != "hop get: unknown --write-out variable: 'nope'\nto stderr" {
		t.Errorf("stderr %q", stderr.String())
	}
	// %{onerror} stops the output of a request that succeeded.
	stdout.Reset()
	r.code = 0
	writeOut([]byte("a%{onerror}b"), r, &stdout, &stderr)
	if stdout.String() != "a" {
		t.Errorf("onerror on success: %q", stdout.String())
	}
	// A request without response: 000, empty strings and zeros, as curl.
	stdout.Reset()
	r = &getResult{given: "http://h/", url: "http://h/", attempted: true, info: &transferInfo{}, code: 7, dest: &output{}}
	writeOut([]byte("%{http_code}|%{remote_ip}|%{remote_port}|%{content_type}|%{http_version}|%{num_headers}|%{url_effective}|%{filename_effective}"),
		r, &stdout, &stderr)
	if want := "000||0||0|0|http://h/|"; stdout.String() != want {
		t.Errorf("no response: %q, want %q", stdout.String(), want)
	}
}

func TestSpeedAndSeconds(t *testing.T) {
	var b bytes.Buffer
	for _, d := range []time.Duration{0, time.Microsecond, 999999 * time.Microsecond, 61*time.Second + 7*time.Microsecond} {
		writeSeconds(&b, d)
		b.WriteString(" ")
	}
	if b.String() != "0.000000 0.000001 0.999999 61.000007 " {
		t.Errorf("writeSeconds: %q", b.String())
	}
	if s := speed(6, 311*time.Microsecond); s != 19292 { // curl printed 19292 for this
		t.Errorf("speed = %d", s)
	}
	if s := speed(5, 0); s != 5_000_000 {
		t.Errorf("speed in no time = %d", s)
	}
}

func TestMeterFormat(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "    0"}, {99999, "99999"}, {100000, " 97k"}, {1024 * 1024 * 5, "5120k"}, {1024*1024*12 + 1024*700, "12.6M"},
		{1 << 30 * 20, "20.0G"}, {1 << 40 * 3, "3072G"}} {
		if got := max5(tt.n); strings.TrimSpace(got) != strings.TrimSpace(tt.want) || len(got) > 5 {
			t.Errorf("max5(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct {
		s    int64
		want string
	}{{0, "--:--:--"}, {65, " 0:01:05"}, {3600*99 + 59, "99:00:59"}, {3600 * 100, "  4d 04h"}, {86400 * 1000, "   1000d"}} {
		if got := clock8(tt.s); got != tt.want {
			t.Errorf("clock8(%d) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestMeter drives the meter on a fake clock: a 10,000,000-byte download at 1 MB/s
// shows its percentage, the total and left times from Content-Length, and the current
// speed; it redraws once per second and ends with a newline.
func TestMeter(t *testing.T) {
	now := time.Unix(1000, 0)
	var b bytes.Buffer
	m := newMeter(&b, func() time.Time { return now })
	m.sizes(10_000_000, -1)
	m.uploaded(0)
	for range 3 {
		now = now.Add(time.Second)
		m.add(1_000_000)
		m.add(0) // the same second: no redraw
	}
	m.finish()
	m.finish()
	lines := strings.Split(b.String(), "\r")
	header := "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n" +
		"                                 Dload  Upload   Total   Spent    Left  Speed\n"
	if lines[0] != header {
		t.Errorf("header %q", lines[0])
	}
	want := []string{
		"  0 9765k    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0",
		" 10 9765k   10  976k    0     0   976k      0  0:00:10  0:00:01  0:00:09  976k",
		" 20 9765k   20 1953k    0     0   976k      0  0:00:10  0:00:02  0:00:08  976k",
		" 30 9765k   30 2929k    0     0   976k      0  0:00:10  0:00:03  0:00:07  976k",
		" 30 9765k   30 2929k    0     0   976k      0  0:00:10  0:00:03  0:00:07  976k\n",
	}
	if got := lines[1:]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("meter lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeBody(t *testing.T) {
	plain := bytes.Repeat([]byte("hop decodes what it asks for. "), 200)
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	zl := func(b []byte) []byte {
		var out bytes.Buffer
		w := zlib.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	raw := func(b []byte) []byte {
		var out bytes.Buffer
		w, _ := flate.NewWriter(&out, 5)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	zs := func(b []byte) []byte {
		enc, _ := zstd.NewWriter(nil)
		defer enc.Close()
		return enc.EncodeAll(b, nil)
	}
	for _, tt := range []struct {
		codings []string
		body    []byte
		want    []byte
		err     bool
	}{
		{nil, plain, plain, false},
		{[]string{"identity"}, plain, plain, false},
		{[]string{"gzip"}, gz(plain), plain, false},
		{[]string{"X-GZIP"}, gz(plain), plain, false},
		{[]string{"deflate"}, zl(plain), plain, false},
		{[]string{"deflate"}, raw(plain), plain, false}, // raw deflate, as some servers send
		{[]string{"zstd"}, zs(plain), plain, false},
		{[]string{"gzip, zstd"}, zs(gz(plain)), plain, false}, // the last coding is undone first
		{[]string{"gzip", "zstd"}, zs(gz(plain)), plain, false},
		{[]string{"gzip"}, nil, nil, false}, // no body: nothing to decode
		{[]string{"br"}, plain, nil, true},
		{[]string{"gzip"}, plain, nil, true},
		{[]string{"zstd"}, plain, nil, true},
		{[]string{"gzip,gzip,gzip,gzip,gzip,gzip"}, plain, nil, true},
	} {
		var h wire.Header
		for _, c := range tt.codings {
			h.Add("Content-Encoding", c)
		}
		dec, release, err := decodeBody(&h, bytes.NewReader(tt.body))
		var got []byte
		if err == nil {
			got, err = io.ReadAll(dec)
			release()
		}
		var de *decodeError
		if tt.err {
			if !errors.As(err, &de) || exitCode(err, false) != exitBadContentEncoding {
				t.Errorf("%q: error %v, want a decoding error (exit 61)", tt.codings, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%q: %d bytes, %v", tt.codings, len(got), err)
		}
	}
	// An error reading the body keeps its own kind behind a decoder.
	var h wire.Header
	h.Add("Content-Encoding", "gzip")
	var n int64
	src := &countingReader{r: io.MultiReader(bytes.NewReader(gz(plain)[:20]), errReader{client.ErrTruncated}), n: &n}
	dec, release, _ := decodeBody(&h, src)
	defer release()
	_, err := io.ReadAll(dec)
	if code := exitCode(err, false); code != exitPartialFile {
		t.Errorf("truncated gzip body: %v, exit %d, want 18", err, code)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestGetBodyFilesClosed checks that every file opened for a request body is closed:
// the first one and the copy GetBody opens for a 307 redirect, which re-sends it.
func TestGetBodyFilesClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		body, _ := r.ReadBody(1 << 20)
		if string(r.Path()) == "/307" {
			w.Header().Set("Location", "/echo")
			w.WriteHeader(307)
			return
		}
		w.Write(body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	file := filepath.Join(t.TempDir(), "body.bin")
	os.WriteFile(file, []byte("the body"), 0o644)
	openFiles := func() int {
		ents, _ := os.ReadDir("/proc/self/fd")
		n := 0
		for _, e := range ents {
			if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == file {
				n++
			}
		}
		return n
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd")
	}
	base := "http://" + ln.Addr().String()
	for _, args := range [][]string{
		{"-X", "PUT", "--data-binary", "@" + file, "-L", base + "/307", base + "/307"},
		{"--data-binary", "@" + file, "--parallel", "2", "-L", "-X", "PUT", base + "/307", base + "/307"},
		{"--data-binary", "@" + file, base + "/echo"},
	} {
		code, out, errOut := getRun(t, args...)
		if code != 0 || !strings.HasPrefix(out, "the body") {
			t.Fatalf("hop get %q: exit %d, %q, %s", args, code, out, errOut)
		}
		if n := openFiles(); n != 0 {
			t.Errorf("hop get %q left %d descriptors of the body file open", args, n)
		}
	}
}

// TestGetCurlTiming checks -w's times against curl's rules on a redirect chain: each
// request of the chain adds its own time from its start, so time_starttransfer covers
// both waits; time_redirect is when the redirect was followed; the connection is made
// once (reused), so time_connect counts once.
func TestGetCurlTiming(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		time.Sleep(60 * time.Millisecond)
		if string(r.Path()) == "/moved" {
			w.Header().Set("Location", "/here")
			w.WriteHeader(302)
			return
		}
		w.WriteString("here")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	code, out, errOut := getRun(t, "-sL", "-w", "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} "+
		"%{time_starttransfer} %{time_redirect} %{time_total} %{num_connects} %{num_redirects}", base+"/moved")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	f := strings.Fields(strings.TrimPrefix(out, "here"))
	if len(f) != 9 {
		t.Fatalf("-w output %q", out)
	}
	secs := func(s string) time.Duration {
		if !regexp.MustCompile(`^\d+\.\d{6}$`).MatchString(s) {
			t.Errorf("%q is not curl's seconds with six decimals", s)
		}
		v, _ := strconv.ParseFloat(s, 64)
		return time.Duration(v * float64(time.Second))
	}
	ns, conn, app, pre, start, redir, total := secs(f[0]), secs(f[1]), secs(f[2]), secs(f[3]), secs(f[4]), secs(f[5]), secs(f[6])
	if ns <= 0 || conn < ns || app != 0 || pre < conn || pre > start || redir < 60*time.Millisecond ||
		start < 120*time.Millisecond || total < start || f[7] != "1" || f[8] != "1" {
		t.Errorf("times %v: namelookup %v connect %v appconnect %v pretransfer %v starttransfer %v redirect %v total %v",
			f, ns, conn, app, pre, start, redir, total)
	}
	// total is from the start, starttransfer sums both waits from each request's
	// start: the two stay close, and the redirect lies between.
	if redir >= total || start-total > 10*time.Millisecond {
		t.Errorf("redirect %v, starttransfer %v, total %v", redir, start, total)
	}
}

// TestGetFailures checks curl's exit codes for failures hop get can provoke without
// curl: a raw server misbehaves on purpose. TestGetBesideCurl compares most of them
// with curl itself.
func TestGetFailures(t *testing.T) {
	raw := misbehavingServer(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/"
	ln.Close()
	base := "http://" + raw
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{dead}, exitConnect},
		{[]string{base + "/empty"}, exitGotNothing},
		{[]string{base + "/trunc"}, exitPartialFile},
		{[]string{base + "/weird"}, exitUnsupportedProtocol},
		{[]string{base + "/spacefield"}, exitWeirdReply},
		{[]string{"--compressed", base + "/coding"}, exitBadContentEncoding},
		{[]string{base + "/coding"}, 0}, // without --compressed the body is passed on as it is
		{[]string{base + "/badchunk"}, exitRecv},
		{[]string{"-m", "0.3", base + "/slow"}, exitTimeout},
		{[]string{"-o", filepath.Join(dir, "no", "such", "dir"), base + "/trunc"}, exitWrite},
		{[]string{"-O", base + "/"}, exitWrite},
		{[]string{"ftp://" + raw + "/"}, exitUnsupportedProtocol},
		{[]string{"http://[::1/"}, exitURLMalformat},
		{[]string{"--max-redirs", "0", "-L", "-x", base, "http://example.test/"}, exitGotNothing}, // through -x: the proxy's empty reply
	} {
		code, _, errOut := getRun(t, append([]string{"-s", "-S"}, tt.args...)...)
		if code != tt.code {
			t.Errorf("hop get %q: exit %d, want %d (%s)", tt.args, code, tt.code, errOut)
		}
		if tt.code != 0 && !strings.Contains(errOut, fmt.Sprintf("hop get: (%d) ", tt.code)) {
			t.Errorf("hop get -sS %q: stderr %q lacks the error", tt.args, errOut)
		}
		if code, _, errOut := getRun(t, append([]string{"-s"}, tt.args...)...); code != tt.code || errOut != "" {
			t.Errorf("hop get -s %q: exit %d, stderr %q: want %d and nothing", tt.args, code, errOut, tt.code)
		}
	}
	// The exit code is that of the last request that failed.
	if code, _, _ := getRun(t, "-s", dead, base+"/empty", base+"/coding"); code != exitGotNothing {
		t.Errorf("several failures: exit %d, want %d", code, exitGotNothing)
	}
}

// misbehavingServer answers each request on a raw connection by its path, breaking
// the protocol on purpose (see the cases); it returns its address.
func misbehavingServer(t *testing.T) string {
	return testnet.Raw(t, func(c net.Conn, n int) {
		buf := make([]byte, 4096)
		k, _ := c.Read(buf)
		path := ""
		if f := strings.Fields(string(buf[:k])); len(f) > 1 {
			path = f[1]
		}
		switch path {
		case "/empty": // closed without a byte
		case "/trunc":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
		case "/weird":
			io.WriteString(c, "HTTX/1.1 200 OK\r\n\r\n")
		case "/reset":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 1000))
			time.Sleep(200 * time.Millisecond) // the head and the start of the body are read
			c.(*net.TCPConn).SetLinger(0)      // close with RST
		case "/coding":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Encoding: foo\r\nContent-Length: 5\r\n\r\nhello")
		case "/badgzip":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello")
		case "/badchunk":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
			time.Sleep(200 * time.Millisecond)
		case "/badlength":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello")
		case "/slow":
			time.Sleep(3 * time.Second)
		case "/spacefield":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nBad Field: x\r\nContent-Length: 0\r\n\r\n")
		case "/twolengths":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
			time.Sleep(200 * time.Millisecond)
		}
	})
}
