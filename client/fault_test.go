package client

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// chaosListener wraps the connections of a server so that a chaos goroutine can close
// them while they are idle: after a response was written and before the next request
// byte was read. That is the keep-alive race: the server gives up a connection at the
// moment the client may be sending a new request on it.
type chaosListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*chaosConn]struct{}
	kills atomic.Int64
}

type chaosConn struct {
	net.Conn
	l      *chaosListener
	mu     sync.Mutex
	idle   bool
	killed bool
}

func (l *chaosListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &chaosConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[cc] = struct{}{}
	l.mu.Unlock()
	return cc, nil
}

func (c *chaosConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.killed {
			// Killed while this read was returning: the server closed before it
			// read the request, so the bytes never reach it.
			return 0, net.ErrClosed
		}
		c.idle = false
	}
	return n, err
}

func (c *chaosConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.idle = true
	c.mu.Unlock()
	return n, err
}

func (c *chaosConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// killOne closes one idle connection chosen at random; it reports whether it did.
func (l *chaosListener) killOne(rng *rand.Rand) bool {
	l.mu.Lock()
	var idle []*chaosConn
	for c := range l.conns {
		c.mu.Lock()
		if c.idle {
			idle = append(idle, c)
		}
		c.mu.Unlock()
	}
	l.mu.Unlock()
	if len(idle) == 0 {
		return false
	}
	c := idle[rng.IntN(len(idle))]
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.idle {
		return false // a request arrived meanwhile
	}
	c.killed = true
	c.Conn.Close() // under c.mu: no read can mark it busy in between
	l.kills.Add(1)
	return true
}

// TestFaultIdleCloses runs 100,000 GETs (20,000 with -race, which is about ten times
// slower) from 8 goroutines against a server that closes idle connections at random
// moments, with a POST now and then. Every GET must succeed: a GET that meets a dead
// connection is retried on another. A POST that meets one must fail with
// ErrNoResponse and must never reach the server twice.
func TestFaultIdleCloses(t *testing.T) {
	total := 100_000
	if raceEnabled {
		total = 20_000
	}
	if testing.Short() {
		total = 5_000
	}
	var postsSeen sync.Map // id → count
	var getsSeen atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &chaosListener{Listener: ln, conns: map[*chaosConn]struct{}{}}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if r.IsMethod("POST") {
			v, _ := postsSeen.LoadOrStore(string(r.Header.Get("X-Id")), new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
		} else {
			getsSeen.Add(1)
		}
		w.Write([]byte("ok"))
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(cl) }()
	defer func() { srv.Close(); <-done }()
	url := "http://" + ln.Addr().String() + "/"

	stop := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			cl.killOne(rng)
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		}
	}()

	var retries atomic.Int64
	c := newClient(t, &Client{MaxConnsPerHost: 8, Trace: &Trace{Retry: func(int, error) { retries.Add(1) }}})
	const workers = 8
	var getFail, postOK, postNoResp, postOther atomic.Int64
	var failedPosts sync.Map
	var firstErr atomic.Value
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var get, post Request
			var resp Response
			if err := get.SetURL(url); err != nil {
				t.Error(err)
				return
			}
			post.Method = "POST"
			post.SetURL(url)
			post.SetBody([]byte("payload"))
			for {
				i := next.Add(1)
				if i > int64(total) {
					return
				}
				if i%100 == 0 {
					id := strconv.FormatInt(i, 10)
					post.Header.Set("X-Id", id)
					err := c.Do(&post, &resp)
					switch {
					case err == nil:
						postOK.Add(1)
					case errors.Is(err, ErrNoResponse):
						postNoResp.Add(1)
						failedPosts.Store(id, true)
					default:
						postOther.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
					continue
				}
				if err := c.Do(&get, &resp); err != nil || resp.Status != 200 || string(resp.Body) != "ok" {
					getFail.Add(1)
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-chaosDone
	elapsed := time.Since(start)

	gets := int64(total) - int64(total/100)
	s := c.Stats()
	t.Logf("%d requests in %v: %d idle connections killed, %d retries, %d connections opened; POSTs: %d ok, %d failed with ErrNoResponse",
		total, elapsed.Round(time.Millisecond), cl.kills.Load(), retries.Load(), s.NewConns, postOK.Load(), postNoResp.Load())
	if n := getFail.Load(); n != 0 {
		t.Errorf("%d of %d GETs failed, want 0 (first error: %v)", n, gets, firstErr.Load())
	}
	if n := postOther.Load(); n != 0 {
		t.Errorf("%d POSTs failed with something other than ErrNoResponse: %v", n, firstErr.Load())
	}
	minKills := int64(100)
	if testing.Short() {
		minKills = 10
	}
	if cl.kills.Load() < minKills {
		t.Errorf("only %d connections were killed: the test did not exercise the race", cl.kills.Load())
	}
	// No POST reached the server twice, and no failed POST reached it at all (the
	// server only loses connections it has not read from).
	postsSeen.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n != 1 {
			t.Errorf("POST %s reached the server %d times", k, n)
		}
		if _, failed := failedPosts.Load(k); failed {
			t.Errorf("POST %s was reported failed but the server processed it", k)
		}
		return true
	})
	if got := getsSeen.Load(); got != gets {
		t.Errorf("server processed %d GETs, want %d (each exactly once)", got, gets)
	}
}
