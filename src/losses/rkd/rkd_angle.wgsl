// RKD angle term, one invocation per pair (i, j), looping over k (O(B^3) work, O(B^2) memory):
//   A_ijk = <n_ij, n_ik>, n_ij = normalize(e_j - e_i), from the Gram matrices;
//   partials[1 + ij] = sum_k smooth_l1(As_ijk - At_ijk) / B^3;
//   with W_ijk = 2 w_a h'(As_ijk - At_ijk) / B^3 (the angle is symmetric in j and k) and
//   beta_ijk = W_ijk / (r_ij r_ik):
//   pair_sum[ij]   = sum_k beta_ijk,
//   pair_gamma[ij] = sum_k W_ijk As_ijk / r_ij^2 (0 where |e_j - e_i| is under the clamp).
// rkd_coefficients.wgsl turns these into the gradient's coefficients.
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: RkdParams;
@group(0) @binding(1) var<storage, read> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read> gram_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> pair_sum: array<f32>;
@group(0) @binding(4) var<storage, read_write> pair_gamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn rkd_angle_pairs(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ij = flat_index(gid, params.groups_x);
    let b = params.batch;
    if ij >= b * b {
        return;
    }
    let i = ij / b;
    let j = ij % b;
    let s_ii = gram_s[i * b + i];
    let t_ii = gram_t[i * b + i];
    let s_ij = gram_s[ij];
    let t_ij = gram_t[ij];
    let rs_ij = direction_norm(s_ii, gram_s[j * b + j], s_ij);
    let rt_ij = direction_norm(t_ii, gram_t[j * b + j], t_ij);
    var loss = 0.0;
    var beta_sum = 0.0;
    var gamma = 0.0;
    for (var k = 0u; k < b; k++) {
        let s_ik = gram_s[i * b + k];
        let t_ik = gram_t[i * b + k];
        let rs_ik = direction_norm(s_ii, gram_s[k * b + k], s_ik);
        let rt_ik = direction_norm(t_ii, gram_t[k * b + k], t_ik);
        let a_s = angle(i, j, k, s_ii, s_ij, s_ik, gram_s[j * b + k], rs_ij, rs_ik);
        let a_t = angle(i, j, k, t_ii, t_ij, t_ik, gram_t[j * b + k], rt_ij, rt_ik);
        let h = smooth_l1(a_s - a_t);
        loss += h.x;
        let weight = params.angle_scale * h.y;
        beta_sum += weight / (rs_ij * rs_ik);
        gamma += weight * a_s;
    }
    let unclamped = squared_distance(s_ii, gram_s[j * b + j], s_ij) > 1e-24 && i != j;
    pair_sum[ij] = beta_sum;
    pair_gamma[ij] = select(0.0, gamma / (rs_ij * rs_ij), unclamped);
    partials[1u + ij] = loss * params.inv_b3;
}
