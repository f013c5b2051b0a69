// Command hop puts the hop HTTP/1.1 engine to work and makes connection behaviour
// visible.
//
//	hop serve [--addr HOST:PORT] [--root DIR]   static file server
//	hop get [flags] URL...                      fetch URLs, showing connections and timing
//	hop bench [flags] URL                       load generator measuring connection management
//	hop proxy [flags]                           forward and reverse proxy with a shared cache
//	hop lab list | run NAME                     experiments in private network namespaces
//	hop version                                 the module version and VCS revision
//
// Run "hop COMMAND -h" for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// commands maps a sub-command name to its entry point; each returns the exit code.
// A command registers itself in its file's init ("commands["get"] = cmdGet") and its
// one-line description in summaries; usage lists every registered command.
var commands = map[string]func(args []string) int{}

// summaries are the one-line descriptions that usage prints beside each registered
// command. A command that registers itself may set its own; those below are the
// defaults (a summary of a command that is not registered is not shown).
var summaries = map[string]string{
	"serve":   "serve static files (hop serve --addr 127.0.0.1:8080 --root .)",
	"get":     "fetch URLs and show connections, heads and timing (curl's common flags)",
	"bench":   "generate load and measure connection management",
	"proxy":   "forward or reverse proxy, with a shared cache (hop proxy --addr 127.0.0.1:3128)",
	"lab":     "run experiments in private network namespaces (hop lab list)",
	"version": "print the module version and the VCS revision it was built from",
}

// commandOrder is the order of the usage list; commands not named here follow in
// alphabetical order.
var commandOrder = []string{"serve", "get", "bench", "proxy", "lab", "version"}

func init() { commands["version"] = cmdVersion }

// usage writes the list of registered commands.
func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	rank := func(n string) int {
		if i := slices.Index(commandOrder, n); i >= 0 {
			return i
		}
		return len(commandOrder)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	var b strings.Builder
	b.WriteString("usage: hop COMMAND [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, summaries[n])
	}
	b.WriteString("\nRun \"hop COMMAND -h\" for the flags of a command; \"hop --version\" prints the version.\n")
	io.WriteString(w, b.String())
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process: it returns the exit code. No command is a usage
// error (2, the usage on stderr); -h asks for the usage (0, on stdout).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "hop: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return cmd(args[1:])
}

// cmdVersion is "hop version" (and "hop --version").
func cmdVersion(args []string) int { return runVersion(args, os.Stdout, os.Stderr) }

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "hop version: unexpected argument %q\n", args[0])
		return 2
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stderr, "hop version: this binary carries no build information")
		return 1
	}
	io.WriteString(stdout, versionText(bi))
	return 0
}

// versionText describes a build: the module version ("(devel)" for a build from a
// source tree, said so in words), the VCS revision and time when the build recorded
// them, and the Go version.
func versionText(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	switch v {
	case "":
		v = "(unknown version)"
	case "(devel)":
		v = "(devel) — built from a source tree, not from a released module version"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hop %s\n", v)
	if path := bi.Main.Path; path != "" {
		fmt.Fprintf(&b, "module %s\n", path)
	}
	var rev, when, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		fmt.Fprintf(&b, "revision %s", rev)
		if when != "" {
			fmt.Fprintf(&b, " (%s)", when)
		}
		if modified == "true" {
			b.WriteString(", with uncommitted changes")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "built with %s\n", bi.GoVersion)
	return b.String()
}

// signalContext returns a context canceled by SIGINT or SIGTERM. Every command stops
// on either the same way: serve shuts down gracefully, get stops after the request in
// progress, bench ends the run and still prints its report.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// parseInterspersed parses args with fs, allowing flags before and after the
// positional arguments, which it returns in order. Everything after "--" is
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// durationFlag is a flag.Value for durations that also accepts plain seconds ("10",
// "0.5").
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(n) || math.Abs(n) > float64(math.MaxInt64/int64(time.Second)) {
			return errors.New("want a number of seconds that fits a duration")
		}
		*f.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 10s, 500ms or 2m, or seconds")
	}
	*f.d = d
	return nil
}
