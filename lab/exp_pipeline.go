//go:build linux

package lab

import (
	"cmp"
	"fmt"
	"sync"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
)

// runPipelineHOL sends one slow request followed by four fast ones, pipelined on one
// connection and then each on a connection of its own, and times each response.
func runPipelineHOL(e *env) error {
	rtt := e.rtt()
	slow := 300 * time.Millisecond
	if e.short {
		slow = 150 * time.Millisecond
	}
	const fast = 4
	if _, _, err := e.startServer("web", 80, webHandler(), nil); err != nil {
		return err
	}
	urls := []string{fmt.Sprintf("%s/slow/%d", e.webURL(), slow.Milliseconds())}
	for i := 1; i <= fast; i++ {
		urls = append(urls, fmt.Sprintf("%s/bytes/%d", e.webURL(), 100*i))
	}

	build := func(done []time.Time, mu *sync.Mutex) ([]*client.Request, []*client.Response, error) {
		reqs := make([]*client.Request, len(urls))
		resps := make([]*client.Response, len(urls))
		for i, u := range urls {
			reqs[i], resps[i] = new(client.Request), new(client.Response)
			if err := reqs[i].SetURL(u); err != nil {
				return nil, nil, err
			}
			reqs[i].Ctx = e.ctx
			reqs[i].Trace = &client.Trace{Done: func(client.DoneInfo) {
				mu.Lock()
				done[i] = time.Now()
				mu.Unlock()
			}}
		}
		return reqs, resps, nil
	}
	check := func(resps []*client.Response) (map[uint64]bool, error) {
		conns := map[uint64]bool{}
		for i, r := range resps {
			if r.Status != 200 {
				return nil, fmt.Errorf("%s: status %d", urls[i], r.Status)
			}
			conns[r.ConnID] = true
		}
		return conns, nil
	}

	// Each way runs reps times; the figures are medians over the runs.
	reps := 3
	// way runs the requests reps times, each time on a new client that prepare has
	// readied, sending them with send, and returns when each response was complete,
	// per run, and the connections of the last run.
	way := func(name string, prepare func(*client.Client) error, send func(*client.Client, []*client.Request, []*client.Response) error) ([][]time.Duration, map[uint64]bool, error) {
		var runs [][]time.Duration
		var conns map[uint64]bool
		err := e.leg(name, func() error {
			for range reps {
				c := e.newClient(nil)
				if err := prepare(c); err != nil {
					return err
				}
				var mu sync.Mutex
				done := make([]time.Time, len(urls))
				reqs, resps, err := build(done, &mu)
				if err != nil {
					return err
				}
				start := time.Now()
				if err := send(c, reqs, resps); err != nil {
					return err
				}
				if conns, err = check(resps); err != nil {
					return err
				}
				var run []time.Duration
				mu.Lock()
				for _, t := range done {
					run = append(run, t.Sub(start))
				}
				mu.Unlock()
				runs = append(runs, run)
				c.Close()
			}
			return nil
		})
		return runs, conns, err
	}
	pipeRuns, pipeConns, err := way("pipelined on one connection",
		func(c *client.Client) error { // open the connection and prove it persistent
			_, _, err := e.get(c, e.webURL()+"/", nil)
			return err
		},
		func(c *client.Client, reqs []*client.Request, resps []*client.Response) error {
			return c.DoPipeline(reqs, resps, len(reqs))
		})
	if err != nil {
		return err
	}
	parRuns, parConns, err := way("a connection each",
		func(c *client.Client) error {
			// Open the connections first (requests overlapping in time need one each),
			// so that both ways start on open connections.
			return concurrently(len(urls), func(int) error {
				_, _, err := e.get(c, fmt.Sprintf("%s/slow/%d", e.webURL(), (rtt+20*time.Millisecond).Milliseconds()), nil)
				return err
			})
		},
		func(c *client.Client, reqs []*client.Request, resps []*client.Response) error {
			return concurrently(len(reqs), func(i int) error { return c.Do(reqs[i], resps[i]) })
		})
	if err != nil {
		return err
	}
	pipe, par := medianRuns(pipeRuns), medianRuns(parRuns)

	pFast, qFast := median(pipe[1:]), median(par[1:])
	hol := pFast - qFast
	e.measureMs("pipelined_slow_ms", "pipelined: the slow response", pipe[0], slow+rtt)
	e.measureMs("pipelined_fast_ms", "pipelined: the fast responses behind it (median)", pFast, slow+rtt)
	e.measureMs("parallel_slow_ms", "a connection each: the slow response", par[0], slow+rtt)
	e.measureMs("parallel_fast_ms", "a connection each: the fast responses (median)", qFast, rtt)
	e.measureMs("hol_delay_ms", "head-of-line delay of the fast responses", hol, slow)
	e.measure("pipelined_connections", "connections, pipelined", "", float64(len(pipeConns)))
	e.measure("parallel_connections", "connections, a connection each", "", float64(len(parConns)))
	e.measure("runs", "runs of each way (medians shown)", "", float64(reps))

	e.check(len(pipeConns) == 1, "pipelined on %d connection", len(pipeConns))
	e.check(len(parConns) == len(urls), "a connection each: %d connections for %d requests", len(parConns), len(urls))
	e.near("pipelined fast responses", pFast, slow+rtt, tolerance(slow+rtt))
	e.near("separate fast responses", qFast, rtt, tolerance(rtt))
	e.near("head-of-line delay", hol, slow, tolerance(slow))
	for i := 1; i < len(pipe); i++ {
		if pipe[i] < pipe[0] {
			e.check(false, "pipelined response %d arrived before the slow one", i+1)
		}
	}
	e.note("a %s response first in the pipeline held the %d fast ones until %s; on their own connections they took %s",
		fmtMs(slow), fast, fmtMs(pFast), fmtMs(qFast))

	labels := []string{"slow"}
	for i := 1; i <= fast; i++ {
		labels = append(labels, fmt.Sprintf("fast %d", i))
	}
	var py, qy []float64
	for i := range pipe {
		py, qy = append(py, timeline.Millis(pipe[i])), append(qy, timeline.Millis(par[i]))
	}
	e.plot(Plot{Title: "When each response was complete", XLabel: "request", YLabel: "ms after the requests were sent", Kind: "bar",
		Series: []Series{{Name: "pipelined, one connection", Labels: labels, Y: py}, {Name: "a connection each", Labels: labels, Y: qy}}})
	return nil
}

// medianRuns returns, for each position, the median over the runs.
func medianRuns(runs [][]time.Duration) []time.Duration {
	if len(runs) == 0 {
		return nil
	}
	out := make([]time.Duration, len(runs[0]))
	for i := range out {
		var col []time.Duration
		for _, r := range runs {
			col = append(col, r[i])
		}
		out[i] = median(col)
	}
	return out
}

// concurrently runs fn(0) … fn(n-1) on goroutines of their own and returns the first
// error.
func concurrently(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(i) }()
	}
	wg.Wait()
	return cmp.Or(errs...)
}
