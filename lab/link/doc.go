// Package link is the userspace link of hop lab: it joins network namespaces through
// their TUN devices and applies delay, jitter, loss and a rate limit to every packet,
// per direction, the way netem and tbf would if these kernels had netem.
//
// A [Link] has one port per host: the file descriptor of the host's TUN device (in
// IFF_TUN|IFF_NO_PI mode, so that every read returns one IPv4 packet and every write
// injects one) and the host's address. A reader goroutine per port takes each packet
// off its TUN device, looks at its destination address and hands it to the direction
// (source port, destination port) it belongs to. The direction decides its fate:
//
//   - loss: dropped with probability Params.Loss (a Bernoulli process from a seeded
//     PCG generator per direction, so a run is reproducible with the same seed);
//   - rate: when Params.Rate is set, the packet waits for the direction's line to be
//     free and then occupies it for its length in bits divided by the rate; at most
//     Params.Queue packets wait (DefaultQueue when 0, none when negative), later ones
//     are dropped (tail drop, as tbf does);
//   - delay: it is delivered Params.Delay (plus a uniform jitter in ±Params.Jitter)
//     after it left the line. Packets of one direction are never reordered.
//
// Delivery is done by one scheduler goroutine locked to its own OS thread, which
// sleeps in ppoll(2) with a nanosecond timeout and a timer slack of 1 ns until the
// earliest packet is due, then writes it into the destination's TUN device. Go's own
// timers are rounded to the millisecond on Linux, which would make a 1 ms RTT
// 2 ms; ppoll wakes within tens of microseconds.
//
// Every packet is reported to the [Tap], if set, with the time it was read from its
// source and the time it was written to its destination (or why it was dropped), so
// the link is also the lab's capture point.
package link
