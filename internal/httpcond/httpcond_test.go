package httpcond

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"reflect"
	"testing"

	"github.com/hop-http/hop/wire"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		size int64
		want []Range
		res  RangeResult
	}{
		{"bytes=0-0", 10, []Range{{0, 1}}, RangeOK},
		{"bytes=0-9", 10, []Range{{0, 10}}, RangeOK},
		{"bytes=0-100", 10, []Range{{0, 10}}, RangeOK},
		{"bytes=5-", 10, []Range{{5, 5}}, RangeOK},
		{"bytes=-3", 10, []Range{{7, 3}}, RangeOK},
		{"bytes=-30", 10, []Range{{0, 10}}, RangeOK},
		{"Bytes=1-2", 10, []Range{{1, 2}}, RangeOK},
		{"bytes= 1-2 , 4-5 ,", 10, []Range{{1, 2}, {4, 2}}, RangeOK},
		{"bytes=4-5,1-2", 10, []Range{{4, 2}, {1, 2}}, RangeOK},
		{"bytes=10-", 10, nil, RangeUnsatisfiable},
		{"bytes=10-20,30-", 10, nil, RangeUnsatisfiable},
		{"bytes=-0", 10, nil, RangeUnsatisfiable},
		{"bytes=0-", 0, nil, RangeUnsatisfiable},
		{"bytes=-5", 0, nil, RangeUnsatisfiable},
		{"bytes=20-30,1-1", 10, []Range{{1, 1}}, RangeOK},
		{"bytes=", 10, nil, RangeIgnore},
		{"bytes=,", 10, nil, RangeIgnore},
		{"bytes=a-b", 10, nil, RangeIgnore},
		{"bytes=5-1", 10, nil, RangeIgnore},
		{"bytes=1", 10, nil, RangeIgnore},
		{"bytes=-", 10, nil, RangeIgnore},
		{"bytes=+1-2", 10, nil, RangeIgnore},
		{"bytes=1-2-3", 10, nil, RangeIgnore},
		// Positions past an int64 are well-formed (RFC 9110 §14.1.2): a last-pos past
		// the end is the end, a first-pos past it unsatisfiable, a suffix the whole.
		{"bytes=0-99999999999999999999", 10, []Range{{0, 10}}, RangeOK},
		{"bytes=3-99999999999999999999999999999999999999", 10, []Range{{3, 7}}, RangeOK},
		{"bytes=0-9223372036854775807", 10, []Range{{0, 10}}, RangeOK},
		{"bytes=0-9223372036854775808", 10, []Range{{0, 10}}, RangeOK},
		{"bytes=-99999999999999999999", 10, []Range{{0, 10}}, RangeOK},
		{"bytes=99999999999999999999-", 10, nil, RangeUnsatisfiable},
		{"bytes=99999999999999999999-99999999999999999999", 10, nil, RangeUnsatisfiable},
		{"bytes=99999999999999999999-5", 10, nil, RangeIgnore},
		{"bytes=0-1x", 10, nil, RangeIgnore},
		{"bytes=\t1-2\t,\t", 10, []Range{{1, 2}}, RangeOK},
		{"BYTES=1-2", 10, []Range{{1, 2}}, RangeOK},
		{"items=0-1", 10, nil, RangeIgnore},
		{"bytes 0-1", 10, nil, RangeIgnore},
		{"bytes=0-5,3-9", 10, []Range{{0, 6}, {3, 7}}, RangeIgnore}, // 13 bytes of 10: overlap abuse
	} {
		got, res := ParseRange([]byte(tc.in), tc.size, 32)
		if res != tc.res || (res == RangeOK && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("ParseRange(%q, %d) = %v, %d; want %v, %d", tc.in, tc.size, got, res, tc.want, tc.res)
		}
	}
}

func TestETagList(t *testing.T) {
	etag := []byte(`"abc"`)
	for _, tc := range []struct {
		field  string
		strong bool
		want   bool
	}{
		{`"abc"`, true, true},
		{`W/"abc"`, true, false},
		{`W/"abc"`, false, true},
		{`"x", "abc"`, true, true},
		{`"a,b", "abc"`, true, true},
		{`"a,b"`, true, false},
		{`*`, true, true},
		{`abc`, false, false},
		{`"abc`, false, false},
		{``, false, false},
		{`"ab"c"`, false, false},
	} {
		var h wire.Header
		h.Add("If-Match", tc.field)
		if got := MatchList(&h, "If-Match", etag, tc.strong); got != tc.want {
			t.Errorf("MatchList(%q, strong=%v) = %v, want %v", tc.field, tc.strong, got, tc.want)
		}
	}
}

func TestMultipart(t *testing.T) {
	rep := []byte("0123456789")
	for _, ctype := range []string{"text/plain", ""} {
		ranges := []Range{{1, 2}, {7, 3}}
		m := NewMultipart(ctype, int64(len(rep)), ranges)
		var b []byte
		for i, rg := range m.Ranges {
			b = append(b, m.PartHead(i)...)
			b = append(b, rep[rg.Start:rg.Start+rg.Length]...)
		}
		b = append(b, m.Tail()...)
		if int64(len(b)) != m.Length {
			t.Errorf("Length %d, body %d bytes", m.Length, len(b))
		}
		mt, params, err := mime.ParseMediaType(m.ContentType())
		if err != nil || mt != "multipart/byteranges" || params["boundary"] != m.Boundary {
			t.Fatalf("ContentType %q: %v", m.ContentType(), err)
		}
		r := multipart.NewReader(bytes.NewReader(b), m.Boundary)
		for i, want := range []string{"12", "789"} {
			p, err := r.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			got, _ := io.ReadAll(p)
			cr := string(ranges[i].AppendContentRange(nil, 10))
			if string(got) != want || p.Header.Get("Content-Range") != cr || p.Header.Get("Content-Type") != ctype {
				t.Errorf("part %d: %q, %v", i, got, p.Header)
			}
		}
		if _, err := r.NextPart(); err != io.EOF {
			t.Errorf("after the parts: %v", err)
		}
	}
}
