// MLKD's layout for exactly five temperatures (the default {2, 3, 4, 5, 6};
// `FIFTH_TEMPERATURE`), used by mlkd_row.wgsl: a class's first four temperatures in a vector
// (one component a temperature, as `lo`), the fifth beside it as a scalar, so no exponential
// is spent on an unused temperature (the `hi` vectors would spend four on the fifth). The
// fifth's sums are kept in the x components of `fifth` and merged into `hi` (fifth_merge).
//
// `SQUARED_TEMPERATURES` (a constant the family prepends, mlkd/kernels.rs): 1/T0 = 2/T2 and
// 1/T1 = 2/T4 exactly, as in {2, 3, 4, 5, 6}. Then exp(x/T0) = exp(x/T2)² and
// exp(x/T1) = exp(x/T4)² (the argument 2y is exact in floating point), so a class and input
// cost three exponentials, not five: exp_twice4 squares the third's and fifth's before their
// last rounding (0.47 ulp rms, against 0.34 for an exponential and 0.75 squaring its result:
// squared results doubled the gradient's error on the golden case).

// One class's exponentials at the five temperatures, both inputs (`x` = student, teacher):
// the first four temperatures one vector per input, the fifth a pair.
struct ClassExps {
    student: vec4<f32>,
    teacher: vec4<f32>,
    fifth: vec2<f32>,
}

fn class_exps(x: vec2<f32>, inv_lo: vec4<f32>, inv_fifth: f32) -> ClassExps {
    let e3 = exp_accurate2(x * inv_lo.w);
    if SQUARED_TEMPERATURES {
        // (student, teacher) at T2, then at T4: T0's and T1's are their squares.
        let y = vec4<f32>(x * inv_lo.z, x * inv_fifth);
        let parts = exp_parts4(y);
        let once = exp_from_parts4(y, parts);
        let twice = exp_twice4(y, parts);
        return ClassExps(vec4<f32>(twice.x, twice.z, once.x, e3.x), vec4<f32>(twice.y, twice.w, once.y, e3.y), once.zw);
    }
    let lo_s = exp_accurate4(x.x * inv_lo);
    let lo_t = exp_accurate4(x.y * inv_lo);
    return ClassExps(vec4<f32>(lo_s.xyz, e3.x), vec4<f32>(lo_t.xyz, e3.y), exp_accurate2(x * inv_fifth));
}

// One class if it lies inside the row, arguments as sums_push_class: `lo` as sums_push leaves
// it, the fifth temperature's sums in the x components of `fifth`.
fn five_push_class(o: RowSums, inside: bool, z: vec2<f32>, mean: vec2<f32>, k: vec2<f32>, x_max: vec2<f32>, raw_max: vec2<f32>, inv_lo: vec4<f32>, inv_fifth: f32, standardize: bool, raw_too: bool) -> RowSums {
    if !inside {
        return o;
    }
    let y = (z - mean) * k;
    let e = class_exps(y - x_max, inv_lo, inv_fifth);
    var out = o;
    out.lo.student += e.student;
    out.lo.teacher += e.teacher;
    out.fifth.student.x += e.fifth.x;
    out.fifth.teacher.x += e.fifth.y;
    if standardize {
        out.lo.dot_s += e.student * y.x;
        out.lo.dot_t += e.teacher * y.x;
        out.fifth.dot_s.x += e.fifth.x * y.x;
        out.fifth.dot_t.x += e.fifth.y * y.x;
    }
    if raw_too {
        let r = class_exps(z - raw_max, inv_lo, inv_fifth);
        out.lo.raw_s += r.student;
        out.lo.raw_t += r.teacher;
        out.fifth.raw_s.x += r.fifth.x;
        out.fifth.raw_t.x += r.fifth.y;
    }
    return out;
}

// A slot's classes, each written out (as sums_push_slot).
fn five_push(o: RowSums, slot: RowSlot, mean: vec2<f32>, k: vec2<f32>, x_max: vec2<f32>, raw_max: vec2<f32>, inv_lo: vec4<f32>, inv_fifth: f32, standardize: bool, raw_too: bool) -> RowSums {
    var out = five_push_class(o, slot.inside.x, vec2<f32>(slot.zs.x, slot.zt.x), mean, k, x_max, raw_max, inv_lo, inv_fifth, standardize, raw_too);
    out = five_push_class(out, slot.inside.y, vec2<f32>(slot.zs.y, slot.zt.y), mean, k, x_max, raw_max, inv_lo, inv_fifth, standardize, raw_too);
    out = five_push_class(out, slot.inside.z, vec2<f32>(slot.zs.z, slot.zt.z), mean, k, x_max, raw_max, inv_lo, inv_fifth, standardize, raw_too);
    return five_push_class(out, slot.inside.w, vec2<f32>(slot.zs.w, slot.zt.w), mean, k, x_max, raw_max, inv_lo, inv_fifth, standardize, raw_too);
}

// Without LS: the sums about a max `old` taken to `new_max` (sums_rescale for five).
fn five_rescale(o: RowSums, old: vec2<f32>, new_max: vec2<f32>, inv_lo: vec4<f32>, inv_fifth: f32) -> RowSums {
    let shift = select(old - new_max, vec2<f32>(0.0), old == vec2<f32>(NEG_BIG));
    let e = class_exps(shift, inv_lo, inv_fifth);
    var out = o;
    out.lo.student = o.lo.student * e.student;
    out.lo.teacher = o.lo.teacher * e.teacher;
    out.fifth.student.x = o.fifth.student.x * e.fifth.x;
    out.fifth.teacher.x = o.fifth.teacher.x * e.fifth.y;
    return out;
}

// The fifth temperature's sums over the segment, as the `hi` half's first temperature (its
// other sums 1, their dots 0: unused temperatures, weight 0). Holds barriers: call it from
// every lane, with `raw_too` read from `params`.
fn fifth_merge(lid: u32, o: Sums, raw_too: bool) -> Sums {
    let main = seg_sum(lid, vec4<f32>(sum4(o.student), sum4(o.teacher), sum4(o.dot_s), sum4(o.dot_t)));
    var raw = main.xy;
    if raw_too {
        raw = seg_sum(lid, vec4<f32>(sum4(o.raw_s), sum4(o.raw_t), 0.0, 0.0)).xy;
    }
    let one = vec3<f32>(1.0);
    let none = vec3<f32>(0.0);
    return Sums(vec4<f32>(main.x, one), vec4<f32>(main.y, one), vec4<f32>(main.z, none), vec4<f32>(main.w, none), vec4<f32>(raw.x, one), vec4<f32>(raw.y, one));
}

// One class's (Σ_T T² kl_term, Σ_T T (q - p)) over the five temperatures, `x` as in
// sums_push; `lo` the first four temperatures, `hi` the fifth first.
fn five_class_terms(lo: HalfTerms, hi: HalfTerms, x: vec2<f32>) -> vec2<f32> {
    let e = class_exps(x, lo.inv, hi.inv.x);
    let dx = x.y - x.x;
    let q = e.student * lo.inv_s;
    let p = e.teacher * lo.inv_t;
    let terms = lo.t * lo.t * kl_term4(p, q, dx * lo.inv - lo.log_ratio);
    let q5 = e.fifth.x * hi.inv_s.x;
    let p5 = e.fifth.y * hi.inv_t.x;
    let t5 = hi.t.x;
    let term5 = t5 * t5 * kl_term(p5, q5, dx * hi.inv.x - hi.log_ratio.x);
    return vec2<f32>(sum4(terms) + term5, sum4(lo.t * (q - p)) + t5 * (q5 - p5));
}
