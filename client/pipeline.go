package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hop-http/hop/internal/neterr"
	"github.com/hop-http/hop/wire"
)

// maxPipelineFailures bounds how many connections in a row may die before a pipeline
// delivers its next response.
const maxPipelineFailures = 3

// DoPipeline sends reqs pipelined (RFC 9112 §9.3.2) and reads the response to
// reqs[i] into resps[i], bodies read whole as by Do. Up to depth requests are in
// flight on a connection; the requests of a window are written together in one
// write. Consecutive requests to the same origin share a connection; each run of them
// starts on an idle connection when one is available.
//
// Only idempotent requests with in-memory bodies may be pipelined (ErrNotIdempotent
// otherwise). A new connection carries one request until its response shows an
// HTTP/1.1 persistent connection, then the window opens. When the connection dies or
// the server closes it (Connection: close, a Keep-Alive max), the requests it did not
// answer are re-sent on a new connection, in order; a run of connections that die
// without answering fails after three.
//
// DoPipeline returns the first error; responses before it are complete. Redirects are
// not followed.
func (cl *Client) DoPipeline(reqs []*Request, resps []*Response, depth int) error {
	if len(resps) < len(reqs) {
		return errors.New("hop/client: DoPipeline needs one Response per Request")
	}
	if depth < 1 {
		depth = 1
	}
	for _, r := range reqs {
		if err := r.validate(); err != nil {
			return err
		}
		if !r.Idempotent() {
			return fmt.Errorf("%w: %s %s", ErrNotIdempotent, r.method(), r.URL.Redacted())
		}
		if r.hasBody && r.bodyStream != nil {
			return errors.New("hop/client: pipelined requests need in-memory bodies (SetBody)")
		}
		if r.Fields().HasToken("Expect", "100-continue") {
			return errors.New("hop/client: Expect: 100-continue cannot be pipelined")
		}
		if r.upgrading() {
			return errors.New("hop/client: a request that may switch protocols (Upgrade) cannot be pipelined")
		}
		if r.hasBody && r.Trailer != nil {
			if err := checkTrailer(r.Trailer); err != nil {
				return err
			}
		}
	}
	var deadline time.Time
	if cl.Timeout > 0 {
		deadline = time.Now().Add(cl.Timeout)
	}
	for i := 0; i < len(reqs); {
		j := i + 1
		for j < len(reqs) && sameOrigin(&reqs[i].URL, &reqs[j].URL) {
			j++
		}
		if err := cl.pipelineRun(reqs[i:j], resps[i:j], depth, deadline); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func sameOrigin(a, b *URL) bool {
	return a.Scheme == b.Scheme && a.Host == b.Host && a.EffectivePort() == b.EffectivePort()
}

// pipeline is one run of pipelined requests to one origin.
type pipeline struct {
	cl       *Client
	p        *hostPool
	reqs     []*Request
	resps    []*Response
	depth    int
	deadline time.Time
	ctx      context.Context
	start    time.Time
	heads    [][2]int // start and end of each head in the window being written
	done     int      // responses received
	failures int      // connections in a row that died without answering
	// answeredOn counts the responses on the current connection; resends the times the
	// unanswered requests were sent again on a new one.
	answeredOn, resends int
}

// pipelineRun pipelines requests that share an origin, one connection after another
// until every request is answered.
func (cl *Client) pipelineRun(reqs []*Request, resps []*Response, depth int, deadline time.Time) error {
	p, err := cl.poolFor(&reqs[0].URL, false)
	if err != nil {
		return cl.describe(reqs[0], nil, false, &connErr{op: "proxy", err: err}, "")
	}
	pl := &pipeline{cl: cl, p: p, reqs: reqs, resps: resps, depth: depth, deadline: deadline,
		ctx: reqs[0].Ctx, start: time.Now()}
	for pl.done < len(reqs) {
		if err := pl.onConnection(); err != nil {
			return err
		}
	}
	return nil
}

// onConnection gets a connection and pipelines the unanswered requests on it, until
// they are answered or the connection can carry no more. It returns an error when the
// run must stop.
func (pl *pipeline) onConnection() error {
	cl, p := pl.cl, pl.p
	tr := traceOf(cl, pl.reqs[pl.done])
	if tr != nil && tr.GetConn != nil {
		tr.GetConn(p.origin)
	}
	var tm Timings
	c, reused, idle, err := p.acquire(pl.ctx, pl.deadline, pl.failures > 0, tr, &tm)
	if err != nil {
		return cl.describe(pl.reqs[pl.done], nil, false, err, "")
	}
	tm.Start, tm.GotConn = pl.start, time.Now()
	c.hold, c.heldReason = true, ""
	pl.answeredOn = 0
	sent := pl.done
	progress := false
	var failure error
	var failOp string // the phase that failed
	for pl.done < len(pl.reqs) {
		window := pl.depth
		if !c.proven {
			window = 1
		}
		if lim := min(pl.done+window, len(pl.reqs)); sent < lim {
			n, werr := pl.writeWindow(c, sent, lim, reused || progress, idle, &tm)
			if werr != nil {
				failure, failOp = werr, "write request"
				break
			}
			sent = n
		}
		if err := pl.readResponse(c, reused || progress); err != nil {
			failure, failOp = err, "read response"
			var ce *connErr
			if errors.As(err, &ce) {
				failure, failOp = ce.err, ce.op
			}
			break
		}
		pl.done++
		pl.answeredOn++
		progress = true
		pl.failures = 0
		if c.heldReason != "" {
			break // the connection cannot carry more: re-send the rest
		}
		idle = 0
		tm = Timings{Start: pl.start, GotConn: tm.GotConn}
	}
	c.hold = false
	return pl.release(c, reused, progress, failure, failOp)
}

// writeWindow writes requests [from, lim) in one write; it returns the end of what it
// wrote (less than lim when a request asks to close: nothing may follow it).
func (pl *pipeline) writeWindow(c *conn, from, lim int, reused bool, idle time.Duration, tm *Timings) (int, error) {
	cl, p := pl.cl, pl.p
	c.wbuf = c.wbuf[:0]
	pl.heads = pl.heads[:0]
	auth := p.requestAuth()
	for k := from; k < lim; k++ {
		r := pl.reqs[k]
		var closing bool
		start := len(c.wbuf)
		length := r.ContentLength()
		c.target = r.appendTarget(c.target[:0], p.absolute)
		c.wbuf, closing = r.appendHead(c.wbuf, c.target, auth, length)
		pl.heads = append(pl.heads, [2]int{start, len(c.wbuf)})
		if r.hasBody {
			c.wbuf, _ = r.appendBody(c.wbuf, length) // trailers were checked by DoPipeline
		}
		if closing {
			lim = k + 1
		}
	}
	for k := from; k < lim; k++ {
		if t := traceOf(cl, pl.reqs[k]); t != nil && t.GotConn != nil {
			c.requests += k - from
			t.gotConn(c, reused || k > pl.done, idle)
			c.requests -= k - from
		}
	}
	c.begin(pl.ctx, pl.deadline, nil, "")
	werr := c.write(c.wbuf)
	tm.WroteRequest = time.Now()
	for k := from; k < lim; k++ {
		t := traceOf(cl, pl.reqs[k])
		if t != nil && t.WroteHead != nil && werr == nil {
			h := pl.heads[k-from]
			t.WroteHead(c.wbuf[h[0]:h[1]])
		}
		if t != nil && t.WroteRequest != nil {
			t.WroteRequest(werr)
		}
		pl.resps[k].Timings = *tm
	}
	c.requests += lim - from
	if werr != nil {
		c.end(werr, 0, 0)
		return from, werr
	}
	return lim, nil
}

// readResponse reads the response to reqs[done], body included.
func (pl *pipeline) readResponse(c *conn, reused bool) error {
	r, resp := pl.reqs[pl.done], pl.resps[pl.done]
	tm := resp.Timings
	resp.Reset()
	resp.Timings = tm
	c.begin(r.Ctx, pl.deadline, traceOf(pl.cl, r), r.method())
	c.times = &resp.Timings
	c.reqClose = r.Close || r.Fields().HasToken("Connection", "close")
	n, err := c.readHead(false)
	if err != nil {
		c.dead = true
		c.end(err, 0, 0)
		return err
	}
	if err := c.startBody(resp, n); err != nil {
		return err
	}
	resp.Reused = reused
	resp.URL = r.URL
	if err := resp.stream.readAll(resp, pl.cl.maxBody()); err != nil {
		return &connErr{op: "read body", err: err}
	}
	return nil
}

// release gives the connection back (or closes it) after a pipelined stretch, and
// decides what follows: nil to go on with a new connection for the unanswered
// requests (or when all are answered), an error to stop.
func (pl *pipeline) release(c *conn, reused, progress bool, failure error, failOp string) error {
	cl, p, reqs, done := pl.cl, pl.p, pl.reqs, pl.done
	switch {
	case done == len(reqs) && c.heldReason == "" && failure == nil:
		p.put(c)
		return nil
	case failure == nil && !c.dead:
		// The last exchange ended cleanly but the connection cannot carry more (the
		// server asked to close, a Keep-Alive max): let the server finish first.
		p.dropGracefully(c)
	default:
		p.drop(c)
	}
	if failure != nil && !connectionDied(failure) {
		// The server answered, but the answer is unacceptable: sending the request
		// again would only repeat it (DESIGN: re-send only when the connection dies).
		return cl.describe(reqs[done], c, reused || progress, &connErr{op: failOp, err: failure},
			"not re-sent: the server answered")
	}
	why := &RetryReason{ConnID: c.id, Answered: pl.answeredOn, Pending: len(reqs) - done,
		Closed: c.heldReason, Err: failure}
	if failure != nil {
		why.Closed = ""
	}
	if failure != nil && progress {
		failure = nil // the connection died after answering: re-send the rest
	}
	if failure != nil {
		pl.failures++
		if neterr.IsTimeout(failure) || pl.failures >= maxPipelineFailures ||
			pl.ctx != nil && pl.ctx.Err() != nil {
			return cl.describe(reqs[done], c, reused, &connErr{op: "pipeline", err: failure},
				fmt.Sprintf("%d requests unanswered", len(reqs)-done))
		}
	}
	if done < len(reqs) {
		pl.resends++
		if t := traceOf(cl, reqs[done]); t != nil && t.Retry != nil {
			t.Retry(pl.resends, why)
		}
	}
	return nil
}

// connectionDied reports whether a pipelined exchange failed because its connection
// died (an I/O error, a write failure, a truncated body), so that the requests it did
// not answer may be re-sent on a new connection. A response that arrived but cannot be
// accepted (a body over MaxResponseBody, a malformed or oversized head, a 101) is the
// server's answer: re-sending the request would only repeat it.
func connectionDied(err error) bool {
	var we *wire.Error
	switch {
	case errors.Is(err, ErrBodyTooLarge), errors.Is(err, ErrUnrequestedUpgrade),
		errors.Is(err, errBufferFull), errors.Is(err, errTooMany1xx), errors.As(err, &we):
		return false
	}
	return true
}

func traceOf(cl *Client, r *Request) *Trace {
	if r.Trace != nil {
		return r.Trace
	}
	return cl.Trace
}
