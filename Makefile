# Every module builds and tests on its own (GOWORK=off) as well as in the
# go.work workspace; the targets below run each module with GOWORK=off so a
# missing replace directive or dependency shows up here.
MODULES := core capture pgxbemi gormbemi entbemi middleware/chi middleware/gin examples/todo
GO ?= go

.PHONY: test vet build bench demo tidy

test: vet
	@set -e; for m in $(MODULES); do \
		echo "== $$m"; \
		(cd $$m && GOWORK=off $(GO) test -race -count=1 ./...); \
	done

vet:
	@set -e; for m in $(MODULES); do \
		(cd $$m && GOWORK=off $(GO) vet ./...); \
	done

build:
	@mkdir -p bin
	cd capture && GOWORK=off $(GO) build -o ../bin/bemi ./cmd/bemi

bench:
	@echo "make bench: no benchmarks yet"

# demo starts a throwaway PostgreSQL (or uses $DATABASE_URL), runs the todo
# service with its capture worker, plays the Bemi README's scenario, prints
# the changes table, then checks that a pgbench run is captured row for row.
# Pass flags through DEMO_FLAGS, for example DEMO_FLAGS="--router gin".
DEMO_FLAGS ?=
demo:
	cd examples/todo && GOWORK=off $(GO) run . demo $(DEMO_FLAGS)

tidy:
	@set -e; for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy); done
