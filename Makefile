# One command per task. `make help` lists them.

# The PostgreSQL tests start a private cluster; where PostgreSQL is missing they would skip,
# which `make test` (and so CI) never allows.
export VM_SYSTEM_REQUIRE_POSTGRES = 1
.PHONY: help quickstart test test-rust test-cli test-python test-node test-c test-web web screenshots lint fmt generate bench

help: ## List the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

quickstart: ## Run the quick start (template, session, repl, file run, events) on vm-system.db
	cargo run -q -p vm-system --example quickstart

test: lint test-rust test-cli test-python test-node test-c test-web ## Every test: lint, Rust, the program, Python, Node, C, web console
	@echo "all tests passed"

test-rust: ## Rust unit, integration, conformance and doc tests (store-facing ones again on PostgreSQL); the Rust examples; license files
	cargo test -p vm-system
	VM_SYSTEM_TEST_DB=postgres cargo test -p vm-system --test api --test conformance --test follow --test limits \
	  --test modules --test standard --test async_esm --test libraries --test hosts
	cargo test --release -p vm-system --test wal -- --include-ignored
	@for d in core bindings-python bindings-c bindings-node; do for f in LICENSE-MIT LICENSE-APACHE; do \
	  cmp -s $$f $$d/$$f || { echo "$$d/$$f is missing or differs from ./$$f" >&2; exit 1; }; done; done
	@cargo package -q -p vm-system --list --allow-dirty | grep -qx LICENSE-APACHE
	@cargo package -q -p vm-system --list --allow-dirty | grep -qx LICENSE-MIT
	cargo run -q -p vm-system --example quickstart -- $${TMPDIR:-/tmp}/vm-system-quickstart.db
	cargo run -q -p vm-system --example etl -- $${TMPDIR:-/tmp}/vm-system-etl.db

test-cli: ## The vm-system program: REST API and CLI tests against the real daemon binary (and PostgreSQL)
	VM_SYSTEM_REQUIRE_POSTGRES=1 cargo test -p vm-system-cli

test-python: ## Build the wheel, install it in a fresh venv, run pytest and the example
	bash bindings-python/test.sh

test-node: ## Build the addon, check index.d.ts, pack, install, run node --test and the examples
	bash bindings-node/test.sh

test-c: ## Build libvmsystem, check the header, run the C tests (shared, static, valgrind) and examples
	bash bindings-c/test.sh

test-web: ## Web console: bundle in sync with its sources, browser tests (Chromium) against the daemon
	bash cli/web/test.sh

web: ## Rebuild the web console bundle (cli/web/dist, committed) from cli/web/src
	cd cli/web && npm ci --no-audit --no-fund && npm run build

screenshots: ## Retake the web console screenshots of the README (cli/web/screenshots)
	SCREENSHOT_DIR=$(CURDIR)/cli/web/screenshots bash cli/web/test.sh

lint: ## rustfmt and clippy on the whole workspace
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Format the Rust code
	cargo fmt --all

generate: ## Regenerate the committed surfaces (C header, Node type definitions, web bundle)
	cargo build --release -p vmsystem
	cd bindings-node && npm ci && npm run build
	cd cli/web && npm ci --no-audit --no-fund && npm run build

bench: ## Criterion benchmarks of the core and idle-session memory
	cargo bench -p vm-system
