# Entry points. Each target installs what it needs first, so a fresh Debian 12 machine needs only
# `make run` or `make test`.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
PARLEY := $(BUILD_DIR)/apps/parley/parley
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-asan test-tsan bench format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

# The main job: the multi-client server on port 12345 with connection logging.
run: build
	$(PARLEY) echo 12345

test: build
	ctest --preset $(PRESET) -j $(JOBS)

test-asan:
	@$(MAKE) --no-print-directory test PRESET=asan

test-tsan:
	@$(MAKE) --no-print-directory test PRESET=tsan

# Benchmarks against the peers (minutes; run on a quiet machine).
bench: build
	bash bench/bulk.sh $(PARLEY)
	bash bench/echo.sh $(PARLEY)
	bash bench/loadgen.sh $(PARLEY)
	bash bench/http.sh $(PARLEY)
	bash bench/conns.sh $(PARLEY)
	bash bench/scan.sh $(PARLEY)
	bash bench/serve.sh $(PARLEY)
	bash bench/forward.sh $(PARLEY)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
