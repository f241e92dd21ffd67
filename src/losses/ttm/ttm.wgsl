// TTM and WTTM (transformed teacher matching), per row: the loss term and the student gradient.
//   p~ = softmax(gamma zt) (the teacher at power gamma, renormalised: never p_t^gamma of an
//   underflowed probability), q = softmax(zs) (the student at T = 1)
//   row_loss[b] = U_b sum_c kl_term(p~, q)      (finish.wgsl applies 1/B)
//   grad[b, c]  = (U_b / B) (q - p~)            (written only when params.write_grad != 0)
//   U_b = exp(LSE(gamma zt) - gamma LSE(zt)) = sum_c p_t^gamma with WTTM (params.weighted),
//   else 1: a teacher-only weight, no gradient.
//
// Two sweeps over the row: (1) online max / sum-exp of zs, gamma zt and (WTTM) zt, merged
// over the segment; (2) the terms and the gradient.
//
// Uniformity: rows past the batch (`in_batch == false`) skip their loads and stores but still
// reach every barrier in `seg_softmax2` and `seg_sum`; there is no early return.

@group(0) @binding(0) var<uniform> params: TtmParams;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn ttm_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = segment_row(wid, params.groups_x, lid);
    let in_batch = row < params.rows;
    let lane = lid % TPR;
    let cols = params.cols;
    let base = row * cols;
    let gamma = params.gamma;
    let weighted = params.weighted != 0u;

    // (max, sum) of zs and of gamma zt; of zt itself for the WTTM weight.
    var pair = vec4<f32>(NEG_BIG, 0.0, NEG_BIG, 0.0);
    var raw = vec2<f32>(NEG_BIG, 0.0);
    if in_batch {
        for (var c = lane; c < cols; c += TPR) {
            let zs = load_student(base + c);
            let zt = load_teacher(base + c);
            pair = vec4<f32>(lse_push(pair.xy, zs), lse_push(pair.zw, gamma * zt));
            if weighted {
                raw = lse_push(raw, zt);
            }
        }
    }
    let stats = seg_softmax2(lid, pair);
    let weight = row_weight(lid, weighted, stats, raw, gamma);
    let inv_sums = 1.0 / stats.yw;
    let log_ratio = log(stats.w / stats.y);

    var kl = 0.0;
    if in_batch {
        let write_grad = params.write_grad != 0u;
        let grad_scale = weight * params.grad_scale;
        for (var c = lane; c < cols; c += TPR) {
            let xs = load_student(base + c) - stats.x;
            let xt = gamma * load_teacher(base + c) - stats.z;
            let q = exp_accurate(xs) * inv_sums.x;
            let p = exp_accurate(xt) * inv_sums.y;
            kl += kl_term(p, q, (xt - xs) - log_ratio);
            if write_grad {
                grad[base + c] = grad_scale * (q - p);
            }
        }
    }
    let total = seg_sum(lid, vec4<f32>(kl, 0.0, 0.0, 0.0)).x;
    if in_batch && lane == 0u {
        row_loss[params.row_offset + row] = weight * total;
    }
}
