// Package netlab owns the topology of hop lab: one network namespace per host
// (client, dns, web, proxy), each with a loopback and one TUN device, joined by the
// userspace link of package link, and everything the lab creates removed again.
//
// Each host's namespace runs the kernel's own, unmodified TCP/IP stack: handshakes,
// slow start, delayed ACK, Nagle, TIME_WAIT and resets are Linux's. The lab process
// only moves the packets between the TUN devices (which is where it delays, drops and
// rate-limits them, and where it records them).
//
// # Threads and namespaces
//
// A network namespace belongs to an OS thread, not to a process, and a Go goroutine
// may move between threads. netlab keeps everything in one process and relies on a
// property of sockets instead: a socket belongs to the namespace it was created in,
// for its whole life, whichever thread later reads or writes it (accepted connections
// inherit the listener's). So every socket, TUN device and /proc/sys write of a host
// is made inside [Host.Do], which runs a function on a new goroutine locked to its OS
// thread, switches that thread into the host's namespace (and checks that it did),
// runs the function, and switches back; if switching back fails the thread stays
// locked and ends with the goroutine, so no thread ever returns to Go's pool in the
// wrong namespace. [Host.Listen], [Host.ListenPacket] and [Host.Dial] are built on
// it, and hop's client, resolver and server are given those as their dialer and
// listener, so they run unchanged. Client sockets are also bound to the host's lab
// address (with IP_BIND_ADDRESS_NO_PORT, so ports are still chosen per
// destination at connect time, as for an unbound socket); a socket made in the wrong
// namespace would fail to bind rather than reach anything outside the lab. Dial takes
// IP addresses only: net.Dialer would resolve a name on a thread of its own, outside
// the namespace, so names go through hop's resolver and the lab's DNS host. The
// alternative, re-executing the program inside each namespace, would put the hosts
// in separate processes and make their traces and TCP_INFO samples a matter of IPC.
//
// # Names and clean-up
//
// Namespaces are named "hoplab-PID-N-HOST" (bind-mounted under /run/netns, so "ip
// netns" lists them while a lab runs). [Lab.Close] removes them together with their
// devices; [CleanStale], called by [New], removes those whose PID is no longer alive
// (a run killed with SIGKILL). The addresses come from 192.0.2.0/24 (TEST-NET-1,
// RFC 5737), which exists only inside the lab's namespaces.
//
// A lab needs root: CAP_SYS_ADMIN and CAP_NET_ADMIN (namespaces, TUN devices,
// addresses) and CAP_NET_RAW (ICMP echo); [Privileged] says whether the process has
// them.
package netlab
