package cache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/hop-http/hop/cache/policy"
	"github.com/hop-http/hop/wire"
)

// The metadata of a stored entry, as the cache encodes it for every store:
//
//	version u8, kind u8, key text (u16 length + bytes), Vary names (u16 length +
//	bytes), Vary generation u64
//	kindVary:     nothing more: the marker lists the canonical Vary names
//	kindResponse: request and response time, the policy facts and the response head
//	              in HTTP/1.1 syntax (status line, stored fields, CRLF), read back
//	              with wire's parser.
//
// The Vary generation ties the variants to their marker: a marker is created with a
// new random generation, a variant stored under it carries the same, and a variant
// whose generation is not its marker's is not used. Invalidation and purge delete
// the marker, so the variants stored before them are never reached again, even once
// a new marker with the same names is in place.
const metaVersion = 2

type kind uint8

const (
	kindResponse kind = 1 // a stored response
	kindVary     kind = 2 // a marker: variants live under secondary keys
)

const (
	flagNoCache = 1 << iota
	flagNoStale
	flagHeuristic
	flagValidator
	flagWithheld
)

var errBadMeta = errors.New("hop/cache: malformed entry metadata")

// entryMeta is the decoded metadata; slices point into the store's bytes.
type entryMeta struct {
	kind        kind
	key         []byte
	varyNames   []byte
	varyGen     uint64
	requestTime time.Time
	facts       policy.Facts
	head        []byte
}

func appendBytes16(b, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// appendVaryMeta encodes a Vary marker of generation gen.
func appendVaryMeta(b, key, names []byte, gen uint64) []byte {
	b = append(b, metaVersion, byte(kindVary))
	b = appendBytes16(b, key)
	b = appendBytes16(b, names)
	return binary.LittleEndian.AppendUint64(b, gen)
}

// appendResponseMeta encodes a stored response whose head (status line, fields,
// CRLF) is head; a variant gives the Vary names and generation of its marker.
func appendResponseMeta(b, key, names []byte, gen uint64, requestTime time.Time, f *policy.Facts, head []byte) []byte {
	b = append(b, metaVersion, byte(kindResponse))
	b = appendBytes16(b, key)
	b = appendBytes16(b, names)
	b = binary.LittleEndian.AppendUint64(b, gen)
	var flags byte
	for bit, on := range [...]bool{f.NoCache, f.NoStale, f.Heuristic, f.Validator, f.Withheld} {
		if on {
			flags |= 1 << bit
		}
	}
	b = append(b, flags)
	for _, v := range [...]int64{requestTime.UnixNano(), f.ResponseTime.UnixNano(), int64(f.Lifetime),
		int64(f.InitialAge), int64(f.StaleWhileRevalidate), int64(f.StaleIfError)} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(head)))
	return append(b, head...)
}

// decodeMeta decodes b into m.
func decodeMeta(b []byte, m *entryMeta) error {
	if len(b) < 2 || b[0] != metaVersion {
		return errBadMeta
	}
	m.kind = kind(b[1])
	b = b[2:]
	var ok bool
	if m.key, b, ok = bytes16(b); !ok {
		return errBadMeta
	}
	if m.varyNames, b, ok = bytes16(b); !ok || len(b) < 8 {
		return errBadMeta
	}
	m.varyGen = binary.LittleEndian.Uint64(b)
	b = b[8:]
	switch m.kind {
	case kindVary:
		return nil
	case kindResponse:
	default:
		return errBadMeta
	}
	if len(b) < 1+6*8+4 {
		return errBadMeta
	}
	flags := b[0]
	b = b[1:]
	var v [6]int64
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	m.requestTime = time.Unix(0, v[0])
	m.facts = policy.Facts{
		ResponseTime:         time.Unix(0, v[1]),
		Lifetime:             time.Duration(v[2]),
		InitialAge:           time.Duration(v[3]),
		StaleWhileRevalidate: time.Duration(v[4]),
		StaleIfError:         time.Duration(v[5]),
		NoCache:              flags&flagNoCache != 0,
		NoStale:              flags&flagNoStale != 0,
		Heuristic:            flags&flagHeuristic != 0,
		Validator:            flags&flagValidator != 0,
		Withheld:             flags&flagWithheld != 0,
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint32(len(b)) != n {
		return errBadMeta
	}
	m.head = b
	return nil
}

func bytes16(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.LittleEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

// appendHead appends the head of a response to store: status line and the fields
// that may be stored (policy.StoredField), then CRLF.
func appendHead(b []byte, status int, reason []byte, h *wire.Header, d *policy.Response) []byte {
	b = wire.AppendStatusLine(b, 1, status, string(reason))
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		if policy.StoredField(n, h, d) {
			b = wire.AppendField(b, n, v)
		}
	}
	return append(b, '\r', '\n')
}
