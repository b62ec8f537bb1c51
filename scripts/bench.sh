#!/usr/bin/env bash
# The local job's throughput: generate a corpus of $DOCS documents (once), then
# annotate it from scratch with `starter run --dev` (embedded server, in-process
# worker, rules backend) and report documents/s, MB/s and peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS=${DOCS:-100000}
SHARD=${SHARD:-1000}
WINDOW=${WINDOW:-8}
dir=bench
corpus=$dir/corpus-$DOCS
if [ ! -d "$corpus" ]; then
  go run scripts/gencorpus.go -docs "$DOCS" -files 10 -out "$corpus"
fi
rm -rf "$dir/out" "$dir/temporal.db"*
bytes=$(cat "$corpus"/*.jsonl | wc -c)
start=$(date +%s.%N)
bin/starter run --dev --dev-db "$dir/temporal.db" --corpus "$corpus" \
  --schema schemas/crossner-politics.yaml --out "$dir/out" \
  --shard-size "$SHARD" --window "$WINDOW" --job bench | tee "$dir/run.log"
end=$(date +%s.%N)
rss=$(grep -o 'peak RSS *[0-9]*' "$dir/run.log" | grep -o '[0-9]*$')
awk -v s="$start" -v e="$end" -v d="$DOCS" -v b="$bytes" -v r="$rss" -v c="$(nproc)" 'BEGIN {
  t = e - s
  printf "\nlocal job: %d documents, %.1f MB in %.1f s: %.0f documents/s, %.2f MB/s, peak RSS %s MiB (%d cores)\n", d, b/1e6, t, d/t, b/1e6/t, r, c
}'

# The distill job on the same corpus: one shard in ten annotated by the
# backend (the rules backend here), the rest tagged by the estimated SAE-NER
# map at CPU speed.
rm -rf "$dir/dout" "$dir/dtemporal.db"*
start=$(date +%s.%N)
bin/starter distill --dev --dev-db "$dir/dtemporal.db" --corpus "$corpus" \
  --schema schemas/crossner-politics.yaml --out "$dir/dout" \
  --shard-size "$SHARD" --window "$WINDOW" --job bench --sample 0.1 | tee "$dir/distill.log"
end=$(date +%s.%N)
rss=$(grep -o 'peak RSS *[0-9]*' "$dir/distill.log" | grep -o '[0-9]*$')
awk -v s="$start" -v e="$end" -v d="$DOCS" -v b="$bytes" -v r="$rss" -v c="$(nproc)" 'BEGIN {
  t = e - s
  printf "\ndistill job: %d documents, %.1f MB in %.1f s: %.0f documents/s, %.2f MB/s, peak RSS %s MiB (%d cores)\n", d, b/1e6, t, d/t, b/1e6/t, r, c
}'

# NER Retriever: index the mentions of one corpus file (a tenth of the
# corpus) with the local encoder and the projection head, then search it.
rm -rf "$dir/iout" "$dir/itemporal.db"*
part=$(ls "$corpus"/*.jsonl | head -1)
bin/starter run --dev --dev-db "$dir/itemporal.db" --corpus "$part" \
  --schema schemas/crossner-politics.yaml --out "$dir/iout" \
  --shard-size "$SHARD" --window "$WINDOW" --job ibench > "$dir/irun.log"
run=$(ls "$dir/iout/runs" | head -1)
/usr/bin/time -f 'index: %e s wall, peak RSS %M KiB' \
  bin/starter index --dev --dev-db "$dir/itemporal.db" --runs "$dir/iout" --approx-min 100000 "$run" 2>&1 | tee "$dir/index.log"
for mode in --exact ""; do
  /usr/bin/time -f "search ${mode:-(approximate)}: %e s wall (opening the index included), peak RSS %M KiB" \
    bin/starter search --runs "$dir/iout" --run "$run" $mode -k 10 "political party" "a city" > /dev/null
done
