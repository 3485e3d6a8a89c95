# libmotan — GNU make only. `make help` lists the targets.
#
# Only `check`, `demo` and `deps` install packages (scripts/deps.sh, then make is re-entered
# so pkg-config sees what was just installed); `make`, `make install` and `make uninstall`
# never do. For packagers: CFLAGS, CPPFLAGS and LDFLAGS are honoured (added after ours),
# WITH_ZOOKEEPER=0 / WITH_CONSUL=0 leave those registries out, DESTDIR/PREFIX/LIBDIR place
# the install.

SHELL := /bin/bash
.DEFAULT_GOAL := all

VERSION := $(shell sed -n 's/^\#define MOTAN_VERSION_STRING "\(.*\)"/\1/p' include/motan/version.h)
# The SONAME follows the ABI major, not the product version (include/motan/version.h).
ABI     := $(shell sed -n 's/^\#define MOTAN_ABI_MAJOR \([0-9]*\)/\1/p' include/motan/version.h)

BUILD   ?= build
CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  ?= lib
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
WITH_ZOOKEEPER ?= 1
WITH_CONSUL    ?= 1

# ---- dependencies -------------------------------------------------------------------------
# Debian 12 ships msgpack.pc (-lmsgpackc); newer upstreams call it msgpack-c.pc.
MSGPACK_PC := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PC_DEPS    := libevent jansson zlib $(MSGPACK_PC)
DEP_CFLAGS := $(shell pkg-config --cflags $(PC_DEPS) 2>/dev/null)
# Debian's ZooKeeper C client has no .pc file.
ZK_LIBS    := $(if $(filter 1,$(WITH_ZOOKEEPER)),-lzookeeper_st)
DEP_LIBS   := $(shell pkg-config --libs $(PC_DEPS) 2>/dev/null) $(ZK_LIBS) -lpthread -lm
# The agent alone parses YAML (Debian libyaml-dev); the library does not depend on it.
YAML_CFLAGS := $(shell pkg-config --cflags yaml-0.1 2>/dev/null)
YAML_LIBS   := $(shell pkg-config --libs yaml-0.1 2>/dev/null || echo -lyaml)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

# ---- flags --------------------------------------------------------------------------------
# CFLAGS (default: OPT), CPPFLAGS and LDFLAGS are the caller's and come after ours.
WARN     := -Wall -Wextra -Werror -pedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT      ?= -O2 -g
CFLAGS   ?= $(OPT)
FEATURES := -DMOTAN_WITH_ZOOKEEPER=$(if $(filter 1,$(WITH_ZOOKEEPER)),1,0) \
            -DMOTAN_WITH_CONSUL=$(if $(filter 1,$(WITH_CONSUL)),1,0)
CFLAGS_BASE := -std=c11 $(WARN) -D_GNU_SOURCE -Iinclude -Ilib $(DEP_CFLAGS)
LIB_CFLAGS  := $(CFLAGS_BASE) -fPIC -fvisibility=hidden -DMOTAN_BUILDING $(FEATURES) $(CPPFLAGS) \
               $(CFLAGS) $(EXTRA_CFLAGS)
APP_CFLAGS  := $(CFLAGS_BASE) -Itests/support/lib $(FEATURES) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL := $(LDFLAGS) $(EXTRA_LDFLAGS)

# ---- sources ------------------------------------------------------------------------------
# One folder per layer, in dependency order; a new layer is a new word here.
LAYERS    := core codec observe transport cluster registry client server
# Sources left out by WITH_ZOOKEEPER=0 / WITH_CONSUL=0 (and the suites that need them).
OPTIONAL_SRCS := $(if $(filter 1,$(WITH_ZOOKEEPER)),,lib/registry/zookeeper.c $(wildcard lib/registry/zk_*.c) \
                     tests/integration/test_zookeeper.c) \
                 $(if $(filter 1,$(WITH_CONSUL)),,$(wildcard lib/registry/consul*.c) \
                     tests/integration/test_registry_consul.c tests/integration/test_consul_edges.c)
LIB_SRCS  := $(filter-out $(OPTIONAL_SRCS),$(foreach l,$(LAYERS),$(sort $(wildcard lib/$(l)/*.c))))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_SRCS  := $(sort $(wildcard tools/motan/*.c))
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
AGENT_SRCS := $(sort $(wildcard tools/motan-agent/*.c))
AGENT_OBJS := $(AGENT_SRCS:%.c=$(BUILD)/obj/%.o)
SRV_SRCS  := $(sort $(wildcard tests/support/server/*.c))
SRV_OBJS  := $(SRV_SRCS:%.c=$(BUILD)/obj/%.o)
TSUP_SRCS := $(sort $(wildcard tests/support/lib/*.c))
TSUP_OBJS := $(TSUP_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
INTEG_SRCS := $(filter-out $(OPTIONAL_SRCS),$(sort $(wildcard tests/integration/test_*.c)))
INTEG_BINS := $(INTEG_SRCS:tests/integration/%.c=$(BUILD)/tests/%)
# C suites of the CLI's own parts: linked with the CLI's objects except its main().
CLI_TEST_SRCS := $(sort $(wildcard tests/cli/test_*.c))
CLI_TEST_BINS := $(CLI_TEST_SRCS:tests/cli/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

STATIC_LIB := $(BUILD)/lib/libmotan.a
# libmotan.so.<ABI>.<product version>, SONAME libmotan.so.<ABI>.
SONAME     := libmotan.so.$(ABI)
SHARED_LIB := $(BUILD)/lib/$(SONAME).$(VERSION)
CLI        := $(BUILD)/bin/motan
AGENT      := $(BUILD)/bin/motan-agent
TEST_SERVER := $(BUILD)/bin/motan-test-server

# ---- main build ---------------------------------------------------------------------------
.PHONY: all lib tools examples
all: lib tools $(TEST_SERVER)
lib: $(STATIC_LIB) $(SHARED_LIB) $(BUILD)/lib/$(SONAME) $(BUILD)/lib/libmotan.so
tools: $(CLI) $(AGENT)
examples: $(EXAMPLE_BINS)

$(BUILD)/obj/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# -z nodelete: an interpreter that unloads the library at exit (PHP's FFI dlcloses it at
# module shutdown) must not unmap the code its loop threads are still running, nor, in the
# ASan build, the ASan runtime it brought in under its own atexit handler.
$(SHARED_LIB): $(LIB_OBJS) lib/libmotan.map
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libmotan.map \
	    -Wl,--no-undefined -Wl,-z,nodelete $(LDFLAGS_ALL) -o $@ $(LIB_OBJS) $(DEP_LIBS)

$(BUILD)/lib/$(SONAME): $(SHARED_LIB)
	ln -sf $(notdir $<) $@
$(BUILD)/lib/libmotan.so: $(BUILD)/lib/$(SONAME)
	ln -sf $(notdir $<) $@

$(CLI): $(CLI_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJS) $(STATIC_LIB) $(DEP_LIBS)

$(BUILD)/obj/tools/motan-agent/%.o: tools/motan-agent/%.c
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) $(YAML_CFLAGS) -MMD -MP -c $< -o $@

$(AGENT): $(AGENT_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $(AGENT_OBJS) $(STATIC_LIB) $(YAML_LIBS) $(DEP_LIBS)

# The agent's HTTP/1.1 answer parser on its own: its unit suite links the parser's object.
$(BUILD)/tests/test_agent_http1: tests/unit/test_agent_http1.c $(BUILD)/obj/tools/motan-agent/http1.o \
    $(TSUP_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) $(CHECK_CFLAGS) -Itools/motan-agent -MMD -MP $(LDFLAGS_ALL) -o $@ $< \
	    $(BUILD)/obj/tools/motan-agent/http1.o $(TSUP_OBJS) $(STATIC_LIB) $(CHECK_LIBS) $(DEP_LIBS)

$(TEST_SERVER): $(SRV_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $(SRV_OBJS) $(STATIC_LIB) $(DEP_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(TSUP_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) $(CHECK_CFLAGS) -MMD -MP $(LDFLAGS_ALL) -o $@ $< $(TSUP_OBJS) $(STATIC_LIB) $(CHECK_LIBS) $(DEP_LIBS)

$(BUILD)/tests/%: tests/integration/%.c $(TSUP_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) $(CHECK_CFLAGS) -MMD -MP $(LDFLAGS_ALL) -o $@ $< $(TSUP_OBJS) $(STATIC_LIB) $(CHECK_LIBS) $(DEP_LIBS)

$(BUILD)/tests/%: tests/cli/%.c $(filter-out %/main.o,$(CLI_OBJS)) $(TSUP_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) $(CHECK_CFLAGS) -Itools/motan -MMD -MP $(LDFLAGS_ALL) -o $@ $< \
	    $(filter-out %/main.o,$(CLI_OBJS)) $(TSUP_OBJS) $(STATIC_LIB) $(CHECK_LIBS) $(DEP_LIBS)

$(BUILD)/bench/%: bench/%.c $(TSUP_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(APP_CFLAGS) -MMD -MP $(LDFLAGS_ALL) -o $@ $< $(TSUP_OBJS) $(STATIC_LIB) $(DEP_LIBS)

# Examples link like an outside user would: public headers and the shared library only.
$(BUILD)/examples/%: examples/%.c $(SHARED_LIB) $(BUILD)/lib/libmotan.so
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -D_GNU_SOURCE -Iinclude $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) \
	    $(LDFLAGS_ALL) -o $@ $< \
	    -L$(BUILD)/lib -lmotan -Wl,-rpath,$(abspath $(BUILD)/lib) $(DEP_LIBS)

-include $(shell find $(BUILD)/obj $(BUILD)/tests $(BUILD)/bench -name '*.d' 2>/dev/null)

# ---- dependencies installer ---------------------------------------------------------------
.PHONY: deps
deps:
	@scripts/deps.sh

# ---- tests --------------------------------------------------------------------------------
# `make check`: install what is missing, build, run every suite (scripts/check.sh).
.PHONY: check check-run unit integration
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all examples $(UNIT_BINS) $(INTEG_BINS) $(CLI_TEST_BINS) \
	    $(BENCH_BINS)
	@$(MAKE) --no-print-directory check-run

check-run:
	@BUILD=$(BUILD) scripts/check.sh

unit: all $(UNIT_BINS)
	@BUILD=$(BUILD) scripts/run-suites.sh unit

integration: all $(INTEG_BINS)
	@BUILD=$(BUILD) scripts/run-suites.sh integration

# ---- sanitizers ---------------------------------------------------------------------------
# docs/sanitizers.md: what each runs, how long it takes, how to run one suite alone.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
.PHONY: asan tsan valgrind sweep-valgrind
asan:
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build-asan OPT="-O1 -g" \
	    EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" all examples \
	    $(UNIT_BINS:$(BUILD)/%=build-asan/%) $(INTEG_BINS:$(BUILD)/%=build-asan/%) \
	    $(CLI_TEST_BINS:$(BUILD)/%=build-asan/%)
	@BUILD=build-asan MOTAN_SANITIZER=asan scripts/run-suites.sh all

tsan:
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build-tsan OPT="-O1 -g" \
	    EXTRA_CFLAGS="-fsanitize=thread" EXTRA_LDFLAGS="-fsanitize=thread" all examples \
	    $(INTEG_BINS:$(BUILD)/%=build-tsan/%)
	@BUILD=build-tsan MOTAN_SANITIZER=tsan scripts/run-suites.sh tsan

valgrind:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(INTEG_BINS)
	@BUILD=$(BUILD) MOTAN_SANITIZER=valgrind scripts/run-suites.sh valgrind valgrind-registry valgrind-server valgrind-agent valgrind-edges

# The allocation-failure sweep (every k) under memcheck (about 15 s); make check runs it plain.
sweep-valgrind:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/tests/test_alloc_sweep
	@BUILD=$(BUILD) MOTAN_SANITIZER=valgrind scripts/run-suites.sh sweep-valgrind

# ---- fuzzing (clang + libFuzzer) ----------------------------------------------------------
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/fuzz/%)
FUZZ_SECONDS ?= 16
.PHONY: fuzz fuzz-build fuzz-long
fuzz-build:
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build-fuzz CC=clang OPT="-O1 -g" \
	    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	    build-fuzz/lib/libmotan.a $(FUZZ_BINS)

build-fuzz/fuzz/%: tests/fuzz/%.c build-fuzz/lib/libmotan.a
	@mkdir -p $(@D)
	clang $(CFLAGS_BASE) $(FEATURES) $(OPT) -Wno-strict-prototypes -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	    -o $@ $< build-fuzz/lib/libmotan.a $(DEP_LIBS)

# The agent's HTTP/1.1 answer parser is fuzzed from its source (it is not in the library).
build-fuzz/fuzz/fuzz_http1: tests/fuzz/fuzz_http1.c tools/motan-agent/http1.c build-fuzz/lib/libmotan.a
	@mkdir -p $(@D)
	clang $(CFLAGS_BASE) $(FEATURES) $(OPT) -Itools/motan-agent -Wno-strict-prototypes -fsanitize=fuzzer,address,undefined \
	    -fno-omit-frame-pointer -o $@ $< tools/motan-agent/http1.c build-fuzz/lib/libmotan.a $(DEP_LIBS)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh short

fuzz-long: fuzz-build
	@scripts/fuzz.sh long

# ---- benchmarks ---------------------------------------------------------------------------
.PHONY: bench bench-codec bench-e2e bench-cluster bench-stalled bench-filters bench-scale bench-bindings bench-server \
    bench-agent bench-file
bench: bench-codec bench-e2e bench-cluster bench-stalled bench-filters bench-scale bench-bindings bench-server \
    bench-agent bench-file

bench-codec:
	@$(MAKE) --no-print-directory -j$(JOBS) $(BUILD)/bench/codec
	@$(BUILD)/bench/codec

bench-e2e:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/e2e
	@$(BUILD)/bench/e2e

bench-cluster:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/cluster
	@$(BUILD)/bench/cluster

# docs/agent.md: the latency motan-agent adds, and one process per call (PHP-style).
bench-agent:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/agent
	@BUILD=$(BUILD) $(BUILD)/bench/agent

# docs/cluster.md: one stalled replica of eleven, per load balancer (under a minute).
bench-stalled:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/stalled
	@$(BUILD)/bench/stalled

# docs/observability.md: CPU per call with and without filters, 64 in flight.
bench-filters:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/filters
	@$(BUILD)/bench/filters

# 100 000-node lists swapped into a running client (BENCH_SCALE_NODES=N for another size).
bench-scale:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/scale
	@BUILD=$(BUILD) $(BUILD)/bench/scale

# docs/server.md: requests/s and server CPU per request, echo_server and motan-test-server.
bench-server:
	@$(MAKE) --no-print-directory -j$(JOBS) all examples $(BUILD)/bench/server
	@BUILD=$(BUILD) $(BUILD)/bench/server

# The file registry's rewrite of its services file: loop-thread time per register (BENCH_DIR).
bench-file:
	@$(MAKE) --no-print-directory -j$(JOBS) $(BUILD)/bench/file_registry
	@$(BUILD)/bench/file_registry

bench-bindings:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/bindings_c
	@BUILD=$(BUILD) scripts/bench-bindings.sh

# ---- demo, soak ---------------------------------------------------------------------------
.PHONY: demo soak
demo: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all examples
	@BUILD=$(BUILD) scripts/demo.sh

soak:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BUILD)/bench/soak >&2
	@BUILD=$(BUILD) scripts/soak.sh

# ---- install ------------------------------------------------------------------------------
PC_REQUIRES_PRIVATE := $(PC_DEPS)
PC_LIBS_PRIVATE := $(ZK_LIBS) -lpthread -lm
HEADERS := $(notdir $(wildcard include/motan/*.h))
.PHONY: install uninstall
install: lib
	install -d $(DESTDIR)$(PREFIX)/include/motan $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig
	install -m 644 include/motan/*.h $(DESTDIR)$(PREFIX)/include/motan/
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(PREFIX)/$(LIBDIR)/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(PREFIX)/$(LIBDIR)/
	ln -sf $(notdir $(SHARED_LIB)) $(DESTDIR)$(PREFIX)/$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/$(LIBDIR)/libmotan.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES_PRIVATE@|$(PC_REQUIRES_PRIVATE)|' -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' \
	    pkgconfig/libmotan.pc.in > $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig/libmotan.pc

# Removes what install put there (and nothing else: the directories stay unless empty).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/include/motan/,$(HEADERS))
	rm -f $(DESTDIR)$(PREFIX)/$(LIBDIR)/libmotan.a $(DESTDIR)$(PREFIX)/$(LIBDIR)/libmotan.so \
	    $(DESTDIR)$(PREFIX)/$(LIBDIR)/$(SONAME) $(DESTDIR)$(PREFIX)/$(LIBDIR)/$(notdir $(SHARED_LIB)) \
	    $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig/libmotan.pc
	-rmdir $(DESTDIR)$(PREFIX)/include/motan 2>/dev/null

# ---- housekeeping -------------------------------------------------------------------------
.PHONY: clean help
clean:
	rm -rf build build-asan build-tsan build-fuzz

help:
	@echo "make            build libmotan.a, libmotan.so, motan CLI, motan-agent, motan-test-server"
	@echo "make check      install missing packages, build, run every test"
	@echo "make demo       install missing packages, build, run the cluster demo"
	@echo "make asan|tsan|valgrind   test suites under sanitizers / memcheck"
	@echo "make sweep-valgrind       the allocation-failure sweep under memcheck"
	@echo "make fuzz       short libFuzzer runs (FUZZ_SECONDS=16); make fuzz-long: 10M execs each"
	@echo "make bench      bench-codec bench-e2e bench-cluster bench-stalled bench-filters bench-scale bench-bindings bench-server"
	@echo "                bench-agent bench-file"
	@echo "make soak       5-minute soak under injected faults"
	@echo "make examples   build examples/"
	@echo "make deps       install the Debian packages the targets above need (scripts/deps.sh)"
	@echo "make install PREFIX=/usr/local DESTDIR= LIBDIR=lib   (make uninstall: the same, removed)"
	@echo "options: CFLAGS CPPFLAGS LDFLAGS (honoured), WITH_ZOOKEEPER=0, WITH_CONSUL=0"
