# qbench build. `make` builds ./qbench; `make test`, `make bench`, `make sweep`;
# `make test SANITIZER=address` (or undefined); `make test T=npy` runs the
# test binaries whose name contains "npy", `F=pattern` filters test cases.
# Every target first installs missing Debian packages (scripts/deps.sh).

CC       ?= cc
OPT      ?= -O2
SANITIZER ?=
WERROR   ?=
T        ?=
F        ?=

ifeq ($(SANITIZER),)
BUILD := build/release
else
BUILD := build/$(SANITIZER)
SAN_FLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

GEN := $(BUILD)/gen
INCLUDES := -I. -Icommon -Iquantizers -Iworkloads -Iworkloads/kernels -Ibench -Ireports -Iplots -I$(GEN)
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) $(OPT) -g -pthread $(SAN_FLAGS) $(INCLUDES)
LDLIBS := -lcsv -lhwloc -lpapi -lsde -lopenblas -ldnnl -lgomp -lprotobuf-c -lz -lm -lpthread
LDFLAGS := -pthread $(SAN_FLAGS)

# Each ISA variant lives in its own file, compiled with its own flags and
# chosen at run time after a cpuid/XGETBV check (never by the base build).
ISA_avx2   := -mavx2 -mfma -mf16c -mbmi2
ISA_avx512 := -mavx2 -mfma -mf16c -mbmi2 -mavx512f -mavx512bw -mavx512vl -mavx512dq \
              -mavx512vnni -mavx512bf16 -mavx512vpopcntdq -mavx512bitalg -mavx512vbmi

SRC_DIRS := common quantizers workloads workloads/kernels bench reports plots
ALL_SRCS := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))
MAIN_SRC := bench/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(ALL_SRCS))
ONNX_PROTO := /usr/include/onnx/onnx.proto
GEN_SRCS := $(GEN)/onnx.pb-c.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(GEN)/onnx.pb-c.o $(GEN)/plot_templates.o
LIB := $(BUILD)/libqbench.a
BIN := $(BUILD)/qbench

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))
TEST_SUPPORT_OBJS := $(TEST_SUPPORT:%.c=$(BUILD)/%.o)
BENCH_SRCS := $(wildcard bench/perf/*.c)

DEPS_OK := $(shell scripts/deps.sh --quiet >&2 || echo fail)
ifeq ($(DEPS_OK),fail)
$(error missing Debian packages could not be installed; see the message above, or run 'make deps')
endif

.PHONY: all deps test bench sweep clean tests FORCE
.SECONDARY:
all: qbench

qbench: $(BIN)
ifeq ($(SANITIZER),)
	@cp $(BIN) qbench
endif

$(BIN): $(BUILD)/bench/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(GEN)
	cp $(ONNX_PROTO) $(GEN)/onnx.proto
	cd $(GEN) && protoc-c --c_out=. onnx.proto

$(GEN)/onnx.pb-c.o: $(GEN)/onnx.pb-c.c
	$(CC) $(CFLAGS_BASE) -w -c -o $@ $<

# The gnuplot templates (plots/*.gp) are compiled in: qbench needs no data files.
PLOT_TEMPLATES := $(sort $(wildcard plots/*.gp))
$(GEN)/plot_templates.c: $(PLOT_TEMPLATES) scripts/embed-templates.sh
	@mkdir -p $(GEN)
	scripts/embed-templates.sh $(PLOT_TEMPLATES) > $@.tmp && mv $@.tmp $@

$(GEN)/plot_templates.o: $(GEN)/plot_templates.c
	$(CC) $(CFLAGS_BASE) -MMD -MP -c -o $@ $<

$(BUILD)/%_avx2.o: ISA_FLAGS = $(ISA_avx2)
$(BUILD)/%_avx512.o: ISA_FLAGS = $(ISA_avx512)

# version.c carries the git commit and build flags, so it is always rebuilt.
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
$(BUILD)/common/version.o: ISA_FLAGS = -DQB_VERSION='"$(VERSION)"' -DQB_GIT_COMMIT='"$(GIT_COMMIT)"' \
	-DQB_CFLAGS='"$(strip $(OPT) $(SAN_FLAGS))"'
$(BUILD)/common/version.o: FORCE
FORCE:
# the default sweep spec is embedded with .incbin
$(BUILD)/bench/spec_default.o: bench/default.ini

$(BUILD)/%.o: %.c | $(GEN)/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(ISA_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_SUPPORT_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

tests: $(TEST_BINS) $(BIN)

test: qbench tests
	@QBENCH_BIN=$(abspath $(BIN)) QBENCH_ROOT=$(CURDIR) scripts/run-tests.sh "$(BUILD)/tests" "$(T)" "$(F)"

bench: qbench
	@scripts/bench.sh $(BIN)

sweep: qbench
	./qbench sweep
	@if ./qbench report --help >/dev/null 2>&1; then ./qbench report results/latest; \
	else echo "make sweep: this qbench has no 'report' command yet; the run is in results/latest"; fi

deps:
	@scripts/deps.sh

clean:
	rm -rf build qbench

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
