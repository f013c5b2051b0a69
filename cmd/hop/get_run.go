package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
)

// getResult is the outcome of one request, kept for output.
type getResult struct {
	n       int    // position among the URLs, from 0
	given   string // the URL as given
	url     string // the URL as fetched (parsed), for -w's url_effective (curl's)
	shown   string // the same with its password redacted, for --json and --timing
	method  string
	proxied bool
	// attempted says the request was tried (not refused before, as -O without a name)
	attempted bool
	resp      *client.Response
	timings   client.Timings
	info      *transferInfo
	bytes     int64 // body bytes received (before any content decoding)
	err       error
	code      int // curl's exit code for err, 0 on success
	dest      *output
	events    bytes.Buffer // -v lines, when they are not written at once
}

// status is the final status, 0 when no response arrived.
func (r *getResult) status() int {
	if r.resp == nil {
		return 0
	}
	return r.resp.Status
}

// failed records err and its exit code.
func (r *getResult) failed(err error) {
	r.err, r.code = err, exitCode(err, r.proxied)
}

// output is where one URL's body (and head, with -i) goes: stdout, or a file created
// at the first byte, so that a failed request leaves no file behind; a request that
// succeeded without a body still creates its (empty) file, as curl does.
type output struct {
	name  string    // file name; "" for stdout
	std   io.Writer // stdout, when name is ""
	f     *os.File
	err   error
	wrote int64
}

func (o *output) filename() string {
	if o == nil {
		return ""
	}
	return o.name
}

func (o *output) isStdout() bool { return o.name == "" }

func (o *output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if o.name == "" {
		n, err := o.std.Write(p)
		o.wrote += int64(n)
		if err != nil {
			o.err = &writeError{err}
		}
		return n, o.err
	}
	if o.f == nil {
		if o.f, o.err = os.Create(o.name); o.err != nil {
			o.err = &writeError{o.err}
			return 0, o.err
		}
	}
	n, err := o.f.Write(p)
	o.wrote += int64(n)
	if err != nil {
		o.err = &writeError{err}
	}
	return n, o.err
}

// finish closes the file; ok says the request succeeded, so that a file is created
// even when nothing was written.
func (o *output) finish(ok bool) error {
	if o.name == "" || o.err != nil && o.f == nil {
		return o.err
	}
	if o.f == nil {
		if !ok {
			return nil
		}
		if o.f, o.err = os.Create(o.name); o.err != nil {
			o.err = &writeError{o.err}
			return o.err
		}
	}
	if err := o.f.Close(); err != nil && o.err == nil {
		o.err = &writeError{err}
	}
	return o.err
}

// destination returns the output of URL n: the n-th -o or -O, else stdout.
func (g *getter) destination(n int, raw string, stdout io.Writer) (*output, error) {
	if n >= len(g.o.outputs) {
		return &output{std: stdout}, nil
	}
	spec := g.o.outputs[n]
	switch {
	case spec.remote:
		name, err := remoteName(raw)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, &writeError{fmt.Errorf("-O: the URL %s has no file name to save it as", raw)}
		}
		return &output{name: name}, nil
	case spec.file == "-":
		return &output{std: stdout}, nil
	}
	return &output{name: spec.file}, nil
}

// run fetches the URLs in the chosen mode; it returns the exit code: 0, or that of
// the last request that failed.
func (g *getter) run(ctx context.Context) int {
	bout := bufio.NewWriterSize(g.io.stdout, 64<<10)
	defer bout.Flush()
	var results []*getResult
	switch {
	case g.o.pipeline.depth > 0:
		results = g.runPipeline(ctx, bout)
	case g.o.parallel > 1:
		results = g.runParallel(ctx, bout)
	default:
		results = g.runSerial(ctx, bout)
	}
	code := 0
	for _, r := range results {
		if r.code != 0 {
			code = r.code
		}
	}
	return code
}

// newResult prepares the result of URL n, with its destination.
func (g *getter) newResult(n int, raw string, stdout io.Writer) *getResult {
	r := &getResult{n: n, given: raw, url: raw, method: g.method, info: newTransferInfo()}
	var u client.URL
	if u.Set(rawURL(raw)) == nil && g.cl.Proxy != nil {
		if p, err := g.cl.Proxy(&u); err == nil && p != nil {
			r.proxied = true
		}
	}
	var err error
	if r.dest, err = g.destination(n, raw, stdout); err != nil {
		r.dest = &output{std: io.Discard}
		r.failed(err)
		r.info.end = r.info.start // nothing was tried: no time spent, as curl reports
		return r
	}
	r.attempted = true
	return r
}

// prepare builds the request of r, with the traces that record it; events receives
// the -v lines.
func (g *getter) prepare(ctx context.Context, r *getResult, files *bodyFiles, events io.Writer) *client.Request {
	req, err := g.newRequest(ctx, r.given, files)
	if err != nil {
		r.failed(err)
		return nil
	}
	r.url, r.shown = req.URL.String(), req.URL.Redacted()
	keepHeads := (g.o.include || g.o.head) && !g.o.json
	req.Trace = r.timings.Trace(r.info.trace(g.verboseTrace(events, r.n+1), keepHeads))
	r.info.start = r.timings.Start
	r.info.hopStart = r.timings.Start
	r.resp = &client.Response{}
	return req
}

// runSerial fetches the URLs one after the other, streaming bodies.
func (g *getter) runSerial(ctx context.Context, stdout *bufio.Writer) []*getResult {
	var results []*getResult
	for i, u := range g.o.urls {
		r := g.newResult(i, u, stdout)
		results = append(results, r)
		if r.err != nil {
			// -O without a name: curl stops here, before this transfer.
			g.emit(r, stdout)
			break
		}
		var files bodyFiles
		req := g.prepare(ctx, r, &files, g.io.stderr)
		if req != nil {
			var m *meter
			if g.meterWanted(r.dest) {
				m = startMeter(g.io.stderr)
			}
			err := g.cl.DoStream(req, r.resp)
			if err == nil {
				r.info.requestSent(req.ContentLength())
				if m != nil {
					m.sizes(r.resp.ContentLength, req.ContentLength())
					m.uploaded(max(req.ContentLength(), 0))
				}
				err = g.deliver(r, r.resp.BodyReader(), m)
				r.resp.Close()
			}
			if m != nil {
				m.finish()
			}
			if err != nil {
				r.failed(err)
			}
		}
		files.close()
		g.emit(r, stdout)
		if ctx.Err() != nil {
			break
		}
	}
	return results
}

// runParallel fetches up to --parallel URLs at once; outputs follow URL order. Bodies
// are read whole, so that a URL that finishes ahead of an earlier one waits in
// memory: no URL starts more than 2×--parallel places ahead of the next one to be
// written, which bounds the bodies held to that many (each within the client's
// MaxResponseBody).
func (g *getter) runParallel(ctx context.Context, stdout *bufio.Writer) []*getResult {
	urls := g.o.urls
	results := make([]*getResult, len(urls))
	for i, u := range urls {
		if results[i] = g.newResult(i, u, stdout); results[i].err != nil {
			g.emit(results[i], stdout) // -O without a name: nothing is fetched
			return results[:i+1]
		}
	}
	done := make([]chan struct{}, len(urls))
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, g.o.parallel)
	ahead := make(chan struct{}, 2*g.o.parallel) // URLs started and not written yet
	var wg sync.WaitGroup
	fetch := func(r *getResult) {
		defer wg.Done()
		defer close(done[r.n])
		sem <- struct{}{}
		defer func() { <-sem }()
		var files bodyFiles
		defer files.close()
		req := g.prepare(ctx, r, &files, &r.events)
		if req == nil {
			return
		}
		if err := g.cl.Do(req, r.resp); err != nil {
			r.failed(err)
		} else {
			r.info.requestSent(req.ContentLength())
		}
	}
	wg.Add(len(results))
	go func() {
		for _, r := range results {
			ahead <- struct{}{}
			go fetch(r)
		}
	}()
	for i, r := range results {
		<-done[i]
		g.emitBuffered(r, stdout)
		<-ahead
	}
	wg.Wait()
	return results
}

// runPipeline sends every URL pipelined.
func (g *getter) runPipeline(ctx context.Context, stdout *bufio.Writer) []*getResult {
	var results []*getResult
	var reqs []*client.Request
	var resps []*client.Response
	var idx []int
	var files bodyFiles
	defer files.close()
	for i, u := range g.o.urls {
		r := g.newResult(i, u, stdout)
		results = append(results, r)
		if r.err != nil {
			g.emit(r, stdout)
			return results
		}
	}
	for _, r := range results {
		req := g.prepare(ctx, r, &files, &r.events)
		if req != nil && req.BodyStream() != nil {
			r.failed(errors.New("--pipeline needs an in-memory body (-d DATA, not -d @FILE)"))
			req = nil
		}
		if req == nil {
			continue
		}
		reqs = append(reqs, req)
		resps = append(resps, r.resp)
		idx = append(idx, r.n)
	}
	err := g.cl.DoPipeline(reqs, resps, g.o.pipeline.depth)
	for k, i := range idx {
		r := results[i]
		if r.resp.Status == 0 {
			if err == nil {
				err = errors.New("no response")
			}
			r.failed(err)
			continue
		}
		r.info.requestSent(reqs[k].ContentLength())
	}
	for _, r := range results {
		g.emitBuffered(r, stdout)
	}
	return results
}

// emitBuffered writes a result whose body was read whole (parallel, pipeline), then
// lets go of the body and the -v lines: only what the exit code needs is kept.
func (g *getter) emitBuffered(r *getResult, stdout *bufio.Writer) {
	g.io.stderr.Write(r.events.Bytes())
	if r.err == nil && r.resp != nil {
		if err := g.deliver(r, bytes.NewReader(r.resp.Body), nil); err != nil {
			r.failed(err)
		}
	}
	g.emit(r, stdout)
	if r.resp != nil {
		r.resp.Body = nil
	}
	r.events = bytes.Buffer{}
}

// meterWanted reports whether a progress meter goes to stderr for a body written to
// dest: stderr is a terminal, the body does not go to one, and neither -s nor --json.
func (g *getter) meterWanted(dest *output) bool {
	if g.o.silent || g.o.json || !g.io.stderrTTY {
		return false
	}
	return !dest.isStdout() || !g.io.stdoutTTY
}

// countingReader counts the body bytes read (for -w, --json and the meter) and marks
// the errors of reading the body, so that they keep their exit code behind a decoder.
type countingReader struct {
	r     io.Reader
	n     *int64
	meter *meter
}

// bodyReadError is an error reading the response body from the connection.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "reading the body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	if c.meter != nil && n > 0 {
		c.meter.add(n)
	}
	if err != nil && err != io.EOF {
		err = &bodyReadError{err}
	}
	return n, err
}

// deliver writes the response of r to its destination: the heads with -i or -I, then
// the body (decoded with --compressed), unless -f turns a status of 400 or more into a
// failure (after the heads, as curl). body is the body as received.
func (g *getter) deliver(r *getResult, body io.Reader, m *meter) error {
	resp := r.resp
	var dst io.Writer = r.dest
	if g.o.json && r.dest.isStdout() {
		dst = io.Discard // the JSON object takes the body's place on stdout
	}
	if (g.o.include || g.o.head) && !g.o.json {
		r.info.mu.Lock()
		heads := r.info.heads
		r.info.mu.Unlock()
		if len(heads) == 0 { // the trace saw no head (cannot happen with a response)
			heads = [][]byte{appendHead(nil, resp.Minor, resp.Status, resp.Reason, &resp.Header)}
		}
		for _, h := range heads {
			if _, err := dst.Write(h); err != nil {
				return err
			}
		}
	}
	if g.o.fail && resp.Status >= 400 {
		return &httpError{resp.Status} // as curl: the heads were written, the body is not
	}
	if g.o.head {
		return nil // -I: the head is the output (a body, after -X GET, is not)
	}
	src := io.Reader(&countingReader{r: body, n: &r.bytes, meter: m})
	if g.o.compressed {
		dec, release, err := decodeBody(&resp.Header, src)
		if err != nil {
			return err
		}
		defer release()
		src = dec
	}
	_, err := io.Copy(dst, src)
	return err
}

// emit finishes one request: closes its file, writes the waterfall (--timing), the
// JSON object (--json), the -w text and the error message (unless -s without -S, or
// --json, whose object carries it).
func (g *getter) emit(r *getResult, stdout *bufio.Writer) {
	if err := r.dest.finish(r.err == nil); err != nil && r.err == nil {
		r.failed(err)
	}
	r.info.finish()
	if g.o.timing {
		stdout.Flush()
		writeWaterfall(g.io.stderr, r)
	}
	if g.o.json {
		writeJSON(stdout, r)
	}
	if g.writeOut != nil {
		writeOut(g.writeOut, r, stdout, flushFirst{stdout, g.io.stderr})
	}
	if r.err != nil && !g.o.json && (!g.o.silent || g.o.showError) {
		stdout.Flush()
		fmt.Fprintf(g.io.stderr, "hop get: (%d) %v\n", r.code, r.err)
	}
}

// flushFirst writes to w after flushing the buffered stdout, so that what -w sends to
// stderr comes after what it sent to stdout.
type flushFirst struct {
	stdout *bufio.Writer
	w      io.Writer
}

func (f flushFirst) Write(p []byte) (int, error) {
	f.stdout.Flush()
	return f.w.Write(p)
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
	ExitCode   int                `json:"exit_code,omitempty"`
}

func ms(d time.Duration) float64 { return timeline.Millis(d) }

func writeJSON(w io.Writer, r *getResult) {
	t := &r.timings
	j := getJSON{URL: r.shown, Bytes: r.bytes, Phases: map[string]float64{
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
		j.Error, j.ExitCode = r.err.Error(), r.code
	}
	b, _ := json.Marshal(j)
	w.Write(append(b, '\n'))
}

// writeWaterfall draws the phases of a request on a common time axis.
func writeWaterfall(w io.Writer, r *getResult) {
	t := &r.timings
	total := t.Total()
	if total <= 0 && !t.Start.IsZero() {
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
	wf := timeline.Waterfall{Title: r.shown + " → " + status, Start: t.Start, Total: total,
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
