// MLKD's row pass, per row, every temperature from the same loads (SPEC "MLKD"):
//   the instance term  row_loss[b] = sum_T T^2 sum_c kl_term(p_T, q_T)  (finish: w_kd / B),
//   q_T = softmax(x_s / T), p_T = softmax(x_t / T), x the row z-scored with LS, else raw;
//   its gradient       grad[b, c] = (w_kd / B) sum_T T (q_T - p_T), back through the z-score
//                      with LS: (g - ẑs κ) / d, κ = d <g, ẑs> / ((C - 1) σ);
//   the raw softmaxes' statistics  stats[b] = (max zs, max zt, then per T the sums of
//                      exp((z - max) / T) of both): mlkd_probs.wgsl rebuilds Ps_T, Pt_T from
//                      them for the correlation terms (not written when both weights are 0).
//
//   sweep 0  (LS) the row moments (standardize.wgsl), which give the row max of ẑ;
//   sweep 1  for every T the sums of exp: with LS about the known max (and the dots <e, ẑs>
//            LS's gradient needs, and the raw sums for the correlation terms); without LS
//            online, each lane's sums rescaled as its raw max rises (one exp per temperature
//            per slot), then to the row's max: one read for all T;
//   sweep 2  the terms and the gradient.
// So each input is read twice without LS and three times with it, for every temperature.
//
// `LS_ROWS`, a constant the kernel's family prepends (mlkd/kernels.rs), is LS on or off (the
// plan picks the variant from params.standardize): without LS the dots and raw sums are
// compiled out, fewer values live through the sweeps. `FIFTH_TEMPERATURE` (exactly five) and
// `HIGH_TEMPERATURES` (six to eight) likewise compile the temperature layout in: read from
// `params.temps`, their branches cost as much as the fifth temperature's work on lavapipe.
// Exactly five temperatures take mlkd_five.wgsl's layout (the fifth beside a class's vector of
// four; with `SQUARED_TEMPERATURES`, three exponentials a class and input for the five).
//
// The kernel file (mlkd_rows.wgsl: four strided classes a slot; mlkd_rows_quads.wgsl: four
// consecutive ones) supplies binding 4 (the gradient) and the slot access:
//   fn slot_count(cols) -> u32, fn load_slot(row_base, s) -> RowSlot,
//   fn store_slot(row_base, s, g: vec4<f32>)
//
// Uniformity: rows past the batch skip loads and stores but every lane reaches every barrier
// (row_moments, seg_max, seg_sum); the branches around barriers read only `params`.

@group(0) @binding(0) var<uniform> params: MlkdParams;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

// Four classes of a row and which lie inside it (outside ones hold a valid element).
struct RowSlot {
    zs: vec4<f32>,
    zt: vec4<f32>,
    inside: vec4<bool>,
}

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

// -inf (a masked logit) raised to NEG_BIG, so that an unused temperature's 1/T = 0 gives
// exp(0) = 1 (weight 0), not exp(0 * -inf) = NaN. An equality with -inf, not a max or `<`:
// a NaN stays NaN (GL's `<` took NaN for below).
fn above_neg_inf(x: vec2<f32>) -> vec2<f32> {
    let neg_inf = vec2<f32>(bitcast<f32>(0xff800000u));
    return select(x, vec2<f32>(NEG_BIG), x == neg_inf);
}

// One class: `x` the instance logits less their row max (student, teacher), `z_hat` the
// student's instance logit, `raw` the raw logits less their row max, `inv` the four 1/T.
fn sums_push(o: Sums, x_in: vec2<f32>, z_hat: f32, raw_in: vec2<f32>, inv: vec4<f32>, standardize: bool, raw_too: bool) -> Sums {
    var out = o;
    let x = above_neg_inf(x_in);
    let raw = above_neg_inf(raw_in);
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

// Without LS: the instance sums about a max `old` taken to a max `new_max` >= old (per input).
// A lane with no class yet (old = NEG_BIG) has sums 0 and keeps them (no -inf * 0 where an
// unused temperature has 1/T = 0).
fn sums_rescale(o: Sums, old: vec2<f32>, new_max: vec2<f32>, inv: vec4<f32>) -> Sums {
    let shift = select(old - new_max, vec2<f32>(0.0), old == vec2<f32>(NEG_BIG));
    var out = o;
    out.student = o.student * exp_accurate4(shift.x * inv);
    out.teacher = o.teacher * exp_accurate4(shift.y * inv);
    return out;
}

// One class of a slot if it lies inside the row, with the maxima `x_max` and `raw_max` as in
// sums_push.
fn sums_push_class(o: Sums, inside: bool, z: vec2<f32>, mean: vec2<f32>, k: vec2<f32>, x_max: vec2<f32>, raw_max: vec2<f32>, inv: vec4<f32>, standardize: bool, raw_too: bool) -> Sums {
    if !inside {
        return o;
    }
    let y = (z - mean) * k;
    return sums_push(o, y - x_max, y.x, z - raw_max, inv, standardize, raw_too);
}

// A slot's classes, each written out (a loop indexing the slot's components kept them in
// memory on lavapipe).
fn sums_push_slot(o: Sums, slot: RowSlot, mean: vec2<f32>, k: vec2<f32>, x_max: vec2<f32>, raw_max: vec2<f32>, inv: vec4<f32>, standardize: bool, raw_too: bool) -> Sums {
    var out = sums_push_class(o, slot.inside.x, vec2<f32>(slot.zs.x, slot.zt.x), mean, k, x_max, raw_max, inv, standardize, raw_too);
    out = sums_push_class(out, slot.inside.y, vec2<f32>(slot.zs.y, slot.zt.y), mean, k, x_max, raw_max, inv, standardize, raw_too);
    out = sums_push_class(out, slot.inside.z, vec2<f32>(slot.zs.z, slot.zt.z), mean, k, x_max, raw_max, inv, standardize, raw_too);
    return sums_push_class(out, slot.inside.w, vec2<f32>(slot.zs.w, slot.zt.w), mean, k, x_max, raw_max, inv, standardize, raw_too);
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

// Every temperature's sums: `lo` (temperatures 0–3), `hi` (4–7, with six to eight) and
// `fifth` (exactly five: mlkd_five.wgsl).
struct RowSums {
    lo: Sums,
    hi: Sums,
    fifth: Sums,
}

// The sums about a max `old` taken to `new_max`, in the compiled temperature layout.
fn row_rescale(o: RowSums, old: vec2<f32>, new_max: vec2<f32>, inv_lo: vec4<f32>, inv_hi: vec4<f32>) -> RowSums {
    if FIFTH_TEMPERATURE {
        return five_rescale(o, old, new_max, inv_lo, inv_hi.x);
    }
    var out = o;
    out.lo = sums_rescale(o.lo, old, new_max, inv_lo);
    if HIGH_TEMPERATURES {
        out.hi = sums_rescale(o.hi, old, new_max, inv_hi);
    }
    return out;
}

// A slot's classes (sums_push_slot), in the compiled temperature layout.
fn row_push(o: RowSums, slot: RowSlot, mean: vec2<f32>, k: vec2<f32>, x_max: vec2<f32>, raw_max: vec2<f32>, inv_lo: vec4<f32>, inv_hi: vec4<f32>, standardize: bool, raw_too: bool) -> RowSums {
    if FIFTH_TEMPERATURE {
        return five_push(o, slot, mean, k, x_max, raw_max, inv_lo, inv_hi.x, standardize, raw_too);
    }
    var out = o;
    out.lo = sums_push_slot(o.lo, slot, mean, k, x_max, raw_max, inv_lo, standardize, raw_too);
    if HIGH_TEMPERATURES {
        out.hi = sums_push_slot(o.hi, slot, mean, k, x_max, raw_max, inv_hi, standardize, raw_too);
    }
    return out;
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
fn terms_at(h: HalfTerms, x_in: vec2<f32>) -> vec2<f32> {
    let x = above_neg_inf(x_in);
    let ys = x.x * h.inv;
    let yt = x.y * h.inv;
    let q = exp_accurate4(ys) * h.inv_s;
    let p = exp_accurate4(yt) * h.inv_t;
    let terms = h.t * h.t * kl_term4(p, q, (yt - ys) - h.log_ratio);
    return vec2<f32>(sum4(terms), sum4(h.t * (q - p)));
}

// One class's (Σ_T T² kl_term, Σ_T T (q - p)) over every temperature.
fn class_terms(lo: HalfTerms, hi: HalfTerms, high: bool, x: vec2<f32>) -> vec2<f32> {
    if FIFTH_TEMPERATURE {
        return five_class_terms(lo, hi, x);
    }
    var pair = terms_at(lo, x);
    if high {
        pair += terms_at(hi, x);
    }
    return pair;
}

fn mlkd_row(lid: u32, wid: vec3<u32>) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let slots = slot_count(cols);
    let temps = params.temps;
    let standardize = LS_ROWS;
    let big = vec4<f32>(NEG_BIG);

    // Sweep 0 (LS): the moments. The instance term's input: x = (z - mean) k (k = 1 / (std +
    // 1e-7), 0 for a constant row), or z itself; its max follows from the raw max.
    var mean = vec2<f32>(0.0);
    var k = vec2<f32>(1.0);
    var d_s = 1.0;
    var std_s = 0.0;
    var raw_max = vec2<f32>(NEG_BIG);
    var x_max = vec2<f32>(0.0);
    if standardize {
        var o = lane_moments();
        if in_batch {
            for (var s = lane; s < slots; s += TPR) {
                let slot = load_slot(base, s);
                o = moments_push4(o, slot.zs, slot.zt, slot.inside);
            }
        }
        let m = row_moments(lid, o, cols);
        raw_max = m.max;
        let d = m.deviation + vec2<f32>(STD_EPS);
        mean = m.mean;
        k = select(1.0 / d, vec2<f32>(0.0), m.constant);
        d_s = d.x;
        std_s = m.deviation.x;
        if in_batch {
            x_max = (raw_max - mean) * k;
        }
    }

    // Every temperature at once, four per vector: temperatures 0–3 in the `lo` half, 4–7 in
    // the `hi` one, computed only when there are more than five (exactly five, the default:
    // mlkd_five.wgsl, the fifth's sums in `fifth`, merged into `hi` after sweep 1). The host
    // fills the unused temperatures with t = 1/t = 0: their exponentials are 1 (above_neg_inf
    // keeps a masked logit from making them NaN), their weights 0. (A loop
    // over the temperatures indexing arrays ran 3× slower on lavapipe: private arrays indexed
    // in a loop live in memory.)
    let fifth_on = FIFTH_TEMPERATURE;
    let high = HIGH_TEMPERATURES;
    let raw_too = standardize && params.write_stats != 0u;
    let inv_lo = params.inv_t[0];
    let inv_hi = params.inv_t[1];

    // Sweep 1: the sums of the instance softmaxes, with LS their dots with ẑs and the raw
    // softmaxes' sums (for the correlation terms); without LS about the lane's running max.
    var sums = RowSums(no_sums(), no_sums(), no_sums());
    var lane_max = vec2<f32>(NEG_BIG);
    if in_batch {
        for (var s = lane; s < slots; s += TPR) {
            let slot = load_slot(base, s);
            var at_max = x_max;
            if !standardize {
                let slot_max = vec2<f32>(max4(select(big, slot.zs, slot.inside)), max4(select(big, slot.zt, slot.inside)));
                let new_max = max(lane_max, slot_max);
                // Every slot, the max risen or not: skipping it where it did not (a branch)
                // counted more instructions on lavapipe, not fewer.
                sums = row_rescale(sums, lane_max, new_max, inv_lo, inv_hi);
                lane_max = new_max;
                at_max = new_max;
            }
            sums = row_push(sums, slot, mean, k, at_max, raw_max, inv_lo, inv_hi, standardize, raw_too);
        }
    }
    if !standardize {
        // Each lane's sums about the row's max.
        raw_max = seg_max(lid, vec4<f32>(lane_max, NEG_BIG, NEG_BIG)).xy;
        sums = row_rescale(sums, lane_max, raw_max, inv_lo, inv_hi);
        if in_batch {
            x_max = raw_max;
        }
    }
    let lo = sums_merge(lid, sums.lo, standardize, raw_too);
    var hi = sums.hi;
    if high {
        hi = sums_merge(lid, hi, standardize, raw_too);
    }
    if fifth_on {
        hi = fifth_merge(lid, sums.fifth, raw_too);
    }
    // LS's κ from Σ_T T <q_T - p_T, ẑs>.
    var kappa = 0.0;
    if standardize && std_s > 0.0 {
        let dot = sums_dot(lo, params.t[0]) + select(0.0, sums_dot(hi, params.t[1]), high || fifth_on);
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
        for (var s = lane; s < slots; s += TPR) {
            let slot = load_slot(base, s);
            let ys = (slot.zs - mean.x) * k.x;
            let yt = (slot.zt - mean.y) * k.y;
            let a = class_terms(lo_terms, hi_terms, high, vec2<f32>(ys.x, yt.x) - x_max);
            let b = class_terms(lo_terms, hi_terms, high, vec2<f32>(ys.y, yt.y) - x_max);
            let c = class_terms(lo_terms, hi_terms, high, vec2<f32>(ys.z, yt.z) - x_max);
            let d = class_terms(lo_terms, hi_terms, high, vec2<f32>(ys.w, yt.w) - x_max);
            let terms = vec4<f32>(a.x, b.x, c.x, d.x);
            let slopes = vec4<f32>(a.y, b.y, c.y, d.y);
            kl += sum4(select(vec4<f32>(0.0), terms, slot.inside));
            var g = params.kd_scale * slopes;
            if standardize {
                g = (g - ys * kappa) * inv_d;
            }
            if write_grad {
                store_slot(base, s, g);
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(kl, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[row] = total;
    }
}
