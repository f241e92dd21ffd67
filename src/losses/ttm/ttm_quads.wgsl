// TTM and WTTM, quad form: what ttm_rows (ttm.wgsl) computes, reading and writing four
// consecutive classes per load (rows of a multiple of 4 classes, 16-byte aligned bindings).
//   p~ = softmax(gamma zt), q = softmax(zs);  row_loss[b] = U_b sum_c kl_term(p~, q);
//   grad[b, c] = (U_b / B) (q - p~);  U_b = sum_c p_t^gamma with WTTM, else 1.
//
// Uniformity: rows past the batch skip their loads and stores but reach every barrier in
// `seg_softmax2`, `row_weight` and `seg_sum`; there is no early return.

@group(0) @binding(0) var<uniform> params: TtmParams;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
// The gradient (`GradQuad` and `encode_grad4` from lib/grad_*x4.wgsl).
@group(0) @binding(4) var<storage, read_write> grad: array<GradQuad>;

@compute @workgroup_size(WG)
fn ttm_rows_quads(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let quads = params.cols / 4u;
    let base = row * quads;
    let gamma = params.gamma;
    let weighted = params.weighted != 0u;

    var pair = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var raw = vec2<f32>(NEG_BIG, 0.0);
    if in_batch {
        for (var i = lane; i < quads; i += TPR) {
            let zs = load_student4(base + i);
            let zt = load_teacher4(base + i);
            pair = vec4<f32>(lse_push4(pair.xy, zs), lse_push4(pair.zw, gamma * zt));
            if weighted {
                raw = lse_push4(raw, zt);
            }
        }
    }
    let stats = seg_softmax2(lid, pair);
    let weight = row_weight(lid, weighted, stats, raw, gamma);
    let inv_sums = 1.0 / stats.yw;
    let log_ratio = log(stats.w / stats.y);

    var kl = vec4<f32>(0.0);
    if in_batch {
        let write_grad = params.write_grad != 0u;
        let grad_scale = weight * params.grad_scale;
        for (var i = lane; i < quads; i += TPR) {
            let xs = load_student4(base + i) - stats.x;
            let xt = gamma * load_teacher4(base + i) - stats.z;
            let q = exp_accurate4(xs) * inv_sums.x;
            let p = exp_accurate4(xt) * inv_sums.y;
            kl += kl_term4(p, q, (xt - xs) - log_ratio);
            if write_grad {
                grad[base + i] = encode_grad4(grad_scale * (q - p));
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(sum4(kl), 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = weight * total;
    }
}
