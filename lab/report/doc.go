// Package report renders the results of hop lab's experiments: a text block per
// experiment for the terminal (measured beside predicted, the verdict, and a packet
// timeline at the client's end of the link with its phases annotated: handshake,
// TLS, request, first byte, close, resets, losses and retransmissions, each with its
// duration in milliseconds and in round trips), one JSON object per experiment, and a
// self-contained HTML page with the plots and a sequence diagram per leg between the
// hosts, drawn as inline SVG (the page needs no network to be viewed).
//
// The pcapng output is written by package capture.
package report
