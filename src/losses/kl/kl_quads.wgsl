// KL divergence with temperature, quad form: what kl_rows (kl.wgsl) computes, reading and
// writing four consecutive classes per load (rows of a multiple of 4 classes, 16-byte aligned
// bindings). Same two sweeps: (1) online max / sum-exp, (2) the terms and the gradient.
//   p = softmax(zt/T), q = softmax(zs/T)
//   row_loss[b] = sum_c p (log p - log q) + q - p   (the q - p sum to 0; README, "Numerics")
//   grad[b, c]  = (T/B) (q - p)
//
// Uniformity: rows past the batch skip their loads and stores but reach every barrier in
// `seg_softmax2` and `seg_sum`; there is no early return.

@group(0) @binding(0) var<uniform> params: KlParams;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
// The gradient in f32, or in f16/bf16 (`GradQuad` and `encode_grad4` from lib/grad_*x4.wgsl).
@group(0) @binding(4) var<storage, read_write> grad: array<GradQuad>;

@compute @workgroup_size(WG)
fn kl_rows_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let base = row * quads;
    let inv_t = params.inv_t;

    let stats = row_softmax2_quads(lid, in_batch, base, quads, inv_t);
    let inv_sums = 1.0 / stats.yw;
    let log_ratio = log(stats.w / stats.y);

    var kl = vec4<f32>(0.0);
    if in_batch {
        let write_grad = params.write_grad != 0u;
        for (var i = lane; i < quads; i += TPR) {
            let xs = load_student4(base + i) * inv_t - stats.x;
            let xt = load_teacher4(base + i) * inv_t - stats.z;
            let q = exp_accurate4(xs) * inv_sums.x;
            let p = exp_accurate4(xt) * inv_sums.y;
            kl += kl_term4(p, q, (xt - xs) - log_ratio);
            if write_grad {
                grad[base + i] = encode_grad4(params.grad_scale * (q - p));
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(sum4(kl), 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = total;
    }
}
