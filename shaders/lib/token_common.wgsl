// The logit-row skeleton of the token losses (kl with options, jsd, tvd), prepended by
// `src/shaders.rs` after the softmax numerics. One skeleton, written once:
//
//   sweep 1  each row's softmax statistics of zs/T and zt/T (and of zs at T = 1 for the hard
//            term when T != 1), merged over the segment;
//   sweep 2  the loss terms, <g, q> (the softmax projection's row dot) and the gradient
//            without its projection;
//   sweep 3  only for the projected losses (jsd at beta > 0, tvd) when the gradient is asked
//            for: subtract q <g, q> in place (one read of the student and of the gradient, one
//            exp), or recompute the gradient where a stored one has lost bits (f16 / bf16).
//
// What differs between the losses is only the per-class term, supplied by the loss's term file
// (token_term_kl.wgsl, token_term_jsd.wgsl, token_term_tvd.wgsl), appended after this one:
//   fn projected() -> bool                 whether the gradient subtracts q <g, q>
//   fn soft_terms(p, q, d) -> SoftTerms    four classes' loss terms, q ⊙ g, and ∂row/∂(zs/T)
//                                          before the projection (q ⊙ g; kl: q - p)
// with p = softmax(zt/T), q = softmax(zs/T), d = log p - log q (exact: row_softmax.wgsl).
//
// How a row's classes are read is supplied by the kernel file (token.wgsl: four strided
// classes per slot, any C; token_quads.wgsl: one quad per slot, C a multiple of 4):
//   fn slot_count(cols) -> u32, fn load_slot(row_base, s) -> Slot,
//   fn load_slot_student(row_base, s) -> vec4<f32>, fn load_slot_grad(row_base, s) -> vec4<f32>,
//   fn store_slot(row_base, s, g: vec4<f32>), const GRAD_EXACT: bool
//
// Masking: a row whose label is ignore_index adds 0 and gets a zero gradient. Normaliser: the
// summed row losses are divided by n, the caller's value or the count of valid rows (computed
// on the device by token_count.wgsl). Hard term: w_hard * CE(zs at T = 1, label), gradient
// w_hard (softmax(zs) - onehot(label)), from the same reads as the soft term.
//
// Uniformity: rows past the batch and ignored rows skip their loads but every lane reaches
// every barrier (seg_softmax2, seg_sum); the branches around barriers read only `params`.

struct TokenParams {
    rows: u32,
    cols: u32,
    groups_x: u32,
    write_grad: u32,
    inv_t: f32,
    // jsd's interpolation (unused by kl and tvd).
    beta: f32,
    // First row of this chunk in the whole batch (labels and row_loss are indexed by it).
    row_offset: u32,
    has_labels: u32,
    // The i32 ignore_index as the u32 the labels buffer holds.
    ignore_index: u32,
    // 1: 1/n is normaliser[0] (valid rows counted on the device); 0: it is inv_n.
    count_on_device: u32,
    // 1: the hard-label term is computed.
    hard: u32,
    // 1: T = 1, so the hard term's softmax is q itself.
    hard_at_t: u32,
    inv_n: f32,
    // w_soft times the loss's own factor (T^2 for kl).
    soft_scale: f32,
    // w_soft times the gradient's factor (T for kl, 1/T for jsd and tvd).
    soft_grad_scale: f32,
    hard_weight: f32,
}

@group(0) @binding(0) var<uniform> params: TokenParams;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> normaliser: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_loss: array<f32>;

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

// ∂L/∂zs of four classes from the soft term's gradient `soft` and the hard term's, over n.
fn token_grad(slot: Slot, pr: Probs, soft: vec4<f32>, hard_stats: vec2<f32>, label: u32, inv_n: f32) -> vec4<f32> {
    var g = params.soft_grad_scale * soft;
    if params.hard != 0u {
        var q1 = pr.q;
        if params.hard_at_t == 0u {
            q1 = exp_accurate4(slot.zs - hard_stats.x) * (1.0 / hard_stats.y);
        }
        let onehot = select(vec4<f32>(0.0), vec4<f32>(1.0), slot.columns == vec4<u32>(label));
        g += params.hard_weight * (q1 - onehot);
    }
    return g * inv_n;
}

fn token_row(lid: u32, wid: vec3<u32>) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let batch_row = params.row_offset + row;
    var label = 0xffffffffu;
    var live = in_batch;
    if in_batch && params.has_labels != 0u {
        label = labels[batch_row];
        live = label != params.ignore_index;
    }
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let slots = slot_count(cols);
    let inv_t = params.inv_t;
    let hard_apart = params.hard != 0u && params.hard_at_t == 0u;

    // Sweep 1: softmax statistics.
    var st = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var st1 = vec2<f32>(NEG_BIG, 0.0);
    if live {
        for (var s = lane; s < slots; s += TPR) {
            let slot = load_slot(base, s);
            let big = vec4<f32>(NEG_BIG);
            st = vec4<f32>(
                lse_push4(st.xy, select(big, slot.zs * inv_t, slot.inside)),
                lse_push4(st.zw, select(big, slot.zt * inv_t, slot.inside)),
            );
            if hard_apart {
                st1 = lse_push4(st1, select(big, slot.zs, slot.inside));
            }
        }
    }
    let stats = seg_softmax2(lid, st);
    var hard_stats = stats.xy;
    if hard_apart {
        hard_stats = seg_softmax2(lid, vec4<f32>(st1, NEG_BIG, 0.0)).xy;
    }
    let inv_sums = 1.0 / stats.yw;
    let log_ratio = log(stats.w / stats.y);
    var inv_n = params.inv_n;
    if params.count_on_device != 0u {
        inv_n = normaliser[0];
    }
    let write_grad = params.write_grad != 0u;
    let project = projected();

    // Sweep 2: loss terms and <g, q>; the gradient before its projection.
    let early_grad = write_grad && (!project || GRAD_EXACT);
    var acc = vec2<f32>(0.0);
    if live {
        for (var s = lane; s < slots; s += TPR) {
            let slot = load_slot(base, s);
            let pr = probabilities(slot, stats, inv_sums, log_ratio);
            let t = soft_terms(pr.p, pr.q, pr.d);
            acc += vec2<f32>(sum4(masked(t.loss, slot.inside)), sum4(masked(t.gq, slot.inside)));
            if early_grad {
                store_slot(base, s, token_grad(slot, pr, t.grad, hard_stats, label, inv_n));
            }
        }
    }
    let sums = seg_sum(lid, vec4<f32>(acc, 0.0, 0.0)).xy;

    // Sweep 3: the projection, -q <g, q>, in place or by recomputing; zeros for an ignored row.
    if write_grad && live && project {
        let gq = sums.y;
        let step = params.soft_grad_scale * gq * inv_n;
        for (var s = lane; s < slots; s += TPR) {
            if GRAD_EXACT {
                let xs = load_slot_student(base, s) * inv_t - stats.x;
                let q = exp_accurate4(xs) * inv_sums.x;
                store_slot(base, s, load_slot_grad(base, s) - step * q);
            } else {
                let slot = load_slot(base, s);
                let pr = probabilities(slot, stats, inv_sums, log_ratio);
                let t = soft_terms(pr.p, pr.q, pr.d);
                store_slot(base, s, token_grad(slot, pr, t.grad - gq * pr.q, hard_stats, label, inv_n));
            }
        }
    }
    if write_grad && in_batch && !live {
        for (var s = lane; s < slots; s += TPR) {
            store_slot(base, s, vec4<f32>(0.0));
        }
    }

    if in_batch && lane == 0u {
        var total = 0.0;
        if live {
            total = params.soft_scale * sums.x;
            if params.hard != 0u {
                // CE = LSE(zs) - zs[label], LSE kept as (max, sum).
                let ce = hard_stats.x + log(hard_stats.y) - load_student(base + label);
                total += params.hard_weight * ce;
            }
            total *= inv_n;
        }
        row_loss[batch_row] = total;
    }
}
