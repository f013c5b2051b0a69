package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hop-http/hop/bench"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/wire"
)

func init() { commands["get"] = cmdGet }

// cmdGet is "hop get": fetch URLs, showing connections, heads and timing.
func cmdGet(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return runGet(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

const getUsage = `usage: hop get [flags] URL...

Fetches each URL with one client, so that several URLs to the same origin reuse
connections; the bodies go to stdout. Flags may come before or after the URLs.

  -i                 print the response head before the body
  -v                 print connection events and both heads to stderr
  --timing           draw a per-phase waterfall of each request to stderr
  --json             print one JSON object per request on stdout instead of the body:
                     url, status, conn_id, reused, remote_addr, bytes and phases_ms
                     {dns, connect, tls, request, wait, transfer, total}
  -X METHOD          request method (default GET, or POST with -d)
  -H 'Name: value'   add a request field (repeatable); 'Name:' removes a default one
  -d DATA            send DATA as the body (@FILE reads a file, @- stdin); sets POST
  --data-binary DATA the same as -d (the data is sent as is)
  -o FILE            write bodies to FILE instead of stdout
  -L                 follow redirects (at most --max-redirs, default 10)
  --close            send Connection: close (a new connection per request)
  --http1.0          send HTTP/1.0 requests (with Connection: keep-alive)
  --pipeline[=N]     pipeline the requests, N in flight (default 16; GET/HEAD/... only)
  --parallel N       run up to N requests at once (outputs stay in URL order)
  --resolve H:P:A    connect to address A for host H and port P (repeatable; A may
                     list several addresses separated by commas)
  -k, --insecure     accept any TLS certificate
  --cacert FILE      trust the PEM certificates in FILE (instead of the system roots)
  --proxy URL        use this HTTP proxy (default: HTTP_PROXY/HTTPS_PROXY/NO_PROXY;
                     --proxy '' for none)
  --timeout D        limit each request to D (e.g. 5s, or 5 for seconds; default none)
  --connect-timeout D  limit resolution and connection set-up (default 10s)
  -A, --user-agent S user agent (default hop/1)

Exit status: 0 when every request got a response (whatever its status), 1 when one
failed, 2 for usage errors.
`

// getMulti is a repeatable string flag.
type getMulti []string

func (m *getMulti) String() string     { return strings.Join(*m, ", ") }
func (m *getMulti) Set(s string) error { *m = append(*m, s); return nil }

// getOptString is a string flag that records whether it was given.
type getOptString struct {
	v   string
	set bool
}

func (o *getOptString) String() string     { return o.v }
func (o *getOptString) Set(s string) error { o.v, o.set = s, true; return nil }

// getPipeline is --pipeline or --pipeline=N.
type getPipeline struct{ depth int }

func (p *getPipeline) String() string   { return strconv.Itoa(p.depth) }
func (p *getPipeline) IsBoolFlag() bool { return true }
func (p *getPipeline) Set(s string) error {
	switch s {
	case "true":
		p.depth = 16
	case "false":
		p.depth = 0
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > bench.MaxPipeline {
			return fmt.Errorf("want a depth from 1 to %d", bench.MaxPipeline)
		}
		p.depth = n
	}
	return nil
}

// getOptions are the parsed flags.
type getOptions struct {
	include, verbose, timing, json  bool
	close, http10, insecure, follow bool
	method                          string
	headers, resolve                getMulti
	data, dataBinary, proxy         getOptString
	output, cacert, userAgent       string
	pipeline                        getPipeline
	parallel, maxRedirs             int
	timeout, connectTimeout         time.Duration
	urls                            []string
}

func getParseFlags(args []string, stderr io.Writer) (*getOptions, error) {
	o := &getOptions{}
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.include, "i", false, "")
	fs.BoolVar(&o.verbose, "v", false, "")
	fs.BoolVar(&o.timing, "timing", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.method, "X", "", "")
	fs.Var(&o.headers, "H", "")
	fs.Var(&o.data, "d", "")
	fs.Var(&o.dataBinary, "data-binary", "")
	fs.StringVar(&o.output, "o", "", "")
	fs.BoolVar(&o.follow, "L", false, "")
	fs.IntVar(&o.maxRedirs, "max-redirs", 10, "")
	fs.BoolVar(&o.close, "close", false, "")
	fs.BoolVar(&o.http10, "http1.0", false, "")
	fs.Var(&o.pipeline, "pipeline", "")
	fs.IntVar(&o.parallel, "parallel", 1, "")
	fs.Var(&o.resolve, "resolve", "")
	fs.BoolVar(&o.insecure, "k", false, "")
	fs.BoolVar(&o.insecure, "insecure", false, "")
	fs.StringVar(&o.cacert, "cacert", "", "")
	fs.Var(&o.proxy, "proxy", "")
	fs.Var(durationFlag{&o.timeout}, "timeout", "")
	fs.Var(durationFlag{&o.connectTimeout}, "connect-timeout", "")
	fs.StringVar(&o.userAgent, "A", "hop/1", "")
	fs.StringVar(&o.userAgent, "user-agent", "hop/1", "")
	var err error
	if o.urls, err = parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, getUsage)
		}
		return nil, err
	}
	if len(o.urls) == 0 {
		return nil, errors.New("no URL given")
	}
	if o.parallel < 1 || o.parallel > 1024 {
		return nil, errors.New("--parallel wants 1 to 1024")
	}
	if o.pipeline.depth > 0 && o.parallel > 1 {
		return nil, errors.New("--pipeline and --parallel cannot be combined")
	}
	if o.data.set && o.dataBinary.set {
		return nil, errors.New("give -d or --data-binary, not both")
	}
	if o.maxRedirs < 0 {
		return nil, errors.New("--max-redirs must not be negative")
	}
	for _, h := range o.headers {
		name, _, ok := strings.Cut(h, ":")
		if !ok || !wire.IsToken(strings.TrimSpace(name)) {
			return nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
	}
	return o, nil
}

// getResolve parses --resolve host:port:addr[,addr...].
func getResolve(specs []string) (map[string][]netip.Addr, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	m := map[string][]netip.Addr{}
	for _, s := range specs {
		var host, rest string
		if strings.HasPrefix(s, "[") {
			rb := strings.Index(s, "]:")
			if rb < 0 {
				return nil, fmt.Errorf("--resolve %q: want HOST:PORT:ADDR", s)
			}
			host, rest = s[1:rb], s[rb+2:]
		} else {
			var ok bool
			if host, rest, ok = strings.Cut(s, ":"); !ok {
				return nil, fmt.Errorf("--resolve %q: want HOST:PORT:ADDR", s)
			}
		}
		port, addrs, ok := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(port); !ok || err != nil || n < 1 || n > 65535 || host == "" {
			return nil, fmt.Errorf("--resolve %q: want HOST:PORT:ADDR", s)
		}
		var list []netip.Addr
		for _, a := range strings.Split(addrs, ",") {
			a = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "["), "]")
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("--resolve %q: %q is not an IP address", s, a)
			}
			list = append(list, ip)
		}
		key := strings.ToLower(host) + ":" + port
		if strings.Contains(host, ":") {
			key = "[" + strings.ToLower(host) + "]:" + port
		}
		m[key] = append(m[key], list...)
	}
	return m, nil
}

// getter runs the requests of one "hop get".
type getter struct {
	o      *getOptions
	cl     *client.Client
	stdin  io.Reader
	data   []byte // -d DATA held in memory
	file   string // -d @FILE
	method string
	// setupErr says why setup failed.
	setupErr error
}

func runGet(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := getParseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "hop get: %v\n\n%s", err, getUsage)
		return 2
	}
	g := &getter{o: o, stdin: stdin}
	if code := g.setup(ctx); code != 0 {
		fmt.Fprintf(stderr, "hop get: %v\n", g.setupErr)
		return code
	}
	defer g.cl.Close()

	out := stdout
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			fmt.Fprintf(stderr, "hop get: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	bout := bufio.NewWriterSize(out, 64<<10)
	defer bout.Flush()
	jout := stdout
	if o.output == "" {
		jout = bout // keep JSON and bodies in order on stdout
	}
	var results []*getResult
	switch {
	case o.pipeline.depth > 0:
		results = g.runPipeline(ctx)
	case o.parallel > 1:
		results = g.runParallel(ctx, bout, jout, stderr)
	default:
		results = g.runSerial(ctx, bout, jout, stderr)
	}
	failed := false
	for _, r := range results {
		if r.err != nil {
			failed = true
		}
	}
	if o.pipeline.depth > 0 {
		for _, r := range results {
			g.emit(r, bout, jout, stderr)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// setup builds the client and reads the body data; it returns an exit code.
func (g *getter) setup(ctx context.Context) int {
	o := g.o
	cl := &client.Client{ConnectTimeout: o.connectTimeout, Timeout: o.timeout, InsecureSkipVerify: o.insecure}
	if o.follow {
		cl.MaxRedirects = o.maxRedirs
	}
	if o.pipeline.depth > 0 {
		cl.MaxConnsPerHost = 1
	} else if o.parallel > 1 {
		cl.MaxConnsPerHost = o.parallel
	}
	var err error
	if cl.Resolve, err = getResolve(o.resolve); err != nil {
		return g.fail(err, 2)
	}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return g.fail(err, 2)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return g.fail(fmt.Errorf("--cacert %s: no PEM certificate", o.cacert), 2)
		}
		cl.TLSConfig = &tls.Config{RootCAs: pool}
	}
	switch {
	case o.proxy.set && o.proxy.v == "":
	case o.proxy.set:
		if cl.Proxy, err = client.FixedProxy(o.proxy.v); err != nil {
			return g.fail(err, 2)
		}
	default:
		if cl.Proxy, err = client.ProxyConfigFromEnvironment().ProxyFunc(); err != nil {
			return g.fail(fmt.Errorf("proxy environment: %w", err), 2)
		}
	}
	g.cl = cl
	d := o.data
	if o.dataBinary.set {
		d = o.dataBinary
	}
	g.method = o.method
	if d.set {
		if g.method == "" {
			g.method = "POST"
		}
		switch {
		case d.v == "@-":
			if g.data, err = io.ReadAll(io.LimitReader(g.stdin, 1<<30)); err != nil {
				return g.fail(err, 1)
			}
		case strings.HasPrefix(d.v, "@"):
			g.file = d.v[1:]
			if _, err := os.Stat(g.file); err != nil {
				return g.fail(err, 2)
			}
		default:
			g.data = []byte(d.v)
		}
		if g.data == nil && g.file == "" {
			g.data = []byte{}
		}
	}
	if g.method == "" {
		g.method = "GET"
	}
	return 0
}

func (g *getter) fail(err error, code int) int {
	g.setupErr = err
	return code
}

// getResult is the outcome of one request, kept for output.
type getResult struct {
	url     string
	resp    *client.Response
	timings client.Timings
	bytes   int64
	err     error
	events  bytes.Buffer // -v lines, when they are not written at once
	body    bytes.Buffer // body, when it is not streamed
}

// newRequest builds the request for one URL.
func (g *getter) newRequest(ctx context.Context, raw string) (*client.Request, error) {
	o := g.o
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	req := &client.Request{Method: g.method, Close: o.close, HTTP10: o.http10, Ctx: ctx}
	if err := req.SetURL(raw); err != nil {
		return nil, err
	}
	ua := o.userAgent
	for _, h := range o.headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if value == "" && strings.EqualFold(name, "User-Agent") {
			ua = ""
			continue
		}
		req.Header.Add(name, value)
	}
	if ua != "" && !req.Header.Has("User-Agent") {
		req.Header.Add("User-Agent", ua)
	}
	if g.data != nil || g.file != "" {
		if !req.Header.Has("Content-Type") {
			req.Header.Add("Content-Type", "application/x-www-form-urlencoded")
		}
		if g.file != "" {
			f, err := os.Open(g.file)
			if err != nil {
				return nil, err
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, err
			}
			req.SetBodyStream(f, st.Size())
			name := g.file
			req.GetBody = func() (io.Reader, error) { return os.Open(name) }
		} else {
			req.SetBody(g.data)
		}
	}
	return req, nil
}

// closeBody closes a file body after the request.
func closeBody(req *client.Request) {
	if req == nil {
		return
	}
	if c, ok := req.BodyStream().(io.Closer); ok {
		c.Close()
	}
}

// runSerial fetches the URLs one after the other, streaming bodies.
func (g *getter) runSerial(ctx context.Context, out, jout io.Writer, stderr io.Writer) []*getResult {
	var results []*getResult
	for i, u := range g.o.urls {
		r := &getResult{url: u}
		results = append(results, r)
		var events io.Writer = stderr
		req, err := g.newRequest(ctx, u)
		if err != nil {
			r.err = err
			g.emit(r, out, jout, stderr)
			continue
		}
		r.url = req.URL.String()
		req.Trace = r.timings.Trace(g.verboseTrace(events, i+1))
		r.resp = &client.Response{}
		r.err = g.cl.DoStream(req, r.resp)
		if r.err == nil {
			if g.o.include && !g.o.json {
				writeHead(out, r.resp)
			}
			var dst io.Writer = out
			if g.o.json {
				dst = io.Discard
				if g.o.output != "" {
					dst = out
				}
			}
			r.bytes, r.err = io.Copy(dst, r.resp.BodyReader())
			r.resp.Close()
		}
		closeBody(req)
		g.emitAfter(r, jout, stderr)
		if r.err != nil && !g.o.json {
			fmt.Fprintf(stderr, "hop get: %v\n", r.err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return results
}

// runParallel fetches up to --parallel URLs at once; outputs follow URL order.
func (g *getter) runParallel(ctx context.Context, out, jout io.Writer, stderr io.Writer) []*getResult {
	urls := g.o.urls
	results := make([]*getResult, len(urls))
	done := make([]chan struct{}, len(urls))
	for i := range urls {
		results[i] = &getResult{url: urls[i]}
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, g.o.parallel)
	var wg sync.WaitGroup
	for i := range urls {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer close(done[i])
			sem <- struct{}{}
			defer func() { <-sem }()
			r := results[i]
			req, err := g.newRequest(ctx, r.url)
			if err != nil {
				r.err = err
				return
			}
			r.url = req.URL.String()
			req.Trace = r.timings.Trace(g.verboseTrace(&r.events, i+1))
			r.resp = &client.Response{}
			if r.err = g.cl.Do(req, r.resp); r.err == nil {
				r.body.Write(r.resp.Body)
				r.bytes = int64(len(r.resp.Body))
			}
			closeBody(req)
		}(i)
	}
	for i, r := range results {
		<-done[i]
		g.emit(r, out, jout, stderr)
	}
	wg.Wait()
	return results
}

// runPipeline sends every URL pipelined.
func (g *getter) runPipeline(ctx context.Context) []*getResult {
	var results []*getResult
	var reqs []*client.Request
	var resps []*client.Response
	var idx []int
	for i, u := range g.o.urls {
		r := &getResult{url: u}
		results = append(results, r)
		req, err := g.newRequest(ctx, u)
		if err == nil && req.BodyStream() != nil {
			err = errors.New("--pipeline needs an in-memory body (-d DATA, not -d @FILE)")
			closeBody(req)
		}
		if err != nil {
			r.err = err
			continue
		}
		r.url = req.URL.String()
		req.Trace = r.timings.Trace(g.verboseTrace(&r.events, i+1))
		r.resp = &client.Response{}
		reqs = append(reqs, req)
		resps = append(resps, r.resp)
		idx = append(idx, len(results)-1)
	}
	err := g.cl.DoPipeline(reqs, resps, g.o.pipeline.depth)
	for _, i := range idx {
		r := results[i]
		if r.resp.Status == 0 {
			r.err = err
			if r.err == nil {
				r.err = errors.New("no response")
			}
			continue
		}
		r.body.Write(r.resp.Body)
		r.bytes = int64(len(r.resp.Body))
	}
	return results
}

// emit writes one buffered result: events, head, body, timing, JSON.
func (g *getter) emit(r *getResult, out, jout io.Writer, stderr io.Writer) {
	stderr.Write(r.events.Bytes())
	if r.err == nil && !g.o.json {
		if g.o.include {
			writeHead(out, r.resp)
		}
		out.Write(r.body.Bytes())
	} else if r.err == nil && g.o.output != "" {
		out.Write(r.body.Bytes())
	}
	g.emitAfter(r, jout, stderr)
	if r.err != nil && !g.o.json {
		fmt.Fprintf(stderr, "hop get: %v\n", r.err)
	}
}

// emitAfter writes the waterfall and the JSON object of a finished request.
func (g *getter) emitAfter(r *getResult, jout io.Writer, stderr io.Writer) {
	if g.o.timing {
		writeWaterfall(stderr, r)
	}
	if g.o.json {
		writeJSON(jout, r)
	}
}

// writeHead prints a response head as received: the reason phrase as the server sent
// it (even when empty), the fields in order.
func writeHead(w io.Writer, resp *client.Response) {
	w.Write(appendHead(nil, resp))
}

func appendHead(b []byte, resp *client.Response) []byte {
	if len(resp.Reason) > 0 {
		b = wire.AppendStatusLine(b, resp.Minor, resp.Status, string(resp.Reason))
	} else {
		// AppendStatusLine puts the standard phrase in place of an empty one: give it
		// a placeholder and take it out again, keeping the space before it.
		b = wire.AppendStatusLine(b, resp.Minor, resp.Status, "-")
		b = append(b[:len(b)-len("-\r\n")], "\r\n"...)
	}
	b = wire.AppendHeader(b, &resp.Header)
	return append(b, "\r\n"...)
}

// getJSON is the --json object (a public contract: see DESIGN.md).
type getJSON struct {
	URL        string             `json:"url"`
	Status     int                `json:"status"`
	ConnID     uint64             `json:"conn_id"`
	Reused     bool               `json:"reused"`
	RemoteAddr string             `json:"remote_addr"`
	LocalAddr  string             `json:"local_addr,omitempty"`
	Bytes      int64              `json:"bytes"`
	Proto      string             `json:"http_version,omitempty"`
	TLS        string             `json:"tls,omitempty"`
	Redirects  int                `json:"redirects,omitempty"`
	Retries    int                `json:"retries,omitempty"`
	Phases     map[string]float64 `json:"phases_ms"`
	Error      string             `json:"error,omitempty"`
}

func ms(d time.Duration) float64 { return timeline.Millis(d) }

func writeJSON(w io.Writer, r *getResult) {
	t := &r.timings
	j := getJSON{URL: r.url, Bytes: r.bytes, Phases: map[string]float64{
		"dns": ms(t.DNS()), "connect": ms(t.Connect()), "tls": ms(t.TLS()),
		"request": ms(t.Request()), "wait": ms(t.Wait()), "transfer": ms(t.Transfer()),
		"total": ms(t.Total()),
	}}
	if j.Phases["total"] == 0 && !t.Start.IsZero() {
		j.Phases["total"] = ms(time.Since(t.Start))
	}
	if resp := r.resp; resp != nil && resp.Status != 0 {
		j.Status, j.ConnID, j.Reused = resp.Status, resp.ConnID, resp.Reused
		if resp.RemoteAddr != nil {
			j.RemoteAddr = resp.RemoteAddr.String()
		}
		if resp.LocalAddr != nil {
			j.LocalAddr = resp.LocalAddr.String()
		}
		j.Proto = fmt.Sprintf("HTTP/%d.%d", resp.Major, resp.Minor)
		if resp.TLS != nil {
			j.TLS = tls.VersionName(resp.TLS.Version)
		}
		j.Redirects, j.Retries = resp.Redirects, resp.Retries
	}
	if r.err != nil {
		j.Error = r.err.Error()
	}
	b, _ := json.Marshal(j)
	w.Write(append(b, '\n'))
}

// writeWaterfall draws the phases of a request on a common time axis.
func writeWaterfall(w io.Writer, r *getResult) {
	t := &r.timings
	total := t.Total()
	if total <= 0 {
		total = time.Since(t.Start)
	}
	status := "failed"
	if r.resp != nil && r.resp.Status != 0 {
		how := "new"
		if r.resp.Reused {
			how = "reused"
		}
		status = fmt.Sprintf("%d, conn #%d (%s)", r.resp.Status, r.resp.ConnID, how)
	}
	wf := timeline.Waterfall{Title: r.url + " → " + status, Start: t.Start, Total: total,
		Phases: timeline.ClientPhases(t)}
	wf.WriteTo(w)
}

// verboseTrace returns the -v trace of request n (from 1), which writes the connection
// events in words (and both heads) to w; nil without -v.
func (g *getter) verboseTrace(w io.Writer, n int) *client.Trace {
	if !g.o.verbose {
		return nil
	}
	return timeline.ClientTrace(timeline.NewPrinter(w), n)
}
