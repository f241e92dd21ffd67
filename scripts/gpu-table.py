"""The GPU tables of docs/performance.md, from the raw output of scripts/device-bench.sh.

    python3 scripts/gpu-table.py docs/measurements/h200-2026-12-04            # print
    python3 scripts/gpu-table.py DIR --write docs/performance.md               # replace the section
    python3 scripts/gpu-table.py DIR --before OLD_DIR ...                      # and a before column

DIR holds `default.jsonl` (every bench loss under the default strategy), `torch.jsonl` (eager
PyTorch on the same GPU), `info.txt`, and one `NAME.jsonl` per forced configuration. The section
between `<!-- gpu-table ... -->` and `<!-- /gpu-table -->` in the file given to --write is
replaced; nothing else is touched.
"""
import argparse
import json
import os
import re
import sys

GOALS = {("kl", "4096x1000"): 0.85, ("kl", "512x32000"): 0.85,
         ("dist", "4096x1000"): 0.5, ("dist", "512x32000"): 0.5}


def read_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def shape_of(r):
    return "x".join(str(n) for n in r["shape"])


def key(r):
    return (r["loss"], shape_of(r), r.get("dtype", "f32"), r["pass"])


def load(dir_):
    configs = {}
    for name in sorted(os.listdir(dir_)):
        if name.endswith(".jsonl") and name != "torch.jsonl":
            configs[name[:-6]] = {key(r): r for r in read_jsonl(os.path.join(dir_, name))
                                  if "gpu_ms" in r}
    torch = {}
    for r in read_jsonl(os.path.join(dir_, "torch.jsonl")):
        if "torch_ms" in r:
            torch[(r["loss"], shape_of(r), r["pass"])] = r["torch_ms"]
    adapter = next((r.get("adapter") for c in configs.values() for r in c.values()), "?")
    return configs, torch, adapter


def fmt(x, digits=3):
    return "–" if x is None else f"{x:.{digits}f}"


def tables(dir_, before_dir=None):
    configs, torch, adapter = load(dir_)
    default = configs.get("default", {})
    before = {}
    if before_dir:
        before_configs, before_torch, _ = load(before_dir)
        before = before_configs.get("default", {})
        torch = torch or before_torch
        # The earlier run's forced paths compete for "best" too, named after their run.
        tag = os.path.basename(os.path.normpath(before_dir))
        for name, rows in before_configs.items():
            if name != "f16-bf16":
                configs[f"{tag}/{name}"] = rows
    out = []
    rel = os.path.relpath(dir_, "docs") if not os.path.isabs(dir_) else dir_
    before_arg = f" --before {before_dir}" if before_dir else ""
    out.append(f"Adapter: **{adapter}** (Vulkan). Raw output: [`{os.path.basename(dir_)}/`]"
               f"({rel}/); regenerate with `python3 scripts/gpu-table.py {dir_}{before_arg} "
               f"--write docs/performance.md`. Measured with `scripts/device-bench.sh`: the "
               f"median of 20 timed runs (GPU timestamps), the roofline a copy kernel moving the "
               f"same least bytes in the same run.")
    out.append("")
    out.append("### Default strategy, float32")
    out.append("")
    if before:
        out.append(f"`before`: the fraction under the defaults of the run in "
                   f"`{os.path.basename(os.path.normpath(before_dir))}/`.")
        out.append("")
    head = "| loss | shape | pass | GPU ms | roofline ms | fraction |"
    sep = "|---|---|---|---:|---:|---:|"
    if before:
        head += " before |"
        sep += "---:|"
    head += " PyTorch ms | × PyTorch |"
    sep += "---:|---:|"
    out += [head, sep]
    for k, r in default.items():
        loss, shape, dtype, pass_ = k
        if dtype != "f32":
            continue
        t = torch.get((loss, shape, pass_))
        line = (f"| {loss} | {shape} | {pass_} | {fmt(r['gpu_ms'], 4)} | "
                f"{fmt(r.get('roofline_ms'), 4)} | {fmt(r.get('roofline_fraction'), 2)} |")
        if before:
            b = before.get(k)
            line += f" {fmt(b.get('roofline_fraction') if b else None, 2)} |"
        line += f" {fmt(t, 4)} | {fmt(t / r['gpu_ms'] if t else None, 1)} |"
        out.append(line)
    out.append("")
    out.append("### Goals (forward+grad, fraction of the roofline)")
    out.append("")
    out.append("| loss | shape | goal | default | best forced path |")
    out.append("|---|---|---:|---:|---|")
    for (loss, shape), goal in GOALS.items():
        k = (loss, shape, "f32", "forward+grad")
        d = default.get(k)
        best = best_forced(configs, k)
        out.append(f"| {loss} | {shape} | {goal} | {fmt(d['roofline_fraction'] if d else None, 2)} | "
                   + (f"{best[0]}: {best[1]['roofline_fraction']:.2f}" if best else "–") + " |")
    out.append("")
    out.append("### Each forced path against the default (forward+grad, float32)")
    out.append("")
    out.append("Each configuration ran in its own process; the GPU's speed moved between processes "
               "(the same roofline copy took 0.73 or 1.73 ms at 8192x32000, and doubled within the "
               "default run at 512x32000), so configurations are compared by their fraction of the "
               "roofline measured beside them, not by milliseconds. Last column: the default's "
               "fraction over the best fraction (1.00: the default is the best measured; the goal "
               "is at least 0.5 at every default shape).")
    out.append("")
    names = [n for n in configs if n not in ("default", "f16-bf16")]
    keys = sorted({k for n in names for k in configs[n]
                   if k[3] == "forward+grad" and k[2] == "f32"},
                  key=lambda k: (k[0], int(k[1].split("x")[0]) * int(k[1].split("x")[1])))
    out.append("| loss | shape | default ms | default fraction | best configuration | its fraction | default / best |")
    out.append("|---|---|---:|---:|---|---:|---:|")
    for k in keys:
        d = default.get(k)
        best = best_forced(configs, k)
        if not best:
            continue
        df = d["roofline_fraction"] if d else None
        ratio = df / best[1]["roofline_fraction"] if d else None
        out.append(f"| {k[0]} | {k[1]} | {fmt(d['gpu_ms'] if d else None, 4)} | {fmt(df, 2)} | "
                   f"{best[0]} | {best[1]['roofline_fraction']:.2f} | {fmt(ratio, 2)} |")
    out.append("")
    out.append("### Where the time goes (default strategy, forward+grad, each dispatch timed alone)")
    out.append("")
    out.append("| loss | shape | roofline ms | dispatches (ms) |")
    out.append("|---|---|---:|---|")
    for k, r in default.items():
        if k[3] != "forward+grad" or k[1] not in ("4096x1000", "512x32000") or not r.get("dispatch_ms"):
            continue
        parts = ", ".join(f"{d['kernel']} {d['ms']:.4f}" for d in r["dispatch_ms"])
        out.append(f"| {k[0]} | {k[1]} | {fmt(r.get('roofline_ms'), 4)} | {parts} |")
    half = configs.get("f16-bf16", {})
    if half:
        out.append("")
        out.append("### 16-bit inputs (forward+grad; the roofline moves the 16-bit bytes)")
        out.append("")
        out.append("| loss | shape | dtype | GPU ms | fraction | f32 GPU ms |")
        out.append("|---|---|---|---:|---:|---:|")
        for k, r in half.items():
            f32 = default.get((k[0], k[1], "f32", k[3]))
            out.append(f"| {k[0]} | {k[1]} | {k[2]} | {r['gpu_ms']:.4f} | "
                       f"{fmt(r.get('roofline_fraction'), 2)} | {fmt(f32['gpu_ms'] if f32 else None, 4)} |")
    return "\n".join(out) + "\n"


def best_forced(configs, k):
    best = None
    for name, rows in configs.items():
        if name == "f16-bf16":
            continue
        r = rows.get(k)
        if r and (best is None or r["roofline_fraction"] > best[1]["roofline_fraction"]):
            best = (name, r)
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--before")
    p.add_argument("--write")
    a = p.parse_args()
    text = tables(a.dir, a.before)
    if not a.write:
        sys.stdout.write(text)
        return
    doc = open(a.write).read()
    pattern = re.compile(r"(<!-- gpu-table[^>]*-->\n).*?(<!-- /gpu-table -->)", re.S)
    if not pattern.search(doc):
        sys.exit(f"{a.write}: no <!-- gpu-table --> ... <!-- /gpu-table --> section")
    doc = pattern.sub(lambda m: m.group(1) + text + m.group(2), doc)
    open(a.write, "w").write(doc)


if __name__ == "__main__":
    main()
