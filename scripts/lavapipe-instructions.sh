#!/usr/bin/env bash
# Instructions per element of each logit loss and of the roofline kernel on lavapipe, counted
# by valgrind (callgrind) over the shader code llvmpipe compiles at run time. Unlike timings on
# a shared CPU, the counts repeat exactly, and lavapipe is bound by instructions, so
# roofline instructions / loss instructions predicts the roofline fraction there.
#
# usage: scripts/lavapipe-instructions.sh [BxC] [extra bench flags, e.g. --quads false]
# LOSSES="dist" limits the losses (default: kl dist dkd). KERNELS=1 also lists each compiled
# shader function's instructions per element, largest first (callgrind cannot name them: tell
# them apart by their size, or with --pass forward, which drops the gradient pass).
# Needs valgrind and a release build (cargo build --release). Each configuration runs the
# bench twice under valgrind (loss + roofline, then loss alone); each takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1024x1000}
shift || true
bin=target/release/wgpu-distill
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
rows=${shape%x*}
cols=${shape#*x}
# The bench runs 3 warm-up rounds and --iters 1 timed round: 4 runs of each kernel.
elements=$((rows * cols * 4))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions executed in code compiled at run time (callgrind names it "???:0x... [???]").
jit_total() {
    LP_NUM_THREADS=1 valgrind --tool=callgrind --smc-check=all --callgrind-out-file="$tmp/cg" \
        "$bin" bench --backend vulkan --shape "$shape" --pass forward+grad --iters 1 "$@" \
        >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    callgrind_annotate --threshold=100 "$tmp/cg" 2>/dev/null |
        awk '/\[\?\?\?\]$/ && /\?\?\?:0x/ { gsub(",", "", $1); print $1 }' > "$tmp/functions"
    awk '{ total += $1 } END { print total + 0 }' "$tmp/functions"
}

printf "%-6s %-11s %16s %16s %10s   %s\n" loss shape "loss instr/elem" "roof instr/elem" predicted flags
for loss in ${LOSSES:-kl dist dkd}; do
    with=$(jit_total --loss "$loss" "$@")
    alone=$(jit_total --loss "$loss" --no-roofline "$@")
    awk -v w="$with" -v a="$alone" -v n="$elements" -v l="$loss" -v s="$shape" -v f="$*" 'BEGIN {
        loss = a / n; roof = (w - a) / n;
        printf "%-6s %-11s %16.1f %16.1f %10.3f   %s\n", l, s, loss, roof, roof / loss, f
    }'
    if [ -n "${KERNELS:-}" ]; then
        sort -rn "$tmp/functions" | awk -v n="$elements" '$1 / n >= 0.5 {
            printf "         kernel function: %8.1f instr/elem\n", $1 / n }'
    fi
done
