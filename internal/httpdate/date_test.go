package httpdate

import (
	"net/http"
	"testing"
	"time"
)

func TestNowParses(t *testing.T) {
	b := Now()
	tm, err := http.ParseTime(string(b))
	if err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	if d := time.Since(tm); d < -time.Second || d > 2*time.Second {
		t.Fatalf("date %q is %v away from now", b, d)
	}
	if string(b[len(b)-3:]) != "GMT" {
		t.Fatalf("%q does not end in GMT", b)
	}
}

func TestAppend(t *testing.T) {
	got := string(Append(nil, time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)))
	if got != "Sun, 06 Nov 1994 08:49:37 GMT" {
		t.Fatal(got)
	}
}

func BenchmarkNow(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Now()
	}
}
