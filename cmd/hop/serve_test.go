package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/internal/testpeer"
)

// startServe runs `hop serve args...` in-process on a free loopback port and returns
// its address and a stop function that ends it like SIGINT would and returns its exit
// code.
func startServe(t *testing.T, stdout, stderr io.Writer, args ...string) (string, func() int) {
	t.Helper()
	return startRun(t, "hop serve", runServe, stdout, stderr, args...)
}

// startRun runs a sub-command (runServe, runProxy) in-process with --addr
// 127.0.0.1:0 and args, and returns its address and a stop function that ends it like
// SIGINT would and returns its exit code.
func startRun(t *testing.T, name string, run func(context.Context, []string, io.Writer, io.Writer, func(string)) int,
	stdout, stderr io.Writer, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	codec := make(chan int, 1)
	args = append([]string{"--addr", "127.0.0.1:0"}, args...)
	go func() { codec <- run(ctx, args, stdout, stderr, func(a string) { addrc <- a }) }()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-codec:
		cancel()
		t.Fatalf("%s exited with %d before listening", name, code)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("%s did not start", name)
	}
	stopped := false
	code := -1
	stop := func() int {
		if stopped {
			return code
		}
		stopped = true
		cancel()
		select {
		case code = <-codec:
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop", name)
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--log-format", "xml"}, 2, "--log-format"},
		{[]string{"--tls-cert", "c.pem"}, 2, "go together"},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-self-signed"}, 2, "excludes"},
		{[]string{"--max-requests", "0"}, 2, "--max-requests"},
		{[]string{"--idle-timeout", "0s"}, 2, "--idle-timeout"},
		{[]string{"--bogus"}, 2, "not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--root", filepath.Join(dir, "missing")}, 1, "no such file"},
		{[]string{"--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, 1, "no such file"},
		{[]string{"--addr", "127.0.0.1:99999"}, 1, "invalid port"},
		{[]string{"--access-log", filepath.Join(dir, "no", "such", "dir", "log")}, 1, "no such file"},
	} {
		var stderr testnet.Buffer
		args := append([]string{"--root", dir}, tc.args...)
		code := runServe(context.Background(), args, io.Discard, &stderr, nil)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("hop serve %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code,
				stderr.String(), tc.code, tc.msg)
		}
	}
	var stderr testnet.Buffer
	if code := runServe(context.Background(), []string{"-h"}, io.Discard, &stderr, nil); code != 0 ||
		!strings.Contains(stderr.String(), "--tls-self-signed") {
		t.Errorf("hop serve -h: exit %d, %q", code, stderr.String())
	}
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>home</h1>\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	var stderr testnet.Buffer
	addr, stop := startServe(t, io.Discard, &stderr, "--root", dir, "--log-format", "json",
		"--cache-control", "max-age=5", "--no-listing", "--max-requests", "2")

	c := &http.Client{Timeout: 10 * time.Second}
	for i, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "<h1>home</h1>\n"},
		{"/a.txt", 200, "alpha\n"},
		{"/d/", 404, ""},
	} {
		resp, err := c.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
			t.Errorf("%d: GET %s = %d %q", i, tc.path, resp.StatusCode, b)
		}
		if tc.status == 200 && resp.Header.Get("Cache-Control") != "max-age=5" {
			t.Errorf("GET %s: Cache-Control %q", tc.path, resp.Header.Get("Cache-Control"))
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	out := stderr.String()
	wantStart := fmt.Sprintf("serving http://%s/ from %s\n", addr, dir)
	if !strings.HasPrefix(out, wantStart) {
		t.Errorf("stderr starts %q, want %q", out, wantStart)
	}
	// --max-requests 2: the three requests needed two connections.
	conns := map[float64]int{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		if rec["msg"] == "request" {
			conns[rec["conn"].(float64)]++
		}
	}
	if len(conns) != 2 {
		t.Errorf("requests per connection %v, want 3 requests on 2 connections:\n%s", conns, out)
	}
	if !strings.Contains(out, "hop serve: 3 requests on 2 connections") {
		t.Errorf("no summary line in:\n%s", out)
	}
}

func TestServeTLSSelfSigned(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha\n"), 0o644)
	var stderr testnet.Buffer
	addr, _ := startServe(t, io.Discard, &stderr, "--root", dir, "--tls-self-signed", "--access-log", "off")
	if !strings.HasPrefix(stderr.String(), "serving https://"+addr+"/") {
		t.Errorf("stderr %q", stderr.String())
	}
	var leafHosts []string
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // the certificate is checked by hand below
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf := cs.PeerCertificates[0]
			leafHosts = append(leafHosts, leaf.DNSNames...)
			return leaf.VerifyHostname("127.0.0.1")
		},
	}}}
	resp, err := c.Get("https://" + addr + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "alpha\n" || resp.TLS == nil {
		t.Errorf("body %q, TLS %v", b, resp.TLS != nil)
	}
	if strings.Join(leafHosts, ",") != "localhost" {
		t.Errorf("certificate names %v", leafHosts)
	}
	if strings.Contains(stderr.String(), "msg=request") {
		t.Error("--access-log off still logged requests")
	}
}

// TestServeHelperProcess is not a test: TestServeSignal runs the test binary as
// `hop serve` through it.
func TestServeHelperProcess(t *testing.T) {
	if os.Getenv("HOP_SERVE_HELPER") != "1" {
		return
	}
	os.Exit(cmdServe(strings.Split(os.Getenv("HOP_SERVE_ARGS"), "\n")))
}

// TestServeSignal runs hop serve as a process and stops it with SIGTERM.
func TestServeSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha\n"), 0o644)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServeHelperProcess$")
			cmd.Env = append(os.Environ(), "HOP_SERVE_HELPER=1",
				"HOP_SERVE_ARGS="+strings.Join([]string{"--addr", "127.0.0.1:0", "--root", dir}, "\n"))
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					select {
					case lines <- sc.Text():
					default:
					}
				}
				close(lines)
			}()
			re := regexp.MustCompile(`^serving http://(\S+)/ from `)
			var addr string
			for addr == "" {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatal("hop serve ended before listening")
					}
					if m := re.FindStringSubmatch(l); m != nil {
						addr = m[1]
					}
				case <-ctx.Done():
					t.Fatal("hop serve did not start")
				}
			}
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get("http://" + addr + "/a.txt")
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			cmd.Process.Signal(sig)
			var rest []string
			for l := range lines {
				rest = append(rest, l)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("hop serve after %v: %v\n%s", sig, err, strings.Join(rest, "\n"))
			}
			out := strings.Join(rest, "\n")
			if !strings.Contains(out, "shutting down") || !strings.Contains(out, "1 requests on 1 connections") {
				t.Errorf("stderr after the signal:\n%s", out)
			}
		})
	}
}

// TestServeChromium loads a page with 20 images from hop serve in headless Chromium and
// checks that every image arrived; the access log tells how many connections the
// browser opened for them.
func TestServeChromium(t *testing.T) {
	testpeer.Program(t, "chromium", "chromium-browser")
	const nImages = 20
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	testpeer.WriteImagePage(t, site, nImages)
	logFile := filepath.Join(dir, "access.log")
	var stderr testnet.Buffer
	addr, stop := startServe(t, io.Discard, &stderr, "--root", site, "--log-format", "json", "--access-log", logFile)
	dom := testpeer.Chromium(t, filepath.Join(dir, "profile"), "http://"+addr+"/")
	if got, want := testpeer.LoadedImages(dom), fmt.Sprintf("loaded %d/%d", nImages, nImages); got != want {
		t.Errorf("page reports %q, want %q", got, want)
	}
	stop()

	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	conns := map[float64]int{}
	images := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct {
			Conn   float64 `json:"conn"`
			Target string  `json:"target"`
			Status int     `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		conns[rec.Conn]++
		if strings.HasPrefix(rec.Target, "/img/") && rec.Status == 200 {
			images++
		}
	}
	if images != nImages {
		t.Errorf("access log shows %d images served with 200, want %d:\n%s", images, nImages, b)
	}
	t.Logf("Chromium fetched the page and %d images over %d connections (requests per connection: %v)",
		images, len(conns), conns)
}
