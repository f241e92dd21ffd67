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

// Four temperatures' sums over a row: of the instance softmaxes (student, teacher), with LS
// their dots with ẑs, and the raw softmaxes' (the instance ones without LS).
struct Sums {
    student: vec4<f32>,
    teacher: vec4<f32>,
    dot_s: vec4<f32>,
    dot_t: vec4<f32>,
    raw_s: vec4<f32>,
    raw_t: vec4<f32>,
}

fn no_sums() -> Sums {
    let zero = vec4<f32>(0.0);
    return Sums(zero, zero, zero, zero, zero, zero);
}

// One class: `x` the instance logits less their row max (student, teacher), `z_hat` the
// student's instance logit, `raw` the raw logits less their row max, `inv` the four 1/T.
fn sums_push(o: Sums, x: vec2<f32>, z_hat: f32, raw: vec2<f32>, inv: vec4<f32>, standardize: bool, raw_too: bool) -> Sums {
    var out = o;
    let es = exp_accurate4(x.x * inv);
    let et = exp_accurate4(x.y * inv);
    out.student += es;
    out.teacher += et;
    if standardize {
        out.dot_s += es * z_hat;
        out.dot_t += et * z_hat;
    }
    if raw_too {
        out.raw_s += exp_accurate4(raw.x * inv);
        out.raw_t += exp_accurate4(raw.y * inv);
    }
    return out;
}

// The sums over the segment; without LS the raw sums are the instance ones. Holds barriers:
// call it from every lane, with `standardize` and `raw_too` read from `params`.
fn sums_merge(lid: u32, o: Sums, standardize: bool, raw_too: bool) -> Sums {
    var out = o;
    out.student = seg_sum(lid, o.student);
    out.teacher = seg_sum(lid, o.teacher);
    if standardize {
        out.dot_s = seg_sum(lid, o.dot_s);
        out.dot_t = seg_sum(lid, o.dot_t);
    }
    if raw_too {
        out.raw_s = seg_sum(lid, o.raw_s);
        out.raw_t = seg_sum(lid, o.raw_t);
    } else if !standardize {
        out.raw_s = out.student;
        out.raw_t = out.teacher;
    }
    return out;
}

// Σ_T T <q_T - p_T, ẑs> over four temperatures (LS's row dot).
fn sums_dot(s: Sums, t: vec4<f32>) -> f32 {
    return sum4(t * (s.dot_s / s.student - s.dot_t / s.teacher));
}

// What sweep 2 needs of four temperatures.
struct HalfTerms {
    inv_s: vec4<f32>,
    inv_t: vec4<f32>,
    log_ratio: vec4<f32>,
    t: vec4<f32>,
    inv: vec4<f32>,
}

fn half_terms(s: Sums, t: vec4<f32>, inv: vec4<f32>) -> HalfTerms {
    return HalfTerms(1.0 / s.student, 1.0 / s.teacher, log(s.teacher / s.student), t, inv);
}

// One class's (Σ_T T² kl_term, Σ_T T (q - p)) over four temperatures, `x` as in sums_push.
fn terms_at(h: HalfTerms, x: vec2<f32>) -> vec2<f32> {
    let ys = x.x * h.inv;
    let yt = x.y * h.inv;
    let q = exp_accurate4(ys) * h.inv_s;
    let p = exp_accurate4(yt) * h.inv_t;
    let terms = h.t * h.t * kl_term4(p, q, (yt - ys) - h.log_ratio);
    return vec2<f32>(sum4(terms), sum4(h.t * (q - p)));
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

    // Every temperature at once, four per vector: temperatures 0–3 in the `lo` half, 4–7 in
    // the `hi` one (computed only when there are more than four). The host fills the unused
    // temperatures with t = 1/t = 0: their exponentials are 1, their weights 0. (A loop over
    // the temperatures indexing arrays ran 3× slower on lavapipe: private arrays indexed in a
    // loop live in memory.)
    let high = temps > 4u;
    let raw_too = standardize && params.write_stats != 0u;
    let inv_lo = params.inv_t[0];
    let inv_hi = params.inv_t[1];

    // Sweep 1: the sums of the instance softmaxes, with LS their dots with ẑs and the raw
    // softmaxes' sums (for the correlation terms).
    var lo = no_sums();
    var hi = no_sums();
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            let y = (z - mean) * k;
            let raw = z - raw_max;
            lo = sums_push(lo, y - x_max, y.x, raw, inv_lo, standardize, raw_too);
            if high {
                hi = sums_push(hi, y - x_max, y.x, raw, inv_hi, standardize, raw_too);
            }
        }
    }
    lo = sums_merge(lid, lo, standardize, raw_too);
    if high {
        hi = sums_merge(lid, hi, standardize, raw_too);
    }
    // LS's κ from Σ_T T <q_T - p_T, ẑs>.
    var kappa = 0.0;
    if standardize && std_s > 0.0 {
        let dot = sums_dot(lo, params.t[0]) + select(0.0, sums_dot(hi, params.t[1]), high);
        kappa = d_s * params.kd_scale * dot / (f32(cols - 1u) * std_s);
    }
    let inv_d = 1.0 / d_s;

    // The raw softmaxes' statistics for mlkd_probs.wgsl.
    if params.write_stats != 0u && in_batch && lane == 0u {
        let at = row * (2u + 2u * MAX_TEMPERATURES);
        stats[at] = raw_max.x;
        stats[at + 1u] = raw_max.y;
        for (var i = 0u; i < temps; i++) {
            var half = lo;
            if i >= 4u {
                half = hi;
            }
            stats[at + 2u + 2u * i] = half.raw_s[i % 4u];
            stats[at + 3u + 2u * i] = half.raw_t[i % 4u];
        }
    }

    // Sweep 2: the terms and the instance gradient.
    let lo_terms = half_terms(lo, params.t[0], inv_lo);
    let hi_terms = half_terms(hi, params.t[1], inv_hi);
    var kl = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var c = lane; c < cols; c += TPR) {
            let z = vec2<f32>(load_student(base + c), load_teacher(base + c));
            let y = (z - mean) * k;
            var pair = terms_at(lo_terms, y - x_max);
            if high {
                pair += terms_at(hi_terms, y - x_max);
            }
            kl += pair.x;
            if write_grad {
                var value = params.kd_scale * pair.y;
                if standardize {
                    value = (value - y.x * kappa) * inv_d;
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
