package wire

// Limits bound what the parser accepts. A zero field means the default.
type Limits struct {
	// MaxRequestLine bounds the request line (or status line) including CRLF.
	// Default 8 KiB; exceeding it is a 414 (a plain 400 for a status line).
	MaxRequestLine int
	// MaxHeaderBytes bounds the header section after the start line, including the
	// final CRLF. Default 64 KiB; exceeding it is a 431.
	MaxHeaderBytes int
	// MaxHeaderFields bounds the number of field lines. Default 128; exceeding it is a 431.
	MaxHeaderFields int
	// MaxChunkLine bounds a chunk-size line with its extensions. Default 4 KiB.
	MaxChunkLine int
	// MaxTrailerBytes bounds a chunked body's trailer section. Default 16 KiB.
	MaxTrailerBytes int
}

// Default limits.
const (
	DefaultMaxRequestLine  = 8 << 10
	DefaultMaxHeaderBytes  = 64 << 10
	DefaultMaxHeaderFields = 128
	DefaultMaxChunkLine    = 4 << 10
	DefaultMaxTrailerBytes = 16 << 10
)

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

func (l *Limits) requestLine() int  { return orDefault(l.MaxRequestLine, DefaultMaxRequestLine) }
func (l *Limits) headerBytes() int  { return orDefault(l.MaxHeaderBytes, DefaultMaxHeaderBytes) }
func (l *Limits) headerFields() int { return orDefault(l.MaxHeaderFields, DefaultMaxHeaderFields) }
func (l *Limits) chunkLine() int    { return orDefault(l.MaxChunkLine, DefaultMaxChunkLine) }
func (l *Limits) trailerBytes() int { return orDefault(l.MaxTrailerBytes, DefaultMaxTrailerBytes) }

// MaxHead is the largest head (start line plus header section) these limits admit: the
// size a read buffer may grow to while a head is incomplete.
func (l *Limits) MaxHead() int { return l.requestLine() + l.headerBytes() + 2 }
