package client

import (
	"fmt"
	"time"
)

// isRedirect reports whether status is a redirect the client follows.
func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// redirectMethod applies RFC 9110 §15.4: 303 turns any method but HEAD into GET;
// 301 and 302 turn POST into GET (as user agents historically do, which §15.4.2
// and §15.4.3 allow); 307 and 308 keep the method and the body.
func redirectMethod(status int, method string) (string, bool) {
	switch status {
	case 303:
		if method == "HEAD" {
			return method, false
		}
		return "GET", false
	case 301, 302:
		if method == "POST" {
			return "GET", false
		}
		return method, true
	}
	return method, true
}

// contentFields are removed when a redirect turns the request into a GET without
// body (RFC 9110 §15.4: "remove content-specific header fields").
var contentFields = []string{"Content-Type", "Content-Encoding", "Content-Language",
	"Content-Location", "Content-Length", "Transfer-Encoding", "Digest",
	"Content-Digest", "Expect", "Idempotency-Key"}

// credentialFields are removed when a redirect leaves the origin.
var credentialFields = []string{"Authorization", "Cookie", "Proxy-Authorization", "Host"}

// doRedirects runs req and follows up to MaxRedirects redirects. The caller's
// Request is not modified: a redirected request is a copy.
func (cl *Client) doRedirects(req *Request, resp *Response, tr *Trace, deadline time.Time, stream bool) error {
	cur := req
	for n := 0; ; n++ {
		err := cl.send(cur, resp, tr, deadline, stream)
		resp.URL = cur.URL
		resp.Redirects = n
		if err != nil {
			return err
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.Status) || len(loc) == 0 {
			return nil
		}
		next, err := cur.URL.Resolve(string(loc))
		if err != nil {
			resp.Close()
			return &Error{Method: cur.method(), URL: cur.URL.Redacted(), Op: "redirect",
				Err: fmt.Errorf("cannot follow Location %q: %w", loc, err)}
		}
		if n >= cl.MaxRedirects {
			resp.Close()
			return &Error{Method: cur.method(), URL: cur.URL.Redacted(), Op: "redirect",
				Err: fmt.Errorf("%w (%d followed, next is %s)", ErrTooManyRedirects, n, next.Redacted())}
		}
		if next.Fragment == "" && cur.URL.Fragment != "" {
			next.Fragment = cur.URL.Fragment // RFC 9110 §10.2.2
		}
		method, keepBody := redirectMethod(resp.Status, cur.method())
		nr := &Request{
			Method: method, URL: next, Close: cur.Close, HTTP10: cur.HTTP10,
			GetBody: cur.GetBody, Timeout: cur.Timeout, Ctx: cur.Ctx, Trace: cur.Trace,
		}
		if keepBody {
			nr.body, nr.bodyStream, nr.bodyLen, nr.hasBody = cur.body, cur.bodyStream, cur.bodyLen, cur.hasBody
			// A streamed body was read by the request just sent: the new request gets
			// a fresh copy from GetBody (the caller's keeps its own reader).
			if nr.hasBody && nr.bodyStream != nil && !nr.rewind(&bodyCursor{consumed: true}) {
				return nil // the body cannot be sent again: the redirect is the answer
			}
		}
		if tr != nil && tr.Redirect != nil {
			tr.Redirect(resp.Status, next.Redacted())
		}
		resp.Close()
		nr.Header.CopyFrom(&cur.Header)
		if !keepBody {
			for _, f := range contentFields {
				nr.Header.Del(f)
			}
		}
		if !sameOrigin(&next, &cur.URL) {
			for _, f := range credentialFields {
				nr.Header.Del(f)
			}
		}
		cur = nr
	}
}
