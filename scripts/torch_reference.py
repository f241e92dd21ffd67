"""The bench's losses written in eager PyTorch from SPEC.md, timed beside `wgpu-distill bench`.

Prints `{"torch": version, "device": name}` first, then one JSON object per line and pass:
loss, shape, pass (forward, forward+grad), torch_ms (the median of the timed runs after 3
warm-up runs: CUDA events on a GPU, time.perf_counter on the CPU) and value (the loss). A
loss×shape that fails prints {"loss", "shape", "error"} instead and the run goes on.

Eager PyTorch in float32, as a user would write it: softmax/log_softmax, autograd for the
gradient (forward+grad times the forward and `backward()` with respect to the student logits).

Each loss at the bench's preset (`bench_spec` in cli/src/bench.rs; the Default impls of
KlParams, JsdParams, TvdParams, DistParams, DkdParams and TokenOptions in src/losses/):
  kl         T = 4, no labels: Hinton KD, T²·KL(p‖q) batchmean.
  kl+soft    T = 1, labels, 0.5·KL over the valid rows (token form; nothing is masked).
  kl+hard    kl+soft plus 0.5·CE (Liger's 0.5/0.5 blend).
  kl+sparse  T = 1, no labels, the teacher's top K = 64 ids and their full-vocabulary
             log-probs at T = 1, no tail; printed as "kl sparse", the bench's name for it.
  jsd        β = 0.5, T = 1, labels, weights 1/0 (generalized JSD, TRL's form).
  jsd+hard   0.5·JSD + 0.5·CE.
  tvd        T = 1, labels, ½·Σ|p − q| per row.
  dist       T = 1, β = γ = 1.
  dist+hard  CE + 2·DIST (DIST's official recipe).
  dkd        T = 4, α = 1, β = 8, labels, no hard term.
Inputs: zs = 3·randn, zt = zs + 2.1·randn (seed 7), made once per shape and shared by the
losses. Labels: row r's label is r mod C, as the bench gives them (src/bench.rs), so no row is
masked; the token losses still read them and mask ignore_index (−100) rows as in training.
The sparse teacher is built once per shape outside the timing, as the bench builds it on the
host: ids = topk(zt, K), logprobs = log_softmax(zt)[ids].

  python3 scripts/torch_reference.py [--losses kl,dkd] [--shapes 128x100,512x32000]
      [--iters 20] [--device cuda|cpu] [--sparse-k 64]
"""
import argparse
import gc
import json
import math
import platform
import sys
import time

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
DEFAULT_SHAPES = "128x100,256x1000,4096x1000,512x32000,8192x32000"


# --- KL (Hinton KD): T²·(1/B)·Σ_b Σ_c p·(log p − log q) ---
def kl_loss(zs, zt, t):
    p = torch.softmax(zt / t, dim=1)
    log_q = torch.log_softmax(zs / t, dim=1)
    log_p = torch.log_softmax(zt / t, dim=1)
    return t * t * (p * (log_p - log_q)).sum(dim=1).mean()


# --- Token losses: per-row losses, masked by ignore_index, divided by the valid rows ---
def kl_rows(zs, zt, t):
    log_q = torch.log_softmax(zs / t, dim=1)
    log_p = torch.log_softmax(zt / t, dim=1)
    return t * t * (log_p.exp() * (log_p - log_q)).sum(dim=1)


def jsd_rows(zs, zt, t, beta):
    log_q = torch.log_softmax(zs / t, dim=1)
    log_p = torch.log_softmax(zt / t, dim=1)
    if beta == 0.0:
        return (log_p.exp() * (log_p - log_q)).sum(dim=1)
    if beta == 1.0:
        return (log_q.exp() * (log_q - log_p)).sum(dim=1)
    log_m = torch.logsumexp(torch.stack([log_p + math.log(beta), log_q + math.log(1.0 - beta)]), dim=0)
    kl_p = (log_p.exp() * (log_p - log_m)).sum(dim=1)
    kl_q = (log_q.exp() * (log_q - log_m)).sum(dim=1)
    return beta * kl_p + (1.0 - beta) * kl_q


def tvd_rows(zs, zt, t):
    p = torch.softmax(zt / t, dim=1)
    q = torch.softmax(zs / t, dim=1)
    return 0.5 * (p - q).abs().sum(dim=1)


def sparse_kl_rows(zs, ids, logprobs, t):
    log_q = torch.log_softmax(zs / t, dim=1).gather(1, ids)
    log_p = torch.log_softmax(logprobs / t, dim=1)
    return t * t * (log_p.exp() * (log_p - log_q)).sum(dim=1)


def token_loss(rows, zs, labels, w_soft=1.0, w_hard=0.0):
    """w_soft·(Σ valid rows)/n + w_hard·CE(raw zs)/n, n = the valid rows (at least 1)."""
    valid = labels != IGNORE_INDEX
    n = valid.sum().clamp(min=1)
    loss = w_soft * rows.masked_fill(~valid, 0.0).sum() / n
    if w_hard != 0.0:
        ce = F.cross_entropy(zs, labels, ignore_index=IGNORE_INDEX, reduction="sum")
        loss = loss + w_hard * ce / n
    return loss


# --- DIST: T²·(β·(1 − mean row pearson) + γ·(1 − mean column pearson)) ---
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


def dist_hard_loss(zs, zt, labels, t=1.0, beta=1.0, gamma=1.0, w_soft=2.0, w_hard=1.0):
    return w_soft * dist_loss(zs, zt, t, beta, gamma) + w_hard * F.cross_entropy(zs, labels)


# --- DKD: α·TCKD + β·NCKD, the target class excluded exactly, logs through log-sum-exp ---
def dkd_loss(zs, zt, labels, t=4.0, alpha=1.0, beta=8.0, w_soft=1.0, w_hard=0.0):
    gt = torch.zeros_like(zs).scatter_(1, labels.unsqueeze(1), 1).bool()
    target = labels.unsqueeze(1)
    ls = zs / t
    lt = zt / t
    lse_s = torch.logsumexp(ls, dim=1)
    lse_t = torch.logsumexp(lt, dim=1)
    # Binary [target, other] log-probabilities: log p_g and log Σ_{c≠g} p_c.
    s_g = ls.gather(1, target).squeeze(1) - lse_s
    t_g = lt.gather(1, target).squeeze(1) - lse_t
    s_o = torch.logsumexp(ls.masked_fill(gt, float("-inf")), dim=1) - lse_s
    t_o = torch.logsumexp(lt.masked_fill(gt, float("-inf")), dim=1) - lse_t
    tckd = (t_g.exp() * (t_g - s_g) + t_o.exp() * (t_o - s_o)).mean()
    # Softmax over the non-target classes.
    log_ps_hat = torch.log_softmax(ls.masked_fill(gt, float("-inf")), dim=1)
    log_pt_hat = torch.log_softmax(lt.masked_fill(gt, float("-inf")), dim=1)
    nckd = (log_pt_hat.exp() * (log_pt_hat - log_ps_hat).masked_fill(gt, 0.0)).sum(dim=1).mean()
    loss = w_soft * t * t * (alpha * tckd + beta * nckd)
    if w_hard != 0.0:
        loss = loss + w_hard * F.cross_entropy(zs, labels)
    return loss


# name (as printed, matching the bench's JSON) -> loss(zs, inputs) with the bench's preset.
# `inputs` holds zt, labels, ids and logprobs (the sparse teacher).
LOSSES = {
    "kl": lambda zs, d: kl_loss(zs, d["zt"], 4.0),
    "kl+soft": lambda zs, d: token_loss(kl_rows(zs, d["zt"], 1.0), zs, d["labels"], 0.5, 0.0),
    "kl+hard": lambda zs, d: token_loss(kl_rows(zs, d["zt"], 1.0), zs, d["labels"], 0.5, 0.5),
    "kl sparse": lambda zs, d: sparse_kl_rows(zs, d["ids"], d["logprobs"], 1.0).mean(),
    "jsd": lambda zs, d: token_loss(jsd_rows(zs, d["zt"], 1.0, 0.5), zs, d["labels"], 1.0, 0.0),
    "jsd+hard": lambda zs, d: token_loss(jsd_rows(zs, d["zt"], 1.0, 0.5), zs, d["labels"], 0.5, 0.5),
    "tvd": lambda zs, d: token_loss(tvd_rows(zs, d["zt"], 1.0), zs, d["labels"], 1.0, 0.0),
    "dist": lambda zs, d: dist_loss(zs, d["zt"], 1.0),
    "dist+hard": lambda zs, d: dist_hard_loss(zs, d["zt"], d["labels"]),
    "dkd": lambda zs, d: dkd_loss(zs, d["zt"], d["labels"]),
}
ALIASES = {"kl+sparse": "kl sparse"}


def timed(fn, device, iters, warmup=3):
    cuda = device.type == "cuda"
    for _ in range(warmup):
        fn()
    if cuda:
        torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        if cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def make_inputs(b, c, device, sparse_k):
    g = torch.Generator(device=device).manual_seed(7)
    zs = torch.randn(b, c, device=device, generator=g) * 3.0
    zt = zs + 0.7 * 3.0 * torch.randn(b, c, device=device, generator=g)
    labels = torch.arange(b, device=device) % c
    k = max(1, min(sparse_k, c))
    ids = zt.topk(k, dim=1).indices
    logprobs = torch.log_softmax(zt, dim=1).gather(1, ids)
    return zs, {"zt": zt, "labels": labels, "ids": ids, "logprobs": logprobs}


def run_loss(name, fn, zs, data, device, iters):
    with torch.no_grad():
        value = fn(zs, data).item()
        fwd = timed(lambda: fn(zs, data), device, iters)
    leaf = zs.clone().requires_grad_(True)

    def fwd_bwd():
        leaf.grad = None
        fn(leaf, data).backward()

    both = timed(fwd_bwd, device, iters)
    return value, fwd, both


def emit(obj):
    print(json.dumps(obj))
    sys.stdout.flush()


def free(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--losses", default="all",
                    help="comma list of: " + ",".join(["kl+sparse" if n == "kl sparse" else n for n in LOSSES])
                    + " (default: all)")
    ap.add_argument("--shapes", default=DEFAULT_SHAPES, help="comma list of BxC (default: %(default)s)")
    ap.add_argument("--iters", type=int, default=20, help="timed runs per pass (default: 20)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default=None,
                    help="default: cuda if available, else cpu")
    ap.add_argument("--sparse-k", type=int, default=64, help="ids per row of the kl+sparse teacher")
    args = ap.parse_args(argv)
    if args.losses == "all":
        args.losses = list(LOSSES)
    else:
        names = [n.strip() for n in args.losses.split(",") if n.strip()]
        names = [ALIASES.get(n, n) for n in names]
        unknown = [n for n in names if n not in LOSSES]
        if unknown:
            ap.error(f"unknown loss(es) {unknown}; known: {list(LOSSES)} (kl+sparse = 'kl sparse')")
        args.losses = names
    try:
        args.shapes = [tuple(int(x) for x in s.strip().lower().split("x")) for s in args.shapes.split(",")
                       if s.strip()]
        assert all(len(s) == 2 and s[0] > 0 and s[1] > 0 for s in args.shapes)
    except (ValueError, AssertionError):
        ap.error(f"--shapes wants BxC,BxC,... (got {args.shapes!r})")
    if args.iters < 1:
        ap.error("--iters must be at least 1")
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    emit({"torch": torch.__version__, "device": name})
    for b, c in args.shapes:
        shape = [b, c]
        try:
            zs, data = make_inputs(b, c, device, args.sparse_k)
        except Exception as e:  # noqa: BLE001: report and go on to the next shape
            for loss in args.losses:
                emit({"loss": loss, "shape": shape, "error": f"inputs: {type(e).__name__}: {e}"})
            free(device)
            continue
        for loss in args.losses:
            try:
                value, fwd, both = run_loss(loss, LOSSES[loss], zs, data, device, args.iters)
                for pass_name, ms in (("forward", fwd), ("forward+grad", both)):
                    emit({"loss": loss, "shape": shape, "pass": pass_name, "torch_ms": ms, "value": value})
            except Exception as e:  # noqa: BLE001: one failure must not stop the others
                emit({"loss": loss, "shape": shape, "error": f"{type(e).__name__}: {e}"})
            free(device)
        del zs, data
        free(device)


if __name__ == "__main__":
    main()
