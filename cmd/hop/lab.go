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
textbook's prediction, with a verdict. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
`

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
	fs.Var(durationFlag{&f.rtt}, "rtt", "round-trip `time` between any two hosts (default: 50ms; "+
		"the loss experiment too; plain numbers are seconds)")
	fs.StringVar(&f.loss, "loss", "", "packet loss per direction, in `percent` (1%, 0.5); default 0, the loss experiment 2%")
	fs.StringVar(&f.rate, "rate", "", "line rate per direction, e.g. 10mbit, 500kbit (default unlimited)")
	fs.Var(durationFlag{&f.jit}, "jitter", "round-trip jitter: each packet's one-way delay varies within ±`D`/2")
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
	f.opt = lab.Options{RTT: f.rtt, Jitter: f.jit, Seed: f.seed, CongestionControl: f.cc, Short: f.short}
	fs.Visit(func(fl *flag.Flag) { f.opt.RTTSet = f.opt.RTTSet || fl.Name == "rtt" })
	if f.rtt < 0 || f.jit < 0 {
		return nil, nil, errors.New("--rtt and --jitter must not be negative")
	}
	if f.jit > f.rtt && f.opt.RTTSet {
		return nil, nil, errors.New("--jitter must not exceed --rtt")
	}
	if f.loss != "" {
		if f.opt.Loss, err = lab.ParseLoss(f.loss); err != nil {
			return nil, nil, fmt.Errorf("--loss: %w", err)
		}
		f.opt.LossSet = true
	}
	if f.rate != "" {
		if f.opt.Rate, err = lab.ParseRate(f.rate); err != nil {
			return nil, nil, fmt.Errorf("--rate: %w", err)
		}
		f.opt.RateSet = true
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
		fmt.Fprintln(stderr, "hop lab: needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_NET_RAW) to create network namespaces; run it as root or with sudo")
		return 2
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
				return 1
			}
		} else {
			if len(results) > 1 {
				fmt.Fprintln(stdout)
			}
			report.WriteText(stdout, []*lab.Result{r}, report.TextOptions{Timeline: f.timeline, Checks: f.checks})
		}
	}
	if !f.json && len(results) > 1 {
		agree := 0
		var parts []string
		for _, r := range results {
			if r.Verdict == lab.Agrees {
				agree++
			}
			parts = append(parts, r.Experiment+" "+r.Verdict)
		}
		fmt.Fprintf(stdout, "\n%d of %d experiments agree with the prediction: %s\n", agree, len(results), strings.Join(parts, ", "))
	}
	if len(results) == 0 {
		return code
	}
	if f.pcap != "" {
		if err := writeLabPcap(f.pcap, results); err != nil {
			fmt.Fprintln(stderr, "hop lab: --pcap:", err)
			code = 1
		} else if progress != nil {
			fmt.Fprintln(progress, "hop lab: packets at the client's end written to", f.pcap)
		}
	}
	if f.html != "" {
		if err := writeFileWith(f.html, func(w io.Writer) error { return report.WriteHTML(w, results) }); err != nil {
			fmt.Fprintln(stderr, "hop lab: --html:", err)
			code = 1
		} else if progress != nil {
			fmt.Fprintln(progress, "hop lab: report written to", f.html)
		}
	}
	return code
}

func writeLabPcap(path string, results []*lab.Result) error {
	var sections []capture.Section
	for _, r := range results {
		sections = append(sections, capture.Section{Name: "client (" + r.Experiment + ")", Capture: r.Capture})
	}
	return writeFileWith(path, func(w io.Writer) error { return capture.WritePcap(w, "client", sections) })
}

// writeFileWith creates path and writes it with fn, removing it again on error.
func writeFileWith(path string, fn func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(fh); err != nil {
		fh.Close()
		os.Remove(path)
		return err
	}
	return fh.Close()
}
