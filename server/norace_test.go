//go:build !race

package server_test

// raceEnabled reports that the race detector is on: sync.Pool then drops a quarter of
// what is put back, so allocation counts through pools mean nothing.
const raceEnabled = false
