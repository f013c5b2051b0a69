package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/loadgen"
	"github.com/hop-http/hop/wire"
)

func init() { commands["get"] = cmdGet }

// cmdGet is "hop get": fetch URLs, showing connections, heads and timing.
func cmdGet(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return runGet(ctx, args, getIO{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr)})
}

const getUsage = `usage: hop get [flags] URL...

Fetches each URL with one client, so that several URLs to the same origin reuse
connections; the bodies go to stdout. Flags may come before or after the URLs; curl's
short flags combine as in curl (-sSfL, -XPUT).

hop's own views:
  -v, --verbose      print connection events and both heads to stderr
  --timing           draw a per-phase waterfall of each request to stderr
  --json             print one JSON object per request on stdout instead of the body:
                     url, status, conn_id, reused, remote_addr, bytes and phases_ms
                     {dns, connect, tls, request, wait, transfer, total}
  --close            send Connection: close (a new connection per request)
  --http1.0          send HTTP/1.0 requests (with Connection: keep-alive)
  --pipeline[=N]     pipeline the requests, N in flight (default 16; GET/HEAD/... only)
  --parallel N       run up to N requests at once (outputs stay in URL order)
  --resolve H:P:A    connect to address A for host H and port P (repeatable; A may
                     list several addresses separated by commas)

curl's spellings, meaning what they mean in curl:
  -i, --include      print the response head before the body
  -I, --head         send HEAD and print the response head
  -X, --request M    request method (default GET, or POST with -d)
  -H, --header 'Name: value'  add a request field (repeatable); 'Name:' removes a default one
  -d, --data DATA    send DATA as the body (@FILE reads a file, @- stdin); sets POST
  --data-binary DATA the same as -d (the data is sent as is)
  -u, --user U:P     send Basic credentials (user:password in the URL works too)
  -r, --range R      ask for a byte range (Range: bytes=R, e.g. 0-99, 100-, -500)
  --compressed       ask for deflate, gzip or zstd (Accept-Encoding) and decode the body
  -o, --output FILE  write the body of the next URL to FILE ("-": stdout; repeatable, one
                     per URL in order; URLs without one go to stdout)
  -O, --remote-name  write the body of the next URL to a file named after its last path
                     segment, in the current directory (repeatable)
  -f, --fail         a status of 400 or more fails with exit status 22; no body is written
  -s, --silent       no progress meter and no error messages
  -S, --show-error   with -s, still print error messages
  -w, --write-out F  after each request print F with curl's %{variables} (%{http_code},
                     %{time_total}, ...; @FILE reads F from a file, @- from stdin)
  -L, --location     follow redirects (at most --max-redirs, default 50 as in curl)
  -k, --insecure     accept any TLS certificate
  --cacert FILE      trust the PEM certificates in FILE (instead of the system roots)
  -x, --proxy URL    use this HTTP proxy (default: HTTP_PROXY/HTTPS_PROXY/NO_PROXY;
                     --proxy '' for none)
  -m, --max-time D   limit each request to D (e.g. 5s, or 5 for seconds; also --timeout)
  --connect-timeout D  limit resolution and connection set-up (default 10s)
  -A, --user-agent S user agent (default hop/1)

A progress meter (bytes, rates, times and, with a Content-Length, the time left)
goes to stderr when stderr is a terminal and the body does not (with -o or -O, or
stdout redirected); never with -s, --json, --parallel or --pipeline.

Exit status: 0 when every request got a response (whatever its status, unless -f);
otherwise curl's code for the last failure: 6 host not resolved, 7 connection failed,
22 status >= 400 with -f, 23 writing the output failed, 28 timeout, 35 TLS handshake
failed, 47 too many redirects, 52 empty reply, 56 receive error, 60 certificate not
trusted, 61 unknown content encoding (see the README for the full list); 2 for usage
errors.
`

// getIO is where hop get reads and writes, and whether stdout and stderr are
// terminals (for the progress meter).
type getIO struct {
	stdin                io.Reader
	stdout, stderr       io.Writer
	stdoutTTY, stderrTTY bool
}

// getMulti is a repeatable string flag.
type getMulti []string

func (m *getMulti) String() string     { return strings.Join(*m, ", ") }
func (m *getMulti) Set(s string) error { *m = append(*m, s); return nil }

// getOptString is a string flag that records whether it was given.
type getOptString struct {
	v   string
	set bool
}

func (o *getOptString) String() string     { return o.v }
func (o *getOptString) Set(s string) error { o.v, o.set = s, true; return nil }

// getPipeline is --pipeline or --pipeline=N.
type getPipeline struct{ depth int }

func (p *getPipeline) String() string   { return strconv.Itoa(p.depth) }
func (p *getPipeline) IsBoolFlag() bool { return true }
func (p *getPipeline) Set(s string) error {
	switch s {
	case "true":
		p.depth = 16
	case "false":
		p.depth = 0
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > loadgen.MaxPipeline {
			return fmt.Errorf("want a depth from 1 to %d", loadgen.MaxPipeline)
		}
		p.depth = n
	}
	return nil
}

// outputSpec is one -o FILE or -O; they are given to the URLs in order.
type outputSpec struct {
	file   string // -o FILE; "-" is stdout
	remote bool   // -O: named after the URL
}

// getOutputs collects -o FILE (remote false) or -O (remote true) into one list.
type getOutputs struct {
	list   *[]outputSpec
	remote bool
}

func (g getOutputs) String() string   { return "" }
func (g getOutputs) IsBoolFlag() bool { return g.remote }
func (g getOutputs) Set(s string) error {
	if g.remote {
		if s != "true" {
			return errors.New("-O takes no value")
		}
		*g.list = append(*g.list, outputSpec{remote: true})
		return nil
	}
	*g.list = append(*g.list, outputSpec{file: s})
	return nil
}

// getOptions are the parsed flags.
type getOptions struct {
	include, verbose, timing, json  bool
	close, http10, insecure, follow bool
	head, fail, silent, showError   bool
	compressed                      bool
	method                          string
	headers, resolve                getMulti
	data, dataBinary, proxy         getOptString
	user, rangeSpec, writeOut       getOptString
	outputs                         []outputSpec
	cacert, userAgent               string
	pipeline                        getPipeline
	parallel, maxRedirs             int
	timeout, connectTimeout         time.Duration
	urls                            []string
}

func getFlagSet(o *getOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	boolVar := func(p *bool, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, "")
		}
	}
	value := func(v flag.Value, names ...string) {
		for _, n := range names {
			fs.Var(v, n, "")
		}
	}
	boolVar(&o.include, "i", "include")
	boolVar(&o.verbose, "v", "verbose")
	boolVar(&o.timing, "timing")
	boolVar(&o.json, "json")
	boolVar(&o.follow, "L", "location")
	boolVar(&o.close, "close")
	boolVar(&o.http10, "http1.0")
	boolVar(&o.insecure, "k", "insecure")
	boolVar(&o.head, "I", "head")
	boolVar(&o.fail, "f", "fail")
	boolVar(&o.silent, "s", "silent")
	boolVar(&o.showError, "S", "show-error")
	boolVar(&o.compressed, "compressed")
	for _, n := range []string{"X", "request"} {
		fs.StringVar(&o.method, n, "", "")
	}
	value(&o.headers, "H", "header")
	value(&o.data, "d", "data")
	value(&o.dataBinary, "data-binary")
	value(getOutputs{list: &o.outputs}, "o", "output")
	value(getOutputs{list: &o.outputs, remote: true}, "O", "remote-name")
	value(&o.user, "u", "user")
	value(&o.rangeSpec, "r", "range")
	value(&o.writeOut, "w", "write-out")
	fs.IntVar(&o.maxRedirs, "max-redirs", 50, "")
	fs.Var(&o.pipeline, "pipeline", "")
	fs.IntVar(&o.parallel, "parallel", 1, "")
	value(&o.resolve, "resolve")
	fs.StringVar(&o.cacert, "cacert", "", "")
	value(&o.proxy, "x", "proxy")
	value(durationFlag{&o.timeout}, "m", "max-time", "timeout")
	value(durationFlag{&o.connectTimeout}, "connect-timeout")
	for _, n := range []string{"A", "user-agent"} {
		fs.StringVar(&o.userAgent, n, "hop/1", "")
	}
	return fs
}

// expandShort rewrites curl's combined short flags into separate ones, for the flag
// package: "-sSfL" becomes "-s -S -f -L", and a flag that takes a value takes the rest
// of the word ("-XPUT", "-sLoout.txt") or else the next argument. Words that are
// flags of their own ("-json", "-timing"), values of the flag before them, words
// after "--" and words that do not start with a one-letter flag are left alone.
func expandShort(fs *flag.FlagSet, args []string) []string {
	isBool := func(f *flag.Flag) bool {
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		return ok && b.IsBoolFlag()
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			out = append(out, a)
			continue
		}
		name := a[1:]
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			name = name[:eq]
		}
		if f := fs.Lookup(name); f != nil {
			out = append(out, a)
			if !isBool(f) && !strings.Contains(a, "=") && i+1 < len(args) {
				i++
				out = append(out, args[i]) // the value, whatever it looks like
			}
			continue
		}
		// Combined one-letter flags: only when every letter up to the first one that
		// takes a value is a flag.
		var expanded []string
		ok := true
		takesNext := false
		for j := 1; j < len(a); j++ {
			f := fs.Lookup(a[j : j+1])
			if f == nil {
				ok = false
				break
			}
			if isBool(f) {
				expanded = append(expanded, "-"+a[j:j+1])
				continue
			}
			expanded = append(expanded, "-"+a[j:j+1])
			if rest := a[j+1:]; rest != "" {
				expanded = append(expanded, rest)
			} else {
				takesNext = true
			}
			break
		}
		if !ok {
			out = append(out, a)
			continue
		}
		out = append(out, expanded...)
		if takesNext && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

func getParseFlags(args []string, stderr io.Writer) (*getOptions, error) {
	o := &getOptions{}
	fs := getFlagSet(o)
	var err error
	if o.urls, err = parseInterspersed(fs, expandShort(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, getUsage)
		}
		return nil, err
	}
	if len(o.urls) == 0 {
		return nil, errors.New("no URL given")
	}
	if o.parallel < 1 || o.parallel > 1024 {
		return nil, errors.New("--parallel wants 1 to 1024")
	}
	if o.pipeline.depth > 0 && o.parallel > 1 {
		return nil, errors.New("--pipeline and --parallel cannot be combined")
	}
	if o.data.set && o.dataBinary.set {
		return nil, errors.New("give -d or --data-binary, not both")
	}
	if o.head && (o.data.set || o.dataBinary.set) {
		return nil, errors.New("-I (HEAD) and -d (POST) ask for two methods: give one")
	}
	if o.maxRedirs < 0 {
		return nil, errors.New("--max-redirs must not be negative")
	}
	if o.user.set && !strings.Contains(o.user.v, ":") {
		return nil, fmt.Errorf("-u %q: want user:password (hop does not prompt for a password)", o.user.v)
	}
	if o.rangeSpec.set {
		if o.rangeSpec.v == "" || strings.Trim(o.rangeSpec.v, "0123456789-,") != "" {
			return nil, fmt.Errorf("-r %q: want byte ranges such as 0-99, 100- or -500", o.rangeSpec.v)
		}
		if !strings.Contains(o.rangeSpec.v, "-") {
			o.rangeSpec.v += "-" // as curl: "-r 100" means from byte 100 on
		}
	}
	for _, h := range o.headers {
		name, _, ok := strings.Cut(h, ":")
		if !ok || !wire.IsToken(strings.TrimSpace(name)) {
			return nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
	}
	return o, nil
}

// getResolve parses --resolve host:port:addr[,addr...].
func getResolve(specs []string) (map[string][]netip.Addr, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	m := map[string][]netip.Addr{}
	for _, s := range specs {
		var host, rest string
		if strings.HasPrefix(s, "[") {
			rb := strings.Index(s, "]:")
			if rb < 0 {
				return nil, fmt.Errorf("--resolve %q: want HOST:PORT:ADDR", s)
			}
			host, rest = s[1:rb], s[rb+2:]
		} else {
			var ok bool
			if host, rest, ok = strings.Cut(s, ":"); !ok {
				return nil, fmt.Errorf("--resolve %q: want HOST:PORT:ADDR", s)
			}
		}
		port, addrs, ok := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(port); !ok || err != nil || n < 1 || n > 65535 || host == "" {
			return nil, fmt.Errorf("--resolve %q: want HOST:PORT:ADDR", s)
		}
		var list []netip.Addr
		for _, a := range strings.Split(addrs, ",") {
			a = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "["), "]")
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("--resolve %q: %q is not an IP address", s, a)
			}
			list = append(list, ip)
		}
		key := strings.ToLower(host) + ":" + port
		if strings.Contains(host, ":") {
			key = "[" + strings.ToLower(host) + "]:" + port
		}
		m[key] = append(m[key], list...)
	}
	return m, nil
}

// getter runs the requests of one "hop get".
type getter struct {
	o        *getOptions
	io       getIO
	cl       *client.Client
	data     []byte // -d DATA held in memory
	file     string // -d @FILE
	method   string
	writeOut []byte // -w, read from its file if it named one
	// setupErr says why setup failed.
	setupErr error
}

func runGet(ctx context.Context, args []string, gio getIO) int {
	o, err := getParseFlags(args, gio.stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(gio.stderr, "hop get: %v\n\n%s", err, getUsage)
		return 2
	}
	g := &getter{o: o, io: gio}
	if code := g.setup(); code != 0 {
		fmt.Fprintf(gio.stderr, "hop get: %v\n", g.setupErr)
		return code
	}
	defer g.cl.Close()
	return g.run(ctx)
}

// setup builds the client and reads the body data and the -w format; it returns an
// exit code.
func (g *getter) setup() int {
	o := g.o
	cl := &client.Client{ConnectTimeout: o.connectTimeout, Timeout: o.timeout, InsecureSkipVerify: o.insecure}
	if o.follow {
		cl.MaxRedirects = o.maxRedirs
	}
	if o.pipeline.depth > 0 {
		cl.MaxConnsPerHost = 1
	} else if o.parallel > 1 {
		cl.MaxConnsPerHost = o.parallel
	}
	var err error
	if cl.Resolve, err = getResolve(o.resolve); err != nil {
		return g.fail(err, 2)
	}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return g.fail(err, 2)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return g.fail(fmt.Errorf("--cacert %s: no PEM certificate", o.cacert), 2)
		}
		cl.TLSConfig = &tls.Config{RootCAs: pool}
	}
	switch {
	case o.proxy.set && o.proxy.v == "":
	case o.proxy.set:
		if cl.Proxy, err = client.FixedProxy(o.proxy.v); err != nil {
			return g.fail(err, 2)
		}
	default:
		if cl.Proxy, err = client.ProxyConfigFromEnvironment().ProxyFunc(); err != nil {
			return g.fail(fmt.Errorf("proxy environment: %w", err), 2)
		}
	}
	g.cl = cl
	if o.writeOut.set {
		switch w := o.writeOut.v; {
		case w == "@-":
			if g.writeOut, err = io.ReadAll(io.LimitReader(g.io.stdin, 1<<20)); err != nil {
				return g.fail(err, 2)
			}
		case strings.HasPrefix(w, "@"):
			if g.writeOut, err = os.ReadFile(w[1:]); err != nil {
				return g.fail(fmt.Errorf("-w: %w", err), 2)
			}
		default:
			g.writeOut = []byte(w)
		}
	}
	d := o.data
	if o.dataBinary.set {
		d = o.dataBinary
	}
	g.method = o.method
	if d.set {
		if g.method == "" {
			g.method = "POST"
		}
		switch {
		case d.v == "@-":
			if g.data, err = readData(g.io.stdin, "-d @-"); err != nil {
				return g.fail(err, dataErrCode(err))
			}
		case strings.HasPrefix(d.v, "@"):
			name := d.v[1:]
			st, err := os.Stat(name)
			if err != nil {
				return g.fail(err, 2)
			}
			if st.Mode().IsRegular() {
				g.file = name // streamed, with its size, and opened again for a retry
				break
			}
			// A pipe, a FIFO, /dev/stdin: its size says nothing and it cannot be read
			// twice, so it is read whole now, as from stdin.
			f, err := os.Open(name)
			if err != nil {
				return g.fail(err, 2)
			}
			g.data, err = readData(f, "-d @"+name)
			f.Close()
			if err != nil {
				return g.fail(err, dataErrCode(err))
			}
		default:
			g.data = []byte(d.v)
		}
		if g.data == nil && g.file == "" {
			g.data = []byte{}
		}
	}
	if g.method == "" {
		g.method = "GET"
		if o.head {
			g.method = "HEAD"
		}
	}
	return 0
}

// maxData bounds a request body read into memory (-d @- and -d @ a file that is not
// a regular file); a variable so that tests can lower it.
var maxData int64 = 1 << 30

// errDataTooLarge is what readData returns when the data does not fit in maxData.
var errDataTooLarge = errors.New("more data than hop get keeps in memory")

// readData reads a request body whole, failing when it is larger than maxData rather
// than sending it cut short.
func readData(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxData+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", what, err)
	case int64(len(b)) > maxData:
		return nil, fmt.Errorf("%s: %w (%d bytes); send a regular file with -d @FILE", what, errDataTooLarge, maxData)
	}
	return b, nil
}

// dataErrCode is the exit code of a readData failure: 2 for data too large (a usage
// error), 1 for a read error.
func dataErrCode(err error) int {
	if errors.Is(err, errDataTooLarge) {
		return 2
	}
	return 1
}

func (g *getter) fail(err error, code int) int {
	g.setupErr = err
	return code
}

// bodyFiles are the files a request's body was read from: the first one and every
// copy that GetBody opened for a retry or a 307/308 redirect. All are closed when the
// request is over.
type bodyFiles struct {
	mu    sync.Mutex
	files []*os.File
}

func (b *bodyFiles) open(name string) (*os.File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.files = append(b.files, f)
	b.mu.Unlock()
	return f, nil
}

// close closes every file opened so far; it may be called more than once.
func (b *bodyFiles) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.files {
		f.Close()
	}
	b.files = nil
}

// rawURL is the URL as hop get fetches it: "http://" is assumed without a scheme, as
// curl does.
func rawURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return "http://" + raw
	}
	return raw
}

// newRequest builds the request for one URL; files holds the body files it opens.
func (g *getter) newRequest(ctx context.Context, raw string, files *bodyFiles) (*client.Request, error) {
	o := g.o
	req := &client.Request{Method: g.method, Close: o.close, HTTP10: o.http10, Ctx: ctx}
	if err := req.SetURL(rawURL(raw)); err != nil {
		return nil, err
	}
	ua := o.userAgent
	for _, h := range o.headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if value == "" && strings.EqualFold(name, "User-Agent") {
			ua = ""
			continue
		}
		req.Header.Add(name, value)
	}
	if ua != "" && !req.Header.Has("User-Agent") {
		req.Header.Add("User-Agent", ua)
	}
	// Credentials: -u, else the URL's userinfo (as curl; the client strips them when
	// a redirect leaves the origin). A header given with -H wins.
	if !req.Header.Has("Authorization") {
		if o.user.set {
			req.Header.Add("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.user.v)))
		} else if u := req.URL.User; u != "" {
			req.Header.Add("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(userinfoCredential(u))))
		}
	}
	if o.rangeSpec.set && !req.Header.Has("Range") {
		req.Header.Add("Range", "bytes="+o.rangeSpec.v)
	}
	if o.compressed && !req.Header.Has("Accept-Encoding") {
		req.Header.Add("Accept-Encoding", acceptEncoding)
	}
	if g.data != nil || g.file != "" {
		if !req.Header.Has("Content-Type") {
			req.Header.Add("Content-Type", "application/x-www-form-urlencoded")
		}
		if g.file != "" {
			f, err := files.open(g.file)
			if err != nil {
				return nil, err
			}
			st, err := f.Stat()
			if err != nil {
				return nil, err
			}
			req.SetBodyStream(f, st.Size())
			name := g.file
			req.GetBody = func() (io.Reader, error) { return files.open(name) }
		} else {
			req.SetBody(g.data)
		}
	}
	return req, nil
}

// userinfoCredential is the user:password of a URL's userinfo, percent-decoded.
func userinfoCredential(userinfo string) string {
	if s, err := url.PathUnescape(userinfo); err == nil {
		return s
	}
	return userinfo
}
