//go:build linux

package lab

import (
	"testing"
	"time"
)

func TestParseLossRate(t *testing.T) {
	for s, want := range map[string]float64{"1%": 0.01, "0.5": 0.005, " 2.5 % ": 0.025, "0": 0, "100%": 1} {
		if got, err := ParseLoss(s); err != nil || got != want {
			t.Errorf("ParseLoss(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1%", "101", "x", "NaN"} {
		if _, err := ParseLoss(s); err == nil {
			t.Errorf("ParseLoss(%q) accepted", s)
		}
	}
	for s, want := range map[string]int64{"10mbit": 10e6, "10M": 10e6, "500kbit": 500e3, "1gbit": 1e9, "8000": 8000, "0": 0} {
		if got, err := ParseRate(s); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"fast", "-1mbit", "100bit", "2tbit"} {
		if _, err := ParseRate(s); err == nil {
			t.Errorf("ParseRate(%q) accepted", s)
		}
	}
}

// The settings rule: zero is the experiment's default, negative none.
func TestParamsDefaults(t *testing.T) {
	loss, _ := Lookup("loss")
	p := loss.Params(Options{})
	if p.RTT != DefaultRTT || p.Loss != 0.02 || p.Rate != 0 || p.Jitter != 0 || p.CC != "cubic" || p.Seed == 0 {
		t.Errorf("loss defaults: %+v", p)
	}
	// Chosen settings win; negative ones are none.
	p = loss.Params(Options{RTT: 10 * time.Millisecond, Loss: -1, Rate: 1e6, Jitter: 2 * time.Millisecond, Seed: 7})
	if p.RTT != 10*time.Millisecond || p.Loss != 0 || p.Rate != 1e6 || p.Jitter != 2*time.Millisecond || p.Seed != 7 {
		t.Errorf("chosen: %+v", p)
	}
	if lp := p.link(); lp.Delay != 5*time.Millisecond || lp.Jitter != time.Millisecond || lp.Rate != 1e6 {
		t.Errorf("link params %+v: the RTT and jitter are split between the two directions", lp)
	}
	p = loss.Params(Options{RTT: -1, Loss: 0.1, Rate: -1, Jitter: -1})
	if p.RTT != 0 || p.Loss != 0.1 || p.Rate != 0 || p.Jitter != 0 {
		t.Errorf("none: %+v", p)
	}
	if url, _ := Lookup("url"); url.Params(Options{}).Loss != 0 {
		t.Error("url has loss by default")
	}
	if len(Names()) != 11 {
		t.Errorf("%d experiments: %v", len(Names()), Names())
	}
	for _, x := range Experiments() {
		if x.Title == "" || x.Claim == "" || len(x.Hosts) < 2 || x.run == nil {
			t.Errorf("experiment %q is incomplete", x.Name)
		}
	}
}

// The verdict: agrees only when every check held, and never for an experiment that
// checked nothing.
func TestFinish(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks []Check
		want   string
	}{
		{"all hold", []Check{{"a", true}, {"b", true}}, Agrees},
		{"one fails", []Check{{"a", true}, {"b", false}, {"c", true}}, Differs},
		{"all fail", []Check{{"a", false}}, Differs},
		{"no checks", nil, Differs},
	} {
		r := &Result{
			Checks: tc.checks,
			Rows: []Row{
				{Key: "x_ms", Measured: 1.23456, Predicted: 1, HasPred: true},
				{Key: "y", Measured: 7},
			},
			Events: []Event{{At: 2}, {At: 1}},
		}
		r.finish()
		if r.Verdict != tc.want {
			t.Errorf("%s: verdict %s, want %s", tc.name, r.Verdict, tc.want)
		}
		if failed := r.Failed(); (len(failed) == 0) != (tc.want == Agrees) {
			t.Errorf("%s: failed checks %v with verdict %s", tc.name, failed, r.Verdict)
		}
		if r.Measured["x_ms"] != 1.235 || r.Measured["y"] != 7 || r.Predicted["x_ms"] != 1 || len(r.Predicted) != 1 {
			t.Errorf("%s: measured %v, predicted %v", tc.name, r.Measured, r.Predicted)
		}
		if r.Events[0].At != 1 {
			t.Errorf("%s: events not in time order: %v", tc.name, r.Events)
		}
	}
	r := &Result{}
	r.finish()
	if len(r.Checks) != 1 || r.Checks[0].OK || r.Checks[0].What == "" {
		t.Errorf("no checks: %+v, want one failed check saying so", r.Checks)
	}
}
