//go:build linux

package lab_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hop-http/hop/lab"
)

func ExampleParseRate() {
	for _, s := range []string{"10mbit", "500kbit", "1.5M", "1gbit"} {
		bps, _ := lab.ParseRate(s)
		fmt.Println(s, bps, lab.FormatRate(bps))
	}
	// Output:
	// 10mbit 10000000 10mbit
	// 500kbit 500000 500kbit
	// 1.5M 1500000 1.5mbit
	// 1gbit 1000000000 1gbit
}

// Run one experiment at 20 ms RTT and print what it measured beside the prediction
// (needs root).
func ExampleRun() {
	r, err := lab.Run(context.Background(), "handshake", lab.Options{RTT: 20 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, row := range r.Rows {
		fmt.Println(row.Label, row.Measured, row.Predicted)
	}
	fmt.Println(r.Verdict, r.Note)
}
