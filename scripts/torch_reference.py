"""KL and DIST written in PyTorch from SPEC.md, timed on the same GPU as `wgpu-distill bench`.

Prints one JSON object per line: loss, shape, pass, torch_ms (median of CUDA-event timings after
warm-up), and the loss value. Eager PyTorch, float32, as a user would write it.
"""
import json
import sys

import torch


def kl_loss(zs, zt, t):
    p = torch.softmax(zt / t, dim=1)
    log_q = torch.log_softmax(zs / t, dim=1)
    log_p = torch.log_softmax(zt / t, dim=1)
    return t * t * (p * (log_p - log_q)).sum(dim=1).mean()


def pearson(a, b):
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + 1e-8)


def dist_loss(zs, zt, t, beta=1.0, gamma=1.0):
    ys = torch.softmax(zs / t, dim=1)
    yt = torch.softmax(zt / t, dim=1)
    inter = 1.0 - pearson(ys, yt).mean()
    intra = 1.0 - pearson(ys.t(), yt.t()).mean()
    return t * t * (beta * inter + gamma * intra)


def timed(fn, iters=20, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    shapes = [(128, 100), (256, 1000), (4096, 1000), (512, 32000), (8192, 32000)]
    losses = {"kl": lambda s, t: kl_loss(s, t, 4.0), "dist": lambda s, t: dist_loss(s, t, 1.0)}
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name()}))
    for name, fn in losses.items():
        for b, c in shapes:
            g = torch.Generator(device="cuda").manual_seed(7)
            zs = torch.randn(b, c, device="cuda", generator=g) * 3.0
            zt = zs + 0.7 * 3.0 * torch.randn(b, c, device="cuda", generator=g)
            with torch.no_grad():
                value = fn(zs, zt).item()
                fwd = timed(lambda: fn(zs, zt))
            leaf = zs.clone().requires_grad_(True)

            def fwd_bwd():
                leaf.grad = None
                fn(leaf, zt).backward()

            both = timed(fwd_bwd)
            for pass_name, ms in (("forward", fwd), ("forward+grad", both)):
                print(json.dumps({"loss": name, "shape": [b, c], "pass": pass_name,
                                  "torch_ms": ms, "value": value}))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
