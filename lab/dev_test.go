//go:build linux

package lab

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestDev(t *testing.T) {
	name := os.Getenv("LABX")
	if name == "" {
		t.Skip()
	}
	rtt := 50 * time.Millisecond
	if s := os.Getenv("LABRTT"); s != "" {
		rtt, _ = time.ParseDuration(s)
	}
	opt := Options{RTT: rtt, RTTSet: true, Short: os.Getenv("LABSHORT") != ""}
	if s := os.Getenv("LABLOSS"); s != "" {
		opt.Loss, _ = ParseLoss(s)
	}
	if s := os.Getenv("LABRATE"); s != "" {
		opt.Rate, _ = ParseRate(s)
	}
	r, err := Run(context.Background(), name, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range r.Rows {
		t.Logf("%-24s %-50s %10.3f %10.3f %s", row.Key, row.Label, row.Measured, row.Predicted, row.Unit)
	}
	for _, c := range r.Checks {
		t.Logf("check %v: %s", c.OK, c.What)
	}
	t.Logf("verdict %s: %s (%v, %d packets, base %v)", r.Verdict, r.Note, r.Elapsed, len(r.Capture.Records), r.BaseRTT)
	for _, rec := range r.Capture.Records {
		if os.Getenv("LABPKTS") != "" {
			at, _ := rec.At("client")
			t.Logf("%3d %8.3f held=%.3f %s>%s %s %s seq=%d ack=%d win=%d len=%d %s %v", rec.Conn, float64(at)/1e6, float64(rec.Arrived-rec.Sent)/1e6, rec.Src, rec.Dst, rec.Proto, rec.Flags, rec.Seq, rec.Ack, rec.Win, rec.Len, rec.Info, rec.Fate)
		}
	}
}
