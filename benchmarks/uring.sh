#!/usr/bin/env bash
# uring.sh — the io_uring prototype (cmd/uringserver) beside hop's and gnet's plaintext
# servers: what an io_uring path would save (benchmarks/README.md, "io_uring: what it
# would save").
#
# Each server runs alone on SERVER_CPU (GOMAXPROCS=1), wrk on CLIENT_CPU, 50
# connections, keep-alive and pipelined 16 (pipeline.lua), REPEAT interleaved runs of
# DUR seconds after a 1 s warm-up. Printed per mode and server: req/s and the server's
# CPU time per request (user and system, from /proc/PID/stat), medians with [min-max];
# then the system calls per request of one strace -f -c run (SYSCALLS=0 skips it).
#
#   benchmarks/uring.sh            DUR [3] REPEAT [5] SERVER_CPU [0] CLIENT_CPU [1]
#                                  IMPLS ["hop gnet uring uring-defer"] PORT [18380] SYSCALLS [1]
# uring is the prototype with IORING_SETUP_COOP_TASKRUN, uring-defer with
# SINGLE_ISSUER|DEFER_TASKRUN (completions processed only inside io_uring_enter).
set -euo pipefail
cd "$(dirname "$0")"
DUR=${DUR:-3}
REPEAT=${REPEAT:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
IMPLS=${IMPLS:-"hop gnet uring uring-defer"}
PORT=${PORT:-18380}
SYSCALLS=${SYSCALLS:-1}
BIN=results/bin
mkdir -p "$BIN"
go build -o "$BIN/plainserver" ./cmd/plainserver
go build -o "$BIN/uringserver" ./cmd/uringserver
RAW=$(mktemp)
trap 'rm -f "$RAW"; [[ -n ${SPID:-} ]] && kill "$SPID" 2>/dev/null || true' EXIT

start() { # impl
	if [[ $1 == uring ]]; then
		GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN/uringserver" -addr "127.0.0.1:$PORT" 2>/dev/null &
	elif [[ $1 == uring-defer ]]; then
		GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN/uringserver" -defer -addr "127.0.0.1:$PORT" 2>/dev/null &
	else
		GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN/plainserver" -impl "$1" -addr "127.0.0.1:$PORT" 2>/dev/null &
	fi
	SPID=$!
	for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && return; sleep 0.05; done
	echo "uring.sh: $1 did not start" >&2
	exit 1
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=; }
wrk_args() { # mode
	if [[ $1 == pipelined ]]; then echo "-s pipeline.lua"; fi
}

echo "io_uring prototype beside hop and gnet — $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server on CPU $SERVER_CPU (GOMAXPROCS=1), wrk -t1 -c50 on CPU $CLIENT_CPU, ${DUR}s runs, $REPEAT interleaved repetitions"
for rep in $(seq "$REPEAT"); do
	for mode in keepalive pipelined; do
		for impl in $IMPLS; do
			start "$impl"
			# shellcheck disable=SC2046
			taskset -c "$CLIENT_CPU" wrk -t1 -c50 -d1s $(wrk_args $mode) "http://127.0.0.1:$PORT/" >/dev/null
			read -r u0 s0 < <(awk '{print $14, $15}' /proc/$SPID/stat)
			# shellcheck disable=SC2046
			out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c50 -d"${DUR}s" $(wrk_args $mode) "http://127.0.0.1:$PORT/")
			read -r u1 s1 < <(awk '{print $14, $15}' /proc/$SPID/stat)
			stop
			n=$(awk '/requests in/{print $1}' <<<"$out")
			rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
			hz=$(getconf CLK_TCK)
			awk -v m=$mode -v i=$impl -v r=$rps -v n=$n -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz=$hz \
				'BEGIN{printf "%s %s %.0f %.3f %.3f\n", m, i, r, u/hz*1e6/n, s/hz*1e6/n}' >>"$RAW"
		done
	done
done

med() { sort -n | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f [%.2f-%.2f]", m, a[1], a[NR]}'; }
printf '\n%-10s %-11s %-28s %-22s %-22s %-22s\n' mode server "req/s" "CPU us/req" "user" "system"
for mode in keepalive pipelined; do
	for impl in $IMPLS; do
		col() { awk -v m=$mode -v i=$impl -v c="$1" '$1==m && $2==i {print (c==6 ? $4+$5 : $c)}' "$RAW" | med; }
		printf '%-10s %-11s %-28s %-22s %-22s %-22s\n' $mode $impl "$(col 3)" "$(col 6)" "$(col 4)" "$(col 5)"
	done
done

if [[ $SYSCALLS == 1 ]] && command -v strace >/dev/null; then
	echo
	echo "system calls per request (strace -f -c over one 2 s wrk run; strace slows every server alike):"
	for mode in keepalive pipelined; do
		for impl in $IMPLS; do
			start "$impl"
			trace=$(mktemp)
			strace -f -c -p "$SPID" -o "$trace" 2>/dev/null &
			st=$!
			sleep 0.5
			# shellcheck disable=SC2046
			n=$(taskset -c "$CLIENT_CPU" wrk -t1 -c50 -d2s $(wrk_args $mode) "http://127.0.0.1:$PORT/" | awk '/requests in/{print $1}')
			kill -INT $st
			wait $st 2>/dev/null || true
			stop
			printf '  %-10s %-11s %s\n' $mode $impl "$(awk -v n=$n 'NR>2 && $1 !~ /^-/ && NF>=5 && $NF!="total" && $4/n>=0.005 {printf "%s %.2f  ", $NF, $4/n} $NF=="total"{t=$4} END{printf "= %.2f", t/n}' "$trace")"
			rm -f "$trace"
		done
	done
fi
