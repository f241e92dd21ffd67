// MLKD's row pass, per row, every temperature from the same loads (SPEC "MLKD"):
//   the instance term  row_loss[b] = sum_T T^2 sum_c kl_term(p_T, q_T)  (finish: w_kd / B),
//   q_T = softmax(x_s / T), p_T = softmax(x_t / T), x the row z-scored with LS, else raw;
//   its gradient       grad[b, c] = (w_kd / B) sum_T T (q_T - p_T), back through the z-score
//                      with LS: (g - ẑs κ) / d, κ = d <g, ẑs> / ((C - 1) σ);
//   the raw softmaxes  Ps_T, Pt_T into `probs` for the correlation terms (mlkd_gram.wgsl,
//                      mlkd_corr_grad.wgsl), which add their gradient after this pass (not
//                      written when both correlation weights are 0).
//
//   sweep 0  each row's raw max (softmax(z / T) has max(z) / T for every T) and with LS its
//            moments (standardize.wgsl);
//   sweep 1  for every T the sums of exp about the known max (raw, and of ẑ with LS with the
//            dots <e, ẑs> LS's gradient needs): no rescaling, one read for all T;
//   sweep 2  the terms, the gradient and the softmaxes.
//
// Uniformity: rows past the batch skip loads and stores but every lane reaches every barrier
// (row_moments, seg_max, seg_sum); the loops around barriers run over params.temps, and the
// branches around them read only `params`.

@group(0) @binding(0) var<uniform> params: MlkdParams;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> probs: array<f32>;

fn temperature_at(i: u32) -> f32 {
    return params.t[i / 4u][i % 4u];
}

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

    // Sweep 1: per T, the raw sums (.xy) and with LS the instance sums and dots (.zw, and
    // `dots`).
    var sums: array<vec4<f32>, MAX_TEMPERATURES>;
    var dots: array<vec2<f32>, MAX_TEMPERATURES>;
    for (var i = 0u; i < MAX_TEMPERATURES; i++) {
        sums[i] = vec4<f32>(0.0);
        dots[i] = vec2<f32>(0.0);
    }
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            let x = (z - mean) * k;
            for (var i = 0u; i < temps; i++) {
                let inv_t = 1.0 / temperature_at(i);
                let e = exp_accurate2((z - raw_max) * inv_t);
                var s = vec4<f32>(e, 0.0, 0.0);
                if standardize {
                    let ex = exp_accurate2((x - x_max) * inv_t);
                    s = vec4<f32>(e, ex);
                    dots[i] += ex * x.x;
                }
                sums[i] += s;
            }
        }
    }
    // The sums over the segment; LS's κ from Σ_T T <q_T - p_T, ẑs>.
    var dot = 0.0;
    for (var i = 0u; i < temps; i++) {
        sums[i] = seg_sum(lid, sums[i]);
        if standardize {
            let d = seg_sum(lid, vec4<f32>(dots[i], 0.0, 0.0)).xy;
            dot += temperature_at(i) * (d.x / sums[i].z - d.y / sums[i].w);
        }
    }
    var kappa = 0.0;
    if standardize && std_s > 0.0 {
        kappa = d_s * params.kd_scale * dot / (f32(cols - 1u) * std_s);
    }
    let inv_d = 1.0 / d_s;
    let block = params.rows * cols;

    // Sweep 2: the terms, the instance gradient, the softmaxes.
    var kl = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        let write_probs = params.write_probs != 0u;
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            let x = (z - mean) * k;
            var g = 0.0;
            for (var i = 0u; i < temps; i++) {
                let t = temperature_at(i);
                let inv_t = 1.0 / t;
                let s = sums[i];
                let raw = (z - raw_max) * inv_t;
                let e = exp_accurate2(raw) / s.xy;
                if write_probs {
                    probs[2u * i * block + base + c] = e.x;
                    probs[(2u * i + 1u) * block + base + c] = e.y;
                }
                // The instance term's softmaxes: the raw ones, or of ẑ with LS.
                var xs = raw.x;
                var xt = raw.y;
                var q = e.x;
                var p = e.y;
                var log_ratio = log(s.y / s.x);
                if standardize {
                    let y = (x - x_max) * inv_t;
                    xs = y.x;
                    xt = y.y;
                    let f = exp_accurate2(y) / s.zw;
                    q = f.x;
                    p = f.y;
                    log_ratio = log(s.w / s.z);
                }
                kl += t * t * kl_term(p, q, (xt - xs) - log_ratio);
                g += t * (q - p);
            }
            if write_grad {
                var value = params.kd_scale * g;
                if standardize {
                    value = (value - x.x * kappa) * inv_d;
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
