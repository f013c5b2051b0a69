package servers_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/benchmarks/internal/plainclient"
	"github.com/hop-http/hop/benchmarks/servers"
)

// start serves impl on a loopback port and returns its address.
func start(t *testing.T, impl string) string {
	t.Helper()
	s, err := servers.New(impl)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return nc
}

// fieldNames returns the response's field names, lower-cased and sorted.
func fieldNames(r *plainclient.Response) []string {
	var names []string
	for i := 0; i < r.Header.Len(); i++ {
		n, _ := r.Header.At(i)
		names = append(names, strings.ToLower(string(n)))
	}
	slices.Sort(names)
	return names
}

func TestNewUnknown(t *testing.T) {
	if _, err := servers.New("apache"); !errors.Is(err, servers.ErrUnknownImpl) {
		t.Fatalf("New(apache) error %v, want ErrUnknownImpl", err)
	}
}

// TestAnswersAlike checks every implementation against the TechEmpower plaintext rules
// and against each other: the same fields, the same Server value, the same length.
func TestAnswersAlike(t *testing.T) {
	wantFields := []string{"content-length", "content-type", "date", "server"}
	sizes := map[string]int{}
	for _, impl := range servers.IdleImpls {
		t.Run(impl, func(t *testing.T) {
			addr := start(t, impl)
			nc := dial(t, addr)
			rd := plainclient.NewReader(nc, 4096)
			req := plainclient.Request("localhost", false)
			for i := 0; i < 3; i++ {
				if _, err := nc.Write(req); err != nil {
					t.Fatal(err)
				}
				var resp plainclient.Response
				if err := rd.Read(&resp); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if err := plainclient.Check(&resp, true); err != nil {
					t.Fatalf("request %d: %v\n%s", i, err, resp.Raw)
				}
				if got := fieldNames(&resp); !slices.Equal(got, wantFields) {
					t.Errorf("fields %v, want %v", got, wantFields)
				}
				if got := string(resp.Header.Get("Server")); got != servers.Name {
					t.Errorf("Server %q, want %q", got, servers.Name)
				}
				sizes[impl] = len(resp.Raw)
			}
		})
	}
	for impl, n := range sizes {
		if n != sizes[servers.Hop] {
			t.Errorf("%s answers %d bytes, hop %d", impl, n, sizes[servers.Hop])
		}
	}
}

func TestPipelined16(t *testing.T) {
	for _, impl := range servers.IdleImpls {
		t.Run(impl, func(t *testing.T) {
			nc := dial(t, start(t, impl))
			batch := bytes.Repeat(plainclient.Request("localhost", false), 16)
			for round := 0; round < 2; round++ {
				if _, err := nc.Write(batch); err != nil {
					t.Fatal(err)
				}
				rd := plainclient.NewReader(nc, 16<<10)
				for i := 0; i < 16; i++ {
					var resp plainclient.Response
					if err := rd.Read(&resp); err != nil {
						t.Fatalf("round %d response %d: %v", round, i, err)
					}
					if err := plainclient.Check(&resp, true); err != nil {
						t.Fatalf("round %d response %d: %v", round, i, err)
					}
				}
				if n := rd.Buffered(); n != 0 {
					t.Fatalf("round %d: %d bytes after 16 responses", round, n)
				}
			}
		})
	}
}

func TestConnectionClose(t *testing.T) {
	for _, impl := range servers.IdleImpls {
		t.Run(impl, func(t *testing.T) {
			nc := dial(t, start(t, impl))
			if _, err := nc.Write(plainclient.Request("localhost", true)); err != nil {
				t.Fatal(err)
			}
			rd := plainclient.NewReader(nc, 4096)
			var resp plainclient.Response
			if err := rd.Read(&resp); err != nil {
				t.Fatal(err)
			}
			if err := plainclient.Check(&resp, false); err != nil {
				t.Fatal(err)
			}
			if err := rd.Read(&resp); err != io.EOF {
				t.Fatalf("after a Connection: close response: %v, want io.EOF", err)
			}
		})
	}
}
