//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hop-http/hop/lab"
	"github.com/hop-http/hop/lab/capture"
	"github.com/hop-http/hop/lab/report"
)

func init() { commands["lab"] = cmdLab }

// cmdLab runs `hop lab`; SIGINT or SIGTERM stops the experiment in progress, whose
// lab is removed before the command exits.
func cmdLab(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	var progress io.Writer
	if isTerminal(os.Stderr) {
		progress = os.Stderr
	}
	return runLab(ctx, args, os.Stdout, os.Stderr, progress)
}

const labUsage = `usage: hop lab list
       hop lab run NAME|all [--rtt D] [--loss P] [--rate R] [--json] [--pcap F] [--html F] [flags]

Runs experiments on Linux's own TCP stack in private network namespaces (one per host:
client, dns, web, proxy) joined by a userspace link that delays, drops and rate-limits
packets and records every one of them; prints each measured figure beside the
textbook's prediction, with a verdict. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN and
CAP_NET_RAW).
`

// Bounds of the link settings: past them a run would wait for minutes (resolver
// timeouts of 4 RTT, SYN retries and retransmission back-off under heavy loss).
const (
	maxLabRTT  = 10 * time.Second
	maxLabLoss = 0.5
)

// labFlags are the flags of `hop lab run`.
type labFlags struct {
	opt      lab.Options
	json     bool
	pcap     string
	html     string
	timeline int
	checks   bool
	rtt, jit time.Duration
	loss     string
	rate     string
	seed     uint64
	cc       string
	short    bool
}

func parseLabFlags(args []string, stderr io.Writer) (*labFlags, []string, error) {
	var f labFlags
	fs := flag.NewFlagSet("hop lab run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(durationFlag{&f.rtt}, "rtt", "round-trip `time` between any two hosts, at most 10s (default: 50ms, "+
		"the loss experiment too; 0: no added delay; plain numbers are seconds)")
	fs.StringVar(&f.loss, "loss", "", "packet loss per direction, in `percent` (1%, 0.5), at most 50%; default 0, the loss experiment 2%")
	fs.StringVar(&f.rate, "rate", "", "line rate per direction, e.g. 10mbit, 500kbit; 0 or default: unlimited")
	fs.Var(durationFlag{&f.jit}, "jitter", "round-trip jitter: each packet's one-way delay varies within ±`D`/2 (at most the RTT)")
	fs.StringVar(&f.cc, "cc", "", "TCP congestion control of the hosts (default cubic; see /proc/sys/net/ipv4/tcp_available_congestion_control)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the link's loss and jitter (0: random, printed in the note)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per experiment instead of text")
	fs.StringVar(&f.pcap, "pcap", "", "write the packets seen at the client's end of the link to `FILE` (pcapng)")
	fs.StringVar(&f.html, "html", "", "write a self-contained report page (plots, sequence diagrams) to `FILE`")
	fs.IntVar(&f.timeline, "timeline", 60, "rows of each experiment's packet timeline to print (0: none, -1: all)")
	fs.BoolVar(&f.checks, "checks", false, "print every check behind each verdict")
	fs.BoolVar(&f.short, "short", false, "run the short forms (fewer requests, smaller transfers) that the tests use")
	fs.Usage = func() {
		fmt.Fprint(stderr, labUsage, "\nexperiments: ", strings.Join(lab.Names(), ", "), "\n\nflags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	// lab.Options: zero is the experiment's default, negative none; a flag given as
	// 0 asks for none.
	f.opt = lab.Options{RTT: f.rtt, Jitter: f.jit, Seed: f.seed, CongestionControl: f.cc, Short: f.short}
	switch {
	case f.rtt < 0 || f.jit < 0:
		return nil, nil, errors.New("--rtt and --jitter must not be negative")
	case f.rtt > maxLabRTT:
		return nil, nil, fmt.Errorf("--rtt %v: at most %v (a plain number is seconds)", f.rtt, maxLabRTT)
	case f.jit > f.rtt && set["rtt"]:
		return nil, nil, errors.New("--jitter must not exceed --rtt")
	case f.jit > maxLabRTT:
		return nil, nil, fmt.Errorf("--jitter %v: at most %v", f.jit, maxLabRTT)
	}
	if f.rtt == 0 && set["rtt"] {
		f.opt.RTT = -1
	}
	if f.loss != "" {
		if f.opt.Loss, err = lab.ParseLoss(f.loss); err != nil {
			return nil, nil, fmt.Errorf("--loss: %w", err)
		}
		if f.opt.Loss > maxLabLoss {
			return nil, nil, fmt.Errorf("--loss %s: at most %g%% (beyond it TCP spends minutes in SYN and retransmission back-off)", f.loss, maxLabLoss*100)
		}
		if f.opt.Loss == 0 {
			f.opt.Loss = -1
		}
	}
	if f.rate != "" {
		if f.opt.Rate, err = lab.ParseRate(f.rate); err != nil {
			return nil, nil, fmt.Errorf("--rate: %w", err)
		}
		if f.opt.Rate == 0 {
			f.opt.Rate = -1
		}
	}
	if f.timeline < -1 {
		return nil, nil, errors.New("--timeline must be -1 (all), 0 (none) or a number of rows")
	}
	return &f, pos, nil
}

// runLab is `hop lab` with its context and outputs; progress, when not nil, is told
// which experiment runs. It returns the exit code: 0 when every experiment ran
// (whatever its verdict), 1 when one failed or was interrupted, 2 for usage errors and
// missing privileges.
func runLab(ctx context.Context, args []string, stdout, stderr, progress io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, labUsage, "\nexperiments: ", strings.Join(lab.Names(), ", "), "\n")
		return 0
	case "list":
		if len(args) > 1 {
			fmt.Fprintln(stderr, "hop lab list: no arguments expected")
			return 2
		}
		for _, x := range lab.Experiments() {
			fmt.Fprintf(stdout, "%-13s %s\n", x.Name, x.Title)
		}
		return 0
	case "run":
	default:
		fmt.Fprintf(stderr, "hop lab: unknown sub-command %q (list, run)\n", args[0])
		return 2
	}
	f, pos, err := parseLabFlags(args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "hop lab run:", err)
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "hop lab run: name one experiment or all (%s)\n", strings.Join(lab.Names(), ", "))
		return 2
	}
	names := []string{pos[0]}
	if pos[0] == "all" {
		names = lab.Names()
	} else if _, ok := lab.Lookup(pos[0]); !ok {
		fmt.Fprintf(stderr, "hop lab run: no experiment %q (have %s)\n", pos[0], strings.Join(lab.Names(), ", "))
		return 2
	}
	if err := lab.Privileged(); err != nil {
		fmt.Fprintf(stderr, "hop lab: %s; run it as root or with sudo\n", strings.TrimPrefix(err.Error(), "netlab: "))
		return 2
	}
	// The output files are made now, so that a path that cannot be written is told
	// before the experiments run rather than after.
	var pcapOut, htmlOut *os.File
	for _, o := range []struct {
		flag, path string
		f          **os.File
	}{{"--pcap", f.pcap, &pcapOut}, {"--html", f.html, &htmlOut}} {
		if o.path == "" {
			continue
		}
		fh, err := os.Create(o.path)
		if err != nil {
			fmt.Fprintf(stderr, "hop lab run: %s: %v\n", o.flag, err)
			if pcapOut != nil {
				discardOutput(pcapOut)
			}
			return 2
		}
		*o.f = fh
	}

	var results []*lab.Result
	code := 0
	for i, name := range names {
		if progress != nil {
			fmt.Fprintf(progress, "hop lab: running %s (%d/%d)…\n", name, i+1, len(names))
		}
		r, err := lab.Run(ctx, name, f.opt)
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "hop lab: %s interrupted; its lab is removed\n", name)
			} else {
				fmt.Fprintf(stderr, "hop lab: %s: %v\n", name, err)
			}
			code = 1
			break
		}
		results = append(results, r)
		if f.json {
			if err := report.WriteJSON(stdout, []*lab.Result{r}); err != nil {
				fmt.Fprintln(stderr, "hop lab:", err)
				code = 1
				break
			}
		} else {
			if len(results) > 1 {
				fmt.Fprintln(stdout)
			}
			report.WriteText(stdout, []*lab.Result{r}, report.TextOptions{Timeline: f.timeline, Checks: f.checks})
		}
	}
	if !f.json && len(results) > 1 {
		report.WriteSummary(stdout, results)
	}
	if pcapOut != nil {
		if err := writeOutput(pcapOut, len(results) > 0, func(w io.Writer) error { return writeLabPcap(w, results) }); err != nil {
			fmt.Fprintln(stderr, "hop lab: --pcap:", err)
			code = 1
		} else if progress != nil && len(results) > 0 {
			fmt.Fprintln(progress, "hop lab: packets at the client's end written to", f.pcap)
		}
	}
	if htmlOut != nil {
		if err := writeOutput(htmlOut, len(results) > 0, func(w io.Writer) error { return report.WriteHTML(w, results) }); err != nil {
			fmt.Fprintln(stderr, "hop lab: --html:", err)
			code = 1
		} else if progress != nil && len(results) > 0 {
			fmt.Fprintln(progress, "hop lab: report written to", f.html)
		}
	}
	return code
}

func writeLabPcap(w io.Writer, results []*lab.Result) error {
	var sections []capture.Section
	for _, r := range results {
		sections = append(sections, capture.Section{Name: "client (" + r.Experiment + ")", Capture: r.Capture})
	}
	return capture.WritePcap(w, "client", sections)
}

// writeOutput writes fh, made before the run, with fn and closes it. When nothing is
// wanted (no experiment finished) or fn fails, the file is removed again.
func writeOutput(fh *os.File, wanted bool, fn func(io.Writer) error) error {
	if !wanted {
		discardOutput(fh)
		return nil
	}
	if err := fn(fh); err != nil {
		discardOutput(fh)
		return err
	}
	if err := fh.Close(); err != nil {
		os.Remove(fh.Name())
		return err
	}
	return nil
}

// discardOutput closes and removes an output file.
func discardOutput(fh *os.File) {
	fh.Close()
	os.Remove(fh.Name())
}
