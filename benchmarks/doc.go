// Package benchmarks compares hop with net/http and fasthttp side by side. It is a
// separate module so that the main module never depends on a peer used only for
// comparison. See README.md for the scripts.
package benchmarks
