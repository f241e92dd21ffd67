// MLKD's correlation slopes at one temperature, one invocation per 4×4 block of (rows b,
// classes c):
//   slope[b, c] = -(4 w_cc / C) sum_j Ps[b, j] D_c[j, c] - (4 w_bc / B) sum_a D_b[b, a] Ps[a, c]
// (∂L/∂Ps, with D_c = PtᵀPt - PsᵀPs and D_b = PtPtᵀ - PsPsᵀ from mlkd_gram.wgsl; both
// symmetric). mlkd_corr_grad.wgsl takes it through the softmax. The 4×4 block lets each
// load feed four products; a block past the last row or class reads clamped indices (no
// branches in the loops) and does not store those outputs. Every invocation's loops stay at C + B iterations: Mesa's
// llvmpipe and lavapipe stop an invocation's loops after 65535 iterations in all (their loop
// limiter), so a lane that looped over whole rows of a C×C matrix for many classes came back
// with columns never computed.
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
    let quads = (cols + 3u) / 4u;
    let row_blocks = (b + 3u) / 4u;
    if index >= row_blocks * quads {
        return;
    }
    let r0 = (index / quads) * 4u;
    let c0 = (index % quads) * 4u;
    let ps = params.student_base;
    // The block's rows and classes, clamped into the matrix (the extra ones are not stored).
    let rows = min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(b - 1u));
    let classes = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(cols - 1u));
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    // A term of weight 0 was not computed (its Gram holds another call's values).
    if params.cc_scale != 0.0 {
        for (var j = 0u; j < cols; j++) {
            let at = j * cols + classes;
            let d = params.cc_scale * vec4<f32>(class_diff[at.x], class_diff[at.y], class_diff[at.z], class_diff[at.w]);
            acc0 += probs[ps + rows.x * cols + j] * d;
            acc1 += probs[ps + rows.y * cols + j] * d;
            acc2 += probs[ps + rows.z * cols + j] * d;
            acc3 += probs[ps + rows.w * cols + j] * d;
        }
    }
    if params.bc_scale != 0.0 {
        for (var a = 0u; a < b; a++) {
            let at = ps + a * cols + classes;
            let p = params.bc_scale * vec4<f32>(probs[at.x], probs[at.y], probs[at.z], probs[at.w]);
            acc0 += batch_diff[rows.x * b + a] * p;
            acc1 += batch_diff[rows.y * b + a] * p;
            acc2 += batch_diff[rows.z * b + a] * p;
            acc3 += batch_diff[rows.w * b + a] * p;
        }
    }
    let block = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var r = 0u; r < 4u; r++) {
        for (var k = 0u; k < 4u; k++) {
            if r0 + r < b && c0 + k < cols {
                slopes[(r0 + r) * cols + c0 + k] = block[r][k];
            }
        }
    }
}
