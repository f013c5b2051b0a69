//go:build linux

package capture

import (
	"fmt"
	"io"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Section is one capture to write into a pcapng file, as its own interface.
type Section struct {
	Name    string // the interface's name, e.g. "client (url)"
	Capture *Capture
}

// WritePcap writes, as pcapng, the packets of each section as seen at host's end of
// the link: those host sent, stamped when they left it (the link may have dropped them
// later), and those it received, stamped when they reached it. Each section becomes
// one interface (link type raw IP), in order.
func WritePcap(w io.Writer, host string, sections []Section) error {
	if len(sections) == 0 {
		return fmt.Errorf("capture: no sections")
	}
	intf := func(name string) pcapgo.NgInterface {
		return pcapgo.NgInterface{Name: name, LinkType: layers.LinkTypeRaw, SnapLength: 0, TimestampResolution: 9,
			Description: "hop lab: packets at " + host + "'s end of the link"}
	}
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "hop lab"
	nw, err := pcapgo.NewNgWriterInterface(w, intf(sections[0].Name), opts)
	if err != nil {
		return err
	}
	for i, s := range sections {
		id := 0
		if i > 0 {
			if id, err = nw.AddInterface(intf(s.Name)); err != nil {
				return err
			}
		}
		for _, r := range s.Capture.Involving(host) {
			at, _ := r.At(host)
			ts := s.Capture.Start.Add(at)
			ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(r.Data), Length: max(r.Size, len(r.Data)), InterfaceIndex: id}
			if err := nw.WritePacket(ci, r.Data); err != nil {
				return err
			}
		}
	}
	return nw.Flush()
}
