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
	"fmt"
	"os"
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
