package server

import (
	"io"
	"time"
)

// The context watch. A handler that calls Request.Context wants to learn when the
// client goes away. Once the request body has been read (or there is none), nothing
// else reads the connection while the handler runs, so a background read of one byte
// notices a close or reset; a byte that arrives instead (a pipelined request) is kept
// for the next parse.

// watch is a connection's background read while its handler runs.
type watch struct {
	active bool
	done   chan struct{}
	peek   [1]byte
	n      int
	err    error
}

// startWatch begins the background read, unless it runs already or cannot help.
func (c *conn) startWatch() {
	if c.watch.active || c.dead || c.phase != phaseHandler {
		return
	}
	if c.in.Len() > 0 {
		// Input is already buffered: the client was alive a moment ago, and a read now
		// would have to be ordered after those bytes. Nothing to watch.
		return
	}
	c.watch.active = true
	if c.watch.done == nil {
		c.watch.done = make(chan struct{}, 1)
	}
	c.watch.n, c.watch.err = 0, nil
	c.nc.SetReadDeadline(time.Time{})
	c.rd.Forget()
	go func() {
		n, err := c.nc.Read(c.watch.peek[:])
		c.watch.n, c.watch.err = n, err
		if n == 0 && err != nil && !isTimeout(err) {
			c.req.cancel()
		}
		c.watch.done <- struct{}{}
	}()
}

// stopWatch ends the background read and keeps what it read.
func (c *conn) stopWatch() {
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-c.watch.done
	c.watch.active = false
	c.rd.Forget()
	switch err := c.watch.err; {
	case c.watch.n > 0:
		c.in.AppendByte(c.watch.peek[0])
	case err == io.EOF:
		// The client finished sending (a half-close); it may still read: answer, then close.
		c.w.keepAlive = false
	case err != nil && !isTimeout(err):
		c.dead = true
	}
}
