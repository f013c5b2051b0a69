package cache

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/cache/policy"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/clock"
	"github.com/hop-http/hop/internal/httpcond"
	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/wire"
)

// Defaults of a Cache.
const (
	DefaultMaxObject         = 64 << 20
	DefaultSpoolMax          = 8 << 20
	DefaultCoalesceWait      = 30 * time.Second
	DefaultStaleOnDisconnect = time.Hour
	DefaultKeepStale         = time.Hour
)

// Cache is an RFC 9111 shared cache in front of an Exchanger: it implements
// proxy.Exchanger, answering from Store what it may and forwarding the rest to Next,
// storing what comes back. Fields must not change once it serves.
type Cache struct {
	// Store holds the entries; required.
	Store store.Store
	// Next forwards requests (normally a proxy.Transport); required.
	Next proxy.Exchanger
	// Name identifies this cache in Cache-Status (default "hop").
	Name string
	// MaxObject is the largest body stored (default DefaultMaxObject; the store's own
	// bound applies too).
	MaxObject int64
	// SpoolMax is the largest body that coalesced requests read from memory as it
	// streams; a larger one (or one of unknown length) they read from the store once
	// committed (default DefaultSpoolMax).
	SpoolMax int64
	// CoalesceWait bounds how long a request waits for another request's response to
	// the same key before going upstream itself, and then each wait for more of that
	// response's body (a follower of a leader stuck longer gets an aborted message).
	// It also bounds how long a leader whose client left goes on reading the body for
	// its followers (default DefaultCoalesceWait).
	CoalesceWait time.Duration
	// StaleOnDisconnect is the most staleness served when the origin cannot be reached
	// (RFC 9111 §4.2.4), for responses that allow stale use (default
	// DefaultStaleOnDisconnect; negative disables).
	StaleOnDisconnect time.Duration
	// KeepStale is how long a response with validators is kept after it became stale,
	// to be revalidated rather than fetched again (default DefaultKeepStale).
	KeepStale time.Duration
	// AllowPurge lists the client networks whose PURGE requests are honoured; from
	// others PURGE is forwarded like any other method.
	AllowPurge []netip.Prefix
	// Logger receives store outages and recoveries (default slog.Default()).
	Logger *slog.Logger
	// Now, when set, is the clock (for tests); default hop's coarse clock.
	Now func() time.Time

	once   sync.Once
	name   string
	health health
	fl     flights
	m      counters
	// Background revalidations: bgMu orders Close against starting one (a
	// WaitGroup's Add must not race its Wait); Close cancels bgCtx.
	bgMu     sync.Mutex
	bg       sync.WaitGroup
	closed   bool
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// counters are the cache's metrics.
type counters struct {
	hits, misses, stale, stored, coalesced, bypass, storeErrors, purges, tooLarge, lost atomic.Int64
}

func (c *Cache) init() {
	c.once.Do(func() {
		c.name = c.Name
		if c.name == "" {
			c.name = "hop"
		}
		if c.MaxObject <= 0 {
			c.MaxObject = DefaultMaxObject
		}
		if c.SpoolMax <= 0 {
			c.SpoolMax = DefaultSpoolMax
		}
		if c.CoalesceWait <= 0 {
			c.CoalesceWait = DefaultCoalesceWait
		}
		if c.StaleOnDisconnect == 0 {
			c.StaleOnDisconnect = DefaultStaleOnDisconnect
		}
		if c.KeepStale <= 0 {
			c.KeepStale = DefaultKeepStale
		}
		if c.Logger == nil {
			c.Logger = slog.Default()
		}
		c.health.log = c.Logger
		c.fl.m = map[string]*flight{}
		c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	})
}

// Close ends the background revalidations — it cancels those in progress, so it
// returns as soon as they see it, not after their own minute — and waits for them.
// No new one starts after it. It does not close the Store.
func (c *Cache) Close() error {
	c.init()
	c.bgMu.Lock()
	c.closed = true
	c.bgMu.Unlock()
	c.bgCancel()
	c.bg.Wait()
	return nil
}

// now is the cache's clock: Now when set (tests), else hop's coarse clock.
func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return clock.Now()
}

// scratch is the per-request state of a lookup, pooled; a response served from the
// store keeps it (and the entry) until its body is closed.
type scratch struct {
	c    *Cache
	key  []byte // primary key text: the absolute URL
	key2 []byte // secondary key text (variants)
	buf  []byte
	meta entryMeta
	// varyGen is the generation of the Vary marker find met (0: none), which a
	// response stored for the request keeps when it varies too.
	varyGen uint64
	parser  wire.Parser
	resp    wire.Response
	hdr     wire.Header // a freshened head
	entry   store.Entry
	body    directBody
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (c *Cache) getScratch() *scratch {
	s := scratchPool.Get().(*scratch)
	s.c = c
	return s
}

func (s *scratch) release() {
	if s.entry != nil {
		s.entry.Close()
		s.entry = nil
	}
	s.body = directBody{}
	s.hdr.Reset()
	s.resp.Header.Reset()
	s.meta, s.varyGen = entryMeta{}, 0
	s.key, s.key2, s.buf = s.key[:0], s.key2[:0], s.buf[:0]
	s.c = nil
	scratchPool.Put(s)
}

// Exchange implements proxy.Exchanger.
func (c *Cache) Exchange(ctx context.Context, x *proxy.Exchange) error {
	c.init()
	if x.Req.Header.Has("Upgrade") {
		// An upgrade the proxy tunnels (WebSocket): never answered from the store,
		// never stored (package proxy's seam contract).
		return c.Next.Exchange(ctx, x)
	}
	switch x.Req.Method {
	case "GET", "HEAD":
		return c.lookup(ctx, x, false)
	case "PURGE":
		if c.purgeAllowed(x.Client.Addr()) {
			return c.purgeRequest(ctx, x)
		}
	}
	return c.unsafe(ctx, x)
}

func (c *Cache) purgeAllowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.AllowPurge {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lookup serves a GET or HEAD. waited says the request already waited for another
// request's validation of the same stored response (it then validates alone).
func (c *Cache) lookup(ctx context.Context, x *proxy.Exchange, waited bool) error {
	s := c.getScratch()
	s.key = x.Req.URL.AppendAbsolute(s.key[:0])
	h := &x.Req.Header
	head := x.Req.Method == "HEAD"
	rd := policy.ParseRequest(h)

	if policy.Bypass(h) {
		s.release()
		c.m.bypass.Add(1)
		return c.forward(ctx, x, policy.FwdBypass, nil)
	}
	e, fwd := c.find(ctx, s, h)
	if e == nil {
		gen := s.varyGen
		s.release()
		if rd.OnlyIfCached {
			c.m.misses.Add(1)
			return c.gatewayTimeout(x, "only-if-cached")
		}
		return c.miss(ctx, x, fwd, head, gen)
	}
	t := c.now()
	action, age := policy.Evaluate(&s.meta.facts, &rd, t)
	switch action {
	case policy.Serve, policy.ServeStale, policy.ServeStaleRevalidate:
		cs := policy.CacheStatus{Hit: true, TTL: s.meta.facts.Lifetime - age, HasTTL: true}
		if action != policy.Serve {
			c.m.stale.Add(1)
			if action == policy.ServeStaleRevalidate {
				cs.Detail = "stale-while-revalidate"
				c.revalidate(x, s)
			}
		}
		c.m.hits.Add(1)
		c.answer(x, s, &s.resp.Header, age, &cs, head, false)
		return nil
	case policy.GatewayTimeout:
		s.release()
		c.m.misses.Add(1)
		return c.gatewayTimeout(x, "only-if-cached")
	}
	// Validate.
	fwd = policy.FwdStale
	if rd.NoCache || rd.MaxAge != policy.Absent || rd.MinFresh != policy.Absent {
		fwd = policy.FwdRequest
	}
	if fwd == policy.FwdStale && !waited {
		// Concurrent requests for one stale response send one conditional request:
		// the others wait for its outcome (at most CoalesceWait) and look again,
		// finding the response freshened (a 304) or replaced.
		key := string(s.storedKey())
		done, leader := c.fl.startValidation(key)
		if !leader {
			s.release()
			c.waitValidation(ctx, done)
			return c.lookup(ctx, x, true)
		}
		defer c.fl.endValidation(key, done)
	}
	return c.validate(ctx, x, s, &rd, age, fwd, head)
}

// find looks the request up: the stored response for its key, through a Vary marker
// when there is one. It returns the open entry (kept in s, its metadata decoded in
// s.meta and head parsed in s.resp) or nil and the reason it went forward.
func (c *Cache) find(ctx context.Context, s *scratch, reqH *wire.Header) (store.Entry, policy.Fwd) {
	e := c.get(ctx, s.key)
	if e == nil {
		return nil, policy.FwdURIMiss
	}
	if decodeMeta(e.Meta(), &s.meta) != nil || string(s.meta.key) != string(s.key) {
		e.Close()
		return nil, policy.FwdURIMiss // a key collision, or an entry of another version
	}
	if s.meta.kind == kindVary {
		s.key2 = append(append(s.key2[:0], s.key...), 0)
		s.key2 = policy.AppendSecondaryKey(s.key2, s.meta.varyNames, reqH)
		s.varyGen = s.meta.varyGen
		e.Close()
		e = c.get(ctx, s.key2)
		if e == nil {
			return nil, policy.FwdVaryMiss
		}
		if decodeMeta(e.Meta(), &s.meta) != nil || string(s.meta.key) != string(s.key2) || s.meta.kind != kindResponse ||
			s.meta.varyGen != s.varyGen {
			// Another entry's, or a variant stored before its marker was deleted
			// (invalidation, purge): never reached again.
			e.Close()
			return nil, policy.FwdVaryMiss
		}
	}
	s.parser.Reset()
	if _, err := s.parser.ParseResponse(s.meta.head, &s.resp, methodGET); err != nil {
		e.Close()
		return nil, policy.FwdURIMiss
	}
	s.entry = e
	return e, policy.FwdNone
}

var methodGET = []byte("GET")

// get reads key from the store; store failures count as misses (and are logged once
// per outage).
func (c *Cache) get(ctx context.Context, key []byte) store.Entry {
	if !c.health.usable() {
		return nil
	}
	e, err := c.Store.Get(ctx, store.KeyOf(key))
	switch {
	case err == nil:
		c.health.ok()
		return e
	case errors.Is(err, store.ErrNotFound):
		c.health.ok()
	default:
		c.storeFailed(err)
	}
	return nil
}

func (c *Cache) storeFailed(err error) {
	c.m.storeErrors.Add(1)
	c.health.failed(err)
}

// answer fills x with the stored response of s (header h: the stored one or a
// freshened one) at age age. validated reports a response just validated with the
// origin (fields of a qualified no-cache may then be sent).
func (c *Cache) answer(x *proxy.Exchange, s *scratch, h *wire.Header, age time.Duration, cs *policy.CacheStatus, head, validated bool) {
	r := &x.Resp
	r.Major, r.Minor = 1, 1
	r.Status = s.resp.Status
	r.Reason = append(r.Reason[:0], s.resp.Reason...)
	size := s.entry.Size()
	var withheld []byte
	if s.meta.facts.Withheld && !validated {
		withheld = policy.ParseResponse(h).NoCacheFields
	}

	// Conditional and range requests are answered from the stored response.
	status, rg := 0, httpcond.Range{Start: 0, Length: size}
	var parts *httpcond.Multipart // several ranges
	etag, mod := h.Get("ETag"), lastModified(h)
	if (x.Req.Method == "GET" || x.Req.Method == "HEAD") && r.Status/100 == 2 {
		// Preconditions apply only to what would otherwise be a 2xx (RFC 9110
		// §13.2.1): a stored 404 or 301 is served as it is.
		status = httpcond.Preconditions(&x.Req.Header, etag, mod)
	}
	if status == 0 && r.Status == 200 && x.Req.Header.Has("Range") && httpcond.IfRange(&x.Req.Header, etag, mod) {
		ranges, res := httpcond.ParseRange(x.Req.Header.Get("Range"), size, maxRanges)
		switch {
		case res == httpcond.RangeOK && len(ranges) == 1:
			status, rg = 206, ranges[0]
		case res == httpcond.RangeOK:
			status = 206
			parts = httpcond.NewMultipart(string(h.Get("Content-Type")), size, ranges)
			rg = httpcond.Range{Start: 0, Length: parts.Length}
		case res == httpcond.RangeUnsatisfiable:
			status = 416
		}
	}
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		if wire.EqualFold(n, "Content-Length") || wire.EqualFold(n, "Age") {
			continue
		}
		if withheld != nil && policy.ListHas(withheld, n) {
			continue
		}
		if status == 304 && !notModifiedField(n) {
			continue
		}
		if (status == 206 || status == 416) && wire.EqualFold(n, "Content-Range") {
			continue
		}
		if parts != nil && wire.EqualFold(n, "Content-Type") {
			continue // the parts carry it; the whole is multipart/byteranges
		}
		wire.Add(&r.Header, n, v)
	}
	if parts != nil {
		wire.Add(&r.Header, "Content-Type", parts.ContentType())
	}
	// Age in whole seconds, rounded: the coarse clock and the moment a request lands
	// make a resident time of 3 s read as 2.99 s, which truncation would turn into
	// an Age one second short.
	s.buf = strconv.AppendInt(s.buf[:0], int64((age+time.Second/2)/time.Second), 10)
	wire.Add(&r.Header, "Age", s.buf)
	switch status {
	case 304:
		r.Status, r.Reason = 304, r.Reason[:0]
		r.Framing, r.ContentLength = wire.FramingNone, 0
		rg.Length = 0
	case 206:
		r.Status, r.Reason = 206, r.Reason[:0]
		if parts == nil {
			s.buf = rg.AppendContentRange(s.buf[:0], size)
			wire.Add(&r.Header, "Content-Range", s.buf)
		}
	case 416:
		r.Status, r.Reason = 416, r.Reason[:0]
		s.buf = append(s.buf[:0], "bytes */"...)
		s.buf = strconv.AppendInt(s.buf, size, 10)
		wire.Add(&r.Header, "Content-Range", s.buf)
		rg.Length = 0
	}
	s.buf = policy.AppendCacheStatus(s.buf[:0], c.name, cs)
	wire.Add(&r.Header, "Cache-Status", s.buf)
	if status != 304 && bodyAllowed(r.Status) {
		r.Framing, r.ContentLength = wire.FramingLength, rg.Length
	} else {
		r.Framing, r.ContentLength, rg.Length = wire.FramingNone, 0, 0
	}
	if head {
		r.Framing = wire.FramingNone
		x.Body = nil
		if bodyAllowed(r.Status) && status != 304 {
			r.ContentLength = rg.Length
		} else {
			r.ContentLength = -1
		}
		s.release()
		return
	}
	if rg.Length == 0 {
		// No body (304, 416, an empty stored body): none is set, so nothing is
		// written, not even zero bytes, to a response whose status forbids one.
		x.Body = nil
		s.release()
		return
	}
	if parts != nil {
		x.Body = &multipartBody{s: s, m: parts, part: -1}
		return
	}
	s.body = directBody{storedBody{s: s, off: rg.Start, end: rg.Start + rg.Length}}
	switch e := s.entry.(type) {
	case store.BytesEntry:
		s.body.bytes = e.Bytes()
		x.Body = &s.body
	case store.FileEntry:
		x.Body = &s.body
	default:
		x.Body = &s.body.storedBody
	}
}

// maxRanges is the most ranges a request may ask for; a longer set gets the whole
// response (as from hop's file server).
const maxRanges = 16

// multipartBody streams a multipart/byteranges body cut from a stored entry: each
// part's head, then its range read from the entry, then the closing boundary.
// Closing it releases the lookup state and the entry.
type multipartBody struct {
	s        *scratch
	m        *httpcond.Multipart
	part     int    // the part being sent; -1 before the first, len(Ranges) for the tail
	pending  []byte // what remains of a part head or of the tail
	off, end int64  // what remains of the part's range
}

func (b *multipartBody) Read(p []byte) (int, error) {
	for {
		switch {
		case len(b.pending) > 0:
			n := copy(p, b.pending)
			b.pending = b.pending[n:]
			return n, nil
		case b.part >= 0 && b.part < len(b.m.Ranges) && b.off < b.end:
			if int64(len(p)) > b.end-b.off {
				p = p[:b.end-b.off]
			}
			n, err := b.s.entry.ReadAt(p, b.off)
			b.off += int64(n)
			if err == io.EOF && b.off < b.end {
				err = io.ErrUnexpectedEOF // the store holds less than it declared
			}
			if err != nil && err != io.EOF {
				b.s.bodyFailed(err)
				return n, err
			}
			return n, nil
		case b.part >= len(b.m.Ranges):
			return 0, io.EOF
		}
		b.part++
		if b.part == len(b.m.Ranges) {
			b.pending = []byte(b.m.Tail())
			b.part++ // past the tail once it is sent
			continue
		}
		rg := b.m.Ranges[b.part]
		b.pending, b.off, b.end = b.m.PartHead(b.part), rg.Start, rg.Start+rg.Length
	}
}

// ReadWaits implements proxy.BodyWaiter (see storedBody).
func (b *multipartBody) ReadWaits() bool { return false }

func (b *multipartBody) Close() error {
	if s := b.s; s != nil {
		b.s = nil
		s.release()
	}
	return nil
}

func bodyAllowed(status int) bool { return status >= 200 && status != 204 && status != 304 }

// notModifiedField reports the stored fields a 304 carries (RFC 9110 §15.4.5).
func notModifiedField(n []byte) bool {
	for _, f := range [...]string{"Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary", "Last-Modified", "Cache-Status"} {
		if wire.EqualFold(n, f) {
			return true
		}
	}
	return false
}

func lastModified(h *wire.Header) time.Time {
	if v := h.Get("Last-Modified"); v != nil {
		if t, ok := httpdate.Parse(v); ok {
			return t
		}
	}
	return time.Time{}
}

// gatewayTimeout answers 504 for only-if-cached without a usable stored response.
func (c *Cache) gatewayTimeout(x *proxy.Exchange, detail string) error {
	r := &x.Resp
	r.Major, r.Minor, r.Status = 1, 1, 504
	r.Reason = r.Reason[:0]
	b := policy.AppendCacheStatus(nil, c.name, &policy.CacheStatus{Fwd: policy.FwdMiss, Detail: detail})
	wire.Add(&r.Header, "Cache-Status", b)
	r.Header.Add("Content-Type", "text/plain; charset=utf-8")
	const msg = "gateway timeout: not in cache (only-if-cached)\n"
	r.Framing, r.ContentLength = wire.FramingLength, int64(len(msg))
	x.Body = io.NopCloser(strings.NewReader(msg))
	return nil
}

// storedBody streams the body of a stored entry; closing it releases the lookup
// state and the entry.
type storedBody struct {
	s        *scratch
	bytes    []byte // the whole body, for in-memory entries
	off, end int64
}

func (b *storedBody) Read(p []byte) (int, error) {
	if b.off >= b.end {
		return 0, io.EOF
	}
	if int64(len(p)) > b.end-b.off {
		p = p[:b.end-b.off]
	}
	var n int
	var err error
	if b.bytes != nil {
		n = copy(p, b.bytes[b.off:])
	} else {
		n, err = b.s.entry.ReadAt(p, b.off)
		if err == io.EOF && b.off+int64(n) < b.end {
			err = io.ErrUnexpectedEOF // the store holds less than it declared
		} else if err == io.EOF {
			err = nil
		}
		if err != nil {
			b.s.bodyFailed(err)
		}
	}
	b.off += int64(n)
	if err == nil && b.off >= b.end {
		err = io.EOF
	}
	return n, err
}

// smallFile is the largest file body read into memory rather than sent with
// sendfile.
const smallFile = 16 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

// directBody is a storedBody whose entry is in memory or in a file: it writes
// itself to the ResponseWriter, the bytes straight from the entry (no copy through
// the proxy's buffer) in writes of at most directWrite bytes, the file through
// ReadFrom (sendfile).
type directBody struct{ storedBody }

// directWrite is the most of an in-memory body written at once: each write has its
// own write timeout, so a client reading slowly but steadily gets a large hit whole,
// as it would a miss.
const directWrite = 256 << 10

// WriteTo implements io.WriterTo.
func (b *directBody) WriteTo(w io.Writer) (int64, error) {
	if b.bytes != nil {
		var total int64
		for b.off < b.end {
			n, err := w.Write(b.bytes[b.off:min(b.end, b.off+directWrite)])
			b.off += int64(n)
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	fe, ok := b.s.entry.(store.FileEntry)
	rf, ok2 := w.(io.ReaderFrom)
	if !ok || !ok2 || b.end-b.off <= smallFile {
		// A small body costs less read into memory (one pread) than sent with
		// sendfile and corking.
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		var total int64
		for {
			n, err := b.Read(*bp)
			if n > 0 {
				m, werr := w.Write((*bp)[:n])
				total += int64(m)
				if werr != nil {
					return total, werr
				}
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
		}
	}
	f, base := fe.File()
	if _, err := f.Seek(base+b.off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := rf.ReadFrom(&io.LimitedReader{R: f, N: b.end - b.off})
	b.off += n
	if err == nil && b.off < b.end {
		err = io.ErrUnexpectedEOF // the file holds less than it declared
		b.s.bodyFailed(err)
	}
	return n, err
}

// bodyFailed is told that reading the stored body of s failed with err. When the
// store lost part of it (store.ErrBodyLost: Redis evicted a chunk) or holds less than
// it declared, the entry can never be served whole again: it is deleted, if it is
// still the one stored under its key, so that the next request fetches it again
// instead of getting it cut short until it expires. Other failures (a store that
// did not answer in time) leave it in place.
func (s *scratch) bodyFailed(err error) {
	if s.c == nil || s.entry == nil || !(errors.Is(err, store.ErrBodyLost) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return
	}
	c, key := s.c, s.storedKey()
	k := store.KeyOf(key)
	ctx := context.Background()
	cur, gerr := c.Store.Get(ctx, k)
	if gerr != nil {
		return // gone already, or the store is failing (then nothing to delete now)
	}
	same := string(cur.Meta()) == string(s.entry.Meta())
	cur.Close()
	if !same {
		return // replaced meanwhile: the new entry is not the broken one
	}
	if derr := c.Store.Delete(ctx, k); derr != nil {
		c.storeFailed(derr)
		return
	}
	c.m.lost.Add(1)
	c.Logger.Warn("cache entry deleted: its stored body is incomplete", "key", string(key), "error", err)
}

// ReadWaits implements proxy.BodyWaiter: a stored body is read at the store's pace,
// never waiting for another party, so what is written goes out in large pieces.
func (b *storedBody) ReadWaits() bool { return false }

func (b *storedBody) Close() error {
	if s := b.s; s != nil {
		b.s = nil
		s.release()
	}
	return nil
}

// forward sends x upstream unchanged (no storing) and adds Cache-Status.
func (c *Cache) forward(ctx context.Context, x *proxy.Exchange, fwd policy.Fwd, detail *string) error {
	if err := c.Next.Exchange(ctx, x); err != nil {
		return err
	}
	cs := policy.CacheStatus{Fwd: fwd, FwdStatus: x.Resp.Status}
	if detail != nil {
		cs.Detail = *detail
	}
	c.addStatus(x, &cs)
	return nil
}

func (c *Cache) addStatus(x *proxy.Exchange, cs *policy.CacheStatus) {
	b := policy.AppendCacheStatus(make([]byte, 0, 64), c.name, cs)
	wire.Add(&x.Resp.Header, "Cache-Status", b)
}

// unsafe forwards a request with another method; a successful unsafe request
// invalidates the stored responses of its target and of same-origin Location and
// Content-Location (RFC 9111 §4.4).
func (c *Cache) unsafe(ctx context.Context, x *proxy.Exchange) error {
	var target client.URL
	target = x.Req.URL // copy before Next rewrites it (strings point into x, used before x is reused)
	keyText := target.AppendAbsolute(nil)
	if err := c.Next.Exchange(ctx, x); err != nil {
		return err
	}
	if policy.Invalidates([]byte(x.Req.Method), x.Resp.Status) {
		c.invalidate(ctx, keyText)
		for _, f := range [...]string{"Location", "Content-Location"} {
			if v := x.Resp.Header.Get(f); v != nil {
				if u, err := target.Resolve(string(v)); err == nil && u.Scheme == target.Scheme && u.Authority() == target.Authority() {
					c.invalidate(ctx, u.AppendAbsolute(nil))
				}
			}
		}
	}
	c.addStatus(x, &policy.CacheStatus{Fwd: policy.FwdMethod, FwdStatus: x.Resp.Status})
	return nil
}

// invalidate deletes the entry (or Vary marker) for an absolute URL key text.
func (c *Cache) invalidate(ctx context.Context, key []byte) bool {
	c.fl.drop(string(key))
	if !c.health.usable() {
		return false
	}
	k := store.KeyOf(key)
	had := false
	if e, err := c.Store.Get(ctx, k); err == nil {
		had = true
		e.Close()
	}
	if err := c.Store.Delete(ctx, k); err != nil {
		c.storeFailed(err)
		return false
	}
	return had
}

// Purge removes what is stored for the absolute URL u (all its variants). It
// reports whether something was stored.
func (c *Cache) Purge(ctx context.Context, u string) (bool, error) {
	c.init()
	var url client.URL
	if err := url.Set(u); err != nil {
		return false, err
	}
	c.m.purges.Add(1)
	return c.invalidate(ctx, url.AppendAbsolute(nil)), nil
}

// purgeRequest answers PURGE from an allowed client: 200 when something was removed,
// 404 otherwise.
func (c *Cache) purgeRequest(ctx context.Context, x *proxy.Exchange) error {
	c.m.purges.Add(1)
	found := c.invalidate(ctx, x.Req.URL.AppendAbsolute(nil))
	r := &x.Resp
	r.Major, r.Minor, r.Status = 1, 1, 200
	msg := "purged\n"
	if !found {
		r.Status, msg = 404, "not in cache\n"
	}
	r.Reason = r.Reason[:0]
	r.Header.Add("Content-Type", "text/plain; charset=utf-8")
	r.Framing, r.ContentLength = wire.FramingLength, int64(len(msg))
	x.Body = io.NopCloser(strings.NewReader(msg))
	return nil
}

// Stats is a snapshot of the cache's counters.
type Stats struct {
	Hits, Misses, StaleServed, Stored, Coalesced, Bypassed, StoreErrors, Purges int64
	// TooLarge counts storable responses that were not stored because their body
	// exceeded MaxObject or the store's own bound on an entry.
	TooLarge int64
	// Lost counts stored entries deleted because their body could no longer be read
	// whole (a store that lost part of it, see store.ErrBodyLost).
	Lost  int64
	Store store.Stats
}

// Stats returns the cache's counters and its store's.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.m.hits.Load(), Misses: c.m.misses.Load(), StaleServed: c.m.stale.Load(),
		Stored: c.m.stored.Load(), Coalesced: c.m.coalesced.Load(), Bypassed: c.m.bypass.Load(),
		StoreErrors: c.m.storeErrors.Load(), Purges: c.m.purges.Load(), TooLarge: c.m.tooLarge.Load(), Lost: c.m.lost.Load(),
		Store: c.Store.Stats(),
	}
}
