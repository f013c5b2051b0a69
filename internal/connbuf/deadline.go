package connbuf

import "time"

// Deadline keeps one deadline of a connection (read or write) coarse: Move reports
// whether a new deadline must actually be set, so that a busy connection that pushes
// its deadline forward on every read or write touches the runtime's timer only now and
// then. It compares Unix nanoseconds (time.Time's Sub costs several times as much, on
// a path taken once per request). The zero value knows no deadline in force.
type Deadline struct {
	at   int64 // the deadline in force, in Unix nanoseconds (0: unknown)
	none bool  // the deadline in force is none (cleared)
}

// Move records t as the deadline and reports true — the caller then sets it on the
// net.Conn — unless the deadline in force is at most slack earlier than t: the
// connection may then time out up to slack earlier than asked, which a caller chooses
// to tolerate (say an eighth of the timeout). A deadline in force later than t always
// moves; with a zero slack only an equal one stays. A zero t (no deadline) moves once.
func (d *Deadline) Move(t time.Time, slack time.Duration) bool {
	if t.IsZero() {
		if d.none {
			return false
		}
		d.at, d.none = 0, true
		return true
	}
	ns := t.UnixNano()
	if d.at != 0 {
		if diff := ns - d.at; diff >= 0 && diff <= int64(slack) {
			return false
		}
	}
	d.at, d.none = ns, false
	return true
}

// Forget makes the next Move set its deadline: after the caller set one behind Move's
// back, or cleared it.
func (d *Deadline) Forget() { d.at, d.none = 0, false }

// At returns the deadline last recorded (zero: none, or none known).
func (d *Deadline) At() time.Time {
	if d.at == 0 {
		return time.Time{}
	}
	return time.Unix(0, d.at)
}
