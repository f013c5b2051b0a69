package timeline_test

import (
	"os"
	"time"

	"github.com/hop-http/hop/internal/timeline"
)

func ExampleWaterfall() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n float64) time.Time { return start.Add(time.Duration(n * float64(time.Millisecond))) }
	w := timeline.Waterfall{
		Title: "http://example.com/ → 200, conn #1 (new)",
		Start: start, Total: 40 * time.Millisecond, Width: 20,
		Phases: []timeline.Phase{
			{Name: "dns", Start: ms(0), End: ms(4)},
			{Name: "connect", Start: ms(4), End: ms(14)},
			{Name: "tls"}, // plain HTTP: no handshake
			{Name: "request", Start: ms(14), End: ms(14.2)},
			{Name: "wait", Start: ms(14.2), End: ms(36)},
			{Name: "transfer", Start: ms(36), End: ms(40)},
		},
	}
	w.WriteTo(os.Stdout)
	// Output:
	// http://example.com/ → 200, conn #1 (new)
	//   dns           4.000 ms |██                  |
	//   connect      10.000 ms |  █████             |
	//   tls           0.000 ms |                    |
	//   request       0.200 ms |       █            |
	//   wait         21.800 ms |       ███████████  |
	//   transfer      4.000 ms |                  ██|
	//   total        40.000 ms
}

func ExampleWriteConnections() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rec timeline.Recorder
	rec.Event(timeline.Event{At: start, Req: 1, Text: "connecting to 127.0.0.1:80"})
	rec.Event(timeline.Event{At: start.Add(time.Millisecond), Req: 1, Conn: 1, Text: "connected as conn #1"})
	rec.Event(timeline.Event{At: start.Add(2 * time.Millisecond), Req: 2, Conn: 1, Text: "reusing conn #1"})
	timeline.WriteConnections(os.Stdout, rec.Events())
	// Output:
	// conn #1 (requests 1, 2)
	//   +    0.000 ms  req 1  * connecting to 127.0.0.1:80
	//   +    1.000 ms  req 1  * connected as conn #1
	//   +    2.000 ms  req 2  * reusing conn #1
}
