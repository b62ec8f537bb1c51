# zeroner: see README.md.
GO      ?= go
BIN     := bin
CORPUS  ?= examples/politics
SCHEMA  ?= schemas/crossner-politics.yaml
OUT     ?= out
DATA    ?= $(or $(ZERONER_DATA),data)
EVAL    ?= evals/benchmark

.PHONY: all build run eval test lint bench clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Annotate the sample corpus in one process: embedded Temporal server on
# .zeroner/temporal.db, in-process worker, rules backend, tables under ./out.
run: build
	$(BIN)/starter run --dev --corpus $(CORPUS) --schema $(SCHEMA) --out $(OUT) --shard-size 25

# Evaluate the configured backend (rules unless an LLM endpoint is set) on
# the five CrossNER test domains and MIT-Restaurant through the real job:
# one table on stdout; predictions, results.json and report.md/.html under
# $(EVAL). EVAL_FLAGS adds flags, e.g. --note or the --llm-* ones.
CROSSNER := ai literature music politics science
eval: build
	$(BIN)/starter eval --dev --dev-db evals/temporal.db --out $(EVAL) \
		$(foreach d,$(CROSSNER),--name crossner-$(d) --data $(DATA)/crossner/$(d)/test.txt --schema schemas/crossner-$(d).yaml) \
		--name mit-restaurant --data $(DATA)/mit/restaurant/restauranttest.txt --schema schemas/mit-restaurant.yaml \
		--commit "$$(git rev-parse --short HEAD 2>/dev/null)$$(git diff --quiet HEAD -- 2>/dev/null || echo -dirty)" \
		$(EVAL_FLAGS)

# NER Retriever on the five CrossNER test domains: a rules run of each test
# set, its index with the local encoder raw and with a head trained on the
# run's labels, each label queried by its description; R-Precision per label
# beside BM25 (report under evals/retrieval; the table in docs/RESULTS.md).
.PHONY: retrieval-eval
retrieval-eval: build
	$(BIN)/starter retrieval-eval --dev --dev-db evals/temporal.db --out evals/retrieval \
		$(foreach d,$(CROSSNER),--name crossner-$(d) --data $(DATA)/crossner/$(d)/test.txt --schema schemas/crossner-$(d).yaml) \
		$(RETRIEVAL_FLAGS)

test:
	$(GO) test -count=1 -timeout 25m ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Micro-benchmarks, the local job on a generated corpus of 100,000
# documents, the LLM backend's cost and efficiency against the LLM test
# server, and NER Retriever's vector search on 1,000,000 random vectors
# (figures in docs/BENCHMARKS.md).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./pipeline/... ./io/...
	scripts/bench.sh
	$(GO) run ./scripts/llmbench -latency 100ms -capacities 8,64
	$(GO) run ./scripts/annbench -n 1000000 -dim 256 -queries 1000 -k 10 -hnsw 100000

# The local job on 100,000 and 1,000,000 generated documents against the
# rules backend's own speed on the same cores, one line per size (SIZES=
# picks sizes; figures in docs/BENCHMARKS.md, "Scale").
.PHONY: bench-scale
bench-scale: build
	scripts/benchscale.sh

# The crash matrix: kill -9 `starter run --dev` at 20+ points of a job
# (stage starts and seeded random delays; SEED=n replays), resume, and
# compare with an uninterrupted run; the LLM backend's ledger against
# bin/llmsim. About 6 minutes on 2 cores; see docs/RELIABILITY.md.
.PHONY: chaos
chaos:
	scripts/chaos.sh

clean:
	rm -rf $(BIN) $(OUT) .zeroner
