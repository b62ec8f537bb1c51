#!/usr/bin/env bash
# samebytes.sh: proves that a code change left the job's outputs byte for byte
# the same. It builds the binaries of BASE_REV (in a temporary git worktree)
# and of the working tree, runs the same scenarios with each set into the same
# absolute output folder (outputs embed absolute URIs), digests every output
# file (scripts/digest: sha256, with the wall-clock fields of JSON files
# dropped, see DROP below), and compares the two lists.
#
#   scripts/samebytes.sh [BASE_REV]     # from the repository root; BASE_REV defaults to HEAD
#
# Prints "same bytes: N files" and exits 0, or lists the files that differ and
# exits 1; a build or a scenario that fails exits 1 with one line saying which.
# Both sides read the same inputs, the working tree's examples/, schemas/ and
# data/, and talk to the same LLM test server (the working tree's bin/llmsim,
# started afresh for each side on the same port, since the port is recorded
# in the outputs): only zeroner's binaries differ.
#
# Environment: KEEP=1 keeps the work folder (outputs of both sides, digests,
# logs); it is also kept when something differs or fails.
#
# Scenarios, each as a user would run it (README):
#   rules    make run's command: the sample corpus with the rules backend, and
#            the same command again (the job is up to date)
#   sam      the same corpus with the SAM-NER backend against bin/llmsim
#   batch    one corpus file through --batch api against bin/llmsim (its Files
#            and Batch APIs). --batch files is not covered: it needs an
#            outside process that answers each round's requests.jsonl, which
#            no shipped tool does
#   eval     starter eval --dev on CrossNER politics test and MIT-Restaurant
#            test (rules backend), with a fixed --tag (the default tag is the
#            time, which names the runs) and a fixed --commit
#   export   starter export --format all of the rules run (silver data, Neo4j)
#   review   starter review of the rules run
#   distill  starter distill of the sample corpus (shards of 10 and a sample
#            of 0.25, so that agreement is measured on held-out shards)
#   index    starter index of the rules run (local encoder, projection head)
#   search   starter search --batch of a few descriptions (results.jsonl in the
#            index folder), and starter search --json to a file
#   scale    a generated corpus of $SCALE_DOCS documents (scripts/gencorpus.go,
#            default 40,000: about a million mentions, so the mentions table
#            has several parts and the graph several spilled runs), rules
#            backend, shards of 1,000
set -euo pipefail

BASE_REV=${1:-HEAD}
if (($# > 1)); then
	echo "usage: scripts/samebytes.sh [BASE_REV]" >&2
	exit 2
fi

ROOT=$(git rev-parse --show-toplevel 2>/dev/null) || {
	echo "samebytes: not in a git repository" >&2
	exit 2
}
cd "$ROOT"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# What digest drops before hashing: the values of these JSON keys, at any
# depth, become "<dropped>" (the keys stay, so a key that appears or vanishes
# still counts). Everything else is hashed byte for byte.
DROP=(
	# In every JSON file:
	#   timings   run.json and index.json: wall-clock moments of the phases
	#             (started, planned, sharded, annotated / encoded, trained,
	#             projected, finished)
	#   seconds   run.json, index.json, head.json and index.json's head_stats:
	#             how long the run, the index build or the head training took
	#   started, finished
	#             wall-clock moments outside timings: finished of each run in
	#             a job's dataset (jobs/<job>.json)
	#   trained   head.json and index.json's head_stats: when the head was
	#             trained
	#   created   eval results.json: when the report was made; the batch
	#             provider's chat completions (responses.jsonl): their unix time
	#   commit    eval results.json: the source commit (given as a fixed
	#             --commit here anyway; a binary built with VCS stamping
	#             records its own)
	-drop timings,seconds,started,finished,trained,created,commit
	# In a job's dataset only ("last" elsewhere is a shard number, in
	# documents/_objects.json): when the job last found nothing to do.
	-drop-in 'jobs/*.json:last'
	# The batch provider's files, downloaded under runs/<run>/batches/ for
	# inspection: the provider (here llmsim) names batches, request lines and
	# completions by the order in which the job's concurrent shards submitted
	# them, which varies from run to run. custom_id, zeroner's own key of each
	# request, is kept.
	-drop-in 'batch.json:id'
	-drop-in 'responses.jsonl:id,request_id'
	-drop-in 'errors.jsonl:id,request_id'
	# The eval report's date ("2026-12-04 17:43 UTC"), in report.md and
	# report.html (not JSON, so masked as text).
	-mask 'report.md:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC'
	-mask 'report.html:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC'
)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/samebytes.XXXXXX")
OUT=$WORK/out # the same absolute folder for both sides
SRC_BASE=$WORK/src-base
SIM_PID=""
KEEP=${KEEP:-}

cleanup() {
	local rc=$?
	if declare -F stop_llmsim >/dev/null; then stop_llmsim; fi
	if [[ -d $SRC_BASE ]]; then
		git worktree remove --force "$SRC_BASE" >/dev/null 2>&1 || rm -rf "$SRC_BASE"
		git worktree prune >/dev/null 2>&1 || true
	fi
	if [[ $rc -eq 0 && -z $KEEP ]]; then
		rm -rf "$WORK"
	else
		echo "samebytes: work folder kept: $WORK" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf 'samebytes: %s\n' "$*" >&2; }
fail() {
	printf 'samebytes: FAIL: %s\n' "$*" >&2
	exit 1
}

SECONDS=0

# ---- build ---------------------------------------------------------------
rev=$(git rev-parse --verify --quiet "$BASE_REV^{commit}") || fail "unknown revision $BASE_REV"
short=$(git rev-parse --short "$rev")
say "work folder $WORK; base $BASE_REV ($short), head: the working tree"
if ! git diff --quiet "$rev" -- examples schemas data 2>/dev/null; then
	say "note: examples/, schemas/ or data/ differ from $short; both sides read the working tree's"
fi

mkdir -p "$WORK/logs" "$WORK/tools"
git worktree add --detach "$SRC_BASE" "$rev" >"$WORK/logs/worktree.log" 2>&1 ||
	fail "git worktree add of $short failed: $(tail -1 "$WORK/logs/worktree.log")"
say "building $short"
(cd "$SRC_BASE" && go build -buildvcs=false -o "$WORK/bin-base/" ./cmd/...) >"$WORK/logs/build-base.log" 2>&1 ||
	fail "build of $short failed: $(grep -m1 . "$WORK/logs/build-base.log")"
say "building the working tree"
go build -buildvcs=false -o "$WORK/bin-head/" ./cmd/... >"$WORK/logs/build-head.log" 2>&1 ||
	fail "build of the working tree failed: $(grep -m1 . "$WORK/logs/build-head.log")"
go build -buildvcs=false -o "$WORK/tools/" ./scripts/digest >"$WORK/logs/build-digest.log" 2>&1 ||
	fail "build of scripts/digest failed: $(grep -m1 . "$WORK/logs/build-digest.log")"
# The reference LLM test server, for both sides.
cp "$WORK/bin-head/llmsim" "$WORK/tools/llmsim"
# Descriptions for search --batch (at the same path for both sides).
# The generated corpus of the scale scenario (the working tree's generator).
SCALE_DOCS=${SCALE_DOCS:-40000}
go run scripts/gencorpus.go -docs "$SCALE_DOCS" -files 4 -out "$WORK/scale-corpus" >"$WORK/logs/gencorpus.log" 2>&1 ||
	fail "scripts/gencorpus.go failed: $(tail -1 "$WORK/logs/gencorpus.log")"
printf '%s\n' "political party" "a politician" "# a comment line" "a country" "an election" "a sports team" >"$WORK/types.txt"

# ---- the LLM test server -------------------------------------------------
SIM_PORT=0 # chosen by the first side's server, reused by the second
start_llmsim() {
	local side=$1 url="" i
	"$WORK/tools/llmsim" --addr "127.0.0.1:$SIM_PORT" --no-prompt-cache \
		--gold data/crossner/politics/dev.txt --schema schemas/crossner-politics.yaml \
		>"$WORK/logs/$side-llmsim.out" 2>"$WORK/logs/$side-llmsim.err" &
	SIM_PID=$!
	for ((i = 0; i < 100; i++)); do
		url=$(head -1 "$WORK/logs/$side-llmsim.out" 2>/dev/null || true)
		[[ -n $url ]] && break
		kill -0 "$SIM_PID" 2>/dev/null || break
		sleep 0.1
	done
	[[ $url == http://127.0.0.1:* ]] ||
		fail "$side: llmsim did not start on 127.0.0.1:$SIM_PORT: $(tail -1 "$WORK/logs/$side-llmsim.err" 2>/dev/null)"
	SIM_PORT=${url##*:}
	LLM_URL=$url/v1
}
stop_llmsim() {
	if [[ -n $SIM_PID ]]; then
		kill "$SIM_PID" 2>/dev/null || true
		wait "$SIM_PID" 2>/dev/null || true
		SIM_PID=""
	fi
}

# ---- scenarios -----------------------------------------------------------
# step SIDE NAME CMD...: runs CMD (output to a log); a failure ends the script
# with one line.
step() {
	local side=$1 name=$2 rc=0 log
	shift 2
	log=$WORK/logs/$side-$name.log
	"$@" >"$log" 2>&1 || rc=$?
	if ((rc != 0)); then
		fail "$side: scenario $name failed (exit $rc): $(grep -v '^[[:space:]]*$' "$log" | tail -1) (log: $log)"
	fi
}

# one_run OUT_PREFIX: the folder of the only run under OUT_PREFIX/runs.
one_run() {
	local runs=("$1"/runs/*/)
	((${#runs[@]} == 1)) && [[ -d ${runs[0]} ]] || return 1
	echo "${runs[0]%/}"
}

scenarios() {
	local side=$1 bin=$2
	local db=$WORK/$side.db starter=$bin/starter run idx

	say "$side: rules (make run's command, twice)"
	step "$side" rules "$starter" run --dev --dev-db "$db" --corpus examples/politics \
		--schema schemas/crossner-politics.yaml --out "$OUT" --shard-size 25
	step "$side" rules-again "$starter" run --dev --dev-db "$db" --corpus examples/politics \
		--schema schemas/crossner-politics.yaml --out "$OUT" --shard-size 25
	run=$(one_run "$OUT") || fail "$side: scenario rules: not one run under $OUT/runs"

	start_llmsim "$side"
	say "$side: sam (SAM-NER against llmsim at $LLM_URL)"
	# One shard at a time: shards in flight together race to pay for the
	# label map's request, so the per-shard usage would vary run to run.
	step "$side" sam "$starter" run --dev --dev-db "$db" --corpus examples/politics \
		--schema schemas/crossner-politics.yaml --out "$OUT/sam" --shard-size 25 --window 1 \
		--llm-base-url "$LLM_URL" --llm-model llmsim
	say "$side: batch (--batch api against llmsim)"
	step "$side" batch "$starter" run --dev --dev-db "$db" --corpus examples/politics/politics-3.jsonl \
		--schema schemas/crossner-politics.yaml --out "$OUT/batch" --shard-size 25 \
		--window 1 --llm-base-url "$LLM_URL" --llm-model llmsim --batch api --batch-poll 1s --batch-max-poll 1s
	stop_llmsim

	say "$side: eval (crossner-politics, mit-restaurant)"
	step "$side" eval "$starter" eval --dev --dev-db "$db" --out "$OUT/eval" --tag samebytes --commit samebytes \
		--name crossner-politics --data data/crossner/politics/test.txt --schema schemas/crossner-politics.yaml \
		--name mit-restaurant --data data/mit/restaurant/restauranttest.txt --schema schemas/mit-restaurant.yaml

	say "$side: export, review"
	step "$side" export "$starter" export --run "$run" --format all --out "$OUT/silver"
	step "$side" review "$starter" review --sample 20 --out "$OUT/review.html" "$run"

	say "$side: distill"
	step "$side" distill "$starter" distill --dev --dev-db "$db" --corpus examples/politics \
		--schema schemas/crossner-politics.yaml --out "$OUT/distill" --shard-size 10 --sample 0.25

	say "$side: scale ($SCALE_DOCS generated documents)"
	step "$side" scale "$starter" run --dev --dev-db "$db" --corpus "$WORK/scale-corpus" \
		--schema schemas/crossner-politics.yaml --out "$OUT/scale" --shard-size 1000

	say "$side: index, search"
	step "$side" index "$starter" index --dev --dev-db "$db" "$run"
	idx=$OUT/indexes/$(basename "$run")
	[[ -f $idx/index.json ]] || fail "$side: scenario index: no $idx/index.json"
	step "$side" search-batch "$starter" search --dev --dev-db "$db" --index "$idx" --batch "$WORK/types.txt" -k 5
	mkdir -p "$OUT/search"
	step "$side" search to_file "$OUT/search/search.jsonl" "$starter" search --index "$idx" --json -k 5 \
		--context 60 "political party" "a city" "a sports team"
}

# to_file FILE CMD...: runs CMD with its standard output to FILE.
to_file() {
	local file=$1
	shift
	"$@" >"$file"
}

# side NAME BIN: runs the scenarios into $OUT and digests it into NAME.sha;
# the outputs are then moved to out-NAME.
side() {
	local name=$1 bin=$2
	rm -rf "$OUT"
	scenarios "$name" "$bin"
	"$WORK/tools/digest" "${DROP[@]}" "$OUT" >"$WORK/$name.sha" 2>"$WORK/logs/$name-digest.log" ||
		fail "$name: digest failed: $(tail -1 "$WORK/logs/$name-digest.log")"
	mv "$OUT" "$WORK/out-$name"
}

side base "$WORK/bin-base"
side head "$WORK/bin-head"

# ---- compare -------------------------------------------------------------
# finalize's working folder (runs/<run>/finalize/: the parts' stats) is new
# since finalize runs in parts; against an older base it is left out, and
# counted.
if ! grep -q '/finalize/' "$WORK/base.sha"; then
	n=$(grep -c '/finalize/' "$WORK/head.sha" || true)
	if ((n > 0)); then
		grep -v '/finalize/' "$WORK/head.sha" >"$WORK/head.sha.tmp" && mv "$WORK/head.sha.tmp" "$WORK/head.sha"
		say "left out: $n files of finalize's working folders, which $short does not write"
	fi
fi
# Since one activity runs a rules shard's three stages, rules runs (all but
# sam/ and batch/) write no discover or mediate checkpoints: an older base's are not compared.
awk '$2 !~ /^(sam|batch)\// && $2 ~ /stages\/(discover|mediate)\/shard-[0-9]+\.parquet$/ { next } { print }' \
	"$WORK/base.sha" >"$WORK/base.kept" && mv "$WORK/base.kept" "$WORK/base.sha"
if cmp -s "$WORK/base.sha" "$WORK/head.sha"; then
	echo "same bytes: $(wc -l <"$WORK/head.sha") files (base $short, ${SECONDS}s)"
	exit 0
fi
awk '
	FNR == NR { base[$2] = $1; next }
	!($2 in base) { print "only in head:  " $2; next }
	base[$2] != $1 { print "differs:       " $2 }
	{ delete base[$2] }
	END { for (p in base) print "only in base:  " p }
' "$WORK/base.sha" "$WORK/head.sha" | sort
echo "outputs differ from $short's (outputs under $WORK/out-base and $WORK/out-head)"
exit 1
