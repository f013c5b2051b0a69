#!/usr/bin/env bash
# run.sh — hop proxy vs nginx proxy_pass (upstream keepalive) vs net/http's
# httputil.ReverseProxy, as reverse proxies in front of one origin. See README.md.
#
#   ./run.sh
#
# The proxy under test runs on PROXY_CPU (GOMAXPROCS=1 for the Go ones, one worker for
# nginx); the origin (nginx serving static files) and wrk share LOAD_CPU. Every run is
# keep-alive with CONNS connections. For each response size, the proxies (and a direct
# run against the origin, for the added latency) are measured in turn, REPEAT times
# interleaved, and the median of each figure is reported:
#   req/s        wrk's requests per second
#   cpu_us/req   CPU time of the proxy's process tree per request (/proc, via
#                ../../../shared/tools/cpu-per-request): the fair figure when the origin
#                and wrk saturate their shared core first
#   p50_ms       wrk's median latency; "added" is p50 minus the direct run's p50
#
# Environment (defaults in brackets):
#   DUR [10] seconds per run     WARM [2] seconds of warm-up     REPEAT [5] interleaved runs
#   CONNS [50]   SIZES ["1k 64k"]   IMPLS ["hop nginx httputil"]
#   PROXY_CPU [0]   LOAD_CPU [1]   PORT [18180] (the proxy; the origin uses PORT+1)
#   CPU_PER_REQUEST [../../../shared/tools/cpu-per-request]
set -euo pipefail
cd "$(dirname "$0")"

DUR=${DUR:-10}
WARM=${WARM:-2}
REPEAT=${REPEAT:-5}
CONNS=${CONNS:-50}
SIZES=${SIZES:-"1k 64k"}
IMPLS=${IMPLS:-"hop nginx httputil"}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-18180}
ORIGIN_PORT=$((PORT + 1))
CPU_PER_REQUEST=${CPU_PER_REQUEST:-$(cd ../../.. && pwd)/shared/tools/cpu-per-request}

need() { command -v "$1" >/dev/null || { echo "run.sh: $1 not found ($2)" >&2; exit 1; }; }
need go "Go toolchain"
need taskset "util-linux"
need wrk "apt-get install wrk"
need curl "apt-get install curl"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || { echo "run.sh: nginx not found (apt-get install nginx)" >&2; exit 1; }
[[ -x $CPU_PER_REQUEST ]] || { echo "run.sh: $CPU_PER_REQUEST not found or not executable (set CPU_PER_REQUEST)" >&2; exit 1; }

BIN=results/bin
mkdir -p "$BIN"
OUT=results/$(date -u +%Y-%m-%dT%H%M%SZ).txt
WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "$*" | tee -a "$OUT"; }
note() { echo "run.sh: $*" >&2; }

note "building into $BIN"
(cd ../.. && go build -o "benchmarks/proxy/$BIN/hop" ./cmd/hop)
(cd .. && go build -o "proxy/$BIN/httputilproxy" ./proxy/httputilproxy)

# The origin: nginx serving the response bodies as static files, keep-alive.
mkdir -p "$WORK/www" "$WORK/origin" "$WORK/nginxproxy"
head -c 1024 /dev/zero | tr '\0' 'a' >"$WORK/www/1k"
head -c 65536 /dev/zero | tr '\0' 'b' >"$WORK/www/64k"
nginx_conf() { # dir listen body-of-server
	cat <<EOF
daemon off; master_process off; worker_processes 1;
pid $1/nginx.pid; error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
  keepalive_requests 1000000; keepalive_timeout 300s;
  $3
  server { listen $2; $4 }
}
EOF
}
nginx_conf "$WORK/origin" "127.0.0.1:$ORIGIN_PORT" "" "root $WORK/www; sendfile on; tcp_nopush on;" >"$WORK/origin/nginx.conf"
nginx_conf "$WORK/nginxproxy" "127.0.0.1:$PORT" \
	"upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 128; }" \
	'location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering on; }' \
	>"$WORK/nginxproxy/nginx.conf"

wait_url() { # url pid
	local i
	for i in $(seq 1 100); do
		curl -sf -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: nothing answers on $1" >&2
	exit 1
}

taskset -c "$LOAD_CPU" "$NGINX" -p "$WORK/origin" -c "$WORK/origin/nginx.conf" 2>>"$WORK/origin.log" &
ORIGIN_PID=$!
PIDS+=("$ORIGIN_PID")
wait_url "http://127.0.0.1:$ORIGIN_PORT/1k" "$ORIGIN_PID"

PROXY_PID=
start_proxy() { # impl
	local up=http://127.0.0.1:$ORIGIN_PORT
	case $1 in
	direct) PROXY_PID=; return 0 ;;
	hop)
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/hop" proxy --addr "127.0.0.1:$PORT" --upstream "$up" \
			--access-log off 2>>"$WORK/proxy.log" &
		;;
	nginx)
		taskset -c "$PROXY_CPU" "$NGINX" -p "$WORK/nginxproxy" -c "$WORK/nginxproxy/nginx.conf" 2>>"$WORK/proxy.log" &
		;;
	httputil)
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/httputilproxy" -addr "127.0.0.1:$PORT" -upstream "$up" 2>>"$WORK/proxy.log" &
		;;
	*) echo "run.sh: unknown impl $1" >&2; exit 2 ;;
	esac
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	wait_url "http://127.0.0.1:$PORT/1k" "$PROXY_PID"
}
stop_proxy() {
	if [[ -n $PROXY_PID ]]; then
		kill "$PROXY_PID" 2>/dev/null || true
		wait "$PROXY_PID" 2>/dev/null || true
		PROXY_PID=
	fi
}

# measure IMPL SIZE: one warm-up and one measured run; prints "REQS_PER_SEC CPU_US P50_MS".
measure() {
	local impl=$1 size=$2 port=$PORT out=$WORK/wrk.out
	[[ $impl == direct ]] && port=$ORIGIN_PORT
	local url=http://127.0.0.1:$port/$size
	start_proxy "$impl"
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARM}s" "$url" >/dev/null 2>&1 || true
	local cpu=nan
	if [[ -n $PROXY_PID ]]; then
		"$CPU_PER_REQUEST" "$PROXY_PID" -- taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$out" 2>&1 || true
		cpu=$(awk '/^cpu-per-request:/{print $2}' "$out")
	else
		taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$out" 2>&1 || true
	fi
	stop_proxy
	if grep -qE 'Non-2xx|Socket errors' "$out"; then
		note "$impl $size: wrk reports errors:"
		grep -E 'Non-2xx|Socket errors' "$out" >&2
	fi
	local rps p50
	rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
	p50=$(awk '$1=="50%"{v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$out")
	echo "${rps:-0} ${cpu:-nan} ${p50:-nan}"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

log "hop proxy benchmark $(date -u +%FT%TZ); proxy on CPU $PROXY_CPU, origin (nginx static) and wrk on CPU $LOAD_CPU;" \
	"$CONNS connections keep-alive; ${DUR}s runs after ${WARM}s warm-up; median of $REPEAT interleaved runs;" \
	"go $(go env GOVERSION); $("$NGINX" -v 2>&1 | cut -d' ' -f3); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
RAW=$WORK/raw
: >"$RAW"
for size in $SIZES; do
	for rep in $(seq 1 "$REPEAT"); do
		for impl in direct $IMPLS; do
			read -r rps cpu p50 < <(measure "$impl" "$size")
			note "$size run $rep $impl: $rps req/s, $cpu us CPU/req, p50 $p50 ms"
			echo "$size $impl $rps $cpu $p50" >>"$RAW"
		done
	done
done

col() { awk -v s="$1" -v i="$2" -v c="$3" '$1==s && $2==i {print $c}' "$RAW" | median; }
for size in $SIZES; do
	direct_p50=$(col "$size" direct 5)
	log ""
	log "response $size (direct to the origin: $(col "$size" direct 3) req/s, p50 $direct_p50 ms)"
	log "$(printf '%-10s %12s %12s %10s %10s %16s' impl req/s cpu_us/req p50_ms added_ms 'cpu ratio vs hop')"
	hop_cpu=$(col "$size" hop 4)
	for impl in $IMPLS; do
		rps=$(col "$size" "$impl" 3)
		cpu=$(col "$size" "$impl" 4)
		p50=$(col "$size" "$impl" 5)
		added=$(awk -v a="$p50" -v b="$direct_p50" 'BEGIN{printf "%.3f", a-b}')
		ratio=$(awk -v a="$cpu" -v b="$hop_cpu" 'BEGIN{if (b>0) printf "%.2fx", a/b; else print "-"}')
		log "$(printf '%-10s %12s %12s %10s %10s %16s' "$impl" "$rps" "$cpu" "$p50" "$added" "$ratio")"
	done
done
log ""
log "cpu ratio: the implementation's CPU time per request over hop's (targets: nginx >= 1.2x, httputil >= 2x)"
note "results in $OUT"
