package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCountTimeWaitParse(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tests := []struct {
		name          string
		data          string
		port          int
		total, target int
	}{
		{"empty", header, 80, 0, 0},
		{"ipv4", header +
			"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n" +
			"   1: 0100007F:1F90 0100007F:D431 06 00000000:00000000 03:00001234 00000000     0        0 0\n" +
			"   2: 0100007F:D432 0100007F:1F90 06 00000000:00000000 03:00001234 00000000     0        0 0\n" +
			"   3: 0100007F:D433 0100007F:0050 06 00000000:00000000 03:00001234 00000000     0        0 0\n" +
			"   4: 0100007F:D434 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2\n",
			8080, 3, 2},
		{"ipv6", header +
			"   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:A000 06 00000000:00000000 03:00000001 00000000 0 0 0\n",
			8080, 1, 1},
		{"garbage lines", header + "junk\n\n   9: x y 06\n", 8080, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, target, err := countTimeWait(strings.NewReader(tt.data), tt.port)
			if err != nil || total != tt.total || target != tt.target {
				t.Errorf("got %d, %d, %v; want %d, %d", total, target, err, tt.total, tt.target)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	url := startServer(t, hello, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmp, err := Compare(ctx, Config{URL: url, Connections: 8, Pipeline: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name               string
		conns, inFlight, p int
	}{
		{"close", 8, 8, 1},
		{"keep-alive", 8, 8, 1},
		{"pipelined", 2, 8, 4},
		{"parallel", 8, 32, 4},
	}
	if len(cmp.Rows) != len(want) {
		t.Fatalf("%d rows", len(cmp.Rows))
	}
	for i, w := range want {
		r := cmp.Rows[i]
		if r.Name != w.name || r.Connections != w.conns || r.InFlight != w.inFlight || r.Result.Pipeline != w.p {
			t.Errorf("row %d = %s %d conns %d in flight pipeline %d; want %+v", i, r.Name, r.Connections,
				r.InFlight, r.Result.Pipeline, w)
		}
		if r.Result.Requests == 0 || r.Result.Errors.Total() != 0 {
			t.Errorf("%s: requests %d, errors %+v", r.Name, r.Result.Requests, r.Result.Errors)
		}
	}
	if closeRow := cmp.Rows[0].Result; closeRow.ConnectionsOpened < closeRow.Requests {
		t.Errorf("close: %d connections for %d requests", closeRow.ConnectionsOpened, closeRow.Requests)
	}
	if runtime.GOOS == "linux" {
		if cmp.TimeWaitErr != nil {
			t.Fatal(cmp.TimeWaitErr)
		}
		// Every closed connection leaves a TIME_WAIT socket on one side or the other,
		// and both sides are on this host.
		if cmp.TimeWaitAfterClose.Target == 0 {
			t.Errorf("no TIME_WAIT sockets after %d closed connections", cmp.Rows[0].Result.ConnectionsOpened)
		}
	}
	var text bytes.Buffer
	cmp.WriteText(&text)
	for _, s := range []string{"close", "keep-alive", "pipelined", "parallel", "TIME_WAIT", "1.00x"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, text.String())
		}
	}
	t.Logf("\n%s", text.String())
	b, _ := json.Marshal(cmp.Report())
	var rep CompareReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 4 || rep.Runs[0].RatioVsClose != 1 || rep.Runs[1].RatioVsKeepAlive != 1 {
		t.Errorf("JSON report: %s", b)
	}
}
