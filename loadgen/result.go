package loadgen

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Errors counts failures by kind. A connection that fails is closed and replaced; the
// requests that were in flight on it are abandoned and the failure counts once. It is
// also the JSON form (errors_by_kind) of the counts.
type Errors struct {
	Connect  int64 `json:"connect"`  // dial (or TLS handshake) failed
	Read     int64 `json:"read"`     // the connection failed or closed before a response was complete
	Write    int64 `json:"write"`    // writing a request failed
	Timeout  int64 `json:"timeout"`  // no progress for Config.Timeout
	Status   int64 `json:"status"`   // a response with status 400 or more (also counted as a request)
	Protocol int64 `json:"protocol"` // a malformed or unexpected response
}

// Total returns the sum of all kinds.
func (e Errors) Total() int64 {
	return e.Connect + e.Read + e.Write + e.Timeout + e.Status + e.Protocol
}

func (e *Errors) add(o *Errors) {
	e.Connect += o.Connect
	e.Read += o.Read
	e.Write += o.Write
	e.Timeout += o.Timeout
	e.Status += o.Status
	e.Protocol += o.Protocol
}

// Result holds the measurements of one run. Everything counts the measured part only
// (after the warm-up), except ConnectionsOpened, which counts the whole run.
type Result struct {
	Config      Config // the configuration with defaults filled in
	Connections int    // connections (or requests in flight with Close)
	Pipeline    int    // requests in flight per connection
	GOMAXPROCS  int    // cores the engine could use

	Requests          int64         // responses completed
	Bytes             int64         // bytes read from the connections
	Duration          time.Duration // measured time
	Errors            Errors
	ConnectionsOpened int64
	// FirstErrors holds the cause of the first counted error of each kind, keyed by
	// the kind's name in the JSON report (connect, read, write, timeout, status,
	// protocol); kinds without errors are absent, and it is nil without errors.
	FirstErrors map[string]error
	// StatusClasses counts responses by status class: index 2 is 2xx, and so on.
	StatusClasses [6]int64

	// Latency is in microseconds: with Rate, from each request's schedule slot to
	// the end of its response (corrected for coordinated omission); without, from
	// writing the request to the end of its response.
	Latency *hdrhistogram.Histogram
	// Uncorrected is in microseconds from the actual write of each request to the end
	// of its response. Without Rate it is the same histogram as Latency.
	Uncorrected *hdrhistogram.Histogram
}

// RequestsPerSec returns the completed requests per second of measured time.
func (r *Result) RequestsPerSec() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// BytesPerSec returns the bytes read per second of measured time.
func (r *Result) BytesPerSec() float64 { return float64(r.Bytes) / r.Duration.Seconds() }

// Percentiles summarizes a latency histogram in milliseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// PercentilesOf returns the percentiles of a histogram of microseconds, in
// milliseconds.
func PercentilesOf(h *hdrhistogram.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
		Mean: h.Mean() / 1000,
	}
}

// Report is the JSON object "hop bench --json" prints. The fields requests,
// duration_s, requests_per_sec, errors, connections_opened and latency_ms are a public
// contract.
type Report struct {
	URL               string        `json:"url"`
	Mode              string        `json:"mode"` // keep-alive, pipelined or close
	Connections       int           `json:"connections"`
	Pipeline          int           `json:"pipeline"`
	Rate              float64       `json:"rate,omitempty"`
	GOMAXPROCS        int           `json:"gomaxprocs"`
	Requests          int64         `json:"requests"`
	DurationS         float64       `json:"duration_s"`
	RequestsPerSec    float64       `json:"requests_per_sec"`
	Bytes             int64         `json:"bytes"`
	BytesPerSec       float64       `json:"bytes_per_sec"`
	Errors            int64         `json:"errors"`
	ErrorsByKind      Errors        `json:"errors_by_kind"`
	ConnectionsOpened int64         `json:"connections_opened"`
	Status            StatusClasses `json:"status"`
	LatencyMS         Percentiles   `json:"latency_ms"`
	// LatencyUncorrectedMS is present with Rate: latency from the actual send.
	LatencyUncorrectedMS *Percentiles `json:"latency_uncorrected_ms,omitempty"`
	// FirstErrors is the message of the first error of each kind that occurred (see
	// Result.FirstErrors); absent without errors.
	FirstErrors map[string]string `json:"first_errors,omitempty"`
}

// StatusClasses counts responses by status class in JSON.
type StatusClasses struct {
	S1xx int64 `json:"1xx"`
	S2xx int64 `json:"2xx"`
	S3xx int64 `json:"3xx"`
	S4xx int64 `json:"4xx"`
	S5xx int64 `json:"5xx"`
}

// Mode names the connection management of a configuration.
func (c *Config) Mode() string {
	switch {
	case c.Close:
		return "close"
	case c.Pipeline > 1:
		return "pipelined"
	}
	return "keep-alive"
}

// Report returns the JSON form of the result.
func (r *Result) Report() Report {
	rep := Report{
		URL:               r.Config.URL,
		Mode:              r.Config.Mode(),
		Connections:       r.Connections,
		Pipeline:          r.Pipeline,
		Rate:              r.Config.Rate,
		GOMAXPROCS:        r.GOMAXPROCS,
		Requests:          r.Requests,
		DurationS:         r.Duration.Seconds(),
		RequestsPerSec:    r.RequestsPerSec(),
		Bytes:             r.Bytes,
		BytesPerSec:       r.BytesPerSec(),
		Errors:            r.Errors.Total(),
		ErrorsByKind:      r.Errors,
		ConnectionsOpened: r.ConnectionsOpened,
		Status: StatusClasses{
			S1xx: r.StatusClasses[1], S2xx: r.StatusClasses[2], S3xx: r.StatusClasses[3],
			S4xx: r.StatusClasses[4], S5xx: r.StatusClasses[5],
		},
		LatencyMS: PercentilesOf(r.Latency),
	}
	if len(r.FirstErrors) > 0 {
		rep.FirstErrors = make(map[string]string, len(r.FirstErrors))
		for k, err := range r.FirstErrors {
			rep.FirstErrors[k] = err.Error()
		}
	}
	if r.Config.Rate > 0 {
		u := PercentilesOf(r.Uncorrected)
		rep.LatencyUncorrectedMS = &u
	}
	return rep
}

// WriteText writes the human-readable report.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	c := &r.Config
	fmt.Fprintf(&b, "%s: %s, %d connections", c.URL, r.Config.Mode(), r.Connections)
	if r.Pipeline > 1 {
		fmt.Fprintf(&b, " x %d in flight", r.Pipeline)
	}
	if c.Rate > 0 {
		fmt.Fprintf(&b, ", rate %s/s", count(int64(c.Rate)))
	}
	fmt.Fprintf(&b, ", %s measured, GOMAXPROCS %d\n", r.Duration.Round(time.Millisecond), r.GOMAXPROCS)
	fmt.Fprintf(&b, "  requests      %s (%s/s)\n", count(r.Requests), count(int64(r.RequestsPerSec()+0.5)))
	fmt.Fprintf(&b, "  transfer      %s (%s/s)\n", size(float64(r.Bytes)), size(r.BytesPerSec()))
	label := "latency"
	if c.Rate > 0 {
		label = "latency (corrected)"
	}
	writeLatency(&b, label, PercentilesOf(r.Latency))
	if c.Rate > 0 {
		writeLatency(&b, "latency (uncorrected)", PercentilesOf(r.Uncorrected))
	}
	e := r.Errors
	fmt.Fprintf(&b, "  errors        %d (connect %d, read %d, write %d, timeout %d, status %d, protocol %d)\n",
		e.Total(), e.Connect, e.Read, e.Write, e.Timeout, e.Status, e.Protocol)
	for _, kind := range kindNames {
		if err := r.FirstErrors[kind]; err != nil {
			fmt.Fprintf(&b, "    first %s error: %v\n", kind, err)
		}
	}
	fmt.Fprintf(&b, "  status        2xx %d, 3xx %d, 4xx %d, 5xx %d\n",
		r.StatusClasses[2], r.StatusClasses[3], r.StatusClasses[4], r.StatusClasses[5])
	fmt.Fprintf(&b, "  connections   %d opened\n", r.ConnectionsOpened)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLatency(b *strings.Builder, label string, p Percentiles) {
	fmt.Fprintf(b, "  %s\n    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n", label,
		ms(p.P50), ms(p.P90), ms(p.P99), ms(p.P999), ms(p.Max), ms(p.Mean))
}

func ms(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3fms", v)
	case v < 100:
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func size(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f%s", v, units[i])
	}
	return fmt.Sprintf("%.2f%s", v, units[i])
}
