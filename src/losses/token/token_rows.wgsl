// The dense skeleton of the token losses (kl with options, jsd, tvd): the three sweeps that
// lib/token_common.wgsl describes, written once; the loss's term file follows it and the kernel
// file (token.wgsl, token_quads.wgsl) supplies the slot access.
//
// Uniformity: rows past the batch and ignored rows skip their loads but every lane reaches
// every barrier (seg_softmax2, seg_sum); the branches around barriers read only `params`.

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
            let slot = load_capped(base, s);
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
            let slot = load_capped(base, s);
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
                let zs = load_capped_student(base, s);
                var q_step = step * exp_accurate4(zs * inv_t - stats.x) * inv_sums.x;
                if params.softcap > 0.0 {
                    q_step *= softcap_slope4(zs);
                }
                store_slot(base, s, load_slot_grad(base, s) - q_step);
            } else {
                let slot = load_capped(base, s);
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
                if params.softcap > 0.0 {
                    z_label = softcap4(vec4<f32>(z_label)).x;
                }
            }
            total = row_total(sums.x, hard_stats, z_label, label, inv_n);
        }
        row_loss[batch_row] = total;
    }
}
