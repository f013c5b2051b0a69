//go:build linux

package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/lab"
	"github.com/hop-http/hop/lab/capture"
)

// line is one row of a timeline: a packet (or a run of them) and its annotation.
type line struct {
	at    time.Duration
	rec   *capture.Record
	count int // >1: a collapsed run of similar packets
	bytes int // payload of the run
	span  time.Duration
	note  string // the phase annotation
	event string // a labelled moment (from the experiment), not a packet
	leg   string // a leg header
}

// annotate returns, for the records at host's end, the phase notes keyed by record
// index: handshakes, requests, first bytes, TLS, closes, resets, losses and
// retransmissions, with durations in ms and in RTTs.
func annotate(cp *capture.Capture, host string, rtt time.Duration) map[int]string {
	notes := map[int]string{}
	add := func(i int, s string) {
		if notes[i] != "" {
			notes[i] += "; " + s
		} else {
			notes[i] = s
		}
	}
	inRTT := func(d time.Duration) string {
		if rtt <= 0 {
			return fmt.Sprintf("%.1f ms", timeline.Millis(d))
		}
		return fmt.Sprintf("%.1f ms = %.2f RTT", timeline.Millis(d), float64(d)/float64(rtt))
	}
	for _, c := range cp.Conns {
		if c.Client != host && c.Server != host {
			continue
		}
		var syn, lastReq, firstFin time.Duration = -1, -1, -1
		var clientHello time.Duration = -1
		waiting, serverFin := false, false
		lastIdx := -1
		for _, i := range c.Records {
			r := &cp.Records[i]
			at, ok := r.At(host)
			if !ok {
				continue
			}
			lastIdx = i
			fromClient := r.Src == c.Client
			switch {
			case r.Flags == "SYN" && fromClient && syn < 0:
				syn = at
				add(i, "connect")
			case r.Flags == "SYN,ACK" && syn >= 0 && !fromClient:
				add(i, "handshake "+inRTT(at-syn))
			}
			if r.Len > 0 && !r.Retrans {
				switch {
				case fromClient && strings.Contains(r.Info, "ClientHello"):
					clientHello = at
					add(i, "TLS handshake starts")
				case !fromClient && strings.Contains(r.Info, "ServerHello") && clientHello >= 0:
					add(i, "ServerHello "+inRTT(at-clientHello)+" after ClientHello")
				case fromClient && !serverFin && isRequest(r.Info, clientHello >= 0):
					if !waiting {
						lastReq = at
						add(i, "request")
					}
					waiting = true
				case !fromClient && waiting:
					add(i, "first byte "+inRTT(at-lastReq)+" after the request")
					waiting = false
				}
			}
			if strings.Contains(r.Flags, "FIN") {
				if !fromClient {
					serverFin = true
				}
				if firstFin < 0 {
					firstFin = at
					add(i, "close: FIN from "+r.Src)
				} else {
					add(i, "FIN from "+r.Src)
				}
			}
			if strings.Contains(r.Flags, "RST") {
				add(i, "RESET by "+r.Src)
			}
			if r.Retrans {
				add(i, "retransmission")
			}
			if r.Dropped() {
				add(i, "dropped by the link ("+r.Fate.String()+")")
			}
		}
		if firstFin >= 0 && lastIdx >= 0 {
			if at, ok := cp.Records[lastIdx].At(host); ok && at > firstFin {
				add(lastIdx, "closed "+inRTT(at-firstFin)+" after the first FIN")
			}
		}
	}
	// DNS over UDP: answer times.
	queries := map[string]time.Duration{}
	for i := range cp.Records {
		r := &cp.Records[i]
		at, ok := r.At(host)
		if !ok || r.Proto != "UDP" {
			continue
		}
		switch {
		case strings.HasPrefix(r.Info, "DNS query "):
			queries[strings.TrimPrefix(r.Info, "DNS query ")] = at
		case strings.HasPrefix(r.Info, "DNS answer "):
			q := strings.TrimPrefix(r.Info, "DNS answer ")
			for k, t := range queries {
				if strings.HasPrefix(q, k) {
					add(i, "answer "+inRTT(at-t)+" after the query")
					delete(queries, k)
					break
				}
			}
		}
	}
	return notes
}

// packetRows builds the rows of r's timeline at host's end: leg headers, events and
// packets in time order, with runs of more than collapseAt similar packets (same
// direction, connection and flags, nothing noteworthy) folded into one row.
func packetRows(r *lab.Result, host string, collapseAt int) []line {
	cp := r.Capture
	notes := annotate(cp, host, r.P.RTT)
	var rows []line
	recs := cp.Involving(host)
	legAt := 0
	events := r.Events
	flushBefore := func(at time.Duration) {
		for legAt < len(r.Legs) && r.Legs[legAt].Start <= at {
			rows = append(rows, line{at: r.Legs[legAt].Start, leg: r.Legs[legAt].Name})
			legAt++
		}
		for len(events) > 0 && events[0].At <= at {
			if events[0].Host == host {
				rows = append(rows, line{at: events[0].At, event: events[0].Label})
			}
			events = events[1:]
		}
	}
	similar := func(a, b *capture.Record) bool {
		return a.Src == b.Src && a.Dst == b.Dst && a.Conn == b.Conn && a.Flags == b.Flags &&
			a.Proto == b.Proto && notes[b.N] == "" && (b.Info == "" || a.Proto == "UDP" && sameKind(a.Info, b.Info))
	}
	for i := 0; i < len(recs); i++ {
		rec := recs[i]
		at, _ := rec.At(host)
		flushBefore(at)
		j := i + 1
		for j < len(recs) && similar(rec, recs[j]) && notes[rec.N] == "" {
			if next, _ := recs[j].At(host); legAt < len(r.Legs) && r.Legs[legAt].Start <= next {
				break
			}
			j++
		}
		if j-i > collapseAt {
			last, _ := recs[j-1].At(host)
			b := 0
			for _, x := range recs[i:j] {
				b += x.Len
			}
			rows = append(rows, line{at: at, rec: rec, count: j - i, bytes: b, span: last - at})
			i = j - 1
			continue
		}
		rows = append(rows, line{at: at, rec: rec, note: notes[rec.N]})
	}
	flushBefore(1<<62 - 1)
	return rows
}

// isRequest tells a client segment that carries (the start of) a request: an HTTP
// request line, or on TLS an application-data record that is not the client's
// Finished (which Go sends together with a compatibility ChangeCipherSpec).
func isRequest(info string, tls bool) bool {
	if !tls {
		return strings.Contains(info, " HTTP/1.")
	}
	return strings.Contains(info, "Application Data") && !strings.Contains(info, "Change Cipher Spec")
}

func sameKind(a, b string) bool {
	cut := func(s string) string {
		if i := strings.IndexAny(s, "0123456789"); i >= 0 {
			return s[:i]
		}
		return s
	}
	return cut(a) == cut(b)
}

// WriteTimeline writes r's packets at host's end as aligned columns, at most max rows
// (0: none, negative: all).
func WriteTimeline(w io.Writer, r *lab.Result, host string, max int) {
	if max == 0 || r.Capture == nil {
		return
	}
	rows := packetRows(r, host, 6)
	fmt.Fprintf(w, "\n  timeline at the %s's end of the link (ms since the start; → sent, ← received):\n", host)
	fmt.Fprintf(w, "  %10s  %-8s %4s  %-11s %8s %8s %7s %6s  %s\n", "time", "peer", "conn", "flags", "seq", "ack", "win", "len", "carries · phase")
	n := 0
	for _, row := range rows {
		if max > 0 && n >= max {
			fmt.Fprintf(w, "  … %d more rows (--timeline -1 shows all, --pcap saves every packet)\n", len(rows)-n)
			break
		}
		n++
		switch {
		case row.leg != "":
			fmt.Fprintf(w, "  %10.3f  ── %s ──\n", timeline.Millis(row.at), row.leg)
			continue
		case row.event != "":
			fmt.Fprintf(w, "  %10.3f  · %s\n", timeline.Millis(row.at), row.event)
			continue
		}
		rec := row.rec
		peer, arrow := rec.Dst, "→"
		if rec.Dst == host {
			peer, arrow = rec.Src, "←"
		}
		conn := ""
		if rec.Conn > 0 {
			conn = fmt.Sprintf("#%d", rec.Conn)
		}
		flags := rec.Flags
		if flags == "" {
			flags = rec.Proto
		}
		if row.count > 1 {
			fmt.Fprintf(w, "  %10.3f  %s%-7s %4s  %-11s %8s %8s %7s %6s  … %d packets, %s over %.1f ms\n",
				timeline.Millis(row.at), arrow, peer, conn, flags, "", "", "", "", row.count, bytesText(row.bytes), timeline.Millis(row.span))
			continue
		}
		seq, ack, win := "", "", ""
		if rec.Proto == "TCP" {
			seq, ack, win = fmt.Sprint(rec.Seq), fmt.Sprint(rec.Ack), fmt.Sprint(rec.Win)
		}
		carries := rec.Info
		if row.note != "" {
			if carries != "" {
				carries += " · "
			}
			carries += row.note
		}
		fmt.Fprintf(w, "  %10.3f  %s%-7s %4s  %-11s %8s %8s %7s %6d  %s\n",
			timeline.Millis(row.at), arrow, peer, conn, flags, seq, ack, win, rec.Len, carries)
	}
}

func bytesText(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
