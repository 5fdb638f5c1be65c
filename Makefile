# mote — the two commands a fresh machine needs are `make run` and `make test`.
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PREFIX  ?= /usr/local

.PHONY: all setup build run test fuzz bench install clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: setup $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# Boots a demo program (a static hello built from tests/guest) as a unikernel.
run: build
	$(BUILD)/mote run $(BUILD)/tests/guest/hello.glibc-static hello from mote

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Builds every libFuzzer target (tests/fuzz) and runs each for FUZZ_TIME
# seconds from its seed corpus; prints executions per target and fails on
# any crash.
FUZZ_TIME ?= 60
fuzz: setup $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) --target fuzzers -- --no-print-directory
	@tests/fuzz/run_all.sh $(BUILD) $(FUZZ_TIME)

bench: build
	bench/run.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
