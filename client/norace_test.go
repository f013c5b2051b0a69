//go:build !race

package client

// raceEnabled reports that the race detector is on (tests scale down their loops).
const raceEnabled = false
