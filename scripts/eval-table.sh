#!/bin/sh
# The quantization results table of README.md: `qbench eval` on each
# reference model for the configs below, one CSV header then one row per
# model x config. Usage: scripts/eval-table.sh [QBENCH] [MODEL...]
# (defaults: ./qbench; mlp lenet resnet). About 10 minutes on 2 cores.
set -eu
. "$(dirname "$0")/eval-rows.sh"
qbench=${1:-./qbench}
[ $# -gt 0 ] && shift
models=${*:-mlp lenet resnet}
configs="--scheme uniform-sym --wbits 8 --abits 8 --calib minmax
--scheme uniform-asym --wbits 8 --abits 8 --calib minmax
--scheme uniform-sym --wbits 8 --abits 8 --calib mse
--scheme uniform-sym --wbits 8 --abits 8 --calib percentile:99.99
--scheme uniform-sym --wbits 4 --abits 8 --calib mse
--scheme uniform-sym --wbits 4 --abits 8 --calib minmax
--scheme ternary --wbits 2 --abits 8 --calib minmax
--scheme binary --wbits 1 --abits 8 --calib minmax
--scheme ternary --wbits 2 --abits 8 --calib minmax --keep-first-last 8
--scheme binary --wbits 1 --abits 8 --calib minmax --keep-first-last 8
--scheme fp8-e4m3 --wbits 8 --abits 8 --calib minmax
--scheme pow2 --wbits 4 --abits 8 --calib mse
--scheme kmeans --wbits 4 --abits 8 --calib minmax"
eval_rows "$qbench" "$models" "$configs"
