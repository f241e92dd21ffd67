// DKD with LS (`standardize`, SPEC "LS"), per row: what dkd_rows (dkd.wgsl) computes, of the
// z-scored rows ẑ = (z - mean) / (std + 1e-7), and the gradient back through the z-score.
// The z-score is never stored: x = ẑ / T = (z - mean) k, k = 1 / ((std + 1e-7) T) (0 for a
// constant row, whose ẑ is 0).
//
//   sweep 0  the row moments of zs and zt (standardize.wgsl), the raw max of each over the
//            non-target classes (so the non-target softmax sums need no rescaling: x is
//            monotone in z), and the raw student's (max, sum) for the hard term;
//   sweep 1  the non-target sums S_s, S_t of exp(x - max) and their dots with ẑs, which give
//            <G, ẑs> of DKD's own gradient G (with respect to ẑs);
//   sweep 2  the NCKD terms and ∂L/∂z = (G - ẑs κ) / d + the hard term's gradient (raw
//            logits), κ = d <G, ẑs> / ((C - 1) σ) (0 for a constant row). G sums to 0 over the
//            row (TCKD's and NCKD's parts each do), so LS's projection P(G) is G itself.
// TCKD from the non-target statistics and the target (`target_split`, dkd_common.wgsl).
// A label outside [0, C) makes the row's loss NaN (the host checks labels before this).
//
// Uniformity: rows past the batch skip loads and stores but every lane reaches every barrier
// (row_moments, seg_max, seg_sum, seg_softmax2); the branches around barriers read only
// `params`.

@group(0) @binding(0) var<uniform> params: DkdParams;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn dkd_ls_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    var target_class = 0u;
    var valid = false;
    if in_batch {
        target_class = labels[params.row_offset + row];
        valid = target_class < cols;
        target_class = min(target_class, cols - 1u);
    }
    // `HARD_TERM` (prepended by the family, dkd/kernels.rs) equals params.hard != 0.
    let hard = HARD_TERM;
    let one = vec4<bool>(true, false, false, false);

    // Sweep 0: moments, the non-target raw maxima, the raw student's softmax statistics.
    var o = lane_moments();
    var others_max = vec2<f32>(NEG_BIG);
    var raw = vec2<f32>(NEG_BIG, 0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            o = moments_push4(o, vec4<f32>(z.x), vec4<f32>(z.y), one);
            if c != target_class {
                others_max = max(others_max, z);
            }
            if hard {
                raw = lse_push(raw, z.x);
            }
        }
    }
    let m = row_moments(lid, o, cols);
    let d = m.deviation + vec2<f32>(STD_EPS);
    let k = select(params.inv_t / d, vec2<f32>(0.0), m.constant);
    let raw_max = seg_max(lid, vec4<f32>(others_max, NEG_BIG, NEG_BIG)).xy;
    var known = vec2<f32>(0.0);
    var xg = vec2<f32>(0.0);
    var zg = 0.0;
    if in_batch {
        known = (raw_max - m.mean) * k;
        zg = load_student(base + target_class);
        xg = (vec2<f32>(zg, load_teacher(base + target_class)) - m.mean) * k;
    }
    var full = vec2<f32>(0.0, 1.0);
    if hard {
        full = seg_softmax2(lid, vec4<f32>(raw, NEG_BIG, 0.0)).xy;
    }

    // Sweep 1: the non-target sums about the known maxima and their dots with ẑs = x_s T.
    let t = 1.0 / params.inv_t;
    var acc = vec4<f32>(0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            if c == target_class {
                continue;
            }
            let xs = (load_student(base + c) - m.mean.x) * k.x;
            let xt = (load_teacher(base + c) - m.mean.y) * k.y;
            let es = exp_accurate(xs - known.x);
            let et = exp_accurate(xt - known.y);
            let z_hat = xs * t;
            acc += vec4<f32>(es, et, es * z_hat, et * z_hat);
        }
    }
    let sums = seg_sum(lid, acc);
    let others = vec4<f32>(known.x, sums.x, known.y, sums.y);
    let split = target_split(others, xg);
    let tc_grad = params.grad_scale * (split.ps_g - split.pt_g);
    let inv_others = 1.0 / others.yw;
    let log_ratio = log(others.w / others.y);
    // <G, ẑs>: TCKD's part at the target and against E_p̂s[ẑs], NCKD's from the two means.
    let means = sums.zw * inv_others;
    let dot = params.alpha * tc_grad * (xg.x * t - means.x)
        + params.beta * params.grad_scale * (means.x - means.y);
    var kappa = 0.0;
    if m.deviation.x > 0.0 {
        kappa = d.x * dot / (f32(cols - 1u) * m.deviation.x);
    }
    let inv_d = 1.0 / d.x;
    let inv_full = 1.0 / full.y;

    // Sweep 2: NCKD's terms and the gradient.
    var nckd = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var c = lane; c < cols; c += TPR) {
            let zs = load_student(base + c);
            let xs = (zs - m.mean.x) * k.x;
            var g = params.alpha * tc_grad;
            if c != target_class {
                let hs = exp_accurate(xs - known.x) * inv_others.x;
                let xt = (load_teacher(base + c) - m.mean.y) * k.y - known.y;
                let ht = exp_accurate(xt) * inv_others.y;
                nckd += kl_term(ht, hs, (xt - (xs - known.x)) - log_ratio);
                g = -params.alpha * tc_grad * hs + params.beta * params.grad_scale * (hs - ht);
            }
            if write_grad {
                var hard_grad = 0.0;
                if hard {
                    let q1 = exp_accurate(zs - full.x) * inv_full;
                    hard_grad = params.hard_scale * (q1 - select(0.0, 1.0, c == target_class));
                }
                grad[base + c] = (g - xs * t * kappa) * inv_d + hard_grad;
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(nckd, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        var value = params.alpha * split.tckd + params.beta * total;
        if !valid {
            value = bitcast<f32>(0x7fc00000u);
        }
        row_loss[params.row_offset + row] = value;
        if hard {
            row_loss[params.batch_rows + params.row_offset + row] = full.x + log(full.y) - zg;
        }
    }
}
