# Tandem. The two commands: `make run` (build and start the dev server) and `make test` (everything CI runs).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# Parallel compile and test jobs (the machines have 2 cores).
JOBS ?= 2
# Seconds per fuzzer for `make fuzz`.
FUZZ_SECONDS ?= 60
# What `make run` passes to tandem.
RUN_ARGS ?= serve --dev
TANDEM := build/release/apps/tandem/tandem
FORMAT_DIRS := $(wildcard src apps include tests bench fuzz testing)

# Sanitizer reports must fail a test, with a stack.
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS ?= detect_leaks=1

.PHONY: deps build run test bench fuzz format clean

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake --preset release
	cmake --build --preset release --parallel $(JOBS)

run: build
	@test -x $(TANDEM) || { echo "make run: $(TANDEM) was not built (apps/tandem not there yet?)" >&2; exit 1; }
	exec ./$(TANDEM) $(RUN_ARGS)

# Release: unit + interop tests. ASan+UBSan: unit tests. Both suites run; the target fails if either failed.
test: deps
	cmake --preset release
	cmake --build --preset release --parallel $(JOBS)
	cmake --preset asan
	cmake --build --preset asan --parallel $(JOBS)
	status=0; \
	ctest --test-dir build/release --output-on-failure --no-tests=error -j $(JOBS) || status=1; \
	ctest --test-dir build/asan -L unit --output-on-failure --no-tests=error -j $(JOBS) || status=1; \
	exit $$status

bench: build
	bash scripts/run-benchmarks.sh build/release build/bench-results

fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz --parallel $(JOBS)
	bash scripts/run-fuzzers.sh build/fuzz $(FUZZ_SECONDS)

format:
	find $(FORMAT_DIRS) -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) \
	  -not -path 'fuzz/corpus*' -print0 | xargs -0 -r clang-format -i

clean:
	rm -rf build fuzz/corpus-run
