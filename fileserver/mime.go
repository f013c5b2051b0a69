package fileserver

import (
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
)

// webTypes are the Content-Types of the web's common extensions, so that they do not
// depend on the machine's mime tables.
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
	".map": "application/json", ".webmanifest": "application/manifest+json",
	".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
	".csv": "text/csv; charset=utf-8", ".xml": "application/xml",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
	".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".avif": "image/avif", ".ico": "image/vnd.microsoft.icon", ".bmp": "image/bmp",
	".wasm": "application/wasm", ".pdf": "application/pdf",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg",
	".ogg": "audio/ogg", ".wav": "audio/wav", ".zip": "application/zip",
	".gz": "application/gzip", ".zst": "application/zstd", ".br": "application/x-br",
	".tar": "application/x-tar", ".yaml": "application/yaml", ".yml": "application/yaml",
	".toml": "application/toml",
}

// contentType returns the media type of the file named name: by extension, else by
// sniffing the first 512 bytes of f.
func contentType(name string, f io.ReaderAt, size int64) string {
	if ext := path.Ext(name); ext != "" {
		if t, ok := webTypes[ext]; ok {
			return t
		}
		if t, ok := webTypes[strings.ToLower(ext)]; ok {
			return t
		}
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	var buf [512]byte
	n, _ := f.ReadAt(buf[:min(size, int64(len(buf)))], 0)
	return http.DetectContentType(buf[:n])
}

// compressible reports whether a media type is worth compressing: text and the
// structured text formats, SVG, wasm and uncompressed fonts. Images, audio, video and
// archives are already compressed.
func compressible(ctype string) bool {
	mt := ctype
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true
	}
	switch mt {
	case "application/javascript", "application/x-javascript", "application/json",
		"application/xml", "application/wasm", "application/yaml", "application/toml",
		"image/svg+xml", "image/vnd.microsoft.icon", "image/x-icon", "image/bmp",
		"font/ttf", "font/otf", "application/vnd.ms-fontobject":
		return true
	}
	return false
}
