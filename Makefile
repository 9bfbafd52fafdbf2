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
LDLIBS  := -lstemmer -pthread -lm  # libstemmer ships no .pc file

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
JIEBA_DICT := $(DATA_DIR)/jieba-dict.txt

.PHONY: all deps test unit integration demo stack data clean fuzz bench-accuracy bench-explain
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

data: $(THUCNEWS) $(JIEBA_DICT)
$(JIEBA_DICT):
	bash tests/data/fetch.sh jieba
$(THUCNEWS):
	bash tests/data/fetch.sh thucnews

# Unit tests: every Criterion binary runs; the target fails if any fails.
unit: $(UNIT_BIN) data
	@fail=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; KL_DATA_DIR=$(DATA_DIR) ./$$t --jobs 2 || fail=1; \
	done; exit $$fail

integration: all data
	KL_BIN=$(BUILD)/klabel KL_DATA_DIR=$(DATA_DIR) bash tests/integration/run.sh

# The README's two commands: `make test` also runs the demo, so CI proves both.
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) demo
	$(MAKE) integration

demo: deps
	$(MAKE) all data
	./$(BUILD)/klabel demo --data $(THUCNEWS)

stack: deps
	$(MAKE) all data
	KL_BIN=$(BUILD)/klabel KL_DATA_DIR=$(DATA_DIR) bash compose/stack.sh

# Accuracy of `klabel train` vs fastText on 4 data sets x 3 seeds, and the
# per-event cost of explanations (THUCNews, batch 256, 1 thread).
bench-accuracy: all
	bash tests/data/fetch.sh all
	PY=$$(bash tests/ref/venv.sh) && $$PY tests/bench/accuracy.py --klabel $(BUILD)/klabel --data $(DATA_DIR)

$(BUILD)/bench_explain: tests/bench/bench_explain.c $(BUILD)/libklabel.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(PKG_LIBS) $(LDLIBS)

bench-explain: all $(BUILD)/bench_explain data
	head -n 9000 $(THUCNEWS) > $(BUILD)/thuc-train.tsv
	tail -n 1000 $(THUCNEWS) > $(BUILD)/thuc-test.tsv
	$(BUILD)/klabel train -q -i $(BUILD)/thuc-train.tsv -o $(BUILD)/thuc-explain.safetensors --epoch 5 --lr 0.5
	$(BUILD)/bench_explain $(BUILD)/thuc-explain.safetensors $(BUILD)/thuc-test.tsv 5 5

# Parity with the reference implementations (venv of tests/ref): the
# segmenter against jieba.lcut(text, HMM=False) on the THUCNews headlines.
.PHONY: parity
parity: all data
	PY=$$(bash tests/ref/venv.sh) && $$PY tests/parity/segment_check.py --klabel $(BUILD)/klabel --dict $(JIEBA_DICT) --data $(THUCNEWS)

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
