#!/usr/bin/env bash
# Compares "hop bench" with wrk as load generators, against the same nginx, in the
# same run. nginx (worker_processes 1, return 200 "Hello, World!", access_log off)
# is pinned to SERVER_CORE; wrk (-t1) and hop bench (GOMAXPROCS=1) take turns on
# LOAD_CORE with the same connections and duration, keep-alive and pipelined, a few
# repeats. The table gives the median requests/s of each, the ratio hop/wrk, and the
# CPU time each load generator spent per request (user + system, from
# /usr/bin/time): the cost of generating the load, which the machine's other load
# disturbs less than the throughput.
#
#   benchmarks/generators/run.sh                   # DUR=5 REPEATS=3 CONNS=50 PIPELINE=16
#   DUR=3 REPEATS=5 MODES="keepalive pipelined close" benchmarks/generators/run.sh
#
# Both generators are limited by the same server core, so a ratio near 1.0 means hop
# bench drives nginx as hard as wrk does; above 1.0 it drives it harder. On a shared
# machine absolute numbers drift; compare the ratios, which come from back-to-back runs.
set -euo pipefail

DUR=${DUR:-5}
REPEATS=${REPEATS:-3}
CONNS=${CONNS:-50}
PIPELINE=${PIPELINE:-16}
MODES=${MODES:-"keepalive pipelined"}
SERVER_CORE=${SERVER_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
WRK=${WRK:-$(command -v wrk || true)}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib.sh"
[ -n "$WRK" ] || { echo "run.sh: missing wrk" >&2; exit 1; }
for tool in "$NGINX" "$WRK" taskset python3 /usr/bin/time; do
  need "$tool" "apt-get install it"
done

bench_workdir
tmp=$WORK

(cd "$root" && go build -o "$tmp/hop" ./cmd/hop)

port=$(free_port)
mkdir -p "$tmp/nginx"
nginx_conf "$tmp/nginx" "127.0.0.1:$port" "access_log off;" \
  'location / { default_type text/plain; return 200 "Hello, World!"; }' >"$tmp/nginx/nginx.conf"
taskset -c "$SERVER_CORE" "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
nginx_pid=$!
track "$nginx_pid"
url="http://127.0.0.1:$port/"
wait_port "$port"

# timed CMD... runs CMD with its stdout to $tmp/out and prints the CPU seconds
# (user + system) it used.
timed() {
  /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >"$tmp/out"
  awk '{print $1 + $2}' "$tmp/time"
}

# run_wrk MODE -> "requests/s cpu-us-per-request"
run_wrk() {
  local args=(-t1 -c"$CONNS" -d"${DUR}s")
  case $1 in
    pipelined) args+=(-s "$here/../pipeline.lua") ;;
    close) args+=(-H "Connection: close") ;;
  esac
  local cpu
  if [ "$1" = pipelined ]; then
    cpu=$(timed taskset -c "$LOAD_CORE" "$WRK" "${args[@]}" "$url" -- "$PIPELINE")
  else
    cpu=$(timed taskset -c "$LOAD_CORE" "$WRK" "${args[@]}" "$url")
  fi
  cat "$tmp/out" >>"$tmp/wrk.log"
  awk -v cpu="$cpu" '/requests in/ {n = $1} /^Requests\/sec:/ {r = $2}
    END {printf "%s %.3f\n", r, n ? cpu * 1e6 / n : 0}' "$tmp/out"
}

# run_hop MODE -> "requests/s cpu-us-per-request"
run_hop() {
  local args=(-c "$CONNS" -d "${DUR}s" --json)
  case $1 in
    pipelined) args+=(--pipeline "$PIPELINE") ;;
    close) args+=(--close) ;;
  esac
  local cpu
  cpu=$(timed env GOMAXPROCS=1 taskset -c "$LOAD_CORE" "$tmp/hop" bench "${args[@]}" "$url")
  cat "$tmp/out" >>"$tmp/hop.log"
  python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); n = j["requests"]
print("%s %.3f" % (j["requests_per_sec"], float(sys.argv[2]) * 1e6 / n if n else 0))' "$tmp/out" "$cpu"
}

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b if b else 0))" "$1" "$2"; }

echo "nginx on core $SERVER_CORE, load generators on core $LOAD_CORE: $CONNS connections, ${DUR}s runs, $REPEATS repeats"
declare -A wrk_rps hop_rps wrk_cpu hop_cpu
for rep in $(seq 1 "$REPEATS"); do
  for mode in $MODES; do
    # Alternate which generator goes first, so drift in the machine's load hits both.
    if [ $((rep % 2)) -eq 1 ]; then
      read -r w wc < <(run_wrk "$mode"); read -r h hc < <(run_hop "$mode")
    else
      read -r h hc < <(run_hop "$mode"); read -r w wc < <(run_wrk "$mode")
    fi
    wrk_rps[$mode]+="$w "; hop_rps[$mode]+="$h "
    wrk_cpu[$mode]+="$wc "; hop_cpu[$mode]+="$hc "
    printf '  repeat %d %-10s wrk %10.0f req/s %7.2f us/req   hop %10.0f req/s %7.2f us/req   hop/wrk %s\n' \
      "$rep" "$mode" "$w" "$wc" "$h" "$hc" "$(ratio "$h" "$w")"
  done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
echo "medians (req/s: higher is better; CPU us per request of the load generator: lower is better)"
printf '%-14s %12s %12s %8s %12s %12s\n' mode "wrk req/s" "hop req/s" hop/wrk "wrk cpu/req" "hop cpu/req"
for mode in $MODES; do
  w=$(med "${wrk_rps[$mode]}"); h=$(med "${hop_rps[$mode]}")
  wc=$(med "${wrk_cpu[$mode]}"); hc=$(med "${hop_cpu[$mode]}")
  label=$mode
  [ "$mode" = pipelined ] && label="pipelined $PIPELINE"
  printf '%-14s %12.0f %12.0f %8s %10.2fus %10.2fus\n' "$label" "$w" "$h" "$(ratio "$h" "$w")" "$wc" "$hc"
done
if grep -q '"errors":[1-9]' "$tmp/hop.log" 2>/dev/null || grep -q 'Socket errors' "$tmp/wrk.log" 2>/dev/null; then
  echo "note: errors were reported:"
  grep -h 'Socket errors' "$tmp/wrk.log" || true
  grep -o '"errors_by_kind":{[^}]*}' "$tmp/hop.log" | sort | uniq -c || true
  grep -o '"first_errors":{[^}]*}' "$tmp/hop.log" | sort | uniq -c || true
fi
