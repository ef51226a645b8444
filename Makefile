# Every module builds and tests on its own (GOWORK=off) as well as in the
# go.work workspace; the targets below run each module with GOWORK=off so a
# missing replace directive or dependency shows up here.
MODULES := core capture internal/pgxsql pgxbemi gormbemi entbemi middleware/chi middleware/gin examples/todo
GO ?= go

.PHONY: test vet build bench demo tidy

test: vet
	@set -e; for m in $(MODULES); do \
		echo "== $$m"; \
		(cd $$m && GOWORK=off $(GO) test -race -count=1 ./...); \
	done

vet:
	@unformatted=$$(gofmt -l $(MODULES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@set -e; for m in $(MODULES); do \
		(cd $$m && GOWORK=off $(GO) vet ./...); \
	done

build:
	@mkdir -p bin
	cd capture && GOWORK=off $(GO) build -o ../bin/bemi ./cmd/bemi

# bench runs each module's benchmarks with GOWORK=off, one line per module
# (or group of packages): directory, -benchtime, packages. Micro benchmarks
# run for the default second; the capture worker's benchmarks measure one
# fixed workload each on clusters of their own, so they run once (1x).
# BEMI_BENCH_SCALE=0.05 scales those workloads down for a quick check.
bench:
	@set -e; \
	run() { echo "== $$1 $$3 (-benchtime=$$2)"; \
		(cd $$1 && GOWORK=off $(GO) test -run '^$$' -bench . -benchtime=$$2 -timeout 60m $$3); }; \
	run core 1s ./...; \
	run internal/pgxsql 1s ./...; \
	run capture 1s "./convert/... ./setup/..."; \
	run capture 1x .; \
	run capture 3s ./history/...; \
	run pgxbemi 1000x ./...; \
	run gormbemi 300x ./...; \
	run entbemi 2000x ./...; \
	run middleware/chi 1s ./...; \
	run middleware/gin 1s ./...

# demo starts a throwaway PostgreSQL (or uses $DATABASE_URL), runs the todo
# service with its capture worker, plays the Bemi README's scenario, prints
# the changes table, then checks that a pgbench run is captured row for row.
# Pass flags through DEMO_FLAGS, for example DEMO_FLAGS="--router gin".
DEMO_FLAGS ?=
demo:
	cd examples/todo && GOWORK=off $(GO) run . demo $(DEMO_FLAGS)

tidy:
	@set -e; for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy); done
