// MLKD's correlation gradient at one temperature, per row b, added to the gradient so far
// (the instance term's, from mlkd_row.wgsl, and the earlier temperatures'):
//   grad[b, c] += (1/T) Ps[b, c] (slope[b, c] - <slope[b, ·], Ps[b, ·]>)
// the softmax's Jacobian applied to the slopes of mlkd_corr_slopes.wgsl.
//
// Uniformity: rows past the batch skip loads and stores but reach the barrier in seg_sum.

@group(0) @binding(0) var<uniform> params: CorrParams;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> slopes: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn mlkd_corr_grad(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let ps = params.student_base;
    let base = row * cols;
    var dot = 0.0;
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            dot += slopes[base + c] * probs[ps + base + c];
        }
    }
    let total = seg_sum(lid, vec4<f32>(dot, 0.0, 0.0, 0.0)).x;
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let p = probs[ps + base + c];
            grad[base + c] += params.inv_t * p * (slopes[base + c] - total);
        }
    }
}
