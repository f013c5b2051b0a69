//go:build race

package integration

// raceEnabled reports that the test binary, and so the server binary it builds, uses
// the race detector.
const raceEnabled = true
