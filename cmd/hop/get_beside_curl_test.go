package main

// hop get beside the real curl: the same flags on the same URLs, served by nginx and
// by hop serve, over HTTP and HTTPS. Each runs in its own empty directory (curl as a
// process, hop get in-process); the test compares their exit codes, the files they wrote, what they
// printed on stdout, and their -w output (the non-time variables exactly, the times
// by curl's format). `go test -v -run BesideCurl ./cmd/hop` logs the comparison table.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testcert"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/internal/testpeer"
)

// besideWriteOut is the -w format both programs print for every case, on stderr so
// that stdout keeps the body or head.
var besideWriteOut = "%{stderr}" + strings.Join([]string{
	"http_code=%{http_code}", "response_code=%{response_code}", "exitcode=%{exitcode}",
	"num_connects=%{num_connects}", "num_redirects=%{num_redirects}", "num_headers=%{num_headers}",
	"size_download=%{size_download}", "size_header=%{size_header}", "size_request=%{size_request}",
	"size_upload=%{size_upload}", "remote_ip=%{remote_ip}", "remote_port=%{remote_port}", "local_ip=%{local_ip}",
	"url_effective=%{url_effective}", "url=%{url}", "urlnum=%{urlnum}", "content_type=%{content_type}",
	"scheme=%{scheme}", "http_version=%{http_version}", "method=%{method}",
	"filename_effective=%{filename_effective}", "redirect_url=%{redirect_url}", "http_connect=%{http_connect}",
	"time_namelookup=%{time_namelookup}", "time_connect=%{time_connect}", "time_appconnect=%{time_appconnect}",
	"time_pretransfer=%{time_pretransfer}", "time_starttransfer=%{time_starttransfer}",
	"time_redirect=%{time_redirect}", "time_total=%{time_total}", "speed_download=%{speed_download}",
}, "|") + `\n`

// besideSite is the document root both servers serve.
type besideSite struct {
	dir      string
	big, bin []byte
}

func makeBesideSite(t *testing.T) *besideSite {
	s := &besideSite{dir: t.TempDir()}
	var big strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&big, "line %d of a text that compresses well\n", i)
	}
	s.big = []byte(big.String())
	s.bin = make([]byte, 256<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range s.bin {
		s.bin[i] = byte(r.Uint32())
	}
	for name, data := range map[string][]byte{
		"a.txt": []byte("hello\n"), "big.txt": s.big, "rand.bin": s.bin,
		"dir/index.html": []byte("<p>the index</p>\n"),
	} {
		p := filepath.Join(s.dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// besideServers starts nginx and hop serve on the site, each over HTTP and HTTPS (the
// same self-signed certificate for 127.0.0.1); it returns their base URLs by name.
func besideServers(t *testing.T, site *besideSite) map[string]string {
	tc := testcert.New(t)
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	os.WriteFile(certFile, tc.CertPEM, 0o600)
	os.WriteFile(keyFile, tc.KeyPEM, 0o600)
	ng := testpeer.StartNginx(t, 2, func(dir string, addrs []string) string {
		return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    types { text/plain txt; text/html html; application/octet-stream bin; }
    gzip on;
    gzip_min_length 1000;
    gzip_types text/plain;
    server {
        listen %[2]s;
        listen %[3]s ssl;
        ssl_certificate %[4]s;
        ssl_certificate_key %[5]s;
        root %[6]s;
        location = /loop { return 302 /loop; }
        location = /auth {
            if ($http_authorization != "Basic dXNlcjpwdw==") { return 401 "who?\n"; }
            return 200 "welcome\n";
        }
    }
}
`, dir, addrs[0], addrs[1], certFile, keyFile, site.dir)
	})
	servers := map[string]string{
		"nginx http":  "http://" + ng.Addrs[0],
		"nginx https": "https://" + ng.Addrs[1],
	}
	for _, scheme := range []string{"http", "https"} {
		args := []string{"--root", site.dir, "--access-log", "off"}
		if scheme == "https" {
			args = append(args, "--tls-cert", certFile, "--tls-key", keyFile)
		}
		addr, stop := startServe(t, &testnet.Buffer{}, &testnet.Buffer{}, args...)
		t.Cleanup(func() { stop() })
		servers["hop serve "+scheme] = scheme + "://" + addr
	}
	return servers
}

// besideRun is what one program did.
type besideRun struct {
	code           int
	stdout, stderr string
	files          map[string][]byte
}

// runHopBeside runs hop get in-process, in a new empty working directory, and
// collects what it wrote there. (In-process keeps the table quick under -race, where
// every start of the test binary costs most of a second; TestMainProcess and
// TestGetProgressBesideCurl run hop as a process.)
func runHopBeside(t *testing.T, args ...string) besideRun {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := besideRun{files: map[string][]byte{}}
	r.code = runGet(ctx, args, getIO{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr})
	r.stdout, r.stderr = stdout.String(), stderr.String()
	collectFiles(dir, r.files)
	return r
}

// collectFiles reads every regular file under dir into files, by relative path.
func collectFiles(dir string, files map[string][]byte) {
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files[rel], _ = os.ReadFile(p)
		}
		return nil
	})
}

// runBeside runs prog args in a new empty directory, without proxies from the
// environment, and collects what it wrote there.
func runBeside(t *testing.T, prog []string, env []string, args ...string) besideRun {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog[0], append(prog[1:], args...)...)
	cmd.Dir = dir
	cmd.Env = append(besideEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := besideRun{stdout: stdout.String(), stderr: stderr.String(), files: map[string][]byte{}}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", prog[0], err)
	}
	collectFiles(dir, r.files)
	return r
}

// besideEnv is the environment without proxy settings (both programs honour them).
func besideEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy":
			continue
		}
		env = append(env, kv)
	}
	return env
}

var (
	dateLine   = regexp.MustCompile(`(?m)^Date: [^\r\n]*`)
	curlTime   = regexp.MustCompile(`^\d+\.\d{6}$`)
	besideVars = regexp.MustCompile(`(?m)^http_code=.*$`)
)

// parseWriteOut splits the -w lines of stderr into name → value maps, one per URL.
func parseWriteOut(stderr string) []map[string]string {
	var out []map[string]string
	for _, line := range besideVars.FindAllString(stderr, -1) {
		m := map[string]string{}
		for _, kv := range strings.Split(line, "|") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}

// compareWriteOut compares curl's and hop's -w variables: times by format and by
// whether they are zero, speed by format, the rest exactly except those in skip.
func compareWriteOut(curl, hop map[string]string, skip []string) []string {
	var diffs []string
	for k, cv := range curl {
		hv, ok := hop[k]
		switch {
		case !ok:
			diffs = append(diffs, k+" missing")
		case slices.Contains(skip, k):
		case strings.HasPrefix(k, "time_"):
			if !curlTime.MatchString(hv) {
				diffs = append(diffs, fmt.Sprintf("%s=%q is not curl's format", k, hv))
			}
			if (cv == "0.000000") != (hv == "0.000000") {
				diffs = append(diffs, fmt.Sprintf("%s: curl %s, hop %s", k, cv, hv))
			}
		case k == "speed_download":
			if !regexp.MustCompile(`^\d+$`).MatchString(hv) {
				diffs = append(diffs, fmt.Sprintf("%s=%q", k, hv))
			}
		case cv != hv:
			diffs = append(diffs, fmt.Sprintf("%s: curl %q, hop %q", k, cv, hv))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// besideCase is one command line, run by both programs on every server it applies to.
type besideCase struct {
	name string
	args func(base string) []string
	// only limits the case to nginx ("nginx") or to one scheme ("http", "https").
	only string
	// randomBody: the body differs between responses (a multipart boundary): files
	// are compared by size.
	randomBody bool
	// skipVars are -w variables that legitimately differ (see the case).
	skipVars []string
	// hopArgs are added to hop's command line only.
	hopArgs []string
}

func TestGetBesideCurl(t *testing.T) {
	curl := testpeer.Program(t, "curl")
	site := makeBesideSite(t)
	servers := besideServers(t, site)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	u := func(path string) func(string) []string {
		return func(base string) []string { return []string{base + path} }
	}
	with := func(args []string, path string) func(string) []string {
		return func(base string) []string { return append(slices.Clone(args), base+path) }
	}
	cases := []besideCase{
		{name: "GET -o", args: with([]string{"-o", "out"}, "/a.txt")},
		{name: "-O", args: with([]string{"-O"}, "/rand.bin")},
		{name: "-O without a name", args: with([]string{"-O"}, "/")},
		{name: "-o, 404", args: with([]string{"-o", "out"}, "/missing")},
		{name: "-f, 404", args: with([]string{"-f", "-o", "out"}, "/missing")},
		{name: "-f, 200", args: with([]string{"-f", "-o", "out"}, "/a.txt")},
		{name: "-I", args: u("/big.txt")},
		{name: "-I -f, 404", args: with([]string{"-I", "-f"}, "/missing")},
		{name: "-i", args: with([]string{"-i", "-o", "out"}, "/a.txt")},
		{name: "-r 0-99", args: with([]string{"-r", "0-99", "-o", "out"}, "/rand.bin")},
		{name: "-r 100 (from 100 on)", args: with([]string{"-r", "100", "-o", "out"}, "/rand.bin")},
		{name: "-r -50,0-9 (two ranges)", args: with([]string{"-r", "-50,0-9", "-o", "out"}, "/big.txt"),
			// the multipart boundary is random (its length is not, the content type names it)
			skipVars: []string{"content_type"}, randomBody: true},
		{name: "-i -f, 404", args: with([]string{"-i", "-f", "-o", "out"}, "/missing")},
		{name: "-u", args: with([]string{"-u", "user:pw", "-o", "out"}, "/a.txt")},
		{name: "--compressed", args: with([]string{"--compressed", "-o", "out"}, "/big.txt"),
			// curl also offers br: the request is longer, and a server may choose differently
			skipVars: []string{"size_request", "size_download", "size_header", "num_headers"}},
		{name: "-L, directory redirect", args: with([]string{"-L", "-o", "out"}, "/dir")},
		{name: "no -L, directory redirect", args: with([]string{"-o", "out"}, "/dir")},
		{name: "-i -L, every head of the chain", args: with([]string{"-i", "-L", "-o", "out"}, "/dir")},
		{name: "-d (POST to a file)", args: with([]string{"-d", "x=1", "-o", "out"}, "/a.txt")},
		{name: "two URLs, -o each", args: func(base string) []string {
			return []string{"-o", "one", base + "/a.txt", "-o", "two", base + "/big.txt"}
		}},
		{name: "-o into a missing directory", args: with([]string{"-o", "no/such/dir/out"}, "/a.txt")},
		{name: "connection refused", args: func(base string) []string {
			scheme, _, _ := strings.Cut(base, "://")
			return []string{scheme + "://" + dead + "/"}
		}},
		{name: "-L, too many redirects", args: with([]string{"-L", "--max-redirs", "3", "-o", "out"}, "/loop"), only: "nginx",
			// curl reads the last redirect's body before giving up, hop's client does not
			skipVars: []string{"size_download"}},
		{name: "-u, checked by the server", args: with([]string{"-u", "user:pw"}, "/auth"), only: "nginx"},
		{name: "no -u, checked by the server", args: u("/auth"), only: "nginx"},
		// hop's trace tells no local address for a connection whose handshake failed
		{name: "HTTPS without -k (self-signed)", args: u("/a.txt"), only: "https", skipVars: []string{"local_ip"}},
		{name: "HTTPS to a plain port", args: func(base string) []string {
			return []string{"https://" + strings.TrimPrefix(base, "http://") + "/a.txt"}
		}, only: "http", skipVars: []string{"local_ip"}},
	}
	var table []string
	for _, server := range []string{"nginx http", "nginx https", "hop serve http", "hop serve https"} {
		base := servers[server]
		for _, c := range cases {
			if c.only == "nginx" && !strings.HasPrefix(server, "nginx") ||
				(c.only == "http" || c.only == "https") && !strings.HasSuffix(server, " "+c.only) {
				continue
			}
			args := append([]string{"-s", "-A", "hop-beside-curl/1", "-w", besideWriteOut}, c.args(base)...)
			if strings.HasPrefix(base, "https") && c.name != "HTTPS without -k (self-signed)" {
				args = append([]string{"-k"}, args...)
			}
			cr := runBeside(t, append([]string{curl, "-q"}, args...), nil)
			// Accept: */* as curl sends, so that the requests have the same size.
			hr := runHopBeside(t, append([]string{"-H", "Accept: */*"}, args...)...)
			var diffs []string
			if cr.code != hr.code {
				diffs = append(diffs, fmt.Sprintf("exit: curl %d, hop %d", cr.code, hr.code))
			}
			files := sortedKeys(cr.files)
			if fmt.Sprint(files) != fmt.Sprint(sortedKeys(hr.files)) {
				diffs = append(diffs, fmt.Sprintf("files: curl %v, hop %v", files, sortedKeys(hr.files)))
			}
			for name, data := range cr.files {
				h, ok := hr.files[name]
				if ok && c.randomBody && len(h) != len(data) {
					diffs = append(diffs, fmt.Sprintf("file %s: curl %d bytes, hop %d bytes", name, len(data), len(h)))
				}
				if ok && !c.randomBody && dateLine.ReplaceAllString(string(h), "Date: -") != dateLine.ReplaceAllString(string(data), "Date: -") {
					diffs = append(diffs, fmt.Sprintf("file %s: curl %d bytes, hop %d bytes differ", name, len(data), len(h)))
				}
			}
			if dateLine.ReplaceAllString(cr.stdout, "Date: -") != dateLine.ReplaceAllString(hr.stdout, "Date: -") {
				diffs = append(diffs, fmt.Sprintf("stdout: curl %q, hop %q", clip(cr.stdout), clip(hr.stdout)))
			}
			cw, hw := parseWriteOut(cr.stderr), parseWriteOut(hr.stderr)
			if len(cw) != len(hw) || len(cw) == 0 && cr.code == 0 {
				diffs = append(diffs, fmt.Sprintf("-w lines: curl %d, hop %d\ncurl stderr %q\nhop stderr %q", len(cw), len(hw), cr.stderr, hr.stderr))
			} else {
				for i := range cw {
					diffs = append(diffs, compareWriteOut(cw[i], hw[i], c.skipVars)...)
				}
			}
			if c.name == "--compressed" && cr.code == 0 {
				if !bytes.Equal(hr.files["out"], site.big) {
					diffs = append(diffs, "--compressed: hop's file is not the original text")
				}
			}
			verdict := "same"
			if len(diffs) > 0 {
				verdict = "DIFFERS"
				t.Errorf("%s, %s: hop get %q\n  %s", server, c.name, args, strings.Join(diffs, "\n  "))
			}
			shown := "-"
			if len(cw) > 0 {
				shown = cw[0]["http_code"]
			}
			table = append(table, fmt.Sprintf("| %s | %s | %d / %d | %s | %s | %s |", c.name, server, cr.code, hr.code,
				shown, fileSummary(cr.files), verdict))
		}
	}
	t.Logf("hop get beside curl (%s), -w compared on %d variables:\n| case | server | exit curl / hop | http_code | files | -w, files, stdout |\n|---|---|---|---|---|---|\n%s",
		curlVersion(curl), strings.Count(besideWriteOut, "%{")-1, strings.Join(table, "\n"))
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func fileSummary(files map[string][]byte) string {
	if len(files) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(files) {
		parts = append(parts, fmt.Sprintf("%s (%d B)", k, len(files[k])))
	}
	return strings.Join(parts, ", ")
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func curlVersion(curl string) string {
	out, _ := exec.Command(curl, "--version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(line)
	if len(f) > 1 {
		return f[0] + " " + f[1]
	}
	return "curl"
}

// TestGetProgressBesideCurl runs both programs under script(1), so that their stderr
// (and stdout) is a terminal: the meter appears when the body goes to a file, and
// never with -s, nor when the body goes to the terminal. With stderr redirected to a
// file, hop shows no meter (curl still does: hop's rule is stricter, as scripts read
// stderr).
func TestGetProgressBesideCurl(t *testing.T) {
	curl := testpeer.Program(t, "curl")
	script := testpeer.Program(t, "script")
	site := makeBesideSite(t)
	addr, stop := startServe(t, &testnet.Buffer{}, &testnet.Buffer{}, "--root", site.dir, "--access-log", "off")
	t.Cleanup(func() { stop() })
	url := "http://" + addr + "/rand.bin"
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	hop := "HOP_TEST_MAIN=1 " + quote(os.Args[0]) + " get"
	const header = "% Total    % Received % Xferd"
	for _, tt := range []struct {
		name      string
		args      string // after the program, in a shell command line
		meter     bool   // a meter on the terminal
		errMeter  bool   // hop: a meter in the 2> file (curl: see errCurl)
		errCurl   bool
		wantFile  bool
		stdoutBin bool
	}{
		{"-o FILE", "-o out " + url, true, false, false, true, false},
		{"-s -o FILE", "-s -o out " + url, false, false, false, true, false},
		{"-sS -o FILE", "-sS -o out " + url, false, false, false, true, false},
		{"stdout redirected to a file", url + " > out", true, false, false, true, false},
		{"body to the terminal", "http://" + addr + "/a.txt", false, false, false, false, true},
		{"-o FILE, stderr to a file", "-o out " + url + " 2> err", false, false, true, true, false},
	} {
		for _, prog := range []struct{ name, cmd string }{{"curl", quote(curl) + " -q"}, {"hop", hop}} {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cmd := exec.CommandContext(ctx, script, "-qefc", prog.cmd+" "+tt.args, "/dev/null")
			cmd.Dir = dir
			cmd.Env = besideEnv()
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				t.Errorf("%s, %s: %v\n%s", prog.name, tt.name, err, out)
				continue
			}
			term := string(out)
			if has := strings.Contains(term, header); has != tt.meter {
				t.Errorf("%s, %s: meter on the terminal %v, want %v:\n%q", prog.name, tt.name, has, tt.meter, term)
			}
			if tt.meter && !regexp.MustCompile(`\r100  256k  100  256k    0     0 `).MatchString(term) {
				t.Errorf("%s, %s: no final line for 256k:\n%q", prog.name, tt.name, term)
			}
			errFile, _ := os.ReadFile(filepath.Join(dir, "err"))
			wantErr := tt.errMeter
			if prog.name == "curl" {
				wantErr = tt.errCurl
			}
			if has := strings.Contains(string(errFile), header); has != wantErr {
				t.Errorf("%s, %s: meter in the stderr file %v, want %v", prog.name, tt.name, has, wantErr)
			}
			body, _ := os.ReadFile(filepath.Join(dir, "out"))
			if tt.wantFile && !bytes.Equal(body, site.bin) {
				t.Errorf("%s, %s: file has %d bytes, want the 256 KiB body", prog.name, tt.name, len(body))
			}
			if tt.stdoutBin && !strings.Contains(term, "hello") {
				t.Errorf("%s, %s: the body is not on the terminal: %q", prog.name, tt.name, term)
			}
		}
	}
	// Not a terminal at all: never a meter.
	r := runBeside(t, []string{os.Args[0], "get"}, []string{"HOP_TEST_MAIN=1"}, "-o", "out", url)
	if r.code != 0 || strings.Contains(r.stderr, header) || len(r.files["out"]) != len(site.bin) {
		t.Errorf("without a terminal: exit %d, stderr %q, %d bytes", r.code, r.stderr, len(r.files["out"]))
	}
}

// TestGetBesideCurlFailures compares the exit codes (and -w's http_code and
// size_download) of curl and hop get on a server that misbehaves on purpose. Where
// hop is deliberately stricter than curl (a field name with a space, differing
// Content-Length values: DESIGN.md's strictness policy), the test asserts hop's code
// and logs curl's.
func TestGetBesideCurlFailures(t *testing.T) {
	curl := testpeer.Program(t, "curl")
	raw := misbehavingServer(t)
	base := "http://" + raw
	var table []string
	for _, tt := range []struct {
		name, path string
		args       []string
		code       int // both
		hopStrict  int // when hop is stricter: hop's code (curl's is logged)
	}{
		{"empty reply", "/empty", nil, 52, 0},
		{"body shorter than Content-Length", "/trunc", nil, 18, 0},
		{"not an HTTP/1.x status line", "/weird", nil, 1, 0},
		{"reset during the body", "/reset", nil, 56, 0},
		{"unknown coding, --compressed", "/coding", []string{"--compressed"}, 61, 0},
		{"unknown coding, without --compressed", "/coding", nil, 0, 0},
		{"gzip that is not, --compressed", "/badgzip", []string{"--compressed"}, 61, 0},
		{"malformed chunk size", "/badchunk", nil, 56, 0},
		{"invalid Content-Length", "/badlength", nil, 8, 0},
		{"-m 0.5 on a slow server", "/slow", []string{"-m", "0.5"}, 28, 0},
		{"space in a field name", "/spacefield", nil, -1, 8},
		{"two different Content-Length", "/twolengths", nil, -1, 8},
	} {
		args := append(append([]string{"-s", "-o", "out", "-w", "%{stderr}http_code=%{http_code}|size_download=%{size_download}\\n"},
			tt.args...), base+tt.path)
		cr := runBeside(t, []string{curl, "-q"}, nil, args...)
		hr := runHopBeside(t, args...)
		want := tt.code
		if tt.hopStrict != 0 {
			want = tt.hopStrict
		} else if cr.code != tt.code {
			t.Errorf("%s: curl exits %d, the test expects %d", tt.name, cr.code, tt.code)
		}
		if hr.code != want {
			t.Errorf("%s: hop get %q exits %d, want %d (curl %d)", tt.name, args, hr.code, want, cr.code)
		}
		cw, hw := parseWriteOut(cr.stderr), parseWriteOut(hr.stderr)
		same := "same"
		if len(cw) != 1 || len(hw) != 1 {
			t.Errorf("%s: -w lines curl %q, hop %q", tt.name, cr.stderr, hr.stderr)
		} else if tt.hopStrict == 0 && (cw[0]["size_download"] != hw[0]["size_download"] || cw[0]["http_code"] != hw[0]["http_code"]) {
			if tt.path == "/badlength" {
				same = fmt.Sprintf("http_code curl %s, hop %s", cw[0]["http_code"], hw[0]["http_code"])
			} else {
				t.Errorf("%s: curl %v, hop %v", tt.name, cw[0], hw[0])
			}
		}
		if tt.hopStrict != 0 {
			same = "hop stricter (DESIGN.md)"
		}
		if fmt.Sprint(sortedKeys(cr.files)) != fmt.Sprint(sortedKeys(hr.files)) && tt.hopStrict == 0 {
			t.Errorf("%s: files curl %v, hop %v", tt.name, sortedKeys(cr.files), sortedKeys(hr.files))
		}
		table = append(table, fmt.Sprintf("| %s | %s | %d / %d | %s | %s |", tt.name, strings.Join(tt.args, " "),
			cr.code, hr.code, fileSummary(hr.files), same))
	}
	t.Logf("misbehaving server, curl beside hop get:\n| case | flags | exit curl / hop | files (hop) | -w http_code, size_download |\n|---|---|---|---|---|\n%s",
		strings.Join(table, "\n"))
}
