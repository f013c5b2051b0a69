//go:build !linux

package main

import (
	"fmt"
	"os"
)

func init() { commands["lab"] = cmdLab }

// cmdLab explains that hop lab needs Linux (network namespaces, TUN devices).
func cmdLab(args []string) int {
	fmt.Fprintln(os.Stderr, "hop lab: needs Linux (network namespaces and TUN devices)")
	return 2
}
