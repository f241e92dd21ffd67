// RKD distance term, one workgroup: mean of the positive distances (mu), then
//   L_d = mean over B^2 of smooth_l1(d_s / mu_s - d_t / mu_t)          -> partials[0]
//   weighted = sum_ij (w_d h'(x_ij) / B^2) d_s,ij   (the mean's share of the gradient)
//   scalars = (mu_s, mu_t, weighted, count of positive student distances)
//
// Uniformity: one workgroup; loops bounded by uniform values; barriers only in `seg_sum`.

@group(0) @binding(0) var<uniform> params: RkdParams;
@group(0) @binding(1) var<storage, read> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read> gram_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> scalars: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

fn pair_distances(ij: u32) -> vec2<f32> {
    let b = params.batch;
    let i = ij / b;
    let j = ij % b;
    let ds = distance(squared_distance(gram_s[i * b + i], gram_s[j * b + j], gram_s[ij]), i == j);
    let dt = distance(squared_distance(gram_t[i * b + i], gram_t[j * b + j], gram_t[ij]), i == j);
    return vec2<f32>(ds, dt);
}

@compute @workgroup_size(WG)
fn rkd_distance(@builtin(local_invocation_index) lid: u32) {
    let pairs = params.batch * params.batch;
    var sums = vec4<f32>(0.0);
    for (var ij = lid; ij < pairs; ij += WG) {
        let d = pair_distances(ij);
        sums += vec4<f32>(d.x, d.y, select(0.0, 1.0, d.x > 0.0), select(0.0, 1.0, d.y > 0.0));
    }
    let total = seg_sum(lid, sums);
    let mu = total.xy / total.zw;

    var acc = vec4<f32>(0.0);
    for (var ij = lid; ij < pairs; ij += WG) {
        let d = pair_distances(ij);
        let h = smooth_l1(d.x / mu.x - d.y / mu.y);
        acc += vec4<f32>(h.x, params.distance_scale * h.y * d.x, 0.0, 0.0);
    }
    let folded = seg_sum(lid, acc);
    if lid == 0u {
        scalars[0] = mu.x;
        scalars[1] = mu.y;
        scalars[2] = folded.y;
        scalars[3] = total.z;
        partials[0] = folded.x * params.inv_b2;
    }
}
