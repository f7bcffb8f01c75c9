#!/usr/bin/env bash
# shellcheck disable=SC2016 # back quotes in single-quoted strings are Markdown
# bench/detect.sh: recall and precision of `saslguard scan` per style on the
# labelled grid of internal/gridgen (an independent log generator).
#
#   bench/detect.sh                 # both sets: tuning, then holdout
#   SETS=tuning bench/detect.sh     # one set
#   JOBS=1 bench/detect.sh          # scans one at a time (default 2)
#
# Tune the detector on the "tuning" set only; "holdout" is there to see
# whether a change generalises (bench/README.md, "bench/detect.sh").
# Each case is generated, scanned with `saslguard scan --format json`, and
# its log deleted; the truth and the JSON stay in bench/out/detect/SET/.
# The tables go to standard output and bench/out/detect/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SETS=${SETS:-tuning holdout}
JOBS=${JOBS:-2}
OUT=bench/out/detect
mkdir -p "$OUT"

echo "building saslguard and saslguard-grid" >&2
go build -o "$OUT/saslguard" ./cmd/saslguard
go build -o "$OUT/saslguard-grid" ./cmd/saslguard-grid

# one_case DIR ID: generate, scan, delete the log. scan exits 1 when it
# found a compromised login: that is a result, not an error.
one_case() {
	local dir=$1 id=$2 rc=0
	"$OUT/saslguard-grid" gen -o "$dir" "$id"
	"$OUT/saslguard" scan --format json --no-progress --year 2026 --tz UTC "$dir/$id.log" >"$dir/$id.json" 2>"$dir/$id.err" || rc=$?
	if ((rc > 1)); then
		echo "scan of $id failed (exit $rc):" >&2
		cat "$dir/$id.err" >&2
		return 1
	fi
	rm -f "$dir/$id.log" "$dir/$id.err"
}
export -f one_case
export OUT

: >"$OUT/results.md"
for set in $SETS; do
	dir="$OUT/$set"
	rm -rf "$dir"
	mkdir -p "$dir"
	n=$("$OUT/saslguard-grid" list "$set" | wc -l)
	echo "$set: $n cases" >&2
	start=$(date +%s)
	"$OUT/saslguard-grid" list "$set" | xargs -P "$JOBS" -I{} bash -c 'one_case "$0" "$1"' "$dir" {}
	echo "$set: done in $(($(date +%s) - start)) s" >&2
	{
		echo "Run on $(date -u '+%Y-%m-%d %H:%M UTC'), saslguard at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet -- internal cmd 2>/dev/null || echo ' (code modified)') (detector last changed in $(git log -1 --format=%h -- internal/detect internal/correlate 2>/dev/null || echo unknown)), \`bench/detect.sh\`."
		echo
		"$OUT/saslguard-grid" score -dir "$dir" "$set"
		echo
	} | tee -a "$OUT/results.md"
done
