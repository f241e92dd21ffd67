// kl with LS (`standardize`) and/or CTKD's ∂L/∂T (`temperature_grad`) on the token
// declarations (masking, normaliser, hard term: token_common.wgsl); the kernel file
// (token.wgsl, token_quads.wgsl) supplies the slot access, as for token_rows.wgsl.
//
//   sweep 0  (LS) the row moments of zs and zt (standardize.wgsl). The z-score is never
//            stored: x = (z - mean) k with k = 1/((std + 1e-7) T), so the row max of x is known;
//   sweep 1  the softmax sums: with LS about that max (no rescaling) and with <e_s, ẑs> and
//            <e_t, ẑs>, the row dot of LS's gradient; without LS online, as token_rows.wgsl;
//            the raw student's statistics for the hard term;
//   sweep 2  the terms, the gradient and CTKD's row sums. LS's gradient needs no third sweep:
//            with g = q - p (mean 0), ∂L/∂z = (g - ẑ κ)/d, κ = d <g, ẑ>/((C - 1) σ), and
//            <g, ẑ> is known after sweep 1.
//   CTKD, per row (SPEC): 2T KL - T Cov_p(x_t, d) + T (E_p[x_s] - E_q[x_s]), d = log p - log q
//   (shifts of x cancel), written to row_loss[batch_rows + row] scaled by w_soft / n.
//   ttm with LS (params.teacher_power = gamma, T = 1, no T^2): the teacher's scale is gamma k,
//   so p = softmax(gamma ẑt); WTTM's row weight U = exp(LSE(gamma ẑt) - gamma LSE(ẑt))
//   = S_t / S_r^gamma with both sums about the known max (one more sum in sweep 1), and it
//   multiplies the row's soft term and its gradient (a teacher-only weight).
//
// Three constants the kernel's family prepends (token/kernels.rs) pick the variant:
//   STANDARDIZE_ROWS  LS on (sweep 0 and the z-score) or off (CTKD alone: online sums);
//   FULL_ROWS         true compiles the hard term and WTTM's weight (read from `params`);
//                     false leaves them out, for kl without them, so the sweeps carry only
//                     LS's and CTKD's arithmetic;
//   HELD_ROWS         true for rows of at most one slot a lane (C <= 4 TPR): each lane loads
//                     its slot once (`hold_slot`) and every sweep reads it from registers.
// Read from `params` instead, the LS branch inside sweep 1 cost lavapipe 14 instructions per
// element that it never took.
// The per-class sums are kept per component (vec4) and folded once per row.
//
// Reads: two sweeps of both inputs (one more with LS), as token_rows.wgsl without projection;
// one with HELD_ROWS.
// Uniformity: rows past the batch and ignored rows skip their loads but every lane reaches
// every barrier (row_moments, seg_softmax2, seg_sum); the branches around barriers read only
// `params` and constants.

var<private> held: Slot;

// Loads the lane's slot once when rows are held (the row's only slot of this lane: s = lane).
fn hold_slot(base: u32, lane: u32, slots: u32, live: bool) {
    if HELD_ROWS && live && lane < slots {
        held = load_slot(base, lane);
    }
}

// Slot `s` of the row: the held one, or from memory.
fn row_slot(base: u32, s: u32) -> Slot {
    if HELD_ROWS {
        return held;
    }
    return load_slot(base, s);
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
    let standardize = STANDARDIZE_ROWS;
    let hard = FULL_ROWS && params.hard != 0u;
    let hard_apart = hard && params.hard_at_t == 0u;
    let weighted = FULL_ROWS && params.weighted != 0u;
    let big = vec4<f32>(NEG_BIG);
    hold_slot(base, lane, slots, live);

    // Sweep 0 (LS): x = (z - mean) k.
    var mean = vec2<f32>(0.0);
    var k = vec2<f32>(params.inv_t);
    var d_s = 1.0;
    var std_s = 0.0;
    var known_max = vec2<f32>(0.0);
    if standardize {
        var o = lane_moments();
        if live {
            for (var s = lane; s < slots; s += TPR) {
                let slot = row_slot(base, s);
                o = moments_push4(o, slot.zs, slot.zt, slot.inside);
            }
        }
        let m = row_moments(lid, o, cols);
        let d = m.deviation + vec2<f32>(STD_EPS);
        mean = m.mean;
        k = select(params.inv_t / d, vec2<f32>(0.0), m.constant) * vec2<f32>(1.0, params.teacher_power);
        d_s = d.x;
        std_s = m.deviation.x;
        known_max = (m.max - mean) * k;
    }

    // Sweep 1: softmax sums (and LS's row dot, as <e, x_s>: ẑs = T x_s), the hard term's
    // statistics.
    var st = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var sum_es = vec4<f32>(0.0);
    var sum_et = vec4<f32>(0.0);
    var dot_es = vec4<f32>(0.0);
    var dot_et = vec4<f32>(0.0);
    var st1 = vec2<f32>(NEG_BIG, 0.0);
    // WTTM with LS: the sum of exp(ẑt - max ẑt), ẑt = x_t / gamma.
    let inv_power = 1.0 / params.teacher_power;
    if live {
        for (var s = lane; s < slots; s += TPR) {
            let slot = row_slot(base, s);
            let xs = (slot.zs - mean.x) * k.x;
            let xt = (slot.zt - mean.y) * k.y;
            if standardize {
                let es = masked(exp_accurate4(xs - known_max.x), slot.inside);
                let et = masked(exp_accurate4(xt - known_max.y), slot.inside);
                sum_es += es;
                sum_et += et;
                dot_es += es * xs;
                dot_et += et * xs;
                if weighted {
                    st1.y += sum4(masked(exp_accurate4((xt - known_max.y) * inv_power), slot.inside));
                }
            } else {
                st = vec4<f32>(
                    lse_push4(st.xy, select(big, xs, slot.inside)),
                    lse_push4(st.zw, select(big, xt, slot.inside)),
                );
            }
            if hard_apart {
                st1 = lse_push4(st1, select(big, slot.zs, slot.inside));
            }
        }
    }
    var stats: vec4<f32>;
    var dots = vec2<f32>(0.0);
    if standardize {
        let folded = vec4<f32>(sum4(sum_es), sum4(sum_et), sum4(dot_es), sum4(dot_et));
        let sums = seg_sum(lid, folded);
        stats = vec4<f32>(known_max.x, sums.x, known_max.y, sums.y);
        dots = sums.zw * params.temperature;
    } else {
        stats = seg_softmax2(lid, st);
    }
    var hard_stats = stats.xy;
    if hard_apart {
        hard_stats = seg_softmax2(lid, vec4<f32>(st1, NEG_BIG, 0.0)).xy;
    }
    // U = S_t / S_r^gamma (1 unless WTTM); the branch reads only `params`.
    var weight = 1.0;
    if weighted {
        let s_r = seg_sum(lid, vec4<f32>(st1.y, 0.0, 0.0, 0.0)).x;
        weight = exp_accurate(log(stats.w) - params.teacher_power * log(s_r));
    }
    let inv_sums = 1.0 / stats.yw;
    let log_ratio = log(stats.w / stats.y);
    let inv_n = inv_normaliser();
    let scales = vec2<f32>(params.soft_grad_scale * weight, params.hard_weight) * inv_n;
    let write_grad = params.write_grad != 0u;
    let want_dt = params.temperature_grad != 0u;
    // LS's gradient (g - ẑ κ)/d with ẑ = T x_s: the factor of x_s, T κ, and 1/d in `scale`.
    var x_kappa = 0.0;
    var scale = scales.x;
    if standardize {
        scale = scales.x / d_s;
        if std_s > 0.0 {
            let dot = dots.x * inv_sums.x - dots.y * inv_sums.y;
            x_kappa = params.temperature * d_s * dot / (f32(cols - 1u) * std_s);
        }
    }

    // Sweep 2: terms, gradient, CTKD's sums (Σ p x_t d, Σ p x_t, Σ (p - q) x_s).
    var loss_acc = vec4<f32>(0.0);
    var ctkd_ptd = vec4<f32>(0.0);
    var ctkd_pt = vec4<f32>(0.0);
    var ctkd_gap = vec4<f32>(0.0);
    if live {
        for (var s = lane; s < slots; s += TPR) {
            let slot = row_slot(base, s);
            let x_s = (slot.zs - mean.x) * k.x;
            let xs = x_s - stats.x;
            let xt = (slot.zt - mean.y) * k.y - stats.z;
            let q = exp_accurate4(xs) * inv_sums.x;
            let p = exp_accurate4(xt) * inv_sums.y;
            let d = (xt - xs) - log_ratio;
            loss_acc += masked(kl_term4(p, q, d), slot.inside);
            if want_dt {
                let pm = masked(p, slot.inside);
                let pxt = pm * xt;
                ctkd_ptd += pxt * d;
                ctkd_pt += pxt;
                ctkd_gap += masked(p - q, slot.inside) * xs;
            }
            if write_grad {
                let soft = (q - p) - x_s * x_kappa;
                if FULL_ROWS {
                    let g = token_grad(slot, Probs(q, p, d), soft, hard_stats, label, vec2<f32>(scale, scales.y));
                    store_slot(base, s, g);
                } else {
                    store_slot(base, s, scale * soft);
                }
            }
        }
    }
    let sums = seg_sum(lid, vec4<f32>(sum4(loss_acc), sum4(ctkd_ptd), sum4(ctkd_pt), sum4(ctkd_gap)));
    if write_grad && in_batch && !live {
        for (var s = lane; s < slots; s += TPR) {
            store_slot(base, s, vec4<f32>(0.0));
        }
    }

    if in_batch && lane == 0u {
        var total = 0.0;
        var dt = 0.0;
        if live {
            var z_label = 0.0;
            if hard {
                z_label = load_student(base + label_column(label));
            }
            total = row_total(weight * sums.x, hard_stats, z_label, label, inv_n);
            let t = params.temperature;
            let kl = sums.x;
            dt = (2.0 * t * kl - t * (sums.y - sums.z * kl) + t * sums.w) * params.soft_weight * inv_n;
        }
        row_loss[batch_row] = total;
        if want_dt {
            row_loss[params.batch_rows + batch_row] = dt;
        }
    }
}
