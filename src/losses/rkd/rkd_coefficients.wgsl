// RKD gradient coefficients: dL/dE = M E (B×B times B×D). One invocation per entry (a, k):
//   angle:    M[a,k] = sum_i beta_iak - S_ka + gamma_ka - sum_j beta_ajk + gamma_ak
//                      + [k = a] (sum_j (S_aj - gamma_aj) - sum_i gamma_ia)
//   distance: M[a,a] += sum_j 2 T_aj, M[a,k] -= 2 T_ak (k != a), T_aj = 2 dL/dsq_aj with
//             dL/dsq_ij = (gd_ij / mu - weighted / (mu^2 count)) / (2 d_ij), gd = w_d h'(x) / B^2
// where S = pair_sum and gamma = pair_gamma from rkd_angle.wgsl, beta_ijk = W_ijk / (r_ij r_ik).
// O(B) per entry: O(B^3) in all, no B^3 memory.
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: RkdParams;
@group(0) @binding(1) var<storage, read> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read> gram_t: array<f32>;
@group(0) @binding(3) var<storage, read> pair_sum: array<f32>;
@group(0) @binding(4) var<storage, read> pair_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> scalars: array<f32>;
@group(0) @binding(6) var<storage, read_write> coefficients: array<f32>;

// beta_ijk = W_ijk / (r_ij r_ik).
fn beta(i: u32, j: u32, k: u32) -> f32 {
    if j == i || k == i {
        return 0.0;
    }
    let b = params.batch;
    let s_ii = gram_s[i * b + i];
    let t_ii = gram_t[i * b + i];
    let rs_ij = direction_norm(s_ii, gram_s[j * b + j], gram_s[i * b + j]);
    let rs_ik = direction_norm(s_ii, gram_s[k * b + k], gram_s[i * b + k]);
    let rt_ij = direction_norm(t_ii, gram_t[j * b + j], gram_t[i * b + j]);
    let rt_ik = direction_norm(t_ii, gram_t[k * b + k], gram_t[i * b + k]);
    let a_s = angle(i, j, k, s_ii, gram_s[i * b + j], gram_s[i * b + k], gram_s[j * b + k], rs_ij, rs_ik);
    let a_t = angle(i, j, k, t_ii, gram_t[i * b + j], gram_t[i * b + k], gram_t[j * b + k], rt_ij, rt_ik);
    return params.angle_scale * smooth_l1(a_s - a_t).y / (rs_ij * rs_ik);
}

// T_ij = 2 dL/dsq_ij (dL/dsq is symmetric in i, j), 0 on the diagonal and under the clamp.
fn distance_weight(i: u32, j: u32) -> f32 {
    let b = params.batch;
    let sq_s = squared_distance(gram_s[i * b + i], gram_s[j * b + j], gram_s[i * b + j]);
    if i == j || sq_s <= 1e-12 {
        return 0.0;
    }
    let sq_t = squared_distance(gram_t[i * b + i], gram_t[j * b + j], gram_t[i * b + j]);
    let ds = sqrt(sq_s);
    let dt = distance(sq_t, false);
    let mu_s = scalars[0];
    let mu_t = scalars[1];
    let gd = params.distance_scale * smooth_l1(ds / mu_s - dt / mu_t).y;
    let d_dist = gd / mu_s - scalars[2] / (mu_s * mu_s * scalars[3]);
    return 2.0 * d_dist / (2.0 * ds);
}

@compute @workgroup_size(WG)
fn rkd_coefficients(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ak = flat_index(gid, params.groups_x);
    let b = params.batch;
    if ak >= b * b {
        return;
    }
    let a = ak / b;
    let k = ak % b;
    var m = pair_gamma[k * b + a] - pair_sum[k * b + a] + pair_gamma[ak];
    for (var n = 0u; n < b; n++) {
        m += beta(n, a, k) - beta(a, n, k);
    }
    if k == a {
        for (var n = 0u; n < b; n++) {
            m += pair_sum[a * b + n] - pair_gamma[a * b + n] - pair_gamma[n * b + a];
            m += 2.0 * distance_weight(a, n);
        }
    } else {
        m -= 2.0 * distance_weight(a, k);
    }
    coefficients[ak] = m;
}
