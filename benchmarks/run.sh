#!/usr/bin/env bash
# run.sh — hop vs fasthttp vs net/http, side by side. See README.md.
#
#   ./run.sh            throughput table: keep-alive, pipelined 16, Connection: close
#   ./run.sh idle       idle keep-alive connections: RSS per connection
#   ./run.sh all        both
#
# Environment (defaults in brackets):
#   DUR [10]        seconds per measured run        WARM [2]    seconds of warm-up before each run
#   REPEAT [3]      runs per cell; the median is reported
#   CONNS [50]      wrk/h2load connections          DEPTH [16]  pipelined requests per write
#   IMPLS ["hop hop-adapter fasthttp nethttp"]      SCENARIOS ["keepalive pipeline pipeline-h2load close"]
#   SERVER_CPU [0]  CLIENT_CPU [1]                  PORT [18080]
#   IDLE_N [10000]  SETTLE [5s]                     IDLE_IMPLS [hop,hop-nopark,hop-adapter,fasthttp,nethttp]
set -euo pipefail
cd "$(dirname "$0")"

DUR=${DUR:-10}
WARM=${WARM:-2}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-50}
DEPTH=${DEPTH:-16}
IMPLS=${IMPLS:-"hop hop-adapter fasthttp nethttp"}
SCENARIOS=${SCENARIOS:-"keepalive pipeline pipeline-h2load close"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18080}
IDLE_N=${IDLE_N:-10000}
SETTLE=${SETTLE:-5s}
IDLE_IMPLS=${IDLE_IMPLS:-hop,hop-nopark,hop-adapter,fasthttp,nethttp}

mode=${1:-throughput}
case $mode in
throughput | idle | all) ;;
*)
	echo "usage: $0 [throughput|idle|all]" >&2
	exit 2
	;;
esac

BIN=results/bin
mkdir -p "$BIN"
OUT=results/$(date -u +%Y-%m-%dT%H%M%SZ).txt
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
	stop_server
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. ./lib.sh
need go "Go toolchain"
need taskset "util-linux"
if [[ $mode != idle ]]; then
	need wrk "apt-get install wrk"
	need curl "apt-get install curl"
	if [[ " $SCENARIOS " == *" pipeline-h2load "* ]] && ! command -v h2load >/dev/null; then
		note "h2load not found (apt-get install nghttp2-client): skipping the h2load cross-check"
		SCENARIOS=${SCENARIOS/pipeline-h2load/}
	fi
fi

note "building into $BIN"
go build -o "$BIN/" ./cmd/plainserver ./cmd/idleconns

URL=http://127.0.0.1:$PORT/plaintext
# The fields TechEmpower's plaintext test sends.
ACCEPT='Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7'

start_server() { # impl
	if curl -s -o /dev/null --max-time 2 "$URL" 2>/dev/null; then
		echo "run.sh: something already answers on $URL; set PORT" >&2
		exit 1
	fi
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN/plainserver" -impl "$1" -addr "127.0.0.1:$PORT" 2>>"$WORK/server.log" &
	SERVER_PID=$!
	local i
	for i in $(seq 1 100); do
		if curl -sf -o "$WORK/hello" "$URL" 2>/dev/null; then
			if [[ $(cat "$WORK/hello") != "Hello, World!" ]] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
				echo "run.sh: $1 answered $(cat "$WORK/hello") (pid $SERVER_PID alive: $(kill -0 "$SERVER_PID" 2>/dev/null && echo yes || echo no))" >&2
				exit 1
			fi
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: $1 did not start on $URL:" >&2
	tail -5 "$WORK/server.log" >&2
	exit 1
}

stop_server() {
	if [[ -n ${SERVER_PID:-} ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}

# load SCENARIO SECONDS: runs the load generator pinned to the client CPU and prints
# "REQS_PER_SEC ERRORS".
load() {
	local scen=$1 secs=$2 out=$WORK/load.out
	case $scen in
	keepalive)
		taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" -H 'Host: localhost' -H "$ACCEPT" \
			-H 'Connection: keep-alive' "$URL" >"$out" 2>&1 || true
		;;
	pipeline)
		taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" -H 'Host: localhost' -H "$ACCEPT" \
			-H 'Connection: keep-alive' -s pipeline.lua "$URL" -- "$DEPTH" >"$out" 2>&1 || true
		;;
	close)
		taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" -H 'Host: localhost' -H "$ACCEPT" \
			-H 'Connection: close' "$URL" >"$out" 2>&1 || true
		;;
	pipeline-h2load)
		taskset -c "$CLIENT_CPU" h2load --h1 -t1 -c"$CONNS" -m"$DEPTH" -D "$secs" \
			-H "$ACCEPT" "$URL" >"$out" 2>&1 || true
		;;
	esac
	cat "$out" >>"$WORK/load.log"
	if [[ $scen == pipeline-h2load ]]; then
		# "finished in 5.00s, 123456.78 req/s, ..." and
		# "requests: N total, N started, N done, N succeeded, F failed, E errored, T timeout"
		awk '/^finished in/ { rps = $4 }
		     /^requests:/ { err = $10 + $12 + $14 }
		     /^status codes:/ { bad = $5 + $7 + $9 }
		     END { if (rps == "") rps = 0; printf "%s %d\n", rps, err + bad }' "$out"
	else
		# "Requests/sec: 12345.67", "Socket errors: connect 0, read 0, write 0, timeout 0",
		# "Non-2xx or 3xx responses: N"
		awk '/^Requests\/sec:/ { rps = $2 }
		     /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
		     /Non-2xx/ { err += $5 }
		     END { if (rps == "") rps = 0; printf "%s %d\n", rps, err }' "$out"
	fi
}

scenario_title() {
	case $1 in
	keepalive) echo "keep-alive" ;;
	pipeline) echo "pipelined $DEPTH (wrk)" ;;
	pipeline-h2load) echo "pipelined $DEPTH (h2load)" ;;
	close) echo "Connection: close" ;;
	esac
}

declare -A MED=()

# runs_median RAWFILE SCENARIO IMPL: the median req/s of the runs of IMPL in SCENARIO.
runs_median() {
	local m
	m=$(awk -v s="$2" -v i="$3" '$1 == s && $2 == i { print $4 }' "$1" | median)
	[[ $m == nan ]] && m=0
	echo "$m"
}

# ratio SCENARIO A B: MED[A] / MED[B] with two decimals, or "-" when either is missing.
ratio() {
	awk -v a="${MED[$1/$2]:-0}" -v b="${MED[$1/$3]:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "-" }'
}

throughput() {
	local tw_reuse
	tw_reuse=$(cat /proc/sys/net/ipv4/tcp_tw_reuse 2>/dev/null || echo '?')
	log "hop side-by-side throughput — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	log "server: GOMAXPROCS=1 on CPU $SERVER_CPU; load generator on CPU $CLIENT_CPU; $CONNS connections;" \
		"${DUR}s measured after ${WARM}s warm-up; median of $REPEAT; go $(go env GOVERSION); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	log "net.ipv4.tcp_tw_reuse=$tw_reuse; TIME_WAIT sockets at start: $(($(ss -tan state time-wait 2>/dev/null | wc -l) - 1))"
	if [[ $tw_reuse == 0 && " $SCENARIOS " == *" close "* ]]; then
		note "net.ipv4.tcp_tw_reuse=0: the Connection: close run may run out of ports; keep DUR short (see README)"
	fi
	local raw=$WORK/raw scen rep i n impl k arr res
	read -r -a arr <<<"$IMPLS"
	n=${#arr[@]}
	: >"$raw"
	for scen in $SCENARIOS; do
		for rep in $(seq 1 "$REPEAT"); do
			# Rotate the order each repetition so drift and position affect all alike.
			for ((k = 0; k < n; k++)); do
				impl=${arr[$(((k + rep - 1) % n))]}
				start_server "$impl"
				load "$scen" "$WARM" >/dev/null
				res=$(load "$scen" "$DUR")
				stop_server
				echo "$scen $impl $rep $res" >>"$raw"
				note "$(printf '%-16s %-12s run %d: %s req/s, %s errors' "$scen" "$impl" "$rep" $res)"
			done
		done
	done
	{
		echo
		echo "requests per second (median of $REPEAT; ratios > 1 mean hop is faster)"
		echo
		# Header and rows.
		printf '%-24s' scenario
		for impl in "${arr[@]}"; do printf ' %12s' "$impl"; done
		printf ' %13s %12s\n' hop/fasthttp hop/nethttp
		for scen in $SCENARIOS; do
			printf '%-24s' "$(scenario_title "$scen")"
			for impl in "${arr[@]}"; do
				MED[$scen/$impl]=$(runs_median "$raw" "$scen" "$impl")
				printf ' %12.0f' "${MED[$scen/$impl]}"
			done
			printf ' %13s %12s\n' "$(ratio "$scen" hop fasthttp)" "$(ratio "$scen" hop nethttp)"
		done
		local errs
		errs=$(awk '$5 > 0 { printf "  %s %s run %s: %s errors\n", $1, $2, $3, $5 }' "$raw")
		if [[ -n $errs ]]; then
			echo
			echo "runs with socket errors or non-2xx responses:"
			echo "$errs"
		fi
		echo
		echo "TIME_WAIT sockets at end: $(($(ss -tan state time-wait 2>/dev/null | wc -l) - 1))"
		echo
		echo "raw runs (scenario impl repetition req/s errors):"
		sed 's/^/  /' "$raw"
	} | tee -a "$OUT"
}

idle() {
	log
	log "idle keep-alive connections — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average: $(cut -d' ' -f1-3 /proc/loadavg); ulimit -Hn $(ulimit -Hn)"
	taskset -c "$CLIENT_CPU" "$BIN/idleconns" -impl "$IDLE_IMPLS" -n "$IDLE_N" -settle "$SETTLE" \
		-server "$BIN/plainserver" -cpu "$SERVER_CPU" | tee -a "$OUT"
}

case $mode in
throughput) throughput ;;
idle) idle ;;
all)
	throughput
	idle
	;;
esac
note "results written to $OUT"
