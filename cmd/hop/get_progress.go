package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// meter is hop get's progress meter, laid out as curl's so that the habit carries
// over: a two-line header, then one line redrawn in place (carriage return) at most
// once per wall-clock second and once more at the end, with the percentages, sizes,
// average speeds, the times total (estimated from Content-Length), spent and left,
// and the current speed over the last five seconds.
//
//	  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current
//	                                 Dload  Upload   Total   Spent    Left  Speed
//	100 1024k  100 1024k    0     0  98.9M      0 --:--:-- --:--:-- --:--:--  100M
type meter struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time

	start            time.Time
	dlSize, ulSize   int64 // -1 while unknown
	dl, ul           int64
	lastShow         int64 // unix second of the last redraw
	samples          [meterSamples]meterSample
	nsamples         int
	currentSpeed     int64
	stopped          bool
	stop, tickerDone chan struct{}
}

type meterSample struct {
	at time.Time
	n  int64
}

// meterSamples is how many once-a-second samples the current speed spans, plus one
// (curl's CURR_TIME).
const meterSamples = 6

// startMeter writes the header to w and starts redrawing every second until finish.
func startMeter(w io.Writer) *meter {
	m := newMeter(w, time.Now)
	m.stop, m.tickerDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.tickerDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.update(false)
			}
		}
	}()
	return m
}

// newMeter is a meter without the ticker, on the given clock (for tests).
func newMeter(w io.Writer, now func() time.Time) *meter {
	m := &meter{w: w, now: now, start: now(), dlSize: -1, ulSize: -1, lastShow: -1}
	io.WriteString(w, "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"+
		"                                 Dload  Upload   Total   Spent    Left  Speed\n")
	return m
}

// sizes sets the expected download and upload sizes (-1: unknown).
func (m *meter) sizes(download, upload int64) {
	m.mu.Lock()
	m.dlSize, m.ulSize = download, upload
	m.mu.Unlock()
}

// uploaded records the request body as sent.
func (m *meter) uploaded(n int64) {
	m.mu.Lock()
	m.ul = n
	m.mu.Unlock()
	m.update(false)
}

// add counts n more body bytes received.
func (m *meter) add(n int) {
	m.mu.Lock()
	m.dl += int64(n)
	m.mu.Unlock()
	m.update(false)
}

// finish draws the final line, ends it and stops the ticker. It is idempotent.
func (m *meter) finish() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.lastShow = -1 // the final line is recomputed, whatever the second
	m.mu.Unlock()
	m.update(true)
	m.mu.Lock()
	m.stopped = true
	io.WriteString(m.w, "\n")
	m.mu.Unlock()
	if m.stop != nil {
		close(m.stop)
		<-m.tickerDone
	}
}

// update recomputes the figures when the second changed (or force) and redraws.
func (m *meter) update(force bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	now := m.now()
	if sec := now.Unix(); sec != m.lastShow {
		m.lastShow = sec
		m.sample(now)
	} else if !force {
		return
	}
	io.WriteString(m.w, m.line(now))
}

// sample stores the bytes moved so far and derives the current speed from the oldest
// sample kept (the average speed during the first second).
func (m *meter) sample(now time.Time) {
	i := m.nsamples % meterSamples
	m.samples[i] = meterSample{now, m.dl + m.ul}
	m.nsamples++
	if m.nsamples == 1 {
		spent := now.Sub(m.start)
		m.currentSpeed = speed(m.dl, spent) + speed(m.ul, spent)
		return
	}
	oldest := m.samples[0]
	if m.nsamples >= meterSamples {
		oldest = m.samples[m.nsamples%meterSamples]
	}
	span := now.Sub(oldest.at).Milliseconds()
	if span == 0 {
		span = 1
	}
	m.currentSpeed = (m.samples[i].n - oldest.n) * 1000 / span
}

// line renders the meter line (starting with a carriage return).
func (m *meter) line(now time.Time) string {
	spent := now.Sub(m.start)
	secs := int64(spent / time.Second)
	dlSpeed, ulSpeed := speed(m.dl, spent), speed(m.ul, spent)
	estimate := func(size, done, rate int64) (seconds, percent int64) {
		if size < 0 || rate <= 0 {
			return 0, 0
		}
		return size / rate, percentOf(done, size)
	}
	dlEst, dlPct := estimate(m.dlSize, m.dl, dlSpeed)
	ulEst, ulPct := estimate(m.ulSize, m.ul, ulSpeed)
	total := max(dlEst, ulEst)
	left := int64(0)
	if total > 0 {
		left = total - secs
	}
	expected := m.ul + m.dl
	if m.ulSize >= 0 {
		expected += m.ulSize - m.ul
	}
	if m.dlSize >= 0 {
		expected += m.dlSize - m.dl
	}
	return fmt.Sprintf("\r%3d %s  %3d %s  %3d %s  %s  %s %s %s %s %s",
		percentOf(m.dl+m.ul, expected), max5(expected), dlPct, max5(m.dl), ulPct, max5(m.ul),
		max5(dlSpeed), max5(ulSpeed), clock8(total), clock8(secs), clock8(left), max5(m.currentSpeed))
}

// percentOf is done as a percentage of size, in whole percent.
func percentOf(done, size int64) int64 {
	switch {
	case size > 10000:
		return done / (size / 100)
	case size > 0:
		return done * 100 / size
	}
	return 0
}

// max5 writes a byte count in at most five columns: 12345, 1234k, 12.3M, 1234M,
// 12.3G... (binary multiples).
func max5(n int64) string {
	const k, M, G, T, P = 1 << 10, 1 << 20, 1 << 30, 1 << 40, 1 << 50
	switch {
	case n < 100000:
		return fmt.Sprintf("%5d", n)
	case n < 10000*k:
		return fmt.Sprintf("%4dk", n/k)
	case n < 100*M:
		return fmt.Sprintf("%2d.%dM", n/M, n%M/(M/10))
	case n < 10000*M:
		return fmt.Sprintf("%4dM", n/M)
	case n < 100*G:
		return fmt.Sprintf("%2d.%dG", n/G, n%G/(G/10))
	case n < 10000*G:
		return fmt.Sprintf("%4dG", n/G)
	case n < 10000*T:
		return fmt.Sprintf("%4dT", n/T)
	}
	return fmt.Sprintf("%4dP", n/P)
}

// clock8 writes seconds in eight columns: " 0:01:05", "--:--:--" for none, then days
// and hours past 99 hours.
func clock8(s int64) string {
	if s <= 0 {
		return "--:--:--"
	}
	if h := s / 3600; h <= 99 {
		return fmt.Sprintf("%2d:%02d:%02d", h, s%3600/60, s%60)
	}
	if d := s / 86400; d <= 999 {
		return fmt.Sprintf("%3dd %02dh", d, s%86400/3600)
	}
	return fmt.Sprintf("%7dd", s/86400)
}
