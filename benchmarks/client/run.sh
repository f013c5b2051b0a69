#!/usr/bin/env bash
# run.sh — hop's client beside fasthttp's and net/http's, against the same nginx, in the
# same run. nginx (worker_processes 1) is pinned to SERVER_CPU; the benchmark process
# (GOMAXPROCS=1) to CLIENT_CPU. The clients take turns, ROUNDS times, so that drifts of
# the shared machine hit them alike; the table gives the median requests/s and the
# median CPU time per request of the client process (user + system), and the ratios
# hop/fasthttp (above 1.0 hop is faster; for CPU, hop/fasthttp below 1.0 is better).
# hop-nocheck is hop with LivenessCheckMinIdle=1ms: the difference is what the
# liveness check before each reuse (one non-blocking peek system call) costs.
#
#   benchmarks/client/run.sh                       # ROUNDS=5 BENCHTIME=2s CONNS="1 50"
#   ROUNDS=9 CONNS=50 IMPLS="hop fasthttp" benchmarks/client/run.sh
set -euo pipefail

ROUNDS=${ROUNDS:-5}
BENCHTIME=${BENCHTIME:-2s}
CONNS=${CONNS:-"1 50"}
IMPLS=${IMPLS:-"hop hop-nocheck fasthttp nethttp hop-roundtripper"}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && go test -c -o "$tmp/client.test" .)

for r in $(seq 1 "$ROUNDS"); do
  for c in $CONNS; do
    for impl in $IMPLS; do
      SERVER_CPU=$SERVER_CPU CONNS=$c GOMAXPROCS=1 taskset -c "$CLIENT_CPU" \
        "$tmp/client.test" -test.run '^$' -test.bench "^BenchmarkGet\$/^$impl\$/^conns=$c\$" \
        -test.benchtime "$BENCHTIME" -test.benchmem | grep '^BenchmarkGet' >>"$tmp/results" || true
    done
  done
  echo "round $r done" >&2
done

# Lines: BenchmarkGet/IMPL/conns=N  iters  ns/op  cpu-ns/op  req/s  B/op  allocs/op
awk '
function median(list,   n, a, i, j, t) {
  n = split(list, a, " ")
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
  split($1, p, "/"); impl = p[2]; sub(/-[0-9]+$/, "", p[3]); conns = p[3]
  for (i = 2; i <= NF; i++) {
    if ($(i + 1) == "req/s") rps[impl, conns] = rps[impl, conns] " " $i
    if ($(i + 1) == "cpu-ns/op") cpu[impl, conns] = cpu[impl, conns] " " $i
    if ($(i + 1) == "allocs/op") allocs[impl, conns] = $i
  }
  seen[impl] = 1; seenc[conns] = 1
}
END {
  printf "%-18s %-9s %12s %14s %10s\n", "client", "conns", "req/s", "cpu-us/req", "allocs/op"
  for (c in seenc) for (impl in seen) if ((impl, c) in rps) {
    R[impl, c] = median(rps[impl, c]); C[impl, c] = median(cpu[impl, c])
    printf "%-18s %-9s %12.0f %14.2f %10s\n", impl, c, R[impl, c], C[impl, c] / 1000, allocs[impl, c]
  }
  for (c in seenc) for (impl in seen) for (peer in seen)
    if (impl ~ /^hop/ && (peer == "fasthttp" || peer == "nethttp") && (impl, c) in R && (peer, c) in R)
      printf "%s/%s %s: throughput %.2fx, cpu per request %.2fx\n", impl, peer, c, R[impl, c] / R[peer, c], C[impl, c] / C[peer, c]
}' "$tmp/results"
