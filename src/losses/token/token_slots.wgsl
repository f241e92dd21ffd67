// What the dense token rows share (token_rows.wgsl, and token_ls_rows.wgsl for kl with LS or
// CTKD): a slot of four classes, the probabilities of a slot and the gradient with the hard
// term. Prepended after token_common.wgsl.

// Four classes of a row: raw logits, their columns, and which lie inside the row (outside ones
// hold a valid element of the row, never used).
struct Slot {
    zs: vec4<f32>,
    zt: vec4<f32>,
    columns: vec4<u32>,
    inside: vec4<bool>,
}

// A loss's terms for four classes: the loss terms, q ⊙ g (summed into <g, q>) and the
// gradient before the projection.
struct SoftTerms {
    loss: vec4<f32>,
    gq: vec4<f32>,
    grad: vec4<f32>,
}

struct Probs {
    q: vec4<f32>,
    p: vec4<f32>,
    d: vec4<f32>,
}

fn masked(v: vec4<f32>, inside: vec4<bool>) -> vec4<f32> {
    return select(vec4<f32>(0.0), v, inside);
}

fn probabilities(slot: Slot, stats: vec4<f32>, inv_sums: vec2<f32>, log_ratio: f32) -> Probs {
    let xs = slot.zs * params.inv_t - stats.x;
    let xt = slot.zt * params.inv_t - stats.z;
    return Probs(exp_accurate4(xs) * inv_sums.x, exp_accurate4(xt) * inv_sums.y, (xt - xs) - log_ratio);
}

// ∂L/∂zs of four classes from the soft term's gradient `soft`, with the row's scales
// (soft_grad_scale / n, hard_weight / n) and the hard term's statistics.
fn token_grad(slot: Slot, pr: Probs, soft: vec4<f32>, hard_stats: vec2<f32>, label: u32, scales: vec2<f32>) -> vec4<f32> {
    var g = scales.x * soft;
    if params.hard != 0u {
        var q1 = pr.q;
        if params.hard_at_t == 0u {
            q1 = exp_accurate4(slot.zs - hard_stats.x) * (1.0 / hard_stats.y);
        }
        let onehot = select(vec4<f32>(0.0), vec4<f32>(1.0), slot.columns == vec4<u32>(label));
        g += scales.y * (q1 - onehot);
    }
    return g;
}
