// SP (similarity preserving): each row of G = F·Fᵀ is normalised, Ĝ_i = G_i / max(|G_i|, 1e-12),
// and L = sum_ij (Ĝt_ij − Ĝs_ij)² / B² (the finish pass applies 1/B²).
//
// sp_rows, one invocation per row i: the row's sum of squares and, when the gradient is asked,
// ∂L/∂Gs_ij = (A_ij − Ĝs_ij·<A_i, Ĝs_i>) / n_i with A = 2(Ĝs − Ĝt)/B² (the clamp's side:
// A_ij / 1e-12). sp_coefficients, one invocation per pair: C = M + Mᵀ, so ∂L/∂Fs = C·Fs.
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: GramParams;
@group(0) @binding(1) var<storage, read> gram_s: array<f32>;
@group(0) @binding(2) var<storage, read> gram_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> slopes: array<f32>;

const SP_EPS: f32 = 1e-12;

// The clamped norms of row `start / b` of Gs and Gt.
fn row_norms(start: u32, b: u32) -> vec2<f32> {
    var sq = vec2<f32>(0.0);
    for (var j = 0u; j < b; j++) {
        let v = vec2<f32>(gram_s[start + j], gram_t[start + j]);
        sq += v * v;
    }
    return max(sqrt(sq), vec2<f32>(SP_EPS));
}

@compute @workgroup_size(WG)
fn sp_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.groups_x);
    let b = params.batch;
    if i >= b {
        return;
    }
    let start = i * b;
    let norms = row_norms(start, b);
    let ns = norms.x;
    let nt = norms.y;
    var loss = 0.0;
    var dot = 0.0;
    for (var j = 0u; j < b; j++) {
        let s = gram_s[start + j] / ns;
        let diff = s - gram_t[start + j] / nt;
        loss += diff * diff;
        dot += 2.0 * params.inv_b2 * diff * s;
    }
    row_loss[i] = loss;
    if params.write_grad == 0u {
        return;
    }
    // Below the clamp the normalisation is a constant division: no projection.
    let projected = ns > SP_EPS;
    for (var j = 0u; j < b; j++) {
        let s = gram_s[start + j] / ns;
        let a = 2.0 * params.inv_b2 * (s - gram_t[start + j] / nt);
        var m = a;
        if projected {
            m = a - s * dot;
        }
        slopes[start + j] = m / ns;
    }
}
