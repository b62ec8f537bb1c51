#!/usr/bin/env bash
# shardrss.sh: peak RSS and time of the shard phase alone. It starts
# `starter run --dev` (rules backend, embedded server) on CORPUS under
# GOMEMLIMIT=768MiB, samples the process's VmRSS every 0.2 s, and stops the
# job once the documents' index is written (sharding done). Prints one line:
# the binary, the corpus, the peak RSS in MiB and the seconds taken.
#
#   go run scripts/gencorpus.go -docs 1000000 -files 100 -out bench/corpus-1000000
#   scripts/shardrss.sh [BIN] bench/corpus-1000000      # BIN defaults to bin/starter
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/starter
[ $# -ge 2 ] && { bin=$1; shift; }
corpus=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOMEMLIMIT=${GOMEMLIMIT:-768MiB}
start=$(date +%s.%N)
"$bin" run --dev --dev-db "$work/t.db" --corpus "$corpus" --schema schemas/crossner-politics.yaml \
	--out "$work/out" --shard-size 1000 --window 8 --job scale >"$work/log" 2>&1 &
pid=$!
peak=0
done=
while kill -0 "$pid" 2>/dev/null; do
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
	[ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
	if compgen -G "$work/out/runs/*/documents/_index.json" >/dev/null; then
		done=1
		break
	fi
	sleep 0.2
done
end=$(date +%s.%N)
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [ -z "$done" ]; then
	echo "shardrss: the job ended before sharding was done; its log:" >&2
	tail -5 "$work/log" >&2
	exit 1
fi
awk -v b="$bin" -v c="$corpus" -v p="$peak" -v s="$start" -v e="$end" \
	'BEGIN { printf "%s %s: shard phase peak RSS %d MiB, %.1f s\n", b, c, p/1024, e-s }'
