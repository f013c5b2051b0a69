package connbuf

import "time"

// Deadline keeps one deadline of a connection (read or write) coarse: Move reports
// whether a new deadline must actually be set, so that a busy connection that pushes
// its deadline forward on every read or write touches the runtime's timer only now and
// then. The zero value knows no deadline in force.
type Deadline struct{ at time.Time }

// Move records t as the deadline and reports true — the caller then sets it on the
// net.Conn — unless the deadline in force is at most slack earlier than t: the
// connection may then time out up to slack earlier than asked, which a caller chooses
// to tolerate (say an eighth of the timeout). A deadline in force later than t always
// moves; with a zero slack only an equal one stays.
func (d *Deadline) Move(t time.Time, slack time.Duration) bool {
	if !d.at.IsZero() {
		if diff := t.Sub(d.at); diff >= 0 && diff <= slack {
			return false
		}
	}
	d.at = t
	return true
}

// Forget makes the next Move set its deadline: after the caller set one behind Move's
// back, or cleared it.
func (d *Deadline) Forget() { d.at = time.Time{} }

// At returns the deadline last recorded (zero: none known).
func (d *Deadline) At() time.Time { return d.at }
