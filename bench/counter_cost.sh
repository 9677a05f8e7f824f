#!/usr/bin/env bash
# What the shared-memory counters cost on the hot path, in instructions:
# the same N keep-alive requests through a one-worker proxyd built with and
# without counters (-DPROXYD_NO_STATS), each worker run under callgrind,
# which counts instructions exactly (repeatable, whatever else the machine
# does).  Prints both totals and the difference as a share.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${COST_REQUESTS:-2000}
work=$(mktemp -d /tmp/proxyd-cost.XXXXXX)
chmod 1777 "$work"	# workers drop to an unprivileged user and write here
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

make -s all build/tests/origin >/dev/null
make -s BUILD=build/cost-off EXTRA_CFLAGS=-DPROXYD_NO_STATS \
	build/cost-off/proxyd >/dev/null

build/tests/origin -p "$work/origin.port" &
for i in $(seq 50); do [ -s "$work/origin.port" ] && break; sleep 0.1; done
oport=$(cat "$work/origin.port")

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run BIN NAME: prints the worker's instruction count for N requests
run() {
	local bin=$1 name=$2 port
	port=$(free_port)
	cat >"$work/$name.ini" <<INI
[proxyd]
workers = 1
pid_file = $work/$name.pid
shm_file = $work/$name.shm
error_log = stderr
access_log = off
log_level = warn
[listen main]
address = 127.0.0.1:$port
allow_loopback = on
INI
	valgrind --tool=callgrind --vgdb=no \
		--callgrind-out-file="$work/$name.%p.out" \
		"$bin" -f -c "$work/$name.ini" 2>"$work/$name.err" &
	local vg=$!
	for i in $(seq 100); do
		python3 - "$port" <<'PY' 2>/dev/null && break || sleep 0.2
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
PY
	done
	python3 - "$port" "$oport" "$N" <<'PY'
import socket, sys
port, oport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), 10)
req = ("GET http://127.0.0.1:%d/size/1024 HTTP/1.1\r\nHost: x\r\n\r\n" % oport).encode()
buf = b""
for i in range(n):
    s.sendall(req)
    while True:
        h = buf.find(b"\r\n\r\n")
        if h >= 0 and len(buf) >= h + 4 + 1024:
            buf = buf[h + 4 + 1024:]
            break
        d = s.recv(65536)
        if not d:
            sys.exit("proxy closed the connection")
        buf += d
s.close()
PY
	kill -TERM "$vg"
	wait "$vg" || true
	# the worker's file is the one that is not the master's
	local f
	for f in "$work/$name".*.out; do
		[ "$f" = "$work/$name.$vg.out" ] && continue
		grep -m1 '^summary:' "$f" | awk '{print $2}'
	done
}

on=$(run build/proxyd on)
off=$(run build/cost-off/proxyd off)
echo "requests: $N (1 KiB responses, one keep-alive client, 1 worker)"
echo "worker instructions with counters:    $on"
echo "worker instructions without counters: $off"
awk -v a="$on" -v b="$off" -v n="$N" 'BEGIN {
	printf "counters cost: %.0f instructions per request, %.2f%% of the worker\n", (a - b) / n, 100 * (a - b) / a }'
