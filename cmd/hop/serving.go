package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/hop-http/hop/server"
)

// serving is what hop's serving commands (serve, proxy) share: their common flags
// (--addr, --idle-timeout, --log-format, --access-log, --shutdown-timeout), the
// parse that refuses positional arguments, the access and error logs, and the loop
// that serves until SIGINT or SIGTERM and then shuts down gracefully.
type serving struct {
	name string // "hop serve", "hop proxy": the prefix of messages
	fs   *flag.FlagSet

	addr, logFormat, accessLog   string
	idleTimeout, shutdownTimeout time.Duration
}

// newServing makes the flag set of the command name with the common flags (the
// listen address defaulting to addr); usage is printed before the flag list; draining
// names what --shutdown-timeout waits for.
func newServing(name, addr, usage, draining string, stderr io.Writer) *serving {
	c := &serving{name: name, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := c.fs
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", addr, "`HOST:PORT` to listen on (port 0 picks a free one)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", server.DefaultIdleTimeout, "close a kept-alive client connection idle this long")
	fs.StringVar(&c.logFormat, "log-format", "text", "access log format: text or json")
	fs.StringVar(&c.accessLog, "access-log", "stderr", "access log destination: stderr, stdout (or -), off, or a `FILE` to append to")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, wait this long for "+draining)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nflags:\n")
		fs.PrintDefaults()
	}
	return c
}

// parse parses args and checks the common flags.
func (c *serving) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", c.fs.Arg(0))
	case c.logFormat != "text" && c.logFormat != "json":
		return fmt.Errorf("--log-format must be text or json, not %q", c.logFormat)
	case c.idleTimeout <= 0:
		return errors.New("--idle-timeout must be positive")
	}
	return nil
}

// usageExit turns the flag error of command name into its exit code: 0 for -h, 2
// otherwise (with the error on stderr).
func usageExit(name string, err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, name+":", err)
	return 2
}

// logs opens the access log (nil when off) and makes the error log on stderr; close
// releases the access log's file.
func (c *serving) logs(stdout, stderr io.Writer) (access *slog.Logger, errLog *slog.Logger, close func(), err error) {
	out, close, err := openAccessLog(c.accessLog, stdout, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	if out != nil {
		access = newLogger(c.logFormat, out)
	}
	return access, newLogger(c.logFormat, stderr), close, nil
}

// serve runs srv on ln until ctx is done (SIGINT, SIGTERM) or failed (a message on
// failed ends the command with status 1 after closing srv), then shuts srv down
// within --shutdown-timeout and calls after with what remains of that deadline. It
// returns the exit code: 1 when the server failed or a shutdown step did, else 0.
func (c *serving) serve(ctx context.Context, srv *server.Server, ln net.Listener, stderr io.Writer,
	failed <-chan error, after func(sctx context.Context) int) int {
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintln(stderr, c.name+":", err)
		return 1
	case err := <-failed:
		fmt.Fprintln(stderr, c.name+":", err)
		srv.Close()
		<-done
		return 1
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, c.name+": shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	code := 0
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, c.name+": shutdown:", err)
		code = 1
	}
	<-done
	if after != nil {
		code = max(code, after(sctx))
	}
	return code
}
