//go:build linux

package lab

import (
	"fmt"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
)

// runPage loads the guide's page (HTML with pageImages images) four ways: serial (a
// connection per object, one after another), parallel (the HTML, then a connection
// per image at once), persistent (one connection, one request after another) and
// pipelined (one connection, the images' requests sent together).
func runPage(e *env) error {
	rtt := e.rtt()
	if _, _, err := e.startServer("web", 80, webHandler(), nil); err != nil {
		return err
	}
	base := e.webURL()
	var imgs []string
	for i := 1; i <= pageImages; i++ {
		imgs = append(imgs, fmt.Sprintf("%s/img/%d.png", base, i))
	}
	page := base + "/page.html"
	n := float64(pageImages)

	fetch := func(c *client.Client, url string, closeIt bool) error {
		resp, _, err := e.get(c, url, func(r *client.Request) { r.Close = closeIt })
		if err != nil {
			return err
		}
		if resp.Status != 200 {
			return fmt.Errorf("%s: status %d", url, resp.Status)
		}
		return nil
	}
	// Each way loads the page reps times, each time with a new client, and keeps the
	// median: a single load slowed down by a busy machine must not decide.
	reps := 3
	timed := func(name string, fn func() error) (time.Duration, error) {
		var ds []time.Duration
		err := e.leg(name, func() error {
			for range reps {
				start := time.Now()
				if err := fn(); err != nil {
					return err
				}
				ds = append(ds, time.Since(start))
				if err := e.sleep(rtt + 20*time.Millisecond); err != nil { // closes finish first
					return err
				}
			}
			return nil
		})
		return median(ds), err
	}

	serial, err := timed("serial: a connection per object", func() error {
		c := e.newClient(nil)
		for _, u := range append([]string{page}, imgs...) {
			if err := fetch(c, u, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	parallel, err := timed(fmt.Sprintf("parallel: %d connections for the images", pageImages), func() error {
		c := e.newClient(nil)
		if err := fetch(c, page, true); err != nil {
			return err
		}
		return concurrently(len(imgs), func(i int) error { return fetch(c, imgs[i], true) })
	})
	if err != nil {
		return err
	}
	persistent, err := timed("persistent: one connection", func() error {
		c := e.newClient(nil)
		for _, u := range append([]string{page}, imgs...) {
			if err := fetch(c, u, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var pipeConns map[uint64]bool
	pipelined, err := timed("pipelined: one connection, the images' requests together", func() error {
		c := e.newClient(nil)
		if err := fetch(c, page, false); err != nil {
			return err
		}
		reqs := make([]*client.Request, len(imgs))
		resps := make([]*client.Response, len(imgs))
		for i, u := range imgs {
			reqs[i], resps[i] = new(client.Request), new(client.Response)
			if err := reqs[i].SetURL(u); err != nil {
				return err
			}
			reqs[i].Ctx = e.ctx
		}
		if err := c.DoPipeline(reqs, resps, len(reqs)); err != nil {
			return err
		}
		pipeConns = map[uint64]bool{}
		for _, r := range resps {
			if r.Status != 200 {
				return fmt.Errorf("pipelined image: status %d", r.Status)
			}
			pipeConns[r.ConnID] = true
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Predictions in round trips: a new connection costs 2 (handshake, then request
	// and response), a request on an open one 1. The bytes themselves add their
	// transmission time when the rate is limited.
	xfer := time.Duration(0)
	if e.p.Rate > 0 {
		total := len(pageHTML()) + pageImages*len(imageData()) + (pageImages+1)*200
		xfer = time.Duration(float64(total) * 8 * 1.04 / float64(e.p.Rate) * float64(time.Second))
	}
	rt := func(k float64) time.Duration { return time.Duration(k*float64(rtt)) + xfer }
	// Each image fits in a new connection's first window of 10 segments; the
	// pipelined responses, sent together, need as many round trips as slow start
	// takes to carry all of them.
	burst := slowStartRounds((pageImages*(len(imageData())+200)+labMSS-1)/labMSS, initialWindow)
	predSerial, predParallel, predPersistent, predPipelined := rt(2*(n+1)), rt(4), rt(2+n), rt(2+float64(burst))
	e.measureMs("serial_ms", "serial: a connection per object", serial, predSerial)
	e.measureMs("parallel_ms", fmt.Sprintf("parallel: HTML, then %d connections", pageImages), parallel, predParallel)
	e.measureMs("persistent_ms", "persistent: one connection, requests in turn", persistent, predPersistent)
	e.measureMs("pipelined_ms", fmt.Sprintf("pipelined: one connection, images requested together (%d round trips of slow start)", burst), pipelined, predPipelined)
	e.measure("objects", "objects on the page", "", n+1)
	e.measure("loads", "loads per way (the median is shown)", "", float64(reps))
	e.measure("page_bytes", "bytes of the page and its images", "bytes", float64(len(pageHTML())+pageImages*len(imageData())))

	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{{"serial", serial, predSerial}, {"parallel", parallel, predParallel}, {"persistent", persistent, predPersistent}, {"pipelined", pipelined, predPipelined}} {
		e.near(c.name, c.got, c.want, tolerance(c.want))
	}
	e.check(pipelined < persistent && persistent < serial && parallel < serial,
		"pipelined < persistent < serial, and parallel < serial")
	e.check(len(pipeConns) == 1, "the pipelined images came on %d connection(s)", len(pipeConns))
	e.note("page with %d images at %s RTT: serial %s, parallel %s, persistent %s, pipelined %s",
		pageImages, fmtMs(rtt), fmtMs(serial), fmtMs(parallel), fmtMs(persistent), fmtMs(pipelined))

	labels := []string{"serial", "parallel", "persistent", "pipelined"}
	e.plot(Plot{Title: "Page load time", XLabel: "connection management", YLabel: "ms", Kind: "bar", Series: []Series{
		{Name: "measured", Labels: labels, Y: []float64{timeline.Millis(serial), timeline.Millis(parallel), timeline.Millis(persistent), timeline.Millis(pipelined)}},
		{Name: "predicted", Labels: labels, Y: []float64{timeline.Millis(predSerial), timeline.Millis(predParallel), timeline.Millis(predPersistent), timeline.Millis(predPipelined)}, Dashed: true},
	}})
	return nil
}
