package proxy

import (
	"strings"
	"testing"
)

func TestForwardBasic(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := forwardProxy(t, nil)
	resp, body := get(t, addr, "GET http://"+origin+"/hello?x=1 HTTP/1.1\r\nHost: "+origin+"\r\nUser-Agent: t\r\n\r\n")
	if resp.StatusCode != 200 || body != "origin says hi" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	head := rc.last(t)
	if !strings.HasPrefix(head, "GET /hello?x=1\n") {
		t.Errorf("origin got %q", head)
	}
	if v := fieldLines(head, "Via"); len(v) != 1 || v[0] != "1.1 hop-test" {
		t.Errorf("Via at origin: %q", v)
	}
	if v := resp.Header.Values("Via"); len(v) != 1 || v[0] != "1.1 hop-test" {
		t.Errorf("Via at client: %q", v)
	}
}

func TestReverseBasic(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := reverseProxy(t, nil, "http://"+origin)
	resp, body := get(t, addr, "GET /a/b HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if resp.StatusCode != 200 || body != "origin says hi" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	head := rc.last(t)
	if !strings.HasPrefix(head, "GET /a/b\n") || fieldLines(head, "Host")[0] != "example.test" {
		t.Errorf("origin got %q", head)
	}
	if v := fieldLines(head, "X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For: %q", v)
	}
}
