// The dense skeleton of the token losses (kl with options, jsd, tvd): the three sweeps that
// lib/token_common.wgsl describes, written once; the loss's term file follows it and the kernel
// file (token.wgsl, token_quads.wgsl) supplies the slot access.
//
// Uniformity: rows past the batch and ignored rows skip their loads but every lane reaches
// every barrier (seg_softmax2, seg_sum); the branches around barriers read only `params`.

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

fn token_row(lid: u32, wid: vec3<u32>) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let batch_row = params.row_offset + row;
    let mask = row_mask(in_batch, batch_row);
    let label = mask.label;
    let live = mask.live;
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
    let inv_n = inv_normaliser();
    let scales = vec2<f32>(params.soft_grad_scale, params.hard_weight) * inv_n;
    let write_grad = params.write_grad != 0u;
    let project = projected();

    // Sweep 2: loss terms and <g, q>; the gradient before its projection.
    let in_place = GRAD_EXACT && PROJECT_IN_PLACE;
    let early_grad = write_grad && (!project || in_place);
    var loss_acc = vec4<f32>(0.0);
    var gq_acc = vec4<f32>(0.0);
    if live {
        for (var s = lane; s < slots; s += TPR) {
            let slot = load_slot(base, s);
            let pr = probabilities(slot, stats, inv_sums, log_ratio);
            let t = soft_terms(pr.p, pr.q, pr.d);
            loss_acc += masked(t.loss, slot.inside);
            gq_acc += masked(t.gq, slot.inside);
            if early_grad {
                store_slot(base, s, token_grad(slot, pr, t.grad, hard_stats, label, scales));
            }
        }
    }
    let sums = seg_sum(lid, vec4<f32>(sum4(loss_acc), sum4(gq_acc), 0.0, 0.0)).xy;

    // Sweep 3: the projection, -q <g, q>, in place or by recomputing; zeros for an ignored row.
    if write_grad && live && project {
        let gq = sums.y;
        let step = scales.x * gq;
        for (var s = lane; s < slots; s += TPR) {
            if in_place {
                let xs = load_slot_student(base, s) * inv_t - stats.x;
                let q = exp_accurate4(xs) * inv_sums.x;
                store_slot(base, s, load_slot_grad(base, s) - step * q);
            } else {
                let slot = load_slot(base, s);
                let pr = probabilities(slot, stats, inv_sums, log_ratio);
                let t = soft_terms(pr.p, pr.q, pr.d);
                store_slot(base, s, token_grad(slot, pr, t.grad - gq * pr.q, hard_stats, label, scales));
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
            var z_label = 0.0;
            if params.hard != 0u {
                z_label = load_student(base + label_column(label));
            }
            total = row_total(sums.x, hard_stats, z_label, label, inv_n);
        }
        row_loss[batch_row] = total;
    }
}
