package clock

import (
	"testing"
	"time"
)

func TestNowIsRecent(t *testing.T) {
	for i := 0; i < 5; i++ {
		d := time.Since(Now())
		if d < -Resolution || d > Resolution+500*time.Millisecond {
			t.Fatalf("coarse clock off by %v", d)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

func TestNowAdvances(t *testing.T) {
	a := Now()
	time.Sleep(5 * Resolution)
	if !Now().After(a) {
		t.Fatal("coarse clock does not advance")
	}
}

func BenchmarkNow(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Now()
	}
}
