package timeline

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Phase is a named span of an exchange. Start or End is zero when the phase did not
// happen (no DNS or connect on a reused connection).
type Phase struct {
	Name       string
	Start, End time.Time
}

// Duration is End - Start, or 0 when the phase did not happen (or ended before it
// started).
func (p Phase) Duration() time.Duration {
	if p.Start.IsZero() || p.End.IsZero() || p.End.Before(p.Start) {
		return 0
	}
	return p.End.Sub(p.Start)
}

// DefaultWidth is the width of a waterfall's bars, in cells.
const DefaultWidth = 48

// Waterfall is a set of phases drawn on one time axis that runs from Start for Total.
type Waterfall struct {
	Title  string        // first line, e.g. "http://host/ → 200, conn #1 (new)"
	Start  time.Time     // origin of the axis
	Total  time.Duration // length of the axis; ≤ 0: up to the latest phase end
	Phases []Phase
	Width  int // bar width in cells; 0 means DefaultWidth
}

// WriteTo draws the waterfall: the title, one line per phase with its duration and a
// bar placed where it happened on the axis (blank when it did not happen), and a
// "total" line.
//
//	http://127.0.0.1:8080/ → 200, conn #1 (new)
//	  dns           0.012 ms |█                                               |
//	  connect       0.143 ms |███                                             |
func (w *Waterfall) WriteTo(out io.Writer) (int64, error) {
	width := w.Width
	if width <= 0 {
		width = DefaultWidth
	}
	total := w.Total
	if total <= 0 {
		for _, p := range w.Phases {
			if d := p.End.Sub(w.Start); p.Duration() > 0 && d > total {
				total = d
			}
		}
	}
	var b strings.Builder
	if w.Title != "" {
		b.WriteString(w.Title + "\n")
	}
	for _, p := range w.Phases {
		d := p.Duration()
		bar := strings.Repeat(" ", width)
		if !p.Start.IsZero() && !p.End.IsZero() && !p.End.Before(p.Start) && total > 0 {
			from := int(float64(p.Start.Sub(w.Start)) / float64(total) * float64(width))
			to := int(math.Ceil(float64(p.End.Sub(w.Start)) / float64(total) * float64(width)))
			from = min(max(from, 0), width-1)
			to = min(max(to, from+1), width)
			bar = strings.Repeat(" ", from) + strings.Repeat("█", to-from) + strings.Repeat(" ", width-to)
		}
		fmt.Fprintf(&b, "  %-9s %9.3f ms |%s|\n", p.Name, Millis(d), bar)
	}
	fmt.Fprintf(&b, "  %-9s %9.3f ms\n", "total", Millis(total))
	n, err := io.WriteString(out, b.String())
	return int64(n), err
}

// Millis is d in milliseconds rounded to the microsecond, as the renderers print it.
func Millis(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Kind says what an event line is; its [Kind.Prefix] is curl -v's marker.
type Kind uint8

const (
	Note     Kind = iota // something that happened, in words ("*")
	Sent                 // a line of a request head (">")
	Received             // a line of a response head ("<")
)

// Prefix returns "*", ">" or "<".
func (k Kind) Prefix() string {
	switch k {
	case Sent:
		return ">"
	case Received:
		return "<"
	}
	return "*"
}

// Event is one line of an exchange's story.
type Event struct {
	At   time.Time
	Req  int    // the request it belongs to, as numbered by whoever made the trace
	Conn uint64 // the connection's number, 0 while the request has none yet
	Kind Kind
	Text string // without line ending; "" for the empty line that ends a head
}

// Sink receives events. It may be called from several goroutines.
type Sink interface {
	Event(Event)
}

// Printer is a Sink that writes each event at once as a line in the style of curl -v
// ("* text", "> GET / HTTP/1.1", "<" for the end of a head). It is safe for concurrent
// use; each line is written with one Write.
type Printer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w} }

// Event writes e as one line.
func (p *Printer) Event(e Event) {
	line := e.Kind.Prefix()
	if e.Text != "" {
		line += " " + e.Text
	}
	p.mu.Lock()
	io.WriteString(p.w, line+"\n")
	p.mu.Unlock()
}

// Recorder is a Sink that keeps the events in arrival order. It is safe for concurrent
// use.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Event records e.
func (r *Recorder) Event(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Tee is a Sink that passes each event to every sink in turn.
type Tee []Sink

// Event passes e on.
func (t Tee) Event(e Event) {
	for _, s := range t {
		s.Event(e)
	}
}

// AssignConns returns events with each event that has no connection yet (Conn 0)
// given the connection of the next event of the same request that has one: the
// resolution, connection attempts and handshake that led to a connection are part of
// its story. Events of a request that never got a connection keep Conn 0.
func AssignConns(events []Event) []Event {
	out := slices.Clone(events)
	next := map[int]uint64{} // request → connection of the latest event seen, walking back
	for i := len(out) - 1; i >= 0; i-- {
		e := &out[i]
		if e.Conn != 0 {
			next[e.Req] = e.Conn
			continue
		}
		e.Conn = next[e.Req]
	}
	return out
}

// WriteConnections writes events grouped by connection (after [AssignConns]), in the
// order the connections first appear, each event with its time since the earliest
// event, so that connections can be compared on one clock:
//
//	conn #1 (requests 1, 2)
//	  +    0.000 ms  req 1  * resolving example.com
//	  +    0.212 ms  req 1  * connecting to 93.184.215.14:80
//
// Events of requests that got no connection come last, under "no connection".
func WriteConnections(w io.Writer, events []Event) error {
	events = AssignConns(events)
	if len(events) == 0 {
		return nil
	}
	origin := events[0].At
	for _, e := range events {
		if e.At.Before(origin) {
			origin = e.At
		}
	}
	var order []uint64
	byConn := map[uint64][]Event{}
	for _, e := range events {
		if _, ok := byConn[e.Conn]; !ok && e.Conn != 0 {
			order = append(order, e.Conn)
		}
		byConn[e.Conn] = append(byConn[e.Conn], e)
	}
	if len(byConn[0]) > 0 {
		order = append(order, 0)
	}
	bw := bufio.NewWriter(w)
	for _, c := range order {
		evs := byConn[c]
		var reqs []string
		seen := map[int]bool{}
		for _, e := range evs {
			if !seen[e.Req] {
				seen[e.Req] = true
				reqs = append(reqs, fmt.Sprint(e.Req))
			}
		}
		if c == 0 {
			fmt.Fprintf(bw, "no connection (requests %s)\n", strings.Join(reqs, ", "))
		} else {
			fmt.Fprintf(bw, "conn #%d (requests %s)\n", c, strings.Join(reqs, ", "))
		}
		for _, e := range evs {
			text := e.Kind.Prefix()
			if e.Text != "" {
				text += " " + e.Text
			}
			fmt.Fprintf(bw, "  +%9.3f ms  req %d  %s\n", Millis(e.At.Sub(origin)), e.Req, text)
		}
	}
	return bw.Flush()
}
