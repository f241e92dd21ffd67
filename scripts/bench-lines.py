"""One line per result of `wgpu-distill bench --json` on stdin, tagged with a configuration name.

    wgpu-distill bench --json ... | python3 scripts/bench-lines.py NAME

Prints: configuration, loss, shape, dtype, pass, GPU ms, roofline ms, fraction of the roofline,
input reads and dispatches, and, where the bench ran with --per-dispatch, each dispatch's ms.
"""
import json
import sys


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "-"
    for raw in sys.stdin:
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:
            r = json.loads(raw)
        except json.JSONDecodeError:
            print(f"{name:<28} unparsed: {raw[:80]}")
            continue
        shape = "x".join(str(n) for n in r.get("shape", []))
        frac = r.get("roofline_fraction")
        roof = r.get("roofline_ms")
        parts = [
            f"{name:<28}",
            f"{r.get('loss', '?'):<10}",
            f"{shape:>11}",
            f"{r.get('dtype', '?'):>4}",
            f"{r.get('pass', '?'):>12}",
            f"gpu {r.get('gpu_ms', float('nan')):9.4f} ms",
            f"roof {roof if roof is not None else float('nan'):8.4f} ms",
            f"frac {frac if frac is not None else float('nan'):5.3f}",
            f"reads {r.get('input_reads') or '-'}",
            f"disp {r.get('dispatches', '?')}",
        ]
        dispatches = r.get("dispatch_ms") or []
        if dispatches:
            parts.append(
                "[" + ", ".join(f"{d['kernel']} {d['ms']:.4f}" for d in dispatches) + "]"
            )
        print(" ".join(parts))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
