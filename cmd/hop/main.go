// Command hop puts the hop HTTP/1.1 engine to work and makes connection behaviour
// visible.
//
//	hop serve [--addr HOST:PORT] [--root DIR]   static file server
//	hop get [flags] URL...                      fetch URLs, showing connections and timing
//	hop bench [flags] URL                       load generator measuring connection management
//
// Run "hop COMMAND -h" for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// commands maps a sub-command name to its entry point; each returns the exit code.
var commands = map[string]func(args []string) int{}

func usage() {
	fmt.Fprint(os.Stderr, `usage: hop COMMAND [flags]

commands:
  serve   serve static files (hop serve --addr 127.0.0.1:8080 --root .)
  get     fetch URLs and show connections, heads and timing
  bench   generate load and measure connection management

Run "hop COMMAND -h" for the flags of a command.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		usage()
		return
	}
	run, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "hop: unknown command %q\n", name)
		usage()
		os.Exit(2)
	}
	os.Exit(run(os.Args[2:]))
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
