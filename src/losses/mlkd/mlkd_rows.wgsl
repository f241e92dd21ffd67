// MLKD's row pass, per row, every temperature from the same loads (SPEC "MLKD"):
//   the instance term  row_loss[b] = sum_T T^2 sum_c kl_term(p_T, q_T)  (finish: w_kd / B),
//   q_T = softmax(x_s / T), p_T = softmax(x_t / T), x the row z-scored with LS, else raw;
//   its gradient       grad[b, c] = (w_kd / B) sum_T T (q_T - p_T), back through the z-score
//                      with LS: (g - ẑs κ) / d, κ = d <g, ẑs> / ((C - 1) σ);
//   the raw softmaxes' statistics  stats[b] = (max zs, max zt, then per T the sums of
//                      exp((z - max) / T) of both): mlkd_probs.wgsl rebuilds Ps_T, Pt_T from
//                      them for the correlation terms (not written when both weights are 0).
//
//   sweep 0  each row's raw max (softmax(z / T) has max(z) / T for every T) and with LS its
//            moments (standardize.wgsl);
//   sweep 1  for every T the sums of exp about the known max (raw, and of ẑ with LS with the
//            dots <e, ẑs> LS's gradient needs): no rescaling, one read for all T;
//   sweep 2  the terms and the gradient.
// Without LS the instance softmaxes are the raw ones: one pair of sums per T.
//
// Uniformity: rows past the batch skip loads and stores but every lane reaches every barrier
// (row_moments, seg_max, seg_sum); the branches around barriers read only `params`.

@group(0) @binding(0) var<uniform> params: MlkdParams;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WG)
fn mlkd_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let temps = params.temps;
    let standardize = params.standardize != 0u;
    let one = vec4<bool>(true, false, false, false);

    // Sweep 0: the raw maxima; with LS the moments.
    var o = lane_moments();
    var raw_max = vec2<f32>(NEG_BIG);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            raw_max = max(raw_max, z);
            if standardize {
                o = moments_push4(o, vec4<f32>(z.x), vec4<f32>(z.y), one);
            }
        }
    }
    // The instance term's input: x = (z - mean) k (k = 1 / (std + 1e-7), 0 for a constant
    // row), or z itself; its max follows from the raw max.
    var mean = vec2<f32>(0.0);
    var k = vec2<f32>(1.0);
    var d_s = 1.0;
    var std_s = 0.0;
    if standardize {
        let m = row_moments(lid, o, cols);
        raw_max = m.max;
        let d = m.deviation + vec2<f32>(STD_EPS);
        mean = m.mean;
        k = select(1.0 / d, vec2<f32>(0.0), m.constant);
        d_s = d.x;
        std_s = m.deviation.x;
    } else {
        raw_max = seg_max(lid, vec4<f32>(raw_max, NEG_BIG, NEG_BIG)).xy;
    }
    var x_max = vec2<f32>(0.0);
    if in_batch {
        x_max = (raw_max - mean) * k;
    }

    // Every temperature at once, four per vector: temperatures 0–3 in the `_lo` vectors,
    // 4–7 in the `_hi` ones (computed only when there are more than four). The host fills
    // the unused temperatures with t = 1/t = 0: their exponentials are 1, their weights 0.
    // (A loop over the temperatures indexing arrays ran 3× slower on lavapipe: private
    // arrays indexed in a loop live in memory.)
    let high = temps > 4u;
    let t_lo = params.t[0];
    let t_hi = params.t[1];
    let inv_lo = params.inv_t[0];
    let inv_hi = params.inv_t[1];

    // Sweep 1: the sums of the instance softmaxes (of x), with LS their dots with ẑs and the
    // raw softmaxes' sums (for the correlation terms).
    let raw_too = standardize && params.write_stats != 0u;
    var ss_lo = vec4<f32>(0.0);
    var st_lo = vec4<f32>(0.0);
    var ss_hi = vec4<f32>(0.0);
    var st_hi = vec4<f32>(0.0);
    var ds_lo = vec4<f32>(0.0);
    var dt_lo = vec4<f32>(0.0);
    var ds_hi = vec4<f32>(0.0);
    var dt_hi = vec4<f32>(0.0);
    var rs_lo = vec4<f32>(0.0);
    var rt_lo = vec4<f32>(0.0);
    var rs_hi = vec4<f32>(0.0);
    var rt_hi = vec4<f32>(0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            let x = (z - mean) * k - x_max;
            let z_hat = x.x + x_max.x;
            let es = exp_accurate4(x.x * inv_lo);
            let et = exp_accurate4(x.y * inv_lo);
            ss_lo += es;
            st_lo += et;
            if standardize {
                ds_lo += es * z_hat;
                dt_lo += et * z_hat;
            }
            if raw_too {
                rs_lo += exp_accurate4((z.x - raw_max.x) * inv_lo);
                rt_lo += exp_accurate4((z.y - raw_max.y) * inv_lo);
            }
            if high {
                let es = exp_accurate4(x.x * inv_hi);
                let et = exp_accurate4(x.y * inv_hi);
                ss_hi += es;
                st_hi += et;
                if standardize {
                    ds_hi += es * z_hat;
                    dt_hi += et * z_hat;
                }
                if raw_too {
                    rs_hi += exp_accurate4((z.x - raw_max.x) * inv_hi);
                    rt_hi += exp_accurate4((z.y - raw_max.y) * inv_hi);
                }
            }
        }
    }
    ss_lo = seg_sum(lid, ss_lo);
    st_lo = seg_sum(lid, st_lo);
    if high {
        ss_hi = seg_sum(lid, ss_hi);
        st_hi = seg_sum(lid, st_hi);
    }
    // LS's κ from Σ_T T <q_T - p_T, ẑs>.
    var kappa = 0.0;
    if standardize {
        var dot = sum4(t_lo * (seg_sum(lid, ds_lo) / ss_lo - seg_sum(lid, dt_lo) / st_lo));
        if high {
            dot += sum4(t_hi * (seg_sum(lid, ds_hi) / ss_hi - seg_sum(lid, dt_hi) / st_hi));
        }
        if std_s > 0.0 {
            kappa = d_s * params.kd_scale * dot / (f32(cols - 1u) * std_s);
        }
    }
    let inv_d = 1.0 / d_s;

    // The raw softmaxes' statistics for mlkd_probs.wgsl (the instance sums without LS).
    if params.write_stats != 0u {
        if standardize {
            rs_lo = seg_sum(lid, rs_lo);
            rt_lo = seg_sum(lid, rt_lo);
            if high {
                rs_hi = seg_sum(lid, rs_hi);
                rt_hi = seg_sum(lid, rt_hi);
            }
        } else {
            rs_lo = ss_lo;
            rt_lo = st_lo;
            rs_hi = ss_hi;
            rt_hi = st_hi;
        }
        if in_batch && lane == 0u {
            let at = row * (2u + 2u * MAX_TEMPERATURES);
            stats[at] = raw_max.x;
            stats[at + 1u] = raw_max.y;
            for (var i = 0u; i < temps; i++) {
                var pair = vec2<f32>(rs_lo[i % 4u], rt_lo[i % 4u]);
                if i >= 4u {
                    pair = vec2<f32>(rs_hi[i % 4u], rt_hi[i % 4u]);
                }
                stats[at + 2u + 2u * i] = pair.x;
                stats[at + 3u + 2u * i] = pair.y;
            }
        }
    }

    // Sweep 2: the terms and the instance gradient.
    let inv_s_lo = 1.0 / ss_lo;
    let inv_t_lo = 1.0 / st_lo;
    let ratio_lo = log(st_lo / ss_lo);
    let inv_s_hi = 1.0 / ss_hi;
    let inv_t_hi = 1.0 / st_hi;
    let ratio_hi = log(st_hi / ss_hi);
    let t2_lo = t_lo * t_lo;
    let t2_hi = t_hi * t_hi;
    var kl = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            let x = (z - mean) * k - x_max;
            let ys = x.x * inv_lo;
            let yt = x.y * inv_lo;
            let q = exp_accurate4(ys) * inv_s_lo;
            let p = exp_accurate4(yt) * inv_t_lo;
            var terms = t2_lo * kl_term4(p, q, (yt - ys) - ratio_lo);
            var g = t_lo * (q - p);
            if high {
                let ys = x.x * inv_hi;
                let yt = x.y * inv_hi;
                let q = exp_accurate4(ys) * inv_s_hi;
                let p = exp_accurate4(yt) * inv_t_hi;
                terms += t2_hi * kl_term4(p, q, (yt - ys) - ratio_hi);
                g += t_hi * (q - p);
            }
            kl += sum4(terms);
            if write_grad {
                var value = params.kd_scale * sum4(g);
                if standardize {
                    value = (value - (x.x + x_max.x) * kappa) * inv_d;
                }
                grad[base + c] = value;
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(kl, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[row] = total;
    }
}
