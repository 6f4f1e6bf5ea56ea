#!/bin/sh
# `make bench`: every benchmark, one after another. Each prints its own
# numbers and the ratios the targets are stated in, measured in the same run.
# Add a benchmark by adding a line below.
set -eu
qbench=$1
run() {
    echo
    echo "==> qbench $*"
    "$qbench" "$@"
}
echo "qbench benchmarks on $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$qbench" version
run bench-reports
run bench-fp32
run bench-quant
run bench-kernels
run bench-kernels --threads 1 --no-memory --shapes resnet --impls engine --layers
