#!/usr/bin/env bash
# run.sh — hop vs fasthttp vs net/http, side by side. See README.md.
#
#   ./run.sh            throughput table: keep-alive, pipelined 16, Connection: close —
#                       req/s and the server's CPU time per request, medians and spreads
#   ./run.sh idle       idle keep-alive connections: RSS per connection
#   ./run.sh all        both
#
# Environment (defaults in brackets):
#   DUR [10]        seconds per measured run        WARM [2]    seconds of warm-up before each run
#   REPEAT [5]      interleaved runs per cell; the median and the spread are reported
#   CONNS [50]      wrk/h2load connections          DEPTH [16]  pipelined requests per write
#   IMPLS ["hop hop-adapter fasthttp nethttp gnet"] SCENARIOS ["keepalive pipeline pipeline-h2load close"]
#   SERVER_CPU [0]  CLIENT_CPU [1]                  PORT [18080]
#   IDLE_N [10000]  SETTLE [5s]                     IDLE_IMPLS [hop,hop-nopark,hop-adapter,fasthttp,nethttp,gnet]
set -euo pipefail
cd "$(dirname "$0")"

DUR=${DUR:-10}
WARM=${WARM:-2}
REPEAT=${REPEAT:-5}
CONNS=${CONNS:-50}
DEPTH=${DEPTH:-16}
IMPLS=${IMPLS:-"hop hop-adapter fasthttp nethttp gnet"}
SCENARIOS=${SCENARIOS:-"keepalive pipeline pipeline-h2load close"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18080}
IDLE_N=${IDLE_N:-10000}
SETTLE=${SETTLE:-5s}
IDLE_IMPLS=${IDLE_IMPLS:-hop,hop-nopark,hop-adapter,fasthttp,nethttp,gnet}

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
# "REQS_PER_SEC ERRORS REQUESTS" (REQUESTS: completed).
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
		     /^requests:/ { err = $10 + $12 + $14; n = $8 }
		     /^status codes:/ { bad = $5 + $7 + $9 }
		     END { if (rps == "") rps = 0; printf "%s %d %d\n", rps, err + bad, n }' "$out"
	else
		# "Requests/sec: 12345.67", "N requests in 10.00s, ...",
		# "Socket errors: connect 0, read 0, write 0, timeout 0", "Non-2xx or 3xx responses: N"
		awk '/^Requests\/sec:/ { rps = $2 }
		     / requests in / { n = $1 }
		     /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
		     /Non-2xx/ { err += $5 }
		     END { if (rps == "") rps = 0; printf "%s %d %d\n", rps, err, n }' "$out"
	fi
}

# cpu_ticks PID: "UTIME STIME" of the process (clock ticks; plainserver has no children).
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

# measured SCENARIO: one measured run against the running server; prints
# "REQS_PER_SEC ERRORS CPU_US USER_US SYS_US", the last three the server's CPU time per
# completed request (from /proc/PID/stat before and after).
measured() {
	local u0 s0 u1 s1 res
	read -r u0 s0 < <(cpu_ticks "$SERVER_PID")
	res=$(load "$1" "$DUR")
	read -r u1 s1 < <(cpu_ticks "$SERVER_PID")
	awk -v r="$res" -v du=$((u1 - u0)) -v ds=$((s1 - s0)) -v hz="$HZ" 'BEGIN {
		split(r, f, " "); n = f[3]
		if (n > 0) printf "%s %s %.3f %.3f %.3f\n", f[1], f[2], (du + ds) / hz * 1e6 / n, du / hz * 1e6 / n, ds / hz * 1e6 / n
		else printf "%s %s nan nan nan\n", f[1], f[2] }'
}
HZ=$(getconf CLK_TCK)

scenario_title() {
	case $1 in
	keepalive) echo "keep-alive" ;;
	pipeline) echo "pipelined $DEPTH (wrk)" ;;
	pipeline-h2load) echo "pipelined $DEPTH (h2load)" ;;
	close) echo "Connection: close" ;;
	esac
}

# stat RAWFILE SCENARIO IMPL COLUMN: "MEDIAN MIN MAX" of COLUMN over the runs.
stat() {
	awk -v s="$2" -v i="$3" -v c="$4" '$1 == s && $2 == i && $c != "nan" { print $c }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan nan nan"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

# ratios RAWFILE SCENARIO A B COLUMN: "MEDIAN MIN MAX" of COLUMN(A)/COLUMN(B) over the
# repetitions (each repetition's runs of A and B were back to back).
ratios() {
	awk -v s="$2" -v a="$3" -v b="$4" -v c="$5" '$1 == s && $2 == a { x[$3] = $c } $1 == s && $2 == b { y[$3] = $c }
		END { for (r in x) if ((r in y) && x[r] > 0 && y[r] > 0 && x[r] != "nan" && y[r] != "nan") print x[r] / y[r] }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}

# has IMPL: whether IMPL is among the implementations measured.
has() { [[ " $IMPLS " == *" $1 "* ]]; }

throughput() {
	local tw_reuse
	tw_reuse=$(cat /proc/sys/net/ipv4/tcp_tw_reuse 2>/dev/null || echo '?')
	log "hop side-by-side throughput — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	log "server: GOMAXPROCS=1 on CPU $SERVER_CPU; load generator on CPU $CLIENT_CPU; $CONNS connections;" \
		"${DUR}s measured after ${WARM}s warm-up; $REPEAT interleaved runs; go $(go env GOVERSION); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	log "net.ipv4.tcp_tw_reuse=$tw_reuse; TIME_WAIT sockets at start: $(($(ss -tan state time-wait 2>/dev/null | wc -l) - 1))"
	if [[ $tw_reuse == 0 && " $SCENARIOS " == *" close "* ]]; then
		note "net.ipv4.tcp_tw_reuse=0: the Connection: close run may run out of ports; keep DUR short (see README)"
	fi
	local raw=$WORK/raw scen rep n impl k arr res peer
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
				res=$(measured "$scen")
				stop_server
				echo "$scen $impl $rep $res" >>"$raw"
				note "$(printf '%-16s %-12s run %d: %s req/s, %s errors, %s us CPU/req (user %s, system %s)' "$scen" "$impl" "$rep" $res)"
			done
		done
	done
	{
		echo
		echo "requests per second: median [min-max] of $REPEAT runs"
		echo
		printf '%-24s' scenario
		for impl in "${arr[@]}"; do printf ' %24s' "$impl"; done
		echo
		for scen in $SCENARIOS; do
			printf '%-24s' "$(scenario_title "$scen")"
			for impl in "${arr[@]}"; do
				read -r m lo hi < <(stat "$raw" "$scen" "$impl" 4)
				printf ' %24s' "$(awk -v m="$m" -v l="$lo" -v h="$hi" 'BEGIN { printf "%.0f [%.0f-%.0f]", m, l, h }')"
			done
			echo
		done
		echo
		echo "server CPU time per request, us (user + system): median [min-max] of $REPEAT runs; user/system medians"
		echo
		printf '%-24s' scenario
		for impl in "${arr[@]}"; do printf ' %24s' "$impl"; done
		echo
		for scen in $SCENARIOS; do
			printf '%-24s' "$(scenario_title "$scen")"
			for impl in "${arr[@]}"; do
				read -r m lo hi < <(stat "$raw" "$scen" "$impl" 6)
				printf ' %24s' "$(awk -v m="$m" -v l="$lo" -v h="$hi" 'BEGIN { printf "%.2f [%.2f-%.2f]", m, l, h }')"
			done
			echo
			printf '%-24s' "  user / system"
			for impl in "${arr[@]}"; do
				printf ' %24s' "$(awk -v u="$(stat "$raw" "$scen" "$impl" 7 | cut -d' ' -f1)" \
					-v y="$(stat "$raw" "$scen" "$impl" 8 | cut -d' ' -f1)" 'BEGIN { printf "%.2f / %.2f", u, y }')"
			done
			echo
		done
		echo
		echo "hop against each peer, per repetition (runs back to back), median [min-max]:"
		echo "  efficiency = the peer's CPU per request / hop's (above 1: hop spends less);"
		echo "  throughput = hop's req/s / the peer's"
		echo
		printf '%-24s %-12s %22s %22s\n' scenario peer efficiency throughput
		for scen in $SCENARIOS; do
			for peer in fasthttp gnet nethttp hop-adapter; do
				has hop && has "$peer" || continue
				read -r m lo hi < <(ratios "$raw" "$scen" "$peer" hop 6)
				read -r tm tlo thi < <(ratios "$raw" "$scen" hop "$peer" 4)
				printf '%-24s %-12s %22s %22s\n' "$(scenario_title "$scen")" "$peer" "$m [$lo-$hi]" "$tm [$tlo-$thi]"
			done
		done
		local errs
		errs=$(awk '$5 > 0 { printf "  %s %s run %s: %s errors\n", $1, $2, $3, $5 }' "$raw")
		if [[ -n $errs ]]; then
			echo
			echo "runs with socket errors or non-2xx responses:"
			echo "$errs"
		fi
		echo
		echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); TIME_WAIT sockets: $(($(ss -tan state time-wait 2>/dev/null | wc -l) - 1))"
		echo
		echo "raw runs (scenario impl repetition req/s errors cpu_us/req user_us system_us):"
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
