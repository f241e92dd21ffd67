#!/usr/bin/env bash
# One-shot benchmark on a machine with a real GPU: wgpu-distill's bench through wgpu's Vulkan
# on the vendor driver, and the same losses in eager PyTorch on the same GPU.
# Expects a release binary at target/release/wgpu-distill (built elsewhere) and, when the
# machine lacks the Vulkan/EGL loaders, their .deb files under .gl/.
set -u
# SWEEPS=1 also times each kernel path forced and 32/64/256 lanes per row.
out="${OUT:-/tmp/device-bench}"; mkdir -p "$out"
echo "== vulkan exposure"
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1
ldconfig -p | grep -i vulkan || echo "no libvulkan in ldconfig"
if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
bin=./target/release/wgpu-distill
echo "== wgpu-distill info"
$bin info --backend vulkan 2>&1 | tee "$out/info.txt"
echo "== wgpu-distill self-check"
WGPU_DISTILL_BACKEND=vulkan $bin 2>&1 | tee "$out/selfcheck.txt"
echo "== wgpu-distill bench (default shapes and strategy, f32)"
$bin bench --backend vulkan --loss kl,dist,dkd --iters 20 --json \
    2> "$out/bench.progress" | tee "$out/bench.jsonl"
echo "== 16-bit inputs"
$bin bench --backend vulkan --loss kl,dist,dkd --shape 4096x1000,512x32000 --dtype f16,bf16 \
    --pass forward+grad --iters 20 --json 2>/dev/null | tee "$out/bench-16bit.jsonl"
echo "== DIST's one-read row pass (4 reads of each input with the gradient) against the default (5)"
$bin bench --backend vulkan --loss dist --shape 4096x1000,512x32000 --pass forward,forward+grad \
    --dist-row-reads 1 --iters 20 --json --per-dispatch 2>/dev/null | tee "$out/bench-dist-one-read.jsonl"
if [ -n "${SWEEPS:-}" ]; then
echo "== each kernel path forced, for comparison"
for cached in true false; do
    $bin bench --backend vulkan --loss kl,dist --shape 256x1000,4096x1000 --pass forward+grad \
        --cached-rows $cached --iters 20 --json 2>/dev/null | tee "$out/bench-cached-$cached.jsonl"
done
echo "== one class per load and barrier reductions forced (the quad and subgroup defaults' baselines)"
for flag in "--quads false" "--subgroups false"; do
    name=$(echo "$flag" | tr -d ' -')
    $bin bench --backend vulkan --loss kl,dist --shape 4096x1000,512x32000 --pass forward+grad \
        $flag --iters 20 --json --per-dispatch 2>/dev/null | tee "$out/bench-$name.jsonl"
done
echo "== DIST's gradient with four and eight rows per segment (8: the CPU default) against one (the GPU default)"
for rows in 4 8; do
    $bin bench --backend vulkan --loss dist --shape 4096x1000,512x32000 --pass forward+grad \
        --dist-grad-rows $rows --iters 20 --json --per-dispatch 2>/dev/null | tee "$out/bench-distgradrows$rows.jsonl"
done
echo "== lanes per row swept (for choosing the default)"
for tpr in 32 64 256; do
    $bin bench --backend vulkan --loss kl,dist --shape 4096x1000,512x32000 --pass forward+grad \
        --threads-per-row $tpr --iters 20 --json 2>/dev/null | tee "$out/bench-tpr-$tpr.jsonl"
done
fi
echo "== pytorch"
PYTHONUNBUFFERED=1 timeout 240 python3 scripts/torch_reference.py 2>&1 | tee "$out/torch.jsonl"
