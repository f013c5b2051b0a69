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

DUR=${DUR:-10}
WARM=${WARM:-2}
REPEAT=${REPEAT:-5}
CONNS=${CONNS:-50}
SIZES=${SIZES:-"1k 100k"}
IMPLS=${IMPLS:-"hop hopdisk nginx varnish"}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-18280}
ORIGIN_PORT=$((PORT + 1))
CPU_PER_REQUEST=${CPU_PER_REQUEST:-$(cd ../../.. && pwd)/shared/tools/cpu-per-request}

need() { command -v "$1" >/dev/null || { echo "run.sh: $1 not found ($2)" >&2; exit 1; }; }
need go "Go toolchain"
need taskset "util-linux"
need wrk "apt-get install wrk"
need curl "apt-get install curl"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || { echo "run.sh: nginx not found (apt-get install nginx)" >&2; exit 1; }
VARNISHD=$(command -v varnishd || echo /usr/sbin/varnishd)
if [[ " $IMPLS " == *" varnish "* && ! -x $VARNISHD ]]; then
	echo "run.sh: varnishd not found (apt-get install varnish)" >&2; exit 1
fi
[[ -x $CPU_PER_REQUEST ]] || { echo "run.sh: $CPU_PER_REQUEST not found or not executable (set CPU_PER_REQUEST)" >&2; exit 1; }

BIN=results/bin
mkdir -p "$BIN"
OUT=results/$(date -u +%Y-%m-%dT%H%M%SZ).txt
WORK=$(mktemp -d)
chmod 755 "$WORK" # varnishd's worker user reads its working directory
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
(cd ../.. && go build -o "benchmarks/cache/$BIN/hop" ./cmd/hop)

mkdir -p "$WORK/www" "$WORK/origin" "$WORK/nginxcache/store"
head -c 1024 /dev/zero | tr '\0' 'a' >"$WORK/www/1k"
head -c 102400 /dev/zero | tr '\0' 'b' >"$WORK/www/100k"
nginx_conf() { # dir listen http-extra server-body
	cat <<CONF
daemon off; master_process off; worker_processes 1;
pid $1/nginx.pid; error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log $1/access.log;
  client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
  keepalive_requests 1000000; keepalive_timeout 300s;
  $3
  server { listen $2; $4 }
}
CONF
}
nginx_conf "$WORK/origin" "127.0.0.1:$ORIGIN_PORT" "" \
	"root $WORK/www; sendfile on; tcp_nopush on; add_header Cache-Control \"max-age=3600\";" >"$WORK/origin/nginx.conf"
nginx_conf "$WORK/nginxcache" "127.0.0.1:$PORT" \
	"upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 128; }
  proxy_cache_path $WORK/nginxcache/store levels=1:2 keys_zone=c:16m max_size=1g inactive=1h use_temp_path=off;" \
	"sendfile on; tcp_nopush on; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_cache c; add_header Cache-Status \$upstream_cache_status; }" \
	>"$WORK/nginxcache/nginx.conf"
# The nginx cache under test logs nothing (the origin's log counts its requests).
sed -i "0,/access_log .*;/s//access_log off;/" "$WORK/nginxcache/nginx.conf"

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

origin_requests() { wc -l <"$WORK/origin/access.log"; }

PROXY_PID=
start_cache() { # impl
	local up=http://127.0.0.1:$ORIGIN_PORT
	case $1 in
	hop)
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/hop" proxy --addr "127.0.0.1:$PORT" --upstream "$up" \
			--cache --access-log off 2>>"$WORK/cache.log" &
		;;
	hopdisk)
		rm -rf "$WORK/hopdisk"
		GOMAXPROCS=1 taskset -c "$PROXY_CPU" "$BIN/hop" proxy --addr "127.0.0.1:$PORT" --upstream "$up" \
			--cache-dir "$WORK/hopdisk" --access-log off 2>>"$WORK/cache.log" &
		;;
	nginx)
		taskset -c "$PROXY_CPU" "$NGINX" -p "$WORK/nginxcache" -c "$WORK/nginxcache/nginx.conf" 2>>"$WORK/cache.log" &
		;;
	varnish)
		rm -rf "$WORK/varnish"
		mkdir -p "$WORK/varnish"
		taskset -c "$PROXY_CPU" "$VARNISHD" -F -n "$WORK/varnish" -a "127.0.0.1:$PORT" -b "127.0.0.1:$ORIGIN_PORT" \
			-s malloc,256m -p thread_pools=1 2>>"$WORK/cache.log" >>"$WORK/cache.log" &
		;;
	*) echo "run.sh: unknown impl $1" >&2; exit 2 ;;
	esac
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	wait_url "http://127.0.0.1:$PORT/1k" "$PROXY_PID"
}
stop_cache() {
	if [[ -n $PROXY_PID ]]; then
		kill "$PROXY_PID" 2>/dev/null || true
		wait "$PROXY_PID" 2>/dev/null || true
		PROXY_PID=
	fi
}

# measure IMPL SIZE: warm the cache (the first request misses), one warm-up run and one
# measured run; prints "REQS_PER_SEC CPU_US P50_MS ORIGIN_REQUESTS".
measure() {
	local impl=$1 size=$2 out=$WORK/wrk.out
	local url=http://127.0.0.1:$PORT/$size
	start_cache "$impl"
	curl -sf -o /dev/null "$url"
	curl -sf -o /dev/null "$url"
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARM}s" "$url" >/dev/null 2>&1 || true
	local before
	before=$(origin_requests)
	"$CPU_PER_REQUEST" "$PROXY_PID" -- taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$out" 2>&1 || true
	local cpu origin
	cpu=$(awk '/^cpu-per-request:/{print $2}' "$out")
	origin=$(($(origin_requests) - before))
	stop_cache
	if grep -qE 'Non-2xx|Socket errors' "$out"; then
		note "$impl $size: wrk reports errors:"
		grep -E 'Non-2xx|Socket errors' "$out" >&2
	fi
	local rps p50
	rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
	p50=$(awk '$1=="50%"{v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$out")
	echo "${rps:-0} ${cpu:-nan} ${p50:-nan} $origin"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

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

col() { awk -v s="$1" -v i="$2" -v c="$3" '$1==s && $2==i {print $c}' "$RAW" | median; }
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
