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

. ../lib.sh
SIZES=${SIZES:-"1k 64k"}
IMPLS=${IMPLS:-"hop nginx httputil"}
front_env 18180

note "building into $BIN"
(cd ../.. && go build -o "benchmarks/proxy/$BIN/hop" ./cmd/hop)
(cd .. && go build -o "proxy/$BIN/httputilproxy" ./proxy/httputilproxy)

# The origin: nginx serving the response bodies as static files, keep-alive.
mkdir -p "$WORK/www" "$WORK/origin" "$WORK/nginxproxy"
head -c 1024 /dev/zero | tr '\0' 'a' >"$WORK/www/1k"
head -c 65536 /dev/zero | tr '\0' 'b' >"$WORK/www/64k"
nginx_conf "$WORK/origin" "127.0.0.1:$ORIGIN_PORT" "access_log off;" "root $WORK/www; sendfile on; tcp_nopush on;" >"$WORK/origin/nginx.conf"
nginx_conf "$WORK/nginxproxy" "127.0.0.1:$PORT" \
	"upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 128; }" \
	'location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering on; }' \
	>"$WORK/nginxproxy/nginx.conf"
# Neither nginx logs requests (the directive given last wins).
sed -i "0,/access_log .*;/s//access_log off;/" "$WORK/nginxproxy/nginx.conf"

start_origin "$WORK/origin" "$WORK/origin/nginx.conf"

start_proxy() { # impl
	local up=http://127.0.0.1:$ORIGIN_PORT
	case $1 in
	hop) start_front env GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/hop" proxy --addr "127.0.0.1:$PORT" --upstream "$up" --access-log off ;;
	nginx) start_front taskset -c "$PROXY_CPU" "$NGINX" -p "$WORK/nginxproxy" -c "$WORK/nginxproxy/nginx.conf" ;;
	httputil) start_front env GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/httputilproxy" -addr "127.0.0.1:$PORT" -upstream "$up" ;;
	*) echo "run.sh: unknown impl $1" >&2; exit 2 ;;
	esac
}

# measure IMPL SIZE: one warm-up and one measured run; prints "REQS_PER_SEC CPU_US P50_MS".
measure() {
	local url=http://127.0.0.1:$PORT/$2
	if [[ $1 == direct ]]; then
		url=http://127.0.0.1:$ORIGIN_PORT/$2
	else
		start_proxy "$1"
	fi
	warm_front "$url"
	measure_front "$url"
	stop_front
}

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

col() { raw_median "$RAW" "$@"; }
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
