# klabel: one entry point for building, testing and running.
#
#   make deps        install the Debian packages (apt-get, does nothing if present)
#   make             build build/klabel and build/libklabel.a
#   make test        deps + build + unit tests + integration tests on a real broker
#   make unit        Criterion unit tests only
#   make integration integration tests only (starts a real Kafka broker)
#   make demo        deps + build + the embedded demo (no broker needed)
#   make stack       the compose topology natively on a real broker
#   make SANITIZE=address,undefined ...   sanitizer build (into build-san/)

CC      ?= gcc
PKGS    := rdkafka avro-c openblas libcjson libutf8proc
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Iinclude -Iplugin -MMD -MP
LDLIBS  := -pthread -lm

ifneq ($(SANITIZE),)
BUILD   ?= build-san
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD   ?= build
endif

# pkg-config is asked only when building, so `make deps` works on a bare machine.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CRIT_LIBS  = $(shell pkg-config --libs criterion 2>/dev/null)

ENGINE_SRC := $(wildcard engine/*.c)
PLUGIN_SRC := $(filter-out plugin/main.c,$(wildcard plugin/*.c))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
PLUGIN_OBJ := $(PLUGIN_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

DATA_DIR   ?= .cache/data
THUCNEWS   := $(DATA_DIR)/thucnews.tsv

.PHONY: all deps test unit integration demo stack data clean fuzz
all: $(BUILD)/klabel $(BUILD)/libklabel.a

deps:
	@bash scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/libklabel.a: $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/libklabel-plugin.a: $(PLUGIN_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/klabel: $(BUILD)/plugin/main.o $(BUILD)/libklabel-plugin.a $(BUILD)/libklabel.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libklabel-plugin.a $(BUILD)/libklabel.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(CRIT_LIBS) $(PKG_LIBS) $(LDLIBS)

data: $(THUCNEWS)
$(THUCNEWS):
	bash tests/data/fetch.sh thucnews

# Unit tests: every Criterion binary runs; the target fails if any fails.
unit: $(UNIT_BIN) data
	@fail=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; KL_DATA_DIR=$(DATA_DIR) ./$$t --jobs 2 || fail=1; \
	done; exit $$fail

integration: all data
	KL_BIN=$(BUILD)/klabel KL_DATA_DIR=$(DATA_DIR) bash tests/integration/run.sh

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

demo: deps
	$(MAKE) all data
	./$(BUILD)/klabel demo --data $(THUCNEWS)

stack: deps
	$(MAKE) all data
	KL_BIN=$(BUILD)/klabel KL_DATA_DIR=$(DATA_DIR) bash compose/stack.sh

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
