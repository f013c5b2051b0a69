package proxy

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the proxy's Prometheus metrics (prometheus/client_golang). Create it
// with [NewMetrics], give it to [Proxy.Metrics], and serve [Metrics.Handler] on the
// admin address.
//
// Exposed (all prefixed hop_proxy_):
//
//	requests_total{code}                    responses by status class (2xx, 3xx, 4xx, 5xx)
//	request_duration_seconds                histogram, from the request head to the end of the response
//	errors_total{kind}                      failures by kind (Proxy-Status error types, upstream_truncated, ...)
//	upstream_requests_total{reused}         exchanges sent upstream, on a reused connection or a new one
//	upstream_reuse_ratio                    reused / all upstream exchanges
//	client_connections{state}               client-side connections: open, idle (parked included), active
//	client_tunnels_total                    client connections handed to CONNECT or upgrade tunnels
//	upstream_connections{state}             upstream pool: open, idle, active
//	upstream_healthy{upstream}              1 when the upstream is not ejected (reverse mode)
//	upstream_ejections_total{upstream}      times the upstream was ejected
type Metrics struct {
	reg      *prometheus.Registry
	requests [5]prometheus.Counter // by status class, index status/100 - 1
	duration prometheus.Histogram
	errors   *prometheus.CounterVec
	upReq    [2]prometheus.Counter // [new, reused]
	upNew    atomic.Uint64
	upReused atomic.Uint64

	errorsByKind map[string]prometheus.Counter
}

// errorKinds are the kinds counted; others are counted as "other".
var errorKinds = []string{
	"connection_limit_reached", "http_request_error", "dns_timeout", "dns_error",
	"connection_timeout", "connection_refused", "destination_unavailable", "tls_protocol_error",
	"http_response_header_timeout", "http_protocol_error", "connection_terminated",
	"proxy_internal_error", "upstream_truncated", "client_write_failed", "denied", "auth_required",
	"loop_detected", "bad_request", "takeover_failed", "shutting_down", "tunnel_limit", "tunnel_idle_timeout",
	"panic", "other",
}

// NewMetrics creates the metrics. srv, when set, is the server whose client-side
// connections are reported; c the upstream client whose pool is reported; bal the
// upstreams whose health is reported (reverse mode).
func NewMetrics(srv *server.Server, c *client.Client, bal *Balancer) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), errorsByKind: map[string]prometheus.Counter{}}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hop_proxy_requests_total", Help: "Responses sent to clients, by status class.",
	}, []string{"code"})
	for i, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
		m.requests[i] = reqs.WithLabelValues(c)
	}
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hop_proxy_request_duration_seconds",
		Help:    "Time from the request head to the end of the response.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hop_proxy_errors_total", Help: "Failed or refused requests, by kind.",
	}, []string{"kind"})
	for _, k := range errorKinds {
		m.errorsByKind[k] = m.errors.WithLabelValues(k)
	}
	up := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hop_proxy_upstream_requests_total", Help: "Exchanges sent upstream, by connection reuse.",
	}, []string{"reused"})
	m.upReq = [2]prometheus.Counter{up.WithLabelValues("false"), up.WithLabelValues("true")}
	ratio := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hop_proxy_upstream_reuse_ratio", Help: "Share of upstream exchanges that reused a connection.",
	}, func() float64 {
		n, r := m.upNew.Load(), m.upReused.Load()
		if n+r == 0 {
			return 0
		}
		return float64(r) / float64(n+r)
	})
	m.reg.MustRegister(reqs, m.duration, m.errors, up, ratio)
	if srv != nil {
		m.reg.MustRegister(newFuncCollector(
			prometheus.NewDesc("hop_proxy_client_connections", "Client-side connections: open, idle (parked included), active.", []string{"state"}, nil),
			func(emit func(v float64, labels ...string)) {
				st := srv.Stats()
				emit(float64(st.New+st.Active+st.Idle+st.Parked), "open")
				emit(float64(st.Idle+st.Parked), "idle")
				emit(float64(st.Active), "active")
			}), newCounterFuncCollector(
			prometheus.NewDesc("hop_proxy_client_tunnels_total", "Client connections handed to CONNECT or upgrade tunnels.", nil, nil),
			func(emit func(v float64, labels ...string)) { emit(float64(srv.Stats().TakenOver)) }))
	}
	if c != nil {
		m.reg.MustRegister(newFuncCollector(
			prometheus.NewDesc("hop_proxy_upstream_connections", "Upstream pool connections: open, idle, active.", []string{"state"}, nil),
			func(emit func(v float64, labels ...string)) {
				s := c.Stats()
				emit(float64(s.Open), "open")
				emit(float64(s.Idle), "idle")
				emit(float64(s.Active), "active")
			}))
	}
	if bal != nil {
		m.reg.MustRegister(newFuncCollector(
			prometheus.NewDesc("hop_proxy_upstream_healthy", "1 when the upstream is in rotation, 0 when ejected.", []string{"upstream"}, nil),
			func(emit func(v float64, labels ...string)) {
				for _, s := range bal.States() {
					v := 0.0
					if s.Healthy {
						v = 1
					}
					emit(v, s.Name)
				}
			}))
		m.reg.MustRegister(newCounterFuncCollector(
			prometheus.NewDesc("hop_proxy_upstream_ejections_total", "Times the upstream was ejected by passive health checking.", []string{"upstream"}, nil),
			func(emit func(v float64, labels ...string)) {
				for _, s := range bal.States() {
					emit(float64(s.Ejected), s.Name)
				}
			}))
	}
	return m
}

// Registry returns the registry holding the metrics, to add more (a cache's).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe counts one finished request.
func (m *Metrics) observe(status int, d time.Duration, x *Exchange, rec *record) {
	if c := status / 100; c >= 1 && c <= 5 {
		m.requests[c-1].Inc()
	}
	m.duration.Observe(d.Seconds())
	if rec.kind != "" {
		c, ok := m.errorsByKind[rec.kind]
		if !ok {
			c = m.errorsByKind["other"]
		}
		c.Inc()
	}
	if x.Upstream.ConnID != 0 {
		if x.Upstream.Reused {
			m.upReq[1].Inc()
			m.upReused.Add(1)
		} else {
			m.upReq[0].Inc()
			m.upNew.Add(1)
		}
	}
}

// funcCollector reports gauges (or counters) computed at scrape time.
type funcCollector struct {
	desc    *prometheus.Desc
	kind    prometheus.ValueType
	collect func(emit func(v float64, labels ...string))
}

func newFuncCollector(d *prometheus.Desc, f func(emit func(v float64, labels ...string))) *funcCollector {
	return &funcCollector{desc: d, kind: prometheus.GaugeValue, collect: f}
}

func newCounterFuncCollector(d *prometheus.Desc, f func(emit func(v float64, labels ...string))) *funcCollector {
	return &funcCollector{desc: d, kind: prometheus.CounterValue, collect: f}
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	c.collect(func(v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.desc, c.kind, v, labels...)
	})
}
