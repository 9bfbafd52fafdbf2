#!/bin/bash
# tests/unit/prefetch_check.sh BUILD: the software prefetches of the hot
# paths are in the built code. gcc finds a function that only prefetches
# free of side effects and drops calls to it without a word (it did so to
# the plain prediction path's), so such helpers are always inlined, and
# this checks that the instructions are really there: in the function, or
# in a static helper the compiler kept out of line.
set -u
B=${1:-build}
fail=0
# library : function(s), any of which must hold a prefetch instruction
checks="
libklabel.a:kl_model_predict_batch,plain_logits
libklabel.a:kl_proj_prefetch
"
for c in $checks; do
    lib=$B/${c%%:*}
    found=0
    for fn in $(tr , ' ' <<<"${c#*:}"); do
        if objdump -d --no-show-raw-insn --disassemble="$fn" "$lib" 2>/dev/null |
            grep -Eq '[[:space:]]prefetch(t0|t1|t2|nta|w)[[:space:]]'; then
            found=1
        fi
    done
    if [ "$found" = 1 ]; then
        echo "prefetch_check: ${c#*:} in ${c%%:*}: ok"
    else
        echo "prefetch_check: ${c#*:} in ${c%%:*}: no prefetch instruction" >&2
        fail=1
    fi
done
exit $fail
