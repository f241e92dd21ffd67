// MLKD's correlation slopes at one temperature, one invocation per element (b, c):
//   slope[b, c] = -(4 w_cc / C) sum_j Ps[b, j] D_c[j, c] - (4 w_bc / B) sum_a D_b[b, a] Ps[a, c]
// (∂L/∂Ps, with D_c = PtᵀPt - PsᵀPs and D_b = PtPtᵀ - PsPsᵀ from mlkd_gram.wgsl; both
// symmetric). mlkd_corr_grad.wgsl takes it through the softmax. One element per invocation
// keeps every invocation's loops at C + B iterations: Mesa's llvmpipe and lavapipe stop an
// invocation's loops after 65535 iterations in all (their loop limiter), so a lane that looped
// over whole rows of a C×C matrix for many classes came back with columns never computed.
//
// Uniformity: no barriers in this file.

@group(0) @binding(0) var<uniform> params: CorrParams;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> class_diff: array<f32>;
@group(0) @binding(3) var<storage, read> batch_diff: array<f32>;
@group(0) @binding(4) var<storage, read_write> slopes: array<f32>;

@compute @workgroup_size(WG)
fn mlkd_corr_slopes(@builtin(global_invocation_id) gid: vec3<u32>) {
    let index = flat_index(gid, params.groups_x);
    let b = params.rows;
    let cols = params.cols;
    if index >= b * cols {
        return;
    }
    let row = index / cols;
    let c = index % cols;
    let ps = params.student_base;
    // A term of weight 0 was not computed (its Gram holds another call's values).
    var class_sum = 0.0;
    if params.cc_scale != 0.0 {
        for (var j = 0u; j < cols; j++) {
            class_sum += probs[ps + row * cols + j] * class_diff[j * cols + c];
        }
    }
    var batch_sum = 0.0;
    if params.bc_scale != 0.0 {
        for (var a = 0u; a < b; a++) {
            batch_sum += batch_diff[row * b + a] * probs[ps + a * cols + c];
        }
    }
    slopes[index] = params.cc_scale * class_sum + params.bc_scale * batch_sum;
}
