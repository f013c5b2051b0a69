package wire

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// This file runs the llhttp conformance corpus (testdata/conformance, a copy of the
// shared corpus; see its README.md) through the Parser and the body framing, the way a
// connection would: several pipelined messages in one input, bodies by Content-Length,
// chunked or connection close. Every case is run in one read, one byte per read, and
// split in two at every byte boundary; all runs must agree. The corpus is part of the
// repository, so a missing file is a failure, not a skip.
//
// llhttp's verdicts are the reference. Where hop differs on purpose, the case is listed
// in llhttpDeviations with hop's outcome and the reason, which follows from the
// strictness policy of DESIGN.md (or RFC 9110/9112 where the policy defers to them).
// One deviation is handled by a rule instead of a list: hop requires Host in HTTP/1.1
// requests (DESIGN.md: "missing ... Host in HTTP/1.1" is a 400), and most llhttp
// request cases carry none. When a case fails with ErrMissingHost on a Host-less
// HTTP/1.1 request, that is counted as the documented deviation and the case is run
// again with the Host check disabled (Parser.hostOptional), and that run is compared.

// corpusPath is the corpus; $HOP_CONFORMANCE (the file) replaces it, to try another.
const corpusPath = "testdata/conformance/llhttp-strict-cases.jsonl"

func findCorpus() string {
	if env := os.Getenv("HOP_CONFORMANCE"); env != "" {
		return env
	}
	return corpusPath
}

type confField struct {
	Name         string `json:"name"`
	ValueTrimmed string `json:"value_trimmed"`
}

type confMessage struct {
	Method   *string     `json:"method"`
	URL      *string     `json:"url"`
	Version  *string     `json:"version"`
	Status   *int        `json:"status"`
	Reason   *string     `json:"reason"`
	Headers  []confField `json:"headers"`
	Trailers []confField `json:"trailers"`
	Body     string      `json:"body"`
	Complete bool        `json:"complete"`
}

type confCase struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	Meta struct {
		SkipBody bool `json:"skipBody"`
	} `json:"meta"`
	RawB64  string `json:"raw_b64"`
	Outcome string `json:"outcome"`
	Error   *struct {
		Name string `json:"name"`
	} `json:"error"`
	Messages []confMessage `json:"messages"`

	raw []byte
}

func loadCorpus(t testing.TB) []confCase {
	t.Helper()
	cases, err := readCorpus(findCorpus())
	if err != nil {
		t.Fatalf("conformance corpus: %v", err)
	}
	return cases
}

func readCorpus(path string) ([]confCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []confCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var c confCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if c.raw, err = base64.StdEncoding.DecodeString(c.RawB64); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, c.ID, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	return cases, nil
}

// latin1 turns a corpus string (raw bytes decoded as ISO-8859-1) back into bytes.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// Outcomes of a run. outClosed is llhttp's CLOSED_CONNECTION error: bytes after a
// message that ends the connection (Connection: close, HTTP/1.0 without keep-alive).
const (
	outComplete   = "complete"
	outError      = "error"
	outIncomplete = "incomplete"
	outUpgrade    = "upgrade"
	outClosed     = "closed"
)

type simField struct{ Name, Value string }

type simMessage struct {
	Method, URL, Version, Reason string
	Status                       int
	Headers, Trailers            []simField
	Body                         string
}

type simResult struct {
	Outcome string
	Err     error        // the *Error when Outcome is outError
	ErrAt   int          // offset of the message being read when it failed
	Msgs    []simMessage // complete messages
	Heads   []simMessage // every head parsed, complete message or not
}

// connSim consumes one input the way a connection does, as its bytes become available.
type connSim struct {
	response     bool
	skipBody     bool // llhttp's on_headers_complete returning 1 (a HEAD exchange)
	hostOptional bool
	data         []byte

	avail, off int
	inBody     bool
	framing    Framing
	remaining  int64
	keepAlive  bool
	upgrade    bool
	p          Parser
	req        Request
	resp       Response
	dec        ChunkedDecoder
	cur        simMessage

	stopped bool
	res     simResult
}

func fields(h *Header) []simField {
	var out []simField
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		out = append(out, simField{string(n), string(v)})
	}
	return out
}

func (c *connSim) stop(outcome string, err error) {
	c.stopped, c.res.Outcome, c.res.Err = true, outcome, err
	if err != nil {
		c.res.ErrAt = c.off
	}
}

// feed makes data[:n] available and processes as far as it goes.
func (c *connSim) feed(n int) {
	c.avail = n
	for !c.stopped {
		var progress bool
		if c.inBody {
			progress = c.body()
		} else {
			progress = c.head()
		}
		if !progress {
			return
		}
	}
}

func (c *connSim) head() bool {
	buf := c.data[c.off:c.avail]
	if len(buf) == 0 {
		return false
	}
	c.p.hostOptional = c.hostOptional
	var n int
	var err error
	if c.response {
		method := "GET"
		if c.skipBody {
			method = "HEAD"
		}
		n, err = c.p.ParseResponse(buf, &c.resp, []byte(method))
	} else {
		n, err = c.p.ParseRequest(buf, &c.req)
	}
	if err == ErrNeedMore {
		return false
	}
	if err != nil {
		c.stop(outError, err)
		return false
	}
	c.off += n
	c.cur = simMessage{}
	tunnel := false
	if c.response {
		r := &c.resp
		c.cur.Status, c.cur.Reason = r.Status, string(r.Reason)
		c.cur.Version = fmt.Sprintf("%d.%d", r.Major, r.Minor)
		c.cur.Headers = fields(&r.Header)
		c.framing, c.remaining, c.keepAlive, c.upgrade = r.Framing, r.ContentLength, r.KeepAlive, false
		tunnel = r.Status == 101
	} else {
		r := &c.req
		c.cur.Method, c.cur.URL = string(r.Method), string(r.Target)
		c.cur.Version = fmt.Sprintf("%d.%d", r.Major, r.Minor)
		c.cur.Headers = fields(&r.Header)
		c.framing, c.remaining, c.keepAlive, c.upgrade = r.Framing, r.ContentLength, r.KeepAlive, r.Upgrade
		tunnel = r.IsMethod("CONNECT") // the connection is a tunnel after the head
	}
	c.res.Heads = append(c.res.Heads, c.cur)
	if tunnel {
		c.res.Msgs = append(c.res.Msgs, c.cur)
		c.stop(outUpgrade, nil)
		return false
	}
	if c.skipBody {
		c.framing = FramingNone
	}
	if c.framing == FramingChunked {
		c.dec.Reset()
	}
	c.inBody = true
	return true
}

func (c *connSim) body() bool {
	switch c.framing {
	case FramingLength:
		n := int64(c.avail - c.off)
		if n > c.remaining {
			n = c.remaining
		}
		c.cur.Body += string(c.data[c.off : c.off+int(n)])
		c.off += int(n)
		c.remaining -= n
		if c.remaining > 0 {
			return false
		}
	case FramingChunked:
		consumed, data, err := c.dec.Decode(c.data[c.off:c.avail])
		c.off += consumed
		c.cur.Body += string(data)
		if err != nil {
			c.stop(outError, err)
			return false
		}
		if !c.dec.Done() {
			return consumed > 0 || len(data) > 0
		}
		c.cur.Trailers = fields(&c.dec.Trailer)
	case FramingClose:
		c.cur.Body += string(c.data[c.off:c.avail])
		c.off = c.avail
		return false
	}
	c.res.Msgs = append(c.res.Msgs, c.cur)
	c.inBody = false
	switch {
	case c.upgrade:
		c.stop(outUpgrade, nil)
	case !c.keepAlive:
		c.stop(outClosed, nil) // decided in result: only bytes after it make it an error
	}
	return true
}

// result is the outcome once the whole input has been delivered.
func (c *connSim) result() simResult {
	r := c.res
	switch {
	case c.stopped:
		if r.Outcome == outClosed && c.off == len(c.data) {
			r.Outcome = outComplete
		}
	case c.inBody:
		r.Outcome = outIncomplete
	default:
		// Between messages: nothing left, or only the empty line hop tolerates before
		// the next start line (no message has begun).
		switch rest := string(c.data[c.off:]); rest {
		case "", "\r", "\r\n":
			r.Outcome = outComplete
		default:
			r.Outcome = outIncomplete
		}
	}
	return r
}

type simOptions struct {
	response, skipBody, hostOptional bool
}

// simulate runs data delivered in reads ending at the given offsets (the last must be
// len(data)).
func simulate(data []byte, o simOptions, reads ...int) simResult {
	c := &connSim{response: o.response, skipBody: o.skipBody, hostOptional: o.hostOptional, data: data}
	for _, n := range reads {
		c.feed(n)
	}
	return c.result()
}

// simulateAllSplits runs data in one read and checks that one byte per read and every
// split in two give the same result.
func simulateAllSplits(t *testing.T, data []byte, o simOptions) simResult {
	t.Helper()
	whole := simulate(data, o, len(data))
	bytewise := make([]int, len(data))
	for i := range bytewise {
		bytewise[i] = i + 1
	}
	if got := simulate(data, o, bytewise...); !reflect.DeepEqual(got, whole) {
		t.Errorf("one byte per read differs from one read:\n got %s\nwant %s", dump(got), dump(whole))
	}
	for i := 1; i < len(data); i++ {
		if got := simulate(data, o, i, len(data)); !reflect.DeepEqual(got, whole) {
			t.Errorf("split at %d differs from one read:\n got %s\nwant %s", i, dump(got), dump(whole))
			break
		}
	}
	return whole
}

func dump(r simResult) string {
	s := r.Outcome
	if r.Err != nil {
		s += " (" + r.Err.Error() + ")"
	}
	for _, m := range r.Msgs {
		s += fmt.Sprintf("\n    %+v", m)
	}
	return s
}

// deviation is hop's result for a case where it deliberately differs from llhttp.
type deviation struct {
	outcome string
	err     error // with outError: the exact error
	reason  string
}

// Reasons shared by several cases.
const (
	whyBareLF   = "bare LF line ending is a 400 (DESIGN: reject bare LF line endings)"
	whyOneCRLF  = "only one empty line is tolerated before a start line (DESIGN: tolerate one empty line)"
	whyTECoding = "hop implements no transfer coding but chunked: a request using another is a 501 " +
		"(DESIGN: unknown transfer coding; RFC 9112 §6.1)"
	whyRespTE = "a response whose transfer codings are not exactly \"chunked\" is malformed for hop's " +
		"client, which cannot decode other codings; llhttp reads it to connection close " +
		"(DESIGN: a proxy applies the policy on both sides; message length must be exact)"
	whyLineAtLF = "hop judges a line when its LF arrives (unless a byte or its length " +
		"already condemns it); the input ends mid-line, within the limits, so it is incomplete"
	whyLeadingZero = "a Content-Length with leading zeros is a 400: RFC 9110 allows them, but a " +
		"recipient that reads \"0200\" as octal frames the message differently (a smuggling " +
		"vector), and no sender needs them"
	whyFragment = "a fragment is never part of a request-target (RFC 9112 §3.2: origin-form is " +
		"absolute-path [ \"?\" query ]); a request-target holding \"#\" is a 400"
	whyUserinfo = "userinfo in an http(s) request-target is an error (RFC 9110 §4.2.4: it is " +
		"likely used to obscure the authority); absolute-form with userinfo is a 400"
	whyTrailer = "fields that may not be trailers (RFC 9110 §6.5.1: framing, routing, " +
		"authentication, request modifiers, response controls, content format) are dropped " +
		"from the trailer section so that nothing merges them (wire.ProhibitedTrailer)"
)

// llhttpDeviations lists every case where hop's result differs from llhttp's.
var llhttpDeviations = map[string]deviation{
	// Stricter on purpose.
	"request/sample.md:314": {outError, ErrHTTP09,
		"HTTP/0.9 requests are rejected (DESIGN: reject HTTP/0.9 requests)"},
	"request/connection.md:156": {outError, ErrInvalidMethod, whyOneCRLF +
		"; the body is followed by two CRLFs"},
	"request/method.md:135": {outError, ErrInvalidTarget,
		"asterisk-form is only for OPTIONS (RFC 9112 §3.2.4); SSDP's M-SEARCH * is not HTTP/1.1"},
	"request/method.md:458": {outError, ErrInvalidTarget,
		"hop is HTTP/1.1 only (DESIGN: multiplexing-free): the HTTP/2 preface PRI * is an " +
			"asterisk-form target on a method other than OPTIONS"},
	"request/transfer-encoding.md:751": {outError, ErrInvalidTarget, whyFragment + "; " + whyTECoding},
	"request/transfer-encoding.md:793": {outError, ErrInvalidTarget, whyFragment + "; " + whyTECoding},
	"request/content-length.md:4":      {outError, ErrInvalidContentLength, whyLeadingZero},
	"request/content-length.md:33":     {outError, ErrInvalidContentLength, whyLeadingZero},
	"request/uri.md:165":               {outError, ErrInvalidTarget, whyFragment},
	"request/uri.md:222":               {outError, ErrInvalidTarget, whyUserinfo},
	"request/method.md:96": {outError, ErrConnectContent,
		"a CONNECT request has no content (RFC 9110 §9.3.6): the bytes after its head are " +
			"tunnel data, so a Content-Length (other than 0) or Transfer-Encoding on it is a 400"},
	"response/transfer-encoding.md:43":  {outError, ErrUnknownTE, whyRespTE},
	"response/transfer-encoding.md:74":  {outError, ErrUnknownTE, whyRespTE},
	"response/transfer-encoding.md:110": {outError, ErrUnknownTE, whyRespTE},
	"response/sample.md:645": {outError, ErrVersionNotSupported,
		"only HTTP/1.x is spoken: any other major version is a 505 (DESIGN: HTTP major version ≥ 2 → 505; " +
			"HTTP/0.9 is rejected)"},

	// More lenient on purpose.
	"request/invalid.md:356": {outComplete, nil,
		"methods are extensible (RFC 9110 §9.1): any token is a valid method for the codec; " +
			"llhttp knows a fixed list (the server answers unknown methods with 501)"},

	// Same verdict, later: hop needs the LF to judge these lines.
	"request/invalid.md:490": {outIncomplete, nil, whyLineAtLF + " (with CRLF: 505)"},
}

// llhttpTrailerDeviations lists cases whose messages differ only in trailer fields that
// hop drops (whyTrailer); their other fields are compared, and the trailers must be the
// expected ones without the prohibited fields.
var llhttpTrailerDeviations = map[string]bool{
	"request/transfer-encoding.md:186": true,
}

// corpusGarbled lists cases whose expected messages in the corpus are wrong: the spans
// were cut from the raw bytes with lengths from llhttp's log, which counted a non-ASCII
// byte as two (UTF-8), so every span after it is shifted (e.g. header "ate:" for
// "Date", values ending in "\r"). Only the outcome and the number of complete messages
// are compared for them.
var corpusGarbled = map[string]bool{
	"request/sample.md:506":  true,
	"request/sample.md:536":  true,
	"response/sample.md:609": true,
}

func expectedOutcome(c *confCase) string {
	if c.Outcome == "error" && c.Error != nil && c.Error.Name == "CLOSED_CONNECTION" {
		return outClosed
	}
	return c.Outcome
}

func expectedMessages(c *confCase) []simMessage {
	var out []simMessage
	for _, m := range c.Messages {
		if !m.Complete {
			continue
		}
		var e simMessage
		str := func(p *string) string {
			if p == nil {
				return ""
			}
			return latin1(*p)
		}
		e.Method, e.URL, e.Reason = str(m.Method), str(m.URL), str(m.Reason)
		e.Version = str(m.Version)
		if m.Status != nil {
			e.Status = *m.Status
		}
		for _, f := range m.Headers {
			e.Headers = append(e.Headers, simField{latin1(f.Name), latin1(f.ValueTrimmed)})
		}
		for _, f := range m.Trailers {
			e.Trailers = append(e.Trailers, simField{latin1(f.Name), latin1(f.ValueTrimmed)})
		}
		e.Body = latin1(m.Body)
		out = append(out, e)
	}
	return out
}

// hostlessHTTP11 reports whether the request head at the start of b (after at most one
// empty line) has an HTTP/1.1 request line and no Host field line. It reads the bytes
// itself rather than trusting the Parser under test.
func hostlessHTTP11(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\r\n"))
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	lines := strings.Split(string(b[:end]), "\r\n")
	if !strings.HasSuffix(lines[0], " HTTP/1.1") {
		return false
	}
	for _, l := range lines[1:] {
		if len(l) >= 5 && EqualFold(l[:5], "host:") {
			return false
		}
	}
	return true
}

func TestConformanceLLHTTP(t *testing.T) {
	cases := loadCorpus(t)
	var (
		counts     = map[string]int{}
		seen       = map[string]bool{}
		hostRule   int
		deviations int
	)
	for i := range cases {
		c := &cases[i]
		if c.Kind != "request" && c.Kind != "response" {
			continue
		}
		counts[c.Kind]++
		t.Run(c.ID, func(t *testing.T) {
			o := simOptions{response: c.Kind == "response", skipBody: c.Meta.SkipBody}
			got := simulateAllSplits(t, c.raw, o)
			if got.Outcome == outError && got.Err == ErrMissingHost {
				// The Host rule: the message that failed must be a Host-less HTTP/1.1
				// request; the run without the Host check must agree up to it.
				if !hostlessHTTP11(c.raw[got.ErrAt:]) {
					t.Fatalf("ErrMissingHost, but the request at %d is not a Host-less HTTP/1.1 request", got.ErrAt)
				}
				o.hostOptional = true
				relaxed := simulateAllSplits(t, c.raw, o)
				k := len(got.Msgs)
				if k > len(relaxed.Msgs) || k > 0 && !reflect.DeepEqual(got.Msgs, relaxed.Msgs[:k]) {
					t.Fatalf("ErrMissingHost after %d messages, but without the Host check:\n%s", k, dump(relaxed))
				}
				hostRule++
				got = relaxed
			} else if got.Outcome == outError {
				if e, ok := got.Err.(*Error); !ok || e.Status == 0 {
					t.Errorf("error %v is not an *Error with a status", got.Err)
				}
			}
			if got.Outcome == outError && got.Err == nil {
				t.Fatalf("error outcome without an error")
			}

			if d, ok := llhttpDeviations[c.ID]; ok {
				seen[c.ID] = true
				deviations++
				if got.Outcome != d.outcome || got.Err != d.err {
					t.Fatalf("listed deviation (%s) says %s %v, hop now gives %s", d.reason, d.outcome, d.err, dump(got))
				}
				return
			}

			want := expectedOutcome(c)
			if got.Outcome != want {
				t.Fatalf("%s: outcome %s, llhttp %s (%v)\nraw %q", c.Name, dump(got), want, c.Error, c.raw)
			}
			wantMsgs := expectedMessages(c)
			if corpusGarbled[c.ID] {
				seen[c.ID] = true
				if len(got.Msgs) != len(wantMsgs) {
					t.Fatalf("%d complete messages, llhttp %d", len(got.Msgs), len(wantMsgs))
				}
				return
			}
			if len(got.Msgs) != len(wantMsgs) {
				t.Fatalf("%s: %d complete messages, llhttp %d\n got %s\nraw %q", c.Name, len(got.Msgs), len(wantMsgs), dump(got), c.raw)
			}
			if llhttpTrailerDeviations[c.ID] {
				seen[c.ID] = true
				for j := range wantMsgs {
					var kept []simField
					for _, f := range wantMsgs[j].Trailers {
						if !ProhibitedTrailer(f.Name) {
							kept = append(kept, f)
						}
					}
					if len(kept) == len(wantMsgs[j].Trailers) {
						t.Errorf("listed in llhttpTrailerDeviations (%s), but no trailer is dropped", whyTrailer)
					}
					wantMsgs[j].Trailers = kept
				}
			}
			for j := range wantMsgs {
				g, w := got.Msgs[j], wantMsgs[j]
				if o.response {
					g.Method, g.URL = "", ""
				} else {
					g.Status, g.Reason = 0, ""
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s: message %d\n got %+v\nwant %+v", c.Name, j, g, w)
				}
			}
		})
	}
	for id := range llhttpDeviations {
		if !seen[id] {
			t.Errorf("llhttpDeviations lists %s, which is not in the corpus", id)
		}
	}
	for id := range llhttpTrailerDeviations {
		if !seen[id] {
			t.Errorf("llhttpTrailerDeviations lists %s, which is not in the corpus", id)
		}
	}
	for id := range corpusGarbled {
		if !seen[id] {
			t.Errorf("corpusGarbled lists %s, which is not in the corpus or now deviates", id)
		}
	}
	t.Logf("%d request and %d response cases; %d deviate by the Host rule, %d are listed deviations",
		counts["request"], counts["response"], hostRule, deviations)
}

// urlDeviations lists llhttp URL cases where the request-target rules disagree.
var urlDeviations = map[string]string{
	"url.md:3":   whyFragment,
	"url.md:17":  whyFragment,
	"url.md:127": whyFragment,
	"url.md:138": whyFragment,
	"url.md:153": whyFragment,
	"url.md:167": whyFragment + "; " + whyUserinfo,
	"url.md:193": whyUserinfo,
	"url.md:205": whyUserinfo,
	"url.md:229": "an IPv6 zone in a URI is encoded \"%25\" ZoneID (RFC 6874 §2); a bare \"%\" " +
		"makes the literal invalid",
}

// TestConformanceURL runs the corpus's URL cases as request-targets of a GET.
func TestConformanceURL(t *testing.T) {
	cases := loadCorpus(t)
	n := 0
	for i := range cases {
		c := &cases[i]
		if c.Kind != "url" {
			continue
		}
		n++
		t.Run(c.ID, func(t *testing.T) {
			p := Parser{hostOptional: true}
			var r Request
			_, err := p.ParseRequest([]byte("GET "+string(c.raw)+" HTTP/1.1\r\n\r\n"), &r)
			ok := err == nil
			if why, listed := urlDeviations[c.ID]; listed {
				if ok == (c.Outcome == "complete") {
					t.Fatalf("listed deviation (%s), but hop agrees with llhttp now", why)
				}
				return
			}
			if ok != (c.Outcome == "complete") {
				t.Fatalf("%q: hop error %v, llhttp %s", c.raw, err, c.Outcome)
			}
		})
	}
	if n == 0 {
		t.Fatal("no URL cases")
	}
}
