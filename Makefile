# zeroner: see README.md.
GO      ?= go
BIN     := bin
CORPUS  ?= examples/politics
SCHEMA  ?= schemas/crossner-politics.yaml
OUT     ?= out

.PHONY: all build run test lint bench clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Annotate the sample corpus in one process: embedded Temporal server on
# .zeroner/temporal.db, in-process worker, rules backend, tables under ./out.
run: build
	$(BIN)/starter run --dev --corpus $(CORPUS) --schema $(SCHEMA) --out $(OUT) --shard-size 25

test:
	$(GO) test -count=1 -timeout 25m ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Micro-benchmarks, then the local job on a generated corpus of 100,000
# documents (figures in docs/BENCHMARKS.md).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./pipeline/... ./io/...
	scripts/bench.sh

clean:
	rm -rf $(BIN) $(OUT) .zeroner
