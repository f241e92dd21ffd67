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

// Logit soft-capping (SPEC "Logit soft-capping"; params.softcap = c > 0, 0 for none):
// z <- c tanh(z / c) on the student and the teacher as they are loaded (`load_capped`), so the
// skeleton's sweeps and the hard term see the capped logits; the gradient is multiplied by the
// cap's slope 1 - tanh^2 (`token_grad`, and the in-place projection).

// c tanh(z / c) with tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|)), the sign restored: expm1 by
// phi's series on |2x| < 1 (no cancellation near 0, where WGSL's tanh may lose digits), else
// as exp - 1.
fn softcap4(z: vec4<f32>) -> vec4<f32> {
    let c = params.softcap;
    let a = -2.0 * abs(z) / c;
    let em1 = select(exp_accurate4(a) - 1.0, a + a * a * phi_over_d2_4(-a), a > vec4<f32>(-1.0));
    return sign(z) * (c * (-em1 / (2.0 + em1)));
}

// The cap's slope 1 - tanh^2(z / c), from the capped logit zc = c tanh(z / c) (an absolute
// error of a few f32 roundings: negligible against the gradient it scales).
fn softcap_slope4(zc: vec4<f32>) -> vec4<f32> {
    let t = zc / params.softcap;
    return (1.0 - t) * (1.0 + t);
}

// A slot of the row, capped when the loss asks for it.
fn load_capped(base: u32, s: u32) -> Slot {
    var slot = load_slot(base, s);
    if params.softcap > 0.0 {
        slot.zs = softcap4(slot.zs);
        slot.zt = softcap4(slot.zt);
    }
    return slot;
}

// The student's logits of a slot (for the in-place projection), capped when asked.
fn load_capped_student(base: u32, s: u32) -> vec4<f32> {
    let zs = load_slot_student(base, s);
    if params.softcap > 0.0 {
        return softcap4(zs);
    }
    return zs;
}

// ∂L/∂zs of four classes from the soft term's gradient `soft`, with the row's scales
// (soft_grad_scale / n, hard_weight / n) and the hard term's statistics; `slot` holds the
// capped logits when the loss caps them.
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
    if params.softcap > 0.0 {
        g *= softcap_slope4(slot.zs);
    }
    return g;
}
