# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make            build everything into build/
# make deps       install the Debian packages the build and tests need (root)
# make check      unit tests, the same under ASan+UBSan, the scenarios in the
#                 simulator, then the daemon end to end (bus, metrics, install,
#                 egress), and every scenario on a real kernel under QEMU
# make bench      benchmarks that print figures
# make demo       the main job: schedd on a real cgroup v2 kernel under QEMU
# make check-demo the same as a test; make check-fresh: the two commands above on a
#                 fresh Debian 12 root file system (tests/fresh/run)
# make demo-sim   the scheduler's decisions on a simulated host

BUILD    ?= build
CC       ?= gcc
# Extra flags for a sanitizer build (see check-asan).
SAN      ?=
OPT      ?= -O2 -g

PKGS      := libsystemd yaml-0.1 inih libbpf libmicrohttpd
TEST_PKGS := criterion

# What depends on installed packages is asked for when a recipe first needs it, once, never
# while the Makefile is read: on a fresh machine `deps` (an order-only prerequisite of every
# object) installs the -dev packages first, in the same run. $(call lazy,VAR,COMMAND) makes
# VAR the output of COMMAND, run at VAR's first expansion.
lazy = $(eval $(1) = $$(eval $(1) := $$$$(shell $(2)))$$($(1)))
$(call lazy,PKG_CFLAGS,pkg-config --cflags $(PKGS))
$(call lazy,PKG_LIBS,pkg-config --libs $(PKGS))
$(call lazy,TEST_CFLAGS,pkg-config --cflags $(TEST_PKGS))
$(call lazy,TEST_LIBS,pkg-config --libs $(TEST_PKGS))

CFLAGS   = -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. $(OPT) $(SAN) $(PKG_CFLAGS)
LDFLAGS  = $(SAN)
LDLIBS   = $(PKG_LIBS) -lm

# The pure core: policy language and scheduler (and the weights of the cgroups above
# the VMs), shared by every program.
CORE_SRC := $(wildcard policy/*.c) schedd/bucket.c schedd/alloc.c schedd/sched.c schedd/hierarchy.c
# The simulated host behind schedsim.
SIM_SRC  := $(wildcard tools/sim/*.c)
# The daemon's I/O side (config, cgroup files, event loop); schedd.c holds main().
DAEMON_SRC := $(filter-out schedd/schedd.c $(CORE_SRC),$(wildcard schedd/*.c))

# Objects live under obj/: build/schedd is the daemon, so build/schedd/ cannot be a directory of objects.
OBJ := $(BUILD)/obj
CORE_OBJ := $(CORE_SRC:%.c=$(OBJ)/%.o)
SIM_OBJ  := $(SIM_SRC:%.c=$(OBJ)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(OBJ)/%.o)

# The egress eBPF program and its skeleton (schedd/egress.c includes it).
include bpf/Makefile.inc

TOOLS := $(if $(wildcard schedd/schedd.c),$(BUILD)/schedd) $(BUILD)/schedsim $(BUILD)/schedctl $(BUILD)/bench-core
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test-*.c))

.PHONY: all deps check check-format check-unit check-asan check-scenarios check-demo check-fresh bench demo demo-sim clean format
.DEFAULT_GOAL := all

all: $(TOOLS) $(TESTS)

$(OBJ)/%.o: %.c | deps
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

# schedctl is schedctl.c plus its parts, tools/schedctl-*.c.
SCHEDCTL_OBJ := $(patsubst %.c,$(OBJ)/%.o,tools/schedctl.c $(wildcard tools/schedctl-*.c))

$(BUILD)/schedctl: $(SCHEDCTL_OBJ) $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench-core: $(OBJ)/tools/bench-core.o $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench-tick-floor: $(OBJ)/tools/bench-tick-floor.o
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%.o: tests/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libdaemon.a $(BUILD)/libsim.a $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(TEST_LIBS)

deps:
	@tools/install-deps

# Unit tests, then the same built with sanitizers, then the scenarios in the
# simulator, then the daemon end to end on this machine: the bus and schedctl,
# the metrics endpoint, make install.
check: deps
	$(MAKE) check-format
	$(MAKE) check-man
	$(MAKE) check-unit
	$(MAKE) check-asan
	$(MAKE) check-fuzz
	$(MAKE) check-scenarios
	$(MAKE) check-bus
	$(MAKE) check-metrics
	$(MAKE) check-install
	$(MAKE) check-net
	$(MAKE) check-net-daemon
	$(MAKE) check-net-guest
	$(MAKE) check-vm
	$(MAKE) check-vm-metrics
	$(MAKE) check-fresh

check-unit: $(TESTS)
	@tests/run-unit $(TESTS)

check-asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check-unit

check-scenarios: $(BUILD)/schedsim
	@tests/run-scenarios $(BUILD)/schedsim tests/scenarios

bench: $(BUILD)/bench-core $(BUILD)/schedd $(BUILD)/bench-tick-floor
	$(BUILD)/bench-core
	tools/bench-daemon
	$(MAKE) bench-bus
	$(MAKE) bench-metrics
	$(MAKE) bench-egress
	$(MAKE) bench-vm

# The main job on a real kernel: schedd on etc/policy.yaml in Debian's kernel
# under QEMU, a live table, then the static baseline (tools/demo).
demo: deps $(BUILD)/schedd
	@BUILD=$(BUILD) tools/demo

# The demo as a test (about a minute): it must finish, every VM within the real-kernel
# tier's tolerance of its promise under schedd, the static baseline off by more than twice
# that, the cgroup files back after schedd stops. Not in make check yet: db, held at its
# entitlement by cpu.max from 6 to 12 s, gets 0.026-0.051 less than its 0.667 in the
# emulated guest, so the check failed 1 of 5 quiet runs (make check-fresh still runs
# `make demo`, which must finish).
check-demo: deps $(BUILD)/schedd
	@VM_LIVE=0 BUILD=$(BUILD) tools/demo --check

# The fresh-machine test (part of make check, last; about N minutes): a Debian 12 minbase
# root file system from the archive, a clean clone of HEAD, and `make demo` and `make check`
# run there in a chroot from nothing installed (tests/fresh/run).
check-fresh:
	@tests/fresh/run

# The same ideas on the simulated host, in a second.
demo-sim: deps $(BUILD)/schedsim
	@$(BUILD)/schedsim --table etc/demo-scenario.yaml

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Every C file as .clang-format has it (part of make check); `make format` fixes them.
check-format: deps
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h') && echo "check-format: every C file formatted"

# ---- Metrics, and installing schedd as a service ---------------------------
#
# make check-metrics   the endpoint on a live schedd: promtool, a Prometheus
#                      server, bad requests while ticking (tests/metrics/run)
# make check-install   make install into scratch trees, twice (tests/install/run)
# make bench-metrics   scrape cost and tick timing with 10 to 1,000 VMs
# make install         DESTDIR= and PREFIX= (default /usr/local): binaries in
#                      $(SBINDIR) and $(BINDIR), units in $(UNITDIR) (systemd
#                      reads /usr/local/lib/systemd/system too), configuration
#                      in $(SYSCONFDIR)/schedd: schedd.conf and policy.yaml only
#                      where missing, the shipped ones always as *.example.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
# dbus-daemon reads bus policies from /usr/share/dbus-1/system.d and
# /etc/dbus-1/system.d only; activation files from $(DATADIR) too.
DBUS_POLICYDIR  ?= $(if $(filter /usr,$(PREFIX)),$(DATADIR)/dbus-1/system.d,$(SYSCONFDIR)/dbus-1/system.d)
DBUS_SERVICEDIR ?= $(DATADIR)/dbus-1/system-services
INSTALL ?= install

.PHONY: check-metrics check-install bench-metrics install

all: $(BUILD)/bench-metrics

$(BUILD)/bench-metrics: $(OBJ)/tools/bench-metrics.o $(BUILD)/libdaemon.a $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

check-metrics: $(BUILD)/schedd $(BUILD)/tests/test-metrics $(BUILD)/tests/test-metrics-http
	@tests/run-unit $(BUILD)/tests/test-metrics $(BUILD)/tests/test-metrics-http
	@tests/metrics/run $(BUILD)/schedd

check-install: $(BUILD)/schedd $(BUILD)/schedctl
	@tests/install/run $(BUILD)

bench-metrics: $(BUILD)/bench-metrics
	$(BUILD)/bench-metrics

install: $(BUILD)/schedd $(BUILD)/schedctl
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/schedd/policy.d $(DESTDIR)$(DATADIR)/doc/schedd
	$(INSTALL) -m 0755 $(BUILD)/schedd $(DESTDIR)$(SBINDIR)/schedd
	$(INSTALL) -m 0755 $(BUILD)/schedctl $(DESTDIR)$(BINDIR)/schedctl
	sed 's|^ExecStart=/usr/local/sbin/schedd|ExecStart=$(SBINDIR)/schedd|' etc/schedd.service \
		>$(DESTDIR)$(UNITDIR)/schedd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/schedd.service
	$(INSTALL) -m 0644 etc/schedd.socket $(DESTDIR)$(UNITDIR)/schedd.socket
	@for f in schedd.conf policy.yaml; do \
		$(INSTALL) -m 0644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/schedd/$$f.example || exit 1; \
		if [ -e $(DESTDIR)$(SYSCONFDIR)/schedd/$$f ]; then \
			echo "keeping $(DESTDIR)$(SYSCONFDIR)/schedd/$$f (the shipped one is $$f.example)"; \
		else \
			echo "$(INSTALL) -m 0644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/schedd/$$f"; \
			$(INSTALL) -m 0644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/schedd/$$f || exit 1; \
		fi; \
	done
	@for f in etc/dbus-1/*.conf; do \
		[ -e "$$f" ] || continue; \
		$(INSTALL) -d $(DESTDIR)$(DBUS_POLICYDIR) && \
		$(INSTALL) -m 0644 $$f $(DESTDIR)$(DBUS_POLICYDIR)/ && echo "installed $$f in $(DBUS_POLICYDIR)" || exit 1; \
	done
	@for f in etc/dbus-1/*.service; do \
		[ -e "$$f" ] || continue; \
		$(INSTALL) -d $(DESTDIR)$(DBUS_SERVICEDIR) && \
		$(INSTALL) -m 0644 $$f $(DESTDIR)$(DBUS_SERVICEDIR)/ && echo "installed $$f in $(DBUS_SERVICEDIR)" || exit 1; \
	done
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DATADIR)/doc/schedd/README.md
	$(INSTALL) -m 0644 etc/doc/*.md $(DESTDIR)$(DATADIR)/doc/schedd/
	$(MAKE) --no-print-directory install-man

# ---- The D-Bus interface and schedctl --------------------------------------
#
# make check-bus   schedctl end to end: a private dbus-daemon with the shipped
#                  bus policy, schedd on a fake cgroup tree (tests/bus/run)
# make bench-bus   bus round trips with 1,000 VMs, and `schedctl set` to the
#                  new cpu.max (tools/bench-bus)

.PHONY: check-bus bench-bus

$(BUILD)/bench-bus-client: $(OBJ)/tools/bench-bus-client.o
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

check-bus: $(BUILD)/schedd $(BUILD)/schedctl
	@tests/bus/run $(BUILD)

bench-bus: $(BUILD)/schedd $(BUILD)/schedctl $(BUILD)/bench-bus-client
	@tools/bench-bus $(BUILD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- The real-kernel tier (tests/vm/) -----------------------------------------
#
# make check-vm-examples  the worked examples of the promises alone, measured on
#                         Debian's kernel under QEMU
# make check-vm-metrics   the metrics of a bursting VM there (part of make check)
# make check-vm-control   `schedctl set` and `move` steps there, schedd and schedctl
#                         on a private bus in the guest (in make check through check-vm)
# make check-vm           every scenario of tests/scenarios there, the worked
#                         examples among them (part of make check)
# make bench-vm           the daemon's own cost in the guest
#
# Both run schedd with a 100 ms tick: under software emulation a 10 ms tick
# costs the guest several percent of its CPU and its accounting arrives in
# lumps, which the measurements would show instead of the scheduler.
VM_TICK ?= 100ms

.PHONY: check-vm check-vm-examples check-vm-metrics check-vm-control bench-vm

# /metrics on the real kernel: a VM's tokens fall and its held time rises as it
# spends its burst (tests/vm/metrics-guest).
check-vm-metrics: $(BUILD)/schedd
	@tools/install-vm-deps
	@tests/vm/metrics-guest; rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "check-vm-metrics: SKIP: no guest can run here"; rc=0; fi; exit $$rc

check-vm-examples: $(BUILD)/schedd $(BUILD)/schedsim
	@tools/install-vm-deps
	@d=$$(mktemp -d); cp tests/scenarios/example-*.yaml "$$d"/; \
	tests/vm/run-all --tick $(VM_TICK) "$$d"; rc=$$?; rm -rf "$$d"; \
	if [ $$rc -eq 77 ]; then echo "check-vm-examples: SKIP: no guest can run here"; rc=0; fi; exit $$rc

# The control plane on the real kernel: the scenarios with schedctl and move steps.
VM_CONTROL_SCENARIOS := tests/scenarios/schedctl-set.yaml tests/scenarios/move.yaml

check-vm-control: $(BUILD)/schedd $(BUILD)/schedsim $(BUILD)/schedctl
	@tools/install-vm-deps
	@tests/vm/run-scenario --check --tick $(VM_TICK) $(VM_CONTROL_SCENARIOS); rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "check-vm-control: SKIP: no guest can run here"; rc=0; fi; exit $$rc

check-vm: $(BUILD)/schedd $(BUILD)/schedsim $(BUILD)/schedctl
	@tools/install-vm-deps
	@tests/vm/run-all --tick $(VM_TICK); rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "check-vm: SKIP: no guest can run here"; rc=0; fi; exit $$rc

bench-vm: $(BUILD)/schedd $(BUILD)/bench-tick-floor
	@tests/vm/bench-daemon
include tests/systemd/Makefile.inc
include tests/fuzz/Makefile.inc
include etc/man/Makefile.inc
