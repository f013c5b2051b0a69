//go:build linux

package netlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hop-http/hop/lab/link"
)

// Prefix starts the name of every namespace the lab creates.
const Prefix = "hoplab-"

// TUN is the name of each host's TUN device; MTU its MTU.
const (
	TUN = "hop0"
	MTU = 1500
)

// Subnet holds the lab's addresses.
var Subnet = netip.MustParsePrefix("192.0.2.0/24")

// The lab's standard hosts and their addresses.
var standardHosts = map[string]netip.Addr{
	"client": netip.MustParseAddr("192.0.2.10"),
	"proxy":  netip.MustParseAddr("192.0.2.31"),
	"dns":    netip.MustParseAddr("192.0.2.53"),
	"web":    netip.MustParseAddr("192.0.2.80"),
}

// DefaultCongestionControl is the congestion control the lab's hosts use unless told
// otherwise: CUBIC, Linux's usual default, whose slow start is the textbooks' (a new
// namespace would otherwise inherit the machine's choice, which may be BBR). It is set
// on every TCP socket made through Host (TCP_CONGESTION; listeners pass it on to the
// connections they accept).
const DefaultCongestionControl = "cubic"

// DefaultMaxPackets bounds the packets a Lab records.
const DefaultMaxPackets = 200_000

// Config describes a lab.
type Config struct {
	// Hosts are the hosts to create, by standard name: client (192.0.2.10), proxy
	// (192.0.2.31), dns (192.0.2.53) and web (192.0.2.80).
	Hosts []string
	// Link applies to every direction between two hosts.
	Link link.Params
	// Seed seeds the link's loss and jitter.
	Seed uint64
	// CongestionControl is the TCP congestion control of every host
	// (net.ipv4.tcp_congestion_control); "" means DefaultCongestionControl.
	CongestionControl string
	// MaxPackets bounds the recorded packets (0: DefaultMaxPackets; negative: none
	// are recorded). Packets past the bound are counted, not kept.
	MaxPackets int
}

// Lab is a running set of hosts joined by a link.
type Lab struct {
	ID    string // "hoplab-PID-N"
	Start time.Time

	hosts   []*Host
	byName  map[string]*Host
	link    *link.Link
	origin  netns.NsHandle // the namespace the process started in
	baseRTT time.Duration
	params  link.Params
	cc      string

	capMu    sync.Mutex
	captured []*link.Packet
	maxPkts  int
	overflow int64
	snap     int // record only the first snap bytes of each packet; 0: all

	closeOnce sync.Once
	closeErr  error
}

// Host is one host of a lab: a network namespace with an address on the link.
type Host struct {
	Name string
	Addr netip.Addr
	Port int // the host's port number on the link

	lab    *Lab
	nsName string
	ns     netns.NsHandle
}

var labSeq atomic.Int64

// ErrPrivilege is returned when the process may not create a lab.
var ErrPrivilege = errors.New("netlab: needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_NET_RAW) to create network namespaces")

// Privileged reports whether the process has what a lab needs: CAP_SYS_ADMIN and
// CAP_NET_ADMIN (namespaces, TUN devices, addresses) and CAP_NET_RAW (the ICMP echo of
// the calibration and the ping probe). It returns ErrPrivilege when it has not.
func Privileged() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("netlab: reading capabilities: %w", err)
	}
	for _, c := range []uint{unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN, unix.CAP_NET_RAW} {
		if data[c/32].Effective&(1<<(c%32)) == 0 {
			return ErrPrivilege
		}
	}
	return nil
}

// New creates the hosts of cfg, joins them with the link and starts it. Stale labs
// of dead processes are removed first. On error nothing is left behind.
func New(cfg Config) (_ *Lab, err error) {
	if err := Privileged(); err != nil {
		return nil, err
	}
	if err := cfg.Link.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("netlab: no hosts")
	}
	CleanStale()

	l := &Lab{
		ID:      fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), labSeq.Add(1)),
		byName:  map[string]*Host{},
		maxPkts: cfg.MaxPackets,
	}
	if l.maxPkts == 0 {
		l.maxPkts = DefaultMaxPackets
	}
	l.cc = cfg.CongestionControl
	if l.cc == "" {
		l.cc = DefaultCongestionControl
	}
	if err := onLockedThread(func() (err error) { l.origin, err = netns.Get(); return err }); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	l.link = link.New(cfg.Seed, l.record)
	for _, name := range cfg.Hosts {
		addr, ok := standardHosts[name]
		if !ok {
			return nil, fmt.Errorf("netlab: unknown host %q", name)
		}
		if l.byName[name] != nil {
			return nil, fmt.Errorf("netlab: host %q twice", name)
		}
		h, fd, err := l.addHost(name, addr)
		if err != nil {
			return nil, fmt.Errorf("netlab: host %s: %w", name, err)
		}
		if h.Port, err = l.link.AddPort(addr, fd); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	if err := l.link.Start(link.Params{}); err != nil {
		return nil, err
	}
	if err := l.calibrate(); err != nil {
		return nil, err
	}
	if err := l.SetLink(cfg.Link); err != nil {
		return nil, err
	}
	l.clearPackets()
	l.Start = time.Now()
	return l, nil
}

// calibrate measures the round trip of the bare path (kernel to TUN device, the link's
// goroutines, TUN device to kernel, both ways), so that SetLink can take it out of the
// configured delay and the end-to-end RTT matches the setting even at 1 ms.
func (l *Lab) calibrate() error {
	if len(l.hosts) < 2 {
		return nil
	}
	rtts, err := l.hosts[0].Ping(context.Background(), l.hosts[1].Addr, 21, 0, time.Second)
	if err != nil {
		return fmt.Errorf("netlab: calibration ping: %w", err)
	}
	if len(rtts) < 11 {
		return fmt.Errorf("netlab: calibration ping: %d of 21 answered on a perfect link", len(rtts))
	}
	// A low percentile, not the median: a calibration disturbed by a busy moment
	// must not take more out of the delay than the path costs (the link would then
	// be faster than its setting); taking a little less errs on the safe side.
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	l.baseRTT = rtts[len(rtts)/10]
	return nil
}

// BaseRTT is the round trip of the bare path measured when the lab started; the link
// delays each packet by its setting less half of it.
func (l *Lab) BaseRTT() time.Duration { return l.baseRTT }

// SetLink applies p to every direction from now on. The one-way delay is shortened by
// half of BaseRTT (not below zero), so that what a host measures is p.Delay.
func (l *Lab) SetLink(p link.Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	l.params = p
	if p.Delay > 0 {
		p.Delay = max(p.Delay-l.baseRTT/2, 0)
		p.Jitter = min(p.Jitter, p.Delay)
	}
	return l.link.SetParams(p)
}

// LinkParams returns the parameters last given to SetLink (or Config.Link).
func (l *Lab) LinkParams() link.Params { return l.params }

// addHost creates the namespace of one host with its loopback and TUN device, and
// returns the host and the TUN descriptor.
func (l *Lab) addHost(name string, addr netip.Addr) (*Host, int, error) {
	h := &Host{Name: name, Addr: addr, lab: l, nsName: l.ID + "-" + name, ns: netns.None()}
	err := onLockedThread(func() error {
		ns, err := netns.NewNamed(h.nsName)
		if err != nil {
			return err
		}
		h.ns = ns
		return netns.Set(l.origin)
	})
	if h.ns.IsOpen() {
		// Registered even on error, so that Close removes it.
		l.hosts = append(l.hosts, h)
		l.byName[name] = h
	}
	if err != nil {
		return nil, 0, err
	}

	fd := -1
	err = h.Do(func() error {
		// IPv6 off: no router solicitations or MLD reports on the link.
		for _, k := range []string{"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"} {
			writeSysctl(k, "1")
		}
		// The namespace's default too, where allowed (outside the initial namespace
		// only algorithms in tcp_allowed_congestion_control may be the default);
		// every TCP socket made through Host gets it with setsockopt anyway.
		writeSysctl("net/ipv4/tcp_congestion_control", l.cc)
		var err error
		fd, err = openTUN(TUN)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	nl, err := netlink.NewHandleAt(h.ns)
	if err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	defer nl.Close()
	if err := configure(nl, addr); err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	return h, fd, nil
}

// configure brings up lo and the TUN device with addr/24.
func configure(nl *netlink.Handle, addr netip.Addr) error {
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := nl.LinkSetUp(lo); err != nil {
		return err
	}
	tun, err := nl.LinkByName(TUN)
	if err != nil {
		return err
	}
	if err := nl.LinkSetMTU(tun, MTU); err != nil {
		return err
	}
	// The link reads as fast as packets come; a long device queue absorbs bursts
	// (a window of 1 MB leaves in one go) instead of dropping them unseen.
	if err := nl.LinkSetTxQLen(tun, 10000); err != nil {
		return err
	}
	a, err := netlink.ParseAddr(netip.PrefixFrom(addr, Subnet.Bits()).String())
	if err != nil {
		return err
	}
	if err := nl.AddrAdd(tun, a); err != nil {
		return err
	}
	return nl.LinkSetUp(tun)
}

// openTUN creates a TUN device in the calling thread's namespace and returns its
// non-blocking descriptor.
func openTUN(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF: %w", err)
	}
	return fd, nil
}

// onLockedThread runs fn on a new goroutine locked to its thread and waits for it.
// The thread goes back to Go's pool only when fn succeeds; a failing fn may have left
// it in another namespace, so it ends with the goroutine.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := fn()
		if err == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// Host returns the host called name, or nil.
func (l *Lab) Host(name string) *Host { return l.byName[name] }

// Hosts returns the lab's hosts in creation order.
func (l *Lab) Hosts() []*Host { return append([]*Host(nil), l.hosts...) }

func (l *Lab) record(p *link.Packet) {
	if l.maxPkts < 0 {
		return
	}
	l.capMu.Lock()
	if len(l.captured) < l.maxPkts {
		if l.snap > 0 && len(p.Data) > l.snap {
			p.Data = append([]byte(nil), p.Data[:l.snap]...) // a copy, so the rest is freed
		}
		l.captured = append(l.captured, p)
	} else {
		l.overflow++
	}
	l.capMu.Unlock()
}

// Packets returns the packets recorded so far, ordered by the time they were read
// from their source, and how many more were not kept because of MaxPackets.
func (l *Lab) Packets() ([]*link.Packet, int64) {
	l.capMu.Lock()
	out := append([]*link.Packet(nil), l.captured...)
	n := l.overflow
	l.capMu.Unlock()
	sortByRead(out)
	return out, n
}

// SetSnap records only the first n bytes of each packet from now on (headers and
// the start of the payload, as tcpdump -s does); 0 records whole packets. Bulk
// transfers use it to keep memory and pcap files small.
func (l *Lab) SetSnap(n int) {
	l.capMu.Lock()
	l.snap = n
	l.capMu.Unlock()
}

// clearPackets forgets the packets recorded so far.
func (l *Lab) clearPackets() {
	l.capMu.Lock()
	l.captured, l.overflow = nil, 0
	l.capMu.Unlock()
}

// Close stops the link and removes every namespace (and with them the TUN devices).
// Sockets the caller made in the hosts should be closed first: a socket keeps its
// namespace alive until it is closed. Close is idempotent.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		if l.link != nil {
			errs = append(errs, l.link.Close())
		}
		for _, h := range l.hosts {
			h.ns.Close()
			if err := netns.DeleteNamed(h.nsName); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("netlab: removing %s: %w", h.nsName, err))
			}
		}
		l.origin.Close()
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// netnsDir is where named namespaces are bind-mounted (as by "ip netns").
const netnsDir = "/run/netns"

// CleanStale removes the namespaces of labs whose process is gone, returning their
// names.
func CleanStale() []string {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, Prefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		if netns.DeleteNamed(name) == nil {
			removed = append(removed, name)
		} else if os.Remove(filepath.Join(netnsDir, name)) == nil {
			removed = append(removed, name) // a file left by a failed mount
		}
	}
	return removed
}

func sortByRead(p []*link.Packet) {
	sort.SliceStable(p, func(i, j int) bool { return p[i].Read.Before(p[j].Read) })
}

func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// Do runs fn on a thread inside the host's namespace and waits for it; see the
// package documentation. Sockets fn creates belong to the host for good.
func (h *Host) Do(fn func() error) error {
	var ferr error
	err := onLockedThread(func() error {
		if err := netns.Set(h.ns); err != nil {
			return fmt.Errorf("netlab: entering %s: %w", h.nsName, err)
		}
		cur, err := netns.Get()
		if err != nil {
			return err
		}
		same := cur.Equal(h.ns)
		cur.Close()
		if same {
			ferr = fn()
		} else {
			ferr = fmt.Errorf("netlab: thread not in %s after setns", h.nsName)
		}
		return netns.Set(h.lab.origin)
	})
	if err != nil {
		return err
	}
	return ferr
}

// Listen listens on the host: addr is ":PORT" (the host's address) or "HOST:PORT".
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	lc := net.ListenConfig{Control: func(network, _ string, rc syscall.RawConn) error {
		return h.control(network, rc, nil)
	}}
	err := h.Do(func() (err error) {
		ln, err = lc.Listen(context.Background(), network, h.hostPort(addr))
		return err
	})
	return ln, err
}

// ListenPacket is Listen for datagram and raw sockets.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := h.Do(func() (err error) {
		pc, err = net.ListenPacket(network, h.hostPort(addr))
		return err
	})
	return pc, err
}

func (h *Host) hostPort(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return h.Addr.String() + addr
	}
	if addr == "" {
		return h.Addr.String()
	}
	return addr
}

// Dial connects from the host, with a socket bound to the host's address. It has the
// signature of net.Dialer.DialContext, so it can be given to hop's client and
// resolver as their dialer.
func (h *Host) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return h.DialWith(ctx, network, addr, nil)
}

// DialWith is Dial with a function that may set socket options on the descriptor
// before it connects. For tcp and udp, addr must be an IP address and port: a name
// would be resolved by net.Dialer on a thread outside the host's namespace, so the
// query would leave the lab. Names are resolved with hop's resolver (package resolve,
// dialing with Dial) against the lab's DNS host.
func (h *Host) DialWith(ctx context.Context, network, addr string, control func(fd uintptr) error) (net.Conn, error) {
	if strings.HasPrefix(network, "tcp") || strings.HasPrefix(network, "udp") {
		if _, err := netip.ParseAddrPort(addr); err != nil {
			return nil, fmt.Errorf("netlab: dial %s %q: want an IP address and port (resolve names with hop's resolver, inside the lab): %w", network, addr, err)
		}
	}
	d := net.Dialer{Control: func(network, _ string, rc syscall.RawConn) error {
		return h.control(network, rc, func(fd uintptr) error {
			if strings.HasPrefix(network, "tcp") {
				if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
					return err
				}
			}
			if control != nil {
				return control(fd)
			}
			return nil
		})
	}}
	switch {
	case strings.HasPrefix(network, "tcp"):
		d.LocalAddr = &net.TCPAddr{IP: h.Addr.AsSlice()}
	case strings.HasPrefix(network, "udp"):
		d.LocalAddr = &net.UDPAddr{IP: h.Addr.AsSlice()}
	}
	var c net.Conn
	err := h.Do(func() (err error) {
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// control sets the lab's options on a new socket: the congestion control on TCP
// sockets, then more.
func (h *Host) control(network string, rc syscall.RawConn, more func(fd uintptr) error) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		if strings.HasPrefix(network, "tcp") {
			if serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, h.lab.cc); serr != nil {
				serr = fmt.Errorf("netlab: congestion control %q: %w", h.lab.cc, serr)
				return
			}
		}
		if more != nil {
			serr = more(fd)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// Sysctl sets a sysctl of the host's namespace; key is a path under /proc/sys, such
// as "net/ipv4/ip_local_port_range".
func (h *Host) Sysctl(key, value string) error {
	return h.Do(func() error { return writeSysctl(key, value) })
}

func writeSysctl(key, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0)
}

// SockStat is the TCP line of the host's /proc/net/sockstat.
type SockStat struct {
	InUse    int // TCP sockets in use (not TIME_WAIT)
	Orphan   int // orphaned sockets (closed by their program, still closing)
	TimeWait int // sockets in TIME_WAIT
}

// SockStat reads the host's TCP socket counters.
func (h *Host) SockStat() (SockStat, error) {
	var s SockStat
	err := h.Do(func() error {
		// /proc/thread-self/net follows the thread's namespace; /proc/self/net would
		// show the main thread's.
		b, err := os.ReadFile("/proc/thread-self/net/sockstat")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			rest, ok := strings.CutPrefix(line, "TCP: ")
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			for i := 0; i+1 < len(f); i += 2 {
				n, _ := strconv.Atoi(f[i+1])
				switch f[i] {
				case "inuse":
					s.InUse = n
				case "orphan":
					s.Orphan = n
				case "tw":
					s.TimeWait = n
				}
			}
			return nil
		}
		return errors.New("netlab: no TCP line in sockstat")
	})
	return s, err
}
