# medrt — the two commands a new user needs are `make run` and `make test`.

CARGO   ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run" || echo "test")
SERVICE_VARS := MEDRT_TEST_DATABASE_URL MEDRT_TEST_NATS_URL MEDRT_TEST_REDIS_URL

.PHONY: run build test test-embedded test-services bench fmt lint clean-test-databases

## Build, migrate the SQLite default and serve on 127.0.0.1:8080.
run: build
	./target/debug/medrt migrate
	@echo "medrt: open http://127.0.0.1:8080/healthz, API under /api/v1, WebSocket at /ws, docs at /openapi.json"
	./target/debug/medrt serve

build:
	$(CARGO) build --bin medrt

## The whole suite: embedded backends, then PostgreSQL + NATS + Redis when configured.
test: build test-embedded test-services

test-embedded:
	@echo "== suite on SQLite + in-process bus + in-memory cache"
	env $(foreach v,$(SERVICE_VARS),-u $(v)) $(CARGO) $(NEXTEST) --workspace

test-services:
	@if [ -n "$$MEDRT_TEST_DATABASE_URL" ] && [ -n "$$MEDRT_TEST_NATS_URL" ] && [ -n "$$MEDRT_TEST_REDIS_URL" ]; then \
		echo "== suite on PostgreSQL + NATS + Redis"; \
		$(MAKE) --no-print-directory clean-test-databases; \
		$(CARGO) $(NEXTEST) --workspace; \
	else \
		echo "== service suite SKIPPED: set $(SERVICE_VARS) to run it (.ci/run always does)"; \
	fi

## Drops the databases and streams earlier service-suite runs left behind.
clean-test-databases:
	$(CARGO) run --quiet -p medrt-tests --bin medrt-test-cleanup

## Benchmarks (release build); figures go to README.md § Performance.
bench:
	$(CARGO) build --release --bin medrt
	$(CARGO) bench -p medrt-tests --bench ws_fanout
	$(CARGO) bench -p medrt-actors --bench ledger

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
