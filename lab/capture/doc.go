// Package capture turns the packets recorded by hop lab's link into what a person
// reads: one [Record] per packet (time at each end, direction, TCP flags, relative
// sequence and acknowledgement numbers, window, length, and what the packet carries:
// a DNS query or answer, TLS record types, an HTTP request line or status line),
// grouped into TCP connections ([Conn]) with their retransmissions, and writes the
// packets seen at one host's end of the link as pcapng for Wireshark and tshark.
//
// Decoding uses google/gopacket (IPv4, TCP, UDP, ICMPv4, DNS); TLS records are found
// by following record lengths along each direction of a connection, since a record
// may span segments; HTTP start lines are recognised at the start of a segment's
// lines. The annotations are for reading, not for parsing messages: hop's codec
// (package wire) is not involved.
package capture
