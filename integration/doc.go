// Package integration holds hop's cross-program tests: they build examples/plaintext,
// run it on a free loopback port (natively and with -adapter) and drive it with real
// peer programs — curl, python3's http.client, ApacheBench, h2load, wrk, nginx as a
// reverse proxy — and with net/http's client, asserting on what each peer reports
// (statuses, bodies, error counters and connection reuse).
//
// The package has no non-test code. A peer that is not installed makes its test skip
// (internal/testpeer), unless the environment variable HOP_REQUIRE_PEERS=1 is set (as
// in CI), in which case the test fails. When the tests run with -race, the server binary is built with -race
// too and any data race it reports fails the test that started it.
package integration
