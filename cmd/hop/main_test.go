package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestMain lets the tests run this test binary as the hop command itself: with
// HOP_TEST_MAIN=1 in its environment it runs main with its arguments (see hopProcess).
func TestMain(m *testing.M) {
	if os.Getenv("HOP_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// hopProcess runs the test binary as "hop args..." and returns its exit code, stdout
// and stderr.
func hopProcess(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HOP_TEST_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("hop %q: %v", args, err)
	return 0, "", ""
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args         []string
		code         int
		stdout, errs bool // where the usage goes
		msg          string
	}{
		{nil, 2, false, true, ""},
		{[]string{"help"}, 0, true, false, ""},
		{[]string{"--help"}, 0, true, false, ""},
		{[]string{"-h"}, 0, true, false, ""},
		{[]string{"nope"}, 2, false, true, `hop: unknown command "nope"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if code != tt.code {
			t.Errorf("hop %q: exit %d, want %d", tt.args, code, tt.code)
		}
		for _, out := range []struct {
			want bool
			text string
			name string
		}{{tt.stdout, stdout.String(), "stdout"}, {tt.errs, stderr.String(), "stderr"}} {
			if has := strings.Contains(out.text, "usage: hop COMMAND"); has != out.want {
				t.Errorf("hop %q: usage on %s is %v, want %v: %q", tt.args, out.name, has, out.want, out.text)
			}
		}
		if !strings.Contains(stderr.String(), tt.msg) {
			t.Errorf("hop %q: stderr %q lacks %q", tt.args, stderr.String(), tt.msg)
		}
	}
}

// TestUsageListsCommands checks that usage lists every registered command with its
// description, the known ones first and a newly registered one after them.
func TestUsageListsCommands(t *testing.T) {
	commands["zzz-test"] = func([]string) int { return 0 }
	summaries["zzz-test"] = "a command registered by a test"
	defer func() { delete(commands, "zzz-test"); delete(summaries, "zzz-test") }()
	var b bytes.Buffer
	usage(&b)
	out := b.String()
	last := -1
	for _, name := range append(append([]string(nil), commandOrder...), "zzz-test") {
		if commands[name] == nil {
			continue
		}
		i := strings.Index(out, "\n  "+name+" ")
		if i < 0 {
			t.Errorf("usage lacks %q:\n%s", name, out)
			continue
		}
		if i < last {
			t.Errorf("%q is out of order:\n%s", name, out)
		}
		last = i
	}
	for name := range commands {
		if summaries[name] == "" {
			t.Errorf("command %q has no summary", name)
		}
		if !strings.Contains(out, summaries[name]) {
			t.Errorf("usage lacks the summary of %q:\n%s", name, out)
		}
	}
	for _, name := range []string{"serve", "get", "bench", "version"} {
		if commands[name] == nil {
			t.Errorf("%q is not registered", name)
		}
	}
}

func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/hop-http/hop", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "hop (devel) — built from a source tree, not from a released module version\n" +
		"module github.com/hop-http/hop\n" +
		"revision 0123456789abcdef (2026-12-01T10:00:00Z), with uncommitted changes\n" +
		"built with go1.26.8\n"
	if got := versionText(bi); got != want {
		t.Errorf("devel build:\n%s\nwant:\n%s", got, want)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/hop-http/hop", Version: "v1.2.3"}}
	if got, want := versionText(bi), "hop v1.2.3\nmodule github.com/hop-http/hop\nbuilt with go1.26.8\n"; got != want {
		t.Errorf("release:\n%s\nwant:\n%s", got, want)
	}
}

// TestMainProcess runs the command as a process: no command is a usage error (exit 2,
// usage on stderr), and "version" and "--version" print the build information.
func TestMainProcess(t *testing.T) {
	code, stdout, stderr := hopProcess(t)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "usage: hop COMMAND") {
		t.Errorf("hop: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	bi, _ := debug.ReadBuildInfo()
	for _, arg := range []string{"version", "--version"} {
		code, stdout, stderr := hopProcess(t, arg)
		if code != 0 || stdout != versionText(bi) || stderr != "" {
			t.Errorf("hop %s: exit %d, stdout %q (want %q), stderr %q", arg, code, stdout, versionText(bi), stderr)
		}
	}
	if code, _, stderr := hopProcess(t, "version", "extra"); code != 2 || !strings.Contains(stderr, "unexpected argument") {
		t.Errorf("hop version extra: exit %d, %q", code, stderr)
	}
}
