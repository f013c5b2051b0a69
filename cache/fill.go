package cache

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hop-http/hop/cache/policy"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/wire"
)

// miss forwards a GET or HEAD for which nothing usable is stored. Concurrent misses
// for one key are coalesced: the first goes upstream, the others wait for its head
// and read its body as it streams.
//
// gen is the generation of the Vary marker the lookup met (0: none), kept by a variant
// stored for this request.
func (c *Cache) miss(ctx context.Context, x *proxy.Exchange, fwd policy.Fwd, head bool, gen uint64) error {
	c.m.misses.Add(1)
	key := string(x.Req.URL.AppendAbsolute(nil))
	h := &x.Req.Header
	// Requests that ask for an origin answer of their own (no-cache, max-age) or for
	// something else than the whole response are not coalesced.
	rd := policy.ParseRequest(h)
	coalesce := !head && !h.Has("Range") && !h.Has("If-None-Match") && !h.Has("If-Modified-Since") &&
		!rd.NoCache && rd.MaxAge == policy.Absent
	if coalesce {
		f, leader := c.fl.join(key)
		if !leader {
			switch c.follow(ctx, x, f, key) {
			case followServed:
				return nil
			case followRetry:
				return c.lookup(ctx, x, false)
			}
			// The leader's answer is of no use here: go upstream alone.
			return c.fetch(ctx, x, fwd, key, nil, c.now(), gen)
		}
		// The previous flight for key may have committed between this request's
		// lookup and its join: look again before going upstream.
		if c.recheck(ctx, x, false) {
			c.fl.retry(key, f)
			return nil
		}
		if lk, ok := c.Store.(store.Locker); ok && c.shareMiss(ctx, x, lk, key, f) {
			c.fl.retry(key, f) // this flight's followers find the entry now
			return nil
		}
		return c.fetch(ctx, x, fwd, key, f, c.now(), gen)
	}
	return c.fetch(ctx, x, fwd, key, nil, c.now(), gen)
}

// peerPoll is how often a miss waiting for another process's fetch looks again.
const peerPoll = 20 * time.Millisecond

// shareMiss coordinates a miss with the other processes that share the store (a
// store.Locker): this process's flight leader takes the key's lease — its fetch then
// holds it until the flight ends, after the commit — or, while another process holds
// it, waits (at most CoalesceWait) for that process's response to be committed and
// answers x from the store. It reports whether x was answered; if not, the caller
// fetches (holding the lease, or alone when the store failed or the wait ran out).
func (c *Cache) shareMiss(ctx context.Context, x *proxy.Exchange, lk store.Locker, key string, f *flight) bool {
	k := store.KeyOf([]byte(key))
	timer := time.NewTimer(c.CoalesceWait)
	defer timer.Stop()
	for {
		if !c.health.usable() {
			return false
		}
		unlock, ok, err := lk.TryLock(ctx, k)
		if err != nil {
			c.storeFailed(err)
			return false
		}
		if ok {
			f.holdLease(unlock)
			// A holder that finished between the lookup and this lease committed its
			// response before it let the lease go: look once more.
			return c.recheck(ctx, x, true)
		}
		select {
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(peerPoll):
		}
		if c.recheck(ctx, x, true) {
			return true
		}
	}
}

// recheck answers x from the store when a fresh response is there now; collapsed
// says it was stored by another request's fetch that x waited for.
func (c *Cache) recheck(ctx context.Context, x *proxy.Exchange, collapsed bool) bool {
	s := c.getScratch()
	s.key = x.Req.URL.AppendAbsolute(s.key[:0])
	if e, _ := c.find(ctx, s, &x.Req.Header); e == nil {
		s.release()
		return false
	}
	rd := policy.ParseRequest(&x.Req.Header)
	action, age := policy.Evaluate(&s.meta.facts, &rd, c.now())
	if action != policy.Serve {
		s.release()
		return false
	}
	cs := policy.CacheStatus{Hit: true, TTL: s.meta.facts.Lifetime - age, HasTTL: true}
	if collapsed {
		cs = policy.CacheStatus{Fwd: policy.FwdURIMiss, Collapsed: true, TTL: cs.TTL, HasTTL: true}
		c.m.coalesced.Add(1)
	} else {
		c.m.misses.Add(-1)
		c.m.hits.Add(1)
	}
	c.answer(x, s, &s.resp.Header, age, &cs, false, false)
	return true
}

// fetch forwards x and stores the response when it may. f, when set, is the flight
// this request leads: it is told the outcome. gen is as for miss.
func (c *Cache) fetch(ctx context.Context, x *proxy.Exchange, fwd policy.Fwd, key string, f *flight, sent time.Time, gen uint64) error {
	err := c.Next.Exchange(ctx, x)
	if err != nil {
		if f != nil {
			c.fl.release(key, f)
		}
		return err
	}
	c.admit(ctx, x, fwd, key, f, sent, gen)
	return nil
}

// admit decides whether the response now in x is stored and, when it is, wraps
// x.Body so that the body is written to the store as it streams and committed at its
// end. It adds Cache-Status. f, when set, is released or fed. gen is the generation of
// the Vary marker met at the lookup (0: none; a varying response then starts a new
// one).
func (c *Cache) admit(ctx context.Context, x *proxy.Exchange, fwd policy.Fwd, key string, f *flight, sent time.Time, gen uint64) {
	received := c.now()
	r := &x.Resp
	reqH := &x.Req.Header
	rd := policy.ParseRequest(reqH)
	d := policy.ParseResponse(&r.Header)
	cs := policy.CacheStatus{Fwd: fwd, FwdStatus: r.Status}
	reason := policy.CanStore([]byte(x.Req.Method), reqH, &rd, r.Status, &r.Header, &d)
	size := int64(-1)
	if r.Framing == wire.FramingLength {
		size = r.ContentLength
	} else if r.Framing == wire.FramingNone {
		size = 0
	}
	facts := policy.FactsOf(r.Status, &r.Header, &d, sent, received)
	names, varyOK := policy.AppendVaryNames(nil, &r.Header)
	if reason == policy.Storable && size > c.MaxObject {
		c.m.tooLarge.Add(1)
	}
	if reason != policy.Storable || size > c.MaxObject || !varyOK ||
		policy.Worthless(&r.Header, &d, facts.Lifetime, facts.InitialAge) {
		if f != nil {
			c.fl.release(key, f)
		}
		c.addStatus(x, &cs)
		return
	}
	entryKey := []byte(key)
	if len(names) > 0 {
		entryKey = append(entryKey, 0)
		entryKey = policy.AppendSecondaryKey(entryKey, names, reqH)
	}
	ttl := facts.Keep(received, c.KeepStale)
	newGen := false
	if len(names) == 0 {
		gen = 0
	} else if gen == 0 {
		gen, newGen = newVaryGen(), true
	}
	var w store.Writer
	if c.health.usable() {
		headBytes := appendHead(nil, r.Status, r.Reason, &r.Header, &d)
		meta := appendResponseMeta(nil, entryKey, names, gen, sent, &facts, headBytes)
		var err error
		if w, err = c.Store.Create(ctx, store.KeyOf(entryKey), meta, size, ttl); err != nil {
			if errors.Is(err, store.ErrTooLarge) {
				c.m.tooLarge.Add(1)
			} else {
				c.storeFailed(err)
			}
			w = nil
		}
	}
	spool := f != nil && size >= 0 && size <= c.SpoolMax
	if w == nil && !spool {
		// Neither stored nor shared with waiting requests.
		if f != nil {
			c.fl.release(key, f)
		}
		c.addStatus(x, &cs)
		return
	}
	if w != nil {
		cs.Stored = true
		cs.TTL, cs.HasTTL = facts.TTL(received), true
	}
	c.addStatus(x, &cs)
	fb := &fillBody{c: c, up: x.Body, w: w, key: key, ttl: ttl, size: size,
		linger: facts.TTL(received) > 2*flightLinger}
	if len(names) > 0 && w != nil {
		fb.marker = appendVaryMeta(nil, []byte(key), names, gen)
		fb.gen, fb.newGen = gen, newGen
	}
	if f != nil {
		fb.f = f
		// Waiting requests read the body as it streams (spool), or from the store once
		// committed.
		f.start(c, r, names, entryKey, size, spool)
	}
	if x.Body == nil || size == 0 {
		// Nothing to stream (204, 304, HEAD or an empty body): complete already,
		// whether or not the body is ever read.
		fb.finish(nil)
	}
	if x.Body == nil {
		return
	}
	x.Body = fb
}

// fillBody passes the upstream body through while writing it to the store (and to
// the flight's spool); the entry is committed only when the body ended cleanly.
type fillBody struct {
	c      *Cache
	up     io.ReadCloser
	w      store.Writer
	f      *flight
	key    string
	marker []byte // Vary marker to store at key after the variant committed
	gen    uint64 // its generation
	newGen bool   // made for this response (no marker was met at the lookup)
	ttl    time.Duration
	linger bool  // keep the finished flight joinable for flightLinger
	size   int64 // declared length, -1 unknown
	n      int64 // bytes read so far
	done   bool
}

func (b *fillBody) Read(p []byte) (int, error) {
	n, err := b.up.Read(p)
	b.n += int64(n)
	if n > 0 && !b.done {
		if b.w != nil {
			if _, werr := b.w.Write(p[:n]); werr != nil {
				b.w.Abort()
				b.w = nil
				switch {
				case errors.Is(werr, store.ErrTooLarge):
					b.c.m.tooLarge.Add(1)
				case !errors.Is(werr, store.ErrIncomplete):
					b.c.storeFailed(werr)
				}
			}
		}
		if b.f != nil {
			b.f.write(p[:n])
		}
	}
	switch {
	case err == io.EOF, err == nil && b.n == b.size:
		// Complete: at the end of a chunked body, or as soon as the declared length
		// arrived, so that the entry is visible before the client has the last byte.
		b.finish(nil)
	case err != nil:
		b.finish(err)
	}
	return n, err
}

// ReadWaits implements proxy.BodyWaiter: the upstream body's answer.
func (b *fillBody) ReadWaits() bool {
	if w, ok := b.up.(proxy.BodyWaiter); ok {
		return w.ReadWaits()
	}
	return true
}

// finish commits (err nil) or aborts the entry and tells the flight.
func (b *fillBody) finish(err error) {
	if b.done {
		return
	}
	b.done = true
	stored := false
	if b.w != nil {
		if err == nil {
			if cerr := b.w.Commit(); cerr == nil {
				stored = true
				b.c.m.stored.Add(1)
				if b.marker != nil {
					b.c.putMarker(b.key, b.marker, b.gen, b.newGen, b.ttl)
				}
			} else if !errors.Is(cerr, store.ErrIncomplete) {
				b.c.storeFailed(cerr)
			}
		} else {
			b.w.Abort()
		}
		b.w = nil
	}
	if b.f != nil {
		b.f.end(err == nil, stored)
		if err == nil && b.linger {
			// Requests whose lookup ran just before the commit became visible (a
			// slow store) still find the finished flight for a moment instead of
			// starting another one. Invalidation drops it at once (flights.drop).
			f, key, fl := b.f, b.key, &b.c.fl
			time.AfterFunc(flightLinger, func() { fl.remove(key, f) })
		} else {
			b.c.fl.remove(b.key, b.f)
		}
	}
}

// flightLinger is how long a completed flight stays joinable.
const flightLinger = time.Second

func (b *fillBody) Close() error {
	if !b.done && b.f != nil && b.f.followed() {
		b.drain()
	}
	if !b.done {
		b.finish(errClosedEarly)
	}
	return b.up.Close()
}

// drain goes on reading the upstream body after the leader's client left (the body
// was closed before its end) while other requests follow this flight: the spool and
// the store still get the whole body, so the followers are answered whole rather than
// cut short by the client they joined. It stops at the end of the body, when neither
// the store nor the spool takes it any more (a body past MaxObject), or once
// CoalesceWait has passed (checked between reads; each read is bounded by the
// upstream client's read timeout).
func (b *fillBody) drain() {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	deadline := time.Now().Add(b.c.CoalesceWait)
	for !b.done && time.Now().Before(deadline) && (b.w != nil || b.f.spooled) && b.n <= b.c.MaxObject {
		if _, err := b.Read(*bp); err != nil {
			return // Read finished the flight (complete or not)
		}
	}
}

var errClosedEarly = errors.New("hop/cache: body closed before its end")

// newVaryGen returns a new, nonzero Vary generation.
func newVaryGen() uint64 {
	for {
		if g := rand.Uint64(); g != 0 {
			return g
		}
	}
}

// putMarker stores the Vary marker meta of generation gen for key, after a variant of
// that generation was committed. A marker of the same generation is replaced (its
// names and TTL refreshed). One of another generation is left alone: the variant just
// stored is not reached (a later request stores it again under that marker). When
// no marker is there, one is created only if gen is new: a marker met at the lookup
// that is gone now was deleted by an invalidation while the response was fetched.
func (c *Cache) putMarker(key string, meta []byte, gen uint64, newGen bool, ttl time.Duration) {
	ctx := context.Background()
	k := store.KeyOf([]byte(key))
	if e, err := c.Store.Get(ctx, k); err == nil {
		var m entryMeta
		ok := decodeMeta(e.Meta(), &m) == nil && string(m.key) == key
		e.Close()
		if ok && m.kind == kindVary && m.varyGen != gen {
			return
		}
		if !(ok && m.kind == kindVary) && !newGen {
			return
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		c.storeFailed(err)
		return
	} else if !newGen {
		return
	}
	w, err := c.Store.Create(ctx, k, meta, 0, ttl)
	if err != nil {
		c.storeFailed(err)
		return
	}
	if err := w.Commit(); err != nil {
		c.storeFailed(err)
	}
}

// validate forwards a request for a stored response that needs validation, made
// conditional on its validators; a 304 freshens and serves the stored response, an
// error or a 5xx may serve it stale, anything else replaces it.
func (c *Cache) validate(ctx context.Context, x *proxy.Exchange, s *scratch, rd *policy.Request, age time.Duration, fwd policy.Fwd, head bool) error {
	key := string(s.key)
	stored := &s.resp.Header
	// Keep the client's own conditionals: they are answered from the result.
	var saved wire.Header
	for _, n := range [...]string{"If-None-Match", "If-Modified-Since"} {
		x.Req.Header.Values(n, func(v []byte) { wire.Add(&saved, n, v) })
	}
	conditional := policy.SetValidators(&x.Req.Header, stored)
	sent := c.now()
	err := c.Next.Exchange(ctx, x)
	if err != nil {
		if policy.StaleOnError(&s.meta.facts, rd, age+c.now().Sub(sent), true, c.StaleOnDisconnect) {
			c.m.hits.Add(1)
			c.m.stale.Add(1)
			restore(&x.Req.Header, &saved)
			c.answer(x, s, stored, age, &policy.CacheStatus{Hit: true, TTL: s.meta.facts.Lifetime - age, HasTTL: true, Detail: "stale-if-disconnected"}, head, false)
			return nil
		}
		s.release()
		return err
	}
	r := &x.Resp
	switch {
	case conditional && r.Status == 304 && policy.Matches304(&r.Header, stored):
		dropBody(x)
		facts, received := c.freshen(ctx, s, &r.Header, sent)
		r.Header.Reset()
		restore(&x.Req.Header, &saved)
		c.m.hits.Add(1)
		age := facts.Age(received)
		c.answer(x, s, &s.hdr, age, &policy.CacheStatus{Fwd: fwd, FwdStatus: 304, TTL: facts.Lifetime - age, HasTTL: true}, head, true)
		return nil
	case head && r.Status == 200 && policy.MatchesHEAD(&r.Header, stored, s.entry.Size()):
		// A HEAD answer that describes the stored GET freshens it like a 304 (RFC
		// 9111 §4.3.5), and the client gets the freshened stored head.
		dropBody(x)
		facts, received := c.freshen(ctx, s, &r.Header, sent)
		r.Header.Reset()
		if conditional {
			restore(&x.Req.Header, &saved)
		}
		c.m.hits.Add(1)
		age := facts.Age(received)
		c.answer(x, s, &s.hdr, age, &policy.CacheStatus{Fwd: fwd, FwdStatus: 200, TTL: facts.Lifetime - age, HasTTL: true}, head, true)
		return nil
	case head && r.Status == 200:
		// One that does not (another validator or length) makes it stale: here it is
		// removed, and the client gets the origin's answer.
		c.invalidate(ctx, s.storedKey())
		s.release()
		if conditional {
			restore(&x.Req.Header, &saved)
		}
		c.addStatus(x, &policy.CacheStatus{Fwd: fwd, FwdStatus: 200})
		return nil
	case r.Status >= 500 && policy.StaleOnError(&s.meta.facts, rd, age+c.now().Sub(sent), false, 0):
		dropBody(x)
		status := r.Status
		r.Header.Reset()
		c.m.hits.Add(1)
		c.m.stale.Add(1)
		restore(&x.Req.Header, &saved)
		c.answer(x, s, stored, age, &policy.CacheStatus{Fwd: policy.FwdStale, FwdStatus: status, TTL: s.meta.facts.Lifetime - age, HasTTL: true, Detail: "stale-if-error"}, head, false)
		return nil
	case conditional && r.Status == 304:
		// A 304 for another response than the one stored: fetch it whole.
		dropBody(x)
		x.Resp.Reset()
		s.release()
		c.invalidate(ctx, []byte(key))
		restore(&x.Req.Header, &saved)
		return c.fetch(ctx, x, fwd, key, nil, c.now(), 0) // the marker is gone: a new generation
	}
	gen := s.varyGen
	s.release()
	if conditional {
		restore(&x.Req.Header, &saved)
	}
	c.admit(ctx, x, fwd, key, nil, sent, gen)
	return nil
}

// dropBody closes and forgets the response body of x, if it has one (an Exchanger
// may answer a 304 with none).
func dropBody(x *proxy.Exchange) {
	if x.Body != nil {
		x.Body.Close()
		x.Body = nil
	}
}

// restore puts the client's conditional fields back in place of the cache's.
func restore(h, saved *wire.Header) {
	h.Del("If-None-Match")
	h.Del("If-Modified-Since")
	for i := 0; i < saved.Len(); i++ {
		n, v := saved.At(i)
		wire.Add(h, n, v)
	}
}

// freshen updates the stored response of s with the fields of nm, the head of a 304
// or of a 200 to HEAD (RFC 9111 §3.2): the freshened head goes to s.hdr and to the
// store, with the facts it implies, which it returns with the time received.
func (c *Cache) freshen(ctx context.Context, s *scratch, nm *wire.Header, sent time.Time) (policy.Facts, time.Time) {
	d := policy.ParseResponse(nm)
	policy.Freshen(&s.hdr, &s.resp.Header, nm, &d)
	received := c.now()
	fd := policy.ParseResponse(&s.hdr)
	facts := policy.FactsOf(s.resp.Status, &s.hdr, &fd, sent, received)
	c.update(ctx, s, &facts, sent, received, &fd)
	s.meta.facts = facts
	return facts, received
}

// storedKey is the key text of the stored response of s (its variant's, with Vary).
func (s *scratch) storedKey() []byte {
	if len(s.key2) > 0 {
		return s.key2
	}
	return s.key
}

// update stores the freshened head of s with new facts (the body is kept).
func (c *Cache) update(ctx context.Context, s *scratch, f *policy.Facts, sent, received time.Time, d *policy.Response) {
	key := s.storedKey()
	headBytes := appendHead(nil, s.resp.Status, s.resp.Reason, &s.hdr, d)
	meta := appendResponseMeta(nil, key, s.meta.varyNames, s.meta.varyGen, sent, f, headBytes)
	if err := c.Store.Update(ctx, store.KeyOf(key), meta, f.Keep(received, c.KeepStale)); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.storeFailed(err)
	}
}

// revalidate refreshes the stored response of s in the background
// (stale-while-revalidate): one conditional request per key at a time.
func (c *Cache) revalidate(x *proxy.Exchange, s *scratch) {
	key := string(s.key)
	if !c.fl.startRevalidation(key) {
		return
	}
	bx := new(proxy.Exchange)
	bx.Client = x.Client
	bx.Req.Method = "GET"
	u := strings.Clone(key)
	if bx.Req.URL.Set(u) != nil {
		c.fl.endRevalidation(key)
		return
	}
	bx.Req.Header.CopyFrom(&x.Req.Header)
	bx.Req.Header.Del("Cache-Control")
	bx.Req.Header.Del("Pragma")
	c.bgMu.Lock()
	if c.closed {
		c.bgMu.Unlock()
		c.fl.endRevalidation(key)
		return
	}
	c.bg.Add(1)
	c.bgMu.Unlock()
	go func() {
		defer c.bg.Done()
		defer c.fl.endRevalidation(key)
		ctx, cancel := context.WithTimeout(c.bgCtx, time.Minute)
		defer cancel()
		bs := c.getScratch()
		bs.key = append(bs.key[:0], key...)
		if e, _ := c.find(ctx, bs, &bx.Req.Header); e == nil {
			bs.release()
			return
		}
		rd := policy.ParseRequest(&bx.Req.Header)
		if err := c.validate(ctx, bx, bs, &rd, bs.meta.facts.Age(c.now()), policy.FwdStale, false); err != nil {
			return
		}
		if bx.Body != nil {
			io.Copy(io.Discard, bx.Body)
			bx.Body.Close()
		}
	}()
}

// flights tracks the misses in progress, by primary key, the validations in
// progress, by stored key, and the background revalidations.
type flights struct {
	mu    sync.Mutex
	m     map[string]*flight
	valid map[string]chan struct{} // closed when the validation ends
	reval map[string]bool
}

// startValidation registers a validation of the response stored under key; when one
// is in progress already it returns that one's channel and leader false.
func (fs *flights) startValidation(key string) (chan struct{}, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if ch := fs.valid[key]; ch != nil {
		return ch, false
	}
	if fs.valid == nil {
		fs.valid = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	fs.valid[key] = ch
	return ch, true
}

// endValidation ends the validation of startValidation, releasing its waiters.
func (fs *flights) endValidation(key string, ch chan struct{}) {
	fs.mu.Lock()
	if fs.valid[key] == ch {
		delete(fs.valid, key)
	}
	fs.mu.Unlock()
	close(ch)
}

// waitValidation waits for another request's validation to end, at most
// CoalesceWait.
func (c *Cache) waitValidation(ctx context.Context, done chan struct{}) {
	t := time.NewTimer(c.CoalesceWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// join returns the flight for key, creating it (leader true) when there is none.
func (fs *flights) join(key string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.m[key]; f != nil {
		f.mu.Lock()
		f.followers++
		f.mu.Unlock()
		return f, false
	}
	f := &flight{head: make(chan struct{}), done: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	fs.m[key] = f
	return f, true
}

// release ends a flight whose response is of no use to followers.
func (fs *flights) release(key string, f *flight) {
	f.mu.Lock()
	if !f.headSet {
		f.headSet = true
		close(f.head)
	}
	f.mu.Unlock()
	f.end(false, false)
	fs.remove(key, f)
}

// retry ends a flight whose leader found the response stored after all: the
// followers look it up again.
func (fs *flights) retry(key string, f *flight) {
	f.mu.Lock()
	f.retry = true
	f.mu.Unlock()
	fs.release(key, f)
}

// drop forgets the flight for key, whatever it is (the key was invalidated).
func (fs *flights) drop(key string) {
	fs.mu.Lock()
	delete(fs.m, key)
	fs.mu.Unlock()
}

func (fs *flights) remove(key string, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
}

func (fs *flights) startRevalidation(key string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.reval == nil {
		fs.reval = map[string]bool{}
	}
	if fs.reval[key] {
		return false
	}
	fs.reval[key] = true
	return true
}

func (fs *flights) endRevalidation(key string) {
	fs.mu.Lock()
	delete(fs.reval, key)
	fs.mu.Unlock()
}

// flight is one upstream request that other requests for the same key wait on.
type flight struct {
	head chan struct{} // closed when the head is known (usable or not)
	done chan struct{} // closed when the body ended (committed or not)

	mu        sync.Mutex
	cond      *sync.Cond
	headSet   bool
	usable    bool // followers may use the response
	status    int
	reason    []byte
	header    wire.Header
	varyNames []byte
	entryKey  []byte
	size      int64
	spooled   bool // the body is kept in spool for followers
	spool     []byte
	ended     bool
	ok        bool   // the body ended complete
	stored    bool   // and was committed to the store
	retry     bool   // the leader found the response stored: look it up again
	unlock    func() // gives back the store's lease on the key (shareMiss), at the end
	followers int    // requests that joined (some may have gone alone since)
}

// followed reports whether other requests joined the flight.
func (f *flight) followed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.followers > 0
}

// holdLease makes the flight give the store's lease back when it ends.
func (f *flight) holdLease(unlock func()) {
	f.mu.Lock()
	f.unlock = unlock
	f.mu.Unlock()
}

// start publishes the leader's head to the followers.
func (f *flight) start(c *Cache, r *client.Response, names, entryKey []byte, size int64, spool bool) {
	f.mu.Lock()
	f.usable = true
	f.status = r.Status
	f.reason = append([]byte(nil), r.Reason...)
	f.header.CopyFrom(&r.Header)
	f.varyNames = names
	f.entryKey = entryKey
	f.size = size
	f.spooled = spool // the spool grows as the body arrives (store.AppendBody)
	f.headSet = true
	close(f.head)
	f.mu.Unlock()
}

func (f *flight) write(p []byte) {
	f.mu.Lock()
	if f.spooled {
		f.spool = store.AppendBody(f.spool, p, f.size)
		f.cond.Broadcast()
	}
	f.mu.Unlock()
}

func (f *flight) end(complete, stored bool) {
	f.mu.Lock()
	unlock := f.unlock
	f.unlock = nil
	if !f.ended {
		f.ended, f.ok, f.stored = true, complete, stored
		close(f.done)
		f.cond.Broadcast()
	}
	f.mu.Unlock()
	if unlock != nil {
		// After the commit (fillBody.finish commits first): a process that takes
		// the lease next finds the entry.
		unlock()
	}
}

// Outcomes of follow.
const (
	followAlone  = iota // go upstream alone
	followServed        // answered from the leader's response
	followRetry         // look the request up again
)

// follow waits for the leader of f and answers x from its response.
func (c *Cache) follow(ctx context.Context, x *proxy.Exchange, f *flight, key string) int {
	timer := time.NewTimer(c.CoalesceWait)
	defer timer.Stop()
	select {
	case <-f.head:
	case <-timer.C:
		return followAlone
	case <-ctx.Done():
		return followAlone
	}
	f.mu.Lock()
	usable, spooled, retry := f.usable, f.spooled, f.retry
	if retry {
		f.mu.Unlock()
		return followRetry
	}
	if usable && len(f.varyNames) > 0 {
		k := append([]byte(key), 0)
		k = policy.AppendSecondaryKey(k, f.varyNames, &x.Req.Header)
		usable = string(k) == string(f.entryKey)
	}
	f.mu.Unlock()
	if !usable {
		return followAlone
	}
	if !spooled {
		// Wait for the commit, then answer from the store.
		select {
		case <-f.done:
		case <-timer.C:
			return followAlone
		case <-ctx.Done():
			return followAlone
		}
		f.mu.Lock()
		stored := f.stored
		f.mu.Unlock()
		if !stored {
			return followAlone
		}
		s := c.getScratch()
		s.key = x.Req.URL.AppendAbsolute(s.key[:0])
		if e, _ := c.find(ctx, s, &x.Req.Header); e == nil {
			s.release()
			return followAlone
		}
		age := s.meta.facts.Age(c.now())
		c.m.coalesced.Add(1)
		c.answer(x, s, &s.resp.Header, age, &policy.CacheStatus{Fwd: policy.FwdURIMiss, Collapsed: true, TTL: s.meta.facts.Lifetime - age, HasTTL: true}, false, false)
		return followServed
	}
	c.m.coalesced.Add(1)
	r := &x.Resp
	f.mu.Lock()
	r.Major, r.Minor = 1, 1
	r.Status = f.status
	r.Reason = append(r.Reason[:0], f.reason...)
	for i := 0; i < f.header.Len(); i++ {
		n, v := f.header.At(i)
		if wire.EqualFold(n, "Cache-Status") {
			continue // the leader's own member; the follower gets its own below
		}
		wire.Add(&r.Header, n, v)
	}
	size := f.size
	f.mu.Unlock()
	r.Framing, r.ContentLength = wire.FramingLength, size
	c.addStatus(x, &policy.CacheStatus{Fwd: policy.FwdURIMiss, FwdStatus: f.status, Collapsed: true})
	x.Body = &spoolBody{f: f, size: size, wait: c.CoalesceWait}
	return followServed
}

// spoolBody reads a leader's body from its flight's spool as it arrives.
type spoolBody struct {
	f    *flight
	off  int
	size int64
	wait time.Duration // the longest wait for more of the body (CoalesceWait)
}

func (b *spoolBody) Read(p []byte) (int, error) {
	f := b.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if b.off >= len(f.spool) && !f.ended {
		// Wait for the leader's next bytes, at most b.wait: a leader stuck longer
		// (an upstream that stopped sending) does not hold its followers for ever.
		timedOut := false
		t := time.AfterFunc(b.wait, func() {
			f.mu.Lock()
			timedOut = true
			f.cond.Broadcast()
			f.mu.Unlock()
		})
		for b.off >= len(f.spool) && !f.ended && !timedOut {
			f.cond.Wait()
		}
		t.Stop()
		if timedOut && b.off >= len(f.spool) && !f.ended {
			return 0, errLeaderStalled
		}
	}
	if b.off < len(f.spool) {
		n := copy(p, f.spool[b.off:])
		b.off += n
		if int64(b.off) == b.size {
			return n, io.EOF
		}
		return n, nil
	}
	if f.ok && int64(b.off) == b.size {
		return 0, io.EOF
	}
	return 0, errLeaderAborted
}

// ReadWaits implements proxy.BodyWaiter: true while the leader has sent nothing new.
func (b *spoolBody) ReadWaits() bool {
	f := b.f
	f.mu.Lock()
	defer f.mu.Unlock()
	return b.off >= len(f.spool) && !f.ended
}

func (b *spoolBody) Close() error { return nil }

var (
	errLeaderAborted = errors.New("hop/cache: the coalesced upstream response was cut short")
	errLeaderStalled = errors.New("hop/cache: the coalesced upstream response sent nothing for CoalesceWait")
)
