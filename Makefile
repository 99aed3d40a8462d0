# herd: two commands.
#   make demo   installs what is missing, builds the library and the demo
#               (no tests: only the build packages), runs the demo job
#   make test   installs what is missing, builds, runs every test suite
# Other targets: build, bench, fuzz (FUZZ_SECONDS=300 per target),
# abi-baseline (after a deliberate ABI change), clean.

BUILD      ?= build
DEMO_BUILD ?= build-demo
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
RELEASE_BUILD ?= build-release
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
PY         ?= /usr/bin/python3
# The demo's build configures neither the tests nor the benchmarks, so that
# it needs the build packages only (tests/tools/check-fresh-demo.py checks
# it with nothing else visible).  DEMO_DIR gets the data and the report,
# DEMO_REGISTRY is the registry (the embedded default, ./herd-registry).
DEMO_OPTIONS ?= -Dtests=false -Dbenchmarks=false
DEMO_DIR   ?= herd-demo
DEMO_REGISTRY ?= herd-registry
DEMO_JOB   := examples/jobs/demand.json
HERD_DEMO  = $(DEMO_BUILD)/bindings/cli/herd

# Debian packages, by what needs them: debian-packages.txt is the one list
# (docs/getting-started.md explains the sets).
packages = $(shell sed -n 's/^$(1)://p' debian-packages.txt)
BUILD_PACKAGES := $(call packages,build)
TEST_PACKAGES  := $(BUILD_PACKAGES) $(call packages,test)
BENCH_PACKAGES := $(BUILD_PACKAGES) $(call packages,bench)

.PHONY: all build demo test bench fuzz abi-baseline clean deps-build deps-test deps-bench

all: build

# Install the missing packages when root; otherwise print the exact command.
define ensure_packages
	@command -v dpkg-query >/dev/null 2>&1 || { \
	  echo "herd: this is not a Debian system; install the equivalents of: $(1)"; exit 1; }
	@missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "herd: installing Debian packages:$$missing"; \
	    apt-get update -q >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else \
	    echo "herd: these Debian packages are missing:$$missing"; \
	    echo "herd: install them with:  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

deps-build:
	$(call ensure_packages,$(BUILD_PACKAGES))
deps-test:
	$(call ensure_packages,$(TEST_PACKAGES))
deps-bench:
	$(call ensure_packages,$(BENCH_PACKAGES))

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(DEMO_BUILD)/build.ninja:
	meson setup $(DEMO_BUILD) $(DEMO_OPTIONS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	  -Dc_args=-fno-sanitize-recover=all -Dbenchmarks=false -Dexamples=false

# ThreadSanitizer over the suites that run threads: the worker pool, training,
# the registry's shared handles, champion/challenger and the streaming
# cycle's committer, with XGBoost's real
# OpenMP teams.  XGBoost, libgomp and libstdc++ are not built for TSan, so
# the barriers that order XGBoost's team threads are invisible to it:
# tests/tsan.supp drops the interceptor calls those three libraries make
# themselves (each entry explained there); nothing of herd's own code is
# suppressed.
TSAN_TESTS := apply fit registry compare cycle
TSAN_ENV   := TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp

$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) -Db_sanitize=thread -Dbenchmarks=false -Dexamples=false

# A release (-O3) build of the library and the herd command, compiled only:
# the library's -Werror meets the optimiser's flow warnings
# (maybe-uninitialized) here first, as a packager's build would.
$(RELEASE_BUILD)/build.ninja:
	meson setup $(RELEASE_BUILD) --buildtype=release -Dtests=false -Dbenchmarks=false \
	  -Dexamples=false

# Fuzz targets: clang with libFuzzer; the library is instrumented too.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false -Dexamples=false \
	  -Dbenchmarks=false -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all'

# The development build: library, tests, benchmarks, examples.
build: deps-test $(BUILD)/build.ninja
	meson compile -C $(BUILD)

# The demo: generate two weeks of sales, run the job file's weekly cycle on
# each (the second after a competitor shifted a quarter of the products),
# predict the second week from the champions, write the report.
demo: deps-build $(DEMO_BUILD)/build.ninja
	meson compile -C $(DEMO_BUILD)
	$(DEMO_BUILD)/examples/herd-demo --generate $(DEMO_DIR)
	@echo "== week 1: herd job run $(DEMO_JOB) --target dev"
	$(HERD_DEMO) job run $(DEMO_JOB) --target dev --data $(DEMO_DIR)/week1.csv \
	  --registry $(DEMO_REGISTRY) --out $(DEMO_DIR)/decisions-week1.csv
	@echo "== 26 weeks later, with drift: herd job run $(DEMO_JOB) --target dev"
	$(HERD_DEMO) job run $(DEMO_JOB) --target dev --data $(DEMO_DIR)/week2.csv \
	  --registry $(DEMO_REGISTRY) --out $(DEMO_DIR)/decisions-week2.csv
	$(HERD_DEMO) predict --data $(DEMO_DIR)/week2.csv --keys product \
	  --registry $(DEMO_REGISTRY) --family demand --fallback true \
	  --out $(DEMO_DIR)/predictions.csv
	$(HERD_DEMO) report --registry $(DEMO_REGISTRY) --family demand \
	  --out $(DEMO_DIR)/report.html
	@echo "decision summary: $(DEMO_DIR)/decisions-week2.csv; report: $(DEMO_DIR)/report.html"

# Every suite: native (with the set-up, link, ABI and header checks), then
# the same under ASan+UBSan, `unit` under valgrind, the threaded suites under
# TSan, the fuzz replays.  Each run keeps going after a failure so that the
# summary covers all.
test: deps-test $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja $(TSAN_BUILD)/build.ninja \
      $(FUZZ_BUILD)/build.ninja $(RELEASE_BUILD)/build.ninja
	meson compile -C $(RELEASE_BUILD)
	meson compile -C $(BUILD)
	meson compile -C $(ASAN_BUILD)
	meson compile -C $(TSAN_BUILD) $(addprefix test_,$(TSAN_TESTS))
	meson compile -C $(FUZZ_BUILD)
	@rm -f $(BUILD)/meson-logs/testlog*.json $(ASAN_BUILD)/meson-logs/testlog*.json \
	  $(TSAN_BUILD)/meson-logs/testlog*.json $(FUZZ_BUILD)/meson-logs/testlog*.json
	-meson test -C $(BUILD) --print-errorlogs
	-ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs
	-meson test -C $(BUILD) --setup valgrind --suite unit --print-errorlogs
	-$(TSAN_ENV) meson test -C $(TSAN_BUILD) --no-rebuild --print-errorlogs $(TSAN_TESTS)
	-meson test -C $(FUZZ_BUILD) --suite fuzz --print-errorlogs
	@$(PY) tests/tools/summarize.py \
	  native=$(BUILD)/meson-logs/testlog.json \
	  asan=$(ASAN_BUILD)/meson-logs/testlog.json \
	  valgrind=$(BUILD)/meson-logs/testlog-valgrind.json \
	  tsan=$(TSAN_BUILD)/meson-logs/testlog.json \
	  fuzz=$(FUZZ_BUILD)/meson-logs/testlog.json

# Fuzz for FUZZ_SECONDS per target; what the fuzzers find that is new goes
# into tests/fuzz/corpus/NAME (commit it), crashes into $(FUZZ_BUILD)/crashes.
fuzz: deps-test $(FUZZ_BUILD)/build.ninja
	meson compile -C $(FUZZ_BUILD)
	@mkdir -p $(FUZZ_BUILD)/crashes
	@for t in tests/fuzz/corpus/*/; do \
	  name=$$(basename $$t); \
	  echo "fuzzing $$name for $(FUZZ_SECONDS) s"; \
	  ./$(FUZZ_BUILD)/tests/fuzz/fuzz_$$name -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=2048 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$name- $$t || exit 1; \
	done

# Regenerate the committed ABI baseline (abi/libherd.abi) from the built
# libherd.so.  Only for a deliberate ABI change: the `abidiff` test fails
# on any difference, and every change goes into CHANGELOG.md.
abi-baseline: deps-test $(BUILD)/build.ninja
	meson compile -C $(BUILD)
	$(PY) tests/tools/check-abi.py write abi/libherd.abi $(BUILD)/lib/libherd.so include

bench: deps-bench build
	./$(BUILD)/tests/bench/csv_bench
	./$(BUILD)/tests/bench/predict_bench

clean:
	rm -rf $(BUILD) $(DEMO_BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(RELEASE_BUILD)
