// The mixture logs of the token losses whose term mixes p and q (jsd, skl, srkl): for
// M = b p + (1 - b) q with 0 < b < 1, log p - log M and log q - log M from d = log p - log q and
// p, q, never from a log of M itself. Appended after token_rows.wgsl, before the loss's term.

// log(1 + u) for |u| < 1/4: 2 atanh(u / (2 + u)) by its series (to s^11: relative error below
// 1e-11 there). WGSL's log has an absolute error bound near 1, not a relative one.
fn log1p_small4(u: vec4<f32>) -> vec4<f32> {
    let s = u / (2.0 + u);
    let s2 = s * s;
    var r = vec4<f32>(1.0 / 11.0);
    r = 1.0 / 9.0 + s2 * r;
    r = 1.0 / 7.0 + s2 * r;
    r = 1.0 / 5.0 + s2 * r;
    r = 1.0 / 3.0 + s2 * r;
    r = 1.0 + s2 * r;
    return 2.0 * s * r;
}

struct MixLogs {
    // log p - log M
    pm: vec4<f32>,
    // log q - log M
    qm: vec4<f32>,
}

// log p - log M and log q - log M for 0 < b < 1. With e = e^-|d| = min(p, q) / max(p, q):
//   M / q = 1 + b (e^d - 1), M / p = 1 + (1 - b) (e^-d - 1);
// each log is taken by the log1p series where its argument lies within 1/4 of 1 (e^d - 1 by
// phi's series near d = 0, from e elsewhere: no cancellation either way), else as one shared
// log with the larger probability factored out: for d > 0, L = log(b + (1 - b) e),
// log p - log M = -L, log q - log M = -d - L; for d <= 0, L = log((1 - b) + b e),
// log q - log M = -L, log p - log M = d - L. No exp is evaluated.
fn mix_logs(p: vec4<f32>, q: vec4<f32>, d: vec4<f32>, b: f32) -> MixLogs {
    let pos = d > vec4<f32>(0.0);
    let e = min(p, q) / max(max(p, q), vec4<f32>(1e-37));
    let inv_e = 1.0 / e;
    let small = abs(d) < vec4<f32>(1.0);
    let em1_d = select(select(e - 1.0, inv_e - 1.0, pos), d + d * d * phi_over_d2_4(-d), small);
    let em1_neg_d = select(select(inv_e - 1.0, e - 1.0, pos), -d + d * d * phi_over_d2_4(d), small);
    let uq = b * em1_d;
    let up = (1.0 - b) * em1_neg_d;
    let big = log(select((1.0 - b) + b * e, b + (1.0 - b) * e, pos));
    let far_pm = select(d - big, -big, pos);
    let far_qm = select(-big, -d - big, pos);
    let quarter = vec4<f32>(0.25);
    return MixLogs(
        select(far_pm, -log1p_small4(up), abs(up) < quarter),
        select(far_qm, -log1p_small4(uq), abs(uq) < quarter),
    );
}
