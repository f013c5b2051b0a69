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

func TestParamsDefaults(t *testing.T) {
	loss, _ := Lookup("loss")
	p := loss.Params(Options{})
	if p.RTT != DefaultRTT || p.Loss != 0.02 || p.Rate != 0 || p.CC != "cubic" || p.Seed == 0 {
		t.Errorf("loss defaults: %+v", p)
	}
	// Chosen settings win, 0 included when marked as chosen.
	p = loss.Params(Options{RTT: 10 * time.Millisecond, Loss: 0, LossSet: true, Rate: 1e6, Seed: 7})
	if p.RTT != 10*time.Millisecond || p.Loss != 0 || p.Rate != 1e6 || p.Seed != 7 {
		t.Errorf("chosen: %+v", p)
	}
	if lp := p.link(); lp.Delay != 5*time.Millisecond || lp.Rate != 1e6 {
		t.Errorf("link params %+v: the RTT is split between the two directions", lp)
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
