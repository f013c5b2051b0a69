#!/usr/bin/env bash
# Compares "hop bench" with wrk as load generators, against the same target, in the
# same run. The target is pinned to SERVER_CORE: by default gnet's plaintext server
# (benchmarks/cmd/plainserver -impl gnet, GOMAXPROCS=1), which spends less CPU per
# request than either generator, so that the generator's core is the one that
# saturates and the comparison says something; TARGET=hop is hop's plaintext server,
# TARGET=nginx one nginx worker (return 200 "Hello, World!") — against nginx both
# generators are held at nginx's rate. wrk (-t1) and hop bench (GOMAXPROCS=1) take
# turns on LOAD_CORE with the same connections and duration, keep-alive and pipelined,
# REPEATS times, alternating which goes first. The table gives requests/s and the CPU
# time each load generator spent per request (user + system, from /usr/bin/time), as
# medians with their spread, and per repeat the efficiency wrk's CPU per request ÷ hop
# bench's (above 1: hop bench spends less).
#
#   benchmarks/generators/run.sh                   # TARGET=gnet DUR=5 REPEATS=5 CONNS=50 PIPELINE=16
#   DUR=3 MODES="keepalive pipelined close" TARGET=nginx benchmarks/generators/run.sh
set -euo pipefail

DUR=${DUR:-5}
REPEATS=${REPEATS:-5}
TARGET=${TARGET:-gnet}
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
case $TARGET in
nginx)
  mkdir -p "$tmp/nginx"
  nginx_conf "$tmp/nginx" "127.0.0.1:$port" "access_log off;" \
    'location / { default_type text/plain; return 200 "Hello, World!"; }' >"$tmp/nginx/nginx.conf"
  taskset -c "$SERVER_CORE" "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
  url="http://127.0.0.1:$port/"
  ;;
gnet | hop | fasthttp)
  (cd "$here/.." && go build -o "$tmp/plainserver" ./cmd/plainserver)
  GOMAXPROCS=1 taskset -c "$SERVER_CORE" "$tmp/plainserver" -impl "$TARGET" -addr "127.0.0.1:$port" 2>"$tmp/target.log" &
  url="http://127.0.0.1:$port/plaintext"
  ;;
*)
  echo "run.sh: TARGET is nginx, gnet, hop or fasthttp" >&2
  exit 2
  ;;
esac
target_pid=$!
track "$target_pid"
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

echo "target $TARGET on core $SERVER_CORE ($url), load generators on core $LOAD_CORE: $CONNS connections, ${DUR}s runs," \
  "$REPEATS repeats; load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A wrk_rps hop_rps wrk_cpu hop_cpu eff
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
    eff[$mode]+="$(ratio "$wc" "$hc") "
    printf '  repeat %d %-10s wrk %10.0f req/s %7.2f us/req   hop %10.0f req/s %7.2f us/req   efficiency %s\n' \
      "$rep" "$mode" "$w" "$wc" "$h" "$hc" "$(ratio "$wc" "$hc")"
  done
done

# spread "V V V...": "MEDIAN [MIN-MAX]" with the given printf format for each.
spread() {
  tr ' ' '\n' <<<"$1" | grep . | sort -g | awk -v f="$2" '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf f " [" f "-" f "]", m, v[1], v[NR] }'
}
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
echo "medians [min-max] of $REPEATS (req/s: higher is better; CPU us per request of the load generator: lower is better;"
echo "efficiency: wrk's CPU per request / hop bench's, per repeat)"
printf '%-14s %24s %24s %8s %20s %20s %20s\n' mode "wrk req/s" "hop req/s" hop/wrk "wrk cpu us/req" "hop cpu us/req" efficiency
for mode in $MODES; do
  label=$mode
  [ "$mode" = pipelined ] && label="pipelined $PIPELINE"
  printf '%-14s %24s %24s %8s %20s %20s %20s\n' "$label" "$(spread "${wrk_rps[$mode]}" %.0f)" "$(spread "${hop_rps[$mode]}" %.0f)" \
    "$(ratio "$(med "${hop_rps[$mode]}")" "$(med "${wrk_rps[$mode]}")")" "$(spread "${wrk_cpu[$mode]}" %.2f)" \
    "$(spread "${hop_cpu[$mode]}" %.2f)" "$(spread "${eff[$mode]}" %.2f)"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q '"errors":[1-9]' "$tmp/hop.log" 2>/dev/null || grep -q 'Socket errors' "$tmp/wrk.log" 2>/dev/null; then
  echo "note: errors were reported:"
  grep -h 'Socket errors' "$tmp/wrk.log" || true
  grep -o '"errors_by_kind":{[^}]*}' "$tmp/hop.log" | sort | uniq -c || true
  grep -o '"first_errors":{[^}]*}' "$tmp/hop.log" | sort | uniq -c || true
fi
