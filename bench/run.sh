#!/usr/bin/env bash
# bench/run.sh — wrk through proxyd and its peers, against a local nginx
# origin, in two modes; prints tables and writes bench/RESULTS.md.
#   forward: Tinyproxy, Squid, nginx and HAProxy as forward proxies,
#            absolute-form requests, 1 KiB and 100 KiB responses
#   reverse: nginx (proxy_pass to an upstream with keep-alive) and HAProxy
#            as reverse proxies in front of the same origin, origin-form
#            requests, 100-byte and 64 KiB responses; the target (proxyd
#            >= 1.1x both on 100 B, p99 no worse) checked, then a perf
#            profile of proxyd's workers and the syscalls per request of
#            all three (BENCH_PROFILE)
#   tls:     proxyd, nginx and HAProxy as TLS reverse proxies (one EC P-256
#            certificate made for the run, served by all three) in front
#            of the same origin, 100-byte file: the keep-alive request rate
#            over HTTPS (wrk) and the new-handshake rate, each connection a
#            full handshake with no resumption and one request (parallel
#            `openssl s_time -new`); the TLS each one negotiates is
#            recorded with `openssl s_client`
#
#   usage: bench/run.sh [PROXYD] [TEST_ORIGIN]
#     PROXYD       the proxyd binary (default build/proxyd)
#     TEST_ORIGIN  accepted for `make bench` and not used: the origin is
#                  Debian's nginx (faster than the test origin)
#   environment:
#     BENCH_MODE     forward, reverse, tls or all (all)
#     BENCH_SECONDS  measured seconds per run (3)     BENCH_CONNS    connections (50)
#     BENCH_THREADS  wrk threads (2)                  BENCH_WORKERS  proxy workers (2)
#     BENCH_WARMUP   warm-up seconds per run (1)      BENCH_PEERS    forward proxies to run
#     BENCH_REVERSE_PEERS  reverse proxies to run ("proxyd nginx haproxy";
#                    proxyd-log adds proxyd with its access log on)
#     BENCH_TLS_PEERS  TLS reverse proxies to run ("proxyd nginx haproxy")
#     BENCH_TLS_CLIENTS  parallel `openssl s_time -new` processes in the
#                    handshake runs (4; each makes one connection at a time)
#     BENCH_RESULTS  output file (bench/RESULTS.md)   BENCH_KEEP=1   keep the temp folder
#     BENCH_ROUNDS   rounds, interleaved (1); with more, each cell is the
#                    round with the median req/s
#     BENCH_PROFILE  on, auto or off (on): after the reverse rounds, one
#                    more 100 B run through proxyd under `perf record -g`
#                    (its workers) and one per reverse proxy under
#                    `perf stat` (syscalls per request), about 25 s; auto =
#                    only when proxyd misses the target.  In tls mode: one
#                    more handshake run through proxyd under `perf record`
#                    (its workers, by object and symbol), about 5 s; auto =
#                    only when a peer makes 1.1x proxyd's handshakes/s
#
# BENCH_ROUNDS=3 with the defaults is 84 runs of 1+3 s and the profile:
# about 7 minutes (BENCH_MODE=reverse alone: about 2.5; BENCH_MODE=tls
# alone: about 1.75).
# A mode that is not run keeps its section of the previous RESULTS.md
# (marked as such).  Every process started here runs in its own session
# and is killed on exit; every wait is bounded.  Only 127.0.0.1 is used.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
CONF_DIR=$BENCH_DIR/conf
LUA=$BENCH_DIR/absolute.lua

PROXYD=${1:-$TOP/build/proxyd}
[[ $PROXYD == /* ]] || PROXYD=$PWD/$PROXYD
MODE=${BENCH_MODE:-all}
DURATION=${BENCH_SECONDS:-3}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-2}
WORKERS=${BENCH_WORKERS:-2}
WARMUP=${BENCH_WARMUP:-1}
ROUNDS=${BENCH_ROUNDS:-1}
PROFILE=${BENCH_PROFILE:-on}
PEERS=${BENCH_PEERS:-"proxyd proxyd-log tinyproxy squid nginx haproxy"}
RPEERS_IN=${BENCH_REVERSE_PEERS:-"proxyd nginx haproxy"}
TPEERS_IN=${BENCH_TLS_PEERS:-"proxyd nginx haproxy"}
HS_CLIENTS=${BENCH_TLS_CLIENTS:-4}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/RESULTS.md}
FWD_SCEN="1k 100k"
REV_SCEN="100b 64k"
TLS_SCEN="ka hs"	# keep-alive requests, new handshakes (100 B each)
TARGET_RATIO=1.1	# reverse, 100 B: proxyd >= 1.1x each peer's req/s

for v in DURATION CONNS THREADS WORKERS WARMUP ROUNDS HS_CLIENTS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: $v must be a number" >&2; exit 2; }
done
((ROUNDS >= 1 && DURATION >= 1)) || { echo "bench: BENCH_ROUNDS and BENCH_SECONDS must be >= 1" >&2; exit 2; }
((THREADS <= CONNS)) || { echo "bench: BENCH_THREADS > BENCH_CONNS" >&2; exit 2; }
((HS_CLIENTS >= 1)) || { echo "bench: BENCH_TLS_CLIENTS must be >= 1" >&2; exit 2; }
case $MODE in
forward) MODES="forward" ;;
reverse) MODES="reverse" ;;
tls) MODES="tls" ;;
all) MODES="forward reverse tls" ;;
*) echo "bench: BENCH_MODE must be forward, reverse, tls or all" >&2; exit 2 ;;
esac
case $PROFILE in
auto | on | off) ;;
*) echo "bench: BENCH_PROFILE must be auto, on or off" >&2; exit 2 ;;
esac
run_fwd=0 run_rev=0 run_tls=0
[[ " $MODES " == *" forward "* ]] && run_fwd=1
[[ " $MODES " == *" reverse "* ]] && run_rev=1
[[ " $MODES " == *" tls "* ]] && run_tls=1
((run_fwd)) || PEERS=""

# Reverse proxies are named r-NAME inside the script (their results live in
# the same arrays as the forward ones); tables show NAME.
RPEERS=""
if ((run_rev)); then
	for p in $RPEERS_IN; do
		case $p in
		proxyd | proxyd-log | nginx | haproxy) RPEERS+="${RPEERS:+ }r-$p" ;;
		*) echo "bench: unknown reverse peer '$p' in BENCH_REVERSE_PEERS" >&2; exit 2 ;;
		esac
	done
fi
# TLS reverse proxies are named t-NAME.
TPEERS=""
if ((run_tls)); then
	for p in $TPEERS_IN; do
		case $p in
		proxyd | nginx | haproxy) TPEERS+="${TPEERS:+ }t-$p" ;;
		*) echo "bench: unknown TLS peer '$p' in BENCH_TLS_PEERS" >&2; exit 2 ;;
		esac
	done
fi

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

PATH=$PATH:/usr/sbin:/sbin
for tool in wrk curl nginx awk ps; do
	command -v "$tool" >/dev/null || die "$tool not found (make bench-deps)"
done
[[ -x $PROXYD ]] || die "$PROXYD is not executable (make)"
if ((run_tls)); then
	command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
fi

IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

nruns=0
((run_fwd)) && nruns=$(( (1 + $(wc -w <<<"$PEERS")) * 2 ))
((run_rev)) && nruns=$(( nruns + (1 + $(wc -w <<<"$RPEERS")) * 2 ))
# a handshake run lasts about a second more (s_time stops on a whole second)
((run_tls)) && nruns=$(( nruns + $(wc -w <<<"$TPEERS") * 2 ))
log "mode $MODE: $((nruns * ROUNDS)) runs of ${WARMUP}+${DURATION} s, about $(( (nruns * ROUNDS * (WARMUP + DURATION + 1) + 59) / 60 )) min"

TMP=$(mktemp -d /tmp/proxyd-bench.XXXXXX)
chmod 755 "$TMP"	# workers that drop privileges must reach their folders
# Run a copy: a `make` during the run then changes neither what is measured
# nor the symbols perf reads.
PROXYD_SRC=$PROXYD
PROXYD_BUILT=$(date -u -r "$PROXYD" '+%Y-%m-%d %H:%M UTC')
mkdir -m 755 "$TMP/bin"
cp "$PROXYD" "$TMP/bin/proxyd"
chmod 755 "$TMP/bin/proxyd"
PROXYD=$TMP/bin/proxyd
# ---------------------------------------------------------------- processes
declare -a STARTED=()		# session leaders we started
WRK_PID=			# the running wrk (timeout) if any
PERF_PID=			# the running perf (timeout) if any
HS_PGID=			# the running group of s_time clients if any

kill_all() {
	local pid alive
	for pid in "${STARTED[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	for _ in $(seq 30); do
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
	if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
	if [[ -n $PERF_PID ]]; then kill -TERM "$PERF_PID" 2>/dev/null || true; fi
	if [[ -n $HS_PGID ]]; then kill -TERM -- "-$HS_PGID" 2>/dev/null || true; fi
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
	local p
	for _ in $(seq 500); do
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
	local pid=$1 port=$2
	for _ in $(seq 100); do
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

# sum_pss ROOT: sum of Pss (kB) over the tree: each shared page counted once
# in all, where VmRSS sums count it once per process
sum_pss() {
	local total=0 pid v
	for pid in $(tree_pids "$1"); do
		v=$(awk '$1 == "Pss:" { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# cpu_ticks ROOT: user+system clock ticks used so far by the tree
cpu_ticks() {
	local total=0 pid line rest f
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
declare -A SIZE=([1k]=1024 [100k]=102400 [100b]=100 [64k]=65536)
for s in $FWD_SCEN $REV_SCEN; do
	head -c "${SIZE[$s]}" /dev/urandom >"$ODIR/www/$s.bin"
done
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
for s in $FWD_SCEN $REV_SCEN; do
	got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' "http://$ORIGIN/$s.bin" || true)
	[[ $got == "200 ${SIZE[$s]}" ]] || die "origin: /$s.bin answered '$got'"
done
log "origin: nginx on $ORIGIN (pid $OPID)"

# ---------------------------------------------------------------- certificate
# One self-signed EC P-256 certificate (ECDSA with SHA-256, for 127.0.0.1
# and localhost, valid 90 days from now) made for this run: every TLS proxy
# serves it, and the checks below trust it alone.
TLS_CERT="" TLS_KEY="" TLS_PEM="" TLS_FP=""
if ((run_tls)); then
	mkdir -m 755 "$TMP/tls"
	TLS_CERT=$TMP/tls/cert.pem TLS_KEY=$TMP/tls/key.pem TLS_PEM=$TMP/tls/cert+key.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
		-sha256 -nodes -days 90 -subj "/CN=proxyd-bench" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$TLS_KEY" -out "$TLS_CERT" >"$TMP/tls/req.log" 2>&1 ||
		die "openssl req failed: $(tail -c 300 "$TMP/tls/req.log")"
	cat "$TLS_CERT" "$TLS_KEY" >"$TLS_PEM"
	chmod 600 "$TLS_KEY" "$TLS_PEM"
	chmod 644 "$TLS_CERT"
	TLS_FP=$(openssl x509 -in "$TLS_CERT" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
	log "certificate: EC P-256, sha256 ${TLS_FP:0:16}…"
fi

# ---------------------------------------------------------------- proxies
# Each setup_* writes a config, starts the proxy and sets ROOTPID/PORT/NOTE;
# on failure it sets NA[name] to the reason.

setup_proxyd() {	# setup_proxyd NAME ACCESS_LOG(off|on) [TEMPLATE]
	local name=$1 d=$TMP/$1 port al=off tpl=${3:-proxyd.ini}
	mkdir -p "$d"
	chmod 777 "$d"
	free_port port
	[[ $2 == on ]] && al=$d/access.log
	fill "$CONF_DIR/$tpl" "$d/proxyd.ini" \
		DIR="$d" PORT="$port" WORKERS="$WORKERS" ACCESS_LOG="$al" ORIGIN="$ORIGIN" \
		CERT="${TLS_CERT:-}" KEY="${TLS_KEY:-}"
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
	[[ $tpl == proxyd.ini ]] ||
		NOTE[$name]+=", keepalive = 64 (idle origin connections per worker), check = off"
	[[ $tpl == proxyd-tls.ini ]] &&
		NOTE[$name]+="; tls = on, TLS settings proxyd's defaults"
	return 0
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

setup_nginx() {	# setup_nginx NAME TEMPLATE
	local name=$1 d=$TMP/$1 port
	mkdir -p "$d/tmp"
	free_port port
	# (the output read whole: grep -q stops early, and with pipefail the
	# writer's SIGPIPE would fail the test)
	if [[ $name == t-* && $(nginx -V 2>&1) != *--with-http_ssl_module* ]]; then
		NA[$name]="this nginx has no ssl module (nginx -V)"
		return
	fi
	fill "$CONF_DIR/$2" "$d/nginx.conf" \
		DIR="$d" PORT="$port" WORKERS="$WORKERS" USER="$NGX_USER" ORIGIN="$ORIGIN" \
		CERT="${TLS_CERT:-}" KEY="${TLS_KEY:-}"
	start "$name" "$d/stderr.log" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
	ROOTPID[$name]=$PID PORT[$name]=$port LOGF[$name]=$d/error.log
	if [[ $name == t-* ]]; then
		NOTE[$name]="$WORKERS workers, proxy_pass to an upstream with keepalive 64, HTTP/1.1; listen ssl, ssl_protocols TLSv1.2 TLSv1.3, other TLS settings nginx's defaults"
	elif [[ $name == r-* ]]; then
		NOTE[$name]="$WORKERS workers, proxy_pass to an upstream with keepalive 64, HTTP/1.1"
	else
		NOTE[$name]="$WORKERS workers, proxy_pass http://\$http_host\$request_uri, no upstream keep-alive"
	fi
}

setup_haproxy() {	# setup_haproxy NAME TEMPLATE
	local name=$1 d=$TMP/$1 port
	command -v haproxy >/dev/null || { NA[$name]="haproxy not installed"; return; }
	mkdir -p "$d"
	free_port port
	if [[ $name == t-* && $(haproxy -vv 2>/dev/null || true) != *USE_OPENSSL=1* ]]; then
		NA[$name]="this haproxy is built without OpenSSL (haproxy -vv)"
		return
	fi
	fill "$CONF_DIR/$2" "$d/haproxy.cfg" DIR="$d" PORT="$port" THREADS="$WORKERS" ORIGIN="$ORIGIN" \
		PEM="${TLS_PEM:-}"
	if ! haproxy -c -q -f "$d/haproxy.cfg" >"$d/check.log" 2>&1; then
		NA[$name]="haproxy -c failed: $(head -c 300 "$d/check.log" | tr '\n' ' ')"
		return
	fi
	start "$name" "$d/stderr.log" haproxy -db -f "$d/haproxy.cfg"
	ROOTPID[$name]=$PID PORT[$name]=$port LOGF[$name]=$d/stderr.log
	if [[ $name == t-* ]]; then
		NOTE[$name]="nbthread $WORKERS, one server, http-reuse always (idle server connections kept, and taken by the first request of a client connection too); bind ssl crt, TLSv1.2 TLSv1.3, other TLS settings HAProxy's defaults"
	elif [[ $name == r-* ]]; then
		NOTE[$name]="nbthread $WORKERS, one server, http-reuse safe (idle server connections kept)"
	else
		NOTE[$name]="nbthread $WORKERS, set-dst url_ip + set-dst-port url_port"
	fi
}

for p in $PEERS; do
	case $p in
	proxyd) setup_proxyd proxyd off ;;
	proxyd-log) setup_proxyd proxyd-log on ;;
	tinyproxy | squid) "setup_$p" ;;
	nginx) setup_nginx nginx nginx-forward.conf ;;
	haproxy) setup_haproxy haproxy haproxy.cfg ;;
	*) die "unknown peer '$p' in BENCH_PEERS" ;;
	esac
done
for p in $RPEERS; do
	case $p in
	r-proxyd) setup_proxyd r-proxyd off proxyd-reverse.ini ;;
	r-proxyd-log) setup_proxyd r-proxyd-log on proxyd-reverse.ini ;;
	r-nginx) setup_nginx r-nginx nginx-reverse.conf ;;
	r-haproxy) setup_haproxy r-haproxy haproxy-reverse.cfg ;;
	esac
done
for p in $TPEERS; do
	case $p in
	t-proxyd) setup_proxyd t-proxyd off proxyd-tls.ini ;;
	t-nginx) setup_nginx t-nginx nginx-tls.conf ;;
	t-haproxy) setup_haproxy t-haproxy haproxy-tls.cfg ;;
	esac
done

# Wait for each proxy, then one request per file through it: 200 and the
# exact size, or the peer is n/a.  A forward proxy gets the origin's URL
# (curl -x), a reverse proxy the path; a TLS one the 100 B path over HTTPS,
# verified against this run's certificate alone.
for p in $PEERS $RPEERS $TPEERS; do
	[[ -n ${NA[$p]:-} ]] && continue
	if ! wait_port "${ROOTPID[$p]}" "${PORT[$p]}"; then
		NA[$p]="did not listen within 10 s: $(tail -c 300 "${LOGF[$p]}" 2>/dev/null | tr '\n' ' ' || true)" 
		continue
	fi
	case $p in
	r-*) scen=$REV_SCEN ;;
	t-*) scen=100b ;;
	*) scen=$FWD_SCEN ;;
	esac
	for s in $scen; do
		got=""
		for _ in $(seq 20); do	# squid may listen before it serves
			if [[ $p == t-* ]]; then
				got=$(curl -s -o /dev/null --max-time 5 --cacert "$TLS_CERT" \
					-w '%{http_code} %{size_download}' "https://127.0.0.1:${PORT[$p]}/$s.bin" || true)
			elif [[ $p == r-* ]]; then
				got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' \
					"http://127.0.0.1:${PORT[$p]}/$s.bin" || true)
			else
				got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' \
					-x "http://127.0.0.1:${PORT[$p]}" "http://$ORIGIN/$s.bin" || true)
			fi
			[[ $got == "200 ${SIZE[$s]}" ]] && break
			sleep 0.25
		done
		if [[ $got != "200 ${SIZE[$s]}" ]]; then
			NA[$p]="curl through it for /$s.bin gave '$got' (want 200 ${SIZE[$s]})"
			break
		fi
	done
	if [[ -z ${NA[$p]:-} ]]; then
		log "$p: 127.0.0.1:${PORT[$p]} ok (pid ${ROOTPID[$p]})"
	else
		log "$p: n/a: ${NA[$p]}"
	fi
done

# What each TLS proxy negotiates with a default OpenSSL client (the same
# library as wrk and s_time): one `openssl s_client` with TLS 1.3 allowed,
# one limited to TLS 1.2, each sending a request and waiting half a second
# for the session tickets the server sends after the handshake.  Sets
# TLSI[NAME:v13|v12:proto|cipher|group|sig|tickets|alpn|cert].
declare -A TLSI=() HS_BYTES=()
# hs_path NAME: what s_time's -www gets.  s_time sends
# "GET <it> HTTP/1.0\r\n\r\n", with no Host field, which the origin answers
# with 400 once a proxy has forwarded it as HTTP/1.1; so the path carries
# the rest of a request line and a Host field, and the " HTTP/1.0" s_time
# appends ends an X-Bench field.
hs_path() {
	printf '/100b.bin HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nX-Bench: s_time' "${PORT[$1]}"
}
tls_probe() {
	local name=$1 v=$2 out=$TMP/$1/s_client-$2.txt fp
	local opt=()
	[[ $v == v12 ]] && opt=(-tls1_2)
	{ printf 'GET /100b.bin HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "${PORT[$name]}"; sleep 0.5; } |
		timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$name]}" -alpn http/1.1 -msg -ign_eof \
			"${opt[@]}" >"$out" 2>&1 || true
	if [[ $v == v13 ]]; then
		# the whole response to the handshake runs' request, as s_time
		# will read it: its size is what every one of them must read
		{ printf 'GET %s HTTP/1.0\r\n\r\n' "$(hs_path "$name")"; sleep 0.5; } |
			timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$name]}" -quiet -ign_eof \
				>"$TMP/$name/s_time-response.bin" 2>/dev/null || true
		HS_BYTES[$name]=$(wc -c <"$TMP/$name/s_time-response.bin")
		local first
		first=$(head -n 1 "$TMP/$name/s_time-response.bin" | tr -d '\r' | head -c 80 || true)
		[[ $first =~ ^HTTP/1\.[01]\ 200\  ]] ||
			NA[$name]="the handshake runs' request got '$first', not 200"
	fi
	TLSI[$name:$v:proto]=$(awk -F', ' '/^(New|Reused), / { print $2; exit }' "$out")
	TLSI[$name:$v:cipher]=$(awk '/^(New|Reused), .*Cipher is/ { print $NF; exit }' "$out")
	TLSI[$name:$v:group]=$(awk -F': ' '/^Server Temp Key:/ { print $2; exit }' "$out")
	TLSI[$name:$v:sig]=$(awk -F': ' '/^Peer signature type:/ { t = $2 } /^Peer signing digest:/ { d = $2 }
		END { if (t != "") print t (d != "" ? "+" d : "") }' "$out")
	TLSI[$name:$v:tickets]=$(grep -c '^<<< .*NewSessionTicket' "$out" || true)
	TLSI[$name:$v:alpn]=$(awk -F': ' '/^ALPN protocol:/ { print $2; exit } /^No ALPN negotiated/ { print "none"; exit }' "$out")
	fp=$(openssl x509 -noout -fingerprint -sha256 <"$out" 2>/dev/null | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f' || true)
	if [[ -n $fp && $fp == "$TLS_FP" ]]; then TLSI[$name:$v:cert]=same; else TLSI[$name:$v:cert]="DIFFERENT (${fp:0:16})"; fi
}
for p in $TPEERS; do
	[[ -n ${NA[$p]:-} ]] && continue
	tls_probe "$p" v13
	tls_probe "$p" v12
	log "$p: ${TLSI[$p:v13:proto]:-?} ${TLSI[$p:v13:cipher]:-?} ${TLSI[$p:v13:group]:-?}, ${TLSI[$p:v13:tickets]:-?} tickets; TLS 1.2: ${TLSI[$p:v12:cipher]:-?} ${TLSI[$p:v12:group]:-?}; certificate ${TLSI[$p:v13:cert]}"
done

# ---------------------------------------------------------------- runs
declare -A CPU=() OCONN=() RPS=() P99=() ERR=() ERRD=() READERR=() NON2XX=() RSS=() HWM=() PSS=() REQS=() WRKOUT=() OTH=()
declare -A WRK_CMD=()	# per mode: the measured command, for the report
declare -A SPLIT=()

# conn_split PORT NAME: the established client connections on PORT per
# server process, most first ("30/20"); padded with zeros to the worker
# count for the proxies that run one process per worker.  Empty when ss
# cannot tell (not root).
conn_split() {
	local n=1
	case $2 in
	direct | *proxyd* | *nginx) n=$WORKERS ;;
	esac
	((IS_ROOT)) || return 0
	# the server ends of the connections whose client end is wrk's (the
	# origin's port also has the proxies' idle connections)
	{ ss -tnpH state established "( dport = :$1 )" 2>/dev/null || true; } |
		awk '/"wrk"/ { sub(/.*:/, "", $3); print $3 }' >"$TMP/wrkports"
	{ ss -tnpH state established "( sport = :$1 )" 2>/dev/null || true; } |
		awk 'NR == FNR { w[$1]; next }
			{ p = $4; sub(/.*:/, "", p) }
			(p in w) && match($0, /pid=[0-9]+/) { print substr($0, RSTART + 4, RLENGTH - 4) }' "$TMP/wrkports" - |
		sort | uniq -c | sort -nr |
		awk -v n="$n" '{ c[NR] = $1 } END { for (i = NR + 1; i <= n; i++) c[i] = 0
			for (i = 1; i <= (NR > n ? NR : n); i++) printf "%s%s", (i > 1 ? "/" : ""), c[i]; print "" }'
}

# p99 from wrk ("850.00us", "3.21ms", "1.02s", "2.00m") in ms
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000
		else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

# origin_status FIELD: the origin's stub_status counter (1 accepts,
# 2 handled, 3 requests)
origin_status() {
	{ curl -s --max-time 5 "http://$ORIGIN/.bench-status" || true; } | awk -v f="$1" 'NR == 3 { print $f }'
}

# run_wrk NAME SCENARIO URL TARGET HOST ROOTPID ROUND: results under
# NAME:SCENARIO:ROUND.  TARGET is the request target (absolute URL or
# path), HOST the Host field ("" = wrk's own, the URL's authority).
run_wrk() {
	local name=$1 url=$3 target=$4 host=$5 root=$6 out=$TMP/wrk-$1-$2-$7.txt c0 c1
	local s=$2:$7	# the key suffix
	local cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$LUA" "$url")
	if ((WARMUP > 0)); then
		BENCH_TARGET=$target BENCH_HOST=$host timeout $((WARMUP + 20)) \
			wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$LUA" "$url" >/dev/null 2>&1 &
		WRK_PID=$!
		wait "$WRK_PID" || true
		WRK_PID=
	fi
	local a0 a1 st0 st1 sv0 sv1 ch0 ch1 k0 k1
	[[ $name == t-proxyd ]] && tls_counters k0
	a0=$(origin_status 1)
	c0=$(cpu_ticks "$root")
	children_secs ch0
	st0=$(cpu_stat) sv0=$(all_ticks)
	# in the background so that a signal reaches the traps at once
	BENCH_TARGET=$target BENCH_HOST=$host timeout $((DURATION + 30)) "${cmd[@]}" >"$out" 2>&1 &
	WRK_PID=$!
	# halfway through: how the client connections are spread over the
	# server's processes
	sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 2 }')"
	local port=${url#*://*:}
	SPLIT[$name:$s]=$(conn_split "${port%%/*}" "$name")
	if ! wait "$WRK_PID"; then
		echo "(wrk failed or timed out)" >>"$out"
	fi
	WRK_PID=
	st1=$(cpu_stat) sv1=$(all_ticks)
	children_secs ch1
	c1=$(cpu_ticks "$root")
	a1=$(origin_status 1)
	if [[ $name == t-proxyd ]]; then
		tls_counters k1
		tls_counter_delta "$name:$s" "$k0" "$k1"
	fi
	# the CPUs' busy share during the run that was neither the servers
	# started here nor wrk: the other work on the box
	OTH[$name:$s]=$(awk -v a="$st0" -v b="$st1" -v srv=$((sv1 - sv0)) -v x="$ch0" -v y="$ch1" -v hz="$HZ" '
		BEGIN { split(a, p, " "); split(b, q, " ")
			bu = q[1] - p[1]; tot = bu + q[2] - p[2]
			o = bu - srv - (y - x) * hz; if (o < 0) o = 0
			printf "%.0f", (tot > 0) ? 100 * o / tot : 0 }')
	# minus the status request itself
	OCONN[$name:$s]=$(( ${a1:-0} - ${a0:-0} - 1 ))
	WRKOUT[$name:$s]=$out
	LAST_CMD="BENCH_TARGET=$target${host:+ BENCH_HOST=$host} ${cmd[*]}"
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
	for arr in RPS P99 ERR ERRD READERR NON2XX REQS WRKOUT OCONN CPU RSS HWM PSS OTH SPLIT HSFULL HSRES OREQ MSCONN; do
		local -n A=$arr
		A[$k]=${A[$k:$pick]:-}
		unset -n A
	done
	ALLRPS[$k]=$(for ((r = 1; r <= ROUNDS; r++)); do echo "${RPS[$k:$r]:-}"; done | paste -sd/ -)
	ALLSPLIT[$k]=$(for ((r = 1; r <= ROUNDS; r++)); do echo "${SPLIT[$k:$r]:--}"; done | paste -sd' ' -)
}
declare -A ALLRPS=() ALLSPLIT=()

# run_mode forward|reverse: ROUNDS rounds of every file through the direct
# baseline and each proxy of the mode, the proxies' order rotated by one
# each round so that no proxy always runs right after the direct baseline
run_mode() {
	local mode=$1 peers scen s r p order t0 url target host
	if [[ $mode == forward ]]; then peers=$PEERS scen=$FWD_SCEN; else peers=$RPEERS scen=$REV_SCEN; fi
	t0=$(date +%s)
	for s in $scen; do
		for ((r = 1; r <= ROUNDS; r++)); do
			log "$mode, $s, round $r/$ROUNDS: direct"
			run_wrk direct "$s" "http://$ORIGIN/" "/$s.bin" "$ORIGIN" "$OPID" "$r"
			RSS[direct:$s:$r]=$(sum_status "$OPID" VmRSS)
			HWM[direct:$s:$r]=$(sum_status "$OPID" VmHWM)
			PSS[direct:$s:$r]=$(sum_pss "$OPID")
			read -r -a order <<<"$peers"
			((${#order[@]})) &&
				order=("${order[@]:$(((r - 1) % ${#order[@]}))}" "${order[@]:0:$(((r - 1) % ${#order[@]}))}")
			for p in "${order[@]}"; do
				[[ -n ${NA[$p]:-} ]] && continue
				if ! kill -0 "${ROOTPID[$p]}" 2>/dev/null; then
					NA[$p]="exited during the benchmark (see its log)"
					continue
				fi
				log "$mode, $s, round $r/$ROUNDS: $p"
				if [[ $mode == forward ]]; then
					url=http://127.0.0.1:${PORT[$p]}/ target=http://$ORIGIN/$s.bin host=$ORIGIN
				else
					url=http://127.0.0.1:${PORT[$p]}/ target=/$s.bin host=""
				fi
				run_wrk "$p" "$s" "$url" "$target" "$host" "${ROOTPID[$p]}" "$r"
				WRK_CMD[$mode]=$LAST_CMD
				RSS[$p:$s:$r]=$(sum_status "${ROOTPID[$p]}" VmRSS)
				HWM[$p:$s:$r]=$(sum_status "${ROOTPID[$p]}" VmHWM)
				PSS[$p:$s:$r]=$(sum_pss "${ROOTPID[$p]}")
				kill -0 "${ROOTPID[$p]}" 2>/dev/null || NA[$p]="exited during the $s run"
			done
		done
		for p in direct $peers; do median_round "$p" "$s"; done
	done
	MODE_SECS[$mode]=$(($(date +%s) - t0))
}
declare -A MODE_SECS=()

# ---------------------------------------------------------------- TLS runs
declare -A HSFULL=() HSRES=() OREQ=() MSCONN=()
# proxyctl next to the proxyd binary, copied like it: reads proxyd's TLS
# counters (handshakes, resumptions) around each run
PROXYCTL=""
if ((run_tls)) && [[ -x $(dirname "$PROXYD_SRC")/proxyctl ]]; then
	cp "$(dirname "$PROXYD_SRC")/proxyctl" "$TMP/bin/proxyctl"
	PROXYCTL=$TMP/bin/proxyctl
fi

# tls_counters VAR: "handshakes resumptions" of the TLS proxyd, or ""
tls_counters() {
	local v=""
	if [[ -n $PROXYCTL ]]; then
		v=$("$PROXYCTL" -s "$TMP/t-proxyd/proxyd.shm" stats 2>/dev/null |
			awk '$1 == "tls_handshakes" { h = $2 } $1 == "tls_resumptions" { r = $2 }
				END { if (h != "") print h, r + 0 }' || true)
	fi
	printf -v "$1" '%s' "$v"
}
# tls_counter_delta KEY BEFORE AFTER: full handshakes and resumptions between
# the two readings into HSFULL[KEY] and HSRES[KEY]
tls_counter_delta() {
	local k0 k1
	[[ -n $2 && -n $3 ]] || return 0
	read -r -a k0 <<<"$2"
	read -r -a k1 <<<"$3"
	HSRES[$1]=$((k1[1] - k0[1]))
	HSFULL[$1]=$((k1[0] - k0[0] - k1[1] + k0[1]))
}

# The handshake clients: N `openssl s_time -new` in parallel, each making
# one connection at a time for SECS seconds (s_time stops at the first whole
# second after that), each connection a full handshake (-new: no session is
# ever offered) and one HTTP/1.0 GET of the 100 B file read to the end (the
# server closes).  Each client's output ends with "WALL start end status".
HS_RUN='port=$1 secs=$2 pre=$3 n=$4	# $5: the -www argument
for ((i = 1; i <= n; i++)); do
	( a=$(date +%s.%N)
	timeout $((secs + 20)) openssl s_time -connect "127.0.0.1:$port" -new -time "$secs" -www "$5" >"$pre.$i" 2>&1
	rc=$?
	echo "WALL $a $(date +%s.%N) $rc" >>"$pre.$i" ) &
done
wait'

# hs_clients NAME SECS PREFIX: run the clients in their own session
hs_clients() {
	setsid bash -c "$HS_RUN" hs "${PORT[$1]}" "$2" "$3" "$HS_CLIENTS" "$(hs_path "$1")" </dev/null >/dev/null 2>&1 &
	HS_PGID=$!
	wait "$HS_PGID" || true
	HS_PGID=
}

# run_hs NAME ROUND: the new-handshake run through NAME, results under
# NAME:hs:ROUND.  RPS = handshakes (connections, one request each) per
# second, the clients' rates summed; MSCONN = mean time of one connection
# (connect, handshake, request, response, close) as one client saw it.
run_hs() {
	local name=$1 r=$2 k=$1:hs:$2 root=${ROOTPID[$1]} out=$TMP/hs-$1-$2 c0 c1 a0 a1 q0 q1 k0 k1
	local st0 st1 sv0 sv1 ch0 ch1 res
	if ((WARMUP > 0)); then
		hs_clients "$name" "$WARMUP" "$out-warm"
	fi
	# status requests: q0, a0 before, a1, q1 after; each is a connection
	# and a request of its own
	q0=$(origin_status 3) a0=$(origin_status 1)
	[[ $name == t-proxyd ]] && tls_counters k0
	c0=$(cpu_ticks "$root")
	children_secs ch0
	st0=$(cpu_stat) sv0=$(all_ticks)
	hs_clients "$name" "$DURATION" "$out"
	st1=$(cpu_stat) sv1=$(all_ticks)
	children_secs ch1
	c1=$(cpu_ticks "$root")
	[[ $name == t-proxyd ]] && tls_counters k1
	a1=$(origin_status 1) q1=$(origin_status 3)
	# connections, sum of the clients' rates, mean ms per connection,
	# clients that failed, connections (estimated) whose response was not
	# the expected size (s_time only sums the bytes)
	res=$(cat "$out".* 2>/dev/null | awk -v want="${HS_BYTES[$name]:-0}" '
		/connections in .*; .*bytes read/ { b = $NF }
		/connections in .* real seconds/ { c = $1 }
		/^WALL / { w = $3 - $2; if ($4 != 0) f++
			if (c > 0 && w > 0) { n += c; rate += c / w; ms += 1000 * w / c; k++ }
			if (want > 0 && b != c * want) { d = c * want - b; bad += int((d < 0 ? -d : d) / want + 0.999) }
			c = 0; b = 0 }
		END { printf "%d %.0f %.2f %d %d", n, rate, (k ? ms / k : 0), f, bad }' || true)
	local failed bad
	read -r "REQS[$k]" "RPS[$k]" "MSCONN[$k]" failed bad <<<"$res"
	ERR[$k]=$((failed + bad))
	ERRD[$k]=""
	((failed == 0)) || ERRD[$k]="$failed s_time clients failed: $(grep -h -m1 -i -E 'error|unable|fail' "$out".* 2>/dev/null | head -n 1 | tr -d '\r' | head -c 120)"
	((bad == 0)) || ERRD[$k]+="${ERRD[$k]:+, }about $bad responses not of the expected ${HS_BYTES[$name]} bytes"
	P99[$k]="-"
	READERR[$k]=0 NON2XX[$k]=""
	WRKOUT[$k]=$out.1
	SPLIT[$k]=""
	OCONN[$k]=$(( ${a1:-0} - ${a0:-0} - 1 ))
	OREQ[$k]=$(( ${q1:-0} - ${q0:-0} - 3 ))
	CPU[$k]=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${REQS[$k]:-0}" \
		'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "-" }')
	OTH[$k]=$(awk -v a="$st0" -v b="$st1" -v srv=$((sv1 - sv0)) -v x="$ch0" -v y="$ch1" -v hz="$HZ" '
		BEGIN { split(a, p, " "); split(b, q, " ")
			bu = q[1] - p[1]; tot = bu + q[2] - p[2]
			o = bu - srv - (y - x) * hz; if (o < 0) o = 0
			printf "%.0f", (tot > 0) ? 100 * o / tot : 0 }')
	[[ $name == t-proxyd ]] && tls_counter_delta "$k" "$k0" "$k1"
	HS_CMD="openssl s_time -connect 127.0.0.1:PORT -new -time $DURATION -www \$'/100b.bin HTTP/1.0\\r\\nHost: 127.0.0.1:PORT\\r\\nX-Bench: s_time'"
}
HS_CMD=""

# run_tls_mode: ROUNDS rounds of the keep-alive runs through each TLS proxy
# (order rotated by one each round), then ROUNDS rounds of the handshake runs
run_tls_mode() {
	local s r p order t0
	t0=$(date +%s)
	for s in $TLS_SCEN; do
		for ((r = 1; r <= ROUNDS; r++)); do
			read -r -a order <<<"$TPEERS"
			((${#order[@]})) &&
				order=("${order[@]:$(((r - 1) % ${#order[@]}))}" "${order[@]:0:$(((r - 1) % ${#order[@]}))}")
			for p in "${order[@]}"; do
				[[ -n ${NA[$p]:-} ]] && continue
				if ! kill -0 "${ROOTPID[$p]}" 2>/dev/null; then
					NA[$p]="exited during the benchmark (see its log)"
					continue
				fi
				log "tls, $s, round $r/$ROUNDS: $p"
				if [[ $s == ka ]]; then
					run_wrk "$p" ka "https://127.0.0.1:${PORT[$p]}/" /100b.bin "" "${ROOTPID[$p]}" "$r"
					WRK_CMD[tls]=$LAST_CMD
				else
					run_hs "$p" "$r"
				fi
				RSS[$p:$s:$r]=$(sum_status "${ROOTPID[$p]}" VmRSS)
				HWM[$p:$s:$r]=$(sum_status "${ROOTPID[$p]}" VmHWM)
				PSS[$p:$s:$r]=$(sum_pss "${ROOTPID[$p]}")
				kill -0 "${ROOTPID[$p]}" 2>/dev/null || NA[$p]="exited during the $s run"
			done
		done
		for p in $TPEERS; do median_round "$p" "$s"; done
	done
	MODE_SECS[tls]=$(($(date +%s) - t0))
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY0=$(cpu_busy_others)
T0=$(date +%s)
children_secs CH0
STAT0=$(cpu_stat) SRV0=$(all_ticks)
for m in $MODES; do
	if [[ $m == tls ]]; then run_tls_mode; else run_mode "$m"; fi
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

# ---------------------------------------------------------------- target, profile
ratio() {	# ratio A B -> "0.31x"
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

label() {
	case $1 in
	direct) echo "direct (no proxy)" ;;
	proxyd | r-proxyd) echo "proxyd" ;;
	proxyd-log | r-proxyd-log) echo "proxyd + access log" ;;
	r-* | t-*) echo "${1#[rt]-}" ;;
	*) echo "$1" ;;
	esac
}

# The reverse target on 100 B: proxyd >= TARGET_RATIO x each peer's req/s
# with a p99 no higher.  TARGET = met, missed or "" (not measured); the
# lines of TARGET_WHY say why, peer by peer.
TARGET="" TARGET_WHY=()
if ((run_rev)) && [[ -n ${RPS[r-proxyd:100b]:-} && ${RPS[r-proxyd:100b]} != 0 ]]; then
	TARGET=met
	for p in r-nginx r-haproxy; do
		[[ -n ${RPS[$p:100b]:-} && ${RPS[$p:100b]} != 0 ]] || continue
		rr=$(ratio "${RPS[r-proxyd:100b]}" "${RPS[$p:100b]}")
		ok_r=$(awk -v a="${RPS[r-proxyd:100b]}" -v b="${RPS[$p:100b]}" -v t="$TARGET_RATIO" 'BEGIN { print (a >= t * b) ? 1 : 0 }')
		ok_p=$(awk -v a="${P99[r-proxyd:100b]}" -v b="${P99[$p:100b]}" 'BEGIN { print (a <= b) ? 1 : 0 }')
		((ok_r && ok_p)) || TARGET=missed
		# the same comparison round by round (the two ran a few seconds
		# apart): how stable the verdict is on this machine
		paired="" nmet=0 nr=0
		for ((r = 1; r <= ROUNDS; r++)); do
			[[ -n ${RPS[r-proxyd:100b:$r]:-} && -n ${RPS[$p:100b:$r]:-} && ${RPS[$p:100b:$r]} != 0 ]] || continue
			nr=$((nr + 1))
			paired+="${paired:+ }$(ratio "${RPS[r-proxyd:100b:$r]}" "${RPS[$p:100b:$r]}")"
			awk -v a="${RPS[r-proxyd:100b:$r]}" -v b="${RPS[$p:100b:$r]}" -v t="$TARGET_RATIO" \
				-v x="${P99[r-proxyd:100b:$r]}" -v y="${P99[$p:100b:$r]}" 'BEGIN { exit !(a >= t * b && x <= y) }' &&
				nmet=$((nmet + 1))
		done
		TARGET_WHY+=("vs $(label "$p"): req/s $rr ($( ((ok_r)) && echo "≥" || echo "<") ${TARGET_RATIO}x), p99 ${P99[r-proxyd:100b]} ms against ${P99[$p:100b]} ms ($( ((ok_p)) && echo "no worse" || echo "worse"))$( ((nr > 1)) && echo "; round by round req/s $paired, both parts met in $nmet of $nr rounds" || true)")
	done
fi

# What proxyd's workers do: perf record -g on them during one more 100 B
# run, and perf stat counting the system calls of every reverse proxy.
PROF_DONE=0 PROF_WHY=""
declare -A SC=() SC_RPS=() SC_CPU=() SC_REQS=()
SC_NAMES="read write readv writev recvfrom sendto recvmsg sendmsg recvmmsg sendmmsg splice epoll_ctl epoll_wait epoll_pwait getsockopt setsockopt accept4 close getpid clock_gettime"

# proxy_pids NAME: the processes that serve (a forking proxy's workers; the
# whole tree otherwise), comma-separated
proxy_pids() {
	local root=${ROOTPID[$1]} pid out=""
	for pid in $(tree_pids "$root"); do
		[[ $1 == *proxyd* || $1 == *nginx* ]] && [[ $pid == "$root" ]] && continue
		[[ $1 == *proxyd* && $(cat "/proc/$pid/comm" 2>/dev/null) != proxyd ]] && continue
		out+="${out:+,}$pid"
	done
	echo "$out"
}

# under_load NAME SECONDS CMD...: wrk on NAME's 100 B file; after the
# warm-up, CMD (perf, bounded by timeout) with "-- bash -c WINDOW" appended:
# the window reads the origin's request counter and NAME's CPU ticks, sleeps
# SECONDS and reads them again, all inside what perf measures.  Sets
# LOAD_REQS to the requests the origin served in the window, LOAD_RPS and
# LOAD_CPU (CPU µs per request of NAME's processes).
WINDOW='r0=$(origin_status 3); c0=$(cpu_ticks "$3"); t0=$(date +%s.%N)
	sleep "$1"
	r1=$(origin_status 3); c1=$(cpu_ticks "$3"); t1=$(date +%s.%N)
	echo "$r0 $c0 $t0 $r1 $c1 $t1" >"$2"'
export ORIGIN
export -f origin_status cpu_ticks tree_pids
under_load() {
	local name=$1 secs=$2 rc=0 w
	shift 2
	rm -f "$TMP/window"
	timeout $((WARMUP + secs + 30)) wrk -t"$THREADS" -c"$CONNS" -d"$((WARMUP + secs + 20))s" \
		"http://127.0.0.1:${PORT[$name]}/100b.bin" >"$TMP/load-$name.txt" 2>&1 &
	WRK_PID=$!
	sleep "$((WARMUP > 0 ? WARMUP : 1))"
	timeout -s INT $((secs + 15)) "$@" -- bash -c "$WINDOW" window "$secs" "$TMP/window" "${ROOTPID[$name]}" &
	PERF_PID=$!
	wait "$PERF_PID" || rc=$?
	PERF_PID=
	kill -TERM "$WRK_PID" 2>/dev/null || true
	wait "$WRK_PID" || true
	WRK_PID=
	read -r -a w <"$TMP/window" 2>/dev/null || w=()
	((${#w[@]} == 6)) || { LOAD_REQS=0 LOAD_RPS=0 LOAD_CPU=-; return 1; }
	LOAD_REQS=$((w[3] - w[0] - 1))
	LOAD_RPS=$(awk -v n="$LOAD_REQS" -v a="${w[2]}" -v b="${w[5]}" 'BEGIN { printf "%.0f", (b > a) ? n / (b - a) : 0 }')
	LOAD_CPU=$(awk -v t=$((w[4] - w[1])) -v hz="$HZ" -v n="$LOAD_REQS" \
		'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "-" }')
	return "$rc"
}

if ((run_rev)); then
	if [[ $PROFILE == off ]]; then
		PROF_WHY="BENCH_PROFILE=off"
	elif [[ $PROFILE == auto && $TARGET != missed ]]; then
		PROF_WHY="target ${TARGET:-not measured}; BENCH_PROFILE=on profiles anyway"
	elif ! command -v perf >/dev/null; then
		PROF_WHY="perf is not installed (apt-get install linux-perf)"
	elif [[ -n ${NA[r-proxyd]:-} || -z ${ROOTPID[r-proxyd]:-} ]]; then
		PROF_WHY="proxyd (reverse) did not run"
	else
		log "reverse, 100b: perf record -g on proxyd's workers (${DURATION}s)"
		if under_load r-proxyd "$DURATION" perf record -F 999 -g -p "$(proxy_pids r-proxyd)" \
			-o "$TMP/perf.data" >"$TMP/perf-record.log" 2>&1 &&
			[[ -s $TMP/perf.data ]]; then
			PROF_DONE=1 PROF_REQS=$LOAD_REQS PROF_CPU=$LOAD_CPU PROF_RPS=$LOAD_RPS
			PROF_SAMPLES=$(perf report -i "$TMP/perf.data" --stdio -n --no-children -g none --sort dso 2>/dev/null |
				awk '/^ *[0-9.]+%/ { n += $2 } END { print n + 0 }' || true)
			perf report -i "$TMP/perf.data" --stdio --no-children -g none --sort dso 2>/dev/null |
				awk '/^ *[0-9.]+%/' >"$TMP/prof-dso.txt" || true
			perf report -i "$TMP/perf.data" --stdio --no-children -g none --sort dso,sym 2>/dev/null |
				awk '/^ *[0-9.]+%/' >"$TMP/prof-sym.txt" || true
			# libc's system call wrappers, callees (the kernel) included
			perf report -i "$TMP/perf.data" --stdio --children -g none --sort dso,sym 2>/dev/null |
				awk '/^ *[0-9.]+%/ && $3 ~ /^libc/ && $1 + 0 >= 0.5 && $1 + 0 > 2 * $2' >"$TMP/prof-sys.txt" || true
		else
			PROF_WHY="perf record failed: $(tail -c 300 "$TMP/perf-record.log" | tr '\n' ' ')"
		fi
		events=$(for c in $SC_NAMES; do
			[[ -d /sys/kernel/tracing/events/syscalls/sys_enter_$c || -d /sys/kernel/debug/tracing/events/syscalls/sys_enter_$c ]] &&
				printf 'syscalls:sys_enter_%s,' "$c"
		done)
		events=${events%,}
		for p in $RPEERS; do
			[[ -z $events || -n ${NA[$p]:-} || $p == *-log ]] && continue
			log "reverse, 100b: perf stat (system calls) on $p (${DURATION}s)"
			if under_load "$p" "$DURATION" perf stat -x, -e "$events" -p "$(proxy_pids "$p")" \
				-o "$TMP/stat-$p.txt" >/dev/null 2>&1 && ((LOAD_REQS > 0)); then
				SC_REQS[$p]=$LOAD_REQS SC_CPU[$p]=$LOAD_CPU SC_RPS[$p]=$LOAD_RPS
				while IFS=, read -r n _ ev _; do
					[[ $n =~ ^[0-9]+$ && $ev == syscalls:sys_enter_* ]] || continue
					SC[$p:${ev#syscalls:sys_enter_}]=$n
				done <"$TMP/stat-$p.txt"
			fi
		done
	fi
	[[ -n $PROF_WHY ]] && log "no profile: $PROF_WHY"
fi

# Where proxyd's workers spend a handshake: `perf record` (no call graphs)
# on them during one more handshake run, shares by object (proxyd, libssl,
# libcrypto, libc, kernel) and the top symbols.  auto = only when a peer's
# handshake rate is 1.1x proxyd's or more.
TPROF_DONE=0 TPROF_WHY=""
if ((run_tls)); then
	behind=0
	for p in $TPEERS; do
		[[ $p != t-proxyd && -n ${RPS[$p:hs]:-} && -n ${RPS[t-proxyd:hs]:-} ]] || continue
		awk -v a="${RPS[$p:hs]}" -v b="${RPS[t-proxyd:hs]}" 'BEGIN { exit !(a >= 1.1 * b) }' && behind=1
	done
	if [[ $PROFILE == off ]]; then
		TPROF_WHY="BENCH_PROFILE=off"
	elif [[ -n ${NA[t-proxyd]:-} || -z ${ROOTPID[t-proxyd]:-} ]]; then
		TPROF_WHY="proxyd (TLS) did not run"
	elif [[ $PROFILE == auto ]] && ((!behind)); then
		TPROF_WHY="no peer's handshake rate is 1.1x proxyd's; BENCH_PROFILE=on profiles anyway"
	elif ! command -v perf >/dev/null; then
		TPROF_WHY="perf is not installed (apt-get install linux-perf)"
	else
		log "tls, hs: perf record on proxyd's workers (${DURATION}s)"
		q0=$(origin_status 3)
		setsid bash -c "$HS_RUN" hs "${PORT[t-proxyd]}" $((DURATION + 1)) "$TMP/hs-prof" "$HS_CLIENTS" \
			"$(hs_path t-proxyd)" </dev/null >/dev/null 2>&1 &
		HS_PGID=$!
		sleep 0.5
		timeout -s INT $((DURATION + 15)) perf record -F 999 -p "$(proxy_pids t-proxyd)" \
			-o "$TMP/perf-tls.data" -- sleep "$DURATION" >"$TMP/perf-tls.log" 2>&1 &
		PERF_PID=$!
		wait "$PERF_PID" || true
		PERF_PID=
		wait "$HS_PGID" || true
		HS_PGID=
		TPROF_CONNS=$(cat "$TMP"/hs-prof.* 2>/dev/null | awk '/real seconds/ { n += $1 } END { print n + 0 }' || true)
		if [[ -s $TMP/perf-tls.data ]]; then
			TPROF_DONE=1
			perf report -i "$TMP/perf-tls.data" --stdio -n --no-children --sort dso 2>/dev/null |
				awk '/^ *[0-9.]+%/' >"$TMP/tprof-dso.txt" || true
			TPROF_SAMPLES=$(awk '{ n += $2 } END { print n + 0 }' "$TMP/tprof-dso.txt")
			perf report -i "$TMP/perf-tls.data" --stdio --no-children --sort dso,sym 2>/dev/null |
				awk '/^ *[0-9.]+%/' >"$TMP/tprof-sym.txt" || true
		else
			TPROF_WHY="perf record failed: $(tail -c 300 "$TMP/perf-tls.log" | tr '\n' ' ')"
		fi
	fi
	[[ -n $TPROF_WHY ]] && log "no TLS profile: $TPROF_WHY"
fi

# A proxy log that says more than the start-up banner is worth seeing.
declare -A LOGTAIL=()
for p in $PEERS $RPEERS $TPEERS; do
	lf=${LOGF[$p]:-}
	[[ -n $lf && -s $lf ]] || continue
	LOGTAIL[$p]=$(tail -n 15 "$lf")
done

# ---------------------------------------------------------------- report
table() {	# table SCENARIO BASE PEERS... -> markdown (ratios: peer ÷ BASE)
	local s=$1 base=${RPS[$2:$1]:-0} p
	shift 2
	echo "| proxy | req/s | vs proxyd | p99 ms | errors | origin conns | conns per process | CPU µs/req | RSS MiB | peak RSS MiB | PSS MiB | others' CPU | setup |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for p in direct "$@"; do
		if [[ -z ${RPS[$p:$s]:-} ]]; then
			echo "| $(label "$p") | n/a | | | | | | | | | | | ${NA[$p]:-not run} |"
			continue
		fi
		local note=${NOTE[$p]:-"origin nginx, $WORKERS workers (RSS = the origin)"}
		[[ -n ${NA[$p]:-} ]] && note="$note; ${NA[$p]}"
		echo "| $(label "$p") | ${RPS[$p:$s]} | $(ratio "${RPS[$p:$s]}" "$base") |" \
			"${P99[$p:$s]} | ${ERR[$p:$s]}${ERRD[$p:$s]:+ (${ERRD[$p:$s]})} | ${OCONN[$p:$s]} | ${SPLIT[$p:$s]:-} | ${CPU[$p:$s]} | $(mib "${RSS[$p:$s]}") | $(mib "${HWM[$p:$s]}") | $(mib "${PSS[$p:$s]}") | ${OTH[$p:$s]}% | $note |"
	done
}

allrps() {	# allrps SCENARIO PEERS...: "direct 1/2/3; proxyd 4/5/6"
	local s=$1 p
	shift
	for p in direct "$@"; do
		if [[ -n ${ALLRPS[$p:$s]:-} ]]; then echo "$(label "$p") ${ALLRPS[$p:$s]}"; fi
	done | paste -sd';' - | sed 's/;/; /g'
}

allsplit() {	# allsplit SCENARIO PEERS...: "proxyd 25/25 48/2 50/0; nginx ..."
	local s=$1 p
	shift
	for p in direct "$@"; do
		if [[ -n ${ALLSPLIT[$p:$s]:-} ]]; then echo "$(label "$p") ${ALLSPLIT[$p:$s]}"; fi
	done | paste -sd';' - | sed 's/;/; /g'
}

join() {	# join ITEMS... -> "a, b, c"
	local out="" x
	for x in "$@"; do out+="${out:+, }$x"; done
	echo "$out"
}

# one sentence per scenario: where proxyd stands (standing SCENARIO BASE LOGPEER PEERS...)
standing() {
	local s=$1 b=$2 lg=$3 p ahead=() behind=() base=${RPS[$2:$1]:-}
	shift 3
	[[ -n $base ]] || { echo "proxyd did not run in the $s scenario (${NA[$b]:-})."; return; }
	for p in "$@"; do
		[[ $p == "$b" || $p == "$lg" || -z ${RPS[$p:$s]:-} ]] && continue
		local r=${RPS[$p:$s]}
		if ((r > base)); then
			behind+=("$(label "$p") $(ratio "$r" "$base")")
		else
			ahead+=("$(label "$p") $(ratio "$r" "$base")")
		fi
	done
	local a z
	a=$(join "${ahead[@]}")
	z=$(join "${behind[@]}")
	printf '%s: proxyd %s req/s (p99 %s ms, %s errors, %s MiB RSS), %s of the direct rate; ' \
		"$s" "$base" "${P99[$b:$s]}" "${ERR[$b:$s]}" "$(mib "${RSS[$b:$s]}")" \
		"$(ratio "$base" "${RPS[direct:$s]}")"
	printf 'ahead of: %s; behind: %s' "${a:-none}" "${z:-none}"
	if [[ -n ${RPS[$lg:$s]:-} ]]; then
		printf '; with its access log on: %s req/s (%s), p99 %s ms' "${RPS[$lg:$s]}" \
			"$(ratio "${RPS[$lg:$s]}" "$base")" "${P99[$lg:$s]}"
	fi
	printf '.\n'
}

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

# Tinyproxy 1.11 answers HTTP/1.1 without "Connection: close" and then
# closes the client connection; wrk notices at its next read and counts a
# read error per request although every response was complete.
tp=()
for s in $FWD_SCEN; do
	local_r=${READERR[tinyproxy:$s]:-0} local_n=${REQS[tinyproxy:$s]:-0}
	if [[ -z ${NON2XX[tinyproxy:$s]:-} && $local_r -gt 0 ]] &&
		awk -v r="$local_r" -v n="$local_n" 'BEGIN { exit !(r >= 0.95 * n && r <= 1.05 * n + 50) }'; then
		tp+=("$s: $local_r read errors for $local_n requests")
	fi
done

# problems MODE SCENARIOS PEERS...: the "Problems seen" subsection, if any
problems() {
	local mode=$1 scen=$2 p s r any=0
	shift 2
	for p in direct "$@"; do
		for s in $scen; do
			for ((r = 1; r <= ROUNDS; r++)); do
				[[ -n ${ERR[$p:$s:$r]:-} && ${ERR[$p:$s:$r]} != 0 ]] && any=1
			done
		done
		[[ -n ${NA[$p]:-} ]] && any=1
		[[ -n ${LOGTAIL[$p]:-} && $p == *proxyd* ]] && any=1
	done
	((any)) || return 0
	echo
	echo "### Problems seen in this run ($mode)"
	echo
	for p in direct "$@"; do
		[[ -n ${NA[$p]:-} ]] && echo "- $(label "$p"): ${NA[$p]}"
		for s in $scen; do
			for ((r = 1; r <= ROUNDS; r++)); do
				[[ -n ${ERR[$p:$s:$r]:-} && ${ERR[$p:$s:$r]} != 0 ]] || continue
				echo "- $(label "$p"), $s$( ((ROUNDS > 1)) && echo ", round $r"): ${ERR[$p:$s:$r]} errors$([[ $p == tinyproxy && ${#tp[@]} -gt 0 ]] && echo ' (explained under Reading)'); wrk said:"
				echo
				echo '```'
				grep -E 'requests in|Socket errors|Non-2xx|Requests/sec|failed' "${WRKOUT[$p:$s:$r]}" || true
				echo '```'
			done
		done
		if [[ -n ${LOGTAIL[$p]:-} && $p == *proxyd* ]]; then
			echo "- $(label "$p") log (last lines):"
			echo
			echo '```'
			echo "${LOGTAIL[$p]}"
			echo '```'
		fi
	done
}

RUN_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
rounds_sentence() {
	if ((ROUNDS > 1)); then
		echo "$ROUNDS rounds, the proxies interleaved within each round (the order rotated by one each round); each table cell comes from the round with the median req/s for that proxy (every round's req/s is listed under the table)."
	else
		echo "One round: each proxy is measured once per file, one after the other."
	fi
}

forward_section() {
	echo "## Forward proxy"
	echo
	echo "Run of $RUN_DATE: ${DURATION}s per measured run, $CONNS connections, $THREADS wrk threads, $ROUNDS round(s); ${MODE_SECS[forward]:-?}s."
	echo
	echo "### Method"
	echo
	echo "- Origin: Debian's nginx, $WORKERS workers, access log off, keep-alive (keepalive_requests 1000000), serving a 1 KiB and a 100 KiB file from a temp folder on 127.0.0.1 (\`bench/conf/origin-nginx.conf\`)."
	echo "- Each proxy runs on its own loopback port with its own config from \`bench/conf/\`, all started before the runs and idle while the others are measured. Access logging is off everywhere except the \"proxyd + access log\" row."
	echo "- Load: wrk with \`bench/absolute.lua\`, which makes every request line absolute-form (\`GET http://$ORIGIN/1k.bin HTTP/1.1\`, \`Host: $ORIGIN\`) and points wrk at the proxy. The direct row sends the origin-form \`GET /1k.bin\` straight to the origin. Each run is preceded by a ${WARMUP}s warm-up that is not counted. $(rounds_sentence)"
	echo "- Command (per proxy and file): \`${WRK_CMD[forward]:-}\` with the proxy's URL instead of the last argument."
	echo "- Errors = wrk's socket errors (connect, read, write, timeout) + \"Non-2xx or 3xx responses\". Before the runs one \`curl -x\` per proxy and file had to return 200 with the exact size."
	echo "- Origin conns = connections the origin accepted during the measured run (nginx stub_status, before and after). CPU µs/req = user+system CPU time of the proxy's processes (of the origin, for the direct row) during the measured run, divided by the requests wrk completed."
	echo "- RSS = sum of VmRSS of the proxy's processes (master, workers, helpers) read from /proc right after its run; peak RSS = sum of VmHWM. Both count a page shared by several processes (copy-on-write after fork, shared memory) once per process; PSS = sum of Pss from smaps_rollup divides each such page among its sharers, so it is what the proxy costs in all."
	echo "- Conns per process = wrk's connections established on the proxy's port (the origin's, for the direct row) per process of the proxy, most first, from \`ss -tnp\` halfway through the measured run: how evenly the workers share the load (HAProxy, Squid and Tinyproxy are one process)."
	echo "- Others' CPU = share of the CPUs busy during the measured run with work other than the servers started here and wrk (other users of this shared machine); a high value means a disturbed run."
	echo "- Proxies:"
	local p s
	for p in $PEERS; do
		if [[ -n ${CMDLINE[$p]:-} ]]; then
			echo "  - $(label "$p"): \`${CMDLINE[$p]//$TMP/\$TMP}\` — ${NOTE[$p]:-}"
		else
			echo "  - $(label "$p"): not started — ${NA[$p]:-}"
		fi
	done
	for s in $FWD_SCEN; do
		echo
		echo "### ${SIZE[$s]}-byte response ($s), ${DURATION}s, $CONNS connections, $THREADS threads"
		echo
		# shellcheck disable=SC2086
		table "$s" proxyd $PEERS
		if ((ROUNDS > 1)); then
			echo
			# shellcheck disable=SC2086
			echo "req/s in rounds 1..$ROUNDS: $(allrps "$s" $PEERS)"
			echo
			# shellcheck disable=SC2086
			echo "Client connections per process in rounds 1..$ROUNDS: $(allsplit "$s" $PEERS)"
		fi
	done
	echo
	echo "### Reading"
	echo
	for s in $FWD_SCEN; do
		# shellcheck disable=SC2086
		echo "- $(standing "$s" proxyd proxyd-log $PEERS)"
	done
	echo
	echo "What this measures: throughput and tail latency of one GET of a static file repeated over $CONNS keep-alive client connections, through each proxy to one origin on the same host. It does not measure DNS, TLS, CONNECT, slow or distant clients and origins, many distinct origins, request bodies, or rule evaluation. The proxies differ in what they do per request: nginx here opens a new origin connection for every request (a variable proxy_pass has no upstream keep-alive) and Tinyproxy keeps neither the origin nor the client connection; the \"origin conns\" column counts the connections the origin accepted during the measured run (from nginx stub_status), which shows who reuses origin connections. Squid and Tinyproxy run as Debian ships them, one process each, while proxyd, nginx and HAProxy use $WORKERS workers/threads."
	if ((${#tp[@]})); then
		echo
		echo "Tinyproxy's errors ($(join "${tp[@]}"); no non-2xx) are not failed requests: Tinyproxy 1.11 answers with HTTP/1.1 and no \`Connection: close\`, then closes the client connection after every response (seen with \`curl -v -x\`); wrk counts each close as a read error and reconnects. Its rate therefore includes a new client connection per request."
	fi
	echo
	caveat
	# shellcheck disable=SC2086
	problems forward "$FWD_SCEN" $PEERS
}

caveat() {
	echo "Caveat: the machine has $(nproc) cores and wrk, the proxy and the origin nginx all share them, so a proxy that uses more CPU also takes it from the load generator and the origin; the numbers rank the proxies on this box and are not capacity figures. $( ((ROUNDS > 1)) && echo "Each cell is the median of $ROUNDS ${DURATION}s runs" || echo "Each cell is a single ${DURATION}s run"); on this shared virtual machine the same proxy's rate has been seen to vary by a third between runs, so only large gaps mean something; rerun (\`BENCH_ROUNDS=3 make bench\`, or \`BENCH_SECONDS=10 BENCH_ROUNDS=5 BENCH_MODE=${1:-reverse} bench/run.sh build/proxyd\`) before drawing conclusions from small ones."
}

# per-request count of syscall C for proxy P, or "-"
sc_per() {
	awk -v n="${SC[$1:$2]:-}" -v r="${SC_REQS[$1]:-0}" 'BEGIN { if (n == "" || r <= 0) print "-"; else printf "%.2f", n / r }'
}

profile_section() {
	echo
	echo "### What limits proxyd (profile, 100 B)"
	echo
	if ((!PROF_DONE)); then
		echo "No profile in this run: $PROF_WHY."
		return
	fi
	local p c cols=() tot
	echo "One more ${DURATION}s run of the 100 B load through proxyd after the rounds (${WARMUP}s warm-up first), with \`perf record -F 999 -g -p <its $WORKERS workers>\` attached; the origin served $PROF_REQS requests meanwhile ($PROF_RPS req/s; proxyd ${PROF_CPU} CPU µs/req; perf slows it a little). ${PROF_SAMPLES:-?} samples (cpu-clock: no hardware counters in this VM). Shares are of the workers' samples; \"self\" = in the function itself."
	echo
	echo "- Where the workers' time goes (self, by object): $(awk '{ o = $2; sub(/^\[kernel\.kallsyms\]$/, "kernel", o); n = split(o, a, "/"); printf "%s%s %s", (NR > 1 ? ", " : ""), a[n], $1 } NR == 6 { exit }' "$TMP/prof-dso.txt")."
	echo "- By system call (samples under libc's wrapper, the kernel work included, which for send is also the loopback delivery to the receiving socket): $(awk '{ s = $NF; sub(/^__(libc_)?/, "", s); printf "%s%s %s", (NR > 1 ? ", " : ""), s, $1 } NR == 8 { exit }' "$TMP/prof-sys.txt")."
	echo "- In libc's formatted printing (\`vsnprintf\`: \`__vfprintf_internal\`, \`_IO_*\`, \`__strchrnul*\`; proxyd's \`http_head_printf()\` formats the head lines it writes with it): $(awk '$3 == "[.]" && $4 ~ /vfprintf|vsnprintf|^_IO_|strchrnul/ { t += $1 } END { printf "%.2f%%", t }' "$TMP/prof-sym.txt"); in malloc/free: $(awk '$3 == "[.]" && $4 ~ /^(malloc|free|cfree|_int_malloc|_int_free|__libc_malloc|__libc_free|calloc|realloc|malloc_consolidate)(@|$)/ { t += $1 } END { printf "%.2f%%", t }' "$TMP/prof-sym.txt")."
	echo
	echo "Top symbols (self):"
	echo
	echo "| % | object | symbol |"
	echo "|---:|---|---|"
	awk 'NR <= 15 { o = $2; n = split(o, a, "/"); s = ""; for (i = 4; i <= NF; i++) s = s (s ? " " : "") $i
		printf "| %s | %s | %s |\n", $1, a[n], s }' "$TMP/prof-sym.txt"
	echo
	echo "Top user-space symbols (self; proxyd and the libraries it calls):"
	echo
	echo "| % | object | symbol |"
	echo "|---:|---|---|"
	awk '$3 == "[.]" { o = $2; n = split(o, a, "/"); s = ""; for (i = 4; i <= NF; i++) s = s (s ? " " : "") $i
		printf "| %s | %s | %s |\n", $1, a[n], s; if (++k == 12) exit }' "$TMP/prof-sym.txt"
	# syscalls per request, every reverse proxy
	((${#SC_REQS[@]})) || return 0
	for c in $SC_NAMES; do
		for p in $RPEERS; do
			[[ -n ${SC_REQS[$p]:-} ]] || continue
			if awk -v v="$(sc_per "$p" "$c")" 'BEGIN { exit !(v != "-" && v >= 0.01) }'; then
				cols+=("$c")
				break
			fi
		done
	done
	echo
	echo "System calls per request under the same 100 B load, one more ${DURATION}s run per proxy with \`perf stat -e syscalls:sys_enter_*\` on its serving processes (calls ÷ requests the origin served meanwhile; calls that are below 0.01 for all are left out; epoll_wait/epoll_pwait per request shows how many events each wakeup handles):"
	echo
	printf '| proxy | all |'
	for c in "${cols[@]}"; do printf ' %s |' "$c"; done
	printf ' req/s | CPU µs/req |\n|---|---:|'
	for c in "${cols[@]}"; do printf -- '---:|'; done
	printf -- '---:|---:|\n'
	for p in $RPEERS; do
		[[ -n ${SC_REQS[$p]:-} ]] || continue
		tot=0
		for c in $SC_NAMES; do tot=$((tot + ${SC[$p:$c]:-0})); done
		printf '| %s | %s |' "$(label "$p")" "$(awk -v n="$tot" -v r="${SC_REQS[$p]}" 'BEGIN { printf "%.2f", n / r }')"
		for c in "${cols[@]}"; do printf ' %s |' "$(sc_per "$p" "$c")"; done
		printf ' %s | %s |\n' "${SC_RPS[$p]}" "${SC_CPU[$p]}"
	done
	# what the counts point at in proxyd's source, when they show it (the
	# sequence per request was read with strace on a worker when this was
	# written: read client, recv MSG_PEEK upstream, epoll_ctl MOD, send
	# upstream, read upstream, send client, epoll_ctl MOD, read client EAGAIN)
	local ctl peek rd
	ctl=$(sc_per r-proxyd epoll_ctl) peek=$(sc_per r-proxyd recvfrom) rd=$(sc_per r-proxyd read)
	local notes=()
	if awk -v v="$ctl" 'BEGIN { exit !(v != "-" && v >= 0.9) }'; then
		notes+=("- epoll_ctl, $ctl per request (nginx $(sc_per r-nginx epoll_ctl), HAProxy $(sc_per r-haproxy epoll_ctl)): when a response ends, \`upstream_pool_put()\` (worker/upstream_pool.c) re-points the origin connection's epoll registration at its pool entry (EPOLL_CTL_MOD), and when the next request takes it, \`side_adopt()\` (worker/session_io.c) re-points it at the session (EPOLL_CTL_MOD again, with EPOLLOUT, which also queues a writable event that wakes the loop for nothing).")
	fi
	if awk -v v="$peek" 'BEGIN { exit !(v != "-" && v >= 0.9) }'; then
		notes+=("- recvfrom, $peek per request: \`alive()\` in \`upstream_pool_take()\`, a \`recv(MSG_PEEK | MSG_DONTWAIT)\` that fails with EAGAIN on every healthy pooled connection before it is reused (nginx's one check is getsockopt(SO_ERROR), $(sc_per r-nginx getsockopt) per request; HAProxy makes none).")
	fi
	if awk -v v="$rd" 'BEGIN { exit !(v != "-" && v >= 2.3) }'; then
		notes+=("- read, $rd per request where two carry data (the request, the response): after a response proxyd reads the client connection again and gets EAGAIN, because \`side_read()\` (worker/session_io.c) leaves \`readable\` set after a short read; nginx and HAProxy take a short read as \"drained\" (they register EPOLLRDHUP, as proxyd does).")
	fi
	if ((${#notes[@]})); then
		echo
		echo "Where proxyd's extra system calls come from (from its source and an strace of a worker when this script was written; the lines appear only when the counts above show the pattern):"
		echo
		for c in "${notes[@]}"; do echo "$c"; done
	fi
}

reverse_section() {
	echo "## Reverse proxy"
	echo
	echo "Run of $RUN_DATE: ${DURATION}s per measured run, $CONNS connections, $THREADS wrk threads, $ROUNDS round(s); ${MODE_SECS[reverse]:-?}s."
	echo
	echo "### Method"
	echo
	echo "- Origin: the same nginx as the forward runs, serving a 100-byte and a 64 KiB file too; every reverse proxy forwards to it alone, over keep-alive connections it keeps: proxyd \`keepalive = 64\` (idle connections per worker, \`bench/conf/proxyd-reverse.ini\`), nginx \`upstream { keepalive 64; }\` with \`proxy_http_version 1.1\` (\`bench/conf/nginx-reverse.conf\`), HAProxy \`http-reuse safe\` (\`bench/conf/haproxy-reverse.cfg\`)."
	echo "- $WORKERS workers for proxyd and nginx, \`nbthread $WORKERS\` for HAProxy. Access logs off. All three add X-Forwarded-For, -Proto and -Host and remove the origin's Server field (proxyd does both by default; nginx then sends its own Server field)."
	echo "- Load: wrk, origin-form \`GET /100b.bin\` (\`/64k.bin\`) to the proxy's port with wrk's own Host (the proxy's address); the direct row sends the same straight to the origin. ${WARMUP}s warm-up per run, not counted. $(rounds_sentence)"
	echo "- Command (per proxy and file): \`${WRK_CMD[reverse]:-}\` with the proxy's URL instead of the last argument."
	echo "- Columns as in the forward section: origin conns = connections the origin accepted during the measured run (a proxy that reuses its origin connections shows about 0), CPU µs/req = the proxy's CPU time ÷ requests, conns per process = how wrk's $CONNS connections were spread over the proxy's processes, RSS = sum of VmRSS of the proxy's processes after its run, PSS the same with shared pages counted once, others' CPU = the machine's busy share that was not ours. \"vs proxyd\" = peer ÷ proxyd, as in the forward section; the target is stated the other way round (proxyd ÷ peer)."
	echo "- Proxies:"
	local p s
	for p in $RPEERS; do
		if [[ -n ${CMDLINE[$p]:-} ]]; then
			echo "  - $(label "$p"): \`${CMDLINE[$p]//$TMP/\$TMP}\` — ${NOTE[$p]:-}"
		else
			echo "  - $(label "$p"): not started — ${NA[$p]:-}"
		fi
	done
	for s in $REV_SCEN; do
		echo
		echo "### ${SIZE[$s]}-byte response ($s), ${DURATION}s, $CONNS connections, $THREADS threads"
		echo
		# shellcheck disable=SC2086
		table "$s" r-proxyd $RPEERS
		if ((ROUNDS > 1)); then
			echo
			# shellcheck disable=SC2086
			echo "req/s in rounds 1..$ROUNDS: $(allrps "$s" $RPEERS)"
			echo
			# shellcheck disable=SC2086
			echo "Client connections per process in rounds 1..$ROUNDS: $(allsplit "$s" $RPEERS)"
		fi
	done
	echo
	echo "### Reading"
	echo
	case $TARGET in
	met | missed)
		echo "- **Target ${TARGET}** (100 B: proxyd ≥ ${TARGET_RATIO}x the req/s of nginx and of HAProxy, p99 no worse), judged on the cells above$( ((ROUNDS > 1)) && echo " (each proxy's median round)"):"
		for c in "${TARGET_WHY[@]}"; do echo "  - $c"; done
		;;
	*) echo "- Target (100 B: proxyd ≥ ${TARGET_RATIO}x nginx and HAProxy, p99 no worse): not measured, proxyd did not run." ;;
	esac
	for s in $REV_SCEN; do
		# shellcheck disable=SC2086
		echo "- $(standing "$s" r-proxyd r-proxyd-log $RPEERS)"
	done
	# runs in which one process held >= 80% of the client connections
	local p s r skew total line=()
	for p in r-proxyd r-nginx; do
		skew=0 total=0
		for s in $REV_SCEN; do
			for ((r = 1; r <= ROUNDS; r++)); do
				[[ -n ${SPLIT[$p:$s:$r]:-} ]] || continue
				total=$((total + 1))
				awk -v x="${SPLIT[$p:$s:$r]}" 'BEGIN { n = split(x, c, "/"); for (i = 1; i <= n; i++) t += c[i]
					exit !(n > 1 && t > 0 && c[1] >= 0.8 * t) }' && skew=$((skew + 1))
			done
		done
		((total)) && line+=("$(label "$p") in $skew of $total")
	done
	if ((${#line[@]})); then
		echo "- Runs in which one worker held 80% or more of wrk's $CONNS connections (column \"conns per process\"): $(join "${line[@]}"). Such a run is close to a one-worker run, and its req/s and p99 show it. proxyd's listeners are registered with EPOLLEXCLUSIVE and \`on_accept()\` (worker/worker.c) accepts up to 64 connections per wakeup, so wrk's burst of connects at start can all land on the worker that woke first; nginx (multi_accept off) takes one per wakeup; HAProxy is one process whose threads share the connections."
	fi
	echo
	caveat
	profile_section
	# shellcheck disable=SC2086
	problems reverse "$REV_SCEN" $RPEERS
}

# tls_table SCENARIO PEERS...: the keep-alive (ka) or handshake (hs) table
tls_table() {
	local s=$1 base p
	shift
	base=${RPS[t-proxyd:$s]:-0}
	if [[ $s == ka ]]; then
		echo "| proxy | req/s | vs proxyd | p99 ms | errors | TLS handshakes (resumed) | origin conns | conns per process | CPU µs/req | RSS MiB | PSS MiB | others' CPU |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	else
		echo "| proxy | handshakes/s | vs proxyd | mean ms/conn | errors | full handshakes (resumed) | origin requests | origin conns | CPU µs/handshake | RSS MiB | PSS MiB | others' CPU |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	fi
	for p in "$@"; do
		if [[ -z ${RPS[$p:$s]:-} ]]; then
			echo "| $(label "$p") | n/a | | | | | | | | | | ${NA[$p]:-not run} |"
			continue
		fi
		local hs="-"
		[[ -n ${HSFULL[$p:$s]:-} ]] && hs="${HSFULL[$p:$s]} (${HSRES[$p:$s]})"
		if [[ $s == ka ]]; then
			echo "| $(label "$p") | ${RPS[$p:$s]} | $(ratio "${RPS[$p:$s]}" "$base") | ${P99[$p:$s]} |" \
				"${ERR[$p:$s]}${ERRD[$p:$s]:+ (${ERRD[$p:$s]})} | $hs | ${OCONN[$p:$s]} | ${SPLIT[$p:$s]:-} | ${CPU[$p:$s]} |" \
				"$(mib "${RSS[$p:$s]}") | $(mib "${PSS[$p:$s]}") | ${OTH[$p:$s]}% |"
		else
			echo "| $(label "$p") | ${RPS[$p:$s]} | $(ratio "${RPS[$p:$s]}" "$base") | ${MSCONN[$p:$s]} |" \
				"${ERR[$p:$s]}${ERRD[$p:$s]:+ (${ERRD[$p:$s]})} | $hs | ${OREQ[$p:$s]} | ${OCONN[$p:$s]} | ${CPU[$p:$s]} |" \
				"$(mib "${RSS[$p:$s]}") | $(mib "${PSS[$p:$s]}") | ${OTH[$p:$s]}% |"
		fi
	done
}

# the TLS fields in which peer P's negotiation differs from proxyd's
tls_diff() {
	local p=$1 f v out=()
	for v in v13 v12; do
		for f in proto cipher group sig tickets alpn cert; do
			[[ ${TLSI[$p:$v:$f]:-} == "${TLSI[t-proxyd:$v:$f]:-}" ]] && continue
			out+=("TLS ${v:1:1}.${v:2:1} $f ${TLSI[$p:$v:$f]:-?} (proxyd ${TLSI[t-proxyd:$v:$f]:-?})")
		done
	done
	join "${out[@]}"
}

tls_section() {
	local p s k
	echo "## TLS reverse proxy"
	echo
	echo "Run of $RUN_DATE: ${DURATION}s per measured run, $CONNS keep-alive connections ($THREADS wrk threads), $HS_CLIENTS handshake clients, $ROUNDS round(s); ${MODE_SECS[tls]:-?}s."
	echo
	echo "### Method"
	echo
	echo "- Certificate: one self-signed EC P-256 certificate (ECDSA with SHA-256, subjectAltName IP:127.0.0.1 and localhost, sha256 fingerprint ${TLS_FP:0:16}…) made with \`openssl req\` in the temp folder for this run; all three proxies serve it (checked below: \"certificate\")."
	echo "- Proxies: the reverse section's setups with TLS on the client side: proxyd \`tls = on\` (\`bench/conf/proxyd-tls.ini\`), nginx \`listen ... ssl\` (\`bench/conf/nginx-tls.conf\`), HAProxy \`bind ... ssl crt\` (\`bench/conf/haproxy-tls.cfg\`); all forward in plain HTTP to the same origin nginx over keep-alive connections they keep (HAProxy with \`http-reuse always\` here, where the reverse section has \`safe\`: with safe the first request of each client connection, so every request of the handshake runs, would get a new origin connection), $WORKERS workers (\`nbthread $WORKERS\`), access logs off. TLS 1.2 and 1.3 on all three; ciphers, key exchange groups and session tickets are each one's defaults, shown as negotiated in \"TLS as negotiated\" below."
	echo "- Keep-alive request rate: wrk over HTTPS, \`GET /100b.bin\` on $CONNS connections, each one handshake when it opens and then requests until the end; \`${WRK_CMD[tls]:-}\` with the proxy's URL instead of the last argument. ${WARMUP}s warm-up per run (its connections closed before the measured run)."
	echo "- New-handshake rate: $HS_CLIENTS \`openssl s_time -new\` clients in parallel (\`${HS_CMD:-}\`), each making one connection at a time: TCP connect, a full TLS handshake (\`-new\`: no session is ever offered, so none resumes), \`GET /100b.bin HTTP/1.0\` with a Host field, the response read to the server's close. (s_time's own request has no Host field, which the origin answers with 400 once a proxy forwards it as HTTP/1.1; the \`-www\` argument therefore carries the rest of the request line and a Host field, and the \` HTTP/1.0\` s_time appends ends an X-Bench field.) Errors = clients that failed + connections whose response was not the size of the 200 response read once with \`openssl s_client\` before the runs (s_time only sums the bytes). handshakes/s = the clients' connections ÷ their own wall time, summed; mean ms/conn = one client's wall time ÷ its connections. s_time stops at the first whole second after ${DURATION}s, so a run lasts ${DURATION}-$((DURATION + 1))s. ${WARMUP}s warm-up (the same clients) per run. $(rounds_sentence)"
	echo "- Why not wrk with \`Connection: close\`: wrk then reconnects per request but keeps the OpenSSL session of the closed connection (it calls SSL_shutdown and SSL_clear, which keeps a session that was shut down cleanly) and offers it again; when this mode was written, proxyd's counters showed 2550 of 5164 such handshakes resumed. s_time -new never resumes; proxyd's own counters (\`proxyctl -s SHM stats\`: tls_handshakes, tls_resumptions, read before and after each measured run) are the \"full handshakes (resumed)\" column and show it for proxyd; nginx's and HAProxy's are not read (\"-\"), their clients are the same."
	echo "- Columns: CPU µs/req (/handshake) = user+system CPU time of the proxy's processes during the measured run ÷ requests (connections; each also carries its request); origin requests = requests the origin served meanwhile (one per connection expected); origin conns = connections the origin accepted (about 0: the proxies reuse theirs); conns per process, RSS, PSS and others' CPU as in the forward section. \"vs proxyd\" = peer ÷ proxyd."
	echo "- Proxies:"
	for p in $TPEERS; do
		if [[ -n ${CMDLINE[$p]:-} ]]; then
			echo "  - $(label "$p"): \`${CMDLINE[$p]//$TMP/\$TMP}\` — ${NOTE[$p]:-}"
		else
			echo "  - $(label "$p"): not started — ${NA[$p]:-}"
		fi
	done
	echo
	echo "### Keep-alive requests over HTTPS, 100-byte response, ${DURATION}s, $CONNS connections, $THREADS threads"
	echo
	# shellcheck disable=SC2086
	tls_table ka $TPEERS
	if ((ROUNDS > 1)); then
		echo
		# shellcheck disable=SC2086
		echo "req/s in rounds 1..$ROUNDS: $(allrps ka $TPEERS)"
		echo
		# shellcheck disable=SC2086
		echo "Client connections per process in rounds 1..$ROUNDS: $(allsplit ka $TPEERS)"
	fi
	echo
	echo "### A new TLS connection per request (full handshake, no resumption), 100-byte response, ${DURATION}s, $HS_CLIENTS clients"
	echo
	# shellcheck disable=SC2086
	tls_table hs $TPEERS
	if ((ROUNDS > 1)); then
		echo
		# shellcheck disable=SC2086
		echo "handshakes/s in rounds 1..$ROUNDS: $(allrps hs $TPEERS)"
	fi
	echo
	echo "### TLS as negotiated"
	echo
	echo "One \`openssl s_client -alpn http/1.1 -msg\` per proxy before the runs (OpenSSL $(openssl version | awk '{ print $2 }'), the library wrk and s_time use, default client settings: key share X25519, all default groups offered), with TLS 1.3 allowed and once more limited to TLS 1.2 (\`-tls1_2\`); tickets = NewSessionTicket messages the proxy sent after one full handshake (each costs the server a ticket encryption)."
	echo
	echo "| proxy | TLS 1.3: version | cipher | key exchange | signature | tickets | ALPN | TLS 1.2: cipher | key exchange | tickets | certificate |"
	echo "|---|---|---|---|---|---:|---|---|---|---:|---|"
	for p in $TPEERS; do
		if [[ -z ${TLSI[$p:v13:proto]+x} ]]; then
			echo "| $(label "$p") | n/a | | | | | | | | | ${NA[$p]:-} |"
			continue
		fi
		echo "| $(label "$p") | ${TLSI[$p:v13:proto]:-?} | ${TLSI[$p:v13:cipher]:-?} | ${TLSI[$p:v13:group]:-?} | ${TLSI[$p:v13:sig]:-?} | ${TLSI[$p:v13:tickets]:-?} | ${TLSI[$p:v13:alpn]:-?} | ${TLSI[$p:v12:cipher]:-?} | ${TLSI[$p:v12:group]:-?} | ${TLSI[$p:v12:tickets]:-?} | ${TLSI[$p:v13:cert]:-?} |"
	done
	echo
	echo "### Reading"
	echo
	local b what unit
	for s in $TLS_SCEN; do
		if [[ $s == ka ]]; then what="Keep-alive requests" unit="req/s"; else what="New handshakes" unit="handshakes/s"; fi
		b=${RPS[t-proxyd:$s]:-}
		if [[ -z $b || $b == 0 ]]; then
			echo "- $what: proxyd did not run (${NA[t-proxyd]:-not in BENCH_TLS_PEERS})."
			continue
		fi
		local line=() cpul=()
		for p in $TPEERS; do
			[[ $p == t-proxyd || -z ${RPS[$p:$s]:-} ]] && continue
			line+=("$(label "$p") $(ratio "${RPS[$p:$s]}" "$b") ($unit ${RPS[$p:$s]})")
			cpul+=("$(label "$p") ${CPU[$p:$s]}")
		done
		echo "- $what: proxyd $b $unit$([[ $s == ka ]] && echo " (p99 ${P99[t-proxyd:$s]} ms)"), CPU ${CPU[t-proxyd:$s]} µs per $([[ $s == ka ]] && echo request || echo handshake); peer ÷ proxyd: $(join "${line[@]}"); CPU µs per $([[ $s == ka ]] && echo request || echo handshake): $(join "${cpul[@]}")."
	done
	if [[ -n ${HSFULL[t-proxyd:hs]:-} ]]; then
		local tf=0 tr=0 tc=0 r
		for ((r = 1; r <= ROUNDS; r++)); do
			tf=$((tf + ${HSFULL[t-proxyd:hs:$r]:-0})) tr=$((tr + ${HSRES[t-proxyd:hs:$r]:-0}))
			tc=$((tc + ${REQS[t-proxyd:hs:$r]:-0}))
		done
		echo "- Resumption in the handshake runs: proxyd counted $tf full handshakes and $tr resumed ones in its $ROUNDS measured handshake run(s), for $tc connections the clients made$( ((tr == 0)) && echo ": every connection was a full handshake")."
	fi
	local diffs=()
	for p in $TPEERS; do
		[[ $p == t-proxyd || -z ${TLSI[$p:v13:proto]:-} || -z ${TLSI[t-proxyd:v13:proto]:-} ]] && continue
		k=$(tls_diff "$p")
		diffs+=("$(label "$p"): ${k:-the same}")
	done
	((${#diffs[@]})) && echo "- TLS negotiated, compared with proxyd's (fields that differ): $(join "${diffs[@]}")."
	echo
	echo "### Where proxyd's handshake time goes (profile)"
	echo
	if ((TPROF_DONE)); then
		echo "One more handshake run through proxyd after the rounds ($HS_CLIENTS clients, about $TPROF_CONNS connections), with \`perf record -F 999 -p <its $WORKERS workers>\` attached for ${DURATION}s: ${TPROF_SAMPLES:-?} samples (cpu-clock). Shares are of the workers' samples, \"self\" (in the function itself); libcrypto's symbols are mostly unnamed (Debian's libcrypto has no symbol table for its internal functions)."
		echo
		echo "- By object: $(awk '{ o = $3; sub(/^\[kernel\.kallsyms\]$/, "kernel", o); n = split(o, a, "/"); printf "%s%s %s", (NR > 1 ? ", " : ""), a[n], $1 } NR == 7 { exit }' "$TMP/tprof-dso.txt")."
		echo
		echo "| % | object | symbol |"
		echo "|---:|---|---|"
		awk 'NR <= 12 { o = $2; n = split(o, a, "/"); s = ""; for (i = 4; i <= NF; i++) s = s (s ? " " : "") $i
			printf "| %s | %s | %s |\n", $1, a[n], s }' "$TMP/tprof-sym.txt"
	else
		echo "No profile in this run: $TPROF_WHY."
	fi
	echo
	caveat tls
	echo
	echo "The handshake rate is shared with the clients: the client side of a full handshake (its key share, checking the server's signature) costs about as much CPU as the server side, and $HS_CLIENTS s_time clients, the proxy and the origin share $(nproc) CPUs, so a proxy that spends less CPU per handshake leaves more to its clients. CPU µs/handshake is the comparison that does not depend on that."
	# shellcheck disable=SC2086
	problems tls "$TLS_SCEN" $TPEERS
}

section_title() {
	case $1 in
	tls) echo "TLS reverse proxy" ;;
	*) echo "${1^} proxy" ;;
	esac
}

# keep_section MODE: the MODE block of the previous results, if any, marked
# as not rerun
keep_section() {
	local m=$1 old
	[[ -f $RESULTS ]] && old=$(awk -v m="$m" '
		$0 == "<!-- bench:" m " -->" { p = 1; next }
		$0 == "<!-- /bench:" m " -->" { p = 0 }
		p' "$RESULTS")
	if [[ -n ${old:-} ]]; then
		awk -v mode="$MODE" '
			NR == 1 { print; print ""; print "_Not rerun by the latest run (BENCH_MODE=" mode "): kept from the run named below._"; next }
			/^_Not rerun by the latest run/ { skip = 1; next }
			skip && $0 == "" { skip = 0; next }
			{ skip = 0; print }' <<<"$old"
	else
		echo "## $(section_title "$m")"
		echo
		echo "Not run yet (BENCH_MODE=$MODE)."
	fi
}

{
	echo "# proxyd benchmark results"
	echo
	echo "Written by \`bench/run.sh\` (\`make bench\`, BENCH_MODE=forward|reverse|tls|all); every run rewrites this file, and a mode left out keeps its section from the run before."
	echo
	echo "- date: $RUN_DATE (BENCH_MODE=$MODE)"
	echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "- proxyd: $("$PROXYD" -V 2>&1 | head -n 1) (\`${PROXYD_SRC#"$TOP"/}\` of $PROXYD_BUILT, run from a copy), git $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$TOP" status --porcelain 2>/dev/null) ]] && echo ' (working tree with uncommitted changes)')"
	echo "- peers (dpkg): wrk $(ver wrk), nginx $(ver nginx) (nginx-light $(ver nginx-light)), haproxy $(ver haproxy), squid $(ver squid), tinyproxy $(ver tinyproxy), openssl $(ver openssl) (libssl3 $(ver libssl3))"
	echo "- other work on the box: CPUs $BUSY0 busy with other processes in the 2 s before the runs and $BUSY_RUN during the runs (total busy time minus the servers', wrk's and this script's); load average before the runs $LOAD0, after $LOAD1 (the benchmark's own load included)"
	echo "- kernel settings read (not changed): tcp_tw_reuse=$(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null), ip_local_port_range=$(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null | tr '\t' '-'), somaxconn=$(sysctl -n net.core.somaxconn 2>/dev/null)"
	echo "- measured part of the run: ${ELAPSED}s"
	for m in forward reverse tls; do
		echo
		echo "<!-- bench:$m -->"
		if [[ " $MODES " == *" $m "* ]]; then
			"${m}_section"
		else
			keep_section "$m"
		fi
		echo "<!-- /bench:$m -->"
	done
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

# ---------------------------------------------------------------- terminal
print_table() {	# print_table SCENARIO BASE PEERS...
	local s=$1 b=$2 p
	shift 2
	echo
	echo "== ${SIZE[$s]}-byte response: wrk -t$THREADS -c$CONNS -d${DURATION}s =="
	printf '%-22s %10s %9s %9s %8s %9s %8s %8s %8s\n' proxy req/s "vs proxyd" "p99 ms" errors "orig.conn" "CPU us/r" "RSS MiB" "conns"
	for p in direct "$@"; do
		if [[ -z ${RPS[$p:$s]:-} ]]; then
			printf '%-22s %10s  %s\n' "$(label "$p")" n/a "${NA[$p]:-}"
			continue
		fi
		printf '%-22s %10s %9s %9s %8s %9s %8s %8s %8s\n' "$(label "$p")" "${RPS[$p:$s]}" \
			"$(ratio "${RPS[$p:$s]}" "${RPS[$b:$s]:-0}")" "${P99[$p:$s]}" \
			"${ERR[$p:$s]}" "${OCONN[$p:$s]}" "${CPU[$p:$s]}" "$(mib "${RSS[$p:$s]}")" "${SPLIT[$p:$s]:-}"
	done
}
if ((run_fwd)); then
	echo
	echo "=== forward proxy ==="
	# shellcheck disable=SC2086
	for s in $FWD_SCEN; do print_table "$s" proxyd $PEERS; done
fi
if ((run_rev)); then
	echo
	echo "=== reverse proxy ==="
	# shellcheck disable=SC2086
	for s in $REV_SCEN; do print_table "$s" r-proxyd $RPEERS; done
	echo
	[[ -n $TARGET ]] && echo "target (100 B, proxyd >= ${TARGET_RATIO}x nginx and HAProxy, p99 no worse): $TARGET: $(join "${TARGET_WHY[@]}")"
	((PROF_DONE)) && echo "profile of proxyd's workers: see the reverse section of $RESULTS"
fi
if ((run_tls)); then
	echo
	echo "=== TLS reverse proxy (100 B) ==="
	for s in $TLS_SCEN; do
		echo
		if [[ $s == ka ]]; then
			echo "== keep-alive requests over HTTPS: wrk -t$THREADS -c$CONNS -d${DURATION}s =="
			printf '%-10s %10s %9s %9s %8s %10s %9s %8s %8s\n' proxy req/s "vs proxyd" "p99 ms" errors "hs (res.)" "CPU us/r" "RSS MiB" conns
		else
			echo "== new connection + full handshake per request: $HS_CLIENTS x openssl s_time -new -time $DURATION =="
			printf '%-10s %10s %9s %9s %8s %10s %9s %8s %8s\n' proxy hs/s "vs proxyd" "ms/conn" errors "hs (res.)" "CPU us/hs" "RSS MiB" "orig.req"
		fi
		for p in $TPEERS; do
			if [[ -z ${RPS[$p:$s]:-} ]]; then
				printf '%-10s %10s  %s\n' "$(label "$p")" n/a "${NA[$p]:-}"
				continue
			fi
			hsr="-"
			[[ -n ${HSFULL[$p:$s]:-} ]] && hsr="${HSFULL[$p:$s]} (${HSRES[$p:$s]})"
			if [[ $s == ka ]]; then last=${SPLIT[$p:$s]:-} lat=${P99[$p:$s]}; else last=${OREQ[$p:$s]} lat=${MSCONN[$p:$s]}; fi
			printf '%-10s %10s %9s %9s %8s %10s %9s %8s %8s\n' "$(label "$p")" "${RPS[$p:$s]}" \
				"$(ratio "${RPS[$p:$s]}" "${RPS[t-proxyd:$s]:-0}")" "$lat" "${ERR[$p:$s]}" "$hsr" \
				"${CPU[$p:$s]}" "$(mib "${RSS[$p:$s]}")" "$last"
		done
	done
	echo
	for p in $TPEERS; do
		[[ -n ${TLSI[$p:v13:proto]:-} ]] || continue
		echo "$(label "$p"): ${TLSI[$p:v13:proto]} ${TLSI[$p:v13:cipher]} ${TLSI[$p:v13:group]:-?} ${TLSI[$p:v13:sig]:-?}, ${TLSI[$p:v13:tickets]} tickets; TLS 1.2 ${TLSI[$p:v12:cipher]:-?} ${TLSI[$p:v12:group]:-?}; certificate ${TLSI[$p:v13:cert]}"
	done
fi
for p in $PEERS $RPEERS $TPEERS; do
	[[ -n ${LOGTAIL[$p]:-} && $p == *proxyd* ]] || continue
	echo
	echo "== $p stderr (last lines) =="
	echo "${LOGTAIL[$p]}"
done
echo
echo "bench: wrote $RESULTS"
if [[ " $PEERS " == *" proxyd "* ]]; then
	[[ -z ${NA[proxyd]:-} && -n ${RPS[proxyd:1k]:-} ]] || die "proxyd did not complete the forward benchmark"
fi
if [[ " $RPEERS " == *" r-proxyd "* ]]; then
	[[ -z ${NA[r-proxyd]:-} && -n ${RPS[r-proxyd:100b]:-} ]] || die "proxyd did not complete the reverse benchmark"
fi
if [[ " $TPEERS " == *" t-proxyd "* ]]; then
	[[ -z ${NA[t-proxyd]:-} && -n ${RPS[t-proxyd:ka]:-} && ${RPS[t-proxyd:hs]:-0} != 0 ]] ||
		die "proxyd did not complete the TLS benchmark"
fi
exit 0
