# klabel: one entry point for building, testing and running.
#
#   make deps        install the Debian packages (apt-get, does nothing if present)
#   make             build build/klabel and build/libklabel.a
#   make test        deps + build + unit tests + integration tests on a real broker
#   make unit        Criterion unit tests only
#   make integration integration tests only (starts a real Kafka broker)
#   make demo        deps + build + the embedded demo (no broker needed)
#   make stack       the compose topology natively on a real broker
#   make compose-check  static checks of the compose stack (in make test)
#   make bench       klabel vs Python stages side by side on a real broker
#   make SANITIZE=address,undefined ...   sanitizer build (into build-san/)
#   make fuzz        libFuzzer targets, 10 minutes each (fuzz-smoke: 20 s, in make test)

CC      ?= gcc
# libcurl: the Schema Registry client (a well-kept HTTP client instead of our own)
PKGS    := rdkafka avro-c openblas libcjson libutf8proc libmicrohttpd libcurl
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Iinclude -Iplugin -MMD -MP
LDLIBS  := -lstemmer -pthread -lm  # libstemmer ships no .pc file
# The klabel binary allocates through jemalloc: every event is allocated on
# one thread and freed on another (librdkafka's messages, our events and
# in-flight records), the pattern glibc's malloc handles worst (~15% of the
# stage's CPU went to malloc/free; with jemalloc the stage with a model
# needs ~25% less CPU per event). MALLOC_LIBS= links glibc's malloc instead;
# sanitizer builds always do (ASan brings its own allocator).
MALLOC_LIBS ?= -ljemalloc

ifneq ($(SANITIZE),)
BUILD   ?= build-san
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
MALLOC_LIBS :=
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

.PHONY: all deps test unit integration demo stack compose-check data clean fuzz bench-accuracy bench-explain
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
	@rm -f $@  # ar only adds: a renamed or deleted source would stay inside
	$(AR) rcs $@ $^

$(BUILD)/klabel: $(BUILD)/plugin/main.o $(BUILD)/libklabel-plugin.a $(BUILD)/libklabel.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PKG_LIBS) $(LDLIBS) $(MALLOC_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libklabel-plugin.a $(BUILD)/libklabel.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(CRIT_LIBS) $(PKG_LIBS) $(LDLIBS)

data: $(THUCNEWS) $(JIEBA_DICT)
$(JIEBA_DICT):
	bash tests/data/fetch.sh jieba
$(THUCNEWS):
	bash tests/data/fetch.sh thucnews

# Unit tests: every Criterion binary runs, then the check that the hot
# paths' prefetches survived the compiler; the target fails if any fails.
unit: $(UNIT_BIN) $(BUILD)/libklabel.a $(BUILD)/libklabel-plugin.a data
	@fail=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; KL_DATA_DIR=$(DATA_DIR) ./$$t --jobs 2 || fail=1; \
	done; bash tests/unit/prefetch_check.sh $(BUILD) || fail=1; exit $$fail

integration: all data
	KL_BIN=$(BUILD)/klabel KL_DATA_DIR=$(DATA_DIR) bash tests/integration/run.sh

# The README's two commands: `make test` also runs the demo, so CI proves both.
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) compose-check
	$(MAKE) fuzz-smoke
	$(MAKE) parity FASTTEXT_PARITY=--quick
	$(MAKE) demo
	$(MAKE) integration

demo: deps
	$(MAKE) all data
	./$(BUILD)/klabel demo --data $(THUCNEWS)

stack: deps
	$(MAKE) all data
	KL_BIN=$(BUILD)/klabel KL_DATA_DIR=$(DATA_DIR) bash compose/stack.sh

# docker-compose.yml and the Dockerfile checked without a Docker daemon
# (compose config, the compose-spec schema, hadolint, shellcheck, and their
# agreement with the code and compose/stack.sh; compose/check.sh). ~1 min.
compose-check: all
	KL_BIN=$(BUILD)/klabel bash compose/check.sh

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

# Neural models (docs/model-format.md): speed of bilstm / textcnn / the
# fastText-style model at the seed's sizes, one thread, batches of 1, 32,
# 256, texts of 40 and 200 tokens, p50/p99 of single-event batches (~1 min),
# and test accuracy on THUCNews (binary and 10-class, 3 seeds; ~15 min).
# Both write results/nn/*.json and the "## Neural models" section of
# docs/benchmarks.md (tests/bench/nn_report.py).
$(BUILD)/bench_nn: tests/bench/bench_nn.c $(BUILD)/libklabel.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(PKG_LIBS) $(LDLIBS)

.PHONY: bench-nn bench-nn-accuracy
bench-nn: $(BUILD)/bench_nn
	@mkdir -p results/nn
	$(BUILD)/bench_nn $(BUILD) results/nn/speed.json
	python3 tests/bench/nn_report.py

bench-nn-accuracy: all data
	python3 tests/bench/nn_accuracy.py --klabel $(BUILD)/klabel --data $(DATA_DIR) --work $(BUILD)/bench-nn-accuracy

# Engine speed and memory vs fastText's CLI (one thread: prediction docs/s,
# training words/s/thread, open time and RSS of the 800 MB mmapped model)
# and quantized models (size, accuracy): tests/bench/bench_engine.py drives
# build/bench_engine and the fastText CLI (Debian `fasttext`, from deps.sh);
# ~5 min. Writes results/engine/engine.json and two docs/benchmarks.md sections.
$(BUILD)/bench_engine: tests/bench/bench_engine.c $(BUILD)/libklabel.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(PKG_LIBS) $(LDLIBS)

.PHONY: bench-engine
bench-engine: all $(BUILD)/bench_engine data
	@bash scripts/deps.sh
	PY=$$(bash tests/ref/venv.sh) && $$PY tests/bench/bench_engine.py --klabel $(BUILD)/klabel \
	  --bench $(BUILD)/bench_engine --data $(DATA_DIR) --work $(BUILD)/bench-engine

# The stage side by side on a real broker: klabel pass-through, klabel +
# model, confluent-kafka + fastText and Quix Streams + fastText; throughput,
# CPU per 1M events and latency at 1k/10k/50k events/s (tests/bench/README;
# ~10 min; BENCH_ARGS=--quick for a short smoke run). Writes
# results/bench/<time>/ and the stage section of docs/benchmarks.md.
$(BUILD)/klbench: $(wildcard tests/bench/load/*.c) tests/bench/load/klbench.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter-out %/kl_trace_ic.c,$(filter %.c,$^)) -lrdkafka
$(BUILD)/kl_trace_ic.so: tests/bench/load/kl_trace_ic.c plugin/numfmt.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iplugin -fPIC -shared -o $@ $^ -lrdkafka -lm
.PHONY: bench
bench: all data $(BUILD)/klbench $(BUILD)/kl_trace_ic.so
	PY=$$(bash tests/ref/venv.sh) && KL_BENCH_FROM_MAKE=1 $$PY tests/bench/stage_bench.py \
	  --klabel $(BUILD)/klabel --klbench $(BUILD)/klbench --trace-ic $(BUILD)/kl_trace_ic.so \
	  --data $(THUCNEWS) $(BENCH_ARGS)

# Parity with the reference implementations (venv of tests/ref): the
# segmenter against jieba.lcut(text, HMM=False) on the THUCNews headlines.
.PHONY: parity parity-fasttext parity-nn
parity: all data parity-fasttext parity-nn
	PY=$$(bash tests/ref/venv.sh) && $$PY tests/parity/segment_check.py --klabel $(BUILD)/klabel --dict $(JIEBA_DICT) --data $(THUCNEWS)

# Neural models: bilstm and textcnn (random weights and weights trained by
# `klabel train --arch` on THUCNews) against onnxruntime running standard
# ONNX LSTM / Conv graphs built from the same weights, on batches of mixed
# lengths, to 1e-4 (about 30 s). Ends with "nn-onnx: N passed, N failed".
$(BUILD)/nn_dump: tests/parity/nn_dump.c $(BUILD)/libklabel.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(PKG_LIBS) $(LDLIBS)

parity-nn: all data $(BUILD)/nn_dump
	PY=$$(bash tests/ref/venv.sh) && $$PY tests/parity/nn_onnx_check.py --klabel $(BUILD)/klabel \
	  --dump $(BUILD)/nn_dump --data $(THUCNEWS) --dict $(JIEBA_DICT) --work $(BUILD)/parity-nn

# fastText import: models trained and quantized by fastText 0.9.2 on
# THUCNews, Reuters and MCC codes, predicted by klabel from the .bin/.ftz
# and from its `klabel import` (80 s on 2 idle cores, up to 3.5 min shared).
# `make test` passes FASTTEXT_PARITY=--quick: 10 models, about 30 s.
FASTTEXT_PARITY ?=
parity-fasttext: all data
	bash tests/data/fetch.sh reuters mcc
	PY=$$(bash tests/ref/venv.sh) && $$PY tests/parity/fasttext_parity.py --klabel $(BUILD)/klabel --data $(DATA_DIR) --work $(BUILD)/parity-fasttext $(FASTTEXT_PARITY)

# Fuzzing (libFuzzer + ASan + UBSan, clang-14): every tests/fuzz/fuzz_*.c is
# linked with the engine and plugin compiled with the same flags into
# build-fuzz/. `make fuzz` seeds build-fuzz/corpus/<target>/
# (tests/fuzz/make_corpus.sh), runs each target FUZZ_SECONDS (FUZZ_JOBS at a
# time) and fails on a crash (tests/fuzz/run.sh; stats in
# build-fuzz/fuzz-stats.txt); `make fuzz-smoke` is 20 s each, 2 at a time.
# clang's warnings do not stop this build (the gcc build has -Werror).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= 1
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: fuzz-build fuzz-smoke
fuzz-build:
	CFLAGS="-O1 -g -fno-sanitize-recover=undefined" $(MAKE) BUILD=build-fuzz \
	  CC=$(FUZZ_CC) SANITIZE=fuzzer-no-link,address,undefined \
	  WARN="$(filter-out -Werror,$(WARN))" $(FUZZ_BIN)

# Targets link the engine only; one that fuzzes plugin/ code adds a line
# `build-fuzz/fuzz_x: build-fuzz/libklabel-plugin.a`.
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libklabel.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined $(FUZZ_LDFLAGS) -o $@ \
	  $(filter %.c,$^) $(filter %-plugin.a,$^) $(filter %/libklabel.a,$^) $(PKG_LIBS) $(LDLIBS)

# The model fuzzers turn mmap()s of their input into exact-size heap copies
# (tests/fuzz/fuzz_model.h), so ASan sees reads past the end of a file.
build-fuzz/fuzz_safetensors build-fuzz/fuzz_fasttext: FUZZ_LDFLAGS = -Wl,--wrap=mmap,--wrap=munmap

build-fuzz/fuzz_avro build-fuzz/fuzz_json build-fuzz/fuzz_config: build-fuzz/libklabel-plugin.a

fuzz: all fuzz-build
	KL_BIN=$(BUILD)/klabel bash tests/fuzz/make_corpus.sh build-fuzz/corpus
	KL_DATA_DIR=$(DATA_DIR) bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_BIN)

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20 FUZZ_JOBS=2

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
