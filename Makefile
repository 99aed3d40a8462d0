# herd: two commands.
#   make demo   installs what is missing, builds, runs the demo job
#   make test   installs what is missing, builds, runs every test suite
# Other targets: build, bench, fuzz (FUZZ_SECONDS=300 per target), clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
PY         ?= /usr/bin/python3

# Debian packages, by what needs them (DESIGN.md section 9).
BUILD_PACKAGES := gcc pkg-config meson ninja-build libxgboost-dev libcjson-dev zlib1g-dev
TEST_PACKAGES  := $(BUILD_PACKAGES) libcmocka-dev valgrind binutils locales clang \
                  libclang-rt-14-dev python3 python3-numpy \
                  python3-pandas python3-xgboost
BENCH_PACKAGES := $(BUILD_PACKAGES) libcmocka-dev python3 python3-numpy python3-pandas \
                  python3-xgboost python3-joblib

.PHONY: all build demo test bench fuzz clean deps-build deps-test deps-bench

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

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	  -Dc_args=-fno-sanitize-recover=all -Dbenchmarks=false -Dexamples=false

# Fuzz targets: clang with libFuzzer; the library is instrumented too.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false -Dexamples=false \
	  -Dbenchmarks=false -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all'

build: deps-build $(BUILD)/build.ninja
	meson compile -C $(BUILD)

demo: build
	./$(BUILD)/examples/herd-demo

# Every suite: native, then the same under ASan+UBSan, then `unit` under
# valgrind.  Each run keeps going after a failure so the summary covers all.
test: deps-test $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja $(FUZZ_BUILD)/build.ninja
	meson compile -C $(BUILD)
	meson compile -C $(ASAN_BUILD)
	meson compile -C $(FUZZ_BUILD)
	@rm -f $(BUILD)/meson-logs/testlog*.json $(ASAN_BUILD)/meson-logs/testlog*.json \
	  $(FUZZ_BUILD)/meson-logs/testlog*.json
	-meson test -C $(BUILD) --print-errorlogs
	-ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs
	-meson test -C $(BUILD) --setup valgrind --suite unit --print-errorlogs
	-meson test -C $(FUZZ_BUILD) --suite fuzz --print-errorlogs
	@$(PY) tests/tools/summarize.py \
	  native=$(BUILD)/meson-logs/testlog.json \
	  asan=$(ASAN_BUILD)/meson-logs/testlog.json \
	  valgrind=$(BUILD)/meson-logs/testlog-valgrind.json \
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

bench: deps-bench build
	./$(BUILD)/tests/bench/csv_bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
