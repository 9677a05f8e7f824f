#!/usr/bin/env bash
# Run: bench/rules_bench.sh build/proxyd      (writes bench/RULES_RESULTS.md)
#
# bench/rules_bench.sh — issue 4's rules performance goal, measured: proxyd
# with 10,000 `url` regexes and a 1,000,000-name `host` list loaded against
# the same proxyd with no rules, in the same run.
#
#   usage: bench/rules_bench.sh [PROXYD]     (default build/proxyd)
#   environment:
#     RB_SECONDS   measured seconds per wrk run (10)   RB_ROUNDS  rounds (3)
#     RB_WARMUP    warm-up seconds per run (2)         RB_CONNS   connections (50)
#     RB_THREADS   wrk threads (2)                     RB_WORKERS proxyd workers (2)
#     RB_HOSTS     lines in the host list (1000000), of which
#     RB_SUFFIXES  are ".blocked-N.test" suffix entries (10000)
#     RB_URLS      url regexes (10000)
#     RB_WAIT      seconds to wait for someone else's wrk to finish: before
#                  the setup (600), before each run (at most 300)
#     RB_QUIET_WAIT, RB_QUIET_PCT  before each run, wait up to RB_QUIET_WAIT s
#                  (60) for the CPUs to be under RB_QUIET_PCT% busy (25)
#     RB_OTHERS_MAX, RB_RETRIES  a run during which other processes used more
#                  than RB_OTHERS_MAX% of the CPUs (15) is redone, RB_RETRIES
#                  times at most (2); the least disturbed attempt is kept
#     RB_RESULTS   output (bench/RULES_RESULTS.md)     RB_KEEP=1  keep the temp dir
#
# What it does: generates the lists into a temp dir; starts a local nginx
# origin serving a 1 KiB file; times `proxyd -t` and the start (exec until
# the port accepts, and until the first proxied 200) with no rules, the host
# list only, the url regexes only, and both; reads the processes' memory
# (/proc/PID/status and smaps_rollup); checks that a listed host, a suffix
# and two url patterns get 403 and the benchmark URL 200; then, alternating,
# RB_ROUNDS rounds of wrk through a fresh proxyd without rules and with both
# (the benchmark's request matches no rule, so every request is evaluated in
# full and allowed).
#
# Every process started here runs in its own session and is killed on exit;
# every wait is bounded.  Only 127.0.0.1 is used.  Root is fine (the workers
# then run as nobody, as in production).
# shellcheck disable=SC2046  # word splitting of $(vals ...) is wanted
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
LUA=$BENCH_DIR/absolute.lua

PROXYD=${1:-$TOP/build/proxyd}
[[ $PROXYD == /* ]] || PROXYD=$PWD/$PROXYD
DURATION=${RB_SECONDS:-10}
ROUNDS=${RB_ROUNDS:-3}
WARMUP=${RB_WARMUP:-2}
CONNS=${RB_CONNS:-50}
THREADS=${RB_THREADS:-2}
WORKERS=${RB_WORKERS:-2}
NHOSTS=${RB_HOSTS:-1000000}
NSUFFIX=${RB_SUFFIXES:-10000}
NURLS=${RB_URLS:-10000}
WAIT_MAX=${RB_WAIT:-600}
QUIET_MAX=${RB_QUIET_WAIT:-60}
QUIET_PCT=${RB_QUIET_PCT:-25}
OTHERS_MAX=${RB_OTHERS_MAX:-15}
RETRIES=${RB_RETRIES:-2}
RESULTS=${RB_RESULTS:-$BENCH_DIR/RULES_RESULTS.md}
START_LIMIT=30		# seconds a proxyd may take to accept before we give up

die() { echo "rules_bench: $*" >&2; exit 1; }
log() { echo "rules_bench: $*" >&2; }

for v in DURATION ROUNDS WARMUP CONNS THREADS WORKERS NHOSTS NSUFFIX NURLS WAIT_MAX QUIET_MAX QUIET_PCT OTHERS_MAX RETRIES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
((ROUNDS >= 1 && DURATION >= 1 && NHOSTS >= 2 && NURLS >= 4)) || die "bad sizes"
((NSUFFIX >= 1 && NSUFFIX < NHOSTS)) || die "RB_SUFFIXES must be 1..RB_HOSTS-1"
((THREADS <= CONNS)) || die "RB_THREADS > RB_CONNS"
PATH=$PATH:/usr/sbin:/sbin
for tool in wrk curl nginx awk ps setsid timeout; do
	command -v "$tool" >/dev/null || die "$tool not found (make bench-deps)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
[[ -x $PROXYD ]] || die "$PROXYD is not executable (make)"
[[ -r $LUA ]] || die "$LUA missing"
IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1
HZ=$(getconf CLK_TCK)

TMP=$(mktemp -d /tmp/proxyd-rules-bench.XXXXXX)
chmod 755 "$TMP"	# workers that drop privileges must reach their folders
# a copy, so that a rebuild of the tree during the run changes nothing
PROXYD_ORIG=$PROXYD
cp "$PROXYD" "$TMP/proxyd"
PROXYD=$TMP/proxyd
PSUM=$(sha256sum "$PROXYD" | cut -c1-12)
"$PROXYD" -V >/dev/null 2>&1 || die "$PROXYD_ORIG -V failed (being rebuilt?)"

# ---------------------------------------------------------------- processes
declare -a STARTED=()	# session leaders we started
WRK_PID=

kill_group() {	# kill_group PID: TERM the session, wait 5 s, then KILL
	local pid=$1 i
	kill -TERM -- "-$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 -- "-$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	sleep 0.1
}

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	[[ -n $WRK_PID ]] && kill -TERM "$WRK_PID" 2>/dev/null
	for pid in "${STARTED[@]}"; do kill_group "$pid"; done
	if [[ ${RB_KEEP:-0} == 1 ]]; then
		log "temp dir kept: $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
# set -e ends the run at the first failing command: say which
trap 'echo "rules_bench: line $LINENO failed (exit $?): $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# start LOG CMD...: CMD in a new session (same pid), output to LOG; sets PID
start() {
	local out=$1
	shift
	setsid "$@" >"$out" 2>&1 </dev/null &
	PID=$!
	STARTED+=("$PID")
}

stop() {	# stop PID: end a session started here and forget it
	local pid=$1 keep=() p
	kill_group "$pid"
	for p in "${STARTED[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	STARTED=("${keep[@]}")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

declare -A USED_PORT=()
free_port() {	# free_port VAR: a loopback port nothing listens on
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

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# pids of the wrk processes running (ours too, when one runs)
wrk_pids() {
	ps -C wrk -o pid= 2>/dev/null | tr -s ' \n' ' '
}

# wait_no_wrk MAX: wait (at most MAX s) until no wrk runs; sets WAITED and
# OVERLAP_NOTE when we ran anyway
WAITED_TOTAL=0
OVERLAP=()
wait_no_wrk() {
	local max=$1 t0 w
	t0=$SECONDS
	while [[ -n $(wrk_pids) ]]; do
		if ((SECONDS - t0 >= max)); then
			log "another wrk still runs after ${max}s ($(wrk_pids)); running anyway"
			OVERLAP+=("$2: another wrk was running when the run started (waited ${max}s)")
			break
		fi
		sleep 5
	done
	w=$((SECONDS - t0))
	WAITED_TOTAL=$((WAITED_TOTAL + w))
	((w > 0)) && log "waited ${w}s for another wrk to finish"
	return 0
}

tree_pids() {	# ROOT and its descendants
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

cpu_ticks() {	# cpu_ticks ROOT: user+system ticks of the tree so far
	local total=0 pid line rest f
	for pid in $(tree_pids "$1"); do
		line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		rest=${line##*) }
		read -r -a f <<<"$rest"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# all_ticks: "PID TICKS (COMM)" for every process
all_ticks() {
	local f line rest a c
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		rest=${line##*) }
		read -r -a a <<<"$rest"
		f=${f#/proc/}
		c=${line#*(}
		c=${c%%) *}
		echo "${f%/stat} $((a[11] + a[12])) (${c// /_})"
	done
}

stat_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# busy_pct SECS: percent of all CPUs busy over SECS seconds
busy_pct() {
	local a b
	a=$(stat_busy); sleep "$1"; b=$(stat_busy)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y)
		bu = y[1] - x[1]; id = y[2] - x[2]; printf "%.0f", (bu + id > 0) ? 100 * bu / (bu + id) : 0 }'
}

# wait_quiet KEY: until the box is under QUIET_PCT% busy over 2 s, at most
# QUIET_MAX s; QUIET[KEY] = the last reading, with the wait
declare -A QUIET=()
# shellcheck disable=SC2034  # QUIET is read through vals (a nameref)
wait_quiet() {
	local t0=$SECONDS b
	while :; do
		b=$(busy_pct 2)
		((b < QUIET_PCT)) && break
		if ((SECONDS - t0 >= QUIET_MAX)); then
			log "box still ${b}% busy after ${QUIET_MAX}s; running anyway"
			break
		fi
	done
	QUIET[$1]="$b% ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- memory
# smaps KEY PID: kB of KEY in /proc/PID/smaps_rollup (Shared = both kinds)
smaps() {
	awk -v k="$1" '
		k == "Shared" && ($1 == "Shared_Clean:" || $1 == "Shared_Dirty:") { s += $2 }
		$1 == k ":" { s += $2 }
		END { print s + 0 }' "/proc/$2/smaps_rollup" 2>/dev/null || echo 0
}
status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# mem_read KEY MASTER: fills MEM_* [KEY] from the master and its children
declare -A MEM_MRSS=() MEM_MHWM=() MEM_MPD=() MEM_WRSS=() MEM_WSH=() MEM_WPD=() MEM_PSS=()
mem_read() {
	local key=$1 m=$2 w pss rss=() sh=() pd=()
	MEM_MRSS[$key]=$(status_kb VmRSS "$m")
	MEM_MHWM[$key]=$(status_kb VmHWM "$m")
	MEM_MPD[$key]=$(smaps Private_Dirty "$m")
	pss=$(smaps Pss "$m")
	for w in $(ps -o pid= --ppid "$m"); do
		rss+=("$(mib "$(smaps Rss "$w")")")
		sh+=("$(mib "$(smaps Shared "$w")")")
		pd+=("$(mib "$(smaps Private_Dirty "$w")")")
		pss=$((pss + $(smaps Pss "$w")))
	done
	local IFS=/
	MEM_WRSS[$key]="${rss[*]:-}"
	MEM_WSH[$key]="${sh[*]:-}"
	MEM_WPD[$key]="${pd[*]:-}"
	MEM_PSS[$key]=$pss
}

# ---------------------------------------------------------------- inputs
wait_no_wrk "$WAIT_MAX" "setup"

log "generating $NHOSTS host names ($NSUFFIX suffixes) and $NURLS url regexes in $TMP"
LD=$TMP/lists
mkdir -p "$LD"
t0=$(now)
# exact names "HHHHhhhhhh.example-NNN.test" (4 random hex + the line index in
# hex: all distinct), every (NHOSTS/NSUFFIX)th line a ".blocked-K.test" suffix
timeout 300 awk -v n="$NHOSTS" -v s="$NSUFFIX" 'BEGIN {
	srand(4242); step = int(n / s); k = 0
	for (i = 1; i <= n; i++) {
		if (i % step == 0 && k < s) { k++; printf ".blocked-%d.test\n", k }
		else printf "%04x%06x.example-%03d.test\n", int(rand() * 65536), i, int(rand() * 1000)
	}
}' >"$LD/hosts.txt"
# four shapes with distinct literals, anchored and not, one caseless
timeout 120 awk -v n="$NURLS" 'BEGIN {
	for (i = 0; i < n; i++) {
		s = i % 4
		if (s == 0) printf "^http://[^/]*/ads/word%05d/.*\\.(js|gif)$\n", i
		else if (s == 1) printf "(?i)^https?://[^/]+/track/pixel%05d\\.php\\?\n", i
		else if (s == 2) printf "/banner-%05d-[0-9]+x[0-9]+\\.(png|jpe?g)$\n", i
		else printf "^http://cdn%05d\\.adnet\\.test/\n", i
	}
}' >"$LD/urls.txt"
GEN_SECS=$(elapsed "$t0" "$(now)")
HOST_LINES=$(wc -l <"$LD/hosts.txt")
HOST_SUFFIX_LINES=$(grep -c '^\.' "$LD/hosts.txt" || true)
HOST_BYTES=$(stat -c %s "$LD/hosts.txt")
URL_LINES=$(wc -l <"$LD/urls.txt")
URL_BYTES=$(stat -c %s "$LD/urls.txt")
chmod -R a+rX "$LD"
# spot-check targets: an exact name from the middle of the list, a suffix
LISTED=$(awk -v m=$((NHOSTS / 2 + 1)) 'NR >= m && $0 !~ /^\./ { print; exit }' "$LD/hosts.txt")
SUFFIX_NAME="www.blocked-$(( (NSUFFIX + 1) / 2 )).test"
U0=$(( (NURLS / 2) / 4 * 4 ))		# a shape-0 index
U2=$(( (NURLS - 1) / 4 * 4 + 2 ))	# a shape-2 index near the end
((U2 < NURLS)) || U2=$((U2 - 4))
log "generated in ${GEN_SECS}s: hosts.txt $HOST_LINES lines ($((HOST_BYTES / 1048576)) MiB), urls.txt $URL_LINES lines"

cat >"$LD/rules-both.ini" <<'EOF'
[rules]
default = allow

[rule hosts]
host = @hosts.txt
action = deny

[rule urls]
url_file = @urls.txt
action = deny
EOF
cat >"$LD/rules-hosts.ini" <<'EOF'
[rules]
default = allow

[rule hosts]
host = @hosts.txt
action = deny
EOF
cat >"$LD/rules-urls.ini" <<'EOF'
[rules]
default = allow

[rule urls]
url_file = @urls.txt
action = deny
EOF
chmod a+r "$LD"/*.ini

# ---------------------------------------------------------------- origin
ODIR=$TMP/origin
mkdir -p "$ODIR/www" "$ODIR/tmp"
head -c 1024 /dev/urandom >"$ODIR/www/1k.bin"
chmod 755 "$ODIR" "$ODIR/www"
chmod 644 "$ODIR/www/1k.bin"
free_port OPORT
NGX_USER=""
((IS_ROOT)) && NGX_USER="user nobody nogroup;"
cat >"$ODIR/nginx.conf" <<EOF
$NGX_USER
worker_processes $WORKERS;
daemon off;
master_process on;
pid $ODIR/nginx.pid;
error_log $ODIR/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $ODIR/tmp/body;
    proxy_temp_path $ODIR/tmp/proxy;
    fastcgi_temp_path $ODIR/tmp/fastcgi;
    uwsgi_temp_path $ODIR/tmp/uwsgi;
    scgi_temp_path $ODIR/tmp/scgi;
    server {
        listen 127.0.0.1:$OPORT backlog=4096;
        root $ODIR/www;
        location / { }
    }
}
EOF
start "$ODIR/stderr.log" nginx -p "$ODIR" -e "$ODIR/error.log" -c "$ODIR/nginx.conf"
OPID=$PID
for i in $(seq 100); do port_open "$OPORT" && break; sleep 0.1; done
ORIGIN=127.0.0.1:$OPORT
got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' "http://$ORIGIN/1k.bin" || true)
[[ $got == "200 1024" ]] || die "origin nginx: /1k.bin answered '$got' ($(cat "$ODIR/error.log" 2>/dev/null | tail -3))"
TARGET=http://$ORIGIN/1k.bin
log "origin: nginx on $ORIGIN"

# ---------------------------------------------------------------- proxyd
declare -A RULES_FILE=([none]="" [hosts]=$LD/rules-hosts.ini [urls]=$LD/rules-urls.ini [both]=$LD/rules-both.ini)
INST=0

write_conf() {	# write_conf CFG DIR PORT
	local rules=${RULES_FILE[$1]}
	{
		echo "[proxyd]"
		echo "workers = $WORKERS"
		echo "pid_file = $2/proxyd.pid"
		echo "shm_file = $2/proxyd.shm"
		echo "error_log = stderr"
		echo "access_log = off"
		echo "log_level = warn"
		echo "max_connections = 8192"
		[[ -n $rules ]] && echo "rules = $rules"
		echo
		echo "[listen main]"
		echo "address = 127.0.0.1:$3"
		echo "mode = forward"
		echo "allow_loopback = on"
	} >"$2/proxyd.ini"
}

# start_proxyd CFG KEY: a fresh proxyd; sets PPID_ PPORT PDIR and
# ACCEPT_S[KEY] (exec until the port accepts), FIRST_S[KEY] (until the
# first proxied 200)
declare -A ACCEPT_S=() FIRST_S=() FAIL=()
start_proxyd() {
	local cfg=$1 key=$2 d port t0 t1 got i ok=0 s0
	INST=$((INST + 1))
	d=$TMP/p$INST-$cfg
	mkdir -p "$d"
	chmod 777 "$d"
	free_port port
	write_conf "$cfg" "$d" "$port"
	s0=$SECONDS
	t0=$(now)
	start "$d/stderr.log" "$PROXYD" -f -c "$d/proxyd.ini"
	PPID_=$PID PPORT=$port PDIR=$d
	while :; do
		if port_open "$port"; then ok=1; break; fi
		kill -0 "$PID" 2>/dev/null || break
		((SECONDS - s0 > START_LIMIT)) && break
		sleep 0.01
	done
	t1=$(now)
	if ((!ok)); then
		FAIL[$key]="proxyd ($cfg) did not accept within ${START_LIMIT}s or exited: $(tail -c 400 "$d/stderr.log" | tr '\n' ' ')"
		log "${FAIL[$key]}"
		return 1
	fi
	ACCEPT_S[$key]=$(elapsed "$t0" "$t1")
	for i in $(seq 500); do
		got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' -x "http://127.0.0.1:$port" "$TARGET" || true)
		[[ $got == 200 ]] && break
		sleep 0.01
	done
	if [[ $got != 200 ]]; then
		FAIL[$key]="proxyd ($cfg): the benchmark URL answered '$got', not 200: $(tail -c 400 "$d/stderr.log" | tr '\n' ' ')"
		log "${FAIL[$key]}"
		return 1
	fi
	FIRST_S[$key]=$(elapsed "$t0" "$(now)")
	return 0
}

# ---- proxyd -t: compiles every rule and list
declare -A T_SECS=() T_KB=() T_RC=()
PROXYD_T_CMD=""
for cfg in none hosts urls both; do
	reps=1
	[[ $cfg == both ]] && reps=3
	d=$TMP/t-$cfg
	mkdir -p "$d"
	tport=
	free_port tport
	write_conf "$cfg" "$d" "$tport"
	secs=()
	for ((r = 1; r <= reps; r++)); do
		rc=0
		timeout 120 /usr/bin/time -f '%e %M' -o "$d/time" "$PROXYD" -t -c "$d/proxyd.ini" >"$d/out" 2>&1 || rc=$?
		secs+=("$(awk '{ print $1 }' "$d/time" 2>/dev/null | tail -1)")
		T_KB[$cfg]=$(awk '{ print $2 }' "$d/time" 2>/dev/null | tail -1)
		T_RC[$cfg]=$rc
		((rc == 0)) || { log "proxyd -t ($cfg) failed: $(head -c 400 "$d/out")"; break; }
	done
	T_SECS[$cfg]=$(printf '%s\n' "${secs[@]}" | sort -n | tr '\n' '/' | sed 's|/$||')
	[[ $cfg == both ]] && PROXYD_T_CMD="/usr/bin/time -f '%e s %M kB' \$TMP/proxyd -t -c \$TMP/t-both/proxyd.ini"
	log "proxyd -t ($cfg): ${T_SECS[$cfg]} s, max RSS ${T_KB[$cfg]} kB, rc ${T_RC[$cfg]}"
done
[[ ${T_RC[both]} == 0 ]] || die "proxyd -t rejected the rules: $(head -c 600 "$TMP/t-both/out")"

# ---- start-up and memory at rest, each config; spot checks on "both"
declare -A SPOT=() SPOT_CTRL=()
spot() {	# spot PORT URL: "CODE BYTES"
	curl -s -o "$TMP/spot.body" --max-time 10 -w '%{http_code} %{size_download}' -x "http://127.0.0.1:$1" "$2" || true
}
SPOT_URLS=(
	"listed host|http://$LISTED/"
	"listed host, upper case|http://${LISTED^^}/"
	"under a listed suffix|http://$SUFFIX_NAME/some/page"
	"url pattern $((U0 + 1)) (anchored)|http://$ORIGIN/ads/word$(printf %05d "$U0")/x/y.js"
	"url pattern $((U2 + 1)) (unanchored)|http://$ORIGIN/img/banner-$(printf %05d "$U2")-300x250.png"
	"the benchmark URL|$TARGET"
)
SPOT_WANT=(403 403 403 403 403 200)
SPOT_OK=1
for cfg in none hosts urls both; do
	key=rest-$cfg
	start_proxyd "$cfg" "$key" || die "${FAIL[$key]}"
	sleep 0.5
	mem_read "$key" "$PPID_"
	if [[ $cfg == both || $cfg == none ]]; then
		for i in "${!SPOT_URLS[@]}"; do
			u=${SPOT_URLS[$i]#*|}
			r=$(spot "$PPORT" "$u")
			if [[ $cfg == both ]]; then
				body=$(head -c 2000 "$TMP/spot.body" | tr -d '\0' | tr -s '\r\n\t' '   ')
				names=""
				[[ $body == *hosts* ]] && names="names rule hosts"
				[[ $body == *urls* ]] && names="names rule urls"
				SPOT[$i]="$r${names:+ ($names)}"
				[[ ${r%% *} == "${SPOT_WANT[$i]}" ]] || SPOT_OK=0
			else
				SPOT_CTRL[$i]=$r
			fi
		done
	fi
	log "rest $cfg: accept ${ACCEPT_S[$key]} s, first 200 ${FIRST_S[$key]} s, master RSS $(mib "${MEM_MRSS[$key]}") MiB, Pss total $(mib "${MEM_PSS[$key]}") MiB"
	stop "$PPID_"
done
((SPOT_OK)) || log "spot check FAILED: $(for i in "${!SPOT_URLS[@]}"; do printf '%s -> %s; ' "${SPOT_URLS[$i]%%|*}" "${SPOT[$i]}"; done)"

# ---------------------------------------------------------------- runs
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000
		else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

declare -A RPS=() P99=() ERR=() CPUR=() OTHERS=() FORKS=() TOPOTHER=() WSPLIT=()
WRK_CMD=""
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# the box's busy share over 2 s with only the idle origin running
b0=$(stat_busy); sleep 2; b1=$(stat_busy)
IDLE_BUSY=$(awk -v a="$b0" -v b="$b1" 'BEGIN { split(a, x); split(b, y)
	bu = y[1] - x[1]; id = y[2] - x[2]; printf "%.0f%%", (bu + id > 0) ? 100 * bu / (bu + id) : 0 }')

# run_attempt CFG ROUND KEY: one measured run, results under KEY
run_attempt() {
	local cfg=$1 r=$2 key=$3 out=$TMP/wrk-${3//:/-}.txt c0 c1 o0 o1 s0 s1 wt f0 f1
	wait_no_wrk $((WAIT_MAX < 300 ? WAIT_MAX : 300)) "$cfg round $r"
	wait_quiet "$key"
	start_proxyd "$cfg" "run-$key" || { RPS[$key]=0; ERR[$key]="did not start"; return; }
	local cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$LUA" "http://127.0.0.1:$PPORT/")
	WRK_CMD="BENCH_TARGET=$TARGET BENCH_HOST=$ORIGIN ${cmd[*]}"
	if ((WARMUP > 0)); then
		BENCH_TARGET=$TARGET BENCH_HOST=$ORIGIN timeout $((WARMUP + 20)) \
			wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$LUA" "http://127.0.0.1:$PPORT/" >/dev/null 2>&1 &
		WRK_PID=$!
		wait "$WRK_PID" || true
		WRK_PID=
	fi
	all_ticks >"$TMP/ticks0"
	f0=$(awk '$1 == "processes" { print $2 }' /proc/stat)
	local wk=() w0=() w1=() w
	for w in $(ps -o pid= --ppid "$PPID_"); do wk+=("$w"); w0+=("$(cpu_ticks "$w")"); done
	c0=$(cpu_ticks "$PPID_"); o0=$(cpu_ticks "$OPID"); s0=$(stat_busy)
	BENCH_TARGET=$TARGET BENCH_HOST=$ORIGIN timeout $((DURATION + 30)) \
		/usr/bin/time -f '%U %S' -o "$out.time" "${cmd[@]}" >"$out" 2>&1 &
	WRK_PID=$!
	# look for someone else's wrk every second while ours runs; ours is a
	# child of /usr/bin/time, itself a child of timeout
	local seen="" p pp
	while kill -0 "$WRK_PID" 2>/dev/null; do
		sleep 1
		for p in $(wrk_pids); do
			pp=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')
			[[ -n $pp && $(ps -o ppid= -p "$pp" 2>/dev/null | tr -d ' ') == "$WRK_PID" ]] && continue
			[[ " $seen " == *" $p "* ]] || seen+=" $p"
		done
	done
	[[ -n $seen ]] && OVERLAP+=("$cfg round $r: another wrk (pid$seen) ran during the measured run")
	wait "$WRK_PID" || echo "(wrk failed or timed out)" >>"$out"
	WRK_PID=
	c1=$(cpu_ticks "$PPID_"); o1=$(cpu_ticks "$OPID"); s1=$(stat_busy)
	f1=$(awk '$1 == "processes" { print $2 }' /proc/stat)
	for w in "${!wk[@]}"; do w1+=($(( $(cpu_ticks "${wk[$w]}") - w0[w] ))); done
	# each worker's share of the workers' CPU time: how evenly the
	# connections were spread
	WSPLIT[$key]=$(printf '%s\n' "${w1[@]}" | awk '{ v[NR] = $1; t += $1 } END { for (i = 1; i <= NR; i++) printf "%s%.0f", (i > 1 ? ":" : ""), t ? 100 * v[i] / t : 0 }')
	all_ticks >"$TMP/ticks1"
	# who else used the CPUs: processes started during the run, and the
	# busiest ones alive before and after that are not ours
	FORKS[$key]=$((f1 - f0))
	TOPOTHER[$key]=$(awk -v ours=" $(tree_pids "$PPID_" | tr '\n' ' ') $(tree_pids "$OPID" | tr '\n' ' ') $$ " '
		NR == FNR { t0[$1] = $2; next }
		{ d = $2 - (($1 in t0) ? t0[$1] : 0)
		  if (d >= 5 && index(ours, " " $1 " ") == 0 && $3 != "(wrk)") print d, $3 }' \
		"$TMP/ticks0" "$TMP/ticks1" | sort -rn | awk -v hz="$HZ" 'NR <= 3 { printf "%s%s %.1fs", (NR > 1 ? ", " : ""), $2, $1 / hz }' | tr -d '()')
	mem_read "run-$key" "$PPID_"
	RPS[$key]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	[[ -n ${RPS[$key]} ]] || RPS[$key]=0
	P99[$key]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	ERR[$key]=$(awk '
		/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { e += $NF }
		END { print e + 0 }' "$out")
	grep -q 'wrk failed' "$out" && ERR[$key]="${ERR[$key]}+wrk-failed"
	local reqs
	reqs=$(awk '/requests in/ { print $1 }' "$out")
	CPUR[$key]=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${reqs:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')
	# other work on the box during the run: busy ticks minus proxyd, origin, wrk
	wt=$(awk -v hz="$HZ" '{ printf "%.0f", ($1 + $2) * hz }' "$out.time" 2>/dev/null | tail -1)
	OTHERS[$key]=$(awk -v a="$s0" -v b="$s1" -v o=$((c1 - c0 + o1 - o0 + ${wt:-0})) 'BEGIN {
		split(a, x); split(b, y); bu = y[1] - x[1] - o; id = y[2] - x[2]; if (bu < 0) bu = 0
		printf "%.0f", (bu + id + o > 0) ? 100 * bu / (bu + id + o) : 0 }')
	[[ -s $PDIR/stderr.log ]] && LOGTAIL[$key]=$(tail -n 5 "$PDIR/stderr.log")
	log "$cfg round $r: ${RPS[$key]} req/s, p99 ${P99[$key]} ms, errors ${ERR[$key]}, proxyd ${CPUR[$key]} us/req (workers ${WSPLIT[$key]}%), start ${ACCEPT_S[run-$key]} s, others ${OTHERS[$key]}% (${FORKS[$key]} processes or threads started on the box${TOPOTHER[$key]:+; busiest: ${TOPOTHER[$key]}})"
	stop "$PPID_"
}

# copy_key FROM TO ARRAY...: ARRAY[TO] = ARRAY[FROM] where set
copy_key() {
	local from=$1 to=$2 name
	shift 2
	for name in "$@"; do
		local -n arr=$name
		[[ -n ${arr[$from]+x} ]] && arr[$to]=${arr[$from]}
		unset -n arr
	done
}

# run_one CFG ROUND: a run; one that other work on the box disturbed (more
# than OTHERS_MAX% of the CPUs used by others) is redone, RETRIES times at
# most, and the least disturbed attempt kept
declare -A ATTEMPTS=()
run_one() {
	local cfg=$1 r=$2 a best="" k
	for ((a = 1; a <= RETRIES + 1; a++)); do
		k=$cfg:$r:$a
		run_attempt "$cfg" "$r" "$k"
		ATTEMPTS[$cfg:$r]+="${ATTEMPTS[$cfg:$r]:+, }${RPS[$k]} req/s with ${OTHERS[$k]:-?}% others (${FORKS[$k]:-?} processes or threads started on the box${TOPOTHER[$k]:+; busiest: ${TOPOTHER[$k]}})"
		if [[ -z $best ]] || (( ${OTHERS[$k]:-100} < ${OTHERS[$best]:-100} )); then best=$k; fi
		(( ${OTHERS[$k]:-100} <= OTHERS_MAX )) && break
		((a <= RETRIES)) && log "$cfg round $r: disturbed (${OTHERS[$k]:-?}% others > $OTHERS_MAX%), again"
	done
	copy_key "$best" "$cfg:$r" RPS P99 ERR CPUR OTHERS QUIET LOGTAIL FORKS TOPOTHER WSPLIT
	copy_key "run-$best" "run-$cfg:$r" ACCEPT_S FIRST_S MEM_MRSS MEM_MHWM MEM_MPD MEM_WRSS MEM_WSH MEM_WPD MEM_PSS
}

declare -A LOGTAIL=()
T_RUNS=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order="none both"; else order="both none"; fi
	for cfg in $order; do run_one "$cfg" "$r"; done
done
T_RUNS=$((SECONDS - T_RUNS))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
vals() {	# vals ARRAY CFG: the rounds' values, space-separated
	local -n a=$1
	local r out=()
	for ((r = 1; r <= ROUNDS; r++)); do out+=("${a[$2:$r]:-0}"); done
	echo "${out[*]}"
}
acc_vals() { local r out=(); for ((r = 1; r <= ROUNDS; r++)); do out+=("${ACCEPT_S[run-$1:$r]:-0}"); done; echo "${out[*]}"; }
slash() { echo "$*" | tr ' ' '/'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }

declare -A MED_RPS MED_P99 MED_CPU
for cfg in none both; do
	# shellcheck disable=SC2046
	MED_RPS[$cfg]=$(median $(vals RPS "$cfg"))
	MED_P99[$cfg]=$(median $(vals P99 "$cfg"))
	MED_CPU[$cfg]=$(median $(vals CPUR "$cfg"))
done
RATIO=$(ratio "${MED_RPS[both]}" "${MED_RPS[none]}")
PAIR=()
for ((r = 1; r <= ROUNDS; r++)); do PAIR+=("$(ratio "${RPS[both:$r]:-0}" "${RPS[none:$r]:-0}")"); done
HOSTS_MEM_KB=$(( ${MEM_PSS[rest-hosts]} - ${MEM_PSS[rest-none]} ))
HOSTS_MRSS_KB=$(( ${MEM_MRSS[rest-hosts]} - ${MEM_MRSS[rest-none]} ))
BOTH_MRSS_KB=$(( ${MEM_MRSS[rest-both]} - ${MEM_MRSS[rest-none]} ))
START_MAX=$(printf '%s\n' "${ACCEPT_S[rest-both]}" $(acc_vals both) | sort -g | tail -1)
V_TPUT=$(awk -v r="$RATIO" 'BEGIN { print (r != "-" && r >= 0.90) ? "met" : "NOT met" }')
V_START=$(awk -v s="$START_MAX" 'BEGIN { print (s < 5) ? "met" : "NOT met" }')
V_MEM=$(( HOSTS_MRSS_KB < 65536 ? 1 : 0 ))
BOTH_PSS_KB=$(( ${MEM_PSS[rest-both]} - ${MEM_PSS[rest-none]} ))
# the rules count as shared when a worker's Private_Dirty grows by less than
# a tenth of what the master holds for them
V_SHARED=$(awk -v w="${MEM_WPD[rest-both]}" -v n="${MEM_WPD[rest-none]}" -v m="$BOTH_MRSS_KB" 'BEGIN {
	split(w, a, "/"); split(n, b, "/"); ok = 1
	for (i in a) if ((a[i] - b[i]) * 1024 > m / 10) ok = 0
	print ok ? "yes" : "NO" }')

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_TOTAL=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
OS=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || echo unknown)
PVER=$("$PROXYD" -V 2>/dev/null || echo "proxyd ?")
GITREV=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo "?")
GITDIRTY=$(git -C "$TOP" status --porcelain 2>/dev/null | grep -q . && echo " (working tree with uncommitted changes)" || true)
PCRE=$(dpkg-query -W -f '${Version}' libpcre2-8-0 2>/dev/null || echo "?")
WRKV=$(dpkg-query -W -f '${Version}' wrk 2>/dev/null || echo "?")
NGXV=$(nginx -v 2>&1 | sed 's|.*/||')

{
	echo "# proxyd rules benchmark (issue 4, Performance)"
	echo
	echo "Written by \`bench/rules_bench.sh $(realpath --relative-to="$TOP" "$PROXYD_ORIG" 2>/dev/null || echo "$PROXYD_ORIG")\`; every run overwrites this file."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) CPUs ($CPU_MODEL), $MEM_TOTAL RAM, Linux $(uname -r), $OS"
	echo "- proxyd: $PVER, git $GITREV$GITDIRTY, binary sha256 $PSUM… (copied from $PROXYD_ORIG at the start); libpcre2-8 $PCRE; wrk $WRKV; origin nginx $NGXV"
	echo "- load: load average $LOAD_BEFORE before the runs, $LOAD_AFTER after (the benchmark's own load included); CPUs $IDLE_BUSY busy in the 2 s before the runs with only the idle origin running; during each run, the share of CPU used by processes other than proxyd, the origin and wrk is listed under the throughput table"
	if ((WAITED_TOTAL > 0)) || ((${#OVERLAP[@]})); then
		echo "- another engineer's wrk: waited ${WAITED_TOTAL}s in all for it to finish$( ((${#OVERLAP[@]})) && printf '; overlaps: %s' "$(printf '%s; ' "${OVERLAP[@]}")")"
	else
		echo "- no other wrk was seen before or during the measured runs"
	fi
	echo
	echo "## Setup"
	echo
	echo "- Host list \`hosts.txt\`: $HOST_LINES lines, $((HOST_BYTES / 1048576)) MiB: $((HOST_LINES - HOST_SUFFIX_LINES)) exact names like \`$(sed -n 2p "$LD/hosts.txt")\` (4 random hex digits + the line number in hex, so all distinct) and $HOST_SUFFIX_LINES suffix entries \`.blocked-K.test\` (every $((NHOSTS / NSUFFIX))th line)."
	echo "- URL list \`urls.txt\`: $URL_LINES PCRE2 patterns ($((URL_BYTES / 1024)) KiB), four shapes in turn, each with its own literal:"
	echo
	echo '```'
	head -4 "$LD/urls.txt"
	echo '```'
	echo
	echo "- Rules (\`rules-both.ini\`; \`rules-hosts.ini\` and \`rules-urls.ini\` hold one of the two rules):"
	echo
	echo '```ini'
	cat "$LD/rules-both.ini"
	echo '```'
	echo
	echo "- proxyd: $WORKERS workers, access_log = off, log_level = warn, max_connections = 8192, \`allow_loopback = on\` on the listener, \`rules =\` the file (left out for \"no rules\"), run as \`\$TMP/proxyd -f -c \$TMP/pN-CFG/proxyd.ini\`$( ((IS_ROOT)) && echo " as root (workers run as nobody)")."
	echo "- Origin: nginx, $WORKERS workers, keep-alive, serving a 1 KiB file on $ORIGIN (the same settings as \`bench/conf/origin-nginx.conf\`)."
	echo "- Load: \`$WRK_CMD\` (absolute-form \`GET $TARGET\` through the proxy), after a ${WARMUP}s warm-up; the request matches no rule, so proxyd looks the host up in the 1M-name set and runs the URL prefilter, then allows by default."
	echo "- $ROUNDS rounds, alternating (round 1: no rules then rules, round 2: rules then no rules, ...); each run gets a freshly started proxyd, so every run also times a start; medians over the rounds."
	echo "- Generating the lists took ${GEN_SECS}s (awk)."
	echo
	echo "## Correctness spot check (before the runs)"
	echo
	echo "\`curl -x\` through proxyd with both rules, and (control) through proxyd with no rules:"
	echo
	echo "| request | want | with rules: status bytes | no rules: status bytes |"
	echo "|---|---:|---|---|"
	for i in "${!SPOT_URLS[@]}"; do
		echo "| ${SPOT_URLS[$i]%%|*}: \`${SPOT_URLS[$i]#*|}\` | ${SPOT_WANT[$i]} | ${SPOT[$i]} | ${SPOT_CTRL[$i]} |"
	done
	echo
	echo "Result: $( ((SPOT_OK)) && echo "all as wanted" || echo "**FAILED** (see the table)")."
	echo
	echo "## Start-up and compile"
	echo
	echo "| config | \`proxyd -t\` s | \`proxyd -t\` max RSS MiB | exec → port accepts, s | exec → first proxied 200, s |"
	echo "|---|---:|---:|---:|---:|"
	for cfg in none hosts urls both; do
		k=rest-$cfg
		ex=""
		[[ $cfg == both ]] && ex=" (runs: $(slash $(acc_vals both)))"
		[[ $cfg == none ]] && ex=" (runs: $(slash $(acc_vals none)))"
		echo "| $cfg | ${T_SECS[$cfg]} | $(mib "${T_KB[$cfg]:-0}") | ${ACCEPT_S[$k]}$ex | ${FIRST_S[$k]} |"
	done
	echo
	echo "\`proxyd -t\` time is wall-clock from \`/usr/bin/time\` ($( [[ -n $PROXYD_T_CMD ]] && echo "\`$PROXYD_T_CMD\`, 3 times for both, sorted" )); it parses the config and compiles every rule and list. proxyd compiles the rules before it binds the port, so \"port accepts\" is when compiling is over; the first 200 also waits for the forked workers. Polled every 10 ms."
	echo
	echo "## Memory"
	echo
	echo "At rest (0.5 s after start, one request served) and after a measured run. Worker columns list each worker. Shared = Shared_Clean + Shared_Dirty, from /proc/PID/smaps_rollup; Pss total = master + workers, each shared page divided among the processes that map it."
	echo
	echo "| config | when | master RSS MiB | master peak (VmHWM) MiB | master Private_Dirty MiB | worker RSS MiB | worker Shared MiB | worker Private_Dirty MiB | Pss total MiB |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for k in rest-none rest-hosts rest-urls rest-both run-none:1 run-both:1; do
		[[ -n ${MEM_MRSS[$k]:-} ]] || continue
		cfg=${k#*-}; cfg=${cfg%%:*}
		when="at rest"
		[[ $k == run-* ]] && when="after round-1 run"
		echo "| $cfg | $when | $(mib "${MEM_MRSS[$k]}") | $(mib "${MEM_MHWM[$k]}") | $(mib "${MEM_MPD[$k]}") | ${MEM_WRSS[$k]} | ${MEM_WSH[$k]} | ${MEM_WPD[$k]} | $(mib "${MEM_PSS[$k]}") |"
	done
	echo
	echo "- The 1M-name list (hosts only vs no rules, at rest): master RSS +$(mib "$HOSTS_MRSS_KB") MiB, Pss total of master + workers +$(mib "$HOSTS_MEM_KB") MiB. Both lists: master RSS +$(mib "$BOTH_MRSS_KB") MiB."
	echo
	echo "## Throughput (1 KiB, ${DURATION}s, $CONNS connections, $THREADS wrk threads)"
	echo
	echo "| proxyd | req/s (median) | vs no rules | p99 ms (median) | errors (per round) | proxyd CPU µs/req (median) | req/s per round | p99 per round |"
	echo "|---|---:|---:|---:|---|---:|---|---|"
	for cfg in none both; do
		lbl="no rules"
		[[ $cfg == both ]] && lbl="10k url + 1M host"
		echo "| $lbl | ${MED_RPS[$cfg]} | $(ratio "${MED_RPS[$cfg]}" "${MED_RPS[none]}") | ${MED_P99[$cfg]} | $(vals ERR "$cfg" | tr ' ' '/') | ${MED_CPU[$cfg]} | $(slash $(vals RPS "$cfg")) | $(slash $(vals P99 "$cfg")) |"
	done
	echo
	echo "- Ratio of medians, with rules / without: **$RATIO**; per round (same round's pair): $(slash "${PAIR[@]}")."
	echo "- proxyd CPU per request per round: no rules $(slash $(vals CPUR none)), with rules $(slash $(vals CPUR both)) (user+system of master and workers over the measured run / requests; clock ticks of 1/$HZ s)."
	echo "- How the measured run's work split between the $WORKERS workers (each one's share of the workers' CPU time, percent): no rules $(vals WSPLIT none | tr ' ' '/' | sed 's|/|, |g'); with rules $(vals WSPLIT both | tr ' ' '/' | sed 's|/|, |g'). wrk opens its $CONNS connections at once and they stay open, so a worker that accepts more of them does more of the work for the whole run; an uneven split caps the rate of that run."
	echo "- Other work on the box during each run (CPU share not used by proxyd, the origin or wrk; includes the kernel's softirq time for loopback traffic that is not charged to a process): no rules $(slash $(vals OTHERS none)), with rules $(slash $(vals OTHERS both)) (percent)."
	echo "- Attempts (a run with more than ${OTHERS_MAX}% others is redone, ${RETRIES} times at most, and the least disturbed attempt kept; with each, the processes and threads started on the box during it, about 60 by this script itself, and the busiest other processes alive before and after it): $(for cfg in none both; do for ((r = 1; r <= ROUNDS; r++)); do printf '%s round %s: %s; ' "$cfg" "$r" "${ATTEMPTS[$cfg:$r]:-}"; done; done)"
	echo "- CPUs busy in the 2 s before each run (the script waits up to ${QUIET_MAX}s for under ${QUIET_PCT}%; the wait in parentheses): no rules $(vals QUIET none | sed 's|) |), |g'); with rules $(vals QUIET both | sed 's|) |), |g')."
	echo
	echo "## Reading"
	echo
	echo "- Throughput within 10% (ratio ≥ 0.90): **$V_TPUT** — median ratio $RATIO ($(slash "${PAIR[@]}") per round)."
	echo "- Start-up compile under 5 s: **$V_START** — exec → port accepts with both lists: ${ACCEPT_S[rest-both]} s at rest, $(slash $(acc_vals both)) s in the runs; \`proxyd -t\` ${T_SECS[both]} s."
	echo "- Memory for the 1M-name list under 64 MiB: **$( ((V_MEM)) && echo met || echo "NOT met")** — +$(mib "$HOSTS_MRSS_KB") MiB in the master (peak while loading: $(mib "${MEM_MHWM[rest-hosts]}") MiB master VmHWM)."
	echo "- Shared between workers: **$V_SHARED** — with both lists a worker's Private_Dirty is ${MEM_WPD[rest-both]} MiB vs ${MEM_WPD[rest-none]} MiB without rules at rest (${MEM_WPD[run-both:1]:-?} vs ${MEM_WPD[run-none:1]:-?} MiB after a run), while its Shared is ${MEM_WSH[rest-both]} MiB (${MEM_WSH[rest-none]} without rules); the Pss total of master + workers grows by $(mib "$BOTH_PSS_KB") MiB with both lists, about one copy."
	echo "- Cost per request: proxyd used ${MED_CPU[both]} µs of CPU per request with the rules vs ${MED_CPU[none]} µs without ($(awk -v a="${MED_CPU[both]}" -v b="${MED_CPU[none]}" 'BEGIN { if (b > 0) printf "%+.0f%%", 100 * (a - b) / b; else print "?" }'); user+system of master and workers over the measured run, divided by the requests; less noisy than req/s)."
	if printf '%s\n' "${PAIR[@]}" | awk -v r="$RATIO" '$1 != "-" { if ($1 < 0.90) lo = 1; else hi = 1 }
		END { exit !((lo && hi) || (r != "-" && r >= 0.80 && r < 1.00)) }'; then
		echo "- Not conclusive at this noise level: the per-round pairs or the median ratio lie within 10 points of the 0.90 line, and runs on this box differ by more than that between rounds (the no-rules rate alone varied $(slash $(vals RPS none)) here). Rerun with more and longer rounds (\`RB_ROUNDS=7 RB_SECONDS=20\`) and compare the CPU µs/req, which does not depend on how busy wrk and the origin are."
	fi
	echo
	echo "Caveat: the machine has $(nproc) cores, and wrk, proxyd's $WORKERS workers and the origin's $WORKERS workers all share them, so the proxy is not the only bottleneck and a per-request cost shows in req/s only in part; proxyd's CPU µs/req is the more direct measure of what the rules cost. This is a shared virtual machine (see the load line above): the same configuration's rate has been seen to vary by a third between runs (bench/RESULTS.md), so with $ROUNDS rounds a gap of a few percent is within the noise; \`RB_ROUNDS=5 RB_SECONDS=30 bench/rules_bench.sh build/proxyd\` narrows it."
	if ((${#LOGTAIL[@]})); then
		echo
		echo "## proxyd stderr (last lines, runs that logged anything)"
		for k in "${!LOGTAIL[@]}"; do
			echo
			echo "$k:"
			echo '```'
			echo "${LOGTAIL[$k]}"
			echo '```'
		done
	fi
	echo
	echo "_Measured runs took ${T_RUNS}s._"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

echo
echo "== rules benchmark: wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds =="
printf '%-20s %10s %9s %9s %10s %s\n' proxyd "req/s" "p99 ms" "us/req" errors "rounds req/s"
for cfg in none both; do
	printf '%-20s %10s %9s %9s %10s %s\n' "$cfg" "${MED_RPS[$cfg]}" "${MED_P99[$cfg]}" "${MED_CPU[$cfg]}" \
		"$(vals ERR "$cfg" | tr ' ' '/')" "$(slash $(vals RPS "$cfg"))"
done
echo "ratio with/without: $RATIO (per round $(slash "${PAIR[@]}"))"
echo "start (exec -> accept), both: ${ACCEPT_S[rest-both]} s; proxyd -t: ${T_SECS[both]} s"
echo "1M-name list: master RSS +$(mib "$HOSTS_MRSS_KB") MiB; worker Private_Dirty both ${MEM_WPD[rest-both]} vs none ${MEM_WPD[rest-none]} MiB"
echo "spot check: $( ((SPOT_OK)) && echo ok || echo FAILED)"
echo "rules_bench: wrote $RESULTS"
((SPOT_OK)) || exit 1
