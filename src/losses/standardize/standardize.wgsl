// LS's row moments (src/losses/standardize/mod.rs): each lane folds its classes of both inputs
// (Welford, four classes at a time merged by Chan's formula), then the lanes are merged over
// the segment about the row mean (the shifted-data correction: exact for any shift, the terms
// centred differences), as DIST's row moments are. Prepended after the reduction library.
//
// Uniformity: `row_moments` holds barriers (seg_sum, seg_max): every lane calls it, in
// workgroup-uniform control flow.

const STD_EPS: f32 = 1e-7;

// One lane's classes so far, student in .x and teacher in .y.
struct LaneMoments {
    count: f32,
    mean: vec2<f32>,
    m2: vec2<f32>,
    max: vec2<f32>,
    min: vec2<f32>,
}

fn lane_moments() -> LaneMoments {
    return LaneMoments(0.0, vec2<f32>(0.0), vec2<f32>(0.0), vec2<f32>(NEG_BIG), vec2<f32>(-NEG_BIG));
}

// The classes of a slot where `inside` (the others hold a valid element, weighed 0).
fn moments_push4(o: LaneMoments, zs: vec4<f32>, zt: vec4<f32>, inside: vec4<bool>) -> LaneMoments {
    let w = select(vec4<f32>(0.0), vec4<f32>(1.0), inside);
    let k = sum4(w);
    if k == 0.0 {
        return o;
    }
    let quad_mean = vec2<f32>(sum4(zs * w), sum4(zt * w)) / k;
    let ds = (zs - quad_mean.x) * w;
    let dt = (zt - quad_mean.y) * w;
    let n = o.count + k;
    let delta = quad_mean - o.mean;
    var out = o;
    out.mean = o.mean + delta * (k / n);
    out.m2 = o.m2 + vec2<f32>(sum4(ds * ds), sum4(dt * dt)) + delta * delta * (o.count * k / n);
    out.count = n;
    let big = vec4<f32>(NEG_BIG);
    out.max = max(o.max, vec2<f32>(max4(select(big, zs, inside)), max4(select(big, zt, inside))));
    out.min = min(o.min, vec2<f32>(-max4(select(big, -zs, inside)), -max4(select(big, -zt, inside))));
    return out;
}

// A row's moments, student in .x and teacher in .y: the mean, the unbiased std (0 for a
// constant row, whose z-score is 0) and the max.
struct RowMoments {
    mean: vec2<f32>,
    deviation: vec2<f32>,
    max: vec2<f32>,
    constant: vec2<bool>,
}

fn row_moments(lid: u32, o: LaneMoments, cols: u32) -> RowMoments {
    let c = f32(cols);
    let mean = seg_sum(lid, vec4<f32>(o.count * o.mean, 0.0, 0.0)).xy / c;
    let dm = o.mean - mean;
    let about = seg_sum(lid, vec4<f32>(o.m2 + o.count * dm * dm, o.count * dm));
    let m2 = max(about.xy - about.zw * about.zw / c, vec2<f32>(0.0));
    let range = seg_max(lid, vec4<f32>(o.max, -o.min));
    let constant = range.xy == -range.zw;
    let deviation = select(sqrt(m2 / (c - 1.0)), vec2<f32>(0.0), constant);
    return RowMoments(mean, deviation, range.xy, constant);
}
