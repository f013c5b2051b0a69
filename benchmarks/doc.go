// Package benchmarks compares hop with net/http and fasthttp side by side. It is a
// separate module so that the main module never depends on a peer used only for
// comparison.
//
// The package itself holds only Go benchmarks (go test -bench . -benchmem): the same
// plaintext handler on every implementation, over an in-memory connection (parse,
// dispatch and serialize without system calls) and over TCP loopback. The servers live
// in package servers, the load scripts in run.sh (throughput with wrk and h2load) and
// cmd/idleconns (memory per idle connection). Package client compares the HTTP clients
// (hop's, fasthttp's, net/http's) against one nginx, and generators/run.sh compares
// "hop bench" with wrk as load generators. README.md explains how to run and read
// them.
package benchmarks
