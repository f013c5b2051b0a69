package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRun builds plainserver and runs the whole measurement with a few connections
// against child processes, unpinned.
func TestRun(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	bin := filepath.Join(t.TempDir(), "plainserver")
	if out, err := exec.Command(gobin, "build", "-o", bin, "../plainserver").CombinedOutput(); err != nil {
		t.Fatalf("building plainserver: %v\n%s", err, out)
	}
	cfg := config{
		impls: []string{"hop", "nethttp"}, n: 50, settle: 50 * time.Millisecond,
		server: bin, procs: 1, timeout: 10 * time.Second,
	}
	var out bytes.Buffer
	if code := run(cfg, &out); code != 0 {
		t.Fatalf("run returned %d:\n%s", code, out.String())
	}
	for _, impl := range cfg.impls {
		if !strings.Contains(out.String(), impl) || !strings.Contains(out.String(), "50/50 ok") {
			t.Errorf("table lacks %s or a full second round:\n%s", impl, out.String())
		}
	}
}

func TestRunFailsForMissingServer(t *testing.T) {
	cfg := config{
		impls: []string{"hop"}, n: 5, settle: time.Millisecond,
		server: filepath.Join(t.TempDir(), "nonexistent"), procs: 1, timeout: 5 * time.Second,
	}
	var out bytes.Buffer
	if code := run(cfg, &out); code == 0 {
		t.Fatalf("run succeeded without a server binary:\n%s", out.String())
	}
}

func TestRunRejectsUnknownImpl(t *testing.T) {
	var out bytes.Buffer
	if code := run(config{impls: []string{"apache"}, n: 5}, &out); code != 2 {
		t.Fatalf("run returned %d for an unknown implementation, want 2", code)
	}
}
