#!/usr/bin/env bash
# chaos.sh: the crash matrix. kill -9 `starter run --dev` (the embedded
# Temporal server and the worker are in that one process) at many points of a
# job, run the same command again each time, and check that the job's final
# mentions table is byte for byte that of an uninterrupted run; with the LLM
# backend against bin/llmsim, also that the model was not paid twice for
# answers received before a kill. Exits non-zero on any mismatch.
#
#   make chaos                  # or: scripts/chaos.sh
#   SEED=42 scripts/chaos.sh    # replay the random kill delays of a run
#
# Settings (environment): SEED, DOCS (rules corpus size, 6000), RANDOM_KILLS
# (15), MIN_KILLS (fail if fewer kills landed mid-job, 20), DATA (data), WORK (a new temporary folder, kept on
# failure), KEEP=1 keeps it on success too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SEED=${SEED:-$(date +%s)}
DOCS=${DOCS:-6000}
RANDOM_KILLS=${RANDOM_KILLS:-15}
MIN_KILLS=${MIN_KILLS:-20}
DATA=$(cd "${DATA:-${ZERONER_DATA:-data}}" && pwd)
WORK=${WORK:-$(mktemp -d /tmp/zeroner-chaos.XXXXXX)}
SCHEMA=$ROOT/schemas/crossner-politics.yaml
LLM_CONCURRENCY=8
RANDOM=$SEED # bash's generator: the same seed gives the same delays

echo "chaos: seed $SEED, work folder $WORK"
mkdir -p "$WORK"

log() { printf '%s %s\n' "$(date +%T)" "$*"; }

# now prints the time in seconds with milliseconds.
now() { printf '%s' "${EPOCHREALTIME}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

count() { compgen -G "$1" | wc -l; }

# The job's outputs, as globs under an output folder.
glob_of() {
	local out=$1 point=$2
	case $point in
	documents) echo "$out/runs/*/documents/shard-*.parquet" ;;
	mentions) echo "$out/runs/*/mentions/part-*.parquet" ;;
	spill) echo "$out/runs/*/finalize/mention_entities/part-*.parquet" ;;
	links) echo "$out/runs/*/mention_entities/part-*.parquet" ;;
	*) echo "$out/runs/*/stages/$point/shard-*.parquet" ;;
	esac
}

# cycle DIR NAME POINT ARGS...: starts `starter run --dev ARGS` in DIR and
# kills it with -9 at POINT: "delay:SECONDS" after the start (after a kill,
# often while the server still waits for the dead worker's activities to
# time out), "busy:SECONDS" after the job makes progress again (a new
# calibrate shard), or a stage name (documents, discover, mediate,
# calibrate, mentions; spill: a part's spilled graph run; links: the
# mention_entities table) when a new output of that stage appears. Prints one
# table row. Returns 0 if it killed the process, 1 if the job finished (or
# failed) first.
cycle() {
	local dir=$1 name=$2 point=$3
	shift 3
	local out=$dir/out start pid pattern="" before=0 delay="" armed=""
	case $point in
	delay:*) delay=${point#delay:} ;;
	busy:*) delay=${point#busy:} pattern=$(glob_of "$out" calibrate) ;;
	*) pattern=$(glob_of "$out" "$point") ;;
	esac
	[[ -n $pattern ]] && before=$(count "$pattern")
	start=$(now)
	[[ $point == delay:* ]] && armed=$start
	(cd "$dir" && exec "$ROOT/bin/starter" run --dev --dev-db temporal.db "$@") >>"$dir/starter.log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [[ -z $armed ]] && (($(count "$pattern") > before)); then
			armed=$(now)
			[[ -z $delay ]] && break
		fi
		if [[ -n $armed ]] && awk -v a="$armed" -v b="$(now)" -v d="$delay" 'BEGIN { exit !(b - a >= d) }'; then
			break
		fi
		sleep 0.05
	done
	local at calib
	at=$(elapsed "$start")
	# With the LLM backend: requests asked and not yet answered just
	# before the kill, which the resumed job may ask again.
	if [[ -n ${STATS_URL:-} ]]; then
		stat_of "$STATS_URL" in_flight >>"$dir/inflight" || true
	fi
	calib=$(count "$(glob_of "$out" calibrate)")
	local rc=0
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	if ((rc == 137)); then
		printf '%-4s %-12s %-16s %8ss %8s  %s\n' "$name" "$(basename "$dir")" "$point" "$at" "$calib" "killed"
		return 0
	fi
	printf '%-4s %-12s %-16s %8ss %8s  %s\n' "$name" "$(basename "$dir")" "$point" "$at" "$calib" "exited $rc before the kill"
	return 1
}

# finish DIR ARGS...: runs the job to the end; prints how long it took.
finish() {
	local dir=$1 start
	shift
	start=$(now)
	if ! (cd "$dir" && exec timeout 600 "$ROOT/bin/starter" run --dev --dev-db temporal.db "$@") >>"$dir/starter.log" 2>&1; then
		echo "FAIL: the job in $dir did not finish; log: $dir/starter.log" >&2
		return 1
	fi
	echo "$(elapsed "$start")"
}

# same REF DIR: compares the mentions tables' part files; prints a verdict.
same() {
	local ref=$1 dir=$2 a b
	if [[ $(compgen -G "$dir/out/runs/*" | wc -l) -ne 1 ]]; then
		echo "MISMATCH: not one run under $dir/out/runs"
		return 1
	fi
	a=$(cd "$ref"/out/runs/* && md5sum mentions/part-*.parquet entities/*.parquet edges/*.parquet mention_entities/*.parquet)
	b=$(cd "$dir"/out/runs/* && md5sum mentions/part-*.parquet entities/*.parquet edges/*.parquet mention_entities/*.parquet)
	if [[ -z $a || $a != "$b" ]]; then
		echo "MISMATCH: mentions or graph tables of $dir differ from the reference"
		diff <(echo "$a") <(echo "$b") || true
		return 1
	fi
	echo "same mentions and graph tables as the reference ($(echo "$b" | wc -l) files, md5 equal)"
}

stat_of() { curl -sf "$1/stats" | grep -o "\"$2\":[0-9]*" | cut -d: -f2; }

log "building bin/starter and bin/llmsim"
go build -o bin/ ./cmd/starter ./cmd/llmsim

log "generating a corpus of $DOCS documents"
go run scripts/gencorpus.go -docs "$DOCS" -files 4 -out "$WORK/corpus" -data "$DATA/crossner" -seed 1 >/dev/null

RULES=(--job chaos --corpus "$WORK/corpus" --schema "$SCHEMA" --out out --backend rules --shard-size 25 --window 2)
mkdir -p "$WORK/ref" "$WORK/rules"
log "rules: uninterrupted reference run"
t=$(finish "$WORK/ref" "${RULES[@]}") || exit 1
log "rules: reference done in ${t}s"

# The LLM chain runs beside the rules chain: both spend most of their time
# waiting for the 20 s heartbeat timeout after a kill, not computing.
llm_chain() {
	local data=$DATA/crossner/politics/dev.txt url simpid
	RANDOM=$((SEED + 1)) # a subshell's generator is reseeded
	"$ROOT/bin/llmsim" -addr 127.0.0.1:0 -gold "$data" -schema "$SCHEMA" -ttft 100ms -seed 1 >"$WORK/llmsim.log" 2>&1 &
	simpid=$!
	trap 'kill "$simpid" 2>/dev/null || true' RETURN
	for _ in $(seq 100); do
		url=$(head -n1 "$WORK/llmsim.log" 2>/dev/null || true)
		[[ $url == http* ]] && break
		sleep 0.1
	done
	[[ $url == http* ]] || { echo "FAIL: llmsim did not start"; return 1; }
	local LLM=(--job chaos-llm --corpus "$data" --format bio --schema "$SCHEMA" --out out --shard-size 20 --window 2
		--llm-base-url "$url/v1" --llm-model llmsim --llm-concurrency "$LLM_CONCURRENCY")
	mkdir -p "$WORK/llm-ref" "$WORK/llm"
	local t0 full r0 inflight kills=0 i=0 p STATS_URL=$url
	t0=$(finish "$WORK/llm-ref" "${LLM[@]}") || return 1
	full=$(stat_of "$url" requests)
	echo "llm: reference done in ${t0}s, $full requests"
	r0=$full
	# A random delay, then kills when a stage writes a new shard: every
	# one lands while model calls are being made.
	for p in "delay:$((1 + RANDOM % 4)).$((RANDOM % 10))" discover mediate calibrate discover; do
		i=$((i + 1))
		if cycle "$WORK/llm" "L$i" "$p" "${LLM[@]}"; then
			kills=$((kills + 1))
		else
			break
		fi
	done
	STATS_URL=
	t=$(finish "$WORK/llm" "${LLM[@]}") || return 1
	local paid=$(($(stat_of "$url" requests) - r0))
	inflight=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/llm/inflight" 2>/dev/null || echo 0)
	echo "llm: resumed to the end in ${t}s; requests: uninterrupted $full, killed $kills times and resumed $paid;" \
		"in flight at the kills $inflight; bound $full + $kills x $LLM_CONCURRENCY"
	same "$WORK/llm-ref" "$WORK/llm" || return 1
	if ((paid > full + kills * LLM_CONCURRENCY)); then
		echo "MISMATCH: $paid requests, more than $full + $kills x $LLM_CONCURRENCY in flight: answers were paid twice"
		return 1
	fi
	echo "llm: ledger ok: $((paid - full)) requests re-asked"
}
log "llm: chain started in the background (log $WORK/llm.txt)"
llm_chain >"$WORK/llm.txt" 2>&1 &
llmpid=$!

# Kill points of the rules chain: the start of each stage (one activity
# runs a rules shard's three stages and writes only calibrate's output),
# random delays (a third from the process start, mostly while the dead
# worker's activities time out; the rest from when shards are being
# annotated again), then the start of the final tables.
points=(documents calibrate)
for ((i = 0; i < RANDOM_KILLS; i++)); do
	if ((RANDOM % 3 == 0)); then
		points+=("delay:$((1 + RANDOM % 8)).$((RANDOM % 10))")
	else
		points+=("busy:$((RANDOM % 2)).$((RANDOM % 10))")
	fi
done
points+=(mentions spill links)

printf '%-4s %-12s %-16s %9s %8s  %s\n' "#" "job" "kill point" "after" "shards" "outcome"
killed=0 n=0 status=0
for p in "${points[@]}"; do
	n=$((n + 1))
	if cycle "$WORK/rules" "R$n" "$p" "${RULES[@]}"; then
		killed=$((killed + 1))
	else
		break
	fi
done
t=$(finish "$WORK/rules" "${RULES[@]}") || status=1
log "rules: resumed to the end in ${t}s after $killed kills"
same "$WORK/ref" "$WORK/rules" || status=1

wait "$llmpid" || status=1
cat "$WORK/llm.txt"
total=$((killed + $(grep -c ' killed$' "$WORK/llm.txt" || true)))
if ((total < MIN_KILLS)); then
	log "chaos: only $total kills landed before the jobs finished, want $MIN_KILLS: a larger DOCS makes the job longer"
	status=1
fi
if ((status == 0)); then
	log "chaos: PASS: $total kills (seed $SEED), every resumed job equal to its reference"
	[[ ${KEEP:-} == 1 ]] || rm -rf "$WORK"
else
	log "chaos: FAIL (seed $SEED); work folder kept: $WORK"
fi
exit "$status"
