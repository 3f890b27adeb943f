# Entry points. Each target installs what it needs first, so a fresh Debian 12 machine needs only
# `make run` or `make test`.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
PARLEY := $(BUILD_DIR)/apps/parley/parley
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-asan test-tsan test-tsan-ci fuzz fuzz-smoke soak bench package \
	install format format-check clean

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

# parley_VERSION_ARCH.deb in $(BUILD_DIR) (CPack; see cmake/Packaging.cmake).
package: build
	cmake --build --preset $(PRESET) --target package

# The same tree as the package, under PREFIX (default /usr/local).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

test-asan:
	@$(MAKE) --no-print-directory test PRESET=asan

test-tsan:
	@$(MAKE) --no-print-directory test PRESET=tsan

# CI's ThreadSanitizer stage: the unit tests, and the black-box suites of the code that runs
# threads (the relay's two directions in connect/listen, the server's event loops in echo, forward
# and listen -k/--broker/--chat, with and without TLS, bench's workers). The gigabyte, load and
# netem tests stay out: under TSan they take many minutes and measure TSan, and their threads are
# the ones above.
TSAN_CLI ?= relay|echo|echo_limits|echo_udp|forward|bench|keepopen|broker_chat|output_faults|tls_servers
test-tsan-ci: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -j $(JOBS) -LE 'cli|fuzz'
	ctest --preset tsan -j $(JOBS) -R '^cli\.test_($(TSAN_CLI))$$'

# CI's fuzz stage: every libFuzzer target for a few seconds over its seed corpus (ctest).
fuzz-smoke: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	ctest --preset fuzz -j $(JOBS)

# Echo under 1,000 idle holders and 200 churning connections, for SOAK_SECONDS under ASan
# (tests/cli/test_soak.sh; CI runs it for 2 minutes in the ASan suite).
SOAK_SECONDS ?= 1800
soak:
	@$(MAKE) --no-print-directory build PRESET=asan
	PARLEY=build/asan/apps/parley/parley PARLEY_SANITIZED=1 PARLEY_SOAK_SECONDS=$(SOAK_SECONDS) \
		bash tests/cli/test_soak.sh

# Every libFuzzer target for FUZZ_SECONDS each, one after another (clang; see tests/fuzz).
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

# Benchmarks against the peers (minutes; run on a quiet machine).
bench: build
	bash bench/bulk.sh $(PARLEY)
	bash bench/echo.sh $(PARLEY)
	bash bench/loadgen.sh $(PARLEY)
	bash bench/http.sh $(PARLEY)
	bash bench/conns.sh $(PARLEY)
	bash bench/scan.sh $(PARLEY)
	bash bench/tls.sh $(PARLEY)
	bash bench/serve.sh $(PARLEY)
	bash bench/forward.sh $(PARLEY)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
