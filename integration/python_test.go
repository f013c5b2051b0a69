package integration

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestPythonHTTPClient sends 100 requests (GET, HEAD and refused POSTs with bodies) on
// one python3 http.client.HTTPConnection and checks every response and that the
// socket never changed.
func TestPythonHTTPClient(t *testing.T) {
	python := peer(t, "python3")
	script := testdata(t, "keepalive_client.py")
	const n = 100
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startPlaintext(t, m.adapter)
			host, port, err := net.SplitHostPort(s.addr)
			if err != nil {
				t.Fatal(err)
			}
			r := mustRunPeer(t, t.TempDir(), python, script, host, port, strconv.Itoa(n))
			var sum struct {
				Requests   int            `json:"requests"`
				OK         int            `json:"ok"`
				SameSocket int            `json:"same_socket"`
				LocalPorts []int          `json:"local_ports"`
				Methods    map[string]int `json:"methods"`
				Errors     []string       `json:"errors"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &sum); err != nil {
				t.Fatalf("python summary: %v\nstdout:\n%s\nstderr:\n%s", err, tail(r.stdout), tail(r.stderr))
			}
			t.Logf("python http.client: %+v", sum)
			if sum.Requests != n || sum.OK != n {
				t.Errorf("python: %d of %d responses correct, want all %d; first errors:\n%s",
					sum.OK, sum.Requests, n, strings.Join(sum.Errors, "\n"))
			}
			if sum.SameSocket != n || len(sum.LocalPorts) != 1 {
				t.Errorf("python used the first socket for %d of %d requests and local ports %v, want one connection",
					sum.SameSocket, n, sum.LocalPorts)
			}
			if sum.Methods["HEAD"] == 0 || sum.Methods["POST"] == 0 || sum.Methods["GET"] == 0 {
				t.Errorf("methods %v: the script must mix GET, HEAD and POST", sum.Methods)
			}
		})
	}
}
