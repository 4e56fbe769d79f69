# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make            build everything into build/
# make deps       install the Debian packages the build and tests need (root)
# make check      unit tests, the same under ASan+UBSan, then the scenarios
# make bench      benchmarks that print figures
# make demo       the main job: the scheduler on a simulated host

BUILD    ?= build
CC       ?= gcc
# Extra flags for a sanitizer build (see check-asan).
SAN      ?=
OPT      ?= -O2 -g

PKGS      := libsystemd yaml-0.1 inih libbpf
TEST_PKGS := criterion
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. $(OPT) $(SAN) $(PKG_CFLAGS)
LDFLAGS := $(SAN)
LDLIBS  := $(PKG_LIBS) -lm

# The pure core: policy language and scheduler, shared by every program.
CORE_SRC := $(wildcard policy/*.c) schedd/bucket.c schedd/alloc.c schedd/sched.c
# The simulated host behind schedsim.
SIM_SRC  := $(wildcard tools/sim/*.c)
# The daemon's I/O side (config, cgroup files, event loop); schedd.c holds main().
DAEMON_SRC := $(filter-out schedd/schedd.c $(CORE_SRC),$(wildcard schedd/*.c))

# Objects live under obj/: build/schedd is the daemon, so build/schedd/ cannot be a directory of objects.
OBJ := $(BUILD)/obj
CORE_OBJ := $(CORE_SRC:%.c=$(OBJ)/%.o)
SIM_OBJ  := $(SIM_SRC:%.c=$(OBJ)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(OBJ)/%.o)

TOOLS := $(if $(wildcard schedd/schedd.c),$(BUILD)/schedd) $(BUILD)/schedsim $(BUILD)/schedctl $(BUILD)/bench-core
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test-*.c))

.PHONY: all deps check check-unit check-asan check-scenarios bench demo clean format
.DEFAULT_GOAL := all

all: $(TOOLS) $(TESTS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcore.a: $(CORE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libsim.a: $(SIM_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libdaemon.a: $(DAEMON_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/schedd: $(OBJ)/schedd/schedd.o $(BUILD)/libdaemon.a $(BUILD)/libcore.a
	@if [ -d $@ ]; then rm -rf $@; fi # objects of older builds
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/schedsim: $(OBJ)/tools/schedsim.o $(BUILD)/libsim.a $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/schedctl: $(OBJ)/tools/schedctl.o $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench-core: $(OBJ)/tools/bench-core.o $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libdaemon.a $(BUILD)/libsim.a $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(TEST_LIBS)

deps:
	@tools/install-deps

# Unit tests, then the same built with sanitizers, then the scenarios.
check: deps
	$(MAKE) check-unit
	$(MAKE) check-asan
	$(MAKE) check-scenarios

check-unit: $(TESTS)
	@tests/run-unit $(TESTS)

check-asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check-unit

check-scenarios: $(BUILD)/schedsim
	@tests/run-scenarios $(BUILD)/schedsim tests/scenarios

bench: $(BUILD)/bench-core
	$(BUILD)/bench-core

demo: deps $(BUILD)/schedsim
	@$(BUILD)/schedsim --table etc/demo-scenario.yaml

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
