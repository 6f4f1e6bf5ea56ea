#!/bin/sh
# Runs the cmocka test binaries in DIR (those whose name contains NAME, if
# given; cases matching FILTER, if given), prints their output, and ends
# with one line: "N passed, N failed". Exit status 1 if anything failed.
# A binary that dies before its summary counts its unfinished tests as failed.
set -u
dir=$1
name=${2:-}
filter=${3:-}
passed=0
failed=0
failed_bins=""
ran=0
for bin in "$dir"/test_*; do
    [ -x "$bin" ] || continue
    case "$bin" in *.o|*.d) continue ;; esac
    base=$(basename "$bin")
    if [ -n "$name" ]; then
        case "$base" in *"$name"*) ;; *) continue ;; esac
    fi
    ran=$((ran + 1))
    out=$(mktemp)
    QB_TEST_FILTER="$filter" "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    counts=$(awk '
        /^\[ RUN      \]/ { run++ }
        /^\[       OK \]/ { ok++ }
        /^\[  PASSED  \] [0-9]+ test/ { p += $4 }
        /^\[  FAILED  \] [0-9]+ test/ { f += $4 }
        /^\[  SKIPPED \] [0-9]+ test/ { s += $4 }
        /^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ test/ { summary = 1 }
        END {
            if (!summary) { p = ok; f = run - ok; if (f < 1) f = 1 }
            printf "%d %d %d\n", p, f + s, s
        }' "$out")
    rm -f "$out"
    set -- $counts
    passed=$((passed + $1))
    failed=$((failed + $2))
    if [ "$3" -gt 0 ]; then
        echo "$base: $3 test(s) skipped; qbench counts a skip as a failure" >&2
    fi
    if [ "$rc" -ne 0 ] || [ "$2" -gt 0 ]; then
        [ "$2" -gt 0 ] || failed=$((failed + 1))
        failed_bins="$failed_bins $base(exit $rc)"
    fi
done
if [ "$ran" -eq 0 ]; then
    echo "no test binary matched '$name'" >&2
    exit 1
fi
[ -n "$failed_bins" ] && echo "failing:$failed_bins"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
