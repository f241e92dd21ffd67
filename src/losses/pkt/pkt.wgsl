// PKT (probabilistic knowledge transfer): cosine similarities from the Grams,
// S_ij = G_ij·w_i·w_j with w = 1/(‖f‖ + eps), S' = (S + 1)/2, P = S' / rowsum(S'), and
// L = sum_ij Pt·log((Pt + eps)/(Ps + eps)) / B² (the finish pass applies 1/B²).
//
// pkt_rows, one invocation per row i: the row's loss and, with the gradient,
// ∂L/∂S_ij = ½·(a_ij − <a_i, Ps_i>) / rowsum(S's_i), a = −Pt/(Ps + eps)/B².
//
// Uniformity: no barriers in this file.

// PKT's eps (torchdistill's and mdistiller's 1e-7).
const PKT_EPS: f32 = 1e-7;

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read> gram_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> slopes: array<f32>;

// 1/(‖f_j‖ + eps) of student and teacher, from the Grams' diagonals.
fn inverse_norms(j: u32, b: u32) -> vec2<f32> {
    let sq = vec2<f32>(gram_s[j * b + j], gram_t[j * b + j]);
    return 1.0 / (sqrt(max(sq, vec2<f32>(0.0))) + PKT_EPS);
}

// (S's_ij, S't_ij): the shifted cosines of student and teacher.
fn shifted(i: u32, j: u32, b: u32, wi: vec2<f32>) -> vec2<f32> {
    let g = vec2<f32>(gram_s[i * b + j], gram_t[i * b + j]);
    return 0.5 * (g * wi * inverse_norms(j, b) + 1.0);
}

@compute @workgroup_size(WG)
fn pkt_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.groups_x);
    let b = params.batch;
    if i >= b {
        return;
    }
    let wi = inverse_norms(i, b);
    var sums = vec2<f32>(0.0);
    for (var j = 0u; j < b; j++) {
        sums += shifted(i, j, b, wi);
    }
    var loss = 0.0;
    var dot = 0.0;
    for (var j = 0u; j < b; j++) {
        let p = shifted(i, j, b, wi) / sums;
        loss += p.y * log((p.y + PKT_EPS) / (p.x + PKT_EPS));
        dot -= params.inv_b2 * p.y / (p.x + PKT_EPS) * p.x;
    }
    row_loss[i] = loss;
    if params.write_grad == 0u {
        return;
    }
    for (var j = 0u; j < b; j++) {
        let p = shifted(i, j, b, wi) / sums;
        let a = -params.inv_b2 * p.y / (p.x + PKT_EPS);
        slopes[i * b + j] = 0.5 * (a - dot) / sums.x;
    }
}
