package client

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/hop-http/hop/wire"
)

// Transport is an http.RoundTripper that runs requests on a hop Client, so that an
// http.Client (and everything built on it) can use hop's connections:
//
//	hc := &http.Client{Transport: &client.Transport{Client: &client.Client{}}}
//
// Redirects are left to the http.Client, as the RoundTripper contract requires; the
// Client's retry rules apply. Response bodies stream from the connection; closing
// one early drains it (bounded) so the connection can be reused. A 101 Switching
// Protocols response (to a request with an Upgrade field) has the switched
// connection as its Body, an io.ReadWriteCloser, as with net/http. Request trailers
// (http.Request.Trailer, read when the body ends) are sent after a chunked body;
// response trailers fill http.Response.Trailer at the end of the body. Header field
// names keep the case net/http gives them. An httptrace.ClientTrace in the request's
// context receives the events hop can map (DNS, TLS, got connection, wrote headers
// and request, 1xx responses through Got1xxResponse, 100 Continue, first response
// byte; net.Dialer reports the connect events itself).
type Transport struct {
	// Client runs the requests; nil means a Client with default settings, shared by
	// every Transport with a nil Client.
	Client *Client
}

var defaultTransportClient = &Client{}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(hr *http.Request) (*http.Response, error) {
	closeBody := func() {
		if hr.Body != nil {
			hr.Body.Close()
		}
	}
	cl := t.Client
	if cl == nil {
		cl = defaultTransportClient
	}
	if hr.URL == nil {
		closeBody()
		return nil, errors.New("hop/client: nil Request.URL")
	}
	req := &Request{Method: hr.Method, Ctx: hr.Context(), Close: hr.Close}
	if err := req.URL.Set(hr.URL.String()); err != nil {
		closeBody()
		return nil, err
	}
	if hr.Host != "" && hr.Host != hr.URL.Host {
		req.Header.Add("Host", hr.Host)
	}
	for name, values := range hr.Header {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	if hr.Body != nil && hr.Body != http.NoBody {
		n := hr.ContentLength
		if n <= 0 {
			n = -1
		}
		var body io.Reader = hr.Body
		if hr.Trailer != nil {
			// net/http's trailers are read once the body has been read: convert them then.
			tb := &trailerBody{r: hr.Body, from: hr.Trailer, to: &wire.Header{}}
			body, req.Trailer = tb, tb.to
		}
		req.SetBodyStream(body, n)
		if hr.GetBody != nil {
			req.GetBody = func() (io.Reader, error) {
				b, err := hr.GetBody()
				if err != nil || hr.Trailer == nil {
					return b, err
				}
				return &trailerBody{r: b, from: hr.Trailer, to: req.Trailer}, nil
			}
		}
	} else if hr.ContentLength > 0 {
		closeBody()
		return nil, errors.New("hop/client: ContentLength set without a Body")
	}
	if ct := httptrace.ContextClientTrace(hr.Context()); ct != nil {
		req.Trace = bridgeTrace(ct)
	}
	resp := &Response{}
	err := cl.do(req, resp, true, false)
	closeBody()
	if err != nil {
		return nil, err
	}
	hresp := &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + string(resp.Reason),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1." + strconv.Itoa(int(resp.Minor)),
		ProtoMajor:    int(resp.Major),
		ProtoMinor:    int(resp.Minor),
		Header:        make(http.Header, resp.Header.Len()),
		ContentLength: resp.ContentLength,
		Close:         !resp.KeepAlive,
		Request:       hr,
		TLS:           resp.TLS,
	}
	for i := 0; i < resp.Header.Len(); i++ {
		n, v := resp.Header.At(i)
		k := textproto.CanonicalMIMEHeaderKey(string(n))
		hresp.Header[k] = append(hresp.Header[k], string(v))
	}
	if resp.Framing == wire.FramingChunked {
		hresp.TransferEncoding = []string{"chunked"}
		hresp.Header.Del("Transfer-Encoding")
		if announced := hresp.Header.Values("Trailer"); len(announced) > 0 {
			hresp.Trailer = make(http.Header)
			for _, v := range announced {
				for _, k := range strings.Split(v, ",") {
					if k = strings.TrimSpace(k); k != "" {
						hresp.Trailer[textproto.CanonicalMIMEHeaderKey(k)] = nil
					}
				}
			}
		}
	}
	if sc := resp.SwitchedConn(); sc != nil {
		hresp.Body = sc // an io.ReadWriteCloser, as net/http gives for 101
		return hresp, nil
	}
	hresp.Body = &httpBody{resp: resp, hresp: hresp}
	return hresp, nil
}

// trailerBody reads a request body and, at its end, copies net/http's trailer fields
// into the wire.Header the client sends after it.
type trailerBody struct {
	r    io.Reader
	from http.Header
	to   *wire.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.to.Reset()
		for k, vs := range b.from {
			for _, v := range vs {
				b.to.Add(k, v)
			}
		}
	}
	return n, err
}

// httpBody adapts a streamed Response body to io.ReadCloser.
type httpBody struct {
	resp  *Response
	hresp *http.Response
}

// Read reads the body; at its end it fills the http.Response's Trailer.
func (b *httpBody) Read(p []byte) (int, error) {
	n, err := b.resp.stream.Read(p)
	if err == io.EOF && b.resp.Trailer.Len() > 0 {
		if b.hresp.Trailer == nil {
			b.hresp.Trailer = make(http.Header)
		}
		for i := 0; i < b.resp.Trailer.Len(); i++ {
			k, v := b.resp.Trailer.At(i)
			key := textproto.CanonicalMIMEHeaderKey(string(k))
			b.hresp.Trailer[key] = append(b.hresp.Trailer[key], string(v))
		}
		b.resp.Trailer.Reset()
	}
	return n, err
}

// Close ends the body (draining it, bounded, for reuse).
func (b *httpBody) Close() error { return b.resp.Close() }

// bridgeTrace maps an httptrace.ClientTrace onto a hop Trace.
func bridgeTrace(ct *httptrace.ClientTrace) *Trace {
	t := &Trace{}
	if ct.GetConn != nil {
		t.GetConn = func(origin string) {
			if i := strings.Index(origin, "://"); i >= 0 {
				origin = origin[i+3:]
			}
			ct.GetConn(origin)
		}
	}
	if ct.DNSStart != nil {
		t.DNSStart = func(h string) { ct.DNSStart(httptrace.DNSStartInfo{Host: h}) }
	}
	if ct.DNSDone != nil {
		t.DNSDone = func(i DNSInfo) {
			var addrs []net.IPAddr
			for _, a := range i.Addrs {
				addrs = append(addrs, net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()})
			}
			ct.DNSDone(httptrace.DNSDoneInfo{Addrs: addrs, Err: i.Err})
		}
	}
	// ConnectStart and ConnectDone need no bridge: net.Dialer reports them itself
	// from the request's context.
	if ct.TLSHandshakeStart != nil {
		t.TLSStart = ct.TLSHandshakeStart
	}
	if ct.TLSHandshakeDone != nil {
		t.TLSDone = func(s *tls.ConnectionState, err error) {
			if s == nil {
				ct.TLSHandshakeDone(tls.ConnectionState{}, err)
				return
			}
			ct.TLSHandshakeDone(*s, err)
		}
	}
	if ct.GotConn != nil {
		t.GotConn = func(i ConnInfo) {
			ct.GotConn(httptrace.GotConnInfo{Conn: nil, Reused: i.Reused, WasIdle: i.Reused, IdleTime: i.IdleTime})
		}
	}
	if ct.WroteHeaders != nil {
		t.WroteHead = func([]byte) { ct.WroteHeaders() }
	}
	if ct.WroteRequest != nil {
		t.WroteRequest = func(err error) { ct.WroteRequest(httptrace.WroteRequestInfo{Err: err}) }
	}
	if ct.Got1xxResponse != nil {
		t.Got1xx = func(status int, h *wire.Header) error {
			mh := make(textproto.MIMEHeader, h.Len())
			for i := 0; i < h.Len(); i++ {
				n, v := h.At(i)
				k := textproto.CanonicalMIMEHeaderKey(string(n))
				mh[k] = append(mh[k], string(v))
			}
			return ct.Got1xxResponse(status, mh)
		}
	}
	if ct.Got100Continue != nil {
		t.Got100Continue = ct.Got100Continue
	}
	if ct.GotFirstResponseByte != nil {
		t.FirstByte = ct.GotFirstResponseByte
	}
	return t
}
