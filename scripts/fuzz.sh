#!/usr/bin/env bash
# Runs native Go fuzz targets one after the other, each for FUZZTIME (default 30s).
#
#   scripts/fuzz.sh authserver:FuzzTokenRequest valuesapi/bearer:FuzzBearerHeader ...
#
# A target fails the run when go test fails, with one exception: Go 1.26's fuzz coordinator can report its own
# -fuzztime deadline as a failure, a bare "context deadline exceeded" with no failing input (golang/go#75804, fixed
# in Go 1.27). That exact shape - nothing written to testdata/fuzz, and that line as the only failure - is reported
# as the toolchain race and not counted. Any input that makes a target fail or hang is written to
# <pkg>/testdata/fuzz/<target>/ by go test, so a real finding always fails the run.
set -uo pipefail

GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-30s}"
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-5s}"

if [[ $# -eq 0 ]]; then
	echo "usage: $0 pkg:FuzzTarget [pkg:FuzzTarget ...]" >&2
	exit 2
fi

# corpus_listing prints the files go test has written for a target, one per line (nothing while the folder is absent).
corpus_listing() {
	find "$1" -type f 2>/dev/null | sort
}

# is_deadline_race says whether a failed run has exactly the shape of golang/go#75804: a duration -fuzztime, no new
# corpus file, and the target's only failure message being the coordinator's "context deadline exceeded".
is_deadline_race() {
	local name="$1" log="$2" before="$3" after="$4"
	[[ "$FUZZTIME" != *x ]] || return 1
	[[ "$before" == "$after" ]] || return 1
	# The failure block: the lines after "--- FAIL: <name>" up to the final FAIL line.
	local block
	block="$(awk -v name="$name" '
		$0 ~ "^--- FAIL: " name " " { inblock = 1; next }
		inblock && /^(FAIL|exit status)/ { exit }
		inblock { print }
	' "$log")"
	[[ "$block" == "    context deadline exceeded" ]]
}

log="$(mktemp -t fuzz.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

for target in "$@"; do
	pkg="${target%%:*}"
	name="${target##*:}"
	corpus="$pkg/testdata/fuzz/$name"
	echo "== $name in ./$pkg for $FUZZTIME"
	before="$(corpus_listing "$corpus")"
	"$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZETIME" "./$pkg" 2>&1 | tee "$log"
	status="${PIPESTATUS[0]}"
	[[ "$status" -eq 0 ]] && continue
	after="$(corpus_listing "$corpus")"
	if is_deadline_race "$name" "$log" "$before" "$after"; then
		echo "== $name: no failing input; go test reported its own -fuzztime deadline (golang/go#75804), not counted"
		continue
	fi
	if [[ "$before" != "$after" ]]; then
		echo "== $name: failing input written to $corpus/:"
		comm -13 <(echo "$before") <(echo "$after")
	fi
	exit "$status"
done
