// The softmax numerics of the logit-row kernels (KL, DIST, DKD), prepended after the input
// library to every kernel that reads logits. README, "Numerics", says why they are written so:
//
// - A row's softmax is kept as its statistics (max m, sum S of exp(x - m)) of x = z/T, never
//   as a log-sum-exp: a probability is exp(x - m) / S, whose exp argument is small exactly where
//   the probability is large (exp(x - LSE) has an argument of magnitude ~log C in every class,
//   and its rounding lands in every probability).
// - A log-ratio of two softmaxes of the same row, log p - log q, is (xt - mt) - (xs - ms) minus
//   one row constant, log(St / Ss): no log-sum-exp of magnitude ~log C is subtracted.
// - A KL term is p (log p - log q) + q - p, not p (log p - log q): the added q - p sum to zero
//   over a row, the terms are then all >= 0 and ~p d^2 / 2 for d = log p - log q, and the
//   rounding of the two sums S cancels to first order (`kl_term`).
//
// Uniformity: `row_softmax2` and `row_softmax2_quads` call `seg_softmax2`, which contains
// barriers: call them from every lane of the workgroup, in workgroup-uniform control flow.
// Rows past the batch (`in_batch == false`) skip their loads and still reach the barriers.

// Softmax statistics of the row whose first element is `base`, `cols` elements long, merged
// over the segment: (max of zs/T, sum of exp(zs/T - max), max of zt/T, sum of exp(zt/T - max)).
fn row_softmax2(lid: u32, in_batch: bool, base: u32, cols: u32, inv_t: f32) -> vec4<f32> {
    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var c = lid % TPR; c < cols; c += TPR) {
            stats = vec4<f32>(
                lse_push(stats.xy, load_student(base + c) * inv_t),
                lse_push(stats.zw, load_teacher(base + c) * inv_t),
            );
        }
    }
    return seg_softmax2(lid, stats);
}

// The same, four classes per load: the row's first quad is `base`, `quads` quads long.
fn row_softmax2_quads(lid: u32, in_batch: bool, base: u32, quads: u32, inv_t: f32) -> vec4<f32> {
    var stats = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    if in_batch {
        for (var q = lid % TPR; q < quads; q += TPR) {
            stats = vec4<f32>(
                lse_push4(stats.xy, load_student4(base + q) * inv_t),
                lse_push4(stats.zw, load_teacher4(base + q) * inv_t),
            );
        }
    }
    return seg_softmax2(lid, stats);
}

// phi(d) / d^2 for phi(d) = d + exp(-d) - 1 = sum_{k >= 2} (-d)^k / k!, on |d| < 1: the Taylor
// series to d^10 (the next term is below 3e-8 of phi there).
fn phi_over_d2(d: f32) -> f32 {
    var s = 1.0 / 3628800.0;
    s = -1.0 / 362880.0 + d * s;
    s = 1.0 / 40320.0 + d * s;
    s = -1.0 / 5040.0 + d * s;
    s = 1.0 / 720.0 + d * s;
    s = -1.0 / 120.0 + d * s;
    s = 1.0 / 24.0 + d * s;
    s = -1.0 / 6.0 + d * s;
    return 0.5 + d * s;
}

fn phi_over_d2_4(d: vec4<f32>) -> vec4<f32> {
    var s = vec4<f32>(1.0 / 3628800.0);
    s = -1.0 / 362880.0 + d * s;
    s = 1.0 / 40320.0 + d * s;
    s = -1.0 / 5040.0 + d * s;
    s = 1.0 / 720.0 + d * s;
    s = -1.0 / 120.0 + d * s;
    s = 1.0 / 24.0 + d * s;
    s = -1.0 / 6.0 + d * s;
    return 0.5 + d * s;
}

// The KL term of one class, p (log p - log q) + q - p = p phi(d) with d = log p - log q: by the
// series where |d| < 1 (p and q within a factor e: no cancellation, no exp of d), else directly
// (at most a few roundings of the terms' own size). p = 0 gives q, chosen by a select: a
// teacher logit of -inf (a masked class) makes d = -inf, or NaN where the student's is -inf
// too, and p d would be 0 * inf.
fn kl_term(p: f32, q: f32, d: f32) -> f32 {
    let term = select(p * (d - 1.0) + q, p * (d * d) * phi_over_d2(d), abs(d) < 1.0);
    return select(term, q, p == 0.0);
}

fn kl_term4(p: vec4<f32>, q: vec4<f32>, d: vec4<f32>) -> vec4<f32> {
    let term = select(p * (d - 1.0) + q, p * (d * d) * phi_over_d2_4(d), abs(d) < vec4<f32>(1.0));
    return select(term, q, p == vec4<f32>(0.0));
}
