package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// The fuzz targets take the input's first byte(s) as parameters (where to split the
// input, which request method a response answers) and the rest as the bytes on the
// wire. Seeds: hand-written messages plus the conformance corpus.

// corpusSeeds returns the raw inputs of the conformance corpus of one kind.
func corpusSeeds(f *testing.F, kind string) [][]byte {
	var out [][]byte
	for _, c := range loadCorpus(f) {
		if c.Kind == kind {
			out = append(out, c.raw)
		}
	}
	return out
}

// checkError asserts that err is ErrNeedMore or an *Error with a status a server sends.
func checkError(t *testing.T, err error) {
	t.Helper()
	if err == nil || err == ErrNeedMore {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	switch e.Status {
	case 400, 413, 414, 417, 431, 501, 505:
	default:
		t.Fatalf("error %v has status %d", err, e.Status)
	}
}

type fieldList [][2]string

func headerFields(h *Header) fieldList {
	var out fieldList
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		out = append(out, [2]string{string(n), string(v)})
	}
	return out
}

// requestView is everything a parse yields, in comparable form.
type requestView struct {
	N, HeadLen                    int
	Err                           error
	Method, Target, Host          string
	HostNil                       bool
	Major, Minor                  uint8
	Framing                       Framing
	ContentLength                 int64
	KeepAlive, Expect100, Upgrade bool
	Fields                        fieldList
}

func viewRequest(n int, err error, r *Request) requestView {
	if err != nil {
		return requestView{Err: err}
	}
	return requestView{
		N: n, HeadLen: r.HeadLen, Method: string(r.Method), Target: string(r.Target),
		Host: string(r.Host), HostNil: r.Host == nil, Major: r.Major, Minor: r.Minor,
		Framing: r.Framing, ContentLength: r.ContentLength, KeepAlive: r.KeepAlive,
		Expect100: r.Expect100, Upgrade: r.Upgrade, Fields: headerFields(&r.Header),
	}
}

// parseRequestReads parses in delivered in reads ending at the given offsets.
func parseRequestReads(lim Limits, in []byte, reads ...int) requestView {
	p := Parser{Limits: lim}
	var r Request
	n, err := 0, ErrNeedMore
	for _, end := range reads {
		if n, err = p.ParseRequest(in[:end], &r); err != ErrNeedMore {
			break
		}
	}
	return viewRequest(n, err, &r)
}

// fuzzLimits picks the default limits or small ones (so that fuzzing reaches them).
func fuzzLimits(sel byte) Limits {
	if sel&1 == 0 {
		return Limits{}
	}
	return Limits{MaxRequestLine: 40, MaxHeaderBytes: 80, MaxHeaderFields: 4, MaxChunkLine: 12, MaxTrailerBytes: 24}
}

func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p?q HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nExpect: 100-continue\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET http://u@a.example/x HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX:  v \t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n x\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/2.0\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add(append([]byte{byte(i * 7), byte(i)}, s...))
	}
	for i, raw := range corpusSeeds(f, "request") {
		f.Add(append([]byte{byte(i), byte(i)}, raw...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		in := data[2:]
		split := int(data[0]) % (len(in) + 1)
		lim := fuzzLimits(data[1])

		p := Parser{Limits: lim}
		var r Request
		n, err := p.ParseRequest(in, &r)
		checkError(t, err)
		whole := viewRequest(n, err, &r)
		if got := parseRequestReads(lim, in, split, len(in)); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d:\n got %+v\nwant %+v", split, got, whole)
		}
		if len(in) <= 256 {
			reads := make([]int, len(in))
			for i := range reads {
				reads[i] = i + 1
			}
			if got := parseRequestReads(lim, in, reads...); !reflect.DeepEqual(got, whole) {
				t.Fatalf("one byte per read:\n got %+v\nwant %+v", got, whole)
			}
		}
		if err != nil {
			return
		}
		if n <= 0 || n > len(in) || r.HeadLen != n || !bytes.HasSuffix(in[:n], []byte("\r\n\r\n")) && !bytes.Equal(in[:n], []byte("\r\n")) {
			t.Fatalf("head length %d of %d", n, len(in))
		}
		// Re-serialized, the request parses to the same fields.
		out := AppendRequestLine(nil, r.Method, r.Target, r.Minor)
		out = AppendHeader(out, &r.Header)
		out = append(out, "\r\n"...)
		p2 := Parser{Limits: Limits{MaxRequestLine: len(out), MaxHeaderBytes: len(out)}}
		var r2 Request
		n2, err2 := p2.ParseRequest(out, &r2)
		again := viewRequest(n2, err2, &r2)
		whole.N, whole.HeadLen = len(out), len(out)
		if !reflect.DeepEqual(again, whole) {
			t.Fatalf("re-serialized %q:\n got %+v\nwant %+v", out, again, whole)
		}
	})
}

type responseView struct {
	N                           int
	Err                         error
	Major, Minor                uint8
	Status                      int
	Reason                      string
	Framing                     Framing
	ContentLength               int64
	KeepAlive                   bool
	KeepAliveTimeout, KeepAlMax int
	Fields                      fieldList
}

func viewResponse(n int, err error, r *Response) responseView {
	if err != nil {
		return responseView{Err: err}
	}
	return responseView{
		N: n, Major: r.Major, Minor: r.Minor, Status: r.Status, Reason: string(r.Reason),
		Framing: r.Framing, ContentLength: r.ContentLength, KeepAlive: r.KeepAlive,
		KeepAliveTimeout: r.KeepAliveTimeout, KeepAlMax: r.KeepAliveMax, Fields: headerFields(&r.Header),
	}
}

var fuzzMethods = []string{"GET", "HEAD", "CONNECT", "POST"}

func FuzzParseResponse(f *testing.F) {
	seeds := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 301\r\nLocation: /\r\n\r\n",
		"\r\nHTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 200 Ori\xebntatieprobleem\r\nContent-Length: 0\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add(append([]byte{byte(i * 5), byte(i)}, s...))
	}
	for i, raw := range corpusSeeds(f, "response") {
		f.Add(append([]byte{byte(i), 0}, raw...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		in := data[2:]
		split := int(data[0]) % (len(in) + 1)
		method := []byte(fuzzMethods[int(data[1])%len(fuzzMethods)])

		lim := fuzzLimits(data[1] >> 2)

		reads := func(ends ...int) responseView {
			p := Parser{Limits: lim}
			var r Response
			n, err := 0, ErrNeedMore
			for _, end := range ends {
				if n, err = p.ParseResponse(in[:end], &r, method); err != ErrNeedMore {
					break
				}
			}
			return viewResponse(n, err, &r)
		}
		p := Parser{Limits: lim}
		var r Response
		n, err := p.ParseResponse(in, &r, method)
		checkError(t, err)
		whole := viewResponse(n, err, &r)
		if got := reads(split, len(in)); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d:\n got %+v\nwant %+v", split, got, whole)
		}
		if len(in) <= 256 {
			ends := make([]int, len(in))
			for i := range ends {
				ends[i] = i + 1
			}
			if got := reads(ends...); !reflect.DeepEqual(got, whole) {
				t.Fatalf("one byte per read:\n got %+v\nwant %+v", got, whole)
			}
		}
		if err != nil {
			return
		}
		if r.Status < 100 || r.Status > 999 || n > len(in) {
			t.Fatalf("status %d, head %d of %d", r.Status, n, len(in))
		}
		// Re-serialized (with the standard reason when there was none), it parses the same.
		out := AppendStatusLine(nil, r.Minor, r.Status, string(r.Reason))
		out = AppendHeader(out, &r.Header)
		out = append(out, "\r\n"...)
		p3 := Parser{Limits: Limits{MaxRequestLine: len(out), MaxHeaderBytes: len(out)}}
		var r3 Response
		n3, err3 := p3.ParseResponse(out, &r3, method)
		again := viewResponse(n3, err3, &r3)
		whole.N = len(out)
		if len(whole.Reason) == 0 {
			whole.Reason = StatusText(r.Status)
		}
		if !reflect.DeepEqual(again, whole) {
			t.Fatalf("re-serialized %q:\n got %+v\nwant %+v", out, again, whole)
		}
	})
}

type chunkedView struct {
	Body    string
	Used    int
	Err     error
	Done    bool
	Trailer fieldList
}

func decodeView(lim Limits, in []byte, reads ...int) chunkedView {
	d := ChunkedDecoder{Limits: lim}
	var v chunkedView
	var body []byte
	for _, end := range reads {
		for !d.Done() {
			n, data, err := d.Decode(in[v.Used:end])
			if n < 0 || v.Used+n > end || len(data) > n {
				panic(fmt.Sprintf("Decode returned %d bytes consumed, %d data, of %d", n, len(data), end-v.Used))
			}
			v.Used += n
			body = append(body, data...)
			if err != nil {
				v.Err = err
				v.Body = string(body)
				return v
			}
			if n == 0 {
				break
			}
		}
	}
	v.Body, v.Done, v.Trailer = string(body), d.Done(), headerFields(&d.Trailer)
	return v
}

func FuzzChunked(f *testing.F) {
	seeds := []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"1a;ext=\"q\\\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n",
		"5 ; a = b\r\nhello\r\n000\r\n\r\n",
		"ffffffffffffffff\r\n",
		"5\r\nhelloX\r\n",
		"0\r\nA: b\r\n c\r\n\r\n",
		"3\nabc\r\n0\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add(append([]byte{byte(i * 3)}, s...))
	}
	for i, raw := range append(corpusSeeds(f, "request"), corpusSeeds(f, "response")...) {
		if j := bytes.Index(raw, []byte("\r\n\r\n")); j >= 0 && bytes.Contains(bytes.ToLower(raw[:j]), []byte("chunked")) {
			f.Add(append([]byte{byte(i)}, raw[j+4:]...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		in := data[1:]
		split := int(data[0]) % (len(in) + 1)
		lim := fuzzLimits(data[0] >> 7)
		whole := decodeView(lim, in, len(in))
		checkError(t, whole.Err)
		if got := decodeView(lim, in, split, len(in)); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split at %d:\n got %+v\nwant %+v", split, got, whole)
		}
		if !whole.Done || whole.Err != nil {
			return
		}
		// Re-encoded, the body and trailers decode the same.
		var tr Header
		for _, f := range whole.Trailer {
			tr.Add(f[0], f[1])
		}
		out := AppendChunk(nil, []byte(whole.Body))
		out = AppendLastChunk(out, &tr)
		again := decodeView(Limits{MaxTrailerBytes: len(out), MaxHeaderFields: len(whole.Trailer) + 1}, out, len(out))
		whole.Used = len(out)
		if !reflect.DeepEqual(again, whole) {
			t.Fatalf("re-encoded %q:\n got %+v\nwant %+v", out, again, whole)
		}
	})
}
