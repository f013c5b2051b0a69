#!/usr/bin/env bash
# run.sh — cache hits: hop proxy --cache (memory), hop proxy --cache-dir (disk,
# sendfile), nginx proxy_cache (warm) and Varnish (malloc storage), each a reverse
# proxy cache in front of one origin, all answering from their cache.
#
#   ./run.sh
#
# The cache under test runs on PROXY_CPU (GOMAXPROCS=1 for hop; one worker for nginx;
# varnishd's whole process tree pinned); the origin (nginx, static files with
# Cache-Control: max-age=3600) and wrk share LOAD_CPU, though after the warm-up the
# origin is not asked again. Every run is keep-alive with CONNS connections. For each
# size the caches are measured in turn, REPEAT times interleaved, and the median of
# each figure is reported:
#   req/s        wrk's requests per second
#   cpu_us/req   CPU time of the cache's process tree per request (/proc, via
#                ../../../shared/tools/cpu-per-request)
#   p50_ms       wrk's median latency
#   origin       requests the origin saw during the measured run (0: all hits)
#
# Environment (defaults in brackets):
#   DUR [10] seconds per run   WARM [2] seconds of warm-up   REPEAT [5] interleaved runs
#   CONNS [50]   SIZES ["1k 100k"]   IMPLS ["hop hopdisk nginx varnish"]
#   PROXY_CPU [0]   LOAD_CPU [1]   PORT [18280] (the cache; the origin uses PORT+1)
#   CPU_PER_REQUEST [../../../shared/tools/cpu-per-request]
set -euo pipefail
cd "$(dirname "$0")"

. ../lib.sh
SIZES=${SIZES:-"1k 100k"}
IMPLS=${IMPLS:-"hop hopdisk nginx varnish"}
front_env 18280
VARNISHD=$(command -v varnishd || echo /usr/sbin/varnishd)
if [[ " $IMPLS " == *" varnish "* && ! -x $VARNISHD ]]; then
	echo "run.sh: varnishd not found (apt-get install varnish)" >&2
	exit 1
fi
chmod 755 "$WORK" # varnishd's worker user reads its working directory

note "building into $BIN"
(cd ../.. && go build -o "benchmarks/cache/$BIN/hop" ./cmd/hop)

mkdir -p "$WORK/www" "$WORK/origin" "$WORK/nginxcache/store"
head -c 1024 /dev/zero | tr '\0' 'a' >"$WORK/www/1k"
head -c 102400 /dev/zero | tr '\0' 'b' >"$WORK/www/100k"
nginx_conf "$WORK/origin" "127.0.0.1:$ORIGIN_PORT" "" \
	"root $WORK/www; sendfile on; tcp_nopush on; add_header Cache-Control \"max-age=3600\";" >"$WORK/origin/nginx.conf"
nginx_conf "$WORK/nginxcache" "127.0.0.1:$PORT" \
	"upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 128; }
  proxy_cache_path $WORK/nginxcache/store levels=1:2 keys_zone=c:16m max_size=1g inactive=1h use_temp_path=off;" \
	"sendfile on; tcp_nopush on; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_cache c; add_header Cache-Status \$upstream_cache_status; }" \
	>"$WORK/nginxcache/nginx.conf"
# The nginx cache under test logs nothing (the origin's log counts its requests).
sed -i "0,/access_log .*;/s//access_log off;/" "$WORK/nginxcache/nginx.conf"

start_origin "$WORK/origin" "$WORK/origin/nginx.conf"

origin_requests() { wc -l <"$WORK/origin/access.log"; }

start_cache() { # impl
	local up=http://127.0.0.1:$ORIGIN_PORT
	case $1 in
	hop)
		start_front env GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/hop" proxy --addr "127.0.0.1:$PORT" --upstream "$up" \
			--cache --access-log off
		;;
	hopdisk)
		rm -rf "$WORK/hopdisk"
		start_front env GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/hop" proxy --addr "127.0.0.1:$PORT" --upstream "$up" \
			--cache-dir "$WORK/hopdisk" --access-log off
		;;
	nginx) start_front taskset -c "$PROXY_CPU" "$NGINX" -p "$WORK/nginxcache" -c "$WORK/nginxcache/nginx.conf" ;;
	varnish)
		rm -rf "$WORK/varnish"
		mkdir -p "$WORK/varnish"
		start_front taskset -c "$PROXY_CPU" "$VARNISHD" -F -n "$WORK/varnish" -a "127.0.0.1:$PORT" -b "127.0.0.1:$ORIGIN_PORT" \
			-s malloc,256m -p thread_pools=1
		;;
	*) echo "run.sh: unknown impl $1" >&2; exit 2 ;;
	esac
}

# measure IMPL SIZE: warm the cache (the first request misses), one warm-up run and one
# measured run; prints "REQS_PER_SEC CPU_US P50_MS ORIGIN_REQUESTS".
measure() {
	local url=http://127.0.0.1:$PORT/$2 before
	start_cache "$1"
	curl -sf -o /dev/null "$url"
	curl -sf -o /dev/null "$url"
	warm_front "$url"
	before=$(origin_requests)
	read -r rps cpu p50 < <(measure_front "$url")
	stop_front
	echo "$rps $cpu $p50 $(($(origin_requests) - before))"
}

varnish_version=$([[ -x $VARNISHD ]] && "$VARNISHD" -V 2>&1 | head -1 | grep -o 'varnish-[0-9.]*' || echo "no varnish")
log "hop cache benchmark $(date -u +%FT%TZ); cache on CPU $PROXY_CPU, origin (nginx static) and wrk on CPU $LOAD_CPU;" \
	"$CONNS connections keep-alive; ${DUR}s runs after ${WARM}s warm-up; median of $REPEAT interleaved runs;" \
	"go $(go env GOVERSION); $("$NGINX" -v 2>&1 | cut -d' ' -f3); $varnish_version; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
RAW=$WORK/raw
: >"$RAW"
for size in $SIZES; do
	for rep in $(seq 1 "$REPEAT"); do
		for impl in $IMPLS; do
			read -r rps cpu p50 origin < <(measure "$impl" "$size")
			note "$size run $rep $impl: $rps req/s, $cpu us CPU/req, p50 $p50 ms, origin asked $origin times"
			echo "$size $impl $rps $cpu $p50 $origin" >>"$RAW"
		done
	done
done

col() { raw_median "$RAW" "$@"; }
for size in $SIZES; do
	log ""
	log "hits of $size"
	log "$(printf '%-10s %12s %12s %10s %8s %18s' impl req/s cpu_us/req p50_ms origin 'cpu ratio vs hop')"
	hop_cpu=$(col "$size" hop 4)
	for impl in $IMPLS; do
		cpu=$(col "$size" "$impl" 4)
		ratio=$(awk -v a="$cpu" -v b="$hop_cpu" 'BEGIN{if (b>0) printf "%.2fx", a/b; else print "-"}')
		log "$(printf '%-10s %12s %12s %10s %8s %18s' "$impl" "$(col "$size" "$impl" 3)" "$cpu" "$(col "$size" "$impl" 5)" "$(col "$size" "$impl" 6)" "$ratio")"
	done
done
log ""
log "cpu ratio: the implementation's CPU time per request over hop's memory cache (targets: nginx >= 1.2x, varnish >= 1.0x; hopdisk <= nginx)"
note "results in $OUT"
