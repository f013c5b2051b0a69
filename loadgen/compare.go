package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// CompareRow is one run of a [Comparison].
type CompareRow struct {
	// Name is close, keep-alive, pipelined or parallel.
	Name string
	// Connections is the number of connections (with close: new connections in
	// flight at a time); InFlight the number of requests in flight.
	Connections, InFlight int
	Result                *Result
}

// TimeWait counts sockets in the TIME_WAIT state.
type TimeWait struct {
	Port  int `json:"port"`  // the target port
	Total int `json:"total"` // every TIME_WAIT socket of the host (IPv4 and IPv6)
	// Target counts those whose local or remote port is Port.
	Target int `json:"target"`
}

// Comparison is the outcome of [Compare].
type Comparison struct {
	Rows []CompareRow
	// TimeWaitBefore and TimeWaitAfterClose are counted just before and right after
	// the close run. TimeWaitErr is set when they could not be read.
	TimeWaitBefore, TimeWaitAfterClose TimeWait
	TimeWaitErr                        error
}

// Compare runs the same load four ways, back to back, each for cfg's duration (or
// request count) with cfg.Connections as the concurrency c and P = cfg.Pipeline (16
// when not above 1):
//
//   - close: c requests in flight, each on a new connection (Connection: close);
//   - keep-alive: c persistent connections, one request in flight on each;
//   - pipelined: the same c requests in flight (rounded up to a multiple of P) over
//     ceil(c/P) persistent connections, P on each;
//   - parallel: c persistent connections with P requests in flight on each, the
//     persistent, parallel and pipelined techniques combined.
//
// Right after the close run it counts the sockets left in TIME_WAIT, the cost of a
// connection per request. cfg.Close is ignored.
func Compare(ctx context.Context, cfg Config) (*Comparison, error) {
	cfg.Close = false
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(cfg.URL)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(t.port)
	c := cfg.Connections
	p := cfg.Pipeline
	if p <= 1 {
		p = DefaultComparePipeline
	}
	plans := []CompareRow{
		{Name: "close", Connections: c, InFlight: c},
		{Name: "keep-alive", Connections: c, InFlight: c},
		{Name: "pipelined", Connections: (c + p - 1) / p, InFlight: c},
		{Name: "parallel", Connections: c, InFlight: c * p},
	}
	cmp := &Comparison{}
	for _, row := range plans {
		if ctx.Err() != nil {
			break
		}
		rc := cfg
		rc.Connections = row.Connections
		rc.Close = row.Name == "close"
		rc.Pipeline = 1
		switch row.Name {
		case "pipelined":
			rc.Pipeline = p
			row.InFlight = row.Connections * p // c rounded up to a multiple of P
		case "parallel":
			rc.Pipeline = p
		}
		if progress := cfg.Progress; progress != nil {
			name := row.Name
			rc.Progress = func(pr Progress) { pr.Label = name; progress(pr) }
		}
		if rc.Close {
			cmp.TimeWaitBefore, cmp.TimeWaitErr = CountTimeWait(port)
		}
		res, err := Run(ctx, rc)
		if err != nil {
			return nil, err
		}
		if rc.Close {
			cmp.TimeWaitAfterClose, cmp.TimeWaitErr = CountTimeWait(port)
		}
		row.Result = res
		cmp.Rows = append(cmp.Rows, row)
	}
	return cmp, nil
}

// CountTimeWait counts the sockets in TIME_WAIT listed in /proc/net/tcp and
// /proc/net/tcp6, and among them those with port as local or remote port. It
// returns an error where /proc/net/tcp cannot be read (not Linux).
func CountTimeWait(port int) (TimeWait, error) {
	tw := TimeWait{Port: port}
	found := false
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		found = true
		total, target, err := countTimeWait(f, port)
		f.Close()
		if err != nil {
			return tw, err
		}
		tw.Total += total
		tw.Target += target
	}
	if !found {
		return tw, errors.New("loadgen: /proc/net/tcp not available")
	}
	return tw, nil
}

// tcpTimeWait is the TIME_WAIT state in /proc/net/tcp (include/net/tcp_states.h).
const tcpTimeWait = "06"

// countTimeWait parses the /proc/net/tcp format:
//
//	sl  local_address rem_address   st ...
//	 0: 0100007F:1F90 0100007F:C350 06 ...
func countTimeWait(r io.Reader, port int) (total, target int, err error) {
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue // header line
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != tcpTimeWait {
			continue
		}
		total++
		if portOf(f[1]) == port || portOf(f[2]) == port {
			target++
		}
	}
	return total, target, sc.Err()
}

func portOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(p)
}

// CompareReportRow is one row of the JSON form of a Comparison.
type CompareReportRow struct {
	Name             string  `json:"name"`
	Connections      int     `json:"connections"`
	InFlight         int     `json:"in_flight"`
	RatioVsClose     float64 `json:"ratio_vs_close"`
	RatioVsKeepAlive float64 `json:"ratio_vs_keep_alive"`
	Report                   // the run's report, as "hop bench --json" prints it
}

// CompareReport is the JSON form of a Comparison.
type CompareReport struct {
	Runs               []CompareReportRow `json:"runs"`
	TimeWaitBefore     *TimeWait          `json:"time_wait_before,omitempty"`
	TimeWaitAfterClose *TimeWait          `json:"time_wait_after_close,omitempty"`
}

func (c *Comparison) rate(name string) float64 {
	for _, r := range c.Rows {
		if r.Name == name {
			return r.Result.RequestsPerSec()
		}
	}
	return 0
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Report returns the JSON form of the comparison.
func (c *Comparison) Report() CompareReport {
	var rep CompareReport
	closeRate, kaRate := c.rate("close"), c.rate("keep-alive")
	for _, r := range c.Rows {
		rps := r.Result.RequestsPerSec()
		rep.Runs = append(rep.Runs, CompareReportRow{
			Name: r.Name, Connections: r.Connections, InFlight: r.InFlight,
			RatioVsClose: ratio(rps, closeRate), RatioVsKeepAlive: ratio(rps, kaRate),
			Report: r.Result.Report(),
		})
	}
	if c.TimeWaitErr == nil && len(c.Rows) > 0 {
		before, after := c.TimeWaitBefore, c.TimeWaitAfterClose
		rep.TimeWaitBefore, rep.TimeWaitAfterClose = &before, &after
	}
	return rep
}

// WriteText writes the comparison as one table with ratios.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(c.Rows) > 0 {
		r0 := c.Rows[0].Result
		fmt.Fprintf(&b, "%s: %s per run, GOMAXPROCS %d\n", r0.Config.URL,
			r0.Duration.Round(1e6), r0.GOMAXPROCS)
	}
	fmt.Fprintf(&b, "%-11s %6s %9s %12s %7s %7s %10s %10s %8s %8s\n",
		"mode", "conns", "in-flight", "requests/s", "xclose", "xkeep", "p50", "p99", "errors", "opened")
	closeRate, kaRate := c.rate("close"), c.rate("keep-alive")
	for _, r := range c.Rows {
		res := r.Result
		rps := res.RequestsPerSec()
		p := PercentilesOf(res.Latency)
		fmt.Fprintf(&b, "%-11s %6d %9d %12s %6.2fx %6.2fx %10s %10s %8d %8d\n",
			r.Name, r.Connections, r.InFlight, count(int64(rps+0.5)),
			ratio(rps, closeRate), ratio(rps, kaRate), ms(p.P50), ms(p.P99),
			res.Errors.Total(), res.ConnectionsOpened)
	}
	switch {
	case c.TimeWaitErr != nil:
		fmt.Fprintf(&b, "TIME_WAIT: %v\n", c.TimeWaitErr)
	case len(c.Rows) > 0:
		a, bf := c.TimeWaitAfterClose, c.TimeWaitBefore
		fmt.Fprintf(&b, "after the close run: %d sockets in TIME_WAIT on port %d (%d before it), %d on the host\n",
			a.Target, a.Port, bf.Target, a.Total)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
