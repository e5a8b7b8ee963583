# scrapebench — see README.md. Every target works on a fresh clone with Go
# installed; modules are fetched by go.
GO       ?= go
BIN      ?= bin/scrapebench
PKGS     := ./...

.PHONY: all build test vet bench bench-mock smoke baseline sweep mock ci clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/scrapebench

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l cmd mockapi strategies bench); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

test: vet
	$(GO) test -race -count=1 $(PKGS)
	@# The race detector makes 100,000 requests too slow: that case runs without it.
	$(GO) test -count=1 -run 'TestGoroutinesBoundedByPool' ./strategies/

# The main job: the article's cost-benefit table reproduced against the
# mock (a child process), every result verified; about 4 minutes on 2 cores.
bench: build
	$(BIN) run --scenario cost-benefit --out results/cost-benefit.json --out results/cost-benefit.md

# The mock's performance benchmarks: sync endpoint vs a bare net/http
# handler serving the same bytes, and async callbacks delivered per second.
bench-mock:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./mockapi/

mock: build
	$(BIN) mock

# The CI gate: the smoke scenario (100 ASINs, every strategy, every result
# verified) compared with the committed baseline. 40% is wide enough for a
# noisy 2-core machine and catches a 2x slowdown; a lost result always fails.
THRESHOLD ?= 40%
smoke: build
	$(BIN) run --scenario smoke --progress off --out bin/smoke.json
	$(BIN) compare results/baseline-smoke.json bin/smoke.json --threshold $(THRESHOLD)

# Refresh the baseline after a deliberate change in performance.
baseline: build
	$(BIN) run --scenario smoke --progress off --out results/baseline-smoke.json

# The committed concurrency sweep under the observed limits.
sweep: build
	$(BIN) sweep --progress off --out results/sweep-strict.json --out results/sweep-strict.md --plot results/sweep-strict.svg

ci: test smoke

clean:
	rm -rf bin
