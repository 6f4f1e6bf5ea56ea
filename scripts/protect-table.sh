#!/bin/sh
# The precision-protection table of README.md (issue 7's targets): `qbench
# eval --format csv` on each reference model for the configs below, one CSV
# header then one row per model x config, each eval run with `nice` (the
# fine-tuning rows take minutes on resnet; the whole table about an hour on
# 2 shared cores).
#   scripts/protect-table.sh [QBENCH] [MODEL...] > protect.csv
#       (defaults: ./qbench; mlp lenet resnet; PROTECT_ONLY=REGEX runs only
#       the configs whose flags match it, e.g. 'abits 4')
#   scripts/protect-table.sh --markdown protect.csv
#       the README table: a row per config, a column per model, each cell
#       "drop [95% interval], prep seconds, prep peak MB"
set -eu
. "$(dirname "$0")/eval-rows.sh"

markdown() {
    awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
        key = $col["scheme"] " W" $col["wbits"] "A" $col["abits"] ", " $col["calib"]
        if ($col["granularity"] != "channel") key = key ", per " $col["granularity"]
        if ($col["policy"] != "uniform") key = key ", " $col["policy"]
        key = key ", `" $col["correction"] "`"
        if (!(key in seen)) { seen[key] = 1; order[++n] = key }
        m = $col["model"]
        if (!(m in mseen)) { mseen[m] = 1; models[++nm] = m; fp32[m] = $col["fp32_accuracy"] }
        cell[key, m] = sprintf("%+.2f [%+.2f, %+.2f], %.1f s, %.0f MB", $col["drop_pp"],
                               $col["drop_ci_low"], $col["drop_ci_high"], $col["prep_seconds"],
                               $col["prep_peak_mb"])
    }
    END {
        line = "| config (weights per channel, inputs per tensor) |"; sep = "|---|"
        for (j = 1; j <= nm; j++) { line = line " " models[j] " |"; sep = sep "---|" }
        print line; print sep
        line = "| fp32 top-1 |"
        for (j = 1; j <= nm; j++) line = line " " fp32[models[j]] "% |"
        print line
        for (i = 1; i <= n; i++) {
            line = "| " order[i] " |"
            for (j = 1; j <= nm; j++) {
                c = cell[order[i], models[j]]
                line = line " " (c == "" ? "-" : c) " |"
            }
            print line
        }
    }' "$1"
}

if [ "${1:-}" = "--markdown" ]; then
    [ $# -eq 2 ] || { echo "usage: $0 --markdown protect.csv" >&2; exit 2; }
    [ -r "$2" ] || { echo "$0: $2: cannot read it (make it with $0 [QBENCH] > $2)" >&2; exit 2; }
    markdown "$2"
    exit 0
fi

qbench=${1:-./qbench}
[ $# -gt 0 ] && shift
models=${*:-mlp lenet resnet}
only=${PROTECT_ONLY:-}
# each target: the plain quantization, then the levers; binary and ternary
# keep the first and last layers at 8 bits (as XNOR-Net, TWN, DoReFa do);
# a line "MODELS: flags" runs only on those models (uniform binary and
# ternary QAT, hopeless on resnet; W4A4, a resnet target)
configs="--wbits 4 --abits 8
--wbits 4 --abits 8 --correction adaround
--wbits 4 --abits 8 --correction gptq
--scheme pow2 --wbits 5 --abits 8
--scheme pow2 --wbits 5 --abits 8 --correction inq
--scheme pow2 --wbits 4 --abits 8
--scheme pow2 --wbits 4 --abits 8 --correction inq
--scheme ternary --wbits 2 --abits 8
--scheme ternary --wbits 2 --abits 8 --policy first-last:8
--scheme ternary --wbits 2 --abits 8 --policy first-last:8 --correction qat
mlp lenet: --scheme ternary --wbits 2 --abits 8 --correction qat
--scheme binary --wbits 1 --abits 8
--scheme binary --wbits 1 --abits 8 --policy first-last:8
--scheme binary --wbits 1 --abits 8 --policy first-last:8 --correction qat
mlp lenet: --scheme binary --wbits 1 --abits 8 --correction qat
--scheme kmeans --wbits 4 --granularity tensor --abits 8
--scheme kmeans --wbits 4 --granularity tensor --abits 8 --correction qat
resnet: --wbits 4 --abits 4
resnet: --wbits 4 --abits 4 --correction cle+bias
resnet: --wbits 4 --abits 4 --correction adaround+bias
resnet: --wbits 4 --abits 4 --correction gptq+bias
resnet: --wbits 4 --abits 4 --correction qat
resnet: --wbits 4 --abits 4 --calib mse
resnet: --wbits 4 --abits 4 --calib mse --correction cle+bias
resnet: --wbits 4 --abits 4 --calib mse --correction adaround+bias
resnet: --wbits 4 --abits 4 --calib mse --correction gptq+bias
resnet: --wbits 4 --abits 4 --calib mse --correction qat"
eval_rows "$qbench" "$models" "$configs" "$only"
