# Coffer. `make up` and `make test` are the two commands a new user runs (as
# root, on Debian 12); both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
BIN := node_modules/.bin

.PHONY: help deps test-deps build generate check-generated lint test test-vm up down bench clean image

help:
	@echo "make up      install what is missing, start coffer-control and create a MariaDB instance"
	@echo "make test    install what the tests need and run them all"
	@echo "make test-vm the end-to-end tests with real VMs (qemu driver; slow under TCG)"
	@echo "make down    stop what make up started"
	@echo "make bench   run the benchmarks (test/bench)"
	@echo "make image DATASTORE=mariadb   build (or reuse) the VM image (docs/images.md; also postgresql, redis, all)"

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

# scripts/build.mjs: tsc, skipped when no input changed since its last clean
# run (tap's `before` runs it again, see .taprc).
build: deps
	@node scripts/build.mjs

# TypeScript from the .proto files (ts-proto) and the descriptor set that
# reflection serves, both from buf, both committed.
generate:
	@$(BIN)/buf generate
	@$(BIN)/buf build -o proto/gen/descriptors.binpb

check-generated: generate
	@git diff --quiet --exit-code -- proto/gen || { echo "generated code in proto/gen is out of date: run make generate and commit" >&2; git diff --stat -- proto/gen >&2; exit 1; }

lint:
	@$(BIN)/buf lint
	@$(BIN)/tsc -p tsconfig.test.json

# One type check: build.mjs --lint runs lint's tsc (tsconfig.test.json: the
# tests and every source) and, at the same time, emits dist/ without
# checking the sources again (tsc --noCheck, the same output).
test: test-deps check-generated
	@$(BIN)/buf lint
	@node scripts/build.mjs --lint
	@set -o pipefail; $(BIN)/tap --reporter=tap $(TAP_ARGS) 2>&1 | node scripts/test-summary.mjs

# The end-to-end tests with real VMs (*.vm-test.ts): TCG boots take minutes,
# so they are not in `make test`; .ci/run runs both. Builds (or reuses) the
# MariaDB image first.
test-vm: test-deps build
	@set -o pipefail; $(BIN)/tap --reporter=tap --timeout=3600 $(TAP_ARGS) $$(find test -name '*.vm-test.ts' | sort) 2>&1 | node scripts/test-summary.mjs

up: build
	@scripts/up.sh

down:
	@scripts/down.sh

bench: build
	@TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import test/bench/run.ts

# A bootable Debian 12 qcow2 with the agent and one datastore, cached under
# /var/cache/coffer/images by a hash of its inputs (images/build.ts).
DATASTORE ?= mariadb
image: build
	@TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import images/build.ts --datastore $(DATASTORE)

clean:
	rm -rf dist .tap
