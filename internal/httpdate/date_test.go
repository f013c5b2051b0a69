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

func TestParse(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	for _, in := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
		"Sunday, 06-Nov-94 08:49:37 GMT", // RFC 850
		"Sun Nov  6 08:49:37 1994",       // asctime
	} {
		got, ok := Parse([]byte(in))
		if !ok || !got.Equal(want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if got, ok := Parse(Append(nil, want)); !ok || !got.Equal(want) {
		t.Errorf("Parse(Append(t)) = %v, %v", got, ok)
	}
	for _, in := range []string{
		"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37",
		"Sun, 06 Nov 1994 08:49:37 GMT ", "1994-11-06T08:49:37Z",
		// Shapes time.Parse alone would take.
		"Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06  Nov  1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 8:49:37 GMT", "Sun Nov  6 8:49:37 1994", "Sun Nov 6 08:49:37 1994",
		"Sun, 06-Nov-1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT", "Sun 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08.49.37 GMT",
	} {
		if got, ok := Parse([]byte(in)); ok {
			t.Errorf("Parse(%q) = %v, want failure", in, got)
		}
	}
}
