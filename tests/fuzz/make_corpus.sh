#!/usr/bin/env bash
# make_corpus.sh: writes the seed inputs of the libFuzzer targets into
# OUT/<target>/ (default OUT: build-fuzz/corpus). Nothing here is
# committed; rerunning overwrites the seeds (by name) and keeps whatever
# the fuzzers added.
#
#   KL_BIN=build/klabel bash tests/fuzz/make_corpus.sh [OUT]
#
#   fuzz_tokenize     flag byte + text: the golden inputs (line ends, NBSP,
#                     U+2009, U+3000, emoji with ZWJ and variation
#                     selectors, invalid UTF-8 of several kinds, NUL bytes,
#                     empty), mixed scripts, real lines of the data sets
#   fuzz_segment      small dict.txt + 0xFF + text, and broken dictionaries
#   fuzz_safetensors  tiny models trained by `klabel train` (both tokenizer
#                     modes, one-vs-all, an embedded segmenter with stop
#                     words and stemming, bilstm, textcnn), `klabel
#                     quantize`d ones (int8, pq with a cutoff) and `klabel
#                     import`s of the fastText fixtures (hierarchical
#                     softmax, char n-grams, a pruned .ftz)
#   fuzz_fasttext     the committed .bin/.ftz fixtures
#                     (tests/unit/fixtures/fasttext) and tiny models trained
#                     by fastText 0.9.2 (reference venv, tests/ref/venv.sh;
#                     skipped with a note when it cannot be made)
# Real lines come from .cache/data (KL_DATA_DIR) when fetched, else from a
# few lines below.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${1:-build-fuzz/corpus}"
KL_BIN="${KL_BIN:-build/klabel}"
DATA="${KL_DATA_DIR:-$REPO/.cache/data}"
FIX="$REPO/tests/unit/fixtures/fasttext"
mkdir -p "$OUT"/{fuzz_tokenize,fuzz_segment,fuzz_safetensors,fuzz_fasttext}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ------------------------------------------------------------------ texts
# name<TAB>printf-format of the text
TEXTS='empty	
lf	\n
crlf	\r\n
nbsp	price\xc2\xa0rise
thin	a\xe2\x80\x89b\xe2\x80\x89c
ideo	\xe3\x80\x80中文\xe3\x80\x80新闻\xe3\x80\x80
emoji_zwj	family \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 ok
emoji_vs	\xe2\x9d\xa4\xef\xb8\x8f love \xe2\x98\xba\xef\xb8\x8e
flag	\xf0\x9f\x87\xa8\xf0\x9f\x87\xb3 china
bad_ff	bad \xff\xfe bytes
bad_overlong	over \xc0\xaf long
bad_surrogate	sur \xed\xa0\x80 rogate
bad_big	big \xf4\x90\x80\x80
bad_cut	cut \xe4\xb8
bad_cont	lone \x80 cont
nul	nul\0in\0side
mixed	Apple 苹果 りんご 사과 яблоко تفاحة 123 ＡＢＣ１２３ ﬁne Straße İstanbul
combining	e\xcc\x81t\xc3\xa9 \xcc\x81alone
label	__label__a __label__b foo bar
tabline	sports\t恒生指数 上涨\r
spaces	 \t\v\f a  b \r\n'

printf '%s\n' "$TEXTS" | while IFS=$'\t' read -r name fmt; do
  for flags in 0 7; do
    { printf "\\x0$flags"; printf -- "$fmt"; } >"$OUT/fuzz_tokenize/seed_${name}_$flags"
  done
done

lines() { # file count: the text column of count lines
  if [[ -f "$DATA/$1" ]]; then head -n "$2" "$DATA/$1" | cut -f2; fi
}
i=0
{ lines thucnews.tsv 4; lines reuters-train.tsv 2 | cut -c1-300; lines sms-spam.tsv 3; lines mcc.tsv 3; } |
  while IFS= read -r line; do
    i=$((i + 1))
    printf '\x01%s' "$line" >"$OUT/fuzz_tokenize/seed_data_$i"
    printf '\x06%s' "$line" >"$OUT/fuzz_tokenize/seed_data_stem_$i"
  done

# --------------------------------------------------------------- segmenter
DICT='中文 100 n
新闻 80 n
中文新闻 5
股票 50 n
上涨 40 v
恒生 30 nr
恒生指数 20
房价 30 n
下跌 30 v
中 200
文 90
iPhone 10 eng
'
seg_seed() { # name dict text
  printf '%s\xff%s' "$2" "$3" >"$OUT/fuzz_segment/seed_$1"
}
seg_seed small "$DICT" "恒生指数上涨，中文新闻 iPhone15 发布 3.5% ok"
seg_seed crlf "$DICT" $'股票\r\n下跌\n\n  房价'
seg_seed blank "$DICT"$'\n\n   \n' "中中中中中中文文文"
seg_seed tags "中文 1 n extra fields
a 0
" "中文a"
seg_seed bad_freq "中文 x1" "中文"
seg_seed no_freq "中文" "中文"
seg_seed big_freq "中文 99999999999" "中文"
seg_seed zero "中文 0" "中文"
seg_seed bad_text "$DICT" $'中\xe4\xb8文'
if [[ -f "$DATA/jieba-dict.txt" ]]; then
  seg_seed jieba "$(head -n 200 "$DATA/jieba-dict.txt")" \
    "$(lines thucnews.tsv 3 | tr '\n' ' ')"
fi

# ------------------------------------------------------- safetensors models
if [[ -d "$DATA" && -f "$DATA/thucnews.tsv" ]]; then
  head -n 6 "$DATA/thucnews.tsv" >"$TMP/zh.tsv"
  head -n 8 "$DATA/sms-spam.tsv" >"$TMP/en.tsv" 2>/dev/null || true
fi
if [[ ! -s "$TMP/zh.tsv" ]]; then
  printf 'stocks\t恒生指数上涨 A股收平\nsports\t球队 赢得 比赛\nstocks\t股票 下跌\n' >"$TMP/zh.tsv"
fi
if [[ ! -s "$TMP/en.tsv" ]]; then
  printf 'ham\tOk running later, see you\nspam\tFree entry to win cash now\nham\tthe cats are sleeping\n' >"$TMP/en.tsv"
fi
printf '%s' "$DICT" >"$TMP/dict.txt"
printf 'the\na\n的\n' >"$TMP/stop.txt"
if [[ -x "$KL_BIN" ]]; then
  train() { # name options...
    local name=$1
    shift
    "$KL_BIN" train -q --dim 4 --bucket 16 --epoch 1 --seed 1 "$@" \
      -o "$OUT/fuzz_safetensors/seed_$name.safetensors"
  }
  train ft_zh -i "$TMP/zh.tsv" --tokenizer fasttext --word-ngrams 2
  train uni_zh -i "$TMP/zh.tsv" --tokenizer unicode --word-ngrams 1
  train uni_ova -i "$TMP/en.tsv" --tokenizer unicode --loss ova
  train uni_seg -i "$TMP/zh.tsv" --tokenizer unicode --segmenter "$TMP/dict.txt" \
    --stopwords "$TMP/stop.txt"
  train uni_stem -i "$TMP/en.tsv" --tokenizer unicode --stopwords "$TMP/stop.txt" \
    --stem english
  for f in hs.bin ova_char.bin pruned.ftz tie.bin; do
    [[ -f "$FIX/$f" ]] && "$KL_BIN" import -q "$FIX/$f" \
      -o "$OUT/fuzz_safetensors/seed_import_${f%.*}.safetensors"
  done
  # quantized inputs and the neural architectures: best effort (a CLI that
  # lacks them only costs seeds)
  S="$OUT/fuzz_safetensors"
  "$KL_BIN" quantize -q "$S/seed_ft_zh.safetensors" -o "$S/seed_q8.safetensors" ||
    echo "make_corpus.sh: no int8 seed" >&2
  "$KL_BIN" quantize -q "$S/seed_uni_zh.safetensors" -o "$S/seed_pq.safetensors" \
    --pq --dsub 2 --cutoff 4 || echo "make_corpus.sh: no pq seed" >&2
  train bilstm -i "$TMP/zh.tsv" --arch bilstm --vocab-size 24 --max-len 8 \
    --hidden 3 --layers 2 --pool max || echo "make_corpus.sh: no bilstm seed" >&2
  train textcnn -i "$TMP/en.tsv" --arch textcnn --vocab-size 24 --max-len 8 \
    --channels 2 --widths 2,3 --loss ova || echo "make_corpus.sh: no textcnn seed" >&2
else
  echo "make_corpus.sh: $KL_BIN not built; no safetensors seeds" >&2
fi

# ---------------------------------------------------------- fastText models
for f in "$FIX"/*.bin "$FIX"/*.ftz; do
  [[ -f "$f" ]] && cp "$f" "$OUT/fuzz_fasttext/seed_fixture_$(basename "$f")"
done
if PY=$(bash "$REPO/tests/ref/venv.sh" 2>"$TMP/venv.log"); then
  "$PY" - "$OUT/fuzz_fasttext" "$TMP" <<'EOF'
import os, sys
import fasttext
out, tmp = sys.argv[1], sys.argv[2]
train = os.path.join(tmp, "ft.txt")
with open(train, "w", encoding="utf-8") as f:
    f.write("__label__a foo bar 中文\n__label__b qux grain\n"
            "__label__a foo 新闻\n__label__c zap zip\n__label__b grain corn\n")
common = dict(input=train, dim=4, epoch=1, minCount=1, thread=1, verbose=0,
              seed=1)
for name, kw in [("softmax", dict(loss="softmax", bucket=16, wordNgrams=2)),
                 ("ova", dict(loss="ova", bucket=8)),
                 ("ns", dict(loss="ns", bucket=0)),
                 ("hs_char", dict(loss="hs", bucket=16, minn=1, maxn=2))]:
    m = fasttext.train_supervised(**common, **kw)
    m.save_model(os.path.join(out, "seed_train_%s.bin" % name))
EOF
else
  echo "make_corpus.sh: no reference venv ($(tail -n 1 "$TMP/venv.log")); fixtures only" >&2
fi

# ------------------------------------------------------------ Avro events
# fuzz_avro: the fastavro vectors of tests/unit/test_codec_avro.c, as
# framed values and as schema + datum (tests/unit/fixtures/avro/gen.py).
mkdir -p "$OUT/fuzz_avro"
for f in "$REPO"/tests/unit/fixtures/avro/seeds/*.bin; do
  [[ -f "$f" ]] && cp "$f" "$OUT/fuzz_avro/seed_$(basename "$f" .bin)"
done

# ------------------------------------------------------------ JSON events
# fuzz_json: an option byte, then events as the stage gets them (good ones
# of every shape, and the bad ones of tests/unit/test_codec_json.c's kinds).
mkdir -p "$OUT/fuzz_json"
i=0
while IFS= read -r doc; do
  printf "\\x0$((i % 4))%s" "$doc" > "$OUT/fuzz_json/seed_$i"
  i=$((i + 1))
done <<'JSON'
{"id":17,"text":"恒生AH溢指收平 A股对H股折价1.95%","kind":"news","ts":1700000000000,"sent_us":1700000000000123}
{"id":"tx-9","text":"CARD PAYMENT TO TESCO STORES","kind":"transaction","ts":null}
{"text":"caf\u00e9 \ud83d\ude00 \"quoted\" \\ \/ \b\f\n\r\t","p":{"text":"nested"}}
{"p.text":"dotted key","text":"x","text":"repeated"}
{"text":"a","id":12345678901234567890,"ts":1.5e3,"kind":"k"}
{"text":"\u0000","id":[],"kind":{},"ts":-1}
{"text":"   ","id":true}
["not","an","object"]
{"text":"trailing"} x
JSON
for d in "$OUT"/fuzz_*; do
  echo "make_corpus.sh: $d: $(find "$d" -type f | wc -l) files"
done

# ----------------------------------------------------- properties files
# fuzz_config: the stage configurations of the repository (the compose
# stack's, the demo's shape) and short files of every syntax the reader
# takes: separators, comments, a BOM, CRLF, continuations, escapes; and
# the fuzzer's finding of a kafka.* value -X did not trim.
seed_lines() { # target: each line of stdin, printf-%b expanded, is a seed
  local i=0 line
  mkdir -p "$OUT/$1"
  while IFS= read -r line; do
    printf '%b' "$line" > "$OUT/$1/seed_$i"
    i=$((i + 1))
  done
}
mkdir -p "$OUT/fuzz_config"
cp "$REPO/compose/klabel.properties" "$OUT/fuzz_config/seed_compose"
seed_lines fuzz_config <<'PROPS'
input.topics=news, transactions\noutput.topic=labels\nmodel.path=/models/news.safetensors\n
batch.max.size = 128\nbatch.max.delay.us: 500\nworkers 2\n
# comment\n! comment\n\nkafka.bootstrap.servers=127.0.0.1:9092\nkafka.consumer.fetch.max.bytes=1048576\n
\xef\xbb\xbfoutput.format=avro\r\noutput.schema.id=7\r\n
models=news,tx\nmodel.news.path=/m/n.safetensors\nmodel.tx.path=/m/t.safetensors\nroute.kind.transaction=tx\nroute.default=news\n
input.topics=a,\\\n    b,\\\n    c\n
dlq.topic=dead\\u0020letters\ninstance.id=\\u00e9t\\u00e9\\ud83d\\ude00\n
model.threshold=0.25\nmodel.top.k=3\noutput.include.text=yes\nmetrics.port=0\n
kafka.consumer.client.id =   c\n
PROPS

# ------------------------------------------------------------ .vec files
# fuzz_pretrained: dim-2 vectors for its vocabulary (a, b, cat, été) and
# others, in the shapes the reader takes (tabs, CRLF, a later line of the
# same word, blank lines at the end, exponents).
seed_lines fuzz_pretrained <<'VEC'
3 2\na 1 2\ncat 0.5 -3e-2\nzebra 9 9\n
2 2\n\xc3\xa9t\xc3\xa9\t1.5\t-2\r\nb 4 5 \n\n\n
2 2\na 1 2\na 3 4\n
1 2\ncat 1e-38 -3.4e38\n
VEC
