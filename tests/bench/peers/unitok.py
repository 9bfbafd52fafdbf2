"""unitok.py: klabel's "unicode" tokenizer (engine/tokenize.c) in plain
Python, for the Python stages of the side-by-side benchmark
(tests/bench/peers). A user who serves a fastText model trained on
klabel-tokenized text must split text the same way before predict:

  NFKC + case folding -> separators (Unicode categories Z*, P*, S*, C*)
  end a token -> every CJK ideograph, kana or hangul syllable is a token of
  its own -> variation selectors, and combining marks that follow no
  letter, are dropped.

tokenize(text) returns the tokens joined by single spaces (what fastText's
predict splits on). stage_model.py checks it against `klabel tokenize` on
every benchmark headline and reports the share of identical lines."""
import unicodedata

_cat = unicodedata.category


def _is_cjk(c):
    return (0x3005 <= c <= 0x3007 or 0x3021 <= c <= 0x3029 or
            0x3038 <= c <= 0x303C or 0x3040 <= c <= 0x30FF or
            0x31F0 <= c <= 0x31FF or 0x3400 <= c <= 0x4DBF or
            0x4E00 <= c <= 0x9FFF or 0xAC00 <= c <= 0xD7AF or
            0xF900 <= c <= 0xFAFF or 0xFF66 <= c <= 0xFF9D or
            0x1B000 <= c <= 0x1B16F or 0x20000 <= c <= 0x323AF)


def tokens(text):
    """The list of tokens of text (a str)."""
    s = unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", text).casefold())
    out = []
    word = []
    for ch in s:
        c = ord(ch)
        if 0xFE00 <= c <= 0xFE0F or 0xE0100 <= c <= 0xE01EF:
            continue
        cat = _cat(ch)
        if not word and cat in ("Mn", "Mc", "Me"):
            continue
        if cat[0] in "ZPSC":
            if word:
                out.append("".join(word))
                word = []
            continue
        if _is_cjk(c):
            if word:
                out.append("".join(word))
                word = []
            out.append(ch)
            continue
        word.append(ch)
    if word:
        out.append("".join(word))
    return out


def tokenize(text):
    """text's tokens joined by single spaces."""
    return " ".join(tokens(text))
