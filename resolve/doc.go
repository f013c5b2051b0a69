// Package resolve is hop's DNS stub resolver: it owns turning a host name into a
// list of IP addresses, and nothing else (it does not dial the addresses; the
// client layer does that, with Happy Eyeballs over [Result.Addrs] ordered by
// [Interleave]).
//
// A [Resolver] answers a name from, in order:
//
//  1. IP literals ("192.0.2.1", "2001:db8::1", "fe80::1%eth0", "[::1]"),
//     returned without any query;
//  2. "localhost" and names under ".localhost" (RFC 6761), always loopback;
//  3. the hosts file (/etc/hosts), parsed once and re-read when its
//     modification time or size changes, checked at most every few seconds;
//  4. a bounded TTL cache of earlier DNS answers, positive (the minimum TTL of
//     the answer's RRset and CNAME chain) and negative (NXDOMAIN and NODATA,
//     kept for the SOA minimum per RFC 2308), both capped;
//  5. DNS: A and AAAA queries sent in parallel over UDP to the servers of
//     resolv.conf (or [Resolver.Nameservers]), retried over TCP when the answer
//     is truncated, with the search list and ndots rules of resolv.conf.
//
// Concurrent lookups of the same name and type share one query. Every wait is
// bounded by the per-try timeout and the attempt count, and by the caller's
// context. Failures are reported as [*Error], which says whether the name does
// not exist ([Error.IsNotFound]) or the servers did not answer in time
// ([Error.IsTimeout]).
//
// The resolv.conf support follows glibc: nameserver (up to three), search and
// domain (the last one wins), and options ndots:N, timeout:N, attempts:N and
// rotate, with the glibc defaults (ndots 1, timeout 5 s, attempts 2, and the
// local server when no nameserver is listed). Names ending in "." are absolute
// and skip the search list. The domain of the host name is not used as an
// implicit search list, and LOCALDOMAIN/RES_OPTIONS are not read.
package resolve
