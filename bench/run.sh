#!/usr/bin/env bash
# bench/run.sh — wrk through proxyd and its peers (Tinyproxy, Squid, nginx,
# HAProxy) as forward proxies, absolute-form requests, against a local nginx
# origin; prints a table and writes bench/RESULTS.md.
#
#   usage: bench/run.sh [PROXYD] [TEST_ORIGIN]
#     PROXYD       the proxyd binary (default build/proxyd)
#     TEST_ORIGIN  accepted for `make bench` and not used: the origin is
#                  Debian's nginx (faster than the test origin)
#   environment:
#     BENCH_SECONDS  measured seconds per run (10)    BENCH_CONNS    connections (50)
#     BENCH_THREADS  wrk threads (2)                  BENCH_WORKERS  proxy workers (2)
#     BENCH_WARMUP   warm-up seconds per run (2)      BENCH_PEERS    which proxies to run
#     BENCH_RESULTS  output file (bench/RESULTS.md)   BENCH_KEEP=1   keep the temp folder
#     BENCH_ROUNDS   rounds, interleaved (1); with more, each cell is the
#                    round with the median req/s
#
# Every process started here runs in its own session and is killed on exit.
# Only 127.0.0.1 is used.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
CONF_DIR=$BENCH_DIR/conf
LUA=$BENCH_DIR/absolute.lua

PROXYD=${1:-$TOP/build/proxyd}
[[ $PROXYD == /* ]] || PROXYD=$PWD/$PROXYD
DURATION=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-2}
WORKERS=${BENCH_WORKERS:-2}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-1}
PEERS=${BENCH_PEERS:-"proxyd proxyd-log tinyproxy squid nginx haproxy"}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/RESULTS.md}
SCENARIOS="1k 100k"

for v in DURATION CONNS THREADS WORKERS WARMUP ROUNDS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: $v must be a number" >&2; exit 2; }
done
((ROUNDS >= 1 && DURATION >= 1)) || { echo "bench: BENCH_ROUNDS and BENCH_SECONDS must be >= 1" >&2; exit 2; }
((THREADS <= CONNS)) || { echo "bench: BENCH_THREADS > BENCH_CONNS" >&2; exit 2; }

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

PATH=$PATH:/usr/sbin:/sbin
for tool in wrk curl nginx awk ps; do
	command -v "$tool" >/dev/null || die "$tool not found (make bench-deps)"
done
[[ -x $PROXYD ]] || die "$PROXYD is not executable (make)"

IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

TMP=$(mktemp -d /tmp/proxyd-bench.XXXXXX)
chmod 755 "$TMP"	# workers that drop privileges must reach their folders

# ---------------------------------------------------------------- processes
declare -a STARTED=()		# session leaders we started
WRK_PID=			# the running wrk (timeout) if any

kill_all() {
	local pid i alive
	for pid in "${STARTED[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	for i in $(seq 30); do
		alive=0
		for pid in "${STARTED[@]}"; do
			kill -0 -- "-$pid" 2>/dev/null && alive=1
		done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${STARTED[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
	STARTED=()
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -n $WRK_PID ]] && kill -TERM "$WRK_PID" 2>/dev/null
	kill_all
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		log "temp folder kept: $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME LOG CMD...: run CMD in a new session, output to LOG; sets PID.
start() {
	local name=$1 out=$2
	shift 2
	setsid "$@" >"$out" 2>&1 </dev/null &
	PID=$!
	STARTED+=("$PID")
	CMDLINE[$name]="$*"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

declare -A USED_PORT=()
# free_port VAR: a loopback port nothing listens on, below the ephemeral range.
free_port() {
	local p i
	for i in $(seq 500); do
		p=$((20000 + RANDOM % 12000))
		[[ -n ${USED_PORT[$p]:-} ]] && continue
		if ! port_open "$p"; then
			USED_PORT[$p]=1
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	die "no free port"
}

# wait_port PID PORT: until PORT accepts (10 s at most) while PID lives.
wait_port() {
	local pid=$1 port=$2 i
	for i in $(seq 100); do
		port_open "$port" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# pids of ROOT and all its descendants
tree_pids() {
	ps -e -o pid=,ppid= | awk -v r="$1" '
		{ pp[$1] = $2 }
		END {
			for (p in pp) {
				q = p
				for (n = 0; n < 64 && q != "" && q > 1; n++) {
					if (q == r) { print p; break }
					q = pp[q]
				}
			}
		}'
}

# sum_status ROOT FIELD: sum of FIELD (kB) in /proc/PID/status over the tree
sum_status() {
	local total=0 pid v
	for pid in $(tree_pids "$1"); do
		v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# cpu_ticks ROOT: user+system clock ticks used so far by the tree
cpu_ticks() {
	local total=0 pid line rest
	for pid in $(tree_pids "$1"); do
		line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		rest=${line##*) }	# fields from 3 (state) on
		read -r -a f <<<"$rest"
		total=$((total + f[11] + f[12]))	# utime, stime (fields 14, 15)
	done
	echo "$total"
}
HZ=$(getconf CLK_TCK)

# all_ticks: CPU ticks used by every server started here
all_ticks() {
	local t=0 pid
	for pid in "${STARTED[@]}"; do t=$((t + $(cpu_ticks "$pid"))); done
	echo "$t"
}

# busy share of all CPUs over 2 s from /proc/stat, minus what the servers
# started here used: the other work on the box
cpu_busy_others() {
	local a b o0 o1
	o0=$(all_ticks)
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	o1=$(all_ticks)
	awk -v a="$a" -v b="$b" -v o=$((o1 - o0)) 'BEGIN { split(a, x, " "); split(b, y, " ")
		bu = y[1] - x[1]; id = y[2] - x[2]; bu -= o; if (bu < 0) bu = 0
		printf "%.0f%%", (bu + id + o > 0) ? 100 * bu / (bu + id + o) : 0 }'
}

fill() {	# fill TEMPLATE OUT KEY=VALUE...
	local tpl=$1 out=$2 kv expr=()
	shift 2
	for kv in "$@"; do
		expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
	done
	sed "${expr[@]}" "$tpl" >"$out"
}

# ---------------------------------------------------------------- origin
declare -A CMDLINE=() PORT=() ROOTPID=() NA=() NOTE=() LOGF=()

ODIR=$TMP/origin
mkdir -p "$ODIR/www" "$ODIR/tmp"
head -c 1024 /dev/urandom >"$ODIR/www/1k.bin"
head -c 102400 /dev/urandom >"$ODIR/www/100k.bin"
chmod 755 "$ODIR" "$ODIR/www"
chmod 644 "$ODIR"/www/*
free_port OPORT
NGX_USER=""
((IS_ROOT)) && NGX_USER="user nobody nogroup;"
fill "$CONF_DIR/origin-nginx.conf" "$ODIR/nginx.conf" \
	DIR="$ODIR" PORT="$OPORT" WORKERS="$WORKERS" USER="$NGX_USER"
start origin "$ODIR/stderr.log" nginx -p "$ODIR" -e "$ODIR/error.log" -c "$ODIR/nginx.conf"
OPID=$PID
wait_port "$OPID" "$OPORT" || { cat "$ODIR/stderr.log" "$ODIR/error.log" >&2 || true; die "origin nginx did not start"; }
ORIGIN=127.0.0.1:$OPORT
declare -A SIZE=([1k]=1024 [100k]=102400)
for s in $SCENARIOS; do
	got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' "http://$ORIGIN/$s.bin" || true)
	[[ $got == "200 ${SIZE[$s]}" ]] || die "origin: /$s.bin answered '$got'"
done
log "origin: nginx on $ORIGIN (pid $OPID)"

# ---------------------------------------------------------------- proxies
# Each setup_* writes a config, starts the proxy and sets ROOTPID/PORT/NOTE;
# on failure it sets NA[name] to the reason.

setup_proxyd() {	# setup_proxyd NAME ACCESS_LOG(off|on)
	local name=$1 d=$TMP/$1 port al=off
	mkdir -p "$d"
	chmod 777 "$d"
	free_port port
	[[ $2 == on ]] && al=$d/access.log
	fill "$CONF_DIR/proxyd.ini" "$d/proxyd.ini" \
		DIR="$d" PORT="$port" WORKERS="$WORKERS" ACCESS_LOG="$al"
	# a proxyd from before allow_loopback does not know the key (and lets
	# loopback through anyway)
	if ! "$PROXYD" -t -c "$d/proxyd.ini" >"$d/test.log" 2>&1 &&
		grep -q allow_loopback "$d/test.log"; then
		sed -i '/^allow_loopback/d' "$d/proxyd.ini"
	fi
	if ! "$PROXYD" -t -c "$d/proxyd.ini" >"$d/test.log" 2>&1; then
		NA[$name]="proxyd -t rejected the config: $(head -c 300 "$d/test.log" | tr '\n' ' ')"
		return
	fi
	start "$name" "$d/stderr.log" "$PROXYD" -f -c "$d/proxyd.ini"
	ROOTPID[$name]=$PID PORT[$name]=$port LOGF[$name]=$d/stderr.log
	if [[ $2 == on ]]; then
		NOTE[$name]="$WORKERS workers, access log on (file)"
	else
		NOTE[$name]="$WORKERS workers, access_log = off"
	fi
}

setup_tinyproxy() {
	local name=tinyproxy d=$TMP/tinyproxy port u=""
	command -v tinyproxy >/dev/null || { NA[$name]="tinyproxy not installed"; return; }
	mkdir -p "$d"
	free_port port
	if ((IS_ROOT)); then
		u=$'User nobody\nGroup nogroup'
		chown nobody:nogroup "$d"
	fi
	fill "$CONF_DIR/tinyproxy.conf" "$d/tinyproxy.conf" DIR="$d" PORT="$port"
	# multi-line USER: substitute with awk
	awk -v u="$u" '$0 == "@USER@" { if (u != "") print u; next } { print }' \
		"$d/tinyproxy.conf" >"$d/t" && mv "$d/t" "$d/tinyproxy.conf"
	start "$name" "$d/stderr.log" tinyproxy -d -c "$d/tinyproxy.conf"
	ROOTPID[$name]=$PID PORT[$name]=$port LOGF[$name]=$d/tinyproxy.log
	NOTE[$name]="1 process (threads per client), no upstream keep-alive; closes each client connection after the response"
}

setup_squid() {
	local name=squid d=$TMP/squid port u=""
	command -v squid >/dev/null || { NA[$name]="squid not installed"; return; }
	mkdir -p "$d"
	free_port port
	if ((IS_ROOT)); then
		u="cache_effective_user proxy"
		chown proxy:proxy "$d"
	fi
	fill "$CONF_DIR/squid.conf" "$d/squid.conf" DIR="$d" PORT="$port" USER="$u"
	if ! squid -k parse -f "$d/squid.conf" >"$d/parse.log" 2>&1; then
		NA[$name]="squid -k parse failed: $(grep -m1 -i 'fatal\|error' "$d/parse.log" || true)"
		return
	fi
	start "$name" "$d/stderr.log" squid -N -f "$d/squid.conf"
	ROOTPID[$name]=$PID PORT[$name]=$port LOGF[$name]=$d/cache.log
	NOTE[$name]="1 process (-N), cache deny all, access_log none"
}

setup_nginx() {
	local name=nginx d=$TMP/nginx port
	mkdir -p "$d/tmp"
	free_port port
	fill "$CONF_DIR/nginx-forward.conf" "$d/nginx.conf" \
		DIR="$d" PORT="$port" WORKERS="$WORKERS" USER="$NGX_USER"
	start "$name" "$d/stderr.log" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
	ROOTPID[$name]=$PID PORT[$name]=$port LOGF[$name]=$d/error.log
	NOTE[$name]="$WORKERS workers, proxy_pass http://\$http_host\$request_uri, no upstream keep-alive"
}

setup_haproxy() {
	local name=haproxy d=$TMP/haproxy port
	command -v haproxy >/dev/null || { NA[$name]="haproxy not installed"; return; }
	mkdir -p "$d"
	free_port port
	fill "$CONF_DIR/haproxy.cfg" "$d/haproxy.cfg" DIR="$d" PORT="$port" THREADS="$WORKERS"
	if ! haproxy -c -q -f "$d/haproxy.cfg" >"$d/check.log" 2>&1; then
		NA[$name]="haproxy -c failed: $(head -c 300 "$d/check.log" | tr '\n' ' ')"
		return
	fi
	start "$name" "$d/stderr.log" haproxy -db -f "$d/haproxy.cfg"
	ROOTPID[$name]=$PID PORT[$name]=$port LOGF[$name]=$d/stderr.log
	NOTE[$name]="nbthread $WORKERS, set-dst url_ip + set-dst-port url_port"
}

for p in $PEERS; do
	case $p in
	proxyd) setup_proxyd proxyd off ;;
	proxyd-log) setup_proxyd proxyd-log on ;;
	tinyproxy | squid | nginx | haproxy) "setup_$p" ;;
	*) die "unknown peer '$p' in BENCH_PEERS" ;;
	esac
done

# Wait for each proxy, then one request per file through it: 200 and the
# exact size, or the peer is n/a.
for p in $PEERS; do
	[[ -n ${NA[$p]:-} ]] && continue
	if ! wait_port "${ROOTPID[$p]}" "${PORT[$p]}"; then
		NA[$p]="did not listen within 10 s: $(tail -c 300 "${LOGF[$p]}" 2>/dev/null | tr '\n' ' ' || true)" 
		continue
	fi
	for s in $SCENARIOS; do
		got=""
		for i in $(seq 20); do	# squid may listen before it serves
			got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' \
				-x "http://127.0.0.1:${PORT[$p]}" "http://$ORIGIN/$s.bin" || true)
			[[ $got == "200 ${SIZE[$s]}" ]] && break
			sleep 0.25
		done
		if [[ $got != "200 ${SIZE[$s]}" ]]; then
			NA[$p]="curl -x through it for /$s.bin gave '$got' (want 200 ${SIZE[$s]})"
			break
		fi
	done
	if [[ -z ${NA[$p]:-} ]]; then
		log "$p: 127.0.0.1:${PORT[$p]} ok (pid ${ROOTPID[$p]})"
	else
		log "$p: n/a: ${NA[$p]}"
	fi
done

# ---------------------------------------------------------------- runs
declare -A CPU=() OCONN=() RPS=() P99=() ERR=() ERRD=() READERR=() NON2XX=() RSS=() HWM=() REQS=() WRKOUT=()

# p99 from wrk ("850.00us", "3.21ms", "1.02s", "2.00m") in ms
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000
		else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

origin_accepts() {
	{ curl -s --max-time 5 "http://$ORIGIN/.bench-status" || true; } | awk 'NR == 3 { print $1 }'
}

# run_wrk NAME SCENARIO URL TARGET ROOTPID ROUND: results under NAME:SCENARIO:ROUND
run_wrk() {
	local name=$1 url=$3 target=$4 root=$5 out=$TMP/wrk-$1-$2-$6.txt c0 c1
	local s=$2:$6	# the key suffix; the file name is always $2
	local cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$LUA" "$url")
	if ((WARMUP > 0)); then
		BENCH_TARGET=$target BENCH_HOST=$ORIGIN timeout $((WARMUP + 20)) \
			wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$LUA" "$url" >/dev/null 2>&1 &
		WRK_PID=$!
		wait "$WRK_PID" || true
		WRK_PID=
	fi
	local a0 a1
	a0=$(origin_accepts)
	c0=$(cpu_ticks "$root")
	# in the background so that a signal reaches the traps at once
	BENCH_TARGET=$target BENCH_HOST=$ORIGIN timeout $((DURATION + 30)) "${cmd[@]}" >"$out" 2>&1 &
	WRK_PID=$!
	if ! wait "$WRK_PID"; then
		echo "(wrk failed or timed out)" >>"$out"
	fi
	WRK_PID=
	c1=$(cpu_ticks "$root")
	a1=$(origin_accepts)
	# minus the status request itself
	OCONN[$name:$s]=$(( ${a1:-0} - ${a0:-0} - 1 ))
	WRKOUT[$name:$s]=$out
	WRK_CMD="BENCH_TARGET=http://$ORIGIN/$2.bin BENCH_HOST=$ORIGIN ${cmd[*]}"
	RPS[$name:$s]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	REQS[$name:$s]=$(awk '/requests in/ { print $1 }' "$out")
	P99[$name:$s]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	ERR[$name:$s]=$(awk '
		/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { e += $NF }
		END { print e + 0 }' "$out")
	# the non-zero parts: "connect 3, read 5688, non-2xx 12"
	ERRD[$name:$s]=$(awk '
		/Socket errors:/ { gsub(/,/, "")
			for (i = 3; i <= 9; i += 2) if ($(i + 1) > 0) d = d (d ? ", " : "") $i " " $(i + 1) }
		/Non-2xx or 3xx responses:/ { d = d (d ? ", " : "") "non-2xx " $NF }
		END { print d }' "$out")
	READERR[$name:$s]=$(awk '/Socket errors:/ { gsub(/,/, ""); print $6 }' "$out")
	NON2XX[$name:$s]=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
	# CPU time the server (proxy, or the origin for the direct row) spent per request
	CPU[$name:$s]=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${REQS[$name:$s]:-0}" \
		'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "-" }')
	[[ -n ${RPS[$name:$s]} ]] || { RPS[$name:$s]=0; ERR[$name:$s]="wrk failed"; ERRD[$name:$s]=""; }
}

# children_secs VAR: CPU seconds used so far by this script's finished
# children (wrk, curl, ...); `times` must run in this shell, not a subshell
children_secs() {
	times >"$TMP/times"
	printf -v "$1" '%s' "$(awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
		printf "%.2f", t }' "$TMP/times")"
}
cpu_stat() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# median_round NAME SCENARIO: copy the round with the median req/s to NAME:SCENARIO
median_round() {
	local k=$1:$2 r pick arr
	pick=$(for ((r = 1; r <= ROUNDS; r++)); do
		if [[ -n ${RPS[$k:$r]:-} ]]; then echo "${RPS[$k:$r]} $r"; fi
	done | sort -n | awk '{ l[NR] = $2 } END { if (NR) print l[int((NR + 1) / 2)] }')
	[[ -n $pick ]] || return 0
	for arr in RPS P99 ERR ERRD READERR NON2XX REQS WRKOUT OCONN CPU RSS HWM; do
		local -n A=$arr
		A[$k]=${A[$k:$pick]:-}
		unset -n A
	done
	ALLRPS[$k]=$(for ((r = 1; r <= ROUNDS; r++)); do echo "${RPS[$k:$r]:-}"; done | paste -sd/ -)
}
declare -A ALLRPS=()

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY0=$(cpu_busy_others)
T0=$(date +%s)
children_secs CH0
STAT0=$(cpu_stat) SRV0=$(all_ticks)
for s in $SCENARIOS; do
	for ((r = 1; r <= ROUNDS; r++)); do
		log "scenario $s, round $r/$ROUNDS: direct"
		run_wrk direct "$s" "http://$ORIGIN/" "/$s.bin" "$OPID" "$r"
		RSS[direct:$s:$r]=$(sum_status "$OPID" VmRSS)
		HWM[direct:$s:$r]=$(sum_status "$OPID" VmHWM)
		# rotate the order from round to round so that no proxy always
		# runs right after the direct baseline
		read -r -a order <<<"$PEERS"
		order=("${order[@]:$(((r - 1) % ${#order[@]}))}" "${order[@]:0:$(((r - 1) % ${#order[@]}))}")
		for p in "${order[@]}"; do
			[[ -n ${NA[$p]:-} ]] && continue
			if ! kill -0 "${ROOTPID[$p]}" 2>/dev/null; then
				NA[$p]="exited during the benchmark (see its log)"
				continue
			fi
			log "scenario $s, round $r/$ROUNDS: $p"
			run_wrk "$p" "$s" "http://127.0.0.1:${PORT[$p]}/" "http://$ORIGIN/$s.bin" \
				"${ROOTPID[$p]}" "$r"
			RSS[$p:$s:$r]=$(sum_status "${ROOTPID[$p]}" VmRSS)
			HWM[$p:$s:$r]=$(sum_status "${ROOTPID[$p]}" VmHWM)
			kill -0 "${ROOTPID[$p]}" 2>/dev/null || NA[$p]="exited during the $s run"
		done
	done
	for p in direct $PEERS; do median_round "$p" "$s"; done
done
children_secs CH1
STAT1=$(cpu_stat) SRV1=$(all_ticks)
ELAPSED=$(($(date +%s) - T0))
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU used by processes other than ours (servers, wrk, curl) while measuring
BUSY_RUN=$(awk -v a="$STAT0" -v b="$STAT1" -v srv=$((SRV1 - SRV0)) \
	-v ch="$(awk -v x="$CH0" -v y="$CH1" -v hz="$HZ" 'BEGIN { printf "%.0f", (y - x) * hz }')" '
	BEGIN { split(a, x, " "); split(b, y, " ")
		bu = y[1] - x[1]; id = y[2] - x[2]; tot = bu + id
		o = bu - srv - ch; if (o < 0) o = 0
		printf "%.0f%%", (tot > 0) ? 100 * o / tot : 0 }')

# A proxy log that says more than the start-up banner is worth seeing.
declare -A LOGTAIL=()
for p in $PEERS; do
	f=${LOGF[$p]:-}
	[[ -n $f && -s $f ]] || continue
	LOGTAIL[$p]=$(tail -n 15 "$f")
done

# ---------------------------------------------------------------- report
ratio() {	# ratio A B -> "0.31x"
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

label() {
	case $1 in
	direct) echo "direct (no proxy)" ;;
	proxyd) echo "proxyd" ;;
	proxyd-log) echo "proxyd + access log" ;;
	*) echo "$1" ;;
	esac
}

table() {	# table SCENARIO -> markdown
	local s=$1 base=${RPS[proxyd:$s]:-0} p
	echo "| proxy | req/s | vs proxyd | p99 ms | errors | origin conns | CPU µs/req | RSS MiB | peak RSS MiB | setup |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for p in direct $PEERS; do
		if [[ -z ${RPS[$p:$s]:-} ]]; then
			echo "| $(label "$p") | n/a | | | | | | | | ${NA[$p]:-not run} |"
			continue
		fi
		local note=${NOTE[$p]:-"origin nginx, $WORKERS workers (RSS = the origin)"}
		[[ -n ${NA[$p]:-} ]] && note="$note; ${NA[$p]}"
		echo "| $(label "$p") | ${RPS[$p:$s]} | $(ratio "${RPS[$p:$s]}" "$base") |" \
			"${P99[$p:$s]} | ${ERR[$p:$s]}${ERRD[$p:$s]:+ (${ERRD[$p:$s]})} | ${OCONN[$p:$s]} | ${CPU[$p:$s]} | $(mib "${RSS[$p:$s]}") | $(mib "${HWM[$p:$s]}") | $note |"
	done
}

join() {	# join ITEMS... -> "a, b, c"
	local out="" x
	for x in "$@"; do out+="${out:+, }$x"; done
	echo "$out"
}

# one sentence per scenario: where proxyd stands
standing() {
	local s=$1 p ahead=() behind=() base=${RPS[proxyd:$s]:-}
	[[ -n $base ]] || { echo "proxyd did not run in the $s scenario (${NA[proxyd]:-})."; return; }
	for p in $PEERS; do
		[[ $p == proxyd || $p == proxyd-log || -z ${RPS[$p:$s]:-} ]] && continue
		local r=${RPS[$p:$s]}
		if ((r > base)); then
			behind+=("$(label "$p") $(ratio "$r" "$base")")
		else
			ahead+=("$(label "$p") $(ratio "$r" "$base")")
		fi
	done
	local a b
	a=$(join "${ahead[@]}")
	b=$(join "${behind[@]}")
	printf '%s: proxyd %s req/s (p99 %s ms, %s errors, %s MiB RSS), %s of the direct rate; ' \
		"$s" "$base" "${P99[proxyd:$s]}" "${ERR[proxyd:$s]}" "$(mib "${RSS[proxyd:$s]}")" \
		"$(ratio "$base" "${RPS[direct:$s]}")"
	printf 'ahead of: %s; behind: %s' "${a:-none}" "${b:-none}"
	if [[ -n ${RPS[proxyd-log:$s]:-} ]]; then
		printf '; with its access log on: %s req/s (%s), p99 %s ms' "${RPS[proxyd-log:$s]}" \
			"$(ratio "${RPS[proxyd-log:$s]}" "$base")" "${P99[proxyd-log:$s]}"
	fi
	printf '.\n'

}

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

{
	echo "# proxyd benchmark results"
	echo
	echo "Written by \`bench/run.sh\` (\`make bench\`); every run overwrites this file."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "- proxyd: $("$PROXYD" -V 2>&1 | head -n 1), git $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$TOP" status --porcelain 2>/dev/null) ]] && echo ' (working tree with uncommitted changes)')"
	echo "- peers (dpkg): wrk $(ver wrk), nginx $(ver nginx) (nginx-light $(ver nginx-light)), haproxy $(ver haproxy), squid $(ver squid), tinyproxy $(ver tinyproxy)"
	echo "- other work on the box: CPUs $BUSY0 busy with other processes in the 2 s before the runs and $BUSY_RUN during the runs (total busy time minus the servers', wrk's and this script's); load average before the runs $LOAD0, after $LOAD1 (the benchmark's own load included)"
	echo "- kernel settings read (not changed): tcp_tw_reuse=$(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null), ip_local_port_range=$(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null | tr '\t' '-'), somaxconn=$(sysctl -n net.core.somaxconn 2>/dev/null)"
	echo
	echo "## Method"
	echo
	echo "- Origin: Debian's nginx, $WORKERS workers, access log off, keep-alive (keepalive_requests 1000000), serving a 1 KiB and a 100 KiB file from a temp folder on 127.0.0.1 (\`bench/conf/origin-nginx.conf\`)."
	echo "- Each proxy runs on its own loopback port with its own config from \`bench/conf/\`, all started before the runs and idle while the others are measured. Access logging is off everywhere except the \"proxyd + access log\" row."
	echo "- Load: wrk with \`bench/absolute.lua\`, which makes every request line absolute-form (\`GET http://$ORIGIN/1k.bin HTTP/1.1\`, \`Host: $ORIGIN\`) and points wrk at the proxy. The direct row sends the origin-form \`GET /1k.bin\` straight to the origin. Each run is preceded by a ${WARMUP}s warm-up that is not counted. $( ((ROUNDS > 1)) && echo "$ROUNDS rounds, the proxies interleaved within each round (the order rotated by one each round); each table cell comes from the round with the median req/s for that proxy (every round's req/s is listed under the table)." || echo "One round: each proxy is measured once per file, one after the other.")"
	echo "- Command (per proxy and file): \`$WRK_CMD\` with the proxy's URL instead of the last argument."
	echo "- Errors = wrk's socket errors (connect, read, write, timeout) + \"Non-2xx or 3xx responses\". Before the runs one \`curl -x\` per proxy and file had to return 200 with the exact size."
	echo "- Origin conns = connections the origin accepted during the measured run (nginx stub_status, before and after). CPU µs/req = user+system CPU time of the proxy's processes (of the origin, for the direct row) during the measured run, divided by the requests wrk completed."
	echo "- RSS = sum of VmRSS of the proxy's processes (master, workers, helpers) read from /proc right after its run; peak RSS = sum of VmHWM."
	echo "- Proxies:"
	for p in $PEERS; do
		if [[ -n ${CMDLINE[$p]:-} ]]; then
			echo "  - $(label "$p"): \`${CMDLINE[$p]//$TMP/\$TMP}\` — ${NOTE[$p]:-}"
		else
			echo "  - $(label "$p"): not started — ${NA[$p]:-}"
		fi
	done
	echo
	for s in $SCENARIOS; do
		echo "## ${SIZE[$s]}-byte response ($s), ${DURATION}s, $CONNS connections, $THREADS threads"
		echo
		table "$s"
		echo
		if ((ROUNDS > 1)); then
			echo "req/s in rounds 1..$ROUNDS: $(for p in direct $PEERS; do
				if [[ -n ${ALLRPS[$p:$s]:-} ]]; then echo "$(label "$p") ${ALLRPS[$p:$s]}"; fi
			done | paste -sd';' - | sed 's/;/; /g')"
			echo
		fi
	done
	echo "## Reading"
	echo
	for s in $SCENARIOS; do
		echo "- $(standing "$s")"
	done
	echo
	echo "What this measures: throughput and tail latency of one GET of a static file repeated over $CONNS keep-alive client connections, through each proxy to one origin on the same host. It does not measure DNS, TLS, CONNECT, slow or distant clients and origins, many distinct origins, request bodies, or rule evaluation. The proxies differ in what they do per request: nginx here opens a new origin connection for every request (a variable proxy_pass has no upstream keep-alive) and Tinyproxy keeps neither the origin nor the client connection; the \"origin conns\" column counts the connections the origin accepted during the measured run (from nginx stub_status), which shows who reuses origin connections. Squid and Tinyproxy run as Debian ships them, one process each, while proxyd, nginx and HAProxy use $WORKERS workers/threads."
	# Tinyproxy 1.11 answers HTTP/1.1 without "Connection: close" and then
	# closes the client connection; wrk notices at its next read and counts
	# a read error per request although every response was complete.
	tp=()
	for s in $SCENARIOS; do
		local_r=${READERR[tinyproxy:$s]:-0} local_n=${REQS[tinyproxy:$s]:-0}
		if [[ -z ${NON2XX[tinyproxy:$s]:-} && $local_r -gt 0 ]] &&
			awk -v r="$local_r" -v n="$local_n" 'BEGIN { exit !(r >= 0.95 * n && r <= 1.05 * n + 50) }'; then
			tp+=("$s: $local_r read errors for $local_n requests")
		fi
	done
	if ((${#tp[@]})); then
		echo
		echo "Tinyproxy's errors ($(join "${tp[@]}"); no non-2xx) are not failed requests: Tinyproxy 1.11 answers with HTTP/1.1 and no \`Connection: close\`, then closes the client connection after every response (seen with \`curl -v -x\`); wrk counts each close as a read error and reconnects. Its rate therefore includes a new client connection per request."
	fi
	echo
	echo "Caveat: the machine has $(nproc) cores and wrk, the proxy and the origin nginx all share them, so a proxy that uses more CPU also takes it from the load generator and the origin; the numbers rank the proxies on this box and are not capacity figures. $( ((ROUNDS > 1)) && echo "Each cell is the median of $ROUNDS ${DURATION}s runs" || echo "Each cell is a single ${DURATION}s run"); on this shared virtual machine the same proxy's rate has been seen to vary by a third between runs, so only large gaps mean something; rerun (\`BENCH_ROUNDS=3 make bench\`, or \`BENCH_SECONDS=30 bench/run.sh build/proxyd\`) before drawing conclusions from small ones."
	problems=0
	for p in direct $PEERS; do
		for s in $SCENARIOS; do
			for ((r = 1; r <= ROUNDS; r++)); do
				[[ -n ${ERR[$p:$s:$r]:-} && ${ERR[$p:$s:$r]} != 0 ]] && problems=1
			done
		done
		[[ -n ${NA[$p]:-} ]] && problems=1
		[[ -n ${LOGTAIL[$p]:-} && $p == proxyd* ]] && problems=1
	done
	if ((problems)); then
		echo
		echo "## Problems seen in this run"
		echo
		for p in direct $PEERS; do
			[[ -n ${NA[$p]:-} ]] && echo "- $(label "$p"): ${NA[$p]}"
			for s in $SCENARIOS; do
				for ((r = 1; r <= ROUNDS; r++)); do
					[[ -n ${ERR[$p:$s:$r]:-} && ${ERR[$p:$s:$r]} != 0 ]] || continue
					echo "- $(label "$p"), $s$( ((ROUNDS > 1)) && echo ", round $r"): ${ERR[$p:$s:$r]} errors$([[ $p == tinyproxy && ${#tp[@]} -gt 0 ]] && echo ' (explained under Reading)'); wrk said:"
					echo
					echo '```'
					grep -E 'requests in|Socket errors|Non-2xx|Requests/sec|failed' "${WRKOUT[$p:$s:$r]}" || true
					echo '```'
				done
			done
			if [[ -n ${LOGTAIL[$p]:-} && $p == proxyd* ]]; then
				echo "- $(label "$p") log (last lines):"
				echo
				echo '```'
				echo "${LOGTAIL[$p]}"
				echo '```'
			fi
		done
	fi
	echo
	echo "_Measured part of the run: ${ELAPSED}s._"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

for s in $SCENARIOS; do
	echo
	echo "== ${SIZE[$s]}-byte response: wrk -t$THREADS -c$CONNS -d${DURATION}s =="
	printf '%-22s %10s %9s %9s %8s %9s %8s %8s\n' proxy req/s "vs proxyd" "p99 ms" errors "orig.conn" "CPU us/r" "RSS MiB"
	for p in direct $PEERS; do
		if [[ -z ${RPS[$p:$s]:-} ]]; then
			printf '%-22s %10s  %s\n' "$(label "$p")" n/a "${NA[$p]:-}"
			continue
		fi
		printf '%-22s %10s %9s %9s %8s %9s %8s %8s\n' "$(label "$p")" "${RPS[$p:$s]}" \
			"$(ratio "${RPS[$p:$s]}" "${RPS[proxyd:$s]:-0}")" "${P99[$p:$s]}" \
			"${ERR[$p:$s]}" "${OCONN[$p:$s]}" "${CPU[$p:$s]}" "$(mib "${RSS[$p:$s]}")"
	done
done
for p in $PEERS; do
	[[ -n ${LOGTAIL[$p]:-} && $p == proxyd* ]] || continue
	echo
	echo "== $p stderr (last lines) =="
	echo "${LOGTAIL[$p]}"
done
echo
echo "bench: wrote $RESULTS"
if [[ " $PEERS " == *" proxyd "* ]]; then
	[[ -z ${NA[proxyd]:-} && -n ${RPS[proxyd:1k]:-} ]] || die "proxyd did not complete the benchmark"
fi
