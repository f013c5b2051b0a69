package loadgen

import (
	"crypto/tls"
	"errors"
	"fmt"

	"strings"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/wire"
)

// Defaults for zero-valued [Config] fields.
const (
	DefaultConnections = 10
	DefaultDuration    = 10 * time.Second
	DefaultTimeout     = 10 * time.Second
	DefaultPipeline    = 1
	// DefaultComparePipeline is the depth of the pipelined rows of [Compare] when
	// Config.Pipeline is not above 1.
	DefaultComparePipeline = 16
	// MaxPipeline bounds Config.Pipeline.
	MaxPipeline = 1024
	// MaxConnections bounds Config.Connections.
	MaxConnections = 1 << 20
)

// ErrConfig is matched (errors.Is) by every error [Run] and [Compare] return because
// the configuration is invalid, as opposed to a failure to run it (the host cannot be
// resolved).
var ErrConfig = errors.New("loadgen: invalid configuration")

// configError is an invalid configuration: its message, and what caused it.
type configError struct {
	msg   string
	cause error
}

func configErrorf(format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	return &configError{msg: err.Error(), cause: errors.Unwrap(err)}
}

func (e *configError) Error() string { return "loadgen: " + e.msg }

func (e *configError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrConfig}
	}
	return []error{ErrConfig, e.cause}
}

// Config describes one load run. The zero value plus a URL is a valid configuration:
// 10 keep-alive connections for 10 seconds.
type Config struct {
	// URL is the target, http:// or https://.
	URL string
	// Connections is the number of connections (default 10). With Close, it is the
	// number of requests in flight, each on its own new connection.
	Connections int
	// Duration bounds the measured part of the run (after Warmup). Zero means
	// DefaultDuration when Requests is zero, unbounded otherwise.
	Duration time.Duration
	// Requests, when positive, stops the run after this many requests were sent
	// (after Warmup).
	Requests int64
	// Pipeline is the number of requests in flight on each connection (default 1).
	Pipeline int
	// Close sends every request on a new connection with Connection: close.
	Close bool
	// Rate, when positive, sends requests on a fixed schedule of Rate requests per
	// second in total and corrects latency for coordinated omission.
	Rate float64
	// Warmup runs load for this long before measuring; nothing sent during the
	// warm-up is counted (except connections opened).
	Warmup time.Duration
	// Timeout fails a request when no byte of progress arrives for this long
	// (default 10s). The check is coarse: it fires between 7/8 and 1 times Timeout
	// after the last progress.
	Timeout time.Duration
	// Method is the request method (default GET).
	Method string
	// Header holds extra request fields, sent in order. A Host field here replaces
	// the one taken from the URL.
	Header [][2]string
	// Body is the request body, sent with Content-Length.
	Body []byte
	// TLSConfig is used for https URLs; nil means a default configuration with the
	// URL's host as ServerName.
	TLSConfig *tls.Config
	// Progress, when set, is called about every ProgressInterval (default 1s) from a
	// separate goroutine while the run lasts.
	Progress func(Progress)
	// ProgressInterval is the period of Progress calls.
	ProgressInterval time.Duration
}

// Progress is a snapshot passed to Config.Progress while a run lasts.
type Progress struct {
	Label          string        // the mode (or the row of a comparison) running
	Elapsed        time.Duration // since the start of the run, warm-up included
	Warmup         bool          // the warm-up is still running
	Requests       int64         // requests completed so far (measured part)
	Errors         int64         // errors so far (measured part)
	RequestsPerSec float64       // over the last interval
}

// target is what a run needs to know about the URL.
type target struct {
	scheme   string // http or https
	host     string // host name or IP, no brackets (with its zone, if any)
	port     string
	hostPort string // the Host field value
	path     string // origin-form request target
}

// parseTarget parses the URL with the client's parser, so that hop bench and hop get
// accept the same URLs and say the same about the others.
func parseTarget(raw string) (target, error) {
	u, err := client.ParseURL(raw)
	if err != nil {
		return target{}, configErrorf("%w", err)
	}
	return target{
		scheme:   u.Scheme,
		host:     u.Host,
		port:     u.EffectivePort(),
		hostPort: u.Authority(),
		path:     u.RequestURI(),
	}, nil
}

// validate fills defaults into a copy of c and checks it.
func (c Config) validate() (Config, error) {
	if c.Connections == 0 {
		c.Connections = DefaultConnections
	}
	if c.Connections < 0 || c.Connections > MaxConnections {
		return c, configErrorf("connections must be between 1 and %d", MaxConnections)
	}
	if c.Pipeline == 0 {
		c.Pipeline = DefaultPipeline
	}
	if c.Pipeline < 0 || c.Pipeline > MaxPipeline {
		return c, configErrorf("pipeline must be between 1 and %d", MaxPipeline)
	}
	if c.Close && c.Pipeline > 1 {
		return c, configErrorf("close (a new connection per request) cannot be pipelined")
	}
	if c.Requests < 0 || c.Duration < 0 || c.Warmup < 0 || c.Rate < 0 || c.Timeout < 0 {
		return c, configErrorf("requests, duration, warm-up, rate and timeout must not be negative")
	}
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Method == "" {
		c.Method = "GET"
	}
	if !wire.IsToken([]byte(c.Method)) {
		return c, configErrorf("invalid method %q", c.Method)
	}
	for _, f := range c.Header {
		if !wire.IsToken([]byte(f[0])) || !wire.ValidFieldValue(f[1]) {
			return c, configErrorf("invalid header field %q: %q", f[0], f[1])
		}
		switch strings.ToLower(f[0]) {
		case "content-length", "transfer-encoding":
			return c, configErrorf("%s is set by the engine from the body", f[0])
		}
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	return c, nil
}

// buildRequest serializes the request once.
func buildRequest(c *Config, t *target) []byte {
	b := wire.AppendRequestLine(nil, c.Method, t.path, 1)
	hostSet := false
	for _, f := range c.Header {
		if strings.EqualFold(f[0], "host") {
			hostSet = true
		}
	}
	if !hostSet {
		b = wire.AppendField(b, "Host", t.hostPort)
	}
	for _, f := range c.Header {
		b = wire.AppendField(b, f[0], f[1])
	}
	if len(c.Body) > 0 || c.Method == "POST" || c.Method == "PUT" || c.Method == "PATCH" {
		b = wire.AppendIntField(b, "Content-Length", int64(len(c.Body)))
	}
	if c.Close {
		b = wire.AppendField(b, "Connection", "close")
	}
	b = append(b, '\r', '\n')
	return append(b, c.Body...)
}
