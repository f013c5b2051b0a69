//go:build linux

package lab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/lab/capture"
	"github.com/hop-http/hop/lab/link"
	"github.com/hop-http/hop/lab/netlab"
)

// DefaultRTT is the round-trip time of experiments that do not choose their own.
const DefaultRTT = 50 * time.Millisecond

// Options choose the link and the form of a run. For RTT, Loss, Rate and Jitter,
// zero means the experiment's default and a negative value means none. The defaults
// are DefaultRTT, no loss, no rate limit and no jitter, but for the experiments that
// choose their own (loss runs at 2% loss; see [Experiment]); none is no added delay,
// no loss, no rate limit, no jitter.
type Options struct {
	RTT    time.Duration // round-trip time between any two hosts
	Loss   float64       // packet loss probability per direction, up to 1
	Rate   int64         // line rate per direction in bits per second
	Jitter time.Duration // each packet's one-way delay varies uniformly within ±Jitter/2

	// CongestionControl is the hosts' TCP congestion control ("" means cubic; see
	// /proc/sys/net/ipv4/tcp_available_congestion_control).
	CongestionControl string
	// Seed seeds the link's loss and jitter; 0 picks one at random (reported in the
	// result's note when loss or jitter is on).
	Seed uint64
	// Short runs the experiment's short form: fewer requests and smaller transfers,
	// as the tests do.
	Short bool
}

// Params are the settings an experiment ran with.
type Params struct {
	RTT    time.Duration
	Loss   float64
	Rate   int64
	Jitter time.Duration
	Seed   uint64
	CC     string // TCP congestion control
}

// ParamsJSON is the "params" object of the JSON output.
type ParamsJSON struct {
	RTTMs    float64 `json:"rtt_ms"`
	LossPct  float64 `json:"loss_pct"`
	RateBps  int64   `json:"rate_bps"`
	JitterMs float64 `json:"jitter_ms,omitempty"`
	CC       string  `json:"congestion_control"`
}

func (p Params) json() ParamsJSON {
	return ParamsJSON{RTTMs: timeline.Millis(p.RTT), LossPct: round(p.Loss*100, 4), RateBps: p.Rate, JitterMs: timeline.Millis(p.Jitter), CC: p.CC}
}

func (p Params) link() link.Params {
	return link.Params{Delay: p.RTT / 2, Jitter: p.Jitter / 2, Loss: p.Loss, Rate: p.Rate}
}

// Verdicts.
const (
	Agrees  = "agrees"
	Differs = "differs"
)

// Result is what one experiment measured. The fields with JSON names are the public
// output of `hop lab run --json` (see DESIGN.md); the others feed the terminal, HTML
// and pcap outputs.
type Result struct {
	Experiment string             `json:"experiment"`
	Params     ParamsJSON         `json:"params"`
	Measured   map[string]float64 `json:"measured"`
	Predicted  map[string]float64 `json:"predicted"`
	Verdict    string             `json:"verdict"`
	Note       string             `json:"note"`

	Title  string  `json:"-"`
	Claim  string  `json:"-"` // the textbook's claim being tested
	P      Params  `json:"-"`
	Rows   []Row   `json:"-"` // measured beside predicted, in display order
	Checks []Check `json:"-"` // what the verdict is made of
	Legs   []Leg   `json:"-"` // the parts of the experiment, in time order
	Plots  []Plot  `json:"-"`
	Events []Event `json:"-"` // annotated moments for the timeline and the diagram
	// Waterfalls are per-request phase breakdowns from hop's client (dns, connect,
	// tls, request, wait, transfer), drawn as `hop get --timing` draws them.
	Waterfalls []timeline.Waterfall `json:"-"`
	Capture    *capture.Capture     `json:"-"`
	// Overflow counts packets not recorded (the capture's bound was reached).
	Overflow int64 `json:"-"`
	// BaseRTT is the round trip of the bare link path, taken out of the delay.
	BaseRTT time.Duration `json:"-"`
	// Elapsed is how long the experiment ran.
	Elapsed time.Duration `json:"-"`
	// Hosts are the lab's hosts in link-port order.
	Hosts []string `json:"-"`
}

// Row is one measured figure, with the prediction when there is one.
type Row struct {
	Key       string // JSON name, e.g. "close_total_ms"
	Label     string
	Unit      string // "ms", "bytes", "%", "" ...
	Measured  float64
	Predicted float64
	HasPred   bool
}

// Check is one comparison behind the verdict.
type Check struct {
	What string
	OK   bool
}

// Leg is one part of an experiment (e.g. "Nagle on" and "TCP_NODELAY"), with the time
// range it covered since the capture's start.
type Leg struct {
	Name       string
	Start, End time.Duration
}

// Event is a labelled moment at a host (e.g. "request written"), for the timeline.
type Event struct {
	At    time.Duration
	Host  string
	Label string
}

// Plot is a small chart of an experiment's figures.
type Plot struct {
	Title, XLabel, YLabel string
	Kind                  string // "line", "step" or "bar"
	Series                []Series
}

// Series is one line (or one set of bars) of a Plot. For bars, Labels name the X
// positions.
type Series struct {
	Name   string
	X, Y   []float64
	Labels []string
	Dashed bool // a prediction rather than a measurement
}

// Experiment is one of the lab's experiments.
type Experiment struct {
	Name  string
	Title string
	Claim string
	// Hosts are the lab hosts it needs.
	Hosts []string
	// RTT, Loss and Rate are its defaults (the settings Options leave at zero); a
	// zero RTT here means DefaultRTT.
	RTT  time.Duration
	Loss float64
	Rate int64

	run func(e *env) error
}

// Experiments returns the experiments in their running order.
func Experiments() []Experiment { return append([]Experiment(nil), registry...) }

// Lookup returns the experiment called name.
func Lookup(name string) (Experiment, bool) {
	for _, x := range registry {
		if x.Name == name {
			return x, true
		}
	}
	return Experiment{}, false
}

// Names returns the experiments' names in running order.
func Names() []string {
	var out []string
	for _, x := range registry {
		out = append(out, x.Name)
	}
	return out
}

// ErrPrivilege is returned when the process may not create the lab's namespaces.
var ErrPrivilege = netlab.ErrPrivilege

// Privileged reports whether experiments can run here (root, or CAP_SYS_ADMIN,
// CAP_NET_ADMIN and CAP_NET_RAW).
func Privileged() error { return netlab.Privileged() }

// Run runs the experiment called name in a lab of its own, which it removes again
// before returning, also when ctx is canceled.
func Run(ctx context.Context, name string, opt Options) (*Result, error) {
	x, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("lab: no experiment %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return x.Run(ctx, opt)
}

// Params returns the settings x runs with under opt.
func (x Experiment) Params(opt Options) Params {
	p := Params{RTT: cmp.Or(x.RTT, DefaultRTT), Loss: x.Loss, Rate: x.Rate, Seed: opt.Seed, CC: opt.CongestionControl}
	p.RTT = setting(opt.RTT, p.RTT)
	p.Loss = setting(opt.Loss, p.Loss)
	p.Rate = setting(opt.Rate, p.Rate)
	p.Jitter = setting(opt.Jitter, 0)
	if p.CC == "" {
		p.CC = netlab.DefaultCongestionControl
	}
	if p.Seed == 0 {
		p.Seed = rand.Uint64()
	}
	return p
}

// setting applies the settings rule: a positive v is the setting, zero the default
// def, a negative v none (zero).
func setting[T time.Duration | float64 | int64](v, def T) T {
	switch {
	case v > 0:
		return v
	case v < 0:
		return 0
	}
	return def
}

// Run runs x in a lab of its own.
func (x Experiment) Run(ctx context.Context, opt Options) (*Result, error) {
	p := x.Params(opt)
	if p.Jitter > p.RTT {
		return nil, errors.New("lab: jitter larger than the RTT")
	}
	l, err := netlab.New(netlab.Config{Hosts: x.Hosts, Link: p.link(), Seed: p.Seed, CongestionControl: p.CC})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	res := &Result{Experiment: x.Name, Title: x.Title, Claim: x.Claim, P: p, Params: p.json(), BaseRTT: l.BaseRTT()}
	for _, h := range l.Hosts() {
		res.Hosts = append(res.Hosts, h.Name)
	}
	e := newEnv(ctx, l, p, opt.Short, res)
	start := time.Now()
	runErr := e.runSafely(x.run)
	e.closeAll()
	res.Elapsed = time.Since(start)
	if runErr == nil {
		runErr = ctx.Err()
	}
	if runErr != nil {
		return nil, runErr
	}
	pkts, over := l.Packets()
	res.Capture = capture.Decode(pkts, res.Hosts, l.Start)
	res.Overflow = over
	res.finish()
	if p.Loss > 0 || p.Jitter > 0 {
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" (link seed %d)", p.Seed))
	}
	return res, nil
}

// finish fills the JSON maps and the verdict.
func (r *Result) finish() {
	r.Measured, r.Predicted = map[string]float64{}, map[string]float64{}
	for _, row := range r.Rows {
		r.Measured[row.Key] = round(row.Measured, 3)
		if row.HasPred {
			r.Predicted[row.Key] = round(row.Predicted, 3)
		}
	}
	r.Verdict = Agrees
	for _, c := range r.Checks {
		if !c.OK {
			r.Verdict = Differs
		}
	}
	if len(r.Checks) == 0 {
		r.Verdict = Differs
		r.Checks = append(r.Checks, Check{What: "the experiment checked nothing", OK: false})
	}
	sort.SliceStable(r.Events, func(i, j int) bool { return r.Events[i].At < r.Events[j].At })
}

// Row returns the row with key, if any.
func (r *Result) Row(key string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Key == key {
			return row, true
		}
	}
	return Row{}, false
}

// Failed returns the checks that did not hold.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// ParseLoss parses a loss setting: "1%", "1" (percent) or "0.5%".
func ParseLoss(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
		return 0, fmt.Errorf("want a loss percentage from 0 to 100, such as 1%% or 0.5%%, not %q", s)
	}
	return v / 100, nil
}

// ParseRate parses a rate in bits per second: "10mbit", "500kbit", "1gbit", "10M",
// "2.5m", or a plain number of bits per second. "0" means unlimited.
func ParseRate(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v < 0 || math.IsNaN(v) || v*mult > 1e12 {
		return 0, fmt.Errorf("want a rate such as 10mbit, 500kbit or 1gbit (bits per second), not %q", s)
	}
	r := int64(v * mult)
	if v > 0 && r < 8000 {
		return 0, fmt.Errorf("rate %q is below 8 kbit/s", s)
	}
	return r, nil
}

// FormatRate writes bits per second the way ParseRate reads them.
func FormatRate(bps int64) string {
	switch {
	case bps == 0:
		return "unlimited"
	case bps >= 1e9 && bps%1e7 == 0:
		return strconv.FormatFloat(float64(bps)/1e9, 'f', -1, 64) + "gbit"
	case bps >= 1e6:
		return strconv.FormatFloat(round(float64(bps)/1e6, 2), 'f', -1, 64) + "mbit"
	case bps >= 1e3:
		return strconv.FormatFloat(round(float64(bps)/1e3, 2), 'f', -1, 64) + "kbit"
	}
	return strconv.FormatInt(bps, 10) + "bit"
}
