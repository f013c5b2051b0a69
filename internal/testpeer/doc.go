// Package testpeer owns how hop's tests find the real programs they talk to (curl,
// nginx, python3, wrk, chromium...) and how they start nginx. A missing program skips
// the test, unless the environment variable HOP_REQUIRE_PEERS=1 is set (as in CI),
// where it fails the test instead, so that no peer test can silently skip there. It is
// imported only by _test files.
package testpeer
