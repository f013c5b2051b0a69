// Package lab is `hop lab`: experiments that reproduce what "HTTP: The Definitive
// Guide" (chapter 4) and the classic "what happens when you type a URL" walk say about
// HTTP on TCP, on Linux's own TCP stack, with measured numbers beside the textbook's
// prediction and a verdict (agrees or differs).
//
// # The lab
//
// Each experiment runs in a lab of its own (package netlab): one network namespace
// per host — client, dns, web, proxy, as the experiment needs — each with its kernel
// TCP unmodified, joined by a userspace link over TUN devices (package link) that
// applies the round-trip time, loss, rate and jitter of [Options] and records every
// packet. These kernels have no netem, which is why the link is in userspace; its
// threads run with a real-time priority and sleep in ppoll(2), and the bare path's own
// round trip (about 0.1 ms; its 10th percentile over 21 echoes) is measured when the lab starts and taken out of the
// configured delay, so that an RTT of 1 ms measures 1 ms (the `link` experiment and
// the tests check 1 to 200 ms within 10%). The hosts use CUBIC (a new namespace would
// inherit the machine's default, BBR here, whose startup is not the textbook's slow
// start); [Options.CongestionControl] chooses another.
//
// The HTTP side is hop's own: its resolver against the lab's DNS host
// (internal/dnszone), its client (with the lab host's dialer), its server (with its
// lingering close), and its proxy for the dumb-proxy experiment's last legs. Where an
// experiment needs to control exactly what goes on the wire — a request in two writes,
// a 1.0 browser's Proxy-Connection, a body still being sent when the server answers —
// it drives the socket itself: it chooses the bytes and the writes (the heads are
// still spelled by wire's serializer) and reads the responses with hop's read side
// (internal/connbuf and package wire), adding only their timing. The subjects
// of two experiments are written here on purpose: a server that closes abortively
// (half-close) and a 1.0-era blind-forwarding proxy (package dumbproxy).
//
// # Experiments
//
// url, handshake, slow-start, nagle, time-wait, page, half-close, dumb-proxy,
// pipeline-hol, loss and link; [Experiments] describes each with its claim. Their
// [Result] carries the measured and predicted figures (JSON: experiment, params
// {rtt_ms, loss_pct, rate_bps, congestion_control}, measured, predicted, verdict,
// note), the checks behind the verdict, plots, and the decoded capture (package
// capture: timelines, pcapng at the client's end of the link). Package report renders
// results for the terminal, as JSON and as a self-contained HTML page.
//
// Predictions are the textbook's, in round trips: a new connection costs one RTT
// before its request; a request on an open connection one RTT; slow start sends 10
// segments in its first round trip and doubles every round trip; Nagle holds a second
// small write until the first is acknowledged and Linux delays that ACK by at least
// 40 ms; TIME_WAIT lasts 60 s on the side that closes first; Mathis et al. bound a
// lossy transfer's rate by MSS/RTT·sqrt(3/(2p)). Where an experiment's figure depends
// on a state the lab measures (the warm connection's congestion window), the
// prediction is computed from that measurement, and says so.
//
// Verdicts compare with a tolerance of a quarter of the prediction plus 3 ms, or a
// bound stated in the check. On a loaded machine the hosts' own work adds delay
// (never less): a verdict then may say differs, and the check that failed says by
// how much.
//
// Creating namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW);
// [Privileged] tells. Everything a lab creates is removed when its experiment ends,
// fails or is canceled; a lab left by a killed process is removed by the next one.
package lab
