#!/usr/bin/env bash
# shellcheck disable=SC2016 # back quotes in single-quoted strings are Markdown
# bench/scan.sh: throughput (MB/s) and peak RSS of `saslguard scan` next to
# the tools an administrator would otherwise use, on generated logs.
#
#   bench/scan.sh            # 256 MiB and 1 GiB logs, seed 1
#   SEED=2 bench/scan.sh
#   SMALL=64MiB BIG=256MiB RUNS=1 bench/scan.sh   # quicker
#
# Logs are generated once per seed and size with saslguard-genlog and kept in
# bench/out/ (gitignored). All runs read from the page cache (each file is
# read once before it is measured). Peak RSS is GNU time's %M: the largest
# single process of the command (for a pipeline, its biggest member).
# Each command runs RUNS times (default 3), in rounds that run every command
# once; the fastest wall time is reported, with its CPU time, and the ratios
# also as the median over rounds (runs made under the same conditions).
# pflogsumm (Perl) is slow, so it runs on the first PFLOG_SMALL / PFLOG_BIG of
# each log; its MB/s is for that slice.
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=${SEED:-1}
SMALL=${SMALL:-256MiB}
BIG=${BIG:-1GiB}
PFLOG_SMALL=${PFLOG_SMALL:-32MiB}
PFLOG_BIG=${PFLOG_BIG:-128MiB}
RUNS=${RUNS:-3} # each command runs RUNS times; the fastest run is reported
OUT=bench/out
mkdir -p "$OUT"

if [[ ! -x /usr/bin/time ]]; then
	echo "installing GNU time" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y time >&2
fi
if ! command -v pflogsumm >/dev/null; then
	echo "installing pflogsumm" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y pflogsumm >&2 || true
fi

bytes_of() { # "256MiB" -> bytes
	local s=$1
	case $s in
	*GiB) echo $((${s%GiB} << 30)) ;;
	*MiB) echo $((${s%MiB} << 20)) ;;
	*KiB) echo $((${s%KiB} << 10)) ;;
	*) echo "$s" ;;
	esac
}

echo "building saslguard-genlog" >&2
go build -o "$OUT/saslguard-genlog" ./cmd/saslguard-genlog

# The cache key includes a hash of the generator binary: a changed generator
# makes new logs.
GENV=$(sha256sum "$OUT/saslguard-genlog" | cut -c1-8)

# gen SIZE: path of the cached log for SEED and SIZE.
gen() {
	local size=$1 f="$OUT/mail-seed$SEED-$1-$GENV.log"
	if [[ ! -s $f || ! -s $f.truth.json ]]; then
		# Drop logs of older generator versions.
		find "$OUT" -maxdepth 1 -name "mail-seed$SEED-$size*" ! -name "mail-seed$SEED-$size-$GENV.log*" -exec rm -rf {} +
		echo "generating $f" >&2
		local start
		start=$(date +%s.%N)
		"$OUT/saslguard-genlog" -size "$size" -seed "$SEED" -o "$f.tmp" -truth "$f.truth.json"
		mv "$f.tmp" "$f"
		echo "generated $(stat -c %s "$f") bytes in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s" >&2
	fi
	echo "$f"
}

# slice FILE SIZE: the first SIZE bytes of FILE, cut at a line end.
slice() {
	local f=$1 size=$2 s="$1.head-$2"
	if [[ ! -s $s ]]; then
		head -c "$(bytes_of "$size")" "$f" | sed '$d' >"$s"
	fi
	echo "$s"
}

# rotated FILE: a logrotate-style set made from FILE (oldest first:
# mail.log.4.gz mail.log.3.gz mail.log.2.gz mail.log.1 mail.log).
rotated() {
	local f=$1 d="$1.rotated"
	if [[ ! -s $d/mail.log ]]; then
		echo "making rotated set $d" >&2
		rm -rf "$d" && mkdir -p "$d"
		split -n l/5 -d "$f" "$d/part."
		mv "$d/part.00" "$d/mail.log.4" && mv "$d/part.01" "$d/mail.log.3" && mv "$d/part.02" "$d/mail.log.2"
		mv "$d/part.03" "$d/mail.log.1" && mv "$d/part.04" "$d/mail.log"
		gzip -6 "$d/mail.log.4" & gzip -6 "$d/mail.log.3" & gzip -6 "$d/mail.log.2" & wait
	fi
	echo "$d"
}

SMALL_LOG=$(gen "$SMALL")
BIG_LOG=$(gen "$BIG")
ROT=$(rotated "$SMALL_LOG")
ROT_FILES=("$ROT/mail.log.4.gz" "$ROT/mail.log.3.gz" "$ROT/mail.log.2.gz" "$ROT/mail.log.1" "$ROT/mail.log")
ROT_ARGS=$(printf '%q ' "${ROT_FILES[@]}")
PF_SMALL=$(slice "$SMALL_LOG" "$PFLOG_SMALL")
PF_BIG=$(slice "$BIG_LOG" "$PFLOG_BIG")

SCAN=""
echo "building saslguard" >&2
if go build -o "$OUT/saslguard" ./cmd/saslguard 2>"$OUT/saslguard-build.err" &&
	"$OUT/saslguard" scan --help >/dev/null 2>&1; then
	SCAN="$OUT/saslguard scan --format json"
	SCAN_HELP=$("$OUT/saslguard" scan --help 2>&1)
	# The generated logs start on 2026-03-01 and carry UTC stamps.
	for opt in "--no-progress" "--year 2026" "--tz UTC"; do
		if grep -q -- "${opt%% *}" <<<"$SCAN_HELP"; then
			SCAN="$SCAN $opt"
		fi
	done
else
	echo "saslguard scan is not available (build log: $OUT/saslguard-build.err): n/a" >&2
fi

# Each command runs RUNS times, in rounds: every round runs every command
# once, so that a slow spell of a shared machine touches all of them rather
# than all the runs of one. The fastest run of each is reported (RSS: the
# largest seen), and for the ratios also the median of the ratios within a
# round, which pairs runs made under the same conditions.
#
# once KEY BYTES COMMAND: one run; appends "wall maxrss user sys" (or
# "fail rc") to $OUT/runs.KEY. Exit status 0 and 1 both count as success
# (scan exits 1 when it found compromised logins).
once() {
	local key=$1 cmd=$3 tf="$OUT/time.out" rc=0
	# Not >/dev/null: GNU grep stops at the first match when its output
	# is /dev/null, which would make `grep -c` look infinitely fast.
	/usr/bin/time -f '%e %M %U %S' -o "$tf" bash -c "$cmd" >"$OUT/last.out" 2>"$OUT/last.err" || rc=$?
	if ((rc > 1)); then
		echo "fail $rc" >>"$OUT/runs.$key"
	else
		tail -1 "$tf" >>"$OUT/runs.$key"
	fi
}

# best KEY BYTES: "wall s (cpu s) | MB/s | RSS" of the fastest run, or
# "fail(rc=N)".
best() {
	local f="$OUT/runs.$1"
	if grep -q '^fail' "$f"; then
		echo "fail(rc=$(awk '/^fail/ {print $2; exit}' "$f"))"
		return
	fi
	awk -v b="$2" 'NF == 4 {
		if (!n++ || $1 < e) { e = $1; u = $3; s = $4 }
		if ($2 > m) m = $2
	} END {
		w = e; if (w < 0.01) w = 0.01
		printf "%.2f s (cpu %.2f s) | %.0f MB/s | %.0f MiB", e, u + s, b / 1e6 / w, m / 1024
	}' "$f"
}

# paired KEY_A BYTES_A KEY_B BYTES_B: the median over rounds of A's MB/s
# over B's MB/s in the same round.
paired() {
	paste -d' ' "$OUT/runs.$1" "$OUT/runs.$3" | awk -v ba="$2" -v bb="$4" '
		NF == 8 && $1 > 0 && $5 > 0 { r[n++] = (ba / $1) / (bb / $5) }
		END {
			if (!n) { print "n/a"; exit }
			for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
			m = (n % 2) ? r[(n - 1) / 2] : (r[n / 2 - 1] + r[n / 2]) / 2
			printf "%.2fx", m
		}'
}

size_of() { stat -c %s "$@" | awk '{s += $1} END {print s}'; }

SB=$(size_of "$SMALL_LOG")
BB=$(size_of "$BIG_LOG")
PSB=$(size_of "$PF_SMALL")
PBB=$(size_of "$PF_BIG")
RB=$(size_of "${ROT_FILES[@]}")
RBU=$SB # uncompressed bytes of the rotated set

# Warm the page cache.
cat "$SMALL_LOG" "$BIG_LOG" "${ROT_FILES[@]}" "$PF_SMALL" "$PF_BIG" >/dev/null

declare -A R BYTES CMD
KEYS=()
job() { # key bytes command
	KEYS+=("$1")
	BYTES[$1]=$2
	CMD[$1]=$3
}

pipeline() { printf "grep -o 'sasl_username=[^ ,]*' %q | sort | uniq -c | sort -rn" "$1"; }
for sz in small big; do
	if [[ $sz == small ]]; then f=$SMALL_LOG b=$SB pf=$PF_SMALL pb=$PSB; else f=$BIG_LOG b=$BB pf=$PF_BIG pb=$PBB; fi
	job "cat.$sz" "$b" "cat '$f' >/dev/null"
	job "grepc.$sz" "$b" "grep -c sasl_username '$f'"
	job "pipeutf.$sz" "$b" "export LC_ALL=C.UTF-8; $(pipeline "$f")"
	job "pipec.$sz" "$b" "export LC_ALL=C; $(pipeline "$f")"
	if command -v pflogsumm >/dev/null; then
		job "pflog.$sz" "$pb" "pflogsumm '$pf'"
	else
		R[pflog.$sz]="n/a"
	fi
	if [[ -n $SCAN ]]; then
		job "scan.$sz" "$b" "$SCAN '$f'"
	else
		R[scan.$sz]="n/a"
	fi
done
job "zcat.rot" "$RBU" "zcat -f $ROT_ARGS >/dev/null"
if [[ -n $SCAN ]]; then
	job "scan.rot" "$RBU" "$SCAN $ROT_ARGS"
else
	R[scan.rot]="n/a"
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for k in "${KEYS[@]}"; do rm -f "$OUT/runs.$k"; done
for ((round = 1; round <= RUNS; round++)); do
	echo "round $round of $RUNS" >&2
	for k in "${KEYS[@]}"; do
		once "$k" "${BYTES[$k]}" "${CMD[$k]}"
	done
done
for k in "${KEYS[@]}"; do
	R[$k]=$(best "$k" "${BYTES[$k]}")
done

mbps() { echo "$1" | awk -F'|' '{gsub(/[^0-9.]/, "", $2); print $2}'; }
ratio() { # a b -> a/b or n/a
	local a b
	a=$(mbps "$1")
	b=$(mbps "$2")
	if [[ -z $a || -z $b ]]; then echo "n/a"; else awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2fx", a / b }'; fi
}

scaled() { # result bytes -> estimated seconds for bytes at the result's MB/s
	local r
	r=$(mbps "$1")
	if [[ -z $r ]]; then echo "n/a"; else awk -v r="$r" -v b="$2" 'BEGIN { if (r == 0) print "n/a"; else printf "~%.0f s", b / 1e6 / r }'; fi
}

mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }

# targets: the scan issue's targets, judged on this run (the big log's
# median-of-rounds ratios; peak RSS as the largest of the runs).
targets() {
	local speed pf rs rb
	speed=$(paired scan.big "$BB" pipeutf.big "$BB")
	pf=$(paired scan.big "$BB" pflog.big "$PBB")
	rs=$(awk 'NF == 4 && $2 > m { m = $2 } END { print m / 1024 }' "$OUT/runs.scan.small" 2>/dev/null)
	rb=$(awk 'NF == 4 && $2 > m { m = $2 } END { print m / 1024 }' "$OUT/runs.scan.big" 2>/dev/null)
	verdict() { # value op limit
		awk -v v="${1%x}" -v l="$3" -v op="$2" 'BEGIN {
			if (v == "" || v == "n/a") { print "n/a"; exit }
			ok = (op == ">=") ? v + 0 >= l : v + 0 <= l
			print ok ? "met" : "NOT met"
		}'
	}
	echo "| target (scan issue), on this run | value | |"
	echo "|---|---:|---|"
	echo "| at least as fast as the C.UTF-8 pipeline on $BIG (median of rounds) | $speed | $(verdict "$speed" ">=" 1) |"
	echo "| at least 20x pflogsumm on $BIG (median of rounds) | $pf | $(verdict "$pf" ">=" 20) |"
	echo "| peak RSS under 200 MB ($SMALL / $BIG) | $(printf '%.0f / %.0f' "$rs" "$rb") MiB | $(verdict "$(awk -v a="$rs" -v b="$rb" 'BEGIN { print (a > b ? a : b) * 1048576 / 1e6 }')" "<=" 200) |"
	echo "| peak RSS flat from $SMALL to $BIG (within 10%) | $(awk -v a="$rs" -v b="$rb" 'BEGIN { if (a > 0) printf "%+.0f%%", (b / a - 1) * 100; else print "n/a" }') | $(verdict "$(awk -v a="$rs" -v b="$rb" 'BEGIN { if (a > 0) print b / a; else print "n/a" }')" "<=" 1.10) |"
	echo "| aim: peak RSS 64 MB ($BIG) | $(printf '%.0f' "$rb") MiB | $(verdict "$(awk -v b="$rb" 'BEGIN { print b * 1048576 / 1e6 }')" "<=" 64) |"
}

{
	echo "Seed $SEED; logs: $(mib "$SB") ($SMALL_LOG), $(mib "$BB") ($BIG_LOG); rotated set: 5 files, $(mib "$RB") on disk ($(mib "$RBU") uncompressed, 3 gzip -6)."
	echo "Host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; $(uname -sr); page cache warm;"
	echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg). $RUNS rounds, each running every command once; best run shown; time is wall (cpu = user + sys)."
	echo
	echo "| command | $SMALL: time | MB/s | peak RSS | $BIG: time | MB/s | peak RSS |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	row() { echo "| $1 | ${R[$2.small]} | ${R[$2.big]} |"; }
	row '`cat >/dev/null`' cat
	row '`grep -c sasl_username`' grepc
	row '`grep -o ... \| sort \| uniq -c \| sort -rn`, LC_ALL=C.UTF-8' pipeutf
	row '`grep -o ... \| sort \| uniq -c \| sort -rn`, LC_ALL=C' pipec
	echo "| \`pflogsumm\` (first $PFLOG_SMALL / first $PFLOG_BIG) | ${R[pflog.small]} | ${R[pflog.big]} |"
	row '`saslguard scan --format json`' scan
	echo
	echo "pflogsumm ran on slices; at the same MB/s the whole logs would take $(scaled "${R[pflog.small]}" "$SB") and $(scaled "${R[pflog.big]}" "$BB")."
	echo
	echo "Rotated set (mail.log.4.gz .. mail.log, $(mib "$RBU") of log text):"
	echo
	echo "| command | time | MB/s (uncompressed) | peak RSS |"
	echo "|---|---:|---:|---:|"
	echo "| \`zcat -f\` | ${R[zcat.rot]} |"
	echo "| \`saslguard scan --format json\` | ${R[scan.rot]} |"
	echo
	echo "| ratio (MB/s) | $SMALL | $BIG |"
	echo "|---|---:|---:|"
	echo "| scan / C.UTF-8 grep pipeline, best runs | $(ratio "${R[scan.small]}" "${R[pipeutf.small]}") | $(ratio "${R[scan.big]}" "${R[pipeutf.big]}") |"
	echo "| scan / C.UTF-8 grep pipeline, median of rounds | $(paired scan.small "$SB" pipeutf.small "$SB") | $(paired scan.big "$BB" pipeutf.big "$BB") |"
	echo "| scan / pflogsumm, best runs | $(ratio "${R[scan.small]}" "${R[pflog.small]}") | $(ratio "${R[scan.big]}" "${R[pflog.big]}") |"
	echo "| scan / pflogsumm, median of rounds | $(paired scan.small "$SB" pflog.small "$PSB") | $(paired scan.big "$BB" pflog.big "$PBB") |"
	echo
	targets
} | tee "$OUT/results.md"
