#!/usr/bin/env bash
# One-shot benchmark on a machine with a real GPU: wgpu-distill's bench through wgpu's Vulkan
# on the vendor driver, every forcible kernel path (SWEEPS=1), and the same losses in eager
# PyTorch on the same GPU. Prints one line per configuration and measurement
# (scripts/bench-lines.py); the raw JSON of each configuration goes to its own file, all of
# them packed into $OUT/device-bench.tar.gz after every step (so a run stopped at its time
# limit still returns what it measured).
#
# Expects a release binary at target/release/wgpu-distill (built elsewhere) and, when the
# machine lacks the Vulkan/EGL loaders, their .deb files under .gl/.
#
#   SWEEPS=1      also force each kernel path (quads, subgroups, lanes per row, cached rows,
#                 DIST's row reads and gradient rows) at every default shape
#   FOLLOWUP=1    instead of SWEEPS: the defaults again (after choosing them from a SWEEPS run),
#                 16-bit inputs, and the paths the first sweep could not force (DIST's column
#                 tile rows, KL's cached rows at 256 lanes, DIST without quads on one read), plus
#                 repeats of the largest shape (its speed moved between measurements)
#   TORCH=0       skip eager PyTorch
#   BUDGET_S=330  seconds after which the remaining sweeps are skipped (torch always runs)
#   REHEARSE=1    small shapes and few iterations: checks the script end to end on lavapipe
#   BACKEND=vulkan
set -u
out="${OUT:-/tmp/device-bench}"
# The raw files stay outside $OUT (the device tool returns at most 8 files): the archive carries them.
work=$(mktemp -d)
raw="$work/raw"
mkdir -p "$out" "$raw"
start=$(date +%s)
budget="${BUDGET_S:-330}"
backend="${BACKEND:-vulkan}"
bin=./target/release/wgpu-distill
lines="python3 scripts/bench-lines.py"
if [ -n "${REHEARSE:-}" ]; then
    shapes="32x100,16x1000,4x32000"
    wide="16x1000,4x32000"
    iters=2
else
    shapes="128x100,256x1000,4096x1000,512x32000,8192x32000"
    wide="4096x1000,512x32000"
    iters=20
fi
losses_all="kl,kl+soft,kl+hard,kl+sparse,jsd,jsd+hard,tvd,dist,dist+hard,dkd"

pack() { tar -C "$work" -czf "$out/device-bench.tar.gz.tmp" raw && mv "$out/device-bench.tar.gz.tmp" "$out/device-bench.tar.gz"; }
elapsed() { echo $(($(date +%s) - start)); }
# config NAME ARGS...: one bench invocation, its JSON in raw/NAME.jsonl, one line per result.
config() {
    local name=$1; shift
    if [ "$(elapsed)" -ge "$budget" ]; then
        echo "skipped $name (budget ${budget}s spent)" | tee -a "$raw/skipped.txt"
        return
    fi
    local t0; t0=$(date +%s)
    $bin bench --backend "$backend" --iters "$iters" --json "$@" \
        2> "$raw/$name.stderr" > "$raw/$name.jsonl"
    local rc=$?
    $lines "$name" < "$raw/$name.jsonl"
    echo "# $name: rc $rc, $(($(date +%s) - t0)) s, args: $*" | tee -a "$raw/configs.txt"
    [ $rc -eq 0 ] || tail -3 "$raw/$name.stderr"
    pack
}

echo "== machine"
if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    git log -1 --format='commit %H %s' 2>/dev/null
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
    $bin info --backend "$backend" 2>&1
    echo "-- gl:"
    $bin info --backend gl 2>&1 | head -8
} | tee "$raw/info.txt"
$bin info --backend "$backend" --json > "$raw/info.json" 2>&1
pack

echo "== self-check"
WGPU_DISTILL_BACKEND=$backend $bin 2>&1 | tee "$raw/selfcheck.txt"
pack

echo "== default strategy, every bench loss, f32, per-dispatch timestamps"
config default --loss "$losses_all" --shape "$shapes" --pass forward,forward+grad --per-dispatch

if [ "${TORCH:-1}" != 0 ]; then
echo "== eager PyTorch on the same GPU"
if [ -n "${REHEARSE:-}" ]; then torch_args="--shapes $shapes --iters 2"; else torch_args=""; fi
PYTHONUNBUFFERED=1 timeout -k 5 150 python3 scripts/torch_reference.py $torch_args \
    > "$raw/torch.jsonl" 2> "$raw/torch.stderr"
echo "torch: rc $?, $(wc -l < "$raw/torch.jsonl") lines"; tail -2 "$raw/torch.stderr"
pack
fi

if [ -n "${FOLLOWUP:-}" ]; then
    echo "== follow-up: 16-bit inputs, then the paths the first sweep could not force"
    config f16-bf16 --loss kl,dist,dkd,jsd,tvd --shape "$wide" --dtype f16,bf16 --pass forward+grad
    for rows in 16 32 256; do
        config "tile-rows-$rows" --loss dist --shape "$shapes" --pass forward+grad --tile-rows $rows --per-dispatch
    done
    config cached-true-tpr-256 --loss kl,dkd,dist --shape "$shapes" --pass forward+grad --cached-rows true --threads-per-row 256 --per-dispatch
    config dist-quads-false --loss dist --shape "$shapes" --pass forward+grad --quads false --per-dispatch
    for n in 1 2; do
        config "repeat-$n" --loss kl,dist --shape "$(echo "$shapes" | tr ',' '\n' | tail -1)" --pass forward+grad --per-dispatch
    done
fi

if [ -n "${SWEEPS:-}" ]; then
    echo "== each kernel path forced, forward+grad, every default shape"
    for tpr in 32 64 128 256; do
        config "tpr-$tpr" --loss kl,dist,dkd,jsd,tvd --shape "$shapes" --pass forward+grad --threads-per-row $tpr
    done
    config dist-row-reads-1 --loss dist,dist+hard --shape "$shapes" --pass forward,forward+grad --dist-row-reads 1 --per-dispatch
    config quads-false --loss kl,dist,dkd,jsd --shape "$shapes" --pass forward+grad --quads false
    config subgroups-false --loss kl,dist,dkd,jsd --shape "$shapes" --pass forward+grad --subgroups false
    config cached-true --loss kl,dist,dkd --shape "$shapes" --pass forward+grad --cached-rows true --per-dispatch
    for rows in 4 8; do
        config "dist-grad-rows-$rows" --loss dist --shape "$shapes" --pass forward+grad --dist-grad-rows $rows
    done
    config dist-row-reads-1-cached-false --loss dist --shape "$shapes" --pass forward+grad --dist-row-reads 1 --cached-rows false
    config tpr-8 --loss kl,dist,jsd --shape "$shapes" --pass forward+grad --threads-per-row 8
    config tpr-16 --loss kl,dist,jsd --shape "$shapes" --pass forward+grad --threads-per-row 16
    for tpr in 64 128 256; do
        config "dist-row-reads-1-tpr-$tpr" --loss dist --shape "$shapes" --pass forward+grad --dist-row-reads 1 --threads-per-row $tpr
    done
    config cached-false --loss kl,dist,dkd --shape "$shapes" --pass forward+grad --cached-rows false
fi
if [ -z "${FOLLOWUP:-}" ]; then
    echo "== 16-bit inputs"
    config f16-bf16 --loss kl,dist,dkd,jsd,tvd --shape "$wide" --dtype f16,bf16 --pass forward+grad
fi
echo "== done in $(elapsed) s"
pack
ls -la "$out"
