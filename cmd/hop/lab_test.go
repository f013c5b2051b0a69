//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hop-http/hop/internal/testpeer"
	"github.com/hop-http/hop/lab"
	"github.com/hop-http/hop/lab/netlab"
)

func labRun(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := runLab(ctx, args, &stdout, &stderr, nil)
	return code, stdout.String(), stderr.String()
}

func TestLabList(t *testing.T) {
	code, out, _ := labRun("list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range []string{"url", "handshake", "slow-start", "nagle", "time-wait", "page", "half-close",
		"dumb-proxy", "pipeline-hol", "loss", "link"} {
		if !strings.Contains(out, "\n"+name+" ") && !strings.HasPrefix(out, name+" ") {
			t.Errorf("list lacks %s:\n%s", name, out)
		}
	}
}

func TestLabUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "usage: hop lab"},
		{[]string{"nope"}, `unknown sub-command "nope"`},
		{[]string{"run"}, "name one experiment or all"},
		{[]string{"run", "url", "page"}, "name one experiment or all"},
		{[]string{"run", "nope"}, `no experiment "nope"`},
		{[]string{"run", "url", "--loss", "150%"}, "--loss"},
		{[]string{"run", "url", "--loss", "x"}, "--loss"},
		{[]string{"run", "url", "--rate", "fast"}, "--rate"},
		{[]string{"run", "url", "--rtt", "-5ms"}, "must not be negative"},
		{[]string{"run", "url", "--rtt", "10ms", "--jitter", "20ms"}, "--jitter"},
		{[]string{"run", "url", "--rtt", "50"}, "at most 10s (a plain number is seconds)"},
		{[]string{"run", "url", "--rtt", "11s"}, "at most 10s"},
		{[]string{"run", "url", "--loss", "60%"}, "at most 50%"},
		{[]string{"list", "extra"}, "no arguments"},
	} {
		code, _, stderr := labRun(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("hop lab %q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}

// A flag given as 0 asks for none (lab.Options' negative value); a flag not given
// leaves the experiment's default (zero).
func TestLabFlagsToOptions(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		rtt, jitter time.Duration
		loss        float64
		rate        int64
	}{
		{nil, 0, 0, 0, 0},
		{[]string{"--rtt", "0", "--loss", "0", "--rate", "0"}, -1, 0, -1, -1},
		{[]string{"--rtt", "20ms", "--jitter", "4ms", "--loss", "1%", "--rate", "10mbit"}, 20 * time.Millisecond, 4 * time.Millisecond, 0.01, 10e6},
		{[]string{"--rtt", "0.5"}, 500 * time.Millisecond, 0, 0, 0},
	} {
		f, _, err := parseLabFlags(tc.args, io.Discard)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if o := f.opt; o.RTT != tc.rtt || o.Jitter != tc.jitter || o.Loss != tc.loss || o.Rate != tc.rate {
			t.Errorf("%q: options %+v, want rtt %v jitter %v loss %v rate %v", tc.args, o, tc.rtt, tc.jitter, tc.loss, tc.rate)
		}
	}
}

// Without root the command says so in one line and exits 2. As root the test runs the
// command as nobody.
func TestLabWithoutRoot(t *testing.T) {
	// A copy of this test binary that nobody may run (t.TempDir's parent is private).
	dir, err := os.MkdirTemp("", "hoplab-noroot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hop.test")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "lab", "run", "url")
	cmd.Env = append(os.Environ(), "HOP_TEST_MAIN=1")
	cmd.Dir = dir
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2; stderr %q", err, stderr.String())
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "needs root") {
		t.Errorf("stderr %q, want one line saying root is needed", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_NET_RAW") {
		t.Errorf("stderr %q does not name the capabilities the check needs", stderr.String())
	}
}

func needLabRoot(t *testing.T) {
	t.Helper()
	if err := lab.Privileged(); err != nil {
		testpeer.Skip(t, "%v", err)
	}
}

func TestLabRunOutputs(t *testing.T) {
	needLabRoot(t)
	dir := t.TempDir()
	pcap, html := filepath.Join(dir, "lab.pcapng"), filepath.Join(dir, "lab.html")
	code, out, stderr := labRun("run", "handshake", "--rtt", "10ms", "--short", "--json", "--pcap", pcap, "--html", html)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Experiment string `json:"experiment"`
		Params     struct {
			RTT  float64 `json:"rtt_ms"`
			Loss float64 `json:"loss_pct"`
			Rate int64   `json:"rate_bps"`
		} `json:"params"`
		Measured  map[string]float64 `json:"measured"`
		Predicted map[string]float64 `json:"predicted"`
		Verdict   string             `json:"verdict"`
		Note      string             `json:"note"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if r.Experiment != "handshake" || r.Params.RTT != 10 || r.Measured["new_minus_reused_ms"] == 0 || r.Predicted["new_minus_reused_ms"] != 10 {
		t.Errorf("JSON %+v", r)
	}
	checkLabPcap(t, pcap, 10*time.Millisecond)
	b, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(b, []byte(`<svg class="seq"`)) {
		t.Errorf("html: %v, %d bytes", err, len(b))
	}

	// Text: the table, the verdict and the timeline with its phases.
	code, out, stderr = labRun("run", "handshake", "--rtt", "10ms", "--short", "--timeline", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"== handshake:", "RTT 10 ms", "measured", "predicted", "verdict:", "SYN,ACK", "handshake 10.", "more rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

// checkLabPcap reads back the pcapng of a handshake run: packets at the client's end
// (every one from or to the client), SYN and SYN/ACK among them one RTT apart (at the
// web host's end they would be a few microseconds apart).
func checkLabPcap(t *testing.T, path string, rtt time.Duration) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("pcap: %v", err)
	}
	client := net.IPv4(192, 0, 2, 10)
	var n int
	var syn, synAck time.Time
	for {
		data, ci, err := rd.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("pcap packet %d: %v", n+1, err)
		}
		n++
		pkt := gopacket.NewPacket(data, layers.LayerTypeIPv4, gopacket.NoCopy)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil || !ip.SrcIP.Equal(client) && !ip.DstIP.Equal(client) {
			t.Fatalf("pcap packet %d is not the client's: %v", n, pkt)
		}
		if tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); tcp != nil && tcp.SYN {
			switch {
			case !tcp.ACK && syn.IsZero():
				syn = ci.Timestamp
			case tcp.ACK && synAck.IsZero() && !syn.IsZero():
				synAck = ci.Timestamp
			}
		}
	}
	if n < 50 {
		t.Errorf("pcap: %d packets for ten requests", n)
	}
	if syn.IsZero() || synAck.IsZero() {
		t.Fatalf("pcap: no SYN and SYN/ACK in %d packets", n)
	}
	if gap := synAck.Sub(syn); gap < rtt*97/100 || gap > rtt+5*time.Millisecond {
		t.Errorf("pcap: SYN → SYN/ACK %v, want one RTT (%v) at the client's end", gap, rtt)
	}
}

// An output file that cannot be made is told before any experiment runs (a usage
// error), and nothing is left behind.
func TestLabOutputsCheckedFirst(t *testing.T) {
	needLabRoot(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--pcap", filepath.Join(dir, "no", "such", "x.pcapng")},
		{"--html", filepath.Join(dir, "no", "such", "x.html")},
		{"--pcap", filepath.Join(dir, "ok.pcapng"), "--html", filepath.Join(dir, "no", "x.html")},
	} {
		// Had the experiment run, it would have printed its result (and exited 1).
		code, out, stderr := labRun(append([]string{"run", "link", "--rtt", "1ms", "--short"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(stderr, "no such file or directory") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 before running", args, code, out, stderr)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// labProcess starts the test binary as "hop lab args..." and waits until it prints
// its first progress line (it runs with stderr on a pipe, so there is none): it
// waits until the lab's namespaces exist instead.
func labProcess(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"lab"}, args...)...)
	cmd.Env = append(os.Environ(), "HOP_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for len(labNamespaces(t, cmd.Process.Pid)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no lab namespaces appeared; stderr %q", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, &stderr
}

// labNamespaces lists the named namespaces of the labs of process pid.
func labNamespaces(t *testing.T, pid int) []string {
	ents, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	prefix := netlab.Prefix + strconv.Itoa(pid) + "-"
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// SIGINT stops the experiment, removes its lab and exits 1.
func TestLabInterrupt(t *testing.T) {
	needLabRoot(t)
	cmd, stderr := labProcess(t, "run", "dumb-proxy", "--rtt", "20ms")
	pid := cmd.Process.Pid
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
			t.Errorf("exit %v, want 1", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("hop lab did not stop within 15 s of SIGINT")
	}
	if left := labNamespaces(t, pid); len(left) > 0 {
		t.Errorf("namespaces left after SIGINT: %v", left)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// A run killed with SIGKILL leaves its namespaces; the next lab removes them.
func TestLabStaleAfterKill(t *testing.T) {
	needLabRoot(t)
	cmd, _ := labProcess(t, "run", "time-wait", "--rtt", "20ms")
	pid := cmd.Process.Pid
	cmd.Process.Kill()
	cmd.Wait()
	if left := labNamespaces(t, pid); len(left) == 0 {
		t.Fatal("the killed run left nothing to clean (did it run?)")
	}
	code, _, stderr := labRun("run", "link", "--rtt", "1ms", "--short", "--timeline", "0")
	if code != 0 {
		t.Fatalf("next run: exit %d: %s", code, stderr)
	}
	if left := labNamespaces(t, pid); len(left) > 0 {
		t.Errorf("stale namespaces of the killed run remain: %v", left)
	}
}
