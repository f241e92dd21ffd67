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
// Reads: two sweeps of both inputs (one more with LS), as token_rows.wgsl without projection.
// Uniformity: rows past the batch and ignored rows skip their loads but every lane reaches
// every barrier (row_moments, seg_softmax2, seg_sum); the branches around barriers read only
// `params`.

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
    let standardize = params.standardize != 0u;
    let hard_apart = params.hard != 0u && params.hard_at_t == 0u;
    let big = vec4<f32>(NEG_BIG);

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
                let slot = load_slot(base, s);
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

    // Sweep 1: softmax sums (and LS's row dot), the hard term's statistics.
    var st = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var dots = vec2<f32>(0.0);
    var st1 = vec2<f32>(NEG_BIG, 0.0);
    // WTTM with LS: the sum of exp(ẑt - max ẑt), ẑt = x_t / gamma.
    let weighted = params.weighted != 0u;
    let inv_power = 1.0 / params.teacher_power;
    var raw_teacher = 0.0;
    if live {
        for (var s = lane; s < slots; s += TPR) {
            let slot = load_slot(base, s);
            let xs = (slot.zs - mean.x) * k.x;
            let xt = (slot.zt - mean.y) * k.y;
            if standardize {
                let es = masked(exp_accurate4(xs - known_max.x), slot.inside);
                let et = masked(exp_accurate4(xt - known_max.y), slot.inside);
                let z_hat = xs * params.temperature;
                st = vec4<f32>(NEG_BIG, st.y + sum4(es), NEG_BIG, st.w + sum4(et));
                dots += vec2<f32>(sum4(es * z_hat), sum4(et * z_hat));
                if weighted {
                    raw_teacher += sum4(masked(exp_accurate4((xt - known_max.y) * inv_power), slot.inside));
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
    if standardize {
        let sums = seg_sum(lid, vec4<f32>(st.y, st.w, dots));
        stats = vec4<f32>(known_max.x, sums.x, known_max.y, sums.y);
        dots = sums.zw;
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
        let s_r = seg_sum(lid, vec4<f32>(raw_teacher, 0.0, 0.0, 0.0)).x;
        weight = exp_accurate(log(stats.w) - params.teacher_power * log(s_r));
    }
    let inv_sums = 1.0 / stats.yw;
    let log_ratio = log(stats.w / stats.y);
    let inv_n = inv_normaliser();
    let scales = vec2<f32>(params.soft_grad_scale * weight, params.hard_weight) * inv_n;
    let write_grad = params.write_grad != 0u;
    let want_dt = params.temperature_grad != 0u;
    var kappa = 0.0;
    var inv_d = 1.0;
    if standardize {
        inv_d = 1.0 / d_s;
        if std_s > 0.0 {
            let dot = dots.x * inv_sums.x - dots.y * inv_sums.y;
            kappa = d_s * dot / (f32(cols - 1u) * std_s);
        }
    }

    // Sweep 2: terms, gradient, CTKD's sums (Σ p x_t d, Σ p x_t, Σ (p - q) x_s).
    var loss_acc = vec4<f32>(0.0);
    var ctkd = vec3<f32>(0.0);
    if live {
        for (var s = lane; s < slots; s += TPR) {
            let slot = load_slot(base, s);
            let xs = (slot.zs - mean.x) * k.x - stats.x;
            let xt = (slot.zt - mean.y) * k.y - stats.z;
            let q = exp_accurate4(xs) * inv_sums.x;
            let p = exp_accurate4(xt) * inv_sums.y;
            let d = (xt - xs) - log_ratio;
            loss_acc += masked(kl_term4(p, q, d), slot.inside);
            if want_dt {
                let pm = masked(p, slot.inside);
                let gap = masked(p - q, slot.inside);
                ctkd += vec3<f32>(sum4(pm * xt * d), sum4(pm * xt), sum4(gap * xs));
            }
            if write_grad {
                var soft = q - p;
                if standardize {
                    let z_hat = ((slot.zs - mean.x) * k.x) * params.temperature;
                    soft = (soft - z_hat * kappa) * inv_d;
                }
                store_slot(base, s, token_grad(slot, Probs(q, p, d), soft, hard_stats, label, scales));
            }
        }
    }
    let sums = seg_sum(lid, vec4<f32>(sum4(loss_acc), ctkd));
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
            if params.hard != 0u {
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
