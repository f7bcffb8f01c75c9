#!/usr/bin/env bash
# Benchmark: the same Postfix policy request stream (RCPT stage, 2,000 SASL
# logins) sent over loopback to saslguard policy and to postfwd, each with
# one equivalent rule (30 messages per login per minute, then
# DEFER_IF_PERMIT), at 1, 16 and 256 concurrent connections. Prints
# requests/s, p50/p99 latency and RSS side by side.
#
#   bench/policy/run.sh                 # 5 s per run
#   DUR=2s CONNS="16" bench/policy/run.sh
#   REDIS=1 bench/policy/run.sh         # add saslguard with a real redis-server
#
# Needs: go, postfwd (Debian package; postfwd1 is used: postfwd2's cache
# daemon is required for rate() and is not started by this script), curl.
# Runs only on 127.0.0.1. Not a test: numbers depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

DUR=${DUR:-5s}
CONNS=${CONNS:-"1 16 256"}
LOGINS=${LOGINS:-2000}
SG_PORT=${SG_PORT:-10140}
PF_PORT=${PF_PORT:-10145}
METRICS_PORT=${METRICS_PORT:-9540}
POSTFWD=${POSTFWD:-/usr/sbin/postfwd1}
PF_USER=${PF_USER:-postfw}
REDIS=${REDIS:-0}
# Paced runs: the same connections offered a fixed total rate, for latency
# below saturation ("" to skip).
PACED=${PACED:-"16@2000"}
SGR_PORT=${SGR_PORT:-10141}
REDIS_PORT=${REDIS_PORT:-16390}

work=$(mktemp -d /tmp/saslguard-bench.XXXXXX)
chmod 755 "$work"
sg_pid="" pf_pid="" sgr_pid="" redis_pid=""
cleanup() {
	local p
	for p in "$sg_pid" "$pf_pid" "$sgr_pid" "$redis_pid"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	sleep 0.3
	rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "port $1 did not open" >&2
	return 1
}

# rss_kib PID: resident memory of PID and its children, in KiB.
rss_kib() {
	local total=0 p
	for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
		total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

# cpu_ticks PID: user+system CPU of PID and its children, in clock ticks.
cpu_ticks() {
	local total=0 p
	for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

echo "building..." >&2
go build -o "$work/saslguard" ./cmd/saslguard
go build -o "$work/loadgen" ./bench/policy/loadgen

# saslguard: only the rule postfwd also has.
{
	echo '[policy]'
	echo "listen = [\"tcp:127.0.0.1:$SG_PORT\"]"
	echo "state_dir = \"$work/state\""
	echo "metrics = \"127.0.0.1:$METRICS_PORT\""
	echo 'max_connections = 1000'
	for r in messages_per_hour messages_per_day recipients_per_minute recipients_per_hour recipients_per_day \
		client_ips_per_hour client_networks_per_hour sender_domains_per_hour foreign_senders_per_hour; do
		printf '[policy.rules.%s]\nlimit = 0\n' "$r"
	done
	printf '[policy.rules.messages_per_minute]\nlimit = 30\naction = "DEFER_IF_PERMIT"\n'
} >"$work/saslguard.toml"
"$work/saslguard" policy serve --config "$work/saslguard.toml" 2>"$work/saslguard.log" &
sg_pid=$!
services="saslguard postfwd"
if [ "$REDIS" = 1 ]; then
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
		--loglevel warning >"$work/redis.log" 2>&1 &
	redis_pid=$!
	wait_port "$REDIS_PORT"
	"$work/saslguard" policy serve --config "$work/saslguard.toml" --listen "tcp:127.0.0.1:$SGR_PORT" \
		--state-dir "$work/state-redis" --metrics "" --redis "127.0.0.1:$REDIS_PORT" 2>"$work/saslguard-redis.log" &
	sgr_pid=$!
	wait_port "$SGR_PORT"
	services="saslguard sg+redis postfwd"
fi

# postfwd: the same limit per sasl_username.
echo 'id=RATE_MSGS; sasl_username=~.; action=rate(sasl_username/30/60/DEFER_IF_PERMIT 4.7.1 Sending limit reached, try again later)' >"$work/postfwd.cf"
mkdir -p "$work/pf" && chown "$PF_USER" "$work/pf"
"$POSTFWD" -d -f "$work/postfwd.cf" -i 127.0.0.1 -p "$PF_PORT" -u "$PF_USER" -g "$PF_USER" \
	--pidfile "$work/pf/postfwd.pid" --nodns --perfmon
wait_port "$SG_PORT"
wait_port "$PF_PORT"
for _ in $(seq 50); do [ -s "$work/pf/postfwd.pid" ] && break; sleep 0.1; done
pf_pid=$(cat "$work/pf/postfwd.pid")

echo "saslguard $(git rev-parse --short HEAD 2>/dev/null || echo '?') vs $("$POSTFWD" -V 2>/dev/null | head -1 | tr -d '\n'); $(nproc) CPUs; $DUR per run; $LOGINS logins; loopback; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-11s %-10s %10s %9s %9s %10s %9s %7s %7s %9s %9s\n' conns service 'req/s' 'p50(µs)' 'p99(µs)' 'CPU µs/req' 'RSS(MiB)' served errors DUNNO DEFER
for run in $CONNS $PACED; do
	c=${run%@*} rate=0
	[ "$run" != "$c" ] && rate=${run#*@}
	label=$c
	[ "$rate" != 0 ] && label="$c@${rate}/s"
	for svc in $services; do
		case $svc in
		saslguard) port=$SG_PORT pid=$sg_pid ;;
		sg+redis) port=$SGR_PORT pid=$sgr_pid ;;
		postfwd) port=$PF_PORT pid=$pf_pid ;;
		esac
		t0=$(cpu_ticks "$pid")
		if [ "$svc" = sg+redis ]; then t0=$((t0 + $(cpu_ticks "$redis_pid"))); fi
		read -r rps p50 p99 served errs dunno deferred nreq < <("$work/loadgen" -addr "127.0.0.1:$port" -conns "$c" \
			-duration "$DUR" -logins "$LOGINS" -rate "$rate" -fields 2>>"$work/loadgen.err" || true)
		t1=$(cpu_ticks "$pid")
		rss=$(rss_kib "$pid")
		if [ "$svc" = sg+redis ]; then # with redis-server
			rss=$((rss + $(rss_kib "$redis_pid")))
			t1=$((t1 + $(cpu_ticks "$redis_pid")))
		fi
		cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="${nreq:-0}" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
		printf '%-11s %-10s %10s %9s %9s %10s %9.1f %7s %7s %9s %9s\n' "$label" "$svc" "$rps" "$p50" "$p99" "$cpu" \
			"$(echo "$rss" | awk '{print $1/1024}')" "$served/$c" "$errs" "$dunno" "$deferred"
	done
done
tracked=$(curl -s "127.0.0.1:$METRICS_PORT/metrics" | awk '/^saslguard_policy_tracked_logins / {print $2}')
echo "saslguard logins with counters in memory at the end: ${tracked:-?}"
if [ -s "$work/loadgen.err" ]; then echo "loadgen errors:" >&2; sort "$work/loadgen.err" | uniq -c >&2; fi
