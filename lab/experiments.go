//go:build linux

package lab

// registry lists the experiments in running order: the type-a-URL walk first, the
// link's own probe last.
var registry = []Experiment{
	{
		Name:  "url",
		Title: "What happens when you type a URL: DNS, connect, TLS, request, response, close",
		Claim: "Each step costs about one round trip: the DNS query, the TCP handshake, the TLS 1.3 handshake and the request; closing takes one more.",
		Hosts: []string{"client", "dns", "web"},
		run:   runURL,
	},
	{
		Name:  "handshake",
		Title: "A new connection per request against one persistent connection",
		Claim: "A new connection costs a handshake round trip before every request (2 RTT per request); a reused one costs 1 RTT.",
		Hosts: []string{"client", "web"},
		run:   runHandshake,
	},
	{
		Name:  "slow-start",
		Title: "Slow start: 1 MB on a new connection against a warm one",
		Claim: "A new connection starts with a small congestion window (10 segments) that doubles every round trip, so a large response takes several round trips more than on a warm connection.",
		Hosts: []string{"client", "web"},
		run:   runSlowStart,
	},
	{
		Name:  "nagle",
		Title: "Nagle's algorithm against delayed ACK: a request written in two pieces",
		Claim: "With Nagle on, the second small write waits for the ACK of the first, which the server delays (40 ms on Linux): the request stalls by a delayed ACK plus a round trip; TCP_NODELAY or one write avoids it.",
		Hosts: []string{"client", "web"},
		run:   runNagle,
	},
	{
		Name:  "time-wait",
		Title: "TIME_WAIT: a connection per request against keep-alive",
		Claim: "The side that closes first keeps each connection in TIME_WAIT (60 s on Linux); at a steady rate of new connections they pile up until the client runs out of ports, while keep-alive leaves none.",
		Hosts: []string{"client", "web"},
		run:   runTimeWait,
	},
	{
		Name:  "page",
		Title: "A page with six images: serial, parallel, persistent and pipelined connections",
		Claim: "Serial connections pay a handshake per object; parallel ones overlap them; a persistent connection pays one handshake; pipelining also overlaps the requests.",
		Hosts: []string{"client", "web"},
		run:   runPage,
	},
	{
		Name:  "half-close",
		Title: "A server that closes with unread input: reset against lingering close",
		Claim: "A server that closes while the request body is still arriving makes its kernel send RST, which can destroy the response before the client reads it; shutting down the write side, draining and then closing lets the client read the 413.",
		Hosts: []string{"client", "web"},
		run:   runHalfClose,
	},
	{
		Name:  "dumb-proxy",
		Title: "A 1.0-era proxy that forwards Connection: keep-alive blindly",
		Claim: "A blind proxy passes the client's Connection: keep-alive to the server and the server's back; the client reuses a connection the proxy will never serve again and hangs until a timeout. Proxy-Connection avoids that; a proxy that treats Connection as hop-by-hop (hop proxy) fixes it.",
		Hosts: []string{"client", "proxy", "web"},
		run:   runDumbProxy,
	},
	{
		Name:  "pipeline-hol",
		Title: "Head-of-line blocking: a slow response first in a pipeline",
		Claim: "Pipelined responses come back in request order, so one slow response holds back every response behind it.",
		Hosts: []string{"client", "web"},
		run:   runPipelineHOL,
	},
	{
		Name:  "loss",
		Title: "Packet loss: retransmissions and what they cost",
		Claim: "Every lost segment is sent again and every loss slows the sender down (the window is halved); in the long run throughput falls as MSS/RTT · sqrt(3/(2p)) (Mathis et al.), shown for reference.",
		Hosts: []string{"client", "web"},
		Loss:  0.02,
		run:   runLoss,
	},
	{
		Name:  "link",
		Title: "The link's own probe: RTT, loss and rate as measured against the settings",
		Claim: "The lab's link delivers the configured RTT, loss and rate.",
		Hosts: []string{"client", "web"},
		run:   runLink,
	},
}
