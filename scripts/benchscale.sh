#!/usr/bin/env bash
# benchscale.sh: the local job at scale against its own backend. For each
# size in SIZES (documents; default 100000 and 1000000), it generates a
# corpus once (bench/corpus-SIZE, about 1 KB per document, 10 files per
# 100,000 documents and at least 10), annotates it from scratch with
# `starter run --dev` (rules backend, embedded server, in-process worker),
# and measures the rules backend alone over the corpus's first 20,000
# documents on as many goroutines as cores, in memory (scripts/backendspeed).
# It prints one summary line per size: wall time, MB/s, peak RSS, the
# corpus's sentences, the job's sentences/s (whole run, and the annotate
# phase alone), the backend's sentences/s and the ratio of the two. On a
# shared machine wall times are noisy; the line ends with the same ratio
# from CPU time (each side's sentences per CPU-second): what it would be
# on idle cores if the job kept them all busy, so an upper bound.
#
#   make build && scripts/benchscale.sh          # or: make bench-scale
#   SIZES=100000 scripts/benchscale.sh           # one size
#   GOMEMLIMIT=off scripts/benchscale.sh         # without the soft memory limit
set -euo pipefail
cd "$(dirname "$0")/.."
# The job runs under Go's soft memory limit, as docs/DEPLOY.md advises for
# a worker: the collector runs before garbage grows past it.
export GOMEMLIMIT=${GOMEMLIMIT:-768MiB}
SIZES=${SIZES:-100000 1000000}
SHARD=${SHARD:-1000}
WINDOW=${WINDOW:-8}
dir=bench
mkdir -p "$dir"
go build -o "$dir/backendspeed" ./scripts/backendspeed
for docs in $SIZES; do
	corpus=$dir/corpus-$docs
	if [ ! -d "$corpus" ]; then
		files=$((docs / 10000 > 10 ? docs / 10000 : 10))
		go run scripts/gencorpus.go -docs "$docs" -files "$files" -out "$corpus" >&2
	fi
	out=$dir/scale-out-$docs
	rm -rf "$out" "$dir/scale-temporal.db"*
	bytes=$(cat "$corpus"/*.jsonl | wc -c)
	start=$(date +%s.%N)
	/usr/bin/time -f '%M %U %S' -o "$dir/scale-$docs.rss" bin/starter run --dev --dev-db "$dir/scale-temporal.db" \
		--corpus "$corpus" --schema schemas/crossner-politics.yaml --out "$out" \
		--shard-size "$SHARD" --window "$WINDOW" --job scale >"$dir/scale-$docs.log" 2>&1
	end=$(date +%s.%N)
	runjson=$(ls "$out"/runs/*/run.json)
	# The backend alone, right after the job, on the same machine.
	eval "$(env -u GOMEMLIMIT "$dir/backendspeed" -corpus "$corpus" -run "$runjson" -workers "$(nproc)")"
	read -r rss user sys <"$dir/scale-$docs.rss"
	awk -v s="$start" -v e="$end" -v d="$docs" -v b="$bytes" -v r="$rss" -v u="$user" -v y="$sys" \
		-v n="$sentences" -v a="$annotate_s" -v sps="$backend_sps" -v csps="$backend_cpu_sps" -v c="$(nproc)" 'BEGIN {
		t = e - s; cpu = u + y
		printf "%d documents, %.0f MB: wall %.1f s, %.2f MB/s, peak RSS %d MiB, %d sentences, job %.0f sentences/s (annotate phase %.1f s: %.0f sentences/s), backend on %d cores %.0f sentences/s, ratio %.2f (annotate phase %.2f); by CPU time: job %.0f s, ratio %.2f\n",
			d, b/1e6, t, b/1e6/t, r/1024, n, n/t, a, n/a, c, sps, n/t/sps, n/a/sps, cpu, n/cpu*c/csps
	}'
done
