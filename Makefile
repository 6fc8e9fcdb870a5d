# userhub — run `make` or `make help` for the list of targets.
SHELL := /bin/bash
CARGO ?= cargo

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Start everything locally: services, database, release build, demo domain + key, server
	@bash scripts/run-local.sh

.PHONY: services
services: ## Start (or install) local PostgreSQL and RabbitMQ
	@bash scripts/services.sh

.PHONY: tools
tools: ## Install the test tools (schemathesis, validators, tuspy, playwright-core, chromium) once
	@bash scripts/test-tools.sh

.PHONY: build
build: ## Build every crate in release mode
	$(CARGO) build --release --workspace

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: lint
lint: ## Check formatting and clippy (warnings are errors)
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --workspace --all-targets --features userhub-server/fault-injection -- -D warnings

.PHONY: test
test: services tools lint ## Lint, then run every test against real PostgreSQL and RabbitMQ
	@bash scripts/drop-test-databases.sh
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --features userhub-server/fault-injection; \
	else \
		$(CARGO) test --workspace --features userhub-server/fault-injection; \
	fi

BENCH_RECORDS ?= 100000
BENCH_PRELOAD ?= 0

.PHONY: bench
bench: services ## Benchmarks B1-B7 with same-run baselines (BENCH_RECORDS=100000; 1000000 for the full run; BENCH_PRELOAD=5000000 adds B1 on a grown database)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; } || \
		echo "wrk is not installed: B5's status reads are made by the reqwest client instead"
	$(CARGO) build --release --locked -p userhub-server -p userhub-bench
	target_dir=$$(bash scripts/target-dir.sh) && \
		"$$target_dir/release/userhub-bench" run --records $(BENCH_RECORDS) \
		--preload $(BENCH_PRELOAD) --server "$$target_dir/release/userhub-server"

.PHONY: soak
soak: services ## 10-minute soak: 10 domains at their rate limit + a heavy import (SOAK_SECONDS=600)
	SOAK_SECONDS=$${SOAK_SECONDS:-600} $(CARGO) test --release -p userhub-server --test soak -- --nocapture

FUZZ_SECONDS ?= 60

.PHONY: fuzz
fuzz: ## Fuzz the record parsers and body decoders (FUZZ_SECONDS=60 each; corpus in fuzz/corpus)
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	@for target in records bodies; do \
		echo "fuzzing $$target for $(FUZZ_SECONDS) s"; \
		(cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O -a $$target corpus/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048) || exit 1; \
	done

.PHONY: clean-test-databases
clean-test-databases: ## Drop databases left behind by interrupted test runs
	@bash scripts/drop-test-databases.sh
