// PKT's gradient coefficients: one invocation per pair (i, j). With M = ∂L/∂S and
// w = 1/(n + eps), n = ‖f‖, the cosine's chain rule gives ∂L/∂Fs = C·Fs where
// C_ij = w_i·(M_ij + M_ji)·w_j, less on the diagonal s_i·w_i²/n_i with
// s_i = sum_k (M_ik + M_ki)·w_k·G_ik (0 for a row of zeros: the identity over eps there).
//
// Uniformity: no barriers in this file.

// PKT's eps (torchdistill's and mdistiller's 1e-7).
const PKT_EPS: f32 = 1e-7;

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read> slopes: array<f32>;
@group(0) @binding(3) var<storage, read_write> coefficients: array<f32>;

fn norm_of(j: u32, b: u32) -> f32 {
    return sqrt(max(gram_s[j * b + j], 0.0));
}

fn symmetric(i: u32, j: u32, b: u32) -> f32 {
    return slopes[i * b + j] + slopes[j * b + i];
}

@compute @workgroup_size(WG)
fn pkt_coefficients(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ij = flat_index(gid, params.groups_x);
    let b = params.batch;
    if ij >= b * b {
        return;
    }
    let i = ij / b;
    let j = ij % b;
    let ni = norm_of(i, b);
    let wi = 1.0 / (ni + PKT_EPS);
    var c = wi * symmetric(i, j, b) / (norm_of(j, b) + PKT_EPS);
    if i == j && ni > 0.0 {
        var s = 0.0;
        for (var k = 0u; k < b; k++) {
            s += symmetric(i, k, b) / (norm_of(k, b) + PKT_EPS) * gram_s[i * b + k];
        }
        c -= s * wi * wi / ni;
    }
    coefficients[ij] = c;
}
