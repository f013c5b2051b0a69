package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumTimeout bounds one Chromium run.
const chromiumTimeout = 2 * time.Minute

// Chromium runs headless Chromium (found with [Program]) on url and returns the DOM it
// dumps once the page has loaded. profile is its user data directory (and HOME): a
// fresh directory means an empty browser cache. extra flags (--proxy-server=...,
// --virtual-time-budget=...) come before the URL. It fails the test when Chromium
// fails or runs longer than two minutes.
func Chromium(t testing.TB, profile, url string, extra ...string) string {
	t.Helper()
	return runChromium(t, profile, append(append([]string(nil), extra...), "--dump-dom", url))
}

// ChromiumScreenshot is [Chromium] taking a screenshot of the loaded page into file
// (PNG) instead of dumping its DOM; extra flags such as --window-size=W,H come before
// the URL.
func ChromiumScreenshot(t testing.TB, profile, url, file string, extra ...string) {
	t.Helper()
	runChromium(t, profile, append(append([]string(nil), extra...), "--screenshot="+file, url))
}

// runChromium runs headless Chromium with args after its own flags and returns its
// standard output.
func runChromium(t testing.TB, profile string, args []string) string {
	t.Helper()
	bin := Program(t, "chromium", "chromium-browser")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + profile}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", args[len(args)-1], err, tailOf(errOut.String(), 4000))
	}
	return out.String()
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// WriteImagePage writes a page with n images into dir: index.html and img/00.png,
// img/01.png ... (48×48 checkerboards, one color each). Once the page has loaded, its
// script writes "loaded K/N" into the page, K being the images that decoded:
// [LoadedImages] reads it from the DOM Chromium dumps.
func WriteImagePage(t testing.TB, dir string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	fmt.Fprintf(&page, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>%d images</title>
<style>img{margin:4px}</style></head><body><div>`, n)
	for i := range n {
		name := fmt.Sprintf("img/%02d.png", i)
		writePNG(t, filepath.Join(dir, name), i)
		fmt.Fprintf(&page, `<img src="%s" alt="%d">`, name, i)
	}
	page.WriteString(`</div><p id="result">pending</p><script>
window.addEventListener("load", function () {
  var ok = 0, imgs = document.images;
  for (var i = 0; i < imgs.length; i++) if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
  document.getElementById("result").textContent = "loaded " + ok + "/" + imgs.length;
});
</script></body></html>
`)
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// LoadedImages returns the "loaded K/N" a page of [WriteImagePage] reported in dom, or
// "" when it reported nothing.
func LoadedImages(dom string) string { return loadedRe.FindString(dom) }

var loadedRe = regexp.MustCompile(`loaded \d+/\d+`)

// writePNG writes a 48x48 PNG of a color picked by i.
func writePNG(t testing.TB, path string, i int) {
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	c := color.RGBA{uint8(40 + i*10), uint8(200 - i*8), uint8(i * 12), 255}
	for y := range 48 {
		for x := range 48 {
			if (x/8+y/8)%2 == 0 {
				img.Set(x, y, c)
			} else {
				img.Set(x, y, color.White)
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
