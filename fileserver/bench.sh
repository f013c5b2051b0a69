#!/usr/bin/env bash
# Static-file throughput: hop serve beside nginx on the same machine.
#
# Both servers run on core 0 with one worker (GOMAXPROCS=1 for hop, worker_processes 1
# for nginx, sendfile on, access logs off); wrk runs on core 1 with 50 keep-alive
# connections. Each round measures both servers (hop first in odd rounds, nginx first
# in even ones) for a 1 KiB and a 1 MiB file; the medians of the rounds are printed
# with their spread [min-max], and two ratios per round, as medians with their spread:
# throughput hop/nginx, and efficiency, the CPU time per request nginx/hop (above 1:
# hop spends less CPU per request). Absolute numbers on a shared machine drift; read
# the ratios, and on a busy machine prefer the CPU one, which does not depend on how
# much of its core each server was given.
#
# usage: fileserver/bench.sh            (from the repository root or anywhere)
#   DURATION=10s ROUNDS=5 CONNS=50 SERVER_CPU=0 CLIENT_CPU=1 NGINX=/usr/sbin/nginx
set -euo pipefail

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-50}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-/usr/sbin/nginx}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$repo/benchmarks/lib.sh"
for tool in wrk taskset "$NGINX" python3; do
	need "$tool" "apt-get install it"
done

bench_workdir
work=$WORK

# nginx's workers run unprivileged: the tree must be world-readable (mktemp makes 0700).
chmod 755 "$work"
mkdir -p "$work/root"
head -c 1024 /dev/urandom >"$work/root/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$work/root/1m.bin"
chmod 644 "$work/root"/*

(cd "$repo" && go build -o "$work/hop" ./cmd/hop)

hop_port=$(free_port)
GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$work/hop" serve --addr "127.0.0.1:$hop_port" \
	--root "$work/root" --access-log off 2>"$work/hop.err" &
hop_pid=$!
track "$hop_pid"

nginx_port=$(free_port)
mkdir -p "$work/nginx"
nginx_conf "$work/nginx" "127.0.0.1:$nginx_port" "access_log off; sendfile on; tcp_nopush on; types { application/octet-stream bin; }" \
	"root $work/root;" >"$work/nginx/nginx.conf"
taskset -c "$SERVER_CPU" "$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
track "$nginx_pid"

wait_port "$hop_port"
wait_port "$nginx_port"

# cputicks PID...: user+system CPU clock ticks used so far by the processes and their
# children (nginx's worker is a child of its master).
cputicks() {
	local total=0 p kids
	for p in "$@"; do
		kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
		for q in $p $kids; do
			[ -r "/proc/$q/stat" ] || continue
			total=$((total + $(awk '{print $14 + $15}' "/proc/$q/stat")))
		done
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

# measure URL PID: one wrk run; prints requests/s and the server's CPU microseconds per
# request. The second is the fairer number on a shared machine: it does not depend on
# how much of its core the server was given. Non-2xx answers abort the benchmark
# rather than report the speed of error pages.
measure() {
	local out before after reqs
	before=$(cputicks "$2")
	out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" "$1")
	after=$(cputicks "$2")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "bench.sh: error answers from $1:" >&2
		echo "$out" >&2
		exit 1
	fi
	grep 'Socket errors' <<<"$out" | sed "s|^|  $1: |" >&2 || true
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	awk -v r="$reqs" -v t=$((after - before)) -v hz="$hz" -v rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")" \
		'BEGIN { printf "%s %.1f\n", rps, (r > 0 ? t / hz * 1e6 / r : 0) }'
}


# spread V...: "MEDIAN [MIN-MAX]" with the printf format FMT (first argument).
spread() {
	local f=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v f="$f" '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf f " [" f "-" f "]", m, v[1], v[NR] }'
}

echo "hop serve vs nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\//nginx\//'): servers on core $SERVER_CPU, wrk on core $CLIENT_CPU," \
	"$CONNS connections, $DURATION x $ROUNDS interleaved rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm up both (page cache, connection setup paths).
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$hop_port/1k.bin" >/dev/null
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$nginx_port/1k.bin" >/dev/null

printf '%-8s %24s %24s %18s %18s %18s %18s\n' file "hop req/s" "nginx req/s" "hop/nginx" "hop CPU us/req" "nginx us/req" "nginx/hop (eff.)"
for f in 1k.bin 1m.bin; do
	hr=() nr=() hc=() nc=() tr=() er=()
	for round in $(seq "$ROUNDS"); do
		if ((round % 2)); then
			read -r r c < <(measure "http://127.0.0.1:$hop_port/$f" "$hop_pid")
			read -r r2 c2 < <(measure "http://127.0.0.1:$nginx_port/$f" "$nginx_pid")
		else
			read -r r2 c2 < <(measure "http://127.0.0.1:$nginx_port/$f" "$nginx_pid")
			read -r r c < <(measure "http://127.0.0.1:$hop_port/$f" "$hop_pid")
		fi
		hr+=("$r") hc+=("$c") nr+=("$r2") nc+=("$c2")
		tr+=("$(awk -v a="$r" -v b="$r2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
		er+=("$(awk -v a="$c2" -v b="$c" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
	done
	printf '%-8s %24s %24s %18s %18s %18s %18s\n' "$f" "$(spread %.0f "${hr[@]}")" "$(spread %.0f "${nr[@]}")" \
		"$(spread %.2f "${tr[@]}")" "$(spread %.1f "${hc[@]}")" "$(spread %.1f "${nc[@]}")" "$(spread %.2f "${er[@]}")"
	echo "  rounds req/s: hop ${hr[*]} | nginx ${nr[*]}" >&2
	echo "  rounds CPU us/req: hop ${hc[*]} | nginx ${nc[*]}" >&2
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
