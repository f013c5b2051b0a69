package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// curlTrace is what `curl -v` reported on stderr, in counts.
type curlTrace struct {
	connected int      // "* Connected to": new TCP connections
	reused    int      // "* Re-using existing connection"
	closed    int      // "* Closing connection": curl closed after a response
	statuses  []string // "< HTTP/1.1 200 OK" lines, in order
	headers   []string // every "< Name: value" response line, in order
}

func parseCurlTrace(stderr string) curlTrace {
	var tr curlTrace
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "* Connected to "):
			tr.connected++
		case strings.HasPrefix(line, "* Re-using existing connection"):
			tr.reused++
		case strings.HasPrefix(line, "* Closing connection"):
			tr.closed++
		case strings.HasPrefix(line, "< HTTP/"):
			tr.statuses = append(tr.statuses, strings.TrimPrefix(line, "< "))
		case strings.HasPrefix(line, "< ") && strings.Contains(line, ":"):
			tr.headers = append(tr.headers, strings.TrimPrefix(line, "< "))
		}
	}
	return tr
}

// count returns how many response header lines start with prefix (case-insensitive
// name match: prefix is compared with the line lowercased).
func (tr curlTrace) count(prefix string) int {
	n := 0
	for _, h := range tr.headers {
		if strings.HasPrefix(strings.ToLower(h), strings.ToLower(prefix)) {
			n++
		}
	}
	return n
}

// TestCurl drives the server with curl: several URLs in one invocation, HTTP/1.0 with
// and without keep-alive, Connection: close, HEAD, and a rejected POST with a body,
// checking bodies and how curl saw the connections being kept or closed.
func TestCurl(t *testing.T) {
	curl := peer(t, "curl")
	keepAliveRe := regexp.MustCompile(`(?i)^keep-alive: timeout=(\d+), max=(\d+)$`)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startPlaintext(t, m.adapter)
			u := s.url
			run := func(args ...string) (string, curlTrace) {
				t.Helper()
				base := []string{"-sS", "-v", "--noproxy", "*", "--max-time", "30"}
				r := mustRunPeer(t, t.TempDir(), curl, append(base, args...)...)
				return r.stdout, parseCurlTrace(r.stderr)
			}
			wantTrace := func(tr curlTrace, connected, reused int, statuses ...string) {
				t.Helper()
				if tr.connected != connected || tr.reused != reused {
					t.Errorf("curl opened %d connections and reused %d times, want %d and %d",
						tr.connected, tr.reused, connected, reused)
				}
				if strings.Join(tr.statuses, "|") != strings.Join(statuses, "|") {
					t.Errorf("status lines %q, want %q", tr.statuses, statuses)
				}
			}

			t.Run("several URLs reuse one connection", func(t *testing.T) {
				out, tr := run(u+"/", u+"/a", u+"/b?x=1", u+"/c/d")
				if want := strings.Repeat(hello, 4); out != want {
					t.Errorf("bodies %q, want %q", out, want)
				}
				wantTrace(tr, 1, 3, "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK")
				if tr.closed != 0 {
					t.Errorf("curl closed the connection %d times, want 0", tr.closed)
				}
				for _, want := range []string{"content-length: 13", "content-type: text/plain", "server: hop", "date: "} {
					if n := tr.count(want); n != 4 {
						t.Errorf("%d responses with %q, want 4", n, want)
					}
				}
				if n := tr.count("connection:"); n != 0 {
					t.Errorf("%d HTTP/1.1 keep-alive responses carry a Connection field, want 0", n)
				}
			})

			t.Run("HTTP/1.0 closes", func(t *testing.T) {
				out, tr := run("--http1.0", u+"/", u+"/again")
				if want := hello + hello; out != want {
					t.Errorf("bodies %q, want %q", out, want)
				}
				wantTrace(tr, 2, 0, "HTTP/1.1 200 OK", "HTTP/1.1 200 OK")
				if n := tr.count("connection: close"); n != 2 {
					t.Errorf("%d responses with Connection: close, want 2", n)
				}
				if tr.closed != 2 {
					t.Errorf("curl closed %d connections after the responses, want 2", tr.closed)
				}
			})

			t.Run("HTTP/1.0 keep-alive reuses", func(t *testing.T) {
				out, tr := run("--http1.0", "-H", "Connection: keep-alive", u+"/", u+"/again")
				if want := hello + hello; out != want {
					t.Errorf("bodies %q, want %q", out, want)
				}
				wantTrace(tr, 1, 1, "HTTP/1.1 200 OK", "HTTP/1.1 200 OK")
				if n := tr.count("connection: keep-alive"); n != 2 {
					t.Errorf("%d responses with Connection: keep-alive, want 2", n)
				}
				var max []int
				for _, h := range tr.headers {
					if m := keepAliveRe.FindStringSubmatch(h); m != nil {
						n, err := strconv.Atoi(m[2])
						if err != nil {
							t.Fatal(err)
						}
						max = append(max, n)
					}
				}
				if len(max) != 2 {
					t.Fatalf("Keep-Alive: timeout=N, max=M in %d responses, want 2; headers %q", len(max), tr.headers)
				}
				if max[1] >= max[0] {
					t.Errorf("Keep-Alive max went %d then %d on one connection, want it to decrease", max[0], max[1])
				}
				if tr.closed != 0 {
					t.Errorf("curl closed the connection %d times, want 0", tr.closed)
				}
			})

			t.Run("Connection close", func(t *testing.T) {
				out, tr := run("-H", "Connection: close", u+"/", u+"/again")
				if want := hello + hello; out != want {
					t.Errorf("bodies %q, want %q", out, want)
				}
				wantTrace(tr, 2, 0, "HTTP/1.1 200 OK", "HTTP/1.1 200 OK")
				if n := tr.count("connection: close"); n != 2 {
					t.Errorf("%d responses with Connection: close, want 2", n)
				}
			})

			t.Run("HEAD then GET on one connection", func(t *testing.T) {
				out, tr := run("-I", u+"/", "--next", "-sS", "-v", "--noproxy", "*", "--max-time", "30", u+"/after-head")
				head, body, ok := strings.Cut(out, "\r\n\r\n")
				if !ok {
					t.Fatalf("curl -I printed no complete head:\n%s", out)
				}
				if body != hello {
					t.Errorf("after HEAD, GET body %q, want %q (a body sent for HEAD would corrupt it)", body, hello)
				}
				lower := strings.ToLower(head)
				for _, want := range []string{"http/1.1 200 ok\r\n", "\r\ncontent-length: 13\r\n", "\r\ncontent-type: text/plain\r\n", "\r\nserver: hop\r\n", "\r\ndate: "} {
					if !strings.Contains(lower+"\r\n", want) {
						t.Errorf("HEAD response head lacks %q:\n%s", want, head)
					}
				}
				wantTrace(tr, 1, 1, "HTTP/1.1 200 OK", "HTTP/1.1 200 OK")
			})

			t.Run("POST with body then GET on one connection", func(t *testing.T) {
				out, tr := run("--data-binary", strings.Repeat("x", 3000), u+"/form",
					"--next", "-sS", "-v", "--noproxy", "*", "--max-time", "30", u+"/after-post")
				if out != hello {
					t.Errorf("bodies %q, want only the GET's %q", out, hello)
				}
				wantTrace(tr, 1, 1, "HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 200 OK")
				if n := tr.count("allow: get, head"); n != 1 {
					t.Errorf("%d responses with Allow: GET, HEAD, want 1", n)
				}
			})
		})
	}
}
