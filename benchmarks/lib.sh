# lib.sh — the shell helpers hop's benchmark scripts share. Sourced, not run:
#
#   . "$(dirname "$0")/../lib.sh"     (benchmarks/cache, benchmarks/proxy, benchmarks/generators)
#   . "$(dirname "$0")/lib.sh"        (benchmarks/run.sh)
#   . "$repo/benchmarks/lib.sh"       (fileserver/bench.sh)
#
# What it provides:
#   need CMD HINT            exit unless CMD is installed (HINT says how to get it)
#   nginx_bin                the nginx binary (PATH, else /usr/sbin/nginx), or exit
#   bench_workdir            WORK=$(mktemp -d) and the EXIT trap that kills the
#                            processes listed in PIDS and removes WORK
#   track PID                add PID to the processes killed at exit
#   log MSG... / note MSG... a line to stdout and $OUT (when set) / to stderr
#   free_port                a TCP port free on 127.0.0.1 a moment ago
#   wait_url URL PID         wait (10 s) until URL answers 2xx, or exit if PID died
#   wait_port PORT           wait (10 s) until 127.0.0.1:PORT accepts, or fail
#   median                   the median of the numbers on stdin ("nan" for none)
#   wrk_rps FILE             requests/s from wrk's output
#   wrk_p50_ms FILE          wrk --latency's median latency, in ms
#   nginx_conf DIR LISTEN HTTP SERVER
#                            a foreground one-worker nginx.conf with its pid, logs and
#                            temp paths under DIR, HTTP directives and one server
#                            (listen LISTEN; SERVER)

# The script's name, for messages.
BENCH_NAME=${BENCH_NAME:-$(basename "$0")}

need() {
	command -v "$1" >/dev/null || {
		echo "$BENCH_NAME: $1 not found ($2)" >&2
		exit 1
	}
}

nginx_bin() {
	local n
	n=$(command -v nginx || echo /usr/sbin/nginx)
	[[ -x $n ]] || {
		echo "$BENCH_NAME: nginx not found (apt-get install nginx)" >&2
		exit 1
	}
	echo "$n"
}

PIDS=()
track() { PIDS+=("$1"); }

bench_cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[[ -n ${WORK:-} ]] && rm -rf "$WORK"
}

bench_workdir() {
	WORK=$(mktemp -d)
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

log() {
	if [[ -n ${OUT:-} ]]; then
		echo "$*" | tee -a "$OUT"
	else
		echo "$*"
	fi
}
note() { echo "$BENCH_NAME: $*" >&2; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_url() {
	local i
	for i in $(seq 1 100); do
		curl -sf -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "$BENCH_NAME: nothing answers on $1" >&2
	exit 1
}

wait_port() {
	local i
	for i in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$BENCH_NAME: nothing listens on port $1" >&2
	return 1
}

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

wrk_rps() { awk '/^Requests\/sec:/{print $2}' "$1"; }

wrk_p50_ms() {
	awk '$1=="50%"{v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$1"
}

nginx_conf() {
	cat <<CONF
daemon off; master_process off; worker_processes 1;
pid $1/nginx.pid; error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log $1/access.log;
  client_body_temp_path $1/body; proxy_temp_path $1/proxy; fastcgi_temp_path $1/fastcgi; uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
  keepalive_requests 1000000; keepalive_timeout 300s;
  $3
  server { listen $2; $4 }
}
CONF
}

# ---- a proxy or cache measured in front of an nginx origin (benchmarks/proxy,
# benchmarks/cache): the one under test on PROXY_CPU, the origin and wrk on LOAD_CPU.
#   front_env PORT           DUR WARM REPEAT CONNS PROXY_CPU LOAD_CPU PORT ORIGIN_PORT
#                            CPU_PER_REQUEST (defaults; PORT's default given), the tools
#                            they need, NGINX, BIN (results/bin), OUT and WORK
#   start_origin DIR CONF    nginx with CONF (from nginx_conf) in DIR on LOAD_CPU,
#                            waited for at ORIGIN_PORT/1k (ORIGIN_PID)
#   start_front CMD...       the one under test (FRONT_PID; stderr to $WORK/front.log),
#                            waited for at PORT/1k
#   stop_front               stops it
#   warm_front URL           a warm-up wrk run (WARM seconds) against URL
#   measure_front URL        a measured wrk run (DUR seconds) against URL, with the CPU
#                            time of FRONT_PID's process tree per request (none when
#                            FRONT_PID is empty); prints "REQS_PER_SEC CPU_US P50_MS"
#   raw_median RAW SIZE IMPL COLUMN
#                            the median of COLUMN over the raw lines "SIZE IMPL ..."

front_env() {
	DUR=${DUR:-10}
	WARM=${WARM:-2}
	REPEAT=${REPEAT:-5}
	CONNS=${CONNS:-50}
	PROXY_CPU=${PROXY_CPU:-0}
	LOAD_CPU=${LOAD_CPU:-1}
	PORT=${PORT:-$1}
	ORIGIN_PORT=$((PORT + 1))
	CPU_PER_REQUEST=${CPU_PER_REQUEST:-$(cd ../../.. && pwd)/shared/tools/cpu-per-request}
	need go "Go toolchain"
	need taskset "util-linux"
	need wrk "apt-get install wrk"
	need curl "apt-get install curl"
	NGINX=$(nginx_bin)
	[[ -x $CPU_PER_REQUEST ]] || {
		echo "$BENCH_NAME: $CPU_PER_REQUEST not found or not executable (set CPU_PER_REQUEST)" >&2
		exit 1
	}
	BIN=results/bin
	mkdir -p "$BIN"
	OUT=results/$(date -u +%Y-%m-%dT%H%M%SZ).txt
	bench_workdir
}

start_origin() {
	taskset -c "$LOAD_CPU" "$NGINX" -p "$1" -c "$2" 2>>"$WORK/origin.log" &
	ORIGIN_PID=$!
	track "$ORIGIN_PID"
	wait_url "http://127.0.0.1:$ORIGIN_PORT/1k" "$ORIGIN_PID"
}

FRONT_PID=
start_front() {
	"$@" 2>>"$WORK/front.log" >>"$WORK/front.log" &
	FRONT_PID=$!
	track "$FRONT_PID"
	wait_url "http://127.0.0.1:$PORT/1k" "$FRONT_PID"
}

stop_front() {
	if [[ -n $FRONT_PID ]]; then
		kill "$FRONT_PID" 2>/dev/null || true
		wait "$FRONT_PID" 2>/dev/null || true
		FRONT_PID=
	fi
}

warm_front() { taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARM}s" "$1" >/dev/null 2>&1 || true; }

measure_front() {
	local url=$1 out=$WORK/wrk.out cpu=nan
	if [[ -n $FRONT_PID ]]; then
		"$CPU_PER_REQUEST" "$FRONT_PID" -- taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$out" 2>&1 || true
		cpu=$(awk '/^cpu-per-request:/{print $2}' "$out")
	else
		taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$out" 2>&1 || true
	fi
	if grep -qE 'Non-2xx|Socket errors' "$out"; then
		note "$url: wrk reports errors:"
		grep -E 'Non-2xx|Socket errors' "$out" >&2
	fi
	local rps p50
	rps=$(wrk_rps "$out")
	p50=$(wrk_p50_ms "$out")
	echo "${rps:-0} ${cpu:-nan} ${p50:-nan}"
}

raw_median() { awk -v s="$2" -v i="$3" -v c="$4" '$1==s && $2==i {print $c}' "$1" | median; }
