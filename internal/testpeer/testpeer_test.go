package testpeer

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	if p, ok := Find("no-such-program-hop", "sh"); !ok || filepath.Base(p) != "sh" {
		t.Errorf("Find(missing, sh) = %q, %v: want the shell", p, ok)
	}
	if p, ok := Find("/no/such/file", "no-such-program-hop"); ok {
		t.Errorf("Find of missing programs = %q", p)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o644)
	if _, ok := Find(plain); ok {
		t.Errorf("Find(%s) accepted a file that is not executable", plain)
	}
	// Programs in /usr/sbin are found without it in PATH (Debian's nginx is there).
	if !executable("/usr/sbin/nginx") {
		return
	}
	t.Setenv("PATH", dir)
	if p, ok := Find("nginx"); p != "/usr/sbin/nginx" || !ok {
		t.Errorf("Find(nginx) without /usr/sbin in PATH = %q, %v", p, ok)
	}
}

func TestStartNginx(t *testing.T) {
	ng := StartNginx(t, 2, func(dir string, addrs []string) string {
		return `daemon off;
master_process off;
error_log ` + dir + `/error.log warn;
pid ` + dir + `/nginx.pid;
events { worker_connections 16; }
http {
    access_log ` + dir + `/access.log;
    client_body_temp_path ` + dir + `/cb;
    proxy_temp_path ` + dir + `/p;
    fastcgi_temp_path ` + dir + `/f;
    uwsgi_temp_path ` + dir + `/u;
    scgi_temp_path ` + dir + `/s;
    server { listen ` + addrs[0] + `; location / { return 200 "one"; } }
    server { listen ` + addrs[1] + `; location / { return 200 "two"; } }
}
`
	})
	for i, want := range []string{"one", "two"} {
		resp, err := http.Get("http://" + ng.Addrs[i] + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("listener %d answered %q, want %q", i, b, want)
		}
	}
	ng.Stop(t)
	if n := strings.Count(ng.File("access.log"), "\n"); n != 2 {
		t.Errorf("access log has %d lines, want 2:\n%s", n, ng.Logs())
	}
}

func TestWriteImagePage(t *testing.T) {
	dir := t.TempDir()
	WriteImagePage(t, dir, 3)
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		name := filepath.Join(dir, "img", "0"+string(rune('0'+i))+".png")
		b, err := os.ReadFile(name)
		if err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if strings.Count(string(page), "<img ") != 3 || LoadedImages(string(page)) != "" {
		t.Errorf("page:\n%s", page)
	}
	if got := LoadedImages(`<p id="result">loaded 3/3</p>`); got != "loaded 3/3" {
		t.Errorf("LoadedImages = %q", got)
	}
}
