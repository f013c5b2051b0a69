package client

import (
	"errors"
	"fmt"
	"time"

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
		if r.Header.HasToken("Expect", "100-continue") {
			return errors.New("hop/client: Expect: 100-continue cannot be pipelined")
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

// pipelineRun pipelines requests that share an origin.
func (cl *Client) pipelineRun(reqs []*Request, resps []*Response, depth int, deadline time.Time) error {
	p, err := cl.poolFor(&reqs[0].URL)
	if err != nil {
		return cl.describe(reqs[0], nil, false, &connErr{op: "proxy", err: err}, "")
	}
	ctx := reqs[0].Ctx
	done := 0 // responses received
	failures := 0
	for done < len(reqs) {
		tr := traceOf(cl, reqs[done])
		if tr != nil && tr.GetConn != nil {
			tr.GetConn(p.origin)
		}
		c, reused, idle, err := p.acquire(ctx, deadline, failures > 0, tr)
		if err != nil {
			return cl.describe(reqs[done], nil, false, err, "")
		}
		c.hold, c.heldReason = true, ""
		sent := done
		progress := false
		var failure error
		var failOp string // the phase that failed
		for done < len(reqs) {
			window := depth
			if !c.proven {
				window = 1
			}
			// Write the requests of the window that are not yet sent, in one write.
			if lim := min(done+window, len(reqs)); sent < lim {
				c.wbuf = c.wbuf[:0]
				heads := make([]int, 0, lim-sent)
				for k := sent; k < lim; k++ {
					r := reqs[k]
					var closing bool
					start := len(c.wbuf)
					c.target = r.appendTarget(c.target[:0], p.absolute)
					c.wbuf, closing = r.appendHead(c.wbuf, c.target, p.proxyAuth, r.ContentLength())
					heads = append(heads, len(c.wbuf)-start)
					if r.hasBody {
						c.wbuf = append(c.wbuf, r.body...)
					}
					if closing {
						lim = k + 1 // nothing may follow a request that closes
					}
				}
				for k := sent; k < lim; k++ {
					if t := traceOf(cl, reqs[k]); t != nil && t.GotConn != nil {
						c.requests += k - sent
						t.gotConn(c, reused || progress || k > done, idle)
						c.requests -= k - sent
					}
				}
				c.begin(ctx, deadline, nil, "")
				werr := c.write(c.wbuf)
				off := 0
				for k := sent; k < lim; k++ {
					t := traceOf(cl, reqs[k])
					if t != nil && t.WroteHead != nil && werr == nil {
						t.WroteHead(c.wbuf[off : off+heads[k-sent]])
					}
					off += heads[k-sent]
					if r := reqs[k]; r.hasBody {
						off += len(r.body)
					}
					if t != nil && t.WroteRequest != nil {
						t.WroteRequest(werr)
					}
				}
				c.requests += lim - sent
				if werr != nil {
					failure, failOp = werr, "write request"
					c.end(werr, 0, 0)
					break
				}
				sent = lim
			}
			// Read the response to reqs[done].
			r, resp := reqs[done], resps[done]
			tr := traceOf(cl, r)
			resp.Reset()
			c.begin(r.Ctx, deadline, tr, r.method())
			c.reqClose = r.Close || r.Header.HasToken("Connection", "close")
			n, err := c.readFinalHead()
			if err != nil {
				failure, failOp = err, "read response"
				c.dead = true
				c.end(err, 0, 0)
				break
			}
			c.startBody(resp, n)
			resp.Reused = reused || progress
			resp.URL = r.URL
			if err := resp.stream.readAll(resp, cl.maxBody()); err != nil {
				failure, failOp = err, "read body"
				break
			}
			done++
			progress = true
			failures = 0
			if c.heldReason != "" {
				break // the connection cannot carry more: re-send the rest
			}
			idle = 0
		}
		c.hold = false
		if done == len(reqs) && c.heldReason == "" && failure == nil {
			p.put(c)
			return nil
		}
		p.drop(c)
		if failure != nil && !connectionDied(failure) {
			// The server answered, but the answer is unacceptable: sending the request
			// again would only repeat it (DESIGN: re-send only when the connection dies).
			return cl.describe(reqs[done], c, reused || progress, &connErr{op: failOp, err: failure},
				"not re-sent: the server answered")
		}
		if failure != nil && progress {
			failure = nil // the connection died after answering: re-send the rest
		}
		if failure != nil {
			failures++
			if isTimeout(failure) || failures >= maxPipelineFailures ||
				ctx != nil && ctx.Err() != nil {
				return cl.describe(reqs[done], c, reused, &connErr{op: "pipeline", err: failure},
					fmt.Sprintf("%d requests unanswered", len(reqs)-done))
			}
		}
		if done < len(reqs) {
			if t := traceOf(cl, reqs[done]); t != nil && t.Retry != nil {
				t.Retry(failures, failure)
			}
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
	case errors.Is(err, ErrBodyTooLarge), errors.Is(err, ErrUnsupportedUpgrade),
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
