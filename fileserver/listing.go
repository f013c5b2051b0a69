package fileserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/fnv"
	"html"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// Entry is one item of a directory listing; in JSON listings the fields carry the
// names Caddy's file_server uses, so existing clients can read them.
type Entry struct {
	Name      string    `json:"name"`
	Size      int64     `json:"size"`
	URL       string    `json:"url"`
	ModTime   time.Time `json:"mod_time"`
	Mode      string    `json:"mode"`
	IsDir     bool      `json:"is_dir"`
	IsSymlink bool      `json:"is_symlink"`
}

// readListing reads up to max entries of dir (at rel), hiding dotfiles unless shown
// and symbolic links whose target cannot be served. It reports whether entries were
// left out because of max.
func (h *Handler) readListing(dir *os.File, rel string) ([]Entry, bool, error) {
	des, err := dir.ReadDir(h.opts.MaxListing + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	truncated := len(des) > h.opts.MaxListing
	if truncated {
		des = des[:h.opts.MaxListing]
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if !h.opts.ShowDotfiles && strings.HasPrefix(name, ".") {
			continue
		}
		var fi fs.FileInfo
		symlink := de.Type()&fs.ModeSymlink != 0
		if symlink {
			fi, err = h.stat(path.Join(rel, name)) // the target, as a request would see it
		} else {
			fi, err = de.Info()
		}
		if err != nil {
			continue // vanished, or a link leaving the root
		}
		m := fi.Mode()
		if !m.IsRegular() && !m.IsDir() {
			continue
		}
		e := Entry{Name: name, Size: fi.Size(), ModTime: fi.ModTime().UTC().Truncate(time.Second),
			Mode: m.String(), IsDir: m.IsDir(), IsSymlink: symlink}
		e.URL = "./" + url.PathEscape(name)
		if e.IsDir {
			e.URL += "/"
			e.Size = 0
		}
		out = append(out, e)
	}
	return out, truncated, nil
}

// sortEntries orders a listing by key "name" (directories first), "size" or "time",
// descending when desc is set.
func sortEntries(es []Entry, key string, desc bool) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		var c int
		switch key {
		case "size":
			c = cmpInt(a.Size, b.Size)
		case "time":
			c = a.ModTime.Compare(b.ModTime)
		default:
			if a.IsDir != b.IsDir {
				if a.IsDir {
					return -1
				}
				return 1
			}
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if desc {
			c = -c
		}
		return c
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// serveListing answers with the listing of dir in HTML, or JSON when the client
// prefers application/json.
func (h *Handler) serveListing(w *server.ResponseWriter, r *server.Request, dir *file, p reqPath) {
	entries, truncated, err := h.readListing(dir.File(), p.rel)
	if err != nil {
		writeError(w, errStatus(err))
		return
	}
	q, _ := url.ParseQuery(string(r.Query()))
	key, desc := q.Get("sort"), q.Get("order") == "desc"
	sortEntries(entries, key, desc)

	var body []byte
	var ctype string
	if prefersJSON(&r.Header) {
		body, err = json.Marshal(entries)
		if err != nil {
			writeError(w, 500)
			return
		}
		body = append(body, '\n')
		ctype = "application/json"
	} else {
		body = renderHTML(escapePath(p.rel, true), p.rel == ".", entries, truncated, key, desc)
		ctype = "text/html; charset=utf-8"
	}

	hd := w.Header()
	hd.Set("Content-Type", ctype)
	enc := codingIdentity
	if !h.opts.DisableCompression {
		hd.Set("Vary", "Accept, Accept-Encoding")
		if int64(len(body)) >= h.opts.CompressMinSize {
			accept := parseAcceptEncoding(&r.Header)
			enc = accept.best(onTheFlyCodings)
		}
	} else {
		hd.Set("Vary", "Accept")
	}
	sum := fnv.New64a()
	sum.Write(body)
	etag := append([]byte(`W/"`), strconv.FormatUint(sum.Sum64(), 16)...)
	if enc != codingIdentity {
		etag = append(append(etag, '-'), enc.String()...)
	}
	etag = append(etag, '"')
	wire.Add(hd, "ETag", etag)
	hd.Set("Cache-Control", "no-cache")
	switch preconditions(r, etag, time.Time{}) {
	case 304:
		notModified(w)
		return
	case 412:
		writeError(w, 412)
		return
	}
	if enc != codingIdentity {
		hd.Set("Content-Encoding", enc.String())
		if r.IsMethod("GET") {
			compress(w, enc, bytes.NewReader(body))
		}
		return
	}
	w.SetContentLength(int64(len(body)))
	if r.IsMethod("GET") {
		w.Write(body)
	}
}

// prefersJSON reports whether the Accept fields rank application/json above text/html
// (RFC 9110 §12.5.1: each type takes the q-value of the most specific range matching it).
func prefersJSON(h *wire.Header) bool {
	var qJSON, qHTML int16 = -1, -1 // from the most specific matching media range
	var sJSON, sHTML int = -1, -1   // that range's specificity: 0 */*, 1 type/*, 2 exact
	h.Values("Accept", func(v []byte) {
		wire.ForEachToken(v, func(tok []byte) bool {
			mr, params := tok, []byte(nil)
			if i := bytes.IndexByte(tok, ';'); i >= 0 {
				mr, params = tok[:i], tok[i+1:]
			}
			mr = wire.TrimOWS(mr)
			q, ok := parseQ(params)
			if !ok {
				return true
			}
			consider := func(full, typ string, qp *int16, sp *int) {
				s := -1
				switch {
				case wire.EqualFold(mr, full):
					s = 2
				case wire.EqualFold(mr, typ+"/*"):
					s = 1
				case string(mr) == "*/*":
					s = 0
				}
				if s > *sp {
					*sp, *qp = s, q
				}
			}
			consider("application/json", "application", &qJSON, &sJSON)
			consider("text/html", "text", &qHTML, &sHTML)
			return true
		})
	})
	// Equal q-values go to the type the client named more specifically, then to HTML.
	return qJSON > 0 && (qJSON > qHTML || qJSON == qHTML && sJSON > sHTML)
}

// renderHTML returns the HTML listing of the directory at urlPath.
func renderHTML(urlPath string, isRoot bool, es []Entry, truncated bool, key string, desc bool) []byte {
	var b bytes.Buffer
	title := html.EscapeString(urlPath)
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of `)
	b.WriteString(title)
	b.WriteString(`</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
h1{font-size:1.3em;word-break:break-all}h1 a{color:inherit}
table{border-collapse:collapse;width:100%}th,td{padding:.25em .6em;text-align:left}
th a{color:inherit}tr:nth-child(even){background:#f5f5f5}.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
a{color:#0550ae;text-decoration:none}a:hover{text-decoration:underline}footer{color:#777;margin-top:1em;font-size:.9em}
</style></head><body>
<h1>Index of `)
	// Breadcrumbs: each ancestor links to itself.
	b.WriteString(`<a href="/">/</a>`)
	acc := "/"
	for seg := range strings.SplitSeq(strings.Trim(urlPath, "/"), "/") {
		if seg == "" {
			continue
		}
		acc += seg + "/"
		name, _ := wire.AppendUnescaped(nil, seg, wire.EscapePolicy{}) // lenient: for display
		b.WriteString(`<a href="` + html.EscapeString(acc) + `">` + html.EscapeString(string(name)) + `/</a>`)
	}
	b.WriteString("</h1>\n<table>\n<thead><tr>")
	for _, col := range [...]struct{ key, label, class string }{
		{"name", "Name", ""}, {"size", "Size", ` class="n"`}, {"time", "Modified", ` class="n"`},
	} {
		order := "asc"
		arrow := ""
		if col.key == key || (key == "" && col.key == "name") {
			if desc {
				arrow = " ↓"
			} else {
				order, arrow = "desc", " ↑"
			}
		}
		b.WriteString(`<th` + col.class + `><a href="?sort=` + col.key + `&amp;order=` + order + `">` +
			col.label + arrow + `</a></th>`)
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	if !isRoot {
		b.WriteString(`<tr><td><a href="../">../</a></td><td class="n">—</td><td class="n"></td></tr>` + "\n")
	}
	var dirs, files int
	for _, e := range es {
		name := html.EscapeString(e.Name)
		size := "—"
		if e.IsDir {
			name += "/"
			dirs++
		} else {
			size = humanSize(e.Size)
			files++
		}
		b.WriteString(`<tr><td><a href="` + html.EscapeString(e.URL) + `">` + name + `</a></td><td class="n">` +
			size + `</td><td class="n"><time datetime="` + e.ModTime.Format(time.RFC3339) + `">` +
			e.ModTime.Format("2006-01-02 15:04") + `</time></td></tr>` + "\n")
	}
	b.WriteString("</tbody></table>\n<footer>")
	b.WriteString(strconv.Itoa(dirs) + " directories, " + strconv.Itoa(files) + " files")
	if truncated {
		b.WriteString(" (listing truncated)")
	}
	b.WriteString(" · served by hop</footer>\n</body></html>\n")
	return b.Bytes()
}

// humanSize formats n bytes with a binary unit.
func humanSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	prec := 1
	if f >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(f, 'f', prec, 64) + " " + units[i:i+1] + "iB"
}
