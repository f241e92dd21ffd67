// DKD declarations shared by dkd.wgsl and dkd_quads.wgsl (prepended by `src/shaders.rs` after
// reduce.wgsl). `DkdParams` mirrors `DkdUniform` in src/losses/dkd.rs.

struct DkdParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    // T / B
    grad_scale: f32,
    alpha: f32,
    beta: f32,
    // First row of this chunk in the whole batch (labels and row_loss are batch-indexed).
    row_offset: u32,
    // The hard-label term (SPEC): 1 when on; its gradient scale w_hard / B; the batch's rows
    // (each row's CE is written at row_loss[batch_rows + row], summed by finish.wgsl).
    hard: u32,
    hard_scale: f32,
    batch_rows: u32,
}

// The raw (T = 1) softmax statistics of the whole row for the hard term: at T = 1 from the
// non-target statistics and the target (no extra pass), else from `apart`, the row's own
// running (max, sum) of the raw logits.
fn hard_stats(others: vec4<f32>, zg: f32, apart: vec2<f32>) -> vec2<f32> {
    if params.inv_t == 1.0 {
        return lse_merge(others.xy, vec2<f32>(zg, 1.0));
    }
    return apart;
}

// A row's TCKD and the target probabilities (student, teacher), from the softmax statistics
// of the non-target classes, `others` = (max, sum of exp(x - max)) of zs/T (.xy) and zt/T (.zw)
// over c != g, and the target's `xg` = (zs_g/T, zt_g/T). In linear space from the row max
// (README, "Numerics"), with the log-ratios of the binary distributions taken from the sums,
// so that a target leading by 200 T gives a rest mass of 0 and still a finite, exact term.
struct TargetSplit {
    tckd: f32,
    ps_g: f32,
    pt_g: f32,
}

fn target_split(others: vec4<f32>, xg: vec2<f32>) -> TargetSplit {
    let m = max(others.xz, xg);
    let rest = others.yw * exp_accurate2(others.xz - m);
    let at_target = exp_accurate2(xg - m);
    let total = rest + at_target;
    let inv = 1.0 / total;
    let p_g = at_target * inv;
    let p_o = rest * inv;
    let log_ratio = log(total.y / total.x);
    let d_g = ((xg.y - m.y) - (xg.x - m.x)) - log_ratio;
    let d_o = ((others.z - m.y) - (others.x - m.x)) + log(others.w / others.y) - log_ratio;
    let tckd = kl_term(p_g.y, p_g.x, d_g) + kl_term(p_o.y, p_o.x, d_o);
    return TargetSplit(tckd, p_g.x, p_g.y);
}
