//go:build linux

package lab

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hop-http/hop/server"
)

// The web host's resources:
//
//	/                 a short HTML page
//	/bytes/N          N bytes of text (N up to 64 MiB)
//	/slow/MS          a short body after MS milliseconds (up to 10 s)
//	/page.html        the guide's page: HTML with pageImages images
//	/img/K.png        image K, a real PNG of about imageBytes
//	POST /echo        the length of the request body
const (
	pageImages = 6
	maxBytes   = 64 << 20
)

var (
	imgOnce sync.Once
	imgPNG  []byte
	fill    = bytes.Repeat([]byte("hop lab payload. "), 4096) // 68 KiB of text
)

// imageData is a 40×40 PNG of noise (about 5 KB: it hardly compresses).
func imageData() []byte {
	imgOnce.Do(func() {
		img := image.NewNRGBA(image.Rect(0, 0, 40, 40))
		r := rand.New(rand.NewPCG(1, 2))
		for i := range img.Pix {
			img.Pix[i] = byte(r.Uint32())
		}
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 255
		}
		img.Set(0, 0, color.Black)
		var b bytes.Buffer
		png.Encode(&b, img)
		imgPNG = b.Bytes()
	})
	return imgPNG
}

func pageHTML() []byte {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><title>hop lab page</title></head><body>\n<h1>A page with images</h1>\n")
	for i := 1; i <= pageImages; i++ {
		fmt.Fprintf(&b, "<img src=\"/img/%d.png\" alt=\"image %d\">\n", i, i)
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

// webHandler serves the web host's resources.
func webHandler() server.Handler {
	page := pageHTML()
	img := imageData()
	return server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		path := string(r.Path())
		switch {
		case path == "/":
			w.Header().Set("Content-Type", "text/html")
			w.WriteString("<!doctype html><html><body><h1>hop lab</h1><p>Hello from the web host.</p></body></html>\n")
		case path == "/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write(page)
		case strings.HasPrefix(path, "/img/") && strings.HasSuffix(path, ".png"):
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
		case strings.HasPrefix(path, "/bytes/"):
			n, err := strconv.Atoi(path[len("/bytes/"):])
			if err != nil || n < 0 || n > maxBytes {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.SetContentLength(int64(n))
			for n > 0 {
				k := min(n, len(fill))
				if _, err := w.Write(fill[:k]); err != nil {
					return
				}
				n -= k
			}
		case strings.HasPrefix(path, "/slow/"):
			d, err := strconv.Atoi(path[len("/slow/"):])
			if err != nil || d < 0 || d > 10000 {
				w.WriteHeader(400)
				return
			}
			select {
			case <-time.After(time.Duration(d) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "slow: %d ms\n", d)
		case path == "/echo":
			body, err := r.ReadBody(1 << 20)
			if err != nil {
				w.WriteHeader(413)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "%d bytes\n", len(body))
		default:
			w.WriteHeader(404)
			w.WriteString("not found\n")
		}
	})
}
